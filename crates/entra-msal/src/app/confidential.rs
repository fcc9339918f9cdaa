//! `ConfidentialClientApplication`: daemons, web apps and web APIs that can hold a credential.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
use super::builder::{CommonOptions, common_builder_methods};
use super::core::{CacheAccess, ClientCore};
use super::flows::silent;
use super::flows::{client_credentials, on_behalf_of};
use super::options::{ForClientOptions, SilentOptions};
use super::result::{Account, AuthenticationResult};
use crate::authority;
use crate::cache::TokenCache;
use crate::error::Error;
use crate::oauth::assertion::AssertionCache;
use crate::oauth::credential::{AssertionCallback, AssertionRequest};
use crate::oauth::{CertificateCredential, ClientCredential, ClientSecret};

/// Confidential clients replay a throttled response for 5 s by default (MSAL Python).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);

enum CredentialSpec {
    Secret(ClientSecret),
    Certificate { key_pem: String, cert_pem: String },
    Thumbprint { key_pem: String, sha1_hex: String },
    Pkcs12 { pfx: Vec<u8>, password: String },
    Assertion(AssertionCallback),
}

/// Builds a [`ConfidentialClientApplication`]. Building does no network I/O.
pub struct ConfidentialClientBuilder {
    common: CommonOptions,
    credential: Option<CredentialSpec>,
    send_x5c: bool,
    client_claims: serde_json::Map<String, serde_json::Value>,
    region: Option<String>,
}

impl std::fmt::Debug for ConfidentialClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfidentialClientBuilder")
            .field("common", &self.common)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl ConfidentialClientBuilder {
    common_builder_methods!();

    /// Authenticates with a client secret.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.credential = Some(CredentialSpec::Secret(ClientSecret::new(secret)));
        self
    }

    /// Authenticates with a certificate: the RSA private key (PKCS#8 or PKCS#1 PEM) and the
    /// certificate (PEM). Assertions are PS256 with `x5t#S256` (RS256 with `x5t` on ADFS).
    pub fn certificate(mut self, key_pem: impl Into<String>, cert_pem: impl Into<String>) -> Self {
        self.credential = Some(CredentialSpec::Certificate {
            key_pem: key_pem.into(),
            cert_pem: cert_pem.into(),
        });
        self
    }

    /// Authenticates with a private key and the certificate's SHA-1 thumbprint (RS256, `x5t`).
    pub fn certificate_thumbprint(
        mut self,
        key_pem: impl Into<String>,
        sha1_hex: impl Into<String>,
    ) -> Self {
        self.credential = Some(CredentialSpec::Thumbprint {
            key_pem: key_pem.into(),
            sha1_hex: sha1_hex.into(),
        });
        self
    }

    /// Authenticates with a PKCS#12 (PFX) file's bytes and password.
    pub fn certificate_pkcs12(mut self, pfx: Vec<u8>, password: impl Into<String>) -> Self {
        self.credential = Some(CredentialSpec::Pkcs12 {
            pfx,
            password: password.into(),
        });
        self
    }

    /// Sends the certificate in `x5c` (subject name / issuer authentication).
    pub fn send_x5c(mut self, send: bool) -> Self {
        self.send_x5c = send;
        self
    }

    /// Extra claims signed into certificate assertions.
    pub fn client_claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Self {
        self.client_claims = claims;
        self
    }

    /// Authenticates with an assertion the callback produces (e.g. a federated credential).
    pub fn client_assertion(
        mut self,
        callback: impl Fn(&AssertionRequest) -> Result<String, Error> + Send + Sync + 'static,
    ) -> Self {
        self.credential = Some(CredentialSpec::Assertion(Arc::new(callback)));
        self
    }

    /// Uses the regional endpoint (ESTS-R) for client credentials: a region name such as
    /// `westus2`, or `"auto"` to read `REGION_NAME`.
    pub fn azure_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Builds the application. Fails on a missing or unreadable credential or a bad authority.
    pub fn build(self) -> Result<ConfidentialClientApplication, Error> {
        let authority = self.common.parse_authority()?;
        let is_adfs = authority.authority_type() == authority::AuthorityType::Adfs;
        let spec = self.credential.ok_or_else(|| {
            Error::configuration(
                "a confidential client needs a credential: client_secret, certificate or client_assertion".into(),
            )
        })?;
        let credential = build_credential(spec, is_adfs, self.send_x5c, self.client_claims)?;
        let region = match self.region.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("auto") | Some("true") => std::env::var("REGION_NAME")
                .ok()
                .filter(|r| !r.trim().is_empty()),
            Some(r) => Some(r.to_string()),
        };
        if let Some(region) = &region {
            // Validates the region name now rather than on the first request.
            let probe = authority::Endpoints {
                authorization_endpoint: String::new(),
                token_endpoint: format!("{}/oauth2/v2.0/token", authority.url()),
                device_authorization_endpoint: None,
                end_session_endpoint: None,
                issuer: None,
                jwks_uri: None,
                realm: authority.tenant().to_string(),
            };
            authority::regional_token_endpoint(&authority, &probe, region)?;
        }
        let core = self
            .common
            .into_core(authority, Some(credential), DEFAULT_THROTTLE)?;
        Ok(ConfidentialClientApplication {
            core: Arc::new(core),
            region,
            obo_accounts: Mutex::new(HashMap::new()),
        })
    }
}

