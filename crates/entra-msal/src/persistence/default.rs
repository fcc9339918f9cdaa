//! [`default_persistence`]: the OS's encrypted store for an application's token cache.

use std::path::PathBuf;
use std::sync::Arc;

use super::{FilePersistence, Persistence};
use crate::error::Error;

/// The file name of an encrypted cache in [`default_cache_dir`].
pub const ENCRYPTED_FILE_NAME: &str = "msal_token_cache.bin";
/// The file name of a plaintext cache in [`default_cache_dir`] (only with
/// [`DefaultPersistenceOptions::allow_plaintext_fallback`]).
pub const PLAINTEXT_FILE_NAME: &str = "msal_token_cache.json";

/// Options of [`default_persistence_with`].
#[derive(Clone, Debug, Default)]
pub struct DefaultPersistenceOptions {
    /// The directory of the cache file instead of [`default_cache_dir`].
    pub directory: Option<PathBuf>,
    /// When the OS keystore cannot be used (no keyring feature, no Secret Service, a locked
    /// keyring), use a plaintext owner-only file instead of failing. This is logged as a
    /// warning every time it happens; the result's
    /// [`is_encrypted`](Persistence::is_encrypted) is then `false`.
    pub allow_plaintext_fallback: bool,
    /// Linux: the D-Bus session bus address of the Secret Service instead of
    /// `DBUS_SESSION_BUS_ADDRESS` (ignored elsewhere).
    pub bus_address: Option<String>,
}

/// The directory the cache of `app_name` goes to by default:
///
/// | OS | directory |
/// |---|---|
/// | Linux and other Unix | `$XDG_CACHE_HOME/<app_name>`, else `~/.cache/<app_name>` |
/// | macOS | `~/Library/Caches/<app_name>` |
/// | Windows | `%LOCALAPPDATA%\<app_name>` |
///
/// # Errors
/// [`Error::Configuration`] when `app_name` is empty or not a plain file name, or when the
/// home directory (or `%LOCALAPPDATA%`) is unknown.
pub fn default_cache_dir(app_name: &str) -> Result<PathBuf, Error> {
    if app_name.is_empty()
        || app_name == "."
        || app_name == ".."
        || app_name.contains(['/', '\\', '\0'])
    {
        return Err(Error::configuration(format!(
            "the application name {app_name:?} cannot name a cache directory; use a plain name \
             such as \"my-app\""
        )));
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let missing = |what: &str| {
        Error::configuration(format!(
            "{what} is not set, so there is no default cache directory; pass one in \
             DefaultPersistenceOptions::directory"
        ))
    };
    let base = if cfg!(windows) {
        env("LOCALAPPDATA").ok_or_else(|| missing("LOCALAPPDATA"))?
    } else if cfg!(target_os = "macos") {
        env("HOME")
            .ok_or_else(|| missing("HOME"))?
            .join("Library/Caches")
    } else {
        match env("XDG_CACHE_HOME") {
            Some(dir) if dir.is_absolute() => dir,
            _ => env("HOME").ok_or_else(|| missing("HOME"))?.join(".cache"),
        }
    };
    Ok(base.join(app_name))
}

/// The OS default encrypted persistence for `app_name`, with no plaintext fallback: see
/// [`default_persistence_with`].
///
/// ```no_run
/// # async fn run() -> Result<(), entra_msal::Error> {
/// let persistence = entra_msal::persistence::default_persistence("my-app").await?;
/// println!("{} (encrypted: {})", persistence.location(), persistence.is_encrypted());
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`default_persistence_with`].
pub async fn default_persistence(app_name: &str) -> Result<Arc<dyn Persistence>, Error> {
    default_persistence_with(app_name, &DefaultPersistenceOptions::default()).await
}

