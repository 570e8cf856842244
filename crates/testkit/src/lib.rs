//! Support shared by the integration tests and the benchmark: the Docker
//! engines under test, synthetic images loaded without a registry, and guards
//! that remove what a test created.

pub mod engines;
pub mod fixtures;
pub mod gpu_proxy;
pub mod http;
pub mod http_faults;
pub mod images;
pub mod layer_tar;
pub mod model_cache;
pub mod model_server;
pub mod nginx;
pub mod plain_http;
pub mod process;
pub mod proxy;
pub mod registry;
pub mod token_auth;
