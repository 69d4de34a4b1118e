//! One entry point for every definition file: tells the declarative format from OpenAPI 3 and
//! Swagger 2 by content (`openapi: 3.x` / `swagger: "2.0"` at the top) and YAML/JSON from TOML
//! by extension or content.

use std::time::SystemTime;

use crate::definition::compiled::Definition;
use crate::definition::declarative::Resolver;
use crate::definition::error::{LoadError, Warning};
use crate::definition::limits::Limits;
use crate::definition::stage::{Stage, StageSource};
use crate::definition::yaml::{Syntax, detect, parse};

/// A loaded definition and what the loader wants the operator to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub definition: Definition,
    pub warnings: Vec<Warning>,
}

/// Loads a definition file. `name` is its path as given (used for the format and, for an
/// OpenAPI document, the API id: the file stem); `now` stamps the deployments; `resolve` reads
/// files the declarative format refers to.
pub fn load_definition(
    name: &str,
    text: &str,
    now: SystemTime,
    limits: &Limits,
    resolve: Resolver<'_>,
) -> Result<Loaded, LoadError> {
    let syntax = detect(name, text);
    let value = parse(name, text, syntax, limits.max_definition_bytes)?;
    let is_openapi = syntax == Syntax::Yaml
        && (value.get("openapi").is_some() || value.get("swagger").is_some());
    if !is_openapi {
        let (definition, warnings) =
            crate::definition::declarative::from_value(value, now, limits, resolve)?;
        return Ok(Loaded {
            definition,
            warnings,
        });
    }
    let api_id = api_id_from_name(name);
    let imported = crate::definition::openapi::import_value(value, &api_id, limits)?;
    let stamp = gatehouse_policy::calendar::unix_seconds(now);
    let deployment_id = format!("{api_id}-{stamp}");
    let deployment = crate::definition::openapi::deploy(imported.api, &deployment_id, now, limits)?;
    let mut stage = Stage::new(&api_id, &imported.stage_name, &deployment_id);
    stage.source = StageSource::OpenApiFile(name.to_owned());
    Ok(Loaded {
        definition: Definition {
            deployments: vec![deployment],
            stages: vec![stage],
            ..Definition::default()
        },
        warnings: imported.report.warnings,
    })
}

/// The file stem: `examples/gateway/petstore.yaml` → `petstore`, `openapi.spec.json` →
/// `openapi-spec`; characters an API id cannot hold become `-`.
pub fn api_id_from_name(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    };
    let id: String = stem
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() { "api".to_owned() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_are_file_stems() {
        for (case, name, expected) in [
            ("a path", "examples/gateway/petstore.yaml", "petstore"),
            (
                "dots before the extension",
                "openapi.spec.json",
                "openapi-spec",
            ),
            (
                "a dotted stem",
                "openapi.cognito-auth.json",
                "openapi-cognito-auth",
            ),
            ("a space and a version", "my api.v2.json", "my-api-v2"),
            ("a Windows path", "C:\\apis\\shop.yaml", "shop"),
            ("a dotted folder", "v1.0/orders.yaml", "orders"),
            ("no extension", "orders", "orders"),
            ("a hidden file", ".orders", "-orders"),
            ("nothing", "", "api"),
        ] {
            assert_eq!(api_id_from_name(name), expected, "{case}");
        }
    }
}
