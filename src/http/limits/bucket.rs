//! The arithmetic of the limits, apart from any table or request: a token
//! bucket (a per-minute rate with a burst), a fixed window of failures, and
//! the once-a-minute rule for audit records of refusals. Times are passed
//! in, so the unit tests need no clock.

use std::time::{Duration, Instant};

/// A rate: `per_minute` requests a minute on average, `burst` at once.
/// A rate of 0 is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub fn is_off(&self) -> bool {
        self.per_minute == 0
    }

    fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    fn capacity(&self) -> f64 {
        f64::from(self.burst.max(1))
    }
}

/// A token bucket. It starts full; each request takes one token, and tokens
/// come back at the rate, up to the burst.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.capacity(),
            last: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second()).min(rate.capacity());
        self.last = now;
    }

    /// Takes a token, or says how long until one is back.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / rate.per_second();
        Err(Duration::from_secs_f64(wait))
    }

    /// Full again: forgetting the bucket changes nothing.
    pub fn is_idle(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= rate.capacity()
    }
}

/// Failed authentications in a fixed window that opens at the first
/// failure. At `limit` failures the key is blocked until the window closes.
#[derive(Clone, Copy, Debug)]
pub struct Failures {
    count: u32,
    since: Instant,
}

impl Failures {
    pub fn new(now: Instant) -> Self {
        Self {
            count: 0,
            since: now,
        }
    }

    pub fn note(&mut self, window: Duration, now: Instant) {
        if self.expired(window, now) {
            *self = Self::new(now);
        }
        self.count = self.count.saturating_add(1);
    }

    /// How long the key stays blocked, if it is.
    pub fn blocked(&self, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        if self.count < limit || self.expired(window, now) {
            return None;
        }
        Some((self.since + window).saturating_duration_since(now))
    }

    pub fn expired(&self, window: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.since) >= window
    }
}

/// At most one audit record of refusals per key per this interval; the
/// next record counts the refusals left unrecorded in between.
pub const RECORD_EVERY: Duration = Duration::from_secs(60);

/// When a key's refusals were last recorded, and how many were not since.
#[derive(Clone, Copy, Debug, Default)]
pub struct Notice {
    recorded_at: Option<Instant>,
    unrecorded: u64,
}

impl Notice {
    /// A refusal happened. Returns `Some(unrecorded refusals before this
    /// one)` when this refusal is to be recorded.
    pub fn refused(&mut self, now: Instant) -> Option<u64> {
        match self.recorded_at {
            Some(at) if now.saturating_duration_since(at) < RECORD_EVERY => {
                self.unrecorded = self.unrecorded.saturating_add(1);
                None
            }
            _ => {
                self.recorded_at = Some(now);
                Some(std::mem::take(&mut self.unrecorded))
            }
        }
    }

    /// The next refusal would be recorded anyway. Forgetting the notice
    /// then loses only the count of unrecorded refusals, which keeps a table
    /// of quiet keys from growing.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.recorded_at
            .is_none_or(|at| now.saturating_duration_since(at) >= RECORD_EVERY)
    }
}

/// Rounds a wait up to whole seconds, at least 1, for `Retry-After`.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_minute: 60,
        burst: 3,
    };

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(RATE, t0);
        for _ in 0..3 {
            assert!(b.take(RATE, t0).is_ok());
        }
        let wait = b.take(RATE, t0).unwrap_err();
        assert_eq!(retry_after_seconds(wait), 1);
        // One token a second comes back.
        assert!(b.take(RATE, t0 + Duration::from_millis(1000)).is_ok());
        assert!(b.take(RATE, t0 + Duration::from_millis(1000)).is_err());
        assert!(!b.is_idle(RATE, t0 + Duration::from_secs(2)));
        assert!(b.is_idle(RATE, t0 + Duration::from_secs(4)));
    }

    #[test]
    fn a_slow_rate_asks_for_a_longer_wait() {
        let rate = Rate {
            per_minute: 6,
            burst: 1,
        };
        let t0 = Instant::now();
        let mut b = Bucket::full(rate, t0);
        assert!(b.take(rate, t0).is_ok());
        let wait = b.take(rate, t0 + Duration::from_millis(500)).unwrap_err();
        assert_eq!(retry_after_seconds(wait), 10);
    }

    #[test]
    fn failures_block_at_the_limit_until_the_window_closes() {
        let window = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut f = Failures::new(t0);
        f.note(window, t0);
        f.note(window, t0 + Duration::from_secs(1));
        assert_eq!(f.blocked(3, window, t0 + Duration::from_secs(1)), None);
        f.note(window, t0 + Duration::from_secs(2));
        assert_eq!(
            f.blocked(3, window, t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(8))
        );
        assert_eq!(f.blocked(3, window, t0 + Duration::from_secs(10)), None);
        // A failure after the window starts a new one.
        f.note(window, t0 + Duration::from_secs(11));
        assert_eq!(f.blocked(3, window, t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn refusals_are_recorded_once_a_minute_with_the_count_in_between() {
        let t0 = Instant::now();
        let mut n = Notice::default();
        assert!(n.is_idle(t0));
        assert_eq!(n.refused(t0), Some(0));
        assert_eq!(n.refused(t0 + Duration::from_secs(1)), None);
        assert_eq!(n.refused(t0 + Duration::from_secs(2)), None);
        assert!(!n.is_idle(t0 + Duration::from_secs(30)));
        assert_eq!(n.refused(t0 + RECORD_EVERY), Some(2));
        assert!(n.is_idle(t0 + RECORD_EVERY * 2));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(300)), 300);
    }
}
