//! Local `$ref` resolution (`#/components/...`, `#/definitions/...`) with cycle detection.
//! External references (other files, URLs) are refused by name.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::definition::error::Problem;

/// Longest `$ref` → `$ref` chain followed before giving up.
const MAX_CHAIN: usize = 64;

/// Follows `value`'s `$ref` chain inside `root` to a value that is not a reference.
pub(crate) fn resolve<'v>(root: &'v Value, value: &'v Value) -> Result<&'v Value, Problem> {
    let mut current = value;
    let mut seen = BTreeSet::new();
    while let Some(reference) = ref_of(current) {
        if !seen.insert(reference) || seen.len() > MAX_CHAIN {
            return Err(Problem::RefCycle {
                reference: reference.to_owned(),
            });
        }
        current = lookup(root, reference)?;
    }
    Ok(current)
}

/// The `$ref` string of an object that is a reference.
pub(crate) fn ref_of(value: &Value) -> Option<&str> {
    value.as_object()?.get("$ref")?.as_str()
}

/// The value a local reference points at.
pub(crate) fn lookup<'v>(root: &'v Value, reference: &str) -> Result<&'v Value, Problem> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(Problem::unsupported(
            reference,
            "only local references (`#/…`) are supported",
        ));
    };
    // JSON pointers in URI fragments may be percent-encoded (`{` as `%7B`).
    let pointer = crate::definition::path::percent_decode(pointer);
    if pointer.is_empty() {
        return Err(Problem::RefCycle {
            reference: reference.to_owned(),
        });
    }
    root.pointer(&pointer)
        .ok_or_else(|| Problem::UnresolvedRef {
            reference: reference.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_chains_and_detects_cycles() {
        let root = json!({
            "components": {"schemas": {
                "A": {"$ref": "#/components/schemas/B"},
                "B": {"type": "string"},
                "Loop1": {"$ref": "#/components/schemas/Loop2"},
                "Loop2": {"$ref": "#/components/schemas/Loop1"},
                "Self": {"$ref": "#/components/schemas/Self"},
                "a/b": {"type": "integer"}
            }}
        });
        let r = |s: &str| resolve(&root, &json!({"$ref": s})).cloned();
        assert_eq!(
            r("#/components/schemas/A").unwrap(),
            json!({"type": "string"})
        );
        assert!(matches!(
            r("#/components/schemas/Loop1"),
            Err(Problem::RefCycle { .. })
        ));
        assert!(matches!(
            r("#/components/schemas/Self"),
            Err(Problem::RefCycle { .. })
        ));
        assert!(matches!(
            r("#/components/schemas/Nope"),
            Err(Problem::UnresolvedRef { .. })
        ));
        assert!(matches!(
            r("other.yaml#/x"),
            Err(Problem::Unsupported { .. })
        ));
        assert!(matches!(r("#"), Err(Problem::RefCycle { .. })));
        assert_eq!(
            r("#/components/schemas/a~1b").unwrap(),
            json!({"type": "integer"})
        );
    }
}
