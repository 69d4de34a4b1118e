//! A trivial HTTP backend for the gateway benchmark (`benches/wrk.sh`): answers every request
//! with a small text body, optionally after `--delay-ms N` (a backend that waits: its rate
//! grows with the number of connections) or `--work-ms N` (a backend that computes for N ms
//! of CPU per response on its worker threads: its rate is capped near threads × 1000 / N,
//! as a service doing real work per request is).
//!
//! `cargo run --release -p gatehouse-gateway --example bench_backend -- --listen 127.0.0.1:18081 [--delay-ms 2 | --work-ms 2] [--threads 2]`

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::TokioIo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:18081".to_owned();
    let mut delay_ms = 0u64;
    let mut work_ms = 0u64;
    let mut threads = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--delay-ms" => delay_ms = args.next().ok_or("--delay-ms needs a number")?.parse()?,
            "--work-ms" => work_ms = args.next().ok_or("--work-ms needs a number")?.parse()?,
            "--threads" => threads = args.next().ok_or("--threads needs a number")?.parse()?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!(
            "bench_backend listening on http://{listen} (delay {delay_ms} ms, work {work_ms} ms)"
        );
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |_req: Request<Incoming>| async move {
                        if delay_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                        }
                        if work_ms > 0 {
                            work(Duration::from_millis(work_ms));
                        }
                        let mut response = Response::new(Full::new(Bytes::from_static(
                            b"hello from the backend\n",
                        )));
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("text/plain"),
                        );
                        Ok::<_, Infallible>(response)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Keeps the calling thread busy for `time` of wall-clock time (the worker thread does nothing
/// else meanwhile, as a handler computing its answer does not).
fn work(time: Duration) {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < time {
        for i in 0..1000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    std::hint::black_box(x);
}
