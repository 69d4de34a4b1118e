//! The crate's layout as a test: `definition/` is pure and imports neither plane, the data plane
//! (`server/`) never imports the control plane (`control/`). Reads the source of every file in
//! a part and fails on any path that leaves it the wrong way, naming the file and line.

use std::path::{Path, PathBuf};

/// What a part of the crate must not name, and why.
struct Rule {
    part: &'static str,
    forbidden: &'static [(&'static str, &'static str)],
}

const RULES: &[Rule] = &[
    Rule {
        part: "definition",
        forbidden: &[
            (
                "crate::server",
                "the data plane depends on definitions, not the reverse",
            ),
            (
                "crate::control",
                "the control plane depends on definitions, not the reverse",
            ),
            ("tokio", "definitions run no async code"),
            ("hyper", "definitions know no HTTP server or client"),
            ("hyper_util", "definitions know no HTTP server or client"),
            ("http_body_util", "definitions know no HTTP bodies"),
            ("axum", "definitions know no HTTP framework"),
            ("tower", "definitions know no services"),
            ("rustls", "definitions open no connections"),
            ("gatehouse_storage", "definitions name no storage"),
            ("gatehouse_identity", "definitions verify no tokens"),
            ("arc_swap", "definitions hold no live state"),
            (
                "governor",
                "definitions keep no limiters (they read a clock)",
            ),
            ("quick_cache", "definitions keep no caches"),
            ("aws_lc_rs", "definitions draw no randomness"),
            ("tracing", "definitions log nothing: problems are returned"),
            ("std::fs", "definitions read no files: callers hand in text"),
            // Addresses are values; sockets and name lookups are I/O.
            ("std::net::TcpStream", "definitions open no sockets"),
            ("std::net::TcpListener", "definitions open no sockets"),
            ("std::net::UdpSocket", "definitions open no sockets"),
            ("std::net::ToSocketAddrs", "definitions resolve no names"),
            ("to_socket_addrs", "definitions resolve no names"),
            ("std::thread", "definitions start no threads"),
            ("std::process", "definitions run no processes"),
            (
                "SystemTime::now",
                "definitions read no clock: callers hand in the time",
            ),
        ],
    },
    Rule {
        part: "server",
        forbidden: &[(
            "crate::control",
            "the data plane receives definitions; only the control plane writes them",
        )],
    },
];

/// Every `(line, path)` in `source` that starts with `forbidden` as a whole path segment,
/// outside comments and string literals.
fn violations(source: &str, forbidden: &str) -> Vec<usize> {
    let mut found = Vec::new();
    for (number, line) in code_lines(source) {
        let mut rest = line.as_str();
        while let Some(at) = rest.find(forbidden) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + forbidden.len()..].chars().next();
            let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let ends_segment = match after {
                None => true,
                Some(c) => !(c.is_alphanumeric() || c == '_'),
            };
            if starts_path && ends_segment {
                found.push(number);
                break;
            }
            rest = &rest[at + forbidden.len()..];
        }
    }
    found
}

/// The lines of `source` (numbered from 1) with comments and string literals blanked out, so
/// that a doc comment or a message may name what the code must not use.
fn code_lines(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block_comment = false;
    for (i, line) in source.lines().enumerate() {
        let mut code = String::new();
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            if in_block_comment {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_block_comment = false;
                }
                continue;
            }
            if in_string {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_string = false;
                }
                code.push(' ');
                continue;
            }
            match c {
                '/' if chars.peek() == Some(&'/') => break,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    in_block_comment = true;
                }
                '"' => {
                    in_string = true;
                    code.push(' ');
                }
                other => code.push(other),
            }
        }
        out.push((i + 1, code));
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn each_part_imports_only_what_its_layer_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for rule in RULES {
        let files = rust_files(&src.join(rule.part));
        assert!(!files.is_empty(), "no source files under src/{}", rule.part);
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for (forbidden, why) in rule.forbidden {
                for line in violations(&source, forbidden) {
                    problems.push(format!(
                        "{}:{line}: names `{forbidden}`: {why}",
                        file.strip_prefix(&src).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_finds_paths_and_ignores_comments_and_strings() {
    fn check(source: &str, forbidden: &str, expected: &[usize]) {
        assert_eq!(violations(source, forbidden), expected, "{source:?}");
    }
    check("use tokio::sync::mpsc;", "tokio", &[1]);
    check("use std::fs;\nfn f() {}", "std::fs", &[1]);
    check("fn f() { let t = std::fs::read(p); }", "std::fs", &[1]);
    check("use crate::server::Live;", "crate::server", &[1]);
    check("x\nlet _ = hyper::body::Incoming;", "hyper", &[2]);
    // A longer name that starts the same is another crate.
    check("use hyper_util::rt::TokioIo;", "hyper", &[]);
    check("use my_tokio::x;", "tokio", &[]);
    check("use crate::serverless::x;", "crate::server", &[]);
    // Comments and strings may name anything.
    check("//! Knows no `tokio::spawn`.", "tokio", &[]);
    check("let x = 1; // tokio::spawn", "tokio", &[]);
    check("/* tokio::spawn */ let x = 1;", "tokio", &[]);
    check("/* a\ntokio::spawn\n*/ use std::fs;", "tokio", &[]);
    check("let m = \"use tokio::spawn\";", "tokio", &[]);
    check("let m = \"a \\\" tokio\"; tokio::spawn(f);", "tokio", &[1]);
}
