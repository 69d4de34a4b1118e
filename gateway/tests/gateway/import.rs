//! OpenAPI / Swagger import: the PetStore sample in detail, then a table of cases, each named
//! after the extension or rule it pins and citing the AWS documentation page that defines it.

use gatehouse_gateway::definition::mapping::{
    IdentitySource, MappingSource, MappingTarget, ParamLocation, RequestParam,
};
use gatehouse_gateway::definition::model::{
    ApiKeySource, Authorization, AuthorizerKind, EndpointAuthorizerKind, HeaderValueSource,
    HttpMethod, Integration, JwtFlavor, PassthroughBehavior,
};
use gatehouse_gateway::definition::openapi::{Imported, SpecVersion, import};
use gatehouse_gateway::{Api, Limits, LoadError, Method};
use serde_json::{Value, json};

const EXTENSIONS: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html";
const INTEGRATION: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html";
const REQUEST_PARAMETERS: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration-requestParameters.html";
const INTEGRATION_RESPONSES: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration-responses.html";
const PROXY: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-set-up-simple-proxy.html";
const VALIDATION: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html";
const MODELS: &str =
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings-models.html";
const JWT_AUTHORIZER: &str =
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html";
const AUTHORIZER: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html";
const CORS: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-cors-configuration.html";
const KEY_SOURCE: &str = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-api-key-source.html";
const MOCK: &str =
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-mock-integration.html";

fn petstore() -> Imported {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/gateway/petstore.yaml"
    ))
    .unwrap();
    import(&text, "petstore", &Limits::default()).unwrap()
}

fn method<'a>(api: &'a Api, path: &str, method: HttpMethod) -> &'a Method {
    api.resources
        .get(path)
        .and_then(|r| r.methods.get(&method))
        .unwrap_or_else(|| panic!("{method} {path} missing"))
}

#[test]
fn petstore_top_level() {
    let imported = petstore();
    let api = &imported.api;
    assert_eq!(imported.version, SpecVersion::OpenApi3);
    assert_eq!(
        imported.stage_name, "prod",
        "servers[].variables.basePath.default `/prod`"
    );
    assert_eq!(api.name, "PetStore");
    assert_eq!(api.api_key_source, ApiKeySource::Header);
    assert_eq!(api.binary_media_types, ["image/png", "image/jpeg"]);
    assert_eq!(
        api.default_request_validator.as_deref(),
        Some("params-only")
    );
    let all = api.request_validators.get("all").unwrap();
    assert!(all.validate_body && all.validate_parameters);
    let params_only = api.request_validators.get("params-only").unwrap();
    assert!(!params_only.validate_body && params_only.validate_parameters);
    let mut paths: Vec<&str> = api.resources.keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/",
            "/docs/{proxy+}",
            "/pets",
            "/pets/{petId}",
            "/pets/{petId}/photo",
            "/store/inventory",
            "/store/legacy-orders"
        ]
    );
    // Unsupported constructs are reported by name, with their location.
    let names: Vec<(&str, &str)> = imported
        .report
        .warnings
        .iter()
        .map(|w| (w.name.as_str(), w.location.as_str()))
        .collect();
    assert!(
        names.contains(&(
            "x-amazon-apigateway-gateway-responses",
            "x-amazon-apigateway-gateway-responses"
        )),
        "{names:?}"
    );
    assert!(
        names.contains(&(
            "type: aws",
            "paths./pets/{petId}/photo.put.x-amazon-apigateway-integration.type"
        )),
        "{names:?}"
    );
    assert!(
        api.resources
            .get("/pets/{petId}/photo")
            .unwrap()
            .methods
            .is_empty()
    );
}

#[test]
fn petstore_models_and_validators() {
    let api = petstore().api;
    let create = method(&api, "/pets", HttpMethod::Post);
    assert_eq!(create.settings.request_validator.as_deref(), Some("all"));
    assert_eq!(
        create
            .settings
            .request_models
            .get("application/json")
            .map(String::as_str),
        Some("NewPet")
    );
    // NewPet references Category: both are models, the reference normalized.
    let new_pet = api.models.get("NewPet").unwrap();
    assert_eq!(
        new_pet.schema["properties"]["category"]["$ref"],
        "#/definitions/Category"
    );
    let doc = api.schema_document("NewPet").unwrap();
    assert!(doc["definitions"]["Category"]["properties"]["name"].is_object());
    // Pet is not used by any method body, so it is not a model.
    assert!(!api.models.contains_key("Pet"));
    let list = method(&api, "/pets", HttpMethod::Get);
    assert_eq!(list.settings.request_validator, None);
    assert_eq!(
        api.validator_for(&list.settings),
        api.request_validators.get("params-only")
    );
    assert_eq!(
        list.settings
            .request_parameters
            .get(&RequestParam::query("type")),
        Some(&false)
    );
}

#[test]
fn petstore_security() {
    let api = petstore().api;
    let list = method(&api, "/pets", HttpMethod::Get);
    assert!(
        list.settings.is_api_key_only(),
        "document-level `security: [api_key]`"
    );
    let create = method(&api, "/pets", HttpMethod::Post);
    assert!(create.settings.api_key_required);
    assert_eq!(
        create.settings.authorization,
        Authorization::Authorizer {
            name: "petstore-cognito".into(),
            scopes: vec!["pets/write".into()]
        }
    );
    let delete = method(&api, "/pets/{petId}", HttpMethod::Delete);
    assert!(
        !delete.settings.api_key_required,
        "operation `security` replaces the document's"
    );
    let landing = method(&api, "/", HttpMethod::Get);
    assert_eq!(landing.settings.authorization, Authorization::None);
    assert!(
        !landing.settings.api_key_required,
        "`security: []` opens the method"
    );
    let AuthorizerKind::Jwt(jwt) = &api.authorizers.get("petstore-cognito").unwrap().kind else {
        panic!("jwt")
    };
    assert_eq!(jwt.flavor, JwtFlavor::CognitoUserPools);
    assert_eq!(jwt.user_pools[0].pool_id, "us-east-1_PetStore1");
    assert_eq!(jwt.identity_source, IdentitySource::header("Authorization"));
}

