//! Service Fabric: `GET {IDENTITY_ENDPOINT}` (HTTPS only), api-version `2019-07-01-preview`,
//! header `Secret`; optional `token_sha256_to_refresh` (claims challenge) and `xms_cc` (client
//! capabilities). The identity is configured in the cluster, so a user-assigned selection is
//! ignored, as MSAL Python does. The server certificate is pinned to
//! `IDENTITY_SERVER_THUMBPRINT` by [`pinned_tls`](super::pinned_tls).

use serde_json::Value;

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::ServiceFabric;
/// The API version MSAL uses.
pub(crate) const API_VERSION: &str = "2019-07-01-preview";

/// The thumbprint as 40 lowercase hex digits (spaces, tabs, newlines and colons removed), or a
/// `Configuration` error.
pub(crate) fn normalize_thumbprint(thumbprint: &str) -> Result<[u8; 20], Error> {
    let cleaned: String = thumbprint
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n' | ':'))
        .collect();
    let bad = || {
        wire::mi_error(
            SOURCE,
            ManagedIdentityErrorKind::Configuration,
            "IDENTITY_SERVER_THUMBPRINT must be a SHA-1 certificate thumbprint (40 hex digits); \
             check the Service Fabric application's environment",
        )
    };
    if cleaned.len() != 40 || !cleaned.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&cleaned[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Refuses anything but an `https://host` endpoint.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<(), Error> {
    let ok = url::Url::parse(endpoint)
        .map(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(wire::mi_error(
            SOURCE,
            ManagedIdentityErrorKind::Configuration,
            format!(
                "the Service Fabric managed identity endpoint must use HTTPS, got {endpoint:?}; \
                 check IDENTITY_ENDPOINT"
            ),
        ))
    }
}

/// `GET {endpoint}?api-version=2019-07-01-preview&resource=…[&token_sha256_to_refresh=…][&xms_cc=…]`.
pub(crate) fn request(
    endpoint: &str,
    secret: &str,
    resource: &str,
    token_sha256_to_refresh: Option<&str>,
    capabilities: &[String],
) -> Result<HttpRequest, Error> {
    check_endpoint(endpoint)?;
    let xms_cc = capabilities.join(",");
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some(hash) = token_sha256_to_refresh {
        query.push(("token_sha256_to_refresh", hash));
    }
    if !xms_cc.is_empty() {
        query.push(("xms_cc", &xms_cc));
    }
    wire::request(
        SOURCE,
        http::Method::GET,
        endpoint,
        &query,
        &[("Secret", secret)],
        None,
    )
}

/// A token (`access_token`, `expires_on`, `token_type`), or Service Fabric's
/// `{"error": {"code", "message"}}` mapped as MSAL Python maps it.
pub(crate) fn parse(url: &str, response: &HttpResponse, now: i64) -> Result<MiToken, Error> {
    if let Some(e) = wire::transient_failure(SOURCE, url, response) {
        return Err(e);
    }
    let status = response.status().as_u16();
    let json = wire::json_object(SOURCE, response)?;
    if wire::text(&json, "access_token").is_some() && json.contains_key("expires_on") {
        let expires_in = wire::integer(json.get("expires_on")).map(|on| on.saturating_sub(now));
        return wire::token(SOURCE, &json, expires_in, status);
    }
    let error = json.get("error").and_then(Value::as_object);
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (oauth, hint) = match code {
        "SecretHeaderNotFound" => (
            "unauthorized_client",
            "IDENTITY_HEADER was not accepted; restart the service to refresh its environment",
        ),
        "ManagedIdentityNotFound" => (
            "invalid_client",
            "the application has no managed identity; configure one in the cluster manifest",
        ),
        "ArgumentNullOrEmpty" => ("invalid_scope", "pass a non-empty resource"),
        _ => ("invalid_request", "see the message"),
    };
    Err(wire::boxed(
        ManagedIdentityError::new(
            SOURCE,
            ManagedIdentityErrorKind::Refused,
            format!("{code}: {message} ({hint})"),
        )
        .status(status)
        .code(oauth),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing-harness finding: an `expires_on` near `i64::MIN` overflowed `expires_on - now`
    /// (a panic in debug builds); it is now an already-expired token, refused as such.
    #[test]
    fn extreme_expires_on_is_refused_not_overflowed() {
        super::super::wire::check_extreme_expires_on(|r| {
            parse("u", r, 1_700_000_000).ok().map(|t| t.expires_in)
        });
    }

    #[test]
    fn thumbprints_normalize_or_fail() {
        let t = normalize_thumbprint("AB:CD ef01\t2345 6789abcdef0123456789abcdef01").unwrap();
        assert_eq!(t[0], 0xab);
        assert_eq!(t[19], 0x01);
        for bad in ["", "abc", &"g".repeat(40), &"é".repeat(20)] {
            assert!(normalize_thumbprint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_endpoints_are_refused() {
        assert!(request("http://127.0.0.1:2377/token", "s", "r", None, &[]).is_err());
        let r = request(
            "https://127.0.0.1:2377/token",
            "s",
            "r",
            Some("abc"),
            &["CP1".into(), "CP2".into()],
        )
        .unwrap();
        assert_eq!(
            r.uri().to_string(),
            "https://127.0.0.1:2377/token?api-version=2019-07-01-preview&resource=r&token_sha256_to_refresh=abc&xms_cc=CP1%2CCP2"
        );
        assert_eq!(r.headers()["Secret"], "s");
    }

    #[test]
    fn errors_map_as_msal_python() {
        let resp = http::Response::builder()
            .status(401)
            .body(br#"{"error":{"code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}"#.to_vec())
            .unwrap();
        match parse("u", &resp, 0).unwrap_err() {
            Error::ManagedIdentity(e) => {
                assert_eq!(e.error.as_deref(), Some("unauthorized_client"))
            }
            other => panic!("{other:?}"),
        }
    }
}
