//! gatehouse-storage (being built).
