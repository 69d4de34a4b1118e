//! The loop of a node's background refreshes (the IAM view, the function registry): a task
//! that runs at a fixed interval until shutdown, a failed run logged and tried again at the
//! next tick. Ticks that fall behind are delayed, never run in a burst.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// Runs `task` every `interval` (the first time at once) until `shutdown` resolves; an error
/// is logged with `what` and the loop goes on.
pub(crate) async fn every<F, Fut, T, E>(
    interval: Duration,
    what: &'static str,
    shutdown: impl Future<Output = ()>,
    mut task: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {
                if let Err(error) = task().await {
                    tracing::warn!(%error, "{what} failed");
                }
            }
        }
    }
}
