//! Client assertions (RFC 7523 `private_key_jwt`) signed with a certificate's key: PS256 with
//! `x5t#S256` by default, RS256 with `x5t` for ADFS or when only a SHA-1 thumbprint is known,
//! optional `x5c` (every certificate of the PEM, the chain), extra `client_claims`, and reuse of
//! one assertion for at most 540 s. Private keys may be encrypted PEM (PKCS#8, or OpenSSL's legacy
//! form in `legacy_pem`) with a passphrase.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// An assertion is regenerated after this many seconds (its lifetime is 600 s).
pub const REUSE_SECONDS: i64 = 540;
/// Lifetime of a signed assertion.
pub const LIFETIME_SECONDS: i64 = 600;

/// Which JWS algorithm and thumbprint header to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS SHA-256 with `x5t#S256` (MSAL's default when the certificate is known).
    Ps256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with `x5t` (ADFS, or only a SHA-1 thumbprint known).
    Rs256,
}

/// A certificate credential: the RSA private key and the certificate (or its SHA-1 thumbprint).
pub struct CertificateCredential {
    key: RsaKeyPair,
    /// What `x5c` carries: the certificate, then the rest of the PEM's chain.
    chain: Vec<Vec<u8>>,
    sha1: Vec<u8>,
    sha256: Option<Vec<u8>>,
    /// Send the certificate in `x5c` (subject name / issuer authentication).
    pub send_x5c: bool,
    /// Force RS256 with `x5t` (ADFS).
    pub force_rs256: bool,
    /// Extra claims signed into every assertion; they may override the standard ones.
    pub client_claims: Map<String, Value>,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("key", &"[redacted]")
            .field("x5t", &URL_SAFE_NO_PAD.encode(&self.sha1))
            .field("send_x5c", &self.send_x5c)
            .finish_non_exhaustive()
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::configuration(format!("{what}: {e}"))
}

/// The DER of an RSA private key, as PEM framed it: `PRIVATE KEY` (PKCS#8) or
/// `RSA PRIVATE KEY` (PKCS#1). `ring` reads both; no other RSA implementation is involved.
enum RsaKeyDer {
    Pkcs8(Vec<u8>),
    Pkcs1(Vec<u8>),
}

impl RsaKeyDer {
    fn key_pair(&self) -> Result<RsaKeyPair, ring::error::KeyRejected> {
        match self {
            Self::Pkcs8(der) => RsaKeyPair::from_pkcs8(der),
            Self::Pkcs1(der) => RsaKeyPair::from_der(der),
        }
    }
}

fn rsa_key_from_pem(key_pem: &str, passphrase: Option<&str>) -> Result<RsaKeyDer, Error> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject as _;
    if super::legacy_pem::is_legacy_encrypted(key_pem) {
        let passphrase = passphrase.ok_or_else(|| {
            Error::configuration(
                "the private key is encrypted: give its passphrase (private_key_passphrase)".into(),
            )
        })?;
        return super::legacy_pem::decrypt(key_pem, passphrase).map(RsaKeyDer::Pkcs1);
    }
    if let Some(der) = pem_section(key_pem, "ENCRYPTED PRIVATE KEY") {
        let passphrase = passphrase.ok_or_else(|| {
            Error::configuration(
                "the private key is encrypted: give its passphrase (private_key_passphrase)".into(),
            )
        })?;
        return decrypt_pkcs8(&der?, passphrase).map(RsaKeyDer::Pkcs8);
    }
    let not_rsa = || {
        Error::configuration(
            "the private key is not an RSA key in PKCS#8 (BEGIN PRIVATE KEY or BEGIN ENCRYPTED \
             PRIVATE KEY) or PKCS#1 (BEGIN RSA PRIVATE KEY) PEM"
                .into(),
        )
    };
    let key = match PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| not_rsa())? {
        PrivateKeyDer::Pkcs8(der) => RsaKeyDer::Pkcs8(der.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Pkcs1(der) => RsaKeyDer::Pkcs1(der.secret_pkcs1_der().to_vec()),
        _ => return Err(not_rsa()),
    };
    if passphrase.is_some() {
        // As MSAL Python (cryptography) does: a passphrase for a plain key is a mistake.
        return Err(Error::configuration(
            "a passphrase was given but the private key is not encrypted".into(),
        ));
    }
    Ok(key)
}

