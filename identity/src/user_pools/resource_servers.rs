//! Resource servers (CreateResourceServer, DescribeResourceServer, UpdateResourceServer,
//! ListResourceServers, DeleteResourceServer): an API's identifier and its custom scopes,
//! which app clients may be allowed (`{identifier}/{scope}`) and client-credentials tokens
//! carry. Checked as Cognito checks them.

use gatehouse_storage::{ResourceServerRecord, StorageError};
use serde::{Deserialize, Serialize};

use super::pools::{decode_token, encode_token, page_size};
use super::{Page, UserPoolError, UserPools};
use crate::time::unix_millis;

/// Most scopes one resource server may declare (Cognito's quota).
pub const MAX_RESOURCE_SERVER_SCOPES: usize = 100;
/// Most resource servers a page of ListResourceServers holds.
pub const MAX_RESOURCE_SERVERS_PAGE: u32 = 50;

/// One custom scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceServerScope {
    /// `ScopeName`.
    pub name: String,
    /// `ScopeDescription`.
    pub description: String,
}

/// A resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    /// Its pool.
    pub pool_id: String,
    /// `Identifier`.
    pub identifier: String,
    /// `Name`.
    pub name: String,
    /// `Scopes`.
    pub scopes: Vec<ResourceServerScope>,
}

impl ResourceServer {
    /// The full names of its scopes, as clients are allowed them: `{identifier}/{name}`.
    pub fn full_scopes(&self) -> impl Iterator<Item = String> + '_ {
        self.scopes
            .iter()
            .map(|s| format!("{}/{}", self.identifier, s.name))
    }
}

fn not_found(identifier: &str) -> UserPoolError {
    UserPoolError::ResourceNotFound(format!("Resource server {identifier} does not exist."))
}

fn check_length(member: &str, value: &str) -> Result<(), UserPoolError> {
    if (1..=256).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(UserPoolError::invalid(format!(
            "{member} must be 1 to 256 characters long"
        )))
    }
}

/// Cognito's patterns: an identifier is printable ASCII without `"` or `\`; a scope name also
/// without `/`; a name is letters, digits, spaces and `+=,.@-`.
fn check(
    identifier: Option<&str>,
    name: &str,
    scopes: &[ResourceServerScope],
) -> Result<(), UserPoolError> {
    if let Some(identifier) = identifier {
        check_length("Identifier", identifier)?;
        if !identifier
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(UserPoolError::invalid(
                "Identifier must be printable ASCII without spaces, `\"` or `\\`",
            ));
        }
    }
    check_length("Name", name)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c))
    {
        return Err(UserPoolError::invalid(
            "Name must be letters, digits, spaces or `_+=,.@-`",
        ));
    }
    if scopes.len() > MAX_RESOURCE_SERVER_SCOPES {
        return Err(UserPoolError::invalid(format!(
            "a resource server has at most {MAX_RESOURCE_SERVER_SCOPES} scopes"
        )));
    }
    for (i, scope) in scopes.iter().enumerate() {
        check_length("ScopeName", &scope.name)?;
        check_length("ScopeDescription", &scope.description)?;
        if !scope
            .name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'"' | b'\\' | b'/'))
        {
            return Err(UserPoolError::invalid(format!(
                "scope name `{}` must be printable ASCII without spaces, `\"`, `/` or `\\`",
                scope.name
            )));
        }
        if scopes.iter().take(i).any(|s| s.name == scope.name) {
            return Err(UserPoolError::invalid(format!(
                "scope `{}` is listed twice",
                scope.name
            )));
        }
    }
    Ok(())
}

fn from_record(r: ResourceServerRecord) -> Result<ResourceServer, UserPoolError> {
    Ok(ResourceServer {
        scopes: serde_json::from_str(&r.scopes)
            .map_err(|e| UserPoolError::internal("stored resource server", e))?,
        pool_id: r.pool_id,
        identifier: r.identifier,
        name: r.name,
    })
}

fn scopes_json(scopes: &[ResourceServerScope]) -> Result<String, UserPoolError> {
    serde_json::to_string(scopes).map_err(|e| UserPoolError::internal("resource server", e))
}

impl UserPools {
    /// CreateResourceServer.
    pub async fn create_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ResourceServerScope>,
    ) -> Result<ResourceServer, UserPoolError> {
        self.user_pool(pool_id).await?;
        check(Some(identifier), name, &scopes)?;
        let now = unix_millis(self.now());
        let record = ResourceServerRecord {
            pool_id: pool_id.to_owned(),
            identifier: identifier.to_owned(),
            name: name.to_owned(),
            scopes: scopes_json(&scopes)?,
            created_at: now,
            updated_at: now,
        };
        match self.store().resource_servers().create(&record).await {
            Ok(()) => from_record(record),
            Err(StorageError::Conflict { .. }) => Err(UserPoolError::invalid(format!(
                "a resource server with identifier {identifier} already exists in this user pool"
            ))),
            Err(StorageError::NotFound { .. }) => Err(super::pools::pool_not_found(pool_id)),
            Err(e) => Err(e.into()),
        }
    }

    /// DescribeResourceServer.
    pub async fn describe_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<ResourceServer, UserPoolError> {
        self.user_pool(pool_id).await?;
        match self
            .store()
            .resource_servers()
            .get(pool_id, identifier)
            .await?
        {
            Some(r) => from_record(r),
            None => Err(not_found(identifier)),
        }
    }

    /// UpdateResourceServer: name and scopes replaced whole (as Cognito: scopes the request
    /// omits are gone; clients allowed them keep the names, which no longer grant anything).
    pub async fn update_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ResourceServerScope>,
    ) -> Result<ResourceServer, UserPoolError> {
        self.user_pool(pool_id).await?;
        check(None, name, &scopes)?;
        self.store()
            .resource_servers()
            .update(
                pool_id,
                identifier,
                name,
                &scopes_json(&scopes)?,
                unix_millis(self.now()),
            )
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => not_found(identifier),
                other => other.into(),
            })?;
        Ok(ResourceServer {
            pool_id: pool_id.to_owned(),
            identifier: identifier.to_owned(),
            name: name.to_owned(),
            scopes,
        })
    }

    /// ListResourceServers: `max_results` 1..=50.
    pub async fn list_resource_servers(
        &self,
        pool_id: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<Page<ResourceServer>, UserPoolError> {
        let limit = page_size(max_results, MAX_RESOURCE_SERVERS_PAGE, "max results")?;
        self.user_pool(pool_id).await?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .store()
            .resource_servers()
            .list(pool_id, limit, after.as_deref())
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(from_record)
                .collect::<Result<_, _>>()?,
            next: page.next.as_deref().map(encode_token),
        })
    }

    /// DeleteResourceServer.
    pub async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<(), UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .resource_servers()
            .delete(pool_id, identifier)
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => not_found(identifier),
                other => other.into(),
            })
    }

    /// Every custom scope of the pool, as `{identifier}/{name}`.
    pub async fn resource_scopes(&self, pool_id: &str) -> Result<Vec<String>, UserPoolError> {
        let mut out = Vec::new();
        for record in self.store().resource_servers().all(pool_id).await? {
            out.extend(from_record(record)?.full_scopes());
        }
        Ok(out)
    }
}
