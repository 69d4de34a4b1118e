//! The pure half of the gateway: what an API is (model, paths, templates, mappings), the two
//! ways definitions get in (the declarative YAML/TOML file and OpenAPI 3 / Swagger 2 import),
//! validation, usage plans as documents, and the compiled, immutable route table.
//!
//! Nothing here reads files, opens sockets, runs async code, reads the clock or names storage:
//! callers hand in text and the current time. The data plane ([`crate::server`]) and the
//! control plane (operator API, deployments, hot reload) depend on this module, never the other way.

pub mod compiled;
pub mod declarative;
pub mod error;
pub mod functions;
pub mod limits;
pub mod load;
pub mod mapping;
pub mod model;
pub mod openapi;
pub mod path;
pub mod plans;
pub mod responses;
pub mod routes;
pub mod sources;
pub mod stage;
pub mod template;
pub(crate) mod validate;
pub(crate) mod yaml;
