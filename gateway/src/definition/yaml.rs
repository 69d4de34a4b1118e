//! Text → `serde_json::Value` for YAML, JSON and TOML inputs, with the size limit applied
//! first. YAML mapping keys that are numbers or booleans (`200:` under `responses`) become
//! strings, as OpenAPI means them.

use crate::definition::error::LoadError;

/// The syntaxes a definition may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// YAML, which includes JSON.
    Yaml,
    Toml,
}

/// Picks the syntax from the file name's extension, else from the content: TOML if it parses
/// as a TOML table and not as a YAML mapping.
pub(crate) fn detect(name: &str, text: &str) -> Syntax {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".toml") {
        return Syntax::Toml;
    }
    if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
        return Syntax::Yaml;
    }
    let yaml_ok = matches!(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text),
        Ok(serde_yaml_ng::Value::Mapping(_))
    );
    if !yaml_ok && text.parse::<toml::Table>().is_ok() {
        Syntax::Toml
    } else {
        Syntax::Yaml
    }
}

/// Parses `text` into a JSON value, enforcing `max_bytes`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    syntax: Syntax,
    max_bytes: usize,
) -> Result<serde_json::Value, LoadError> {
    if text.len() > max_bytes {
        return Err(LoadError::TooLarge {
            size: text.len(),
            limit: max_bytes,
        });
    }
    let syntax_error = |message: String| LoadError::Syntax {
        name: name.to_owned(),
        message,
    };
    let value = match syntax {
        Syntax::Yaml => {
            let yaml: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(text).map_err(|e| syntax_error(e.to_string()))?;
            yaml_to_json(yaml, 0).map_err(syntax_error)?
        }
        Syntax::Toml => {
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| syntax_error(e.message().to_owned()))?;
            serde_json::to_value(table).map_err(|e| syntax_error(e.to_string()))?
        }
    };
    if !value.is_object() {
        return Err(syntax_error(
            "the document must be a mapping at its top".to_owned(),
        ));
    }
    Ok(value)
}

/// Nesting deeper than this is refused (the parsers have their own, similar limits; this one
/// protects the recursive conversion).
const MAX_DEPTH: usize = 128;

fn yaml_to_json(value: serde_yaml_ng::Value, depth: usize) -> Result<serde_json::Value, String> {
    use serde_yaml_ng::Value as Y;
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Y::Null => serde_json::Value::Null,
        Y::Bool(b) => serde_json::Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("number `{n}` is not finite"))?
            }
        }
        Y::String(s) => serde_json::Value::String(s),
        Y::Sequence(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|v| yaml_to_json(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => {
                        return Err("a mapping key must be a string".to_owned());
                    }
                };
                if out.contains_key(&key) {
                    return Err(format!("duplicate key `{key}`"));
                }
                out.insert(key, yaml_to_json(value, depth + 1)?);
            }
            serde_json::Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value, depth + 1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_keys_become_strings() {
        let v = parse(
            "a.yaml",
            "responses:\n  200:\n    description: ok\n",
            Syntax::Yaml,
            1 << 20,
        )
        .unwrap();
        assert!(v["responses"]["200"].is_object());
    }

    #[test]
    fn detects_syntax() {
        assert_eq!(detect("x.toml", ""), Syntax::Toml);
        assert_eq!(detect("x", "[apis.a]\nname = \"A\"\n"), Syntax::Toml);
        assert_eq!(detect("x", "apis:\n  a: {}\n"), Syntax::Yaml);
        assert_eq!(detect("x", "{\"openapi\": \"3.0.1\"}"), Syntax::Yaml);
    }

    #[test]
    fn refuses_oversized_and_non_mappings() {
        assert!(matches!(
            parse("a", "abc", Syntax::Yaml, 2),
            Err(LoadError::TooLarge { .. })
        ));
        assert!(matches!(
            parse("a", "- 1\n- 2\n", Syntax::Yaml, 100),
            Err(LoadError::Syntax { .. })
        ));
        assert!(matches!(
            parse("a", "a: [", Syntax::Yaml, 100),
            Err(LoadError::Syntax { .. })
        ));
    }
}
