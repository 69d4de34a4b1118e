//! End-to-end tests: run the real `gatehouse` binary and check what a person or a CI job sees.
//!
//! One test binary for all of them (modules below) keeps compile and link time low.

mod policy_cli;
