//! [`ManagedIdentityClient`]: tokens for the host's managed identity, cached like MSAL's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::clock::{Clock, SystemClock};
use super::coalesce::Coalescer;
use super::core::{CacheAccess, EXPIRY_MARGIN, result_from_access_token, result_from_entities};
use super::request::CorrelationId;
use super::result::{AuthenticationResult, TokenSource};
use crate::cache::{self, TokenCache};
use crate::error::Error;
use crate::http::{HttpClient, HttpOptions, HttpRequest, HttpResponse, ThrottledHttp};
use crate::managed_identity::codecs::{
    app_service, arc, cloud_shell, imds, machine_learning, pinned_tls, service_fabric,
};
use crate::managed_identity::{
    Detected, EnvironmentReader, ManagedIdentity, ManagedIdentityError, ManagedIdentityErrorKind,
    ManagedIdentitySource, MiToken, ProcessEnvironment, detect,
};

/// The cache `environment` of managed-identity tokens (MSAL: `localhost`).
pub const MANAGED_IDENTITY_ENVIRONMENT: &str = "localhost";
/// The cache `realm` of managed-identity tokens (MSAL: `managed_identity`).
pub const MANAGED_IDENTITY_REALM: &str = "managed_identity";
/// Tokens living at least this long (seconds) are refreshed at half-life.
const HALF_LIFE_THRESHOLD: i64 = 7200;

/// Acquires tokens for the managed identity of the Azure resource the code runs on (VM, App
/// Service, Functions, Container Apps, Service Fabric, Machine Learning, Arc-enabled server,
/// Cloud Shell), as MSAL Python's `ManagedIdentityClient`.
///
/// - The source is detected from the environment on every call ([`source`](Self::source)).
/// - Tokens are cached in a [`TokenCache`] under environment `localhost`, realm
///   `managed_identity` and client id = the user-assigned id or
///   `SYSTEM_ASSIGNED_MANAGED_IDENTITY`, with the target = the resource: the same entries MSAL
///   Python writes, so a shared cache works both ways. A cached token is used until 5 minutes
///   before it expires; a token of 2 hours or more is refreshed from its half-life, falling back
///   to the cached one if the endpoint fails.
/// - Answers `429`, `5xx` or carrying `Retry-After` are replayed to identical requests for the
///   `Retry-After` time (default 5 s) instead of hammering the endpoint.
/// - Service Fabric always uses the library's own HTTPS transport pinned to
///   `IDENTITY_SERVER_THUMBPRINT` (a custom [`HttpClient`] cannot pin certificates).
///
/// ```no_run
/// # async fn demo() -> Result<(), entra_msal::Error> {
/// use entra_msal::ManagedIdentityClient;
/// use entra_msal::managed_identity::ManagedIdentity;
///
/// let client = ManagedIdentityClient::new(ManagedIdentity::SystemAssigned)?;
/// let token = client.acquire_token_for_client("https://vault.azure.net").await?;
/// println!("expires {}", token.expires_on);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ManagedIdentityClient {
    inner: Arc<Inner>,
}

struct Inner {
    identity: ManagedIdentity,
    env: Arc<dyn EnvironmentReader>,
    http: ThrottledHttp,
    timeout: Duration,
    service_fabric: Mutex<Option<PinnedTransport>>,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
    instant: Arc<dyn Fn() -> Instant + Send + Sync>,
    capabilities: Vec<String>,
    coalescer: Coalescer,
}

#[derive(Clone)]
struct PinnedTransport {
    thumbprint: [u8; 20],
    http: ThrottledHttp,
    mismatch: Arc<AtomicBool>,
}

