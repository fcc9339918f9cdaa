//! One token request's context, shared by every flow: the validated scopes and the ones sent
//! (decorated with the reserved scopes), the `claims` parameter (client capabilities merged with
//! a claims challenge), and the correlation id, created only when a request goes out.
//!
//! Every flow runs the same pipeline: [`ClientCore::begin`] → (cache lookup) →
//! [`ClientCore::send`] → [`ClientCore::finish`] (decode once, file in the cache, shape the
//! result from what was filed).

use std::sync::OnceLock;

use super::claims;
use super::core::ClientCore;
use super::scopes::{self, PreparedScopes};
use crate::error::Error;
use crate::oauth::TokenResponse;

/// A fresh correlation id (a random UUID): the one place the library makes them.
pub(crate) fn new_correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request's correlation id (`client-request-id`): made on first use, so a request answered
/// from the cache never makes one.
#[derive(Debug, Default)]
pub(crate) struct CorrelationId(OnceLock<String>);

impl CorrelationId {
    /// The id, made now if this is its first use.
    pub fn get(&self) -> &str {
        self.0.get_or_init(new_correlation_id)
    }

    /// The id if one was made (a request went out), else `""`.
    pub fn if_made(&self) -> &str {
        self.0.get().map(String::as_str).unwrap_or("")
    }
}

/// One token request's context (see the module docs).
#[derive(Debug)]
pub(crate) struct Request {
    /// The scopes the caller asked for, validated.
    pub scopes: Vec<String>,
    /// The scopes sent: [`scopes`](Self::scopes) with the reserved scopes, minus the
    /// application's excluded ones (empty for an app-only request, which sends `scopes`).
    pub decorated: Vec<String>,
    /// The `claims` parameter to send, if any.
    pub claims: Option<String>,
    correlation_id: CorrelationId,
}

impl Request {
    /// The correlation id of this request, made on first use (when a request goes out).
    pub fn correlation_id(&self) -> &str {
        self.correlation_id.get()
    }

    /// The correlation id if a request went out, else `""` (a result from the cache).
    pub fn correlation_id_if_sent(&self) -> &str {
        self.correlation_id.if_made()
    }
}

impl ClientCore {
    /// Starts a request for `scopes` (validated here) with an optional claims challenge.
    pub fn begin(&self, scopes: &[&str], claims_challenge: Option<&str>) -> Result<Request, Error> {
        self.begin_validated(scopes::validate(scopes)?, claims_challenge)
    }

    /// [`begin`](Self::begin) for an app-only request (client credentials) whose scopes were
    /// prepared ([`ScopeMemo::prepare`](super::scopes::ScopeMemo::prepare)); they are sent as
    /// given: its [`Request::decorated`] is empty.
    pub fn begin_app_only(
        &self,
        scopes: &PreparedScopes,
        claims_challenge: Option<&str>,
    ) -> Result<Request, Error> {
        Ok(Request {
            decorated: Vec::new(),
            claims: claims::merged(&self.capabilities, claims_challenge)?,
            scopes: scopes.validated.clone(),
            correlation_id: CorrelationId::default(),
        })
    }

    /// [`begin`](Self::begin) for scopes validated earlier (a flow started before).
    pub fn begin_validated(
        &self,
        scopes: Vec<String>,
        claims_challenge: Option<&str>,
    ) -> Result<Request, Error> {
        Ok(Request {
            decorated: scopes::decorate(&scopes, &self.exclude_scopes),
            claims: claims::merged(&self.capabilities, claims_challenge)?,
            scopes,
            correlation_id: CorrelationId::default(),
        })
    }

    /// The request of a flow that started earlier (an auth-code flow being redeemed): its
    /// scopes were validated and its claims merged when it started.
    pub fn resume(&self, scopes: Vec<String>, claims: Option<String>) -> Request {
        Request {
            decorated: scopes::decorate(&scopes, &self.exclude_scopes),
            claims,
            scopes,
            correlation_id: CorrelationId::default(),
        }
    }

    /// Sends `request`'s token request (`form`, plus `headers`) to `token_endpoint`.
    pub async fn send(
        &self,
        request: &Request,
        token_endpoint: &str,
        form: Vec<(String, String)>,
        headers: Vec<(String, String)>,
    ) -> Result<TokenResponse, Error> {
        self.redeem(token_endpoint, form, request.correlation_id(), headers)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correlation_id_is_made_on_first_use_only() {
        let id = CorrelationId::default();
        assert_eq!(id.if_made(), "");
        let made = id.get().to_string();
        assert_eq!(made.len(), 36);
        assert_eq!(id.get(), made);
        assert_eq!(id.if_made(), made);
    }
}
