//! Request bodies as models: a schema referenced by name becomes that model, an inline one a
//! model named after the method and path; referenced schemas are converted (local `$ref`s
//! rewritten to model references) and created once.

use serde_json::{Map, Value};

use super::{Importer, SpecVersion, refs};
use crate::definition::error::Problem;
use crate::definition::model::{Api, HttpMethod, MODEL_REF_PREFIX, Model};
use crate::definition::path::ResourcePath;
use crate::definition::validate::is_identifier;

// === impl Importer ===

impl Importer<'_> {
    /// Makes a model for a request body schema: a reference to a named schema becomes that
    /// model; an inline schema becomes a model named after the method and path.
    pub(super) fn body_model(
        &mut self,
        api: &mut Api,
        schema: &Value,
        at: &str,
        method: HttpMethod,
        path: &ResourcePath,
        content_type: &str,
    ) -> Option<String> {
        if let Some(reference) = refs::ref_of(schema) {
            let name = self.schema_name(reference, at)?;
            if !self.queued_models.contains(&name) {
                self.queued_models.push(name.clone());
            }
            return Some(name);
        }
        let mut name: String = format!(
            "{}{}Body",
            method.as_str().to_ascii_lowercase(),
            path.as_str()
        )
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
        if api.models.contains_key(&name) {
            name.push_str("_2");
        }
        let converted = self.convert_schema(schema, at, 0)?;
        api.models.insert(
            name.clone(),
            Model {
                name: name.clone(),
                content_type: content_type.to_owned(),
                schema: converted,
            },
        );
        Some(name)
    }

    /// `#/components/schemas/Pet` or `#/definitions/Pet` → `Pet`.
    fn schema_name(&mut self, reference: &str, at: &str) -> Option<String> {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .or_else(|| reference.strip_prefix("#/definitions/"));
        match name {
            Some(name) if is_identifier(name, 128) => {
                // Check it exists (and is not a pure `$ref` loop).
                let target = self.root.pointer(reference.trim_start_matches('#'));
                match target {
                    None => {
                        self.problems.push(
                            at,
                            Problem::UnresolvedRef {
                                reference: reference.to_owned(),
                            },
                        );
                        None
                    }
                    Some(target) => {
                        if let Err(p) = refs::resolve(self.root, target) {
                            self.problems.push(at, p);
                            return None;
                        }
                        Some(name.to_owned())
                    }
                }
            }
            _ => {
                self.problems.push(at, Problem::unsupported(reference, "a schema reference must name `#/components/schemas/NAME` or `#/definitions/NAME` with NAME of letters, digits, `-` and `_`"));
                None
            }
        }
    }

    /// Copies a schema, turning references to named schemas into model references.
    fn convert_schema(&mut self, schema: &Value, at: &str, depth: usize) -> Option<Value> {
        if depth > 64 {
            self.problems.push(
                at,
                Problem::TooMany {
                    what: "schema nesting levels",
                    count: depth,
                    limit: 64,
                },
            );
            return None;
        }
        Some(match schema {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, value) in map {
                    if key == "$ref" {
                        let reference = value.as_str().unwrap_or_default();
                        let name = self.schema_name(reference, at)?;
                        if !self.queued_models.contains(&name) {
                            self.queued_models.push(name.clone());
                        }
                        out.insert(
                            key.clone(),
                            Value::String(format!("{MODEL_REF_PREFIX}{name}")),
                        );
                    } else {
                        out.insert(key.clone(), self.convert_schema(value, at, depth + 1)?);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.convert_schema(v, at, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            other => other.clone(),
        })
    }

    pub(super) fn create_queued_models(&mut self, api: &mut Api) {
        let base = match self.version {
            SpecVersion::OpenApi3 => "/components/schemas/",
            SpecVersion::Swagger2 => "/definitions/",
        };
        let mut i = 0;
        while let Some(name) = self.queued_models.get(i).cloned() {
            i += 1;
            if api.models.contains_key(&name) {
                continue;
            }
            let at = format!("{}{name}", base.trim_start_matches('/').replace('/', "."));
            let Some(schema) = self.root.pointer(&format!("{base}{name}")) else {
                // A Swagger 2 document may reference `#/components/…` by mistake (or vice versa).
                self.problems.push(
                    at,
                    Problem::UnresolvedRef {
                        reference: format!("#{base}{name}"),
                    },
                );
                continue;
            };
            if let Some(converted) = self.convert_schema(schema, &at, 0) {
                api.models.insert(
                    name.clone(),
                    Model {
                        name,
                        content_type: "application/json".to_owned(),
                        schema: converted,
                    },
                );
            }
        }
    }
}
