//! The reconnect delay ([`Backoff`]): exponential from 1 s, capped at
//! `reconnect_max`, jittered to 50–100 % to spread reconnects.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

/// First reconnect delay; doubles per failed attempt up to `reconnect_max`.
const BACKOFF_START: Duration = Duration::from_secs(1);

/// Exponential backoff with jitter and no `rand`: the randomness comes from
/// `RandomState`'s per-instance keys mixed with the clock.
pub(super) struct Backoff {
    attempt: u32,
    cap: Duration,
}

impl Backoff {
    pub(super) fn new(reconnect_max: Duration) -> Self {
        Backoff {
            attempt: 0,
            // Never below the first step: a zero cap would be a tight loop.
            cap: reconnect_max.max(BACKOFF_START),
        }
    }

    pub(super) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// 1 s, 2 s, 4 s, … up to the cap, each scaled by a random 50–100 %.
    pub(super) fn next_delay(&mut self) -> Duration {
        let step = BACKOFF_START.saturating_mul(1u32 << self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        step.min(self.cap).mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A number in `[0, 1)`, good enough to spread reconnects.
fn unit_random() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let expected = [1, 2, 4, 8, 10, 10, 10];
        for secs in expected {
            let d = b.next_delay();
            let step = Duration::from_secs(secs);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not within 50–100 % of {step:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= BACKOFF_START);
        // A zero cap must not become a tight loop.
        let mut b = Backoff::new(Duration::ZERO);
        assert!(b.next_delay() >= BACKOFF_START / 2);
        // Jitter actually varies.
        let samples: std::collections::HashSet<u64> =
            (0..20).map(|_| (unit_random() * 1e9) as u64).collect();
        assert!(samples.len() > 10);
    }
}
