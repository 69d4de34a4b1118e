//! Property tests: the route table agrees with a naive reference matcher and never panics on
//! arbitrary paths; the loaders never panic on arbitrary YAML, JSON or mangled documents.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use gatehouse_gateway::definition::model::{Integration, MockIntegration};
use gatehouse_gateway::definition::openapi::import;
use gatehouse_gateway::definition::path::{ResourcePath, Segment, percent_decode};
use gatehouse_gateway::definition::routes::Lookup;
use gatehouse_gateway::{
    Api, Gateway, HttpMethod, Limits, Method, MethodSettings, Resource, RouteTable, load_definition,
};
use proptest::prelude::*;
use serde_json::Value;

// === the reference matcher ===

/// Rank of a segment kind: lower is more specific.
fn rank(segment: &Segment) -> u8 {
    match segment {
        Segment::Literal(_) => 0,
        Segment::Param(_) => 1,
        Segment::Greedy(_) => 2,
    }
}

/// Tries one resource against the path by the documented rules; returns its captures.
fn reference_match(template: &ResourcePath, path: &str) -> Option<Vec<(String, String)>> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let mut captures = Vec::new();
    let mut offset = 0;
    for (i, segment) in template.segments().iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                if i >= segments.len() {
                    return None;
                }
                let raw = &rest[offset..];
                let value: Vec<String> = raw
                    .split('/')
                    .map(|s| percent_decode(s).into_owned())
                    .collect();
                captures.push((name.clone(), value.join("/")));
                return Some(captures);
            }
            Segment::Literal(lit) => {
                let s = segments.get(i)?;
                if s.is_empty() || percent_decode(s) != lit.as_str() {
                    return None;
                }
                offset += s.len() + 1;
            }
            Segment::Param(name) => {
                let s = segments.get(i)?;
                if s.is_empty() {
                    return None;
                }
                captures.push((name.clone(), percent_decode(s).into_owned()));
                offset += s.len() + 1;
            }
        }
    }
    (segments.len() == template.segments().len()).then_some(captures)
}

fn reference(api: &Api, method: &str, path: &str) -> String {
    let best = api
        .resources
        .values()
        .filter_map(|r| reference_match(&r.path, path).map(|c| (r, c)))
        .min_by_key(|(r, _)| r.path.segments().iter().map(rank).collect::<Vec<_>>());
    let Some((resource, captures)) = best else {
        return "none".to_owned();
    };
    let requested = HttpMethod::from_request(method).filter(|m| *m != HttpMethod::Any);
    let chosen = requested
        .filter(|m| resource.methods.contains_key(m))
        .or_else(|| {
            resource
                .methods
                .contains_key(&HttpMethod::Any)
                .then_some(HttpMethod::Any)
        });
    match chosen {
        None => format!("no-method {}", resource.path),
        Some(m) => {
            let params: Vec<String> = captures.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{m} {} {}", resource.path, params.join(","))
        }
    }
}

fn actual(table: &RouteTable, method: &str, path: &str) -> String {
    match table.lookup(method, path) {
        Lookup::Matched(m) => {
            let params: Vec<String> = m
                .path_params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{} {} {}", m.method, m.resource.path, params.join(","))
        }
        Lookup::MethodNotDefined { resource } => format!("no-method {}", resource.path),
        Lookup::NoResource => "none".to_owned(),
    }
}

// === generators ===

/// A template segment; parameter names are fixed per depth so that siblings agree (the rule
/// validation enforces).
fn template_segment() -> impl Strategy<Value = u8> {
    0u8..6
}

fn template(kinds: Vec<u8>, greedy_last: bool) -> String {
    let mut path = String::new();
    for (depth, kind) in kinds.iter().enumerate() {
        path.push('/');
        match kind {
            0..=2 => path.push(['a', 'b', 'c'][*kind as usize]),
            3 => path.push_str("ab"),
            _ => path.push_str(&format!("{{p{depth}}}")),
        }
    }
    if greedy_last {
        path.push_str("/{proxy+}");
    }
    if path.is_empty() {
        "/".to_owned()
    } else {
        path
    }
}

fn methods() -> impl Strategy<Value = Vec<HttpMethod>> {
    prop::sample::subsequence(
        vec![HttpMethod::Get, HttpMethod::Post, HttpMethod::Any],
        1..=3,
    )
}

