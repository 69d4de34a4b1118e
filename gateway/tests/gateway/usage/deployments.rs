//! Deployments at run time through the operator API: snapshot an API, point its stage at a
//! deployment, keep serving it across a file reload, roll back, and find the same pointer
//! after a restart (a new gateway on the same store).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_gateway::Limits;
use gatehouse_gateway::control::deployments::Deployments;
use gatehouse_gateway::control::files::read_sources;
use gatehouse_gateway::control::operator::{OperatorState, router_with_deployments};
use gatehouse_gateway::control::reload::Reloader;
use gatehouse_gateway::definition::compiled::Gateway;
use gatehouse_gateway::server::usage::Usage;
use gatehouse_gateway::server::{
    AccessLogSink, Clock as _, GatewayService, Live, Metrics, Phase, Prepared, RequestContext,
    ServiceConfig, Step, StepFuture, Steps, SystemClock, Verdict, serve,
};
use gatehouse_identity::http::OperatorCredentials;
use gatehouse_identity::http::operator::OperatorAuth;
use gatehouse_storage::testkit::TestStore;
use gatehouse_storage::{Store, StoreOptions};
use serde_json::json;
use tokio::sync::oneshot;

use super::operator::{ACCESS_KEY, SECRET, Signing, call};
use super::support::{client, send, usage_config};

fn definition(body: &str) -> String {
    shop_with_stages(body, &["prod", "beta"])
}

struct Node {
    addr: SocketAddr,
    live: Arc<Live>,
    app: axum::Router,
    _stop: oneshot::Sender<()>,
}

async fn node(store: Store, file: &PathBuf) -> Node {
    node_with(store, file, Steps::default()).await
}

