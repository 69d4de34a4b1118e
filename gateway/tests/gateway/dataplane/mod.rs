//! The data plane end to end: a real backend and a real gateway on loopback, driven with a
//! hyper client, raw sockets and a WebSocket client.

mod backend_http1;
mod backend_tls;
mod clients;
mod edges;
mod http1;
mod limits;
mod paths;
mod reload;
mod routing;
mod streaming;
mod support;
mod tls;
mod workers;
