//! `gatehouse policy validate`: prints every finding in each document; exit 2 when any is an error.

use gatehouse_policy::{Finding, Severity, validate};
use serde_json::json;

use super::{EXIT_INVALID, EXIT_OK, InputError, pointer_or_root, read_text};
use crate::cli::{Output, ValidateArgs};

pub(super) fn run(args: &ValidateArgs) -> Result<u8, InputError> {
    let mut reports = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let text = read_text(path)?;
        reports.push((path.display().to_string(), validate(&text)));
    }
    let errors = count(&reports, Severity::Error);
    let warnings = count(&reports, Severity::Warning);
    match args.output {
        Output::Text => {
            for (name, findings) in &reports {
                for finding in findings {
                    println!("{}", line(name, finding));
                }
            }
            println!(
                "{} file(s) checked: {errors} error(s), {warnings} warning(s)",
                reports.len()
            );
        }
        Output::Json => {
            let files: Vec<serde_json::Value> = reports
                .iter()
                .map(|(name, findings)| {
                    let findings: Vec<serde_json::Value> = findings
                        .iter()
                        .map(|finding| {
                            json!({
                                "severity": severity_word(finding.severity),
                                "pointer": finding.pointer,
                                "code": finding.code,
                                "message": finding.message,
                            })
                        })
                        .collect();
                    json!({ "file": name, "findings": findings })
                })
                .collect();
            println!("{}", json!({ "files": files }));
        }
    }
    Ok(if errors > 0 { EXIT_INVALID } else { EXIT_OK })
}

fn count(reports: &[(String, Vec<Finding>)], severity: Severity) -> usize {
    reports
        .iter()
        .flat_map(|(_, findings)| findings)
        .filter(|finding| finding.severity == severity)
        .count()
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `file:/pointer: warning[code]: message` — the shape compilers use, so editors can jump to it.
fn line(name: &str, finding: &Finding) -> String {
    format!(
        "{name}:{}: {}[{}]: {}",
        pointer_or_root(&finding.pointer),
        severity_word(finding.severity),
        finding.code,
        finding.message
    )
}