/// [`node`] with the pipeline's `steps`.
async fn node_with(store: Store, file: &PathBuf, steps: Steps) -> Node {
    let clock = Arc::new(SystemClock);
    let (source, _) =
        read_sources(std::slice::from_ref(file), clock.now(), &Limits::default()).unwrap();
    let (live, _) =
        Live::from_source(source, &Limits::default(), steps, Arc::new(Metrics::new())).unwrap();
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
            auth: Arc::new(OperatorAuth::new(
                OperatorCredentials {
                    access_key_id: ACCESS_KEY.into(),
                    secret_access_key: SECRET.into(),
                },
                None,
                clock.clone(),
            )),
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
    assert_eq!(rolled.body["stageName"], "prod");
    assert_eq!(rolled.body["deploymentId"], d1.as_str());
    assert_eq!(a.body("/prod/hello").await, "v1");
    let stage = call(&a.app, op, "GET", "/restapis/shop/stages/prod", None).await;
    assert_eq!(stage.body["deploymentId"], d1.as_str());

    // Refusals: unknown API, stage, deployment; unsupported patch; unsigned.
    let cases = [
        ("POST", "/restapis/nope/deployments", json!({}), 404),
        (
            "POST",
            "/restapis/shop/deployments",
            json!({"stageName": "no stage"}),
            400,
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

const PROXY: &str = r#"
version: 1
apis:
  shop:
    resources:
      /hello:
        GET:
          integration: {type: mock, status: 200, body: 'v1'}
      /echo:
        GET:
          integration: {type: http_proxy, uri: 'http://${stageVariables.host}/echo'}
stages:
  shop:
    prod: {variables: {host: '127.0.0.1:9'}}
"#;

impl Node {
    async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = send(&client(), self.addr, "GET", path, &[]).await;
        let body = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&r.body).into_owned()));
        (r.status, body)
    }

    /// The backend the stage's `host` variable sends `/echo` to, as its `Host` header says.
    async fn echo_host(&self, stage: &str) -> String {
        let (status, body) = self.get(&format!("/{stage}/echo")).await;
        assert_eq!(status, 200, "{body}");
        body["headers"]["host"].as_str().unwrap().to_owned()
    }
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..60 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn run_time_stages_are_created_patched_deleted_and_shared() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, PROXY).unwrap();
    let (one, two) = (
        super::support::backend().await,
        super::support::backend().await,
    );
    let (host_one, host_two) = (one.addr.to_string(), two.addr.to_string());
    let a = node(store.store.clone(), &file).await;
    let b = node(store.store.clone(), &file).await;
    let op = Signing::Operator;

    // A deployment for no stage, then a stage created on it.
    let d1 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({})),
    )
    .await;
    assert_eq!(d1.status, 201, "{d1:?}");
    let d1 = d1.body["id"].as_str().unwrap().to_owned();
    let dev = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/stages",
        Some(
            json!({"stageName": "dev", "deploymentId": d1, "description": "the dev stage",
                    "variables": {"host": host_one}}),
        ),
    )
    .await;
    assert_eq!(dev.status, 201, "{dev:?}");
    assert_eq!(dev.body["stageName"], "dev");
    assert_eq!(dev.body["deploymentId"], d1.as_str());
    assert_eq!(dev.body["description"], "the dev stage");
    assert_eq!(dev.body["variables"], json!({"host": host_one}));
    assert_eq!(dev.body["cacheClusterEnabled"], false);
    assert!(dev.body["createdDate"].is_u64());
    assert_eq!(a.get("/dev/hello").await, (200, json!("v1")));
    assert_eq!(a.echo_host("dev").await, host_one);
    // The other node serves it after its next poll.
    assert!(eventually(async || b.get("/dev/hello").await.0 == 200).await);
    assert_eq!(b.echo_host("dev").await, host_one);

    // GetStages: the file's stage and the run-time one, by name.
    let stages = call(&a.app, op, "GET", "/restapis/shop/stages", None).await;
    assert_eq!(stages.status, 200);
    let names: Vec<&str> = stages.body["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stageName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "prod"]);

    // Refusals, each with API Gateway's error type.
    let file_deployment = call(&a.app, op, "GET", "/restapis/shop/stages/prod", None).await;
    let file_deployment = file_deployment.body["deploymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "prod", "deploymentId": d1}),
            409,
            "ConflictException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "dev", "deploymentId": d1}),
            409,
            "ConflictException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "qa", "deploymentId": "nosuchid"}),
            404,
            "NotFoundException",
        ),
        (
            "POST",
            "/restapis/nope/stages",
            json!({"stageName": "qa", "deploymentId": d1}),
            404,
            "NotFoundException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "q a", "deploymentId": d1}),
            400,
            "BadRequestException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "x".repeat(129), "deploymentId": d1}),
            400,
            "BadRequestException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "qa", "deploymentId": file_deployment}),
            400,
            "BadRequestException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "qa", "deploymentId": d1, "variables": {"bad-name": "1"}}),
            400,
            "BadRequestException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "qa", "deploymentId": d1, "variables": {"host": "127.0.0.1 :80"}}),
            400,
            "BadRequestException",
        ),
        (
            "POST",
            "/restapis/shop/stages",
            json!({"stageName": "qa", "deploymentId": d1, "cacheClusterSize": "2"}),
            400,
            "BadRequestException",
        ),
        (
            "PATCH",
            "/restapis/shop/stages/prod",
            json!({"patchOperations": [{"op": "replace", "path": "/variables/host", "value": "x"}]}),
            400,
            "BadRequestException",
        ),
        (
            "PATCH",
            "/restapis/shop/stages/dev",
            json!({"patchOperations": [{"op": "replace", "path": "/variables/host", "value": "user@evil.example"}]}),
            400,
            "BadRequestException",
        ),
        (
            "PATCH",
            "/restapis/shop/stages/dev",
            json!({"patchOperations": [{"op": "remove", "path": "/variables/nosuch"}]}),
            404,
            "NotFoundException",
        ),
        (
            "PATCH",
            "/restapis/shop/stages/dev",
            json!({"patchOperations": [{"op": "replace", "path": "/tracingEnabled", "value": "true"}]}),
            400,
            "BadRequestException",
        ),
        (
            "PATCH",
            "/restapis/shop/stages/ghost",
            json!({"patchOperations": [{"op": "replace", "path": "/variables/a", "value": "1"}]}),
            404,
            "NotFoundException",
        ),
        (
            "DELETE",
            "/restapis/shop/stages/prod",
            json!({}),
            400,
            "BadRequestException",
        ),
        (
            "DELETE",
            "/restapis/shop/stages/ghost",
            json!({}),
            404,
            "NotFoundException",
        ),
        (
            "DELETE",
            &format!("/restapis/shop/deployments/{d1}"),
            json!({}),
            400,
            "BadRequestException",
        ),
        (
            "DELETE",
            &format!("/restapis/shop/deployments/{file_deployment}"),
            json!({}),
            400,
            "BadRequestException",
        ),
        (
            "GET",
            "/restapis/shop/deployments/nosuchid",
            json!({}),
            404,
            "NotFoundException",
        ),
    ];
    for (method, path, body, status, kind) in cases {
        let r = call(&a.app, op, method, path, Some(body.clone())).await;
        assert_eq!(r.status, status, "{method} {path} {body}: {r:?}");
        assert_eq!(
            r.error_type.as_deref(),
            Some(kind),
            "{method} {path}: {r:?}"
        );
        assert!(r.body["message"].is_string());
    }
    let named = call(&a.app, op, "PATCH", "/restapis/shop/stages/prod",
        Some(json!({"patchOperations": [{"op": "replace", "path": "/variables/host", "value": "x"}]}))).await;
    let message = named.body["message"].as_str().unwrap();
    assert!(
        message.contains("definition file") && message.contains("`host`"),
        "{message}"
    );
    // A value outside API Gateway's set is refused by name and character, never echoed.
    let spaced = call(&a.app, op, "PATCH", "/restapis/shop/stages/dev",
        Some(json!({"patchOperations": [{"op": "replace", "path": "/variables/host", "value": "127.0.0.1 :8080"}]}))).await;
    let message = spaced.body["message"].as_str().unwrap();
    assert!(
        message.contains("`host`") && message.contains("a space at byte 9"),
        "{message}"
    );
    assert!(!message.contains("127.0.0.1"), "{message}");
    let in_use = call(
        &a.app,
        op,
        "DELETE",
        &format!("/restapis/shop/deployments/{d1}"),
        None,
    )
    .await;
    assert!(
        in_use.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Active stages pointing to this deployment must be moved or deleted"),
        "{in_use:?}"
    );
    // Nothing refused above changed what is served.
    assert_eq!(a.echo_host("dev").await, host_one);

    // UpdateStage on the run-time stage: variables replaced and removed, a method setting.
    let patched = call(
        &a.app,
        op,
        "PATCH",
        "/restapis/shop/stages/dev",
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/variables/host", "value": host_two},
            {"op": "replace", "path": "/variables/extra", "value": "1"},
            {"op": "replace", "path": "/description", "value": "moved"},
        ]})),
    )
    .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(
        patched.body["variables"],
        json!({"host": host_two, "extra": "1"})
    );
    assert_eq!(patched.body["description"], "moved");
    assert_eq!(a.echo_host("dev").await, host_two);
    assert!(eventually(async || b.echo_host("dev").await == host_two).await);
    let removed = call(
        &a.app,
        op,
        "PATCH",
        "/restapis/shop/stages/dev",
        Some(json!({"patchOperations": [{"op": "remove", "path": "/variables/extra"}]})),
    )
    .await;
    assert_eq!(removed.body["variables"], json!({"host": host_two}));
    let throttled = call(
        &a.app,
        op,
        "PATCH",
        "/restapis/shop/stages/dev",
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/~1hello/GET/throttling/rateLimit", "value": "0"},
            {"op": "replace", "path": "/~1hello/GET/throttling/burstLimit", "value": "0"},
        ]})),
    )
    .await;
    assert_eq!(throttled.status, 200, "{throttled:?}");
    assert_eq!(
        throttled.body["methodSettings"]["~1hello/GET"]["throttlingBurstLimit"],
        0
    );
    // (This harness runs no throttle stage; the setting is checked as stored and compiled.)

    // CreateDeployment to a new stage name creates a run-time stage on it; to an existing
    // run-time stage it moves it and keeps its variables.
    let d2 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "qa", "variables": {"host": host_one}})),
    )
    .await;
    assert_eq!(d2.status, 201, "{d2:?}");
    let d2 = d2.body["id"].as_str().unwrap().to_owned();
    assert_eq!(a.echo_host("qa").await, host_one);
    let d3 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "dev"})),
    )
    .await;
    let d3 = d3.body["id"].as_str().unwrap().to_owned();
    let dev = call(&a.app, op, "GET", "/restapis/shop/stages/dev", None).await;
    assert_eq!(dev.body["deploymentId"], d3.as_str());
    assert_eq!(dev.body["variables"], json!({"host": host_two}));

    // GetDeployment, then DeleteDeployment once nothing points at it.
    let got = call(
        &a.app,
        op,
        "GET",
        &format!("/restapis/shop/deployments/{d1}"),
        None,
    )
    .await;
    assert_eq!(
        (got.status, got.body["id"].as_str()),
        (200, Some(d1.as_str()))
    );
    let deleted = call(
        &a.app,
        op,
        "DELETE",
        &format!("/restapis/shop/deployments/{d1}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 202, "{deleted:?}");
    let gone = call(
        &a.app,
        op,
        "GET",
        &format!("/restapis/shop/deployments/{d1}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);

    // A restart on the same store serves the run-time stages as they are now.
    let c = node(store.store.clone(), &file).await;
    assert_eq!(c.echo_host("qa").await, host_one);
    let dev = call(&c.app, op, "GET", "/restapis/shop/stages/dev", None).await;
    assert_eq!(
        dev.body["methodSettings"]["~1hello/GET"]["throttlingRateLimit"],
        0.0
    );
    assert_eq!(dev.body["variables"], json!({"host": host_two}));

    // DeleteStage: the stage answers like any unknown stage, here and on the other node.
    let unknown = a.get("/nosuchstage/hello").await;
    let deleted = call(&a.app, op, "DELETE", "/restapis/shop/stages/qa", None).await;
    assert_eq!(deleted.status, 202, "{deleted:?}");
    assert_eq!(a.get("/qa/hello").await, unknown);
    assert!(eventually(async || b.get("/qa/hello").await == unknown).await);
    let deleted = call(
        &a.app,
        op,
        "DELETE",
        &format!("/restapis/shop/deployments/{d2}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 202, "{deleted:?}");
    let left = call(&a.app, op, "GET", "/restapis/shop/stages", None).await;
    assert_eq!(left.body["item"].as_array().unwrap().len(), 2);
}

/// A pipeline step whose `prepare` — part of every compile — once armed, holds the compile
/// until the test releases it. A compile on the test's own runtime thread is recorded instead
/// of held (holding it there would hang the test rather than fail it).
#[derive(Debug)]
struct GatedCompile {
    armed: AtomicBool,
    entered: tokio::sync::Notify,
    release: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    runtime_thread: std::thread::ThreadId,
    compiled_on_runtime: AtomicBool,
}

impl Step for GatedCompile {
    fn name(&self) -> &'static str {
        "gated_compile"
    }

    fn phase(&self) -> Phase {
        Phase::Authorize
    }

    fn prepare(&self, _gateway: &Gateway) -> Result<Prepared, String> {
        if self.armed.swap(false, Ordering::SeqCst) {
            if std::thread::current().id() == self.runtime_thread {
                self.compiled_on_runtime.store(true, Ordering::SeqCst);
            } else {
                self.entered.notify_one();
                let release = self.release.lock().unwrap().take();
                if let Some(release) = release {
                    let _ = release.recv();
                }
            }
        }
        Ok(Arc::new(()))
    }

    fn on_request<'a>(
        &'a self,
        _cx: &'a mut RequestContext<'_>,
        _prepared: &'a Prepared,
    ) -> StepFuture<'a> {
        StepFuture::ready(Verdict::Continue)
    }
}

/// CreateDeployment compiles on the blocking pool: while its compile is held, the same
/// (single-threaded) runtime goes on serving gateway requests and operator calls, and the
/// deployment goes live once the compile finishes.
#[tokio::test]
async fn a_held_compile_does_not_stop_requests() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, definition("v1")).unwrap();
    let (release, released) = std::sync::mpsc::channel();
    let gate = Arc::new(GatedCompile {
        armed: AtomicBool::new(false),
        entered: tokio::sync::Notify::new(),
        release: Mutex::new(Some(released)),
        runtime_thread: std::thread::current().id(),
        compiled_on_runtime: AtomicBool::new(false),
    });
    let a = node_with(
        store.store.clone(),
        &file,
        Steps::new(vec![Arc::clone(&gate) as Arc<dyn Step>]),
    )
    .await;
    let first = call(
        &a.app,
        Signing::Operator,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "prod"})),
    )
    .await;
    assert_eq!(first.status, 201, "{first:?}");
    std::fs::write(&file, definition("v2")).unwrap();
    Reloader::new(
        vec![file.clone()],
        Arc::clone(&a.live),
        Arc::new(SystemClock),
    )
    .reload()
    .unwrap();
    assert_eq!(a.body("/prod/hello").await, "v1");
    assert_eq!(a.body("/beta/hello").await, "v2");

    gate.armed.store(true, Ordering::SeqCst);
    let entered = gate.entered.notified();
    let app = a.app.clone();
    let mut deploy = tokio::spawn(async move {
        call(
            &app,
            Signing::Operator,
            "POST",
            "/restapis/shop/deployments",
            Some(json!({"stageName": "prod"})),
        )
        .await
    });
    tokio::select! {
        () = entered => {}
        reply = &mut deploy => panic!("the compile was not held: {:?}", reply.map(|r| r.status)),
    }
    assert!(
        !gate.compiled_on_runtime.load(Ordering::SeqCst),
        "compiled on the runtime's thread"
    );
    // Held: the gateway and the operator API still answer on this runtime.
    assert_eq!(a.body("/prod/hello").await, "v1");
    assert_eq!(a.body("/beta/hello").await, "v2");
    let listed = call(
        &a.app,
        Signing::Operator,
        "GET",
        "/restapis/shop/deployments",
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    release.send(()).unwrap();
    let deployed = deploy.await.unwrap();
    assert_eq!(deployed.status, 201, "{deployed:?}");
    assert_eq!(a.body("/prod/hello").await, "v2");
}

