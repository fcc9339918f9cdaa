//! Single flight: concurrent requests for the same token wait for one network request.

use std::sync::{Arc, Mutex};

use crate::cache::FastMap;

/// Per-key async locks. A caller takes the lock for its key, re-checks the cache, and only
/// then goes to the network, so N concurrent misses cost one request.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// Keyed with the cache's fast hasher (a key is the application's partition and scopes).
    locks: Mutex<FastMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
}

impl Coalescer {
    /// Waits for the key's lock. The key is shared by the map and the guard, not copied.
    pub async fn lock(&self, key: impl Into<Arc<str>> + AsRef<str>) -> CoalesceGuard<'_> {
        let (key, lock) = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.get_key_value(key.as_ref()) {
                Some((key, lock)) => (key.clone(), lock.clone()),
                None => {
                    let key: Arc<str> = key.into();
                    let lock = Arc::<tokio::sync::Mutex<()>>::default();
                    locks.insert(key.clone(), lock.clone());
                    (key, lock)
                }
            }
        };
        let guard = lock.clone().lock_owned().await;
        CoalesceGuard {
            owner: self,
            key,
            lock,
            _guard: guard,
        }
    }
}

/// Held while a request for the key is in flight; releasing it drops the idle entry.
pub struct CoalesceGuard<'a> {
    owner: &'a Coalescer,
    key: Arc<str>,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for CoalesceGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: the map's and ours. Anyone else waiting holds a third.
        if Arc::strong_count(&self.lock) <= 2 {
            locks.remove(&*self.key);
        }
    }
}
