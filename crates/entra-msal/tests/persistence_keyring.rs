//! The encrypted token cache against a real, headless gnome-keyring on a private D-Bus session
//! bus that each test starts (and stops, by PID): the key is created once and found again,
//! nothing readable is written to disk, `secret-tool` sees the item, and a locked or missing
//! keyring is a typed error (with an explicit, logged plaintext fallback). Also the whole cache
//! in the keyring in msal-extensions' `LibsecretPersistence` format, against MSAL Python with
//! msal-extensions 1.3.1 both ways (`interop/msal_python_libsecret.py`).
//!
//! Needs `dbus-daemon`, `gnome-keyring-daemon` and `secret-tool` (`scripts/test` installs them);
//! without them the tests fail when `CI=true` and are skipped with a notice otherwise.
#![cfg(all(feature = "keyring", target_os = "linux"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use entra_msal::Error;
use entra_msal::TokenCache;
use entra_msal::TokenSource;
use entra_msal::persistence::{
    DefaultPersistenceOptions, ENVELOPE_MAGIC, EncryptedFilePersistence, FilePersistence,
    LibsecretPersistence, Persistence, PersistentTokenCache, SecretServiceOptions,
    default_persistence_with,
};
use zbus::zvariant::OwnedObjectPath;

/// A private session bus (no service activation) and, optionally, a gnome-keyring on it.
struct Keyring {
    dir: tempfile::TempDir,
    address: String,
    bus: Child,
    keyring: Option<Child>,
}

