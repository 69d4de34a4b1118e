//! Policy documents: the public types and their matchers; [`compile`] builds them from JSON and
//! [`lints`] adds the reviewer warnings.
//!
//! Choices where AWS leaves room (documented in the crate docs too):
//! - A statement without `Principal`/`NotPrincipal` (identity policy, boundary, session policy)
//!   needs exactly one of `Resource`/`NotResource`. A statement with a principal (resource-based
//!   or trust policy) may omit both: it then applies to whatever resource the policy is attached
//!   to, i.e. every resource.
//! - Element names (`Effect`, `Action`, …) are case-sensitive, as in AWS.
//! - Principals: `"*"`, `{"AWS": "*"}`, account ids, `arn:…:iam::ACCOUNT:root` (the whole account),
//!   IAM ARNs, service names, federated providers and canonical users; a partial wildcard is an
//!   error, as in AWS.

pub(crate) mod compile;
mod lints;
#[cfg(test)]
mod tests;

use crate::Request;
use crate::arn::{ArnPattern, SplitArn};
use crate::condition::Clause;
use crate::context::Context;
use crate::error::{Finding, PolicyError, Severity};
use crate::glob::Pattern;
use crate::json::{self, Node};

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`, and the meaning of a missing `Version`: `${…}` is literal text.
    V2008_10_17,
}

impl Version {
    /// `"2012-10-17"` or `"2008-10-17"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2012_10_17 => "2012-10-17",
            Self::V2008_10_17 => "2008-10-17",
        }
    }

    /// Whether `${…}` policy variables are substituted.
    pub fn supports_variables(self) -> bool {
        self == Self::V2012_10_17
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// `"Allow"` or `"Deny"`, as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

/// A parsed, validated and compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    version: Version,
    version_given: bool,
    id: Option<String>,
    statements: Vec<Statement>,
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    index: usize,
    sid: Option<String>,
    effect: Effect,
    action: Matchers<Pattern>,
    /// `None`: a principal-bearing statement without `Resource` (applies to any resource).
    resource: Option<Matchers<ArnPattern>>,
    principal: Option<PrincipalMatcher>,
    conditions: Box<[Clause]>,
}

/// An element and its `Not…` form: a list of patterns, and whether the list is negated.
#[derive(Debug, Clone)]
struct Matchers<T> {
    not: bool,
    patterns: Box<[T]>,
}

#[derive(Debug, Clone)]
struct PrincipalMatcher {
    not: bool,
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    everyone: bool,
    aws: Box<[AwsPrincipal]>,
    service: Box<[String]>,
    federated: Box<[String]>,
    canonical_user: Box<[String]>,
}

#[derive(Debug, Clone)]
enum AwsPrincipal {
    /// An account id (or the account's `root` ARN): every principal of that account.
    Account(String),
    /// An IAM role ARN: the role, and its sessions (`sts::…:assumed-role/NAME/…`).
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// Any other ARN, compared exactly.
    Arn(String),
}

/// The principal making a request, for `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An ARN (`arn:aws:iam::123456789012:user/alice`, `arn:aws:sts::…:assumed-role/R/s`) or an account id.
    Aws(String),
    /// A service such as `lambda.amazonaws.com`.
    Service(String),
    /// A federated provider such as `cognito-identity.amazonaws.com`.
    Federated(String),
    /// An S3 canonical user id.
    CanonicalUser(String),
    /// An unauthenticated caller: matched only by `"*"`.
    Anonymous,
}

// === impl Policy ===