fn api_strategy() -> impl Strategy<Value = Api> {
    prop::collection::vec(
        (
            prop::collection::vec(template_segment(), 0..4),
            any::<bool>(),
            methods(),
        ),
        1..12,
    )
    .prop_map(|specs| {
        let mut api = Api::new("p", "p");
        for (kinds, greedy, methods) in specs {
            let text = template(kinds, greedy);
            let path = ResourcePath::parse(&text, 32, 1024).unwrap();
            let methods = methods
                .into_iter()
                .map(|m| {
                    let mock = MockIntegration {
                        status_by_content_type: BTreeMap::new(),
                        responses: Vec::new(),
                    };
                    (
                        m,
                        Method {
                            operation_name: None,
                            settings: MethodSettings::default(),
                            integration: Integration::Mock(mock),
                        },
                    )
                })
                .collect();
            api.resources.insert(text, Resource { path, methods });
        }
        api
    })
}

/// Request paths over the same alphabet plus encodings, empty segments and trailing slashes.
fn request_path() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(vec![
        "a", "b", "c", "ab", "%61", "a%2Fb", "x", "", "%zz", "%C3%A9", "A",
    ]);
    (prop::collection::vec(segment, 0..6), any::<bool>()).prop_map(|(segments, trailing)| {
        format!("/{}{}", segments.join("/"), if trailing { "/" } else { "" })
    })
}

fn request_method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "POST", "PUT", "get", "PROPFIND"])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn route_table_agrees_with_the_reference(api in api_strategy(), paths in prop::collection::vec((request_method(), request_path()), 1..16)) {
        let api = Arc::new(api);
        let table = RouteTable::new(Arc::clone(&api));
        for (method, path) in paths {
            prop_assert_eq!(actual(&table, method, &path), reference(&api, method, &path), "{} {}", method, path);
        }
    }

    #[test]
    fn route_lookup_never_panics(api in api_strategy(), method in ".{0,12}", path in ".{0,300}") {
        let table = RouteTable::new(Arc::new(api));
        let _ = table.lookup(&method, &path);
        let _ = table.lookup(&method, &format!("/{path}"));
    }

    #[test]
    fn snapshot_resolution_never_panics(host in proptest::option::of(".{0,40}"), method in "[A-Z]{0,8}", path in ".{0,200}") {
        let g = gateway();
        let _ = g.resolve(host.as_deref(), &method, &path);
    }
}

fn gateway() -> &'static Gateway {
    static GATEWAY: std::sync::OnceLock<Gateway> = std::sync::OnceLock::new();
    GATEWAY.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/gateway/gateway.yaml"
        ))
        .unwrap();
        let read = |name: &str| {
            std::fs::read_to_string(format!(
                "{}/../examples/gateway/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .map_err(|e| e.to_string())
        };
        let loaded =
            load_definition("gateway.yaml", &text, UNIX_EPOCH, &Limits::default(), &read).unwrap();
        Gateway::build(&loaded.definition, &Limits::default())
            .unwrap()
            .0
    })
}

// === loader robustness ===

/// Keys the loaders look for, so random documents reach deep code paths.
const KEYS: &[&str] = &[
    "openapi",
    "swagger",
    "paths",
    "/a",
    "/{p}",
    "/{proxy+}",
    "get",
    "post",
    "x-amazon-apigateway-any-method",
    "x-amazon-apigateway-integration",
    "type",
    "uri",
    "httpMethod",
    "requestParameters",
    "responses",
    "default",
    "statusCode",
    "requestTemplates",
    "responseTemplates",
    "application/json",
    "components",
    "schemas",
    "securitySchemes",
    "security",
    "parameters",
    "in",
    "name",
    "schema",
    "$ref",
    "x-amazon-apigateway-authorizer",
    "providerARNs",
    "identitySource",
    "authorizerUri",
    "requestBody",
    "content",
    "timeoutInMillis",
    "basePath",
    "servers",
    "variables",
    "apis",
    "resources",
    "GET",
    "integration",
    "status",
    "stages",
    "prod",
    "method_settings",
    "base_path_mappings",
    "usage_plans",
    "api_keys",
    "authorizers",
    "models",
    "cors",
    "x-amazon-apigateway-cors",
    "cacheKeyParameters",
    "definitions",
];

