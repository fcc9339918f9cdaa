//! SSH certificates: the emulator's SSH certificate authority and the OpenSSH user
//! certificates (`ssh-rsa-cert-v01@openssh.com`, OpenSSH's `PROTOCOL.certkeys`) it issues for a
//! token request with `token_type=ssh-cert`, as Entra does for `az ssh`.
//!
//! The request's `req_cnf` is the user's RSA public key as a JWK (`kty` `RSA`, `n`, `e`); the
//! certificate names the user's UPN as its one principal, carries the usual `permit-*`
//! extensions, and is signed by the CA with `rsa-sha2-512`. The access token is the
//! certificate blob in base64, the second word of a `-cert.pub` file.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use ring::signature::{KeyPair as _, RsaKeyPair};
use sha2::{Digest as _, Sha256};

use crate::crypto::{self, CryptoError};

/// The OpenSSH key type of the certificates the emulator issues.
pub const CERT_KEY_TYPE: &str = "ssh-rsa-cert-v01@openssh.com";

/// The comment of the CA's public key line.
const CA_COMMENT: &str = "entra-emulator-ssh-ca";

/// The extensions of every certificate, in the lexical order OpenSSH requires.
const EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// The smallest and largest RSA keys accepted in `req_cnf`, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=16384;

/// The SSH certificate authority: an RSA key that signs user certificates.
pub struct SshCa {
    /// AWS-LC's view of the key, which signs.
    signer: aws_lc_rs::rsa::KeyPair,
    /// The CA's public key in the SSH wire format (`ssh-rsa`, e, n).
    public_blob: Vec<u8>,
}

impl std::fmt::Debug for SshCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCa")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// An RSA public key, from a `req_cnf` JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The modulus, big-endian, no leading zeros.
    pub n: Vec<u8>,
    /// The public exponent, big-endian, no leading zeros.
    pub e: Vec<u8>,
}

/// What one user certificate says.
#[derive(Debug, Clone)]
pub struct UserCertificate<'a> {
    /// The user's key.
    pub key: &'a RsaPublicKey,
    /// The serial number.
    pub serial: u64,
    /// The key id (logged by `sshd`).
    pub key_id: &'a str,
    /// The principals (user names) it is valid for.
    pub principals: &'a [&'a str],
    /// Valid from (Unix seconds).
    pub valid_after: u64,
    /// Valid until (Unix seconds).
    pub valid_before: u64,
}

impl SshCa {
    /// The CA with the RSA private key in `pem` (PKCS#8 or PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = crypto::rsa_pem_to_pkcs8_der(pem)?;
        let ring_key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| CryptoError::Parse(format!("ring rejected the RSA key: {e}")))?;
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = ring_key.public_key().into();
        let signer = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)
            .map_err(|e| CryptoError::Parse(format!("AWS-LC rejected the RSA key: {e}")))?;
        let public_blob = rsa_public_blob(&RsaPublicKey {
            n: strip_zeros(&components.n).to_vec(),
            e: strip_zeros(&components.e).to_vec(),
        });
        Ok(Self {
            signer,
            public_blob,
        })
    }

    /// The CA's public key as an OpenSSH line (`ssh-rsa AAAA… entra-emulator-ssh-ca`): the
    /// content of `sshd`'s `TrustedUserCAKeys` file.
    pub fn public_key_line(&self) -> String {
        format!(
            "ssh-rsa {} {CA_COMMENT}",
            STANDARD.encode(&self.public_blob)
        )
    }

    /// The CA key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64
    /// SHA-256 of the public key blob.
    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            STANDARD_NO_PAD.encode(Sha256::digest(&self.public_blob))
        )
    }

    /// Issues `cert`, returning the certificate blob in base64 (the access token).
    pub fn issue(&self, cert: &UserCertificate<'_>) -> Result<String, CryptoError> {
        let mut body = Vec::with_capacity(1024);
        put_string(&mut body, CERT_KEY_TYPE.as_bytes());
        put_string(&mut body, &rand::random::<[u8; 32]>());
        put_mpint(&mut body, &cert.key.e);
        put_mpint(&mut body, &cert.key.n);
        body.extend_from_slice(&cert.serial.to_be_bytes());
        body.extend_from_slice(&1u32.to_be_bytes()); // SSH2_CERT_TYPE_USER
        put_string(&mut body, cert.key_id.as_bytes());
        let mut principals = Vec::new();
        for principal in cert.principals {
            put_string(&mut principals, principal.as_bytes());
        }
        put_string(&mut body, &principals);
        body.extend_from_slice(&cert.valid_after.to_be_bytes());
        body.extend_from_slice(&cert.valid_before.to_be_bytes());
        put_string(&mut body, &[]); // no critical options
        let mut extensions = Vec::new();
        for name in EXTENSIONS {
            put_string(&mut extensions, name.as_bytes());
            put_string(&mut extensions, &[]);
        }
        put_string(&mut body, &extensions);
        put_string(&mut body, &[]); // reserved
        put_string(&mut body, &self.public_blob);
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA512,
                &aws_lc_rs::rand::SystemRandom::new(),
                &body,
                &mut sig,
            )
            .map_err(|_| CryptoError::Sign)?;
        let mut signature = Vec::with_capacity(sig.len() + 32);
        put_string(&mut signature, b"rsa-sha2-512");
        put_string(&mut signature, &sig);
        put_string(&mut body, &signature);
        Ok(STANDARD.encode(body))
    }
}

