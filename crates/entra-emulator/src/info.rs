//! The connection info printed by `entra-emulator serve --json`: everything a client or a test
//! script needs to talk to a running emulator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{AppConfig, ClientKind, EmulatorConfig};
use crate::startup::EmulatorError;

/// A client of the tenant, with a scope it may request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client id.
    pub client_id: String,
    /// A scope the client may request (delegated for public clients, `/.default` for daemons).
    pub scope: String,
    /// The client secret (confidential clients with a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// The certificate client: key and certificate files for `private_key_jwt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateClientInfo {
    /// The client id.
    pub client_id: String,
    /// A `/.default` scope it may request.
    pub scope: String,
    /// The private key, PEM (PKCS#8).
    pub private_key_file: String,
    /// The certificate, PEM.
    pub certificate_file: String,
    /// SHA-1 thumbprint, hex (for `x5t`).
    pub thumbprint_sha1: String,
    /// SHA-256 thumbprint, hex (for `x5t#S256`).
    pub thumbprint_sha256: String,
}

/// A user who can sign in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    /// Sign-in name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Must pass MFA (non-interactive flows get AADSTS50076).
    pub mfa_required: bool,
    /// Signs in to the first tenant as a guest.
    pub guest: bool,
    /// Has consented to every app.
    pub consent_given: bool,
}

/// A federated user: the emulated federation server (WS-Trust) checks the password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FederatedUserInfo {
    /// Sign-in name (in a federated domain).
    pub username: String,
    /// Password.
    pub password: String,
}

/// Everything needed to use a running emulator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// `https://127.0.0.1:PORT/<tenant id>`.
    pub authority: String,
    /// The first tenant's id.
    pub tenant_id: String,
    /// The first tenant's first domain.
    pub tenant_domain: Option<String>,
    /// The CA certificate to trust (absent over plain HTTP).
    pub ca_file: Option<String>,
    /// The HTTP control API (absent unless enabled).
    pub control_url: Option<String>,
    /// A public client.
    pub public_client: Option<ClientInfo>,
    /// A second public client of the same FOCI family.
    pub family_client: Option<ClientInfo>,
    /// A confidential client with a secret.
    pub confidential_client: Option<ClientInfo>,
    /// A confidential client with a certificate.
    pub certificate_client: Option<CertificateClientInfo>,
    /// Users whose passwords the token endpoint checks (managed domains).
    pub users: Vec<UserInfo>,
    /// Users of federated domains, who sign in with a password through WS-Trust.
    #[serde(default)]
    pub federated_users: Vec<FederatedUserInfo>,
    /// The broker service's device user (`serve --broker`), the account signed in to the
    /// machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_user: Option<String>,
    /// The session bus the broker service is on (`serve --broker`); set it as
    /// `DBUS_SESSION_BUS_ADDRESS` for clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_address: Option<String>,
    /// The managed-identity endpoint `serve --managed-identity SOURCE` runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentityInfo>,
    /// The public key of the SSH certificate authority that signs the SSH certificates of
    /// `token_type=ssh-cert` requests, as an OpenSSH line (`ssh-rsa AAAA… entra-emulator-ssh-ca`):
    /// the content of `sshd`'s `TrustedUserCAKeys` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_ca_public_key: Option<String>,
}

/// A managed identity of the emulated host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedIdentityIdInfo {
    /// Client (application) id: `--client-id` / `ManagedIdentity::client_id`.
    pub client_id: String,
    /// Object (principal) id.
    pub object_id: String,
    /// ARM resource id.
    pub resource_id: String,
}

/// The managed-identity endpoint of `serve --managed-identity SOURCE`: the environment variables
/// a host of that source has (export them for the client), and the identities it serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedIdentityInfo {
    /// The source, as `--managed-identity` names it (`app-service`, `imds`, ...).
    pub source: String,
    /// The environment variables, in the order to export them.
    pub environment: Vec<(String, String)>,
    /// The system-assigned identity.
    pub system_assigned: ManagedIdentityIdInfo,
    /// The user-assigned identities.
    pub user_assigned: Vec<ManagedIdentityIdInfo>,
    /// Azure Arc only: the directory the key files are written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arc_key_directory: Option<String>,
}

fn concrete(patterns: &[String]) -> Option<String> {
    patterns.iter().find(|p| !p.contains('*')).cloned()
}