impl std::fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("identity", &self.inner.identity)
            .field("source", &self.source())
            .field("capabilities", &self.inner.capabilities)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ManagedIdentityClient`].
pub struct ManagedIdentityClientBuilder {
    identity: ManagedIdentity,
    env: Arc<dyn EnvironmentReader>,
    http_client: Option<Arc<dyn HttpClient>>,
    http_options: HttpOptions,
    cache: Option<TokenCache>,
    clock: Arc<dyn Clock>,
    capabilities: Vec<String>,
}

impl std::fmt::Debug for ManagedIdentityClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityClientBuilder")
            .field("identity", &self.identity)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityClientBuilder {
    /// Reads the environment from `env` instead of the process (tests, unusual hosts).
    pub fn environment(mut self, env: impl EnvironmentReader) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Uses your own transport (every source but Service Fabric, which is always pinned).
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Timeout of each HTTP request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http_options.timeout = timeout;
        self
    }

    /// Trusts a CA certificate (PEM) for an `https://` endpoint with a private CA (not needed for
    /// Service Fabric, whose certificate is pinned by thumbprint).
    pub fn trusted_ca(mut self, pem: impl Into<String>) -> Self {
        self.http_options.trusted_ca_pems.push(pem.into());
        self
    }

    /// Shares a token cache (default: a new in-memory one).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The time source (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Client capabilities (e.g. `CP1`), sent as `xms_cc` where the source supports it (Service
    /// Fabric).
    pub fn client_capabilities<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        capabilities: I,
    ) -> Self {
        self.capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Builds the client. No network I/O.
    pub fn build(self) -> Result<ManagedIdentityClient, Error> {
        self.identity.validate()?;
        let transport: Arc<dyn HttpClient> = match self.http_client {
            Some(c) => c,
            None => crate::http::default_client(&self.http_options)?,
        };
        let clock = self.clock;
        let start = Instant::now();
        let start_epoch = clock.now();
        let clock_for_http = clock.clone();
        // The throttle's time follows the injected clock, so tests move it without sleeping.
        let instant: Arc<dyn Fn() -> Instant + Send + Sync> = Arc::new(move || {
            let elapsed = (clock_for_http.now() - start_epoch).max(0);
            start + Duration::from_secs(u64::try_from(elapsed).unwrap_or(0))
        });
        let instant_for_http = instant.clone();
        Ok(ManagedIdentityClient {
            inner: Arc::new(Inner {
                identity: self.identity,
                env: self.env,
                http: ThrottledHttp::for_managed_identity(transport, move || instant_for_http()),
                timeout: self.http_options.timeout,
                service_fabric: Mutex::new(None),
                cache: self.cache.unwrap_or_default(),
                clock,
                instant,
                capabilities: self.capabilities,
                coalescer: Coalescer::default(),
            }),
        })
    }
}

impl ManagedIdentityClient {
    /// A client with the defaults: the process environment, the default transport, a new cache.
    pub fn new(identity: ManagedIdentity) -> Result<Self, Error> {
        Self::builder(identity).build()
    }

    /// A builder.
    pub fn builder(identity: ManagedIdentity) -> ManagedIdentityClientBuilder {
        ManagedIdentityClientBuilder {
            identity,
            env: Arc::new(ProcessEnvironment),
            http_client: None,
            // No transport retries: MSAL Python's ManagedIdentityClient has none either, and
            // the fault matrix documents each failure as the caller sees it.
            http_options: HttpOptions {
                retries: 0,
                ..HttpOptions::default()
            },
            cache: None,
            clock: Arc::new(SystemClock),
            capabilities: Vec::new(),
        }
    }

    /// The identity tokens are acquired for.
    pub fn identity(&self) -> &ManagedIdentity {
        &self.inner.identity
    }

    /// The source the environment selects now.
    pub fn source(&self) -> ManagedIdentitySource {
        detect(self.inner.env.as_ref()).source()
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// A token for `resource` (e.g. `https://vault.azure.net`), from the cache when it has a
    /// valid one.
    pub async fn acquire_token_for_client(
        &self,
        resource: &str,
    ) -> Result<AuthenticationResult, Error> {
        self.acquire(resource, None).await
    }

    /// A new token for `resource` after a resource answered with a claims challenge (for
    /// example because the identity's tokens were revoked). The cache is bypassed; where the
    /// source supports it (Service Fabric) the SHA-256 of the cached token is sent as
    /// `token_sha256_to_refresh` so the endpoint does not hand the same token back.
    pub async fn acquire_token_for_client_with_claims(
        &self,
        resource: &str,
        claims_challenge: &str,
    ) -> Result<AuthenticationResult, Error> {
        self.acquire(resource, Some(claims_challenge)).await
    }

    fn cached(&self, resource: &str) -> Option<cache::AccessToken> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let scopes = [resource.to_string()];
        inner
            .cache
            .find_access_token(&cache::AccessTokenQuery {
                client_id: inner.identity.cache_client_id(),
                environment: MANAGED_IDENTITY_ENVIRONMENT,
                realm: MANAGED_IDENTITY_REALM,
                home_account_id: None,
                scopes: &scopes,
                ext_cache_key: None,
                key_id: None,
                now,
            })
            .filter(|at| at.expires_on - now >= EXPIRY_MARGIN)
    }

