//! The cache key in the freedesktop Secret Service (gnome-keyring, KeePassXC), over D-Bus in
//! pure Rust (zbus; no libdbus, no libsecret).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::error::Error;

pub(crate) const SERVICE: &str = "org.freedesktop.secrets";
pub(crate) const SERVICE_PATH: &str = "/org/freedesktop/secrets";
pub(crate) const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
pub(crate) const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
pub(crate) const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const SESSION_IFACE: &str = "org.freedesktop.Secret.Session";

/// The attribute libsecret (and so msal-extensions' `LibsecretPersistence`) stores the schema
/// name under.
pub const SCHEMA_ATTRIBUTE: &str = "xdg:schema";

/// The schema name of the cache keys this library stores.
pub const DEFAULT_SCHEMA: &str = "org.entra_msal.TokenCacheKey";

/// Where and how the cache key is kept in the Secret Service.
///
/// The item carries libsecret's `xdg:schema` attribute set to
/// [`schema_name`](Self::schema_name) plus [`attributes`](Self::attributes), as
/// msal-extensions' `LibsecretPersistence(schema_name=..., attributes=...)` does; its secret is
/// the base64 of a 256-bit AES key (not the cache itself, which stays in the file).
#[derive(Clone, Debug)]
pub struct SecretServiceOptions {
    /// The D-Bus address of the session bus; `None` uses the process's session bus
    /// (`DBUS_SESSION_BUS_ADDRESS`). Tests pass a private bus here.
    pub bus_address: Option<String>,
    /// The schema name (default [`DEFAULT_SCHEMA`]).
    pub schema_name: String,
    /// The attributes that identify the item (besides the schema).
    pub attributes: HashMap<String, String>,
    /// The label keyring managers show.
    pub label: String,
}

impl SecretServiceOptions {
    /// The key for the cache of `app_name` at `cache_path` on the session bus.
    pub fn new(app_name: &str, cache_path: &str) -> Self {
        Self {
            bus_address: None,
            schema_name: DEFAULT_SCHEMA.into(),
            attributes: HashMap::from([
                ("application".to_string(), app_name.to_string()),
                ("cache_path".to_string(), cache_path.to_string()),
            ]),
            label: format!("{app_name} token cache key"),
        }
    }

    /// The same, on the bus at `address`.
    pub fn with_bus_address(mut self, address: impl Into<String>) -> Self {
        self.bus_address = Some(address.into());
        self
    }

    fn all_attributes(&self) -> HashMap<String, String> {
        let mut all = self.attributes.clone();
        all.insert(SCHEMA_ATTRIBUTE.into(), self.schema_name.clone());
        all
    }

    /// A description for messages.
    pub fn description(&self) -> String {
        format!("the Secret Service item \"{}\"", self.label)
    }
}

/// The secret struct of the Secret Service API: session, parameters, value, content type.
pub(crate) type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

pub(crate) fn no_service(e: &zbus::Error) -> Error {
    Error::cache_caused(
        format!(
            "no Secret Service answers on the session bus ({e}); start a keyring (gnome-keyring, \
         KeePassXC with Secret Service on), or choose an unencrypted cache explicitly"
        ),
        e.clone(),
    )
}

pub(crate) fn failed(what: &str, e: &zbus::Error) -> Error {
    Error::cache_caused(
        format!("the Secret Service could not {what}: {e}"),
        e.clone(),
    )
}

fn locked() -> Error {
    Error::cache(
        "the keyring holding the token cache key is locked; unlock it (log in to the desktop \
         session, or `gnome-keyring-daemon --unlock` with the password on stdin) and retry"
            .into(),
    )
}

pub(crate) fn is_root(path: &OwnedObjectPath) -> bool {
    path.as_str() == "/"
}

/// Reads the cache key described by `options`, creating a random one in the default collection
/// when there is none.
///
/// # Errors
/// [`Error::Cache`] when the bus cannot be reached, no Secret Service runs, the keyring is
/// locked or has no default collection, or the stored secret is not a key.
pub async fn load_or_create_key(options: &SecretServiceOptions) -> Result<[u8; 32], Error> {
    let (connection, service, session) = open_session(options.bus_address.as_deref()).await?;
    let result = key_in_session(&connection, &service, &session, options).await;
    close_session(&connection, &session).await;
    result
}

/// Connects to the session bus (or the one at `bus_address`) and opens a plain (unencrypted
/// transport, as libsecret's default on a local bus) Secret Service session.
pub(crate) async fn open_session(
    bus_address: Option<&str>,
) -> Result<(zbus::Connection, zbus::Proxy<'static>, OwnedObjectPath), Error> {
    let connection = match bus_address {
        Some(address) => {
            zbus::connection::Builder::address(address)
                .map_err(|e| {
                    Error::configuration_caused(
                        format!("invalid D-Bus address {address:?}: {e}"),
                        e,
                    )
                })?
                .build()
                .await
        }
        None => zbus::Connection::session().await,
    }
    .map_err(|e| {
        Error::cache_caused(
            format!(
                "cannot connect to the D-Bus session bus for the Secret Service ({e}); run inside \
             a desktop session or set DBUS_SESSION_BUS_ADDRESS, or choose an unencrypted cache \
             explicitly"
            ),
            e,
        )
    })?;
    let service = zbus::Proxy::new(&connection, SERVICE, SERVICE_PATH, SERVICE_IFACE)
        .await
        .map_err(|e| no_service(&e))?;
    let (_, session): (OwnedValue, OwnedObjectPath) = service
        .call("OpenSession", &("plain", Value::from("")))
        .await
        .map_err(|e| no_service(&e))?;
    Ok((connection, service, session))
}

