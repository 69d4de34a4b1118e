//! The session token of temporary credentials: everything a verifier needs, sealed with the
//! master key, so any node verifies a request signed with the credentials without a database
//! read.
//!
//! # Format
//! `SessionToken` = standard base64 of a [`crate::crypto::Sealer`] blob (AES-256-GCM, the
//! master key's id in the header so keys rotate) whose plaintext is the JSON of
//! [`SessionClaims`]: format version, the access key id, the secret access key, the role
//! (name, id, ARN), the session name, the Cognito identity and pool or the web identity's
//! claims, the session policy (by reference for the documented guest scope-down, else
//! inline) and session policy ARNs, session tags, and the issue and expiry times.
//!
//! The additional authenticated data is `gatehouse session token v1|{AccessKeyId}`: a token
//! opens only next to the access key it was issued with, so tokens cannot be swapped
//! between credentials, and any change to a byte of the token fails authentication.
//! The secret never leaves the blob except to the client that was issued it; the master key
//! is what protects it at rest and in transit through clients.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, Sealer};
use crate::iam::Tag;

/// The current plaintext format.
const FORMAT: u8 = 1;
/// The AAD prefix; the access key id follows.
const AAD_PREFIX: &str = "gatehouse session token v1|";

/// Where a session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSource {
    /// GetCredentialsForIdentity (Cognito identity pools, the enhanced flow).
    CognitoIdentity,
    /// AssumeRoleWithWebIdentity.
    WebIdentity,
    /// AssumeRole.
    AssumeRole,
}

/// A session policy carried by the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPolicy {
    /// The scope-down Cognito applies to guests ([`super::GUEST_SESSION_POLICY`]), by
    /// reference: it is the same for every guest.
    CognitoGuest,
    /// A policy passed to AssumeRole or AssumeRoleWithWebIdentity.
    Inline(String),
}

/// What a session token carries (see the module docs).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    #[serde(rename = "v")]
    pub format: u8,
    #[serde(rename = "k")]
    pub access_key_id: String,
    #[serde(rename = "s")]
    pub secret_access_key: String,
    pub source: SessionSource,
    pub role_name: String,
    pub role_id: String,
    pub role_arn: String,
    pub session_name: String,
    /// The Cognito identity (`cognito-identity.amazonaws.com:sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    /// The identity pool (`cognito-identity.amazonaws.com:aud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_pool_id: Option<String>,
    /// `cognito-identity.amazonaws.com:amr`: `authenticated` or `unauthenticated`, then the
    /// login providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Other condition keys a web identity brings (`{issuer}:sub`, `{issuer}:aud`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_identity_keys: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<SessionPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags: `aws:PrincipalTag/*`, over the role's tags of the same key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("source", &self.source)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("identity_id", &self.identity_id)
            .field("identity_pool_id", &self.identity_pool_id)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a session token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// Not base64, sealed under an unknown key, tampered with, issued with another access
    /// key, or of an unknown format.
    #[error("the security token included in the request is invalid")]
    Invalid,
}

fn aad(access_key_id: &str) -> Vec<u8> {
    format!("{AAD_PREFIX}{access_key_id}").into_bytes()
}

impl SessionClaims {
    /// The format version this build writes.
    pub const FORMAT: u8 = FORMAT;

    /// The session token for these claims.
    pub fn seal(&self, sealer: &Sealer) -> Result<String, CryptoError> {
        let plaintext = serde_json::to_vec(self).map_err(|_| CryptoError::Malformed)?;
        Ok(STANDARD.encode(sealer.seal(&plaintext, &aad(&self.access_key_id))?))
    }

    /// Opens `token` presented with `access_key_id`.
    pub fn open(sealer: &Sealer, access_key_id: &str, token: &str) -> Result<Self, TokenRefusal> {
        let blob = STANDARD
            .decode(token.trim())
            .map_err(|_| TokenRefusal::Invalid)?;
        let plaintext = sealer
            .open(&blob, &aad(access_key_id))
            .map_err(|_| TokenRefusal::Invalid)?;
        let claims: Self = serde_json::from_slice(&plaintext).map_err(|_| TokenRefusal::Invalid)?;
        if claims.format != FORMAT || claims.access_key_id != access_key_id {
            return Err(TokenRefusal::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn claims() -> SessionClaims {
        SessionClaims {
            format: FORMAT,
            access_key_id: "ASIAEXAMPLE000000000".into(),
            secret_access_key: "secret/secret/secret".into(),
            source: SessionSource::CognitoIdentity,
            role_name: "Auth".into(),
            role_id: "AROAEXAMPLE".into(),
            role_arn: "arn:aws:iam::000000000000:role/Auth".into(),
            session_name: "CognitoIdentityCredentials".into(),
            identity_id: Some("us-east-1:abc".into()),
            identity_pool_id: Some("us-east-1:pool".into()),
            amr: vec!["authenticated".into()],
            web_identity_keys: Vec::new(),
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
        }
    }

    fn sealer(id: &str) -> Sealer {
        Sealer::new(&MasterKey::generate(id).unwrap(), &[]).unwrap()
    }

    #[test]
    fn a_token_opens_only_whole_with_its_key_and_its_access_key() {
        let sealer = sealer("k1");
        let c = claims();
        let token = c.seal(&sealer).unwrap();
        assert_eq!(
            SessionClaims::open(&sealer, &c.access_key_id, &token).unwrap(),
            c
        );
        assert!(
            !token.contains("secret"),
            "the secret is sealed, not visible"
        );

        // Another access key id, a flipped byte, a foreign master key, junk.
        let mut bytes = STANDARD.decode(&token).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = STANDARD.encode(bytes);
        let cases: Vec<(&Sealer, &str, String)> = vec![
            (&sealer, "ASIAOTHER00000000000", token.clone()),
            (&sealer, &c.access_key_id, tampered),
            (&sealer, &c.access_key_id, "not base64 !".into()),
            (&sealer, &c.access_key_id, String::new()),
        ];
        for (s, key, t) in cases {
            assert_eq!(
                SessionClaims::open(s, key, &t),
                Err(TokenRefusal::Invalid),
                "{key} {t:.20}"
            );
        }
        let other = self::sealer("k2");
        assert_eq!(
            SessionClaims::open(&other, &c.access_key_id, &token),
            Err(TokenRefusal::Invalid)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", claims()).contains("secret/secret"));
    }
}
