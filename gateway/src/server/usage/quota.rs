//! Quota counters shared by several nodes through storage, without a database call per
//! request.
//!
//! Each (plan, key) has a [`QuotaSlot`] with the last known global count of its period
//! (`known`), requests admitted here and not yet written (`pending`) and requests being
//! written (`in_flight`). A request is admitted while `known + pending + in_flight < limit`,
//! decided at once from these numbers: a request never waits for storage, even while a write
//! is in flight or storage does not answer. The flusher ([`QuotaCounters::flush`], every
//! second, and as soon as a slot has a batch pending) adds the pending counts with
//! `used = used + n` and learns the new global total, and re-reads the totals of idle slots
//! that were used recently, so a node also learns about the others' requests.
//!
//! Bound: one node never admits past the limit. Each node holds unwritten the requests of one
//! batch (`batch = clamp(limit / 20, 1, max_batch)`) plus those it admits while that batch is
//! being written, `u` at most (see [`QuotaCounters::most_unwritten`]), and admits only below
//! the limit as it last saw it, so N nodes admit at most `limit + (N − 1) × u` requests per
//! period; `u` is a batch plus a few while storage keeps up. While storage is down, each node
//! still stops at the limit as it last saw it (at worst `N × limit`): quotas, as in API
//! Gateway, are applied on a best-effort basis rather than by holding requests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_storage::{StorageError, Store, UsageDelta};

use crate::definition::plans::{day_start, period_bounds};
use crate::definition::stage::Quota;

/// Per-node counters and the flusher's work list.
#[derive(Debug)]
pub struct QuotaCounters {
    slots: Mutex<HashMap<(String, String), Arc<QuotaSlot>>>,
    /// Largest batch a node may hold unwritten.
    max_batch: u64,
    /// Wakes the flusher early when a batch is full.
    pub(crate) wake: tokio::sync::Notify,
    /// The most requests one slot has held unwritten (pending and in flight) at once.
    most_unwritten: AtomicU64,
    /// Held by a flush for its whole run: flushes (the background one, an explicit one, the
    /// last one at shutdown) take turns, so each returns only after every count taken before
    /// it is written. Requests never take it.
    flushing: tokio::sync::Mutex<()>,
}

/// Where the counters are written and read: storage, or a fake in tests.
pub trait CounterStore: Sync {
    /// Adds each delta to its counter; the new totals, in order.
    fn add_usage(
        &self,
        batch: &[UsageDelta],
    ) -> impl Future<Output = Result<Vec<i64>, StorageError>> + Send;
    /// The total of one period's counter.
    fn quota_used(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
}

/// One (plan, key) counter on this node.
#[derive(Debug)]
pub struct QuotaSlot {
    plan_id: String,
    key_id: String,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    period_start: i64,
    period_end: i64,
    day: i64,
    /// Global total of the period as last written or read.
    known: u64,
    pending: u64,
    in_flight: u64,
    /// Counts of an earlier period or day still to write: (period start, day, count).
    carry: Vec<(i64, i64, u64)>,
    /// When a request last used the slot (epoch ms): idle slots are not re-read.
    last_used: i64,
}

/// What the quota check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaCheck {
    Admitted,
    /// Over the limit: seconds until the period ends.
    Exceeded {
        retry_after: u64,
    },
}

/// Slots re-read after they were used within this window (ms).
const REREAD_WINDOW_MS: i64 = 120_000;

// === impl QuotaCounters ===

