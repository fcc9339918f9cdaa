//! Compact JWS: signing the tokens the emulator issues and checking the ones it receives.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use crate::crypto::{CryptoError, SigningKey};

/// Signs `claims` with the emulator's key as an RS256 JWT with `typ`, `alg`, `kid` (and `x5t`).
///
/// The encoded header is the key's, built once ([`SigningKey::jws_header`]); the claims are
/// serialized and encoded straight into the token's buffer.
pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, CryptoError> {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let header = key.jws_header();
    // header . claims . signature (256 bytes, 342 characters in base64url)
    let mut out = String::with_capacity(header.len() + json.len() * 4 / 3 + 350);
    out.push_str(header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut out);
    let sig = key.sign_rs256(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut out);
    Ok(out)
}

/// A JWT split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(claims)`: what the signature covers.
    pub signing_input: String,
    /// The raw signature.
    pub signature: Vec<u8>,
}

/// Why a JWT could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated base64url parts with JSON objects.
    #[error("the JWT is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is not one the emulator accepts.
    #[error("unsupported JWT algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify.
    #[error("the JWT signature does not verify")]
    BadSignature,
}

/// Decodes base64url with or without padding (MSAL Python pads thumbprints).
pub fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .or_else(|| URL_SAFE.decode(text).ok())
}

/// Splits and decodes a compact JWS without checking the signature.
pub fn decode_unverified(token: &str) -> Result<UnverifiedJwt, JwtError> {
    if token.len() > 64 * 1024 {
        return Err(JwtError::Malformed("longer than 64 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let object = |part: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = decode_b64url(part).ok_or(JwtError::Malformed("a part is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JwtError::Malformed("a part is not a JSON object")),
        }
    };
    Ok(UnverifiedJwt {
        header: object(h)?,
        claims: object(c)?,
        signing_input: format!("{h}.{c}"),
        signature: decode_b64url(s).ok_or(JwtError::Malformed("the signature is not base64url"))?,
    })
}

impl UnverifiedJwt {
    /// The `alg` header.
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// Verifies the signature with an RSA public key (PKCS#1 DER) for RS256 or PS256.
    pub fn verify_rsa(&self, rsa_public_key_der: &[u8]) -> Result<(), JwtError> {
        let alg: &dyn ring::signature::VerificationAlgorithm = match self.alg() {
            "RS256" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &ring::signature::RSA_PSS_2048_8192_SHA256,
            other => return Err(JwtError::UnsupportedAlgorithm(other.to_string())),
        };
        ring::signature::UnparsedPublicKey::new(alg, rsa_public_key_der)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::BadSignature)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim; floats (MSAL Python sends them) are truncated.
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        match self.claims.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.parse::<f64>().ok().map(|f| f as i64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_errors() {
        assert!(decode_unverified("a.b").is_err());
        assert!(decode_unverified("a.b.c.d").is_err());
        assert!(decode_unverified("!!.e30.").is_err());
        assert!(decode_unverified("e30.e30.").is_ok());
    }

    #[test]
    fn padded_base64url_is_accepted() {
        assert_eq!(decode_b64url("YQ=="), Some(b"a".to_vec()));
        assert_eq!(decode_b64url("YQ"), Some(b"a".to_vec()));
    }
}
