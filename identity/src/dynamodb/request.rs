//! What a DynamoDB JSON 1.0 request asks, as the policy engine needs it: one [`Check`] per
//! (action, table or index) the request touches, each with its condition keys
//! (`dynamodb:LeadingKeys`, `dynamodb:Attributes`, `dynamodb:Select`,
//! `dynamodb:ReturnValues`, `dynamodb:ReturnConsumedCapacity`). Pure: the key schemas come in.
//!
//! A key this reader cannot derive with certainty is listed in [`Check::unproven`]; the
//! caller must then deny whenever a policy's decision depends on it.

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::DynamoDbError;
use super::expr::{attribute_names, pinned_partition_value};

/// The partition keys of a table and of its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    pub partition_key: String,
    /// Index name → its partition key.
    pub indexes: HashMap<String, String>,
}

/// One authorization question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `dynamodb:GetItem`, …
    pub action: String,
    /// The table (`None`: the account's tables, `*`).
    pub table: Option<String>,
    pub index: Option<String>,
    /// Condition keys and their values.
    pub context: Vec<(&'static str, Vec<String>)>,
    /// Condition keys that apply but could not be derived.
    pub unproven: Vec<&'static str>,
}

const LEADING_KEYS: &str = "dynamodb:LeadingKeys";
const ATTRIBUTES: &str = "dynamodb:Attributes";

/// Operations served, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One table, one item by `Key`.
    Key,
    /// PutItem (`Item`).
    Put,
    Query,
    Scan,
    BatchGet,
    BatchWrite,
    TransactGet,
    TransactWrite,
    /// A table operation by `TableName`.
    Table,
    /// Not about one table (ListTables, DescribeLimits, DescribeEndpoints).
    Account,
}

fn kind(operation: &str) -> Option<Kind> {
    Some(match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => Kind::Key,
        "PutItem" => Kind::Put,
        "Query" => Kind::Query,
        "Scan" => Kind::Scan,
        "BatchGetItem" => Kind::BatchGet,
        "BatchWriteItem" => Kind::BatchWrite,
        "TransactGetItems" => Kind::TransactGet,
        "TransactWriteItems" => Kind::TransactWrite,
        "CreateTable"
        | "DeleteTable"
        | "DescribeTable"
        | "UpdateTable"
        | "DescribeTimeToLive"
        | "UpdateTimeToLive"
        | "DescribeContinuousBackups" => Kind::Table,
        "ListTables" | "DescribeLimits" | "DescribeEndpoints" => Kind::Account,
        _ => return None,
    })
}

/// Whether `operation` acts on items (its checks may need the tables' key schemas).
pub fn is_item_level(operation: &str) -> bool {
    !matches!(
        kind(operation),
        Some(Kind::Table | Kind::Account | Kind::Scan) | None
    )
}

/// Whether `operation` is served by the proxy.
pub fn is_served(operation: &str) -> bool {
    kind(operation).is_some()
}

/// A table or index name as DynamoDB allows them: 3–255 of `[A-Za-z0-9_.-]`. Anything else
/// (an ARN, a wildcard, a slash) is refused before a policy sees it, so a name can never
/// reshape the resource ARN it is checked under.
pub fn check_name(name: &str) -> Result<(), DynamoDbError> {
    let ok = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DynamoDbError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )))
    }
}

/// Parses a body, refusing duplicate object keys anywhere: two readers (this one and the
/// upstream's) must never see different requests in one body.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, DynamoDbError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = <Strict as serde::Deserialize>::deserialize(&mut deserializer)
        .and_then(|v| deserializer.end().map(|()| v))
        .map_err(|e| DynamoDbError::Serialization(format!("the request body is not valid: {e}")))?;
    match value.0 {
        Value::Object(map) => Ok(map),
        _ => Err(DynamoDbError::Serialization(
            "the request body must be a JSON object".into(),
        )),
    }
}

