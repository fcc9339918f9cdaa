//! The emulator's configuration: tenants, applications, users and settings.
//!
//! A configuration is plain data (TOML or JSON). `ready_made()` (`ready_made.rs`) builds the tenant
//! that `entra-emulator serve` starts with when no file is given.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The whole configuration of one emulator instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// The directories (tenants) the emulator hosts.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Registered applications (app registrations).
    #[serde(default)]
    pub applications: Vec<AppConfig>,
    /// Users who can sign in.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Lifetimes, transport and other knobs.
    #[serde(default)]
    pub settings: Settings,
}

/// One Entra tenant (directory).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant id (a GUID), used in issuers and `tid` claims.
    pub id: Uuid,
    /// Verified domain names (`contoso.example`); any of them may replace the GUID in a URL.
    #[serde(default)]
    pub domains: Vec<String>,
    /// A display name, shown on sign-in pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Domains whose users are federated (user-realm discovery reports `Federated`).
    #[serde(default)]
    pub federated_domains: Vec<String>,
}

/// Whether an application is a public client (desktop, mobile, CLI) or a confidential one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Cannot hold a secret: no client authentication, may use device code and ROPC.
    Public,
    /// Authenticates with a secret or a certificate.
    Confidential,
}

/// A certificate credential of a confidential client (for `private_key_jwt`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateCredential {
    /// The certificate, PEM encoded (`-----BEGIN CERTIFICATE-----`).
    pub certificate_pem: String,
    /// The matching private key (PEM). The emulator never needs it; when present it is handed to
    /// clients in the connection info (the ready-made tenant does this).
    #[serde(default)]
    pub private_key_pem: Option<String>,
}

/// An application registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The application (client) id.
    pub client_id: String,
    /// A display name, shown on consent pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Public or confidential.
    pub kind: ClientKind,
    /// Client secrets accepted for this app.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Certificates accepted in client assertions.
    #[serde(default)]
    pub certificates: Vec<CertificateCredential>,
    /// Registered redirect URIs. `http://localhost` (or `http://127.0.0.1`) matches any port.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Family of client ids (FOCI) this app belongs to, usually `"1"`.
    #[serde(default)]
    pub family_id: Option<String>,
    /// Delegated scopes the app may request, fully qualified (`api://x/read`) or Graph short
    /// names (`User.Read`); `*` matches any run of characters.
    #[serde(default)]
    pub delegated_scopes: Vec<String>,
    /// Application permissions (client credentials), as `<resource>/.default`; `*` allowed.
    #[serde(default)]
    pub application_scopes: Vec<String>,
    /// Application ID URIs under which this app is itself a resource (`api://emulator-api`).
    #[serde(default)]
    pub identifier_uris: Vec<String>,
}

/// A user who can sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The sign-in name (UPN), e.g. `alice@contoso.example`.
    pub username: String,
    /// The password.
    pub password: String,
    /// The object id in the home tenant.
    pub object_id: Uuid,
    /// Display name (`name` claim).
    #[serde(default)]
    pub display_name: Option<String>,
    /// The tenant the account belongs to.
    pub home_tenant: Uuid,
    /// Other tenants in which the user is a guest.
    #[serde(default)]
    pub guest_tenants: Vec<Uuid>,
    /// Conditional Access requires multi-factor authentication for this user.
    #[serde(default)]
    pub mfa_required: bool,
    /// The user has already consented to every app; when false, a consent page appears and
    /// non-interactive flows fail with AADSTS65001 until the user consents interactively.
    #[serde(default = "default_true")]
    pub consent_given: bool,
}

fn default_true() -> bool {
    true
}

/// Lifetimes and other knobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Access-token lifetime; `refresh_in` is sent when it is two hours or more.
    pub access_token_lifetime_seconds: u64,
    /// Refresh-token lifetime.
    pub refresh_token_lifetime_seconds: u64,
    /// Authorization-code lifetime.
    pub authorization_code_lifetime_seconds: u64,
    /// Device-code lifetime (`expires_in` of the device authorization response).
    pub device_code_lifetime_seconds: u64,
    /// Device-code polling interval (`interval`).
    pub device_code_interval_seconds: u64,
    /// Serve plain HTTP instead of HTTPS (clients such as MSAL Python refuse it).
    pub plain_http: bool,
    /// Serve the HTTP control API under `/_control`.
    pub control_api: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// How many requests the request log keeps.
    pub request_log_capacity: usize,
    /// An RSA private key (PKCS#8 or PKCS#1 PEM) to sign tokens with; when absent, the
    /// per-machine cached key ([`crate::key_cache`]), generated on first use.
    pub signing_key_pem: Option<String>,
    /// Append every secret the emulator issues or receives, and its users' names, to this file
    /// (JSON lines, owner-only), to search an app's logs for leaks with `entra-emulator
    /// scan-logs`. When absent, `ENTRA_EMULATOR_SECRETS_LOG` may name the file.
    pub secrets_log: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_lifetime_seconds: 3599,
            refresh_token_lifetime_seconds: 90 * 24 * 3600,
            authorization_code_lifetime_seconds: 600,
            device_code_lifetime_seconds: 900,
            device_code_interval_seconds: 5,
            plain_http: false,
            control_api: false,
            max_body_bytes: 1024 * 1024,
            request_log_capacity: 10_000,
            signing_key_pem: None,
            secrets_log: None,
        }
    }
}

/// A configuration that cannot be loaded or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the emulator configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or JSON of the expected shape.
    #[error("invalid emulator configuration {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// The data is well-formed but inconsistent.
    #[error("invalid emulator configuration: {0}")]
    Invalid(String),
}

impl EmulatorConfig {
    /// Loads a configuration file: JSON when it ends in `.json`, TOML otherwise.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: Self = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?
        } else {
            toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks cross references: users' tenants exist, ids are unique, confidential clients have a
    /// credential, certificates parse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.tenants.is_empty() {
            return invalid("at least one tenant is required".into());
        }
        let known_tenant = |id: &Uuid| self.tenants.iter().any(|t| &t.id == id);
        for (i, app) in self.applications.iter().enumerate() {
            if self.applications[..i]
                .iter()
                .any(|a| a.client_id.eq_ignore_ascii_case(&app.client_id))
            {
                return invalid(format!("application {} is listed twice", app.client_id));
            }
            if app.kind == ClientKind::Confidential
                && app.secrets.is_empty()
                && app.certificates.is_empty()
            {
                return invalid(format!(
                    "confidential application {} needs a secret or a certificate",
                    app.client_id
                ));
            }
            for cert in &app.certificates {
                crate::crypto::parse_certificate_pem(&cert.certificate_pem).map_err(|e| {
                    ConfigError::Invalid(format!(
                        "application {}: certificate does not parse: {e}",
                        app.client_id
                    ))
                })?;
            }
        }
        for (i, user) in self.users.iter().enumerate() {
            if self.users[..i]
                .iter()
                .any(|u| u.username.eq_ignore_ascii_case(&user.username))
            {
                return invalid(format!("user {} is listed twice", user.username));
            }
            if !known_tenant(&user.home_tenant) {
                return invalid(format!(
                    "user {}: home tenant {} is not configured",
                    user.username, user.home_tenant
                ));
            }
            if let Some(t) = user.guest_tenants.iter().find(|t| !known_tenant(t)) {
                return invalid(format!(
                    "user {}: guest tenant {t} is not configured",
                    user.username
                ));
            }
        }
        Ok(())
    }
}
