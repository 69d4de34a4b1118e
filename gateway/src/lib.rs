//! The API gateway's definitions: the model of an API (resources, methods, integrations,
//! authorizers, models, validators), its deployments and stages, the two ways definitions get
//! in (the declarative YAML/TOML file and OpenAPI 3 / Swagger 2 import with API Gateway's
//! `x-amazon-apigateway-*` extensions) and the compiled, immutable route table that maps a
//! request's `(Host, method, path)` to what the request pipeline must do.
//!
//! Two layers. The definitions (every module but [`server`]) are pure: they read no files,
//! open no sockets, run no async code and read no clock — callers hand in text and the current
//! time. The data plane, [`server`], is the only part that knows hyper and tokio: the
//! listener, the request pipeline (routing, request ids, CORS, validation, HTTP proxy and
//! mock integrations, access logs, metrics, limits), its pipeline steps for keys, throttling,
//! caching and authorizers, and hot reload of the snapshot. Neither layer depends on
//! `storage` on the request path.
//!
//! The flow:
//!
//! ```text
//! text ──► load::load_definition ─┬─ declarative (YAML/TOML) ─┐
//!                                 └─ openapi::import ─────────┴─► Definition ──► Gateway::build
//!                                                                  (validated)     (Arc-swappable)
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