/// The tables a request names (to load their key schemas first).
pub fn tables(operation: &str, body: &Map<String, Value>) -> Result<Vec<String>, DynamoDbError> {
    let kind = kind(operation).ok_or_else(|| DynamoDbError::UnknownOperation(operation.into()))?;
    let mut tables = Vec::new();
    match kind {
        Kind::Account => {}
        Kind::Key | Kind::Put | Kind::Query | Kind::Scan | Kind::Table => {
            tables.push(table_name(body)?);
        }
        Kind::BatchGet | Kind::BatchWrite => {
            let items = object(body, "RequestItems")?;
            for name in items.keys() {
                check_name(name)?;
                tables.push(name.clone());
            }
        }
        Kind::TransactGet | Kind::TransactWrite => {
            for item in array(body, "TransactItems")? {
                let (_, inner) = transact_entry(item)?;
                tables.push(table_name(inner)?);
            }
        }
    }
    tables.sort();
    tables.dedup();
    Ok(tables)
}

/// The checks for `operation` with `body`, given the key schemas of its tables (a table
/// missing from `schemas` makes its leading keys unproven).
pub fn checks(
    operation: &str,
    body: &Map<String, Value>,
    schemas: &HashMap<String, KeySchema>,
) -> Result<Vec<Check>, DynamoDbError> {
    let kind = kind(operation).ok_or_else(|| DynamoDbError::UnknownOperation(operation.into()))?;
    let action = format!("dynamodb:{operation}");
    let mut common: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (key, field) in [
        ("dynamodb:Select", "Select"),
        ("dynamodb:ReturnValues", "ReturnValues"),
        ("dynamodb:ReturnConsumedCapacity", "ReturnConsumedCapacity"),
    ] {
        if let Some(value) = body.get(field) {
            let text = value.as_str().ok_or_else(|| not_a_string(field))?;
            common.push((key, vec![text.to_owned()]));
        }
    }
    let names = body
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object);
    let mut out = Vec::new();
    match kind {
        Kind::Account => out.push(Check::new(&action, None, None)),
        Kind::Table | Kind::Scan => {
            let table = table_name(body)?;
            let index = index_name(body)?;
            let mut check = Check::new(&action, Some(table), index);
            if kind == Kind::Scan {
                check.attributes(projection(body, names));
            }
            out.push(check);
        }
        Kind::Key | Kind::Put => {
            let table = table_name(body)?;
            let field = if kind == Kind::Put { "Item" } else { "Key" };
            let item = object(body, field)?;
            let mut check = Check::new(&action, Some(table.clone()), None);
            check.leading_keys(
                schemas
                    .get(&table)
                    .and_then(|s| leading(item, &s.partition_key))
                    .map(|v| vec![v]),
            );
            let attributes = match operation {
                "PutItem" => Some(item.keys().cloned().collect()),
                "GetItem" => projection(body, names),
                "UpdateItem" => update_attributes(body, names),
                _ => Some(BTreeSet::new()),
            };
            check.attributes(attributes.filter(|a| !a.is_empty()).or(match operation {
                "GetItem" | "DeleteItem" => Some(BTreeSet::new()),
                _ => None,
            }));
            out.push(check);
        }
        Kind::Query => {
            let table = table_name(body)?;
            let index = index_name(body)?;
            let partition_key = schemas.get(&table).and_then(|s| match &index {
                Some(i) => s.indexes.get(i).cloned(),
                None => Some(s.partition_key.clone()),
            });
            let value = partition_key.and_then(|pk| query_partition_value(body, names, &pk));
            let mut check = Check::new(&action, Some(table), index);
            check.leading_keys(value.map(|v| vec![v]));
            check.attributes(projection(body, names));
            out.push(check);
        }
        Kind::BatchGet => {
            for (table, entry) in object(body, "RequestItems")? {
                let entry = entry
                    .as_object()
                    .ok_or_else(|| not_an_object("RequestItems"))?;
                let keys = array(entry, "Keys")?;
                let pk = schemas.get(table).map(|s| s.partition_key.as_str());
                let values: Option<Vec<String>> = keys
                    .iter()
                    .map(|k| k.as_object().and_then(|k| leading(k, pk?)))
                    .collect();
                let entry_names = entry
                    .get("ExpressionAttributeNames")
                    .and_then(Value::as_object);
                let mut check = Check::new(&action, Some(table.clone()), None);
                check.leading_keys(values);
                check.attributes(projection(entry, entry_names));
                out.push(check);
            }
        }
        Kind::BatchWrite => {
            for (table, entry) in object(body, "RequestItems")? {
                let requests = entry
                    .as_array()
                    .ok_or_else(|| not_an_array("RequestItems"))?;
                let pk = schemas.get(table).map(|s| s.partition_key.as_str());
                let mut values = Some(Vec::new());
                for request in requests {
                    let request = request
                        .as_object()
                        .ok_or_else(|| not_an_object("WriteRequest"))?;
                    let item = match (request.get("PutRequest"), request.get("DeleteRequest")) {
                        (Some(put), None) => put.as_object().and_then(|p| p.get("Item")),
                        (None, Some(delete)) => delete.as_object().and_then(|d| d.get("Key")),
                        _ => None,
                    };
                    let value = item
                        .and_then(Value::as_object)
                        .zip(pk)
                        .and_then(|(i, pk)| leading(i, pk));
                    match (value, values.as_mut()) {
                        (Some(v), Some(list)) => list.push(v),
                        _ => values = None,
                    }
                }
                let mut check = Check::new(&action, Some(table.clone()), None);
                check.leading_keys(values);
                out.push(check);
            }
        }
        Kind::TransactGet | Kind::TransactWrite => {
            for item in array(body, "TransactItems")? {
                let (verb, inner) = transact_entry(item)?;
                let table = table_name(inner)?;
                let field = if verb == "Put" { "Item" } else { "Key" };
                let action = match verb {
                    "Get" => "dynamodb:GetItem",
                    "Put" => "dynamodb:PutItem",
                    "Update" => "dynamodb:UpdateItem",
                    "Delete" => "dynamodb:DeleteItem",
                    _ => "dynamodb:ConditionCheckItem",
                };
                let value = inner
                    .get(field)
                    .and_then(Value::as_object)
                    .zip(schemas.get(&table))
                    .and_then(|(i, s)| leading(i, &s.partition_key));
                let mut check = Check::new(action, Some(table), None);
                check.leading_keys(value.map(|v| vec![v]));
                out.push(check);
            }
        }
    }
    for check in &mut out {
        check.context.extend(common.iter().cloned());
    }
    Ok(out)
}

