//! Explicit size limits on definitions, so that a hostile or broken file is refused with a
//! clear message instead of exhausting memory or making route lookup slow.

use crate::definition::functions::KnownFunctions;

/// Limits applied while loading and compiling definitions, and the functions they may name.
///
/// The defaults are generous for hand-written and exported APIs (API Gateway's own default
/// quota is 300 resources per API) and small enough that a definition can never make the
/// gateway slow: route lookup visits at most `max_path_depth` trie levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Size of one definition file (declarative or OpenAPI), in bytes.
    pub max_definition_bytes: usize,
    /// Resources (distinct paths) in one API.
    pub max_resources_per_api: usize,
    /// Methods over all resources of one API (the API's route count).
    pub max_routes_per_api: usize,
    /// APIs in one gateway snapshot.
    pub max_apis: usize,
    /// Segments in a resource path or a base path.
    pub max_path_depth: usize,
    /// Characters in one resource path template.
    pub max_path_len: usize,
    /// Bytes of one model's JSON schema once serialized.
    pub max_model_bytes: usize,
    /// The Lambda function ARNs that can be called (`aws_proxy` integrations, Lambda
    /// authorizers): a definition naming another one is refused. Not a size limit, but it
    /// reaches every place that loads and compiles with them. Default: none.
    pub functions: KnownFunctions,
}

/// 8 MiB: a large exported OpenAPI document is a few hundred KiB.
pub const DEFAULT_MAX_DEFINITION_BYTES: usize = 8 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_definition_bytes: DEFAULT_MAX_DEFINITION_BYTES,
            max_resources_per_api: 1_000,
            max_routes_per_api: 5_000,
            max_apis: 256,
            max_path_depth: 32,
            max_path_len: 1_024,
            max_model_bytes: 256 * 1024,
            functions: KnownFunctions::default(),
        }
    }
}
