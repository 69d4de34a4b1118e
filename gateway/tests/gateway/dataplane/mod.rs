//! The data plane end to end: a real backend and a real gateway on loopback, driven with a
//! hyper client, raw sockets and a WebSocket client.

mod edges;
mod limits;
mod reload;
mod routing;
mod streaming;
mod support;
mod workers;