// === impl Check ===

impl Check {
    fn new(action: &str, table: Option<String>, index: Option<String>) -> Self {
        Self {
            action: action.to_owned(),
            table,
            index,
            context: Vec::new(),
            unproven: Vec::new(),
        }
    }

    fn leading_keys(&mut self, values: Option<Vec<String>>) {
        match values {
            Some(mut values) => {
                values.sort();
                values.dedup();
                self.context.push((LEADING_KEYS, values));
            }
            None => self.unproven.push(LEADING_KEYS),
        }
    }

    /// `Some(empty)`: the request names no attributes (the key stays absent).
    fn attributes(&mut self, attributes: Option<BTreeSet<String>>) {
        match attributes {
            Some(set) if set.is_empty() => {}
            Some(set) => self.context.push((ATTRIBUTES, set.into_iter().collect())),
            None => self.unproven.push(ATTRIBUTES),
        }
    }
}

// === reading the body ===

fn not_a_string(field: &str) -> DynamoDbError {
    DynamoDbError::Serialization(format!("`{field}` must be a string"))
}

fn not_an_object(field: &str) -> DynamoDbError {
    DynamoDbError::Serialization(format!("`{field}` must be an object"))
}

fn not_an_array(field: &str) -> DynamoDbError {
    DynamoDbError::Serialization(format!("`{field}` must be a list"))
}

