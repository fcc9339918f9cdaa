//! `ConfidentialClientApplication`: daemons, web apps and web APIs that can hold a credential.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::account_list::AccountList;
use super::auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
use super::builder::{CommonOptions, common_builder_methods};
use super::confidential_options::{FederatedUser, OnBehalfOfOptions, UserFicOptions};
use super::core::{CacheAccess, ClientCore};
use super::flows::silent;
use super::flows::{client_credentials, on_behalf_of, password, refresh_token, user_fic};
use super::options::{AuthorizationCodeOptions, ForClientOptions, SilentOptions};
use super::region::RegionChoice;
use super::result::{Account, AuthenticationResult};
use crate::authority;
use crate::cache::TokenCache;
use crate::error::Error;
use crate::managed_identity::{EnvironmentReader, ProcessEnvironment};
use crate::oauth::assertion::AssertionCache;
use crate::oauth::credential::{AssertionCallback, AssertionRequest};
use crate::oauth::{
    AssertionFile, CertificateCredential, ClientCredential, ClientSecret, MemoizedAssertion,
};

/// Confidential clients replay a throttled response for 5 s by default (MSAL Python).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);

enum CredentialSpec {
    Secret(ClientSecret),
    Certificate { key_pem: String, cert_pem: String },
    Thumbprint { key_pem: String, sha1_hex: String },
    Pkcs12 { pfx: Vec<u8>, password: String },
    Assertion(AssertionCallback),
    MemoizedAssertion(AssertionCallback, Duration),
    AssertionFile(std::path::PathBuf),
}

/// Builds a [`ConfidentialClientApplication`]. Building does no network I/O.
pub struct ConfidentialClientBuilder {
    common: CommonOptions,
    credential: Option<CredentialSpec>,
    send_x5c: bool,
    client_claims: serde_json::Map<String, serde_json::Value>,
    region: Option<String>,
    env: Arc<dyn EnvironmentReader>,
    passphrase: Option<String>,
}

impl std::fmt::Debug for ConfidentialClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfidentialClientBuilder")
            .field("common", &self.common)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The Azure authority host when `AZURE_AUTHORITY_HOST` is not set.
const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

impl ConfidentialClientBuilder {
    common_builder_methods!();

    /// Workload identity federation configured from the environment, as the Azure Workload
    /// Identity webhook sets it in a Kubernetes pod: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE` (required) and `AZURE_AUTHORITY_HOST` (default
    /// `https://login.microsoftonline.com`). The token file is read for every token request.
    /// Further builder calls may still change the authority, transport or cache.
    pub fn from_environment() -> Result<Self, Error> {
        Self::from_variables(|name| std::env::var(name).ok())
    }

