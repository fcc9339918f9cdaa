//! Azure Machine Learning: `GET {MSI_ENDPOINT}`, api-version `2017-09-01`, header `secret`; a
//! client id is sent as `clientid` (the 2017 API's spelling, kept by MSAL Python).

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::identity::ManagedIdentity;
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::MachineLearning;
/// The API version MSAL uses.
pub(crate) const API_VERSION: &str = "2017-09-01";

/// `GET {endpoint}?api-version=2017-09-01&resource=…[&clientid|msi_res_id|object_id=…]`.
pub(crate) fn request(
    endpoint: &str,
    secret: &str,
    identity: &ManagedIdentity,
    resource: &str,
) -> Result<HttpRequest, Error> {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some((name, value)) = identity.query_param("msi_res_id") {
        query.push((
            if name == "client_id" {
                "clientid"
            } else {
                name
            },
            value,
        ));
    }
    wire::request(
        SOURCE,
        http::Method::GET,
        endpoint,
        &query,
        &[("secret", secret)],
        None,
    )
}

/// A token (`access_token`, `expires_on`), or anything else as `invalid_scope`.
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
    Err(wire::boxed(
        ManagedIdentityError::new(
            SOURCE,
            ManagedIdentityErrorKind::Refused,
            format!(
                "{} (check the resource, MSI_SECRET, and the compute's assigned identity)",
                wire::snippet(response.body())
            ),
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
    fn client_id_is_spelled_clientid() {
        let r = request(
            "http://ml/token",
            "s",
            &ManagedIdentity::client_id("c"),
            "r",
        )
        .unwrap();
        assert_eq!(
            r.uri().to_string(),
            "http://ml/token?api-version=2017-09-01&resource=r&clientid=c"
        );
        assert_eq!(r.headers()["secret"], "s");
        let r = request(
            "http://ml/token",
            "s",
            &ManagedIdentity::object_id("o"),
            "r",
        )
        .unwrap();
        assert!(r.uri().to_string().ends_with("&object_id=o"));
    }
}
