//! Reviewer warnings: statements that are valid but usually a mistake (`Allow` of everything,
//! `NotAction` on every resource, `ForAllValues` without a `Null` guard, `IfExists` on keys
//! every request has, misspelt global condition keys). Each has a stable code in
//! [`crate::codes`].

use crate::arn::ArnPattern;
use crate::condition::{self, Operator, Qualifier};
use crate::error::{Finding, Severity, child, codes};
use crate::glob::Pattern;
use crate::json::Node;

use super::{Effect, Statement};

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

/// Warnings on a condition key: `…IfExists` on a key every request has, an `aws:` key that is
/// not a global condition key.
pub(super) fn condition_key_warnings(
    findings: &mut Vec<Finding>,
    op: Operator,
    op_name: &str,
    key: &str,
    pointer: &str,
) {
    let lower = key.to_ascii_lowercase();
    if op.if_exists && ALWAYS_PRESENT_KEYS.contains(&lower.as_str()) {
        warn(
            findings,
            pointer,
            codes::IF_EXISTS_ON_ALWAYS_PRESENT_KEY,
            format!(
                "`{key}` is in every request, so `IfExists` in `{op_name}` changes nothing; drop the suffix"
            ),
        );
    }
    if lower.starts_with("aws:")
        && !GLOBAL_KEYS.contains(&lower.as_str())
        && !GLOBAL_KEY_PREFIXES.iter().any(|p| lower.starts_with(p))
    {
        warn(
            findings,
            pointer,
            codes::UNKNOWN_GLOBAL_KEY,
            format!("`{key}` is not an AWS global condition key; check the spelling"),
        );
    }
}

/// The policy-level warning on `dynamodb:LeadingKeys`: the `candidates` (see
/// [`unguarded_leading_keys`]) are holes when the policy also allows `dynamodb:Scan`.
pub(super) fn leading_keys_warnings(
    findings: &mut Vec<Finding>,
    statements: &[Statement],
    candidates: Vec<String>,
) {
    let scan_allowed = statements
        .iter()
        .any(|s| s.effect == Effect::Allow && s.matches_action("dynamodb:Scan"));
    if scan_allowed {
        for pointer in candidates {
            warn(
                findings,
                &pointer,
                codes::LEADING_KEYS_WITHOUT_NULL_GUARD,
                "`ForAllValues` on `dynamodb:LeadingKeys` is true when the request has no leading keys, and this policy allows `dynamodb:Scan`, which has none: every item of the table is readable; add \"Null\": {\"dynamodb:LeadingKeys\": \"false\"} to the statement and do not allow `Scan`",
            );
        }
    }
}

/// The pointer of a `ForAllValues:…` clause on `dynamodb:LeadingKeys` in an `Allow` statement
/// that has no `Null: false` guard on the same key.
pub(super) fn unguarded_leading_keys(statement: &Statement) -> Option<String> {
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

pub(super) fn statement_warnings(
    findings: &mut Vec<Finding>,
    s: &Statement,
    node: &Node,
    pointer: &str,
) {
    if s.effect != Effect::Allow {
        return;
    }
    let all_resources = s
        .resource
        .as_ref()
        .is_none_or(|r| !r.not && r.patterns.iter().any(ArnPattern::is_any));
    if s.action.not && all_resources && node.get("NotAction").is_some() {
        warn(
            findings,
            &child(pointer, "NotAction"),
            codes::ALLOW_NOT_ACTION_ALL_RESOURCES,
            "`Allow` with `NotAction` on every resource grants every other action of every service, including ones added later; list the actions to allow instead",
        );
    }
    let all_actions = !s.action.not && s.action.patterns.iter().any(Pattern::matches_everything);
    if all_actions && all_resources && s.conditions.is_empty() && s.principal.is_none() {
        warn(
            findings,
            pointer,
            codes::ALLOW_ALL,
            "this statement allows every action on every resource (full administrator access)",
        );
    }
}

/// A positive `ForAllValues` in an `Allow` passes when the key is absent; without a `Null` guard
/// on the same key that is usually a hole. `dynamodb:LeadingKeys` gets its own, sharper warning
/// at the policy level.
pub(super) fn for_all_values_warnings(findings: &mut Vec<Finding>, s: &Statement) {
    if s.effect != Effect::Allow {
        return;
    }
    for clause in &s.conditions {
        if clause.op.qualifier == Qualifier::ForAllValues
            && !clause.op.base.negated()
            && &*clause.key != "dynamodb:leadingkeys"
            && !has_null_guard(s, &clause.key)
        {
            warn(
                findings,
                &clause.pointer,
                codes::FOR_ALL_VALUES_WITHOUT_NULL_GUARD,
                format!(
                    "`ForAllValues` is true when the request has no `{}` at all; add \"Null\": {{\"{}\": \"false\"}} if the key must be present",
                    clause.key, clause.key
                ),
            );
        }
    }
}

fn has_null_guard(s: &Statement, key: &str) -> bool {
    s.conditions.iter().any(|c| {
        &*c.key == key && matches!(&c.values, condition::Values::Null(v) if v.contains(&false))
    })
}

fn warn(
    findings: &mut Vec<Finding>,
    pointer: &str,
    code: &'static str,
    message: impl Into<String>,
) {
    findings.push(Finding {
        severity: Severity::Warning,
        pointer: pointer.to_owned(),
        code,
        message: message.into(),
    });
}
