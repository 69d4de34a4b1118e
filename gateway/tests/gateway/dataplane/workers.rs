//! The gateway on several worker threads (`WorkerListeners`): one port, a single-threaded
//! runtime and listener per worker, every connection answered, a port another process holds
//! refused, and a shutdown that waits for every worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_gateway::server::{
    AccessLogSink, GatewayService, MAX_WORKERS, SystemClock, WorkerListeners,
};

use super::support::{raw, start, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_one_port_and_answer_every_connection() {
    // The harness's gateway provides the backend and the live definition; the workers serve
    // the same `Live` on a port of their own.
    let gw = start().await;
    let listeners = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
    let addr = listeners.local_addr();
    assert_ne!(addr.port(), 0);
    // The picked port is held from the moment `bind` returns: nobody else can take it.
    let taken = std::net::TcpListener::bind(addr).unwrap_err();
    assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse, "{taken}");
    let made = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = {
        let made = Arc::clone(&made);
        let live = Arc::clone(&gw.live);
        listeners
            .spawn(
                move || {
                    made.fetch_add(1, Ordering::SeqCst);
                    GatewayService::new(
                        test_config(),
                        Arc::clone(&live),
                        AccessLogSink::disabled(),
                        Arc::new(SystemClock),
                    )
                },
                stopped,
            )
            .unwrap()
    };
    // One service, so one backend pool, per worker.
    assert_eq!(made.load(Ordering::SeqCst), 3);
    // Fresh connections land on whichever worker the kernel picks; every one is answered.
    let before = gw.backend.seen.requests.load(Ordering::SeqCst);
    for _ in 0..30 {
        let answer = raw(
            addr,
            b"GET /prod/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(gw.backend.seen.requests.load(Ordering::SeqCst), before + 30);

    // Another gateway cannot bind the port this one serves, SO_REUSEPORT or not.
    let err = WorkerListeners::bind(addr, 2).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");

    // Shutdown: every worker stops accepting and `join` returns.
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), workers.join())
        .await
        .expect("workers stop")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn worker_counts_out_of_range_are_refused() {
    for count in [0, MAX_WORKERS + 1] {
        let err = WorkerListeners::bind("127.0.0.1:0".parse().unwrap(), count).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{count}");
        assert!(err.to_string().contains(&count.to_string()), "{err}");
    }
}
