//! Durable token caches: a [`TokenCache`](crate::cache::TokenCache) kept in a file that several
//! processes (and MSAL Python with msal-extensions) share.
//!
//! Two pieces:
//!
//! - a [`Persistence`] stores the serialized cache somewhere, tells cheaply whether it changed
//!   ([`Persistence::version`]) and offers a cross-process lock ([`Persistence::lock`]).
//!   [`FilePersistence`] is the plaintext file that msal-extensions' `FilePersistence` writes;
//! - [`PersistentTokenCache`] is the [`CacheListener`](crate::cache::CacheListener) that ties a
//!   cache to a persistence: at the start of every token operation it reloads the file if it
//!   changed (without the lock); at the end, if the operation changed the cache, it takes the
//!   lock, reads the file again, merges this process's changes into it, writes it and releases
//!   the lock.
//!
//! ```no_run
//! use std::sync::Arc;
//! use entra_msal::TokenCache;
//! use entra_msal::persistence::{FilePersistence, PersistentTokenCache};
//!
//! let cache = TokenCache::new();
//! let persistence = Arc::new(FilePersistence::new("/home/me/.cache/my-app/msal_cache.json"));
//! let listener = PersistentTokenCache::attach(&cache, persistence)?;
//! // ... build applications with `.token_cache(cache.clone())` and acquire tokens ...
//! if let Some(error) = listener.take_last_error() {
//!     eprintln!("the token cache file could not be used: {error}");
//! }
//! # Ok::<(), entra_msal::Error>(())
//! ```
//!
//! Other stores (see `docs/cache.md` for choosing one):
//!
//! - [`EncryptedFilePersistence`]: the same file engine, encrypted by a [`DataProtector`]:
//!   AES-256-GCM ([`AesGcmProtector`]) with the key in the Secret Service on Linux or the
//!   Keychain on macOS, DPAPI on Windows (feature `keyring`). [`default_persistence`] picks the
//!   OS store for an application and never falls back to plaintext unless
//!   [`DefaultPersistenceOptions::allow_plaintext_fallback`] says so;
//!   [`Persistence::is_encrypted`] tells which one it got.
//! - `LibsecretPersistence` (Linux) and `KeychainPersistence` (macOS), feature `keyring`: the
//!   whole cache in the OS keystore, in exactly msal-extensions' `LibsecretPersistence` and
//!   `KeychainPersistence` formats, to share an encrypted cache with MSAL Python applications.
//! - `RedisTokenCache` (feature `redis`): a distributed cache for confidential clients on many
//!   machines, one Redis key per [`partition`] (tenant for app tokens, account for user tokens).
//!
//! # Differences from msal-extensions
//!
//! - **The lock covers one read-merge-write, never a sign-in or a network request.** Like
//!   msal-extensions' `PersistedTokenCache.modify` (lock, reload, change, save, unlock), but once
//!   per token operation instead of once per entity, and with a three-way merge: the entries
//!   this process added, changed or removed since it last read the file are applied to what the
//!   file holds now, so a write never drops another process's tokens.
//! - **One lock that every msal-extensions variant respects** ([`FilePersistence`]):
//!   exclusive creation of `<file>.lockfile` (what `filelock.py`, msal-extensions' default,
//!   and the other languages' extensions use) **and** `flock` on it (what `portalocker` adds);
//!   a lock file whose process is gone is taken over safely.
//! - **Atomic writes.** The file is replaced by rename (temporary file in the same directory,
//!   precise modification time, `fsync`, rename; on Linux the previous file is kept blank and
//!   swapped back in by the next write, only while no one else has it open, see `spare.rs`): a
//!   reader, or a crash, never sees half a file (a crash right after a write can bring back
//!   the previous file, whole). msal-extensions truncates and writes in place, so a reader can
//!   see an empty or partial file; this library reads such a file again after a short wait
//!   instead of believing it, and never writes a cache without the entries it already knew
//!   because of an empty read.
//! - **Shared and special files.** A cache path that is a symbolic link is written through to
//!   its target (as msal-extensions does); a device, FIFO, socket or a file above
//!   [`MAX_CACHE_FILE_BYTES`] is refused, never read or replaced.
//! - **Change detection** compares device, inode, size, modification and change times (one
//!   `stat`), not just the modification time.
//!
//! # Errors
//!
//! [`CacheListener`](crate::cache::CacheListener) hooks cannot fail, so the listener never fails
//! an acquisition: it logs problems through `tracing` and keeps the latest one for
//! [`PersistentTokenCache::take_last_error`]. In particular:
//!
//! - a missing or empty file is an empty cache;
//! - a file that is not a valid cache (corrupt, or cut short by another tool) is an error: the
//!   in-memory cache stays as it was and **the file is not overwritten** until it is repaired or
//!   deleted, so nothing is destroyed silently;
//! - a lock that cannot be taken within the timeout (20 s by default) is
//!   [`Error::CacheLockBusy`]; the operation's result stands, its changes stay in memory and are
//!   written (merged) by the next operation that gets the lock;
//! - a path that is never read or written (a device, FIFO, socket, a lock file that is a
//!   symbolic link, a file above [`MAX_CACHE_FILE_BYTES`]) is [`Error::CacheFileRefused`].
//!
//! # Threads and processes
//!
//! Share one `TokenCache` (it is cheap to clone) per file in a process. Two separate
//! `TokenCache`s attached to one file in one process exclude each other's writes like two
//! processes do (for milliseconds), and merge each other's tokens.

