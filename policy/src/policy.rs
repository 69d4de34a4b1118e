//! Policy documents: the public types and the compiler from JSON to matchers.
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

use std::collections::HashMap;

use crate::arn::{ArnCase, ArnPattern, SplitArn};
use crate::condition::{self, Base, Clause, Operator, Qualifier};
use crate::context::Context;
use crate::error::{Finding, PolicyError, Severity, child, codes, index};
use crate::glob::{Pattern, Syntax};
use crate::json::{self, Node};
use crate::{MAX_STATEMENTS, Request};

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
    let (policy, findings) = analyze(node);
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

// === the compiler ===

const TOP_LEVEL_KEYS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_KEYS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Keys AWS puts in every authenticated request: `…IfExists` on them is a no-op that hides intent.
const ALWAYS_PRESENT_KEYS: [&str; 8] = [
    "aws:currenttime",
    "aws:epochtime",
    "aws:securetransport",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:userid",
    "aws:viaawsservice",
];

/// AWS global condition keys (lowercased); tag keys are prefixes.
const GLOBAL_KEYS: [&str; 45] = [
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:currenttime",
    "aws:ec2instancesourceip",
    "aws:ec2instancesourcevpc",
    "aws:epochtime",
    "aws:federatedprovider",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltype",
    "aws:referer",
    "aws:requestedregion",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:securetransport",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpcarn",
    "aws:sourcevpce",
    "aws:tagkeys",
    "aws:tokenissuetime",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "aws:viaawsservice",
    "aws:vpcsourceip",
    "aws:vpceaccount",
    "aws:vpceorgid",
    "aws:vpceorgpaths",
    "aws:assumedroot",
];
const GLOBAL_KEY_PREFIXES: [&str; 3] = ["aws:principaltag/", "aws:requesttag/", "aws:resourcetag/"];

struct Compiler {
    findings: Vec<Finding>,
    version: Version,
}

impl Compiler {
    fn error(&mut self, pointer: &str, code: &'static str, message: impl Into<String>) {
        self.push(Severity::Error, pointer, code, message.into());
    }

    fn warn(&mut self, pointer: &str, code: &'static str, message: impl Into<String>) {
        self.push(Severity::Warning, pointer, code, message.into());
    }

    fn push(&mut self, severity: Severity, pointer: &str, code: &'static str, message: String) {
        self.findings.push(Finding {
            severity,
            pointer: pointer.to_owned(),
            code,
            message,
        });
    }

    fn variables(&self) -> bool {
        self.version.supports_variables()
    }

    /// Warns that `${…}` is literal text under 2008-10-17.
    fn literal_variable_check(&mut self, text: &str, pointer: &str) {
        if !self.variables() && text.contains("${") {
            self.warn(
                pointer,
                codes::VARIABLE_IN_2008_POLICY,
                format!(
                    "`{text}` uses `${{…}}`, which is literal text under Version 2008-10-17 or without a Version; use \"Version\": \"2012-10-17\" for policy variables"
                ),
            );
        }
    }
}

/// Compiles a document and gathers every finding (errors and warnings). The policy is `None` only
/// when the document is too broken to compile at all; callers reject it anyway on any error.
pub(crate) fn analyze(node: &Node) -> (Option<Policy>, Vec<Finding>) {
    let mut c = Compiler {
        findings: Vec::new(),
        version: Version::V2008_10_17,
    };
    report_duplicate_keys(&mut c, node, "");
    let Node::Object(entries) = node else {
        c.error(
            "",
            codes::INVALID_TYPE,
            format!("a policy is a JSON object, not {}", node.kind()),
        );
        return (None, c.findings);
    };
    for (key, _) in entries {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            let message = unknown_key_message(key, &TOP_LEVEL_KEYS, "top-level");
            c.error(&child("", key), codes::UNKNOWN_KEY, message);
        }
    }
    let mut version_given = false;
    match node.get("Version") {
        None => c.warn(
            "",
            codes::MISSING_VERSION,
            "no `Version`: 2008-10-17 rules apply and policy variables are literal text; add \"Version\": \"2012-10-17\"",
        ),
        Some(Node::String(v)) if v == "2012-10-17" => {
            c.version = Version::V2012_10_17;
            version_given = true;
        }
        Some(Node::String(v)) if v == "2008-10-17" => version_given = true,
        Some(Node::String(v)) => c.error(
            "/Version",
            codes::UNKNOWN_VERSION,
            format!("unknown version `{v}`: use `2012-10-17` (or `2008-10-17`)"),
        ),
        Some(other) => c.error(
            "/Version",
            codes::INVALID_TYPE,
            format!("`Version` is a string, not {}", other.kind()),
        ),
    }
    let id = match node.get("Id") {
        None => None,
        Some(Node::String(id)) => Some(id.clone()),
        Some(other) => {
            c.error(
                "/Id",
                codes::INVALID_TYPE,
                format!("`Id` is a string, not {}", other.kind()),
            );
            None
        }
    };
    let statement_nodes: Vec<(String, &Node)> = match node.get("Statement") {
        None => {
            c.error("", codes::MISSING_STATEMENT, "a policy needs a `Statement`");
            Vec::new()
        }
        Some(Node::Array(items)) => {
            if items.is_empty() {
                c.error(
                    "/Statement",
                    codes::EMPTY_STATEMENT,
                    "`Statement` is an empty array",
                );
            }
            if items.len() > MAX_STATEMENTS {
                c.error(
                    "/Statement",
                    codes::TOO_MANY_STATEMENTS,
                    format!(
                        "{} statements is more than the limit of {MAX_STATEMENTS}",
                        items.len()
                    ),
                );
            }
            items
                .iter()
                .enumerate()
                .take(MAX_STATEMENTS)
                .map(|(i, n)| (index("/Statement", i), n))
                .collect()
        }
        Some(obj @ Node::Object(_)) => vec![("/Statement".to_owned(), obj)],
        Some(other) => {
            c.error(
                "/Statement",
                codes::INVALID_TYPE,
                format!(
                    "`Statement` is an object or an array of objects, not {}",
                    other.kind()
                ),
            );
            Vec::new()
        }
    };
    let mut statements = Vec::with_capacity(statement_nodes.len());
    let mut sids: HashMap<String, String> = HashMap::new();
    let mut leading_keys_candidates = Vec::new();
    for (i, (pointer, node)) in statement_nodes.iter().enumerate() {
        if let Some(statement) = compile_statement(&mut c, node, pointer, i) {
            if let Some(sid) = &statement.sid {
                let sid_pointer = child(pointer, "Sid");
                if let Some(first) = sids.get(sid) {
                    c.error(
                        &sid_pointer,
                        codes::DUPLICATE_SID,
                        format!("`Sid` `{sid}` is already used at `{first}`: Sids must be unique within a policy"),
                    );
                } else {
                    sids.insert(sid.clone(), sid_pointer);
                }
            }
            if let Some(p) = unguarded_leading_keys(&statement) {
                leading_keys_candidates.push(p);
            }
            statements.push(statement);
        }
    }
    let scan_allowed = statements
        .iter()
        .any(|s| s.effect == Effect::Allow && s.matches_action("dynamodb:Scan"));
    if scan_allowed {
        for pointer in leading_keys_candidates {
            c.warn(
                &pointer,
                codes::LEADING_KEYS_WITHOUT_NULL_GUARD,
                "`ForAllValues` on `dynamodb:LeadingKeys` is true when the request has no leading keys, and this policy allows `dynamodb:Scan`, which has none: every item of the table is readable; add \"Null\": {\"dynamodb:LeadingKeys\": \"false\"} to the statement and do not allow `Scan`",
            );
        }
    }
    let policy = Policy {
        version: c.version,
        version_given,
        id,
        statements,
    };
    (Some(policy), c.findings)
}

