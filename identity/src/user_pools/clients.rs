//! App-client operations (CreateUserPoolClient, DescribeUserPoolClient, ListUserPoolClients,
//! UpdateUserPoolClient, DeleteUserPoolClient), the client loaders, and `SECRET_HASH`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_storage::{ClientRecord, StorageError};

use super::pools::{MAX_PAGE, decode_token, encode_token, not_found_as, page_size, pool_not_found};
use super::{Client, ClientConfig, Page, UserPool, UserPoolError, UserPools};
use crate::crypto::constant_time_eq;
use crate::time::{from_unix_millis, unix_millis};

/// What CreateUserPoolClient needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// `ClientName`.
    pub name: String,
    /// `GenerateSecret`.
    pub generate_secret: bool,
    /// Everything else.
    pub config: ClientConfig,
}

/// `SECRET_HASH` = Base64(HMAC-SHA256(client_secret, username + client_id)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(username.as_bytes());
    ctx.update(client_id.as_bytes());
    STANDARD.encode(ctx.sign().as_ref())
}

fn secret_aad(pool_id: &str, client_id: &str) -> Vec<u8> {
    format!("gatehouse client secret v1|{pool_id}|{client_id}").into_bytes()
}

fn check_client_name(name: &str) -> Result<(), UserPoolError> {
    let len = name.chars().count();
    if !(1..=128).contains(&len)
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c))
    {
        return Err(UserPoolError::invalid(format!(
            "client name `{name}` must be 1 to 128 letters, digits, spaces or `_+=,.@-`"
        )));
    }
    Ok(())
}

pub(super) fn client_not_found(client_id: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("User pool client {client_id} does not exist."))
}

impl UserPools {
    fn client_from_record(&self, r: ClientRecord) -> Result<Client, UserPoolError> {
        let config: ClientConfig = serde_json::from_str(&r.config)
            .map_err(|e| UserPoolError::internal("stored client configuration", e))?;
        let secret = match &r.secret {
            Some(sealed) => {
                let plain = self
                    .sealer()
                    .open(sealed, &secret_aad(&r.pool_id, &r.id))
                    .map_err(|e| UserPoolError::internal("client secret", e))?;
                Some(
                    String::from_utf8(plain)
                        .map_err(|e| UserPoolError::internal("client secret", e))?,
                )
            }
            None => None,
        };
        Ok(Client {
            id: r.id,
            pool_id: r.pool_id,
            name: r.name,
            secret,
            config,
            created_at: from_unix_millis(r.created_at),
            updated_at: from_unix_millis(r.updated_at),
        })
    }

    /// The client of this pool, or `ResourceNotFound` (also when it belongs to another pool).
    pub async fn pool_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Client, UserPoolError> {
        match self.store().clients().get(client_id).await? {
            Some(r) if r.pool_id == pool_id => self.client_from_record(r),
            _ => Err(client_not_found(client_id)),
        }
    }

    /// The client and its pool, for public operations that name only a client id.
    pub async fn app_client(&self, client_id: &str) -> Result<(UserPool, Client), UserPoolError> {
        let record = self
            .store()
            .clients()
            .get(client_id)
            .await?
            .ok_or_else(|| client_not_found(client_id))?;
        let pool = self.user_pool(&record.pool_id).await?;
        Ok((pool, self.client_from_record(record)?))
    }

    /// Checks `SECRET_HASH` for clients with a secret (required then); clients without one
    /// ignore it.
    pub fn check_secret_hash(
        &self,
        client: &Client,
        username: &str,
        provided: Option<&str>,
    ) -> Result<(), UserPoolError> {
        let Some(secret) = &client.secret else {
            return Ok(());
        };
        let Some(provided) = provided else {
            return Err(UserPoolError::NotAuthorized(format!(
                "Client {} is configured for secret but secret was not received",
                client.id
            )));
        };
        let expected = secret_hash(secret, username, &client.id);
        if constant_time_eq(expected.as_bytes(), provided.as_bytes()) {
            Ok(())
        } else {
            Err(UserPoolError::NotAuthorized(format!(
                "Unable to verify secret hash for client {}",
                client.id
            )))
        }
    }

    async fn check_client_config(
        &self,
        pool: &UserPool,
        config: &ClientConfig,
        has_secret: bool,
    ) -> Result<(), UserPoolError> {
        config.validate()?;
        self.check_oauth_scopes(pool, config, has_secret).await?;
        for provider in &config.supported_identity_providers {
            if provider != crate::oauth2::COGNITO_PROVIDER
                && self.identity_provider(&pool.id, provider).await?.is_none()
            {
                return Err(UserPoolError::invalid(format!(
                    "The provider {provider} does not exist for User Pool {}",
                    pool.id
                )));
            }
        }
        for name in config
            .read_attributes
            .iter()
            .chain(&config.write_attributes)
        {
            if pool.config.attribute(name).is_none() {
                return Err(UserPoolError::invalid(format!(
                    "invalid read or write attribute: `{name}` is not in the pool schema"
                )));
            }
        }
        Ok(())
    }

