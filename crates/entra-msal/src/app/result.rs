//! What a token acquisition returns: the token, its lifetimes, the account, and where it came
//! from.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A token (access or id token). `Debug` prints `[redacted]`; use [`SecretToken::expose`].
///
/// Cloning is cheap: the token is shared (with the cache entry it came from, too).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(Arc<str>);

impl SecretToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }

    /// Shares a token already held elsewhere (a cache entry's), without copying it.
    pub(crate) fn shared(token: Arc<str>) -> Self {
        Self(token)
    }

    /// The token itself, e.g. for an `Authorization: Bearer` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// Fresh from the identity provider.
    IdentityProvider,
    /// From the token cache.
    Cache,
    /// From an authentication broker.
    Broker,
}

/// A signed-in account, as MSAL Python's `get_accounts` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `<uid>.<utid>`: the account's id across tenants.
    pub home_account_id: String,
    /// The authority host the account was signed in through.
    pub environment: String,
    /// The tenant (realm) of the sign-in.
    pub realm: String,
    /// The sign-in name (`preferred_username`).
    pub username: String,
    /// The object id in that tenant.
    pub local_account_id: String,
    /// `MSSTS` or `ADFS`.
    pub authority_type: String,
    /// How the account was added (`authorization_code`, `password`, device code, `broker`).
    pub account_source: Option<String>,
}

/// The result of a successful token acquisition.
///
/// Cloning is cheap: the token, the scopes, the claims and the account are shared, not copied
/// (a cache hit hands out the same ones again).
#[derive(Debug, Clone)]
pub struct AuthenticationResult {
    /// The access token.
    pub access_token: SecretToken,
    /// Usually `Bearer` (then borrowed, not allocated: compare it as a `&str`,
    /// `result.token_type == "Bearer"`).
    pub token_type: Cow<'static, str>,
    /// When the access token expires.
    pub expires_on: OffsetDateTime,
    /// How long the token may be used while the identity provider is unavailable.
    pub extended_expires_on: Option<OffsetDateTime>,
    /// When the library refreshes the token proactively.
    pub refresh_on: Option<OffsetDateTime>,
    /// The scopes the token was granted for (a slice: `result.scopes.iter()`,
    /// `result.scopes.contains(..)`, `result.scopes.join(" ")`).
    pub scopes: Arc<[String]>,
    /// The id token, for user flows.
    pub id_token: Option<SecretToken>,
    /// The id token's claims (decoded, not validated, as MSAL Python 1.38+).
    pub id_token_claims: Option<Arc<Map<String, Value>>>,
    /// The account, for user flows (`result.account.as_deref()` is what
    /// `acquire_token_silent` takes).
    pub account: Option<Arc<Account>>,
    /// Identity provider, cache, or broker.
    pub token_source: TokenSource,
    /// The correlation id of the request (`client-request-id`); empty when no request was sent
    /// (a token from the cache).
    pub correlation_id: String,
    /// What the application asked to keep beyond the usual fields; `None` for nearly every
    /// result, so it costs one pointer.
    pub(crate) extras: Option<Box<ResultExtras>>,
}

/// The opt-in parts of a result ([`AuthenticationResult::refresh_token`],
/// [`AuthenticationResult::raw_response`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResultExtras {
    /// The refresh token of the response, when the application asked for it
    /// (`include_refresh_token`).
    pub(crate) refresh_token: Option<SecretToken>,
    /// The response's JSON, when the application asked for it (`include_raw_response`).
    pub(crate) raw_response: Option<RawResponse>,
}

impl AuthenticationResult {
    /// The refresh token the identity provider returned with this token, for tools that hand
    /// it to another system (token migration). `None` unless the application was built with
    /// `include_refresh_token(true)`, for a token from the cache or a broker, and when the
    /// response had none. It prints as `[redacted]`.
    pub fn refresh_token(&self) -> Option<&SecretToken> {
        self.extras.as_ref()?.refresh_token.as_ref()
    }

    /// The token response's JSON as the identity provider sent it (numbers written as numbers),
    /// including the fields this library does not read (`foci`, `client_info`, custom ones).
    /// `None` unless the application was built with `include_raw_response(true)`, and for a
    /// token from the cache or a broker. It holds the tokens in clear: the result's `Debug`
    /// prints it with every token field redacted, but the value returned here does not, so
    /// never log it.
    pub fn raw_response(&self) -> Option<&Value> {
        self.extras.as_ref()?.raw_response.as_ref().map(|r| &r.0)
    }
}

/// A token response's JSON kept in a result; its `Debug` redacts the secrets.
#[derive(Clone, PartialEq)]
pub(crate) struct RawResponse(pub(crate) Value);

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redacted(&self.0))
    }
}

/// `value` with the value of every field that holds a secret replaced by `[redacted]`: the
/// tokens (any name ending in `token`, e.g. `access_token`, `refresh_token`, `id_token`) and
/// `client_info`, at any depth.
fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = k.to_ascii_lowercase();
                    let secret = key.ends_with("token") || key == "client_info";
                    let v = if secret {
                        Value::String("[redacted]".into())
                    } else {
                        redacted(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

impl AuthenticationResult {
    /// For an SSH certificate (`token_type` `ssh-cert`), the line of its `-cert.pub` file,
    /// `ssh-rsa-cert-v01@openssh.com AAAA…`, which `ssh` reads beside the private key; `None`
    /// for other tokens.
    pub fn ssh_certificate_line(&self) -> Option<String> {
        self.token_type
            .eq_ignore_ascii_case(super::ssh_certificate::SSH_CERT_TOKEN_TYPE)
            .then(|| {
                format!(
                    "{} {}",
                    super::ssh_certificate::SSH_RSA_CERT_KEY_TYPE,
                    self.access_token.expose()
                )
            })
    }
}

/// Converts epoch seconds. Beyond the year 9999 is the latest representable time (a far-future
/// expiry must not read as expired); before the year -9999 is the epoch.
pub(crate) fn at(epoch: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(epoch).unwrap_or(if epoch > 0 {
        time::PrimitiveDateTime::MAX.assume_utc()
    } else {
        OffsetDateTime::UNIX_EPOCH
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing finding (client_flow): server lifetimes near i64::MAX saturate to the latest
    /// representable time instead of overflowing or reading as 1970.
    /// A result is moved through several async layers on every call, hits included: its
    /// rarely used parts stay behind pointers (it was 408 bytes with them inline).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_result_stays_small() {
        let size = std::mem::size_of::<AuthenticationResult>();
        assert!(size <= 208, "AuthenticationResult is {size} bytes");
    }

    #[test]
    fn out_of_range_times_saturate() {
        assert_eq!(at(i64::MAX), time::PrimitiveDateTime::MAX.assume_utc());
        assert!(at(i64::MAX) > at(4_102_444_800));
        assert_eq!(at(i64::MIN), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(at(0), OffsetDateTime::UNIX_EPOCH);
    }
}
