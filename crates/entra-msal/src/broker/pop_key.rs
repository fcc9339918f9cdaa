//! Proof-of-possession with a key this library holds, for the brokers that bind a token to the
//! client's key instead of signing the HTTP request themselves (the macOS SSO extension and WAM
//! through WinRT). The Linux broker signs the request itself and needs none of this.
//!
//! The wire shapes are Microsoft's:
//! - `req_cnf` is base64url(`{"kid":"<thumbprint>"}`), the thumbprint being base64url(SHA-256)
//!   of the canonical public JWK `{"e":…,"kty":"RSA","n":…}` (RFC 7638), as MSAL.NET computes it
//!   (AzureAD/microsoft-authentication-library-for-dotnet
//!   src/client/Microsoft.Identity.Client/AuthScheme/PoP/PoPAuthenticationScheme.cs
//!   `ComputeThumbprint`, `ComputeReqCnf`) and as MSAL ObjC reads it back
//!   (AzureAD/microsoft-authentication-library-common-for-objc
//!   IdentityCore/src/auth_scheme/MSIDAuthenticationSchemePop.m `initWithSchemeParameters`:
//!   base64url-decodes `req_cnf` and reads its `kid`);
//! - the token request carries `token_type=pop` and `req_cnf` (MSIDAuthenticationSchemePop.m
//!   `jsonDictionary`; MSAL.NET's WinRT WAM broker noted the same two properties for WAM,
//!   src/client/Microsoft.Identity.Client/Platforms/Features/WamBroker/WamBroker.cs
//!   `AcquireTokenSilentAsync`, "add POP support by adding token_type = pop and req_cnf");
//! - the signed HTTP request (SHR) is a JWS RS256 with header `{"alg","kid","typ":"pop"}` and
//!   payload `{"at","ts","m","u","p","nonce","cnf":{"jwk":…}}` (PoPAuthenticationScheme.cs
//!   `CreatePopToken`; MSIDAuthenticationSchemePop.m `getSecret` → `createSignedAccessToken`).

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::{Digest, Sha256};

use super::{BrokerError, BrokerPlatform, BrokerStatus, PopParams};

#[cfg(any(test, all(feature = "broker", any(target_os = "macos", windows))))]
fn generate_rsa_pkcs8() -> Result<Vec<u8>, String> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| e.to_string())?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    Ok(der.as_bytes().to_vec())
}

#[cfg(not(any(test, all(feature = "broker", any(target_os = "macos", windows)))))]
fn generate_rsa_pkcs8() -> Result<Vec<u8>, String> {
    Err("client-held proof-of-possession keys exist only for the macOS and Windows brokers".into())
}

/// Whether the broker of `platform` binds PoP tokens to a key the client holds (and the client
/// signs the HTTP request): macOS and Windows. The Linux broker (and WAM behind the WSL helper,
/// through msalruntime) sign the request themselves.
pub fn client_signs_pop(platform: BrokerPlatform) -> bool {
    matches!(platform, BrokerPlatform::MacOs | BrokerPlatform::Windows)
}

/// An RSA key that proof-of-possession tokens are bound to.
pub struct PopKey {
    pair: RsaKeyPair,
    n: String,
    e: String,
    kid: String,
}

impl std::fmt::Debug for PopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PopKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn key_error(what: impl std::fmt::Display, platform: BrokerPlatform) -> BrokerError {
    BrokerError::new(
        platform,
        BrokerStatus::Unexpected,
        format!("the proof-of-possession key is unusable: {what}"),
    )
}

