//! The PreTokenGeneration trigger: what the function is told about the tokens about to be
//! minted (the event's `request`) and how its answer changes them, as Cognito applies a
//! `V1_0` answer (`claimsOverrideDetails`: the ID token's claims and the groups of both
//! tokens) and a `V2_0` / `V3_0` answer (`claimsAndScopeOverrideDetails`: the ID token's and
//! the access token's claims, the access token's scopes, and the groups).
//!
//! Pure: the call itself is `issue`'s (through the pool's triggers); this module turns claims
//! into the event and the answer into a [`TokenOverrides`] applied to the claims.
//!
//! # What a function may not change
//! Cognito keeps some claims out of a function's reach ([`PROTECTED_CLAIMS`], plus the
//! access token's own: [`PROTECTED_ACCESS_CLAIMS`]); the groups and roles change only through
//! `groupOverrideDetails` and the scopes only through `scopesToAdd` / `scopesToSuppress`. A
//! name on those lists in `claimsToAddOrOverride` or `claimsToSuppress` is ignored (the token
//! is issued without that change, the name logged), as Cognito ignores it; an answer that is
//! not shaped like Cognito's is `InvalidLambdaResponseException`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::triggers::PreTokenVersion;

/// When tokens are minted: the event's `triggerSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// The OAuth endpoints after the hosted sign-in page (the code exchange).
    HostedAuth,
    /// The end of an API sign-in (password, SRP, MFA).
    Authentication,
    /// The end of a sign-in that answered `NEW_PASSWORD_REQUIRED`.
    NewPasswordChallenge,
    /// The end of a sign-in a remembered device proved (device SRP).
    AuthenticateDevice,
    /// A refresh (`REFRESH_TOKEN_AUTH`, GetTokensFromRefreshToken, the token endpoint's
    /// `refresh_token` grant).
    RefreshTokens,
}

/// Claims no answer adds, changes or suppresses, in either token (Cognito's list).
pub(crate) const PROTECTED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "cognito:username",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
    "event_id",
];

/// Claims of the access token no answer adds, changes or suppresses besides
/// [`PROTECTED_CLAIMS`]: `scope` changes through `scopesToAdd` / `scopesToSuppress` only.
pub(crate) const PROTECTED_ACCESS_CLAIMS: &[&str] =
    &["client_id", "scope", "username", "version", "device_key"];

/// Claims that change through `groupOverrideDetails` only.
pub(crate) const GROUP_CLAIMS: &[&str] =
    &["cognito:groups", "cognito:roles", "cognito:preferred_role"];

/// ID-token claims whose value must stay a string, number or boolean (never a list or an
/// object), as Cognito requires.
const SCALAR_ID_CLAIMS: &[&str] = &[
    "email_verified",
    "phone_number_verified",
    "updated_at",
    "address",
];

/// Most claims one answer may add (a token must stay well under the 16 KiB verifiers take).
pub(crate) const MAX_ADDED_CLAIMS: usize = 100;
/// Longest claim name accepted from an answer.
pub(crate) const MAX_CLAIM_NAME: usize = 256;
/// Most scopes one answer may add.
pub(crate) const MAX_ADDED_SCOPES: usize = 50;
/// Longest answer (the `response` object's JSON text) taken: what it adds lands in a token,
/// base64 makes it a third longer, and a token must stay under the verifiers'
/// `tokens::MAX_TOKEN_LEN` (16 KiB) with the standard claims and the user's attributes.
pub(crate) const MAX_ANSWER_BYTES: usize = 8 * 1024;

/// The groups of the tokens (`groupConfiguration` in the event, `groupOverrideDetails` in the
/// answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GroupConfiguration {
    pub(crate) groups: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) preferred_role: Option<String>,
}

/// What an answer asks of the tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TokenOverrides {
    pub(crate) id_add: BTreeMap<String, Value>,
    pub(crate) id_suppress: BTreeSet<String>,
    pub(crate) access_add: BTreeMap<String, Value>,
    pub(crate) access_suppress: BTreeSet<String>,
    pub(crate) scopes_add: Vec<String>,
    pub(crate) scopes_suppress: BTreeSet<String>,
    /// `None`: the groups stay as they are.
    pub(crate) groups: Option<GroupConfiguration>,
}

/// Why an answer cannot be used (the cause is logged; the client gets
/// `InvalidLambdaResponseException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidAnswer(pub(crate) String);

// === impl TokenSource ===

impl TokenSource {
    /// Cognito's `triggerSource`.
    pub(crate) fn trigger_source(self) -> &'static str {
        match self {
            Self::HostedAuth => "TokenGeneration_HostedAuth",
            Self::Authentication => "TokenGeneration_Authentication",
            Self::NewPasswordChallenge => "TokenGeneration_NewPasswordChallenge",
            Self::AuthenticateDevice => "TokenGeneration_AuthenticateDevice",
            Self::RefreshTokens => "TokenGeneration_RefreshTokens",
        }
    }
}

