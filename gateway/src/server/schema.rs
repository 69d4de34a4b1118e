//! A JSON Schema (draft 4) validator for the subset API Gateway models use: `type`,
//! `properties`, `required`, `additionalProperties`, `items` (one schema or a tuple),
//! `minItems`/`maxItems`/`uniqueItems`, `enum`, `minimum`/`maximum` (with draft-4 boolean
//! `exclusiveMinimum`/`exclusiveMaximum`), `multipleOf`, `minLength`/`maxLength` (in
//! characters), `pattern` (the `regex` crate: linear time, no backtracking),
//! `minProperties`/`maxProperties`, `allOf`/`anyOf`/`oneOf`/`not`, and `$ref` to `#` or
//! `#/definitions/NAME` within the model document. Other keywords (`format`, `title`, …) are
//! annotations and ignored, as draft 4 allows.
//!
//! Compiled once per snapshot into a flat node arena (references are indices, so recursive
//! models are fine); validation walks the parsed request body without allocating unless it
//! meets `uniqueItems`.

use std::collections::HashMap;

use serde_json::Value;

/// A compiled schema.
#[derive(Debug)]
pub struct Schema {
    nodes: Vec<Node>,
}

/// Why a model could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("`{keyword}` at `{at}`: {reason}")]
    Keyword {
        keyword: &'static str,
        at: String,
        reason: String,
    },
    #[error("unresolvable `$ref` `{0}` (only `#` and `#/definitions/NAME` are supported)")]
    Ref(String),
    #[error("the schema is nested deeper than {0} levels")]
    TooDeep(usize),
}

#[derive(Debug, Default)]
struct Node {
    /// A `$ref`: everything else in the node is ignored, as draft 4 says.
    reference: Option<usize>,
    /// Bit set of [`TYPE_NAMES`]; 0 is any type.
    types: u8,
    properties: Vec<(String, usize)>,
    required: Vec<String>,
    additional: Additional,
    items: Items,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    enumeration: Option<Vec<Value>>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    multiple_of: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<regex::Regex>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    all_of: Vec<usize>,
    any_of: Vec<usize>,
    one_of: Vec<usize>,
    not: Option<usize>,
}

#[derive(Debug, Default)]
enum Additional {
    #[default]
    Any,
    Forbidden,
    Schema(usize),
}

#[derive(Debug, Default)]
enum Items {
    #[default]
    Any,
    Each(usize),
    Tuple(Vec<usize>, Additional),
}

const TYPE_NAMES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];
const MAX_DEPTH: usize = 64;

// === impl Schema ===

impl Schema {
    /// Compiles a self-contained model document (see `Api::schema_document`).
    pub fn compile(document: &Value) -> Result<Self, SchemaError> {
        let mut compiler = Compiler {
            document,
            nodes: Vec::new(),
            definitions: HashMap::new(),
        };
        compiler.node(document, "#", 0)?;
        Ok(Self {
            nodes: compiler.nodes,
        })
    }

    /// Whether `value` is valid.
    pub fn is_valid(&self, value: &Value) -> bool {
        self.check(0, value, 0)
    }

