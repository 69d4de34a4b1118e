//! `gatehouse users export` and `gatehouse users import`: the JSON-lines transfer format
//! (`gatehouse-users/1`) read and written here, the work done by the user pools' service layer.
//!
//! The first line names the pool (`"type": "pool"`: id, name, configuration); each further line
//! is one user (`"type": "user"`). Secrets are in `sealed`, base64 of blobs sealed under the
//! transfer key the operator passes (`--key-file` or `GATEHOUSE_EXPORT_KEY`, `id:base64` of 32
//! bytes, the master key's format), never in clear.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_identity::crypto::Sealer;
use gatehouse_identity::user_pools::{
    ExportedMfa, ExportedPool, ExportedUser, ImportOutcome, UserPools,
};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::serve::ServeError;
use crate::state::{self, State};

/// The format's name, in the first line.
const FORMAT: &str = "gatehouse-users/1";
/// Longest line read (a user with every attribute at its limit fits many times over).
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// The environment variable holding the transfer key when no `--key-file` is given.
const KEY_ENV: &str = "GATEHOUSE_EXPORT_KEY";

/// Why an export or an import stopped. An import checks every line before it writes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransferError {
    #[error(
        "no transfer key: pass --key-file FILE or set {KEY_ENV} (`id:base64` of 32 random bytes)"
    )]
    NoKey,
    #[error("transfer key: {0}")]
    Key(String),
    #[error("`{}`: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Service(String),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Pool(PoolLine),
    User(Box<UserLine>),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolLine {
    format: String,
    id: String,
    name: String,
    config: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLine {
    username: String,
    sub: String,
    status: String,
    enabled: bool,
    attributes: BTreeMap<String, String>,
    groups: Vec<String>,
    created_at: i64,
    mfa: MfaLine,
    sealed: SealedLine,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaLine {
    totp_name: Option<String>,
    totp_last_step: i64,
    totp_enabled: bool,
    totp_preferred: bool,
    email_enabled: bool,
    email_preferred: bool,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SealedLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    srp_verifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_secret: Option<String>,
}

/// Writes the pool's users to `output` (a new 0600 file) or stdout.
pub(crate) async fn export(
    config: Config,
    pool: String,
    output: Option<PathBuf>,
    key_file: Option<PathBuf>,
) -> Result<(), TransferError> {
    let key = transfer_key(key_file.as_deref())?;
    let public_url = config.public_url_for(config.listen);
    let state = State::open(&config, &public_url)
        .await
        .map_err(ServeError::from)?;
    let result = write_export(&state.user_pools, &pool, &key, output.as_deref()).await;
    state.store.close().await;
    let count = result?;
    eprintln!("gatehouse: exported {count} users of {pool}");
    Ok(())
}

async fn write_export(
    user_pools: &UserPools,
    pool_id: &str,
    key: &Sealer,
    output: Option<&Path>,
) -> Result<usize, TransferError> {
    let service =
        |e: gatehouse_identity::user_pools::UserPoolError| TransferError::Service(e.to_string());
    let pool = user_pools.export_pool(pool_id).await.map_err(service)?;
    let mut sink: Box<dyn Write> = match output {
        Some(path) => {
            let file =
                state::create_private_file(path).map_err(|source| file_error(path, source))?;
            Box::new(std::io::BufWriter::new(file))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let out_path = output.map_or_else(|| PathBuf::from("stdout"), Path::to_path_buf);
    let write = |sink: &mut Box<dyn Write>, line: &Line| -> Result<(), TransferError> {
        let text = serde_json::to_string(line)
            .map_err(|e| TransferError::Service(format!("encoding a line: {e}")))?;
        writeln!(sink, "{text}").map_err(|source| file_error(&out_path, source))
    };
    let config = serde_json::from_str(&pool.config)
        .map_err(|e| TransferError::Service(format!("stored pool configuration: {e}")))?;
    write(
        &mut sink,
        &Line::Pool(PoolLine {
            format: FORMAT.into(),
            id: pool.id,
            name: pool.name,
            config,
        }),
    )?;
    let mut count = 0;
    let mut cursor = None;
    loop {
        let page = user_pools
            .export_users(pool_id, key, cursor)
            .await
            .map_err(service)?;
        for user in page.users {
            write(&mut sink, &Line::User(Box::new(user_line(user))))?;
            count += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    sink.flush()
        .map_err(|source| file_error(&out_path, source))?;
    Ok(count)
}

/// Reads an export from `input` (or stdin), checks every line, then imports the users into
/// `pool` (default: the exported pool's id, made here with its configuration if missing).
pub(crate) async fn import(
    config: Config,
    pool: Option<String>,
    input: Option<PathBuf>,
    key_file: Option<PathBuf>,
) -> Result<(), TransferError> {
    let key = transfer_key(key_file.as_deref())?;
    let (source, users) = read_export(input.as_deref())?;
    let public_url = config.public_url_for(config.listen);
    let state = State::open(&config, &public_url)
        .await
        .map_err(ServeError::from)?;
    let result = import_users(&state.user_pools, &source, pool, &key, &users).await;
    state.store.close().await;
    let (target, imported, there) = result?;
    eprintln!(
        "gatehouse: imported {imported} users into {target}; {there} already there, left as they were"
    );
    Ok(())
}

async fn import_users(
    user_pools: &UserPools,
    source: &ExportedPool,
    pool: Option<String>,
    key: &Sealer,
    users: &[(usize, ExportedUser)],
) -> Result<(String, usize, usize), TransferError> {
    let service =
        |e: gatehouse_identity::user_pools::UserPoolError| TransferError::Service(e.to_string());
    // Every line opens with this key before anything is written.
    for (line, user) in users {
        user_pools
            .check_exported_user(&source.id, key, user)
            .map_err(|e| TransferError::Line {
                line: *line,
                message: e.to_string(),
            })?;
    }
    let target = match pool {
        Some(pool) => pool,
        None => {
            if user_pools.import_pool(source).await.map_err(service)? {
                eprintln!("gatehouse: made pool {} ({})", source.id, source.name);
            }
            source.id.clone()
        }
    };
    let (mut imported, mut there) = (0, 0);
    for (line, user) in users {
        match user_pools
            .import_user(&source.id, &target, key, user)
            .await
            .map_err(|e| TransferError::Line {
                line: *line,
                message: e.to_string(),
            })? {
            ImportOutcome::Imported => imported += 1,
            ImportOutcome::AlreadyThere => there += 1,
        }
    }
    Ok((target, imported, there))
}

fn read_export(
    input: Option<&Path>,
) -> Result<(ExportedPool, Vec<(usize, ExportedUser)>), TransferError> {
    let in_path = input.map_or_else(|| PathBuf::from("stdin"), Path::to_path_buf);
    let reader: Box<dyn BufRead> = match input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|source| file_error(path, source))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin().lock())),
    };
    let mut pool = None;
    let mut users = Vec::new();
    let mut number = 0;
    let mut reader = reader;
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = std::io::Read::take(&mut reader, (MAX_LINE_BYTES + 1) as u64)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| file_error(&in_path, source))?;
        if read == 0 {
            break;
        }
        number += 1;
        let bad = |message: String| TransferError::Line {
            line: number,
            message,
        };
        if buffer.len() > MAX_LINE_BYTES {
            return Err(bad(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(&buffer).map_err(|_| bad("not UTF-8".into()))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        match (line, &pool) {
            (Line::Pool(p), None) => {
                if p.format != FORMAT {
                    return Err(bad(format!("format `{}`, expected `{FORMAT}`", p.format)));
                }
                pool = Some(ExportedPool {
                    id: p.id,
                    name: p.name,
                    config: p.config.to_string(),
                });
            }
            (Line::Pool(_), Some(_)) => return Err(bad("a second pool line".into())),
            (Line::User(_), None) => return Err(bad("a user before the pool line".into())),
            (Line::User(u), Some(_)) => users.push((number, exported_user(*u).map_err(bad)?)),
        }
    }
    let pool = pool.ok_or(TransferError::Line {
        line: 1,
        message: "no pool line: not a gatehouse users export".into(),
    })?;
    Ok((pool, users))
}

fn user_line(user: ExportedUser) -> UserLine {
    let encode = |blob: Option<Vec<u8>>| blob.map(|b| STANDARD.encode(b));
    UserLine {
        username: user.username,
        sub: user.sub,
        status: user.status,
        enabled: user.enabled,
        attributes: user.attributes,
        groups: user.groups,
        created_at: user.created_at,
        mfa: MfaLine {
            totp_name: user.mfa.totp_name,
            totp_last_step: user.mfa.totp_last_step,
            totp_enabled: user.mfa.totp_enabled,
            totp_preferred: user.mfa.totp_preferred,
            email_enabled: user.mfa.email_enabled,
            email_preferred: user.mfa.email_preferred,
        },
        sealed: SealedLine {
            password_hash: encode(user.password_hash),
            srp_verifier: encode(user.srp_verifier),
            totp_secret: encode(user.totp_secret),
        },
    }
}

fn exported_user(line: UserLine) -> Result<ExportedUser, String> {
    let decode = |name: &str, text: Option<String>| {
        text.map(|t| STANDARD.decode(t.as_bytes()))
            .transpose()
            .map_err(|_| format!("sealed.{name} is not base64"))
    };
    Ok(ExportedUser {
        username: line.username,
        sub: line.sub,
        status: line.status,
        enabled: line.enabled,
        attributes: line.attributes,
        groups: line.groups,
        created_at: line.created_at,
        mfa: ExportedMfa {
            totp_name: line.mfa.totp_name,
            totp_last_step: line.mfa.totp_last_step,
            totp_enabled: line.mfa.totp_enabled,
            totp_preferred: line.mfa.totp_preferred,
            email_enabled: line.mfa.email_enabled,
            email_preferred: line.mfa.email_preferred,
        },
        password_hash: decode("password_hash", line.sealed.password_hash)?,
        srp_verifier: decode("srp_verifier", line.sealed.srp_verifier)?,
        totp_secret: decode("totp_secret", line.sealed.totp_secret)?,
    })
}

/// The transfer key from `--key-file`, else `GATEHOUSE_EXPORT_KEY`; never from a flag's value
/// (a command line is visible to every user of the machine).
fn transfer_key(key_file: Option<&Path>) -> Result<Sealer, TransferError> {
    let text = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| file_error(path, source))?,
        None => std::env::var(KEY_ENV).map_err(|_| TransferError::NoKey)?,
    };
    Sealer::from_config(text.trim()).map_err(|e| TransferError::Key(e.to_string()))
}

fn file_error(path: &Path, source: std::io::Error) -> TransferError {
    TransferError::File {
        path: path.to_path_buf(),
        source,
    }
}
