//! Quota counters shared by several nodes through storage, without a database call per
//! request.
//!
//! Each (plan, key) has a [`QuotaSlot`] with the last known global count of its period
//! (`known`), requests admitted here and not yet written (`pending`) and requests being
//! written (`in_flight`). A request is admitted while `known + pending + in_flight < limit`
//! and `pending + in_flight < batch`; the flusher ([`QuotaCounters::flush`], every second or
//! as soon as a batch fills) adds the pending counts with `used = used + n` and learns the
//! new global total, and re-reads the totals of idle slots that were used recently, so a node
//! also learns about the others' requests.
//!
//! Bound: every node holds at most `batch` unwritten requests, and admits only below the
//! limit as it last saw it, so N nodes admit at most `limit + (N − 1) × batch` requests per
//! period (see the README); `batch` is `clamp(limit / 20, 1, max_batch)`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatehouse_storage::{Store, UsageDelta};

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
    /// Wakes requests waiting for a flush.
    pub(crate) flushed: tokio::sync::Notify,
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
    /// This node's batch is full: wait for a flush and ask again.
    Flush,
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
            flushed: tokio::sync::Notify::new(),
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

    /// Counts one request against `quota` at `now_ms` if it fits.
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
        if unwritten >= batch {
            return QuotaCheck::Flush;
        }
        s.pending += 1;
        QuotaCheck::Admitted
    }

    /// Writes every slot's pending counts (and reads recently used idle slots), then wakes
    /// waiting requests. Errors leave the counts pending for the next round.
    pub async fn flush(&self, store: &Store, now_ms: i64) {
        let slots: Vec<Arc<QuotaSlot>> = {
            let map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        let mut batch: Vec<UsageDelta> = Vec::new();
        // (slot, taken, is the current period's counter)
        let mut owners: Vec<(Arc<QuotaSlot>, u64, bool)> = Vec::new();
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
        if !batch.is_empty() {
            match store.gateway().add_usage(&batch).await {
                Ok(totals) => {
                    for ((slot, n, current), (total, d)) in
                        owners.iter().zip(totals.iter().zip(&batch))
                    {
                        let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                        if *current && d.period_start == s.period_start {
                            s.in_flight = s.in_flight.saturating_sub(*n);
                            s.known = s.known.max(u64::try_from(*total).unwrap_or(0));
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "quota counters not written; retrying");
                    for ((slot, n, _), d) in owners.iter().zip(&batch) {
                        let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                        if d.period_start == s.period_start {
                            s.in_flight = s.in_flight.saturating_sub(*n);
                            s.pending += n;
                        }
                    }
                }
            }
        }
        for (slot, period_start) in rereads {
            if let Ok(total) = store
                .gateway()
                .quota_used(&slot.plan_id, &slot.key_id, period_start)
                .await
            {
                let mut s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.period_start == period_start {
                    s.known = s.known.max(u64::try_from(total).unwrap_or(0));
                }
            }
        }
        self.flushed.notify_waiters();
    }

    /// The remaining quota of a slot as this node knows it (for GetUsage on a single node).
    pub fn known_used(&self, plan_id: &str, key_id: &str) -> Option<u64> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(&(plan_id.to_owned(), key_id.to_owned()))?;
        let s = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(s.known + s.pending + s.in_flight)
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

    #[test]
    fn admits_until_limit_and_batch() {
        let counters = QuotaCounters::new(100);
        let quota = Quota {
            limit: 100,
            period: QuotaPeriod::Day,
            offset: 0,
        };
        let slot = counters.slot("p", "k");
        let now = 1_700_000_000_000;
        // batch = 100 / 20 = 5
        for _ in 0..5 {
            assert_eq!(counters.check(&slot, &quota, now), QuotaCheck::Admitted);
        }
        assert_eq!(counters.check(&slot, &quota, now), QuotaCheck::Flush);
        slot.state.lock().unwrap().known = 98;
        slot.state.lock().unwrap().pending = 0;
        assert_eq!(counters.check(&slot, &quota, now), QuotaCheck::Admitted);
        assert_eq!(counters.check(&slot, &quota, now), QuotaCheck::Admitted);
        let QuotaCheck::Exceeded { retry_after } = counters.check(&slot, &quota, now) else {
            panic!("expected exceeded");
        };
        assert!(retry_after > 0 && retry_after <= 86_400);
        // The next day starts from zero.
        assert_eq!(
            counters.check(&slot, &quota, now + 86_400_000),
            QuotaCheck::Admitted
        );
    }
}
