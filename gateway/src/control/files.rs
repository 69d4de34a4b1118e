//! Reading definition files: the `--api` files and the files beside them they import. The
//! parsing is the definition's ([`SourceDefinition::add_file`]); this module only reads.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::definition::compiled::Gateway;
use crate::definition::error::Warning;
use crate::definition::limits::Limits;
use crate::definition::sources::SourceDefinition;
use crate::server::ReloadError;

/// Reads and loads definition files (several `--api` files form one definition), keeping
/// their text. The result is not compiled yet.
pub fn read_sources(
    files: &[PathBuf],
    now: SystemTime,
    limits: &Limits,
) -> Result<(SourceDefinition, Vec<Warning>), ReloadError> {
    if files.is_empty() {
        return Err(ReloadError::NoFiles);
    }
    let mut source = SourceDefinition::default();
    let mut warnings = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|source| ReloadError::Read {
            path: path.clone(),
            source,
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("cannot read `{name}`: {e}"))
        };
        let name = path.to_string_lossy().into_owned();
        let loaded = source
            .add_file(&name, text, now, limits, &resolve)
            .map_err(|source| ReloadError::Load {
                path: path.clone(),
                source,
            })?;
        warnings.extend(loaded);
    }
    Ok((source, warnings))
}

/// Loads and compiles definition files (several `--api` files form one gateway); the same
/// loading as [`read_sources`], without keeping the source text.
pub fn load_gateway(
    files: &[PathBuf],
    now: SystemTime,
    limits: &Limits,
) -> Result<(Gateway, Vec<Warning>), ReloadError> {
    let (source, mut warnings) = read_sources(files, now, limits)?;
    let (gateway, build_warnings) =
        Gateway::build(&source.definition, limits).map_err(ReloadError::Build)?;
    warnings.extend(build_warnings);
    Ok((gateway, warnings))
}