/// The DER of the first PEM section labelled `label`, if there is one.
fn pem_section(pem: &str, label: &str) -> Option<Result<Vec<u8>, Error>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let Some(len) = pem[start..].find(&end) else {
        return Some(Err(Error::configuration(format!(
            "the PEM has no {end} line"
        ))));
    };
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some(STANDARD.decode(body).map_err(|e| {
        Error::configuration_caused(format!("the {label} PEM is not valid base64: {e}"), e)
    }))
}

/// Decrypts an encrypted PKCS#8 key (PBES2: PBKDF2 or scrypt, AES-CBC or AES-GCM).
fn decrypt_pkcs8(der: &[u8], passphrase: &str) -> Result<Vec<u8>, Error> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der).map_err(|e| {
        Error::configuration(format!(
            "the encrypted private key is not PKCS#8 EncryptedPrivateKeyInfo: {e}"
        ))
    })?;
    let wrong = || {
        Error::configuration(
            "the private key's passphrase is wrong (or its encryption is not PBES2 with AES)"
                .into(),
        )
    };
    let plain = info.decrypt(passphrase.as_bytes()).map_err(|_| wrong())?;
    Ok(plain.as_bytes().to_vec())
}

/// Every certificate of a PEM, in order: the client's certificate first, then its chain (what
/// MSAL Python's `extract_certs` sends in `x5c`).
fn cert_chain_from_pem(cert_pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    let not_pem = |e: &dyn std::fmt::Debug| {
        bad(
            "the certificate is not PEM (-----BEGIN CERTIFICATE-----)",
            format!("{e:?}"),
        )
    };
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .map(|c| c.map(|c| c.as_ref().to_vec()).map_err(|e| not_pem(&e)))
        .collect::<Result<Vec<_>, Error>>()?;
    if chain.is_empty() {
        return Err(not_pem(&"no CERTIFICATE section"));
    }
    Ok(chain)
}

impl CertificateCredential {
    fn build(key: &RsaKeyDer, chain: Vec<Vec<u8>>, sha1: Option<Vec<u8>>) -> Result<Self, Error> {
        let certificate_der = chain.first().cloned();
        let key = key.key_pair().map_err(|e| {
            bad(
                "the private key is not a usable RSA key (2048 bits or more)",
                e,
            )
        })?;
        if let Some(der) = &certificate_der {
            let (_, cert) = x509_parser::parse_x509_certificate(der)
                .map_err(|e| bad("the certificate does not parse", e))?;
            let public = cert.public_key().subject_public_key.data.as_ref();
            if public != key.public_key().as_ref() {
                return Err(Error::configuration(
                    "the certificate does not belong to the private key".into(),
                ));
            }
        }
        let sha1 = match (sha1, &certificate_der) {
            (Some(t), _) => t,
            (None, Some(der)) => Sha1::digest(der).to_vec(),
            (None, None) => {
                return Err(Error::configuration(
                    "a certificate or its thumbprint is required".into(),
                ));
            }
        };
        let sha256 = certificate_der
            .as_ref()
            .map(|der| Sha256::digest(der).to_vec());
        Ok(Self {
            key,
            chain,
            sha1,
            sha256,
            send_x5c: false,
            force_rs256: false,
            client_claims: Map::new(),
        })
    }