/// The pointer of a `ForAllValues:…` clause on `dynamodb:LeadingKeys` in an `Allow` statement
/// that has no `Null: false` guard on the same key.
fn unguarded_leading_keys(statement: &Statement) -> Option<String> {
    const KEY: &str = "dynamodb:leadingkeys";
    if statement.effect != Effect::Allow {
        return None;
    }
    if has_null_guard(statement, KEY) {
        return None;
    }
    statement
        .conditions
        .iter()
        .find(|c| {
            &*c.key == KEY && c.op.qualifier == Qualifier::ForAllValues && !c.op.base.negated()
        })
        .map(|c| c.pointer.to_string())
}

fn unknown_key_message(key: &str, known: &[&str], place: &str) -> String {
    match known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        Some(k) => format!(
            "unknown {place} key `{key}`: element names are case-sensitive, did you mean `{k}`"
        ),
        None => format!(
            "unknown {place} key `{key}`: expected one of {}",
            known.join(", ")
        ),
    }
}

fn report_duplicate_keys(c: &mut Compiler, node: &Node, pointer: &str) {
    match node {
        Node::Object(entries) => {
            for (i, (key, value)) in entries.iter().enumerate() {
                let p = child(pointer, key);
                if entries.iter().take(i).any(|(k, _)| k == key) {
                    c.error(
                        &p,
                        codes::DUPLICATE_KEY,
                        format!("key `{key}` appears more than once in the same object"),
                    );
                }
                report_duplicate_keys(c, value, &p);
            }
        }
        Node::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                report_duplicate_keys(c, item, &index(pointer, i));
            }
        }
        _ => {}
    }
}

