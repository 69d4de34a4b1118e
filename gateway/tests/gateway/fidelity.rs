//! Import fidelity, learnt from loading public OpenAPI files with API Gateway extensions (SAM
//! and Terraform templates, LocalStack's test files, AWS serverless patterns) the way a new user
//! does: real files on disk, read by the control plane, compiled into one gateway.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use gatehouse_gateway::control::files::read_sources;
use gatehouse_gateway::{Gateway, Limits};

/// A folder of definition files written by the test.
struct Files(tempfile::TempDir);

impl Files {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Reads and compiles `names` as `gatehouse serve --api …` does: the api ids and every
    /// warning, or the error as the operator sees it.
    fn serve(&self, names: &[&str]) -> Result<(Vec<String>, Vec<String>), String> {
        let paths: Vec<PathBuf> = names.iter().map(|n| self.path(n)).collect();
        let (source, mut warnings) =
            read_sources(&paths, UNIX_EPOCH, &Limits::default()).map_err(|e| e.to_string())?;
        let (gateway, more) =
            Gateway::build(&source.definition, &Limits::default()).map_err(|e| e.to_string())?;
        warnings.extend(more);
        let mut ids: Vec<String> = gateway.stages().map(|s| s.stage.api_id.clone()).collect();
        ids.sort();
        ids.dedup();
        Ok((ids, warnings.iter().map(ToString::to_string).collect()))
    }
}

/// A bare OpenAPI 3 file with one mock method, served at stage `prod`.
fn openapi(title: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: {title}, version: "1"}}
servers: [{{url: "https://example.com/{{basePath}}", variables: {{basePath: {{default: /prod}}}}}}]
paths:
  /ping:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
        responses: {{default: {{statusCode: "200"}}}}
"#
    )
}

fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

// === the API id is the file stem ===

#[test]
fn files_named_alike_up_to_their_first_dot_are_distinct_apis() {
    let files = Files::new(&[
        ("openapi.spec.json", &openapi("Spec")),
        ("openapi.cognito-auth.json", &openapi("Auth")),
    ]);
    let (ids, _) = files
        .serve(&["openapi.spec.json", "openapi.cognito-auth.json"])
        .unwrap();
    assert_eq!(ids, ["openapi-cognito-auth", "openapi-spec"]);
}

// === duplicates name both places ===

/// A definition error that must name both files, and what it must say besides.
struct Duplicate {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    passed: &'static [&'static str],
    says: &'static [&'static str],
}

fn check_duplicate(case: &Duplicate) {
    let written: Vec<(&str, &str)> = case.files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let files = Files::new(&written);
    let err = files.serve(case.passed).expect_err(case.name);
    for name in case.passed {
        assert!(
            err.contains(&format!("`{}`", shown(&files.path(name)))),
            "{}: `{name}` not named in: {err}",
            case.name
        );
    }
    for words in case.says {
        assert!(
            err.contains(words),
            "{}: `{words}` not in: {err}",
            case.name
        );
    }
}

const WRAPPER: &str = "version: 1\napis:\n  petstore:\n    openapi: petstore.yaml\n";
const PLAN: &str = "version: 1\napis:\n  shop:\n    resources:\n      /ping:\n        GET:\n          integration: {type: mock}\nstages:\n  shop:\n    prod: {}\nusage_plans:\n  basic:\n    stages: [{api: shop, stage: prod}]\n";
const SECOND_PLAN: &str =
    "version: 1\nusage_plans:\n  basic:\n    stages: [{api: shop, stage: prod}]\n";
const SECOND_STAGE: &str = "version: 1\nstages:\n  shop:\n    prod: {}\n";

