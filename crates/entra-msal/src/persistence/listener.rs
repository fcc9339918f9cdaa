//! [`PersistentTokenCache`]: the cache listener that keeps a [`TokenCache`] in a [`Persistence`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::write_back::WriteBack;
use super::{Persistence, PersistenceLock, Version};
use crate::cache::{CacheListener, TokenCache};
use crate::error::Error;

#[derive(Default)]
struct State {
    /// Token operations in progress on the cache (they share one lock), and writes owed.
    write_back: WriteBack,
    /// The lock, held while an operation runs (unless taking it failed).
    lock: Option<PersistenceLock>,
    /// Whether the stored data was read at least once.
    loaded: bool,
    /// The version of the stored data the memory matches (after a load or a save).
    synced: Option<Version>,
    /// The stored data at `synced` is not a valid cache: never overwrite it.
    corrupt: bool,
}

/// Keeps a [`TokenCache`] in a [`Persistence`] shared by processes: the cache's
/// [`CacheListener`].
///
/// - `before_access` (the start of every token operation) takes the persistence's lock and,
///   when the stored version differs from the one last loaded or saved, reloads the cache;
/// - `after_access` (its end) writes the cache once if the operation changed it, then releases
///   the lock. The lock covers the whole operation, network round trip included, so processes
///   that share the file take turns and never lose each other's tokens.
///
/// Operations that overlap on the same cache share the lock; each writes its changes when it
/// ends. Problems are logged and kept for [`take_last_error`](Self::take_last_error); see the
/// [module documentation](super) for what happens then.
pub struct PersistentTokenCache {
    persistence: Arc<dyn Persistence>,
    state: Mutex<State>,
    last_error: Mutex<Option<Error>>,
}

impl fmt::Debug for PersistentTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistentTokenCache")
            .field("persistence", &self.persistence)
            .finish_non_exhaustive()
    }
}

impl PersistentTokenCache {
    /// A listener for `persistence`; install it with [`TokenCache::set_listener`] (or use
    /// [`attach`](Self::attach), which also loads the stored cache at once).
    pub fn new(persistence: Arc<dyn Persistence>) -> Arc<Self> {
        Arc::new(Self {
            persistence,
            state: Mutex::new(State::default()),
            last_error: Mutex::new(None),
        })
    }

    /// Loads the stored cache into `cache` (under the lock) and installs the listener.
    ///
    /// # Errors
    /// [`Error::Cache`] when the lock cannot be taken, or the stored data cannot be read or is
    /// not a valid cache; `cache` is then unchanged and no listener is installed.
    pub fn attach(
        cache: &TokenCache,
        persistence: Arc<dyn Persistence>,
    ) -> Result<Arc<Self>, Error> {
        let listener = Self::new(persistence);
        {
            let _lock = listener.persistence.lock()?;
            let mut state = listener.state();
            listener.reload(cache, &mut state, true)?;
        }
        cache.set_listener(Some(listener.clone()));
        Ok(listener)
    }

    /// The persistence.
    pub fn persistence(&self) -> &Arc<dyn Persistence> {
        &self.persistence
    }

    /// The latest problem since the last call, if any (a lock timeout, an unreadable or corrupt
    /// file, a failed write).
    pub fn take_last_error(&self) -> Option<Error> {
        self.last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, error: Error) {
        tracing::warn!(location = %self.persistence.location(), "{error}");
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
    }

    /// Reads the stored cache into `cache` if its version changed (or always, with `force`).
    fn reload(&self, cache: &TokenCache, state: &mut State, force: bool) -> Result<(), Error> {
        let version = self.persistence.version()?;
        if state.loaded && !force && version == state.synced {
            return Ok(());
        }
        let text = self.persistence.load()?;
        match text {
            // Missing: keep what is in memory, the next write creates the file.
            None => state.corrupt = false,
            Some(text) => {
                let parsed = if text.trim().is_empty() {
                    cache.deserialize("{}")
                } else {
                    cache.deserialize(&text)
                };
                if let Err(e) = parsed {
                    // Remember the version so a corrupt file is reported once, not re-parsed on
                    // every operation; it is read again as soon as it changes.
                    state.loaded = true;
                    state.synced = version;
                    state.corrupt = true;
                    return Err(Error::Cache(format!(
                        "the token cache file {} is not a valid token cache, so it is neither \
                         loaded nor overwritten; repair or delete it: {e}",
                        self.persistence.location()
                    )));
                }
                state.corrupt = false;
            }
        }
        state.loaded = true;
        state.synced = version;
        Ok(())
    }

    fn write(&self, cache: &TokenCache, state: &mut State) -> Result<(), Error> {
        if state.corrupt {
            return Err(Error::Cache(format!(
                "the token cache file {} is not a valid token cache; new tokens are kept in \
                 memory only until it is repaired or deleted",
                self.persistence.location()
            )));
        }
        if state.lock.is_none() {
            return Err(Error::Cache(format!(
                "the token cache lock for {} was not held, so new tokens were not written",
                self.persistence.location()
            )));
        }
        self.persistence.save(&cache.serialize())?;
        state.synced = self.persistence.version()?;
        state.loaded = true;
        Ok(())
    }
}

