//! User attributes against the pool schema: validation of writes, the alias rows that let a
//! user sign in by email, phone number or preferred username, record ↔ [`User`] conversion, and
//! per-client read filtering.

use std::collections::BTreeMap;

use gatehouse_storage::{Alias, UserRecord};

use super::config::{
    AliasAttribute, AttributeDataType, MAX_ATTRIBUTE_VALUE_LEN, UsernameAttribute,
};
use super::{Client, User, UserPool, UserPoolError, UserPools, UserStatus};
use crate::time::from_unix_millis;

/// Who writes attributes, which decides what may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeWrite {
    /// A new user (AdminCreateUser, SignUp): immutable attributes may be set.
    Create,
    /// The operator changes an existing user: immutable attributes may not change.
    AdminUpdate,
    /// The user changes itself through a client: also limited by the client's
    /// `WriteAttributes`.
    UserUpdate,
}

/// Whether `s` looks like an email address (Cognito checks only the rough shape).
pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Whether `s` is an E.164 phone number (`+` and 4 to 15 digits), as Cognito requires.
pub fn is_phone_number(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (4..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

impl UserPools {
    /// Checks attribute writes against the pool schema: known names, types, ranges, formats,
    /// mutability, and for [`AttributeWrite::UserUpdate`] the client's `WriteAttributes`.
    pub fn validate_attributes(
        &self,
        pool: &UserPool,
        client: Option<&Client>,
        attributes: &[(String, String)],
        mode: AttributeWrite,
    ) -> Result<(), UserPoolError> {
        for (name, value) in attributes {
            let Some(schema) = pool.config.attribute(name) else {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{name}` does not exist in the schema"
                )));
            };
            if name == "sub" {
                return Err(UserPoolError::invalid("cannot modify the `sub` attribute"));
            }
            if mode != AttributeWrite::Create && !schema.mutable {
                return Err(UserPoolError::invalid(format!(
                    "cannot modify an immutable attribute: `{name}`"
                )));
            }
            if mode == AttributeWrite::UserUpdate
                && (schema.developer_only || client.is_some_and(|c| !c.config.can_write(name)))
            {
                return Err(UserPoolError::NotAuthorized(format!(
                    "a client attempted to write unauthorized attribute `{name}`"
                )));
            }
            let chars = u32::try_from(value.chars().count()).unwrap_or(u32::MAX);
            if chars > MAX_ATTRIBUTE_VALUE_LEN {
                return Err(UserPoolError::invalid(format!(
                    "attribute `{name}` is longer than {MAX_ATTRIBUTE_VALUE_LEN} characters"
                )));
            }
            match schema.data_type {
                AttributeDataType::String => {
                    let lo = schema.min_length.unwrap_or(0);
                    let hi = schema.max_length.unwrap_or(MAX_ATTRIBUTE_VALUE_LEN);
                    // An empty value means "remove" for optional standard attributes.
                    if !value.is_empty() && !(lo..=hi).contains(&chars) {
                        return Err(UserPoolError::invalid(format!(
                            "attribute `{name}` must be {lo} to {hi} characters long"
                        )));
                    }
                }
                AttributeDataType::Number => {
                    let n: f64 = value.trim().parse().map_err(|_| {
                        UserPoolError::invalid(format!("attribute `{name}` must be a number"))
                    })?;
                    if schema.min_value.is_some_and(|lo| n < lo as f64)
                        || schema.max_value.is_some_and(|hi| n > hi as f64)
                    {
                        return Err(UserPoolError::invalid(format!(
                            "attribute `{name}` is out of its allowed range"
                        )));
                    }
                }
                AttributeDataType::Boolean => {
                    // Any case, as AWS accepts (`True`); stored lower-case (`canonical`).
                    if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                        return Err(UserPoolError::invalid(format!(
                            "attribute `{name}` must be `true` or `false`"
                        )));
                    }
                }
                AttributeDataType::DateTime => {}
            }
            if name == "email" && !value.is_empty() && !is_email(value) {
                return Err(UserPoolError::invalid("invalid email address format"));
            }
            if name == "phone_number" && !value.is_empty() && !is_phone_number(value) {
                return Err(UserPoolError::invalid("invalid phone number format"));
            }
        }
        Ok(())
    }

    /// Attribute writes with their values as stored: booleans (`email_verified`,
    /// `phone_number_verified`, Boolean custom attributes) lower-case, whatever case they
    /// were sent in (AWS accepts `True` and `FALSE`). Unknown names pass unchanged, for
    /// [`UserPools::validate_attributes`] to refuse.
    pub fn canonical_attributes(
        &self,
        pool: &UserPool,
        attributes: &[(String, String)],
    ) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|(name, value)| {
                let boolean = pool
                    .config
                    .attribute(name)
                    .is_some_and(|a| a.data_type == AttributeDataType::Boolean);
                let value = if boolean
                    && (value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"))
                {
                    value.to_ascii_lowercase()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Fails unless every required schema attribute has a value.
    pub fn check_required_attributes(
        &self,
        pool: &UserPool,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), UserPoolError> {
        for a in pool
            .config
            .schema
            .iter()
            .filter(|a| a.required && a.name != "sub")
        {
            if attributes.get(&a.name).is_none_or(String::is_empty) {
                return Err(UserPoolError::invalid(format!(
                    "attributes did not conform to the schema: `{}` is required",
                    a.name
                )));
            }
        }
        Ok(())
    }

    /// The alias rows a user with these attributes holds: email or phone number when it is a
    /// username attribute (always) or an alias attribute (once verified), preferred username
    /// when it is an alias. Emails and preferred usernames are matched case-insensitively.
    pub fn aliases_for(
        &self,
        pool: &UserPool,
        attributes: &BTreeMap<String, String>,
    ) -> Vec<Alias> {
        let mut out = Vec::new();
        let cfg = &pool.config;
        let verified = |flag: &str| attributes.get(flag).is_some_and(|v| v == "true");
        let mut push = |name: &str| {
            if let Some(v) = attributes.get(name).filter(|v| !v.is_empty()) {
                out.push(Alias {
                    name: name.to_owned(),
                    value: alias_value(name, v),
                });
            }
        };
        if cfg.username_attributes.contains(&UsernameAttribute::Email)
            || (cfg.alias_attributes.contains(&AliasAttribute::Email) && verified("email_verified"))
        {
            push("email");
        }
        if cfg
            .username_attributes
            .contains(&UsernameAttribute::PhoneNumber)
            || (cfg.alias_attributes.contains(&AliasAttribute::PhoneNumber)
                && verified("phone_number_verified"))
        {
            push("phone_number");
        }
        if cfg
            .alias_attributes
            .contains(&AliasAttribute::PreferredUsername)
        {
            push("preferred_username");
        }
        out
    }

    /// The key that names a user in this pool (storage's `username_key`): the username
    /// folded to lower case where `UsernameConfiguration.CaseSensitive` is false, so that
    /// any spelling finds it (and no two users differ only in case), else the username
    /// itself. The username keeps the case it was created with.
    pub fn username_key(&self, pool: &UserPool, username: &str) -> String {
        if pool.config.case_insensitive_usernames() {
            username.to_lowercase()
        } else {
            username.to_owned()
        }
    }

    /// The user with this `sub`, if any.
    pub(crate) async fn find_user_by_sub(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<Option<User>, UserPoolError> {
        match self.store().users().get_by_sub(pool_id, sub).await? {
            Some(r) => Ok(Some(user_from_record(r)?)),
            None => Ok(None),
        }
    }

    /// The user a sign-in name refers to: the username itself, else an email, phone number or
    /// preferred username alias of the pool.
    pub async fn find_user(
        &self,
        pool: &UserPool,
        name: &str,
    ) -> Result<Option<User>, UserPoolError> {
        let users = self.store().users();
        if let Some(r) = users
            .get_by_key(&pool.id, &self.username_key(pool, name))
            .await?
        {
            return Ok(Some(user_from_record(r)?));
        }
        let candidates: &[&str] = if is_email(name) {
            &["email"]
        } else if is_phone_number(name) {
            &["phone_number"]
        } else {
            &["preferred_username"]
        };
        for alias in candidates {
            if let Some(r) = users
                .find_by_alias(&pool.id, alias, &alias_value(alias, name))
                .await?
            {
                return Ok(Some(user_from_record(r)?));
            }
        }
        Ok(None)
    }

    /// [`UserPools::find_user`], or `UserNotFound`.
    pub async fn require_user(&self, pool: &UserPool, name: &str) -> Result<User, UserPoolError> {
        self.find_user(pool, name)
            .await?
            .ok_or_else(|| UserPoolError::UserNotFound("User does not exist.".into()))
    }

    /// The attributes a client may read, with `sub` always kept.
    pub fn readable_attributes(&self, client: &Client, user: &User) -> BTreeMap<String, String> {
        user.attributes
            .iter()
            .filter(|(k, _)| *k == "sub" || client.config.can_read(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The value stored in the alias table for an attribute value.
pub(crate) fn alias_value(name: &str, value: &str) -> String {
    match name {
        "email" | "preferred_username" => value.to_lowercase(),
        _ => value.to_owned(),
    }
}

/// A storage record as a domain user (`sub` added to the attributes).
pub(crate) fn user_from_record(r: UserRecord) -> Result<User, UserPoolError> {
    let status = UserStatus::parse(&r.status)
        .ok_or_else(|| UserPoolError::internal("stored user status", &r.status))?;
    let mut attributes = r.attributes;
    attributes.insert("sub".into(), r.sub.clone());
    Ok(User {
        pool_id: r.pool_id,
        username: r.username,
        sub: r.sub,
        status,
        enabled: r.enabled,
        attributes,
        password_hash: r.password_hash,
        srp_verifier: r.srp_verifier,
        created_at: from_unix_millis(r.created_at),
        updated_at: from_unix_millis(r.updated_at),
    })
}

/// The attributes as storage keeps them (without `sub`, which is a column).
pub(crate) fn stored_attributes(attributes: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter(|(k, _)| *k != "sub")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
