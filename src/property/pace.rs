//! [`Pace`]: at most `limits.rate` requests per second, as a token bucket holding one token
//! (each request takes the next free slot, `1 / rate` after the previous one), so no burst ever
//! exceeds the rate in any second.
//!
//! The scheduling is a pure function of the time asked ([`Pace::slot_at`]), tested by counting
//! slots per second of virtual time; [`Pace::wait_turn`] only sleeps until its slot.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests at most `rate` per second.
#[derive(Debug)]
pub struct Pace {
    interval: Duration,
    /// The earliest time the next request may go.
    next_free: Mutex<Option<Instant>>,
}

impl Pace {
    /// Paces `rate` requests per second (`rate` > 0).
    pub fn new(rate: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / rate),
            next_free: Mutex::new(None),
        }
    }

    /// Returns when a request asked for at `now` may go, and books that slot.
    pub fn slot_at(&self, now: Instant) -> Instant {
        let mut next = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next.map_or(now, |free| free.max(now));
        *next = Some(slot + self.interval);
        slot
    }

    /// Waits until this request's slot.
    pub async fn wait_turn(&self) {
        let slot = self.slot_at(Instant::now());
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 500 requests asked for at once, then more at irregular times: every window of one
    /// second (slots counted per half-open second from the first) holds at most `rate`, and
    /// consecutive slots are at least `1 / rate` apart.
    #[test]
    fn no_second_holds_more_than_the_rate() {
        for rate in [0.5, 1.0, 7.0, 50.0] {
            let pace = Pace::new(rate);
            let start = Instant::now();
            let mut slots: Vec<Instant> = (0..500).map(|_| pace.slot_at(start)).collect();
            let later = *slots.last().unwrap() + Duration::from_secs(3);
            slots.extend((0..50).map(|i| pace.slot_at(later + Duration::from_millis(i * 7))));
            for pair in slots.windows(2) {
                assert!(pair[1] - pair[0] >= pace.interval, "rate {rate}");
            }
            for &from in &slots {
                let in_window = slots
                    .iter()
                    .filter(|&&s| s >= from && s < from + Duration::from_secs(1))
                    .count();
                assert!(
                    in_window as f64 <= rate.max(1.0),
                    "rate {rate}: {in_window} in a second"
                );
            }
        }
    }

    /// A request asked for after a quiet spell goes at once: the bucket does not save up.
    #[test]
    fn a_request_after_a_pause_goes_at_once_without_a_burst() {
        let pace = Pace::new(2.0);
        let start = Instant::now();
        assert_eq!(pace.slot_at(start), start);
        let later = start + Duration::from_secs(10);
        assert_eq!(pace.slot_at(later), later);
        assert_eq!(pace.slot_at(later), later + Duration::from_millis(500));
    }
}
