//! Pool domains (CreateUserPoolDomain, DescribeUserPoolDomain, DeleteUserPoolDomain): where a
//! pool's OAuth endpoints and hosted pages are served by `Host`, besides under its issuer.
//! A prefix domain (`myapp`) is served as `myapp.{host of the public URL}` and as Cognito's
//! `myapp.auth.{region}.amazoncognito.com`; a custom domain (a whole host name, with
//! `CustomDomainConfig`) as itself. One domain per pool, each domain to one pool.

use gatehouse_storage::{DomainRecord, StorageError};

use super::{UserPoolError, UserPools};
use crate::time::unix_millis;

/// A pool's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPoolDomain {
    /// The prefix, or the custom domain's host name.
    pub domain: String,
    /// Its pool.
    pub pool_id: String,
    /// `CustomDomainConfig.CertificateArn` of a custom domain (stored as given: the
    /// listener's own certificate is what serves it).
    pub certificate_arn: Option<String>,
    /// The host name it is served as (the first of a prefix domain's forms).
    pub host: String,
}

/// Words a prefix may not contain (Cognito reserves them).
const RESERVED: &[&str] = &["aws", "amazon", "cognito"];

fn check_prefix(prefix: &str) -> Result<(), UserPoolError> {
    let bytes = prefix.as_bytes();
    let shape = (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if !shape {
        return Err(UserPoolError::invalid(format!(
            "domain `{prefix}` must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen"
        )));
    }
    if let Some(word) = RESERVED.iter().find(|w| prefix.contains(*w)) {
        return Err(UserPoolError::invalid(format!(
            "domain `{prefix}` cannot contain the reserved word `{word}`"
        )));
    }
    Ok(())
}

fn check_custom(domain: &str) -> Result<(), UserPoolError> {
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(UserPoolError::invalid(format!(
            "custom domain `{domain}` must be a lower-case host name"
        )))
    }
}

fn not_there() -> UserPoolError {
    UserPoolError::invalid("No such domain or user pool exists.")
}

impl UserPools {
    fn domain_from_record(&self, r: DomainRecord) -> UserPoolDomain {
        let certificate_arn = r.custom_config.as_deref().and_then(|c| {
            serde_json::from_str::<serde_json::Value>(c)
                .ok()
                .and_then(|v| {
                    v.get("certificate_arn")
                        .and_then(|a| a.as_str())
                        .map(str::to_owned)
                })
        });
        let host = if r.custom_config.is_some() {
            r.domain.clone()
        } else {
            let suffix = crate::oauth2::OAuth2::domain_suffixes_of(self.config())
                .into_iter()
                .next()
                .unwrap_or_default();
            format!("{}.{suffix}", r.domain)
        };
        UserPoolDomain {
            domain: r.domain,
            pool_id: r.pool_id,
            certificate_arn,
            host,
        }
    }

    /// CreateUserPoolDomain: a prefix domain, or with `certificate_arn` a custom domain.
    pub async fn create_user_pool_domain(
        &self,
        pool_id: &str,
        domain: &str,
        certificate_arn: Option<&str>,
    ) -> Result<UserPoolDomain, UserPoolError> {
        self.user_pool(pool_id).await?;
        let custom_config = match certificate_arn {
            Some(arn) => {
                check_custom(domain)?;
                if arn.is_empty() || arn.len() > 2048 {
                    return Err(UserPoolError::invalid(
                        "CustomDomainConfig.CertificateArn must be 1 to 2048 characters long",
                    ));
                }
                Some(serde_json::json!({ "certificate_arn": arn }).to_string())
            }
            None => {
                check_prefix(domain)?;
                None
            }
        };
        if self.store().domains().for_pool(pool_id).await?.is_some() {
            return Err(UserPoolError::invalid(
                "User pool already has a domain configured.",
            ));
        }
        let record = DomainRecord {
            domain: domain.to_owned(),
            pool_id: pool_id.to_owned(),
            custom_config,
            created_at: unix_millis(self.now()),
        };
        match self.store().domains().create(&record).await {
            Ok(()) => Ok(self.domain_from_record(record)),
            Err(StorageError::Conflict { .. }) => {
                Err(UserPoolError::invalid("Domain already exists."))
            }
            Err(StorageError::NotFound { .. }) => Err(super::pools::pool_not_found(pool_id)),
            Err(e) => Err(e.into()),
        }
    }

    /// DescribeUserPoolDomain: `None` for a domain nobody has (Cognito answers an empty
    /// description).
    pub async fn describe_user_pool_domain(
        &self,
        domain: &str,
    ) -> Result<Option<UserPoolDomain>, UserPoolError> {
        if domain.is_empty() || domain.len() > 253 {
            return Ok(None);
        }
        Ok(self
            .store()
            .domains()
            .get(domain)
            .await?
            .map(|r| self.domain_from_record(r)))
    }

    /// DeleteUserPoolDomain.
    pub async fn delete_user_pool_domain(
        &self,
        pool_id: &str,
        domain: &str,
    ) -> Result<(), UserPoolError> {
        self.user_pool(pool_id).await?;
        self.store()
            .domains()
            .delete(pool_id, domain)
            .await
            .map_err(|e| match e {
                StorageError::NotFound { .. } => not_there(),
                other => other.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_as_cognito_takes_them() {
        for ok in ["myapp", "my-app-2", "a", &"x".repeat(63)] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-app",
            "app-",
            "My",
            "my.app",
            "my_app",
            "awsome",
            "mycognito",
            &"x".repeat(64),
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert!(check_custom("login.example.com").is_ok());
        for bad in [
            "localhost",
            "Login.example.com",
            "a..b",
            "-a.example.com",
            "a b.example",
        ] {
            assert!(check_custom(bad).is_err(), "{bad}");
        }
    }
}
