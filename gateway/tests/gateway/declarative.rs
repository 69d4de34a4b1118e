//! The declarative file: the annotated example loads and means what its comments say; errors
//! name their location; TOML and YAML are the same format.

use std::time::{Duration, UNIX_EPOCH};

use gatehouse_gateway::definition::compiled::Definition;
use gatehouse_gateway::definition::mapping::{MappingSource, RequestParam};
use gatehouse_gateway::definition::model::{
    Authorization, AuthorizerKind, EndpointAuthorizerKind, HttpMethod, Integration,
};
use gatehouse_gateway::definition::stage::{MethodSettingsKey, QuotaPeriod};
use gatehouse_gateway::{Gateway, Limits, LoadError, Loaded, Resolution, load_definition};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway/");

fn read_example(name: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("{EXAMPLES}{name}")).map_err(|e| e.to_string())
}

fn load(name: &str, text: &str) -> Result<Loaded, LoadError> {
    load_definition(
        name,
        text,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        &Limits::default(),
        &read_example,
    )
}

fn example() -> Loaded {
    load("gateway.yaml", &read_example("gateway.yaml").unwrap()).unwrap()
}

fn problems(name: &str, text: &str) -> String {
    match load(name, text) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{name} loaded"),
    }
}

#[test]
fn the_annotated_example_loads() {
    let loaded = example();
    let Definition {
        deployments,
        stages,
        base_path_mappings,
        usage_plans,
        api_keys,
    } = &loaded.definition;
    assert_eq!(deployments.len(), 2);
    assert_eq!(
        deployments[0].id(),
        "petstore-1700000000",
        "deployments are stamped with the time passed in"
    );
    assert_eq!(
        deployments[0].created_at(),
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );
    assert_eq!(stages.len(), 3);
    assert_eq!(base_path_mappings.len(), 4);
    assert_eq!(usage_plans.len(), 2);
    assert_eq!(api_keys.len(), 2);
    // Warnings from the imported petstore carry the file name.
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.location.starts_with("petstore.yaml: ") && w.name == "type: aws")
    );

    let shop = deployments
        .iter()
        .find(|d| d.api().id == "shop")
        .unwrap()
        .api();
    assert_eq!(shop.route_count(), 7);
    let post = &shop.resources["/orders"].methods[&HttpMethod::Post];
    assert_eq!(
        post.settings.authorization,
        Authorization::Authorizer {
            name: "users".into(),
            scopes: vec!["orders/write".into()]
        }
    );
    assert_eq!(post.settings.request_models["application/json"], "Order");
    let Integration::Http(http) = &post.integration else {
        panic!("http")
    };
    assert_eq!(http.select_response(409).unwrap().status, 400);
    assert_eq!(http.select_response(200).unwrap().status, 201);
    let get = &shop.resources["/orders"].methods[&HttpMethod::Get];
    assert!(get.settings.is_api_key_only());
    assert_eq!(
        get.settings.cache_key_parameters,
        [RequestParam::query("status"), RequestParam::query("page")]
    );
    let Integration::HttpProxy(proxy) = &get.integration else {
        panic!("proxy")
    };
    assert_eq!(proxy.timeout_ms, 3000);
    assert!(
        proxy
            .request_parameters
            .iter()
            .any(|m| m.source == MappingSource::StageVariable("stageLabel".into()))
    );
    let delete = &shop.resources["/orders/{orderId}"].methods[&HttpMethod::Delete];
    assert_eq!(delete.settings.authorization, Authorization::AwsIam);
    let AuthorizerKind::Endpoint(legacy) = &shop.authorizers["legacy"].kind else {
        panic!("endpoint")
    };
    assert_eq!(
        (
            legacy.kind,
            legacy.result_ttl_seconds,
            legacy.identity_sources.len()
        ),
        (EndpointAuthorizerKind::Request, 60, 2)
    );
    let Integration::Mock(status) =
        &shop.resources["/status"].methods[&HttpMethod::Get].integration
    else {
        panic!()
    };
    let response = status.response_for(None).unwrap();
    assert_eq!((response.status, response.headers.len()), (503, 1));
    assert!(shop.schema_document("Order").unwrap()["definitions"]["Address"].is_object());
    assert!(shop.cors.as_ref().unwrap().allow_credentials);

    let prod = stages
        .iter()
        .find(|s| s.api_id == "shop" && s.name == "prod")
        .unwrap();
    assert_eq!(prod.cache.capacity_bytes, 128 * 1024 * 1024);
    assert!(
        prod.method_settings
            .contains_key(&MethodSettingsKey::parse("/orders/GET").unwrap())
    );
    let basic = usage_plans.iter().find(|p| p.name == "basic").unwrap();
    assert_eq!(basic.quota.unwrap().period, QuotaPeriod::Month);
}

