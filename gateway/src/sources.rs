//! Definitions together with the text they were loaded from. The live snapshot keeps its
//! [`SourceDefinition`] so that a run-time deployment can snapshot an API (and store the
//! text that defines it, since the model itself is not serialised) and a rollback can
//! recompile the definition with a stage pointed at another deployment.
//!
//! [`load_sources`] reads the `--api` files (this module does file I/O, like the reloader
//! that calls it); [`SourceFile::load_api`] re-creates a deployment from stored text on a
//! restart or on another node.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::definition::error::Warning;
use crate::definition::limits::Limits;
use crate::definition::load::load_definition;
use crate::definition::snapshot::Definition;
use crate::definition::stage::Deployment;
use crate::server::ReloadError;

/// A definition and the files it came from.
#[derive(Debug, Clone, Default)]
pub struct SourceDefinition {
    pub definition: Definition,
    pub files: Vec<SourceFile>,
}

/// One definition file as read: its name, text, the files it imported (by the name it used)
/// and the APIs it defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    #[serde(default)]
    pub imports: BTreeMap<String, String>,
    #[serde(default)]
    pub api_ids: Vec<String>,
}

/// Adjusts a source definition before it is compiled: run-time deployments are added and
/// stages pointed at them.
pub trait DefinitionOverlay: Send + Sync + std::fmt::Debug + 'static {
    fn apply(&self, definition: &mut Definition);
}

/// Reads and loads definition files (several `--api` files form one definition), keeping
/// their text. The result is not compiled yet.
pub fn load_sources(
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
        let imports = RefCell::new(BTreeMap::new());
        let resolve = |name: &str| {
            let text = std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("cannot read `{name}`: {e}"))?;
            imports.borrow_mut().insert(name.to_owned(), text.clone());
            Ok(text)
        };
        let name = path.to_string_lossy().into_owned();
        let loaded = load_definition(&name, &text, now, limits, &resolve).map_err(|source| {
            ReloadError::Load {
                path: path.clone(),
                source,
            }
        })?;
        warnings.extend(loaded.warnings);
        let d = loaded.definition;
        let mut api_ids: Vec<String> = d.deployments.iter().map(|d| d.api().id.clone()).collect();
        api_ids.dedup();
        source.files.push(SourceFile {
            name,
            text,
            imports: imports.into_inner(),
            api_ids,
        });
        let definition = &mut source.definition;
        definition.deployments.extend(d.deployments);
        definition.stages.extend(d.stages);
        definition.base_path_mappings.extend(d.base_path_mappings);
        definition.usage_plans.extend(d.usage_plans);
        definition.api_keys.extend(d.api_keys);
    }
    Ok((source, warnings))
}

// === impl SourceDefinition ===

impl SourceDefinition {
    /// The deployment the definition serves API `api_id` with: the one its stages point at,
    /// else the first one of that API.
    pub fn api_deployment(&self, api_id: &str) -> Option<&Deployment> {
        let d = &self.definition;
        d.stages
            .iter()
            .filter(|s| s.api_id == api_id)
            .find_map(|s| d.deployments.iter().find(|x| x.id() == s.deployment_id))
            .or_else(|| d.deployments.iter().find(|x| x.api().id == api_id))
    }

    /// The file that defines API `api_id`.
    pub fn file_of(&self, api_id: &str) -> Option<&SourceFile> {
        self.files
            .iter()
            .find(|f| f.api_ids.iter().any(|a| a == api_id))
    }
}

// === impl SourceFile ===

impl SourceFile {
    /// Loads this text again and freezes API `api_id` of it as deployment `id`.
    pub fn load_api(
        &self,
        api_id: &str,
        id: &str,
        created_at: SystemTime,
        description: Option<String>,
        limits: &Limits,
    ) -> Result<Deployment, String> {
        let resolve = |name: &str| {
            self.imports
                .get(name)
                .cloned()
                .ok_or_else(|| format!("`{name}` was not stored with the deployment"))
        };
        let loaded = load_definition(&self.name, &self.text, created_at, limits, &resolve)
            .map_err(|e| e.to_string())?;
        let api = loaded
            .definition
            .deployments
            .iter()
            .find(|d| d.api().id == api_id)
            .ok_or_else(|| format!("api `{api_id}` is not in `{}`", self.name))?;
        Deployment::new(id, (**api.api()).clone(), created_at, description, limits)
            .map_err(|e| e.to_string())
    }
}
