//! Tenant discovery: an authority's OpenID Connect metadata, validated and cached.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::hosts;
use super::instance::{self, DiscoveryOptions};
use super::issuer::has_valid_issuer;
use super::memo::Memo;
use super::parse::{Authority, AuthorityType};
use super::wire;
use crate::error::Error;
use crate::http::{HttpResponse, ThrottledHttp};

/// The endpoints of an authority, from its OpenID Connect discovery document.
///
/// Values are kept as the document gives them; in a multi-tenant document (`common`,
/// `organizations`) the `{tenantid}` placeholder of `issuer` stays as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// Where the browser signs in (`…/oauth2/v2.0/authorize`).
    pub authorization_endpoint: String,
    /// Where tokens are requested (`…/oauth2/v2.0/token`).
    pub token_endpoint: String,
    /// Where device-code sign-in starts, when the provider supports it.
    pub device_authorization_endpoint: Option<String>,
    /// Where the browser signs out, when advertised.
    pub end_session_endpoint: Option<String>,
    /// The issuer, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`.
    pub issuer: Option<String>,
    /// The signing keys' URL.
    pub jwks_uri: Option<String>,
    /// The first path segment of the token endpoint: the tenant the cache records as `realm`
    /// (`common`, a tenant GUID, ...), which may differ from the configured tenant.
    pub realm: String,
}

static ENDPOINTS: LazyLock<Memo<Endpoints>> =
    LazyLock::new(|| Memo::new(Duration::from_secs(24 * 3600), 1024));

