//! The options of one token request (per call, unlike the builders' per-application settings):
//! interactive, silent, device-code, username/password and client-credentials requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::prompt::Prompt;
use super::ssh_certificate::SshCertificateRequest;
use crate::broker::{ParentWindow, PopParams};
use crate::interactive::{ResultPages, UrlOpener};

/// Called just before the browser (or broker) UI appears, with `"browser"` or `"broker"`.
pub type BeforeUiCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Options of
/// [`PublicClientApplication::acquire_token_interactive`](super::PublicClientApplication::acquire_token_interactive).
#[derive(Clone, Default)]
pub struct InteractiveOptions {
    /// What the sign-in page asks of the user.
    pub prompt: Option<Prompt>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// `domain_hint` (skips home-realm discovery on the sign-in page).
    pub domain_hint: Option<String>,
    /// A claims challenge from a previous error or a resource.
    pub claims_challenge: Option<String>,
    /// The user must have signed in within this many seconds.
    pub max_age: Option<u64>,
    /// Scopes of other resources to consent to now.
    pub extra_scopes_to_consent: Vec<String>,
    /// The loopback port (default: one the OS picks).
    pub port: Option<u16>,
    /// The address the loopback listener binds (default `127.0.0.1`). Inside a container, whose
    /// loopback the host's browser cannot reach, set `0.0.0.0` with a fixed `port` and publish
    /// it (`docker run -p 8400:8400`). MSAL Python switches to `0.0.0.0` by itself when it
    /// detects Docker or Podman; here it is an explicit choice, since it lets anything that can
    /// reach the container connect (the `Host` and `state` checks still apply).
    pub listen_address: Option<std::net::IpAddr>,
    /// A landing page opened first instead of the sign-in URL (MSAL Python's
    /// `welcome_template`): the browser opens `http://localhost:PORT/?welcome=true`, which shows
    /// this HTML with `{auth_uri}` replaced by the sign-in URL (HTML-escaped), e.g.
    /// `<a href="{auth_uri}">Sign in</a>`.
    pub welcome_html: Option<String>,
    /// Sends `msal_request_type=consumer_passthrough` to the broker (MSAL Python's hidden
    /// `enable_msa_passthrough`): personal Microsoft accounts through an `organizations`
    /// authority, for the few first-party apps registered for MSA passthrough. Brokers only;
    /// ignored for SSH certificates (`data` `token_type=ssh-cert`), as in MSAL Python.
    pub enable_msa_passthrough: bool,
    /// How long to wait for the user (default: no limit, as MSAL).
    pub timeout: Option<Duration>,
    /// Called before the browser opens.
    pub on_before_launching_ui: Option<BeforeUiCallback>,
    /// Opens the URL (default: the system browser). Use it for embedded web views and tests.
    pub url_opener: Option<Arc<dyn UrlOpener>>,
    /// The pages shown after the redirect (default: the library's).
    pub pages: Option<ResultPages>,
    /// The window that owns the sign-in UI. Required when a broker is enabled for this platform
    /// ([`Error::ParentWindowRequired`](crate::Error::ParentWindowRequired) otherwise); the browser ignores it.
    pub parent_window: Option<ParentWindow>,
    /// Requests a proof-of-possession token bound to one HTTP request (brokers only).
    pub pop: Option<PopParams>,
    /// Extra body parameters of the token request (MSAL Python's `data`), sent to the identity
    /// provider or passed to the authentication broker. A token requested with a `key_id` is
    /// cached under it and found only by requests with the same `key_id`; other non-standard
    /// parameters key the cached token as MSAL Python keys it (its extended cache key).
    pub data: BTreeMap<String, String>,
    /// Requests an SSH certificate for this public key instead of a bearer token (sets `data`'s
    /// `token_type`, `req_cnf` and `key_id`).
    pub ssh_certificate: Option<SshCertificateRequest>,
}

impl std::fmt::Debug for InteractiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractiveOptions")
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint)
            .field("port", &self.port)
            .field("listen_address", &self.listen_address)
            .field("timeout", &self.timeout)
            .field("enable_msa_passthrough", &self.enable_msa_passthrough)
            .finish_non_exhaustive()
    }
}

