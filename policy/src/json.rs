//! A JSON tree that keeps every object key, duplicates included, so that validation can reject
//! duplicate keys the way AWS does (`serde_json::Value` silently keeps the last one).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::PolicyError;
use crate::{MAX_DEPTH, MAX_POLICY_BYTES};

/// One JSON value; objects are entry lists in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// "a string", "an object", … for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }

    /// The last entry named `key` of an object (duplicates are reported separately).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Object(entries) => entries
                .iter()
                .rev()
                .find(|(name, _)| name == key)
                .map(|(_, node)| node),
            _ => None,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Self::Array(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Self::Object(entries) => 1 + entries.iter().map(|(_, n)| n.depth()).max().unwrap_or(0),
            _ => 1,
        }
    }
}

/// Parses policy text, enforcing the size and depth limits.
pub(crate) fn parse_text(text: &str) -> Result<Node, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            limit: MAX_POLICY_BYTES,
        });
    }
    // serde_json stops at 128 levels on its own, so the recursion below is bounded too.
    let node = serde_json::from_str::<Node>(text).map_err(|e| {
        let full = e.to_string();
        let message = match full.rsplit_once(" at line ") {
            Some((head, _)) => head.to_owned(),
            None => full,
        };
        PolicyError::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    })?;
    if node.depth() > MAX_DEPTH {
        return Err(PolicyError::TooDeep { limit: MAX_DEPTH });
    }
    Ok(node)
}

/// Converts an already parsed value, enforcing the same limits as [`parse_text`]; the size is
/// estimated as the bytes of all strings plus one per value.
pub(crate) fn from_value(value: &serde_json::Value) -> Result<Node, PolicyError> {
    let mut budget = MAX_POLICY_BYTES;
    convert(value, 1, &mut budget)
}

fn convert(
    value: &serde_json::Value,
    depth: usize,
    budget: &mut usize,
) -> Result<Node, PolicyError> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Err(PolicyError::TooDeep { limit: MAX_DEPTH });
    }
    budget_sub(budget, 1)?;
    Ok(match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Number(n.clone()),
        Value::String(s) => {
            budget_sub(budget, s.len())?;
            Node::String(s.clone())
        }
        Value::Array(items) => Node::Array(
            items
                .iter()
                .map(|v| convert(v, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                budget_sub(budget, k.len())?;
                entries.push((k.clone(), convert(v, depth + 1, budget)?));
            }
            Node::Object(entries)
        }
    })
}

fn budget_sub(budget: &mut usize, n: usize) -> Result<(), PolicyError> {
    *budget = budget.checked_sub(n).ok_or(PolicyError::TooLarge {
        limit: MAX_POLICY_BYTES,
    })?;
    Ok(())
}

// === impl Deserialize for Node ===

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            entries.push((k, v));
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_kept() {
        let node = parse_text(r#"{"a":1,"a":2}"#).unwrap();
        let Node::Object(entries) = &node else {
            panic!("not an object")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(node.get("a"), Some(&Node::Number(2.into())));
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let err = parse_text("{\n  \"a\": }").unwrap_err();
        let PolicyError::Json {
            line,
            column,
            message,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((line, column), (2, 8));
        assert!(!message.contains("line"), "{message}");
    }

    #[test]
    fn size_and_depth_limits() {
        let big = format!("\"{}\"", "a".repeat(MAX_POLICY_BYTES));
        assert_eq!(
            parse_text(&big),
            Err(PolicyError::TooLarge {
                limit: MAX_POLICY_BYTES
            })
        );
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse_text(&deep),
            Err(PolicyError::TooDeep { limit: MAX_DEPTH })
        );
        let very_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_text(&very_deep),
            Err(PolicyError::Json { .. })
        ));
        let mut value = serde_json::Value::Null;
        for _ in 0..(MAX_DEPTH + 1) {
            value = serde_json::Value::Array(vec![value]);
        }
        assert_eq!(
            from_value(&value),
            Err(PolicyError::TooDeep { limit: MAX_DEPTH })
        );
    }
}