/// A string or a non-empty array of strings, with the pointer of each string.
fn string_list<'n>(
    c: &mut Compiler,
    node: &'n Node,
    pointer: &str,
    element: &str,
) -> Option<Vec<(&'n str, String)>> {
    match node {
        Node::String(s) => Some(vec![(s.as_str(), pointer.to_owned())]),
        Node::Array(items) if items.is_empty() => {
            c.error(
                pointer,
                codes::EMPTY_LIST,
                format!("`{element}` is an empty list"),
            );
            None
        }
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let p = index(pointer, i);
                match item {
                    Node::String(s) => out.push((s.as_str(), p)),
                    other => {
                        ok = false;
                        c.error(
                            &p,
                            codes::INVALID_TYPE,
                            format!("`{element}` entries are strings, not {}", other.kind()),
                        );
                    }
                }
            }
            ok.then_some(out)
        }
        other => {
            c.error(
                pointer,
                codes::INVALID_TYPE,
                format!(
                    "`{element}` is a string or an array of strings, not {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

/// Looks up the element and its `Not…` twin; reports both-present and returns (negated, node, pointer).
fn pick<'n>(
    c: &mut Compiler,
    node: &'n Node,
    pointer: &str,
    name: &str,
    not_name: &str,
    both_code: &'static str,
) -> Option<(bool, &'n Node, String)> {
    match (node.get(name), node.get(not_name)) {
        (Some(_), Some(_)) => {
            c.error(
                pointer,
                both_code,
                format!("a statement has `{name}` or `{not_name}`, not both"),
            );
            None
        }
        (Some(n), None) => Some((false, n, child(pointer, name))),
        (None, Some(n)) => Some((true, n, child(pointer, not_name))),
        (None, None) => None,
    }
}

fn compile_statement(
    c: &mut Compiler,
    node: &Node,
    pointer: &str,
    position: usize,
) -> Option<Statement> {
    let Node::Object(entries) = node else {
        c.error(
            pointer,
            codes::INVALID_TYPE,
            format!("a statement is a JSON object, not {}", node.kind()),
        );
        return None;
    };
    let errors_before = c
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    for (key, _) in entries {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            let message = unknown_key_message(key, &STATEMENT_KEYS, "statement");
            c.error(&child(pointer, key), codes::UNKNOWN_KEY, message);
        }
    }
    let sid = match node.get("Sid") {
        None => None,
        Some(Node::String(s)) => {
            if !s.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                c.warn(
                    &child(pointer, "Sid"),
                    codes::SID_NOT_ALPHANUMERIC,
                    format!("`Sid` `{s}` has characters other than ASCII letters and digits, which IAM rejects"),
                );
            }
            Some(s.clone())
        }
        Some(other) => {
            c.error(
                &child(pointer, "Sid"),
                codes::INVALID_TYPE,
                format!("`Sid` is a string, not {}", other.kind()),
            );
            None
        }
    };
    let effect = match node.get("Effect") {
        None => {
            c.error(
                pointer,
                codes::MISSING_EFFECT,
                "a statement needs an `Effect`",
            );
            None
        }
        Some(Node::String(e)) if e == "Allow" => Some(Effect::Allow),
        Some(Node::String(e)) if e == "Deny" => Some(Effect::Deny),
        Some(Node::String(e)) => {
            c.error(
                &child(pointer, "Effect"),
                codes::INVALID_EFFECT,
                format!("`Effect` is `Allow` or `Deny` (exact case), not `{e}`"),
            );
            None
        }
        Some(other) => {
            c.error(
                &child(pointer, "Effect"),
                codes::INVALID_TYPE,
                format!("`Effect` is a string, not {}", other.kind()),
            );
            None
        }
    };

    // Principal first: whether a Resource is required depends on it.
    let principal_given = node.get("Principal").is_some() || node.get("NotPrincipal").is_some();
    let principal = pick(
        c,
        node,
        pointer,
        "Principal",
        "NotPrincipal",
        codes::PRINCIPAL_AND_NOT_PRINCIPAL,
    )
    .and_then(|(not, n, p)| compile_principal(c, n, &p, not));
    if effect == Some(Effect::Allow) && node.get("NotPrincipal").is_some() {
        c.warn(
            &child(pointer, "NotPrincipal"),
            codes::NOT_PRINCIPAL_WITH_ALLOW,
            "`NotPrincipal` with `Allow` grants access to everyone not listed, including anonymous callers; AWS advises against it",
        );
    }

    let action = match pick(
        c,
        node,
        pointer,
        "Action",
        "NotAction",
        codes::ACTION_AND_NOT_ACTION,
    ) {
        Some((not, n, p)) => compile_actions(c, n, &p, not),
        None => {
            if node.get("Action").is_none() {
                c.error(
                    pointer,
                    codes::MISSING_ACTION,
                    "a statement needs `Action` or `NotAction`",
                );
            }
            None
        }
    };

    let resource = match pick(
        c,
        node,
        pointer,
        "Resource",
        "NotResource",
        codes::RESOURCE_AND_NOT_RESOURCE,
    ) {
        Some((not, n, p)) => compile_resources(c, n, &p, not).map(Some),
        None if node.get("Resource").is_some() => None,
        None if principal_given => Some(None),
        None => {
            c.error(
                pointer,
                codes::MISSING_RESOURCE,
                "a statement without `Principal` needs `Resource` or `NotResource`",
            );
            None
        }
    };

    let conditions = match node.get("Condition") {
        None => Some(Vec::new()),
        Some(n) => compile_conditions(c, n, &child(pointer, "Condition")),
    };

    let errors_after = c
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let statement = Statement {
        index: position,
        sid,
        effect: effect?,
        action: action?,
        resource: resource?,
        principal: if principal_given {
            Some(principal?)
        } else {
            None
        },
        conditions: conditions?.into_boxed_slice(),
    };
    if errors_after != errors_before {
        return None;
    }
    statement_warnings(c, &statement, node, pointer);
    for_all_values_warnings(c, &statement);
    Some(statement)
}

fn statement_warnings(c: &mut Compiler, s: &Statement, node: &Node, pointer: &str) {
    if s.effect != Effect::Allow {
        return;
    }
    let all_resources = s
        .resource
        .as_ref()
        .is_none_or(|r| !r.not && r.patterns.iter().any(ArnPattern::is_any));
    if s.action.not && all_resources && node.get("NotAction").is_some() {
        c.warn(
            &child(pointer, "NotAction"),
            codes::ALLOW_NOT_ACTION_ALL_RESOURCES,
            "`Allow` with `NotAction` on every resource grants every other action of every service, including ones added later; list the actions to allow instead",
        );
    }
    let all_actions = !s.action.not && s.action.patterns.iter().any(Pattern::matches_everything);
    if all_actions && all_resources && s.conditions.is_empty() && s.principal.is_none() {
        c.warn(
            pointer,
            codes::ALLOW_ALL,
            "this statement allows every action on every resource (full administrator access)",
        );
    }
}

