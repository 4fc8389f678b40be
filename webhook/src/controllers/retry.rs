//! The one retry policy of the controllers: per object, exponential from 1 s, doubling, capped
//! (backon's exponential backoff), reset by a success.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The first retry delay.
const FIRST: Duration = Duration::from_secs(1);

/// Per-object retry delays: the state behind the controllers' error policy.
pub struct Retries<K> {
    builder: ExponentialBuilder,
    cap: Duration,
    delays: Mutex<HashMap<K, ExponentialBackoff>>,
}

impl<K: Hash + Eq> Retries<K> {
    /// Delays of 1 s, 2 s, 4 s … up to `cap`.
    pub fn new(cap: Duration) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(FIRST.min(cap))
            .with_max_delay(cap)
            .with_factor(2.0)
            .without_max_times();
        Retries { builder, cap, delays: Mutex::new(HashMap::new()) }
    }

    /// Records one more failure of `key` and returns how long to wait before retrying it.
    pub fn next(&self, key: K) -> Duration {
        let mut delays = self.delays.lock().expect("retry delays lock");
        delays.entry(key).or_insert_with(|| self.builder.build()).next().unwrap_or(self.cap)
    }

    /// Forgets the failures of `key` after a success.
    pub fn clear(&self, key: &K) {
        self.delays.lock().expect("retry delays lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_key_up_to_the_cap_until_cleared() {
        let retries = Retries::new(Duration::from_secs(10));
        let a: Vec<u64> = (0..6).map(|_| retries.next("a").as_secs()).collect();
        assert_eq!(a, [1, 2, 4, 8, 10, 10]);
        assert_eq!(retries.next("b"), Duration::from_secs(1));
        retries.clear(&"a");
        assert_eq!(retries.next("a"), Duration::from_secs(1));
        assert_eq!(retries.next("b"), Duration::from_secs(2));
    }

    #[test]
    fn a_cap_below_a_second_holds_from_the_first_retry() {
        let retries = Retries::new(Duration::from_millis(300));
        assert_eq!(retries.next(1), Duration::from_millis(300));
        assert_eq!(retries.next(1), Duration::from_millis(300));
    }
}