    fn check(&self, index: usize, value: &Value, depth: usize) -> bool {
        let Some(node) = self.nodes.get(index) else {
            return true;
        };
        if depth > 4 * MAX_DEPTH {
            // A document deeper than any sane model; serde_json bounds parsing depth anyway.
            return false;
        }
        if let Some(target) = node.reference {
            return self.check(target, value, depth + 1);
        }
        if node.types != 0 && node.types & type_bits(value) == 0 {
            return false;
        }
        if let Some(options) = &node.enumeration
            && !options.iter().any(|o| json_eq(o, value))
        {
            return false;
        }
        let sub = |i: usize, v: &Value| self.check(i, v, depth + 1);
        if !node.all_of.iter().all(|&i| sub(i, value)) {
            return false;
        }
        if !node.any_of.is_empty() && !node.any_of.iter().any(|&i| sub(i, value)) {
            return false;
        }
        if !node.one_of.is_empty() && node.one_of.iter().filter(|&&i| sub(i, value)).count() != 1 {
            return false;
        }
        if node.not.is_some_and(|i| sub(i, value)) {
            return false;
        }
        match value {
            Value::Number(n) => {
                let Some(x) = n.as_f64() else { return true };
                if let Some((min, exclusive)) = node.minimum
                    && (x < min || (exclusive && x <= min))
                {
                    return false;
                }
                if let Some((max, exclusive)) = node.maximum
                    && (x > max || (exclusive && x >= max))
                {
                    return false;
                }
                if let Some(m) = node.multiple_of {
                    let q = x / m;
                    if (q - q.round()).abs() > 1e-9 {
                        return false;
                    }
                }
                true
            }
            Value::String(s) => {
                if node.min_length.is_some() || node.max_length.is_some() {
                    let len = s.chars().count() as u64;
                    if node.min_length.is_some_and(|m| len < m)
                        || node.max_length.is_some_and(|m| len > m)
                    {
                        return false;
                    }
                }
                node.pattern.as_ref().is_none_or(|p| p.is_match(s))
            }
            Value::Array(items) => {
                let len = items.len() as u64;
                if node.min_items.is_some_and(|m| len < m)
                    || node.max_items.is_some_and(|m| len > m)
                {
                    return false;
                }
                if node.unique_items {
                    for (i, a) in items.iter().enumerate() {
                        if items.iter().skip(i + 1).any(|b| json_eq(a, b)) {
                            return false;
                        }
                    }
                }
                match &node.items {
                    Items::Any => true,
                    Items::Each(i) => items.iter().all(|v| sub(*i, v)),
                    Items::Tuple(schemas, additional) => {
                        items.iter().enumerate().all(|(k, v)| match schemas.get(k) {
                            Some(&i) => sub(i, v),
                            None => match additional {
                                Additional::Any => true,
                                Additional::Forbidden => false,
                                Additional::Schema(i) => sub(*i, v),
                            },
                        })
                    }
                }
            }
            Value::Object(map) => {
                let len = map.len() as u64;
                if node.min_properties.is_some_and(|m| len < m)
                    || node.max_properties.is_some_and(|m| len > m)
                {
                    return false;
                }
                if !node.required.iter().all(|r| map.contains_key(r)) {
                    return false;
                }
                map.iter().all(|(key, v)| {
                    match node.properties.iter().find(|(name, _)| name == key) {
                        Some((_, i)) => sub(*i, v),
                        None => match node.additional {
                            Additional::Any => true,
                            Additional::Forbidden => false,
                            Additional::Schema(i) => sub(i, v),
                        },
                    }
                })
            }
            Value::Null | Value::Bool(_) => true,
        }
    }
}

