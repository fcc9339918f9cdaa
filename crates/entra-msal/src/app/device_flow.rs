//! The device-code flow: start it, show the message, poll until the user signs in elsewhere.

use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::core::{ClientCore, GrantType, Issued};
use super::request::Request;
use super::result::{self, AuthenticationResult};
use super::telemetry::{ApiId, CallTelemetry, RefreshReason};
use crate::error::{Classification, Error, ServiceError};
use crate::oauth::grants;
use crate::oauth::response::{number, service_error};
use crate::oauth::transport::FormPost;

/// What `slow_down` adds to the polling interval (RFC 8628).
const SLOW_DOWN: Duration = Duration::from_secs(5);

/// The polling interval when the identity provider sends none, or one below
/// [`DEVICE_CODE_MIN_INTERVAL`] (RFC 8628 section 3.2: "If no value is provided, clients MUST use 5 as the
/// default").
pub const DEVICE_CODE_DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The shortest polling interval honoured; anything below (such as `interval: 0`, which would
/// make the client poll as fast as the network allows) is replaced by [`DEVICE_CODE_DEFAULT_INTERVAL`].
pub const DEVICE_CODE_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The interval actually used for `requested`: [`DEVICE_CODE_DEFAULT_INTERVAL`] below [`DEVICE_CODE_MIN_INTERVAL`].
pub(crate) fn effective_interval(requested: Duration) -> Duration {
    if requested < DEVICE_CODE_MIN_INTERVAL {
        DEVICE_CODE_DEFAULT_INTERVAL
    } else {
        requested
    }
}

/// How long to wait before the next poll: the interval, but never past the code's expiry
/// (`remaining_secs`, whole seconds left; at least one second so nothing spins).
pub(crate) fn wait_before_next_poll(interval: Duration, remaining_secs: i64) -> Duration {
    let remaining = Duration::from_secs(remaining_secs.max(1).unsigned_abs());
    effective_interval(interval).min(remaining)
}

/// A started device-code flow: show [`DeviceFlow::message`] to the user, then call
/// `acquire_token_by_device_flow`.
#[derive(Clone)]
pub struct DeviceFlow {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The text to show the user (from the identity provider).
    pub message: String,
    /// When the code expires.
    pub expires_at: OffsetDateTime,
    /// How long to wait between polls: the identity provider's `interval`, or
    /// 5 s (RFC 8628's default) when it sent none or one below 1 s.
    /// Polling never waits past [`expires_at`](Self::expires_at), whatever the interval.
    pub interval: Duration,
    /// The correlation id of the flow's requests.
    pub correlation_id: String,
    pub(crate) device_code: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) claims: Option<String>,
    /// Extra body parameters of the polls (MSAL Python's `data`).
    pub(crate) extra: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for DeviceFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFlow")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("device_code", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// What to do after a polling error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextPoll {
    /// Poll again after this interval.
    After(Duration),
    /// Stop with the error.
    Stop,
}

/// `authorization_pending` keeps the interval, `slow_down` adds 5 s, anything else stops.
pub(crate) fn next_poll(error: &Error, interval: Duration) -> NextPoll {
    match error.service_error().map(|s| s.error.as_str()) {
        Some("authorization_pending") => NextPoll::After(interval),
        Some("slow_down") => NextPoll::After(interval + SLOW_DOWN),
        _ => NextPoll::Stop,
    }
}

fn expired(flow: &DeviceFlow) -> Error {
    Error::Service(Box::new(ServiceError {
        error: "expired_token".into(),
        error_description: format!(
            "The device code {} expired before the user signed in; start a new device flow.",
            flow.user_code
        ),
        error_codes: Vec::new(),
        suberror: None,
        claims: None,
        correlation_id: Some(flow.correlation_id.clone()),
        trace_id: None,
        http_status: None,
        classification: Classification::None,
    }))
}

/// Parses the device authorization response.
pub(crate) fn parse_flow(
    url: &str,
    status: u16,
    body: &[u8],
    correlation_id: &str,
) -> Result<(String, Map<String, Value>), Error> {
    if !(200..300).contains(&status) {
        return Err(match service_error(body, status, correlation_id) {
            Some(e) => Error::from_service(e),
            None => Error::InvalidResponse {
                url: url.into(),
                status,
                message: "no device code and no OAuth error".into(),
            },
        });
    }
    let json: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| Error::InvalidResponse {
            url: url.into(),
            status,
            message: format!("not a JSON object: {e}"),
        })?;
    let device_code = json
        .get("device_code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::InvalidResponse {
            url: url.into(),
            status,
            message: "no device_code".into(),
        })?
        .to_string();
    Ok((device_code, json))
}

