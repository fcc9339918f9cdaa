//! Key material: the token-signing key, certificate parsing and thumbprints.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, KeyPair as _, RsaKeyPair};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
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

/// Generates a fresh 2048-bit RSA private key, PKCS#8 PEM encoded.
pub fn generate_rsa_key_pem() -> Result<String, CryptoError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| CryptoError::Parse(format!("RSA key generation failed: {e}")))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CryptoError::Parse(format!("PKCS#8 encoding failed: {e}")))?;
    Ok(pem.to_string())
}

/// Converts an RSA private key in PKCS#8 or PKCS#1 PEM to PKCS#8 DER.
pub fn rsa_pem_to_pkcs8_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| CryptoError::Parse(format!("not an RSA private key in PEM: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| CryptoError::Parse(format!("PKCS#8 encoding failed: {e}")))?;
    Ok(der.as_bytes().to_vec())
}

/// The RSA key that signs every token the emulator issues, with its self-signed certificate.
pub struct SigningKey {
    key_pair: RsaKeyPair,
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
        let der = rsa_pem_to_pkcs8_der(pem)?;
        let key_pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| CryptoError::Parse(format!("ring rejected the RSA key: {e}")))?;
        let public = key_pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(trim_leading_zeros(public.modulus_len_bytes_be()));
        let e = URL_SAFE_NO_PAD.encode(trim_leading_zeros(public.exponent_be()));
        let cert_der = self_signed_rsa_certificate(pem, "entra-emulator token signing")?;
        let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(&cert_der));
        Ok(Self {
            key_pair,
            kid: x5t.clone(),
            n,
            e,
            x5c: STANDARD.encode(&cert_der),
            x5t,
        })
    }

    /// Signs `input` with RSASSA-PKCS1-v1_5 SHA-256 (JWS `RS256`).
    pub fn sign_rs256(&self, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input,
                &mut sig,
            )
            .map_err(|_| CryptoError::Sign)?;
        Ok(sig)
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
    let der = rsa_pem_to_pkcs8_der(key_pem)?;
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
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
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
}
