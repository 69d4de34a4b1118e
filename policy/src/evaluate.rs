//! The decision: which statements apply to a request, and what they add up to.
//!
//! Rules (AWS "Policy evaluation logic", single account):
//! 1. An explicit `Deny` in any applicable policy (identity, boundary, session, resource) wins.
//! 2. Otherwise the request is allowed when an identity policy **or** a resource-based policy
//!    whose `Principal` names the caller allows it (same-account rule: either grant suffices),
//!    **and** the permissions boundary (if any) allows it, **and** every session policy allows it.
//!    Exception, as AWS documents for boundaries and session policies: a resource-based grant
//!    whose `Principal` is the caller's exact IAM user ARN or role-session ARN
//!    (`arn:aws:sts::…:assumed-role/ROLE/SESSION`) is not limited by them. A grant to the role
//!    ARN, the account or `*` is limited. A grant whose `Principal` matches the caller only as
//!    an account (`123456789012`, `arn:aws:iam::123456789012:root`) delegates to that account
//!    and grants nothing by itself: an identity policy must allow too.
//! 3. Anything else is an implicit deny.
//!
//! Evaluation records every applicable statement (both effects) without allocating for the
//! first [`INLINE_MATCHES`] of them.

use std::fmt;
use std::ops::Deref;

use crate::context::Context;
use crate::policy::{Effect, Policy, Prepared, Principal};

/// How many matched statements a [`Decision`] holds before it allocates.
pub const INLINE_MATCHES: usize = 8;

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `service:Action`, such as `dynamodb:GetItem` (case-insensitive).
    pub action: &'a str,
    /// The resource ARN.
    pub resource: &'a str,
    /// The caller, for `Principal` / `NotPrincipal`; `None` is matched like an anonymous caller.
    pub principal: Option<&'a Principal>,
    /// Condition keys, including `aws:CurrentTime` / `aws:EpochTime`: this crate reads no clock.
    pub context: &'a Context,
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'p> {
    /// Identity-based policies (of the user, role or group).
    pub identity: Vec<&'p Policy>,
    /// The permissions boundary, if any.
    pub boundary: Option<&'p Policy>,
    /// Session policies; each one must allow.
    pub session: Vec<&'p Policy>,
    /// Resource-based policies; their `Principal` is matched against [`Request::principal`].
    pub resource: Vec<&'p Policy>,
}

/// Where a matched statement comes from; the number is the position in the [`PolicySet`] vec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    Identity(usize),
    Boundary,
    Session(usize),
    Resource(usize),
}

/// A statement that applied to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatchedStatement<'p> {
    pub source: PolicySource,
    /// Position in the policy's `Statement` array.
    pub index: usize,
    pub sid: Option<&'p str>,
    pub effect: Effect,
}

/// The outcome, in the words of `aws iam simulate-custom-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Outcome {
    /// `"allowed"`, `"explicitDeny"` or `"implicitDeny"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of [`evaluate`]: the outcome and every statement that applied (the reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'p> {
    pub outcome: Outcome,
    pub matched: MatchedList<'p>,
}

impl Decision<'_> {
    /// `outcome == Outcome::Allowed`.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }
}

/// A list of matched statements, inline up to [`INLINE_MATCHES`]; derefs to a slice.
#[derive(Clone)]
pub struct MatchedList<'p> {
    inline: [MatchedStatement<'p>; INLINE_MATCHES],
    len: usize,
    /// Holds everything once the inline array is full.
    spill: Vec<MatchedStatement<'p>>,
}

const PLACEHOLDER: MatchedStatement<'static> = MatchedStatement {
    source: PolicySource::Boundary,
    index: 0,
    sid: None,
    effect: Effect::Deny,
};

