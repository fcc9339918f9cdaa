//! The ready-made tenant `entra-emulator serve` starts with when no configuration is given.

use uuid::{Uuid, uuid};

use crate::config::{
    AppConfig, CertificateCredential, ClientKind, EmulatorConfig, Settings, TenantConfig,
    UserConfig,
};
use crate::crypto::{self, CryptoError};

/// The home tenant (`contoso.example`).
pub const TENANT_ID: Uuid = uuid!("7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801");
/// A second tenant (`fabrikam.example`) whose user is a guest in the first.
pub const GUEST_HOME_TENANT_ID: Uuid = uuid!("2f9e8d7c-6b5a-4c3d-8e1f-0a9b8c7d6e02");
/// The public client (desktop / CLI app).
pub const PUBLIC_CLIENT_ID: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";
/// The Azure CLI's public client id, which `msal` uses when no client id is configured; the
/// ready-made tenant registers it so that works against the emulator too.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A second public client in the same FOCI family.
pub const FAMILY_CLIENT_ID: &str = "5b7d9f1e-3c2a-4e6b-8d0f-1a2c3e4f5a12";
/// The confidential client with a secret; also the web API (`api://emulator-api`).
pub const CONFIDENTIAL_CLIENT_ID: &str = "9e8f7a6b-5c4d-4e3f-a2b1-c0d9e8f7a613";
/// The confidential client with a certificate.
pub const CERTIFICATE_CLIENT_ID: &str = "3d2c1b0a-9f8e-4d7c-b6a5-f4e3d2c1b014";
/// The home tenant's federated domain: its users' passwords are checked by the emulated
/// federation server (WS-Trust), as with ADFS.
pub const FEDERATED_DOMAIN: &str = "federated.contoso.example";
/// The web API's application ID URI.
pub const API: &str = "api://emulator-api";

fn password() -> String {
    format!("Pw-{}", crypto::random_token(9))
}