#[test]
fn the_example_compiles_and_routes() {
    let loaded = example();
    let (gateway, warnings) = Gateway::build(&loaded.definition, &Limits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let Resolution::Route(hit) = gateway.resolve(Some("api.shop.example.com"), "GET", "/v1/orders")
    else {
        panic!()
    };
    assert_eq!(
        (hit.stage.stage.name.as_str(), hit.resource.path.as_str()),
        ("prod", "/orders")
    );
    // `/orders/GET` beats `*/*`; the stage override beats the method's own throttle.
    assert_eq!(hit.settings.throttle.unwrap().rate_per_second, 200.0);
    assert!(hit.settings.caches("GET"));
    assert_eq!(hit.settings.cache_ttl_seconds, 60);
    let Resolution::Route(hit) =
        gateway.resolve(Some("api.shop.example.com"), "GET", "/v1/orders/7")
    else {
        panic!()
    };
    assert!(
        !hit.settings.caches("GET"),
        "`*/*` turns caching off elsewhere"
    );
    assert_eq!(
        hit.settings.throttle.unwrap().rate_per_second,
        1000.0,
        "the stage default"
    );
    let Resolution::Route(hit) =
        gateway.resolve(Some("api.shop.example.com"), "GET", "/v1-beta/orders")
    else {
        panic!()
    };
    assert_eq!(hit.stage.stage.name, "beta");
    assert_eq!(
        hit.settings.throttle.unwrap().rate_per_second,
        50.0,
        "no stage override: the method's own"
    );
    // The pets mapping fixes the stage, so the path after `pets` is the API's own.
    let Resolution::Route(hit) = gateway.resolve(Some("api.shop.example.com"), "GET", "/pets/pets")
    else {
        panic!()
    };
    assert_eq!(
        (hit.api.id.as_str(), hit.resource.path.as_str()),
        ("petstore", "/pets")
    );
    // Any other host: the catch-all mapping, stage from the path.
    let Resolution::Route(hit) = gateway.resolve(Some("10.0.0.1:8080"), "DELETE", "/beta/orders/9")
    else {
        panic!()
    };
    assert_eq!(
        (
            hit.stage.stage.name.as_str(),
            hit.path_params.get("orderId")
        ),
        ("beta", Some("9"))
    );
}

#[test]
fn toml_is_the_same_format() {
    let toml = r#"
[apis.hello.resources."/hello/{name}".GET.integration]
type = "mock"
status = 200
body = '{"hello": true}'

[stages.hello.dev]
variables = { color = "blue" }
"#;
    let loaded = load("hello.toml", toml).unwrap();
    let api = loaded.definition.deployments[0].api();
    assert!(
        api.resources["/hello/{name}"]
            .methods
            .contains_key(&HttpMethod::Get)
    );
    assert_eq!(loaded.definition.stages[0].variables["color"], "blue");
    // Told apart by content when the name says nothing.
    assert!(load("hello", toml).is_ok());
}

#[test]
fn errors_name_their_location() {
    for (text, expected) in [
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integraton: {type: mock}\n",
            "apis.a.resources./x.GET: invalid section",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: http_proxy, uri: 'ftp://b'}\n",
            "apis.a.resources./x.GET.integration.uri: invalid endpoint uri `ftp://b`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          authorizer: nope\n          integration: {type: mock, status: 200}\n",
            "apis.a.resources./x.GET.authorizer: unknown authorizer `nope`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        FETCH:\n          integration: {type: mock}\n",
            "apis.a.resources./x.FETCH: invalid http method `FETCH`",
        ),
        (
            "apis:\n  a:\n    resources:\n      x:\n        GET:\n          integration: {type: mock}\n",
            "apis.a.resources.x: invalid resource path `x`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: http_proxy, uri: 'http://b', timeout_ms: 40000}\n",
            "apis.a.resources./x.GET.integration.timeout_ms: integration timeout `40000` is out of range 50..=29000 ms",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: mock, status: 200}\nstages:\n  a:\n    prod:\n      cache: {enabled: true, ttl_seconds: 7200}\n",
            "stages.a.prod.cache: cache ttl `7200` is out of range 0..=3600 seconds",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: mock, status: 200}\nstages:\n  a:\n    prod:\n      method_settings: {/y/GET: {caching_enabled: true}}\n",
            "stages.a.prod.method_settings./y/GET: unknown resource `/y`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: mock, status: 200}\nstages:\n  a:\n    prod:\n      access_log_format: '$context.requestID'\n",
            "stages.a.prod.access_log_format: unknown context variable `requestID`",
        ),
        (
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: mock, status: 200}\nstages:\n  a:\n    prod: {}\nusage_plans:\n  p:\n    stages: [{api: a, stage: dev}]\n",
            "usage_plans.p.stages.a/dev: unknown stage `a/dev`",
        ),
        (
            "api_keys:\n  k: {usage_plans: [gold]}\n",
            "api_keys.k: unknown usage plan `gold`",
        ),
        (
            "apis:\n  a:\n    openapi: missing.yaml\n",
            "apis.a.openapi: invalid file `missing.yaml`",
        ),
        (
            "version: 2\n",
            "version: version `Some(2)` is out of range 1",
        ),
        (
            "apis:\n  a:\n    authorizers:\n      google: {type: jwt, issuer: 'https://accounts.google.com'}\n",
            "apis.a.authorizers.google.audiences: invalid authorizer `google`: a `jwt` authorizer (and any authorizer of a remote issuer) needs `audiences`",
        ),
        (
            "apis:\n  a:\n    authorizers:\n      remote: {type: cognito_user_pools, issuer: 'https://idp.example.com'}\n",
            "apis.a.authorizers.remote.audiences: invalid authorizer `remote`",
        ),
        (
            "apis:\n  a:\n    authorizers:\n      corp: {type: jwt, issuer: 'http://idp.corp.example', audiences: [app]}\n",
            "apis.a.authorizers.corp.issuer: invalid issuer `http://idp.corp.example`: expected an `https://` URL (`http://` only on loopback",
        ),
    ] {
        let text_result = load("t.yaml", text).and_then(|loaded| {
            Gateway::build(&loaded.definition, &Limits::default())
                .map(|_| loaded)
                .map_err(LoadError::from)
        });
        let message = match text_result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("loaded: {text}"),
        };
        assert!(
            message.contains(expected),
            "expected `{expected}` in:\n{message}"
        );
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          authorizer: one\n          integration: {type: mock, status: 200}\n        POST:\n          authorizer: two\n          integration: {type: mock, status: 200}\n";
    let message = problems("t.yaml", text);
    assert!(
        message.starts_with("2 problems in the definition:"),
        "{message}"
    );
}

