//! gatehouse-identity: Cognito-compatible user pools and request authentication.
//!
//! # Job
//! User pools (sign-up, confirmation, password auth, tokens, JWKS), and later identity pools and
//! temporary credentials, plus SigV4 verification of signed requests. This file's modules are the
//! pure, storage-free foundations the service layer builds on:
//!
//! - [`sigv4`]: verifies AWS Signature Version 4 (header and presigned forms) on a transport-free
//!   request view, with the secret looked up by the caller between parse and verify.
//! - [`crypto`]: the master-key [`crypto::Sealer`] (AES-256-GCM, key ids for rotation), stored
//!   hashes of tokens and codes, constant-time comparison.
//! - [`net`]: the trusted proxies and the one client address both listeners resolve.
//! - [`rate_limit`]: the per-source-address limits of the unauthenticated operations.
//! - [`ids`]: pool ids, client ids and secrets, `sub` UUIDs, access keys, refresh tokens, codes.
//! - [`password`]: argon2id hashing on a bounded blocking pool and the pool password policy.
//! - [`srp`]: the server's half of Cognito's SRP-6a (`USER_SRP_AUTH`, device SRP).
//! - [`tokens`]: RS256 ID/access tokens with Cognito's claims, per-pool key rings, JWKS and OIDC
//!   discovery documents.
//! - [`https`]: the outbound HTTP client setup (rustls, the Mozilla roots plus extra ones),
//!   shared with the gateway's OIDC issuer client.
//!
//! The services: [`user_pools`]; [`identity_pools`] (Cognito Identity: identities and their
//! credentials); [`dynamodb`] (the row-level proxy to a DynamoDB-compatible upstream); [`iam`] (roles, managed policies, OpenID Connect providers, and the compiled
//! view requests are decided against); [`oauth2`] (the OAuth 2.0 / OpenID Connect provider of
//! the user pools: authorization codes, hosted sessions, the token endpoint, federation with
//! upstream providers); [`oidc`] (upstream OpenID Connect issuers: their keys and the one
//! verifier of their tokens, shared by identity pools and federation); [`sts`] (sealed temporary credentials, the verifier of
//! requests signed with them, GetCallerIdentity, AssumeRole).
//!
//! # Layers
//! As `DESIGN.md` describes, the crate keeps two layers apart:
//! - a **service layer**: plain async Rust (`UserPools::sign_up(…) -> Result<SignUpOutput,
//!   UserPoolError>`), used by the HTTP adapters, the hosted UI and the CLI alike, with time passed
//!   in and storage behind `gatehouse-storage`'s repository API;
//! - **adapters** under `http/` (`http/cognito.rs`, `http/oauth2.rs`, …) that only translate a wire
//!   format to service calls and each error enum to that wire format's error shape.
//!
//! # Must not depend on
//! `gatehouse-gateway`, `gatehouse-web` or the root binary (they depend on this crate), and
//! nothing outside the `http/` adapters names axum or any other HTTP framework. No sqlx here:
//! storage is reached only through `gatehouse-storage`. Nothing reads the clock: time is a
//! parameter (`now`).
pub mod clock;
pub mod crypto;
pub mod delivery;
pub mod dynamodb;
pub mod functions;
pub mod http;
pub mod https;
pub mod iam;
pub mod identity_pools;
pub mod ids;
pub mod net;
pub mod oauth2;
pub mod oidc;
pub mod password;
mod periodic;
pub mod rate_limit;
pub mod sigv4;
pub mod srp;
pub mod sts;
mod time;
pub mod tokens;
pub mod user_pools;