/// Builds the ready-made tenant: fresh secrets, passwords and certificate on every call; the
/// certificate's RSA key comes from the per-machine key cache ([`crate::key_cache`]).
pub fn ready_made() -> Result<EmulatorConfig, CryptoError> {
    let cert_key = crate::key_cache::rsa_key_pem(crate::key_cache::CERTIFICATE_CLIENT_KEY)?;
    let cert_der =
        crypto::self_signed_rsa_certificate(&cert_key, "entra-emulator certificate client")?;
    let cert_pem = pem_encode("CERTIFICATE", &cert_der);
    let delegated = vec![
        format!("{API}/access_as_user"),
        format!("{API}/*"),
        "https://graph.microsoft.com/*".to_string(),
        // The scope `az ssh` requests SSH certificates for.
        "https://pas.windows.net/CheckMyAccess/Linux/*".to_string(),
    ];
    let public_redirects = |id: &str| {
        vec![
            "http://localhost".to_string(),
            "msauth.com.msauth.unsignedapp://auth".to_string(),
            format!("ms-appx-web://microsoft.aad.brokerplugin/{id}"),
            // Redirect URIs compare exactly; MSAL Python and the Entra portal spell it this way.
            format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{id}"),
            "https://login.microsoftonline.com/common/oauth2/nativeclient".to_string(),
        ]
    };
    let app_scopes = vec![
        format!("{API}/.default"),
        "api://load-*/.default".to_string(),
        "https://graph.microsoft.com/.default".to_string(),
        // Federated identity credential tokens (the `user_fic` grant's assertion).
        format!("{}/.default", crate::scopes::TOKEN_EXCHANGE_AUDIENCE),
    ];
    Ok(EmulatorConfig {
        tenants: vec![
            TenantConfig {
                id: TENANT_ID,
                domains: vec!["contoso.example".into(), "contoso.onmicrosoft.com".into()],
                display_name: Some("Contoso".into()),
                federated_domains: vec![FEDERATED_DOMAIN.into()],
            },
            TenantConfig {
                id: GUEST_HOME_TENANT_ID,
                domains: vec!["fabrikam.example".into()],
                display_name: Some("Fabrikam".into()),
                federated_domains: vec!["federated.fabrikam.example".into()],
            },
        ],
        applications: vec![
            AppConfig {
                client_id: PUBLIC_CLIENT_ID.into(),
                display_name: Some("Emulator Desktop App".into()),
                kind: ClientKind::Public,
                secrets: vec![],
                certificates: vec![],
                redirect_uris: public_redirects(PUBLIC_CLIENT_ID),
                family_id: Some("1".into()),
                delegated_scopes: delegated.clone(),
                application_scopes: vec![],
                identifier_uris: vec![],
            },
            AppConfig {
                client_id: FAMILY_CLIENT_ID.into(),
                display_name: Some("Emulator Family App".into()),
                kind: ClientKind::Public,
                secrets: vec![],
                certificates: vec![],
                redirect_uris: public_redirects(FAMILY_CLIENT_ID),
                family_id: Some("1".into()),
                delegated_scopes: delegated.clone(),
                application_scopes: vec![],
                identifier_uris: vec![],
            },
            AppConfig {
                client_id: AZURE_CLI_CLIENT_ID.into(),
                display_name: Some("Microsoft Azure CLI".into()),
                kind: ClientKind::Public,
                secrets: vec![],
                certificates: vec![],
                redirect_uris: public_redirects(AZURE_CLI_CLIENT_ID),
                family_id: None,
                delegated_scopes: delegated.clone(),
                application_scopes: vec![],
                identifier_uris: vec![],
            },
            AppConfig {
                client_id: CONFIDENTIAL_CLIENT_ID.into(),
                display_name: Some("Emulator Web API".into()),
                kind: ClientKind::Confidential,
                secrets: vec![format!("secret-{}", crypto::random_token(24))],
                certificates: vec![],
                redirect_uris: vec![
                    "http://localhost".into(),
                    "https://localhost/auth/callback".into(),
                ],
                family_id: None,
                delegated_scopes: delegated.clone(),
                application_scopes: app_scopes.clone(),
                identifier_uris: vec![API.into()],
            },
            AppConfig {
                client_id: CERTIFICATE_CLIENT_ID.into(),
                display_name: Some("Emulator Certificate Daemon".into()),
                kind: ClientKind::Confidential,
                secrets: vec![],
                certificates: vec![CertificateCredential {
                    certificate_pem: cert_pem,
                    private_key_pem: Some(cert_key),
                }],
                redirect_uris: vec![],
                family_id: None,
                delegated_scopes: delegated,
                application_scopes: app_scopes,
                identifier_uris: vec![],
            },
        ],
        users: vec![
            UserConfig {
                username: "alice@contoso.example".into(),
                password: password(),
                object_id: uuid!("6f0e1d2c-3b4a-4958-8766-a5b4c3d2e1f0"),
                display_name: Some("Alice Example".into()),
                home_tenant: TENANT_ID,
                guest_tenants: vec![],
                mfa_required: false,
                consent_given: true,
            },
            UserConfig {
                username: "bob@contoso.example".into(),
                password: password(),
                object_id: uuid!("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
                display_name: Some("Bob MFA".into()),
                home_tenant: TENANT_ID,
                guest_tenants: vec![],
                mfa_required: true,
                consent_given: true,
            },
            UserConfig {
                username: "carol@fabrikam.example".into(),
                password: password(),
                object_id: uuid!("9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"),
                display_name: Some("Carol Guest".into()),
                home_tenant: GUEST_HOME_TENANT_ID,
                guest_tenants: vec![TENANT_ID],
                mfa_required: false,
                consent_given: true,
            },
            UserConfig {
                username: "dave@contoso.example".into(),
                password: password(),
                object_id: uuid!("4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"),
                display_name: Some("Dave NoConsent".into()),
                home_tenant: TENANT_ID,
                guest_tenants: vec![],
                mfa_required: false,
                consent_given: false,
            },
            UserConfig {
                username: format!("erin@{FEDERATED_DOMAIN}"),
                password: password(),
                object_id: uuid!("b3a2c1d0-e9f8-4a7b-9c6d-5e4f3a2b1c0d"),
                display_name: Some("Erin Federated".into()),
                home_tenant: TENANT_ID,
                guest_tenants: vec![],
                mfa_required: false,
                consent_given: true,
            },
        ],
        settings: Settings::default(),
    })
}

pub use crate::crypto::pem_encode;
