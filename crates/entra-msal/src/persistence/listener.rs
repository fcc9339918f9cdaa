//! [`PersistentTokenCache`]: the cache listener that keeps a [`TokenCache`] in a [`Persistence`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};

use super::merge;
use super::write_back::WriteBack;
use super::{Persistence, Version};
use crate::cache::{CacheListener, TokenCache};
use crate::error::Error;

/// How many times a read that cannot be trusted (an empty or unparsable file, which another
/// writer may be rewriting in place, as msal-extensions does) is made before it is believed.
const READ_ATTEMPTS: u32 = 5;

/// The pause before the first re-read; it doubles each time (10 + 20 + 40 + 80 ms in all).
const FIRST_REREAD: Duration = Duration::from_millis(10);

#[derive(Default)]
struct State {
    /// Token operations in progress on the cache, and writes owed.
    write_back: WriteBack,
    /// Whether the stored data was read at least once.
    loaded: bool,
    /// The version of the stored data `base` is (after a load or a save).
    synced: Option<Version>,
    /// The stored cache as last read or written (normalized), the base of three-way merges:
    /// what differs from it in memory is this process's own changes.
    base: Map<String, Value>,
    /// When set, `base` is stale and is this text, parsed only when a merge needs it (a write
    /// that finds the store unchanged never does).
    base_text: Option<String>,
    /// The allocation of the text `base_text` held before, for the next write to fill.
    spare_text: String,
    /// The stored data at `synced` is not a valid cache: never overwrite it.
    corrupt: bool,
    /// The last read found an empty file that another writer may have been rewriting: read
    /// again next time even if the version did not change.
    untrusted: bool,
}

impl State {
    /// The base of three-way merges, parsed now if it was kept as text.
    fn base(&mut self) -> Result<&Map<String, Value>, Error> {
        if let Some(text) = self.base_text.take() {
            self.base = merge::parse(&text).map_err(Error::cache)?;
        }
        Ok(&self.base)
    }

    fn set_base(&mut self, base: Map<String, Value>) {
        self.base = base;
        self.base_text = None;
    }
}

/// What a read of the store found.
enum Read {
    /// Nothing stored.
    Missing,
    /// Still empty after the re-reads.
    Empty,
    /// A valid cache, normalized.
    Parsed(Map<String, Value>),
    /// Still not a valid cache after the re-reads.
    Corrupt(Error),
}