fn type_bits(value: &Value) -> u8 {
    let bit = |name: &str| {
        TYPE_NAMES
            .iter()
            .position(|t| *t == name)
            .map_or(0, |i| 1u8 << i)
    };
    match value {
        Value::Null => bit("null"),
        Value::Bool(_) => bit("boolean"),
        Value::Object(_) => bit("object"),
        Value::Array(_) => bit("array"),
        Value::String(_) => bit("string"),
        Value::Number(n) => {
            // Draft 4: an integer is a number with no fractional part (1.0 counts).
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            bit("number") | if integral { bit("integer") } else { 0 }
        }
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

struct Compiler<'d> {
    document: &'d Value,
    nodes: Vec<Node>,
    /// `$ref` target → node, so recursive models compile to a cycle of indices.
    definitions: HashMap<String, usize>,
}

impl Compiler<'_> {
    fn node(&mut self, schema: &Value, at: &str, depth: usize) -> Result<usize, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::TooDeep(MAX_DEPTH));
        }
        let index = self.nodes.len();
        self.nodes.push(Node::default());
        let Value::Object(map) = schema else {
            return Err(keyword("schema", at, "a schema must be an object"));
        };
        let mut node = Node::default();
        if let Some(reference) = map.get("$ref") {
            let target = reference
                .as_str()
                .ok_or_else(|| SchemaError::Ref(reference.to_string()))?;
            node.reference = Some(self.reference(target, depth)?);
            self.set(index, node);
            return Ok(index);
        }
        let child = |this: &mut Self, value: &Value, name: &str| {
            this.node(value, &format!("{at}/{name}"), depth + 1)
        };
        if let Some(types) = map.get("type") {
            let names: Vec<&Value> = match types {
                Value::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            for name in names {
                let bit = name
                    .as_str()
                    .and_then(|n| TYPE_NAMES.iter().position(|t| *t == n))
                    .ok_or_else(|| keyword("type", at, format!("unknown type {name}")))?;
                node.types |= 1 << bit;
            }
        }
        if let Some(props) = map.get("properties") {
            let Value::Object(props) = props else {
                return Err(keyword("properties", at, "expected an object"));
            };
            for (name, sub) in props {
                let i = child(self, sub, &format!("properties/{name}"))?;
                node.properties.push((name.clone(), i));
            }
        }
        if let Some(required) = map.get("required") {
            node.required = string_list(required)
                .ok_or_else(|| keyword("required", at, "expected an array of property names"))?;
        }
        node.additional = self.additional(map.get("additionalProperties"), at, depth)?;
        match map.get("items") {
            None => {}
            Some(Value::Array(list)) => {
                let mut tuple = Vec::with_capacity(list.len());
                for (k, sub) in list.iter().enumerate() {
                    tuple.push(child(self, sub, &format!("items/{k}"))?);
                }
                let extra = self.additional(map.get("additionalItems"), at, depth)?;
                node.items = Items::Tuple(tuple, extra);
            }
            Some(sub) => node.items = Items::Each(child(self, sub, "items")?),
        }
        node.min_items = count(map, "minItems", at)?;
        node.max_items = count(map, "maxItems", at)?;
        node.min_length = count(map, "minLength", at)?;
        node.max_length = count(map, "maxLength", at)?;
        node.min_properties = count(map, "minProperties", at)?;
        node.max_properties = count(map, "maxProperties", at)?;
        node.unique_items = map
            .get("uniqueItems")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(values) = map.get("enum") {
            let Value::Array(values) = values else {
                return Err(keyword("enum", at, "expected an array"));
            };
            node.enumeration = Some(values.clone());
        }
        let flag = |name| map.get(name).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = number(map, "minimum", at)? {
            node.minimum = Some((min, flag("exclusiveMinimum")));
        }
        if let Some(max) = number(map, "maximum", at)? {
            node.maximum = Some((max, flag("exclusiveMaximum")));
        }
        node.multiple_of = number(map, "multipleOf", at)?;
        if node.multiple_of.is_some_and(|m| m <= 0.0) {
            return Err(keyword("multipleOf", at, "must be greater than 0"));
        }
        if let Some(pattern) = map.get("pattern") {
            let text = pattern
                .as_str()
                .ok_or_else(|| keyword("pattern", at, "expected a string"))?;
            // Unanchored, as JSON Schema says; size-limited so a hostile model cannot
            // make a huge automaton.
            let regex = regex::RegexBuilder::new(text)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| keyword("pattern", at, e.to_string()))?;
            node.pattern = Some(regex);
        }
        for (name, slot) in [("allOf", 0), ("anyOf", 1), ("oneOf", 2)] {
            let Some(list) = map.get(name) else { continue };
            let Value::Array(list) = list else {
                return Err(keyword("allOf/anyOf/oneOf", at, "expected an array"));
            };
            let mut out = Vec::with_capacity(list.len());
            for (k, sub) in list.iter().enumerate() {
                out.push(child(self, sub, &format!("{name}/{k}"))?);
            }
            match slot {
                0 => node.all_of = out,
                1 => node.any_of = out,
                _ => node.one_of = out,
            }
        }
        if let Some(sub) = map.get("not") {
            node.not = Some(child(self, sub, "not")?);
        }
        self.set(index, node);
        Ok(index)
    }

    fn set(&mut self, index: usize, node: Node) {
        if let Some(slot) = self.nodes.get_mut(index) {
            *slot = node;
        }
    }

    fn additional(
        &mut self,
        value: Option<&Value>,
        at: &str,
        depth: usize,
    ) -> Result<Additional, SchemaError> {
        Ok(match value {
            None | Some(Value::Bool(true)) => Additional::Any,
            Some(Value::Bool(false)) => Additional::Forbidden,
            Some(sub) => {
                Additional::Schema(self.node(sub, &format!("{at}/additional"), depth + 1)?)
            }
        })
    }

    fn reference(&mut self, target: &str, depth: usize) -> Result<usize, SchemaError> {
        if target == "#" {
            return Ok(0);
        }
        if let Some(&index) = self.definitions.get(target) {
            return Ok(index);
        }
        let name = target
            .strip_prefix("#/definitions/")
            .ok_or_else(|| SchemaError::Ref(target.to_owned()))?;
        let schema = self
            .document
            .get("definitions")
            .and_then(|d| d.get(name))
            .ok_or_else(|| SchemaError::Ref(target.to_owned()))?;
        // Registered before compiling, so a model that refers to itself finds its index.
        let index = self.nodes.len();
        self.definitions.insert(target.to_owned(), index);
        // `node` pushes its slot first, so it lands at `index`.
        self.node(schema, target, depth + 1)?;
        Ok(index)
    }
}