fn table_name(body: &Map<String, Value>) -> Result<String, DynamoDbError> {
    let name = body
        .get("TableName")
        .ok_or_else(|| DynamoDbError::Validation("TableName is required".into()))?
        .as_str()
        .ok_or_else(|| not_a_string("TableName"))?;
    check_name(name)?;
    Ok(name.to_owned())
}

fn index_name(body: &Map<String, Value>) -> Result<Option<String>, DynamoDbError> {
    match body.get("IndexName") {
        None => Ok(None),
        Some(value) => {
            let name = value.as_str().ok_or_else(|| not_a_string("IndexName"))?;
            check_name(name)?;
            Ok(Some(name.to_owned()))
        }
    }
}

fn object<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a Map<String, Value>, DynamoDbError> {
    body.get(field)
        .ok_or_else(|| DynamoDbError::Validation(format!("{field} is required")))?
        .as_object()
        .ok_or_else(|| not_an_object(field))
}

fn array<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a Vec<Value>, DynamoDbError> {
    body.get(field)
        .ok_or_else(|| DynamoDbError::Validation(format!("{field} is required")))?
        .as_array()
        .ok_or_else(|| not_an_array(field))
}

/// `{"Get": {…}}`: exactly one verb per transaction item.
fn transact_entry(item: &Value) -> Result<(&str, &Map<String, Value>), DynamoDbError> {
    let item = item
        .as_object()
        .ok_or_else(|| not_an_object("TransactItems"))?;
    let mut entries = item.iter();
    match (entries.next(), entries.next()) {
        (Some((verb, inner)), None)
            if ["Get", "Put", "Update", "Delete", "ConditionCheck"].contains(&verb.as_str()) =>
        {
            Ok((verb.as_str(), inner.as_object().ok_or_else(|| not_an_object(verb))?))
        }
        _ => Err(DynamoDbError::Validation(
            "each transaction item must have exactly one of Get, Put, Update, Delete, ConditionCheck".into(),
        )),
    }
}

/// The text of a scalar attribute value (`S`, `N`, or `B` as base64), as LeadingKeys
/// compares it.
fn scalar(value: &Value) -> Option<String> {
    let map = value.as_object()?;
    let mut entries = map.iter();
    let (kind, inner) = entries.next()?;
    if entries.next().is_some() {
        return None;
    }
    let text = inner.as_str()?;
    match kind.as_str() {
        "S" | "N" => Some(text.to_owned()),
        "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(|_| text.to_owned()),
        _ => None,
    }
}

fn leading(item: &Map<String, Value>, partition_key: &str) -> Option<String> {
    scalar(item.get(partition_key)?)
}

