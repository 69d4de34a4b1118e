//! Definitions together with the text they were loaded from. The live snapshot keeps its
//! [`SourceDefinition`] so that a run-time deployment can snapshot an API (and store the
//! text that defines it, since the model itself is not serialised) and a rollback can
//! recompile the definition with a stage pointed at another deployment.
//!
//! [`SourceDefinition::add_file`] loads one file from its text, recording the text of the
//! files it imports (reading them is the caller's: the control plane reads the `--api` files);
//! [`SourceFile::load_api`] re-creates a deployment from stored text on a restart or on
//! another node.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::definition::compiled::Definition;
use crate::definition::declarative::Resolver;
use crate::definition::error::{LoadError, Warning};
use crate::definition::limits::Limits;
use crate::definition::load::load_definition;
use crate::definition::stage::Deployment;

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

// === impl SourceDefinition ===

impl SourceDefinition {
    /// Loads one definition file (`name` as given, `text` as read) into this definition;
    /// `resolve` reads the files it imports, whose text is kept beside it. Several files form
    /// one definition.
    pub fn add_file(
        &mut self,
        name: &str,
        text: String,
        now: SystemTime,
        limits: &Limits,
        resolve: Resolver<'_>,
    ) -> Result<Vec<Warning>, LoadError> {
        let imports = RefCell::new(BTreeMap::new());
        let recording = |import: &str| {
            let text = resolve(import)?;
            imports.borrow_mut().insert(import.to_owned(), text.clone());
            Ok(text)
        };
        let loaded = load_definition(name, &text, now, limits, &recording)?;
        let d = loaded.definition;
        let mut api_ids: Vec<String> = d.deployments.iter().map(|d| d.api().id.clone()).collect();
        api_ids.dedup();
        self.files.push(SourceFile {
            name: name.to_owned(),
            text,
            imports: imports.into_inner(),
            api_ids,
        });
        let definition = &mut self.definition;
        definition.deployments.extend(d.deployments);
        definition.stages.extend(d.stages);
        definition.base_path_mappings.extend(d.base_path_mappings);
        definition.usage_plans.extend(d.usage_plans);
        definition.api_keys.extend(d.api_keys);
        Ok(loaded.warnings)
    }

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
