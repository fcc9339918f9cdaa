//! Scripted faults: the next N requests matching a rule get a chosen failure.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::errors::{self, EntraError, Trace};

/// Which requests a fault applies to. Every given field must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultMatch {
    /// A substring of the path, e.g. `/oauth2/v2.0/token`.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// The form's `grant_type` (either device-code spelling matches `device_code`).
    #[serde(default)]
    pub grant_type: Option<String>,
    /// The form's or query's `client_id`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The HTTP method.
    #[serde(default)]
    pub method: Option<String>,
}

/// What happens to a matching request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// HTTP 429 with an Entra error body, and `Retry-After` when given.
    Throttle {
        /// Seconds for `Retry-After`.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// A server error (500, 503, ...) with an Entra error body.
    Status {
        /// The HTTP status.
        status: u16,
        /// Seconds for `Retry-After`.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Wait, then answer normally.
    Delay {
        /// Milliseconds to wait.
        ms: u64,
    },
    /// Close the connection without a complete response.
    DropConnection,
    /// HTTP 200 whose JSON body is cut off.
    MalformedJson,
    /// A response whose body is shorter than its `Content-Length`.
    TruncatedBody,
    /// HTTP 200 with an HTML body instead of JSON.
    WrongContentType,
    /// The error a given AADSTS code produces (from the emulator's catalogue).
    Aadsts {
        /// The AADSTS number, e.g. 50076.
        code: u32,
    },
    /// Device-code polling answers `slow_down`.
    SlowDown,
}

/// A fault and how many more requests it applies to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Which requests.
    #[serde(default, rename = "match")]
    pub matcher: FaultMatch,
    /// What to do.
    pub fault: FaultAction,
    /// How many matching requests remain (at least 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// What the fault layer needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path.
    pub path: &'a str,
    /// `grant_type`, if any.
    pub grant_type: Option<&'a str>,
    /// `client_id`, if any.
    pub client_id: Option<&'a str>,
}

impl FaultMatch {
    /// Whether the request matches.
    pub fn matches(&self, r: &RequestFacts<'_>) -> bool {
        let normalize = |g: &str| {
            if g == "urn:ietf:params:oauth:grant-type:device_code" {
                "device_code".to_string()
            } else {
                g.to_string()
            }
        };
        self.path_contains
            .as_deref()
            .is_none_or(|p| r.path.contains(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(r.method))
            && self
                .client_id
                .as_deref()
                .is_none_or(|c| r.client_id.is_some_and(|rc| rc.eq_ignore_ascii_case(c)))
            && self
                .grant_type
                .as_deref()
                .is_none_or(|g| r.grant_type.is_some_and(|rg| normalize(rg) == normalize(g)))
    }
}

/// Takes the first rule matching `facts`, decrementing its count.
pub fn take_matching(rules: &mut Vec<FaultRule>, facts: &RequestFacts<'_>) -> Option<FaultAction> {
    let index = rules.iter().position(|r| r.matcher.matches(facts))?;
    let rule = &mut rules[index];
    let action = rule.fault.clone();
    rule.count = rule.count.saturating_sub(1);
    if rule.count == 0 {
        rules.remove(index);
    }
    Some(action)
}

/// The outcome of a fault: answer now, or delay and continue.
pub enum FaultOutcome {
    /// Send this response instead of the real one.
    Respond(Response),
    /// Sleep, then handle the request normally.
    Delay(Duration),
}

/// Turns a fault into a response (or a delay).
pub fn apply(action: &FaultAction, trace: &Trace) -> FaultOutcome {
    let respond = FaultOutcome::Respond;
    match action {
        FaultAction::Delay { ms } => FaultOutcome::Delay(Duration::from_millis(*ms)),
        FaultAction::Throttle { retry_after } => {
            let mut e = EntraError::new(errors::THROTTLED, &[]);
            e.retry_after = *retry_after;
            respond(e.into_response_with(trace))
        }
        FaultAction::Status {
            status,
            retry_after,
        } => {
            let mut e = EntraError::new(errors::SERVICE_UNAVAILABLE, &[]);
            e.status = Some(*status);
            e.retry_after = *retry_after;
            respond(e.into_response_with(trace))
        }
        FaultAction::Aadsts { code } => {
            let aadsts = errors::by_code(*code).unwrap_or(errors::INVALID_GRANT);
            let mut e = EntraError::new(
                aadsts,
                &["(scripted fault)", "(scripted fault)", "(scripted fault)"],
            );
            if *code == errors::MFA_REQUIRED.code {
                e = e.with_claims(errors::mfa_claims_challenge());
            }
            respond(e.into_response_with(trace))
        }
        FaultAction::SlowDown => {
            let body = serde_json::json!({
                "error": "slow_down",
                "error_description": format!("The client is polling too quickly.\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}", trace.trace_id, trace.correlation_id, trace.timestamp),
                "error_codes": [],
                "timestamp": trace.timestamp,
                "trace_id": trace.trace_id,
                "correlation_id": trace.correlation_id,
            });
            respond((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
        }
        FaultAction::MalformedJson => respond(
            (
                StatusCode::OK,
                [("content-type", "application/json; charset=utf-8")],
                "{\"token_type\":\"Bearer\",\"expires_in\":35",
            )
                .into_response(),
        ),
        FaultAction::WrongContentType => respond(
            (
                StatusCode::OK,
                [("content-type", "text/html; charset=utf-8")],
                "<html><body>Service maintenance</body></html>",
            )
                .into_response(),
        ),
        FaultAction::TruncatedBody => {
            let partial: Result<Bytes, std::io::Error> =
                Ok(Bytes::from_static(b"{\"token_type\":\"Bea"));
            let stream = futures_util::stream::iter(vec![
                partial,
                Err(std::io::Error::other("truncated by fault injection")),
            ]);
            let mut response = Response::new(Body::from_stream(stream));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response
                .headers_mut()
                .insert("content-length", HeaderValue::from_static("512"));
            respond(response)
        }
        FaultAction::DropConnection => {
            let stream = futures_util::stream::iter(vec![Err::<Bytes, _>(std::io::Error::other(
                "connection dropped by fault injection",
            ))]);
            respond(Response::new(Body::from_stream(stream)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_consumed_in_order() {
        let mut rules = vec![FaultRule {
            matcher: FaultMatch {
                grant_type: Some("device_code".into()),
                ..Default::default()
            },
            fault: FaultAction::SlowDown,
            count: 2,
        }];
        let facts = RequestFacts {
            method: "POST",
            path: "/t/oauth2/v2.0/token",
            grant_type: Some("urn:ietf:params:oauth:grant-type:device_code"),
            client_id: None,
        };
        let other = RequestFacts {
            grant_type: Some("refresh_token"),
            ..facts
        };
        assert!(take_matching(&mut rules, &other).is_none());
        assert!(take_matching(&mut rules, &facts).is_some());
        assert!(take_matching(&mut rules, &facts).is_some());
        assert!(take_matching(&mut rules, &facts).is_none());
    }

    #[test]
    fn rule_json_shape() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"match":{"path_contains":"/token"},"fault":{"kind":"throttle","retry_after":7},"count":3}"#,
        )
        .unwrap();
        assert_eq!(rule.count, 3);
        assert_eq!(
            rule.fault,
            FaultAction::Throttle {
                retry_after: Some(7)
            }
        );
    }
}
