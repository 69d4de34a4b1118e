//! ListUsers: the `Filter` grammar (`attr = "v"`, `attr ^= "v"`), page sizes, opaque
//! pagination tokens bound to their filter, and `AttributesToGet`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_storage::{TextMatch, UserCursor, UserFilter, UserQuery};
use serde::{Deserialize, Serialize};

use super::attributes::user_from_record;
use super::pools::page_size;
use super::{Page, User, UserPool, UserPoolError, UserPools};

/// Largest ListUsers page (Cognito's `Limit` maximum).
pub const MAX_LIST_USERS_LIMIT: u32 = 60;

/// A ListUsers request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUsersRequest {
    /// `Filter`, e.g. `email ^= "an"`.
    pub filter: Option<String>,
    /// `Limit` (1..=60, default 60).
    pub limit: Option<u32>,
    /// `PaginationToken` from the previous page (with the same filter).
    pub pagination_token: Option<String>,
    /// `AttributesToGet`: only these attributes are returned.
    pub attributes_to_get: Option<Vec<String>>,
}

/// A parsed `Filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUsersFilter {
    /// The attribute name as written (`email`, `cognito:user_status`, …).
    pub attribute: String,
    /// `^=` rather than `=`.
    pub prefix: bool,
    /// The quoted value, unescaped.
    pub value: String,
}

/// The attributes ListUsers can filter on (Cognito's list).
pub const FILTERABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// A filter that does not parse: Cognito's one message whatever the fault (the detail is
/// logged at debug level for whoever runs the service).
fn bad_filter(detail: &str) -> UserPoolError {
    tracing::debug!(detail, "ListUsers filter does not parse");
    UserPoolError::invalid("Error while parsing filter")
}

/// Parses `attr = "value"` / `attr ^= "value"` (spaces around the operator optional; `\"` and
/// `\\` escapes in the value). An empty filter is `None`.
pub fn parse_filter(text: &str) -> Result<Option<ListUsersFilter>, UserPoolError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '=' || c == '^')
        .ok_or_else(|| bad_filter("expected an operator `=` or `^=`"))?;
    let (attribute, rest) = text.split_at(name_end);
    if attribute.is_empty() {
        return Err(bad_filter("missing attribute name"));
    }
    let rest = rest.trim_start();
    let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else {
        return Err(bad_filter("expected an operator `=` or `^=`"));
    };
    let rest = rest.trim_start();
    let body = rest
        .strip_prefix('"')
        .ok_or_else(|| bad_filter("the value must be in double quotes"))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                _ => return Err(bad_filter("invalid escape in the value")),
            },
            '"' => {
                end = Some(i);
                break;
            }
            c => value.push(c),
        }
    }
    let end = end.ok_or_else(|| bad_filter("unterminated value"))?;
    if !body.get(end + 1..).unwrap_or_default().trim().is_empty() {
        return Err(bad_filter("unexpected text after the value"));
    }
    if !FILTERABLE.contains(&attribute) {
        return Err(UserPoolError::invalid(format!(
            "Invalid search attribute: {attribute}"
        )));
    }
    Ok(Some(ListUsersFilter {
        attribute: attribute.to_owned(),
        prefix,
        value,
    }))
}

/// The storage query of a parsed filter.
fn storage_filter(pool: &UserPool, f: &ListUsersFilter) -> Result<UserFilter, UserPoolError> {
    let matches = |v: String| {
        if f.prefix {
            TextMatch::StartsWith(v)
        } else {
            TextMatch::Equals(v)
        }
    };
    Ok(match f.attribute.as_str() {
        // In a pool that ignores case, names are matched by their folded key, so a filter
        // finds `Alice` as `alice` and `ALICE` alike.
        "username" if pool.config.case_insensitive_usernames() => {
            UserFilter::UsernameKey(matches(f.value.to_lowercase()))
        }
        "username" => UserFilter::Username(matches(f.value.clone())),
        "sub" => UserFilter::Sub(matches(f.value.clone())),
        // Documented as case-insensitive; statuses are stored upper-case.
        "cognito:user_status" => UserFilter::Status(matches(f.value.to_uppercase())),
        "status" => {
            if f.prefix {
                return Err(bad_filter("`status` only supports `=`"));
            }
            match f.value.to_ascii_lowercase().as_str() {
                "enabled" => UserFilter::Enabled(true),
                "disabled" => UserFilter::Enabled(false),
                _ => return Err(bad_filter("`status` is `Enabled` or `Disabled`")),
            }
        }
        name => UserFilter::Attribute {
            name: name.to_owned(),
            matches: matches(f.value.clone()),
        },
    })
}

