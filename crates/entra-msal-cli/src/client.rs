//! Building the library's applications from the settings: authority, CA, the persisted token
//! cache, and the credential an app token uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use entra_msal::TokenCache;
use entra_msal::http::{HttpClient, HttpOptions};
use entra_msal::persistence::{FilePersistence, PersistentTokenCache};
use entra_msal::{
    ConfidentialClientApplication, ConfidentialClientBuilder, PublicClientApplication,
    PublicClientBuilder,
};

use crate::discovery_cache::CachingTransport;
use crate::failure::Failure;
use crate::settings::Settings;

/// The token cache, kept in its file between runs.
pub struct Cache {
    /// The cache the applications share.
    pub cache: TokenCache,
    /// The listener that reads and writes the file.
    pub listener: Arc<PersistentTokenCache>,
    /// The file.
    pub path: PathBuf,
}

impl Cache {
    /// Opens (or starts) the cache file: owner-only, MSAL JSON, locked only while written.
    pub fn open(path: &Path) -> Result<Self, Failure> {
        let cache = TokenCache::new();
        let persistence = Arc::new(FilePersistence::new(path));
        let listener = PersistentTokenCache::attach(&cache, persistence).map_err(|e| match e {
            entra_msal::Error::Cache { .. } => Failure::from(e).next(format!(
                "repair or delete {}, or use another cache with --cache-file",
                path.display()
            )),
            // Refused paths and busy locks carry their own next step: the cache is not broken.
            _ => Failure::from(e),
        })?;
        Ok(Self {
            cache,
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Warns (standard error) when the file could not be written during the run.
    pub fn finish(&self) {
        if let Some(e) = self.listener.take_last_error() {
            eprintln!(
                "msal: warning: the token cache file {} could not be used: {e}",
                self.path.display()
            );
        }
    }
}

/// The secret or certificate an application token uses. Managed identity joins here.
pub enum AppCredential {
    /// A client secret.
    Secret(String),
    /// A certificate: private key and certificate, PEM.
    Certificate {
        /// The private key.
        key_pem: String,
        /// The certificate.
        cert_pem: String,
    },
    /// A client assertion read from a file at each request (workload identity:
    /// `AZURE_FEDERATED_TOKEN_FILE`, which Kubernetes rotates).
    AssertionFile(PathBuf),
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCredential::Secret(_) => f.write_str("Secret([redacted])"),
            AppCredential::Certificate { .. } => f.write_str("Certificate([redacted])"),
            AppCredential::AssertionFile(p) => write!(f, "AssertionFile({})", p.display()),
        }
    }
}

pub fn read_ca(path: &Path) -> Result<String, Failure> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!("cannot read the CA file {}: {e}", path.display()))
            .next("pass the PEM certificate of the authority's CA with --ca-file")
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Failure::config(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        ))
        .next("pass a file with -----BEGIN CERTIFICATE----- blocks"));
    }
    Ok(pem)
}

/// What both builders share.
macro_rules! configure {
    ($builder:expr, $settings:expr) => {{
        let settings: &Settings = $settings;
        let mut b = $builder
            .allow_http_loopback_authority(true)
            .instance_discovery(settings.instance_discovery.value)
            .app_name_and_version("msal-cli", env!("CARGO_PKG_VERSION"));
        if let Some(url) = settings.authority_url()? {
            b = b.authority(url);
        }
        if let Some(oidc) = &settings.oidc_authority {
            b = b.oidc_authority(oidc.value.clone());
        }
        b
    }};
}

/// The transport: discovery answered from the file beside `cache` when it holds a fresh answer,
/// the HTTP client (trusting only `--ca-file` when given, as `trusted_ca` does) built only when a
/// request really goes out (see [`CachingTransport`]).
fn transport(settings: &Settings, cache: &Cache) -> Result<Arc<dyn HttpClient>, Failure> {
    let mut options = HttpOptions::default();
    if let Some(ca) = &settings.ca_file {
        options.trusted_ca_pems.push(read_ca(&ca.value)?);
        options.only_trusted_cas = true;
    }
    Ok(Arc::new(CachingTransport::new(
        options,
        Some(CachingTransport::file_beside(&cache.path)),
    )))
}

/// A public-client builder for the settings.
pub fn public_builder(settings: &Settings, cache: &Cache) -> Result<PublicClientBuilder, Failure> {
    let client_id = settings.require_client_id()?;
    Ok(
        configure!(PublicClientApplication::builder(client_id), settings)
            .token_cache(cache.cache.clone())
            .http_client(transport(settings, cache)?),
    )
}

/// The public client; `broker` turns on the broker switch of every platform (the library uses
/// the one for the platform it runs on).
pub fn public_app(
    settings: &Settings,
    cache: &Cache,
    broker: bool,
) -> Result<PublicClientApplication, Failure> {
    let mut builder = public_builder(settings, cache)?;
    if broker {
        builder = builder
            .enable_broker_on_mac(true)
            .enable_broker_on_windows(true)
            .enable_broker_on_linux(true)
            .enable_broker_on_wsl(true);
    }
    Ok(builder.build()?)
}

fn confidential_builder(settings: &Settings) -> Result<ConfidentialClientBuilder, Failure> {
    let client_id = settings.require_app_client_id()?;
    Ok(configure!(
        ConfidentialClientApplication::builder(client_id),
        settings
    ))
}

/// The confidential client of the configured app for cache operations only (`msal logout
/// --app`): it holds no credential, and its assertion callback refuses to sign, since nothing
/// is sent.
pub fn confidential_app_for_cache(
    settings: &Settings,
    cache: &Cache,
) -> Result<ConfidentialClientApplication, Failure> {
    let builder = confidential_builder(settings)?
        .token_cache(cache.cache.clone())
        .http_client(transport(settings, cache)?)
        .client_assertion(|_| {
            Err(entra_msal::Error::Configuration {
                message: "this application only edits the token cache; it has no credential to \
                          request tokens with"
                    .into(),
                source: None,
            })
        });
    Ok(builder.build()?)
}

/// The confidential client for an app token.
pub fn confidential_app(
    settings: &Settings,
    cache: &Cache,
    credential: AppCredential,
) -> Result<ConfidentialClientApplication, Failure> {
    let builder = confidential_builder(settings)?
        .token_cache(cache.cache.clone())
        .http_client(transport(settings, cache)?);
    let builder = match credential {
        AppCredential::Secret(s) => builder.client_secret(s),
        AppCredential::Certificate { key_pem, cert_pem } => builder.certificate(key_pem, cert_pem),
        AppCredential::AssertionFile(path) => builder.client_assertion(move |_| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| entra_msal::Error::Configuration {
                    message: format!(
                        "cannot read the federated token file {} (AZURE_FEDERATED_TOKEN_FILE): {e}",
                        path.display()
                    ),
                    source: Some(std::sync::Arc::new(e)),
                })?;
            let assertion = text.trim();
            if assertion.is_empty() {
                return Err(entra_msal::Error::Configuration {
                    message: format!(
                        "the federated token file {} (AZURE_FEDERATED_TOKEN_FILE) is empty",
                        path.display()
                    ),
                    source: None,
                });
            }
            Ok(assertion.to_string())
        }),
    };
    Ok(builder.build()?)
}
