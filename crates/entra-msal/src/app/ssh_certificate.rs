//! SSH certificates: the user's RSA public key turned into the token request's `token_type`,
//! `req_cnf` (the key as a JWK) and `key_id` (MSAL Python's `data` for `az ssh`), and the check
//! that the answer is a certificate.
//!
//! Entra signs the key into an OpenSSH user certificate and returns it, base64 encoded, as the
//! access token with `token_type` `ssh-cert`; the certificate file `ssh` reads is that token
//! behind the key type `ssh-rsa-cert-v01@openssh.com`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::oauth::TokenResponse;

/// The `token_type` of an SSH certificate request and response.
pub const SSH_CERT_TOKEN_TYPE: &str = "ssh-cert";

/// The OpenSSH key type of the certificate an SSH certificate's access token holds: the first
/// word of a `-cert.pub` file.
pub const SSH_RSA_CERT_KEY_TYPE: &str = "ssh-rsa-cert-v01@openssh.com";

/// The smallest RSA key Entra signs, in bits.
const MIN_RSA_BITS: usize = 2048;

/// An SSH certificate request: the user's RSA public key and the `key_id` its certificates are
/// cached under. Set it as the `ssh_certificate` option of an interactive, silent, device-code
/// or username/password request; the result's access token is then the certificate
/// ([`AuthenticationResult::ssh_certificate_line`](super::AuthenticationResult::ssh_certificate_line))
/// and its `token_type` is `ssh-cert`.
///
/// ```no_run
/// use entra_msal::{PublicClientApplication, SilentOptions, SshCertificateRequest};
///
/// # async fn run(app: PublicClientApplication) -> Result<(), Box<dyn std::error::Error>> {
/// let public_key = std::fs::read_to_string("/home/me/.ssh/id_rsa.pub")?;
/// let options = SilentOptions {
///     ssh_certificate: Some(SshCertificateRequest::from_openssh_public_key(&public_key)?),
///     ..SilentOptions::default()
/// };
/// let scopes = ["https://pas.windows.net/CheckMyAccess/Linux/.default"];
/// let account = app.accounts(None).into_iter().next().ok_or("sign in first")?;
/// let result = app.acquire_token_silent(&scopes, &account, &options).await?;
/// if let Some(line) = result.ssh_certificate_line() {
///     std::fs::write("/home/me/.ssh/id_rsa-cert.pub", line + "\n")?; // `ssh` reads it
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCertificateRequest {
    /// The modulus, base64url without padding (JWK `n`).
    n: String,
    /// The public exponent, base64url without padding (JWK `e`).
    e: String,
    key_id: String,
}

impl SshCertificateRequest {
    /// From an OpenSSH public key line, as in `~/.ssh/id_rsa.pub`: `ssh-rsa AAAA… [comment]`.
    /// Only RSA keys of at least 2048 bits: Entra signs no other kind.
    pub fn from_openssh_public_key(line: &str) -> Result<Self, Error> {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
            return Err(bad_key(
                "expected an OpenSSH public key line `ssh-rsa AAAA… [comment]`",
            ));
        };
        if kind != "ssh-rsa" {
            return Err(bad_key(&format!(
                "the key is `{kind}`; Entra signs RSA keys only: create one with `ssh-keygen -t rsa -b 4096`"
            )));
        }
        let blob = STANDARD
            .decode(blob)
            .map_err(|e| bad_key(&format!("the key's base64 does not decode ({e})")))?;
        let mut reader = SshReader(&blob);
        let inner_kind = reader
            .string()
            .ok_or_else(|| bad_key("the key blob is cut short"))?;
        if inner_kind != b"ssh-rsa" {
            return Err(bad_key("the key blob is not an `ssh-rsa` key"));
        }
        let e = reader
            .mpint()
            .ok_or_else(|| bad_key("the key blob is cut short"))?;
        let n = reader
            .mpint()
            .ok_or_else(|| bad_key("the key blob is cut short"))?;
        if !reader.0.is_empty() {
            return Err(bad_key("the key blob has trailing bytes"));
        }
        Self::from_components(n, e)
    }

    /// From the RSA public key's JWK members `n` and `e` (base64url; padding optional).
    pub fn from_rsa_jwk(n: &str, e: &str) -> Result<Self, Error> {
        let decode = |name: &str, v: &str| {
            URL_SAFE_NO_PAD
                .decode(v.trim_end_matches('='))
                .map_err(|err| bad_key(&format!("the JWK's `{name}` is not base64url ({err})")))
        };
        let n = decode("n", n)?;
        let e = decode("e", e)?;
        Self::from_components(strip_zeros(&n), strip_zeros(&e))
    }

    fn from_components(n: &[u8], e: &[u8]) -> Result<Self, Error> {
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if bits < MIN_RSA_BITS {
            return Err(bad_key(&format!(
                "the RSA key has {bits} bits; Entra signs keys of at least {MIN_RSA_BITS} bits"
            )));
        }
        if e.is_empty() || e.len() > 8 || e.last().is_some_and(|b| b & 1 == 0) {
            return Err(bad_key("the RSA public exponent is not a valid odd number"));
        }
        let n = URL_SAFE_NO_PAD.encode(n);
        let e = URL_SAFE_NO_PAD.encode(e);
        // As `az ssh`: the SHA-256 of the base64url modulus then exponent, in hex.
        let mut digest = Sha256::new();
        digest.update(n.as_bytes());
        digest.update(e.as_bytes());
        let key_id = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self { n, e, key_id })
    }

    /// The same key under another `key_id` (the default is derived from the key, as `az ssh`
    /// derives it: the hex SHA-256 of the JWK's `n` then `e`).
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = key_id.into();
        self
    }

    /// The `key_id` its certificates are requested and cached under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The `req_cnf` parameter: the public key as a JWK (`kty`, `n`, `e`, `kid`), in JSON.
    pub fn req_cnf(&self) -> String {
        serde_json::json!({"kty": "RSA", "n": self.n, "e": self.e, "kid": self.key_id}).to_string()
    }

    /// The token-request parameters of this request.
    fn parameters(&self) -> [(&'static str, String); 3] {
        [
            ("token_type", SSH_CERT_TOKEN_TYPE.to_string()),
            ("req_cnf", self.req_cnf()),
            ("key_id", self.key_id.clone()),
        ]
    }
}

