//! Raw argon2id verification throughput on this machine: the ceiling for password logins.
//!
//! `cargo run --release -p gatehouse-identity --example argon2_rate -- [SECONDS] [THREADS]`
//! prints `verifications/s: N` with the service's default parameters (m=19456 KiB, t=2, p=1),
//! using one thread per core unless told otherwise — the same concurrency the service's bounded
//! hashing pool uses.
#![expect(
    clippy::expect_used,
    reason = "a measuring tool stops loudly on a broken setup"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gatehouse_identity::password::{Argon2Params, hash_password, verify_password};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let params = Argon2Params::default();
    let hash = Arc::new(hash_password("Correct-Horse-9", &params).expect("hash"));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, stop, done) = (hash.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let ok = verify_password("Correct-Horse-9", &hash).expect("verify");
                    assert!(ok, "the password verifies");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    #[expect(clippy::cast_precision_loss, reason = "a rate for people to read")]
    let rate = count as f64 / elapsed;
    println!("threads: {threads}");
    println!("verifications: {count} in {elapsed:.1} s");
    println!("verifications/s: {rate:.1}");
}
