//! Integration tests of the gateway crate, in one binary to keep link time low: OpenAPI import
//! (the PetStore sample and a table of extension rules), the declarative file, snapshot
//! resolution, and property tests of the route matcher and of the loaders' robustness.

// Helpers outside `#[test]` functions are test code too: a panic there is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failing test"
)]

mod certs;
mod dataplane;
mod declarative;
mod edge;
mod edge_tls;
mod fidelity;
mod functions;
mod import;
mod layout;
mod properties;
mod resolve;
mod usage;
