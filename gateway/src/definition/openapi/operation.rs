//! One operation (`paths.{path}.{method}`) as a method: its parameters, request models,
//! security requirements and integration.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Importer, Scheme, string_list};
use crate::definition::error::Problem;
use crate::definition::mapping::RequestParam;
use crate::definition::model::{Api, Authorization, HttpMethod, Method, MethodSettings};
use crate::definition::path::ResourcePath;

/// What an operation inherits from its path and from the document.
pub(super) struct OperationContext<'v> {
    pub(super) path: &'v ResourcePath,
    pub(super) path_params: Option<&'v Value>,
    pub(super) default_security: Option<&'v Value>,
    pub(super) consumes_default: &'v [String],
}

// === impl Importer ===

impl Importer<'_> {
    pub(super) fn operation(
        &mut self,
        api: &mut Api,
        operation: &Value,
        at: &str,
        method: HttpMethod,
        ctx: &OperationContext<'_>,
    ) -> Option<Method> {
        let operation = self.resolve(operation, at)?;
        let Some(op) = operation.as_object() else {
            self.problems.push(
                at,
                Problem::invalid("operation", operation.to_string(), "expected a mapping"),
            );
            return None;
        };
        self.unsupported_operation_extensions(op, at);
        let mut settings = MethodSettings::default();
        let body_parameter = self.parameters(op, at, ctx, &mut settings);
        settings.request_models = self.request_models(api, op, at, method, ctx, body_parameter);
        if let Some(name) = self.text(op, "x-amazon-apigateway-request-validator", at) {
            settings.request_validator = Some(name.to_owned());
        }
        self.security(op, at, ctx, &mut settings);
        self.auth_type(op, at, &mut settings);
        let i_at = format!("{at}.x-amazon-apigateway-integration");
        let Some(integration) = op.get("x-amazon-apigateway-integration") else {
            self.warn(
                at,
                "x-amazon-apigateway-integration",
                "the operation has no integration; the method is not imported",
            );
            return None;
        };
        let integration = self.resolve(integration, &i_at)?;
        let integration = self.integration(integration, &i_at, &mut settings)?;
        Some(Method {
            operation_name: op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            settings,
            integration,
        })
    }

    /// Warns about the API Gateway extensions an operation cannot carry.
    fn unsupported_operation_extensions(&mut self, op: &Map<String, Value>, at: &str) {
        for key in op.keys() {
            if key.starts_with("x-amazon-apigateway-")
                && !matches!(
                    key.as_str(),
                    "x-amazon-apigateway-integration"
                        | "x-amazon-apigateway-request-validator"
                        | "x-amazon-apigateway-auth"
                )
            {
                self.warn(
                    format!("{at}.{key}"),
                    key.as_str(),
                    "not supported on an operation; ignored",
                );
            }
        }
    }

    /// Request parameters: the path level's first, the operation's override them by
    /// `(in, name)`. Returns a Swagger 2 `in: body` parameter's content types and schema.
    fn parameters(
        &mut self,
        op: &Map<String, Value>,
        at: &str,
        ctx: &OperationContext<'_>,
        settings: &mut MethodSettings,
    ) -> Option<(Vec<String>, Value)> {
        let mut params: BTreeMap<(String, String), (bool, String)> = BTreeMap::new();
        let mut body_schema: Option<(Vec<String>, Value)> = None;
        for (list, list_at) in [
            (ctx.path_params, format!("paths.{}.parameters", ctx.path)),
            (op.get("parameters"), format!("{at}.parameters")),
        ] {
            let Some(list) = list.and_then(Value::as_array) else {
                continue;
            };
            for (i, param) in list.iter().enumerate() {
                let p_at = format!("{list_at}.{i}");
                let Some(param) = self.resolve(param, &p_at) else {
                    continue;
                };
                let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
                let name = param
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let required = param
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(location == "path");
                match location {
                    "path" | "query" | "header" => {
                        params.insert((location.to_owned(), name.to_owned()), (required, p_at));
                    }
                    "body" => {
                        let consumes = op
                            .get("consumes")
                            .map(string_list)
                            .unwrap_or_else(|| ctx.consumes_default.to_vec());
                        if let Some(schema) = param.get("schema") {
                            body_schema = Some((consumes, schema.clone()));
                        }
                    }
                    other => self.warn(
                        &p_at,
                        format!("in: {other}"),
                        format!(
                            "`{other}` parameters are not validated by gatehouse; `{name}` ignored"
                        ),
                    ),
                }
            }
        }
        for ((location, name), (required, p_at)) in params {
            let word = match location.as_str() {
                "path" => "path",
                "query" => "querystring",
                _ => "header",
            };
            if let Some(param) = self.record(
                RequestParam::parse(&format!("method.request.{word}.{name}"), false),
                p_at,
            ) {
                settings.request_parameters.insert(param, required);
            }
        }
        body_schema
    }

    /// Request models by content type: OpenAPI 3's `requestBody`, Swagger 2's body parameter.
    fn request_models(
        &mut self,
        api: &mut Api,
        op: &Map<String, Value>,
        at: &str,
        method: HttpMethod,
        ctx: &OperationContext<'_>,
        body_parameter: Option<(Vec<String>, Value)>,
    ) -> BTreeMap<String, String> {
        let mut models = BTreeMap::new();
        if let Some(body) = op.get("requestBody") {
            let b_at = format!("{at}.requestBody");
            if let Some(body) = self.resolve(body, &b_at)
                && let Some(content) = body.get("content").and_then(Value::as_object)
            {
                for (content_type, media) in content {
                    if let Some(schema) = media.get("schema") {
                        let model = self.body_model(
                            api,
                            schema,
                            &format!("{b_at}.content.{content_type}.schema"),
                            method,
                            ctx.path,
                            content_type,
                        );
                        if let Some(model) = model {
                            models.insert(content_type.clone(), model);
                        }
                    }
                }
            }
        }
        if let Some((consumes, schema)) = body_parameter {
            let types = if consumes.is_empty() {
                vec!["application/json".to_owned()]
            } else {
                consumes
            };
            for content_type in types {
                if let Some(model) = self.body_model(
                    api,
                    &schema,
                    &format!("{at}.parameters.body.schema"),
                    method,
                    ctx.path,
                    &content_type,
                ) {
                    models.insert(content_type, model);
                }
            }
        }
        models
    }

    /// `security`: the operation's list, else the document's; `[]` is explicitly open.
    fn security(
        &mut self,
        op: &Map<String, Value>,
        at: &str,
        ctx: &OperationContext<'_>,
        settings: &mut MethodSettings,
    ) {
        let security = op.get("security").or(ctx.default_security);
        if let Some(requirements) = security.and_then(Value::as_array) {
            let s_at = format!("{at}.security");
            for requirement in requirements {
                let Some(requirement) = requirement.as_object() else {
                    continue;
                };
                for (name, scopes) in requirement {
                    match self.schemes.get(name).cloned() {
                        Some(Scheme::ApiKey) => settings.api_key_required = true,
                        Some(Scheme::Iam) => settings.authorization = Authorization::AwsIam,
                        Some(Scheme::Authorizer) => {
                            if let Authorization::Authorizer { name: other, .. } =
                                &settings.authorization
                                && other != name
                            {
                                self.problems.push(
                                    &s_at,
                                    Problem::invalid(
                                        "security",
                                        name.as_str(),
                                        format!(
                                            "a method has one authorizer; `{other}` is already set"
                                        ),
                                    ),
                                );
                                continue;
                            }
                            settings.authorization = Authorization::Authorizer {
                                name: name.clone(),
                                scopes: string_list(scopes),
                            };
                        }
                        Some(Scheme::Unsupported(why)) => {
                            self.problems.push(
                                &s_at,
                                Problem::unsupported(
                                    name.as_str(),
                                    format!("this method requires it and {why}"),
                                ),
                            );
                        }
                        None => self
                            .problems
                            .push(&s_at, Problem::unknown("security scheme", name.as_str())),
                    }
                }
            }
        }
    }

    /// `x-amazon-apigateway-auth` on an operation: `AWS_IAM` or `NONE`.
    fn auth_type(&mut self, op: &Map<String, Value>, at: &str, settings: &mut MethodSettings) {
        if let Some(auth) = op.get("x-amazon-apigateway-auth") {
            match auth
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("AWS_IAM") => settings.authorization = Authorization::AwsIam,
                Some("NONE") => {}
                other => self.problems.push(
                    format!("{at}.x-amazon-apigateway-auth.type"),
                    Problem::invalid(
                        "auth type",
                        format!("{other:?}"),
                        "expected AWS_IAM or NONE",
                    ),
                ),
            }
        }
    }
}