impl ClientCore {
    /// Starts a device-code flow.
    pub(crate) async fn initiate_device_flow(
        &self,
        request: &Request,
    ) -> Result<DeviceFlow, Error> {
        let (scopes, claims) = (&request.decorated, request.claims.clone());
        let endpoints = self.endpoints().await?;
        let url = endpoints
            .device_authorization_endpoint
            .clone()
            .unwrap_or_else(|| endpoints.token_endpoint.replace("/token", "/devicecode"));
        // The polls that follow send the same correlation id.
        let correlation_id = request.correlation_id().to_string();
        let mut post = FormPost {
            uri: None,
            url: &url,
            form: grants::device_authorization(&self.client_id, scopes, claims.as_deref()),
            correlation_id: &correlation_id,
            identity: &self.identity,
            extra_headers: Vec::new(),
            memo: None,
        };
        let response = post.send(&self.http, [None, None]).await?;
        let now = self.now();
        let (device_code, json) = parse_flow(
            &url,
            response.status().as_u16(),
            response.body(),
            &correlation_id,
        )?;
        let text = |k: &str| {
            json.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let expires_in = number(json.get("expires_in")).unwrap_or(900).max(0);
        let interval = effective_interval(Duration::from_secs(
            number(json.get("interval"))
                .map_or(DEVICE_CODE_DEFAULT_INTERVAL.as_secs(), |i| i.max(0) as u64),
        ));
        let verification_uri = match text("verification_uri") {
            v if v.is_empty() => text("verification_url"),
            v => v,
        };
        let user_code = text("user_code");
        let message = match text("message") {
            m if m.is_empty() => {
                format!("To sign in, open {verification_uri} and enter the code {user_code}.")
            }
            m => m,
        };
        Ok(DeviceFlow {
            user_code,
            verification_uri,
            message,
            expires_at: result::at(now + expires_in),
            interval,
            correlation_id,
            device_code,
            scopes: scopes.to_vec(),
            claims,
            extra: request.extra.clone(),
        })
    }

    /// Polls until the user signs in, declines, or the code expires.
    pub(crate) async fn poll_device_flow(
        &self,
        flow: &DeviceFlow,
    ) -> Result<AuthenticationResult, Error> {
        let endpoints = self.endpoints().await?;
        let mut interval = effective_interval(flow.interval);
        loop {
            if self.now() >= flow.expires_at.unix_timestamp() {
                return Err(expired(flow));
            }
            let mut form =
                grants::device_code(&self.client_id, &flow.device_code, flow.claims.as_deref());
            super::request::add_extra(&mut form, &flow.extra);
            match self
                .redeem(
                    &endpoints.token_endpoint,
                    form,
                    &flow.correlation_id,
                    Vec::new(),
                    Some(CallTelemetry::new(
                        ApiId::DeviceFlow,
                        RefreshReason::NotSilent,
                    )),
                )
                .await
            {
                Ok(response) => {
                    super::ssh_certificate::check_response(
                        flow.extra.get("token_type").map(String::as_str),
                        &response,
                        &endpoints.token_endpoint,
                    )?;
                    let ext_key = crate::cache::ext_cache_key(&flow.extra);
                    return self.finish(&Issued {
                        ext_cache_key: ext_key.as_deref(),
                        key_id: flow
                            .extra
                            .get("key_id")
                            .map(String::as_str)
                            .filter(|k| !k.is_empty()),
                        ..Issued::response(
                            &endpoints,
                            &response,
                            &flow.scopes,
                            GrantType::DeviceCode,
                            self.now(),
                            &flow.correlation_id,
                        )
                    });
                }
                Err(e) => match next_poll(&e, interval) {
                    NextPoll::After(next) => {
                        interval = next;
                        // Wake at the expiry at the latest: the loop then stops with
                        // `expired_token` instead of sleeping out a long interval.
                        let remaining = flow.expires_at.unix_timestamp() - self.now();
                        if remaining <= 0 {
                            return Err(expired(flow));
                        }
                        tokio::time::sleep(wait_before_next_poll(interval, remaining)).await;
                    }
                    NextPoll::Stop => return Err(e),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(error: &str) -> Error {
        Error::from_service(ServiceError {
            error: error.into(),
            error_description: String::new(),
            error_codes: vec![],
            suberror: None,
            claims: None,
            correlation_id: None,
            trace_id: None,
            http_status: Some(400),
            classification: Classification::None,
        })
    }

    #[test]
    fn polling_rules() {
        let five = Duration::from_secs(5);
        assert_eq!(
            next_poll(&service("authorization_pending"), five),
            NextPoll::After(five)
        );
        assert_eq!(
            next_poll(&service("slow_down"), five),
            NextPoll::After(Duration::from_secs(10))
        );
        assert_eq!(
            next_poll(&service("authorization_declined"), five),
            NextPoll::Stop
        );
        assert_eq!(next_poll(&service("expired_token"), five), NextPoll::Stop);
        assert_eq!(
            next_poll(&Error::Cancelled("x".into()), five),
            NextPoll::Stop
        );
    }

    #[test]
    fn intervals_below_one_second_become_five_and_waits_stop_at_expiry() {
        let s = Duration::from_secs;
        assert_eq!(
            effective_interval(Duration::ZERO),
            DEVICE_CODE_DEFAULT_INTERVAL
        );
        assert_eq!(effective_interval(Duration::from_millis(999)), s(5));
        assert_eq!(effective_interval(s(1)), s(1));
        assert_eq!(effective_interval(s(3600)), s(3600));
        // Never past the expiry, never a busy loop.
        assert_eq!(wait_before_next_poll(s(3600), 2), s(2));
        assert_eq!(wait_before_next_poll(Duration::ZERO, 900), s(5));
        assert_eq!(wait_before_next_poll(s(5), 0), s(1));
        assert_eq!(wait_before_next_poll(s(10), 600), s(10));
    }

    #[test]
    fn device_authorization_responses() {
        assert!(parse_flow("u", 200, br#"{"device_code":"d","user_code":"U"}"#, "c").is_ok());
        assert!(matches!(
            parse_flow("u", 200, b"{}", "c"),
            Err(Error::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_flow("u", 200, b"<html>", "c"),
            Err(Error::InvalidResponse { .. })
        ));
        let e = parse_flow(
            "u",
            400,
            br#"{"error":"invalid_scope","error_codes":[70011]}"#,
            "c",
        )
        .unwrap_err();
        assert_eq!(e.service_error().unwrap().aadsts(), Some(70011));
    }
}