impl PopKey {
    /// A key from a PKCS#8 DER RSA private key (2048 bits or more).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        let public = pair.public().modulus_len();
        if public < 256 {
            return Err("the key is shorter than 2048 bits".into());
        }
        let components = pair.public_key();
        let (n, e) = rsa_components(components.as_ref())?;
        let n = URL_SAFE_NO_PAD.encode(n);
        let e = URL_SAFE_NO_PAD.encode(e);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_jwk(&n, &e).as_bytes()));
        Ok(Self { pair, n, e, kid })
    }

    /// A fresh RSA-2048 key. `ring` cannot generate RSA keys, so the `rsa` crate does, and only
    /// where a broker needs a client-held key (macOS and Windows with the `broker` feature):
    /// key generation only, never decryption, which is what RUSTSEC-2023-0071 concerns.
    pub fn generate() -> Result<Self, String> {
        Self::from_pkcs8(&generate_rsa_pkcs8()?)
    }

    /// The process-wide key (made on first use, as MSAL.NET keeps one in-memory key per process).
    pub fn process_key(platform: BrokerPlatform) -> Result<Arc<PopKey>, BrokerError> {
        static KEY: OnceLock<Result<Arc<PopKey>, String>> = OnceLock::new();
        KEY.get_or_init(|| Self::generate().map(Arc::new))
            .clone()
            .map_err(|e| key_error(e, platform))
    }

    /// The RFC 7638 thumbprint (base64url SHA-256 of the canonical JWK): the `kid`.
    #[cfg(test)]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`{"e","kty","n"}`, members in lexicographic order).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({"e": self.e, "kty": "RSA", "n": self.n})
    }

    /// `req_cnf`: base64url(`{"kid":"<thumbprint>"}`).
    pub fn req_cnf(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::json!({ "kid": self.kid }).to_string())
    }

    /// The signed HTTP request for `access_token` and `pop` at Unix time `ts`. Without a server
    /// nonce a random one is used, as MSAL.NET does.
    pub fn sign_http_request(
        &self,
        access_token: &str,
        pop: &PopParams,
        ts: i64,
        platform: BrokerPlatform,
    ) -> Result<String, BrokerError> {
        let header = serde_json::json!({"alg": "RS256", "kid": self.kid, "typ": "pop"});
        let nonce = pop
            .nonce
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let payload = serde_json::json!({
            "at": access_token,
            "ts": ts,
            "m": pop.http_method.to_ascii_uppercase(),
            "u": pop.uri_host,
            "p": pop.uri_path,
            "nonce": nonce,
            "cnf": {"jwk": self.jwk()},
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|e| key_error(e, platform))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn canonical_jwk(n: &str, e: &str) -> String {
    format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#)
}

/// The modulus and exponent of a DER `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`),
/// without leading zero bytes.
fn rsa_components(der: &[u8]) -> Result<(&[u8], &[u8]), String> {
    fn read_len(der: &[u8], at: &mut usize) -> Result<usize, String> {
        let first = *der.get(*at).ok_or("truncated key")?;
        *at += 1;
        if first < 0x80 {
            return Ok(usize::from(first));
        }
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err("bad DER length".into());
        }
        let mut len = 0usize;
        for _ in 0..count {
            len = (len << 8) | usize::from(*der.get(*at).ok_or("truncated key")?);
            *at += 1;
        }
        Ok(len)
    }
    fn read_integer<'a>(der: &'a [u8], at: &mut usize) -> Result<&'a [u8], String> {
        if der.get(*at) != Some(&0x02) {
            return Err("expected an INTEGER".into());
        }
        *at += 1;
        let len = read_len(der, at)?;
        let value = der.get(*at..*at + len).ok_or("truncated key")?;
        *at += len;
        let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
        Ok(&value[start..])
    }
    let mut at = 0;
    if der.first() != Some(&0x30) {
        return Err("expected a SEQUENCE".into());
    }
    at += 1;
    read_len(der, &mut at)?;
    let n = read_integer(der, &mut at)?;
    let e = read_integer(der, &mut at)?;
    Ok((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7638 §3.1's example key: its thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn thumbprint_is_rfc7638() {
        let digest = Sha256::digest(canonical_jwk(RFC7638_N, "AQAB").as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(digest),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn req_cnf_and_signed_request() {
        let key = PopKey::generate().unwrap();
        // req_cnf decodes to {"kid": thumbprint}, as MSIDAuthenticationSchemePop.m reads it.
        let cnf: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(key.req_cnf()).unwrap()).unwrap();
        assert_eq!(cnf, serde_json::json!({"kid": key.kid()}));
        let jwk = key.jwk();
        let recomputed = URL_SAFE_NO_PAD.encode(Sha256::digest(
            canonical_jwk(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).as_bytes(),
        ));
        assert_eq!(recomputed, key.kid());
        assert_eq!(jwk["e"], "AQAB");

        let pop = PopParams {
            http_method: "get".into(),
            uri_host: "graph.microsoft.com".into(),
            uri_path: "/v1.0/me".into(),
            nonce: Some("nonce-1".into()),
        };
        let shr = key
            .sign_http_request("AT", &pop, 1_700_000_000, BrokerPlatform::MacOs)
            .unwrap();
        let parts: Vec<&str> = shr.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "kid": key.kid(), "typ": "pop"})
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["at"], "AT");
        assert_eq!(payload["ts"], 1_700_000_000);
        assert_eq!(payload["m"], "GET");
        assert_eq!(payload["u"], "graph.microsoft.com");
        assert_eq!(payload["p"], "/v1.0/me");
        assert_eq!(payload["nonce"], "nonce-1");
        assert_eq!(payload["cnf"]["jwk"], jwk);
        // The signature verifies with the public key.
        let public = ring::signature::RsaPublicKeyComponents {
            n: URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
            e: URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap(),
        };
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
        assert!(client_signs_pop(BrokerPlatform::Windows));
        assert!(client_signs_pop(BrokerPlatform::MacOs));
        assert!(!client_signs_pop(BrokerPlatform::Linux));
        assert!(!client_signs_pop(BrokerPlatform::Wsl));
    }
}
