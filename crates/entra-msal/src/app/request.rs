//! One token request's context, shared by every flow: the validated scopes and the ones sent
//! (decorated with the reserved scopes), the `claims` parameter (client capabilities merged with
//! a claims challenge), and the correlation id, created only when a request goes out.
//!
//! Every flow runs the same pipeline: [`ClientCore::begin`] → (cache lookup) →
//! [`ClientCore::send`] → [`ClientCore::finish`] (decode once, file in the cache, shape the
//! result from what was filed).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::claims;
use super::core::ClientCore;
use super::scopes;
use super::telemetry::{ApiId, CallTelemetry, RefreshReason};
use crate::error::Error;
use crate::http::ExtraHeaders;
use crate::oauth::TokenResponse;
use crate::oauth::grants::Form;

/// A fresh correlation id (a random, version 4 UUID): the one place the library makes them.
/// The bytes come from the thread's generator (`rand::thread_rng`, a CSPRNG the OS seeds once
/// per thread), so a request makes no system call for its id.
pub(crate) fn new_correlation_id() -> String {
    new_correlation_text().as_str().to_owned()
}

/// [`new_correlation_id`]'s text, in place.
fn new_correlation_text() -> CorrelationText {
    use rand::RngCore as _;
    // Two words rather than `fill_bytes`, which copies through a byte loop.
    let mut rng = rand::thread_rng();
    let random = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    let id = uuid::Builder::from_random_bytes(random.to_le_bytes()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text);
    CorrelationText(text)
}

/// A correlation id's text (a hyphenated UUID, ASCII), kept in place rather than on the heap.
#[derive(Debug)]
struct CorrelationText([u8; uuid::fmt::Hyphenated::LENGTH]);

impl CorrelationText {
    fn as_str(&self) -> &str {
        debug_assert!(self.0.is_ascii());
        // SAFETY: the bytes are made by `encode_lower` only (see `new_correlation_text`): hex
        // digits and hyphens, ASCII, so UTF-8. (A request reads its id several times; checking
        // it every time cost more than the allocation this type saves.)
        #[allow(unsafe_code)]
        unsafe {
            std::str::from_utf8_unchecked(&self.0)
        }
    }
}

/// A request's correlation id (`client-request-id`): made on first use, so a request answered
/// from the cache never makes one.
#[derive(Debug, Default)]
pub(crate) struct CorrelationId(OnceLock<CorrelationText>);

impl CorrelationId {
    /// The id, made now if this is its first use.
    pub fn get(&self) -> &str {
        self.0.get_or_init(new_correlation_text).as_str()
    }

    /// The id if one was made (a request went out), else `""`.
    pub fn if_made(&self) -> &str {
        self.0.get().map(CorrelationText::as_str).unwrap_or("")
    }
}

/// One token request's context (see the module docs).
#[derive(Debug)]
pub(crate) struct Request {
    /// The scopes the caller asked for, validated. Empty for an app-only request: it reads the
    /// prepared list's ([`PreparedScopes`](super::scopes::PreparedScopes)), not a copy.
    pub scopes: Vec<String>,
    /// The scopes sent: [`scopes`](Self::scopes) with the reserved scopes, minus the
    /// application's excluded ones (empty for an app-only request, which sends `scopes`).
    pub decorated: Vec<String>,
    /// The `claims` parameter to send, if any.
    pub claims: Option<String>,
    /// Extra body parameters of the token request (MSAL Python's `data`), e.g. an SSH
    /// certificate's `token_type`, `req_cnf` and `key_id`; a grant's own fields win.
    pub extra: BTreeMap<String, String>,
    /// [`ext_cache_key`](Self::ext_cache_key), computed once.
    ext_cache_key: Option<String>,
    correlation_id: CorrelationId,
    /// The API and refresh reason the telemetry headers report, when the flow names them
    /// (otherwise they follow the form's `grant_type`).
    telemetry: OnceLock<CallTelemetry>,
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

    /// Names the API and the refresh reason this request's telemetry headers report (the first
    /// call wins).
    pub fn report_as(&self, api: ApiId, reason: RefreshReason) {
        let _ = self.telemetry.set(CallTelemetry::new(api, reason));
    }

    /// The request with extra body parameters (already validated).
    pub fn with_extra(mut self, extra: BTreeMap<String, String>) -> Self {
        self.ext_cache_key = crate::cache::ext_cache_key(&extra);
        self.extra = extra;
        self
    }

