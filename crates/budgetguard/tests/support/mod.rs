//! Test support: hostile ZIP files byte by byte, and consistent packages.

pub mod hostile;
pub mod package;
