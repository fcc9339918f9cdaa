//! The VM's Instance Metadata Service (and AKS pod identity through
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`): `GET {host}/metadata/identity/oauth2/token`,
//! api-version `2018-02-01`, `Metadata: true`.

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::identity::ManagedIdentity;
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::Imds;
/// The API version MSAL uses.
pub(crate) const API_VERSION: &str = "2018-02-01";
const SKU: &str = "MSAL.Rust";

/// The token URL under `host` (MSAL Python strips slashes around the host).
pub(crate) fn token_url(host: &str) -> String {
    format!(
        "{}/metadata/identity/oauth2/token",
        host.trim().trim_matches('/')
    )
}

/// `GET …?api-version=2018-02-01&resource=…[&client_id|msi_res_id|object_id=…]`.
pub(crate) fn request(
    host: &str,
    identity: &ManagedIdentity,
    resource: &str,
    request_id: &str,
) -> Result<HttpRequest, Error> {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    query.extend(identity.query_param("msi_res_id"));
    wire::request(
        SOURCE,
        http::Method::GET,
        &token_url(host),
        &query,
        &[
            ("Metadata", "true"),
            ("x-client-SKU", SKU),
            ("x-client-Ver", env!("CARGO_PKG_VERSION")),
            ("x-ms-client-request-id", request_id),
        ],
        None,
    )
}

/// A token (`access_token`, `expires_in`) or IMDS's `{error, error_description}`.
pub(crate) fn parse(url: &str, response: &HttpResponse) -> Result<MiToken, Error> {
    if let Some(e) = wire::transient_failure(SOURCE, url, response) {
        return Err(e);
    }
    let status = response.status().as_u16();
    let json = wire::json_object(SOURCE, response)?;
    if wire::text(&json, "access_token").is_some() && json.contains_key("expires_in") {
        return wire::token(SOURCE, &json, wire::integer(json.get("expires_in")), status);
    }
    let error = wire::text(&json, "error").unwrap_or("invalid_request");
    let description = wire::text(&json, "error_description").unwrap_or("");
    let hint = match status {
        400 if description.contains("Identity not found") => {
            " (the identity is not assigned to this VM: assign it, or check the id)"
        }
        404 | 410 => " (IMDS is starting or the identity is being assigned; retry shortly)",
        _ => "",
    };
    Err(wire::boxed(
        ManagedIdentityError::new(
            SOURCE,
            ManagedIdentityErrorKind::Refused,
            format!("{description}{hint}"),
        )
        .status(status)
        .code(error),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_msal_spellings() {
        let r = request(
            "http://169.254.169.254/",
            &ManagedIdentity::resource_id("/subscriptions/s/x"),
            "https://vault.azure.net",
            "rid",
        )
        .unwrap();
        assert_eq!(
            r.uri().to_string(),
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&msi_res_id=%2Fsubscriptions%2Fs%2Fx"
        );
        assert_eq!(r.headers()["Metadata"], "true");
        assert_eq!(r.headers()["x-client-SKU"], "MSAL.Rust");
        assert_eq!(r.headers()["x-ms-client-request-id"], "rid");
    }

    #[test]
    fn parses_tokens_and_errors() {
        let resp = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let t = parse(
            "u",
            &resp(
                200,
                r#"{"access_token":"at","expires_in":"86399","resource":"r"}"#,
            ),
        )
        .unwrap();
        assert_eq!((t.expires_in, t.token_type.as_str()), (86399, "Bearer"));
        let e = parse(
            "u",
            &resp(
                400,
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
            ),
        )
        .unwrap_err();
        match e {
            Error::ManagedIdentity(e) => {
                assert_eq!(e.kind, ManagedIdentityErrorKind::Refused);
                assert_eq!(e.error.as_deref(), Some("invalid_request"));
                assert_eq!(e.http_status, Some(400));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("u", &resp(429, "{}")),
            Err(Error::Throttled { .. })
        ));
        assert!(parse("u", &resp(503, "")).unwrap_err().is_transient());
        assert!(matches!(
            parse("u", &resp(200, "<html>")),
            Err(Error::ManagedIdentity(e)) if e.kind == ManagedIdentityErrorKind::InvalidResponse
        ));
    }
}
