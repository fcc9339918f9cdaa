//! Single flight: concurrent requests for the same token wait for one network request.

use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::cache::FastMap;

/// Per-key async locks. A caller takes the lock for its key, re-checks the cache, and only
/// then goes to the network, so N concurrent misses cost one request.
#[derive(Debug, Default)]
pub struct Coalescer {
    locks: Mutex<Locks>,
}

/// The locks of the keys in flight, plus the last key released (kept: the next request is
/// usually for the same key) and one idle lock for a new key.
#[derive(Debug, Default)]
struct Locks {
    /// Keyed with the cache's fast hasher (a key is the application's partition and scopes).
    by_key: FastMap<Arc<str>, Arc<AsyncMutex<()>>>,
    /// The last key released, still in `by_key`: the only key kept while idle.
    idle: Option<Arc<str>>,
    /// The lock of the idle key dropped last: a new key takes it instead of allocating one.
    spare: Option<Arc<AsyncMutex<()>>>,
}

impl Coalescer {
    /// Waits for the key's lock. The key is shared by the map and the guard, not copied.
    pub async fn lock(&self, key: impl Into<Arc<str>> + AsRef<str>) -> CoalesceGuard<'_> {
        let (key, lock) = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.by_key.get_key_value(key.as_ref()) {
                Some((key, lock)) => (key.clone(), lock.clone()),
                None => {
                    let key: Arc<str> = key.into();
                    // The spare only while nobody else holds it (its last guard is gone).
                    let lock = locks
                        .spare
                        .take()
                        .filter(|spare| Arc::strong_count(spare) == 1)
                        .unwrap_or_default();
                    locks.by_key.insert(key.clone(), lock.clone());
                    (key, lock)
                }
            }
        };
        // Uncontended (the usual case), the lock is taken at once, without a waiting future.
        // (Never ahead of a waiter: a released lock passes straight to the first one.)
        let guard = match Arc::clone(&lock).try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => lock.lock_owned().await,
        };
        CoalesceGuard {
            owner: self,
            key,
            guard,
        }
    }

    /// How many keys have a lock (in flight, or waited for).
    #[cfg(test)]
    fn keys(&self) -> usize {
        self.locks.lock().unwrap().by_key.len()
    }
}

/// Held while a request for the key is in flight; releasing it drops the idle entry.
pub struct CoalesceGuard<'a> {
    owner: &'a Coalescer,
    key: Arc<str>,
    /// Holds the lock, and a reference to it.
    guard: OwnedMutexGuard<()>,
}

impl Drop for CoalesceGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: the map's and this guard's. Anyone else waiting holds a third.
        if Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) > 2 {
            return;
        }
        // This key becomes the idle one; the one before goes, unless it is in use again (its
        // own release will then drop this one): at most one idle key stays.
        let Some(previous) = locks.idle.replace(self.key.clone()) else {
            return;
        };
        if previous != self.key
            && locks
                .by_key
                .get(&*previous)
                .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.spare = locks.by_key.remove(&*previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_last_released_key_stays_and_a_dropped_lock_serves_a_new_key() {
        let coalescer = Coalescer::default();
        let lock_of = |guard: &CoalesceGuard<'_>| Arc::as_ptr(OwnedMutexGuard::mutex(&guard.guard));
        let a = coalescer.lock("a").await;
        let lock_a = lock_of(&a);
        drop(a);
        assert_eq!(coalescer.keys(), 1, "the last key released stays");
        let again = coalescer.lock("a").await;
        assert_eq!(lock_of(&again), lock_a, "and serves the same key again");
        drop(again);
        let b = coalescer.lock("b").await;
        assert_ne!(lock_of(&b), lock_a);
        drop(b);
        assert_eq!(
            coalescer.keys(),
            1,
            "one idle key: the one before is dropped"
        );
        let c = coalescer.lock("c").await;
        assert_eq!(
            lock_of(&c),
            lock_a,
            "the dropped key's lock serves a new key"
        );
        // Two keys in flight at once: each has its own lock.
        let d = coalescer.lock("d").await;
        assert_ne!(lock_of(&d), lock_of(&c));
        drop((c, d));
        assert_eq!(coalescer.keys(), 1);
        for i in 0..100 {
            drop(coalescer.lock(&*format!("key {i}")).await);
        }
        assert_eq!(coalescer.keys(), 1, "released keys do not pile up");
    }

    #[tokio::test]
    async fn a_key_stays_while_someone_waits_for_it() {
        let coalescer = Arc::new(Coalescer::default());
        let held = coalescer.lock("k").await;
        let waiter = {
            let coalescer = Arc::clone(&coalescer);
            tokio::spawn(async move {
                let _second = coalescer.lock("k").await;
            })
        };
        // Let the waiter queue up on the same lock.
        while Arc::strong_count(OwnedMutexGuard::mutex(&held.guard)) < 3 {
            tokio::task::yield_now().await;
        }
        drop(held);
        waiter.await.unwrap();
        assert_eq!(coalescer.keys(), 1, "the key stays, idle");
        drop(coalescer.lock("other").await);
        assert_eq!(coalescer.keys(), 1, "and goes when another key is released");
    }
}
