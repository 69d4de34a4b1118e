//! Hot reload: a load loop keeps running while definitions (some broken) are swapped in
//! many times — no request fails, broken ones are refused, and the new route goes live;
//! the file watcher picks up edits on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::support::{client, definition, send, start, websocket_backend};

const NEW_ROUTE: &str = "      /fresh:\n        GET:\n          integration: {type: mock, status: 200, body: '{\"fresh\": true}'}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_drop_no_request() {
    let gw = start().await;
    let ws = websocket_backend().await;
    let running = Arc::new(AtomicBool::new(true));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (running, ok, failed) = (running.clone(), ok.clone(), failed.clone());
        let url = gw.url("/prod/items/1");
        workers.push(tokio::spawn(async move {
            let client = client();
            while running.load(Ordering::Relaxed) {
                let answer = send(&client, "GET", &url, &[], Bytes::new()).await;
                if answer.status == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let reloader = gw.reloader();
    let (mut applied, mut refused) = (0, 0);
    for i in 0..30 {
        let text = match i % 3 {
            0 => definition(gw.backend.addr, ws, NEW_ROUTE),
            1 => "version: 1\napis: {shop: {name: [broken".to_owned(),
            // Valid YAML, invalid definition: an unknown model reference.
            _ => definition(gw.backend.addr, ws, NEW_ROUTE)
                .replace("{application/json: Order}", "{application/json: Nope}"),
        };
        std::fs::write(&gw.file, text).unwrap();
        let result = tokio::task::spawn_blocking({
            let reloader = gw.reloader();
            move || reloader.reload()
        })
        .await
        .unwrap();
        match result {
            Ok(_) => applied += 1,
            Err(err) => {
                assert!(!err.to_string().is_empty());
                refused += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(reloader);
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!((applied, refused), (10, 20));
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed during reloads"
    );
    assert!(
        ok.load(Ordering::Relaxed) > 100,
        "the load loop ran: {}",
        ok.load(Ordering::Relaxed)
    );
    // The last file was broken: the last good definition (with the new route) still serves.
    let fresh = gw.get("/prod/fresh").await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.json(), serde_json::json!({"fresh": true}));
    let metrics = gw.live.metrics().render();
    assert!(
        metrics.contains("gatehouse_gateway_reloads_total{result=\"ok\"} 10"),
        "{metrics}"
    );
    assert!(metrics.contains("gatehouse_gateway_reloads_total{result=\"refused\"} 20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_changes_are_picked_up_by_the_watcher() {
    let gw = start().await;
    let ws = websocket_backend().await;
    assert_eq!(gw.get("/prod/fresh").await.status, 403);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(
        gw.reloader()
            .with_interval(Duration::from_millis(50))
            .run(async {
                let _ = stopped.await;
            }),
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    std::fs::write(&gw.file, definition(gw.backend.addr, ws, NEW_ROUTE)).unwrap();
    let mut status = 0;
    for _ in 0..100 {
        status = gw.get("/prod/fresh").await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(status, 200, "the edited file went live");
    // A broken edit is refused; the route stays.
    std::fs::write(&gw.file, "version: 1\napis: [").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gw.get("/prod/fresh").await.status, 200);
    let _ = stop.send(());
    watcher.await.unwrap();
}
