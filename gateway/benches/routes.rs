//! Route lookup over a 200-route API: literal, `{param}` and greedy paths resolved through the
//! whole snapshot (host → base path → stage → route table).

use std::hint::black_box;
use std::time::UNIX_EPOCH;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_gateway::{Gateway, Limits, Resolution, load_definition};

/// 50 services × 4 routes (collection, item, nested collection, greedy) = 200 routes.
fn definition() -> String {
    let mut text = String::from("apis:\n  shop:\n    resources:\n");
    let mock = "          integration: {type: mock, status: 200}\n";
    for i in 0..50 {
        for (path, method) in [
            (format!("/svc{i}/items"), "GET"),
            (format!("/svc{i}/items/{{id}}"), "GET"),
            (format!("/svc{i}/items/{{id}}/parts"), "POST"),
            (format!("/svc{i}/files/{{proxy+}}"), "ANY"),
        ] {
            text.push_str(&format!("      \"{path}\":\n        {method}:\n{mock}"));
        }
    }
    text.push_str("stages:\n  shop:\n    prod: {}\n");
    text
}

#[expect(
    clippy::unwrap_used,
    reason = "a benchmark with a broken fixture should stop loudly"
)]
fn bench(c: &mut Criterion) {
    let text = definition();
    let loaded = load_definition("bench.yaml", &text, UNIX_EPOCH, &Limits::default(), &|_| {
        Err("no files".into())
    })
    .unwrap();
    let (gateway, _) = Gateway::build(&loaded.definition, &Limits::default()).unwrap();
    let requests = [
        ("GET", "/prod/svc7/items"),
        ("GET", "/prod/svc31/items/12345"),
        ("POST", "/prod/svc49/items/abc/parts"),
        ("PUT", "/prod/svc3/files/a/b/c.txt"),
    ];
    for (method, path) in requests {
        assert!(
            matches!(
                gateway.resolve(Some("api.local"), method, path),
                Resolution::Route(_)
            ),
            "{method} {path}"
        );
    }
    c.bench_function("resolve 200 routes (4 request shapes)", |b| {
        b.iter(|| {
            for (method, path) in requests {
                black_box(gateway.resolve(
                    black_box(Some("api.local:8080")),
                    method,
                    black_box(path),
                ));
            }
        })
    });
    c.bench_function("resolve miss (403 Missing Authentication Token)", |b| {
        b.iter(|| {
            black_box(gateway.resolve(Some("api.local"), "GET", black_box("/prod/svc7/unknown/x")))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