impl Drop for Keyring {
    fn drop(&mut self) {
        for child in self.keyring.iter_mut().chain([&mut self.bus]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn available(programs: &[&str]) -> bool {
    let missing: Vec<_> = programs
        .iter()
        .filter(|p| {
            !std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("Secret Service tests: {missing:?} not installed (run scripts/test)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

impl Keyring {
    /// A bus with no keyring (`with_keyring` false) or with an unlocked gnome-keyring.
    async fn start(with_keyring: bool) -> Option<Self> {
        if !available(&["dbus-daemon", "gnome-keyring-daemon", "secret-tool"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bus.conf");
        // No <servicedir>: nothing is activated on demand (in particular not a keyring in the
        // real home directory).
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>"#,
                dir.path().join("bus").display()
            ),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(bus.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        let mut this = Self {
            dir,
            address,
            bus,
            keyring: None,
        };
        if with_keyring {
            this.start_keyring().await;
        }
        Some(this)
    }

    fn child_env(&self, command: &mut Command) {
        let home = self.dir.path().join("home");
        let runtime = self.dir.path().join("run");
        for d in [&home, &runtime] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(
                d,
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
            )
            .unwrap();
        }
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime);
    }

    async fn start_keyring(&mut self) {
        let mut command = Command::new("gnome-keyring-daemon");
        command
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child_env(&mut command);
        let mut child = command.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"test-password").unwrap();
        }
        self.keyring = Some(child);
        // Wait (bounded) until it owns its name on the bus.
        let connection = self.connection().await;
        let dbus = zbus::fdo::DBusProxy::new(&connection).await.unwrap();
        for _ in 0..400 {
            if dbus
                .name_has_owner("org.freedesktop.secrets".try_into().unwrap())
                .await
                .unwrap()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("gnome-keyring-daemon did not appear on the private bus");
    }

    async fn connection(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap()
    }

    fn options(&self, directory: &Path, fallback: bool) -> DefaultPersistenceOptions {
        DefaultPersistenceOptions {
            directory: Some(directory.to_path_buf()),
            allow_plaintext_fallback: fallback,
            bus_address: Some(self.address.clone()),
        }
    }

    /// `secret-tool lookup` on the private bus: an independent client.
    fn secret_tool_lookup(&self, attributes: &[(&str, &str)]) -> String {
        let mut command = Command::new("secret-tool");
        command.arg("lookup");
        for (k, v) in attributes {
            command.args([k, v]);
        }
        self.child_env(&mut command);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "secret-tool: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Locks the default collection (gnome-keyring allows it without a prompt).
    async fn lock_default_collection(&self) {
        let connection = self.connection().await;
        let service = zbus::Proxy::new(
            &connection,
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service",
        )
        .await
        .unwrap();
        let (collection,): (OwnedObjectPath,) =
            service.call("ReadAlias", &("default",)).await.unwrap();
        let (_locked, _prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) =
            service.call("Lock", &(vec![collection],)).await.unwrap();
    }
}

fn attach(p: Arc<dyn Persistence>) -> (TokenCache, Arc<PersistentTokenCache>) {
    let cache = TokenCache::new();
    let listener = PersistentTokenCache::attach(&cache, p).unwrap();
    (cache, listener)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_cache_with_the_key_in_gnome_keyring() {
    let Some(keyring) = Keyring::start(true).await else {
        return;
    };
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let options = keyring.options(dir.path(), false);

    let persistence = default_persistence_with("entra-test", &options)
        .await
        .unwrap();
    assert!(persistence.is_encrypted());
    let path: PathBuf = dir.path().join("msal_token_cache.bin");
    assert!(
        persistence
            .location()
            .starts_with(&path.display().to_string()),
        "{}",
        persistence.location()
    );
    let (cache, listener) = attach(persistence);
    let fresh = e
        .secret_builder()
        .token_cache(cache)
        .build()
        .unwrap()
        .acquire_token_for_client(&["api://load-keyring-1/.default"])
        .await
        .unwrap();
    assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
    assert!(listener.take_last_error().is_none());

    // On disk: the envelope, nothing readable.
    let raw = std::fs::read(&path).unwrap();
    assert!(raw.starts_with(ENVELOPE_MAGIC));
    let token = fresh.access_token.expose().as_bytes();
    assert!(!raw.windows(token.len()).any(|w| w == token));
    assert!(!raw.windows(11).any(|w| w == b"AccessToken"));

    // The key is an item an independent client finds under the libsecret schema attribute.
    let key = keyring.secret_tool_lookup(&[
        ("xdg:schema", "org.entra_msal.TokenCacheKey"),
        ("application", "entra-test"),
    ]);
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .unwrap();
    assert_eq!(key.len(), 32);

    // Another process-like instance finds the same key and reads the token from the file.
    let again = default_persistence_with("entra-test", &options)
        .await
        .unwrap();
    let (cache, listener) = attach(again);
    let hit = e
        .secret_builder()
        .token_cache(cache)
        .build()
        .unwrap()
        .acquire_token_for_client(&["api://load-keyring-1/.default"])
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(hit.access_token.expose(), fresh.access_token.expose());
    assert!(listener.take_last_error().is_none());

    // A different key (another item) cannot read the file: a typed error, and the file is kept.
    let other = SecretServiceOptions::new("another-app", "elsewhere")
        .with_bus_address(keyring.address.clone());
    let wrong = EncryptedFilePersistence::with_secret_service(FilePersistence::new(&path), &other)
        .await
        .unwrap();
    let err = wrong.load().unwrap_err();
    assert!(
        matches!(err, Error::Cache { message: ref m, .. } if m.contains("another key")),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_keyring_is_a_typed_error_and_fallback_is_explicit() {
    let Some(keyring) = Keyring::start(true).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Create the key, then lock the keyring.
    let first = default_persistence_with("entra-locked", &keyring.options(dir.path(), false))
        .await
        .unwrap();
    assert!(first.is_encrypted());
    keyring.lock_default_collection().await;

    let err = default_persistence_with("entra-locked", &keyring.options(dir.path(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Cache { message: ref m, .. } if m.contains("locked") && m.contains("unlock")),
        "{err}"
    );
    // A new key cannot be created in a locked collection either.
    let err = default_persistence_with("entra-locked-2", &keyring.options(dir.path(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Cache { message: ref m, .. } if m.contains("locked")),
        "{err}"
    );

    let plain = default_persistence_with("entra-locked", &keyring.options(dir.path(), true))
        .await
        .unwrap();
    assert!(!plain.is_encrypted());
    assert!(plain.location().ends_with("msal_token_cache.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_service_on_the_bus_is_a_typed_error() {
    let Some(keyring) = Keyring::start(false).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let err = default_persistence_with("entra-none", &keyring.options(dir.path(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Cache { message: ref m, .. } if m.contains("no Secret Service")),
        "{err}"
    );
    assert!(!dir.path().join("msal_token_cache.bin").exists());
}

// --- The whole cache in the Secret Service, in msal-extensions' LibsecretPersistence format ---

/// The interpreter with MSAL Python, msal-extensions and PyGObject's Secret GIR:
/// `$ENTRA_INTEROP_LIBSECRET_PYTHON`, else `.venv-libsecret/bin/python` (`scripts/test` makes it
/// from Debian's python3 with `python3-gi` and `gir1.2-secret-1`). Missing: a failure when
/// `CI=true`, a skip with a notice otherwise.
fn libsecret_python() -> Option<PathBuf> {
    entra_test_support::interpreter(
        "ENTRA_INTEROP_LIBSECRET_PYTHON",
        ".venv-libsecret/bin/python",
        "msal-extensions LibsecretPersistence interop",
    )
}

impl Keyring {
    /// Runs `interop/msal_python_libsecret.py MODE SPEC` against this keyring; its verdict.
    fn msal_python(
        &self,
        python: &Path,
        mode: &str,
        spec: &serde_json::Value,
    ) -> serde_json::Value {
        let mut command = Command::new(python);
        command
            .arg(support::repo_root().join("interop/msal_python_libsecret.py"))
            .arg(mode)
            .arg(spec.to_string());
        self.child_env(&mut command);
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let verdict: serde_json::Value = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        assert!(
            output.status.success() && verdict["ok"] == true,
            "msal_python_libsecret.py {mode} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        verdict
    }

    /// The items whose attributes include `attributes`, each with its label, attributes and
    /// secret (value and content type), read over D-Bus as any Secret Service client would.
    async fn items(
        &self,
        attributes: &[(&str, &str)],
    ) -> Vec<(
        String,
        std::collections::HashMap<String, String>,
        Vec<u8>,
        String,
    )> {
        let connection = self.connection().await;
        let service = zbus::Proxy::new(
            &connection,
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service",
        )
        .await
        .unwrap();
        let (_, session): (zbus::zvariant::OwnedValue, OwnedObjectPath) = service
            .call("OpenSession", &("plain", zbus::zvariant::Value::from("")))
            .await
            .unwrap();
        let query: std::collections::HashMap<&str, &str> = attributes.iter().copied().collect();
        let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            service.call("SearchItems", &(query,)).await.unwrap();
        let mut items = Vec::new();
        for path in unlocked {
            let item = zbus::Proxy::new(
                &connection,
                "org.freedesktop.secrets",
                path.as_str(),
                "org.freedesktop.Secret.Item",
            )
            .await
            .unwrap();
            let label: String = item.get_property("Label").await.unwrap();
            let attributes: std::collections::HashMap<String, String> =
                item.get_property("Attributes").await.unwrap();
            let (secret,): ((OwnedObjectPath, Vec<u8>, Vec<u8>, String),) =
                item.call("GetSecret", &(&session,)).await.unwrap();
            items.push((label, attributes, secret.2, secret.3));
        }
        items
    }
}

/// The Azure CLI's names on Linux (azure-cli `src/azure-cli-core/azure/cli/core/auth/
/// persistence.py`, `build_persistence`), which it copied from msal-extensions' sample.
const AZ_SCHEMA: &str = "my_schema_name";
const AZ_ATTRIBUTES: [(&str, &str); 2] = [("my_attr1", "foo"), ("my_attr2", "bar")];

/// msal-extensions 1.3.1 `libsecret.py` `LibSecretAgent.save` (`Secret.password_store_sync`
/// with `label=""`, `collection=None`) and `persistence.py` `LibsecretPersistence.save` (then
/// `FilePersistence.touch` of the signal file): one item in the default collection, attributes
/// = given ones + `xdg:schema`, label "", secret = the cache text as `text/plain`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libsecret_persistence_stores_the_msal_extensions_item() {
    let Some(keyring) = Keyring::start(true).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let signal = dir.path().join("msal_token_cache.bin");
    let p = LibsecretPersistence::new(&signal, Some(AZ_SCHEMA), &AZ_ATTRIBUTES)
        .with_bus_address(keyring.address.clone());
    assert!(p.is_encrypted());
    assert_eq!(p.load().unwrap(), None, "nothing stored yet");
    assert_eq!(p.version().unwrap(), None);

    p.save(r#"{"AccessToken": {}}"#).unwrap();
    assert!(signal.exists(), "the signal file is touched");
    assert_eq!(std::fs::read(&signal).unwrap(), b"", "and holds nothing");
    assert_eq!(p.load().unwrap().as_deref(), Some(r#"{"AccessToken": {}}"#));
    let items = keyring
        .items(&[("xdg:schema", AZ_SCHEMA), ("my_attr1", "foo")])
        .await;
    assert_eq!(items.len(), 1, "{items:?}");
    let (label, attributes, value, content_type) = &items[0];
    assert_eq!(label, "");
    assert_eq!(
        attributes,
        &std::collections::HashMap::from([
            ("xdg:schema".to_string(), AZ_SCHEMA.to_string()),
            ("my_attr1".to_string(), "foo".to_string()),
            ("my_attr2".to_string(), "bar".to_string()),
        ])
    );
    assert_eq!(value, br#"{"AccessToken": {}}"#);
    assert_eq!(content_type, "text/plain");
    assert_eq!(
        keyring.secret_tool_lookup(&[("xdg:schema", AZ_SCHEMA), ("my_attr2", "bar")]),
        r#"{"AccessToken": {}}"#
    );

    // A second save replaces the item (libsecret's replace), and moves the signal's version.
    let before = p.version().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    p.save("{}").unwrap();
    assert_ne!(p.version().unwrap(), before);
    let items = keyring.items(&[("xdg:schema", AZ_SCHEMA)]).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].2, b"{}");
    assert!(p.clear().unwrap());
    assert_eq!(p.load().unwrap(), None);

    // msal-extensions' default schema: the hex SHA-256 of the signal path as given.
    let default =
        LibsecretPersistence::new(&signal, None, &[]).with_bus_address(keyring.address.clone());
    let hash = sha256_hex(signal.to_str().unwrap());
    assert_eq!(default.schema_name(), hash);
    default.save("x").unwrap();
    assert_eq!(keyring.secret_tool_lookup(&[("xdg:schema", &hash)]), "x");
}

/// msal-extensions 1.3.1 `persistence.py` `_auto_hash`, computed independently.
fn sha256_hex(text: &str) -> String {
    let output = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

/// MSAL Python with `PersistedTokenCache(LibsecretPersistence(signal, "my_schema_name",
/// {...}))` (the Azure CLI's configuration) stores an app token; this library, with the same
/// three values, serves it from the cache without asking the identity provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_libsecret_writes_rust_reads() {
    let Some(python) = libsecret_python() else {
        return;
    };
    let Some(keyring) = Keyring::start(true).await else {
        return;
    };
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let signal = dir.path().join("msal_token_cache.bin");
    let client = e.info.confidential_client.clone().unwrap();
    let scope = "api://load-libsecret-py-to-rust/.default";
    keyring.msal_python(
        &python,
        "write",
        &serde_json::json!({
            "signal": signal,
            "schema_name": AZ_SCHEMA,
            "attributes": {"my_attr1": "foo", "my_attr2": "bar"},
            "client_id": client.client_id,
            "token_endpoint": format!("{}/oauth2/v2.0/token", e.info.authority),
            "scope": scope,
            "access_token": "access-token-from-msal-python",
        }),
    );
    assert!(signal.exists(), "msal-extensions touched the signal file");

    let p = LibsecretPersistence::new(&signal, Some(AZ_SCHEMA), &AZ_ATTRIBUTES)
        .with_bus_address(keyring.address.clone());
    let (cache, listener) = attach(Arc::new(p));
    let hit = e
        .secret_builder()
        .token_cache(cache)
        .build()
        .unwrap()
        .acquire_token_for_client(&[scope])
        .await
        .unwrap();
    assert!(listener.take_last_error().is_none());
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(hit.access_token.expose(), "access-token-from-msal-python");
    assert_eq!(support::hits(&e.emulator, "/oauth2/v2.0/token"), 0);
}

/// This library stores an app token with msal-extensions' defaults (schema = hash of the signal
/// path, no attributes); MSAL Python with `LibsecretPersistence(signal)` finds it, and a token
/// it adds afterwards is merged with, not replacing, the Rust one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_msal_python_libsecret_reads() {
    let Some(python) = libsecret_python() else {
        return;
    };
    let Some(keyring) = Keyring::start(true).await else {
        return;
    };
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let signal = dir.path().join("cache.bin");
    let p = LibsecretPersistence::new(&signal, None, &[]).with_bus_address(keyring.address.clone());
    let (cache, listener) = attach(Arc::new(p.clone()));
    let app = e.secret_builder().token_cache(cache).build().unwrap();
    let fresh = app
        .acquire_token_for_client(&["api://load-libsecret-rust-to-py/.default"])
        .await
        .unwrap();
    assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
    assert!(listener.take_last_error().is_none());

    assert!(signal.exists(), "the signal file is touched on save");
    let hash = sha256_hex(signal.to_str().unwrap());
    let stored = keyring.secret_tool_lookup(&[("xdg:schema", &hash)]);
    assert!(stored.contains(fresh.access_token.expose()), "{stored}");

    let client = e.info.confidential_client.clone().unwrap();
    let spec = serde_json::json!({
        "signal": signal,
        "schema_name": null,
        "attributes": null,
        "client_id": client.client_id,
        "token_endpoint": format!("{}/oauth2/v2.0/token", e.info.authority),
        "scope": "api://load-libsecret-second/.default",
        "access_token": "second-token-from-msal-python",
    });
    let verdict = keyring.msal_python(&python, "read", &spec);
    assert_eq!(
        verdict["access_tokens"],
        serde_json::json!([fresh.access_token.expose()]),
        "{verdict}"
    );
    assert_eq!(verdict["clients"], serde_json::json!([client.client_id]));

    // Python adds a token (under its lock, after reloading): both are kept.
    keyring.msal_python(&python, "write", &spec);
    let stored = p.load().unwrap().unwrap();
    assert!(stored.contains("second-token-from-msal-python"));
    assert!(stored.contains(fresh.access_token.expose()));
    let again = app
        .acquire_token_for_client(&["api://load-libsecret-second/.default"])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.expose(), "second-token-from-msal-python");
}
