//! Snapshot resolution: `(Host, method, path)` → `(api, stage, route)` through execute-api
//! hosts, base-path mappings and stages, and the misses API Gateway answers with 403.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use gatehouse_gateway::definition::compiled::MissReason;
use gatehouse_gateway::{
    Gateway, GatewayResponseType, HttpMethod, Limits, Resolution, load_definition,
};

fn gateway(text: &str) -> Gateway {
    let loaded = load_definition("t.yaml", text, UNIX_EPOCH, &Limits::default(), &|_| {
        Err("no files".into())
    })
    .unwrap();
    Gateway::build(&loaded.definition, &Limits::default())
        .unwrap()
        .0
}

const TWO_APIS: &str = r#"
apis:
  orders:
    resources:
      /orders/{id}:
        GET: {integration: {type: mock, status: 200}}
  users:
    resources:
      /users:
        ANY: {integration: {type: mock, status: 200}}
stages:
  orders: {prod: {}, dev: {}}
  users: {prod: {}}
base_path_mappings:
  - {domain: api.example.com, base_path: v1/orders, api: orders, stage: prod}
  - {domain: api.example.com, base_path: v1, api: users, stage: prod}
  - {domain: api.example.com, base_path: "", api: orders}
  - {base_path: accounts, api: users}
"#;

/// `api stage resource method params` or `miss REASON`.
fn outcome(gateway: &Gateway, host: Option<&str>, method: &str, path: &str) -> String {
    match gateway.resolve(host, method, path) {
        Resolution::Route(hit) => {
            let params: Vec<String> = hit
                .path_params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "{} {} {} {} {}",
                hit.api.id,
                hit.stage.stage.name,
                hit.resource.path,
                hit.method,
                params.join(",")
            )
            .trim_end()
            .to_owned()
        }
        Resolution::Miss(miss) => {
            assert_eq!(
                miss.response,
                GatewayResponseType::MissingAuthenticationToken
            );
            assert_eq!(miss.response.status(), 403);
            format!("miss {:?}", miss.reason)
        }
    }
}

#[test]
fn mappings_hosts_and_stages() {
    let g = gateway(TWO_APIS);
    for (host, method, path, expected) in [
        // The longest base path wins on segment boundaries.
        (
            Some("api.example.com"),
            "GET",
            "/v1/orders/orders/7",
            "orders prod /orders/{id} GET id=7",
        ),
        (
            Some("api.example.com"),
            "POST",
            "/v1/users",
            "users prod /users ANY",
        ),
        // Host matching ignores case and the port.
        (
            Some("API.Example.COM:8443"),
            "GET",
            "/v1/users",
            "users prod /users ANY",
        ),
        // The root mapping without a stage takes it from the path.
        (
            Some("api.example.com"),
            "GET",
            "/dev/orders/1",
            "orders dev /orders/{id} GET id=1",
        ),
        (
            Some("api.example.com"),
            "GET",
            "/staging/orders/1",
            "miss UnknownStage",
        ),
        // `v1orders` is not the `v1` base path.
        (
            Some("api.example.com"),
            "GET",
            "/v1orders/x",
            "miss UnknownStage",
        ),
        // Other hosts use the host-less mappings only.
        (
            Some("other.example.com"),
            "GET",
            "/accounts/prod/users",
            "users prod /users ANY",
        ),
        (
            Some("other.example.com"),
            "GET",
            "/prod/orders/1",
            "miss NoMapping",
        ),
        (None, "GET", "/accounts/prod/users", "users prod /users ANY"),
        // `{apiId}.execute-api.{anything}` reaches any API with the stage from the path.
        (
            Some("orders.execute-api.localhost:8080"),
            "GET",
            "/dev/orders/5",
            "orders dev /orders/{id} GET id=5",
        ),
        (
            Some("nope.execute-api.localhost"),
            "GET",
            "/dev/orders/5",
            "miss NoMapping",
        ),
        // Misses inside a stage.
        (
            Some("api.example.com"),
            "GET",
            "/prod/nothing",
            "miss NoResource",
        ),
        (
            Some("api.example.com"),
            "DELETE",
            "/prod/orders/1",
            "miss MethodNotDefined",
        ),
    ] {
        assert_eq!(
            outcome(&g, host, method, path),
            expected,
            "{host:?} {method} {path}"
        );
    }
}

