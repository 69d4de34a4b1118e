//! ListUsers latency on a pool of 100 000 users, on SQLite and (when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set) PostgreSQL: p50 and p99 per filter shape.
//!
//! `cargo bench -p gatehouse-storage --bench list_users` runs the full size; run as a test
//! (`cargo test --benches`) it seeds 2 000 users and a few queries, to keep it compiling
//! and working. Budget (issue 3): p50 under 5 ms with a filter on both backends.
#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary reports by printing and stops on the first failure"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gatehouse_storage::testkit::TestStore;
use gatehouse_storage::{
    NewUser, NewUserPool, Store, StoreOptions, TextMatch, UserCursor, UserFilter, UserQuery,
};

const POOL: &str = "us-east-1_bench0001";
const T0: i64 = 1_700_000_000_000;
const PAGE: u32 = 60;

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (users, rounds) = if full { (100_000, 2_000) } else { (2_000, 20) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sqlite = TestStore::sqlite(StoreOptions::default()).await;
        run("sqlite", &sqlite.store, users, rounds).await;
        match TestStore::postgres(StoreOptions::default()).await {
            Ok(postgres) => run("postgres", &postgres.store, users, rounds).await,
            Err(why) => println!("postgres: skipped ({why})"),
        }
    });
}

async fn run(backend: &str, store: &Store, users: u32, rounds: u32) {
    let started = Instant::now();
    seed(store, users).await;
    store.analyze().await.unwrap();
    println!(
        "{backend}: seeded {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let middle = UserCursor {
        key: String::new(),
        username: format!("user{:06}", users / 2),
    };
    type Shape = (&'static str, Box<dyn Fn(&mut XorShift) -> UserQuery>);
    let shapes: Vec<Shape> = vec![
        (
            "email = (one match)",
            Box::new(move |r| {
                query(
                    attr(
                        "email",
                        eq(format!("user{:06}@example.com", r.below(users))),
                    ),
                    None,
                )
            }),
        ),
        (
            "email ^= (~10 matches)",
            Box::new(move |r| {
                query(
                    attr("email", prefix(format!("user{:05}", r.below(users / 10)))),
                    None,
                )
            }),
        ),
        (
            "family_name = (1% of pool)",
            Box::new(|r| {
                query(
                    attr("family_name", eq(format!("Family{:02}", r.below(100)))),
                    None,
                )
            }),
        ),
        (
            "family_name ^= (whole pool)",
            Box::new(|_| query(attr("family_name", prefix("Fam".to_owned())), None)),
        ),
        (
            "username ^= (~1% of pool)",
            Box::new(move |r| {
                query(
                    Some(UserFilter::Username(prefix(format!(
                        "user{:04}",
                        r.below(users / 100)
                    )))),
                    None,
                )
            }),
        ),
        (
            "family_name ^= (page in the middle)",
            Box::new(move |_| {
                let cursor = UserCursor {
                    key: "Family50".to_owned(),
                    username: format!("user{:06}", users / 2),
                };
                query(attr("family_name", prefix("Fam".to_owned())), Some(cursor))
            }),
        ),
        (
            "cognito:user_status = (half)",
            Box::new(|_| query(Some(UserFilter::Status(eq("UNCONFIRMED".to_owned()))), None)),
        ),
        (
            "status = Enabled (page in the middle)",
            Box::new(move |_| query(Some(UserFilter::Enabled(true)), Some(middle.clone()))),
        ),
        (
            "no filter (page in the middle)",
            Box::new({
                let middle = UserCursor {
                    key: String::new(),
                    username: format!("user{:06}", users / 2),
                };
                move |_| query(None, Some(middle.clone()))
            }),
        ),
    ];
    for (name, make) in &shapes {
        let mut times = Vec::with_capacity(rounds as usize);
        let mut returned = 0;
        for _ in 0..rounds {
            let q = make(&mut rng);
            let start = Instant::now();
            let page = store.users().list(POOL, &q).await.unwrap();
            times.push(start.elapsed());
            returned += page.users.len();
        }
        times.sort();
        println!(
            "{backend:>8} | {name:<40} | p50 {:>8} | p99 {:>8} | avg rows {:>5.1}",
            micros(percentile(&times, 50)),
            micros(percentile(&times, 99)),
            returned as f64 / f64::from(rounds),
        );
    }
}

async fn seed(store: &Store, users: u32) {
    store
        .user_pools()
        .create(&NewUserPool {
            id: POOL.to_owned(),
            name: "bench".to_owned(),
            config: "{}".to_owned(),
            created_at: T0,
            signing_keys: vec![],
        })
        .await
        .unwrap();
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..users {
        let username = format!("user{i:06}");
        let email = format!("{username}@example.com");
        let mut attributes = BTreeMap::new();
        attributes.insert("email".to_owned(), email.clone());
        attributes.insert("email_verified".to_owned(), "true".to_owned());
        attributes.insert("given_name".to_owned(), format!("Given{:03}", i % 997));
        attributes.insert("family_name".to_owned(), format!("Family{:02}", i % 100));
        batch.push(NewUser {
            pool_id: POOL.to_owned(),
            sub: format!("{:08x}-0000-4000-8000-{:012x}", i, u64::from(i) * 7919),
            username_key: username.clone(),
            username,
            status: if i % 2 == 0 {
                "CONFIRMED"
            } else {
                "UNCONFIRMED"
            }
            .to_owned(),
            enabled: i % 5 != 0,
            password_hash: Some(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            ),
            srp_verifier: None,
            attributes,
            aliases: vec![gatehouse_storage::Alias {
                name: "email".to_owned(),
                value: email,
            }],
            created_at: T0,
        });
        if batch.len() == 5_000 {
            store.users().create_many(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.users().create_many(&batch).await.unwrap();
}

fn query(filter: Option<UserFilter>, cursor: Option<UserCursor>) -> UserQuery {
    UserQuery {
        filter,
        limit: PAGE,
        cursor,
    }
}

fn attr(name: &str, matches: TextMatch) -> Option<UserFilter> {
    Some(UserFilter::Attribute {
        name: name.to_owned(),
        matches,
    })
}

fn eq(value: String) -> TextMatch {
    TextMatch::Equals(value)
}

fn prefix(value: String) -> TextMatch {
    TextMatch::StartsWith(value)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len().saturating_sub(1) * p) / 100;
    sorted.get(index).copied().unwrap_or_default()
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

/// A fixed-seed generator, so every run asks the same questions.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        u32::try_from(self.0 % u64::from(n.max(1))).unwrap_or(0)
    }
}
