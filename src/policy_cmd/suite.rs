//! `gatehouse policy test`: YAML test suites that keep policies and the decisions they must give
//! side by side, run like a test runner and ending in `N passed, M failed`.
//!
//! ```yaml
//! policies:                      # by name: a path relative to this file, or an inline document
//!   rows: cognito-rows.json
//! defaults:                      # what every case starts from; a case's own fields replace these
//!   policies: [rows]             # (context keys are merged, the case's value winning)
//!   context:
//!     cognito-identity.amazonaws.com:sub: us-east-1:1111
//! cases:
//!   - name: owner reads own row
//!     action: dynamodb:GetItem   # one or a list; every (action, resource) pair must give `expect`
//!     resource: arn:aws:dynamodb:us-east-1:123456789012:table/Notes
//!     context:
//!       dynamodb:LeadingKeys: [us-east-1:1111]
//!     expect: allowed            # allowed | denied | explicitDeny | implicitDeny
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatehouse_policy::{Context, Outcome, Policy, PolicySet, Request, evaluate};
use serde::Deserialize;

use super::simulate::{Names, describe_statement};
use super::{EXIT_DENIED, EXIT_INVALID, EXIT_OK, InputError, add_time_keys, clock, read_text};
use crate::cli::TestArgs;

pub(super) fn run(args: &TestArgs) -> Result<u8, InputError> {
    let now = clock::Now::system();
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut invalid = false;
    for path in &args.files {
        println!("{}", path.display());
        match run_file(path, now) {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome.failure {
                        None => {
                            passed += 1;
                            println!("  ok    {}", outcome.name);
                        }
                        Some(why) => {
                            failed += 1;
                            println!("  FAIL  {}", outcome.name);
                            for line in why.lines() {
                                println!("        {line}");
                            }
                        }
                    }
                }
            }
            Err(err) => {
                invalid = true;
                println!("  ERROR {err}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if invalid {
        EXIT_INVALID
    } else if failed > 0 {
        EXIT_DENIED
    } else {
        EXIT_OK
    })
}

// === the file format ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    #[serde(default)]
    policies: BTreeMap<String, PolicyRef>,
    #[serde(default)]
    defaults: CaseFields,
    cases: Vec<CaseFields>,
}

/// A policy named in a suite: a file path relative to the suite, or the document inline.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PolicyRef {
    Path(String),
    Inline(serde_json::Value),
}

/// A case, or the `defaults` block (which may set everything but `name` and `expect`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct CaseFields {
    name: Option<String>,
    expect: Option<Expect>,
    policies: Option<Vec<String>>,
    boundary: Option<String>,
    session_policies: Option<Vec<String>>,
    resource_policies: Option<Vec<String>>,
    principal: Option<String>,
    action: Option<OneOrMany>,
    resource: Option<OneOrMany>,
    #[serde(default)]
    context: BTreeMap<String, ContextValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// A context value in YAML: a scalar (string, number, bool) or a list of them (multi-valued).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ContextValue {
    Many(Vec<Scalar>),
    One(Scalar),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Bool(value) => value.to_string(),
            Self::Int(value) => value.to_string(),
            Self::Float(value) => value.to_string(),
            Self::Text(value) => value,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Expect {
    #[serde(rename = "allowed")]
    Allowed,
    /// Either kind of deny.
    #[serde(rename = "denied")]
    Denied,
    #[serde(rename = "explicitDeny")]
    ExplicitDeny,
    #[serde(rename = "implicitDeny")]
    ImplicitDeny,
}

