//! `gatehouse policy …`: the command-line policy tester. Reads files, builds requests, prints
//! decisions; the language itself lives in the `gatehouse-policy` crate.

mod clock;
mod simulate;
mod suite;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gatehouse_policy::{Context, Policy, PolicyError, Principal};

use crate::cli::PolicyCommand;

/// Policy files larger than this are refused before parsing (the policy crate has its own,
/// smaller limit on the document text; this one only bounds what we read into memory).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Exit status when every decision was as hoped (all allowed, all suite cases passed).
const EXIT_OK: u8 = 0;
/// Exit status when some request was denied or some suite case failed.
const EXIT_DENIED: u8 = 1;
/// Exit status for invalid input: unreadable files, invalid policies, bad arguments.
const EXIT_INVALID: u8 = 2;

pub(crate) fn run(command: PolicyCommand) -> ExitCode {
    let code = match command {
        PolicyCommand::Simulate(args) => simulate::run(&args),
        PolicyCommand::Validate(args) => validate::run(&args),
        PolicyCommand::Test(args) => suite::run(&args),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("gatehouse policy: {err}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Everything that makes a policy command's input unusable (exit status 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is larger than {MAX_FILE_BYTES} bytes", path.display())]
    FileTooLarge { path: PathBuf },
    #[error("{}", PolicyErrorDisplay { path, error })]
    Policy { path: String, error: PolicyError },
    #[error("context argument `{0}` is not KEY=VALUE")]
    Context(String),
    #[error("{}: {message}", path.display())]
    Suite { path: PathBuf, message: String },
}

/// Renders a policy error with the file name in front of every finding, one per line, so that
/// an editor can jump to it.
struct PolicyErrorDisplay<'a> {
    path: &'a str,
    error: &'a PolicyError,
}

impl fmt::Display for PolicyErrorDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, finding) in self.error.findings().iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}: error[{}]: {}",
                self.path,
                pointer_or_root(&finding.pointer),
                finding.code,
                finding.message
            )?;
        }
        Ok(())
    }
}

/// A JSON pointer for people: the empty pointer (the whole document) shows as `/`.
fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// Reads a whole text file, refusing oversized ones.
fn read_text(path: &Path) -> Result<String, InputError> {
    let read_err = |source| InputError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(InputError::FileTooLarge {
            path: path.to_path_buf(),
        });
    }
    std::fs::read_to_string(path).map_err(read_err)
}

/// Reads and parses one policy document.
fn load_policy(path: &Path) -> Result<Policy, InputError> {
    let text = read_text(path)?;
    Policy::parse(&text).map_err(|error| InputError::Policy {
        path: path.display().to_string(),
        error,
    })
}

/// Builds a request context from `KEY=VALUE` arguments (a repeated key is multi-valued) and
/// fills in the time keys from the clock unless the caller fixed them.
fn context_from_args<'a>(
    pairs: impl IntoIterator<Item = &'a str>,
    now: clock::Now,
) -> Result<Context, InputError> {
    let mut context = Context::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| InputError::Context(pair.to_owned()))?;
        context.insert(key.trim(), value);
    }
    add_time_keys(&mut context, now);
    Ok(context)
}

/// `aws:CurrentTime` and `aws:EpochTime` are always present on AWS requests; the policy engine
/// never reads a clock, so the command line supplies them unless they were given explicitly.
fn add_time_keys(context: &mut Context, now: clock::Now) {
    if context.get("aws:CurrentTime").is_none() {
        context.insert("aws:CurrentTime", now.iso8601());
    }
    if context.get("aws:EpochTime").is_none() {
        context.insert("aws:EpochTime", now.epoch_seconds().to_string());
    }
}

/// Parses the `--principal` notation: an ARN or account id, `service:NAME`, `federated:NAME`,
/// `canonical:ID`, or `anonymous` / `*`.
fn parse_principal(text: &str) -> Principal {
    if text == "*" || text.eq_ignore_ascii_case("anonymous") {
        return Principal::Anonymous;
    }
    if let Some(name) = text.strip_prefix("service:") {
        return Principal::Service(name.to_owned());
    }
    if let Some(name) = text.strip_prefix("federated:") {
        return Principal::Federated(name.to_owned());
    }
    if let Some(id) = text.strip_prefix("canonical:") {
        return Principal::CanonicalUser(id.to_owned());
    }
    Principal::Aws(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_context_key_is_multi_valued() {
        let context = context_from_args(["k=a", "K=b", "other=x=y"], clock::Now::from_epoch(0))
            .expect("valid pairs");
        assert_eq!(
            context.get("k").map(<[String]>::to_vec),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            context.get("other").map(<[String]>::to_vec),
            Some(vec!["x=y".to_owned()])
        );
    }

    #[test]
    fn context_without_equals_is_refused() {
        let err = context_from_args(["novalue"], clock::Now::from_epoch(0)).unwrap_err();
        assert!(matches!(err, InputError::Context(arg) if arg == "novalue"));
        let err = context_from_args(["=value"], clock::Now::from_epoch(0)).unwrap_err();
        assert!(matches!(err, InputError::Context(_)));
    }

    #[test]
    fn time_keys_are_filled_unless_given() {
        let context = context_from_args([], clock::Now::from_epoch(1_700_000_000)).unwrap();
        assert_eq!(
            context.get("aws:currenttime").map(<[String]>::to_vec),
            Some(vec!["2023-11-14T22:13:20Z".to_owned()])
        );
        assert_eq!(
            context.get("aws:EpochTime").map(<[String]>::to_vec),
            Some(vec!["1700000000".to_owned()])
        );
        let context = context_from_args(
            ["aws:CurrentTime=2020-01-01T00:00:00Z"],
            clock::Now::from_epoch(1_700_000_000),
        )
        .unwrap();
        assert_eq!(
            context.get("aws:CurrentTime").map(<[String]>::to_vec),
            Some(vec!["2020-01-01T00:00:00Z".to_owned()])
        );
    }

    #[test]
    fn principal_notation() {
        assert_eq!(parse_principal("*"), Principal::Anonymous);
        assert_eq!(
            parse_principal("service:lambda.amazonaws.com"),
            Principal::Service("lambda.amazonaws.com".to_owned())
        );
        assert_eq!(
            parse_principal("arn:aws:iam::123456789012:root"),
            Principal::Aws("arn:aws:iam::123456789012:root".to_owned())
        );
    }
}
