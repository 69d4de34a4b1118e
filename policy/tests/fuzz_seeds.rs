//! Replays the fuzz seed corpus (`fuzz/seeds/parse_evaluate/`) through the fuzz harness itself, so
//! that the invariants the fuzzer checks run on stable in every test run.

use std::path::Path;

#[path = "../fuzz/harness.rs"]
mod harness;

#[test]
fn every_fuzz_seed_passes_the_harness() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/parse_evaluate");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 25,
        "expected the seed corpus in {}, found {} files",
        dir.display(),
        entries.len()
    );
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| harness::parse_evaluate(&data));
        assert!(outcome.is_ok(), "seed {} fails the harness", path.display());
    }
}
