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

/// The locks of the keys in flight, and one idle lock kept for the next key.
#[derive(Debug, Default)]
struct Locks {
    /// Keyed with the cache's fast hasher (a key is the application's partition and scopes).
    by_key: FastMap<Arc<str>, Arc<AsyncMutex<()>>>,
    /// The lock of the last key released: a request after another (the usual case) takes it
    /// instead of allocating one.
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
        CoalesceGuard {
            owner: self,
            key,
            guard: lock.lock_owned().await,
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
        if Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) <= 2 {
            locks.spare = locks.by_key.remove(&*self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_released_key_leaves_nothing_behind_and_its_lock_serves_the_next() {
        let coalescer = Coalescer::default();
        let lock_of = |guard: &CoalesceGuard<'_>| Arc::as_ptr(OwnedMutexGuard::mutex(&guard.guard));
        let first = coalescer.lock("a").await;
        let first_lock = lock_of(&first);
        assert_eq!(coalescer.keys(), 1);
        drop(first);
        assert_eq!(coalescer.keys(), 0, "an idle key is dropped");
        let second = coalescer.lock("b").await;
        assert_eq!(lock_of(&second), first_lock, "the idle lock is taken again");
        // Two keys in flight at once: each has its own lock.
        let third = coalescer.lock("c").await;
        assert_ne!(lock_of(&third), first_lock);
        assert_eq!(coalescer.keys(), 2);
        drop((second, third));
        assert_eq!(coalescer.keys(), 0);
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
        assert_eq!(coalescer.keys(), 1, "the waiter's key stays");
        waiter.await.unwrap();
        assert_eq!(coalescer.keys(), 0, "the last one out drops it");
    }
}