/// Reads the `req_cnf` of an SSH certificate request: a JWK of an RSA public key of 2048 to
/// 16384 bits. The error says what is wrong.
pub fn parse_req_cnf(req_cnf: &str) -> Result<RsaPublicKey, String> {
    let jwk: serde_json::Value = serde_json::from_str(req_cnf)
        .map_err(|e| format!("'req_cnf' is not a JSON Web Key (JSON: {e})"))?;
    let member = |name: &str| {
        jwk.get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("'req_cnf' has no string member '{name}'"))
    };
    let kty = member("kty")?;
    if kty != "RSA" {
        return Err(format!(
            "'req_cnf' has kty '{kty}'; SSH certificates are issued for RSA keys only"
        ));
    }
    let decode = |name: &str| -> Result<Vec<u8>, String> {
        let value = member(name)?;
        URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map(|v| strip_zeros(&v).to_vec())
            .map_err(|e| format!("'req_cnf' member '{name}' is not base64url: {e}"))
    };
    let n = decode("n")?;
    let e = decode("e")?;
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if !RSA_BITS.contains(&bits) {
        return Err(format!(
            "the RSA key in 'req_cnf' has {bits} bits; 2048 to 16384 are accepted"
        ));
    }
    if e.is_empty() || e.len() > 8 || e.last().is_some_and(|b| b & 1 == 0) {
        return Err("the RSA exponent in 'req_cnf' is not a valid odd number".into());
    }
    Ok(RsaPublicKey { n, e })
}

