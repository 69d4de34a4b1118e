//! Keys, usage plans, throttling, quotas (also across two gateways on one PostgreSQL
//! database), the response cache and the authorizers, end to end: a real backend, a real
//! gateway with the stages registered, a hyper client.

mod deployments;
mod hardening;
mod iam;
mod oidc;
mod operator;
mod support;
mod tests;