impl<'p> MatchedList<'p> {
    /// An empty list (no allocation).
    pub fn new() -> Self {
        Self {
            inline: [PLACEHOLDER; INLINE_MATCHES],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Appends a statement.
    pub fn push(&mut self, statement: MatchedStatement<'p>) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = statement;
                self.len += 1;
                return;
            }
            self.spill.reserve(self.len * 2);
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(statement);
    }

    /// The statements as a slice.
    pub fn as_slice(&self) -> &[MatchedStatement<'p>] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        }
    }
}

impl Default for MatchedList<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'p> Deref for MatchedList<'p> {
    type Target = [MatchedStatement<'p>];

    fn deref(&self) -> &Self::Target {
        self.as_slice()
    }
}

impl fmt::Debug for MatchedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for MatchedList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for MatchedList<'_> {}

impl<'p> PartialEq<[MatchedStatement<'p>]> for MatchedList<'p> {
    fn eq(&self, other: &[MatchedStatement<'p>]) -> bool {
        self.as_slice() == other
    }
}

impl<'p> PartialEq<Vec<MatchedStatement<'p>>> for MatchedList<'p> {
    fn eq(&self, other: &Vec<MatchedStatement<'p>>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<'a, 'p> IntoIterator for &'a MatchedList<'p> {
    type Item = &'a MatchedStatement<'p>;
    type IntoIter = std::slice::Iter<'a, MatchedStatement<'p>>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'p> FromIterator<MatchedStatement<'p>> for MatchedList<'p> {
    fn from_iter<I: IntoIterator<Item = MatchedStatement<'p>>>(iter: I) -> Self {
        let mut list = Self::new();
        for s in iter {
            list.push(s);
        }
        list
    }
}

/// What one policy says about a request.
#[derive(Clone, Copy, Default)]
struct Verdict {
    allow: bool,
    deny: bool,
    /// An allow from a resource-based statement naming the caller's exact user or session ARN.
    direct_allow: bool,
}

fn scan<'p>(
    policy: &'p Policy,
    source: PolicySource,
    request: &Prepared<'_, '_>,
    matched: &mut MatchedList<'p>,
) -> Verdict {
    let mut verdict = Verdict::default();
    for statement in policy.statements() {
        if statement.applies_prepared(request) {
            match statement.effect() {
                Effect::Allow => {
                    let resource = matches!(source, PolicySource::Resource(_));
                    // A grant to the whole account only delegates: an identity policy must allow.
                    if !(resource && statement.grants_only_via_account(request.principal())) {
                        verdict.allow = true;
                    }
                    if resource && statement.names_principal_directly(request.principal()) {
                        verdict.direct_allow = true;
                    }
                }
                Effect::Deny => verdict.deny = true,
            }
            matched.push(MatchedStatement {
                source,
                index: statement.index(),
                sid: statement.sid(),
                effect: statement.effect(),
            });
        }
    }
    verdict
}

