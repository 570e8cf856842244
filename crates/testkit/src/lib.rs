//! Support shared by the integration tests and the benchmark: the Docker
//! engines under test, synthetic images loaded without a registry, and guards
//! that remove what a test created.

pub mod engines;
pub mod fixtures;
pub mod images;
pub mod model_server;
pub mod process;
pub mod proxy;
