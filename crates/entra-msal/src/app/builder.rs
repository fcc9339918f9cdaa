//! What every application builder configures (authority, transport, cache, discovery, clock),
//! shared by the public and confidential builders through [`common_builder_methods!`].

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::coalesce::Coalescer;
use super::core::ClientCore;
use crate::authority::{Authority, DiscoveryOptions};
use crate::cache::TokenCache;
use crate::error::Error;
use crate::http::{ClientIdentity, HttpClient, HttpOptions, ThrottledHttp};
use crate::oauth::ClientCredential;

/// The options both builders share.
pub(crate) struct CommonOptions {
    pub client_id: String,
    pub authority: Option<String>,
    pub oidc_authority: Option<String>,
    pub cache: Option<TokenCache>,
    pub http_client: Option<Arc<dyn HttpClient>>,
    pub http_options: HttpOptions,
    pub capabilities: Vec<String>,
    pub exclude_scopes: Vec<String>,
    pub instance_discovery: bool,
    pub validate_authority: bool,
    pub allow_http_loopback: bool,
    pub identity: ClientIdentity,
    pub clock: Arc<dyn Clock>,
    pub pii_logging: bool,
    pub include_refresh_token: bool,
    pub include_raw_response: bool,
}

impl std::fmt::Debug for CommonOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonOptions")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("oidc_authority", &self.oidc_authority)
            .finish_non_exhaustive()
    }
}

impl CommonOptions {
    pub fn new(client_id: String) -> Self {
        Self {
            client_id,
            authority: None,
            oidc_authority: None,
            cache: None,
            http_client: None,
            http_options: HttpOptions::default(),
            capabilities: Vec::new(),
            exclude_scopes: Vec::new(),
            instance_discovery: true,
            validate_authority: true,
            allow_http_loopback: false,
            identity: ClientIdentity::default(),
            clock: Arc::new(SystemClock),
            pii_logging: false,
            include_refresh_token: false,
            include_raw_response: false,
        }
    }

    /// The parsed authority (default `https://login.microsoftonline.com/common`).
    pub fn parse_authority(&self) -> Result<Authority, Error> {
        if self.client_id.trim().is_empty() {
            return Err(Error::configuration("the client id is empty".into()));
        }
        match (&self.authority, &self.oidc_authority) {
            (Some(_), Some(_)) => Err(Error::configuration(
                "set either authority or oidc_authority, not both".into(),
            )),
            (_, Some(oidc)) => Authority::parse_oidc(oidc, self.allow_http_loopback),
            (Some(a), None) => Authority::parse(a, self.allow_http_loopback),
            (None, None) => Authority::parse("https://login.microsoftonline.com/common", false),
        }
    }

    /// The application core. No network I/O.
    pub fn into_core(
        self,
        authority: Authority,
        credential: Option<ClientCredential>,
        throttle: Duration,
    ) -> Result<ClientCore, Error> {
        if self
            .exclude_scopes
            .iter()
            .any(|s| s.eq_ignore_ascii_case("openid"))
        {
            return Err(Error::configuration(
                "\"openid\" cannot be excluded: it is what signs the user in".into(),
            ));
        }
        let transport: Arc<dyn HttpClient> = match self.http_client {
            Some(c) => c,
            None => crate::http::default_client(&self.http_options)?,
        };
        Ok(ClientCore {
            client_id: self.client_id,
            authority,
            discovery: DiscoveryOptions {
                instance_discovery: self.instance_discovery,
                validate_authority: self.validate_authority,
            },
            http: ThrottledHttp::new(transport, throttle),
            cache: self.cache.unwrap_or_default(),
            identity: self.identity,
            capabilities: self.capabilities,
            exclude_scopes: self.exclude_scopes,
            credential,
            clock: self.clock,
            coalescer: Coalescer::default(),
            pii_logging: self.pii_logging,
            include_refresh_token: self.include_refresh_token,
            include_raw_response: self.include_raw_response,
            telemetry: Default::default(),
            endpoints_memo: Default::default(),
            scope_memo: Default::default(),
            accounts_memo: Default::default(),
            last_token_uri: Default::default(),
            form_memo: Default::default(),
        })
    }
}

