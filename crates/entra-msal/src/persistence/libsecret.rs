//! [`LibsecretPersistence`]: the whole token cache in the freedesktop Secret Service, stored
//! exactly as msal-extensions' `LibsecretPersistence` stores it, so MSAL Python applications
//! and this library share one encrypted cache on Linux.
//!
//! The format, from msal-extensions 1.3.1:
//!
//! - `msal_extensions/persistence.py`, `LibsecretPersistence.__init__(signal_location,
//!   schema_name=None, attributes=None, **kwargs)`: the schema name defaults to
//!   `_auto_hash(signal_location)` (hex SHA-256 of the path as given), the attributes to `{}`;
//!   `save` stores the secret and then touches the signal file (`FilePersistence.touch`),
//!   whose modification time is `time_last_modified`; a missing secret is
//!   `PersistenceNotFound`.
//! - `msal_extensions/libsecret.py`, `LibSecretAgent`: a `Secret.Schema` named `schema_name`
//!   whose fields are the attributes (all `STRING`), `label=""`, `collection=None` (the
//!   `default` alias); `save` is `Secret.password_store_sync`, `load` is
//!   `Secret.password_lookup_sync`. libsecret adds the attribute `xdg:schema` = schema name to
//!   both, stores the text as a secret of content type `text/plain` (UTF-8), and replaces an
//!   item with the same attributes.
//! - `msal_extensions/token_cache.py`, `PersistedTokenCache.__init__`: the lock file is
//!   `persistence.get_location() + ".lockfile"`, i.e. `<signal_location>.lockfile`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, Value};

use super::secret_service::{
    COLLECTION_IFACE, ITEM_IFACE, SCHEMA_ATTRIBUTE, SERVICE, Secret, close_session, failed,
    is_root, open_session,
};
use super::{FilePersistence, Persistence, PersistenceLock, Version, signal};
use crate::error::Error;

/// The content type libsecret's `secret_password_store_sync` gives the secret.
pub const LIBSECRET_CONTENT_TYPE: &str = "text/plain";

/// How long one load or save may wait for the Secret Service before it is an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// The token cache as one Secret Service item, in msal-extensions' `LibsecretPersistence`
/// format (see the module documentation for the exact fields and their source), plus the
/// signal file and `<signal file>.lockfile` lock that msal-extensions' `PersistedTokenCache`
/// uses. MSAL Python with
/// `PersistedTokenCache(LibsecretPersistence(signal_location, schema_name, attributes))` and
/// this persistence with the same three values read and write the same cache.
///
/// ```no_run
/// # #[cfg(target_os = "linux")] {
/// use std::sync::Arc;
/// use entra_msal::TokenCache;
/// use entra_msal::persistence::{LibsecretPersistence, PersistentTokenCache};
///
/// // The Azure CLI's encrypted cache on Linux (azure-cli `auth/persistence.py`,
/// // `build_persistence`).
/// let persistence = LibsecretPersistence::new(
///     "/home/me/.azure/msal_token_cache.bin",
///     Some("my_schema_name"),
///     &[("my_attr1", "foo"), ("my_attr2", "bar")],
/// );
/// let cache = TokenCache::new();
/// let listener = PersistentTokenCache::attach(&cache, Arc::new(persistence))?;
/// # }
/// # Ok::<(), entra_msal::Error>(())
/// ```
///
/// Every [`load`](Persistence::load) and [`save`](Persistence::save) is a few D-Bus round trips
/// on a private connection (on its own short-lived thread, so it may be called from async code).
#[derive(Clone)]
pub struct LibsecretPersistence {
    signal: FilePersistence,
    signal_location: PathBuf,
    schema_name: String,
    attributes: BTreeMap<String, String>,
    label: String,
    bus_address: Option<String>,
}

impl fmt::Debug for LibsecretPersistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No secret is held; the attribute values are identifiers, not credentials.
        f.debug_struct("LibsecretPersistence")
            .field("signal_location", &self.signal_location)
            .field("schema_name", &self.schema_name)
            .field("attributes", &self.attributes)
            .field("label", &self.label)
            .field("bus_address", &self.bus_address)
            .finish()
    }
}

impl LibsecretPersistence {
    /// The item msal-extensions' `LibsecretPersistence(signal_location, schema_name,
    /// attributes)` uses: `schema_name` `None` is msal-extensions' default, the hex SHA-256 of
    /// `signal_location` as given; `attributes` may be empty (as msal-extensions' default
    /// `{}`). The label is `""` (msal-extensions' default) and the bus is the session bus.
    pub fn new(
        signal_location: impl Into<PathBuf>,
        schema_name: Option<&str>,
        attributes: &[(&str, &str)],
    ) -> Self {
        let signal_location = signal_location.into();
        let schema_name =
            schema_name.map_or_else(|| signal::auto_hash(&signal_location), str::to_string);
        Self {
            signal: FilePersistence::new(&signal_location),
            schema_name,
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            label: String::new(),
            bus_address: None,
            signal_location,
        }
    }

