//! Model caches: the NIM weights that let a node start with no network.
//! On the TechOps machine [`ModelStore`] fills caches with the node image's
//! own tools and [`walk`](self) lists one for packaging; on the workstation
//! the installer writes a packaged cache file by file, and [`gpu`](self)
//! compares its profiles with the workstation's GPUs.

mod choice;
mod error;
mod fill;
mod gpu;
mod profiles;
mod walk;

pub use choice::{CacheFolder, NotAProfile, ProfileChoice, MAX_PROFILE_ID};
pub use error::{ModelError, Unfit};
pub use fill::{describe_given, ModelStore, ReadyCache};
pub use gpu::{gpu_fit, GpuFit};
pub use profiles::Profile;
pub(crate) use walk::{is_partial, walk, Walked, WalkedFile};
