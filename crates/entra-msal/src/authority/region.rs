//! Regional token endpoints (ESTS-R), used by confidential clients' client-credential requests.

use url::Url;

use super::discovery::Endpoints;
use super::hosts;
use super::parse::{Authority, AuthorityType};
use crate::error::Error;

/// Whether `region` looks like an Azure region name: `^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`.
pub fn is_valid_region(region: &str) -> bool {
    let bytes = region.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 63
        && first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The regional token endpoint for `region`: the token endpoint's path on
/// `{region}.login.microsoft.com` for the four public-cloud hosts (`login.microsoftonline.com`,
/// `login.microsoft.com`, `login.windows.net`, `sts.windows.net`), or on `{region}.{host}` for any
/// other Entra host. The port is not carried over (regional hosts listen on 443).
///
/// Fails with [`Error::Configuration`] for a malformed region name, for authorities other than
/// Entra ID (ADFS, B2C, CIAM, OIDC and dSTS have no regional service), and for an IP-address host.
pub fn regional_token_endpoint(
    authority: &Authority,
    endpoints: &Endpoints,
    region: &str,
) -> Result<String, Error> {
    if !is_valid_region(region) {
        return Err(Error::configuration(format!(
            "{region:?} is not an Azure region name: use lowercase letters, digits and hyphens, at most 63 \
             characters, e.g. westus2"
        )));
    }
    if authority.authority_type() != AuthorityType::Aad {
        return Err(Error::configuration(format!(
            "regional token endpoints exist only for Microsoft Entra ID authorities, not for the {:?} authority {}; \
             do not configure a region for it",
            authority.authority_type(),
            authority.url()
        )));
    }
    let instance = authority.host();
    if instance.parse::<std::net::Ipv4Addr>().is_ok() || instance.starts_with('[') {
        return Err(Error::configuration(format!(
            "the authority {} has an IP address as its host, which has no regional variant; do not configure a region",
            authority.url()
        )));
    }
    let regional_host = if hosts::PUBLIC_CLOUD_HOSTS.contains(&instance) {
        format!("{region}.login.microsoft.com")
    } else {
        format!("{region}.{instance}")
    };
    let token = Url::parse(&endpoints.token_endpoint).map_err(|e| {
        Error::configuration_caused(
            format!(
                "the token endpoint {} is not a URL: {e}",
                endpoints.token_endpoint
            ),
            e,
        )
    })?;
    let mut url = format!("https://{regional_host}{}", token.path());
    if let Some(q) = token.query() {
        url.push('?');
        url.push_str(q);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(token: &str) -> Endpoints {
        Endpoints {
            authorization_endpoint: token.replace("/token", "/authorize"),
            token_endpoint: token.into(),
            device_authorization_endpoint: None,
            end_session_endpoint: None,
            issuer: None,
            jwks_uri: None,
            realm: "tid".into(),
        }
    }

    #[test]
    fn region_names() {
        for ok in [
            "westus2",
            "eastus",
            "a",
            "us-gov-1",
            &format!("a{}", "b".repeat(62)),
        ] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "WestUS",
            "1west",
            "west-",
            "west_us",
            "west.us",
            "-a",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn regional_hosts_table() {
        let table = [
            (
                "https://login.microsoftonline.com/tid",
                "https://login.microsoftonline.com/tid/oauth2/v2.0/token",
                "https://westus2.login.microsoft.com/tid/oauth2/v2.0/token",
            ),
            (
                "https://login.microsoft.com/tid",
                "https://login.microsoft.com/tid/oauth2/v2.0/token",
                "https://westus2.login.microsoft.com/tid/oauth2/v2.0/token",
            ),
            (
                "https://login.windows.net/common",
                "https://login.windows.net/tid/oauth2/v2.0/token",
                "https://westus2.login.microsoft.com/tid/oauth2/v2.0/token",
            ),
            (
                "https://sts.windows.net/tid",
                "https://sts.windows.net/tid/oauth2/v2.0/token",
                "https://westus2.login.microsoft.com/tid/oauth2/v2.0/token",
            ),
            (
                "https://login.microsoftonline.us/tid",
                "https://login.microsoftonline.us/tid/oauth2/v2.0/token",
                "https://westus2.login.microsoftonline.us/tid/oauth2/v2.0/token",
            ),
            (
                "https://login.chinacloudapi.cn/tid",
                "https://login.chinacloudapi.cn/tid/oauth2/v2.0/token",
                "https://westus2.login.chinacloudapi.cn/tid/oauth2/v2.0/token",
            ),
            (
                "https://login.contoso.com:8443/tid",
                "https://login.contoso.com:8443/tid/oauth2/v2.0/token",
                "https://westus2.login.contoso.com/tid/oauth2/v2.0/token",
            ),
        ];
        for (authority, token, expected) in table {
            let a = Authority::parse(authority, false).unwrap();
            assert_eq!(
                regional_token_endpoint(&a, &endpoints(token), "westus2").unwrap(),
                expected,
                "{authority}"
            );
        }
    }

    #[test]
    fn regional_refusals() {
        let e = endpoints("https://login.microsoftonline.com/tid/oauth2/v2.0/token");
        let aad = Authority::parse("https://login.microsoftonline.com/tid", false).unwrap();
        assert!(matches!(
            regional_token_endpoint(&aad, &e, "West US"),
            Err(Error::Configuration { .. })
        ));
        assert!(matches!(
            regional_token_endpoint(&aad, &e, "westus."),
            Err(Error::Configuration { .. })
        ));
        for url in [
            "https://fs.contoso.com/adfs",
            "https://c.b2clogin.com/t/p",
            "https://c.ciamlogin.com",
            "https://127.0.0.1:8443/t",
        ] {
            let a = Authority::parse(url, false).unwrap();
            assert!(
                matches!(
                    regional_token_endpoint(&a, &e, "westus2"),
                    Err(Error::Configuration { .. })
                ),
                "{url}"
            );
        }
    }
}
