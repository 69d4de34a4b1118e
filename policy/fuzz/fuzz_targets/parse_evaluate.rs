//! Fuzz target: arbitrary bytes as a policy document; if it parses, evaluate requests derived from it.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::parse_evaluate(data));
