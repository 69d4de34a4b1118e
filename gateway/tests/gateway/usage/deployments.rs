//! Deployments at run time through the operator API: snapshot an API, point its stage at a
//! deployment, keep serving it across a file reload, roll back, and find the same pointer
//! after a restart (a new gateway on the same store).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_gateway::Limits;
use gatehouse_gateway::deployments::Deployments;
use gatehouse_gateway::operator::{OperatorState, router_with_deployments};
use gatehouse_gateway::server::{
    AccessLogSink, Clock as _, GatewayService, Live, Metrics, Reloader, ServiceConfig, Stages,
    SystemClock, serve,
};
use gatehouse_gateway::sources::load_sources;
use gatehouse_gateway::usage::Usage;
use gatehouse_storage::testkit::TestStore;
use gatehouse_storage::{Store, StoreOptions};
use serde_json::json;
use tokio::sync::oneshot;

use super::operator::{ACCESS_KEY, SECRET, Signing, call};
use super::support::{client, send, usage_config};

fn definition(body: &str) -> String {
    format!(
        r#"
version: 1
apis:
  shop:
    resources:
      /hello:
        GET:
          integration: {{type: mock, status: 200, body: '{body}'}}
stages:
  shop:
    prod: {{}}
    beta: {{}}
"#
    )
}

struct Node {
    addr: SocketAddr,
    live: Arc<Live>,
    app: axum::Router,
    _stop: oneshot::Sender<()>,
}