fn build_credential(
    spec: CredentialSpec,
    is_adfs: bool,
    send_x5c: bool,
    client_claims: serde_json::Map<String, serde_json::Value>,
) -> Result<ClientCredential, Error> {
    let mut cert = match spec {
        CredentialSpec::Secret(secret) => return Ok(ClientCredential::Secret(secret)),
        CredentialSpec::Assertion(callback) => return Ok(ClientCredential::Assertion(callback)),
        CredentialSpec::Certificate { key_pem, cert_pem } => {
            CertificateCredential::from_pem(&key_pem, &cert_pem)?
        }
        CredentialSpec::Thumbprint { key_pem, sha1_hex } => {
            CertificateCredential::from_pem_and_thumbprint(&key_pem, &sha1_hex)?
        }
        CredentialSpec::Pkcs12 { pfx, password } => {
            CertificateCredential::from_pkcs12(&pfx, &password)?
        }
    };
    cert.send_x5c = send_x5c;
    cert.force_rs256 = is_adfs;
    cert.client_claims = client_claims;
    Ok(ClientCredential::Certificate(
        Arc::new(cert),
        Arc::new(AssertionCache::default()),
    ))
}

/// A confidential client: client credentials, on-behalf-of, the web-app auth-code flow, and
/// silent token acquisition for signed-in accounts.
///
/// ```no_run
/// # async fn run() -> Result<(), entra_msal::Error> {
/// use entra_msal::ConfidentialClientApplication;
///
/// let app = ConfidentialClientApplication::builder("00000000-0000-0000-0000-000000000001")
///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
///     .client_secret("...")
///     .build()?;
/// let token = app.acquire_token_for_client(&["https://graph.microsoft.com/.default"]).await?;
/// println!("expires on {}", token.expires_on);
/// # Ok(()) }
/// ```
pub struct ConfidentialClientApplication {
    core: Arc<ClientCore>,
    region: Option<String>,
    /// user-assertion hash → home account id, so repeated on-behalf-of calls hit the cache.
    obo_accounts: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for ConfidentialClientApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfidentialClientApplication")
            .field("core", &self.core)
            .field("region", &self.region)
            .finish()
    }
}

impl ConfidentialClientApplication {
    /// Starts building an application for `client_id`.
    pub fn builder(client_id: impl Into<String>) -> ConfidentialClientBuilder {
        ConfidentialClientBuilder {
            common: CommonOptions::new(client_id.into()),
            credential: None,
            send_x5c: false,
            client_claims: serde_json::Map::new(),
            region: None,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.core.client_id
    }

    /// The token cache (serialize it, share it, attach persistence).
    pub fn token_cache(&self) -> &TokenCache {
        &self.core.cache
    }

    /// An app-only token (client credentials): from the cache when one is valid.
    pub async fn acquire_token_for_client(
        &self,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        /// The default options, made once: a cache hit does not even drop an empty map.
        static DEFAULT: ForClientOptions = ForClientOptions {
            force_refresh: false,
            claims_challenge: None,
            fmi_path: None,
            extra_parameters: std::collections::BTreeMap::new(),
        };
        self.acquire_token_for_client_with(scopes, &DEFAULT).await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options.
    pub async fn acquire_token_for_client_with(
        &self,
        scopes: &[&str],
        options: &ForClientOptions,
    ) -> Result<AuthenticationResult, Error> {
        client_credentials::run(&self.core, self.region.as_deref(), scopes, options).await
    }

    /// Exchanges a user's access token for one to call a downstream API (on-behalf-of).
    /// Repeated calls with the same assertion are answered from the cache.
    pub async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        on_behalf_of::run(&self.core, &self.obo_accounts, user_assertion, scopes).await
    }

    /// Starts the web-app auth-code flow: redirect the user to the returned `auth_uri`.
    pub async fn initiate_auth_code_flow(
        &self,
        scopes: &[&str],
        options: &AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow, Error> {
        let core = &self.core;
        let request = core.begin(scopes, options.claims_challenge.as_deref())?;
        let endpoints = core.endpoints().await?;
        AuthCodeFlow::build(
            &endpoints.authorization_endpoint,
            &core.client_id,
            request.scopes,
            &request.decorated,
            request.claims,
            options,
        )
    }

    /// Completes the auth-code flow with the authorization response's parameters (the query or
    /// form your redirect URI received): checks state, redeems the code with PKCE, checks nonce.
    pub async fn acquire_token_by_auth_code_flow(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
    ) -> Result<AuthenticationResult, Error> {
        CacheAccess::around(&self.core.cache, None, async {
            self.core.redeem_auth_code(flow, response).await
        })
        .await
    }

    /// A token for a signed-in account, from the cache or by refresh (MSAL's silent flow).
    pub async fn acquire_token_silent(
        &self,
        scopes: &[&str],
        account: &Account,
        options: &SilentOptions,
    ) -> Result<AuthenticationResult, Error> {
        let request = self
            .core
            .begin(scopes, options.claims_challenge.as_deref())?;
        CacheAccess::around(&self.core.cache, Some(&account.home_account_id), async {
            silent::acquire(&self.core, &request, account, options).await
        })
        .await
    }

    /// The accounts in the cache (one per home account), optionally only those with `username`.
    pub fn accounts(&self, username: Option<&str>) -> Vec<Account> {
        self.core.accounts(username)
    }

    /// Forgets an account: its refresh tokens (this app's and its family's), access tokens,
    /// id tokens and account entries.
    pub fn remove_account(&self, account: &Account) {
        self.core.remove_account(account);
    }

    /// Removes this app's app-only tokens (client credentials) from the cache.
    pub fn remove_tokens_for_client(&self) {
        let _access = CacheAccess::begin(&self.core.cache);
        let envs = vec![self.core.environment().to_string()];
        self.core
            .cache
            .remove_app_tokens(&self.core.client_id, &envs);
    }
}
