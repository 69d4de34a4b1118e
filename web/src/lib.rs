//! gatehouse-web: the hosted pages of the user pools — server-rendered, usable without
//! JavaScript — that `/oauth2/authorize` sends a browser to when it has no usable session.
//!
//! # Job
//! The sign-in page (`/{poolId}/login`, and `/login` on a pool's domain) and the page of
//! requests that cannot go back to the app ([`HostedPages`], the identity adapter's
//! `ErrorPages`). Every page carries the same headers ([`security`]): a `__Host-` cookie
//! pair (a pre-session cookie whose HMAC is each form's CSRF token, then the hosted session),
//! a Content-Security-Policy without inline script whose `form-action` also names the app's
//! callback origin (the browser follows the sign-in POST's redirect there),
//! `X-Frame-Options: DENY` and `Cache-Control: no-store`. The words are in [`strings`]; what
//! every page shares, and one file per page, in `pages`.
//!
//! # Must not depend on
//! `gatehouse-gateway` or the root binary; storage only through `gatehouse-identity`'s
//! services. Decisions (which request is valid, whether a password is right, lockouts) are
//! the identity crate's: the pages only show them.

mod pages;
mod security;
pub mod strings;

pub use pages::{HostedPages, WebState, router};
