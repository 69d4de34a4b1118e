//! Pool operations: CreateUserPool, DescribeUserPool, ListUserPools, UpdateUserPool,
//! AddCustomAttributes, DeleteUserPool, and the loaders every other operation starts with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_storage::{NewUserPool, StorageError, UserPoolRecord};

use super::config::{
    AttributeDataType, MAX_ATTRIBUTE_VALUE_LEN, PoolConfig, SchemaAttribute, is_standard_attribute,
    standard_schema,
};
use super::{Page, UserPool, UserPoolError, UserPools};
use crate::time::{from_unix_millis, unix_millis};

/// Largest page of ListUserPools, ListGroups and similar listings (Cognito's).
pub const MAX_PAGE: u32 = 60;

/// Wraps a storage continuation key into an opaque token.
pub(crate) fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Reads a token made by [`encode_token`].
pub(crate) fn decode_token(token: &str) -> Result<String, UserPoolError> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| UserPoolError::invalid("invalid pagination token"))
}

/// Checks a page size against 1..=`max` (Cognito refuses out-of-range values).
pub(crate) fn page_size(limit: Option<u32>, max: u32, what: &str) -> Result<u32, UserPoolError> {
    match limit {
        None | Some(0) => Ok(max),
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(UserPoolError::invalid(format!(
            "{what} `{n}` must be between 1 and {max}"
        ))),
    }
}

/// The full schema of a new pool: the standard attributes, with `requested` entries applied.
/// A requested standard attribute changes its `required`/`mutable`/constraints (never its type,
/// nor to developer-only); any other name becomes `custom:{name}` ([`custom_attribute`]).
/// Messages are Cognito's.
pub fn schema_with(requested: Vec<SchemaAttribute>) -> Result<Vec<SchemaAttribute>, UserPoolError> {
    let mut schema = standard_schema();
    for a in requested {
        let bare = a.name.strip_prefix("custom:").unwrap_or(&a.name).to_owned();
        if !a.name.starts_with("custom:") && is_standard_attribute(&bare) {
            let Some(existing) = schema.iter_mut().find(|s| s.name == bare) else {
                continue;
            };
            if bare == "sub" {
                continue;
            }
            if a.data_type != existing.data_type || a.developer_only {
                return Err(UserPoolError::invalid(format!(
                    "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {bare}"
                )));
            }
            existing.required = a.required;
            existing.mutable = a.mutable;
            match a.data_type {
                AttributeDataType::String => {
                    existing.min_length = a.min_length.or(existing.min_length);
                    existing.max_length = a.max_length.or(existing.max_length);
                }
                AttributeDataType::Number => {
                    existing.min_value = a.min_value.or(existing.min_value);
                    existing.max_value = a.max_value.or(existing.max_value);
                }
                AttributeDataType::Boolean | AttributeDataType::DateTime => {}
            }
            check_constraints(&bare, existing)?;
            continue;
        }
        let custom = custom_attribute(a)?;
        if let Some(taken) = schema.iter().find(|s| s.name == custom.name) {
            return Err(existing_attribute(&custom, taken));
        }
        schema.push(custom);
    }
    Ok(schema)
}

/// A custom attribute as declared (CreateUserPool's `Schema`, AddCustomAttributes): named
/// `custom:{name}`, never required, with only the constraints of its type.
pub(super) fn custom_attribute(mut a: SchemaAttribute) -> Result<SchemaAttribute, UserPoolError> {
    let bare = a.name.strip_prefix("custom:").unwrap_or(&a.name).to_owned();
    if bare.is_empty() || bare.chars().count() > 20 {
        return Err(UserPoolError::invalid(format!(
            "attribute name `{}` must be 1 to 20 characters",
            a.name
        )));
    }
    if a.required {
        return Err(UserPoolError::invalid(
            "Required custom attributes are not supported currently.",
        ));
    }
    if !bare
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c))
    {
        return Err(UserPoolError::invalid(format!(
            "attribute name `{bare}` may only contain letters, digits and `_-:.`"
        )));
    }
    a.name = format!("custom:{bare}");
    // Constraints of another type than the attribute's are ignored, as Cognito does.
    if a.data_type != AttributeDataType::String {
        (a.min_length, a.max_length) = (None, None);
    }
    if a.data_type != AttributeDataType::Number {
        (a.min_value, a.max_value) = (None, None);
    }
    check_constraints(&a.name, &a)?;
    Ok(a)
}

/// Cognito's refusal of a custom attribute whose name the schema holds already.
fn existing_attribute(new: &SchemaAttribute, taken: &SchemaAttribute) -> UserPoolError {
    let shown = if taken.developer_only {
        format!("dev:{}", taken.name)
    } else {
        taken.name.clone()
    };
    UserPoolError::invalid(format!(
        "{}: Existing attribute already has name {shown}.",
        new.name
    ))
}