/// The SSH wire encoding of an RSA public key (`ssh-rsa`, e, n).
fn rsa_public_blob(key: &RsaPublicKey) -> Vec<u8> {
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-rsa");
    put_mpint(&mut blob, &key.e);
    put_mpint(&mut blob, &key.n);
    blob
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A non-negative `mpint` (RFC 4251 §5): a zero byte before a set high bit.
fn put_mpint(out: &mut Vec<u8>, unsigned: &[u8]) {
    let value = strip_zeros(unsigned);
    let pad = value.first().is_some_and(|b| b & 0x80 != 0);
    out.extend_from_slice(&((value.len() + usize::from(pad)) as u32).to_be_bytes());
    if pad {
        out.push(0);
    }
    out.extend_from_slice(value);
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MSAL Python's test JWK (`msal.__main__._JWK1`).
    const JWK1: &str = r#"{"kty":"RSA", "n":"2tNr73xwcj6lH7bqRZrFzgSLj7OeLfbn8216uOMDHuaZ6TEUBDN8Uz0ve8jAlKsP9CQFCSVoSNovdE-fs7c15MxEGHjDcNKLWonznximj8pDGZQjVdfK-7mG6P6z-lgVcLuYu5JcWU_PeEqIKg5llOaz-qeQ4LEDS4T1D2qWRGpAra4rJX1-kmrWmX_XIamq30C9EIO0gGuT4rc2hJBWQ-4-FnE1NXmy125wfT3NdotAJGq5lMIfhjfglDbJCwhc8Oe17ORjO3FsB5CLuBRpYmP7Nzn66lRY3Fe11Xz8AEBl3anKFSJcTvlMnFtu3EpD-eiaHfTgRBU7CztGQqVbiQ", "e":"AQAB"}"#;

    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn string(&mut self) -> &'a [u8] {
            let len = u32::from_be_bytes(self.0[..4].try_into().unwrap()) as usize;
            let (v, rest) = self.0[4..].split_at(len);
            self.0 = rest;
            v
        }
        fn u64(&mut self) -> u64 {
            let v = u64::from_be_bytes(self.0[..8].try_into().unwrap());
            self.0 = &self.0[8..];
            v
        }
        fn u32(&mut self) -> u32 {
            let v = u32::from_be_bytes(self.0[..4].try_into().unwrap());
            self.0 = &self.0[4..];
            v
        }
    }

    fn ca() -> SshCa {
        SshCa::from_pem(&crypto::generate_rsa_key_pem().unwrap()).unwrap()
    }

    #[test]
    fn a_certificate_has_the_openssh_layout_and_a_valid_ca_signature() {
        let ca = ca();
        let key = parse_req_cnf(JWK1).unwrap();
        assert_eq!(key.e, vec![1, 0, 1]);
        assert_eq!(key.n.len(), 256);
        let blob = ca
            .issue(&UserCertificate {
                key: &key,
                serial: 7,
                key_id: "key1",
                principals: &["alice@contoso.com"],
                valid_after: 1_000,
                valid_before: 4_600,
            })
            .unwrap();
        assert!(blob.starts_with("AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20"));
        let bytes = STANDARD.decode(&blob).unwrap();
        let mut r = Reader(&bytes);
        assert_eq!(r.string(), CERT_KEY_TYPE.as_bytes());
        assert_eq!(r.string().len(), 32);
        assert_eq!(r.string(), [1, 0, 1]);
        let n = r.string();
        assert_eq!((n[0], &n[1..]), (0, key.n.as_slice()));
        assert_eq!(r.u64(), 7);
        assert_eq!(r.u32(), 1);
        assert_eq!(r.string(), b"key1");
        assert_eq!(Reader(r.string()).string(), b"alice@contoso.com");
        assert_eq!((r.u64(), r.u64()), (1_000, 4_600));
        assert_eq!(r.string(), b"");
        let mut ext = Reader(r.string());
        let names: Vec<_> = (0..5)
            .map(|_| {
                let name = String::from_utf8(ext.string().to_vec()).unwrap();
                assert_eq!(ext.string(), b"");
                name
            })
            .collect();
        assert_eq!(names, EXTENSIONS);
        assert_eq!(r.string(), b"");
        let ca_blob = r.string();
        assert_eq!(ca_blob, ca.public_blob.as_slice());
        let signed_len = bytes.len() - r.0.len();
        let mut sig = Reader(r.string());
        assert!(r.0.is_empty());
        assert_eq!(sig.string(), b"rsa-sha2-512");
        let signature = sig.string();
        // Verify with the CA's public key.
        let mut ca_reader = Reader(ca_blob);
        ca_reader.string();
        let e = strip_zeros(ca_reader.string()).to_vec();
        let n = strip_zeros(ca_reader.string()).to_vec();
        ring::signature::RsaPublicKeyComponents { n, e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA512,
                &bytes[..signed_len],
                signature,
            )
            .expect("the CA's signature verifies");
        assert!(ca.public_key_line().starts_with("ssh-rsa AAAAB3NzaC1yc2E"));
        assert!(ca.fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn bad_req_cnf_values_say_what_is_wrong() {
        let err = |s: &str| parse_req_cnf(s).unwrap_err();
        assert!(err("not json").contains("not a JSON Web Key"));
        assert!(err(r#"{"kty":"EC","crv":"P-256"}"#).contains("RSA keys only"));
        assert!(err(r#"{"kty":"RSA","e":"AQAB"}"#).contains("'n'"));
        assert!(err(r#"{"kty":"RSA","n":"!!","e":"AQAB"}"#).contains("base64url"));
        let small = URL_SAFE_NO_PAD.encode([0xc5u8; 128]);
        assert!(err(&format!(r#"{{"kty":"RSA","n":"{small}","e":"AQAB"}}"#)).contains("1024 bits"));
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]);
        assert!(err(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAA"}}"#)).contains("exponent"));
    }
}
