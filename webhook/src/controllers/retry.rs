//! Retry delays of the controllers' error policies.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

/// Consecutive failure counts per object: the state behind the controllers' error policies.
pub struct FailureCounts<K>(Mutex<HashMap<K, u32>>);

impl<K: Hash + Eq> Default for FailureCounts<K> {
    fn default() -> Self {
        FailureCounts(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq> FailureCounts<K> {
    /// Records one more failure of `key` and returns how long to wait before retrying it.
    pub fn next_retry(&self, key: K, cap: Duration) -> Duration {
        let mut counts = self.0.lock().expect("failure counts lock");
        let n = counts.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        backoff(*n, cap)
    }

    /// Forgets the failures of `key` after a success.
    pub fn clear(&self, key: &K) {
        self.0.lock().expect("failure counts lock").remove(key);
    }
}

/// Exponential requeue delay after `failures` consecutive failed syncs: 1 s, 2 s, 4 s … capped.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let secs = 1u64.checked_shl(failures.saturating_sub(1).min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(0, cap), Duration::from_secs(1));
        assert_eq!(backoff(1, cap), Duration::from_secs(1));
        assert_eq!(backoff(2, cap), Duration::from_secs(2));
        assert_eq!(backoff(4, cap), Duration::from_secs(8));
        assert_eq!(backoff(10, cap), cap);
        assert_eq!(backoff(u32::MAX, cap), cap);
    }

    #[test]
    fn failures_count_up_per_key_until_cleared() {
        let counts = FailureCounts::default();
        let cap = Duration::from_secs(60);
        assert_eq!(counts.next_retry("a", cap), Duration::from_secs(1));
        assert_eq!(counts.next_retry("a", cap), Duration::from_secs(2));
        assert_eq!(counts.next_retry("b", cap), Duration::from_secs(1));
        counts.clear(&"a");
        assert_eq!(counts.next_retry("a", cap), Duration::from_secs(1));
    }
}