    fn from_variables(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::configuration(format!(
                        "{name} is not set: workload identity federation needs AZURE_CLIENT_ID, \
                         AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (set by the Azure \
                         Workload Identity webhook on a pod whose service account is annotated \
                         with azure.workload.identity/client-id)"
                    ))
                })
        };
        let client_id = required("AZURE_CLIENT_ID")?;
        let tenant = required("AZURE_TENANT_ID")?;
        let file = required("AZURE_FEDERATED_TOKEN_FILE")?;
        let host = get("AZURE_AUTHORITY_HOST")
            .map(|h| h.trim().trim_end_matches('/').to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_string());
        Ok(ConfidentialClientApplication::builder(client_id)
            .authority(format!("{host}/{tenant}"))
            .workload_identity_federation(file))
    }

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

    /// Authenticates with an assertion the callback produces, reused for `lifetime` after it
    /// was made (MSAL Python's `AutoRefresher(callback, expires_in)`): for a callback that is
    /// slow or rate-limited, such as a key vault signing call. Give a lifetime shorter than the
    /// assertion's own; an assertion for another token endpoint is made anew.
    pub fn client_assertion_with_lifetime(
        mut self,
        callback: impl Fn(&AssertionRequest) -> Result<String, Error> + Send + Sync + 'static,
        lifetime: Duration,
    ) -> Self {
        self.credential = Some(CredentialSpec::MemoizedAssertion(
            Arc::new(callback),
            lifetime,
        ));
        self
    }

    /// Workload identity federation: the client assertion is the token in `path` (a Kubernetes
    /// projected service-account token, a GitHub Actions OIDC token written to a file, ...),
    /// read again for every token request so a rotated token is used as soon as it is written.
    pub fn workload_identity_federation(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.credential = Some(CredentialSpec::AssertionFile(path.into()));
        self
    }

    /// The passphrase of an encrypted PEM private key (`BEGIN ENCRYPTED PRIVATE KEY`, PKCS#8
    /// with PBES2, or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` form) given to
    /// [`certificate`](Self::certificate) or
    /// [`certificate_thumbprint`](Self::certificate_thumbprint).
    pub fn private_key_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// Uses the regional endpoint (ESTS-R) for client credentials: a region name such as
    /// `westus2`; `"auto"` to detect it on the first request (`REGION_NAME`, else the Instance
    /// Metadata Service, else the global endpoint); `"none"` (or `""`) for the global endpoint
    /// even when `MSAL_FORCE_REGION` is set. Without this call, `MSAL_FORCE_REGION` names the
    /// region, if set.
    pub fn azure_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Reads `REGION_NAME`, `MSAL_FORCE_REGION` and `AZURE_POD_IDENTITY_AUTHORITY_HOST` (the
    /// Instance Metadata Service's host for region detection) from `env` instead of the process
    /// (tests, hosts configured another way).
    pub fn environment(mut self, env: impl EnvironmentReader) -> Self {
        self.env = Arc::new(env);
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
        let credential = build_credential(
            spec,
            is_adfs,
            self.send_x5c,
            self.client_claims,
            self.passphrase.as_deref(),
        )?;
        let region = RegionChoice::new(self.region.as_deref(), self.env, &authority)?;
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
    passphrase: Option<&str>,
) -> Result<ClientCredential, Error> {
    let mut cert = match spec {
        CredentialSpec::Secret(secret) => return Ok(ClientCredential::Secret(secret)),
        CredentialSpec::Assertion(callback) => return Ok(ClientCredential::Assertion(callback)),
        CredentialSpec::MemoizedAssertion(callback, lifetime) => {
            let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
            return Ok(ClientCredential::MemoizedAssertion(Arc::new(
                MemoizedAssertion::new(callback, seconds),
            )));
        }
        CredentialSpec::AssertionFile(path) => {
            return Ok(ClientCredential::AssertionFile(AssertionFile::new(path)));
        }
        CredentialSpec::Certificate { key_pem, cert_pem } => {
            CertificateCredential::from_pem_with_passphrase(&key_pem, &cert_pem, passphrase)?
        }
        CredentialSpec::Thumbprint { key_pem, sha1_hex } => {
            CertificateCredential::from_pem_and_thumbprint_with_passphrase(
                &key_pem, &sha1_hex, passphrase,
            )?
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
    region: RegionChoice,
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
            env: Arc::new(ProcessEnvironment),
            passphrase: None,
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
            forwarded_client_claims: None,
        };
        self.acquire_token_for_client_with(scopes, &DEFAULT).await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with options.
    pub async fn acquire_token_for_client_with(
        &self,
        scopes: &[&str],
        options: &ForClientOptions,
    ) -> Result<AuthenticationResult, Error> {
        client_credentials::run(&self.core, &self.region, scopes, options).await
    }

    /// Exchanges a user's access token for one to call a downstream API (on-behalf-of).
    /// Repeated calls with the same assertion are answered from the cache.
    pub async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        self.acquire_token_on_behalf_of_with(user_assertion, scopes, &OnBehalfOfOptions::default())
            .await
    }

    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) with options: a claims
    /// challenge from the downstream API (skips the cache), forwarded client claims.
    pub async fn acquire_token_on_behalf_of_with(
        &self,
        user_assertion: &str,
        scopes: &[&str],
        options: &OnBehalfOfOptions,
    ) -> Result<AuthenticationResult, Error> {
        on_behalf_of::run(
            &self.core,
            &self.obo_accounts,
            user_assertion,
            scopes,
            options,
        )
        .await
    }

    /// A user's tokens for a federated identity credential (the `user_fic` grant, MSAL Python
    /// 1.37): `assertion` is e.g. an agent identity's token for `api://AzureADTokenExchange`,
    /// `user` the user it acts for. The account is cached (`account_source = "user_fic"`), so
    /// [`acquire_token_silent`](Self::acquire_token_silent) serves it afterwards.
    pub async fn acquire_token_by_user_federated_identity_credential(
        &self,
        scopes: &[&str],
        assertion: &str,
        user: &FederatedUser,
        options: &UserFicOptions,
    ) -> Result<AuthenticationResult, Error> {
        user_fic::run(&self.core, scopes, assertion, user, options).await
    }

    /// Redeems a refresh token obtained elsewhere (e.g. from ADAL) with this client's
    /// credential; the tokens are cached, so silent calls use them afterwards.
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        refresh_token::run(&self.core, refresh_token, scopes).await
    }

    /// Username and password (resource owner password credentials) with this client's
    /// credential in the request. Microsoft advises against it: it fails for accounts with MFA
    /// and for federated (ADFS) users; prefer the auth-code flow.
    pub async fn acquire_token_by_username_password(
        &self,
        username: &str,
        password: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        let request = self.core.begin(scopes, None)?;
        password::run(&self.core, None, username, password, request).await
    }

    /// Starts the web-app auth-code flow: redirect the user to the returned `auth_uri`, and keep
    /// the flow (server-side; it is serializable and holds secrets, see [`AuthCodeFlow`]).
    /// `scopes` may be empty: sign in only, for the id token and account.
    pub async fn initiate_auth_code_flow(
        &self,
        scopes: &[&str],
        options: &AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow, Error> {
        self.core.initiate_auth_code_flow(scopes, options).await
    }

    /// Completes the auth-code flow with the authorization response's parameters (the query or
    /// form your redirect URI received): checks state, redeems the code with PKCE, checks nonce.
    pub async fn acquire_token_by_auth_code_flow(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_auth_code_flow(flow, response, None)
            .await
    }

    /// [`acquire_token_by_auth_code_flow`](Self::acquire_token_by_auth_code_flow) for `scopes`
    /// instead of the flow's: they must be among the flow's scopes and its
    /// `extra_scopes_to_consent` (one resource's token when the user consented to several).
    pub async fn acquire_token_by_auth_code_flow_for_scopes(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_auth_code_flow(flow, response, Some(scopes))
            .await
    }

    /// Redeems an authorization code obtained without an [`AuthCodeFlow`] (a hand-built
    /// authorization URL, a code handed over by another component). `redirect_uri` must be the
    /// one the authorization request carried; pass the `nonce` and PKCE `code_verifier` it used
    /// in `options` (the id token's nonce is then checked). Prefer the auth-code flow, which
    /// does all of this itself.
    pub async fn acquire_token_by_authorization_code(
        &self,
        code: &str,
        scopes: &[&str],
        redirect_uri: &str,
        options: &AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_authorization_code(code, scopes, redirect_uri, options)
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
    ///
    /// The list is shared and kept until the cache changes, so calling this again (before each
    /// silent call, say) costs nothing; it reads like a slice (`accounts.first()`, `&accounts[0]`).
    pub fn accounts(&self, username: Option<&str>) -> AccountList {
        self.core.accounts(username)
    }

    /// Forgets an account: its refresh tokens (this app's and its family's), access tokens,
    /// id tokens and account entries.
    pub fn remove_account(&self, account: &Account) {
        self.core.remove_account(account);
    }

    /// Removes this app's app-only tokens (client credentials) from the cache, under the
    /// authority's host and its aliases.
    pub fn remove_tokens_for_client(&self) {
        let _access = CacheAccess::begin(&self.core.cache);
        let mut envs = vec![self.core.environment().to_string()];
        envs.extend(authority::known_aliases(
            &self.core.http,
            &self.core.authority,
            self.core.discovery,
        ));
        self.core
            .cache
            .remove_app_tokens(&self.core.client_id, &envs);
    }
}

// Every test here builds an application with the default transport.
#[cfg(all(test, feature = "reqwest"))]
mod tests {
    use super::*;

    fn variables<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn workload_identity_from_the_environment() {
        let builder = ConfidentialClientBuilder::from_variables(variables(&[
            ("AZURE_CLIENT_ID", "cid"),
            ("AZURE_TENANT_ID", "tid"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/"),
        ]))
        .unwrap();
        assert_eq!(builder.common.client_id, "cid");
        assert_eq!(
            builder.common.authority.as_deref(),
            Some("https://login.microsoftonline.us/tid")
        );
        assert!(matches!(
            &builder.credential,
            Some(CredentialSpec::AssertionFile(p)) if p.to_str() == Some("/var/run/secrets/token")
        ));
        let app = builder.build().unwrap();
        assert!(format!("{app:?}").contains("AssertionFile(/var/run/secrets/token)"));
        let default_host = ConfidentialClientBuilder::from_variables(variables(&[
            ("AZURE_CLIENT_ID", "cid"),
            ("AZURE_TENANT_ID", "tid"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
        ]))
        .unwrap();
        assert_eq!(
            default_host.common.authority.as_deref(),
            Some("https://login.microsoftonline.com/tid")
        );
        let missing = ConfidentialClientBuilder::from_variables(variables(&[
            ("AZURE_CLIENT_ID", "cid"),
            ("AZURE_TENANT_ID", " "),
        ]))
        .unwrap_err()
        .to_string();
        assert!(missing.contains("AZURE_TENANT_ID is not set"), "{missing}");
    }
}

// With an application-given transport: no `reqwest` needed.
#[cfg(test)]
mod discovery_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::ConfidentialClientApplication;
    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

    /// An authority that answers discovery and client-credential requests, counting discovery.
    #[derive(Default)]
    struct Counting {
        discoveries: AtomicUsize,
    }

    impl HttpClient for Counting {
        fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            let body = if request.uri().path().ends_with("openid-configuration") {
                self.discoveries.fetch_add(1, Ordering::SeqCst);
                r#"{"authorization_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/authorize",
                    "token_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                    "issuer": "https://login.microsoftonline.com/t/v2.0"}"#
            } else {
                r#"{"access_token": "at", "token_type": "Bearer", "expires_in": 3600}"#
            };
            let response = http::Response::builder()
                .header("content-type", "application/json")
                .body(body.as_bytes().to_vec())
                .unwrap();
            Box::pin(async move { Ok(response) })
        }
    }

    /// The call that discovered the endpoints keeps them in the application, as a later call
    /// that found them in the process-wide memo does: once that memo drops them to make room for
    /// other authorities, the application still sends no discovery request.
    #[tokio::test]
    async fn the_call_that_discovers_the_endpoints_keeps_them() {
        let http = Arc::new(Counting::default());
        let app = ConfidentialClientApplication::builder("client")
            .authority("https://login.microsoftonline.com/keeps-its-endpoints")
            .client_secret("secret")
            .http_client(http.clone())
            .build()
            .unwrap();
        assert!(app.core.current_endpoints().is_none());
        app.acquire_token_for_client(&["api://a/.default"])
            .await
            .unwrap();
        assert_eq!(http.discoveries.load(Ordering::SeqCst), 1);
        assert!(
            app.core.current_endpoints().is_some(),
            "the discovering call kept the endpoints"
        );
        app.acquire_token_for_client(&["api://b/.default"])
            .await
            .unwrap();
        assert_eq!(http.discoveries.load(Ordering::SeqCst), 1);
    }
}