    /// From a private key (PKCS#8 or PKCS#1 PEM) and its certificate (PEM). The PEM may hold
    /// the certificate's chain after it: `x5c` then carries every certificate.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, Error> {
        Self::from_pem_with_passphrase(key_pem, certificate_pem, None)
    }

    /// [`from_pem`](Self::from_pem) for a key that may be encrypted with `passphrase` (`BEGIN
    /// ENCRYPTED PRIVATE KEY`, PKCS#8 with PBES2, or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED`).
    /// A wrong passphrase is a configuration error.
    pub fn from_pem_with_passphrase(
        key_pem: &str,
        certificate_pem: &str,
        passphrase: Option<&str>,
    ) -> Result<Self, Error> {
        Self::build(
            &rsa_key_from_pem(key_pem, passphrase)?,
            cert_chain_from_pem(certificate_pem)?,
            None,
        )
    }

    /// From a private key and the certificate's SHA-1 thumbprint in hex (RS256 with `x5t`).
    pub fn from_pem_and_thumbprint(key_pem: &str, sha1_hex: &str) -> Result<Self, Error> {
        Self::from_pem_and_thumbprint_with_passphrase(key_pem, sha1_hex, None)
    }

    /// [`from_pem_and_thumbprint`](Self::from_pem_and_thumbprint) for a key that may be
    /// encrypted with `passphrase`.
    pub fn from_pem_and_thumbprint_with_passphrase(
        key_pem: &str,
        sha1_hex: &str,
        passphrase: Option<&str>,
    ) -> Result<Self, Error> {
        let hex = sha1_hex.trim().replace(':', "");
        if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::configuration(
                "the thumbprint must be 40 hexadecimal characters (SHA-1)".into(),
            ));
        }
        let sha1 = (0..40)
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect();
        Self::build(
            &rsa_key_from_pem(key_pem, passphrase)?,
            Vec::new(),
            Some(sha1),
        )
    }

    /// From a PKCS#12 (PFX) file's bytes and its password.
    pub fn from_pkcs12(pfx: &[u8], password: &str) -> Result<Self, Error> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            pfx,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| {
            bad(
                "the PKCS#12 file cannot be opened (wrong password or unsupported format)",
                e,
            )
        })?;
        let chain = store
            .entries()
            .find_map(|(_, entry)| match entry {
                p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) => Some(chain.clone()),
                _ => None,
            })
            .ok_or_else(|| Error::configuration("the PKCS#12 file holds no private key".into()))?;
        let certificate = chain
            .certs()
            .first()
            .map(|c| c.as_der().to_vec())
            .ok_or_else(|| {
                Error::configuration("the PKCS#12 file holds no certificate for its key".into())
            })?;
        Self::build(
            &RsaKeyDer::Pkcs8(chain.key().as_der().to_vec()),
            vec![certificate],
            None,
        )
    }

    /// The algorithm assertions will use.
    pub(crate) fn algorithm(&self) -> AssertionAlgorithm {
        if self.force_rs256 || self.sha256.is_none() {
            AssertionAlgorithm::Rs256
        } else {
            AssertionAlgorithm::Ps256
        }
    }

    /// Signs a new assertion for `client_id` at `token_endpoint`.
    pub fn sign(&self, client_id: &str, token_endpoint: &str, now: i64) -> Result<String, Error> {
        let algorithm = self.algorithm();
        let mut header = match (algorithm, &self.sha256) {
            (AssertionAlgorithm::Ps256, Some(sha256)) => {
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(sha256)})
            }
            _ => json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(&self.sha1)}),
        };
        if self.send_x5c && !self.chain.is_empty() {
            let chain: Vec<String> = self.chain.iter().map(|der| STANDARD.encode(der)).collect();
            header["x5c"] = json!(chain);
        }
        let mut claims = json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        for (k, v) in &self.client_claims {
            claims[k] = v.clone();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding: &dyn ring::signature::RsaEncoding = match algorithm {
            AssertionAlgorithm::Ps256 => &RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &RSA_PKCS1_SHA256,
        };
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::configuration("signing the client assertion failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// Remembers the last assertion so it is reused for at most [`REUSE_SECONDS`].
#[derive(Debug, Default)]
pub struct AssertionCache {
    last: Mutex<Option<(String, String, i64)>>,
}

impl AssertionCache {
    /// The cached assertion for this endpoint if younger than 540 s, else a new one.
    pub fn get_or_sign(
        &self,
        cert: &CertificateCredential,
        client_id: &str,
        token_endpoint: &str,
        now: i64,
    ) -> Result<String, Error> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((endpoint, assertion, at)) = last.as_ref()
            && endpoint == token_endpoint
            && now - at < REUSE_SECONDS
            && now >= *at
        {
            return Ok(assertion.clone());
        }
        let assertion = cert.sign(client_id, token_endpoint, now)?;
        *last = Some((token_endpoint.to_string(), assertion.clone(), now));
        Ok(assertion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pem() -> String {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn claims(jwt: &str) -> (Value, Value) {
        let mut parts = jwt.split('.');
        let decode =
            |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (decode(parts.next().unwrap()), decode(parts.next().unwrap()))
    }

    #[test]
    fn thumbprint_only_means_rs256_and_reuse_window() {
        let pem = key_pem();
        let cert = CertificateCredential::from_pem_and_thumbprint(&pem, &"ab".repeat(20)).unwrap();
        assert_eq!(cert.algorithm(), AssertionAlgorithm::Rs256);
        let jwt = cert
            .sign("cid", "https://h/t/oauth2/v2.0/token", 1000)
            .unwrap();
        let (header, body) = claims(&jwt);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode([0xab; 20]));
        assert_eq!(body["aud"], "https://h/t/oauth2/v2.0/token");
        assert_eq!(body["iss"], "cid");
        assert_eq!(body["exp"], 1600);
        let cache = AssertionCache::default();
        let a = cache.get_or_sign(&cert, "cid", "https://e", 1000).unwrap();
        assert_eq!(
            cache.get_or_sign(&cert, "cid", "https://e", 1539).unwrap(),
            a
        );
        assert_ne!(
            cache.get_or_sign(&cert, "cid", "https://e", 1540).unwrap(),
            a
        );
        assert!(format!("{cert:?}").contains("[redacted]"));
    }

    #[test]
    fn bad_inputs_are_configuration_errors() {
        assert!(matches!(
            CertificateCredential::from_pem("nope", "nope"),
            Err(Error::Configuration { .. })
        ));
        let pem = key_pem();
        assert!(CertificateCredential::from_pem_and_thumbprint(&pem, "xyz").is_err());
        assert!(CertificateCredential::from_pkcs12(b"garbage", "pw").is_err());
    }

    #[test]
    fn pkcs1_and_pkcs8_pem_give_the_same_key() {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        let pkcs8 = key_pem();
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(&pkcs8)
            .unwrap()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let thumbprint = "cd".repeat(20);
        let a = CertificateCredential::from_pem_and_thumbprint(&pkcs8, &thumbprint).unwrap();
        let b = CertificateCredential::from_pem_and_thumbprint(&pkcs1, &thumbprint).unwrap();
        assert_eq!(a.key.public().as_ref(), b.key.public().as_ref());
        // What the PKCS#1 key signs verifies with the PKCS#8 key's public half.
        let jwt = b.sign("cid", "https://e", 5).unwrap();
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            a.key.public().as_ref(),
        )
        .verify(
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn an_encrypted_or_non_rsa_key_says_what_to_do() {
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkq\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = CertificateCredential::from_pem_and_thumbprint(encrypted, &"ab".repeat(20))
            .unwrap_err()
            .to_string();
        assert!(err.contains("give its passphrase"), "{err}");
        // An EC key (SEC1) is a key, but not RSA.
        let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIm1\n-----END EC PRIVATE KEY-----\n";
        let err = CertificateCredential::from_pem_and_thumbprint(ec, &"ab".repeat(20))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an RSA key"), "{err}");
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: BF-CBC,0001020304050607\n\nMIIB\n-----END RSA PRIVATE KEY-----\n";
        let err = CertificateCredential::from_pem_and_thumbprint(legacy, &"ab".repeat(20))
            .unwrap_err()
            .to_string();
        assert!(err.contains("give its passphrase"), "{err}");
        let err = CertificateCredential::from_pem_and_thumbprint_with_passphrase(
            legacy,
            &"ab".repeat(20),
            Some("pw"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("BF-CBC, which is not supported"), "{err}");
    }
}