fn bad_key(why: &str) -> Error {
    Error::configuration(format!("the SSH public key cannot be used: {why}"))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Reads the SSH wire format (RFC 4251 §5): `string` and `mpint`.
struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.0 = rest;
        Some(value)
    }

    /// An unsigned `mpint`, without its sign byte.
    fn mpint(&mut self) -> Option<&'a [u8]> {
        self.string().map(strip_zeros)
    }
}

/// The extra body parameters of a user request: `data` plus an SSH certificate's, checked as
/// MSAL Python checks them (an `ssh-cert` request needs `req_cnf` and `key_id`).
pub(crate) fn request_parameters(
    data: &BTreeMap<String, String>,
    ssh: Option<&SshCertificateRequest>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut all = data.clone();
    if let Some(ssh) = ssh {
        for (name, value) in ssh.parameters() {
            if all.get(name).is_some_and(|v| *v != value) {
                return Err(Error::configuration(format!(
                    "`{name}` is given both in `data` and by `ssh_certificate`: set it once"
                )));
            }
            all.insert(name.to_string(), value);
        }
    }
    if all.get("token_type").map(String::as_str) == Some(SSH_CERT_TOKEN_TYPE) {
        for (name, what) in [
            ("req_cnf", "the public key as a JWK"),
            ("key_id", "the id of the key in `req_cnf`"),
        ] {
            if all.get(name).is_none_or(String::is_empty) {
                return Err(Error::configuration(format!(
                    "an SSH certificate request needs `{name}` ({what}); use the `ssh_certificate` option, which sets it"
                )));
            }
        }
    }
    Ok(all)
}