impl CacheListener for PersistentTokenCache {
    fn before_access(&self, cache: &TokenCache) {
        let mut state = self.state();
        if !state.write_back.enter() {
            // Another operation on this cache holds the lock and the memory is current.
            return;
        }
        match self.persistence.lock() {
            Ok(lock) => state.lock = Some(lock),
            Err(e) => self.record(e),
        }
        if let Err(e) = self.reload(cache, &mut state, false) {
            self.record(e);
        }
    }

    fn after_access(&self, cache: &TokenCache, has_state_changed: bool) {
        let mut state = self.state();
        if state.write_back.must_write(has_state_changed) {
            let outcome = self.write(cache, &mut state);
            state.write_back.wrote(outcome.is_ok());
            if let Err(e) = outcome {
                self.record(e);
            }
        }
        if state.write_back.leave() {
            state.lock = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::TokenEvent;
    use crate::persistence::FilePersistence;
    use std::time::Duration;

    fn add(cache: &TokenCache, scope: &str) {
        let scopes = vec![scope.to_string()];
        cache
            .add(&TokenEvent {
                client_id: "client",
                environment: "login.example.com",
                realm: "tenant",
                requested_scopes: &scopes,
                response: &serde_json::json!({"access_token": "at", "expires_in": 3600}),
                grant_type: "client_credentials",
                username: None,
                ext_cache_key: None,
                skip_account_creation: false,
                now: 1_700_000_000,
            })
            .unwrap();
    }

    fn operation(cache: &TokenCache, scope: Option<&str>) {
        cache.before_access();
        if let Some(scope) = scope {
            add(cache, scope);
        }
        cache.after_access();
    }

    #[test]
    fn two_caches_see_each_others_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let (a, b) = (TokenCache::new(), TokenCache::new());
        let la = PersistentTokenCache::attach(&a, Arc::new(FilePersistence::new(&path))).unwrap();
        let lb = PersistentTokenCache::attach(&b, Arc::new(FilePersistence::new(&path))).unwrap();
        operation(&a, Some("one"));
        operation(&b, Some("two"));
        operation(&a, None);
        assert_eq!(a.len_access_tokens(), 2);
        assert_eq!(b.len_access_tokens(), 2);
        assert!(la.take_last_error().is_none() && lb.take_last_error().is_none());
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["AccessToken"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn corrupt_file_is_reported_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        std::fs::write(&path, "{\"AccessToken\": {").unwrap();
        let cache = TokenCache::new();
        let p = Arc::new(FilePersistence::new(&path));
        assert!(matches!(
            PersistentTokenCache::attach(&cache, p.clone()),
            Err(Error::Cache(_))
        ));
        let listener = PersistentTokenCache::new(p);
        cache.set_listener(Some(listener.clone()));
        operation(&cache, Some("one"));
        let err = listener.take_last_error().unwrap().to_string();
        assert!(err.contains("not a valid token cache"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"AccessToken\": {"
        );
        assert_eq!(cache.len_access_tokens(), 1, "the token stays in memory");

        // Once the file is deleted, the pending token is written by the next operation.
        std::fs::remove_file(&path).unwrap();
        operation(&cache, None);
        assert!(listener.take_last_error().is_none());
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("AccessToken")
        );
    }

    #[test]
    fn empty_file_is_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        std::fs::write(&path, "").unwrap();
        let cache = TokenCache::new();
        PersistentTokenCache::attach(&cache, Arc::new(FilePersistence::new(&path))).unwrap();
        operation(&cache, Some("one"));
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("AccessToken")
        );
    }

    #[test]
    fn lock_timeout_is_reported_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let p = Arc::new(FilePersistence::new(&path).with_lock_timeout(Duration::from_millis(30)));
        let cache = TokenCache::new();
        let listener = PersistentTokenCache::attach(&cache, p.clone()).unwrap();
        let held = p.lock().unwrap();
        operation(&cache, Some("one"));
        let err = listener.take_last_error().unwrap().to_string();
        assert!(err.contains("not written"), "{err}");
        assert!(!path.exists());
        drop(held);
        operation(&cache, None);
        assert!(listener.take_last_error().is_none());
        assert!(
            path.exists(),
            "the pending change is written once the lock is free"
        );
    }

    #[test]
    fn overlapping_operations_share_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let cache = TokenCache::new();
        let listener =
            PersistentTokenCache::attach(&cache, Arc::new(FilePersistence::new(&path))).unwrap();
        cache.before_access();
        cache.before_access();
        add(&cache, "one");
        cache.after_access();
        add(&cache, "two");
        cache.after_access();
        assert!(listener.take_last_error().is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("one") && text.contains("two"));
        assert!(!FilePersistence::new(&path).lock_path().exists());
    }
}
