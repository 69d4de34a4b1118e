//! SRP sign-ins/s next to password sign-ins/s, on the same pool and user, in one run.
//!
//! `cargo run --release -p gatehouse-identity --example srp_rate -- [SECONDS] [TASKS]`
//!
//! Builds the user-pool service as `gatehouse serve` does (SQLite file, default argon2id cost,
//! the bounded hashing pool with one slot per core) and keeps `TASKS` sign-ins in flight
//! (default: four per core) for `SECONDS` (default 10) each:
//! 1. `USER_PASSWORD_AUTH`: one argon2id verification per sign-in;
//! 2. `USER_SRP_AUTH` + `PASSWORD_VERIFIER`: three 3072-bit exponentiations on the server
//!    (on the same bounded pool) and the client's half (two more), computed here in the same
//!    process, on the same cores — so the SRP figure is what server and client together
//!    manage, a lower bound for the server alone.
//!
//! Both sign-ins end with tokens and a stored refresh token. Prints the rates, their ratio
//! and the time the client's half takes alone.
#![expect(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool stops loudly on a broken setup"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_identity::clock::SystemClock;
use gatehouse_identity::crypto::{MasterKey, Sealer, random_bytes};
use gatehouse_identity::delivery::Outbox;
use gatehouse_identity::password::{PasswordHasher, PasswordHasherConfig};
use gatehouse_identity::srp;
use gatehouse_identity::user_pools::config::ExplicitAuthFlow;
use gatehouse_identity::user_pools::{
    AdminCreateUser, AuthOutcome, ClientConfig, MessageAction, NewClient, PASSWORD_VERIFIER,
    PoolConfig, UserPools, UserPoolsConfig,
};
use gatehouse_storage::{Store, StoreOptions};

const PASSWORD: &str = "Correct-Horse-9!";

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn password_sign_in(pools: &UserPools, client_id: &str) {
    let outcome = pools
        .initiate_auth(
            client_id,
            "USER_PASSWORD_AUTH",
            &params(&[("USERNAME", "bench"), ("PASSWORD", PASSWORD)]),
        )
        .await
        .expect("password sign-in");
    assert!(matches!(outcome, AuthOutcome::Tokens(_)), "tokens");
}

async fn srp_sign_in(pools: &UserPools, client_id: &str, pool_name: &str) {
    let me = srp::ClientExchange::new(&random_bytes::<32>());
    let AuthOutcome::Challenge(challenge) = pools
        .initiate_auth(
            client_id,
            "USER_SRP_AUTH",
            &params(&[("USERNAME", "bench"), ("SRP_A", &srp::to_hex(&me.public_a))]),
        )
        .await
        .expect("USER_SRP_AUTH")
    else {
        panic!("expected PASSWORD_VERIFIER");
    };
    let p = challenge.parameters;
    let salt = srp::parse_hex(&p["SALT"], 64).expect("salt");
    let b = srp::parse_hex(&p["SRP_B"], 400).expect("B");
    let user_id = p["USER_ID_FOR_SRP"].clone();
    let name = pool_name.to_owned();
    let key = tokio::task::spawn_blocking(move || me.key(&name, &user_id, PASSWORD, &salt, &b))
        .await
        .expect("client half")
        .expect("key");
    let now = pools
        .now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let timestamp = srp::timestamp(i64::try_from(now).expect("time"));
    let block = STANDARD.decode(&p["SECRET_BLOCK"]).expect("block");
    let signature =
        srp::claim_signature(&key, pool_name, &p["USER_ID_FOR_SRP"], &block, &timestamp);
    let outcome = pools
        .respond_to_auth_challenge(
            client_id,
            PASSWORD_VERIFIER,
            None,
            &params(&[
                ("USERNAME", &p["USER_ID_FOR_SRP"]),
                ("PASSWORD_CLAIM_SECRET_BLOCK", &p["SECRET_BLOCK"]),
                ("PASSWORD_CLAIM_SIGNATURE", &STANDARD.encode(signature)),
                ("TIMESTAMP", &timestamp),
            ]),
        )
        .await
        .expect("PASSWORD_VERIFIER");
    assert!(matches!(outcome, AuthOutcome::Tokens(_)), "tokens");
}

