//! gatehouse-identity: the pure building blocks of user pools and request authentication.
pub mod crypto;
pub mod ids;
pub mod password;
pub mod sigv4;
mod time;
