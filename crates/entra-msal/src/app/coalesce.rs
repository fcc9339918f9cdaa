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
///
/// The last key released sits inline, outside the map: an application asking for its usual
/// scopes again finds its lock without hashing the key or reading the map's table (across
/// many applications taking turns, likely cache misses).
#[derive(Debug, Default)]
struct Locks {
    /// The key released last and its lock, idle or in flight again; never also in `others`.
    current: Option<(Arc<str>, Arc<AsyncMutex<()>>)>,
    /// Every other key with a lock, in flight or waited for. Keyed with the cache's fast
    /// hasher (a key is the application's partition and scopes).
    others: FastMap<Arc<str>, Arc<AsyncMutex<()>>>,
    /// The lock of the idle key dropped last: a new key takes it instead of allocating one.
    spare: Option<Arc<AsyncMutex<()>>>,
}

impl Locks {
    /// The key's own copy and its lock, when it has one.
    fn find(&self, key: &str) -> Option<(Arc<str>, Arc<AsyncMutex<()>>)> {
        match &self.current {
            // The same text in memory (the caller's key is usually this one) is not read.
            Some((current, lock)) if std::ptr::eq(&**current, key) || **current == *key => {
                Some((current.clone(), lock.clone()))
            }
            _ => self
                .others
                .get_key_value(key)
                .map(|(key, lock)| (key.clone(), lock.clone())),
        }
    }

    /// `key`, whose last holder just let it go, becomes the current key. The one before goes,
    /// its lock kept as the spare, unless it is in flight again: then it joins the others.
    fn released(&mut self, key: &Arc<str>) {
        if self
            .current
            .as_ref()
            .is_some_and(|(current, _)| Arc::ptr_eq(current, key))
        {
            return;
        }
        let Some(lock) = self.others.remove(&**key) else {
            return;
        };
        if let Some((previous, previous_lock)) = self.current.replace((key.clone(), lock)) {
            if Arc::strong_count(&previous_lock) == 1 {
                self.spare = Some(previous_lock);
            } else {
                self.others.insert(previous, previous_lock);
            }
        }
    }
}

impl Coalescer {
    /// Waits for the key's lock. The key is shared by [`Locks`] and the guard, not copied.
    pub async fn lock(&self, key: impl Into<Arc<str>> + AsRef<str>) -> CoalesceGuard<'_> {
        let (key, lock) = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.find(key.as_ref()) {
                Some(found) => found,
                None => {
                    let key: Arc<str> = key.into();
                    // The spare only while nobody else holds it (its last guard is gone).
                    let lock = locks
                        .spare
                        .take()
                        .filter(|spare| Arc::strong_count(spare) == 1)
                        .unwrap_or_default();
                    locks.others.insert(key.clone(), lock.clone());
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

    /// How many keys have a lock (in flight, waited for, or the current one idle).
    #[cfg(test)]
    fn keys(&self) -> usize {
        let locks = self.locks.lock().unwrap();
        locks.others.len() + usize::from(locks.current.is_some())
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
        // Two references: the one kept with the key and this guard's. Anyone else waiting
        // holds a third, and releases the key in turn.
        if Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) > 2 {
            return;
        }
        locks.released(&self.key);
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

    /// A second caller for `key`, which `held` holds: returns once it queues up on `held`'s
    /// lock (fails if it never does: it took another lock), and the caller finishes after
    /// `held` is dropped.
    async fn second_caller(
        coalescer: &Arc<Coalescer>,
        key: &'static str,
        held: &CoalesceGuard<'_>,
    ) -> tokio::task::JoinHandle<()> {
        let waiter = {
            let coalescer = Arc::clone(coalescer);
            tokio::spawn(async move {
                let _second = coalescer.lock(key).await;
            })
        };
        for _ in 0..1000 {
            if Arc::strong_count(OwnedMutexGuard::mutex(&held.guard)) == 3 {
                return waiter;
            }
            tokio::task::yield_now().await;
        }
        panic!("the second caller did not wait on the lock in flight");
    }

    #[tokio::test]
    async fn the_current_key_in_flight_stays_findable_when_another_is_released() {
        let coalescer = Arc::new(Coalescer::default());
        drop(coalescer.lock("a").await);
        // "a" is the current key, and in flight again while "b" comes and goes.
        let held = coalescer.lock("a").await;
        drop(coalescer.lock("b").await);
        assert_eq!(
            coalescer.keys(),
            2,
            "b is current now; a, in flight, is kept"
        );
        // A second caller for "a" queues on the lock in flight, not a new one.
        let waiter = second_caller(&coalescer, "a", &held).await;
        drop(held);
        waiter.await.unwrap();
        assert_eq!(coalescer.keys(), 1, "a is current again, b idle and gone");
        let b = coalescer.lock("b").await;
        assert_eq!(coalescer.keys(), 2);
        drop(b);
        assert_eq!(coalescer.keys(), 1);
    }

    #[tokio::test]
    async fn a_key_stays_while_someone_waits_for_it() {
        let coalescer = Arc::new(Coalescer::default());
        let held = coalescer.lock("k").await;
        let waiter = second_caller(&coalescer, "k", &held).await;
        drop(held);
        waiter.await.unwrap();
        assert_eq!(coalescer.keys(), 1, "the key stays, idle");
        drop(coalescer.lock("other").await);
        assert_eq!(coalescer.keys(), 1, "and goes when another key is released");
    }
}
