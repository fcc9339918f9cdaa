//! Read-only lookups over the configuration: tenants by GUID or domain, apps, users.

use std::collections::HashMap;

use uuid::Uuid;

use crate::config::{AppConfig, EmulatorConfig, TenantConfig, UserConfig};
use crate::crypto::{self, ParsedCertificate};

/// The Microsoft account (consumers) tenant id.
pub const CONSUMERS_TENANT: Uuid = uuid::uuid!("9188040d-6c67-4c5b-b112-36a304b66dad");

/// The tenant segment of a URL, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSegment {
    /// `common`: any account.
    Common,
    /// `organizations`: work or school accounts.
    Organizations,
    /// `consumers`: Microsoft accounts.
    Consumers,
    /// A configured tenant, by GUID or domain.
    Tenant(Uuid),
}

impl TenantSegment {
    /// The tenant id when the segment names one tenant.
    pub fn id(self) -> Option<Uuid> {
        match self {
            Self::Tenant(id) => Some(id),
            Self::Consumers => Some(CONSUMERS_TENANT),
            _ => None,
        }
    }
}

/// The configuration, indexed.
#[derive(Debug)]
pub struct Directory {
    config: EmulatorConfig,
    certificates: HashMap<String, Vec<ParsedCertificate>>,
}

impl Directory {
    /// Indexes a validated configuration.
    pub fn new(config: EmulatorConfig) -> Result<Self, crypto::CryptoError> {
        let mut certificates = HashMap::new();
        for app in &config.applications {
            let parsed = app
                .certificates
                .iter()
                .map(|c| crypto::parse_certificate_pem(&c.certificate_pem))
                .collect::<Result<Vec<_>, _>>()?;
            certificates.insert(app.client_id.to_ascii_lowercase(), parsed);
        }
        Ok(Self {
            config,
            certificates,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Resolves a tenant path segment; `None` for an unknown tenant.
    pub fn tenant_segment(&self, segment: &str) -> Option<TenantSegment> {
        match segment.to_ascii_lowercase().as_str() {
            "common" => Some(TenantSegment::Common),
            "organizations" => Some(TenantSegment::Organizations),
            "consumers" => Some(TenantSegment::Consumers),
            s => self.tenant(s).map(|t| TenantSegment::Tenant(t.id)),
        }
    }

    /// A tenant by GUID or verified domain.
    pub fn tenant(&self, id_or_domain: &str) -> Option<&TenantConfig> {
        let as_id = Uuid::parse_str(id_or_domain).ok();
        self.config.tenants.iter().find(|t| {
            Some(t.id) == as_id
                || t.domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(id_or_domain))
        })
    }

    /// A tenant by GUID.
    pub fn tenant_by_id(&self, id: Uuid) -> Option<&TenantConfig> {
        self.config.tenants.iter().find(|t| t.id == id)
    }

    /// An application by client id.
    pub fn app(&self, client_id: &str) -> Option<&AppConfig> {
        self.config
            .applications
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The parsed certificates of an application.
    pub fn certificates(&self, client_id: &str) -> &[ParsedCertificate] {
        self.certificates
            .get(&client_id.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The application that exposes `resource` (by identifier URI or client id).
    pub fn resource_app(&self, resource: &str) -> Option<&AppConfig> {
        self.config.applications.iter().find(|a| {
            a.client_id.eq_ignore_ascii_case(resource)
                || a.identifier_uris
                    .iter()
                    .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(resource))
        })
    }

    /// A user by sign-in name.
    pub fn user(&self, username: &str) -> Option<&UserConfig> {
        self.config
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username.trim()))
    }

    /// Whether a sign-in name's domain is federated (its password is checked by the emulated
    /// federation server, not by the token endpoint).
    pub fn is_federated(&self, username: &str) -> bool {
        let domain = username.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.config.tenants.iter().any(|t| {
            t.federated_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        })
    }

    /// A user by object id in any tenant where they have one.
    pub fn user_by_object_id(&self, oid: &str, tenant: Uuid) -> Option<&UserConfig> {
        let oid = Uuid::parse_str(oid).ok()?;
        self.config
            .users
            .iter()
            .find(|u| object_id_in(u, tenant) == Some(oid))
    }

    /// Whether `user` can sign in to `tenant` (home or guest).
    pub fn is_member(&self, user: &UserConfig, tenant: Uuid) -> bool {
        user.home_tenant == tenant || user.guest_tenants.contains(&tenant)
    }
}

/// The user's object id in `tenant`: the configured one at home, a stable derived one as a guest.
pub fn object_id_in(user: &UserConfig, tenant: Uuid) -> Option<Uuid> {
    if user.home_tenant == tenant {
        Some(user.object_id)
    } else if user.guest_tenants.contains(&tenant) {
        Some(Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("{}:{}", user.object_id, tenant).as_bytes(),
        ))
    } else {
        None
    }
}