/// When an SSH certificate was asked for, checks that the answer is one (`token_type`
/// `ssh-cert`, and an access token that is a base64 SSH blob, as MSAL Python's broker checks).
pub(crate) fn check_response(
    requested: Option<&str>,
    response: &TokenResponse,
    url: &str,
) -> Result<(), Error> {
    if requested != Some(SSH_CERT_TOKEN_TYPE) {
        return Ok(());
    }
    let token_type = response.token_type();
    let token = response.access_token().unwrap_or_default();
    if !token_type.eq_ignore_ascii_case(SSH_CERT_TOKEN_TYPE) || !token.starts_with("AAAA") {
        return Err(Error::InvalidResponse {
            url: url.to_string(),
            status: 200,
            message: format!(
                "an SSH certificate was requested but the identity provider returned a token of type `{token_type}` that is not a certificate; check that the authority issues SSH certificates for this scope"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MSAL Python's test key (`__main__._JWK1`) as an OpenSSH public key line.
    const OPENSSH_RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDa02vvfHByPqUftupFmsXOBIuPs54t9ufzbXq44wMe5pnpMRQEM3xTPS97yMCUqw/0JAUJJWhI2i90T5+ztzXkzEQYeMNw0otaifOfGKaPykMZlCNV18r7uYbo/rP6WBVwu5i7klxZT894SogqDmWU5rP6p5DgsQNLhPUPapZEakCtrislfX6SataZf9chqarfQL0Qg7SAa5PitzaEkFZD7j4WcTU1ebLXbnB9Pc12i0AkarmUwh+GN+CUNskLCFzw57Xs5GM7cWwHkIu4FGliY/s3OfrqVFjcV7XVfPwAQGXdqcoVIlxO+UycW27cSkP56Jod9OBEFTsLO0ZCpVuJ user@host";

    /// MSAL Python's `__main__._JWK1`: the same key as a JWK.
    const JWK1_N: &str = "2tNr73xwcj6lH7bqRZrFzgSLj7OeLfbn8216uOMDHuaZ6TEUBDN8Uz0ve8jAlKsP9CQFCSVoSNovdE-fs7c15MxEGHjDcNKLWonznximj8pDGZQjVdfK-7mG6P6z-lgVcLuYu5JcWU_PeEqIKg5llOaz-qeQ4LEDS4T1D2qWRGpAra4rJX1-kmrWmX_XIamq30C9EIO0gGuT4rc2hJBWQ-4-FnE1NXmy125wfT3NdotAJGq5lMIfhjfglDbJCwhc8Oe17ORjO3FsB5CLuBRpYmP7Nzn66lRY3Fe11Xz8AEBl3anKFSJcTvlMnFtu3EpD-eiaHfTgRBU7CztGQqVbiQ";

    #[test]
    fn an_openssh_rsa_line_becomes_the_jwk_entra_expects() {
        let from_line = SshCertificateRequest::from_openssh_public_key(OPENSSH_RSA).unwrap();
        let from_jwk = SshCertificateRequest::from_rsa_jwk(JWK1_N, "AQAB").unwrap();
        assert_eq!(from_line, from_jwk);
        let jwk: serde_json::Value = serde_json::from_str(&from_line.req_cnf()).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["n"], JWK1_N);
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], from_line.key_id());
        // The key id `az ssh` derives: hex SHA-256 of n then e.
        let expected: String = Sha256::digest(format!("{JWK1_N}AQAB").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(from_line.key_id(), expected);
        assert_eq!(from_line.clone().with_key_id("k1").key_id(), "k1");
    }

    #[test]
    fn keys_entra_does_not_sign_are_refused_with_the_reason() {
        let msg = |r: Result<SshCertificateRequest, Error>| r.unwrap_err().to_string();
        assert!(
            msg(SshCertificateRequest::from_openssh_public_key(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE user"
            ))
            .contains("RSA keys only")
        );
        assert!(
            msg(SshCertificateRequest::from_openssh_public_key("ssh-rsa")).contains("expected")
        );
        assert!(
            msg(SshCertificateRequest::from_openssh_public_key(
                "ssh-rsa !!!"
            ))
            .contains("base64")
        );
        assert!(
            msg(SshCertificateRequest::from_openssh_public_key(
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"
            ))
            .contains("cut short")
        );
        // 1024-bit modulus.
        let small = URL_SAFE_NO_PAD.encode([0xc5u8; 128]);
        assert!(msg(SshCertificateRequest::from_rsa_jwk(&small, "AQAB")).contains("1024 bits"));
        assert!(msg(SshCertificateRequest::from_rsa_jwk(JWK1_N, "AQAA")).contains("exponent"));
    }

    #[test]
    fn request_parameters_merge_and_check_like_msal_python() {
        let ssh = SshCertificateRequest::from_rsa_jwk(JWK1_N, "AQAB")
            .unwrap()
            .with_key_id("key1");
        let params = request_parameters(&BTreeMap::new(), Some(&ssh)).unwrap();
        assert_eq!(params["token_type"], "ssh-cert");
        assert_eq!(params["key_id"], "key1");
        assert_eq!(params["req_cnf"], ssh.req_cnf());
        let data = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let missing =
            request_parameters(&data(&[("token_type", "ssh-cert"), ("key_id", "k")]), None);
        assert!(missing.unwrap_err().to_string().contains("`req_cnf`"));
        let clash = request_parameters(&data(&[("key_id", "other")]), Some(&ssh));
        assert!(clash.unwrap_err().to_string().contains("`key_id`"));
        assert_eq!(
            request_parameters(&data(&[("x", "1")]), None).unwrap()["x"],
            "1"
        );
    }

    #[test]
    fn an_answer_that_is_not_a_certificate_is_refused_as_msal_python_refuses_it() {
        let response = |token_type: &str, token: &str| -> TokenResponse {
            serde_json::from_value(
                serde_json::json!({"token_type": token_type, "access_token": token}),
            )
            .unwrap()
        };
        let url = "https://login.example/t/oauth2/v2.0/token";
        let cert = response("ssh-cert", "AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20");
        assert!(check_response(Some("ssh-cert"), &cert, url).is_ok());
        let bearer = response("Bearer", "eyJ0eXAiOiJKV1QifQ.e30.sig");
        let err = check_response(Some("ssh-cert"), &bearer, url).unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
        assert!(err.to_string().contains("`Bearer`"), "{err}");
        let err = check_response(Some("ssh-cert"), &response("ssh-cert", "eyJ"), url);
        assert!(err.is_err());
        // Bearer requests are not checked.
        assert!(check_response(None, &bearer, url).is_ok());
    }
}
