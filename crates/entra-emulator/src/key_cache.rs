//! RSA keys generated once per machine and kept in a private directory.
//!
//! Generating a 2048-bit RSA key takes a few milliseconds in an optimized build and several
//! seconds in a dependent crate's unoptimized debug build, where most tests that use the emulator
//! run. The emulator therefore keeps the keys it generates (the token-signing key, the ready-made
//! certificate client's key, the SSH certificate authority's key) in a cache directory and loads them on the next start; everything
//! else (certificates, secrets, passwords, the TLS CA) is still new on every start.
//!
//! - Directory: `$ENTRA_EMULATOR_KEY_CACHE` if set, else `$XDG_CACHE_HOME/entra-emulator/keys`,
//!   else `$HOME/.cache/entra-emulator/keys`. `ENTRA_EMULATOR_KEY_CACHE=off` (or an empty value)
//!   turns the cache off: every start generates new keys.
//! - The directory is created with mode 0700; a directory that is a symlink, is not owned by this
//!   user or that others may read or write is not used (keys are then generated and not kept).
//! - Each key is one PKCS#8 PEM file, mode 0600, written to a temporary file in the directory and
//!   renamed into place, so a concurrent start sees either no key or a whole one. A file that
//!   does not hold a usable RSA key is replaced.
//! - Only on Unix; elsewhere keys are generated on every start.

use std::path::{Path, PathBuf};

use crate::crypto::{self, CryptoError};

/// The environment variable that names the key cache directory, or `off` to disable it.
pub const KEY_CACHE_ENV: &str = "ENTRA_EMULATOR_KEY_CACHE";

/// The slot of the token-signing key.
pub const SIGNING_KEY: &str = "token-signing";
/// The slot of the ready-made certificate client's key.
pub const CERTIFICATE_CLIENT_KEY: &str = "certificate-client";
/// The slot of the SSH certificate authority's key.
pub const SSH_CA_KEY: &str = "ssh-ca";

/// The cache directory the environment selects; `None` when the cache is off or no directory can
/// be named (no `XDG_CACHE_HOME` or `HOME`).
pub fn cache_dir() -> Option<PathBuf> {
    if !cfg!(unix) {
        return None;
    }
    if let Some(value) = std::env::var_os(KEY_CACHE_ENV) {
        let text = value.to_string_lossy();
        if text.is_empty() || text.eq_ignore_ascii_case("off") || text == "0" {
            return None;
        }
        return Some(PathBuf::from(value));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("entra-emulator").join("keys"))
}

/// A 2048-bit RSA private key (PKCS#8 PEM) for `slot`: the cached one when the cache holds a
/// usable key, otherwise a new one, which is then cached.
pub fn rsa_key_pem(slot: &str) -> Result<String, CryptoError> {
    match cache_dir() {
        Some(dir) => rsa_key_pem_in(&dir, slot),
        None => crypto::generate_rsa_key_pem(),
    }
}

/// Like [`rsa_key_pem`] with an explicit cache directory.
pub fn rsa_key_pem_in(dir: &Path, slot: &str) -> Result<String, CryptoError> {
    let file = dir.join(format!("{slot}.pem"));
    if private_dir(dir)
        && let Some(pem) = read_private_file(&file)
        && crypto::rsa_pem_to_pkcs8_der(&pem).is_ok()
    {
        return Ok(pem);
    }
    let pem = crypto::generate_rsa_key_pem()?;
    if private_dir(dir)
        && let Err(e) = write_atomically(dir, &file, &pem)
    {
        tracing::debug!(path = %file.display(), error = %e, "the RSA key was not cached");
    }
    Ok(pem)
}

/// Creates `dir` (mode 0700, parents as needed) and says whether it is a directory of this user
/// that no one else may use.
#[cfg(unix)]
fn private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    if builder.create(dir).is_err() {
        return false;
    }
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    let ok = meta.is_dir() && meta.mode() & 0o077 == 0 && Some(meta.uid()) == current_uid();
    if !ok {
        tracing::debug!(path = %dir.display(), "the key cache directory is not private; not used");
    }
    ok
}

#[cfg(not(unix))]
fn private_dir(_dir: &Path) -> bool {
    false
}

/// This process's effective user id: the owner of `/proc/self` on Linux; elsewhere the owner of
/// a file the process creates.
#[cfg(unix)]
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    if let Ok(meta) = std::fs::metadata("/proc/self") {
        return Some(meta.uid());
    }
    let probe = tempfile::NamedTempFile::new().ok()?;
    probe.as_file().metadata().ok().map(|m| m.uid())
}

/// The text of a regular file (not a symlink) only its owner may read, or `None`.
#[cfg(unix)]
fn read_private_file(path: &Path) -> Option<String> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.mode() & 0o077 != 0 || meta.len() > 64 * 1024 {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(not(unix))]
fn read_private_file(_path: &Path) -> Option<String> {
    None
}

/// `O_NOFOLLOW`: Linux and the BSDs / macOS spell it differently.
#[cfg(all(unix, any(target_os = "linux", target_os = "android")))]
const O_NOFOLLOW: i32 = 0o400000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NOFOLLOW: i32 = 0x0100;

/// Writes `text` to a new 0600 file in `dir` and renames it to `path`.
fn write_atomically(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".key-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_key_is_generated_once_then_read_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/keys");
        let first = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("slot.pem")), 0o600);
        let second = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_eq!(first, second);
        let other = rsa_key_pem_in(&dir, "other").unwrap();
        assert_ne!(first, other);
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_damaged_or_readable_key_is_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        let first = rsa_key_pem_in(&dir, "slot").unwrap();
        let file = dir.join("slot.pem");
        std::fs::write(&file, "not a key").unwrap();
        let second = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_ne!(first, second);
        assert!(crypto::rsa_pem_to_pkcs8_der(&second).is_ok());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let third = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_ne!(second, third, "a key others may read is not reused");
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn a_shared_directory_is_not_used() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let first = rsa_key_pem_in(&dir, "slot").unwrap();
        assert!(!dir.join("slot.pem").exists());
        let second = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn a_symlinked_key_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        let elsewhere = root.path().join("elsewhere.pem");
        let key = crypto::generate_rsa_key_pem().unwrap();
        std::fs::write(&elsewhere, &key).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        rsa_key_pem_in(&dir, "seed").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("slot.pem")).unwrap();
        let got = rsa_key_pem_in(&dir, "slot").unwrap();
        assert_ne!(got, key);
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), key);
    }
}
