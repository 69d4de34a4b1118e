//! Rate limits per source address for the operations anyone may call without credentials
//! (sign-up, sign-in, codes, challenges): one GCRA bucket per client address (`governor`),
//! refilled at [`SourceRateLimit::per_second`] and holding at most
//! [`SourceRateLimit::burst`] requests. The address is the one [`crate::net`] resolves with
//! the trusted proxies; an IPv6 client is limited per /64 network (one host usually holds
//! a whole /64, so per-address buckets would be free to multiply).
//!
//! Time is a parameter: each check passes `now`, which feeds the limiter's clock (kept
//! monotonic: a clock stepping back neither refills a bucket nor stops buckets refilling
//! until it catches up). Buckets that are full again are dropped now and then, so memory
//! follows the addresses seen in the last few seconds.
//!
//! Limits are per node: with N nodes behind a load balancer an address gets up to N times
//! the rate.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

/// The limit per source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRateLimit {
    /// Requests per second an address may make in the long run; 0 turns the limit off.
    pub per_second: u32,
    /// Requests an address may make at once (at least 1 when the limit is on).
    pub burst: u32,
}

impl Default for SourceRateLimit {
    /// 20 requests per second with a burst of 40: more than a person signing in ever
    /// sends, far less than a script guessing passwords.
    fn default() -> Self {
        Self {
            per_second: 20,
            burst: 40,
        }
    }
}

/// The per-address buckets of one node.
#[derive(Debug)]
pub struct SourceLimiter {
    limit: SourceRateLimit,
    /// `None` when the limit is off.
    buckets:
        Option<RateLimiter<IpAddr, HashMapStateStore<IpAddr>, FedClock, NoOpMiddleware<Nanos>>>,
    clock: FedClock,
    /// Checks since the last sweep of full buckets.
    checks: AtomicU64,
}

/// Checks between two sweeps of the buckets that are full again.
const SWEEP_EVERY: u64 = 4096;

/// governor's clock, fed with the callers' `now`: it moves forward by as much as the wall
/// clock does between two calls and never back. A wall clock set back (by more than
/// [`CLOCK_STEP`]) is taken as the new starting point rather than waited for: otherwise no
/// bucket would refill until the wall clock caught up again, and every address would get
/// one burst for as long as the step.
#[derive(Debug, Clone, Default)]
struct FedClock(Arc<std::sync::Mutex<Fed>>);

#[derive(Debug, Default)]
struct Fed {
    /// The latest wall-clock time seen (nanoseconds since the Unix epoch).
    wall: u64,
    /// governor's time: the wall clock's forward moves added up.
    elapsed: u64,
}

/// A wall clock going back by less than this is two callers' `now`s arriving out of order
/// (ignored); by more, the clock was set back.
const CLOCK_STEP: u64 = 1_000_000_000;

impl FedClock {
    fn advance_to(&self, now: SystemTime) {
        let wall = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_nanos()).ok())
            .unwrap_or(0);
        let mut fed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if wall >= fed.wall {
            fed.elapsed = fed.elapsed.saturating_add(wall - fed.wall);
            fed.wall = wall;
        } else if fed.wall - wall > CLOCK_STEP {
            fed.wall = wall;
        }
    }
}

impl GovernorClock for FedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed,
        )
    }
}

// === impl SourceLimiter ===

impl SourceLimiter {
    /// Buckets for `limit`.
    pub fn new(limit: SourceRateLimit) -> Self {
        let clock = FedClock::default();
        let buckets = NonZeroU32::new(limit.per_second).map(|rate| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::per_second(rate).allow_burst(burst);
            RateLimiter::new(quota, HashMapStateStore::default(), clock.clone())
        });
        Self {
            limit,
            buckets,
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// The limit in force.
    pub fn limit(&self) -> SourceRateLimit {
        self.limit
    }

    /// Takes one request from `client`'s bucket at `now`: `Err(retry_after)` when it is
    /// empty, with the time until the next request would be allowed.
    pub fn check(&self, client: IpAddr, now: SystemTime) -> Result<(), Duration> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        self.clock.advance_to(now);
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        buckets
            .check_key(&bucket_key(client))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// How many addresses hold a bucket that is not full (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.buckets.as_ref().map_or(0, |b| {
            b.retain_recent();
            b.len()
        })
    }
}

/// The bucket an address draws from: itself for IPv4 (and IPv4-mapped IPv6), its /64 for
/// IPv6.
fn bucket_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1_u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;

    fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_millis(millis)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// How many of `n` requests from `client` at `now` pass.
    fn passed(limiter: &SourceLimiter, client: &str, n: u32, now: SystemTime) -> u32 {
        (0..n)
            .map(|_| u32::from(limiter.check(ip(client), now).is_ok()))
            .sum()
    }

    #[test]
    fn each_address_gets_the_burst_then_the_rate() {
        let limiter = SourceLimiter::new(SourceRateLimit::default());
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(0)), 40, "the burst");
        let retry = limiter.check(ip("192.0.2.1"), at(0)).unwrap_err();
        assert_eq!(retry, Duration::from_millis(50), "one request per 50 ms");
        assert_eq!(
            passed(&limiter, "192.0.2.2", 100, at(0)),
            40,
            "another address"
        );
        // A second later 20 more have trickled in.
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(1000)), 20);
        // A clock stepping back refills nothing.
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(0)), 0);
    }

    #[test]
    fn a_clock_stepping_back_neither_refills_nor_freezes_the_buckets() {
        let limiter = SourceLimiter::new(SourceRateLimit::default());
        let hour = 3_600_000;
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(hour)), 40);
        // The wall clock is set back an hour: nothing refills at the step …
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(0)), 0);
        // … and time goes on from there: a second later 20 more requests pass, as they
        // would have without the step (not only once the clock is back where it was).
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(1000)), 20);
        assert_eq!(passed(&limiter, "192.0.2.1", 100, at(2000)), 20);
    }

    #[test]
    fn ipv6_clients_share_their_slash_64_and_mapped_ipv4_is_ipv4() {
        let limiter = SourceLimiter::new(SourceRateLimit {
            per_second: 1,
            burst: 2,
        });
        let cases = [
            ("an address", "2001:db8:1:2::1", 2),
            ("another in the same /64", "2001:db8:1:2:ffff::9", 0),
            ("the next /64", "2001:db8:1:3::1", 2),
            ("an IPv4 address", "198.51.100.7", 2),
            ("the same, IPv4-mapped", "::ffff:198.51.100.7", 0),
        ];
        for (rule, client, expected) in cases {
            assert_eq!(passed(&limiter, client, 5, at(0)), expected, "{rule}");
        }
    }

    #[test]
    fn a_zero_rate_turns_the_limit_off_and_full_buckets_are_forgotten() {
        let off = SourceLimiter::new(SourceRateLimit {
            per_second: 0,
            burst: 0,
        });
        assert_eq!(passed(&off, "192.0.2.1", 1000, at(0)), 1000);
        let limiter = SourceLimiter::new(SourceRateLimit {
            per_second: 10,
            burst: 10,
        });
        passed(&limiter, "192.0.2.1", 3, at(0));
        passed(&limiter, "192.0.2.2", 3, at(0));
        assert_eq!(limiter.tracked(), 2);
        // Full again a second later: nothing left to remember.
        limiter.check(ip("192.0.2.3"), at(2000)).unwrap();
        assert_eq!(limiter.tracked(), 1);
    }
}
