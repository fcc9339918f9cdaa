//! Azure Cloud Shell: `POST {MSI_ENDPOINT or http://localhost:50342/oauth2/token}` with the form
//! `resource=…` and `Metadata: true`. The token is the signed-in portal user's; Cloud Shell has
//! no user-assigned identities.
//!
//! MSAL Python's `ManagedIdentityClient` does not handle Cloud Shell (it falls through to IMDS,
//! which does not exist there, and points users to `PublicClientApplication` with
//! `prompt="none"`); this client calls Cloud Shell's endpoint, as the Azure Identity libraries do.

use serde_json::Value;

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::identity::ManagedIdentity;
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::CloudShell;

/// The form POST; a user-assigned identity is a `Configuration` error.
pub(crate) fn request(
    endpoint: &str,
    identity: &ManagedIdentity,
    resource: &str,
) -> Result<HttpRequest, Error> {
    if let Some(id) = identity.user_assigned() {
        return Err(wire::mi_error(
            SOURCE,
            ManagedIdentityErrorKind::Configuration,
            format!(
                "Cloud Shell has no user-assigned identities (asked for {} {}); use \
                 ManagedIdentity::SystemAssigned, which yields the signed-in user's token",
                id.kind(),
                id.value()
            ),
        ));
    }
    wire::request(
        SOURCE,
        http::Method::POST,
        endpoint,
        &[],
        &[("Metadata", "true")],
        Some(vec![("resource", resource)]),
    )
}

/// A token (`access_token`, `expires_in` or `expires_on`), or `{"error": {"code", "message"}}`.
pub(crate) fn parse(url: &str, response: &HttpResponse, now: i64) -> Result<MiToken, Error> {
    if let Some(e) = wire::transient_failure(SOURCE, url, response) {
        return Err(e);
    }
    let status = response.status().as_u16();
    let json = wire::json_object(SOURCE, response)?;
    if status < 300 && wire::text(&json, "access_token").is_some() {
        let expires_in = wire::integer(json.get("expires_in"))
            .or_else(|| wire::integer(json.get("expires_on")).map(|on| on.saturating_sub(now)));
        return wire::token(SOURCE, &json, expires_in, status);
    }
    let (code, message) = match json.get("error") {
        Some(Value::Object(e)) => (
            e.get("code")
                .and_then(Value::as_str)
                .unwrap_or("invalid_request"),
            e.get("message").and_then(Value::as_str).unwrap_or(""),
        ),
        Some(Value::String(code)) => (
            code.as_str(),
            wire::text(&json, "error_description").unwrap_or(""),
        ),
        _ => ("invalid_request", ""),
    };
    Err(wire::boxed(
        ManagedIdentityError::new(
            SOURCE,
            ManagedIdentityErrorKind::Refused,
            format!(
                "{message} (check the resource; sign in to the portal again if the session ended)"
            ),
        )
        .status(status)
        .code(code),
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
    fn posts_the_resource_and_refuses_user_assigned() {
        let r = request(
            "http://localhost:50342/oauth2/token",
            &ManagedIdentity::SystemAssigned,
            "https://management.core.windows.net/",
        )
        .unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(
            r.body(),
            b"resource=https%3A%2F%2Fmanagement.core.windows.net%2F"
        );
        assert_eq!(r.headers()["Metadata"], "true");
        assert!(request("http://x", &ManagedIdentity::client_id("c"), "r").is_err());
    }
}