    /// `AllowedOAuthScopes`: each standard or a scope of one of the pool's resource servers
    /// (`ScopeDoesNotExistException`); `client_credentials` only for a client with a secret
    /// and only with resource-server scopes.
    async fn check_oauth_scopes(
        &self,
        pool: &UserPool,
        config: &ClientConfig,
        has_secret: bool,
    ) -> Result<(), UserPoolError> {
        if config.allowed_oauth_scopes.is_empty() {
            return Ok(());
        }
        let custom = self.resource_scopes(&pool.id).await?;
        for scope in &config.allowed_oauth_scopes {
            if !crate::oauth2::STANDARD_SCOPES.contains(&scope.as_str()) && !custom.contains(scope)
            {
                return Err(UserPoolError::ScopeDoesNotExist(format!(
                    "Invalid scope requested: {scope}"
                )));
            }
        }
        if config
            .allowed_oauth_flows
            .contains(&super::config::OAuthFlow::ClientCredentials)
        {
            if !has_secret {
                return Err(UserPoolError::InvalidOAuthFlow(
                    "client_credentials flow can not be selected if client does not have a client secret."
                        .into(),
                ));
            }
            if config
                .allowed_oauth_scopes
                .iter()
                .any(|s| !custom.contains(s))
            {
                return Err(UserPoolError::InvalidOAuthFlow(
                    "client_credentials flow can only be used with resource server scopes".into(),
                ));
            }
        }
        Ok(())
    }

    /// CreateUserPoolClient.
    pub async fn create_user_pool_client(
        &self,
        pool_id: &str,
        new: NewClient,
    ) -> Result<Client, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        check_client_name(&new.name)?;
        self.check_client_config(&pool, &new.config, new.generate_secret)
            .await?;
        let now = unix_millis(self.now());
        let id = crate::ids::client_id();
        let secret = if new.generate_secret {
            let s = crate::ids::client_secret();
            Some(
                self.sealer()
                    .seal(s.as_bytes(), &secret_aad(pool_id, &id))
                    .map_err(|e| UserPoolError::internal("client secret", e))?,
            )
        } else {
            None
        };
        let record = ClientRecord {
            id,
            pool_id: pool_id.to_owned(),
            name: new.name,
            secret,
            config: serde_json::to_string(&new.config)
                .map_err(|e| UserPoolError::internal("client configuration", e))?,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .clients()
            .create(&record)
            .await
            .map_err(|e| not_found_as(e, || pool_not_found(pool_id)))?;
        self.client_from_record(record)
    }

    /// DescribeUserPoolClient (the secret included, as Cognito returns it).
    pub async fn describe_user_pool_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Client, UserPoolError> {
        self.user_pool(pool_id).await?;
        self.pool_client(pool_id, client_id).await
    }

    /// ListUserPoolClients: `max_results` 1..=60 (default 60).
    pub async fn list_user_pool_clients(
        &self,
        pool_id: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<Client>, UserPoolError> {
        let limit = page_size(max_results, MAX_PAGE, "max results")?;
        self.user_pool(pool_id).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .clients()
            .list(pool_id, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|r| self.client_from_record(r))
                .collect::<Result<_, _>>()?,
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// UpdateUserPoolClient. As in Cognito, `config` replaces the whole configuration (members
    /// the request omits return to their defaults); the name is kept when `name` is `None`;
    /// the secret never changes.
    pub async fn update_user_pool_client(
        &self,
        pool_id: &str,
        client_id: &str,
        name: Option<&str>,
        config: ClientConfig,
    ) -> Result<Client, UserPoolError> {
        let pool = self.user_pool(pool_id).await?;
        let current = self.pool_client(pool_id, client_id).await?;
        let name = name.unwrap_or(&current.name);
        check_client_name(name)?;
        self.check_client_config(&pool, &config, current.secret.is_some())
            .await?;
        let json = serde_json::to_string(&config)
            .map_err(|e| UserPoolError::internal("client configuration", e))?;
        self.store()
            .clients()
            .update(pool_id, client_id, name, &json, unix_millis(self.now()))
            .await
            .map_err(|e| not_found_as(e, || client_not_found(client_id)))?;
        self.pool_client(pool_id, client_id).await
    }

    /// DeleteUserPoolClient (its refresh tokens go with it).
    pub async fn delete_user_pool_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<(), UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .clients()
            .delete(pool_id, client_id)
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => client_not_found(client_id),
                other => other.into(),
            })
    }
}
