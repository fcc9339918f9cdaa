//! The encrypted token cache against a real, headless gnome-keyring on a private D-Bus session
//! bus that each test starts (and stops, by PID): the key is created once and found again,
//! nothing readable is written to disk, `secret-tool` sees the item, and a locked or missing
//! keyring is a typed error (with an explicit, logged plaintext fallback).
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
use entra_msal::app::TokenSource;
use entra_msal::cache::TokenCache;
use entra_msal::persistence::{
    DefaultPersistenceOptions, ENVELOPE_MAGIC, EncryptedFilePersistence, FilePersistence,
    Persistence, PersistentTokenCache, SecretServiceOptions, default_persistence_with,
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
        matches!(err, Error::Cache(ref m) if m.contains("another key")),
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
        matches!(err, Error::Cache(ref m) if m.contains("locked") && m.contains("unlock")),
        "{err}"
    );
    // A new key cannot be created in a locked collection either.
    let err = default_persistence_with("entra-locked-2", &keyring.options(dir.path(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Cache(ref m) if m.contains("locked")),
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
        matches!(err, Error::Cache(ref m) if m.contains("no Secret Service")),
        "{err}"
    );
    assert!(!dir.path().join("msal_token_cache.bin").exists());
}