    fn fresh(&self, at: &cache::AccessToken) -> bool {
        at.refresh_on.is_none_or(|r| r > self.inner.clock.now())
    }

    async fn acquire(
        &self,
        resource: &str,
        claims: Option<&str>,
    ) -> Result<AuthenticationResult, Error> {
        let inner = &self.inner;
        if resource.trim().is_empty() {
            return Err(Error::configuration(
                "the resource is empty; pass the resource's URI, e.g. https://vault.azure.net"
                    .into(),
            ));
        }
        let claims = claims.filter(|c| !c.trim().is_empty());
        CacheAccess::around(&inner.cache, None, async {
            let correlation = CorrelationId::default();
            let _flight = inner
                .coalescer
                .lock(format!("mi|{}", resource.to_lowercase()))
                .await;
            let cached = self.cached(resource);
            let (to_refresh, fallback) = match (&cached, claims) {
                (Some(at), Some(_)) => (Some(at.secret.clone()), None),
                (Some(at), None) if self.fresh(at) => {
                    tracing::debug!("managed identity token found in the cache");
                    return Ok(from_cache(at, correlation.if_made()));
                }
                (Some(at), None) => (None, Some(at.clone())),
                (None, _) => (None, None),
            };
            let hash = to_refresh.map(|secret| {
                Sha256::digest(secret.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            });
            let correlation_id = correlation.get();
            let detected = detect(inner.env.as_ref());
            let source = detected.source();
            let span = tracing::debug_span!("managed_identity", correlation_id, source = source.name());
            let outcome = tracing::Instrument::instrument(
                self.obtain(&detected, resource, hash.as_deref(), correlation_id),
                span,
            )
            .await;
            let token = match (outcome, fallback) {
                (Ok(t), _) => t,
                (Err(e), Some(at)) => {
                    tracing::warn!(correlation_id, error = %e, "proactive managed identity refresh failed; using the cached token");
                    return Ok(from_cache(&at, correlation_id));
                }
                (Err(e), None) => return Err(e),
            };
            self.store(resource, &token, correlation_id)
        })
        .await
    }

    fn store(
        &self,
        resource: &str,
        token: &MiToken,
        correlation_id: &str,
    ) -> Result<AuthenticationResult, Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let refresh_in = (token.expires_in >= HALF_LIFE_THRESHOLD).then_some(token.expires_in / 2);
        let scopes = [resource.to_string()];
        let result = inner.cache.file(
            &cache::Filing {
                client_id: inner.identity.cache_client_id(),
                environment: MANAGED_IDENTITY_ENVIRONMENT,
                realm: MANAGED_IDENTITY_REALM,
                requested_scopes: &scopes,
                grant_type: "managed_identity",
                username: None,
                ext_cache_key: None,
                key_id: None,
                skip_account_creation: true,
                now,
                app_partition: None,
            },
            &cache::Tokens {
                access_token: Some(token.access_token.as_str().into()),
                token_type: Some(&token.token_type),
                expires_in: Some(token.expires_in),
                refresh_in,
                ..cache::Tokens::default()
            },
            |entities| {
                result_from_entities(entities, TokenSource::IdentityProvider, correlation_id)
            },
        )??;
        tracing::debug!(correlation_id, "managed identity token acquired");
        Ok(result)
    }

    async fn send(
        &self,
        http: &ThrottledHttp,
        request: HttpRequest,
        source: ManagedIdentitySource,
    ) -> Result<HttpResponse, Error> {
        let url = request.uri().to_string();
        let safe_url = url.split('?').next().unwrap_or("").to_string();
        http.send(request).await.map_err(|e| {
            let hint = match source {
                ManagedIdentitySource::Imds => {
                    " (no Instance Metadata Service here: is this running on an Azure VM with a \
                     managed identity? Off Azure, use another credential)"
                }
                _ => " (check the endpoint variable of the managed identity source)",
            };
            Error::Network {
                url: safe_url,
                message: format!("{}{hint}", e.message()),
                timeout: e.is_timeout(),
                source: e.cause(),
            }
        })
    }

