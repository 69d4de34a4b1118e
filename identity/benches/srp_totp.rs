//! The cost of the server's SRP arithmetic and of a TOTP check
//! (`cargo bench -p gatehouse-identity --bench srp_totp`).
//!
//! - `srp/server_exchange`: what USER_SRP_AUTH and DEVICE_SRP_AUTH compute per sign-in
//!   (`B = k·v + g^b`, `u`, `S = (A·v^u)^b`, the HKDF key): three 3072-bit exponentiations.
//! - `srp/verifier`: what every password change computes (`v = g^x`).
//! - `srp/claim_signature`: checking the proof (one HMAC-SHA256).
//! - `totp/check`: one TOTP check with ±1 step of drift (up to three HMAC-SHA1), the pure
//!   part of answering `SOFTWARE_TOKEN_MFA` (storage then records the step).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a panic is a failed run"
)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_identity::srp;
use gatehouse_identity::user_pools::{check_totp, totp_code};

fn benches(c: &mut Criterion) {
    let salt = [0x5a_u8; 16];
    let x = srp::password_exponent("AbCdEf123", "alice", "Correct-Horse-9!", &salt);
    let v = srp::verifier(&x);
    let client = srp::ClientExchange::new(&[3; 32]);
    let b = [0x77_u8; 32];
    c.bench_function("srp/server_exchange", |bench| {
        bench
            .iter(|| srp::server_exchange(black_box(&v), black_box(&client.public_a), &b).unwrap());
    });
    c.bench_function("srp/verifier", |bench| {
        bench.iter(|| srp::verifier(black_box(&x)));
    });
    let exchange = srp::server_exchange(&v, &client.public_a, &b).unwrap();
    let block = [9_u8; 600];
    c.bench_function("srp/claim_signature", |bench| {
        bench.iter(|| {
            srp::claim_signature(
                black_box(&exchange.key),
                "AbCdEf123",
                "alice",
                black_box(&block),
                "Wed Dec 2 05:22:58 UTC 2026",
            )
        });
    });
    let secret = [0x42_u8; 20];
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_015);
    // The code of the step after now: the check tries now−1 and now before it matches.
    let code = totp_code(&secret, now + Duration::from_secs(30)).unwrap();
    c.bench_function("totp/check", |bench| {
        bench.iter(|| check_totp(black_box(&secret), black_box(&code), now, -1).unwrap());
    });
}

criterion_group!(group, benches);
criterion_main!(group);