/// Keeps a [`TokenCache`] in a [`Persistence`] shared by processes: the cache's
/// [`CacheListener`].
///
/// - `before_access` (the start of every token operation) reloads the cache when the stored
///   version differs from the one last loaded or saved, **without** taking the lock (as
///   msal-extensions reads): the stored cache is merged into memory, keeping changes this
///   process has not written yet;
/// - `after_access` (its end) does nothing unless the operation changed the cache; then it takes
///   the persistence's lock, reads the stored cache again, applies this process's changes on
///   top of it (a three-way merge against what it last read, so entries other processes added,
///   changed or removed meanwhile stay as they are), writes the result and releases the lock.
///
/// The lock is therefore held for one read-merge-write (milliseconds), never across a sign-in,
/// a device-code wait or a network request, and no process's tokens are dropped by another's
/// write. A read that cannot be trusted (an empty or unparsable file, which a writer rewriting
/// in place leaves for a moment) is made again after a short wait; an empty file is never a
/// reason to write a cache without the entries already known.
///
/// Problems are logged and kept for [`take_last_error`](Self::take_last_error); see the
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

    /// Loads the stored cache into `cache` and installs the listener. No lock is taken: reads
    /// never wait for writers (writes replace the file atomically, and a read that cannot be
    /// trusted is made again).
    ///
    /// # Errors
    /// [`Error::Cache`] when the stored data cannot be read or is not a valid cache, and
    /// [`Error::CacheFileRefused`] for a path that is never read (a device, FIFO, socket or a
    /// file above the size bound); `cache` is then unchanged and no listener is installed.
    pub fn attach(
        cache: &TokenCache,
        persistence: Arc<dyn Persistence>,
    ) -> Result<Arc<Self>, Error> {
        let listener = Self::new(persistence);
        {
            let mut state = listener.state();
            listener.reload(cache, &mut state, true)?;
        }
        cache.set_listener(Some(listener.clone()));
        Ok(listener)
    }

    /// Reads the stored cache again now, even if its version looks unchanged, and merges it
    /// into `cache` (keeping changes not written yet).
    ///
    /// # Errors
    /// As [`attach`](Self::attach).
    pub fn reload_now(&self, cache: &TokenCache) -> Result<(), Error> {
        let mut state = self.state();
        self.reload(cache, &mut state, true)
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

    fn not_a_cache(&self, e: &Error) -> Error {
        let detail = match e {
            Error::Cache { message, .. } => message.as_str(),
            _ => "",
        };
        Error::cache(format!(
            "the token cache file {} is not a valid token cache, so it is neither loaded nor \
             overwritten; repair or delete it: {detail}",
            self.persistence.location()
        ))
    }

    /// Reads the store; an empty or unparsable text is read again after a short wait (a writer
    /// that truncates and rewrites in place leaves one for a moment), and believed only after
    /// [`READ_ATTEMPTS`] reads.
    fn read_store(&self) -> Result<Read, Error> {
        let mut pause = FIRST_REREAD;
        let mut attempt = 1;
        loop {
            let last = attempt >= READ_ATTEMPTS;
            match self.persistence.load()? {
                None => return Ok(Read::Missing),
                Some(text) if text.trim().is_empty() => {
                    if last {
                        return Ok(Read::Empty);
                    }
                }
                Some(text) => match TokenCache::normalize(&text) {
                    Ok(normal) => {
                        let map = merge::parse(&normal).map_err(Error::cache)?;
                        return Ok(Read::Parsed(map));
                    }
                    Err(e) if last => return Ok(Read::Corrupt(e)),
                    Err(_) => {}
                },
            }
            tracing::debug!(
                location = %self.persistence.location(),
                attempt,
                "the token cache file is empty or not valid JSON; reading it again"
            );
            std::thread::sleep(pause);
            pause *= 2;
            attempt += 1;
        }
    }

    /// Memory becomes `theirs` with this process's changes since `state.base` applied.
    fn merge_into(
        cache: &TokenCache,
        state: &mut State,
        theirs: &Map<String, Value>,
    ) -> Result<String, Error> {
        let base = state.base()?;
        cache.replace_with(|current| {
            let ours = merge::parse(current).map_err(Error::cache)?;
            let merged = merge::three_way(base, &ours, theirs);
            serde_json::to_string(&merged).map_err(|e| Error::cache(e.to_string()))
        })
    }

    /// Reads the stored cache into `cache` if its version changed (or always, with `force`),
    /// merging it with what memory holds that was never written.
    fn reload(&self, cache: &TokenCache, state: &mut State, force: bool) -> Result<(), Error> {
        let version = self.persistence.version()?;
        if state.loaded && !force && !state.untrusted && version == state.synced {
            return Ok(());
        }
        match self.read_store()? {
            // Missing: keep what is in memory, the next write creates the file.
            Read::Missing => {
                state.corrupt = false;
                state.untrusted = false;
            }
            // Empty after the re-reads: keep memory, look again next time.
            Read::Empty => {
                state.loaded = true;
                state.corrupt = false;
                state.untrusted = true;
                return Ok(());
            }
            Read::Corrupt(e) => {
                // Remember the version so a corrupt file is reported once, not re-parsed on
                // every operation; it is read again as soon as it changes.
                state.loaded = true;
                state.synced = version;
                state.corrupt = true;
                return Err(self.not_a_cache(&e));
            }
            Read::Parsed(theirs) => {
                Self::merge_into(cache, state, &theirs)?;
                state.set_base(theirs);
                state.corrupt = false;
                state.untrusted = false;
            }
        }
        state.loaded = true;
        state.synced = version;
        Ok(())
    }

    /// Under the lock: reads the store, merges this process's changes onto it, writes it.
    fn write(&self, cache: &TokenCache, state: &mut State) -> Result<(), Error> {
        let _lock = self.persistence.lock()?;
        let version = self.persistence.version()?;
        if state.loaded
            && !state.corrupt
            && !state.untrusted
            && version.is_some()
            && version == state.synced
        {
            // Nobody wrote since this process last read or wrote the store, so it holds
            // `base`, and `base` with this process's changes applied is memory itself: no
            // read, no merge, one serialization.
            let json = cache.to_json_snapshot_into(std::mem::take(&mut state.spare_text));
            if let Err(e) = self.persistence.save(&json) {
                state.spare_text = json;
                return Err(e);
            }
            state.synced = self.persistence.version()?;
            state.spare_text = state.base_text.replace(json).unwrap_or_default();
            return Ok(());
        }
        let theirs = match self.read_store()? {
            Read::Parsed(theirs) => theirs,
            // Never a reason to drop entries: what was last read stands for the store.
            Read::Missing | Read::Empty => state.base()?.clone(),
            Read::Corrupt(_) => {
                state.corrupt = true;
                state.synced = self.persistence.version()?;
                return Err(Error::cache(format!(
                    "the token cache file {} is not a valid token cache; new tokens are kept in \
                     memory only until it is repaired or deleted",
                    self.persistence.location()
                )));
            }
        };
        let json = Self::merge_into(cache, state, &theirs)?;
        self.persistence.save(&json)?;
        state.synced = self.persistence.version()?;
        state.base_text = Some(json);
        state.loaded = true;
        state.corrupt = false;
        state.untrusted = false;
        Ok(())
    }
}

