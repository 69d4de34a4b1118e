//! The control plane: the operator API, deployments and stages changed at run time, and hot
//! reload of the definition files. The only part of the crate that writes definitions: it
//! reads files and storage, builds a new definition and hands it to the data plane, which
//! swaps it in whole.

pub mod deployments;
pub mod files;
pub mod operator;
pub mod reload;
