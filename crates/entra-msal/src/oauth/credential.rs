//! Client credentials of a confidential client: a secret, a certificate, or an assertion
//! callback. Secrets never appear in `Debug` output.

use std::sync::Arc;

use super::assertion::{AssertionCache, CertificateCredential};
use super::assertion_source::{AssertionFile, MemoizedAssertion};
use super::grants::Form;
use crate::error::Error;

/// A client secret. `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret, for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// What the assertion callback receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRequest {
    /// The client id.
    pub client_id: String,
    /// The token endpoint the assertion is for (its `aud`).
    pub token_endpoint: String,
}

/// A function that produces a signed client assertion (for example a federated credential).
pub type AssertionCallback = Arc<dyn Fn(&AssertionRequest) -> Result<String, Error> + Send + Sync>;

/// How a confidential client authenticates.
#[derive(Clone)]
pub enum ClientCredential {
    /// `client_secret` in the form body (client_secret_post), as MSAL does.
    Secret(ClientSecret),
    /// A certificate: the library signs assertions (PS256 + `x5t#S256`, or RS256 + `x5t`).
    Certificate(Arc<CertificateCredential>, Arc<AssertionCache>),
    /// An assertion produced by the caller.
    Assertion(AssertionCallback),
    /// An assertion produced by the caller, reused until its lifetime ends.
    MemoizedAssertion(Arc<MemoizedAssertion>),
    /// An assertion read from a file for every request (workload identity federation).
    AssertionFile(AssertionFile),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("ClientCredential::Secret([redacted])"),
            Self::Certificate(c, _) => write!(f, "ClientCredential::Certificate({c:?})"),
            Self::Assertion(_) => f.write_str("ClientCredential::Assertion(<callback>)"),
            Self::MemoizedAssertion(m) => write!(f, "ClientCredential::MemoizedAssertion({m:?})"),
            Self::AssertionFile(file) => write!(
                f,
                "ClientCredential::AssertionFile({})",
                file.path().display()
            ),
        }
    }
}

impl ClientCredential {
    /// The text [`add_form_fields`](Self::add_form_fields) sends that is the same for every
    /// request, owned by this credential: a secret's. An assertion is made per request.
    #[inline]
    pub(crate) fn constant_text(&self) -> Option<&str> {
        match self {
            Self::Secret(secret) => Some(secret.expose()),
            _ => None,
        }
    }

    /// Adds the form fields that authenticate the client for `token_endpoint` to `form`.
    pub fn add_form_fields<'a>(
        &'a self,
        form: &mut Form<'a>,
        client_id: &str,
        token_endpoint: &str,
        now: i64,
    ) -> Result<(), Error> {
        const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        let assertion = match self {
            Self::Secret(secret) => {
                form.push(("client_secret".into(), secret.expose().into()));
                return Ok(());
            }
            Self::Certificate(cert, cache) => {
                cache.get_or_sign(cert, client_id, token_endpoint, now)?
            }
            Self::Assertion(callback) => callback(&AssertionRequest {
                client_id: client_id.to_string(),
                token_endpoint: token_endpoint.to_string(),
            })?,
            Self::MemoizedAssertion(memo) => memo.get(
                &AssertionRequest {
                    client_id: client_id.to_string(),
                    token_endpoint: token_endpoint.to_string(),
                },
                now,
            )?,
            Self::AssertionFile(file) => file.read()?,
        };
        form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
        form.push(("client_assertion".into(), assertion.into()));
        Ok(())
    }
}