#[test]
fn stage_variables_an_integration_needs_are_warned_about() {
    let text = "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {type: http_proxy, uri: 'http://${stageVariables.host}/x'}\nstages:\n  a:\n    prod: {}\n";
    let loaded = load("t.yaml", text).unwrap();
    let (_, warnings) = Gateway::build(&loaded.definition, &Limits::default()).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].name, "stageVariables.host");
    assert!(warnings[0].message.contains("GET /x"));
}

#[test]
fn stage_variable_values_outside_api_gateways_set_are_refused_by_name() {
    let stage = |value: &str| {
        format!(
            "apis:\n  a:\n    resources:\n      /x:\n        GET:\n          integration: {{type: http_proxy, uri: 'http://${{stageVariables.host}}/x'}}\nstages:\n  a:\n    prod: {{variables: {{host: '{value}'}}}}\n"
        )
    };
    let refused = |text: &str| problems("t.yaml", text);
    // What an endpoint, a query or a flag needs loads.
    assert!(
        load(
            "t.yaml",
            &stage("user-api.internal:8080/v2?mode=a&b=c,d#top")
        )
        .is_ok()
    );
    for (value, found) in [
        ("127.0.0.1 :8080", "a space at byte 9"),
        ("admin@backend", "`@` at byte 5"),
        ("api%2Finternal", "`%` at byte 3"),
        ("tok+en", "`+` at byte 3"),
        ("", "the value is empty"),
    ] {
        let message = refused(&stage(value));
        assert!(
            message.contains("stages.a.prod.variables.host"),
            "{message}"
        );
        assert!(message.contains(found), "{value:?}: {message}");
        if !value.is_empty() {
            assert!(!message.contains(value), "{message}");
        }
    }
    let long = "a".repeat(2049);
    assert!(refused(&stage(&long)).contains("the value has 2049 bytes"));
    assert!(load("t.yaml", &stage(&"a".repeat(2048))).is_ok());
    assert!(refused(&stage("caf\u{e9}")).contains("U+00E9 at byte 3"));
}

