//! The AWS IAM JSON policy language: parse, validate, compile and evaluate policies.
//!
//! Job: turn policy documents into compiled matchers once ([`Policy::parse`]), report errors
//! and reviewer warnings with JSON pointers ([`validate`]), and decide requests
//! ([`evaluate`]) the way AWS does, with the reasons attached.
//!
//! Must not depend on: HTTP, SQL, async, clock, I/O. The current time is a context key of the
//! request (`aws:CurrentTime`, `aws:EpochTime`); dependencies are serde, serde_json and thiserror.
//!
//! # Module map
//! - `json`: a JSON tree that keeps duplicate keys (AWS rejects them), with the size and depth limits.
//! - `policy`: the public document types ([`Policy`], [`Statement`], [`Effect`], [`Version`],
//!   [`Principal`]) and the compiler from JSON to matchers, which also produces every [`Finding`].
//! - `glob`: `*` / `?` patterns with policy variables, matched by a greedy single-backtrack
//!   algorithm (O(n·m) worst case, no regex); variables compare literally.
//! - `arn`: segment-wise ARN patterns for `Resource` and the `Arn…` operators.
//! - `condition`: every condition operator, `IfExists`, `ForAllValues:` / `ForAnyValue:`.
//! - `date`, `ip`, `base64`: value parsers for the `Date…`, `IpAddress` and `BinaryEquals` operators.
//! - [`calendar`]: calendar and epoch arithmetic and timestamp formats, for the whole workspace
//!   (this is the lowest crate; it stays pure: time comes in as a value).
//! - `context`: [`Context`], the request's condition keys.
//! - `evaluate`: [`evaluate`], [`Decision`] and the deny/allow/boundary/session rules.
//! - `error`: [`PolicyError`], [`Finding`], [`Severity`] and the stable finding [`codes`].
//!
//! # Limits
//! - [`MAX_POLICY_BYTES`] of text (128 KiB, whitespace included; AWS's own limits are smaller,
//!   e.g. 6 144 characters without whitespace for a managed policy, so every AWS policy fits).
//! - [`MAX_DEPTH`] levels of JSON nesting (a policy needs 7), [`MAX_STATEMENTS`] statements,
//!   [`MAX_VARIABLES`] distinct variables per value and [`MAX_VARIABLE_COMBINATIONS`] choices
//!   when variables are multi-valued.
//!
//! # Semantics worth knowing
//! - Missing `Version` means 2008-10-17: `${…}` is literal text (a warning says so).
//! - A statement without `Principal` needs `Resource` or `NotResource`; one with a principal
//!   (resource-based or trust policy) may omit both and then applies to every resource.
//! - Actions compare case-insensitively; resources per ARN segment: partition, service, region
//!   and account case-insensitive, the resource part case-sensitive; a `*` never crosses a colon
//!   except in the resource part, or when a pattern ends early with a `*` segment
//!   (`arn:aws:sns:*` covers every SNS ARN, as the IAM `Resource` docs allow); no wildcard in
//!   the service segment of a resource. The `Arn…` condition operators are case-sensitive, as
//!   AWS documents, and `ArnEquals` accepts wildcards exactly like `ArnLike`.
//! - Policy variables work in `Resource`/`NotResource` and condition values, never in `Action`.
//!   A substituted value is literal (its `*` is not a wildcard). An absent key (or empty set)
//!   without a default makes that entry not match. A multi-valued key matches when any of its
//!   values does.
//! - String comparison ignoring case folds ASCII letters only.
//! - Resource-based policies: same-account rules (an allow there or in an identity policy
//!   suffices); boundary and session policies restrict it unless it names the caller's exact
//!   user or session ARN; a grant to an account only delegates. See `evaluate` for details.

mod arn;
mod base64;
pub mod calendar;
mod condition;
mod context;
mod date;
mod error;
mod evaluate;
mod glob;
mod ip;
mod json;
mod policy;

pub use context::Context;
pub use error::{Finding, PolicyError, Severity, codes};
pub use evaluate::{
    Decision, INLINE_MATCHES, MatchedList, MatchedStatement, Outcome, PolicySet, PolicySource,
    Request, evaluate,
};
pub use glob::{MAX_VARIABLE_COMBINATIONS, MAX_VARIABLES};
pub use policy::{Effect, Policy, Principal, Statement, Version};

/// Largest policy text accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 128 * 1024;
/// Deepest JSON nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most statements in one policy.
pub const MAX_STATEMENTS: usize = 1000;

/// Every problem in a policy document, errors and reviewer warnings, in document order.
///
/// Text that is not JSON, too large or too deep gives one error at the document root.
pub fn validate(text: &str) -> Vec<Finding> {
    match json::parse_text(text) {
        Ok(node) => policy::compile::analyze(&node).1,
        Err(e) => e.findings(),
    }
}

/// [`validate`] for an already parsed JSON value.
pub fn validate_value(value: &serde_json::Value) -> Vec<Finding> {
    match json::from_value(value) {
        Ok(node) => policy::compile::analyze(&node).1,
        Err(e) => e.findings(),
    }
}
