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
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::definition::compiled::Definition;
use crate::definition::declarative::Resolver;
use crate::definition::error::{LoadError, Problem, Problems, Warning};
use crate::definition::limits::Limits;
use crate::definition::load::load_definition;
use crate::definition::stage::Deployment;

/// A definition and the files it came from.
#[derive(Debug, Clone, Default)]
pub struct SourceDefinition {
    pub definition: Definition,
    pub files: Vec<SourceFile>,
    /// What each file defined, so that a later file defining it again is refused with the
    /// names of both files.
    defined: Vec<Defined>,
}

/// Something a file defines that no other file may define too.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Defined {
    what: &'static str,
    name: String,
    /// Where it is in the file that defines it (`apis.petstore`, `stages.shop.prod`).
    location: String,
    /// Index in [`SourceDefinition::files`].
    file: usize,
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
        let defined = defined_by(&d, self.files.len());
        self.check_defined_once(name, &defined)?;
        self.defined.extend(defined);
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

    /// Refuses what `name` defines that an earlier file defined already, naming both files
    /// and how to load them together.
    fn check_defined_once(&self, name: &str, defined: &[Defined]) -> Result<(), LoadError> {
        let mut problems = Problems::default();
        let mut twice_apis: Vec<&str> = Vec::new();
        for item in defined {
            let Some(earlier) = self
                .defined
                .iter()
                .find(|d| d.what == item.what && d.name == item.name)
            else {
                continue;
            };
            // A stage of an api defined twice is the same mistake; say it once.
            if item.what == "stage"
                && twice_apis
                    .iter()
                    .any(|api| item.name.split_once('/').is_some_and(|(a, _)| a == *api))
            {
                continue;
            }
            if item.what == "api" {
                twice_apis.push(&item.name);
            }
            let Some(file) = self.files.get(earlier.file) else {
                continue;
            };
            let imported = file
                .imports
                .keys()
                .find(|import| same_file(&beside(&file.name, import), Path::new(name)));
            let (first, advice) = match imported {
                Some(import) => (
                    format!("`{}` (which imports `{import}`)", file.name),
                    format!("pass only `{}`", file.name),
                ),
                None if same_file(Path::new(&file.name), Path::new(name)) => (
                    format!("`{}`", file.name),
                    "the file is passed twice; pass it once".to_owned(),
                ),
                None if item.what == "api" => (
                    format!("`{}`", file.name),
                    "an OpenAPI file's api id is its file name without the extension: rename \
                     one of the files, or give each api an id of its own in a declarative file \
                     (`apis: {ID: {openapi: FILE}}`)"
                        .to_owned(),
                ),
                None => (
                    format!("`{}` at `{}`", file.name, earlier.location),
                    "keep one of them".to_owned(),
                ),
            };
            problems.push(
                item.location.clone(),
                Problem::DefinedTwice {
                    what: item.what,
                    name: item.name.clone(),
                    first,
                    second: format!("`{name}`"),
                    advice,
                },
            );
        }
        problems.into_result(()).map_err(LoadError::from)
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

/// What a file's definition defines that must be defined once across files: its apis, stages,
/// usage plans, api keys and base-path mappings. `file` is the file's index.
fn defined_by(d: &Definition, file: usize) -> Vec<Defined> {
    let mut out: Vec<Defined> = Vec::new();
    let mut push = |what: &'static str, name: String, location: String| {
        if !out.iter().any(|x| x.what == what && x.name == name) {
            out.push(Defined {
                what,
                name,
                location,
                file,
            });
        }
    };
    for deployment in &d.deployments {
        let id = &deployment.api().id;
        push("api", id.clone(), format!("apis.{id}"));
    }
    for stage in &d.stages {
        push(
            "stage",
            format!("{}/{}", stage.api_id, stage.name),
            format!("stages.{}.{}", stage.api_id, stage.name),
        );
    }
    for plan in &d.usage_plans {
        push(
            "usage plan",
            plan.name.clone(),
            format!("usage_plans.{}", plan.name),
        );
    }
    for key in &d.api_keys {
        push(
            "api key",
            key.name.clone(),
            format!("api_keys.{}", key.name),
        );
    }
    for (i, mapping) in d.base_path_mappings.iter().enumerate() {
        push(
            "base path mapping",
            format!(
                "{}/{}",
                mapping.domain.as_deref().unwrap_or("*"),
                mapping.base_path
            ),
            format!("base_path_mappings.{i}"),
        );
    }
    out
}

/// The file `import` names, relative to the folder of `file` (the way the reader resolves it).
fn beside(file: &str, import: &str) -> PathBuf {
    Path::new(file)
        .parent()
        .map_or_else(|| PathBuf::from(import), |dir| dir.join(import))
}

/// Whether two names are one file as written (`./a.yaml` is `a.yaml`); no file is read.
fn same_file(a: &Path, b: &Path) -> bool {
    let parts = |p: &Path| {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_owned())
            .collect::<Vec<_>>()
    };
    parts(a) == parts(b)
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