fn keyword(keyword: &'static str, at: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Keyword {
        keyword,
        at: at.to_owned(),
        reason: reason.into(),
    }
}

fn count(
    map: &serde_json::Map<String, Value>,
    name: &'static str,
    at: &str,
) -> Result<Option<u64>, SchemaError> {
    match map.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| keyword(name, at, "expected a non-negative integer")),
    }
}

fn number(
    map: &serde_json::Map<String, Value>,
    name: &'static str,
    at: &str,
) -> Result<Option<f64>, SchemaError> {
    match map.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| keyword(name, at, "expected a number")),
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(schema: Value, cases: &[(Value, bool)]) {
        let compiled = Schema::compile(&schema).unwrap();
        for (value, valid) in cases {
            assert_eq!(compiled.is_valid(value), *valid, "{schema} on {value}");
        }
    }

    #[test]
    fn types_and_integers() {
        check(
            json!({"type": "integer"}),
            &[
                (json!(1), true),
                (json!(1.0), true),
                (json!(1.5), false),
                (json!("1"), false),
            ],
        );
        check(
            json!({"type": ["string", "null"]}),
            &[(json!(null), true), (json!("x"), true), (json!(1), false)],
        );
    }

    #[test]
    fn objects_required_and_additional_properties() {
        check(
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}},
                   "additionalProperties": false}),
            &[
                (json!({"a": "x"}), true),
                (json!({}), false),
                (json!({"a": 1}), false),
                (json!({"a": "x", "b": 1}), false),
            ],
        );
        check(
            json!({"additionalProperties": {"type": "number"}}),
            &[(json!({"x": 1}), true), (json!({"x": "1"}), false)],
        );
    }

    #[test]
    fn numbers_strings_and_enums() {
        check(
            json!({"minimum": 1, "maximum": 10, "exclusiveMaximum": true}),
            &[
                (json!(1), true),
                (json!(0), false),
                (json!(9.5), true),
                (json!(10), false),
            ],
        );
        check(
            json!({"minLength": 2, "maxLength": 3, "pattern": "^[a-zé]+$"}),
            &[
                (json!("éé"), true),
                (json!("a"), false),
                (json!("abcd"), false),
                (json!("A1"), false),
            ],
        );
        check(
            json!({"enum": ["a", 1, {"k": [1]}]}),
            &[
                (json!("a"), true),
                (json!(1.0), true),
                (json!({"k": [1]}), true),
                (json!("b"), false),
            ],
        );
        check(
            json!({"multipleOf": 0.5}),
            &[(json!(1.5), true), (json!(1.2), false)],
        );
    }

    #[test]
    fn arrays_and_combinators() {
        check(
            json!({"items": {"type": "integer"}, "minItems": 1, "uniqueItems": true}),
            &[
                (json!([1, 2]), true),
                (json!([]), false),
                (json!([1, 1]), false),
                (json!(["a"]), false),
            ],
        );
        check(
            json!({"items": [{"type": "string"}], "additionalItems": false}),
            &[(json!(["a"]), true), (json!(["a", 1]), false)],
        );
        check(
            json!({"oneOf": [{"type": "integer"}, {"minimum": 2}]}),
            &[(json!(1), true), (json!(3), false), (json!(2.5), true)],
        );
        check(
            json!({"not": {"type": "null"}}),
            &[(json!(1), true), (json!(null), false)],
        );
    }

    #[test]
    fn recursive_refs() {
        check(
            json!({"$ref": "#/definitions/Node", "definitions": {"Node": {
                "type": "object", "required": ["v"],
                "properties": {"v": {"type": "integer"},
                               "next": {"$ref": "#/definitions/Node"}}}}}),
            &[
                (json!({"v": 1, "next": {"v": 2}}), true),
                (json!({"v": 1, "next": {"v": "x"}}), false),
                (json!({"v": 1, "next": {}}), false),
            ],
        );
        check(
            json!({"type": "object", "properties": {"child": {"$ref": "#"}}}),
            &[
                (json!({"child": {"child": {}}}), true),
                (json!({"child": 1}), false),
            ],
        );
    }

    #[test]
    fn bad_schemas_are_errors() {
        for bad in [
            json!({"type": "float"}),
            json!({"pattern": "("}),
            json!({"$ref": "other.json#/x"}),
            json!({"$ref": "#/definitions/Missing"}),
            json!({"minLength": -1}),
            json!({"properties": []}),
        ] {
            assert!(Schema::compile(&bad).is_err(), "{bad}");
        }
    }
}