/// `shop` with `stages`, its one method answering `body`.
fn shop_with_stages(body: &str, stages: &[&str]) -> String {
    let stages: String = stages.iter().map(|s| format!("    {s}: {{}}\n")).collect();
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
{stages}"#
    )
}

/// Two nodes on one store whose definition files differ — `a` has the stages prod, beta and
/// canary, `b` only prod — decide every deployment question alike, from what is stored.
async fn nodes_with_different_files_agree(store: Store) {
    nodes_with_different_files_agree_two(store.clone(), store).await;
}

async fn nodes_with_different_files_agree_two(store_a: Store, store_b: Store) {
    let dir = tempfile::tempdir().unwrap();
    let (file_a, file_b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&file_a, shop_with_stages("a", &["prod", "beta", "canary"])).unwrap();
    std::fs::write(&file_b, shop_with_stages("b", &["prod"])).unwrap();
    let a = node(store_a, &file_a).await;
    let b = node(store_b, &file_b).await;
    let op = Signing::Operator;
    let id = |reply: &super::operator::Reply| reply.body["id"].as_str().unwrap().to_owned();

    // a points its file stage beta at a deployment of its own file.
    let d1 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "beta"})),
    )
    .await;
    assert_eq!(d1.status, 201, "{d1:?}");
    let d1 = id(&d1);
    assert_eq!(a.get("/beta/hello").await, (200, json!("a")));

    // DeleteDeployment of d1 is refused on both nodes: the stored pointer of beta names it,
    // although b's file has no beta.
    for node in [&b, &a] {
        let path = format!("/restapis/shop/deployments/{d1}");
        let refused = call(&node.app, op, "DELETE", &path, None).await;
        assert_eq!(refused.status, 400, "{refused:?}");
        assert!(
            refused.body["message"].as_str().unwrap().contains("`beta`"),
            "{refused:?}"
        );
    }

    // b deploys its own file to beta: the stored pointer moves (no run-time stage appears),
    // and a serves b's deployment on beta.
    let d2 = call(
        &b.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({"stageName": "beta"})),
    )
    .await;
    assert_eq!(d2.status, 201, "{d2:?}");
    let d2 = id(&d2);
    assert!(eventually(async || a.get("/beta/hello").await == (200, json!("b"))).await);
    let stages = call(&b.app, op, "GET", "/restapis/shop/stages", None).await;
    let names: Vec<&str> = stages.body["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stageName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod"], "b has made no run-time stage named beta");

    // b rolls beta back to d1 (a stage its files lack, known by its stored pointer).
    let patch =
        json!({"patchOperations": [{"op": "replace", "path": "/deploymentId", "value": d1}]});
    let rolled = call(
        &b.app,
        op,
        "PATCH",
        "/restapis/shop/stages/beta",
        Some(patch),
    )
    .await;
    assert_eq!(rolled.status, 200, "{rolled:?}");
    assert_eq!(rolled.body["deploymentId"], d1.as_str());
    assert!(eventually(async || a.get("/beta/hello").await == (200, json!("a"))).await);

    // b creates canary, which only a's file has: the stored run-time stage is canary on both.
    let canary = call(
        &b.app,
        op,
        "POST",
        "/restapis/shop/stages",
        Some(json!({"stageName": "canary", "deploymentId": d2})),
    )
    .await;
    assert_eq!(canary.status, 201, "{canary:?}");
    assert_eq!(b.get("/canary/hello").await, (200, json!("b")));
    assert!(eventually(async || a.get("/canary/hello").await == (200, json!("b"))).await);
    // And d2 is in use for both.
    for node in [&a, &b] {
        let path = format!("/restapis/shop/deployments/{d2}");
        let refused = call(&node.app, op, "DELETE", &path, None).await;
        assert_eq!(refused.status, 400, "{refused:?}");
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap()
                .contains("`canary`"),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn nodes_with_different_files_agree_on_sqlite() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    nodes_with_different_files_agree(store.store.clone()).await;
}

