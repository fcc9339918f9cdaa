//! What a token acquisition returns: the token, its lifetimes, the account, and where it came
//! from.

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
#[derive(Debug, Clone)]
pub struct AuthenticationResult {
    /// The access token.
    pub access_token: SecretToken,
    /// Usually `Bearer`.
    pub token_type: String,
    /// When the access token expires.
    pub expires_on: OffsetDateTime,
    /// How long the token may be used while the identity provider is unavailable.
    pub extended_expires_on: Option<OffsetDateTime>,
    /// When the library refreshes the token proactively.
    pub refresh_on: Option<OffsetDateTime>,
    /// The scopes the token was granted for.
    pub scopes: Vec<String>,
    /// The id token, for user flows.
    pub id_token: Option<SecretToken>,
    /// The id token's claims (decoded, not validated, as MSAL Python 1.38+).
    pub id_token_claims: Option<Map<String, Value>>,
    /// The account, for user flows.
    pub account: Option<Account>,
    /// Identity provider, cache, or broker.
    pub token_source: TokenSource,
    /// The correlation id of the request (`client-request-id`); empty when no request was sent
    /// (a token from the cache).
    pub correlation_id: String,
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
    #[test]
    fn out_of_range_times_saturate() {
        assert_eq!(at(i64::MAX), time::PrimitiveDateTime::MAX.assume_utc());
        assert!(at(i64::MAX) > at(4_102_444_800));
        assert_eq!(at(i64::MIN), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(at(0), OffsetDateTime::UNIX_EPOCH);
    }
}