impl CacheListener for PersistentTokenCache {
    fn before_access(&self, cache: &TokenCache) {
        let mut state = self.state();
        state.write_back.enter();
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
        state.write_back.leave();
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
            Err(Error::Cache { .. })
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
        let err = listener.take_last_error().unwrap();
        assert!(matches!(err, Error::CacheLockBusy { .. }), "{err}");
        assert!(!err.to_string().contains("repair"), "{err}");
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
    fn reads_and_cache_hits_never_take_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let p = Arc::new(FilePersistence::new(&path).with_lock_timeout(Duration::from_millis(30)));
        let writer = TokenCache::new();
        PersistentTokenCache::attach(&writer, p.clone()).unwrap();
        operation(&writer, Some("one"));
        let held = p.lock().unwrap();
        let reader = TokenCache::new();
        let listener = PersistentTokenCache::attach(&reader, p.clone()).unwrap();
        operation(&reader, None);
        assert!(listener.take_last_error().is_none());
        assert_eq!(reader.len_access_tokens(), 1);
        drop(held);
    }

    fn tokens_in(path: &std::path::Path) -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut targets: Vec<String> = doc["AccessToken"]
            .as_object()
            .unwrap()
            .values()
            .map(|at| at["target"].as_str().unwrap().to_string())
            .collect();
        targets.sort();
        targets
    }

    #[test]
    fn a_file_emptied_by_an_in_place_writer_is_read_again_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let p = Arc::new(FilePersistence::new(&path));
        let other = TokenCache::new();
        PersistentTokenCache::attach(&other, p.clone()).unwrap();
        operation(&other, Some("one"));
        let cache = TokenCache::new();
        let listener = PersistentTokenCache::attach(&cache, p.clone()).unwrap();
        // Another writer (msal-extensions' `save`) truncates the file, then rewrites it with one
        // more token a moment later.
        operation(&other, Some("two"));
        let full = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, "").unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(15));
                std::fs::write(&path, &full).unwrap();
            });
            operation(&cache, Some("three"));
        });
        assert!(listener.take_last_error().is_none());
        assert_eq!(tokens_in(&path), ["one", "three", "two"]);
    }

    #[test]
    fn an_empty_file_never_makes_a_write_drop_known_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let cache = TokenCache::new();
        PersistentTokenCache::attach(&cache, Arc::new(FilePersistence::new(&path))).unwrap();
        operation(&cache, Some("one"));
        std::fs::write(&path, "").unwrap();
        operation(&cache, Some("two"));
        assert_eq!(tokens_in(&path), ["one", "two"]);
    }

    #[test]
    fn writers_merge_instead_of_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let (a, b) = (TokenCache::new(), TokenCache::new());
        PersistentTokenCache::attach(&a, Arc::new(FilePersistence::new(&path))).unwrap();
        PersistentTokenCache::attach(&b, Arc::new(FilePersistence::new(&path))).unwrap();
        // Both start their operation before either writes: each one's write keeps the other's.
        a.before_access();
        b.before_access();
        add(&a, "one");
        add(&b, "two");
        a.after_access();
        b.after_access();
        assert_eq!(tokens_in(&path), ["one", "two"]);
        assert_eq!(b.len_access_tokens(), 2, "memory is the merged cache");
    }

    /// A store whose version never changes (as a file rewritten in place within one timestamp
    /// tick, keeping its size, can look on a coarse-grained file system).
    #[derive(Debug)]
    struct FixedVersion {
        text: Mutex<String>,
    }

    impl Persistence for FixedVersion {
        fn load(&self) -> Result<Option<String>, Error> {
            Ok(Some(self.text.lock().unwrap().clone()))
        }
        fn save(&self, data: &str) -> Result<(), Error> {
            *self.text.lock().unwrap() = data.to_string();
            Ok(())
        }
        fn version(&self) -> Result<Option<Version>, Error> {
            Ok(Some(Version::from_parts([1])))
        }
        fn lock(&self) -> Result<crate::persistence::PersistenceLock, Error> {
            Ok(crate::persistence::PersistenceLock::new(()))
        }
        fn location(&self) -> String {
            "memory".into()
        }
    }

    #[test]
    fn a_forced_reload_reads_a_rewrite_that_kept_the_version() {
        let source = TokenCache::new();
        add(&source, "one");
        let store = Arc::new(FixedVersion {
            text: Mutex::new(source.serialize()),
        });
        let cache = TokenCache::new();
        let listener = PersistentTokenCache::attach(&cache, store.clone()).unwrap();
        assert_eq!(cache.len_access_tokens(), 1);
        add(&source, "two");
        *store.text.lock().unwrap() = source.serialize();
        cache.before_access();
        cache.after_access();
        assert_eq!(cache.len_access_tokens(), 1, "same version: not read again");
        listener.reload_now(&cache).unwrap();
        assert_eq!(cache.len_access_tokens(), 2, "a forced reload reads it");
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
