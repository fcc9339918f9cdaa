//! The platform-neutral shapes every broker backend speaks: what the app asks for, the account the
//! broker knows, and the token it answers with. Each OS codec converts these to and from its wire
//! format; nothing here does I/O.

use std::collections::BTreeMap;
use std::fmt;

/// An account as a broker knows it.
#[derive(Clone, PartialEq)]
pub struct BrokerAccount {
    /// The broker's own id for the account (what it needs to find the account again): the Linux
    /// broker's `localAccountId`, WAM's `WebAccount.Id`, the macOS extension's home account id.
    pub account_id: String,
    /// `<oid>.<tid>` of the home tenant.
    pub home_account_id: String,
    /// The object id in the tenant of the sign-in.
    pub local_account_id: String,
    /// The authority host, e.g. `login.microsoftonline.com`.
    pub environment: String,
    /// The tenant id of the sign-in.
    pub realm: String,
    /// The sign-in name.
    pub username: String,
    /// The display name.
    pub name: Option<String>,
    /// base64url `{"uid":…,"utid":…}`, when the broker sent it.
    pub client_info: Option<String>,
    /// The account exactly as the broker sent it (the Linux broker wants it back verbatim).
    pub raw: serde_json::Value,
}

impl fmt::Debug for BrokerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Usernames and names are personal data: never in Debug output.
        f.debug_struct("BrokerAccount")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// Proof-of-possession parameters (`PopAuthScheme` in MSAL Python): the token is bound to one
/// HTTP method and URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopParams {
    /// `GET`, `POST`, `PUT`, `DELETE` or `PATCH`.
    pub http_method: String,
    /// The host (and port) of the resource URL.
    pub uri_host: String,
    /// The path of the resource URL.
    pub uri_path: String,
    /// The server nonce, when the resource sent one.
    pub nonce: Option<String>,
}

/// A password the broker signs in with (username/password through the broker, macOS and
/// Windows only). `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerPassword(pub String);

impl fmt::Debug for BrokerPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One token request to a broker.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerTokenRequest {
    /// The application (client) id, lower case.
    pub client_id: String,
    /// `https://host/tenant` (a port, if any, is kept).
    pub authority: String,
    /// The scopes, undecorated (no `openid`, `profile`, `offline_access`).
    pub scopes: Vec<String>,
    /// The broker redirect URI for this platform.
    pub redirect_uri: String,
    /// A UUID that ties the broker's logs to ours.
    pub correlation_id: String,
    /// The claims (challenge merged with client capabilities) as JSON, when any.
    pub claims: Option<String>,
    /// The account to use; `None` signs in the device's default account (silent) or lets the
    /// user pick (interactive).
    pub account: Option<BrokerAccount>,
    /// Pre-fills the username (interactive).
    pub login_hint: Option<String>,
    /// `login`, `consent`, `select_account`, `none` (interactive).
    pub prompt: Option<String>,
    /// Proof-of-possession instead of a bearer token.
    pub pop: Option<PopParams>,
    /// Username and password (macOS and Windows brokers only).
    pub username_password: Option<(String, BrokerPassword)>,
    /// Extra parameters passed to the broker as they are (`msal_client_sku`, `max_age`, ...).
    pub extra_parameters: BTreeMap<String, String>,
    /// Whether the broker should validate the authority (off for a known or private authority).
    pub validate_authority: bool,
}

/// The kind of token a broker issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerTokenType {
    /// A bearer token.
    Bearer,
    /// A proof-of-possession token (a signed HTTP request).
    Pop,
}

impl BrokerTokenType {
    /// The `token_type` as MSAL reports it: `Bearer` or `pop`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Pop => "pop",
        }
    }
}

/// A token a broker issued. The broker keeps the refresh token; none is ever returned.
#[derive(Clone, PartialEq)]
pub struct BrokerTokenResponse {
    /// The access token (for PoP, the signed HTTP request).
    pub access_token: String,
    /// Bearer or PoP.
    pub token_type: BrokerTokenType,
    /// Expiry, seconds since the Unix epoch.
    pub expires_on: i64,
    /// Extended expiry (resilience), seconds since the Unix epoch, when the broker sent one.
    pub ext_expires_on: Option<i64>,
    /// The raw id token.
    pub id_token: Option<String>,
    /// base64url client info.
    pub client_info: Option<String>,
    /// The scopes granted (may differ from those requested).
    pub granted_scopes: Vec<String>,
    /// The account the token is for.
    pub account: Option<BrokerAccount>,
    /// The authority that issued the token, when the broker says.
    pub authority: Option<String>,
}

impl fmt::Debug for BrokerTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerTokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_on", &self.expires_on)
            .field("granted_scopes", &self.granted_scopes)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}
