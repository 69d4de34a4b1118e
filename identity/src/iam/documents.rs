//! What IAM checks before it stores anything: policy documents (the engine's validator, the
//! size quotas IAM counts without whitespace, principals only in trust policies), names,
//! paths and tags.

use gatehouse_policy::Policy;
use serde::{Deserialize, Serialize};

use super::IamError;

/// A managed policy's largest document, in characters other than whitespace (IAM's quota).
pub const MAX_MANAGED_POLICY_CHARS: usize = 6144;
/// An inline role policy's largest document (IAM counts all of a role's inline policies
/// together; gatehouse counts each one, the smaller bound being per document).
pub const MAX_INLINE_POLICY_CHARS: usize = 10_240;
/// A trust policy's largest document (IAM's `ACLSizePerRole`).
pub const MAX_TRUST_POLICY_CHARS: usize = 2048;
/// Most tags on one resource.
pub(crate) const MAX_TAGS: usize = 50;

/// A key and value tagging a role, policy, provider or identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// What a policy document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    /// A managed policy.
    Managed,
    /// An inline role policy.
    Inline,
    /// A role's trust policy.
    Trust,
    /// A session policy passed to AssumeRole (its quota is STS's packed size; the text
    /// bound here is the same as a managed policy's).
    Session,
}

/// Characters other than whitespace, as IAM counts policy sizes.
fn significant_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Validates and compiles a document for `kind`.
pub(crate) fn check_policy(text: &str, kind: DocumentKind) -> Result<Policy, IamError> {
    let limit = match kind {
        DocumentKind::Managed | DocumentKind::Session => MAX_MANAGED_POLICY_CHARS,
        DocumentKind::Inline => MAX_INLINE_POLICY_CHARS,
        DocumentKind::Trust => MAX_TRUST_POLICY_CHARS,
    };
    if text.trim().is_empty() {
        return Err(IamError::MalformedPolicyDocument(
            "Syntax errors in policy.".into(),
        ));
    }
    if significant_chars(text) > limit {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {limit}"
        )));
    }
    let policy =
        Policy::parse(text).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
    let with_principal = policy.statements().iter().any(|s| s.has_principal());
    match kind {
        DocumentKind::Trust => {
            if policy.statements().iter().any(|s| !s.has_principal()) {
                return Err(IamError::MalformedPolicyDocument(
                    "Missing required field Principal".into(),
                ));
            }
        }
        DocumentKind::Managed | DocumentKind::Inline | DocumentKind::Session => {
            if with_principal {
                return Err(IamError::MalformedPolicyDocument(
                    "Policy document should not specify a principal.".into(),
                ));
            }
        }
    }
    Ok(policy)
}

/// IAM's name characters: letters, digits and `+=,.@_-`.
fn name_chars(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// A role name (1–64) or policy name (1–128) of IAM's characters.
pub(crate) fn check_name(member: &str, name: &str, max: usize) -> Result<(), IamError> {
    if name.is_empty() || name.chars().count() > max || !name_chars(name) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}"
        )));
    }
    Ok(())
}

/// A path: `/`, or `/` + segments + `/`, at most 512 characters of printable ASCII.
pub(crate) fn check_path(path: &str) -> Result<(), IamError> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && !path.contains("//")
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::Validation(
            "1 validation error detected: Value at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)".into(),
        ))
    }
}

/// Tags: at most [`MAX_TAGS`], keys of 1–128 characters, values of at most 256, keys unique
/// ignoring case (IAM's rule), none under the reserved `aws:` prefix.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), IamError> {
    if tags.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPerResource: {MAX_TAGS}"
        )));
    }
    let mut seen: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let key_len = tag.key.chars().count();
        if key_len == 0 || key_len > 128 || tag.value.chars().count() > 256 {
            return Err(IamError::Validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys have 1 to 128 characters and values at most 256".into(),
            ));
        }
        let folded = tag.key.to_lowercase();
        if folded.starts_with("aws:") {
            return Err(IamError::InvalidInput(
                "tag keys starting with `aws:` are reserved".into(),
            ));
        }
        if seen.contains(&folded) {
            return Err(IamError::InvalidInput(format!(
                "Duplicate tag keys found: `{}`",
                tag.key
            )));
        }
        seen.push(folded);
    }
    Ok(())
}

/// Tags as storage keeps them.
pub(crate) fn tags_json(tags: &[Tag]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// Stored tags (an unreadable value reads as none, and is logged).
pub(crate) fn tags_from_json(text: &str) -> Vec<Tag> {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored tags are not a tag list");
        Vec::new()
    })
}

/// Merges `added` into `tags` (a key already there, in any case, takes the new value).
pub(crate) fn merge_tags(tags: &mut Vec<Tag>, added: Vec<Tag>) {
    for tag in added {
        match tags
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(existing) => *existing = tag,
            None => tags.push(tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (document, kind, expected error variant name or "ok")
    #[test]
    fn documents_are_checked_for_their_kind() {
        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#;
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}}}"#,
            "a".repeat(7000)
        );
        let cases: Vec<(&str, DocumentKind, &str)> = vec![
            (identity, DocumentKind::Managed, "ok"),
            (identity, DocumentKind::Trust, "MalformedPolicyDocument"),
            (trust, DocumentKind::Trust, "ok"),
            (trust, DocumentKind::Inline, "MalformedPolicyDocument"),
            ("{", DocumentKind::Managed, "MalformedPolicyDocument"),
            ("", DocumentKind::Managed, "MalformedPolicyDocument"),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bogus":{"a":"b"}}}}"#,
                DocumentKind::Managed,
                "MalformedPolicyDocument",
            ),
            (&big, DocumentKind::Managed, "LimitExceeded"),
            (&big, DocumentKind::Inline, "ok"),
        ];
        for (text, kind, expected) in cases {
            let got = match check_policy(text, kind) {
                Ok(_) => "ok",
                Err(IamError::MalformedPolicyDocument(_)) => "MalformedPolicyDocument",
                Err(IamError::LimitExceeded(_)) => "LimitExceeded",
                Err(other) => panic!("{other:?}"),
            };
            assert_eq!(got, expected, "{kind:?} {}", &text[..text.len().min(80)]);
        }
    }

    #[test]
    fn names_paths_and_tags() {
        assert!(check_name("roleName", "Cognito_Auth+Role=1,.@-", 64).is_ok());
        assert!(check_name("roleName", "", 64).is_err());
        assert!(check_name("roleName", "has space", 64).is_err());
        assert!(check_name("roleName", &"a".repeat(65), 64).is_err());
        assert!(check_path("/").is_ok());
        assert!(check_path("/app/users/").is_ok());
        assert!(check_path("app/").is_err());
        assert!(check_path("/a//b/").is_err());
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        assert!(check_tags(&[tag("team", "a"), tag("env", "")]).is_ok());
        assert!(check_tags(&[tag("team", "a"), tag("TEAM", "b")]).is_err());
        assert!(check_tags(&[tag("aws:x", "a")]).is_err());
        assert!(check_tags(&[tag("", "a")]).is_err());
        let mut tags = vec![tag("Team", "a")];
        merge_tags(&mut tags, vec![tag("team", "b"), tag("env", "c")]);
        assert_eq!(tags, vec![tag("team", "b"), tag("env", "c")]);
    }
}
