//! One way to pause between attempts, for every retry loop of the function:
//! exponential backoff with full jitter. Each pause is a random part of a
//! ceiling that doubles up to a longest; the randomness comes from the
//! [`Clock`] port, so that the in-memory AWS's manual clock (seeded) replays
//! the same pauses on every run.
//!
//! Full jitter spreads retries that started together (several invocations
//! waiting for one lease, several records throttled at once) instead of
//! sending them again in step.

use crate::ports::Clock;
use std::time::Duration;

/// The pauses of one retry loop.
#[derive(Clone, Debug)]
pub struct Backoff {
    ceiling: Duration,
    longest: Duration,
}

impl Backoff {
    /// Pauses up to `first`, then up to twice as long each time, never up to
    /// more than `longest`.
    pub const fn new(first: Duration, longest: Duration) -> Self {
        Self {
            ceiling: first,
            longest,
        }
    }

    /// The next pause: a random duration from zero to the current ceiling.
    pub fn next_pause(&mut self, clock: &impl Clock) -> Duration {
        let pause = clock.jitter(self.ceiling);
        self.ceiling = (self.ceiling * 2).min(self.longest);
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::fake::ManualClock;
    use crate::ports::draw;

    #[test]
    fn each_pause_is_within_a_ceiling_that_doubles_up_to_the_longest() {
        let clock = ManualClock::default();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let ceilings = [100, 200, 400, 400, 400].map(Duration::from_millis);
        for ceiling in ceilings {
            let pause = backoff.next_pause(&clock);
            assert!(pause <= ceiling, "{pause:?} > {ceiling:?}");
        }
    }

    #[test]
    fn pauses_are_spread_over_the_whole_range() {
        let mut rng = fastrand::Rng::with_seed(7);
        let ceiling = Duration::from_secs(1);
        let pauses: Vec<Duration> = (0..1000).map(|_| draw(&mut rng, ceiling)).collect();
        assert!(pauses.iter().all(|p| *p <= ceiling));
        let low = pauses.iter().filter(|p| **p < ceiling / 4).count();
        let high = pauses.iter().filter(|p| **p > ceiling * 3 / 4).count();
        assert!(low > 150 && high > 150, "{low} low, {high} high of 1000");
        assert_eq!(draw(&mut rng, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_system_clock_draws_its_own_jitter() {
        let clock = crate::ports::SystemClock;
        let ceiling = Duration::from_millis(10);
        let pauses: Vec<Duration> = (0..100).map(|_| clock.jitter(ceiling)).collect();
        assert!(pauses.iter().all(|p| *p <= ceiling));
        assert!(pauses.windows(2).any(|w| w[0] != w[1]), "random");
    }
}
