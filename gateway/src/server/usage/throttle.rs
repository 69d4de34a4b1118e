//! One GCRA rate limiter (`governor`): a [`Throttle`]'s rate and burst, or a limiter that
//! refuses everything for a rate or burst of 0 (API Gateway blocks such methods).
//!
//! Limiters are per node: with N nodes a key gets up to N times its rate (see the README).
//! governor reads its own monotonic clock (quanta); throttling is about elapsed time on this
//! node, never about the wall clock requests carry.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::definition::model::Throttle;

/// A limiter for one throttle setting.
#[derive(Debug)]
pub struct Gcra {
    /// The setting it was built from (to keep a limiter across reloads when unchanged).
    pub throttle: Throttle,
    limiter: Option<DefaultDirectRateLimiter>,
}

// === impl Gcra ===

impl Gcra {
    pub fn new(throttle: Throttle) -> Self {
        let limiter = (throttle.rate_per_second > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / throttle.rate_per_second))
            .and_then(Quota::with_period)
            .zip(NonZeroU32::new(throttle.burst.max(1)))
            .filter(|_| throttle.burst > 0)
            .map(|(quota, burst)| RateLimiter::direct(quota.allow_burst(burst)));
        Self { throttle, limiter }
    }

    /// Takes one cell; `Err(retry_after)` when the caller must wait (whole seconds, ≥ 1, for
    /// the `Retry-After` header).
    pub fn check(&self) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Err(1);
        };
        limiter
            .check()
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
            .map_err(|s| s.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_and_zero_blocks() {
        let g = Gcra::new(Throttle {
            rate_per_second: 1.0,
            burst: 3,
        });
        for _ in 0..3 {
            assert!(g.check().is_ok());
        }
        assert_eq!(g.check(), Err(1));
        let blocked = Gcra::new(Throttle {
            rate_per_second: 0.0,
            burst: 10,
        });
        assert!(blocked.check().is_err());
        let no_burst = Gcra::new(Throttle {
            rate_per_second: 100.0,
            burst: 0,
        });
        assert!(no_burst.check().is_err());
    }
}
