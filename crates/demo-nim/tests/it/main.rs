//! Integration tests: the built demo-nim binary against testkit's model
//! server on loopback, each with its own cache in a temporary folder.

mod docker;
mod download;
mod list;
mod serve;
mod support;
