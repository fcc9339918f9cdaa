//! Key material: the token-signing key, certificate parsing and thumbprints.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{KeyPair as _, RsaKeyPair};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Errors while handling keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A PEM or DER structure did not parse.
    #[error("{0}")]
    Parse(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

/// Generates a fresh 2048-bit RSA private key, PKCS#8 PEM encoded (AWS-LC).
///
/// Use [`crate::key_cache::rsa_key_pem`] for keys that may be kept between runs.
pub fn generate_rsa_key_pem() -> Result<String, CryptoError> {
    use aws_lc_rs::encoding::AsDer as _;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| CryptoError::Parse("RSA key generation failed".into()))?;
    let der = key
        .as_der()
        .map_err(|_| CryptoError::Parse("PKCS#8 encoding failed".into()))?;
    Ok(pem_encode("PRIVATE KEY", der.as_ref()))
}

/// Converts an RSA private key in PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM to
/// PKCS#8 DER, checking that it is a usable RSA key.
///
/// Only decodes and re-wraps the DER (ring checks the key): no big-number arithmetic runs in
/// Rust, so this stays fast in a dependent crate's unoptimized build.
pub fn rsa_pem_to_pkcs8_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    let der = pem_to_pkcs8_der(pem)?;
    RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| CryptoError::Parse(format!("not an RSA private key in PEM: {e}")))?;
    Ok(der)
}

/// The PKCS#8 DER of a PKCS#8 or PKCS#1 PEM private key, not checked further.
fn pem_to_pkcs8_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject as _;
    let not_rsa = |why: String| CryptoError::Parse(format!("not an RSA private key in PEM: {why}"));
    let der = match PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| not_rsa(format!("{e:?}")))?
    {
        PrivateKeyDer::Pkcs8(der) => der.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Pkcs1(der) => pkcs1_to_pkcs8(der.secret_pkcs1_der()),
        _ => return Err(not_rsa("an elliptic-curve key".into())),
    };
    Ok(der)
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo` (RFC 5208): version 0, algorithm
/// `rsaEncryption` with NULL parameters, the PKCS#1 DER as the OCTET STRING.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const VERSION_AND_ALGORITHM: [u8; 18] = [
        0x02, 0x01, 0x00, // INTEGER 0
        0x30, 0x0d, // SEQUENCE
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, // rsaEncryption
        0x05, 0x00, // NULL
    ];
    let mut octets = vec![0x04];
    der_length(&mut octets, pkcs1.len());
    octets.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_length(&mut out, VERSION_AND_ALGORITHM.len() + octets.len());
    out.extend_from_slice(&VERSION_AND_ALGORITHM);
    out.extend_from_slice(&octets);
    out
}

/// Appends a DER length.
fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// The RSA key that signs every token the emulator issues, with its self-signed certificate.
pub struct SigningKey {
    /// ring's view of the key: the public half (JWKS, verifying).
    key_pair: RsaKeyPair,
    /// AWS-LC's view of the same key, which signs (twice as fast as ring's RSA).
    signer: aws_lc_rs::rsa::KeyPair,
    /// Key id (`kid`) in token headers and the JWKS.
    pub kid: String,
    /// Base64url modulus.
    pub n: String,
    /// Base64url public exponent.
    pub e: String,
    /// Base64 DER of the certificate (`x5c`).
    pub x5c: String,
    /// Base64url SHA-1 thumbprint of the certificate (`x5t`).
    pub x5t: String,
    /// The base64url JOSE header of every token this key signs, built once.
    jws_header: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads the signing key from PEM and issues its certificate.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = pem_to_pkcs8_der(pem)?;
        let key_pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| CryptoError::Parse(format!("ring rejected the RSA key: {e}")))?;
        let signer = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)
            .map_err(|e| CryptoError::Parse(format!("AWS-LC rejected the RSA key: {e}")))?;
        let public = key_pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(trim_leading_zeros(public.modulus_len_bytes_be()));
        let e = URL_SAFE_NO_PAD.encode(trim_leading_zeros(public.exponent_be()));
        let cert_der = self_signed_certificate_pkcs8(der, "entra-emulator token signing")?;
        let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(&cert_der));
        Ok(Self {
            key_pair,
            signer,
            kid: x5t.clone(),
            n,
            e,
            x5c: STANDARD.encode(&cert_der),
            jws_header: encoded_header(&x5t, &x5t),
            x5t,
        })
    }

    /// Signs `input` with RSASSA-PKCS1-v1_5 SHA-256 (JWS `RS256`).
    pub fn sign_rs256(&self, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                // AWS-LC ignores it (PKCS#1 v1.5 needs no randomness); the API asks for one.
                &aws_lc_rs::rand::SystemRandom::new(),
                input,
                &mut sig,
            )
            .map_err(|_| CryptoError::Sign)?;
        Ok(sig)
    }

    /// The base64url JOSE header (`typ`, `alg` RS256, `kid`, `x5t`) of the tokens it signs.
    pub fn jws_header(&self) -> &str {
        &self.jws_header
    }

    /// The public key as PKCS#1 `RSAPublicKey` DER (what ring verifies with).
    pub fn public_key_der(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }
}

trait ModulusBytes {
    fn modulus_len_bytes_be(&self) -> Vec<u8>;
    fn exponent_be(&self) -> Vec<u8>;
}

impl ModulusBytes for ring::rsa::PublicKey {
    fn modulus_len_bytes_be(&self) -> Vec<u8> {
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = self.into();
        components.n
    }
    fn exponent_be(&self) -> Vec<u8> {
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = self.into();
        components.e
    }
}

fn trim_leading_zeros(bytes: Vec<u8>) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// Issues a self-signed certificate for an RSA key (PEM), returning its DER.
pub fn self_signed_rsa_certificate(
    key_pem: &str,
    common_name: &str,
) -> Result<Vec<u8>, CryptoError> {
    self_signed_certificate_pkcs8(rsa_pem_to_pkcs8_der(key_pem)?, common_name)
}

fn self_signed_certificate_pkcs8(der: Vec<u8>, common_name: &str) -> Result<Vec<u8>, CryptoError> {
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der);
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| CryptoError::Parse(format!("rcgen rejected the RSA key: {e}")))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| CryptoError::Parse(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let cert = params
        .self_signed(&key)
        .map_err(|e| CryptoError::Parse(e.to_string()))?;
    Ok(cert.der().to_vec())
}

/// A certificate credential, parsed: its thumbprints and RSA public key.
#[derive(Debug, Clone)]
pub struct ParsedCertificate {
    /// SHA-1 of the DER (the `x5t` thumbprint).
    pub sha1: Vec<u8>,
    /// SHA-256 of the DER (the `x5t#S256` thumbprint).
    pub sha256: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER.
    pub rsa_public_key: Vec<u8>,
}

