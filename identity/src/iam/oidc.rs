//! OpenID Connect providers: CreateOpenIDConnectProvider, GetOpenIDConnectProvider,
//! ListOpenIDConnectProviders, DeleteOpenIDConnectProvider. A provider names an issuer whose
//! ID tokens AssumeRoleWithWebIdentity and identity pools accept, and the audiences
//! (client ids) they must carry. gatehouse fetches the issuer's keys itself, over TLS
//! verified with the usual roots (and the operator's extra roots), so thumbprints are kept
//! only to answer Get. The URL is `https://`, or `http://` only for a loopback host.

use std::time::SystemTime;

use gatehouse_storage::{OidcProviderRecord, StorageError};

use super::documents::{Tag, check_tags, tags_from_json, tags_json};
use super::{Iam, IamError};
use crate::time::{from_unix_millis, unix_millis};

/// Most client ids one provider lists (IAM's quota).
const MAX_CLIENT_IDS: usize = 100;
/// Most thumbprints one provider lists.
const MAX_THUMBPRINTS: usize = 5;

/// A registered OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    pub arn: String,
    /// The issuer without its scheme (`issuer.example/path`), as IAM keeps it.
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Vec<Tag>,
    pub created_at: SystemTime,
}

impl OidcProvider {
    pub(crate) fn from_record(r: OidcProviderRecord) -> Self {
        let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
        Self {
            client_ids: list(&r.client_ids),
            thumbprints: list(&r.thumbprints),
            tags: tags_from_json(&r.tags),
            arn: r.arn,
            url: r.url,
            created_at: from_unix_millis(r.created_at),
        }
    }

    /// The issuer as tokens carry it (`https://` + the stored URL).
    pub fn issuer(&self) -> String {
        format!("https://{}", self.url)
    }
}

/// The provider URL without its scheme or a final `/`: `https://` (IAM's rule) or, for a
/// development issuer on this machine, `http://` to a loopback host; a host, no query or
/// fragment.
fn normalise_url(url: &str) -> Result<String, IamError> {
    let invalid = || {
        IamError::InvalidInput("Invalid OpenID Connect provider URL: it must be https:// (http:// only on loopback) and a host, without a query or fragment".into())
    };
    let rest = match url.strip_prefix("https://") {
        Some(rest) => rest,
        None if is_loopback_url(url) => url.strip_prefix("http://").ok_or_else(invalid)?,
        None => return Err(invalid()),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty()
        || rest.len() > 255
        || rest.contains(['?', '#', ' ', '@'])
        || rest.starts_with('/')
    {
        return Err(invalid());
    }
    Ok(rest.to_owned())
}

/// Whether `url` (`scheme://host[:port][/path]`) names a loopback host.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Iam {
    /// CreateOpenIDConnectProvider.
    pub async fn create_oidc_provider(
        &self,
        url: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        tags: Vec<Tag>,
    ) -> Result<OidcProvider, IamError> {
        let url = normalise_url(url)?;
        if client_ids.len() > MAX_CLIENT_IDS
            || client_ids.iter().any(|c| c.is_empty() || c.len() > 255)
        {
            return Err(IamError::InvalidInput(format!(
                "a provider lists at most {MAX_CLIENT_IDS} client ids of 1 to 255 characters"
            )));
        }
        if thumbprints.len() > MAX_THUMBPRINTS
            || thumbprints
                .iter()
                .any(|t| t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(IamError::InvalidInput(format!(
                "a provider lists at most {MAX_THUMBPRINTS} thumbprints of 40 hex digits"
            )));
        }
        check_tags(&tags)?;
        let arn = format!("arn:aws:iam::{}:oidc-provider/{url}", self.account_id());
        let record = OidcProviderRecord {
            arn: arn.clone(),
            url,
            client_ids: serde_json::to_string(&client_ids).unwrap_or_else(|_| "[]".into()),
            thumbprints: serde_json::to_string(&thumbprints).unwrap_or_else(|_| "[]".into()),
            tags: tags_json(&tags),
            created_at: unix_millis(self.now()),
        };
        match self.store().iam().create_oidc_provider(&record).await {
            Ok(()) => {}
            Err(StorageError::Conflict { .. }) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Provider with url https://{} already exists.",
                    record.url
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await?;
        Ok(OidcProvider::from_record(record))
    }

    /// GetOpenIDConnectProvider.
    pub async fn get_oidc_provider(&self, arn: &str) -> Result<OidcProvider, IamError> {
        self.store()
            .iam()
            .get_oidc_provider(arn)
            .await?
            .map(OidcProvider::from_record)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
            })
    }

    /// ListOpenIDConnectProviders.
    pub async fn list_oidc_providers(&self) -> Result<Vec<OidcProvider>, IamError> {
        Ok(self
            .store()
            .iam()
            .list_oidc_providers()
            .await?
            .into_iter()
            .map(OidcProvider::from_record)
            .collect())
    }

    /// DeleteOpenIDConnectProvider.
    pub async fn delete_oidc_provider(&self, arn: &str) -> Result<(), IamError> {
        match self.store().iam().delete_oidc_provider(arn).await {
            Ok(()) => {}
            Err(StorageError::NotFound { .. }) => {
                return Err(IamError::NoSuchEntity(format!(
                    "OpenIDConnect Provider not found for arn {arn}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.rebuild().await
    }
}