fn client(app: &AppConfig) -> ClientInfo {
    let scope = match app.kind {
        ClientKind::Public => concrete(&app.delegated_scopes).unwrap_or_else(|| "User.Read".into()),
        ClientKind::Confidential => concrete(&app.application_scopes)
            .unwrap_or_else(|| "https://graph.microsoft.com/.default".into()),
    };
    ClientInfo {
        client_id: app.client_id.clone(),
        scope,
        client_secret: app.secrets.first().cloned(),
    }
}

/// Writes a file readable by the owner only (it may hold a private key).
pub(crate) fn write_private(dir: &Path, name: &str, text: &str) -> Result<PathBuf, EmulatorError> {
    use std::io::Write as _;
    let path = dir.join(name);
    let failed = |source| EmulatorError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    Ok(path)
}

/// The connection info of an emulator serving `config` at `base_url`, with its `authority` and
/// its CA written to `ca_file`; writes the certificate credential into `dir`.
pub(crate) fn connection_info(
    config: &EmulatorConfig,
    base_url: &str,
    authority: String,
    ca_file: Option<PathBuf>,
    dir: &Path,
) -> Result<ConnectionInfo, EmulatorError> {
    let is_federated = |u: &crate::config::UserConfig| {
        let domain = u.username.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        config.tenants.iter().any(|t| {
            t.federated_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        })
    };
    let first_client =
        |pick: &dyn Fn(&AppConfig) -> bool| config.applications.iter().find(|a| pick(a));
    let tenant = &config.tenants[0];
    let public = first_client(&|a| a.kind == ClientKind::Public);
    let family = public.and_then(|p| {
        p.family_id.as_ref().and_then(|f| {
            first_client(&|a| {
                a.kind == ClientKind::Public
                    && a.client_id != p.client_id
                    && a.family_id.as_ref() == Some(f)
            })
        })
    });
    let confidential =
        first_client(&|a| a.kind == ClientKind::Confidential && !a.secrets.is_empty());
    let cert_app = first_client(&|a| a.certificates.iter().any(|c| c.private_key_pem.is_some()));
    let certificate_client = match cert_app {
        Some(app) => {
            let cert = app
                .certificates
                .iter()
                .find(|c| c.private_key_pem.is_some());
            match cert {
                Some(cert) => {
                    let key_file = write_private(
                        dir,
                        "certificate-client-key.pem",
                        cert.private_key_pem.as_deref().unwrap_or_default(),
                    )?;
                    let cert_file =
                        write_private(dir, "certificate-client-cert.pem", &cert.certificate_pem)?;
                    let parsed = crate::crypto::parse_certificate_pem(&cert.certificate_pem)?;
                    Some(CertificateClientInfo {
                        client_id: app.client_id.clone(),
                        scope: client(app).scope,
                        private_key_file: key_file.display().to_string(),
                        certificate_file: cert_file.display().to_string(),
                        thumbprint_sha1: crate::crypto::hex(&parsed.sha1),
                        thumbprint_sha256: crate::crypto::hex(&parsed.sha256),
                    })
                }
                None => None,
            }
        }
        None => None,
    };
    Ok(ConnectionInfo {
        base_url: base_url.to_string(),
        authority,
        tenant_id: tenant.id.to_string(),
        tenant_domain: tenant.domains.first().cloned(),
        ca_file: ca_file.map(|p| p.display().to_string()),
        control_url: config
            .settings
            .control_api
            .then(|| format!("{base_url}/_control")),
        public_client: public.map(client),
        family_client: family.map(client),
        confidential_client: confidential.map(client),
        certificate_client,
        federated_users: config
            .users
            .iter()
            .filter(|u| is_federated(u))
            .map(|u| FederatedUserInfo {
                username: u.username.clone(),
                password: u.password.clone(),
            })
            .collect(),
        users: config
            .users
            .iter()
            .filter(|u| !is_federated(u))
            .map(|u| UserInfo {
                username: u.username.clone(),
                password: u.password.clone(),
                mfa_required: u.mfa_required,
                guest: u.home_tenant != tenant.id && u.guest_tenants.contains(&tenant.id),
                consent_given: u.consent_given,
            })
            .collect(),
        broker_user: None,
        bus_address: None,
        managed_identity: None,
        ssh_ca_public_key: None,
    })
}
