//! Parsing and classifying authority URLs (MSAL Python's `canonicalize` and type detection).

use std::fmt;
use std::str::FromStr;

use url::Url;

use super::hosts;
use crate::error::Error;

/// The kind of identity provider an authority is, which decides discovery, validation and
/// broker use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorityType {
    /// Microsoft Entra ID (`login.microsoftonline.com/{tenant}`, sovereign clouds, custom hosts).
    Aad,
    /// Active Directory Federation Services: the tenant segment is `adfs`.
    Adfs,
    /// Azure AD B2C: a `*.b2clogin.*` host, or a `/{tenant}/b2c_{policy}` path.
    B2c,
    /// Entra External ID (CIAM): a `*.ciamlogin.com` host.
    Ciam,
    /// A generic OpenID Connect issuer given as `oidc_authority`.
    Oidc,
    /// dSTS: a path starting with `/dstsv2`, handled as a generic OIDC issuer.
    Dsts,
}

/// A parsed, classified authority: the identity provider and tenant that issue tokens.
///
/// Construct it with [`Authority::parse`] (an Entra-style `authority`) or
/// [`Authority::parse_oidc`] (a generic OIDC issuer). Parsing does no I/O; discovery happens
/// later, lazily (see [`discover`](super::discover)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    url: String,
    http: bool,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    tenant: String,
    kind: AuthorityType,
}

/// What `canonicalize` extracts from a URL.
struct Parts {
    http: bool,
    host: String,
    port: Option<u16>,
    /// The raw path, without trailing slashes: `""` or `/seg[/seg...]`.
    path: String,
    segments: Vec<String>,
    query: Option<String>,
    /// The first segment, or `{sub}.onmicrosoft.com` for a path-less CIAM host.
    tenant: String,
    is_ciam: bool,
}

const EXAMPLES: &str = "e.g. https://login.microsoftonline.com/{tenant}, https://{tenant_name}.ciamlogin.com/{tenant} \
     or https://{tenant_name}.b2clogin.com/{tenant_name}.onmicrosoft.com/{policy}";

fn invalid(input: &str, reason: &str) -> Error {
    Error::configuration(format!(
        "the authority {input:?} is not valid: {reason}. An authority is an https URL with a host name and at \
         least one path segment (the tenant), {EXAMPLES}"
    ))
}