impl QuotaCounters {
    pub fn new(max_batch: u64) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            max_batch: max_batch.max(1),
            wake: tokio::sync::Notify::new(),
            most_unwritten: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// The slot of a (plan, key), created on first use and kept across key-table rebuilds.
    pub fn slot(&self, plan_id: &str, key_id: &str) -> Arc<QuotaSlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            slots
                .entry((plan_id.to_owned(), key_id.to_owned()))
                .or_insert_with(|| {
                    Arc::new(QuotaSlot {
                        plan_id: plan_id.to_owned(),
                        key_id: key_id.to_owned(),
                        state: Mutex::new(SlotState::default()),
                    })
                }),
        )
    }

    /// The batch size for a limit.
    pub fn batch_for(&self, limit: u64) -> u64 {
        (limit / 20).clamp(1, self.max_batch)
    }

    /// Counts one request against `quota` at `now_ms` if it fits, deciding from the last known
    /// total and this node's unwritten counts; wakes the flusher once a batch is pending. Never
    /// waits.
    pub fn check(&self, slot: &QuotaSlot, quota: &Quota, now_ms: i64) -> QuotaCheck {
        let batch = self.batch_for(quota.limit);
        let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        let (start, end) = period_bounds(quota, now_ms);
        let day = day_start(now_ms);
        if s.period_start != start || s.day != day {
            if s.pending > 0 {
                let (p, d, n) = (s.period_start, s.day, s.pending);
                s.carry.push((p, d, n));
                s.in_flight += n;
                s.pending = 0;
            }
            if s.period_start != start {
                // A new period: the counts of the old one no longer matter here.
                s.known = 0;
                s.in_flight = 0;
            }
            s.period_start = start;
            s.period_end = end;
            s.day = day;
        }
        s.last_used = now_ms;
        let unwritten = s.pending + s.in_flight;
        if s.known.saturating_add(unwritten) >= quota.limit {
            let ms = (s.period_end - now_ms).max(0);
            return QuotaCheck::Exceeded {
                retry_after: u64::try_from(ms / 1000 + 1).unwrap_or(1),
            };
        }
        s.pending += 1;
        self.most_unwritten
            .fetch_max(unwritten + 1, Ordering::Relaxed);
        if s.pending >= batch {
            self.wake.notify_one();
        }
        QuotaCheck::Admitted
    }

    /// The most requests one slot has held unwritten at once on this node: the `u` of the
    /// multi-node bound.
    pub fn most_unwritten(&self) -> u64 {
        self.most_unwritten.load(Ordering::Relaxed)
    }

    /// Writes every slot's pending counts and reads recently used idle slots, after any flush
    /// already running has finished. Errors leave the counts pending for the next round.
    /// Requests go on being decided meanwhile.
    pub async fn flush(&self, store: &impl CounterStore, now_ms: i64) {
        let _one_at_a_time = self.flushing.lock().await;
        let slots: Vec<Arc<QuotaSlot>> = {
            let map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        let mut taken = Taken::default();
        let (batch, owners) = (&mut taken.batch, &mut taken.owners);
        let mut rereads: Vec<(Arc<QuotaSlot>, i64)> = Vec::new();
        for slot in slots {
            let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            for (period_start, day, n) in std::mem::take(&mut s.carry) {
                batch.push(delta(&slot, period_start, day, n));
                owners.push((Arc::clone(&slot), n, period_start == s.period_start));
            }
            if s.pending > 0 {
                let n = s.pending;
                s.pending = 0;
                s.in_flight += n;
                batch.push(delta(&slot, s.period_start, s.day, n));
                owners.push((Arc::clone(&slot), n, true));
            } else if s.period_start != 0 && now_ms - s.last_used < REREAD_WINDOW_MS {
                rereads.push((Arc::clone(&slot), s.period_start));
            }
        }
        if !taken.batch.is_empty() {
            match store.add_usage(&taken.batch).await {
                Ok(totals) => {
                    for ((slot, n, current), (total, d)) in
                        taken.owners.iter().zip(totals.iter().zip(&taken.batch))
                    {
                        let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                        if *current && d.period_start == s.period_start {
                            s.in_flight = s.in_flight.saturating_sub(*n);
                            s.known = s.known.max(u64::try_from(*total).unwrap_or(0));
                        }
                    }
                    taken.owners.clear();
                }
                // Dropping `taken` puts the counts back as pending.
                Err(err) => tracing::warn!(error = %err, "quota counters not written; retrying"),
            }
        }
        drop(taken);
        for (slot, period_start) in rereads {
            if let Ok(total) = store
                .quota_used(&slot.plan_id, &slot.key_id, period_start)
                .await
            {
                let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.period_start == period_start {
                    s.known = s.known.max(u64::try_from(total).unwrap_or(0));
                }
            }
        }
    }

    /// The remaining quota of a slot as this node knows it (for GetUsage on a single node).
    pub fn known_used(&self, plan_id: &str, key_id: &str) -> Option<u64> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(&(plan_id.to_owned(), key_id.to_owned()))?;
        let s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(s.known + s.pending + s.in_flight)
    }
}

