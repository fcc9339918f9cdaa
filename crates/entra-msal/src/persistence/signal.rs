//! What msal-extensions' keystore persistences share: a "signal file" next to the secret whose
//! modification time says when the secret last changed, and the default names derived from its
//! path.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// msal-extensions 1.3.1 `persistence.py`, `_auto_hash`: the lowercase hex SHA-256 of the UTF-8
/// text of `signal_location` exactly as given (not expanded, not canonicalized). Used as the
/// default `schema_name` of `LibsecretPersistence` and the default `account_name` of
/// `KeychainPersistence`.
pub(crate) fn auto_hash(signal_location: &Path) -> String {
    let digest = Sha256::digest(signal_location.to_string_lossy().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// msal-extensions 1.3.1 `persistence.py`, `FilePersistence.touch` (called by
/// `LibsecretPersistence.save` and `KeychainPersistence.save`): creates the signal file if
/// needed (and its directory, as `FilePersistence.__init__` does) and sets its modification
/// time to now, explicitly, so a reader comparing it with its own clock sees the change.
pub(crate) fn touch(signal_location: &Path) -> Result<(), Error> {
    let failed = |what: &str, e: io::Error| {
        Error::cache_caused(
            format!(
                "the secret was stored, but its signal file {} could not be {what} ({e}); other \
             processes will not notice the change until it can: check that its directory is \
             writable",
                signal_location.display()
            ),
            e,
        )
    };
    if let Some(parent) = signal_location
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        fs::create_dir_all(parent).map_err(|e| failed("created", e))?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(signal_location)
        .map_err(|e| failed("created", e))?;
    file.set_modified(SystemTime::now())
        .map_err(|e| failed("touched", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_hash_is_msal_extensions_sha256_hex() {
        // python3 -c "import hashlib; print(hashlib.sha256('/tmp/sig.bin'.encode()).hexdigest())"
        assert_eq!(
            auto_hash(Path::new("/tmp/sig.bin")),
            "2c8583233d336517515324497fc1f022da3d4be59914415f1f46550955933bd9"
        );
    }

    #[test]
    fn touch_creates_then_moves_the_mtime_forward_and_keeps_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/signal.bin");
        touch(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        fs::write(&path, b"kept").unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        touch(&path).unwrap();
        assert!(fs::metadata(&path).unwrap().modified().unwrap() > old);
        assert_eq!(fs::read(&path).unwrap(), b"kept");
    }
}
