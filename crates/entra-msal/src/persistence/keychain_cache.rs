//! [`KeychainPersistence`]: the whole token cache as a macOS Keychain generic password, stored
//! exactly as msal-extensions' `KeychainPersistence` stores it, so MSAL Python applications and
//! this library share one encrypted cache on macOS.
//!
//! The format, from msal-extensions 1.3.1:
//!
//! - `msal_extensions/persistence.py`, `KeychainPersistence.__init__(signal_location,
//!   service_name=None, account_name=None)`: the service defaults to `"msal-extensions"`
//!   (`default_service_name`), the account to `_auto_hash(signal_location)` (hex SHA-256 of the
//!   path as given); `save` stores the text and then touches the signal file; a missing item
//!   (`errSecItemNotFound`) is `PersistenceNotFound`.
//! - `msal_extensions/osx.py`, `Keychain.set_generic_password` / `get_generic_password`: a
//!   generic password in the default keychain (`SecKeychainAddGenericPassword`, or
//!   `SecKeychainItemModifyAttributesAndData` when it exists), service, account and value all
//!   UTF-8.
//! - `msal_extensions/token_cache.py`, `PersistedTokenCache.__init__`: the lock file is
//!   `<signal_location>.lockfile`.
//!
//! Compile-checked only in this project's CI (no macOS runner); the names above are what
//! makes it interoperate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use security_framework::passwords::{get_generic_password, set_generic_password};

use super::{FilePersistence, Persistence, PersistenceLock, Version, signal};
use crate::error::Error;

/// msal-extensions' `KeychainPersistence` default service name (`default_service_name`, "also
/// our package name").
pub const KEYCHAIN_DEFAULT_SERVICE: &str = "msal-extensions";

/// `errSecItemNotFound`.
const ITEM_NOT_FOUND: i32 = -25300;

/// The token cache as the Keychain generic password `service_name` / `account_name`, in
/// msal-extensions' `KeychainPersistence` format (see the module documentation), with the
/// signal file and `<signal file>.lockfile` lock of msal-extensions' `PersistedTokenCache`.
#[derive(Debug, Clone)]
pub struct KeychainPersistence {
    signal: FilePersistence,
    signal_location: PathBuf,
    service_name: String,
    account_name: String,
}

impl KeychainPersistence {
    /// The item msal-extensions' `KeychainPersistence(signal_location, service_name,
    /// account_name)` uses; `None`s are msal-extensions' defaults ([`KEYCHAIN_DEFAULT_SERVICE`],
    /// and the hex SHA-256 of `signal_location` as given).
    pub fn new(
        signal_location: impl Into<PathBuf>,
        service_name: Option<&str>,
        account_name: Option<&str>,
    ) -> Self {
        let signal_location = signal_location.into();
        Self {
            signal: FilePersistence::new(signal_location.clone()),
            service_name: service_name.unwrap_or(KEYCHAIN_DEFAULT_SERVICE).to_string(),
            account_name: account_name
                .map_or_else(|| signal::auto_hash(&signal_location), str::to_string),
            signal_location,
        }
    }

    /// How long [`lock`](Persistence::lock) waits for `<signal file>.lockfile`.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.signal = self.signal.with_lock_timeout(timeout);
        self
    }

    /// The Keychain service name.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The Keychain account name.
    pub fn account_name(&self) -> &str {
        &self.account_name
    }

    /// The signal file.
    pub fn signal_location(&self) -> &Path {
        &self.signal_location
    }

    fn describe(&self) -> String {
        format!(
            "the Keychain item {:?} / {:?}",
            self.service_name, self.account_name
        )
    }
}

impl Persistence for KeychainPersistence {
    fn load(&self) -> Result<Option<String>, Error> {
        match get_generic_password(&self.service_name, &self.account_name) {
            Ok(value) => String::from_utf8(value).map(Some).map_err(|_| {
                Error::cache(format!(
                    "{} does not hold UTF-8 text, so it is not a token cache written by \
                     msal-extensions or this library; delete it in Keychain Access to start over",
                    self.describe()
                ))
            }),
            Err(e) if e.code() == ITEM_NOT_FOUND => Ok(None),
            Err(e) => Err(Error::cache_caused(
                format!(
                    "cannot read the token cache from {}: {e}; unlock the login keychain (or allow \
                 this program access) and retry",
                    self.describe()
                ),
                e,
            )),
        }
    }

    fn save(&self, data: &str) -> Result<(), Error> {
        set_generic_password(&self.service_name, &self.account_name, data.as_bytes()).map_err(
            |e| {
                Error::cache_caused(
                    format!(
                        "cannot store the token cache in {}: {e}; unlock the login keychain and \
                     retry",
                        self.describe()
                    ),
                    e,
                )
            },
        )?;
        signal::touch(&self.signal_location)
    }

    /// The signal file's fingerprint (msal-extensions' `time_last_modified`).
    fn version(&self) -> Result<Option<Version>, Error> {
        self.signal.version()
    }

    /// `<signal file>.lockfile`, the lock msal-extensions' `PersistedTokenCache` takes.
    fn lock(&self) -> Result<PersistenceLock, Error> {
        self.signal.lock()
    }

    fn location(&self) -> String {
        format!(
            "{} (signal file {})",
            self.describe(),
            self.signal_location.display()
        )
    }

    fn is_encrypted(&self) -> bool {
        true
    }
}