    /// The extended cache key of the extra body parameters (MSAL Python's, from every
    /// parameter but the standard ones and an SSH certificate's): tokens obtained with them are
    /// cached apart and found only by requests with the same parameters.
    pub fn ext_cache_key(&self) -> Option<&str> {
        self.ext_cache_key.as_deref()
    }

    /// The key the requested token is bound to (an SSH certificate's `key_id`): cached tokens
    /// are looked up, and filed, under it.
    pub fn key_id(&self) -> Option<&str> {
        self.extra
            .get("key_id")
            .map(String::as_str)
            .filter(|k| !k.is_empty())
    }

    /// The token type this request asks for, when not a bearer token (`ssh-cert`).
    pub fn token_type(&self) -> Option<&str> {
        self.extra.get("token_type").map(String::as_str)
    }
}

/// Appends `extra` to `form`, except the fields the form already has.
pub(crate) fn add_extra<'a>(form: &mut Form<'a>, extra: &'a BTreeMap<String, String>) {
    for (name, value) in extra {
        if !form.iter().any(|(n, _)| n == name) {
            form.push((name.clone().into(), value.as_str().into()));
        }
    }
}

impl ClientCore {
    /// Starts a request for `scopes` (validated here) with an optional claims challenge.
    pub fn begin(&self, scopes: &[&str], claims_challenge: Option<&str>) -> Result<Request, Error> {
        self.begin_validated(scopes::validate(scopes)?, claims_challenge)
    }

    /// [`begin`](Self::begin) for a flow that signs a user in: no scopes at all is allowed
    /// ("sign in only": the reserved scopes alone are sent, for the id token and account).
    pub fn begin_sign_in(
        &self,
        scopes: &[&str],
        claims_challenge: Option<&str>,
    ) -> Result<Request, Error> {
        self.begin_validated(scopes::validate_sign_in(scopes)?, claims_challenge)
    }

    /// [`begin`](Self::begin) for an app-only request (client credentials) whose scopes were
    /// prepared ([`ScopeMemo::prepare`](super::scopes::ScopeMemo::prepare)); they are sent as
    /// given, from the prepared list: its [`Request::scopes`] and [`Request::decorated`] are
    /// empty.
    pub fn begin_app_only(&self, claims_challenge: Option<&str>) -> Result<Request, Error> {
        Ok(Request {
            decorated: Vec::new(),
            claims: claims::merged(&self.capabilities, claims_challenge)?,
            scopes: Vec::new(),
            extra: BTreeMap::new(),
            ext_cache_key: None,
            correlation_id: CorrelationId::default(),
            telemetry: OnceLock::new(),
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
            extra: BTreeMap::new(),
            ext_cache_key: None,
            correlation_id: CorrelationId::default(),
            telemetry: OnceLock::new(),
        })
    }

    /// The request of a flow that started earlier (an auth-code flow being redeemed): its
    /// scopes were validated and its claims merged when it started.
    pub fn resume(&self, scopes: Vec<String>, claims: Option<String>) -> Request {
        Request {
            decorated: scopes::decorate(&scopes, &self.exclude_scopes),
            claims,
            scopes,
            extra: BTreeMap::new(),
            ext_cache_key: None,
            correlation_id: CorrelationId::default(),
            telemetry: OnceLock::new(),
        }
    }

    /// Sends `request`'s token request (`form`, plus `headers`) to `token_endpoint`.
    pub async fn send(
        &self,
        request: &Request,
        token_endpoint: &str,
        mut form: Form<'_>,
        headers: ExtraHeaders,
    ) -> Result<Box<TokenResponse>, Error> {
        add_extra(&mut form, &request.extra);
        let telemetry = request.telemetry.get().copied();
        let response = self
            .redeem(
                token_endpoint,
                form,
                request.correlation_id(),
                headers,
                telemetry,
            )
            .await?;
        super::ssh_certificate::check_response(request.token_type(), &response, token_endpoint)?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_distinct_version_4_uuids() {
        let a = new_correlation_id();
        let b = new_correlation_id();
        assert_ne!(a, b);
        for id in [a, b] {
            let parsed = uuid::Uuid::parse_str(&id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(id, parsed.hyphenated().to_string(), "lowercase, hyphenated");
        }
    }

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