/// What a pagination token carries: the filter it belongs to and where to resume.
#[derive(Serialize, Deserialize)]
struct Token {
    f: String,
    c: String,
}

fn encode_token(filter: &str, cursor: &UserCursor) -> String {
    let json = serde_json::to_vec(&Token {
        f: filter.to_owned(),
        c: cursor.to_token(),
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_token(filter: &str, token: &str) -> Result<UserCursor, UserPoolError> {
    let bad = || UserPoolError::invalid("invalid pagination token");
    let bytes = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.f != filter {
        return Err(UserPoolError::invalid(
            "the pagination token belongs to another filter",
        ));
    }
    UserCursor::from_token(&t.c).map_err(|_| bad())
}

impl UserPools {
    /// ListUsers.
    pub async fn list_users(
        &self,
        pool_id: &str,
        request: &ListUsersRequest,
    ) -> Result<Page<User>, UserPoolError> {
        let limit = page_size(request.limit, MAX_LIST_USERS_LIMIT, "limit")?;
        let filter_text = request.filter.as_deref().unwrap_or("").trim();
        let parsed = parse_filter(filter_text)?;
        let pool = self.user_pool(pool_id).await?;
        if let Some(names) = &request.attributes_to_get
            && let Some(unknown) = names.iter().find(|n| pool.config.attribute(n).is_none())
        {
            return Err(UserPoolError::invalid(format!(
                "attribute `{unknown}` in attributes to get does not exist in the schema"
            )));
        }
        let query = UserQuery {
            filter: parsed
                .as_ref()
                .map(|f| storage_filter(&pool, f))
                .transpose()?,
            limit,
            cursor: request
                .pagination_token
                .as_deref()
                .map(|t| decode_token(filter_text, t))
                .transpose()?,
        };
        let page = self.store().users().list(pool_id, &query).await?;
        let mut items = page
            .users
            .into_iter()
            .map(user_from_record)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(names) = &request.attributes_to_get {
            for user in &mut items {
                user.attributes.retain(|k, _| names.contains(k));
            }
        }
        Ok(Page {
            items,
            next: page.next.map(|c| encode_token(filter_text, &c)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(attribute: &str, prefix: bool, value: &str) -> Option<ListUsersFilter> {
        Some(ListUsersFilter {
            attribute: attribute.into(),
            prefix,
            value: value.into(),
        })
    }

    #[test]
    fn filter_grammar() {
        let ok: &[(&str, Option<ListUsersFilter>)] = &[
            ("", None),
            ("   ", None),
            (r#"email = "a@b.c""#, f("email", false, "a@b.c")),
            (r#"email="a@b.c""#, f("email", false, "a@b.c")),
            (r#"email ^= "an""#, f("email", true, "an")),
            (r#"email^="an""#, f("email", true, "an")),
            (r#"  username = "x"  "#, f("username", false, "x")),
            (
                r#"name = "say \"hi\" \\ bye""#,
                f("name", false, r#"say "hi" \ bye"#),
            ),
            (
                r#"cognito:user_status = "unconfirmed""#,
                f("cognito:user_status", false, "unconfirmed"),
            ),
            (r#"status = "Enabled""#, f("status", false, "Enabled")),
            (r#"sub = """#, f("sub", false, "")),
        ];
        for (text, want) in ok {
            assert_eq!(parse_filter(text).unwrap(), *want, "{text}");
        }
        for bad in [
            r#"custom:tier = "x""#,
            r#"email == "x""#,
            "email = unquoted",
            r#"email ~ "x""#,
            r#"email = "x" and"#,
            r#"email = "unterminated"#,
            r#"= "x""#,
            r#"email = "bad \q escape""#,
            "email",
            r#"address = "x""#,
        ] {
            assert!(
                matches!(parse_filter(bad), Err(UserPoolError::InvalidParameter(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_are_bound_to_their_filter() {
        let c = UserCursor {
            key: "an".into(),
            username: "ann".into(),
        };
        let t = encode_token(r#"email ^= "an""#, &c);
        assert_eq!(decode_token(r#"email ^= "an""#, &t).unwrap(), c);
        assert!(decode_token("", &t).is_err());
        assert!(decode_token("", "garbage!").is_err());
    }
}
