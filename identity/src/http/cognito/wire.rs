//! Wire pieces shared by several operations: timestamps, `AttributeType` lists, enum lists.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::user_pools::UserPoolError;

/// A timestamp as the JSON protocol sends it: epoch seconds (with milliseconds).
pub(crate) fn epoch(t: SystemTime) -> f64 {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // Millisecond epochs fit in f64's 53-bit mantissa for the next 280 000 years.
    #[expect(clippy::cast_precision_loss, reason = "see the comment above")]
    let millis = millis as f64;
    millis / 1000.0
}

/// `{"Name": …, "Value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributeType {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
}

/// A map as the `[{"Name", "Value"}]` list, in name order.
pub(crate) fn attribute_list(map: &BTreeMap<String, String>) -> Vec<AttributeType> {
    map.iter()
        .map(|(k, v)| AttributeType {
            name: k.clone(),
            value: Some(v.clone()),
        })
        .collect()
}

/// A `[{"Name", "Value"}]` list as pairs (a missing value is an empty string).
pub(crate) fn attribute_pairs(list: Vec<AttributeType>) -> Vec<(String, String)> {
    list.into_iter()
        .map(|a| (a.name, a.value.unwrap_or_default()))
        .collect()
}

/// Parses a list of Cognito enum names with `parse`, naming the member on failure.
pub(crate) fn parse_enums<T>(
    member: &str,
    values: Vec<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, UserPoolError> {
    values
        .into_iter()
        .map(|v| {
            parse(&v).ok_or_else(|| {
                UserPoolError::InvalidParameter(format!(
                    "value `{v}` at `{member}` failed to satisfy constraint: member must satisfy enum value set"
                ))
            })
        })
        .collect()
}

/// Parses one Cognito enum name.
pub(crate) fn parse_enum<T>(
    member: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, UserPoolError> {
    parse(value).ok_or_else(|| {
        UserPoolError::InvalidParameter(format!(
            "value `{value}` at `{member}` failed to satisfy constraint: member must satisfy enum value set"
        ))
    })
}

/// An empty JSON object, the answer of operations without output.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Empty {}

/// Deserialises an optional nested structure, refusing JSON arrays: serde's derived structs
/// also accept the sequence form (`"Policies": []`), which the protocol never sends.
pub(crate) fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? {
        None => Ok(None),
        Some(map) => T::deserialize(serde_json::Value::Object(map))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A request's `ClientMetadata` (a map) and `ValidationData` (an attribute list) for the
/// pool's triggers, bounded.
pub(crate) fn trigger_data(
    client_metadata: Option<BTreeMap<String, String>>,
    validation_data: Option<Vec<AttributeType>>,
) -> Result<crate::user_pools::TriggerData, UserPoolError> {
    crate::user_pools::TriggerData::new(
        client_metadata.unwrap_or_default(),
        attribute_pairs(validation_data.unwrap_or_default())
            .into_iter()
            .collect(),
    )
}