fn canonicalize(input: &str, trust_loopback_http: bool) -> Result<Parts, Error> {
    let url =
        Url::parse(input.trim()).map_err(|e| invalid(input, &format!("it is not a URL ({e})")))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid(input, "it has no host name"))?
        .to_ascii_lowercase();
    let http = match url.scheme() {
        "https" => false,
        "http" if trust_loopback_http && hosts::is_loopback(&host) => true,
        "http" => {
            return Err(invalid(
                input,
                "it uses http://; only https is accepted, except for a loopback host (127.0.0.1, localhost, [::1]) \
                 whose plain-HTTP authority the application explicitly trusts",
            ));
        }
        other => {
            return Err(invalid(
                input,
                &format!("the scheme {other:?} is not https"),
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            input,
            "it must not contain a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid(input, "it must not contain a #fragment"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    let segments: Vec<String> = if path.is_empty() {
        Vec::new()
    } else {
        path.strip_prefix('/')
            .unwrap_or(&path)
            .split('/')
            .map(str::to_string)
            .collect()
    };
    if segments.iter().any(String::is_empty) {
        return Err(invalid(input, "its path has an empty segment (\"//\")"));
    }
    let is_ciam = host.ends_with(hosts::CIAM_SUFFIX);
    let tenant = match segments.first() {
        Some(first) => first.clone(),
        None if is_ciam => format!(
            "{}.onmicrosoft.com",
            &host[..host.len() - hosts::CIAM_SUFFIX.len()]
        ),
        None => return Err(invalid(input, "it has no path segment for the tenant")),
    };
    Ok(Parts {
        http,
        host,
        port: url.port(),
        path,
        segments,
        query: url.query().map(str::to_string),
        tenant,
        is_ciam,
    })
}

impl Authority {
    /// Parses an Entra-style authority (`authority=` in MSAL Python) and classifies it.
    ///
    /// It must be an `https` URL with a host and at least one path segment, the tenant
    /// (`common`, `organizations`, `consumers`, a tenant GUID or domain, `adfs`, or a B2C tenant
    /// followed by its policy). A path-less CIAM host `https://{sub}.ciamlogin.com` means tenant
    /// `{sub}.onmicrosoft.com`. A path starting with `/dstsv2` is a dSTS authority, handled as a
    /// generic OIDC issuer. `http://` is refused unless `trust_loopback_http` is true **and** the
    /// host is `127.0.0.1`, `localhost` or `[::1]`: a local authority the caller explicitly
    /// trusts.
    pub fn parse(url: &str, trust_loopback_http: bool) -> Result<Self, Error> {
        let parts = canonicalize(url, trust_loopback_http)?;
        let kind = if parts.path.starts_with("/dstsv2") {
            AuthorityType::Dsts
        } else if parts.is_ciam {
            AuthorityType::Ciam
        } else if parts.tenant.eq_ignore_ascii_case("adfs") {
            AuthorityType::Adfs
        } else if hosts::is_b2c_subdomain(&parts.host)
            || (parts.segments.len() == 2
                && parts.segments[1].to_ascii_lowercase().starts_with("b2c_"))
        {
            AuthorityType::B2c
        } else {
            AuthorityType::Aad
        };
        let mut parts = parts;
        if parts.segments.is_empty() {
            // Path-less CIAM: the tenant becomes the path, as MSAL does for discovery.
            parts.path = format!("/{}", parts.tenant);
        }
        Ok(Self::from_parts(parts, kind))
    }

    /// Parses a generic OpenID Connect issuer (`oidc_authority=` in MSAL Python).
    ///
    /// The same URL rules as [`Authority::parse`] apply. Such an authority is always "known to the
    /// developer" (no instance discovery), never uses a broker, is discovered at
    /// `{url}/.well-known/openid-configuration`, and its discovered `issuer` is checked against
    /// the URL.
    pub fn parse_oidc(url: &str, trust_loopback_http: bool) -> Result<Self, Error> {
        let parts = canonicalize(url, trust_loopback_http)?;
        Ok(Self::from_parts(parts, AuthorityType::Oidc))
    }

    fn from_parts(parts: Parts, kind: AuthorityType) -> Self {
        let scheme = if parts.http { "http" } else { "https" };
        let host_with_port = match parts.port {
            Some(port) => format!("{}:{port}", parts.host),
            None => parts.host.clone(),
        };
        Self {
            url: format!("{scheme}://{host_with_port}{}", parts.path),
            http: parts.http,
            host: parts.host,
            port: parts.port,
            path: parts.path,
            query: parts.query,
            tenant: parts.tenant,
            kind,
        }
    }

    /// The kind of authority.
    pub fn authority_type(&self) -> AuthorityType {
        self.kind
    }

    /// The canonical URL, `scheme://host[:port]/path`, without a trailing slash or query. The
    /// port is omitted when it is the scheme's default.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The lowercase host without the port: the token cache's `environment`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host with its port when the URL names a non-default one (`127.0.0.1:8443`).
    pub fn host_with_port(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// The path without a trailing slash (`/common`, `/tenant/b2c_1_signin`, or `""` for a
    /// path-less OIDC issuer).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first path segment as given: `common`, `organizations`, `consumers`, a tenant GUID or
    /// domain, `adfs`, the B2C tenant, or `{sub}.onmicrosoft.com` for a path-less CIAM host.
    /// The tenant the service actually uses (the cache `realm`) comes from discovery.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The cache `realm` when it is known without discovery: an Entra authority whose tenant is
    /// a GUID or `common` / `organizations` / `consumers` (its token endpoint carries the same
    /// segment). Domain-named tenants and other authority types need discovery.
    pub fn realm_without_discovery(&self) -> Option<&str> {
        let predictable = self.kind == AuthorityType::Aad
            && (uuid::Uuid::parse_str(&self.tenant).is_ok()
                || ["common", "organizations", "consumers"]
                    .iter()
                    .any(|t| self.tenant.eq_ignore_ascii_case(t)));
        predictable.then_some(self.tenant.as_str())
    }

    /// Whether the host is one of Microsoft's well-known cloud hosts, which need no
    /// instance-discovery validation.
    pub fn is_well_known_host(&self) -> bool {
        hosts::is_well_known(&self.host)
    }

    /// Whether the developer vouches for this authority, so that it is not validated through
    /// instance discovery and has no aliases: ADFS, B2C, CIAM, OIDC and dSTS authorities, and any
    /// authority when `validate_authority` is false.
    pub fn is_known_to_developer(&self, validate_authority: bool) -> bool {
        !validate_authority || !matches!(self.kind, AuthorityType::Aad)
    }

    /// The OpenID Connect discovery URL, keeping the port (and any query, as MSAL does):
    /// `{url}/v2.0/.well-known/openid-configuration` for Entra, B2C (which keeps its policy in
    /// the path) and CIAM; `{url}/.well-known/openid-configuration` for ADFS, OIDC and dSTS.
    pub fn discovery_url(&self) -> String {
        let version = match self.kind {
            AuthorityType::Aad | AuthorityType::B2c | AuthorityType::Ciam => "/v2.0",
            AuthorityType::Adfs | AuthorityType::Oidc | AuthorityType::Dsts => "",
        };
        let mut url = format!("{}{version}/.well-known/openid-configuration", self.url);
        if let Some(q) = &self.query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    /// The same Entra (or CIAM) authority for another tenant, e.g. `common` → a tenant GUID.
    ///
    /// Refused for ADFS, B2C, OIDC and dSTS authorities, whose path is not just a tenant, and for
    /// a value that is not a single path segment.
    pub fn with_tenant(&self, tenant: &str) -> Result<Self, Error> {
        if !matches!(self.kind, AuthorityType::Aad | AuthorityType::Ciam) {
            return Err(Error::configuration(format!(
                "the tenant of the {:?} authority {} cannot be changed; configure the application with the \
                 authority you need instead",
                self.kind, self.url
            )));
        }
        let valid = !tenant.is_empty()
            && tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'));
        if !valid {
            return Err(Error::configuration(format!(
                "{tenant:?} is not a tenant: use a tenant GUID, a domain such as contoso.onmicrosoft.com, common, \
                 organizations or consumers"
            )));
        }
        let rest = self
            .path
            .trim_start_matches('/')
            .split_once('/')
            .map(|(_, rest)| format!("/{rest}"))
            .unwrap_or_default();
        let scheme = if self.http { "http" } else { "https" };
        let mut url = format!("{scheme}://{}/{tenant}{rest}", self.host_with_port());
        if let Some(q) = &self.query {
            url.push('?');
            url.push_str(q);
        }
        Self::parse(&url, self.http)
    }

    /// Whether the authority was given as plain `http://` (trusted loopback only).
    pub(crate) fn is_plain_http(&self) -> bool {
        self.http
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl FromStr for Authority {
    type Err = Error;

    /// [`Authority::parse`] without trusting plain-HTTP loopback authorities.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_without_discovery_only_when_the_token_endpoint_is_predictable() {
        let realm = |url: &str| {
            Authority::parse(url, false)
                .unwrap()
                .realm_without_discovery()
                .map(str::to_string)
        };
        assert_eq!(
            realm("https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801")
                .as_deref(),
            Some("7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801")
        );
        assert_eq!(
            realm("https://login.microsoftonline.com/common").as_deref(),
            Some("common")
        );
        assert_eq!(
            realm("https://login.microsoftonline.com/contoso.onmicrosoft.com"),
            None
        );
        assert_eq!(
            realm("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_x"),
            None
        );
        assert_eq!(realm("https://adfs.contoso.com/adfs"), None);
    }

    fn parsed(url: &str) -> Authority {
        Authority::parse(url, false).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn classification_table() {
        use AuthorityType::*;
        let table = [
            (
                "https://login.microsoftonline.com/common",
                Aad,
                "common",
                "login.microsoftonline.com",
            ),
            (
                "https://LOGIN.microsoftonline.com/Contoso.onmicrosoft.com/",
                Aad,
                "Contoso.onmicrosoft.com",
                "login.microsoftonline.com",
            ),
            (
                "https://login.microsoftonline.us/organizations",
                Aad,
                "organizations",
                "login.microsoftonline.us",
            ),
            (
                "https://login.chinacloudapi.cn/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
                Aad,
                "7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
                "login.chinacloudapi.cn",
            ),
            (
                "https://login.contoso.com:8443/tenant",
                Aad,
                "tenant",
                "login.contoso.com",
            ),
            (
                "https://fs.contoso.com/adfs",
                Adfs,
                "adfs",
                "fs.contoso.com",
            ),
            (
                "https://fs.contoso.com/ADFS/",
                Adfs,
                "ADFS",
                "fs.contoso.com",
            ),
            (
                "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
                B2c,
                "contoso.onmicrosoft.com",
                "contoso.b2clogin.com",
            ),
            (
                "https://contoso.b2clogin.cn/tfp/contoso.onmicrosoft.com/policy",
                B2c,
                "tfp",
                "contoso.b2clogin.cn",
            ),
            (
                "https://login.contoso.com/contoso.onmicrosoft.com/b2c_1_susi",
                B2c,
                "contoso.onmicrosoft.com",
                "login.contoso.com",
            ),
            (
                "https://contoso.ciamlogin.com",
                Ciam,
                "contoso.onmicrosoft.com",
                "contoso.ciamlogin.com",
            ),
            (
                "https://contoso.ciamlogin.com/",
                Ciam,
                "contoso.onmicrosoft.com",
                "contoso.ciamlogin.com",
            ),
            (
                "https://contoso.ciamlogin.com/contoso.example",
                Ciam,
                "contoso.example",
                "contoso.ciamlogin.com",
            ),
            (
                "https://contoso.ciamlogin.com/adfs",
                Ciam,
                "adfs",
                "contoso.ciamlogin.com",
            ),
            (
                "https://co-sts.example/dstsv2/7a1c0f52",
                Dsts,
                "dstsv2",
                "co-sts.example",
            ),
        ];
        for (url, kind, tenant, host) in table {
            let a = parsed(url);
            assert_eq!(a.authority_type(), kind, "{url}");
            assert_eq!(a.tenant(), tenant, "{url}");
            assert_eq!(a.host(), host, "{url}");
        }
        let oidc = Authority::parse_oidc("https://accounts.example/realm/", false).unwrap();
        assert_eq!(oidc.authority_type(), Oidc);
        assert_eq!(oidc.url(), "https://accounts.example/realm");
        assert!(oidc.is_known_to_developer(true));
    }

    #[test]
    fn canonical_url_host_and_port() {
        let a = parsed("https://Login.Contoso.com:8443/Tenant/?x=1");
        assert_eq!(a.url(), "https://login.contoso.com:8443/Tenant");
        assert_eq!(a.host(), "login.contoso.com");
        assert_eq!(a.host_with_port(), "login.contoso.com:8443");
        let a = parsed("https://login.microsoftonline.com:443/common");
        assert_eq!(a.url(), "https://login.microsoftonline.com/common");
        assert_eq!(a.host_with_port(), "login.microsoftonline.com");
        let a = parsed("https://contoso.ciamlogin.com");
        assert_eq!(
            a.url(),
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com"
        );
        let a = Authority::parse("https://[::1]:9/t", false).unwrap();
        assert_eq!(
            (a.host(), a.host_with_port().as_str()),
            ("[::1]", "[::1]:9")
        );
        assert_eq!(
            parsed("https://login.microsoftonline.com/common").to_string(),
            "https://login.microsoftonline.com/common"
        );
        assert_eq!(
            "https://login.microsoftonline.com/common"
                .parse::<Authority>()
                .unwrap()
                .tenant(),
            "common"
        );
    }

    #[test]
    fn refusals() {
        for url in [
            "http://login.microsoftonline.com/common",
            "http://127.0.0.1:8080/tenant",
            "ftp://login.microsoftonline.com/common",
            "https://login.microsoftonline.com",
            "https://login.microsoftonline.com/",
            "https://login.microsoftonline.com//common",
            "https://user:pw@login.microsoftonline.com/common",
            "https://login.microsoftonline.com/common#x",
            "login.microsoftonline.com/common",
            "",
        ] {
            let err = Authority::parse(url, false).expect_err(url);
            assert!(matches!(err, Error::Configuration { .. }), "{url}: {err:?}");
        }
        let err = Authority::parse("http://login.microsoftonline.com/common", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("https"), "{err}");
        assert!(Authority::parse_oidc("https://accounts.example", false).is_err());
    }

    #[test]
    fn loopback_http_only_when_trusted() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            let url = format!("http://{host}/tenant");
            assert!(Authority::parse(&url, false).is_err(), "{url}");
            let a = Authority::parse(&url, true).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(a.url().starts_with("http://"), "{url}");
            assert!(a.discovery_url().starts_with("http://"));
        }
        for url in [
            "http://127.0.0.2/tenant",
            "http://login.contoso.com/tenant",
            "http://10.0.0.1/t",
        ] {
            assert!(Authority::parse(url, true).is_err(), "{url}");
        }
    }

    #[test]
    fn discovery_urls() {
        let table = [
            (
                "https://login.microsoftonline.com/common",
                "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://localhost:8443/tenant1",
                "https://localhost:8443/tenant1/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://fs.contoso.com/adfs/",
                "https://fs.contoso.com/adfs/.well-known/openid-configuration",
            ),
            (
                "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
                "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://contoso.ciamlogin.com",
                "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://contoso.ciamlogin.com/contoso.example",
                "https://contoso.ciamlogin.com/contoso.example/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://co-sts.example/dstsv2/tenant",
                "https://co-sts.example/dstsv2/tenant/.well-known/openid-configuration",
            ),
            (
                "https://localhost:8443/tenant1?dc=x",
                "https://localhost:8443/tenant1/v2.0/.well-known/openid-configuration?dc=x",
            ),
        ];
        for (url, expected) in table {
            assert_eq!(parsed(url).discovery_url(), expected, "{url}");
        }
        let oidc = Authority::parse_oidc("https://contoso.ciamlogin.com/", false).unwrap();
        assert_eq!(
            oidc.discovery_url(),
            "https://contoso.ciamlogin.com/.well-known/openid-configuration"
        );
        let oidc = Authority::parse_oidc("https://issuer.example:444/t/v2.0/", false).unwrap();
        assert_eq!(
            oidc.discovery_url(),
            "https://issuer.example:444/t/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn known_to_developer() {
        let aad = parsed("https://login.contoso.com/t");
        assert!(!aad.is_known_to_developer(true));
        assert!(aad.is_known_to_developer(false));
        assert!(!aad.is_well_known_host());
        assert!(parsed("https://login.windows.net/t").is_well_known_host());
        for url in [
            "https://fs.contoso.com/adfs",
            "https://contoso.b2clogin.com/t/p",
            "https://contoso.ciamlogin.com",
            "https://x.example/dstsv2/t",
        ] {
            assert!(parsed(url).is_known_to_developer(true), "{url}");
        }
    }

    #[test]
    fn tenant_can_be_changed_on_entra_authorities() {
        let a = parsed("https://login.microsoftonline.com:444/common");
        let b = a.with_tenant("contoso.onmicrosoft.com").unwrap();
        assert_eq!(
            b.url(),
            "https://login.microsoftonline.com:444/contoso.onmicrosoft.com"
        );
        assert_eq!(b.tenant(), "contoso.onmicrosoft.com");
        let local = Authority::parse("http://localhost:8080/common", true).unwrap();
        assert_eq!(
            local.with_tenant("t2").unwrap().url(),
            "http://localhost:8080/t2"
        );
        assert!(a.with_tenant("a/b").is_err());
        assert!(a.with_tenant("").is_err());
        assert!(a.with_tenant("x?y").is_err());
        assert!(
            parsed("https://fs.contoso.com/adfs")
                .with_tenant("t")
                .is_err()
        );
        assert!(
            parsed("https://contoso.b2clogin.com/t/p")
                .with_tenant("t")
                .is_err()
        );
        assert!(
            Authority::parse_oidc("https://o.example/t", false)
                .unwrap()
                .with_tenant("u")
                .is_err()
        );
    }
}