/// Whether an answer of `version` may change the access token (V2_0 and V3_0).
pub(crate) fn customizes_access(version: PreTokenVersion) -> bool {
    version != PreTokenVersion::V1
}

// === impl GroupConfiguration ===

impl GroupConfiguration {
    /// As the event's `groupConfiguration`.
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({
            "groupsToOverride": self.groups,
            "iamRolesToOverride": self.roles,
            "preferredRole": self.preferred_role,
        })
    }
}

/// The event's `request` for a user's tokens: `userAttributes` (as
/// `triggers::user_attributes_json` builds them), `groupConfiguration`, `clientMetadata`, and for V2 / V3 the access token's `scopes`.
pub(crate) fn request(
    version: PreTokenVersion,
    user_attributes: Value,
    groups: &GroupConfiguration,
    scopes: &[String],
    client_metadata: &BTreeMap<String, String>,
) -> Value {
    let mut request = Map::new();
    request.insert("userAttributes".into(), user_attributes);
    request.insert("groupConfiguration".into(), groups.to_json());
    if customizes_access(version) {
        request.insert("scopes".into(), scopes.into());
    }
    request.insert(
        "clientMetadata".into(),
        serde_json::to_value(client_metadata).unwrap_or_default(),
    );
    Value::Object(request)
}

/// Reads a function's `response` (the answered event's `response` object; `{}`: no change).
pub(crate) fn parse_response(
    version: PreTokenVersion,
    response: &Map<String, Value>,
) -> Result<TokenOverrides, InvalidAnswer> {
    // The function's own limit is Lambda's 6 MiB; a token is not. Checked first, so nothing
    // of an oversized answer is read (and no session is stored for tokens nobody can use).
    if serde_json::to_string(response).map_or(usize::MAX, |s| s.len()) > MAX_ANSWER_BYTES {
        return Err(InvalidAnswer(format!(
            "the answer is longer than {MAX_ANSWER_BYTES} bytes"
        )));
    }
    let mut out = TokenOverrides::default();
    match version {
        PreTokenVersion::V1 => {
            let Some(details) = object_field(response, "claimsOverrideDetails")? else {
                return Ok(out);
            };
            read_claims(details, version, Token::Id, &mut out)?;
            out.groups = read_groups(details)?;
        }
        PreTokenVersion::V2 | PreTokenVersion::V3 => {
            let Some(details) = object_field(response, "claimsAndScopeOverrideDetails")? else {
                return Ok(out);
            };
            if let Some(id) = object_field(details, "idTokenGeneration")? {
                read_claims(id, version, Token::Id, &mut out)?;
            }
            if let Some(access) = object_field(details, "accessTokenGeneration")? {
                read_claims(access, version, Token::Access, &mut out)?;
                out.scopes_add = string_list(access, "scopesToAdd")?.unwrap_or_default();
                if out.scopes_add.len() > MAX_ADDED_SCOPES {
                    return Err(InvalidAnswer(format!(
                        "`scopesToAdd` has more than {MAX_ADDED_SCOPES} scopes"
                    )));
                }
                if let Some(bad) = out.scopes_add.iter().find(|s| !valid_scope(s)) {
                    return Err(InvalidAnswer(format!(
                        "`scopesToAdd` has an invalid scope of {} characters",
                        bad.chars().count()
                    )));
                }
                out.scopes_suppress = string_list(access, "scopesToSuppress")?
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
            }
            out.groups = read_groups(details)?;
        }
    }
    Ok(out)
}

/// Applies the ID token's changes to its extra claims (attributes and the like; the
/// standard claims live outside this map and no answer reaches them).
pub(crate) fn apply_id(overrides: &TokenOverrides, claims: &mut BTreeMap<String, Value>) {
    apply(&overrides.id_add, &overrides.id_suppress, claims);
}

/// Applies the access token's changes to its extra claims.
pub(crate) fn apply_access(overrides: &TokenOverrides, claims: &mut BTreeMap<String, Value>) {
    apply(&overrides.access_add, &overrides.access_suppress, claims);
}

/// The access token's scopes after the answer: suppressed ones removed, added ones appended
/// (once each, in the answer's order). A scope both added and suppressed is suppressed.
pub(crate) fn apply_scopes(overrides: &TokenOverrides, scope: &str) -> String {
    let mut scopes: Vec<&str> = scope
        .split(' ')
        .filter(|s| !s.is_empty() && !overrides.scopes_suppress.contains(*s))
        .collect();
    for added in &overrides.scopes_add {
        if !overrides.scopes_suppress.contains(added) && !scopes.contains(&added.as_str()) {
            scopes.push(added);
        }
    }
    scopes.join(" ")
}

// --- private ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Id,
    Access,
}