/// The bounds of an attribute: string lengths at most 2048, and no minimum above its maximum.
fn check_constraints(name: &str, a: &SchemaAttribute) -> Result<(), UserPoolError> {
    if a.min_length.is_some_and(|n| n > MAX_ATTRIBUTE_VALUE_LEN)
        || a.max_length.is_some_and(|n| n > MAX_ATTRIBUTE_VALUE_LEN)
    {
        return Err(UserPoolError::invalid(format!(
            "user.{name}: String attributes cannot have a length of more than {MAX_ATTRIBUTE_VALUE_LEN}"
        )));
    }
    if let (Some(lo), Some(hi)) = (a.min_length, a.max_length)
        && lo > hi
    {
        return Err(UserPoolError::invalid(format!(
            "user.{name}: Max length cannot be less than min length."
        )));
    }
    if let (Some(lo), Some(hi)) = (a.min_value, a.max_value)
        && lo > hi
    {
        return Err(UserPoolError::invalid(format!(
            "user.{name}: Max value cannot be less than min value."
        )));
    }
    Ok(())
}

fn check_pool_name(name: &str) -> Result<(), UserPoolError> {
    let len = name.chars().count();
    if !(1..=128).contains(&len)
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c))
    {
        return Err(UserPoolError::invalid(format!(
            "pool name `{name}` must be 1 to 128 letters, digits, spaces or `_+=,.@-`"
        )));
    }
    Ok(())
}

impl UserPools {
    pub(crate) fn pool_from_record(&self, r: UserPoolRecord) -> Result<UserPool, UserPoolError> {
        let config: PoolConfig = serde_json::from_str(&r.config)
            .map_err(|e| UserPoolError::internal("stored pool configuration", e))?;
        Ok(UserPool {
            arn: self.pool_arn(&r.id),
            id: r.id,
            name: r.name,
            config,
            created_at: from_unix_millis(r.created_at),
            updated_at: from_unix_millis(r.updated_at),
        })
    }

    /// The pool, or `ResourceNotFound`.
    pub async fn user_pool(&self, pool_id: &str) -> Result<UserPool, UserPoolError> {
        match self.store().user_pools().get(pool_id).await? {
            Some(r) => self.pool_from_record(r),
            None => Err(pool_not_found(pool_id)),
        }
    }

    /// CreateUserPool: validates `config`, generates the pool's ID- and access-token signing
    /// keys and stores all of it in one transaction.
    pub async fn create_user_pool(
        &self,
        name: &str,
        config: PoolConfig,
    ) -> Result<UserPool, UserPoolError> {
        self.create_user_pool_in(None, name, config).await
    }