async fn rate<F, Fut>(tasks: usize, seconds: u64, make: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let make = Arc::new(make);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (make, done) = (make.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    make().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    let count = done.load(Ordering::Relaxed);
    #[expect(clippy::cast_precision_loss, reason = "a rate for people to read")]
    let per_second = count as f64 / started.elapsed().as_secs_f64();
    per_second
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tasks: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cores * 4);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/bench.db", dir.path().display());
        let store = Store::open(&url, StoreOptions::default()).await.expect("store");
        let sealer = Arc::new(
            Sealer::new(&MasterKey::generate("bench").expect("key"), &[]).expect("sealer"),
        );
        let passwords = PasswordHasher::new(PasswordHasherConfig::default()).expect("hasher");
        let pools = UserPools::new(
            store,
            sealer,
            passwords,
            Arc::new(Outbox::new(dir.path().join("outbox"))),
            Arc::new(SystemClock),
            UserPoolsConfig {
                region: "us-east-1".into(),
                other_regions: Vec::new(),
                account_id: "000000000000".into(),
                public_url: "http://127.0.0.1:8000".into(),
                source_rate_limit: Default::default(),
            },
        );
        let pool = pools
            .create_user_pool("bench", PoolConfig::default())
            .await
            .expect("pool");
        let pool_name = pool.id.split_once('_').expect("pool id").1.to_owned();
        let client = pools
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "bench".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        explicit_auth_flows: vec![
                            ExplicitAuthFlow::AllowUserPasswordAuth,
                            ExplicitAuthFlow::AllowUserSrpAuth,
                            ExplicitAuthFlow::AllowRefreshTokenAuth,
                        ],
                        ..ClientConfig::default()
                    },
                },
            )
            .await
            .expect("client");
        pools
            .admin_create_user(
                &pool.id,
                AdminCreateUser {
                    username: "bench".into(),
                    attributes: Vec::new(),
                    temporary_password: None,
                    message_action: Some(MessageAction::Suppress),
                    delivery_mediums: Vec::new(),
                },
            )
            .await
            .expect("user");
        pools
            .admin_set_user_password(&pool.id, "bench", PASSWORD, true)
            .await
            .expect("password");

        let client_id = client.id.clone();
        let (p1, c1) = (pools.clone(), client_id.clone());
        let password = rate(tasks, seconds, move || {
            let (p, c) = (p1.clone(), c1.clone());
            async move { password_sign_in(&p, &c).await }
        })
        .await;
        let (p2, c2) = (pools.clone(), client_id.clone());
        let srp_rate = rate(tasks, seconds, move || {
            let (p, c, n) = (p2.clone(), c2.clone(), pool_name.clone());
            async move { srp_sign_in(&p, &c, &n).await }
        })
        .await;

        // The client's half alone, on one core: what the SRP figure spends outside the server.
        let me = srp::ClientExchange::new(&random_bytes::<32>());
        let salt = random_bytes::<16>();
        let v = srp::verifier(&srp::password_exponent("p", "u", PASSWORD, &salt));
        let server = srp::server_exchange(&v, &me.public_a, &random_bytes::<32>()).expect("exchange");
        let rounds = 50_u32;
        let started = Instant::now();
        for _ in 0..rounds {
            me.key("p", "u", PASSWORD, &salt, &server.public_b).expect("key");
        }
        let client_half = started.elapsed() / rounds;
        let started = Instant::now();
        for _ in 0..rounds {
            srp::server_exchange(&v, &me.public_a, &random_bytes::<32>()).expect("exchange");
        }
        let server_half = started.elapsed() / rounds;

        println!("tasks: {tasks}, {seconds} s each, {cores} cores");
        println!("password sign-ins/s (USER_PASSWORD_AUTH): {password:.1}");
        println!("SRP sign-ins/s (USER_SRP_AUTH + PASSWORD_VERIFIER, client half included): {srp_rate:.1}");
        println!("ratio SRP / password: {:.2}", srp_rate / password);
        println!("server's SRP arithmetic per sign-in, one core: {server_half:?}");
        println!("client's SRP arithmetic per sign-in, one core: {client_half:?}");
    });
}
