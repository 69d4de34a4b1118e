//! End-to-end tests: run the real `gatehouse` binary and check what a person or a CI job sees.
//!
//! One test binary for all of them (modules below) keeps compile and link time low.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failing test"
)]

mod edge;
mod gateway;
mod policy_cli;
mod serve;
mod support;