/// A positive `ForAllValues` in an `Allow` passes when the key is absent; without a `Null` guard
/// on the same key that is usually a hole. `dynamodb:LeadingKeys` gets its own, sharper warning
/// at the policy level.
fn for_all_values_warnings(c: &mut Compiler, s: &Statement) {
    if s.effect != Effect::Allow {
        return;
    }
    for clause in &s.conditions {
        if clause.op.qualifier == Qualifier::ForAllValues
            && !clause.op.base.negated()
            && &*clause.key != "dynamodb:leadingkeys"
            && !has_null_guard(s, &clause.key)
        {
            c.warn(
                &clause.pointer,
                codes::FOR_ALL_VALUES_WITHOUT_NULL_GUARD,
                format!("`ForAllValues` is true when the request has no `{}` at all; add \"Null\": {{\"{}\": \"false\"}} if the key must be present", clause.key, clause.key),
            );
        }
    }
}

fn has_null_guard(s: &Statement, key: &str) -> bool {
    s.conditions.iter().any(|c| {
        &*c.key == key && matches!(&c.values, condition::Values::Null(v) if v.contains(&false))
    })
}

fn compile_actions(
    c: &mut Compiler,
    node: &Node,
    pointer: &str,
    not: bool,
) -> Option<Matchers<Pattern>> {
    let element = if not { "NotAction" } else { "Action" };
    let items = string_list(c, node, pointer, element)?;
    let mut patterns = Vec::with_capacity(items.len());
    for (text, p) in items {
        let well_formed = text == "*"
            || text.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && !name.is_empty()
                    && service
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '*' | '?' | '.'))
            });
        if !well_formed {
            c.error(
                &p,
                codes::MALFORMED_ACTION,
                format!("`{text}` is not `*` or `service:action` (such as `dynamodb:GetItem`)"),
            );
            continue;
        }
        if text.contains("${") {
            if c.variables() {
                c.warn(
                    &p,
                    codes::VARIABLE_IN_ACTION,
                    format!("`{text}`: policy variables are not substituted in actions, so `${{…}}` is literal text"),
                );
            } else {
                c.literal_variable_check(text, &p);
            }
        }
        // Actions never substitute variables (AWS: only Resource and Condition values do).
        // Lowercased so that evaluation can compare against a lowercased action byte for byte.
        match Pattern::compile(&text.to_ascii_lowercase(), Syntax::Glob, false, true) {
            Ok(pattern) => patterns.push(pattern),
            Err(e) => c.error(&p, codes::MALFORMED_ACTION, e.to_string()),
        }
    }
    Some(Matchers {
        not,
        patterns: patterns.into_boxed_slice(),
    })
}

fn compile_resources(
    c: &mut Compiler,
    node: &Node,
    pointer: &str,
    not: bool,
) -> Option<Matchers<ArnPattern>> {
    let element = if not { "NotResource" } else { "Resource" };
    let items = string_list(c, node, pointer, element)?;
    let mut patterns = Vec::with_capacity(items.len());
    for (text, p) in items {
        c.literal_variable_check(text, &p);
        match ArnPattern::compile(text, c.variables(), ArnCase::Resource) {
            Ok(pattern) => patterns.push(pattern),
            Err(crate::arn::ArnError::Pattern(e)) => c.error(&p, pattern_code(&e), e.to_string()),
            Err(e) => c.error(&p, codes::MALFORMED_ARN, e.to_string()),
        }
    }
    Some(Matchers {
        not,
        patterns: patterns.into_boxed_slice(),
    })
}

fn pattern_code(e: &crate::glob::PatternError) -> &'static str {
    match e {
        crate::glob::PatternError::TooMany { .. } => codes::TOO_MANY_VARIABLES,
        _ => codes::MALFORMED_VARIABLE,
    }
}

const PRINCIPAL_KEYS: [&str; 4] = ["AWS", "Service", "Federated", "CanonicalUser"];

fn compile_principal(
    c: &mut Compiler,
    node: &Node,
    pointer: &str,
    not: bool,
) -> Option<PrincipalMatcher> {
    let mut m = PrincipalMatcher {
        not,
        everyone: false,
        aws: Box::default(),
        service: Box::default(),
        federated: Box::default(),
        canonical_user: Box::default(),
    };
    let entries = match node {
        Node::String(s) if s == "*" => {
            m.everyone = true;
            return Some(m);
        }
        Node::Object(entries) if !entries.is_empty() => entries,
        Node::Object(_) => {
            c.error(
                pointer,
                codes::EMPTY_LIST,
                "a principal object needs at least one of AWS, Service, Federated, CanonicalUser",
            );
            return None;
        }
        other => {
            c.error(
                pointer,
                codes::INVALID_TYPE,
                format!(
                    "a principal is `\"*\"` or an object such as {{\"AWS\": …}}, not {}",
                    describe(other)
                ),
            );
            return None;
        }
    };
    let mut ok = true;
    let (mut aws, mut service, mut federated, mut canonical) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (kind, value) in entries {
        let p = child(pointer, kind);
        if !PRINCIPAL_KEYS.contains(&kind.as_str()) {
            let message = match PRINCIPAL_KEYS.iter().find(|k| k.eq_ignore_ascii_case(kind)) {
                Some(k) => format!("unknown principal type `{kind}`: did you mean `{k}`"),
                None => format!(
                    "unknown principal type `{kind}`: expected one of AWS, Service, Federated, CanonicalUser"
                ),
            };
            c.error(&p, codes::UNKNOWN_PRINCIPAL_TYPE, message);
            ok = false;
            continue;
        }
        let Some(items) = string_list(c, value, &p, kind) else {
            ok = false;
            continue;
        };
        for (text, ip) in items {
            if kind == "AWS" && text == "*" {
                m.everyone = true;
                continue;
            }
            if text.contains('*') || text.contains('?') {
                c.error(
                    &ip,
                    codes::MALFORMED_PRINCIPAL,
                    format!("`{text}`: a principal cannot use a wildcard except the whole value `*` (use a condition on `aws:PrincipalArn` instead)"),
                );
                ok = false;
                continue;
            }
            match kind.as_str() {
                "AWS" => match parse_aws_principal(text) {
                    Some(principal) => aws.push(principal),
                    None => {
                        c.error(
                            &ip,
                            codes::MALFORMED_PRINCIPAL,
                            format!("`{text}` is not `*`, a 12-digit account id or an ARN"),
                        );
                        ok = false;
                    }
                },
                "Service" => service.push(text.to_owned()),
                "Federated" => federated.push(text.to_owned()),
                _ => canonical.push(text.to_owned()),
            }
        }
    }
    m.aws = aws.into_boxed_slice();
    m.service = service.into_boxed_slice();
    m.federated = federated.into_boxed_slice();
    m.canonical_user = canonical.into_boxed_slice();
    ok.then_some(m)
}

