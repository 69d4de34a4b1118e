//! The compiler from a policy document (the JSON tree of [`crate::json`]) to the matchers of
//! [`Policy`]: every element checked, every error and warning reported with its JSON pointer.

use std::collections::HashMap;

use super::lints;
use super::{AwsPrincipal, Effect, Matchers, Policy, PrincipalMatcher, Statement, Version};
use crate::MAX_STATEMENTS;
use crate::arn::{ArnCase, ArnPattern};
use crate::condition::{self, Base, Clause, Operator, Qualifier};
use crate::error::{Finding, Severity, child, codes, index};
use crate::glob::{Pattern, Syntax};
use crate::json::Node;

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
            if let Some(p) = lints::unguarded_leading_keys(&statement) {
                leading_keys_candidates.push(p);
            }
            statements.push(statement);
        }
    }
    lints::leading_keys_warnings(&mut c.findings, &statements, leading_keys_candidates);
    let policy = Policy {
        version: c.version,
        version_given,
        id,
        statements,
    };
    (Some(policy), c.findings)
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
    lints::statement_warnings(&mut c.findings, &statement, node, pointer);
    lints::for_all_values_warnings(&mut c.findings, &statement);
    Some(statement)
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
    lints::condition_key_warnings(&mut c.findings, op, op_name, key, pointer);
    let lower = key.to_ascii_lowercase();
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
