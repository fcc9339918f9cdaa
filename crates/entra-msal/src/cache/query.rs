//! What the application layer asks the cache for.

/// Looks up an access token: the partition (`client_id`, `environment`, `realm`,
/// `home_account_id`, `ext_cache_key`) plus the scopes that must all be granted.
#[derive(Clone, Copy, Debug)]
pub struct AccessTokenQuery<'a> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The authority host.
    pub environment: &'a str,
    /// The tenant as configured in the authority.
    pub realm: &'a str,
    /// The account, or `None` for app-only tokens.
    pub home_account_id: Option<&'a str>,
    /// The requested scopes; each must be in the token's target (case-insensitively).
    pub scopes: &'a [String],
    /// The request's extended cache key. Tokens cached with one are found only by a query with
    /// the same key, and never by a query without one.
    pub ext_cache_key: Option<&'a str>,
    /// The key a key-bound token (an SSH certificate) was issued for. With `Some`, only tokens
    /// cached with that `key_id` match; with `None`, only tokens without one (so a bearer
    /// request never receives an SSH certificate).
    pub key_id: Option<&'a str>,
    /// The current time; tokens with `expires_on <= now` are never returned.
    pub now: i64,
}

/// Looks up the refresh tokens of one account, of one app or of one family (scopes and realm are
/// ignored: refresh tokens are cross-tenant).
#[derive(Clone, Copy, Debug)]
pub struct RefreshTokenQuery<'a> {
    /// The authority host.
    pub environment: &'a str,
    /// The account.
    pub home_account_id: &'a str,
    /// Only tokens of this application, when given.
    pub client_id: Option<&'a str>,
    /// Only tokens of this family (e.g. `"1"`), when given.
    pub family_id: Option<&'a str>,
}
