//! [`EncryptedFilePersistence`]: the cache file, encrypted by a [`DataProtector`]; the
//! AES-256-GCM envelope ([`AesGcmProtector`]) is a pure codec.

use std::fmt;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::{FilePersistence, Persistence, PersistenceLock, Version};
use crate::error::Error;

/// Encrypts and decrypts the bytes of a cache file (an OS keystore, or a key kept in one).
pub trait DataProtector: Send + Sync + fmt::Debug {
    /// The protected form of `plaintext`.
    ///
    /// # Errors
    /// [`Error::Cache`] when the keystore refuses.
    fn protect(&self, plaintext: &[u8]) -> Result<Vec<u8>, Error>;

    /// The plaintext of data made by [`protect`](Self::protect).
    ///
    /// # Errors
    /// [`Error::Cache`] when the data was not made with this key (or this user), or was altered.
    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, Error>;

    /// Where the key lives, for messages and `msal doctor` (never the key itself).
    fn description(&self) -> String;
}

/// The first bytes of a file encrypted by [`AesGcmProtector`]; also its authenticated data.
pub const ENVELOPE_MAGIC: &[u8; 8] = b"EMSALv1\n";

/// AES-256-GCM with a 256-bit key kept elsewhere (Secret Service, Keychain). The output is
/// [`ENVELOPE_MAGIC`], a random 96-bit nonce, then the ciphertext and its 128-bit tag; the magic
/// is the authenticated data, so a file of another format or version is refused, never
/// misread. The key is never printed.
pub struct AesGcmProtector {
    key: LessSafeKey,
    description: String,
}

impl fmt::Debug for AesGcmProtector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmProtector")
            .field("key", &"[redacted]")
            .field("description", &self.description)
            .finish()
    }
}

impl AesGcmProtector {
    /// A protector with `key`; `description` says where the key is kept.
    pub fn new(key: &[u8; 32], description: impl Into<String>) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 keys are 32 bytes");
        Self {
            key: LessSafeKey::new(key),
            description: description.into(),
        }
    }

    /// A new random 256-bit key.
    ///
    /// # Errors
    /// [`Error::Cache`] when the system random generator fails.
    pub fn generate_key() -> Result<[u8; 32], Error> {
        let mut key = [0u8; 32];
        SystemRandom::new().fill(&mut key).map_err(|_| {
            Error::cache("the system random generator failed to make a cache key".into())
        })?;
        Ok(key)
    }

    /// [`protect`](DataProtector::protect) with a given nonce (for test vectors; never reuse a
    /// nonce with one key).
    pub fn seal_with_nonce(&self, nonce: [u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_MAGIC.len() + NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(ENVELOPE_MAGIC);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(ENVELOPE_MAGIC),
                &mut body,
            )
            .expect("AES-GCM seals any length below 64 GiB");
        out.extend_from_slice(&body);
        out
    }
}

impl DataProtector for AesGcmProtector {
    fn protect(&self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::cache("the system random generator failed".into()))?;
        Ok(self.seal_with_nonce(nonce, plaintext))
    }

    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let Some(rest) = data.strip_prefix(ENVELOPE_MAGIC.as_slice()) else {
            return Err(Error::cache(
                "the token cache file is not an encrypted entra-msal cache (wrong header); \
                 delete it to start over, or open it with the persistence that wrote it"
                    .into(),
            ));
        };
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(Error::cache(
                "the encrypted token cache file is cut short; delete it to start over".into(),
            ));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("split at NONCE_LEN");
        let mut body = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(ENVELOPE_MAGIC), &mut body)
            .map_err(|_| {
                Error::cache(format!(
                    "the token cache file cannot be decrypted with the key in {}: it was \
                     written with another key (the key was deleted or replaced, or the file \
                     belongs to another user) or it was altered; delete the file to start over",
                    self.description
                ))
            })?;
        Ok(plain.to_vec())
    }

    fn description(&self) -> String {
        self.description.clone()
    }
}

/// A token cache file encrypted by a [`DataProtector`], with the same atomic writes, lock file
/// and change detection as [`FilePersistence`]. Constructors per OS keystore (feature
/// `keyring`): `with_secret_service` (Linux), `with_keychain` (macOS), `with_dpapi` (Windows).
#[derive(Debug, Clone)]
pub struct EncryptedFilePersistence {
    file: FilePersistence,
    protector: Arc<dyn DataProtector>,
}

impl EncryptedFilePersistence {
    /// The file of `file`, encrypted by `protector`.
    pub fn new(file: FilePersistence, protector: Arc<dyn DataProtector>) -> Self {
        Self { file, protector }
    }

    /// The underlying file (path, lock file).
    pub fn file(&self) -> &FilePersistence {
        &self.file
    }

    /// The protector.
    pub fn protector(&self) -> &Arc<dyn DataProtector> {
        &self.protector
    }

    /// The file at `file`, encrypted with AES-256-GCM under a key kept in the Secret Service
    /// (created on first use, under the file's lock so that concurrent first runs agree on one
    /// key).
    ///
    /// # Errors
    /// [`Error::Cache`] when the Secret Service cannot be reached, is locked, or has no default
    /// collection (the message says what to do).
    #[cfg(all(feature = "keyring", target_os = "linux"))]
    pub async fn with_secret_service(
        file: FilePersistence,
        options: &super::SecretServiceOptions,
    ) -> Result<Self, Error> {
        let lock = file.lock()?;
        let key = super::secret_service::load_or_create_key(options).await;
        drop(lock);
        let protector = AesGcmProtector::new(&key?, options.description());
        Ok(Self::new(file, Arc::new(protector)))
    }