    async fn obtain(
        &self,
        detected: &Detected,
        resource: &str,
        token_sha256_to_refresh: Option<&str>,
        correlation_id: &str,
    ) -> Result<MiToken, Error> {
        let inner = &self.inner;
        let identity = &inner.identity;
        let source = detected.source();
        match detected {
            Detected::Imds { host } => {
                let request = imds::request(host, identity, resource, correlation_id)?;
                let url = imds::token_url(host);
                let response = self.send(&inner.http, request, source).await?;
                imds::parse(&url, &response)
            }
            Detected::AppService { endpoint, secret } => {
                let request = app_service::request(endpoint, secret, identity, resource)?;
                let response = self.send(&inner.http, request, source).await?;
                app_service::parse(endpoint, &response, inner.clock.now())
            }
            Detected::MachineLearning { endpoint, secret } => {
                let request = machine_learning::request(endpoint, secret, identity, resource)?;
                let response = self.send(&inner.http, request, source).await?;
                machine_learning::parse(endpoint, &response, inner.clock.now())
            }
            Detected::CloudShell { endpoint } => {
                let request = cloud_shell::request(endpoint, identity, resource)?;
                let response = self.send(&inner.http, request, source).await?;
                cloud_shell::parse(endpoint, &response, inner.clock.now())
            }
            Detected::ServiceFabric {
                endpoint,
                secret,
                thumbprint,
            } => {
                if identity.user_assigned().is_some() {
                    tracing::debug!(
                        "ignoring the user-assigned identity: Service Fabric's identity is configured in the cluster"
                    );
                }
                service_fabric::check_endpoint(endpoint)?;
                let thumbprint = service_fabric::normalize_thumbprint(thumbprint)?;
                let transport = self.pinned(thumbprint)?;
                let request = service_fabric::request(
                    endpoint,
                    secret,
                    resource,
                    token_sha256_to_refresh,
                    &inner.capabilities,
                )?;
                transport.mismatch.store(false, Ordering::SeqCst);
                let response = match self.send(&transport.http, request, source).await {
                    Ok(r) => r,
                    Err(e) if transport.mismatch.swap(false, Ordering::SeqCst) => {
                        tracing::warn!(error = %e, "Service Fabric certificate pin failed");
                        return Err(Error::ManagedIdentity(Box::new(ManagedIdentityError::new(
                            source,
                            ManagedIdentityErrorKind::CertificateMismatch,
                            format!(
                                "the endpoint's certificate does not match IDENTITY_SERVER_THUMBPRINT; \
                                 nothing was sent. Check that IDENTITY_ENDPOINT and \
                                 IDENTITY_SERVER_THUMBPRINT come from the same cluster ({})",
                                endpoint.split('?').next().unwrap_or("")
                            ),
                        ))));
                    }
                    Err(e) => return Err(e),
                };
                service_fabric::parse(endpoint, &response, inner.clock.now())
            }
            Detected::AzureArc { endpoint } => {
                let env = inner.env.as_ref();
                let first = arc::request(endpoint, identity, resource, None)?;
                let response = self.send(&inner.http, first, source).await?;
                let realm = arc::challenge_path(endpoint, &response)?;
                let directory = env.arc_key_directory().ok_or_else(|| {
                    Error::ManagedIdentity(Box::new(ManagedIdentityError::new(
                        source,
                        ManagedIdentityErrorKind::PlatformNotSupported,
                        format!(
                            "Azure Arc managed identity is supported on Linux and Windows, not on {}",
                            env.os()
                        ),
                    )))
                })?;
                let path = arc::key_file_path(&realm, &directory, env.os() == "windows")?;
                let secret = arc::read_key_file(&path)?;
                let second = arc::request(endpoint, identity, resource, Some(&secret))?;
                let response = self.send(&inner.http, second, source).await?;
                arc::parse(endpoint, &response, identity)
            }
        }
    }

    fn pinned(&self, thumbprint: [u8; 20]) -> Result<PinnedTransport, Error> {
        let inner = &self.inner;
        let mut slot = inner
            .service_fabric
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(t) = slot.as_ref().filter(|t| t.thumbprint == thumbprint) {
            return Ok(t.clone());
        }
        let (client, mismatch) = pinned_tls::client(thumbprint, inner.timeout)?;
        let instant = inner.instant.clone();
        let transport = PinnedTransport {
            thumbprint,
            http: ThrottledHttp::for_managed_identity(client, move || instant()),
            mismatch,
        };
        *slot = Some(transport.clone());
        Ok(transport)
    }
}

fn from_cache(at: &cache::AccessToken, correlation_id: &str) -> AuthenticationResult {
    result_from_access_token(at, TokenSource::Cache, correlation_id)
}