#[test]
fn methods_requiring_aws_iam_load_without_warnings() {
    let text = "apis:\n  a:\n    resources:\n      /reports/{id}:\n        DELETE:\n          authorization: AWS_IAM\n          integration: {type: mock, status: 204}\n        GET:\n          integration: {type: mock, status: 200}\n";
    let loaded = load("t.yaml", text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // The annotated example, which has one such method, loads without naming it either.
    assert!(!example().warnings.iter().any(|w| w.name == "AWS_IAM"));
}

#[test]
fn jwt_authorizers_of_the_example_name_their_audiences() {
    // Every jwt authorizer the examples define passes the audience rule (it loads), and the
    // rule is what makes a definition without one fail.
    let example = read_example("gateway.yaml").unwrap();
    assert!(example.contains("audiences: [shop-api]"));
    let without = example.replace("        audiences: [shop-api]\n", "");
    assert!(
        problems("gateway.yaml", &without).contains("apis.shop.authorizers.partners.audiences"),
    );
}

#[test]
fn size_and_route_limits() {
    let limits = Limits {
        max_resources_per_api: 2,
        ..Limits::default()
    };
    let text = "apis:\n  a:\n    resources:\n      /a: {}\n      /b: {}\n      /c: {}\n";
    let err = load_definition("t.yaml", text, UNIX_EPOCH, &limits, &read_example).unwrap_err();
    assert!(
        err.to_string()
            .contains("too many resources: 3, the limit is 2"),
        "{err}"
    );
    let limits = Limits {
        max_definition_bytes: 10,
        ..Limits::default()
    };
    let err = load_definition("t.yaml", text, UNIX_EPOCH, &limits, &read_example).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }));
    let deep = format!(
        "apis:\n  a:\n    resources:\n      {}:\n        GET:\n          integration: {{type: mock, status: 200}}\n",
        "/x".repeat(40)
    );
    assert!(problems("t.yaml", &deep).contains("too many path segments: 40, the limit is 32"));
}

#[test]
fn an_apis_tls_config_names_files_beside_the_definition() {
    let text = "version: 1\napis:\n  a:\n    tls_config: {trusted_ca: certs/ca.pem, client_certificate: /etc/gw.crt, client_key: /etc/gw.key}\n    resources:\n      /x:\n        GET:\n          integration: {type: http_proxy, uri: \"https://b/x\", tls_config: {insecure_skip_verification: true}}\n";
    let loaded = load("conf/api.yaml", text).unwrap();
    let api = loaded.definition.deployments[0].api();
    assert_eq!(
        api.backend_tls.trusted_ca.as_deref(),
        Some(std::path::Path::new("conf/certs/ca.pem")),
        "relative to the definition file"
    );
    let client = api.backend_tls.client_certificate.as_ref().unwrap();
    assert_eq!(client.certificate, std::path::Path::new("/etc/gw.crt"));
    assert_eq!(client.key, std::path::Path::new("/etc/gw.key"));
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.name == "insecure_skip_verification")
        .expect("a warning naming the method");
    assert!(warning.location.contains("/x.GET"), "{}", warning.location);
    for (rule, tls, needle) in [
        (
            "a client certificate needs its key",
            "{client_certificate: gw.crt}",
            "client_key",
        ),
        (
            "a key needs its certificate",
            "{client_key: gw.key}",
            "client_certificate",
        ),
        ("a misspelt field", "{trusted_cas: ca.pem}", "trusted_cas"),
    ] {
        let text = format!(
            "version: 1\napis:\n  a:\n    tls_config: {tls}\n    resources:\n      /x:\n        GET:\n          integration: {{type: http_proxy, uri: \"https://b/x\"}}\n"
        );
        let message = problems("api.yaml", &text);
        assert!(message.contains(needle), "{rule}: {message}");
    }
}