/// Decides a request against a set of policies. Never fails: anything that cannot match is
/// simply not a reason to allow.
pub fn evaluate<'p>(set: &PolicySet<'p>, request: &Request<'_>) -> Decision<'p> {
    let request = &Prepared::new(request);
    let mut matched = MatchedList::new();
    let mut deny = false;
    let mut granted = false;
    let mut direct = false;
    for (i, policy) in set.identity.iter().enumerate() {
        let v = scan(policy, PolicySource::Identity(i), request, &mut matched);
        deny |= v.deny;
        granted |= v.allow;
    }
    for (i, policy) in set.resource.iter().enumerate() {
        let v = scan(policy, PolicySource::Resource(i), request, &mut matched);
        deny |= v.deny;
        granted |= v.allow;
        direct |= v.direct_allow;
    }
    let mut bounded = true;
    if let Some(boundary) = set.boundary {
        let v = scan(boundary, PolicySource::Boundary, request, &mut matched);
        deny |= v.deny;
        bounded = v.allow;
    }
    for (i, policy) in set.session.iter().enumerate() {
        let v = scan(policy, PolicySource::Session(i), request, &mut matched);
        deny |= v.deny;
        bounded &= v.allow;
    }
    let outcome = if deny {
        Outcome::ExplicitDeny
    } else if direct || (granted && bounded) {
        Outcome::Allowed
    } else {
        Outcome::ImplicitDeny
    };
    Decision { outcome, matched }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statements: &str) -> Policy {
        Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
        ))
        .unwrap()
    }

    const ALLOW_GET: &str =
        r#"{"Sid":"Get","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    const DENY_GET: &str = r#"{"Sid":"NoGet","Effect":"Deny","Action":"s3:Get*","Resource":"*"}"#;
    const ALLOW_ALL_S3: &str = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;

    fn ask<'p>(set: &PolicySet<'p>, action: &str, principal: Option<&Principal>) -> Decision<'p> {
        let context = Context::new();
        evaluate(
            set,
            &Request {
                action,
                resource: "arn:aws:s3:::b/k",
                principal,
                context: &context,
            },
        )
    }

    #[test]
    fn deny_wins_and_reasons_are_kept() {
        let allow = policy(ALLOW_GET);
        let deny = policy(DENY_GET);
        let set = PolicySet {
            identity: vec![&allow, &deny],
            ..Default::default()
        };
        let d = ask(&set, "s3:GetObject", None);
        assert_eq!(d.outcome, Outcome::ExplicitDeny);
        assert_eq!(
            d.matched,
            vec![
                MatchedStatement {
                    source: PolicySource::Identity(0),
                    index: 0,
                    sid: Some("Get"),
                    effect: Effect::Allow
                },
                MatchedStatement {
                    source: PolicySource::Identity(1),
                    index: 0,
                    sid: Some("NoGet"),
                    effect: Effect::Deny
                },
            ]
        );
        let d = ask(&set, "s3:PutObject", None);
        assert_eq!(d.outcome, Outcome::ImplicitDeny);
        assert!(d.matched.is_empty());
        let set = PolicySet {
            identity: vec![&allow],
            ..Default::default()
        };
        assert_eq!(ask(&set, "S3:getobject", None).outcome, Outcome::Allowed);
        assert_eq!(Outcome::ExplicitDeny.as_str(), "explicitDeny");
    }

    #[test]
    fn boundary_and_session_policies_limit() {
        let wide = policy(ALLOW_ALL_S3);
        let get = policy(ALLOW_GET);
        let deny = policy(DENY_GET);
        let check = |set: PolicySet<'_>, action: &str, expected: Outcome| {
            assert_eq!(
                ask(&set, action, None).outcome,
                expected,
                "{action} {set:?}"
            );
        };
        check(
            PolicySet {
                identity: vec![&wide],
                boundary: Some(&get),
                ..Default::default()
            },
            "s3:GetObject",
            Outcome::Allowed,
        );
        check(
            PolicySet {
                identity: vec![&wide],
                boundary: Some(&get),
                ..Default::default()
            },
            "s3:PutObject",
            Outcome::ImplicitDeny,
        );
        check(
            PolicySet {
                identity: vec![&get],
                boundary: Some(&wide),
                ..Default::default()
            },
            "s3:PutObject",
            Outcome::ImplicitDeny,
        );
        check(
            PolicySet {
                identity: vec![&wide],
                boundary: Some(&deny),
                ..Default::default()
            },
            "s3:GetObject",
            Outcome::ExplicitDeny,
        );
        check(
            PolicySet {
                boundary: Some(&wide),
                ..Default::default()
            },
            "s3:GetObject",
            Outcome::ImplicitDeny,
        );
        check(
            PolicySet {
                identity: vec![&wide],
                session: vec![&get],
                ..Default::default()
            },
            "s3:GetObject",
            Outcome::Allowed,
        );
        check(
            PolicySet {
                identity: vec![&wide],
                session: vec![&get, &wide],
                ..Default::default()
            },
            "s3:PutObject",
            Outcome::ImplicitDeny,
        );
        check(
            PolicySet {
                identity: vec![&wide],
                session: vec![&wide, &deny],
                ..Default::default()
            },
            "s3:GetObject",
            Outcome::ExplicitDeny,
        );
        check(PolicySet::default(), "s3:GetObject", Outcome::ImplicitDeny);
    }

    #[test]
    fn resource_policies_grant_the_named_principal() {
        let bucket = policy(
            r#"{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        let alice = Principal::Aws("arn:aws:iam::123456789012:user/alice".into());
        let bob = Principal::Aws("arn:aws:iam::123456789012:user/bob".into());
        let set = PolicySet {
            resource: vec![&bucket],
            ..Default::default()
        };
        let d = ask(&set, "s3:GetObject", Some(&alice));
        assert_eq!(d.outcome, Outcome::Allowed);
        assert_eq!(d.matched[0].source, PolicySource::Resource(0));
        assert_eq!(
            ask(&set, "s3:GetObject", Some(&bob)).outcome,
            Outcome::ImplicitDeny
        );
        let deny = policy(DENY_GET);
        let set = PolicySet {
            resource: vec![&bucket],
            session: vec![&deny],
            ..Default::default()
        };
        assert_eq!(
            ask(&set, "s3:GetObject", Some(&alice)).outcome,
            Outcome::ExplicitDeny
        );
    }

    #[test]
    fn direct_user_or_session_grants_escape_boundary_and_session_limits() {
        let sqs_only = policy(r#"{"Effect":"Allow","Action":"sqs:*","Resource":"*"}"#);
        let to_user = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"*"}"#,
        );
        let to_role = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"s3:GetObject","Resource":"*"}"#,
        );
        let to_session = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/app/s1"},"Action":"s3:GetObject","Resource":"*"}"#,
        );
        let alice = Principal::Aws("arn:aws:iam::123456789012:user/alice".into());
        let session = Principal::Aws("arn:aws:sts::123456789012:assumed-role/app/s1".into());
        let outcome = |resource: &Policy, who: &Principal, boundary: bool| {
            let set = PolicySet {
                resource: vec![resource],
                boundary: boundary.then_some(&sqs_only),
                session: if boundary { vec![] } else { vec![&sqs_only] },
                ..Default::default()
            };
            ask(&set, "s3:GetObject", Some(who)).outcome
        };
        assert_eq!(outcome(&to_user, &alice, true), Outcome::Allowed);
        assert_eq!(outcome(&to_role, &session, true), Outcome::ImplicitDeny);
        assert_eq!(outcome(&to_session, &session, false), Outcome::Allowed);
        assert_eq!(outcome(&to_role, &session, false), Outcome::ImplicitDeny);
    }

    #[test]
    fn account_grants_delegate_to_identity_policies() {
        let to_account = policy(
            r#"{"Sid":"Acct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"*"}"#,
        );
        let get = policy(ALLOW_GET);
        let alice = Principal::Aws("arn:aws:iam::123456789012:user/alice".into());
        let alone = PolicySet {
            resource: vec![&to_account],
            ..Default::default()
        };
        let d = ask(&alone, "s3:GetObject", Some(&alice));
        assert_eq!(d.outcome, Outcome::ImplicitDeny);
        assert_eq!(
            d.matched.len(),
            1,
            "the statement still applied and is reported"
        );
        let with_identity = PolicySet {
            identity: vec![&get],
            resource: vec![&to_account],
            ..Default::default()
        };
        assert_eq!(
            ask(&with_identity, "s3:GetObject", Some(&alice)).outcome,
            Outcome::Allowed
        );
    }

    #[test]
    fn matched_list_spills_past_the_inline_capacity() {
        let many: Vec<String> = (0..INLINE_MATCHES + 3)
            .map(|i| format!(r#"{{"Sid":"S{i}","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#))
            .collect();
        let p = policy(&many.join(","));
        let set = PolicySet {
            identity: vec![&p],
            ..Default::default()
        };
        let d = ask(&set, "s3:GetObject", None);
        assert_eq!(d.matched.len(), INLINE_MATCHES + 3);
        let sids: Vec<&str> = d.matched.iter().filter_map(|m| m.sid).collect();
        let expected: Vec<String> = (0..INLINE_MATCHES + 3).map(|i| format!("S{i}")).collect();
        assert_eq!(sids, expected);
    }

    #[test]
    fn cognito_row_level_policy() {
        let p = policy(
            r#"{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/Notes","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]}}}"#,
        );
        let set = PolicySet {
            identity: vec![&p],
            ..Default::default()
        };
        let decide = |keys: &[&str], sub: Option<&str>| {
            let mut ctx = Context::new();
            ctx.set(
                "dynamodb:LeadingKeys",
                keys.iter().map(|k| (*k).to_owned()).collect(),
            );
            if let Some(sub) = sub {
                ctx.insert("cognito-identity.amazonaws.com:sub", sub);
            }
            evaluate(
                &set,
                &Request {
                    action: "dynamodb:GetItem",
                    resource: "arn:aws:dynamodb:us-east-1:123456789012:table/Notes",
                    principal: None,
                    context: &ctx,
                },
            )
            .outcome
        };
        assert_eq!(
            decide(&["us-east-1:me"], Some("us-east-1:me")),
            Outcome::Allowed
        );
        assert_eq!(
            decide(&["us-east-1:you"], Some("us-east-1:me")),
            Outcome::ImplicitDeny
        );
        assert_eq!(
            decide(&["us-east-1:me", "us-east-1:you"], Some("us-east-1:me")),
            Outcome::ImplicitDeny
        );
        assert_eq!(decide(&["us-east-1:me"], None), Outcome::ImplicitDeny);
        // The documented hole: no leading keys at all and ForAllValues is true.
        assert_eq!(decide(&[], Some("us-east-1:me")), Outcome::Allowed);
    }
}
