//! Token-endpoint responses: success bodies (numbers may arrive as strings) and Entra error
//! bodies, turned into typed errors.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Classification, Error, ServiceError};
use crate::http::HttpResponse;

use super::plain_response;
use super::response_fields::{seconds, shared_text, text, text_or_number, token_type};

/// How long to wait after a 429 or 503 without `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A successful token response, decoded once. Numbers may arrive as strings (`"3599"`); empty
/// strings read as absent; fields this library does not know are kept in
/// [`extra`](Self::extra) (and go into the cache with the rest).
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct TokenResponse {
    /// `access_token`.
    #[serde(
        default,
        deserialize_with = "shared_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<Arc<str>>,
    /// `token_type` (see [`token_type`](Self::token_type) for the default; `Bearer` itself is
    /// borrowed).
    #[serde(
        default,
        deserialize_with = "token_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_type: Option<Cow<'static, str>>,
    /// `expires_in`, seconds.
    #[serde(
        default,
        deserialize_with = "seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in: Option<i64>,
    /// `expires_on`, epoch seconds (sent by some servers instead of `expires_in`).
    #[serde(
        default,
        deserialize_with = "seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_on: Option<i64>,
    /// `ext_expires_in`, seconds: how long the token may serve while the identity provider is
    /// unavailable.
    #[serde(
        default,
        deserialize_with = "seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub ext_expires_in: Option<i64>,
    /// `refresh_in`, seconds: when to refresh proactively.
    #[serde(
        default,
        deserialize_with = "seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_in: Option<i64>,
    /// `refresh_token`.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<String>,
    /// `id_token` (a JWT).
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_token: Option<String>,
    /// `client_info` (base64 JSON with `uid` and `utid`).
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_info: Option<String>,
    /// `scope`, space-separated.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub scope: Option<String>,
    /// `foci`: the family id (a number is read as its text).
    #[serde(
        default,
        deserialize_with = "text_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub foci: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never: only which fields arrived, and the lifetimes.
        let mut fields: Vec<&str> = [
            ("access_token", self.access_token.is_some()),
            ("token_type", self.token_type.is_some()),
            ("refresh_token", self.refresh_token.is_some()),
            ("id_token", self.id_token.is_some()),
            ("client_info", self.client_info.is_some()),
            ("scope", self.scope.is_some()),
            ("foci", self.foci.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        fields.extend(self.extra.keys().map(String::as_str));
        f.debug_struct("TokenResponse")
            .field("fields", &fields)
            .field("expires_in", &self.expires_in)
            .field("ext_expires_in", &self.ext_expires_in)
            .field("refresh_in", &self.refresh_in)
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
    /// `access_token`.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }
    /// `token_type`, default `Bearer`.
    pub fn token_type(&self) -> &str {
        self.token_type.as_deref().unwrap_or(crate::cache::BEARER)
    }
    /// `refresh_token`.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }
    /// `id_token`.
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }
    /// `client_info`.
    pub fn client_info(&self) -> Option<&str> {
        self.client_info.as_deref()
    }
    /// `scope`, split.
    pub fn scopes(&self) -> Option<Vec<String>> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
    }
    /// `expires_in` seconds.
    pub fn expires_in(&self) -> Option<i64> {
        self.expires_in
    }
    /// `ext_expires_in` seconds.
    pub fn ext_expires_in(&self) -> Option<i64> {
        self.ext_expires_in
    }
    /// `refresh_in` seconds.
    pub fn refresh_in(&self) -> Option<i64> {
        self.refresh_in
    }
    /// `foci` (family id).
    pub fn foci(&self) -> Option<&str> {
        self.foci.as_deref()
    }
    /// The response as a JSON object (the known fields, then the unknown ones), as the cache
    /// files it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
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
) -> Result<Box<TokenResponse>, Error> {
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
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.as_bytes().windows(4).any(|w| w == b"json"));
    if !is_json {
        return Err(invalid(url, status, "expected a JSON body", body));
    }
    // Straight into the typed response: the plain shape Entra sends directly, anything else
    // through serde. Only a failure looks again, to say which it was. The body is checked for
    // UTF-8 once, not string by string. Boxed: the response passes up several layers of the
    // request, each of which would copy it whole.
    let parsed = match std::str::from_utf8(body) {
        Ok(text) => {
            plain_response::read(text).map_or_else(|| serde_json::from_str(text).map(Box::new), Ok)
        }
        Err(_) => serde_json::from_slice::<TokenResponse>(body).map(Box::new),
    };
    let response = parsed.map_err(|e| {
        match serde_json::from_slice::<Map<String, Value>>(body) {
            Err(e) => invalid(
                url,
                status,
                &format!("the body is not a JSON object ({e})"),
                body,
            ),
            // A JSON object may hold tokens: its text stays out of the error.
            Ok(_) => invalid(
                url,
                status,
                &format!("the body is not a token response ({e})"),
                b"",
            ),
        }
    })?;
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
    fn decoded_into_fields_with_the_unknown_ones_kept() {
        let r = parse_token_response(
            "u",
            &response(
                200,
                "application/json",
                r#"{"access_token":"a","token_type":"pop","id_token":"","foci":1,
                    "scope":"b a","xms_extra":{"k":[1]},"expires_on":"99"}"#,
            ),
            "c",
        )
        .unwrap();
        assert_eq!(r.token_type(), "pop");
        assert_eq!(r.id_token(), None, "an empty string is absent");
        assert_eq!(r.foci(), Some("1"));
        assert_eq!(r.scopes(), Some(vec!["b".to_string(), "a".to_string()]));
        assert_eq!(r.extra["xms_extra"], serde_json::json!({"k": [1]}));
        assert_eq!(r.expires_on, Some(99));
        let json = r.to_json();
        assert_eq!(json["access_token"], "a");
        assert!(json.get("id_token").is_none());
        assert!(!format!("{r:?}").contains("\"a\""), "Debug shows no token");
    }

    #[test]
    fn a_known_field_of_the_wrong_type_is_an_invalid_response_that_shows_no_value() {
        for body in [
            r#"{"access_token":"a","expires_in":"soon"}"#,
            r#"{"access_token":"a","id_token":{"secret":"s3cr3t"}}"#,
            r#"{"access_token":7}"#,
        ] {
            match parse_token_response("u", &response(200, "application/json", body), "c") {
                Err(Error::InvalidResponse { message, .. }) => {
                    assert!(!message.contains("s3cr3t"), "{message}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
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