    /// The label keyring managers show (msal-extensions' `label` keyword argument, default
    /// `""`); it is not used to find the item.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Uses the D-Bus bus at `address` instead of the session bus (tests pass a private bus).
    pub fn with_bus_address(mut self, address: impl Into<String>) -> Self {
        self.bus_address = Some(address.into());
        self
    }

    /// How long [`lock`](Persistence::lock) waits for `<signal file>.lockfile`.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.signal = self.signal.with_lock_timeout(timeout);
        self
    }

    /// The schema name (`xdg:schema`).
    pub fn schema_name(&self) -> &str {
        &self.schema_name
    }

    /// The attributes that identify the item, besides `xdg:schema`.
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }

    /// The signal file.
    pub fn signal_location(&self) -> &Path {
        &self.signal_location
    }

    /// Every attribute of the item: the given ones and `xdg:schema`, as libsecret stores them.
    pub fn item_attributes(&self) -> HashMap<String, String> {
        let mut all: HashMap<String, String> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.insert(SCHEMA_ATTRIBUTE.into(), self.schema_name.clone());
        all
    }

    fn describe(&self) -> String {
        format!(
            "the Secret Service item with schema {:?} and attributes {:?}",
            self.schema_name, self.attributes
        )
    }

    fn locked(&self) -> Error {
        Error::cache(format!(
            "the keyring holding {} is locked; unlock it (log in to the desktop session, or \
             `gnome-keyring-daemon --unlock` with the password on stdin) and retry",
            self.describe()
        ))
    }

    async fn load_async(&self) -> Result<Option<String>, Error> {
        let (connection, service, session) = open_session(self.bus_address.as_deref()).await?;
        let result = async {
            let (unlocked, locked_items): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) = service
                .call("SearchItems", &(self.item_attributes(),))
                .await
                .map_err(|e| failed("search items", &e))?;
            let item = match unlocked.into_iter().next() {
                Some(item) => item,
                None if locked_items.is_empty() => return Ok(None),
                None => {
                    let (now_unlocked, prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) = service
                        .call("Unlock", &(&locked_items,))
                        .await
                        .map_err(|e| failed("unlock the keyring", &e))?;
                    match now_unlocked.into_iter().next() {
                        Some(item) if is_root(&prompt) => item,
                        _ => return Err(self.locked()),
                    }
                }
            };
            let proxy = zbus::Proxy::new(&connection, SERVICE, item.as_str(), ITEM_IFACE)
                .await
                .map_err(|e| failed("open the token cache item", &e))?;
            let (secret,): (Secret,) = proxy
                .call("GetSecret", &(&session,))
                .await
                .map_err(|e| failed("read the token cache", &e))?;
            String::from_utf8(secret.2).map(Some).map_err(|_| {
                Error::cache(format!(
                    "{} does not hold UTF-8 text (content type {:?}), so it was not written by \
                     msal-extensions' LibsecretPersistence or this library; delete that item \
                     (for example with `secret-tool clear xdg:schema {}`) to start over",
                    self.describe(),
                    secret.3,
                    self.schema_name
                ))
            })
        }
        .await;
        close_session(&connection, &session).await;
        result
    }

    async fn save_async(&self, data: &str) -> Result<(), Error> {
        let (connection, service, session) = open_session(self.bus_address.as_deref()).await?;
        let result = async {
            let (collection,): (OwnedObjectPath,) = service
                .call("ReadAlias", &("default",))
                .await
                .map_err(|e| failed("find the default collection", &e))?;
            if is_root(&collection) {
                return Err(Error::cache(format!(
                    "the Secret Service has no default keyring collection to keep {} in; \
                     create one (log in to the desktop session once, or start \
                     `gnome-keyring-daemon --unlock`) and retry",
                    self.describe()
                )));
            }
            let collection =
                zbus::Proxy::new(&connection, SERVICE, collection.as_str(), COLLECTION_IFACE)
                    .await
                    .map_err(|e| failed("open the default collection", &e))?;
            let mut properties: HashMap<&str, Value<'_>> = HashMap::new();
            properties.insert(
                "org.freedesktop.Secret.Item.Label",
                Value::from(self.label.as_str()),
            );
            properties.insert(
                "org.freedesktop.Secret.Item.Attributes",
                Value::from(self.item_attributes()),
            );
            let secret: Secret = (
                session.clone(),
                Vec::new(),
                data.as_bytes().to_vec(),
                LIBSECRET_CONTENT_TYPE.into(),
            );
            let (created, prompt): (OwnedObjectPath, OwnedObjectPath) = collection
                .call("CreateItem", &(properties, secret, true))
                .await
                .map_err(|e| failed("store the token cache", &e))?;
            if !is_root(&prompt) || is_root(&created) {
                return Err(self.locked());
            }
            Ok(())
        }
        .await;
        close_session(&connection, &session).await;
        result
    }

    /// Removes the item (msal-extensions' `LibSecretAgent.clear`); `true` when there was one.
    ///
    /// # Errors
    /// [`Error::Cache`] when the Secret Service cannot be reached or the item is locked.
    pub fn clear(&self) -> Result<bool, Error> {
        run(async {
            let (connection, service, session) = open_session(self.bus_address.as_deref()).await?;
            let result = async {
                let (unlocked, locked_items): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
                    service
                        .call("SearchItems", &(self.item_attributes(),))
                        .await
                        .map_err(|e| failed("search items", &e))?;
                if !locked_items.is_empty() {
                    return Err(self.locked());
                }
                for item in &unlocked {
                    let proxy = zbus::Proxy::new(&connection, SERVICE, item.as_str(), ITEM_IFACE)
                        .await
                        .map_err(|e| failed("open the token cache item", &e))?;
                    let _prompt: OwnedObjectPath = proxy
                        .call("Delete", &())
                        .await
                        .map_err(|e| failed("delete the token cache item", &e))?;
                }
                Ok(!unlocked.is_empty())
            }
            .await;
            close_session(&connection, &session).await;
            result
        })
    }
}