/// Discovers `authority`'s endpoints through `http` (as every application does on its first
/// request), for tools that show or check an authority before signing in.
///
/// Results are shared with the applications' process-wide 24 h cache; see
/// `resolve_endpoints`'s rules for validation and errors (throttling answers are replayed
/// for 1 s).
pub async fn discover(
    http: Arc<dyn crate::http::HttpClient>,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Result<Arc<Endpoints>, Error> {
    let http = ThrottledHttp::new(http, Duration::from_secs(1));
    resolve_endpoints(&http, authority, options).await
}

/// The authority's endpoints, discovered on first use and then kept 24 h in a process-wide cache
/// shared by all applications (keyed by the discovery URL, the authority type and `options`).
/// Concurrent first calls for the same authority share one request; failures are not kept.
///
/// An Entra authority whose host is neither one of Microsoft's well-known hosts nor known to the
/// developer (see [`Authority::is_known_to_developer`]) is first validated through instance
/// discovery at `login.microsoftonline.com` when `options.instance_discovery` is on; an unknown
/// host fails with [`Error::Configuration`]. OIDC and dSTS authorities get their `issuer`
/// checked instead.
///
/// Errors: [`Error::Network`] when the request fails; [`Error::Throttled`] or
/// [`Error::InvalidResponse`] for 429/5xx answers; [`Error::Service`] when the provider answers
/// 4xx with an Entra error (e.g. AADSTS90002, unknown tenant); [`Error::Configuration`] for any
/// other 4xx or an unacceptable issuer; [`Error::InvalidResponse`] when the document lacks an
/// https `authorization_endpoint` or `token_endpoint` (the latter with a tenant segment).
pub(crate) async fn resolve_endpoints(
    http: &ThrottledHttp,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Result<Arc<Endpoints>, Error> {
    resolve_endpoints_until(http, authority, options)
        .await
        .map(|(endpoints, _)| endpoints)
}

/// [`resolve_endpoints`], with when the result expires: an application keeps its own copy until
/// then, so a cache hit does not format the cache's key or hash into the shared memo, and an
/// application whose result the memo dropped to make room (more than its 1,024 authorities in
/// the process) does not discover again on every call.
pub(crate) async fn resolve_endpoints_until(
    http: &ThrottledHttp,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Result<(Arc<Endpoints>, Option<std::time::Instant>), Error> {
    let key = format!(
        "{} type={:?} instance_discovery={} validate_authority={}",
        authority.discovery_url(),
        authority.authority_type(),
        options.instance_discovery,
        options.validate_authority
    );
    let (http_owned, authority_owned) = (http.clone(), authority.clone());
    ENDPOINTS
        .get_or_fetch_until(&key, http, move || {
            Box::pin(async move { discover_uncached(&http_owned, &authority_owned, options).await })
        })
        .await
}

async fn discover_uncached(
    http: &ThrottledHttp,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Result<Endpoints, Error> {
    let needs_validation = options.instance_discovery
        && !authority.is_well_known_host()
        && !authority.is_known_to_developer(options.validate_authority);
    let url = if needs_validation {
        instance::validate(http, authority).await?
    } else {
        authority.discovery_url()
    };
    tracing::debug!(target: "entra_msal::authority", authority = %authority, %url, "tenant discovery");
    let response = wire::get(http, &url).await?;
    let endpoints = parse_openid_configuration(authority, &url, &response)?;
    if matches!(
        authority.authority_type(),
        AuthorityType::Oidc | AuthorityType::Dsts
    ) && !has_valid_issuer(endpoints.issuer.as_deref(), authority.url())
    {
        return Err(Error::configuration(format!(
            "the issuer {:?} in {url} does not match the OIDC authority {} or a known pattern. If this is a \
             Microsoft Entra authority (e.g. login.microsoftonline.com), configure it as the authority rather than \
             as an OIDC authority",
            endpoints.issuer.as_deref().unwrap_or(""),
            authority.url()
        )));
    }
    Ok(endpoints)
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
}

/// Turns a tenant-discovery answer into [`Endpoints`] or the matching error.
pub(crate) fn parse_openid_configuration(
    authority: &Authority,
    url: &str,
    response: &HttpResponse,
) -> Result<Endpoints, Error> {
    let status = response.status().as_u16();
    if status == 429 || status >= 500 {
        return Err(wire::server_failure(url, response));
    }
    if (400..500).contains(&status) {
        if let Some(error) = wire::entra_error(status, response.body()) {
            return Err(Error::Service(Box::new(error)));
        }
        return Err(Error::configuration(format!(
            "unable to get the configuration of the authority {}: its OpenID Connect discovery endpoint {url} \
             answered HTTP {status}. Check the tenant name or GUID; an authority typically looks like \
             https://login.microsoftonline.com/your_tenant, https://tenant_name.ciamlogin.com or \
             https://tenant_name.b2clogin.com/tenant.onmicrosoft.com/policy",
            authority.url()
        )));
    }
    let invalid = |message: String| Error::InvalidResponse {
        url: url.to_string(),
        status,
        message,
    };
    if !response.status().is_success() {
        return Err(invalid(
            "expected the OpenID Connect discovery document".into(),
        ));
    }
    let doc: OpenIdConfiguration = serde_json::from_slice(response.body()).map_err(|e| {
        invalid(format!(
            "the OpenID Connect discovery document is not valid JSON of the expected shape: {e}"
        ))
    })?;
    let authorization_endpoint = required_endpoint(
        authority,
        "authorization_endpoint",
        doc.authorization_endpoint,
    )
    .map_err(invalid)?;
    let token_endpoint =
        required_endpoint(authority, "token_endpoint", doc.token_endpoint).map_err(invalid)?;
    let realm = Url::parse(&token_endpoint)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_string))
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "the token_endpoint {token_endpoint} has no tenant path segment"
            ))
        })?;
    let device_authorization_endpoint =
        match doc.device_authorization_endpoint.filter(|e| !e.is_empty()) {
            Some(e) => Some(
                required_endpoint(authority, "device_authorization_endpoint", Some(e))
                    .map_err(invalid)?,
            ),
            None => None,
        };
    Ok(Endpoints {
        authorization_endpoint,
        token_endpoint,
        device_authorization_endpoint,
        end_session_endpoint: doc.end_session_endpoint.filter(|e| !e.is_empty()),
        issuer: doc.issuer.filter(|e| !e.is_empty()),
        jwks_uri: doc.jwks_uri.filter(|e| !e.is_empty()),
        realm,
    })
}

