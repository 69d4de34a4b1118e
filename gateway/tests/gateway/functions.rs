//! Lambda functions in definitions: the examples of `examples/gateway/functions/` (as SAM and
//! Terraform write them) load with their functions registered and are refused, naming the ARN
//! and how to register it, without; the declarative format's `aws_proxy` integrations and
//! `function:` authorizers; an ARN a stage's variables complete is checked when the stage is
//! compiled.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gatehouse_gateway::definition::functions::{FunctionCatalog, KnownFunctions, PayloadFormat};
use gatehouse_gateway::definition::model::{
    AuthorizerKind, AuthorizerTarget, HttpMethod, Integration,
};
use gatehouse_gateway::{Gateway, Limits, LoadError, Loaded, load_definition};

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/gateway/functions/"
);
const ORDERS: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders-api";
const EVENTS: &str = "arn:aws:lambda:us-east-1:123456789012:function:events-api";
const AUTHORIZER: &str = "arn:aws:lambda:us-east-1:123456789012:function:token-authorizer";

/// A registry that knows some ARNs exactly, and serves every qualifier of an unqualified one,
/// as the function registry does.
#[derive(Debug)]
struct Registered(BTreeSet<String>);

impl FunctionCatalog for Registered {
    fn is_registered(&self, arn: &str) -> bool {
        let unqualified = arn.split(':').take(7).collect::<Vec<_>>().join(":");
        self.0.contains(arn) || self.0.contains(&unqualified)
    }
}

fn limits(registered: &[&str]) -> Limits {
    Limits {
        functions: KnownFunctions::new(Arc::new(Registered(
            registered.iter().map(|s| (*s).to_owned()).collect(),
        ))),
        ..Limits::default()
    }
}

fn read_example(name: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("{EXAMPLES}{name}")).map_err(|e| e.to_string())
}

fn load(name: &str, text: &str, limits: &Limits) -> Result<Loaded, LoadError> {
    load_definition(
        name,
        text,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        limits,
        &read_example,
    )
}

fn problems(result: Result<Loaded, LoadError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(_) => panic!("it loaded"),
    }
}

#[test]
fn the_examples_load_with_their_functions_registered() {
    let limits = limits(&[ORDERS, EVENTS, AUTHORIZER]);
    let loaded = load(
        "gateway.yaml",
        &read_example("gateway.yaml").unwrap(),
        &limits,
    )
    .unwrap();
    let (gateway, warnings) = Gateway::build(&loaded.definition, &limits).unwrap();
    assert!(
        warnings.is_empty() && loaded.warnings.is_empty(),
        "{warnings:?} {:?}",
        loaded.warnings
    );
    assert_eq!(gateway.stage_count(), 2);
    let orders = loaded
        .definition
        .deployments
        .iter()
        .find(|d| d.api().id == "orders")
        .unwrap()
        .api();
    let get = &orders.resources["/orders/{id}"].methods[&HttpMethod::Get];
    let Integration::Function(function) = &get.integration else {
        panic!("{:?}", get.integration)
    };
    assert_eq!(function.function.literal(), Some(ORDERS));
    assert_eq!(function.payload_format, PayloadFormat::V1);
    assert_eq!(function.timeout_ms, 29_000);
    let aliased = &orders.resources["/aliased/{proxy+}"].methods[&HttpMethod::Any];
    let Integration::Function(aliased) = &aliased.integration else {
        panic!()
    };
    assert_eq!(
        aliased.function.as_str(),
        format!("{ORDERS}:${{stageVariables.ordersAlias}}")
    );
    let AuthorizerKind::Endpoint(authorizer) = &orders.authorizers["TokenAuthorizer"].kind else {
        panic!()
    };
    let AuthorizerTarget::Function(target) = &authorizer.target else {
        panic!("{:?}", authorizer.target)
    };
    assert_eq!(target.literal(), Some(AUTHORIZER));
    let events = loaded
        .definition
        .deployments
        .iter()
        .find(|d| d.api().id == "events")
        .unwrap()
        .api();
    for (path, method) in [
        ("/events/{kind}", HttpMethod::Any),
        ("/plain", HttpMethod::Get),
    ] {
        let Integration::Function(f) = &events.resources[path].methods[&method].integration else {
            panic!("{path}")
        };
        assert_eq!(
            (f.function.literal(), f.payload_format),
            (Some(EVENTS), PayloadFormat::V2)
        );
    }
}

#[test]
fn an_unregistered_function_is_refused_naming_it_and_the_way_to_register_it() {
    let text = read_example("gateway.yaml").unwrap();
    let refused = problems(load("gateway.yaml", &text, &limits(&[ORDERS, EVENTS])));
    for words in [
        "components.securitySchemes.TokenAuthorizer.x-amazon-apigateway-authorizer.authorizerUri",
        &format!("function `{AUTHORIZER}` is not registered"),
        &format!("`gatehouse serve --function {AUTHORIZER}=URL`"),
        "`[[functions]]`",
        "`POST /gatehouse/functions`",
        "or set `x-gatehouse-endpoint`",
    ] {
        assert!(refused.contains(words), "`{words}` not in: {refused}");
    }
    let refused = problems(load("gateway.yaml", &text, &limits(&[EVENTS, AUTHORIZER])));
    assert!(
        refused.contains(&format!(
            "paths./orders/{{id}}.get.x-amazon-apigateway-integration.uri: function `{ORDERS}` is not registered"
        )),
        "{refused}"
    );
    assert!(
        !refused.contains("x-gatehouse-endpoint"),
        "an integration has no such way out: {refused}"
    );
}

