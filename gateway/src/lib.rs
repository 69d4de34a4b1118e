//! The API gateway: API definitions, the data plane that serves them and the control plane that
//! changes them. Three parts, one-way imports, one folder each:
//!
//! ```text
//! control/     operator API, deployments and stages changed at run time, reading the --api
//!    |         files, hot reload: the only part that writes definitions
//!    v
//! server/      the data plane: listener, pipeline, HTTP proxy, mock and Lambda proxy
//!    |         integrations (functions called through identity's registry), and the
//!    |         steps a request passes (authorizers, API keys and usage plans, throttle, quota,
//!    |         cache); it receives a compiled definition and swaps it in whole
//!    v
//! definition/  pure: the model of an API, paths, templates, mappings, validation, the
//!              declarative and OpenAPI loaders, usage plans as documents, the compiled
//!              route table
//! ```
//!
//! # Architecture invariants
//!
//! - [`definition`] is pure: it reads no files, opens no sockets, runs no async code, keeps no
//!   live state and reads no clock; callers hand in text and the current time. It names
//!   neither plane, nor tokio, hyper or storage.
//! - [`server`] (the data plane) depends on [`definition`] and never on [`control`]: it serves
//!   the snapshot it is given. No database access per request: keys, plans, routes and
//!   policies are in memory; counters are batched to storage.
//! - [`control`] (the control plane) is the only part that writes definitions: it reads
//!   files and storage, builds a definition, and hands it to the data plane's
//!   [`server::Live`], which swaps it in only if it compiles and every step prepared for it.
//!
//! `tests/gateway/layout.rs` checks the first two by reading the source of each part.
//!
//! The flow of a definition:
//!
//! ```text
//! control::files ──► text ──► definition::load ─┬─ declarative (YAML/TOML) ─┐
//!                                               └─ openapi::import ─────────┴─► Definition
//!        ──► Gateway::build (definition::compiled) ──► server::Live (swapped whole) ──► requests
//! ```

pub mod control;
pub mod definition;
pub mod server;

pub use definition::compiled::{Definition, Gateway, Resolution, RouteHit};
pub use definition::error::{DefinitionError, LoadError, Problem, Problems, Warning};
pub use definition::limits::Limits;
pub use definition::load::{Loaded, load_definition};
pub use definition::model::{Api, HttpMethod, Integration, Method, MethodSettings, Resource};
pub use definition::responses::GatewayResponseType;
pub use definition::routes::{PathParams, RouteTable};
pub use definition::stage::{BasePathMapping, Deployment, Stage};
