//! What every source's codec shares: building the request, reading JSON, normalizing the token
//! into OAuth 2.0 shape, and the failures common to all endpoints.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::source::ManagedIdentitySource;
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

/// A token as every source's answer is normalized (MSAL Python's "OAuth2 format").
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MiToken {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: String,
    pub resource: Option<String>,
}

impl std::fmt::Debug for MiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .field("resource", &self.resource)
            .finish()
    }
}

pub(crate) fn mi_error(
    source: ManagedIdentitySource,
    kind: ManagedIdentityErrorKind,
    message: impl Into<String>,
) -> Error {
    Error::ManagedIdentity(Box::new(ManagedIdentityError::new(source, kind, message)))
}

pub(crate) fn boxed(e: ManagedIdentityError) -> Error {
    Error::ManagedIdentity(Box::new(e))
}

/// A request to `endpoint` with `query` appended to any query it already has.
pub(crate) fn request(
    source: ManagedIdentitySource,
    method: http::Method,
    endpoint: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<Vec<(&str, &str)>>,
) -> Result<HttpRequest, Error> {
    let mut url = url::Url::parse(endpoint).map_err(|e| {
        mi_error(
            source,
            ManagedIdentityErrorKind::Configuration,
            format!("the endpoint {endpoint:?} is not a valid URL ({e}); check the environment"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(mi_error(
            source,
            ManagedIdentityErrorKind::Configuration,
            format!("the endpoint {endpoint:?} is not an http(s) URL; check the environment"),
        ));
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let mut builder = http::Request::builder().method(method).uri(url.as_str());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = match body {
        Some(form) => {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
            serde_urlencoded::to_string(form)
                .map_err(|e| {
                    mi_error(
                        source,
                        ManagedIdentityErrorKind::Configuration,
                        format!("cannot encode the request: {e}"),
                    )
                })?
                .into_bytes()
        }
        None => Vec::new(),
    };
    builder.body(body).map_err(|e| {
        mi_error(
            source,
            ManagedIdentityErrorKind::Configuration,
            format!(
                "cannot build the request (a header value from the environment may contain \
                 invalid characters): {e}"
            ),
        )
    })
}

/// An integer written as a JSON number or a decimal string.
pub(crate) fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string field.
pub(crate) fn text<'a>(json: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    json.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The body as a JSON object, or `InvalidResponse`.
pub(crate) fn json_object(
    source: ManagedIdentitySource,
    response: &HttpResponse,
) -> Result<Map<String, Value>, Error> {
    serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .ok_or_else(|| {
            boxed(
                ManagedIdentityError::new(
                    source,
                    ManagedIdentityErrorKind::InvalidResponse,
                    format!(
                        "the endpoint did not answer with JSON: {}",
                        snippet(response.body())
                    ),
                )
                .status(response.status().as_u16()),
            )
        })
}

/// The start of a body, for messages (endpoints answer short JSON or HTML error pages).
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// `Throttled` for a 429; `Unavailable` for a 5xx. `None` otherwise.
pub(crate) fn transient_failure(
    source: ManagedIdentitySource,
    url: &str,
    response: &HttpResponse,
) -> Option<Error> {
    let status = response.status();
    if status.as_u16() == 429 {
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(5);
        return Some(Error::Throttled {
            url: url.to_string(),
            retry_after: Duration::from_secs(retry_after),
            status: 429,
        });
    }
    if status.is_server_error() {
        return Some(boxed(
            ManagedIdentityError::new(
                source,
                ManagedIdentityErrorKind::Unavailable,
                format!(
                    "the endpoint failed: {}; retry later",
                    snippet(response.body())
                ),
            )
            .status(status.as_u16()),
        ));
    }
    None
}

/// Builds the token from `access_token` and a lifetime, or `InvalidResponse`.
pub(crate) fn token(
    source: ManagedIdentitySource,
    json: &Map<String, Value>,
    expires_in: Option<i64>,
    status: u16,
) -> Result<MiToken, Error> {
    let invalid = |what: &str| {
        boxed(
            ManagedIdentityError::new(
                source,
                ManagedIdentityErrorKind::InvalidResponse,
                format!("the token response {what}"),
            )
            .status(status),
        )
    };
    let access_token = text(json, "access_token").ok_or_else(|| invalid("has no access_token"))?;
    let expires_in = expires_in.ok_or_else(|| invalid("has no valid expiry"))?;
    if expires_in <= 0 {
        return Err(invalid(&format!(
            "is already expired (expires in {expires_in} s); check the host's clock"
        )));
    }
    Ok(MiToken {
        access_token: access_token.to_string(),
        expires_in,
        token_type: text(json, "token_type").unwrap_or("Bearer").to_string(),
        resource: text(json, "resource").map(str::to_string),
    })
}

/// Test support: the four sources that send `expires_on` must refuse one near `i64::MIN` as an
/// already-expired token (a fuzzing-harness finding: `expires_on - now` overflowed) and accept
/// one near `i64::MAX`. `expires_in` parses a 200 response's body at a fixed `now`.
#[cfg(test)]
pub(crate) fn check_extreme_expires_on(
    expires_in: impl Fn(&http::Response<Vec<u8>>) -> Option<i64>,
) {
    let response = |body: &str| {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    for body in [
        r#"{"access_token":"a","expires_on":"-9223372036854775808"}"#,
        r#"{"access_token":"a","expires_on":-1e308}"#,
    ] {
        assert_eq!(expires_in(&response(body)), None, "{body}");
    }
    let far = r#"{"access_token":"a","expires_on":"9223372036854775807"}"#;
    assert!(expires_in(&response(far)).is_some_and(|e| e > 0));
}