#[test]
fn petstore_integrations() {
    let api = petstore().api;
    let Integration::HttpProxy(list) = &method(&api, "/pets", HttpMethod::Get).integration else {
        panic!("proxy")
    };
    assert_eq!(
        list.uri.as_str(),
        "http://${stageVariables.petBackend}/pets"
    );
    assert_eq!(
        list.uri.stage_variables().collect::<Vec<_>>(),
        ["petBackend"]
    );
    assert_eq!(list.timeout_ms, 5000);
    assert_eq!(list.method, HttpMethod::Get);
    assert_eq!(list.passthrough, PassthroughBehavior::WhenNoMatch);
    assert!(list.request_parameters.iter().any(|m| m.target
        == MappingTarget {
            location: ParamLocation::QueryString,
            name: "kind".into()
        }
        && m.source == MappingSource::Request(RequestParam::query("type"))));
    assert!(
        list.request_parameters
            .iter()
            .any(|m| m.source == MappingSource::Literal("prod".into()))
    );
    let list_method = method(&api, "/pets", HttpMethod::Get);
    assert_eq!(
        list_method.settings.cache_key_parameters,
        [RequestParam::query("type"), RequestParam::query("page")]
    );

    let Integration::Http(create) = &method(&api, "/pets", HttpMethod::Post).integration else {
        panic!("http")
    };
    assert_eq!(create.select_response(200).map(|r| r.status), Some(201));
    assert_eq!(create.select_response(404).map(|r| r.status), Some(400));
    assert_eq!(create.select_response(503).map(|r| r.status), Some(502));
    let default = create.select_response(200).unwrap();
    assert_eq!(
        default.headers,
        [(
            "Location".to_owned(),
            HeaderValueSource::BackendHeader("Location".into())
        )]
    );
    assert!(
        create
            .request_parameters
            .iter()
            .any(|m| m.source == MappingSource::Context("authorizer.claims.sub".into()))
    );

    let Integration::HttpProxy(get) = &method(&api, "/pets/{petId}", HttpMethod::Get).integration
    else {
        panic!()
    };
    assert_eq!(
        get.path_value_source("id"),
        MappingSource::Request(RequestParam::path("petId"))
    );
    let Integration::HttpProxy(delete) =
        &method(&api, "/pets/{petId}", HttpMethod::Delete).integration
    else {
        panic!()
    };
    assert_eq!(
        delete.path_value_source("petId"),
        MappingSource::Request(RequestParam::path("petId")),
        "implicit mapping"
    );

    let Integration::HttpProxy(docs) = &method(&api, "/docs/{proxy+}", HttpMethod::Any).integration
    else {
        panic!()
    };
    assert_eq!(docs.method, HttpMethod::Any);
    assert_eq!(docs.uri.path_params().collect::<Vec<_>>(), ["proxy"]);
}

#[test]
fn petstore_mocks() {
    let api = petstore().api;
    let Integration::Mock(landing) = &method(&api, "/", HttpMethod::Get).integration else {
        panic!("mock")
    };
    let response = landing.response_for(None).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.headers,
        [(
            "Content-Type".to_owned(),
            HeaderValueSource::Literal("text/html".into())
        )]
    );
    assert!(
        response
            .bodies
            .get("text/html")
            .unwrap()
            .contains("<h1>PetStore</h1>")
    );
    let Integration::Mock(legacy) =
        &method(&api, "/store/legacy-orders", HttpMethod::Get).integration
    else {
        panic!()
    };
    assert_eq!(legacy.integration_status(Some("application/json")), 410);
    let response = legacy.response_for(Some("application/json")).unwrap();
    assert_eq!(response.status, 410);
    assert!(
        response
            .bodies
            .get("application/json")
            .unwrap()
            .contains("moved")
    );
    let Integration::Mock(preflight) = &method(&api, "/pets", HttpMethod::Options).integration
    else {
        panic!()
    };
    assert_eq!(preflight.response_for(None).unwrap().status, 204);
    assert_eq!(preflight.response_for(None).unwrap().headers.len(), 3);
}

// === the table ===