/// Parses a PEM certificate holding an RSA key.
pub fn parse_certificate_pem(pem: &str) -> Result<ParsedCertificate, CryptoError> {
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        CryptoError::Parse(format!("no readable CERTIFICATE block in the PEM: {e:?}"))
    })?;
    parse_certificate_der(der.as_ref())
}

/// Parses a DER certificate holding an RSA key.
pub fn parse_certificate_der(der: &[u8]) -> Result<ParsedCertificate, CryptoError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CryptoError::Parse(format!("bad certificate: {e}")))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(CryptoError::Parse(
            "the certificate's key is not RSA; client assertions need RS256 or PS256".into(),
        ));
    }
    Ok(ParsedCertificate {
        sha1: Sha1::digest(der).to_vec(),
        sha256: Sha256::digest(der).to_vec(),
        rsa_public_key: spki.subject_public_key.data.to_vec(),
    })
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64url SHA-256 (PKCE S256 code challenge of a verifier).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Random URL-safe string of `bytes` random bytes.
///
/// From the thread's CSPRNG (`rand::thread_rng`: ChaCha12 seeded and periodically reseeded
/// from the OS), which costs no system call per token as reading the OS generator each time did.
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = [0u8; 64];
    let mut heap;
    let buf: &mut [u8] = if bytes <= buf.len() {
        &mut buf[..bytes]
    } else {
        heap = vec![0u8; bytes];
        &mut heap
    };
    rand::thread_rng().fill_bytes(buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random (version 4) UUID from the thread's CSPRNG: request and correlation ids.
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// PEM-encodes DER with 64-character lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The base64url JOSE header of the tokens signed with the key `kid` / `x5t`.
pub(crate) fn encoded_header(kid: &str, x5t: &str) -> String {
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": x5t});
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&header).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_ids_and_tokens_have_their_shape() {
        let id = random_uuid();
        assert_eq!(id.get_version(), Some(uuid::Version::Random));
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(random_uuid(), id);
        assert_eq!(random_token(16).len(), 22);
        assert_eq!(random_token(100).len(), 134);
        assert_ne!(random_token(16), random_token(16));
    }

    #[test]
    fn pkcs1_and_pkcs8_pem_give_the_same_pkcs8_der() {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        let pkcs8_pem = generate_rsa_key_pem().unwrap();
        let pkcs1_pem = rsa::RsaPrivateKey::from_pkcs8_pem(&pkcs8_pem)
            .unwrap()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let from_pkcs8 = rsa_pem_to_pkcs8_der(&pkcs8_pem).unwrap();
        let from_pkcs1 = rsa_pem_to_pkcs8_der(&pkcs1_pem).unwrap();
        assert_eq!(from_pkcs8, from_pkcs1);
        assert!(
            rsa_pem_to_pkcs8_der("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        assert!(rsa_pem_to_pkcs8_der("hello").is_err());
    }
}