#[test]
fn a_single_api_without_mappings_is_served_at_stage_then_path() {
    let g = gateway(
        "apis:\n  a:\n    resources:\n      /x/{proxy+}:\n        ANY: {integration: {type: mock, status: 200}}\nstages:\n  a: {prod: {}}\n",
    );
    assert_eq!(
        outcome(&g, Some("localhost:8080"), "PATCH", "/prod/x/a%20b/c"),
        "a prod /x/{proxy+} ANY proxy=a b/c"
    );
    assert_eq!(
        outcome(&g, Some("localhost:8080"), "GET", "/prod"),
        "miss NoResource"
    );
    assert_eq!(
        outcome(&g, Some("localhost:8080"), "GET", "/"),
        "miss UnknownStage"
    );
}

#[test]
fn the_hit_carries_what_the_pipeline_needs() {
    let g = gateway(TWO_APIS);
    let Resolution::Route(hit) =
        g.resolve(Some("api.example.com"), "GET", "/v1/orders/orders/a%2Fb")
    else {
        panic!()
    };
    assert_eq!(hit.base_path, "v1/orders");
    assert_eq!(hit.resource_request_path, "/orders/a%2Fb");
    assert_eq!(hit.path_params.get("id"), Some("a/b"));
    assert_eq!(hit.method, HttpMethod::Get);
    assert_eq!(hit.stage.deployment.api().id, "orders");
    assert_eq!(hit.stage.route_settings(hit.route), Some(hit.settings));
    let Resolution::Miss(miss) = g.resolve(Some("api.example.com"), "GET", "/prod/zzz") else {
        panic!()
    };
    assert_eq!(
        (miss.reason, miss.api_id, miss.stage),
        (MissReason::NoResource, Some("orders"), Some("prod"))
    );
    assert_eq!(
        miss.response.body(),
        r#"{"message":"Missing Authentication Token"}"#
    );
}

#[test]
fn snapshots_swap_atomically_behind_an_arc() {
    let current = Arc::new(gateway(TWO_APIS));
    let in_flight = Arc::clone(&current);
    // The server replaces its `Arc` with a new snapshot…
    let current = Arc::new(gateway(
        "apis:\n  orders:\n    resources:\n      /v2:\n        GET: {integration: {type: mock, status: 200}}\nstages:\n  orders: {prod: {}}\n",
    ));
    // A request that started on the old snapshot finishes on it.
    assert_eq!(
        outcome(&in_flight, Some("api.example.com"), "GET", "/prod/orders/1"),
        "orders prod /orders/{id} GET id=1"
    );
    assert_eq!(
        outcome(&current, Some("x"), "GET", "/prod/v2"),
        "orders prod /v2 GET"
    );
    let handle =
        std::thread::spawn(move || outcome(&in_flight, None, "GET", "/accounts/prod/users"));
    assert_eq!(handle.join().unwrap(), "users prod /users ANY");
}

#[test]
fn build_refuses_broken_references() {
    let cases = [
        (
            "base_path_mappings:\n  - {api: ghost}\n",
            "base_path_mappings.0: unknown api (or it has no stage) `ghost`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET: {integration: {type: mock, status: 200}}\nstages:\n  a: {prod: {}}\nbase_path_mappings:\n  - {api: a, stage: dev}\n",
            "base_path_mappings.0: unknown stage `dev`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET: {integration: {type: mock, status: 200}}\nstages:\n  a: {prod: {}}\nbase_path_mappings:\n  - {api: a, base_path: v1}\n  - {api: a, base_path: /v1/}\n",
            "duplicate",
        ),
        (
            "stages:\n  ghost: {prod: {}}\n",
            "stages.ghost.prod: unknown deployment",
        ),
    ];
    for (text, expected) in cases {
        let loaded = load_definition("t.yaml", text, UNIX_EPOCH, &Limits::default(), &|_| {
            Err(String::new())
        })
        .unwrap();
        let err = Gateway::build(&loaded.definition, &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected) || (expected == "duplicate" && err.contains("more than once")),
            "{expected} in {err}"
        );
    }
}