fn describe(node: &Node) -> String {
    match node {
        Node::String(s) => format!("`{s}`"),
        other => other.kind().to_owned(),
    }
}

fn parse_aws_principal(text: &str) -> Option<AwsPrincipal> {
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(AwsPrincipal::Account(text.to_owned()));
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, _partition, service, _region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *arn != "arn" || service.is_empty() || resource.is_empty() {
        return None;
    }
    if *service == "iam" && *resource == "root" {
        return Some(AwsPrincipal::Account((*account).to_owned()));
    }
    if *service == "iam"
        && let Some(path_and_name) = resource.strip_prefix("role/")
    {
        let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
        return Some(AwsPrincipal::Role {
            arn: text.to_owned(),
            account: (*account).to_owned(),
            name: name.to_owned(),
        });
    }
    Some(AwsPrincipal::Arn(text.to_owned()))
}

/// Turns a scalar condition value into text (AWS accepts `true` and `"true"`, `5` and `"5"`).
fn scalar_text(node: &Node) -> Option<String> {
    match node {
        Node::String(s) => Some(s.clone()),
        Node::Number(n) => Some(n.to_string()),
        Node::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn compile_conditions(c: &mut Compiler, node: &Node, pointer: &str) -> Option<Vec<Clause>> {
    let Node::Object(operators) = node else {
        c.error(
            pointer,
            codes::INVALID_TYPE,
            format!("`Condition` is an object of operators, not {}", node.kind()),
        );
        return None;
    };
    let mut clauses = Vec::new();
    let mut ok = true;
    for (op_name, block) in operators {
        let op_pointer = child(pointer, op_name);
        let op = match Operator::parse(op_name) {
            Ok(op) => op,
            Err(message) => {
                c.error(&op_pointer, codes::UNKNOWN_OPERATOR, message);
                ok = false;
                continue;
            }
        };
        if op.qualifier == Qualifier::ForAnyValue && op.base.negated() {
            c.warn(
                &op_pointer,
                codes::FOR_ANY_VALUE_NEGATED,
                format!("`{op_name}` is true as soon as one request value differs from the listed values, which is rarely the intent; use `ForAllValues:{}`", op.base.name()),
            );
        }
        let Node::Object(keys) = block else {
            c.error(
                &op_pointer,
                codes::INVALID_TYPE,
                format!(
                    "a condition operator maps keys to values, not {}",
                    block.kind()
                ),
            );
            ok = false;
            continue;
        };
        if keys.is_empty() {
            c.error(
                &op_pointer,
                codes::EMPTY_LIST,
                format!("`{op_name}` has no condition keys"),
            );
            ok = false;
        }
        for (key, values) in keys {
            let key_pointer = child(&op_pointer, key);
            match compile_clause(c, op, op_name, key, values, &key_pointer) {
                Some(clause) => clauses.push(clause),
                None => ok = false,
            }
        }
    }
    ok.then_some(clauses)
}

fn compile_clause(
    c: &mut Compiler,
    op: Operator,
    op_name: &str,
    key: &str,
    node: &Node,
    pointer: &str,
) -> Option<Clause> {
    if key.trim().is_empty() {
        c.error(
            pointer,
            codes::INVALID_CONDITION_KEY,
            "a condition key is empty",
        );
        return None;
    }
    let lower = key.to_ascii_lowercase();
    if op.if_exists && ALWAYS_PRESENT_KEYS.contains(&lower.as_str()) {
        c.warn(
            pointer,
            codes::IF_EXISTS_ON_ALWAYS_PRESENT_KEY,
            format!("`{key}` is in every request, so `IfExists` in `{op_name}` changes nothing; drop the suffix"),
        );
    }
    if lower.starts_with("aws:")
        && !GLOBAL_KEYS.contains(&lower.as_str())
        && !GLOBAL_KEY_PREFIXES.iter().any(|p| lower.starts_with(p))
    {
        c.warn(
            pointer,
            codes::UNKNOWN_GLOBAL_KEY,
            format!("`{key}` is not an AWS global condition key; check the spelling"),
        );
    }
    let items: Vec<(&Node, String)> = match node {
        Node::Array(items) if items.is_empty() => {
            c.error(
                pointer,
                codes::EMPTY_LIST,
                format!("condition key `{key}` has no values"),
            );
            return None;
        }
        Node::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, index(pointer, i)))
            .collect(),
        scalar => vec![(scalar, pointer.to_owned())],
    };
    let mut compiled = Vec::with_capacity(items.len());
    let mut ok = true;
    for (item, p) in items {
        let Some(text) = scalar_text(item) else {
            c.error(
                &p,
                codes::INVALID_CONDITION_VALUE,
                format!(
                    "condition values are strings, numbers or booleans, not {}",
                    item.kind()
                ),
            );
            ok = false;
            continue;
        };
        if matches!(item, Node::String(_)) {
            c.literal_variable_check(&text, &p);
        }
        match condition::compile_value(op.base, &text, c.variables()) {
            Ok(value) => {
                if let condition::Compiled::String(pattern) = &value
                    && op.base.is_string_like()
                    && !pattern.has_wildcard()
                {
                    let plain = if op.base.negated() {
                        "StringNotEquals"
                    } else {
                        "StringEquals"
                    };
                    c.warn(
                        &p,
                        codes::STRING_LIKE_WITHOUT_WILDCARD,
                        format!("`{text}` has no `*` or `?`, so `{op_name}` behaves like `{plain}`; use `{plain}`"),
                    );
                }
                compiled.push(value);
            }
            Err(message) => {
                let code = if text.contains("${")
                    && matches!(
                        op.base,
                        Base::StringEquals
                            | Base::StringNotEquals
                            | Base::StringEqualsIgnoreCase
                            | Base::StringNotEqualsIgnoreCase
                            | Base::StringLike
                            | Base::StringNotLike
                    ) {
                    codes::MALFORMED_VARIABLE
                } else {
                    codes::INVALID_CONDITION_VALUE
                };
                c.error(&p, code, message);
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let clause = Clause {
        op,
        pointer: pointer.into(),
        key: lower.into_boxed_str(),
        values: condition::collect(op.base, compiled),
    };
    Some(clause)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::validate;

    /// Parses and returns the (code, pointer) of every error.
    fn errors(text: &str) -> Vec<(&'static str, String)> {
        match Policy::parse(text) {
            Ok(_) => Vec::new(),
            Err(PolicyError::Invalid { findings }) => {
                assert!(findings.iter().all(|f| f.severity == Severity::Error));
                findings.into_iter().map(|f| (f.code, f.pointer)).collect()
            }
            Err(other) => other
                .findings()
                .into_iter()
                .map(|f| (f.code, f.pointer))
                .collect(),
        }
    }

    fn warnings(text: &str) -> Vec<(&'static str, String)> {
        validate(text)
            .into_iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| (f.code, f.pointer))
            .collect()
    }

    fn doc(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    fn e(code: &'static str, pointer: &str) -> (&'static str, String) {
        (code, pointer.to_owned())
    }

    #[test]
    fn accepts_the_usual_shapes() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(p.version(), Version::V2012_10_17);
        assert_eq!(p.id(), Some("x"));
        assert_eq!(p.statements().len(), 1);
        assert_eq!(p.statements()[0].sid(), Some("A"));
        assert_eq!(p.statements()[0].effect(), Effect::Allow);
        let p = Policy::parse(r#"{"Statement":[{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:aws:s3:::b/*"}]}"#).unwrap();
        assert_eq!(p.version(), Version::V2008_10_17);
        assert!(!p.has_explicit_version());
        // Trust policy: Principal, no Resource.
        Policy::parse(&doc(r#"{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:pool"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}"#)).unwrap();
        // Values as numbers and booleans.
        Policy::parse(&doc(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}"#)).unwrap();
        let v = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]});
        assert_eq!(Policy::from_value(&v).unwrap().statements().len(), 1);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases: Vec<(String, Vec<(&'static str, String)>)> = vec![
            ("[]".into(), vec![e(codes::INVALID_TYPE, "")]),
            ("{".into(), vec![e(codes::JSON_SYNTAX, "")]),
            (
                r#"{"Version":"2012-10-17"}"#.into(),
                vec![e(codes::MISSING_STATEMENT, "")],
            ),
            (
                r#"{"Version":"2012-10-18","Statement":[]}"#.into(),
                vec![
                    e(codes::UNKNOWN_VERSION, "/Version"),
                    e(codes::EMPTY_STATEMENT, "/Statement"),
                ],
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#.into(),
                vec![
                    e(codes::UNKNOWN_KEY, "/Extra"),
                    e(codes::EMPTY_STATEMENT, "/Statement"),
                ],
            ),
            (
                doc(r#"{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}"#),
                vec![e(codes::INVALID_EFFECT, "/Statement/0/Effect")],
            ),
            (
                doc(r#"{"Action":"s3:GetObject","Resource":"*"}"#),
                vec![e(codes::MISSING_EFFECT, "/Statement/0")],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}"#,
                ),
                vec![e(codes::ACTION_AND_NOT_ACTION, "/Statement/0")],
            ),
            (
                doc(r#"{"Effect":"Allow","Resource":"*"}"#),
                vec![e(codes::MISSING_ACTION, "/Statement/0")],
            ),
            (
                doc(r#"{"Effect":"Allow","Action":"s3:GetObject"}"#),
                vec![e(codes::MISSING_RESOURCE, "/Statement/0")],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*"}"#,
                ),
                vec![e(codes::RESOURCE_AND_NOT_RESOURCE, "/Statement/0")],
            ),
            (
                doc(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
                vec![e(codes::EMPTY_LIST, "/Statement/0/Action")],
            ),
            (
                doc(r#"{"Effect":"Allow","Action":["s3:GetObject",3],"Resource":"*"}"#),
                vec![e(codes::INVALID_TYPE, "/Statement/0/Action/1")],
            ),
            (
                doc(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#),
                vec![e(codes::MALFORMED_ACTION, "/Statement/0/Action")],
            ),
            (
                doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":["*","bucket"]}"#),
                vec![e(codes::MALFORMED_ARN, "/Statement/0/Resource/1")],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username"}"#,
                ),
                vec![e(codes::MALFORMED_VARIABLE, "/Statement/0/Resource")],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}"#,
                ),
                vec![e(
                    codes::UNKNOWN_OPERATOR,
                    "/Statement/0/Condition/StringEqualz",
                )],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":["2020-01-01","soon"]}}}"#,
                ),
                vec![e(
                    codes::INVALID_CONDITION_VALUE,
                    "/Statement/0/Condition/DateLessThan/aws:CurrentTime/1",
                )],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}}"#,
                ),
                vec![e(
                    codes::INVALID_CONDITION_VALUE,
                    "/Statement/0/Condition/IpAddress/aws:SourceIp",
                )],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"a/b~c":null}}}"#,
                ),
                vec![e(
                    codes::INVALID_CONDITION_VALUE,
                    "/Statement/0/Condition/StringEquals/a~1b~0c",
                )],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"a":[]}}}"#,
                ),
                vec![e(
                    codes::EMPTY_LIST,
                    "/Statement/0/Condition/StringEquals/a",
                )],
            ),
            (
                doc(
                    r#"{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#,
                ),
                vec![e(codes::DUPLICATE_SID, "/Statement/1/Sid")],
            ),
            (
                doc(r#"{"Effect":"Allow","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#),
                vec![e(codes::DUPLICATE_KEY, "/Statement/0/Effect")],
            ),
            (
                doc(r#"{"effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#),
                vec![
                    e(codes::UNKNOWN_KEY, "/Statement/0/effect"),
                    e(codes::MISSING_EFFECT, "/Statement/0"),
                ],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/*"},"Action":"s3:GetObject"}"#,
                ),
                vec![e(codes::MALFORMED_PRINCIPAL, "/Statement/0/Principal/AWS")],
            ),
            (
                doc(r#"{"Effect":"Allow","Principal":{"Aws":"*"},"Action":"s3:GetObject"}"#),
                vec![e(
                    codes::UNKNOWN_PRINCIPAL_TYPE,
                    "/Statement/0/Principal/Aws",
                )],
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject"}"#,
                ),
                vec![e(codes::PRINCIPAL_AND_NOT_PRINCIPAL, "/Statement/0")],
            ),
            (
                doc(r#"{"Effect":"Allow","Principal":"me","Action":"s3:GetObject"}"#),
                vec![e(codes::INVALID_TYPE, "/Statement/0/Principal")],
            ),
            (doc(r#"42"#), vec![e(codes::INVALID_TYPE, "/Statement/0")]),
        ];
        for (text, expected) in cases {
            assert_eq!(errors(&text), expected, "{text}");
        }
        let err = Policy::parse(&doc(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"stringEquals":{"a":"b"}}}"#)).unwrap_err();
        assert!(
            err.to_string().contains("did you mean `StringEquals`"),
            "{err}"
        );
    }

    #[test]
    fn reviewer_warnings() {
        let leading = r#"{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:Scan"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]}}}"#;
        assert_eq!(
            warnings(&doc(leading)),
            vec![e(
                codes::LEADING_KEYS_WITHOUT_NULL_GUARD,
                "/Statement/0/Condition/ForAllValues:StringEquals/dynamodb:LeadingKeys"
            )]
        );
        let guarded = r#"{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${cognito-identity.amazonaws.com:sub}"]},"Null":{"dynamodb:LeadingKeys":"false"}}}"#;
        assert_eq!(warnings(&doc(guarded)), vec![]);
        let no_scan = r#"{"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/T","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["x"]}}}"#;
        assert_eq!(warnings(&doc(no_scan)), vec![]);
        let scan_elsewhere = format!(
            r#"{no_scan},{{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/Other"}}"#
        );
        assert_eq!(warnings(&doc(&scan_elsewhere)).len(), 1);

        let cases = [
            (
                r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#,
                vec![e(
                    codes::ALLOW_NOT_ACTION_ALL_RESOURCES,
                    "/Statement/0/NotAction",
                )],
            ),
            (
                r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
                vec![e(codes::ALLOW_ALL, "/Statement/0")],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"a"}}}"#,
                vec![e(
                    codes::FOR_ANY_VALUE_NEGATED,
                    "/Statement/0/Condition/ForAnyValue:StringNotEquals",
                )],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateLessThanIfExists":{"aws:CurrentTime":"2030-01-01"}}}"#,
                vec![e(
                    codes::IF_EXISTS_ON_ALWAYS_PRESENT_KEY,
                    "/Statement/0/Condition/DateLessThanIfExists/aws:CurrentTime",
                )],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"s3:prefix":["home/","home/*"]}}}"#,
                vec![e(
                    codes::STRING_LIKE_WITHOUT_WILDCARD,
                    "/Statement/0/Condition/StringLike/s3:prefix/0",
                )],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIpp":"x"}}}"#,
                vec![e(
                    codes::UNKNOWN_GLOBAL_KEY,
                    "/Statement/0/Condition/StringEquals/aws:SourceIpp",
                )],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}}"#,
                vec![e(
                    codes::FOR_ALL_VALUES_WITHOUT_NULL_GUARD,
                    "/Statement/0/Condition/ForAllValues:StringEquals/aws:TagKeys",
                )],
            ),
            (
                r#"{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"s3:*"}"#,
                vec![e(
                    codes::NOT_PRINCIPAL_WITH_ALLOW,
                    "/Statement/0/NotPrincipal",
                )],
            ),
            (
                r#"{"Sid":"my sid","Effect":"Deny","Action":"s3:*","Resource":"*"}"#,
                vec![e(codes::SID_NOT_ALPHANUMERIC, "/Statement/0/Sid")],
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:${aws:username}","Resource":"*"}"#,
                vec![e(codes::VARIABLE_IN_ACTION, "/Statement/0/Action")],
            ),
        ];
        for (statement, expected) in cases {
            assert_eq!(warnings(&doc(statement)), expected, "{statement}");
        }
        let old = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}"#;
        assert_eq!(
            warnings(old),
            vec![
                e(codes::MISSING_VERSION, ""),
                e(codes::VARIABLE_IN_2008_POLICY, "/Statement/Resource")
            ]
        );
        // Warnings never make parse fail.
        assert!(Policy::parse(old).is_ok());
    }

    #[test]
    fn principals() {
        let p = Policy::parse(&doc(r#"{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::210987654321:role/path/Reader"],"Service":"lambda.amazonaws.com"},"Action":"s3:GetObject"}"#)).unwrap();
        let s = &p.statements()[0];
        let ctx = Context::new();
        let check = |who: Option<Principal>, expected: bool| {
            let r = Request {
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                principal: who.as_ref(),
                context: &ctx,
            };
            assert_eq!(s.applies(&r), expected, "{who:?}");
        };
        check(Some(Principal::Aws("123456789012".into())), true);
        check(
            Some(Principal::Aws(
                "arn:aws:iam::123456789012:user/alice".into(),
            )),
            true,
        );
        check(
            Some(Principal::Aws(
                "arn:aws:iam::999999999999:user/alice".into(),
            )),
            false,
        );
        check(
            Some(Principal::Aws(
                "arn:aws:iam::210987654321:role/path/Reader".into(),
            )),
            true,
        );
        check(
            Some(Principal::Aws(
                "arn:aws:sts::210987654321:assumed-role/Reader/session".into(),
            )),
            true,
        );
        check(
            Some(Principal::Aws(
                "arn:aws:sts::210987654321:assumed-role/Writer/session".into(),
            )),
            false,
        );
        check(
            Some(Principal::Service("lambda.amazonaws.com".into())),
            true,
        );
        check(Some(Principal::Service("ec2.amazonaws.com".into())), false);
        check(Some(Principal::Anonymous), false);
        check(None, false);
        let p = Policy::parse(&doc(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject"}"#,
        ))
        .unwrap();
        let r = Request {
            action: "s3:getobject",
            resource: "x",
            principal: Some(&Principal::Anonymous),
            context: &ctx,
        };
        assert!(p.statements()[0].applies(&r));
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            prop_oneof![
                Just("*".to_owned()),
                Just("Allow".to_owned()),
                Just("2012-10-17".to_owned()),
                Just("s3:GetObject".to_owned()),
                Just("arn:aws:s3:::b/${aws:username}/*".to_owned()),
                Just("${".to_owned()),
                "[a-zA-Z0-9:*?${}/' ,.-]{0,16}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            let key = prop_oneof![
                Just("Version".to_owned()),
                Just("Statement".to_owned()),
                Just("Effect".to_owned()),
                Just("Action".to_owned()),
                Just("NotAction".to_owned()),
                Just("Resource".to_owned()),
                Just("Principal".to_owned()),
                Just("AWS".to_owned()),
                Just("Condition".to_owned()),
                Just("ForAllValues:StringLike".to_owned()),
                Just("IpAddressIfExists".to_owned()),
                Just("Null".to_owned()),
                Just("DateLessThan".to_owned()),
                "[A-Za-z:]{1,12}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_json_values(value in json_value()) {
            let text = value.to_string();
            let parsed = Policy::parse(&text);
            let from_value = Policy::from_value(&value);
            prop_assert_eq!(parsed.is_ok(), from_value.is_ok());
            let findings = validate(&text);
            prop_assert_eq!(
                parsed.is_err(),
                findings.iter().any(|f| f.severity == Severity::Error)
            );
            if let Ok(policy) = parsed {
                let ctx = Context::new().with("aws:username", "a*").with("k", "v");
                let r = Request { action: "s3:GetObject", resource: "arn:aws:s3:::b/a*/x", principal: None, context: &ctx };
                let set = crate::PolicySet { identity: vec![&policy], ..Default::default() };
                let _ = crate::evaluate(&set, &r);
            }
        }

        #[test]
        fn parse_never_panics_on_policy_shaped_documents(
            effect in prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
            actions in prop::collection::vec("(\\*|[a-z]{1,4}:[A-Za-z*?]{0,6}|[a-z*]{0,3})", 0..3),
            resources in prop::collection::vec("(\\*|arn:aws:[a-z*]{0,3}:[a-z0-9-]{0,4}:[0-9*]{0,3}:[a-z/*?${}:]{0,12}|[a-z:]{0,8})", 0..3),
            op in "(ForAllValues:|ForAnyValue:)?(String|Numeric|Date|Arn|Ip|Binary)(Equals|NotEquals|Like|LessThan|Address)?(IfExists)?|Bool|Null",
            value in "[0-9a-zA-Z:/.*?${}'=, -]{0,20}",
        ) {
            let doc = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": effect,
                    "Action": actions,
                    "Resource": resources,
                    "Condition": { op: { "k": value } },
                }],
            });
            let text = doc.to_string();
            if let Ok(policy) = Policy::parse(&text) {
                let ctx = Context::new().with("k", "v").with("k", "2020-01-01");
                let r = Request { action: "s3:GetObject", resource: "arn:aws:s3:::b/x", principal: None, context: &ctx };
                let set = crate::PolicySet { identity: vec![&policy], ..Default::default() };
                let _ = crate::evaluate(&set, &r);
            }
            let _ = validate(&text);
        }
    }
}