#[test]
fn definitions_found_twice_name_both_files() {
    let petstore = openapi("PetStore");
    let cases = [
        Duplicate {
            name: "two OpenAPI files with one stem in two folders",
            files: vec![
                ("a/orders.yaml", petstore.clone()),
                ("b/orders.yaml", petstore.clone()),
            ],
            passed: &["a/orders.yaml", "b/orders.yaml"],
            says: &["api `orders` is defined twice"],
        },
        Duplicate {
            name: "a file passed beside the declarative file that imports it",
            files: vec![
                ("gateway.yaml", WRAPPER.into()),
                ("petstore.yaml", petstore.clone()),
            ],
            passed: &["gateway.yaml", "petstore.yaml"],
            says: &[
                "api `petstore` is defined twice",
                "imports `petstore.yaml`",
                "pass only",
            ],
        },
        Duplicate {
            name: "the same file passed twice",
            files: vec![("petstore.yaml", petstore.clone())],
            passed: &["petstore.yaml", "petstore.yaml"],
            says: &["api `petstore` is defined twice"],
        },
        Duplicate {
            name: "a usage plan of one name in two files",
            files: vec![
                ("shop.yaml", PLAN.into()),
                ("plans.yaml", SECOND_PLAN.into()),
            ],
            passed: &["shop.yaml", "plans.yaml"],
            says: &["usage plan `basic` is defined twice"],
        },
        Duplicate {
            name: "a stage of one name in two files",
            files: vec![
                ("shop.yaml", PLAN.into()),
                ("stages.yaml", SECOND_STAGE.into()),
            ],
            passed: &["shop.yaml", "stages.yaml"],
            says: &["stage `shop/prod` is defined twice"],
        },
    ];
    for case in &cases {
        check_duplicate(case);
    }
}

// === values that are not strings ===

/// An OpenAPI 3 document with one `GET /a` whose integration is `integration`, and a
/// security scheme `auth` with `authorizer` when one is given.
fn document(integration: serde_json::Value, authorizer: Option<serde_json::Value>) -> String {
    let mut doc = serde_json::json!({
        "openapi": "3.0.1",
        "info": {"title": "T", "version": "1"},
        "paths": {"/a": {"get": {"x-amazon-apigateway-integration": integration}}},
    });
    if let Some(authorizer) = authorizer {
        doc["components"] = serde_json::json!({"securitySchemes": {"auth": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": authorizer,
        }}});
        doc["paths"]["/a"]["get"]["security"] = serde_json::json!([{"auth": []}]);
    }
    serde_json::to_string_pretty(&doc).unwrap()
}

/// Imports `text` and expects an error at `location` saying `message`.
fn check_error(case: &str, text: &str, location: &str, message: &str) {
    match gatehouse_gateway::definition::openapi::import(text, "t", &Limits::default()) {
        Err(gatehouse_gateway::LoadError::Invalid(problems)) => assert!(
            problems
                .iter()
                .any(|p| p.location == location && p.problem.to_string().contains(message)),
            "{case}: no `{message}` at `{location}` in: {problems}"
        ),
        other => panic!("{case}: {other:?}"),
    }
}

