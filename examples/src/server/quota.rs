//! Per-name call quota for `SayHello`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Counts calls per name and refuses a call once the name has used its quota.
#[derive(Debug, Default)]
pub struct Quota {
    limit: u32,
    used: Mutex<HashMap<String, u32>>,
}

impl Quota {
    /// Allows `limit` calls per name; `0` means unlimited.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            used: Mutex::default(),
        }
    }

    /// The number of calls allowed per name (`0`: unlimited).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Records one call for `name`, or returns `false` (and records nothing) when the name has
    /// already used its quota. With no limit nothing is recorded, so memory does not grow.
    pub fn try_acquire(&self, name: &str) -> bool {
        if self.limit == 0 {
            return true;
        }
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert), so a poisoned lock is still safe to use.
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let count = used.entry(name.to_owned()).or_insert(0);
        if *count >= self.limit {
            return false;
        }
        *count += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_name_once_its_quota_is_used() {
        let quota = Quota::new(2);
        assert!(quota.try_acquire("a"));
        assert!(quota.try_acquire("a"));
        assert!(!quota.try_acquire("a"));
        assert!(!quota.try_acquire("a"));
        assert!(quota.try_acquire("b"), "names count separately");
    }

    #[test]
    fn zero_means_unlimited() {
        let quota = Quota::new(0);
        for _ in 0..1000 {
            assert!(quota.try_acquire("a"));
        }
        assert_eq!(quota.limit(), 0);
    }
}
