//! [`Clock`]: the time scenarios and mock providers agree on.
//!
//! On mock targets each scenario gets its own [`VirtualClock`], shared with the mocks it starts:
//! a `clock` step advances it instantly, and the mocks' token expiry reads it. On live targets the
//! clock is the wall clock and a `clock` step really waits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct VirtualClock {
    start: SystemTime,
    offset: Mutex<Duration>,
}

impl VirtualClock {
    /// Starts at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// Starts at `start`.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            start,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Returns the virtual now.
    pub fn now(&self) -> SystemTime {
        self.start + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The clock of one scenario run.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Shared with the scenario's mock providers.
    Virtual(Arc<VirtualClock>),
    /// The wall clock.
    Real,
}

impl Clock {
    /// Returns now on this clock.
    pub fn now(&self) -> SystemTime {
        match self {
            Clock::Virtual(v) => v.now(),
            Clock::Real => SystemTime::now(),
        }
    }

    /// Lets `by` pass: instantly on a virtual clock, by sleeping on the real one.
    pub async fn pass(&self, by: Duration) {
        match self {
            Clock::Virtual(v) => v.advance(by),
            Clock::Real => tokio::time::sleep(by).await,
        }
    }

    /// Returns seconds since the Unix epoch on this clock.
    pub fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn virtual_time_moves_only_when_advanced() {
        let virtual_clock = Arc::new(VirtualClock::starting_at(SystemTime::UNIX_EPOCH));
        let clock = Clock::Virtual(virtual_clock.clone());
        assert_eq!(clock.unix_seconds(), 0);
        let started = std::time::Instant::now();
        clock.pass(Duration::from_secs(1800)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            virtual_clock.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1800)
        );
    }
}