/// An endpoint the library sends requests to: https, or plain http on loopback when the
/// authority itself is a trusted plain-HTTP loopback authority.
fn required_endpoint(
    authority: &Authority,
    name: &str,
    value: Option<String>,
) -> Result<String, String> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the document has no {name}"))?;
    let url = Url::parse(&value).map_err(|e| format!("the {name} {value:?} is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let acceptable = !host.is_empty()
        && match url.scheme() {
            "https" => true,
            "http" => authority.is_plain_http() && hosts::is_loopback(&host),
            _ => false,
        };
    if acceptable {
        Ok(value)
    } else {
        Err(format!("the {name} {value:?} is not an https URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn parse(authority: &str, status: u16, body: &str) -> Result<Endpoints, Error> {
        let a = Authority::parse(authority, true).unwrap();
        parse_openid_configuration(&a, "https://d/x", &response(status, body))
    }

    const COMMON: &str = r#"{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0",
        "authorization_endpoint":"https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "token_endpoint":"https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "device_authorization_endpoint":"https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
        "end_session_endpoint":"https://login.microsoftonline.com/common/oauth2/v2.0/logout",
        "jwks_uri":"https://login.microsoftonline.com/common/discovery/v2.0/keys","tenant_region_scope":null}"#;

    #[test]
    fn multi_tenant_document_keeps_placeholders() {
        let e = parse("https://login.microsoftonline.com/common", 200, COMMON).unwrap();
        assert_eq!(e.realm, "common");
        assert_eq!(
            e.issuer.as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            e.device_authorization_endpoint.as_deref(),
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
        );
        assert_eq!(
            e.jwks_uri.as_deref(),
            Some("https://login.microsoftonline.com/common/discovery/v2.0/keys")
        );
    }

    #[test]
    fn realm_comes_from_the_token_endpoint() {
        let body = r#"{"authorization_endpoint":"https://h/contoso.example/oauth2/v2.0/authorize",
            "token_endpoint":"https://h/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/oauth2/v2.0/token"}"#;
        let e = parse("https://h/contoso.example", 200, body).unwrap();
        assert_eq!(e.realm, "7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801");
        assert_eq!(e.device_authorization_endpoint, None);
    }

    #[test]
    fn documents_that_are_refused() {
        for body in [
            r#"{"token_endpoint":"https://h/t/oauth2/v2.0/token"}"#,
            r#"{"authorization_endpoint":"https://h/t/oauth2/v2.0/authorize"}"#,
            r#"{"authorization_endpoint":"http://h/t/authorize","token_endpoint":"https://h/t/token"}"#,
            r#"{"authorization_endpoint":"https://h/t/authorize","token_endpoint":"http://h/t/token"}"#,
            r#"{"authorization_endpoint":"https://h/t/authorize","token_endpoint":"https://h"}"#,
            r#"{"authorization_endpoint":"https://h/t/authorize","token_endpoint":"https://h/t/token","device_authorization_endpoint":"http://h/d"}"#,
            r#"{"authorization_endpoint":"https://h/t/authorize","token_endpoint":42}"#,
            "<html>maintenance</html>",
        ] {
            let e = parse("https://h/t", 200, body).expect_err(body);
            assert!(
                matches!(e, Error::InvalidResponse { status: 200, .. }),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn plain_http_endpoints_only_for_trusted_loopback() {
        let body = r#"{"authorization_endpoint":"http://127.0.0.1:9/t/authorize","token_endpoint":"http://127.0.0.1:9/t/token"}"#;
        assert!(parse("http://127.0.0.1:9/t", 200, body).is_ok());
        assert!(parse("https://127.0.0.1:9/t", 200, body).is_err());
        let remote = r#"{"authorization_endpoint":"http://h/t/authorize","token_endpoint":"http://h/t/token"}"#;
        assert!(parse("http://127.0.0.1:9/t", 200, remote).is_err());
    }

    #[test]
    fn error_statuses() {
        let entra = r#"{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant 'x' not found.","error_codes":[90002]}"#;
        let e = parse("https://h/x", 400, entra).unwrap_err();
        assert_eq!(e.service_error().and_then(|s| s.aadsts()), Some(90002));
        assert!(!e.is_ui_required());
        let e = parse("https://h/x", 404, "Not Found").unwrap_err();
        assert!(
            matches!(&e, Error::Configuration { message: m, .. } if m.contains("https://h/x") && m.contains("404")),
            "{e}"
        );
        assert!(matches!(
            parse("https://h/x", 503, "").unwrap_err(),
            Error::InvalidResponse { status: 503, .. }
        ));
        assert!(matches!(
            parse("https://h/x", 429, "").unwrap_err(),
            Error::Throttled { .. }
        ));
        assert!(matches!(
            parse("https://h/x", 302, "").unwrap_err(),
            Error::InvalidResponse { status: 302, .. }
        ));
    }
}
