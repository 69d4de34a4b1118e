//! `gatehouse backup FILE` and `gatehouse restore FILE`: a consistent online snapshot of the
//! SQLite database while the service keeps serving, and putting one back into a fresh data
//! folder after checking that the master key opens it. PostgreSQL databases are backed up with
//! PostgreSQL's own tools; both commands say how instead of reinventing them.

use std::path::{Path, PathBuf};

use gatehouse_storage::{Store, StoreOptions};

use crate::config::{Config, redact_url};
use crate::state::{self, StartError};

/// What PostgreSQL operators run instead (docs/operations.md has the whole recipe).
const PG_RECIPE: &str = "a PostgreSQL database is backed up and restored with PostgreSQL's tools, not by gatehouse: `pg_dump --format=custom --file=gatehouse.dump \"$DATABASE_URL\"`, and into an empty database `pg_restore --no-owner --dbname=\"$NEW_DATABASE_URL\" gatehouse.dump` (see docs/operations.md)";

/// Why a backup or a restore did not happen; nothing is left half-written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    #[error("{PG_RECIPE}")]
    Postgres,
    #[error("`{}` already exists: a backup never overwrites a file", .0.display())]
    Exists(PathBuf),
    #[error("there is no database at `{}` to back up", .0.display())]
    NoDatabase(PathBuf),
    #[error(
        "`{}` exists: restore into a fresh data folder (or stop the service and move its database away first)", .0.display()
    )]
    Live(PathBuf),
    #[error("`{}`: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Storage(String),
    #[error("the backup `{}` is damaged: {problems}", path.display())]
    Damaged { path: PathBuf, problems: String },
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Writes a snapshot of the service's SQLite database to `file` (mode 0600).
pub(crate) async fn backup(config: Config, file: PathBuf) -> Result<(), BackupError> {
    let database = sqlite_path(&config)?;
    if !database.exists() {
        return Err(BackupError::NoDatabase(database));
    }
    let file = std::path::absolute(&file).map_err(|source| file_error(&file, source))?;
    let text = file.to_str().ok_or_else(|| {
        file_error(
            &file,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not UTF-8"),
        )
    })?;
    // Created empty and private first: the copy holds password hashes and sealed secrets.
    state::write_private_file(&file, b"").map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(file.clone()),
        _ => file_error(&file, source),
    })?;
    let result = async {
        let store = open(&config.database_url).await?;
        let written = store.backup_into(text).await;
        store.close().await;
        written.map_err(|err| BackupError::Storage(err.to_string()))?;
        sync(&file)
    }
    .await;
    if let Err(err) = result {
        let _ = std::fs::remove_file(&file);
        return Err(err);
    }
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!(
        "gatehouse: backup written to {} ({bytes} bytes)",
        file.display()
    );
    Ok(())
}

/// Puts the backup `file` in place as the data folder's database, once it is known to be whole
/// and sealed with this master key. Refuses a folder that already has a database.
pub(crate) async fn restore(config: Config, file: PathBuf) -> Result<(), BackupError> {
    let database = sqlite_path(&config)?;
    for live in [database.clone(), suffixed(&database, "-wal")] {
        if live.exists() {
            return Err(BackupError::Live(live));
        }
    }
    let sealer = state::existing_sealer(&config)?;
    if let Some(folder) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        state::create_private_dir(folder)?;
    }
    let staging = suffixed(&database, ".restoring");
    remove_staging(&staging);
    let result = async {
        copy_private(&file, &staging)?;
        let url = format!("sqlite://{}", staging.display());
        let store = open(&url).await?;
        let checked = async {
            let problems = store
                .integrity_problems()
                .await
                .map_err(|err| BackupError::Storage(err.to_string()))?;
            if !problems.is_empty() {
                // One line: SQLite's report spans several, and the first few say enough.
                let first: Vec<String> = problems
                    .iter()
                    .take(3)
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect();
                return Err(BackupError::Damaged {
                    path: file.clone(),
                    problems: first.join("; "),
                });
            }
            state::verify_master_key(&store, &sealer, &url).await?;
            Ok(())
        }
        .await;
        store.close().await;
        checked?;
        // The last connection's close checkpoints the journal into the file; anything left
        // beside it would be lost by the rename.
        let wal = suffixed(&staging, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(file_error(
                &wal,
                std::io::Error::other("the journal was not checkpointed"),
            ));
        }
        sync(&staging)?;
        std::fs::rename(&staging, &database).map_err(|source| file_error(&database, source))?;
        if let Some(folder) = database.parent() {
            let _ = std::fs::File::open(folder).and_then(|dir| dir.sync_all());
        }
        Ok(())
    }
    .await;
    remove_staging(&staging);
    result?;
    println!(
        "gatehouse: restored {} into {}",
        file.display(),
        database.display()
    );
    Ok(())
}

/// The SQLite file behind the configured database, or the PostgreSQL recipe.
fn sqlite_path(config: &Config) -> Result<PathBuf, BackupError> {
    let url = config.database_url.as_str();
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Err(BackupError::Postgres);
    };
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        return Err(BackupError::Storage(format!(
            "`{}` is not a database file",
            redact_url(url)
        )));
    }
    Ok(PathBuf::from(path))
}

async fn open(url: &str) -> Result<Store, BackupError> {
    Store::open(url, StoreOptions::default())
        .await
        .map_err(|err| BackupError::Storage(format!("`{}`: {err}", redact_url(url))))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_staging(staging: &Path) {
    for path in [
        staging.to_path_buf(),
        suffixed(staging, "-wal"),
        suffixed(staging, "-shm"),
    ] {
        let _ = std::fs::remove_file(path);
    }
}

/// Copies `from` into a new file `to` readable by the owner only, synced.
fn copy_private(from: &Path, to: &Path) -> Result<(), BackupError> {
    let mut source = std::fs::File::open(from).map_err(|source| file_error(from, source))?;
    let mut target = state::create_private_file(to).map_err(|source| file_error(to, source))?;
    std::io::copy(&mut source, &mut target).map_err(|source| file_error(to, source))?;
    target.sync_all().map_err(|source| file_error(to, source))
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| file_error(path, source))
}

fn file_error(path: &Path, source: std::io::Error) -> BackupError {
    BackupError::File {
        path: path.to_path_buf(),
        source,
    }
}