impl Policy {
    /// Parses, validates (errors only) and compiles. Warnings are not errors: see [`crate::validate`].
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        compile_node(&json::parse_text(text)?)
    }

    /// Same as [`Policy::parse`] for an already parsed JSON value (which cannot hold duplicate keys).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, PolicyError> {
        compile_node(&json::from_value(value)?)
    }

    /// The version; a document without `Version` has 2008-10-17 semantics.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the document names its `Version` (if not, [`Policy::version`] is 2008-10-17).
    pub fn has_explicit_version(&self) -> bool {
        self.version_given
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

fn compile_node(node: &Node) -> Result<Policy, PolicyError> {
    let (policy, findings) = compile::analyze(node);
    let errors: Vec<Finding> = findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    match policy {
        Some(policy) if errors.is_empty() => Ok(policy),
        _ => Err(PolicyError::Invalid { findings: errors }),
    }
}

// === impl Statement ===

impl Statement {
    /// Position in the policy's `Statement` array (0 for a single statement object).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement has a `Principal` or `NotPrincipal` (a resource-based or trust policy statement).
    pub fn has_principal(&self) -> bool {
        self.principal.is_some()
    }

    /// Whether the statement has a `Condition` with at least one key.
    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// Whether the statement applies to the request: action, resource, principal and every
    /// condition match (its effect is then in force).
    pub fn applies(&self, request: &Request<'_>) -> bool {
        self.applies_prepared(&Prepared::new(request))
    }

    pub(crate) fn applies_prepared(&self, p: &Prepared<'_, '_>) -> bool {
        let action = match p.lowered_action() {
            Some(lowered) => self
                .action
                .patterns
                .iter()
                .any(|pat| pat.matches_lowered(lowered)),
            None => self
                .action
                .patterns
                .iter()
                .any(|pat| pat.matches(p.request.action, &EMPTY_CONTEXT)),
        };
        let context = p.request.context;
        action != self.action.not
            && self.resource.as_ref().is_none_or(|r| {
                r.patterns
                    .iter()
                    .any(|pat| pat.matches_split(&p.arn, context))
                    != r.not
            })
            && self
                .principal
                .as_ref()
                .is_none_or(|m| m.matches(p.request.principal) != m.not)
            && self.conditions.iter().all(|c| c.eval(context))
    }

    /// Whether the statement's `Principal` names this exact IAM user or role-session ARN (not a
    /// role, an account or `*`). AWS does not let a permissions boundary or a session policy
    /// limit such a resource-based grant.
    pub(crate) fn names_principal_directly(&self, principal: Option<&Principal>) -> bool {
        let (Some(matcher), Some(Principal::Aws(who))) = (&self.principal, principal) else {
            return false;
        };
        !matcher.not
            && matcher
                .aws
                .iter()
                .any(|p| matches!(p, AwsPrincipal::Arn(arn) if arn == who))
    }

    /// Whether the statement's `Principal` matched the caller only through an account entry
    /// (`123456789012` or `arn:aws:iam::123456789012:root`). AWS treats such a grant as a
    /// delegation to the account: the caller still needs an identity-based allow.
    pub(crate) fn grants_only_via_account(&self, principal: Option<&Principal>) -> bool {
        let (Some(matcher), Some(Principal::Aws(who))) = (&self.principal, principal) else {
            return false;
        };
        !matcher.not
            && !matcher.everyone
            && matcher
                .aws
                .iter()
                .filter(|p| p.matches(who))
                .all(|p| matches!(p, AwsPrincipal::Account(_)))
    }

    /// Whether `action` falls under `Action` (or outside `NotAction`).
    pub fn matches_action(&self, action: &str) -> bool {
        self.action
            .patterns
            .iter()
            .any(|p| p.matches(action, &EMPTY_CONTEXT))
            != self.action.not
    }
}

/// Actions longer than this are matched by folding case on every comparison instead.
const ACTION_BUFFER: usize = 128;

/// A request with the work every statement would otherwise repeat done once: the action
/// lowercased into a stack buffer and the resource ARN split into its six parts.
pub(crate) struct Prepared<'r, 'a> {
    request: &'r Request<'a>,
    action: [u8; ACTION_BUFFER],
    /// `None` when the action did not fit in the buffer.
    action_len: Option<usize>,
    arn: SplitArn<'a>,
}

impl<'r, 'a> Prepared<'r, 'a> {
    pub(crate) fn new(request: &'r Request<'a>) -> Self {
        let mut action = [0u8; ACTION_BUFFER];
        let source = request.action.as_bytes();
        let action_len = action.get_mut(..source.len()).map(|dest| {
            for (d, s) in dest.iter_mut().zip(source) {
                *d = s.to_ascii_lowercase();
            }
            source.len()
        });
        Self {
            request,
            action,
            action_len,
            arn: SplitArn::new(request.resource),
        }
    }

    pub(crate) fn principal(&self) -> Option<&'r Principal> {
        self.request.principal
    }

    fn lowered_action(&self) -> Option<&[u8]> {
        self.action.get(..self.action_len?)
    }
}

/// Actions never hold variables; matching them needs a context only for the signature.
const EMPTY_CONTEXT: Context = Context::EMPTY;

// === impl PrincipalMatcher ===

impl PrincipalMatcher {
    fn matches(&self, principal: Option<&Principal>) -> bool {
        if self.everyone {
            return true;
        }
        match principal {
            None | Some(Principal::Anonymous) => false,
            Some(Principal::Aws(who)) => self.aws.iter().any(|p| p.matches(who)),
            Some(Principal::Service(s)) => self.service.iter().any(|p| p.eq_ignore_ascii_case(s)),
            Some(Principal::Federated(s)) => {
                self.federated.iter().any(|p| p.eq_ignore_ascii_case(s))
            }
            Some(Principal::CanonicalUser(s)) => self.canonical_user.iter().any(|p| p == s),
        }
    }
}

impl AwsPrincipal {
    fn matches(&self, who: &str) -> bool {
        match self {
            Self::Account(account) => {
                who == account || arn_part(who, 4).is_some_and(|a| a == account)
            }
            Self::Role { arn, account, name } => {
                who == arn
                    || (arn_part(who, 2) == Some("sts")
                        && arn_part(who, 4) == Some(account.as_str())
                        && arn_part(who, 5)
                            .and_then(|r| r.strip_prefix("assumed-role/"))
                            .and_then(|r| r.split('/').next())
                            == Some(name.as_str()))
            }
            Self::Arn(arn) => who == arn,
        }
    }
}

/// The `n`th colon-separated part of an ARN (the sixth is the rest).
fn arn_part(arn: &str, n: usize) -> Option<&str> {
    if !arn.starts_with("arn:") {
        return None;
    }
    arn.splitn(6, ':').nth(n)
}