/// Closes a session from [`open_session`] (best effort: the bus closes it with the connection).
pub(crate) async fn close_session(connection: &zbus::Connection, session: &OwnedObjectPath) {
    if let Ok(s) = zbus::Proxy::new(connection, SERVICE, session.as_str(), SESSION_IFACE).await {
        let _: Result<(), _> = s.call("Close", &()).await;
    }
}

async fn key_in_session(
    connection: &zbus::Connection,
    service: &zbus::Proxy<'_>,
    session: &OwnedObjectPath,
    options: &SecretServiceOptions,
) -> Result<[u8; 32], Error> {
    let attributes = options.all_attributes();
    let (unlocked, locked_items): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) = service
        .call("SearchItems", &(&attributes,))
        .await
        .map_err(|e| failed("search items", &e))?;
    let mut item = unlocked.into_iter().next();
    if item.is_none() && !locked_items.is_empty() {
        let (now_unlocked, prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) = service
            .call("Unlock", &(&locked_items,))
            .await
            .map_err(|e| failed("unlock the keyring", &e))?;
        if !is_root(&prompt) || now_unlocked.is_empty() {
            return Err(locked());
        }
        item = now_unlocked.into_iter().next();
    }
    if let Some(item) = item {
        let proxy = zbus::Proxy::new(connection, SERVICE, item.as_str(), ITEM_IFACE)
            .await
            .map_err(|e| failed("open the key item", &e))?;
        let (secret,): (Secret,) = proxy
            .call("GetSecret", &(session,))
            .await
            .map_err(|e| failed("read the cache key", &e))?;
        return decode_key(&secret.2, options);
    }

    let (collection,): (OwnedObjectPath,) = service
        .call("ReadAlias", &("default",))
        .await
        .map_err(|e| failed("find the default collection", &e))?;
    if is_root(&collection) {
        return Err(Error::cache(
            "the Secret Service has no default keyring collection to keep the token cache key \
             in; create one (log in to the desktop session once, or start \
             `gnome-keyring-daemon --unlock`) and retry"
                .into(),
        ));
    }
    let key = super::AesGcmProtector::generate_key()?;
    let collection = zbus::Proxy::new(connection, SERVICE, collection.as_str(), COLLECTION_IFACE)
        .await
        .map_err(|e| failed("open the default collection", &e))?;
    let mut properties: HashMap<&str, Value<'_>> = HashMap::new();
    properties.insert(
        "org.freedesktop.Secret.Item.Label",
        Value::from(options.label.as_str()),
    );
    properties.insert(
        "org.freedesktop.Secret.Item.Attributes",
        Value::from(attributes.clone()),
    );
    let secret: Secret = (
        session.clone(),
        Vec::new(),
        STANDARD.encode(key).into_bytes(),
        "text/plain".into(),
    );
    let (created, prompt): (OwnedObjectPath, OwnedObjectPath) = collection
        .call("CreateItem", &(properties, secret, true))
        .await
        .map_err(|e| failed("store the cache key", &e))?;
    if !is_root(&prompt) || is_root(&created) {
        return Err(locked());
    }
    tracing::info!(item = %options.label, "created a token cache key in the Secret Service");
    Ok(key)
}

/// The key from the item's secret: the base64 of 32 bytes.
pub(crate) fn decode_key(value: &[u8], options: &SecretServiceOptions) -> Result<[u8; 32], Error> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            Error::cache(format!(
                "{} does not hold a 256-bit key (base64); delete that item and the cache file \
                 to start over",
                options.description()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_carry_the_libsecret_schema() {
        let o = SecretServiceOptions::new("my-app", "/home/u/.cache/my-app/c.bin")
            .with_bus_address("unix:path=/tmp/bus");
        let all = o.all_attributes();
        assert_eq!(all["xdg:schema"], DEFAULT_SCHEMA);
        assert_eq!(all["application"], "my-app");
        assert_eq!(o.bus_address.as_deref(), Some("unix:path=/tmp/bus"));
    }

    #[test]
    fn keys_are_base64_of_32_bytes() {
        let o = SecretServiceOptions::new("a", "b");
        let key = [5u8; 32];
        assert_eq!(
            decode_key(STANDARD.encode(key).as_bytes(), &o).unwrap(),
            key
        );
        assert!(decode_key(b"short", &o).is_err());
        assert!(decode_key(&[0xff, 0xfe], &o).is_err());
    }
}
