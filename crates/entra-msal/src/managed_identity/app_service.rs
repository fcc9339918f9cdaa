//! App Service, Azure Functions and Azure Automation: `GET {IDENTITY_ENDPOINT}`,
//! api-version `2019-08-01`, headers `X-IDENTITY-HEADER` and `Metadata: true`; the resource id
//! is spelled `mi_res_id`; the answer's expiry is `expires_on` (epoch seconds).

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::identity::ManagedIdentity;
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AppService;
/// The API version MSAL uses.
pub(crate) const API_VERSION: &str = "2019-08-01";

/// `GET {endpoint}?api-version=2019-08-01&resource=…[&client_id|mi_res_id|object_id=…]`.
pub(crate) fn request(
    endpoint: &str,
    identity_header: &str,
    identity: &ManagedIdentity,
    resource: &str,
) -> Result<HttpRequest, Error> {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    query.extend(identity.query_param("mi_res_id"));
    wire::request(
        SOURCE,
        http::Method::GET,
        endpoint,
        &query,
        &[("X-IDENTITY-HEADER", identity_header), ("Metadata", "true")],
        None,
    )
}

/// A token (`access_token`, `expires_on`), or `{statusCode, message}` (MSAL: `invalid_scope`).
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
    let code = json
        .get("statusCode")
        .map(|v| v.to_string())
        .unwrap_or_else(|| status.to_string());
    let message = wire::text(&json, "message")
        .or_else(|| wire::text(&json, "error_description"))
        .unwrap_or("(no message)");
    let hint = if status == 401 || status == 403 {
        " (IDENTITY_HEADER is wrong or stale: restart the app to refresh its environment)"
    } else {
        " (check the resource and that the identity is assigned to this app)"
    };
    Err(wire::boxed(
        ManagedIdentityError::new(
            SOURCE,
            ManagedIdentityErrorKind::Refused,
            format!("{code}, {message}{hint}"),
        )
        .status(status)
        .code("invalid_scope"),
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
    fn request_and_parse() {
        let r = request(
            "http://127.0.0.1:41000/msi/token?x=1",
            "hdr",
            &ManagedIdentity::resource_id("/r"),
            "https://management.azure.com",
        )
        .unwrap();
        assert_eq!(
            r.uri().to_string(),
            "http://127.0.0.1:41000/msi/token?x=1&api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com&mi_res_id=%2Fr"
        );
        assert_eq!(r.headers()["X-IDENTITY-HEADER"], "hdr");
        assert_eq!(r.headers()["Metadata"], "true");
        let ok = http::Response::builder()
            .status(200)
            .body(
                br#"{"access_token":"a","expires_on":"1000","resource":"r","token_type":"Bearer"}"#
                    .to_vec(),
            )
            .unwrap();
        assert_eq!(parse("u", &ok, 400).unwrap().expires_in, 600);
        let err = http::Response::builder()
            .status(400)
            .body(
                br#"{"statusCode":400,"message":"Unable to load the proper Managed Identity."}"#
                    .to_vec(),
            )
            .unwrap();
        let e = parse("u", &err, 0).unwrap_err();
        assert!(e.to_string().contains("400, Unable to load"), "{e}");
    }
}