const DECLARATIVE: &str = r#"
version: 1
apis:
  shop:
    authorizers:
      byheader:
        type: request
        function: arn:aws:lambda:us-east-1:123456789012:function:token-authorizer
        identity_source: X-Token
    resources:
      /a:
        GET:
          authorizer: byheader
          integration:
            type: aws_proxy
            uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-api/invocations
            payload_format_version: "2.0"
            timeout_ms: 3000
      /b:
        GET:
          integration:
            type: aws_proxy
            uri: arn:aws:lambda:us-east-1:123456789012:function:orders-api:${stageVariables.alias}
stages:
  shop:
    prod: {variables: {alias: live}}
    canary: {variables: {alias: canary}}
"#;

#[test]
fn the_declarative_format_names_functions_too() {
    let registered = limits(&[ORDERS, AUTHORIZER]);
    let loaded = load("shop.yaml", DECLARATIVE, &registered).unwrap();
    let api = loaded.definition.deployments[0].api();
    let Integration::Function(a) = &api.resources["/a"].methods[&HttpMethod::Get].integration
    else {
        panic!()
    };
    assert_eq!(
        (a.function.literal(), a.payload_format, a.timeout_ms),
        (Some(ORDERS), PayloadFormat::V2, 3000)
    );
    let AuthorizerKind::Endpoint(authorizer) = &api.authorizers["byheader"].kind else {
        panic!()
    };
    assert!(
        matches!(&authorizer.target, AuthorizerTarget::Function(f) if f.literal() == Some(AUTHORIZER))
    );
    Gateway::build(&loaded.definition, &registered).unwrap();

    let cases: Vec<(String, &str)> = vec![
        (
            DECLARATIVE.replace(
                "        function: arn:aws:lambda:us-east-1:123456789012:function:token-authorizer",
                "        function: arn:aws:lambda:us-east-1:123456789012:function:token-authorizer\n        endpoint: http://auth/",
            ),
            "set `endpoint` or `function`, not both",
        ),
        (
            DECLARATIVE.replace("payload_format_version: \"2.0\"", "payload_format_version: \"3.0\""),
            "invalid payload format version `3.0`",
        ),
        (
            DECLARATIVE.replace("            timeout_ms: 3000", "            method: GET"),
            "apis.shop.resources./a.GET.integration.method",
        ),
        (
            DECLARATIVE.replace(
                "            type: aws_proxy\n            uri: arn:aws:lambda",
                "            type: http_proxy\n            payload_format_version: \"2.0\"\n            uri: arn:aws:lambda",
            ),
            "only an aws_proxy integration has it",
        ),
    ];
    for (text, expected) in cases {
        let refused = problems(load("shop.yaml", &text, &registered));
        assert!(refused.contains(expected), "`{expected}` not in: {refused}");
    }
    let refused = problems(load("shop.yaml", DECLARATIVE, &limits(&[ORDERS])));
    assert!(
        refused.contains("apis.shop.authorizers.byheader.function: function")
            && refused.contains("or name an HTTP `endpoint` instead"),
        "{refused}"
    );
}

#[test]
fn an_arn_completed_by_a_stage_is_checked_when_the_stage_is_compiled() {
    // `orders-api:canary` registered alone: the prod stage's `:live` is not served.
    let canary = format!("{ORDERS}:canary");
    let only_canary = limits(&[&canary, AUTHORIZER]);
    // Loading cannot tell (the ARN needs a stage); compiling does, at the stage.
    let loaded = load(
        "shop.yaml",
        &DECLARATIVE.replace(
            "function:orders-api/invocations",
            "function:orders-api:canary/invocations",
        ),
        &only_canary,
    )
    .unwrap();
    let problems = Gateway::build(&loaded.definition, &only_canary)
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains(&format!(
            "stages.shop.prod (GET /b): function `{ORDERS}:live` is not registered"
        )),
        "{problems}"
    );
    assert!(!problems.contains("stages.shop.canary"), "{problems}");
    // Registering the function itself serves every alias.
    let all = limits(&[ORDERS, AUTHORIZER]);
    let loaded = load("shop.yaml", DECLARATIVE, &all).unwrap();
    Gateway::build(&loaded.definition, &all).unwrap();
    // A stage without the variable is warned about, as for an HTTP backend.
    let text = DECLARATIVE.replace("    canary: {variables: {alias: canary}}", "    canary: {}");
    let loaded = load("shop.yaml", &text, &all).unwrap();
    let (_, warnings) = Gateway::build(&loaded.definition, &all).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.location == "stages.shop.canary.variables"
                && w.name == "stageVariables.alias"),
        "{warnings:?}"
    );
}
