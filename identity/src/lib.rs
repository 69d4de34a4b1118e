//! gatehouse-identity (being built).