fn apply(
    add: &BTreeMap<String, Value>,
    suppress: &BTreeSet<String>,
    claims: &mut BTreeMap<String, Value>,
) {
    for (name, value) in add {
        claims.insert(name.clone(), value.clone());
    }
    // Suppression wins over an addition of the same claim (Cognito's rule).
    for name in suppress {
        claims.remove(name);
    }
}

/// Whether a name is one the function may change in `token`; the others are logged.
fn changeable(name: &str, token: Token) -> bool {
    let protected = PROTECTED_CLAIMS.contains(&name)
        || GROUP_CLAIMS.contains(&name)
        || (token == Token::Access && PROTECTED_ACCESS_CLAIMS.contains(&name));
    if protected {
        tracing::warn!(claim = %name, "a PreTokenGeneration answer names a claim it may not change; ignored");
    }
    !protected
}

fn read_claims(
    details: &Map<String, Value>,
    version: PreTokenVersion,
    token: Token,
    out: &mut TokenOverrides,
) -> Result<(), InvalidAnswer> {
    let (add, suppress) = match token {
        Token::Id => (&mut out.id_add, &mut out.id_suppress),
        Token::Access => (&mut out.access_add, &mut out.access_suppress),
    };
    if let Some(claims) = object_field(details, "claimsToAddOrOverride")? {
        if claims.len() > MAX_ADDED_CLAIMS {
            return Err(InvalidAnswer(format!(
                "`claimsToAddOrOverride` has more than {MAX_ADDED_CLAIMS} claims"
            )));
        }
        for (name, value) in claims {
            check_name(name)?;
            let value = claim_value(version, token, name, value)?;
            if changeable(name, token) {
                add.insert(name.clone(), value);
            }
        }
    }
    for name in string_list(details, "claimsToSuppress")?.unwrap_or_default() {
        check_name(&name)?;
        if changeable(&name, token) {
            suppress.insert(name);
        }
    }
    Ok(())
}

/// A claim value as the version allows it: V1 takes strings (numbers and booleans are taken
/// as their text, as the Lambda runtimes' typed events would send them); V2 / V3 any JSON,
/// but only a scalar for [`SCALAR_ID_CLAIMS`] in the ID token. `null` is refused.
fn claim_value(
    version: PreTokenVersion,
    token: Token,
    name: &str,
    value: &Value,
) -> Result<Value, InvalidAnswer> {
    let scalar = matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match version {
        PreTokenVersion::V1 => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(InvalidAnswer(format!(
                "the value of claim `{name}` must be a string"
            ))),
        },
        PreTokenVersion::V2 | PreTokenVersion::V3 => {
            if value.is_null() {
                return Err(InvalidAnswer(format!(
                    "the value of claim `{name}` is null"
                )));
            }
            if token == Token::Id && SCALAR_ID_CLAIMS.contains(&name) && !scalar {
                return Err(InvalidAnswer(format!(
                    "the value of claim `{name}` must be a string, a number or a boolean"
                )));
            }
            Ok(value.clone())
        }
    }
}

fn check_name(name: &str) -> Result<(), InvalidAnswer> {
    if name.is_empty() || name.chars().count() > MAX_CLAIM_NAME {
        return Err(InvalidAnswer(format!(
            "a claim name must have 1 to {MAX_CLAIM_NAME} characters"
        )));
    }
    Ok(())
}

/// A scope as RFC 6749 §3.3 allows it (`%x21 / %x23-5B / %x5D-7E`), at most 256 characters.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 256
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// `groupOverrideDetails`: absent is "keep the groups", `null` or `{}` is "no groups" (as
/// Cognito documents), an object replaces them.
fn read_groups(details: &Map<String, Value>) -> Result<Option<GroupConfiguration>, InvalidAnswer> {
    let Some(value) = details.get("groupOverrideDetails") else {
        return Ok(None);
    };
    let map = match value {
        Value::Null => return Ok(Some(GroupConfiguration::default())),
        Value::Object(map) => map,
        _ => {
            return Err(InvalidAnswer(
                "`groupOverrideDetails` is not an object".into(),
            ));
        }
    };
    let preferred_role = match map.get("preferredRole") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(InvalidAnswer("`preferredRole` is not a string".into())),
    };
    Ok(Some(GroupConfiguration {
        groups: string_list(map, "groupsToOverride")?.unwrap_or_default(),
        roles: string_list(map, "iamRolesToOverride")?.unwrap_or_default(),
        preferred_role,
    }))
}

fn object_field<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, InvalidAnswer> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(InvalidAnswer(format!("`{name}` is not an object"))),
    }
}

fn string_list(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, InvalidAnswer> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ADDED_CLAIMS {
                return Err(InvalidAnswer(format!(
                    "`{name}` has more than {MAX_ADDED_CLAIMS} entries"
                )));
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(InvalidAnswer(format!("`{name}` is not a list of strings"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(InvalidAnswer(format!("`{name}` is not a list of strings"))),
    }
}

#[cfg(test)]
mod tests;