mod default;
#[cfg(all(feature = "keyring", windows))]
mod dpapi;
mod encrypted;
mod file;
#[cfg(all(feature = "keyring", target_os = "macos"))]
mod keychain;
#[cfg(all(feature = "keyring", target_os = "macos"))]
mod keychain_cache;
#[cfg(all(feature = "keyring", target_os = "linux"))]
mod libsecret;
mod listener;
mod merge;
pub mod partition;
#[cfg(feature = "redis")]
mod redis;
#[cfg(all(feature = "keyring", target_os = "linux"))]
mod secret_service;
#[cfg(all(feature = "keyring", any(target_os = "linux", target_os = "macos")))]
mod signal;
#[cfg(target_os = "linux")]
mod spare;
mod write_back;

use std::any::Any;
use std::fmt;

pub use default::{
    DefaultPersistenceOptions, ENCRYPTED_FILE_NAME, PLAINTEXT_FILE_NAME, default_cache_dir,
    default_persistence, default_persistence_with,
};
#[cfg(all(feature = "keyring", windows))]
pub use dpapi::DpapiProtector;
pub use encrypted::{AesGcmProtector, DataProtector, ENVELOPE_MAGIC, EncryptedFilePersistence};
pub use file::{DEFAULT_LOCK_TIMEOUT, FilePersistence, MAX_CACHE_FILE_BYTES, STALE_LOCK_AFTER};
#[cfg(all(feature = "keyring", target_os = "macos"))]
pub use keychain::load_or_create_key as keychain_key;
#[cfg(all(feature = "keyring", target_os = "macos"))]
pub use keychain_cache::{KEYCHAIN_DEFAULT_SERVICE, KeychainPersistence};
#[cfg(all(feature = "keyring", target_os = "linux"))]
pub use libsecret::{LIBSECRET_CONTENT_TYPE, LibsecretPersistence};
pub use listener::PersistentTokenCache;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisTokenCache};
#[cfg(all(feature = "keyring", target_os = "linux"))]
pub use secret_service::{
    DEFAULT_SCHEMA, SCHEMA_ATTRIBUTE, SecretServiceOptions,
    load_or_create_key as secret_service_key,
};

use crate::error::Error;

/// Where a serialized token cache lives, with change detection and a cross-process lock.
///
/// Implementations must be cheap to call [`version`](Self::version) on: the listener calls it at
/// the start of every token operation.
pub trait Persistence: Send + Sync + fmt::Debug {
    /// The stored text, `None` when nothing is stored yet.
    ///
    /// # Errors
    /// [`Error::Cache`] when the storage cannot be read.
    fn load(&self) -> Result<Option<String>, Error>;

    /// Replaces the stored text, atomically where the storage allows it.
    ///
    /// # Errors
    /// [`Error::Cache`] when the storage cannot be written; the previous text is then intact.
    fn save(&self, data: &str) -> Result<(), Error>;

    /// A cheap fingerprint of what is stored: it differs after every [`save`](Self::save), by this
    /// process or another one. `None` when nothing is stored.
    ///
    /// # Errors
    /// [`Error::Cache`] when the storage cannot be inspected.
    fn version(&self) -> Result<Option<Version>, Error>;

    /// Takes the cross-process lock, waiting a bounded time; it is released when the returned
    /// guard is dropped (or when the process dies).
    ///
    /// # Errors
    /// [`Error::CacheLockBusy`] when the lock is still held by another process when the wait
    /// ends; [`Error::CacheFileRefused`] when the lock's file is a symbolic link or not a
    /// regular file; [`Error::Cache`] when the lock cannot be created.
    fn lock(&self) -> Result<PersistenceLock, Error>;

    /// A description of the location for messages (a path, a keychain item).
    fn location(&self) -> String;

    /// Whether the data is encrypted at rest (by an OS keystore or a key kept in one); `false`
    /// for a plaintext file. `msal doctor` prints it.
    fn is_encrypted(&self) -> bool {
        false
    }
}

/// A fingerprint of stored data, from [`Persistence::version`]: equal versions mean unchanged
/// data (for files: device, inode, size, modification and change times).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version(Vec<u64>);

impl Version {
    /// A version from any numbers that change when the data changes.
    pub fn from_parts(parts: impl IntoIterator<Item = u64>) -> Self {
        Self(parts.into_iter().collect())
    }
}

/// A held cross-process lock, from [`Persistence::lock`]; dropping it releases the lock.
#[must_use = "the lock is released when this guard is dropped"]
pub struct PersistenceLock {
    _guard: Box<dyn Any + Send>,
}

impl PersistenceLock {
    /// Wraps whatever releases the lock when dropped.
    pub fn new(guard: impl Any + Send) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl fmt::Debug for PersistenceLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersistenceLock")
    }
}