#[tokio::test]
async fn nodes_with_different_files_agree_on_postgresql() {
    let store = TestStore::postgres(StoreOptions::default()).await.unwrap();
    let other = Store::open(store.url(), StoreOptions::default())
        .await
        .unwrap();
    // Each node with its own connections, as two processes would have.
    nodes_with_different_files_agree_two(store.store.clone(), other).await;
}

/// A run-time stage stored before stage variable values were held to API Gateway's set still
/// lets a node build and serve it as stored; an UpdateStage that does not set that value
/// (a rollback, a description) goes through, one that sets it outside the set does not.
#[tokio::test]
async fn a_stored_stage_variable_outside_the_set_is_left_out() {
    let store = TestStore::sqlite(StoreOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, PROXY).unwrap();
    let backend = super::support::backend().await;
    let host = backend.addr.to_string();
    let a = node(store.store.clone(), &file).await;
    let op = Signing::Operator;
    let d1 = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/deployments",
        Some(json!({})),
    )
    .await;
    let d1 = d1.body["id"].as_str().unwrap().to_owned();
    let dev = call(
        &a.app,
        op,
        "POST",
        "/restapis/shop/stages",
        Some(json!({"stageName": "dev", "deploymentId": d1,
                    "variables": {"host": host, "label": "ok"}})),
    )
    .await;
    assert_eq!(dev.status, 201, "{dev:?}");
    // The stage as an older version could have stored it: a value with a space.
    let records = store.store.gateway();
    let mut record = records
        .list_stages()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "dev")
        .unwrap();
    assert!(
        record.document.contains(r#""label":"ok""#),
        "{}",
        record.document
    );
    record.document = record
        .document
        .replace(r#""label":"ok""#, r#""label":"not ok""#);
    records.update_stage(&record).await.unwrap();
    // A node started on that store serves the stage.
    let b = node(store.store.clone(), &file).await;
    assert_eq!(b.get("/dev/hello").await, (200, json!("v1")));
    assert_eq!(b.echo_host("dev").await, host);
    let patch = |path: &str, value: &str| json!({"patchOperations": [{"op": "replace", "path": path, "value": value}]});
    let described = call(
        &b.app,
        op,
        "PATCH",
        "/restapis/shop/stages/dev",
        Some(patch("/description", "still served")),
    )
    .await;
    assert_eq!(described.status, 200, "{described:?}");
    assert_eq!(described.body["variables"]["label"], "not ok");
    let relabelled = call(
        &b.app,
        op,
        "PATCH",
        "/restapis/shop/stages/dev",
        Some(patch("/variables/label", "still not ok")),
    )
    .await;
    assert_eq!(relabelled.status, 400, "{relabelled:?}");
}
