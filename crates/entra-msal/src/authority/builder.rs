//! Cloud host constants and [`AuthorityBuilder`], so an authority URL need not be concatenated by
//! hand (MSAL Python's `msal.authority.AuthorityBuilder` and its `AZURE_*` constants).

use std::fmt;

/// The Azure public cloud (`login.microsoftonline.com`).
pub const AZURE_PUBLIC: &str = "login.microsoftonline.com";
/// Azure US Government (`login.microsoftonline.us`).
pub const AZURE_US_GOVERNMENT: &str = "login.microsoftonline.us";
/// Azure operated by 21Vianet in China (`login.chinacloudapi.cn`; MSAL Python 1.35 renamed its
/// constant to `DEPRECATED_AZURE_CHINA`, the host itself is unchanged).
pub const AZURE_CHINA: &str = "login.chinacloudapi.cn";
/// The French sovereign cloud (`login.sovcloud-identity.fr`).
pub const AZURE_GOV_FR: &str = "login.sovcloud-identity.fr";
/// The German sovereign cloud (`login.sovcloud-identity.de`).
pub const AZURE_GOV_DE: &str = "login.sovcloud-identity.de";
/// The Singapore sovereign cloud (`login.sovcloud-identity.sg`).
pub const AZURE_GOV_SG: &str = "login.sovcloud-identity.sg";

/// Builds an authority URL `https://{instance}/{tenant}` from a cloud host and a tenant.
///
/// It converts into the `String` the application builders take:
///
/// ```
/// use entra_msal::PublicClientApplication;
/// use entra_msal::authority::{AZURE_US_GOVERNMENT, AuthorityBuilder};
///
/// let authority = AuthorityBuilder::new(AZURE_US_GOVERNMENT, "contoso.onmicrosoft.com");
/// assert_eq!(authority.to_string(), "https://login.microsoftonline.us/contoso.onmicrosoft.com");
/// let app = PublicClientApplication::builder("00000000-0000-0000-0000-000000000001")
///     .authority(authority)
///     .build()?;
/// # drop(app);
/// # Ok::<(), entra_msal::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AuthorityBuilder {
    instance: String,
    tenant: String,
}

impl AuthorityBuilder {
    /// An authority on `instance` (a host such as [`AZURE_PUBLIC`], with or without a trailing
    /// slash) for `tenant` (a tenant id, a domain, `common`, `organizations` or `consumers`).
    pub fn new(instance: impl AsRef<str>, tenant: impl AsRef<str>) -> Self {
        Self {
            instance: instance.as_ref().trim_end_matches('/').to_owned(),
            tenant: tenant.as_ref().trim_matches('/').to_owned(),
        }
    }
}

impl fmt::Display for AuthorityBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}/{}", self.instance, self.tenant)
    }
}

impl From<AuthorityBuilder> for String {
    fn from(builder: AuthorityBuilder) -> Self {
        builder.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::hosts::WELL_KNOWN_AUTHORITY_HOSTS;

    #[test]
    fn formats_like_msal_python() {
        assert_eq!(
            AuthorityBuilder::new("login.microsoftonline.com/", "/contoso/").to_string(),
            "https://login.microsoftonline.com/contoso"
        );
        assert_eq!(
            String::from(AuthorityBuilder::new(AZURE_CHINA, "common")),
            "https://login.chinacloudapi.cn/common"
        );
    }

    #[test]
    fn every_cloud_constant_is_a_well_known_host() {
        for host in [
            AZURE_PUBLIC,
            AZURE_US_GOVERNMENT,
            AZURE_CHINA,
            AZURE_GOV_FR,
            AZURE_GOV_DE,
            AZURE_GOV_SG,
        ] {
            assert!(WELL_KNOWN_AUTHORITY_HOSTS.contains(&host), "{host}");
        }
    }
}