/// What a case expects.
enum Expect {
    /// Imports, with a warning named exactly so.
    Warning(&'static str),
    /// Fails, with a problem whose text contains both strings (location, message).
    Error(&'static str, &'static str),
    /// Imports and passes the check.
    Check(fn(&Imported)),
}

struct Case {
    /// The rule, named after the extension or construct.
    name: &'static str,
    /// The AWS documentation page that defines the behaviour.
    doc: &'static str,
    document: Value,
    expect: Expect,
}

fn oas3(paths: Value) -> Value {
    json!({"openapi": "3.0.1", "info": {"title": "T", "version": "1"}, "paths": paths})
}

fn with(mut document: Value, key: &str, value: Value) -> Value {
    document
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    document
}

fn proxy(uri: &str) -> Value {
    json!({"type": "http_proxy", "httpMethod": "GET", "uri": uri})
}

fn get(integration: Value) -> Value {
    json!({"get": {"x-amazon-apigateway-integration": integration}})
}

fn only_method(imported: &Imported) -> &Method {
    imported
        .api
        .resources
        .values()
        .flat_map(|r| r.methods.values())
        .next()
        .expect("one method")
}

fn http(imported: &Imported) -> &gatehouse_gateway::definition::model::HttpIntegration {
    only_method(imported)
        .integration
        .http()
        .expect("an http integration")
}

fn check(case: &Case) {
    let text = serde_json::to_string_pretty(&case.document).unwrap();
    let result = import(&text, "t", &Limits::default());
    let context = format!("case `{}` ({})", case.name, case.doc);
    match (&case.expect, result) {
        (Expect::Warning(name), Ok(imported)) => {
            assert!(
                imported.report.warnings.iter().any(|w| w.name == *name),
                "{context}: warnings {:?}",
                imported.report.warnings
            );
        }
        (Expect::Error(location, message), Err(LoadError::Invalid(problems))) => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.location.contains(location) && p.to_string().contains(message)),
                "{context}: problems {problems}"
            );
        }
        (Expect::Check(f), Ok(imported)) => f(&imported),
        (_, other) => panic!("{context}: unexpected {other:?}"),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "x-amazon-apigateway-integration.tlsConfig.insecureSkipVerification is honoured and warned about at its method",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "https://b/a", "tlsConfig": {"insecureSkipVerification": true}}))}),
            ),
            expect: Expect::Check(|i| {
                assert!(http(i).insecure_skip_verification);
                let warning = i
                    .report
                    .warnings
                    .iter()
                    .find(|w| w.name == "insecureSkipVerification")
                    .expect("a warning");
                assert!(
                    warning.location.contains("paths./a.get"),
                    "{}",
                    warning.location
                );
            }),
        },
        Case {
            name: "x-amazon-apigateway-integration.tlsConfig verifies by default",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "https://b/a", "tlsConfig": {"insecureSkipVerification": false}}))}),
            ),
            expect: Expect::Check(|i| {
                assert!(!http(i).insecure_skip_verification);
                assert!(i.report.warnings.is_empty(), "{:?}", i.report.warnings);
            }),
        },
        Case {
            name: "x-amazon-apigateway-integration.tlsConfig.insecureSkipVerification must be a boolean",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "https://b/a", "tlsConfig": {"insecureSkipVerification": "yes"}}))}),
            ),
            expect: Expect::Error("tlsConfig.insecureSkipVerification", "true or false"),
        },
        Case {
            name: "x-amazon-apigateway-integration.uri with ${stageVariables.x}",
            doc: INTEGRATION,
            document: oas3(json!({"/a": get(proxy("https://${stageVariables.host}/a"))})),
            expect: Expect::Check(|i| {
                assert_eq!(http(i).uri.stage_variables().collect::<Vec<_>>(), ["host"])
            }),
        },
        Case {
            name: "x-amazon-apigateway-integration.timeoutInMillis defaults to 29000",
            doc: INTEGRATION,
            document: oas3(json!({"/a": get(proxy("http://b/a"))})),
            expect: Expect::Check(|i| assert_eq!(http(i).timeout_ms, 29_000)),
        },
        Case {
            name: "x-amazon-apigateway-integration.timeoutInMillis between 50 and 29000",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "timeoutInMillis": 30000}))}),
            ),
            expect: Expect::Error(
                "paths./a.get.x-amazon-apigateway-integration.timeoutInMillis",
                "50..=29000",
            ),
        },
        Case {
            name: "x-amazon-apigateway-integration.timeoutInMillis below 50",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "timeoutInMillis": 10}))}),
            ),
            expect: Expect::Error("timeoutInMillis", "out of range"),
        },
        Case {
            name: "x-amazon-apigateway-integration.requestParameters from header, querystring, literal and stage variable",
            doc: REQUEST_PARAMETERS,
            document: oas3(
                json!({"/a/{service}": get(json!({"type": "http", "uri": "http://b/{op}", "requestParameters": {
                    "integration.request.querystring.stage": "method.request.querystring.version",
                    "integration.request.header.x-userid": "method.request.header.x-user-id",
                    "integration.request.path.op": "method.request.path.service",
                    "integration.request.header.x-env": "stageVariables.env",
                    "integration.request.header.Accept": "'application/json'"
                }}))}),
            ),
            expect: Expect::Check(|i| {
                let h = http(i);
                assert_eq!(h.request_parameters.len(), 5);
                assert_eq!(
                    h.path_value_source("op"),
                    MappingSource::Request(RequestParam::path("service"))
                );
                assert!(
                    h.request_parameters
                        .iter()
                        .any(|m| m.source == MappingSource::StageVariable("env".into()))
                );
            }),
        },
        Case {
            name: "x-amazon-apigateway-integration.requestParameters body mapping is unsupported",
            doc: REQUEST_PARAMETERS,
            document: oas3(
                json!({"/a": get(json!({"type": "http", "uri": "http://b", "requestParameters": {
                    "integration.request.header.x-name": "method.request.body.name"
                }}))}),
            ),
            expect: Expect::Error(
                "requestParameters.integration.request.header.x-name",
                "body mappings",
            ),
        },
        Case {
            name: "x-amazon-apigateway-integration.requestParameters path source must exist",
            doc: REQUEST_PARAMETERS,
            document: oas3(
                json!({"/a": get(json!({"type": "http", "uri": "http://b/{x}", "requestParameters": {
                    "integration.request.path.x": "method.request.path.nope"
                }}))}),
            ),
            expect: Expect::Error(
                "paths./a.get.x-amazon-apigateway-integration.requestParameters",
                "no such parameter",
            ),
        },
        Case {
            name: "x-amazon-apigateway-integration.uri {param} needs a value",
            doc: INTEGRATION,
            document: oas3(json!({"/a": get(proxy("http://b/{id}"))})),
            expect: Expect::Error(
                "paths./a.get.x-amazon-apigateway-integration.uri",
                "`{id}` has no value",
            ),
        },
        Case {
            name: "x-amazon-apigateway-integration type aws_proxy is reported by name",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "aws_proxy", "httpMethod": "POST", "uri": "arn:aws:apigateway:us-east-1:lambda:path/x"}))}),
            ),
            expect: Expect::Warning("type: aws_proxy"),
        },
        Case {
            name: "x-amazon-apigateway-integration type aws is reported by name",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "aws", "uri": "arn:aws:apigateway:us-east-1:dynamodb:action/GetItem"}))}),
            ),
            expect: Expect::Warning("type: aws"),
        },
        Case {
            name: "x-amazon-apigateway-integration unknown type is an error",
            doc: INTEGRATION,
            document: oas3(json!({"/a": get(json!({"type": "grpc", "uri": "http://b"}))})),
            expect: Expect::Error("x-amazon-apigateway-integration.type", "grpc"),
        },
        Case {
            name: "x-amazon-apigateway-integration connectionType VPC_LINK is reported",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "connectionType": "VPC_LINK", "connectionId": "abc"}))}),
            ),
            expect: Expect::Warning("connectionType: VPC_LINK"),
        },
        Case {
            name: "x-amazon-apigateway-integration contentHandling is reported",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "contentHandling": "CONVERT_TO_TEXT"}))}),
            ),
            expect: Expect::Warning("contentHandling"),
        },
        Case {
            name: "x-amazon-apigateway-integration.cacheKeyParameters",
            doc: INTEGRATION,
            document: oas3(json!({"/a": {"get": {
                "parameters": [{"name": "q", "in": "query"}],
                "x-amazon-apigateway-integration": {"type": "http_proxy", "uri": "http://b", "cacheKeyParameters": ["method.request.querystring.q"]}
            }}})),
            expect: Expect::Check(|i| {
                assert_eq!(
                    only_method(i).settings.cache_key_parameters,
                    [RequestParam::query("q")]
                )
            }),
        },
        Case {
            name: "x-amazon-apigateway-integration.cacheKeyParameters must be declared",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "cacheKeyParameters": ["method.request.querystring.q"]}))}),
            ),
            expect: Expect::Error("paths./a.get.cacheKeyParameters", "declare it"),
        },
        Case {
            name: "x-amazon-apigateway-integration.passthroughBehavior",
            doc: INTEGRATION,
            document: oas3(
                json!({"/a": get(json!({"type": "http", "uri": "http://b", "passthroughBehavior": "never"}))}),
            ),
            expect: Expect::Check(|i| assert_eq!(http(i).passthrough, PassthroughBehavior::Never)),
        },
        Case {
            name: "x-amazon-apigateway-integration.requestTemplates on http is reported (no VTL)",
            doc: MODELS,
            document: oas3(
                json!({"/a": get(json!({"type": "http", "uri": "http://b", "requestTemplates": {"application/json": "$input.json('$')"}}))}),
            ),
            expect: Expect::Warning("requestTemplates"),
        },
        Case {
            name: "mock requestTemplates statusCode selects the integration response",
            doc: MOCK,
            document: oas3(json!({"/a": get(json!({"type": "mock",
                "requestTemplates": {"application/json": "{\"statusCode\": 404}"},
                "responses": {"default": {"statusCode": "200"}, "404": {"statusCode": "404", "responseTemplates": {"application/json": "{\"message\": \"gone\"}"}}}
            }))})),
            expect: Expect::Check(|i| {
                let Integration::Mock(mock) = &only_method(i).integration else {
                    panic!("mock")
                };
                let r = mock.response_for(None).unwrap();
                assert_eq!(r.status, 404);
                assert_eq!(
                    r.bodies.get("application/json").unwrap(),
                    "{\"message\": \"gone\"}"
                );
            }),
        },
        Case {
            name: "mock without requestTemplates answers the default response",
            doc: MOCK,
            document: oas3(
                json!({"/a": get(json!({"type": "mock", "responses": {"default": {"statusCode": 200, "responseParameters": {"method.response.header.X-Mock": "'yes'"}}}}))}),
            ),
            expect: Expect::Check(|i| {
                let Integration::Mock(mock) = &only_method(i).integration else {
                    panic!("mock")
                };
                let r = mock.response_for(Some("text/plain")).unwrap();
                assert_eq!((r.status, r.headers.len()), (200, 1));
            }),
        },
        Case {
            name: "mock VTL request template is reported",
            doc: MOCK,
            document: oas3(
                json!({"/a": get(json!({"type": "mock", "requestTemplates": {"application/json": "#if($input.params('x') == 'a'){\"statusCode\": 200}#end"}, "responses": {"default": {"statusCode": "200"}}}))}),
            ),
            expect: Expect::Warning("requestTemplates"),
        },
        Case {
            name: "mock VTL response template is served verbatim and reported",
            doc: MOCK,
            document: oas3(
                json!({"/a": get(json!({"type": "mock", "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": "{\"id\": \"$context.requestId\"}"}}}}))}),
            ),
            expect: Expect::Warning("responseTemplates"),
        },
        Case {
            name: "integration responses need a statusCode",
            doc: INTEGRATION_RESPONSES,
            document: oas3(
                json!({"/a": get(json!({"type": "mock", "responses": {"default": {}}}))}),
            ),
            expect: Expect::Error("responses.default.statusCode", "statusCode"),
        },
        Case {
            name: "integration responses selectionPattern must be a valid regular expression",
            doc: INTEGRATION_RESPONSES,
            document: oas3(
                json!({"/a": get(json!({"type": "http", "uri": "http://b", "responses": {"4(": {"statusCode": "400"}}}))}),
            ),
            expect: Expect::Error("responses.4(", "regular expression"),
        },
        Case {
            name: "http_proxy responses are ignored and reported",
            doc: INTEGRATION_RESPONSES,
            document: oas3(
                json!({"/a": get(json!({"type": "http_proxy", "uri": "http://b", "responses": {"default": {"statusCode": "200"}}}))}),
            ),
            expect: Expect::Warning("responses"),
        },
        Case {
            name: "x-amazon-apigateway-any-method on a greedy {proxy+} resource",
            doc: PROXY,
            document: oas3(json!({"/api/{proxy+}": {"x-amazon-apigateway-any-method": {
                "parameters": [{"name": "proxy", "in": "path", "required": true}],
                "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "ANY", "uri": "http://b/site/{proxy}",
                    "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"}}
            }}})),
            expect: Expect::Check(|i| {
                let resource = i.api.resources.get("/api/{proxy+}").unwrap();
                assert_eq!(resource.path.greedy_param(), Some("proxy"));
                assert!(resource.methods.contains_key(&HttpMethod::Any));
            }),
        },
        Case {
            name: "a greedy parameter must be the last path segment",
            doc: PROXY,
            document: oas3(json!({"/{proxy+}/x": get(proxy("http://b"))})),
            expect: Expect::Error("paths./{proxy+}/x", "last segment"),
        },
        Case {
            name: "sibling path parameters must share a name",
            doc: PROXY,
            document: oas3(
                json!({"/a/{id}": get(proxy("http://b")), "/a/{key}/b": get(proxy("http://b"))}),
            ),
            expect: Expect::Error("paths./a/{key}/b", "same name"),
        },
        Case {
            name: "x-amazon-apigateway-api-key-source AUTHORIZER",
            doc: KEY_SOURCE,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-api-key-source",
                json!("AUTHORIZER"),
            ),
            expect: Expect::Check(|i| assert_eq!(i.api.api_key_source, ApiKeySource::Authorizer)),
        },
        Case {
            name: "x-amazon-apigateway-api-key-source rejects other values",
            doc: KEY_SOURCE,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-api-key-source",
                json!("QUERY"),
            ),
            expect: Expect::Error("x-amazon-apigateway-api-key-source", "HEADER or AUTHORIZER"),
        },
        Case {
            name: "x-amazon-apigateway-request-validator at operation level names a validator",
            doc: VALIDATION,
            document: with(
                oas3(
                    json!({"/a": {"get": {"x-amazon-apigateway-request-validator": "body", "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "x-amazon-apigateway-request-validators",
                json!({"body": {"validateRequestBody": true}}),
            ),
            expect: Expect::Check(|i| {
                let settings = &only_method(i).settings;
                let v = i.api.validator_for(settings).unwrap();
                assert!(v.validate_body && !v.validate_parameters);
            }),
        },
        Case {
            name: "x-amazon-apigateway-request-validator must exist",
            doc: VALIDATION,
            document: oas3(
                json!({"/a": {"get": {"x-amazon-apigateway-request-validator": "nope", "x-amazon-apigateway-integration": proxy("http://b")}}}),
            ),
            expect: Expect::Error(
                "paths./a.get.request_validator",
                "unknown request validator `nope`",
            ),
        },
        Case {
            name: "required parameters come from path-level and operation parameters",
            doc: VALIDATION,
            document: oas3(json!({"/a/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true}, {"name": "x-trace", "in": "header", "required": true}],
                "get": {"parameters": [{"name": "x-trace", "in": "header", "required": false}, {"name": "q", "in": "query", "required": true}],
                        "x-amazon-apigateway-integration": proxy("http://b")}
            }})),
            expect: Expect::Check(|i| {
                let p = &only_method(i).settings.request_parameters;
                assert_eq!(p.get(&RequestParam::path("id")), Some(&true));
                assert_eq!(
                    p.get(&RequestParam::header("x-trace")),
                    Some(&false),
                    "the operation overrides the path level"
                );
                assert_eq!(p.get(&RequestParam::query("q")), Some(&true));
            }),
        },
        Case {
            name: "cookie parameters are reported",
            doc: VALIDATION,
            document: oas3(
                json!({"/a": {"get": {"parameters": [{"name": "sid", "in": "cookie"}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
            ),
            expect: Expect::Warning("in: cookie"),
        },
        Case {
            name: "request body schema by $ref becomes a model",
            doc: MODELS,
            document: with(
                oas3(
                    json!({"/a": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                    "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"schemas": {"Item": {"type": "object", "properties": {"tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}}, "Tag": {"type": "string"}}}),
            ),
            expect: Expect::Check(|i| {
                assert_eq!(
                    only_method(i)
                        .settings
                        .request_models
                        .get("application/json")
                        .unwrap(),
                    "Item"
                );
                assert_eq!(
                    i.api.models.get("Item").unwrap().schema["properties"]["tags"]["items"]["$ref"],
                    "#/definitions/Tag"
                );
                assert!(i.api.models.contains_key("Tag"));
            }),
        },
        Case {
            name: "inline request body schema becomes a model named after the method",
            doc: MODELS,
            document: oas3(
                json!({"/a/b": {"put": {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["x"]}}}},
                "x-amazon-apigateway-integration": proxy("http://b")}}}),
            ),
            expect: Expect::Check(|i| {
                let name = only_method(i)
                    .settings
                    .request_models
                    .get("application/json")
                    .unwrap();
                assert_eq!(name, "put_a_bBody");
                assert_eq!(i.api.models.get(name).unwrap().schema["required"][0], "x");
            }),
        },
        Case {
            name: "recursive schemas are models that reference themselves",
            doc: MODELS,
            document: with(
                oas3(
                    json!({"/a": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
                    "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"schemas": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}),
            ),
            expect: Expect::Check(|i| {
                assert!(i.api.schema_document("Node").unwrap()["definitions"]["Node"].is_object())
            }),
        },
        Case {
            name: "$ref cycles are detected",
            doc: EXTENSIONS,
            document: with(
                oas3(
                    json!({"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/A"}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"parameters": {"A": {"$ref": "#/components/parameters/B"}, "B": {"$ref": "#/components/parameters/A"}}}),
            ),
            expect: Expect::Error("paths./a.get.parameters.0", "cycle"),
        },
        Case {
            name: "external $refs are refused by name",
            doc: EXTENSIONS,
            document: oas3(json!({"/a": {"$ref": "other.yaml#/paths/~1a"}})),
            expect: Expect::Error("paths./a", "other.yaml#/paths/~1a"),
        },
        Case {
            name: "local $ref to a path item and to an integration",
            doc: EXTENSIONS,
            document: with(
                oas3(
                    json!({"/a": {"get": {"x-amazon-apigateway-integration": {"$ref": "#/components/x-amazon-apigateway-integrations/backend"}}}}),
                ),
                "components",
                json!({"x-amazon-apigateway-integrations": {"backend": proxy("http://b/a")}}),
            ),
            expect: Expect::Check(|i| assert_eq!(http(i).uri.as_str(), "http://b/a")),
        },
        Case {
            name: "x-amazon-apigateway-authorizer cognito_user_pools with providerARNs and scopes",
            doc: AUTHORIZER,
            document: with(
                oas3(
                    json!({"/a": {"get": {"security": [{"pool": ["read"]}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"securitySchemes": {"pool": {"type": "apiKey", "name": "Authorization", "in": "header",
                    "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": ["arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_abc"]}}}}),
            ),
            expect: Expect::Check(|i| {
                assert_eq!(
                    only_method(i).settings.authorization,
                    Authorization::Authorizer {
                        name: "pool".into(),
                        scopes: vec!["read".into()]
                    }
                );
                let AuthorizerKind::Jwt(jwt) = &i.api.authorizers.get("pool").unwrap().kind else {
                    panic!()
                };
                assert_eq!(
                    (
                        jwt.user_pools[0].region.as_str(),
                        jwt.user_pools[0].pool_id.as_str()
                    ),
                    ("eu-west-1", "eu-west-1_abc")
                );
            }),
        },
        Case {
            name: "x-amazon-apigateway-authorizer cognito_user_pools needs a valid ARN",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"pool": {"type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": ["arn:aws:iam::1:role/x"]}}}}),
            ),
            expect: Expect::Error(
                "components.securitySchemes.pool.x-amazon-apigateway-authorizer.providerARNs",
                "user pool ARN",
            ),
        },
        Case {
            name: "x-amazon-apigateway-authorizer jwt with identitySource and jwtConfiguration",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"oidc": {"type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {"type": "jwt", "identitySource": "$request.header.Authorization",
                    "jwtConfiguration": {"issuer": "https://issuer.example.com", "audience": ["app1", "app2"]}}}}}),
            ),
            expect: Expect::Check(|i| {
                let AuthorizerKind::Jwt(jwt) = &i.api.authorizers.get("oidc").unwrap().kind else {
                    panic!()
                };
                assert_eq!(jwt.flavor, JwtFlavor::Jwt);
                assert_eq!(jwt.issuers, ["https://issuer.example.com"]);
                assert_eq!(jwt.audiences, ["app1", "app2"]);
                assert_eq!(jwt.identity_source, IdentitySource::header("Authorization"));
            }),
        },
        Case {
            name: "x-amazon-apigateway-authorizer jwt needs an audience",
            doc: JWT_AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"oidc": {"type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {"type": "jwt", "identitySource": "$request.header.Authorization",
                    "jwtConfiguration": {"issuer": "https://accounts.google.com"}}}}}),
            ),
            expect: Expect::Error(
                "components.securitySchemes.oidc.x-amazon-apigateway-authorizer.jwtConfiguration.audience",
                "needs `audiences`",
            ),
        },
        Case {
            name: "x-amazon-apigateway-authorizer jwt issuer over plain http only on loopback",
            doc: JWT_AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"oidc": {"type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {"type": "jwt",
                    "jwtConfiguration": {"issuer": "http://idp.example.com", "audience": ["app1"]}}}}}),
            ),
            expect: Expect::Error(
                "components.securitySchemes.oidc.x-amazon-apigateway-authorizer.jwtConfiguration.issuer",
                "only on loopback",
            ),
        },
        Case {
            name: "x-amazon-apigateway-authorizer jwt issuer on loopback over plain http",
            doc: JWT_AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"oidc": {"type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {"type": "jwt",
                    "jwtConfiguration": {"issuer": "http://127.0.0.1:8080/realms/dev", "audience": ["app1"]}}}}}),
            ),
            expect: Expect::Check(|i| {
                let AuthorizerKind::Jwt(jwt) = &i.api.authorizers.get("oidc").unwrap().kind else {
                    panic!()
                };
                assert_eq!(jwt.issuers, ["http://127.0.0.1:8080/realms/dev"]);
            }),
        },
        Case {
            name: "x-amazon-apigateway-authorizer token with an HTTP authorizerUri, TTL and identityValidationExpression",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"tok": {"type": "apiKey", "name": "X-Token", "in": "header",
                "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": "http://127.0.0.1:9000/authorize",
                    "authorizerResultTtlInSeconds": 60, "identityValidationExpression": "^Bearer [-0-9a-zA-Z._]+$"}}}}),
            ),
            expect: Expect::Check(|i| {
                let AuthorizerKind::Endpoint(e) = &i.api.authorizers.get("tok").unwrap().kind
                else {
                    panic!()
                };
                assert_eq!(e.kind, EndpointAuthorizerKind::Token);
                assert_eq!(e.result_ttl_seconds, 60);
                assert_eq!(
                    e.identity_sources,
                    [IdentitySource::header("X-Token")],
                    "the scheme's header by default"
                );
                let expression = e.identity_validation_expression.as_ref().unwrap();
                assert!(expression.is_match("Bearer abc.def") && !expression.is_match("Basic x"));
            }),
        },
        Case {
            name: "x-amazon-apigateway-authorizer request with a Lambda ARN needs x-gatehouse-endpoint",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"req": {"type": "apiKey", "name": "Unused", "in": "header",
                "x-amazon-apigateway-authorizer": {"type": "request", "identitySource": "method.request.header.Auth, method.request.querystring.t",
                    "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:auth/invocations"}}}}),
            ),
            expect: Expect::Error(
                "securitySchemes.req.x-amazon-apigateway-authorizer.authorizerUri",
                "x-gatehouse-endpoint",
            ),
        },
        Case {
            name: "x-amazon-apigateway-authorizer request with x-gatehouse-endpoint and default TTL 300",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"req": {"type": "apiKey", "name": "Unused", "in": "header",
                "x-amazon-apigateway-authorizer": {"type": "request", "identitySource": "method.request.header.Auth, method.request.querystring.t",
                    "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/x", "x-gatehouse-endpoint": "http://${stageVariables.auth}/check"}}}}),
            ),
            expect: Expect::Check(|i| {
                let AuthorizerKind::Endpoint(e) = &i.api.authorizers.get("req").unwrap().kind
                else {
                    panic!()
                };
                assert_eq!(e.kind, EndpointAuthorizerKind::Request);
                assert_eq!(e.result_ttl_seconds, 300);
                assert_eq!(
                    e.identity_sources,
                    [
                        IdentitySource::header("Auth"),
                        IdentitySource::QueryString("t".into())
                    ]
                );
            }),
        },
        Case {
            name: "x-amazon-apigateway-authorizer authorizerResultTtlInSeconds at most 3600",
            doc: AUTHORIZER,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"tok": {"type": "apiKey", "name": "A", "in": "header",
                "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": "http://a/b", "authorizerResultTtlInSeconds": 7200}}}}),
            ),
            expect: Expect::Error("authorizerResultTtlInSeconds", "0..=3600"),
        },
        Case {
            name: "x-amazon-apigateway-authtype awsSigv4 means AWS_IAM",
            doc: EXTENSIONS,
            document: with(
                oas3(
                    json!({"/a": {"get": {"security": [{"sigv4": []}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"securitySchemes": {"sigv4": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}}}),
            ),
            expect: Expect::Check(|i| {
                assert_eq!(only_method(i).settings.authorization, Authorization::AwsIam);
                // Served now: no warning.
                assert!(
                    !i.report.warnings.iter().any(|w| w.name == "AWS_IAM"),
                    "{:?}",
                    i.report.warnings
                );
            }),
        },
        Case {
            name: "security scheme api_key must be the x-api-key header",
            doc: EXTENSIONS,
            document: with(
                oas3(json!({})),
                "components",
                json!({"securitySchemes": {"key": {"type": "apiKey", "name": "key", "in": "query"}}}),
            ),
            expect: Expect::Warning("key"),
        },
        Case {
            name: "a method requiring an unenforceable security scheme is refused",
            doc: EXTENSIONS,
            document: with(
                oas3(
                    json!({"/a": {"get": {"security": [{"basic": []}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
                ),
                "components",
                json!({"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}}),
            ),
            expect: Expect::Error("paths./a.get.security", "`basic` is not supported"),
        },
        Case {
            name: "security naming an undefined scheme is refused",
            doc: EXTENSIONS,
            document: oas3(
                json!({"/a": {"get": {"security": [{"nope": []}], "x-amazon-apigateway-integration": proxy("http://b")}}}),
            ),
            expect: Expect::Error("paths./a.get.security", "unknown security scheme `nope`"),
        },
        Case {
            name: "x-amazon-apigateway-cors",
            doc: CORS,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-cors",
                json!({"allowOrigins": ["https://app.example.com"], "allowCredentials": true,
                "exposeHeaders": ["x-apigateway-header"], "maxAge": 3600, "allowMethods": ["GET", "POST"], "allowHeaders": ["x-apigateway-header"]}),
            ),
            expect: Expect::Check(|i| {
                let cors = i.api.cors.as_ref().unwrap();
                assert_eq!(cors.allow_origins, ["https://app.example.com"]);
                assert_eq!(
                    (cors.max_age_seconds, cors.allow_credentials),
                    (Some(3600), true)
                );
            }),
        },
        Case {
            name: "x-amazon-apigateway-cors credentials with every origin is refused",
            doc: CORS,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-cors",
                json!({"allowOrigins": ["*"], "allowCredentials": true}),
            ),
            expect: Expect::Error("cors", "credentials cannot be allowed"),
        },
        Case {
            name: "x-amazon-apigateway-gateway-responses is reported by name",
            doc: EXTENSIONS,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-gateway-responses",
                json!({"DEFAULT_4XX": {}}),
            ),
            expect: Expect::Warning("x-amazon-apigateway-gateway-responses"),
        },
        Case {
            name: "x-amazon-apigateway-binary-media-types",
            doc: EXTENSIONS,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-binary-media-types",
                json!(["application/octet-stream"]),
            ),
            expect: Expect::Check(|i| {
                assert_eq!(i.api.binary_media_types, ["application/octet-stream"])
            }),
        },
        Case {
            name: "x-amazon-apigateway-policy is refused (never silently unenforced)",
            doc: EXTENSIONS,
            document: with(
                oas3(json!({})),
                "x-amazon-apigateway-policy",
                json!({"Version": "2012-10-17", "Statement": []}),
            ),
            expect: Expect::Error("x-amazon-apigateway-policy", "not enforced"),
        },
        Case {
            name: "operation-level unknown extension is reported",
            doc: EXTENSIONS,
            document: oas3(
                json!({"/a": {"get": {"x-amazon-apigateway-documentation": {}, "x-amazon-apigateway-integration": proxy("http://b")}}}),
            ),
            expect: Expect::Warning("x-amazon-apigateway-documentation"),
        },
        Case {
            name: "an operation without x-amazon-apigateway-integration is reported",
            doc: INTEGRATION,
            document: oas3(json!({"/a": {"get": {"responses": {"200": {"description": "ok"}}}}})),
            expect: Expect::Warning("x-amazon-apigateway-integration"),
        },
        Case {
            name: "stage from servers[].variables.basePath.default",
            doc: EXTENSIONS,
            document: with(
                oas3(json!({})),
                "servers",
                json!([{"url": "https://x/{basePath}", "variables": {"basePath": {"default": "/beta"}}}]),
            ),
            expect: Expect::Check(|i| assert_eq!(i.stage_name, "beta")),
        },
        Case {
            name: "stage defaults to prod",
            doc: EXTENSIONS,
            document: oas3(json!({})),
            expect: Expect::Check(|i| assert_eq!(i.stage_name, "prod")),
        },
        Case {
            name: "Swagger 2 basePath is the stage, body parameters are models",
            doc: MODELS,
            document: json!({"swagger": "2.0", "info": {"title": "S", "version": "1"}, "basePath": "/v1/",
                "paths": {"/a": {"post": {"consumes": ["application/json"],
                    "parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Thing"}}],
                    "x-amazon-apigateway-integration": {"type": "mock", "responses": {"default": {"statusCode": "200"}}}}}},
                "definitions": {"Thing": {"type": "object"}}}),
            expect: Expect::Check(|i| {
                assert_eq!(
                    (i.version, i.stage_name.as_str()),
                    (SpecVersion::Swagger2, "v1")
                );
                assert_eq!(
                    only_method(i)
                        .settings
                        .request_models
                        .get("application/json")
                        .unwrap(),
                    "Thing"
                );
                assert!(i.api.models.contains_key("Thing"));
            }),
        },
        Case {
            name: "Swagger 2 securityDefinitions api_key",
            doc: EXTENSIONS,
            document: json!({"swagger": "2.0", "info": {"title": "S", "version": "1"},
                "securityDefinitions": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
                "paths": {"/a": {"get": {"security": [{"api_key": []}], "x-amazon-apigateway-integration": proxy("http://b")}}}}),
            expect: Expect::Check(|i| assert!(only_method(i).settings.is_api_key_only())),
        },
        Case {
            name: "a basePath that is not a stage name is reported",
            doc: EXTENSIONS,
            document: json!({"swagger": "2.0", "info": {"title": "S", "version": "1"}, "basePath": "/v1/orders", "paths": {}}),
            expect: Expect::Warning("basePath"),
        },
        Case {
            name: "unknown specification version is refused",
            doc: EXTENSIONS,
            document: json!({"openapi": "4.0.0", "paths": {}}),
            expect: Expect::Error("openapi", "expected `openapi: 3.x`"),
        },
        Case {
            name: "trace operations are reported",
            doc: EXTENSIONS,
            document: oas3(json!({"/a": {"trace": {}}})),
            expect: Expect::Warning("trace"),
        },
        Case {
            name: "invalid resource paths name their location",
            doc: PROXY,
            document: oas3(json!({"/a b": get(proxy("http://b"))})),
            expect: Expect::Error("paths./a b", "not allowed"),
        },
    ]
}

#[test]
fn import_cases() {
    let cases = cases();
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case name {}", case.name);
        check(case);
    }
    assert!(cases.len() >= 50, "{} cases", cases.len());
}

