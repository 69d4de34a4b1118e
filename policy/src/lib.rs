//! The AWS IAM JSON policy language: parse, validate, compile and evaluate policies.
//!
//! Pure: this crate knows no HTTP, no SQL, no async runtime and no clock.