impl CounterStore for Store {
    async fn add_usage(&self, batch: &[UsageDelta]) -> Result<Vec<i64>, StorageError> {
        self.gateway().add_usage(batch).await
    }

    async fn quota_used(
        &self,
        plan_id: &str,
        key_id: &str,
        period_start: i64,
    ) -> Result<i64, StorageError> {
        self.gateway()
            .quota_used(plan_id, key_id, period_start)
            .await
    }
}

/// The counts a flush took from its slots (in flight) for one write. Unless the write's totals
/// were applied (`owners` emptied), dropping it puts them back as pending: after a failed
/// write, and when the flush itself is dropped mid-write (a GetUsage whose caller went away),
/// so no count stays in flight for good. A write that landed just before such a drop is
/// written again by the next flush: the counter errs high (an early 429), never low.
#[derive(Default)]
struct Taken {
    batch: Vec<UsageDelta>,
    /// Per delta of `batch`: its slot, how many it took, and whether it is the current
    /// period's counter.
    owners: Vec<(Arc<QuotaSlot>, u64, bool)>,
}

impl Drop for Taken {
    fn drop(&mut self) {
        for ((slot, n, _), d) in self.owners.iter().zip(&self.batch) {
            let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            if d.period_start == s.period_start {
                s.in_flight = s.in_flight.saturating_sub(*n);
                s.pending += n;
            }
        }
    }
}