/// Runs a Secret Service exchange to completion from synchronous code, on a short-lived thread
/// with its own single-threaded runtime (the [`Persistence`] methods are synchronous and may be
/// called from inside an async runtime, where blocking on a future is not allowed).
fn run<T: Send>(future: impl Future<Output = Result<T, Error>> + Send) -> Result<T, Error> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        Error::cache_caused(format!(
                            "cannot start a thread for the Secret Service ({e}); the process is \
                             out of resources"
                        ), e)
                    })?;
                runtime.block_on(async {
                    tokio::time::timeout(CALL_TIMEOUT, future)
                        .await
                        .unwrap_or_else(|_| {
                            Err(Error::cache(format!(
                                "the Secret Service did not answer within {} s; check that the \
                                 keyring daemon is running and not waiting for a prompt",
                                CALL_TIMEOUT.as_secs()
                            )))
                        })
                })
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::cache(
                    "the Secret Service exchange panicked; the token cache was not read or \
                     written"
                        .into(),
                ))
            })
    })
}

impl Persistence for LibsecretPersistence {
    fn load(&self) -> Result<Option<String>, Error> {
        run(self.load_async())
    }

    fn save(&self, data: &str) -> Result<(), Error> {
        run(self.save_async(data))?;
        signal::touch(&self.signal_location)
    }

    /// The signal file's fingerprint (msal-extensions' `time_last_modified`): every save here
    /// and in msal-extensions touches it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msal_extensions_defaults() {
        let p = LibsecretPersistence::new("/tmp/sig.bin", None, &[]);
        assert_eq!(
            p.schema_name(),
            "2c8583233d336517515324497fc1f022da3d4be59914415f1f46550955933bd9"
        );
        assert_eq!(
            p.item_attributes(),
            HashMap::from([(
                "xdg:schema".to_string(),
                "2c8583233d336517515324497fc1f022da3d4be59914415f1f46550955933bd9".to_string()
            )])
        );
        assert_eq!(p.label, "");
        assert!(p.is_encrypted());
        assert_eq!(
            p.signal.lock_path(),
            Path::new("/tmp/sig.bin.lockfile"),
            "msal-extensions token_cache.py: get_location() + \".lockfile\""
        );
    }

    #[test]
    fn given_schema_and_attributes() {
        let p = LibsecretPersistence::new(
            "/x",
            Some("my_schema_name"),
            &[("my_attr1", "foo"), ("my_attr2", "bar")],
        )
        .with_label("cache");
        let all = p.item_attributes();
        assert_eq!(all.len(), 3);
        assert_eq!(all["xdg:schema"], "my_schema_name");
        assert_eq!(all["my_attr1"], "foo");
        assert!(format!("{p:?}").contains("my_schema_name"));
    }
}
