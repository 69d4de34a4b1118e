//! Just enough of DynamoDB's expression grammar to read what row-level access needs: the
//! partition key a `KeyConditionExpression` pins, and the attribute names an expression
//! touches. Anything this reader cannot prove is reported as such (`None`), never guessed:
//! the caller then denies whenever a policy depends on it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One token of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An attribute name as written (`pk`) or a placeholder (`#n`).
    Name(String),
    /// `:v`.
    Value(String),
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`.
    Comparison(String),
    /// `(`, `)`, `,`, `.`, `[`, `]`, `+`, `-`.
    Punct(char),
    /// A number inside a list index.
    Number,
}

/// Longest expression read (DynamoDB's own limit is 4 KB).
const MAX_EXPRESSION_LEN: usize = 4096;

fn tokenize(text: &str) -> Option<Vec<Token>> {
    if text.len() > MAX_EXPRESSION_LEN {
        return None;
    }
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => tokens.push(Token::Comparison("=".into())),
            '<' | '>' => {
                let mut op = c.to_string();
                if let Some((_, next)) = chars.peek().copied()
                    && (next == '=' || (c == '<' && next == '>'))
                {
                    op.push(next);
                    chars.next();
                }
                tokens.push(Token::Comparison(op));
            }
            '(' | ')' | ',' | '.' | '[' | ']' | '+' | '-' => tokens.push(Token::Punct(c)),
            '#' | ':' => {
                let mut end = start + c.len_utf8();
                while let Some((i, n)) = chars.peek().copied() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        end = i + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = text.get(start..end)?;
                if word.len() < 2 {
                    return None;
                }
                tokens.push(if c == '#' {
                    Token::Name(word.to_owned())
                } else {
                    Token::Value(word.to_owned())
                });
            }
            c if c.is_ascii_digit() => {
                while chars.peek().is_some_and(|(_, n)| n.is_ascii_digit()) {
                    chars.next();
                }
                tokens.push(Token::Number);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + 1;
                while let Some((i, n)) = chars.peek().copied() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        end = i + 1;
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Name(text.get(start..end)?.to_owned()));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

fn is_keyword(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

/// Resolves a name token: `#n` through `ExpressionAttributeNames` (an unknown placeholder is
/// `None`), a bare name as itself.
fn resolve(name: &str, names: Option<&Map<String, Value>>) -> Option<String> {
    if name.starts_with('#') {
        names?.get(name)?.as_str().map(str::to_owned)
    } else {
        Some(name.to_owned())
    }
}

