//! The API gateway's definitions: the model of an API (resources, methods, integrations,
//! authorizers, models, validators), its deployments and stages, the two ways definitions get
//! in (the declarative YAML/TOML file and OpenAPI 3 / Swagger 2 import with API Gateway's
//! `x-amazon-apigateway-*` extensions) and the compiled, immutable route table that maps a
//! request's `(Host, method, path)` to what the request pipeline must do.
//!
//! Pure: this crate reads no files, opens no sockets, runs no async code and reads no clock —
//! callers hand in text and the current time. It must not depend on `storage`, `identity`, an
//! HTTP stack or an async runtime; the request pipeline that proxies, throttles, caches and
//! authorizes is built on top of [`snapshot::Gateway`].
//!
//! The flow:
//!
//! ```text
//! text ──► load::load_definition ─┬─ declarative (YAML/TOML) ─┐
//!                                 └─ openapi::import ─────────┴─► Definition ──► Gateway::build
//!                                                                  (validated)     (Arc-swappable)
//! ```

pub mod declarative;
pub mod error;
pub mod limits;
pub mod load;
pub mod mapping;
pub mod model;
pub mod openapi;
pub mod path;
pub mod responses;
pub mod routes;
pub mod snapshot;
pub mod stage;
pub mod template;
mod validate;
mod yaml;

pub use error::{DefinitionError, LoadError, Problem, Problems, Warning};
pub use limits::Limits;
pub use load::{Loaded, load_definition};
pub use model::{Api, HttpMethod, Integration, Method, MethodSettings, Resource};
pub use responses::GatewayResponseType;
pub use routes::{PathParams, RouteTable};
pub use snapshot::{Definition, Gateway, Resolution, RouteHit};
pub use stage::{BasePathMapping, Deployment, Stage};
