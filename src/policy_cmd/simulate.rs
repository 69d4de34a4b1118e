//! `gatehouse policy simulate`: evaluates every (action, resource) pair and prints a table or the
//! JSON shape of `aws iam simulate-custom-policy`'s results.

use std::path::PathBuf;

use gatehouse_policy::{
    Decision, Effect, MatchedStatement, Outcome, Policy, PolicySet, PolicySource, Request, evaluate,
};
use serde_json::json;

use super::{EXIT_DENIED, EXIT_OK, InputError, clock, context_from_args, load_policy};
use crate::cli::{Output, SimulateArgs};

pub(super) fn run(args: &SimulateArgs) -> Result<u8, InputError> {
    let identity = load_all(&args.policies)?;
    let boundary = args
        .boundary
        .as_ref()
        .map(|path| load_policy(path).map(|policy| (path.display().to_string(), policy)))
        .transpose()?;
    let session = load_all(&args.session_policies)?;
    let resource = load_all(&args.resource_policies)?;
    let context = context_from_args(
        args.context.iter().map(String::as_str),
        clock::Now::system(),
    )?;
    let principal = args.principal.as_deref().map(super::parse_principal);

    let set = PolicySet {
        identity: identity.iter().map(|(_, policy)| policy).collect(),
        boundary: boundary.as_ref().map(|(_, policy)| policy),
        session: session.iter().map(|(_, policy)| policy).collect(),
        resource: resource.iter().map(|(_, policy)| policy).collect(),
    };
    let names = Names {
        identity: &identity,
        boundary: boundary.as_ref().map(|(name, _)| name.as_str()),
        session: &session,
        resource: &resource,
    };

    let mut rows = Vec::with_capacity(args.actions.len() * args.resources.len());
    for action in &args.actions {
        for resource_arn in &args.resources {
            let request = Request {
                action,
                resource: resource_arn,
                principal: principal.as_ref(),
                context: &context,
            };
            rows.push(Row {
                action,
                resource: resource_arn,
                decision: evaluate(&set, &request),
            });
        }
    }

    match args.output {
        Output::Text => print!("{}", render_text(&rows, &names)),
        Output::Json => println!("{}", render_json(&rows, &names)),
    }
    let all_allowed = rows
        .iter()
        .all(|row| row.decision.outcome == Outcome::Allowed);
    Ok(if all_allowed { EXIT_OK } else { EXIT_DENIED })
}

/// One evaluated (action, resource) pair.
struct Row<'a, 'p> {
    action: &'a str,
    resource: &'a str,
    decision: Decision<'p>,
}

/// The file names behind each position of the policy set, for reporting matched statements.
pub(super) struct Names<'a> {
    pub(super) identity: &'a [(String, Policy)],
    pub(super) boundary: Option<&'a str>,
    pub(super) session: &'a [(String, Policy)],
    pub(super) resource: &'a [(String, Policy)],
}

impl Names<'_> {
    pub(super) fn of(&self, source: PolicySource) -> &str {
        let name = match source {
            PolicySource::Identity(i) => self.identity.get(i).map(|(name, _)| name.as_str()),
            PolicySource::Boundary => self.boundary,
            PolicySource::Session(i) => self.session.get(i).map(|(name, _)| name.as_str()),
            PolicySource::Resource(i) => self.resource.get(i).map(|(name, _)| name.as_str()),
        };
        name.unwrap_or("?")
    }
}

fn load_all(paths: &[PathBuf]) -> Result<Vec<(String, Policy)>, InputError> {
    paths
        .iter()
        .map(|path| load_policy(path).map(|policy| (path.display().to_string(), policy)))
        .collect()
}

pub(super) fn effect_word(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    }
}

/// `file#index (Sid, Effect)` — how a matched statement is shown to a person.
pub(super) fn describe_statement(statement: &MatchedStatement<'_>, names: &Names<'_>) -> String {
    let sid = statement
        .sid
        .map(|sid| format!("Sid {sid:?}, "))
        .unwrap_or_default();
    format!(
        "{}#{} ({sid}{})",
        names.of(statement.source),
        statement.index,
        effect_word(statement.effect)
    )
}

fn render_text(rows: &[Row<'_, '_>], names: &Names<'_>) -> String {
    let header = ["ACTION", "RESOURCE", "DECISION", "MATCHED STATEMENTS"];
    let table: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            let matched = if row.decision.matched.is_empty() {
                "-".to_owned()
            } else {
                row.decision
                    .matched
                    .iter()
                    .map(|statement| describe_statement(statement, names))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            [
                row.action.to_owned(),
                row.resource.to_owned(),
                row.decision.outcome.as_str().to_owned(),
                matched,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for cells in &table {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    push_line(&mut out, &header.map(str::to_owned), &widths);
    for cells in &table {
        push_line(&mut out, cells, &widths);
    }
    out
}

fn push_line(out: &mut String, cells: &[String; 4], widths: &[usize; 4]) {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<width$}  "));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn render_json(rows: &[Row<'_, '_>], names: &Names<'_>) -> serde_json::Value {
    let results: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let matched: Vec<serde_json::Value> = row
                .decision
                .matched
                .iter()
                .map(|statement| {
                    json!({
                        "policy": names.of(statement.source),
                        "index": statement.index,
                        "sid": statement.sid,
                        "effect": effect_word(statement.effect),
                    })
                })
                .collect();
            json!({
                "action": row.action,
                "resource": row.resource,
                "decision": row.decision.outcome.as_str(),
                "matchedStatements": matched,
            })
        })
        .collect();
    json!({ "results": results })
}
