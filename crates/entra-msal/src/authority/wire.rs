//! The discovery GETs on the wire: sending them and turning failures into typed errors.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Classification, Error, ServiceError};
use crate::http::{HttpResponse, ThrottledHttp};

/// How long to wait after a 429 that names no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Sends a discovery GET (`Accept: application/json`, no MSAL headers, as MSAL Python does).
pub(crate) async fn get(http: &ThrottledHttp, url: &str) -> Result<HttpResponse, Error> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| {
            Error::configuration_caused(format!("cannot build a request to {url}: {e}"), e)
        })?;
    http.send(request).await.map_err(|e| e.at(url))
}

#[derive(Deserialize)]
struct EntraErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    suberror: Option<String>,
    #[serde(default)]
    claims: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
}

/// Entra's JSON error body (`error`, `error_description`, `error_codes`, ...), if `body` is one.
pub(crate) fn entra_error(status: u16, body: &[u8]) -> Option<ServiceError> {
    let parsed: EntraErrorBody = serde_json::from_slice(body).ok()?;
    if parsed.error.is_empty() {
        return None;
    }
    Some(ServiceError {
        error_description: parsed.error_description.unwrap_or_default(),
        error: parsed.error,
        error_codes: parsed.error_codes,
        classification: Classification::from_suberror(parsed.suberror.as_deref()),
        suberror: parsed.suberror,
        claims: parsed.claims.filter(|c| !c.is_empty()),
        correlation_id: parsed.correlation_id,
        trace_id: parsed.trace_id,
        http_status: Some(status),
    })
}

/// The error for a `429` or `5xx` answer: [`Error::Throttled`] for 429 and for a 5xx naming a
/// `Retry-After`, else [`Error::InvalidResponse`]. Never cached by callers.
pub(crate) fn server_failure(url: &str, response: &HttpResponse) -> Error {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if status == 429 || retry_after.is_some() {
        return Error::Throttled {
            url: url.to_string(),
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            status,
        };
    }
    let detail = entra_error(status, response.body())
        .map(|e| format!(": {}", e.summary()))
        .unwrap_or_default();
    Error::InvalidResponse {
        url: url.to_string(),
        status,
        message: format!("the server failed{detail}; this is usually transient, retry later"),
    }
}

/// A copy of an error shared between the callers of one coalesced request.
pub(crate) fn replicate(e: &Error) -> Error {
    #[allow(unreachable_patterns)] // `Error` is `#[non_exhaustive]`; keep compiling if it grows.
    match e {
        Error::Service(s) => Error::Service(s.clone()),
        Error::UiRequired(s) => Error::UiRequired(s.clone()),
        Error::Throttled {
            url,
            retry_after,
            status,
        } => Error::Throttled {
            url: url.clone(),
            retry_after: *retry_after,
            status: *status,
        },
        Error::Network {
            url,
            message,
            timeout,
            source,
        } => Error::Network {
            url: url.clone(),
            message: message.clone(),
            timeout: *timeout,
            source: source.clone(),
        },
        Error::InvalidResponse {
            url,
            status,
            message,
        } => Error::InvalidResponse {
            url: url.clone(),
            status: *status,
            message: message.clone(),
        },
        Error::Configuration { message, source } => Error::Configuration {
            message: message.clone(),
            source: source.clone(),
        },
        Error::Cache { message, source } => Error::Cache {
            message: message.clone(),
            source: source.clone(),
        },
        Error::Validation(m) => Error::Validation(m.clone()),
        other => Error::configuration(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: Option<&str>, body: &str) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header("retry-after", r);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn parses_entra_error_bodies() {
        let body = r#"{"error":"invalid_instance","error_description":"AADSTS50049: Unknown or invalid instance.\r\nTrace ID: t","error_codes":[50049],"trace_id":"t","correlation_id":"c","suberror":"basic_action","claims":""}"#;
        let e = entra_error(400, body.as_bytes()).unwrap();
        assert_eq!(e.error, "invalid_instance");
        assert_eq!(e.aadsts(), Some(50049));
        assert_eq!(e.summary(), "AADSTS50049: Unknown or invalid instance.");
        assert_eq!(e.trace_id.as_deref(), Some("t"));
        assert_eq!(e.correlation_id.as_deref(), Some("c"));
        assert_eq!(e.classification, Classification::BasicAction);
        assert_eq!(e.claims, None);
        assert_eq!(e.http_status, Some(400));
        assert!(entra_error(400, b"<html>").is_none());
        assert!(entra_error(400, b"{\"error\":\"\"}").is_none());
        assert!(entra_error(400, b"{\"issuer\":\"x\"}").is_none());
    }

    #[test]
    fn server_failures() {
        assert!(matches!(
            server_failure("u", &response(429, Some("7"), "")),
            Error::Throttled { status: 429, retry_after, .. } if retry_after == Duration::from_secs(7)
        ));
        assert!(matches!(
            server_failure("u", &response(429, None, "")),
            Error::Throttled { status: 429, .. }
        ));
        assert!(matches!(
            server_failure("u", &response(503, Some("2"), "")),
            Error::Throttled { status: 503, .. }
        ));
        let e = server_failure(
            "u",
            &response(
                500,
                None,
                r#"{"error":"server_error","error_description":"AADSTS1: boom"}"#,
            ),
        );
        assert!(
            matches!(&e, Error::InvalidResponse { status: 500, message, .. } if message.contains("AADSTS1: boom")),
            "{e}"
        );
    }

    #[test]
    fn replicates_errors() {
        let e = Error::Network {
            url: "u".into(),
            message: "m".into(),
            timeout: true,
            source: None,
        };
        assert!(matches!(
            replicate(&e),
            Error::Network { timeout: true, .. }
        ));
        assert_eq!(
            replicate(&Error::configuration("x".into())).to_string(),
            "configuration error: x"
        );
    }
}