fn query_partition_value(
    body: &Map<String, Value>,
    names: Option<&Map<String, Value>>,
    partition_key: &str,
) -> Option<String> {
    let values = body
        .get("ExpressionAttributeValues")
        .and_then(Value::as_object);
    match (
        body.get("KeyConditionExpression"),
        body.get("KeyConditions"),
    ) {
        (Some(expression), None) => {
            let placeholder = pinned_partition_value(expression.as_str()?, names, partition_key)?;
            scalar(values?.get(&placeholder)?)
        }
        (None, Some(conditions)) => {
            let condition = conditions.as_object()?.get(partition_key)?.as_object()?;
            if condition.get("ComparisonOperator")?.as_str()? != "EQ" {
                return None;
            }
            match condition.get("AttributeValueList")?.as_array()?.as_slice() {
                [only] => scalar(only),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `ProjectionExpression` or `AttributesToGet`; `Some(empty)` when neither is given.
fn projection(
    body: &Map<String, Value>,
    names: Option<&Map<String, Value>>,
) -> Option<BTreeSet<String>> {
    match (
        body.get("ProjectionExpression"),
        body.get("AttributesToGet"),
    ) {
        (None, None) => Some(BTreeSet::new()),
        (Some(expression), None) => attribute_names(expression.as_str()?, names),
        (None, Some(list)) => list
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        (Some(_), Some(_)) => None,
    }
}

fn update_attributes(
    body: &Map<String, Value>,
    names: Option<&Map<String, Value>>,
) -> Option<BTreeSet<String>> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    if let Some(expression) = body.get("UpdateExpression") {
        set.extend(attribute_names(expression.as_str()?, names)?);
    }
    if let Some(updates) = body.get("AttributeUpdates") {
        set.extend(updates.as_object()?.keys().cloned());
    }
    Some(set)
}

// === strict JSON ===

/// A JSON value whose objects have no duplicate keys.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> HashMap<String, KeySchema> {
        HashMap::from([(
            "Notes".to_owned(),
            KeySchema {
                partition_key: "owner".into(),
                indexes: HashMap::from([("ByTag".to_owned(), "tag".to_owned())]),
            },
        )])
    }

    fn run(operation: &str, body: &str) -> Result<Vec<Check>, DynamoDbError> {
        checks(operation, &parse_body(body.as_bytes())?, &schemas())
    }

    fn leading_keys(check: &Check) -> Option<Vec<String>> {
        check
            .context
            .iter()
            .find(|(k, _)| *k == LEADING_KEYS)
            .map(|(_, v)| v.clone())
    }

    /// The leading keys of each check: `None` = unproven.
    type Expected = &'static [Option<&'static [&'static str]>];

    /// (rule, operation, body, leading keys of each check)
    #[test]
    fn leading_keys_of_each_operation() {
        let cases: &[(&str, &str, &str, Expected)] = &[
            (
                "GetItem by Key",
                "GetItem",
                r#"{"TableName":"Notes","Key":{"owner":{"S":"a"},"id":{"S":"1"}}}"#,
                &[Some(&["a"])],
            ),
            (
                "PutItem by Item",
                "PutItem",
                r#"{"TableName":"Notes","Item":{"owner":{"S":"a"},"id":{"S":"1"}}}"#,
                &[Some(&["a"])],
            ),
            (
                "a number key",
                "DeleteItem",
                r#"{"TableName":"Notes","Key":{"owner":{"N":"12"}}}"#,
                &[Some(&["12"])],
            ),
            (
                "a key that is not scalar",
                "GetItem",
                r#"{"TableName":"Notes","Key":{"owner":{"L":[{"S":"a"}]}}}"#,
                &[None],
            ),
            (
                "a key with two types",
                "GetItem",
                r#"{"TableName":"Notes","Key":{"owner":{"S":"a","N":"1"}}}"#,
                &[None],
            ),
            (
                "Query by expression",
                "Query",
                r##"{"TableName":"Notes","KeyConditionExpression":"#o = :o","ExpressionAttributeNames":{"#o":"owner"},"ExpressionAttributeValues":{":o":{"S":"a"}}}"##,
                &[Some(&["a"])],
            ),
            (
                "Query with OR",
                "Query",
                r#"{"TableName":"Notes","KeyConditionExpression":"owner = :a OR owner = :b","ExpressionAttributeValues":{":a":{"S":"a"},":b":{"S":"b"}}}"#,
                &[None],
            ),
            (
                "Query on an index uses its key",
                "Query",
                r#"{"TableName":"Notes","IndexName":"ByTag","KeyConditionExpression":"owner = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"#,
                &[None],
            ),
            (
                "Query by KeyConditions",
                "Query",
                r#"{"TableName":"Notes","KeyConditions":{"owner":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"a"}]}}}"#,
                &[Some(&["a"])],
            ),
            (
                "Query by both forms",
                "Query",
                r#"{"TableName":"Notes","KeyConditionExpression":"owner = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"KeyConditions":{}}"#,
                &[None],
            ),
            (
                "an unknown table",
                "GetItem",
                r#"{"TableName":"Other","Key":{"owner":{"S":"a"}}}"#,
                &[None],
            ),
            (
                "BatchGetItem, every key",
                "BatchGetItem",
                r#"{"RequestItems":{"Notes":{"Keys":[{"owner":{"S":"a"}},{"owner":{"S":"b"}}]}}}"#,
                &[Some(&["a", "b"])],
            ),
            (
                "BatchWriteItem, puts and deletes",
                "BatchWriteItem",
                r#"{"RequestItems":{"Notes":[{"PutRequest":{"Item":{"owner":{"S":"a"}}}},{"DeleteRequest":{"Key":{"owner":{"S":"b"}}}}]}}"#,
                &[Some(&["a", "b"])],
            ),
            (
                "BatchWriteItem, both verbs in one request",
                "BatchWriteItem",
                r#"{"RequestItems":{"Notes":[{"PutRequest":{"Item":{"owner":{"S":"a"}}},"DeleteRequest":{"Key":{"owner":{"S":"b"}}}}]}}"#,
                &[None],
            ),
            (
                "TransactWriteItems, one check per item",
                "TransactWriteItems",
                r#"{"TransactItems":[{"Put":{"TableName":"Notes","Item":{"owner":{"S":"a"}}}},{"Delete":{"TableName":"Notes","Key":{"owner":{"S":"b"}}}}]}"#,
                &[Some(&["a"]), Some(&["b"])],
            ),
        ];
        for (rule, operation, body, expected) in cases {
            let got = run(operation, body).unwrap_or_else(|e| panic!("{rule}: {e}"));
            let got: Vec<Option<Vec<String>>> = got.iter().map(leading_keys).collect();
            let expected: Vec<Option<Vec<String>>> = expected
                .iter()
                .map(|e| e.map(|v| v.iter().map(|s| (*s).to_owned()).collect()))
                .collect();
            assert_eq!(got, expected, "{rule}");
        }
    }

    #[test]
    fn transact_items_are_checked_as_their_own_actions() {
        let got = run("TransactWriteItems", r#"{"TransactItems":[{"Update":{"TableName":"Notes","Key":{"owner":{"S":"a"}}}},{"ConditionCheck":{"TableName":"Notes","Key":{"owner":{"S":"a"}}}}]}"#).unwrap();
        let actions: Vec<&str> = got.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(
            actions,
            ["dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]
        );
    }

    /// (rule, operation, body)
    #[test]
    fn bodies_refused_before_any_policy() {
        let cases = [
            (
                "duplicate keys",
                "GetItem",
                r#"{"TableName":"Notes","TableName":"Other","Key":{}}"#,
            ),
            (
                "duplicate nested keys",
                "GetItem",
                r#"{"TableName":"Notes","Key":{"owner":{"S":"a"},"owner":{"S":"b"}}}"#,
            ),
            (
                "an ARN as table name",
                "GetItem",
                r#"{"TableName":"arn:aws:dynamodb:us-east-1:000000000000:table/Notes","Key":{}}"#,
            ),
            (
                "a wildcard table name",
                "GetItem",
                r#"{"TableName":"Not*","Key":{}}"#,
            ),
            (
                "a slash in an index name",
                "Query",
                r#"{"TableName":"Notes","IndexName":"x/../y"}"#,
            ),
            (
                "an unknown operation",
                "ExecuteStatement",
                r#"{"Statement":"SELECT * FROM Notes"}"#,
            ),
            ("not an object", "GetItem", r#"[1]"#),
            (
                "trailing bytes",
                "GetItem",
                r#"{"TableName":"Notes","Key":{}} {}"#,
            ),
        ];
        for (rule, operation, body) in cases {
            let refused = parse_body(body.as_bytes()).and_then(|b| {
                tables(operation, &b).and_then(|_| checks(operation, &b, &schemas()))
            });
            assert!(refused.is_err(), "{rule}");
        }
    }
}