#[test]
fn values_that_are_not_strings_say_what_was_found() {
    use serde_json::json;
    const INTRINSIC: &str = "expected a string, found a mapping (a CloudFormation intrinsic?)";
    let integration = "paths./a.get.x-amazon-apigateway-integration";
    let authorizer = "components.securitySchemes.auth.x-amazon-apigateway-authorizer";
    let proxy = |key: &str, value: serde_json::Value| {
        let mut i =
            json!({"type": "http_proxy", "httpMethod": "GET", "uri": "https://b.example.com/a"});
        i[key] = value;
        i
    };
    let request = |key: &str, value: serde_json::Value| {
        let mut a = json!({"type": "request", "identitySource": "method.request.header.Authorization",
                           "x-gatehouse-endpoint": "https://auth.example.com/check"});
        a[key] = value;
        a
    };
    let cases = [
        (
            "a SAM uri",
            document(
                proxy("uri", json!({"Fn::Sub": "https://${Backend}/a"})),
                None,
            ),
            format!("{integration}.uri"),
            INTRINSIC,
        ),
        (
            "a Ref as the integration type",
            document(proxy("type", json!({"Ref": "IntegrationType"})), None),
            format!("{integration}.type"),
            INTRINSIC,
        ),
        (
            "a list of methods",
            document(proxy("httpMethod", json!(["GET", "POST"])), None),
            format!("{integration}.httpMethod"),
            "expected a string, found a list",
        ),
        (
            "a number as passthrough behaviour",
            document(proxy("passthroughBehavior", json!(1)), None),
            format!("{integration}.passthroughBehavior"),
            "expected a string, found a number",
        ),
        (
            "a joined request parameter",
            document(
                proxy(
                    "requestParameters",
                    json!({"integration.request.header.x-tenant": {"Fn::Join": ["", ["'", "a", "'"]]}}),
                ),
                None,
            ),
            format!("{integration}.requestParameters.integration.request.header.x-tenant"),
            INTRINSIC,
        ),
        (
            "a SAM authorizer uri",
            document(
                proxy("uri", json!("https://b.example.com/a")),
                Some(
                    json!({"type": "token", "authorizerUri": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/x"}}),
                ),
            ),
            format!("{authorizer}.authorizerUri"),
            INTRINSIC,
        ),
        (
            "a non-string endpoint",
            document(
                proxy("uri", json!("https://b.example.com/a")),
                Some(request(
                    "x-gatehouse-endpoint",
                    json!({"Fn::GetAtt": ["Auth", "Url"]}),
                )),
            ),
            format!("{authorizer}.x-gatehouse-endpoint"),
            INTRINSIC,
        ),
        (
            "a boolean validation expression",
            document(
                proxy("uri", json!("https://b.example.com/a")),
                Some(request("identityValidationExpression", json!(true))),
            ),
            format!("{authorizer}.identityValidationExpression"),
            "expected a string, found a boolean",
        ),
        (
            "a Ref as the authorizer type",
            document(
                proxy("uri", json!("https://b.example.com/a")),
                Some(request("type", json!({"Ref": "Kind"}))),
            ),
            format!("{authorizer}.type"),
            INTRINSIC,
        ),
        (
            "a mapping that is no intrinsic",
            document(proxy("uri", json!({"host": "b", "path": "/a"})), None),
            format!("{integration}.uri"),
            "expected a string, found a mapping",
        ),
    ];
    for (case, text, location, message) in &cases {
        check_error(case, text, location, message);
    }
}

// === stage variables of an OpenAPI file ===

const USES_A_VARIABLE: &str = r#"openapi: 3.0.1
info: {title: Svc, version: "1"}
paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/a"
"#;

#[test]
fn stage_variables_of_a_bare_openapi_file_say_how_to_set_them() {
    let files = Files::new(&[
        ("svc.yaml", USES_A_VARIABLE),
        (
            "wrapped.yaml",
            "version: 1\napis:\n  svc:\n    openapi: svc.yaml\n",
        ),
    ]);
    let warning = |names: &[&str]| -> String {
        let (_, warnings) = files.serve(names).unwrap();
        let found: Vec<&String> = warnings
            .iter()
            .filter(|w| w.contains("stageVariables.backend"))
            .collect();
        assert_eq!(found.len(), 1, "{warnings:?}");
        found[0].clone()
    };
    // On its own, the file has no place for variables: the warning names the file and the
    // declarative wrapper that gives it one.
    let bare = warning(&["svc.yaml"]);
    assert!(
        bare.starts_with(&format!("{}: ", shown(&files.path("svc.yaml")))),
        "{bare}"
    );
    for words in [
        "`apis: {svc: {openapi: svc.yaml}}`",
        "`stages: {svc: {prod: {variables: {backend: VALUE}}}}`",
    ] {
        assert!(bare.contains(words), "`{words}` not in: {bare}");
    }
    assert!(!bare.contains("stages.svc.prod.variables"), "{bare}");
    // Imported by a declarative file, the place is that file's `stages:`.
    let wrapped = warning(&["wrapped.yaml"]);
    assert!(
        wrapped.starts_with("stages.svc.prod.variables: "),
        "{wrapped}"
    );
}

// === authorizer endpoints ===

#[test]
fn authorizer_endpoints_are_reported_at_their_key_with_the_way_out() {
    use serde_json::json;
    let authorizer = "components.securitySchemes.auth.x-amazon-apigateway-authorizer";
    let backend =
        json!({"type": "http_proxy", "httpMethod": "GET", "uri": "https://b.example.com/a"});
    let token = |fields: serde_json::Value| {
        let mut a =
            json!({"type": "token", "identitySource": "method.request.header.Authorization"});
        for (k, v) in fields.as_object().unwrap() {
            a[k] = v.clone();
        }
        document(backend.clone(), Some(a))
    };
    let lambda = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations";
    let cases = [
        (
            "a Terraform placeholder",
            token(json!({"authorizerUri": "${authorizer_uri}"})),
            format!("{authorizer}.authorizerUri"),
            "set `x-gatehouse-endpoint`",
        ),
        (
            "a SAM placeholder",
            token(json!({"authorizerUri": "${AuthorizerFunction.Arn}"})),
            format!("{authorizer}.authorizerUri"),
            "set `x-gatehouse-endpoint`",
        ),
        (
            "text that is no URL",
            token(json!({"authorizerUri": "auth-service"})),
            format!("{authorizer}.authorizerUri"),
            "set `x-gatehouse-endpoint`",
        ),
        (
            "a Lambda function",
            token(json!({"authorizerUri": lambda})),
            format!("{authorizer}.authorizerUri"),
            "set `x-gatehouse-endpoint`",
        ),
        (
            "no endpoint at all",
            token(json!({})),
            authorizer.to_owned(),
            "missing required field `x-gatehouse-endpoint`",
        ),
        (
            "an endpoint that is no URL, beside a Lambda function",
            token(json!({"authorizerUri": lambda, "x-gatehouse-endpoint": "auth-service"})),
            format!("{authorizer}.x-gatehouse-endpoint"),
            "invalid endpoint uri `auth-service`",
        ),
        (
            "an endpoint of another scheme",
            token(json!({"x-gatehouse-endpoint": "ftp://auth.example.com/check"})),
            format!("{authorizer}.x-gatehouse-endpoint"),
            "invalid endpoint uri `ftp://auth.example.com/check`",
        ),
    ];
    for (case, text, location, message) in &cases {
        check_error(case, text, location, message);
    }
    // A valid endpoint beside a Lambda function is what the authorizer calls.
    let text = token(
        json!({"authorizerUri": lambda, "x-gatehouse-endpoint": "https://auth.example.com/check"}),
    );
    let imported =
        gatehouse_gateway::definition::openapi::import(&text, "t", &Limits::default()).unwrap();
    assert!(imported.api.authorizers.contains_key("auth"));
}

// === format markers ===

#[test]
fn format_markers_load_without_a_word() {
    use serde_json::json;
    let with_marker = |version: serde_json::Value| {
        let mut doc: serde_json::Value = serde_json::from_str(&document(
            json!({"type": "http_proxy", "httpMethod": "GET", "uri": "https://b.example.com/a"}),
            None,
        ))
        .unwrap();
        doc["x-amazon-apigateway-importexport-version"] = version;
        let text = serde_json::to_string(&doc).unwrap();
        gatehouse_gateway::definition::openapi::import(&text, "t", &Limits::default())
            .unwrap()
            .report
            .warnings
    };
    // What API Gateway writes in its exports says how the document is written, not what the
    // API does: nothing to warn about.
    assert_eq!(with_marker(json!("1.0")), []);
    // A version API Gateway does not know is worth a word.
    let warnings = with_marker(json!("2.0"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].location,
        "x-amazon-apigateway-importexport-version"
    );
}