/// The OS default encrypted persistence for `app_name`: `msal_token_cache.bin` in
/// [`default_cache_dir`], encrypted (feature `keyring`)
///
/// - on Linux with AES-256-GCM under a key in the Secret Service (item with `xdg:schema`
///   `org.entra_msal.TokenCacheKey`, `application` = `app_name`, `cache_path` = the file);
/// - on macOS with AES-256-GCM under a key in the login Keychain (generic password, service
///   `app_name`, account `MSAL token cache key`);
/// - on Windows with DPAPI for the current user.
///
/// When that fails and [`allow_plaintext_fallback`](DefaultPersistenceOptions) is set, the
/// result is a plaintext [`FilePersistence`] on `msal_token_cache.json` in the same directory,
/// and a warning is logged.
///
/// # Errors
/// [`Error::Configuration`] for an unusable `app_name` or unknown home directory;
/// [`Error::Cache`] when the keystore cannot be used (without the fallback), saying why and
/// what to do.
pub async fn default_persistence_with(
    app_name: &str,
    options: &DefaultPersistenceOptions,
) -> Result<Arc<dyn Persistence>, Error> {
    let dir = match &options.directory {
        Some(dir) => dir.clone(),
        None => default_cache_dir(app_name)?,
    };
    match encrypted(app_name, &dir, options).await {
        Ok(p) => Ok(p),
        Err(e) if options.allow_plaintext_fallback => {
            let path = dir.join(PLAINTEXT_FILE_NAME);
            tracing::warn!(
                path = %path.display(),
                "the token cache is NOT encrypted: the OS keystore cannot be used ({e}); \
                 falling back to a plaintext owner-only file as allowed by the application"
            );
            Ok(Arc::new(FilePersistence::new(path)))
        }
        Err(e) => Err(e),
    }
}

#[cfg(all(feature = "keyring", target_os = "linux"))]
async fn encrypted(
    app_name: &str,
    dir: &std::path::Path,
    options: &DefaultPersistenceOptions,
) -> Result<Arc<dyn Persistence>, Error> {
    let path = dir.join(ENCRYPTED_FILE_NAME);
    let mut ss = super::SecretServiceOptions::new(app_name, &path.display().to_string());
    ss.bus_address.clone_from(&options.bus_address);
    let p = super::EncryptedFilePersistence::with_secret_service(FilePersistence::new(path), &ss)
        .await?;
    Ok(Arc::new(p))
}

#[cfg(all(feature = "keyring", target_os = "macos"))]
async fn encrypted(
    app_name: &str,
    dir: &std::path::Path,
    _options: &DefaultPersistenceOptions,
) -> Result<Arc<dyn Persistence>, Error> {
    let file = FilePersistence::new(dir.join(ENCRYPTED_FILE_NAME));
    let p = super::EncryptedFilePersistence::with_keychain(file, app_name, "MSAL token cache key")?;
    Ok(Arc::new(p))
}

#[cfg(all(feature = "keyring", windows))]
async fn encrypted(
    _app_name: &str,
    dir: &std::path::Path,
    _options: &DefaultPersistenceOptions,
) -> Result<Arc<dyn Persistence>, Error> {
    let file = FilePersistence::new(dir.join(ENCRYPTED_FILE_NAME));
    Ok(Arc::new(super::EncryptedFilePersistence::with_dpapi(file)))
}

#[cfg(not(all(
    feature = "keyring",
    any(target_os = "linux", target_os = "macos", windows)
)))]
async fn encrypted(
    _app_name: &str,
    _dir: &std::path::Path,
    _options: &DefaultPersistenceOptions,
) -> Result<Arc<dyn Persistence>, Error> {
    Err(Error::cache(
        "no encrypted token cache on this build: entra-msal was built without the `keyring` \
         feature (or for an OS without a supported keystore); enable the feature, or allow the \
         plaintext fallback explicitly"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_that_are_not_file_names_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(matches!(
                default_cache_dir(bad),
                Err(Error::Configuration { .. })
            ));
        }
        let dir = default_cache_dir("my-app").unwrap();
        assert!(dir.ends_with("my-app"));
    }

    #[tokio::test]
    async fn plaintext_fallback_is_explicit() {
        let tmp = tempfile::tempdir().unwrap();
        let options = DefaultPersistenceOptions {
            directory: Some(tmp.path().to_path_buf()),
            allow_plaintext_fallback: true,
            // Nothing listens here, so the keystore fails wherever it is built in.
            bus_address: Some(format!("unix:path={}", tmp.path().join("no-bus").display())),
        };
        let strict = DefaultPersistenceOptions {
            allow_plaintext_fallback: false,
            ..options.clone()
        };
        if cfg!(all(feature = "keyring", target_os = "linux")) || cfg!(not(feature = "keyring")) {
            let err = default_persistence_with("my-app", &strict)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Cache { .. }), "{err}");
            let p = default_persistence_with("my-app", &options).await.unwrap();
            assert!(!p.is_encrypted());
            assert!(p.location().ends_with(PLAINTEXT_FILE_NAME));
        }
    }
}