impl Expect {
    fn accepts(self, outcome: Outcome) -> bool {
        match self {
            Self::Allowed => outcome == Outcome::Allowed,
            Self::Denied => outcome != Outcome::Allowed,
            Self::ExplicitDeny => outcome == Outcome::ExplicitDeny,
            Self::ImplicitDeny => outcome == Outcome::ImplicitDeny,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

// === running a file ===

struct CaseOutcome {
    name: String,
    /// Why the case failed, one line per failing (action, resource) pair; `None` when it passed.
    failure: Option<String>,
}

fn run_file(path: &Path, now: clock::Now) -> Result<Vec<CaseOutcome>, InputError> {
    let suite_err = |message: String| InputError::Suite {
        path: path.to_path_buf(),
        message,
    };
    let text = read_text(path)?;
    let suite: SuiteFile =
        serde_yaml_ng::from_str(&text).map_err(|err| suite_err(err.to_string()))?;
    if suite.defaults.name.is_some() || suite.defaults.expect.is_some() {
        return Err(suite_err(
            "`defaults` may not set `name` or `expect`".to_owned(),
        ));
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let policies = load_policies(&suite.policies, &base, path)?;
    suite
        .cases
        .into_iter()
        .map(|case| run_case(case, &suite.defaults, &policies, now).map_err(suite_err))
        .collect()
}

/// Loads every named policy once; the names stay in suite order for reporting.
fn load_policies(
    refs: &BTreeMap<String, PolicyRef>,
    base: &Path,
    suite: &Path,
) -> Result<BTreeMap<String, Policy>, InputError> {
    let mut loaded = BTreeMap::new();
    for (name, policy_ref) in refs {
        let policy = match policy_ref {
            PolicyRef::Path(relative) => {
                let file: PathBuf = base.join(relative);
                super::load_policy(&file)?
            }
            PolicyRef::Inline(document) => {
                Policy::from_value(document).map_err(|error| InputError::Policy {
                    path: format!("{}#/policies/{name}", suite.display()),
                    error,
                })?
            }
        };
        loaded.insert(name.clone(), policy);
    }
    Ok(loaded)
}

fn run_case(
    fields: CaseFields,
    defaults: &CaseFields,
    policies: &BTreeMap<String, Policy>,
    now: clock::Now,
) -> Result<CaseOutcome, String> {
    let name = fields
        .name
        .clone()
        .ok_or_else(|| "every case needs a `name`".to_owned())?;
    let expect = fields
        .expect
        .ok_or_else(|| format!("case `{name}` has no `expect`"))?;
    let lookup = |names: &[String]| -> Result<Vec<(String, Policy)>, String> {
        names
            .iter()
            .map(|name| {
                policies
                    .get(name)
                    .map(|policy| (name.clone(), policy.clone()))
                    .ok_or_else(|| format!("case `{}` names unknown policy `{name}`", name))
            })
            .collect()
    };
    let identity = lookup(or_default(&fields.policies, &defaults.policies))?;
    let boundary = match fields.boundary.as_ref().or(defaults.boundary.as_ref()) {
        Some(name) => lookup(std::slice::from_ref(name))?.pop(),
        None => None,
    };
    let session = lookup(or_default(
        &fields.session_policies,
        &defaults.session_policies,
    ))?;
    let resource_policies = lookup(or_default(
        &fields.resource_policies,
        &defaults.resource_policies,
    ))?;
    let actions = fields
        .action
        .as_ref()
        .or(defaults.action.as_ref())
        .ok_or_else(|| format!("case `{}` has no action", name))?;
    let resources = fields
        .resource
        .as_ref()
        .or(defaults.resource.as_ref())
        .ok_or_else(|| format!("case `{}` has no resource", name))?;
    let principal = fields
        .principal
        .as_ref()
        .or(defaults.principal.as_ref())
        .map(|text| super::parse_principal(text));

    let mut context = Context::new();
    let mut merged = defaults.context.clone();
    merged.extend(fields.context);
    for (key, value) in merged {
        let values = match value {
            ContextValue::One(one) => vec![one.into_text()],
            ContextValue::Many(many) => many.into_iter().map(Scalar::into_text).collect(),
        };
        context.set(&key, values);
    }
    add_time_keys(&mut context, now);

    let set = PolicySet {
        identity: identity.iter().map(|(_, policy)| policy).collect(),
        boundary: boundary.as_ref().map(|(_, policy)| policy),
        session: session.iter().map(|(_, policy)| policy).collect(),
        resource: resource_policies.iter().map(|(_, policy)| policy).collect(),
    };
    let names = Names {
        identity: &identity,
        boundary: boundary.as_ref().map(|(name, _)| name.as_str()),
        session: &session,
        resource: &resource_policies,
    };
    let mut failures = Vec::new();
    for action in actions.as_slice() {
        for resource in resources.as_slice() {
            let request = Request {
                action,
                resource,
                principal: principal.as_ref(),
                context: &context,
            };
            let decision = evaluate(&set, &request);
            if !expect.accepts(decision.outcome) {
                let matched = if decision.matched.is_empty() {
                    "no statement matched".to_owned()
                } else {
                    let list: Vec<String> = decision
                        .matched
                        .iter()
                        .map(|statement| describe_statement(statement, &names))
                        .collect();
                    format!("matched {}", list.join(", "))
                };
                failures.push(format!(
                    "{action} on {resource}: expected {}, got {} ({matched})",
                    expect.word(),
                    decision.outcome.as_str()
                ));
            }
        }
    }
    Ok(CaseOutcome {
        name,
        failure: (!failures.is_empty()).then(|| failures.join("\n")),
    })
}

fn or_default<'a>(own: &'a Option<Vec<String>>, default: &'a Option<Vec<String>>) -> &'a [String] {
    own.as_deref().or(default.as_deref()).unwrap_or(&[])
}