    /// CreateUserPool in `region` (one this node serves; `None`: its first): the pool id,
    /// and so its ARN and issuer, carry the region.
    pub async fn create_user_pool_in(
        &self,
        region: Option<&str>,
        name: &str,
        config: PoolConfig,
    ) -> Result<UserPool, UserPoolError> {
        check_pool_name(name)?;
        config.validate()?;
        self.check_triggers_registered(&config)?;
        let region = match region {
            Some(region) if self.serves_region(region) => region,
            Some(region) => {
                return Err(UserPoolError::invalid(format!(
                    "region `{region}` is not served here"
                )));
            }
            None => &self.config().region,
        };
        let now = self.now();
        let id = crate::ids::user_pool_id(region);
        let (id_key, access_key) = self.generate_key_pair().await?;
        let records = vec![
            self.key_record(&id, &id_key, now)?,
            self.key_record(&id, &access_key, now)?,
        ];
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("pool configuration", e))?;
        let record = self
            .store()
            .user_pools()
            .create(&NewUserPool {
                id: id.clone(),
                name: name.to_owned(),
                config: json,
                created_at: unix_millis(now),
                signing_keys: records,
            })
            .await?;
        self.cache_new_ring(&id, id_key, access_key, now);
        self.pool_from_record(record)
    }

    /// Refuses a `LambdaConfig` naming a function that has no endpoint: it could never be
    /// called, and every operation it triggers would fail.
    fn check_triggers_registered(&self, config: &PoolConfig) -> Result<(), UserPoolError> {
        for trigger in config.triggers()?.all() {
            if !self
                .functions()
                .is_some_and(|f| f.is_registered(&trigger.arn))
            {
                return Err(UserPoolError::invalid(format!(
                    "the {} trigger names function `{}`, which has no endpoint: register it with `gatehouse serve --function ARN=URL`, GATEHOUSE_FUNCTIONS, `[[functions]]` in the config file, or POST /gatehouse/functions",
                    trigger.kind.name(),
                    trigger.arn
                )));
            }
        }
        Ok(())
    }

    /// DescribeUserPool: the pool and its estimated number of users.
    pub async fn describe_user_pool(
        &self,
        pool_id: &str,
    ) -> Result<(UserPool, u64), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let count = self.store().users().count(pool_id).await?;
        Ok((pool, u64::try_from(count).unwrap_or(0)))
    }

    /// ListUserPools: `max_results` 1..=60 (required by Cognito), in id order.
    pub async fn list_user_pools(
        &self,
        max_results: u32,
        next_token: Option<&str>,
    ) -> Result<Page<UserPool>, UserPoolError> {
        self.list_user_pools_in(None, max_results, next_token).await
    }

    /// ListUserPools of one `region` (the pools whose id carries it), or of every region.
    pub async fn list_user_pools_in(
        &self,
        region: Option<&str>,
        max_results: u32,
        next_token: Option<&str>,
    ) -> Result<Page<UserPool>, UserPoolError> {
        if !(1..=MAX_PAGE).contains(&max_results) {
            return Err(UserPoolError::invalid(format!(
                "max results `{max_results}` must be between 1 and {MAX_PAGE}"
            )));
        }
        let after = next_token.map(decode_token).transpose()?;
        let pools = self.store().user_pools();
        let page = match region {
            Some(region) => {
                pools
                    .list_with_prefix(&format!("{region}_"), max_results, after.as_deref())
                    .await?
            }
            None => pools.list(max_results, after.as_deref()).await?,
        };
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|r| self.pool_from_record(r))
                .collect::<Result<_, _>>()?,
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// UpdateUserPool. As in Cognito, members the request leaves out return to their defaults,
    /// so `config` is the whole new configuration; the parts UpdateUserPool cannot change (the
    /// schema, username and alias attributes, username case sensitivity) are kept from the
    /// stored pool whatever `config` says.
    pub async fn update_user_pool(
        &self,
        pool_id: &str,
        mut config: PoolConfig,
    ) -> Result<UserPool, UserPoolError> {
        let current = self.user_pool(pool_id).await?;
        config.schema = current.config.schema;
        config.username_attributes = current.config.username_attributes;
        config.alias_attributes = current.config.alias_attributes;
        config.username_case_sensitive = current.config.username_case_sensitive;
        // Set only by SetUserPoolMfaConfig, which UpdateUserPool does not reset.
        config.software_token_mfa = current.config.software_token_mfa;
        config.email_mfa = current.config.email_mfa;
        config.validate()?;
        self.check_triggers_registered(&config)?;
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("pool configuration", e))?;
        let now = unix_millis(self.now());
        self.store()
            .user_pools()
            .update(pool_id, &current.name, &json, now)
            .await
            .map_err(|e| not_found_as(e, || pool_not_found(pool_id)))?;
        self.user_pool(pool_id).await
    }

    /// AddCustomAttributes: appends custom attributes to the pool's schema (1 to 25 at once,
    /// at most 50 in all); a name the schema holds already is refused, and nothing changes.
    pub async fn add_custom_attributes(
        &self,
        pool_id: &str,
        attributes: Vec<SchemaAttribute>,
    ) -> Result<UserPool, UserPoolError> {
        if !(1..=25).contains(&attributes.len()) {
            return Err(UserPoolError::invalid(
                "custom attributes must list 1 to 25 attributes",
            ));
        }
        let current = self.user_pool(pool_id).await?;
        let mut config = current.config.clone();
        for a in attributes {
            let custom = custom_attribute(a)?;
            if let Some(taken) = config.schema.iter().find(|s| s.name == custom.name) {
                return Err(existing_attribute(&custom, taken));
            }
            config.schema.push(custom);
        }
        config.validate()?;
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("pool configuration", e))?;
        let now = unix_millis(self.now());
        self.store()
            .user_pools()
            .update(pool_id, &current.name, &json, now)
            .await
            .map_err(|e| not_found_as(e, || pool_not_found(pool_id)))?;
        self.user_pool(pool_id).await
    }

    /// DeleteUserPool: refused while deletion protection is on; deletes everything in the pool.
    pub async fn delete_user_pool(&self, pool_id: &str) -> Result<(), UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        if pool.config.deletion_protection {
            return Err(UserPoolError::invalid(
                "the user pool cannot be deleted because deletion protection is activated",
            ));
        }
        self.store()
            .user_pools()
            .delete(pool_id)
            .await
            .map_err(|e| not_found_as(e, || pool_not_found(pool_id)))?;
        self.forget_ring(pool_id);
        Ok(())
    }
}

/// `ResourceNotFound` for a pool id.
pub(crate) fn pool_not_found(pool_id: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("User pool {pool_id} does not exist."))
}

/// Maps storage's `NotFound` to the caller's error, everything else as usual.
pub(crate) fn not_found_as(
    e: StorageError,
    not_found: impl FnOnce() -> UserPoolError,
) -> UserPoolError {
    match e {
        StorageError::NotFound { .. } => not_found(),
        other => other.into(),
    }
}