#[test]
fn yaml_and_json_import_alike() {
    let yaml = "openapi: 3.0.1\ninfo: {title: Y, version: '1'}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        type: mock\n        responses:\n          default:\n            statusCode: 200\n";
    let from_yaml = import(yaml, "y", &Limits::default()).unwrap();
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let json = serde_json::to_string(&value).unwrap();
    let from_json = import(&json, "y", &Limits::default()).unwrap();
    assert_eq!(from_yaml, from_json);
}

#[test]
fn oversized_documents_are_refused() {
    let limits = Limits {
        max_definition_bytes: 1024,
        ..Limits::default()
    };
    let big = format!(
        "openapi: 3.0.1\npaths: {{}}\nx-padding: '{}'\n",
        "x".repeat(2048)
    );
    assert!(matches!(
        import(&big, "t", &limits),
        Err(LoadError::TooLarge { limit: 1024, .. })
    ));
}

#[test]
fn too_many_paths_are_refused() {
    let limits = Limits {
        max_resources_per_api: 3,
        ..Limits::default()
    };
    let paths: serde_json::Map<String, Value> = (0..5)
        .map(|i| (format!("/p{i}"), get(proxy("http://b"))))
        .collect();
    let err = import(&oas3(Value::Object(paths)).to_string(), "t", &limits).unwrap_err();
    assert!(
        err.to_string()
            .contains("too many paths: 5, the limit is 3"),
        "{err}"
    );
}
