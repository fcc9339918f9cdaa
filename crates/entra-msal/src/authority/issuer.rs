//! The issuer check for generic OIDC authorities (MSAL Python's `has_valid_issuer`).

use url::Url;

use super::hosts;

/// Whether the `issuer` of a discovery document is acceptable for the OIDC authority `authority`
/// (its canonical URL). Accepted when any of these holds:
///
/// 1. it equals the authority, ignoring a trailing slash;
/// 2. its host is one of Microsoft's well-known hosts;
/// 3. its host is `{label}.{base}` with a single-label prefix (a region) and `base` a well-known
///    host or the authority's host;
/// 4. it has the authority's scheme, host and port (the path may differ);
/// 5. its host is a subdomain of a B2C or CIAM domain.
pub(crate) fn has_valid_issuer(issuer: Option<&str>, authority: &str) -> bool {
    let Some(issuer) = issuer.filter(|i| !i.is_empty()) else {
        return false;
    };
    if issuer.trim_end_matches('/') == authority.trim_end_matches('/') {
        return true;
    }
    let Ok(issuer_url) = Url::parse(issuer) else {
        return false;
    };
    let Some(issuer_host) = issuer_url.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    if hosts::is_well_known(&issuer_host) {
        return true;
    }
    let authority_url = Url::parse(authority).ok();
    let authority_host = authority_url
        .as_ref()
        .and_then(Url::host_str)
        .map(str::to_ascii_lowercase);
    if let Some((label, base)) = issuer_host.split_once('.')
        && !label.is_empty()
        && (hosts::is_well_known(base) || authority_host.as_deref() == Some(base))
    {
        return true;
    }
    if let Some(a) = &authority_url
        && a.scheme() == issuer_url.scheme()
        && authority_host.as_deref() == Some(issuer_host.as_str())
        && a.port_or_known_default() == issuer_url.port_or_known_default()
    {
        return true;
    }
    hosts::is_b2c_subdomain(&issuer_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules_table() {
        let authority = "https://login.contoso.com/tenant/v2.0";
        let table: &[(Option<&str>, &str, bool)] = &[
            (
                Some("https://login.contoso.com/tenant/v2.0"),
                authority,
                true,
            ),
            (
                Some("https://login.contoso.com/tenant/v2.0/"),
                authority,
                true,
            ),
            (
                Some("https://login.contoso.com/other-path"),
                authority,
                true,
            ),
            (Some("https://login.contoso.com:443/other"), authority, true),
            (
                Some("https://login.contoso.com:8443/tenant/v2.0"),
                authority,
                false,
            ),
            (
                Some("http://login.contoso.com/tenant/v2.0"),
                authority,
                false,
            ),
            (
                Some("https://login.microsoftonline.com/{tenantid}/v2.0"),
                authority,
                true,
            ),
            (Some("https://sts.windows.net/tid/"), authority, true),
            (
                Some("https://westus2.login.microsoft.com/tid/v2.0"),
                authority,
                true,
            ),
            (Some("https://eu.login.contoso.com/tenant"), authority, true),
            (
                Some("https://a.b.login.contoso.com/tenant"),
                authority,
                false,
            ),
            (
                Some("https://contoso.b2clogin.com/tid/v2.0/"),
                authority,
                true,
            ),
            (
                Some("https://contoso.ciamlogin.com/tid/v2.0"),
                authority,
                true,
            ),
            (Some("https://fakeb2clogin.com/tid/v2.0"), authority, false),
            (Some("https://evil.example/tenant/v2.0"), authority, false),
            (
                Some("https://login.contoso.com.evil.example/tenant/v2.0"),
                authority,
                false,
            ),
            (Some("not a url"), authority, false),
            (Some(""), authority, false),
            (None, authority, false),
        ];
        for (issuer, authority, expected) in table {
            assert_eq!(
                has_valid_issuer(*issuer, authority),
                *expected,
                "{issuer:?} for {authority}"
            );
        }
    }
}
