//! The host names Microsoft publishes: Entra clouds, B2C and CIAM domains, loopback hosts.

/// The public cloud's host, also the host that answers instance discovery for unknown hosts.
pub(crate) const WORLD_WIDE: &str = "login.microsoftonline.com";

/// Hosts of Microsoft's clouds that need no instance-discovery validation (MSAL Python's
/// `WELL_KNOWN_AUTHORITY_HOSTS`).
pub(crate) const WELL_KNOWN_AUTHORITY_HOSTS: [&str; 13] = [
    WORLD_WIDE,
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
    "login-us.microsoftonline.com",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// The alias groups of Microsoft's clouds as Entra's instance discovery publishes them: the host
/// names under which one cloud's cache entries may have been written.
pub(crate) const CLOUD_ALIAS_GROUPS: [&[&str]; 4] = [
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    &["login-us.microsoftonline.com"],
];

/// The public-cloud hosts whose regional (ESTS-R) host is `{region}.login.microsoft.com`.
pub(crate) const PUBLIC_CLOUD_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
];

/// Parent domains of B2C and CIAM tenants (`{tenant}.b2clogin.com`, ...).
pub(crate) const B2C_DOMAINS: [&str; 5] = [
    "b2clogin.com",
    "b2clogin.cn",
    "b2clogin.us",
    "b2clogin.de",
    "ciamlogin.com",
];

/// The CIAM (Entra External ID) domain suffix.
pub(crate) const CIAM_SUFFIX: &str = ".ciamlogin.com";

/// Whether a (lowercase, port-less) host is one of Microsoft's well-known authority hosts.
pub(crate) fn is_well_known(host: &str) -> bool {
    WELL_KNOWN_AUTHORITY_HOSTS.contains(&host)
}

/// Whether a (lowercase) host is a subdomain of a B2C or CIAM domain.
pub(crate) fn is_b2c_subdomain(host: &str) -> bool {
    B2C_DOMAINS.iter().any(|d| {
        host.strip_suffix(d)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
    })
}

/// Whether a host (as `url` prints it) is the loopback interface under one of the names a caller
/// may explicitly trust over plain HTTP.
pub(crate) fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b2c_subdomains() {
        assert!(is_b2c_subdomain("contoso.b2clogin.com"));
        assert!(is_b2c_subdomain("contoso.ciamlogin.com"));
        assert!(is_b2c_subdomain("a.b.b2clogin.cn"));
        assert!(!is_b2c_subdomain("b2clogin.com"));
        assert!(!is_b2c_subdomain("fakeb2clogin.com"));
        assert!(!is_b2c_subdomain(".b2clogin.com"));
    }

    #[test]
    fn well_known_and_loopback() {
        assert!(is_well_known("login.microsoftonline.us"));
        assert!(is_well_known("login.sovcloud-identity.sg"));
        assert!(!is_well_known("login.contoso.com"));
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("127.0.0.2") && !is_loopback("localhost.example"));
    }
}