fn delta(slot: &QuotaSlot, period_start: i64, day: i64, n: u64) -> UsageDelta {
    UsageDelta {
        plan_id: slot.plan_id.clone(),
        key_id: slot.key_id.clone(),
        period_start,
        day,
        count: i64::try_from(n).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::stage::QuotaPeriod;

    fn quota(limit: u64) -> Quota {
        Quota {
            limit,
            period: QuotaPeriod::Day,
            offset: 0,
        }
    }

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn admits_until_the_limit_and_restarts_with_the_period() {
        let counters = QuotaCounters::new(100);
        let quota = quota(100);
        let slot = counters.slot("p", "k");
        // batch = 100 / 20 = 5: past it requests are still decided at once.
        for _ in 0..10 {
            assert_eq!(counters.check(&slot, &quota, NOW), QuotaCheck::Admitted);
        }
        slot.state.lock().unwrap().known = 89;
        assert_eq!(counters.check(&slot, &quota, NOW), QuotaCheck::Admitted);
        let QuotaCheck::Exceeded { retry_after } = counters.check(&slot, &quota, NOW) else {
            panic!("expected exceeded: 89 known + 11 unwritten");
        };
        assert!(retry_after > 0 && retry_after <= 86_400);
        assert_eq!(counters.most_unwritten(), 11);
        // The next day starts from zero.
        assert_eq!(
            counters.check(&slot, &quota, NOW + 86_400_000),
            QuotaCheck::Admitted
        );
    }

    /// A store whose first write waits until the test opens the gate.
    struct GatedStore {
        gate: tokio::sync::Semaphore,
        entered: tokio::sync::Notify,
        writes: AtomicU64,
        total: Mutex<i64>,
    }

    impl GatedStore {
        fn new() -> Self {
            Self {
                gate: tokio::sync::Semaphore::new(0),
                entered: tokio::sync::Notify::new(),
                writes: AtomicU64::new(0),
                total: Mutex::new(0),
            }
        }
    }

    impl CounterStore for GatedStore {
        async fn add_usage(&self, batch: &[UsageDelta]) -> Result<Vec<i64>, StorageError> {
            self.entered.notify_one();
            let _permit = if self.writes.fetch_add(1, Ordering::SeqCst) == 0 {
                Some(self.gate.acquire().await)
            } else {
                None
            };
            let mut total = self.total.lock().unwrap();
            Ok(batch
                .iter()
                .map(|d| {
                    *total += d.count;
                    *total
                })
                .collect())
        }

        async fn quota_used(&self, _: &str, _: &str, _: i64) -> Result<i64, StorageError> {
            Ok(*self.total.lock().unwrap())
        }
    }

    /// A slot of a 40-a-day quota with `admitted` requests counted, and a flush spawned
    /// with them, blocked in its write until the store's gate opens.
    struct BlockedFlush {
        counters: Arc<QuotaCounters>,
        quota: Quota,
        slot: Arc<QuotaSlot>,
        store: Arc<GatedStore>,
        flush: tokio::task::JoinHandle<()>,
    }

    async fn flush_blocked_in_its_write(admitted: usize) -> BlockedFlush {
        let counters = Arc::new(QuotaCounters::new(100));
        let quota = quota(40);
        let slot = counters.slot("p", "k");
        for _ in 0..admitted {
            assert_eq!(counters.check(&slot, &quota, NOW), QuotaCheck::Admitted);
        }
        let store = Arc::new(GatedStore::new());
        let entered = store.entered.notified();
        let flush = tokio::spawn({
            let (counters, store) = (Arc::clone(&counters), Arc::clone(&store));
            async move { counters.flush(&*store, NOW).await }
        });
        entered.await;
        BlockedFlush {
            counters,
            quota,
            slot,
            store,
            flush,
        }
    }

    #[tokio::test]
    async fn requests_are_decided_while_a_write_is_blocked() {
        // batch = 2: the flusher is woken after two requests.
        let BlockedFlush {
            counters,
            quota,
            slot,
            store,
            flush,
        } = flush_blocked_in_its_write(2).await;
        // The write of the first two is in flight and blocked: every request is still
        // answered at once, up to the limit and no further.
        let answers: Vec<QuotaCheck> = (0..40)
            .map(|_| counters.check(&slot, &quota, NOW))
            .collect();
        assert_eq!(
            answers
                .iter()
                .filter(|a| **a == QuotaCheck::Admitted)
                .count(),
            38
        );
        assert!(matches!(answers[39], QuotaCheck::Exceeded { .. }));
        assert!(!flush.is_finished());
        store.gate.add_permits(1);
        flush.await.unwrap();
        let s = slot.state.lock().unwrap();
        assert_eq!((s.known, s.in_flight, s.pending), (2, 0, 38));
    }

    #[tokio::test]
    async fn a_flush_returns_only_after_the_one_in_flight_has_written() {
        let BlockedFlush {
            counters,
            quota,
            slot,
            store,
            flush: background,
        } = flush_blocked_in_its_write(2).await;
        // The background flush's write of two is blocked; three more arrive, and someone
        // (GetUsage, a test, shutdown) asks for everything to be written.
        for _ in 0..3 {
            assert_eq!(counters.check(&slot, &quota, NOW), QuotaCheck::Admitted);
        }
        let explicit = tokio::spawn({
            let (counters, store) = (Arc::clone(&counters), Arc::clone(&store));
            async move {
                counters.flush(&*store, NOW).await;
                *store.total.lock().unwrap()
            }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        store.gate.add_permits(1);
        background.await.unwrap();
        // When the explicit flush returns, the two in flight before it are written too.
        assert_eq!(explicit.await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_flush_dropped_mid_write_puts_its_counts_back() {
        let BlockedFlush {
            counters,
            slot,
            store,
            flush,
            ..
        } = flush_blocked_in_its_write(3).await;
        assert_eq!(slot.state.lock().unwrap().in_flight, 3);
        flush.abort();
        assert!(flush.await.unwrap_err().is_cancelled());
        {
            let s = slot.state.lock().unwrap();
            assert_eq!((s.pending, s.in_flight), (3, 0));
        }
        // The next flush writes them.
        counters.flush(&*store, NOW).await;
        assert_eq!(*store.total.lock().unwrap(), 3);
    }
}