    /// The file at `file`, encrypted with AES-256-GCM under a key kept in the macOS Keychain as
    /// the generic password `service` / `account` (created on first use).
    ///
    /// # Errors
    /// [`Error::Cache`] when the Keychain is locked or refuses access.
    #[cfg(all(feature = "keyring", target_os = "macos"))]
    pub fn with_keychain(
        file: FilePersistence,
        service: &str,
        account: &str,
    ) -> Result<Self, Error> {
        let lock = file.lock()?;
        let key = super::keychain::load_or_create_key(service, account);
        drop(lock);
        let protector = AesGcmProtector::new(
            &key?,
            format!("the Keychain item {service:?} / {account:?}"),
        );
        Ok(Self::new(file, Arc::new(protector)))
    }

    /// The file at `file`, encrypted with Windows DPAPI for the current user (the format of
    /// msal-extensions and the Azure CLI's `msal_token_cache.bin`).
    #[cfg(all(feature = "keyring", windows))]
    pub fn with_dpapi(file: FilePersistence) -> Self {
        Self::new(file, Arc::new(super::dpapi::DpapiProtector))
    }

    fn located(&self, e: Error) -> Error {
        match e {
            Error::Cache { message, source } => Error::Cache {
                message: format!("{}: {message}", self.file.path().display()),
                source,
            },
            other => other,
        }
    }
}

impl Persistence for EncryptedFilePersistence {
    fn load(&self) -> Result<Option<String>, Error> {
        let Some(data) = self.file.load_bytes()? else {
            return Ok(None);
        };
        if data.is_empty() {
            return Ok(Some(String::new()));
        }
        let plain = self
            .protector
            .unprotect(&data)
            .map_err(|e| self.located(e))?;
        String::from_utf8(plain).map(Some).map_err(|_| {
            Error::cache(format!(
                "the decrypted token cache {} is not UTF-8 text; delete it to start over",
                self.file.path().display()
            ))
        })
    }

    fn save(&self, data: &str) -> Result<(), Error> {
        let sealed = self
            .protector
            .protect(data.as_bytes())
            .map_err(|e| self.located(e))?;
        self.file.save_bytes(&sealed)
    }

    fn version(&self) -> Result<Option<Version>, Error> {
        self.file.version()
    }

    fn lock(&self) -> Result<PersistenceLock, Error> {
        self.file.lock()
    }

    fn location(&self) -> String {
        format!(
            "{} (encrypted, key in {})",
            self.file.path().display(),
            self.protector.description()
        )
    }

    fn is_encrypted(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn golden_vector_and_round_trip() {
        let p = AesGcmProtector::new(&KEY, "test");
        let sealed = p.seal_with_nonce([1; 12], b"{}");
        assert_eq!(&sealed[..8], b"EMSALv1\n");
        assert_eq!(&sealed[8..20], &[1; 12]);
        assert_eq!(sealed.len(), 8 + 12 + 2 + 16);
        // AES-256-GCM, key 0x07 * 32, nonce 0x01 * 12, AAD "EMSALv1\n", text "{}" (checked
        // with Python's `cryptography` AESGCM).
        let hex: String = sealed[20..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "0d9ca29f9b7bbc97b26d0a69d509e409c934");
        assert_eq!(p.unprotect(&sealed).unwrap(), b"{}");
        let again = p.protect(b"{\"AccessToken\": {}}").unwrap();
        assert_ne!(&again[8..20], &[1; 12], "random nonces");
        assert_eq!(p.unprotect(&again).unwrap(), b"{\"AccessToken\": {}}");
    }

    #[test]
    fn wrong_key_tampering_and_other_formats_are_typed_errors() {
        let p = AesGcmProtector::new(&KEY, "the test keyring");
        let sealed = p.protect(b"secret").unwrap();
        let other = AesGcmProtector::new(&[8; 32], "another keyring");
        let err = other.unprotect(&sealed).unwrap_err().to_string();
        assert!(
            err.contains("another key") && err.contains("delete"),
            "{err}"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(p.unprotect(&tampered), Err(Error::Cache { .. })));
        let mut header = sealed.clone();
        header[6] = b'2';
        let err = p.unprotect(&header).unwrap_err().to_string();
        assert!(err.contains("wrong header"), "{err}");
        assert!(matches!(
            p.unprotect(b"{\"AccessToken\": {}}"),
            Err(Error::Cache { .. })
        ));
        assert!(matches!(
            p.unprotect(&sealed[..25]),
            Err(Error::Cache { .. })
        ));
        assert!(!format!("{p:?}").contains("7, 7"));
    }

    #[test]
    fn encrypted_file_round_trip_and_no_plaintext_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let p = EncryptedFilePersistence::new(
            FilePersistence::new(&path),
            Arc::new(AesGcmProtector::new(&KEY, "test")),
        );
        assert!(p.is_encrypted());
        assert_eq!(p.load().unwrap(), None);
        p.save("{\"AccessToken\": {\"k\": {\"secret\": \"eyJ-token\"}}}")
            .unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(9).any(|w| w == b"eyJ-token"));
        assert!(p.load().unwrap().unwrap().contains("eyJ-token"));
        let wrong = EncryptedFilePersistence::new(
            FilePersistence::new(&path),
            Arc::new(AesGcmProtector::new(&[9; 32], "other")),
        );
        let err = wrong.load().unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
