//! Token-endpoint responses: success bodies (numbers may arrive as strings) and Entra error
//! bodies, turned into typed errors.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Classification, Error, ServiceError};
use crate::http::HttpResponse;

/// How long to wait after a 429 or 503 without `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A successful token response, kept as JSON with typed accessors.
#[derive(Clone, PartialEq)]
pub struct TokenResponse {
    /// The JSON object as received.
    pub json: Map<String, Value>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.json.keys().collect();
        f.debug_struct("TokenResponse")
            .field("fields", &keys)
            .finish_non_exhaustive()
    }
}

/// A number that may be sent as a JSON string (`"3599"`).
pub fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

impl TokenResponse {
    fn str(&self, name: &str) -> Option<&str> {
        self.json
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `access_token`.
    pub fn access_token(&self) -> Option<&str> {
        self.str("access_token")
    }
    /// `token_type`, default `Bearer`.
    pub fn token_type(&self) -> &str {
        self.str("token_type").unwrap_or("Bearer")
    }
    /// `refresh_token`.
    pub fn refresh_token(&self) -> Option<&str> {
        self.str("refresh_token")
    }
    /// `id_token`.
    pub fn id_token(&self) -> Option<&str> {
        self.str("id_token")
    }
    /// `client_info`.
    pub fn client_info(&self) -> Option<&str> {
        self.str("client_info")
    }
    /// `scope`, split.
    pub fn scopes(&self) -> Option<Vec<String>> {
        self.str("scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
    }
    /// `expires_in` seconds.
    pub fn expires_in(&self) -> Option<i64> {
        number(self.json.get("expires_in"))
    }
    /// `ext_expires_in` seconds.
    pub fn ext_expires_in(&self) -> Option<i64> {
        number(self.json.get("ext_expires_in"))
    }
    /// `refresh_in` seconds.
    pub fn refresh_in(&self) -> Option<i64> {
        number(self.json.get("refresh_in"))
    }
    /// `foci` (family id).
    pub fn foci(&self) -> Option<&str> {
        self.str("foci")
    }
}

fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Parses an Entra error body into a [`ServiceError`], if it is one.
pub fn service_error(body: &[u8], status: u16, correlation_id: &str) -> Option<ServiceError> {
    let json: Map<String, Value> = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?.as_str()?.to_string();
    let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
    let error_codes = json
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| number(Some(c)).and_then(|n| u32::try_from(n).ok()))
                .collect()
        })
        .unwrap_or_default();
    let suberror = text("suberror").filter(|s| !s.is_empty());
    Some(ServiceError {
        error,
        error_description: text("error_description").unwrap_or_default(),
        error_codes,
        classification: Classification::from_suberror(suberror.as_deref()),
        suberror,
        claims: text("claims").filter(|s| !s.is_empty()),
        correlation_id: text("correlation_id").or_else(|| Some(correlation_id.to_string())),
        trace_id: text("trace_id"),
        http_status: Some(status),
    })
}

/// Turns a token-endpoint answer into a [`TokenResponse`] or a typed error.
pub fn parse_token_response(
    url: &str,
    response: &HttpResponse,
    correlation_id: &str,
) -> Result<TokenResponse, Error> {
    let status = response.status().as_u16();
    let body = response.body();
    if status == 429 || status == 503 {
        return Err(Error::Throttled {
            url: url.to_string(),
            retry_after: retry_after(response).unwrap_or(DEFAULT_RETRY_AFTER),
            status,
        });
    }
    if !(200..300).contains(&status) {
        return match service_error(body, status, correlation_id) {
            Some(e) => Err(Error::from_service(e)),
            None => Err(invalid(
                url,
                status,
                &format!("HTTP {status} without an OAuth error body"),
                body,
            )),
        };
    }
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.contains("json"));
    if !is_json {
        return Err(invalid(url, status, "expected a JSON body", body));
    }
    let json: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        invalid(
            url,
            status,
            &format!("the body is not a JSON object ({e})"),
            body,
        )
    })?;
    let response = TokenResponse { json };
    if response.access_token().is_none() {
        return Err(invalid(
            url,
            status,
            "the response has no access_token",
            b"",
        ));
    }
    Ok(response)
}

fn invalid(url: &str, status: u16, message: &str, body: &[u8]) -> Error {
    let preview: String = String::from_utf8_lossy(&body[..body.len().min(120)])
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let message = if preview.is_empty() {
        message.to_string()
    } else {
        format!("{message}; body starts with {preview:?}")
    };
    Error::InvalidResponse {
        url: url.to_string(),
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn success_with_string_numbers() {
        let r = parse_token_response(
            "u",
            &response(
                200,
                "application/json",
                r#"{"access_token":"a","expires_in":"3599","refresh_in":1800}"#,
            ),
            "c",
        )
        .unwrap();
        assert_eq!(r.expires_in(), Some(3599));
        assert_eq!(r.refresh_in(), Some(1800));
        assert_eq!(r.token_type(), "Bearer");
    }

    #[test]
    fn errors_are_typed() {
        let body = r#"{"error":"invalid_grant","error_description":"AADSTS50076: MFA\r\nTrace ID: t","error_codes":[50076],"suberror":"basic_action","claims":"{\"a\":1}","correlation_id":"k"}"#;
        let e =
            parse_token_response("u", &response(400, "application/json", body), "c").unwrap_err();
        let s = e.service_error().unwrap();
        assert!(e.is_ui_required());
        assert_eq!(s.aadsts(), Some(50076));
        assert_eq!(s.claims.as_deref(), Some("{\"a\":1}"));
        assert_eq!(s.classification, Classification::BasicAction);
        assert_eq!(s.correlation_id.as_deref(), Some("k"));
        let e = parse_token_response(
            "u",
            &response(
                401,
                "application/json",
                r#"{"error":"invalid_client","error_codes":[7000215]}"#,
            ),
            "c",
        )
        .unwrap_err();
        assert!(matches!(e, Error::Service(_)));
    }

    #[test]
    fn malformed_answers() {
        assert!(matches!(
            parse_token_response("u", &response(200, "text/html", "<html>"), "c"),
            Err(Error::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_token_response("u", &response(200, "application/json", "{\"tok"), "c"),
            Err(Error::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_token_response("u", &response(200, "application/json", "{}"), "c"),
            Err(Error::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_token_response("u", &response(500, "text/plain", "oops"), "c"),
            Err(Error::InvalidResponse { status: 500, .. })
        ));
        let throttled = http::Response::builder()
            .status(429)
            .header("retry-after", "7")
            .body(Vec::new())
            .unwrap();
        match parse_token_response("u", &throttled, "c") {
            Err(Error::Throttled { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(7))
            }
            other => panic!("{other:?}"),
        }
    }
}