async fn node(store: Store, file: &PathBuf) -> Node {
    let clock = Arc::new(SystemClock);
    let (source, _) =
        load_sources(std::slice::from_ref(file), clock.now(), &Limits::default()).unwrap();
    let (live, _) = Live::from_source(
        source,
        &Limits::default(),
        Stages::default(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let live = Arc::new(live);
    let deployments = Deployments::open(
        store.clone(),
        Arc::clone(&live),
        clock.clone(),
        Limits::default(),
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    let usage = Usage::open(store, clock.clone(), usage_config())
        .await
        .unwrap();
    let app = router_with_deployments(
        OperatorState {
            usage,
            cache: None,
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET.into(),
            region: None,
            clock: clock.clone(),
        },
        Arc::clone(&deployments),
    );
    let service = GatewayService::new(
        ServiceConfig::default(),
        Arc::clone(&live),
        AccessLogSink::disabled(),
        clock,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (stop_poll, poll_stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, service, async move {
        let _ = stopped.await;
        let _ = stop_poll.send(());
    }));
    tokio::spawn(deployments.run(async move {
        let _ = poll_stopped.await;
    }));
    Node {
        addr,
        live,
        app,
        _stop: stop,
    }
}

impl Node {
    async fn body(&self, path: &str) -> String {
        let r = send(&client(), self.addr, "GET", path, &[]).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        String::from_utf8(r.body.to_vec()).unwrap()
    }
}

#[tokio::test]
async fn deploy_reload_roll_back_and_restart() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, definition("v1")).unwrap();
    let a = node(store.store.clone(), &file).await;
    let op = Signing::Operator;
    assert_eq!(a.body("/prod/hello").await, "v1");

    // Deploy v1 to prod.
    let d1 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "prod", "description": "first"})),
    )
    .await;
    assert_eq!(d1.status, 201, "{d1:?}");
    assert_eq!(d1.body["description"], "first");
    let d1 = d1.body["id"].as_str().unwrap().to_owned();

    // The file changes; prod stays on its deployment, beta (not deployed) follows the file.
    std::fs::write(&file, definition("v2")).unwrap();
    let reloader = Reloader::new(
        vec![file.clone()],
        Arc::clone(&a.live),
        Arc::new(SystemClock),
    );
    reloader.reload().unwrap();
    assert_eq!(a.body("/prod/hello").await, "v1");
    assert_eq!(a.body("/beta/hello").await, "v2");

    // Deploy v2 to prod.
    let d2 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "prod"})),
    )
    .await;
    assert_eq!(d2.status, 201, "{d2:?}");
    let d2 = d2.body["id"].as_str().unwrap().to_owned();
    assert_ne!(d1, d2);
    assert_eq!(a.body("/prod/hello").await, "v2");

    // GetDeployments: the file's own deployment, then the two stored ones.
    let list = call(&a.app, op, "GET", "/restapis/shop/deployments", None).await;
    assert_eq!(list.status, 200);
    let ids: Vec<&str> = list.body["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(&ids[1..], [d1.as_str(), d2.as_str()]);

    // Roll prod back to d1.
    let rolled = call(
        &a.app,
        op,
        "PATCH",
        "/restapis/shop/stages/prod",
        Some(json!({"patchOperations": [{"op": "replace", "path": "/deploymentId", "value": d1}]})),
    )
    .await;
    assert_eq!(rolled.status, 200, "{rolled:?}");
    assert_eq!(
        rolled.body,
        json!({"stageName": "prod", "deploymentId": d1})
    );
    assert_eq!(a.body("/prod/hello").await, "v1");
    let stage = call(&a.app, op, "GET", "/restapis/shop/stages/prod", None).await;
    assert_eq!(stage.body["deploymentId"], d1.as_str());

    // Refusals: unknown API, stage, deployment; unsupported patch; unsigned.
    let cases = [
        ("POST", "/restapis/nope/deployments", json!({}), 404),
        (
            "POST",
            "/restapis/shop/deployments",
            json!({"stageName": "nostage"}),
            404,
        ),
        (
            "PATCH",
            "/restapis/shop/stages/prod",
            json!({"patchOperations": [{"op": "replace", "path": "/deploymentId", "value": "nosuchid"}]}),
            404,
        ),
        (
            "PATCH",
            "/restapis/shop/stages/prod",
            json!({"patchOperations": [{"op": "replace", "path": "/variables/x", "value": "1"}]}),
            400,
        ),
    ];
    for (method, path, body, status) in cases {
        let r = call(&a.app, op, method, path, Some(body.clone())).await;
        assert_eq!(r.status, status, "{method} {path} {body}: {r:?}");
        assert!(r.body["message"].is_string());
    }
    let r = call(
        &a.app,
        Signing::Unsigned,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "prod"})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(a.body("/prod/hello").await, "v1");

    // Another node (or a restart) on the same store serves what was deployed: prod on d1
    // (v1) although the file now says v2.
    let b = node(store.store.clone(), &file).await;
    assert_eq!(b.body("/prod/hello").await, "v1");
    assert_eq!(b.body("/beta/hello").await, "v2");
    // A change made on one node reaches the other by polling.
    let r = call(
        &a.app,
        op,
        "PATCH",
        "/restapis/shop/stages/prod",
        Some(json!({"patchOperations": [{"op": "replace", "path": "/deploymentId", "value": d2}]})),
    )
    .await;
    assert_eq!(r.status, 200);
    let mut served = String::new();
    for _ in 0..50 {
        served = b.body("/prod/hello").await;
        if served == "v2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, "v2");

    // Key and plan changes move the same generation counter, but recompile nothing.
    let reloads = |n: &Node| {
        n.live
            .metrics()
            .render()
            .lines()
            .find(|l| l.starts_with("gatehouse_gateway_reloads_total{result=\"ok\"}"))
            .unwrap()
            .to_owned()
    };
    let before = reloads(&b);
    let key = call(
        &a.app,
        op,
        "POST",
        "/apikeys",
        Some(json!({"name": "k", "enabled": true})),
    )
    .await;
    assert_eq!(key.status, 201);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(reloads(&b), before);
}

fn pets(body: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: Pets, version: '1'}}
servers:
  - url: https://example.com/{{basePath}}
    variables: {{basePath: {{default: live}}}}
paths:
  /pets:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses:
          default:
            statusCode: 200
            responseTemplates: {{application/json: '{body}'}}
"#
    )
}

#[tokio::test]
async fn an_imported_openapi_api_is_restored_from_the_stored_text() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.yaml");
    std::fs::write(&file, "version: 1\napis:\n  pets: {openapi: pets.yaml}\n").unwrap();
    std::fs::write(dir.path().join("pets.yaml"), pets("cats")).unwrap();
    let a = node(store.store.clone(), &file).await;
    assert_eq!(a.body("/live/pets").await, "cats");
    let d = call(
        &a.app,
        Signing::Operator,
        "POST",
        "/restapis/pets/deployments",
        Some(json!({"stageName": "live"})),
    )
    .await;
    assert_eq!(d.status, 201, "{d:?}");
    // The imported file changes: a new node rebuilds the deployment
    // from the text stored with it, imports included.
    std::fs::write(dir.path().join("pets.yaml"), pets("dogs")).unwrap();
    let b = node(store.store.clone(), &file).await;
    assert_eq!(b.body("/live/pets").await, "cats");
}