/// The value a `KeyConditionExpression` pins the partition key `partition_key` to: the
/// placeholder of its one `pk = :v` condition, found among conditions joined by `AND` at the
/// top level. `None` when that cannot be proved: a parse failure, `OR` or `NOT` anywhere, no
/// such condition or more than one, a document path (`pk.x`, `pk[0]`) or an unknown
/// placeholder.
pub(crate) fn pinned_partition_value(
    expression: &str,
    names: Option<&Map<String, Value>>,
    partition_key: &str,
) -> Option<String> {
    let tokens = tokenize(expression)?;
    let is_name = |t: &Token, word: &str| matches!(t, Token::Name(n) if is_keyword(n, word));
    if tokens
        .iter()
        .any(|t| is_name(t, "OR") || is_name(t, "NOT") || is_name(t, "IN"))
    {
        return None;
    }
    // Split into conditions at top-level ANDs, the AND of BETWEEN … AND … excepted.
    let mut conditions: Vec<Vec<Token>> = vec![Vec::new()];
    let mut depth = 0usize;
    let mut between = false;
    for token in tokens {
        match &token {
            Token::Punct('(') => depth = depth.checked_add(1)?,
            Token::Punct(')') => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if is_name(&token, "BETWEEN") {
            between = true;
        } else if is_name(&token, "AND") && depth == 0 {
            if between {
                between = false;
            } else {
                conditions.push(Vec::new());
                continue;
            }
        }
        conditions.last_mut()?.push(token);
    }
    if depth != 0 || between {
        return None;
    }
    let mut pinned = None;
    let mut mentions = 0usize;
    for condition in &conditions {
        // Parentheses around a whole condition are allowed: `(pk = :v)`.
        let mut inner = condition.as_slice();
        while let [Token::Punct('('), middle @ .., Token::Punct(')')] = inner {
            inner = middle;
        }
        let names_partition = |t: &Token| match t {
            Token::Name(n) => resolve(n, names).as_deref() == Some(partition_key),
            _ => false,
        };
        // Any reference to the partition key counts: only the plain equality pins it.
        let refs = inner.iter().filter(|t| names_partition(t)).count();
        if refs == 0 {
            continue;
        }
        mentions = mentions.saturating_add(refs);
        match inner {
            [name, Token::Comparison(op), Token::Value(v)]
            | [Token::Value(v), Token::Comparison(op), name]
                if op == "=" && names_partition(name) =>
            {
                pinned = Some(v.clone());
            }
            _ => return None,
        }
    }
    if mentions == 1 { pinned } else { None }
}

/// The top-level attribute names an expression refers to (`ProjectionExpression`,
/// `UpdateExpression`, condition and filter expressions): each name that starts a path,
/// resolved; functions and keywords are not names. `None` when it does not parse or names
/// an unknown placeholder.
pub(crate) fn attribute_names(
    expression: &str,
    names: Option<&Map<String, Value>>,
) -> Option<BTreeSet<String>> {
    const KEYWORDS: &[&str] = &[
        "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN",
    ];
    const FUNCTIONS: &[&str] = &[
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
        "list_append",
    ];
    let tokens = tokenize(expression)?;
    let mut found = BTreeSet::new();
    let mut previous: Option<&Token> = None;
    for (i, token) in tokens.iter().enumerate() {
        if let Token::Name(n) = token {
            let after_dot = matches!(previous, Some(Token::Punct('.')));
            let is_call = matches!(tokens.get(i.saturating_add(1)), Some(Token::Punct('(')));
            let keyword = !n.starts_with('#') && KEYWORDS.iter().any(|k| is_keyword(n, k));
            let function = is_call && !n.starts_with('#') && FUNCTIONS.contains(&n.as_str());
            if !after_dot && !keyword && !function {
                found.insert(resolve(n, names)?);
            }
        }
        previous = Some(token);
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    /// (rule, expression, names, the placeholder pinned)
    #[test]
    fn key_conditions_pin_the_partition_key_only_when_provable() {
        let n = names(&[("#p", "pk"), ("#s", "sk"), ("#x", "pk")]);
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("plain equality", "pk = :v", Some(":v")),
            ("value first", ":v = pk", Some(":v")),
            (
                "with a sort key range",
                "pk = :v AND sk BETWEEN :a AND :b",
                Some(":v"),
            ),
            ("sort key first", "sk > :a AND pk = :v", Some(":v")),
            (
                "begins_with on the sort key",
                "pk = :v AND begins_with(sk, :p)",
                Some(":v"),
            ),
            (
                "a placeholder for the key",
                "#p = :v AND #s = :w",
                Some(":v"),
            ),
            ("parenthesised", "(pk = :v) AND (sk = :w)", Some(":v")),
            (
                "keywords in any case",
                "pk = :v and sk between :a and :b",
                Some(":v"),
            ),
            ("no partition key", "sk = :w", None),
            ("partition key twice", "pk = :v AND #x = :w", None),
            ("OR", "pk = :v OR pk = :w", None),
            ("NOT", "NOT pk = :v", None),
            ("inequality", "pk > :v", None),
            (
                "begins_with on the partition key",
                "begins_with(pk, :v)",
                None,
            ),
            ("a document path", "pk.inner = :v", None),
            ("an unknown placeholder", "#q = :v", None),
            ("unbalanced", "(pk = :v", None),
            ("garbage", "pk = :v; DROP", None),
            (
                "a name hidden behind a sort-key placeholder",
                "#s = :v AND #p = :w",
                Some(":w"),
            ),
        ];
        for (rule, expression, expected) in cases {
            assert_eq!(
                pinned_partition_value(expression, Some(&n), "pk").as_deref(),
                *expected,
                "{rule}: {expression}"
            );
        }
    }

    #[test]
    fn attribute_names_of_expressions() {
        let n = names(&[("#t", "title")]);
        let got = attribute_names(
            "SET #t = :t, body = list_append(body, :b) REMOVE old.x",
            Some(&n),
        );
        let expected: BTreeSet<String> = ["title", "body", "old"].map(str::to_owned).into();
        assert_eq!(got, Some(expected));
        assert_eq!(attribute_names("#missing", Some(&n)), None);
        let projection = attribute_names("pk, sk, items[0].name", None);
        let expected: BTreeSet<String> = ["pk", "sk", "items"].map(str::to_owned).into();
        assert_eq!(projection, Some(expected));
    }
}