/// Options of `acquire_token_by_authorization_code` (a raw code, redeemed without an
/// [`AuthCodeFlow`](super::AuthCodeFlow)) on either application.
#[derive(Clone, Default)]
pub struct AuthorizationCodeOptions {
    /// The `nonce` sent in the authorization request, exactly as sent: the id token must carry
    /// it (no check when `None`).
    pub nonce: Option<String>,
    /// A claims challenge from a previous error or a resource.
    pub claims_challenge: Option<String>,
    /// The PKCE `code_verifier` whose challenge the authorization request carried (a secret).
    pub code_verifier: Option<String>,
}

impl std::fmt::Debug for AuthorizationCodeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodeOptions")
            .field("nonce", &self.nonce.as_ref().map(|_| "[redacted]"))
            .field("claims_challenge", &self.claims_challenge)
            .field(
                "code_verifier",
                &self.code_verifier.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Options of a silent request.
#[derive(Debug, Clone, Default)]
pub struct SilentOptions {
    /// Skip the cached access token and use a refresh token.
    pub force_refresh: bool,
    /// A claims challenge from a resource (skips the cached access token).
    pub claims_challenge: Option<String>,
    /// Another tenant than the application's authority (e.g. a guest tenant of the account).
    pub tenant: Option<String>,
    /// Client-originated claims (a JSON object) merged into the `claims` parameter of a
    /// refresh; unlike a claims challenge they keep the cache, keyed by their value (MSAL
    /// Python's `forwarded_client_claims`). Not sent to an authentication broker.
    pub forwarded_client_claims: Option<String>,
    /// Requests a proof-of-possession token bound to one HTTP request (brokers only).
    pub pop: Option<PopParams>,
    /// Extra body parameters of the token request (MSAL Python's `data`), sent to the identity
    /// provider or passed to the authentication broker. A token requested with a `key_id` is
    /// cached under it and found only by requests with the same `key_id`; other non-standard
    /// parameters key the cached token as MSAL Python keys it (its extended cache key).
    pub data: BTreeMap<String, String>,
    /// Requests an SSH certificate for this public key instead of a bearer token (sets `data`'s
    /// `token_type`, `req_cnf` and `key_id`).
    pub ssh_certificate: Option<SshCertificateRequest>,
}

/// Options of
/// [`PublicClientApplication::initiate_device_flow_with`](super::PublicClientApplication::initiate_device_flow_with);
/// the token requests of the flow's polls carry them.
#[derive(Debug, Clone, Default)]
pub struct DeviceFlowOptions {
    /// A claims challenge from a previous error or a resource.
    pub claims_challenge: Option<String>,
    /// Extra body parameters of the token requests (MSAL Python's `data`; see
    /// [`InteractiveOptions::data`]).
    pub data: BTreeMap<String, String>,
    /// Requests an SSH certificate for this public key instead of a bearer token.
    pub ssh_certificate: Option<SshCertificateRequest>,
}

/// Options of
/// [`PublicClientApplication::acquire_token_by_username_password_with`](super::PublicClientApplication::acquire_token_by_username_password_with).
#[derive(Debug, Clone, Default)]
pub struct UsernamePasswordOptions {
    /// A claims challenge from a previous error or a resource.
    pub claims_challenge: Option<String>,
    /// Extra body parameters of the token request (MSAL Python's `data`; see
    /// [`InteractiveOptions::data`]).
    pub data: BTreeMap<String, String>,
    /// Requests an SSH certificate for this public key instead of a bearer token.
    pub ssh_certificate: Option<SshCertificateRequest>,
}

/// Options of
/// [`ConfidentialClientApplication::acquire_token_for_client_with`](super::ConfidentialClientApplication::acquire_token_for_client_with).
#[derive(Debug, Clone, Default)]
pub struct ForClientOptions {
    /// Skip the cache and get a new token.
    pub force_refresh: bool,
    /// A claims challenge from a resource; skips the cache.
    pub claims_challenge: Option<String>,
    /// `fmi_path` (federated managed identity path); keys its own cache entry.
    pub fmi_path: Option<String>,
    /// Client-originated claims (a JSON object) merged into the `claims` parameter; unlike a
    /// claims challenge they keep the cache, keyed by their value (MSAL Python's
    /// `forwarded_client_claims`).
    pub forwarded_client_claims: Option<String>,
    /// Extra body parameters; each keys the cache entry (`ext_cache_key`).
    pub extra_parameters: BTreeMap<String, String>,
}