/// The builder methods every application builder has; the builder keeps a `common` field.
macro_rules! common_builder_methods {
    () => {
        /// The authority, e.g. `https://login.microsoftonline.com/<tenant>` (default `.../common`).
        pub fn authority(mut self, url: impl Into<String>) -> Self {
            self.common.authority = Some(url.into());
            self
        }

        /// A generic OIDC issuer instead of an Entra authority.
        pub fn oidc_authority(mut self, url: impl Into<String>) -> Self {
            self.common.oidc_authority = Some(url.into());
            self
        }

        /// Shares a token cache (default: a new in-memory one).
        pub fn token_cache(mut self, cache: $crate::cache::TokenCache) -> Self {
            self.common.cache = Some(cache);
            self
        }

        /// Uses your own transport.
        pub fn http_client(mut self, client: std::sync::Arc<dyn $crate::http::HttpClient>) -> Self {
            self.common.http_client = Some(client);
            self
        }

        /// Timeout of each HTTP request of the default transport (default 30 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.http_options.timeout = timeout;
            self
        }

        /// A proxy for the default transport.
        pub fn proxy(mut self, url: impl Into<String>) -> Self {
            self.common.http_options.proxy = Some(url.into());
            self
        }

        /// Trusts a CA certificate (PEM) for a private authority such as `entra-emulator`; only
        /// those CAs are trusted when any is given.
        pub fn trusted_ca(mut self, pem: impl Into<String>) -> Self {
            self.common.http_options.trusted_ca_pems.push(pem.into());
            self.common.http_options.only_trusted_cas = true;
            self
        }

        /// Allows an `http://` authority on 127.0.0.1/localhost (never for other hosts).
        pub fn allow_http_loopback_authority(mut self, allow: bool) -> Self {
            self.common.allow_http_loopback = allow;
            self
        }

        /// Client capabilities (e.g. `CP1` for Continuous Access Evaluation), sent as `xms_cc`.
        pub fn client_capabilities<I: IntoIterator<Item = S>, S: Into<String>>(
            mut self,
            capabilities: I,
        ) -> Self {
            self.common.capabilities = capabilities.into_iter().map(Into::into).collect();
            self
        }

        /// Reserved scopes not to add to user-flow requests (`offline_access`, `profile`;
        /// `openid` cannot be excluded).
        pub fn exclude_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
            mut self,
            scopes: I,
        ) -> Self {
            self.common.exclude_scopes = scopes.into_iter().map(Into::into).collect();
            self
        }

        /// Validates unknown hosts through instance discovery (default true).
        pub fn instance_discovery(mut self, enabled: bool) -> Self {
            self.common.instance_discovery = enabled;
            self
        }

        /// Validates the authority (default true); false skips instance discovery.
        pub fn validate_authority(mut self, enabled: bool) -> Self {
            self.common.validate_authority = enabled;
            self
        }

        /// `x-app-name` / `x-app-ver` headers.
        pub fn app_name_and_version(
            mut self,
            name: impl Into<String>,
            version: impl Into<String>,
        ) -> Self {
            self.common.identity =
                $crate::http::ClientIdentity::new(Some(name.into()), Some(version.into()));
            self
        }

        /// The time source (tests).
        pub fn clock(mut self, clock: std::sync::Arc<dyn $crate::app::Clock>) -> Self {
            self.common.clock = clock;
            self
        }

        /// Lets logs name accounts (usernames). Tokens and secrets are never logged. Default off.
        pub fn enable_pii_log(mut self, enabled: bool) -> Self {
            self.common.pii_logging = enabled;
            self
        }

        /// Puts the refresh token of each token response in its result
        /// ([`AuthenticationResult::refresh_token`]), for tools that migrate tokens to another
        /// system. Default off: the refresh token stays in the cache only.
        pub fn include_refresh_token(mut self, enabled: bool) -> Self {
            self.common.include_refresh_token = enabled;
            self
        }

        /// Keeps each token response's JSON in its result
        /// ([`AuthenticationResult::raw_response`]): `foci`, `client_info` and the fields this
        /// library does not read. Default off.
        pub fn include_raw_response(mut self, enabled: bool) -> Self {
            self.common.include_raw_response = enabled;
            self
        }
    };
}

pub(crate) use common_builder_methods;