const STRINGS: &[&str] = &[
    "3.0.1",
    "2.0",
    "http_proxy",
    "http",
    "mock",
    "aws_proxy",
    "http://b/{p}",
    "https://${stageVariables.h}/x",
    "#/components/schemas/A",
    "#/definitions/A",
    "#/paths",
    "#",
    "method.request.path.p",
    "'lit'",
    "{\"statusCode\": 200}",
    "cognito_user_pools",
    "token",
    "request",
    "jwt",
    "header",
    "x-api-key",
    "ANY",
    "4\\d{2}",
    "(",
    "",
    "arn:aws:cognito-idp:us-east-1:1:userpool/p",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn load_both(text: &str) {
    let limits = Limits::default();
    let _ = import(text, "fuzz", &limits);
    let loaded = load_definition("fuzz", text, UNIX_EPOCH, &limits, &|_| {
        Ok("openapi: 3.0.1\npaths: {}\n".to_owned())
    });
    if let Ok(loaded) = loaded {
        let _ = Gateway::build(&loaded.definition, &limits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_documents_never_panic(mut doc in json_value(), openapi in any::<bool>()) {
        if let Value::Object(map) = &mut doc {
            map.insert(if openapi { "openapi" } else { "swagger" }.to_owned(), Value::String(if openapi { "3.0.1" } else { "2.0" }.to_owned()));
        }
        load_both(&doc.to_string());
        let yaml = serde_yaml_ng::to_string(&doc).unwrap();
        load_both(&yaml);
    }

    #[test]
    fn arbitrary_declarative_documents_never_panic(doc in json_value()) {
        load_both(&doc.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        load_both(&text);
    }

    #[test]
    fn mangled_petstore_never_panics(cut in 0usize..9000, delete in 0usize..200, replace in 0usize..9000, with in prop::sample::select(vec!["", "{", "$ref: '#/paths'", "\n  - x", ":", "'", "&a", "*a", "!!binary x"])) {
        let original = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gateway/petstore.yaml")).unwrap();
        let mut lines: Vec<&str> = original.lines().collect();
        if delete < lines.len() {
            lines.remove(delete);
        }
        let mut text = lines.join("\n");
        let at = (replace % text.len().max(1)).min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, with);
        }
        let cut = cut.min(text.len());
        if text.is_char_boundary(cut) {
            load_both(&text[..cut]);
        }
        load_both(&text);
    }
}

#[test]
fn yaml_alias_bombs_are_refused() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\nopenapi: 3.0.1\n";
    let start = std::time::Instant::now();
    assert!(import(bomb, "b", &Limits::default()).is_err());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "alias expansion must be bounded"
    );
}

#[test]
fn deeply_nested_documents_are_refused() {
    let deep = format!(
        "openapi: 3.0.1\npaths: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(import(&deep, "d", &Limits::default()).is_err());
    let deep_json = format!(
        "{{\"openapi\": \"3.0.1\", \"x\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(import(&deep_json, "d", &Limits::default()).is_err());
}

#[test]
fn the_reference_matcher_is_not_vacuous() {
    let mut api = Api::new("r", "r");
    for text in ["/a/{p1}", "/a/b", "/{p0}/b", "/{proxy+}"] {
        let path = ResourcePath::parse(text, 32, 1024).unwrap();
        let mock = MockIntegration {
            status_by_content_type: BTreeMap::new(),
            responses: Vec::new(),
        };
        let method = Method {
            operation_name: None,
            settings: MethodSettings::default(),
            integration: Integration::Mock(mock),
        };
        api.resources.insert(
            text.to_owned(),
            Resource {
                path,
                methods: BTreeMap::from([(HttpMethod::Get, method)]),
            },
        );
    }
    let table = RouteTable::new(Arc::new(api.clone()));
    for (path, expected) in [
        ("/a/b", "GET /a/b "),
        ("/a/%62", "GET /a/b "),
        ("/a/x", "GET /a/{p1} p1=x"),
        ("/x/b", "GET /{p0}/b p0=x"),
        ("/x/y", "GET /{proxy+} proxy=x/y"),
        ("/", "none"),
    ] {
        assert_eq!(reference(&api, "GET", path), expected, "{path}");
        assert_eq!(actual(&table, "GET", path), expected, "{path}");
    }
}
