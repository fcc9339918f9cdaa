//! Test control: approve or deny sign-ins, script faults, move the clock, revoke tokens and
//! read the request log. [`Control`] is the in-process handle; [`routes`] serves the same under
//! `/_control` when `settings.control_api` is on.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// The limits the control API checks, where the clock and the state keep them.
pub use crate::clock::MAX_CLOCK_UNIX;
pub use crate::state::MAX_LIFETIME_SECONDS;

use crate::broker::session::Decision;
use crate::broker::{BrokerErrorSpec, BrokerSession, BrokerSignIn, Method, PendingBrokerRequest};
use crate::faults::FaultRule;
use crate::request_log::LoggedRequest;
use crate::rules::access;
use crate::rules::authorization::{self, AuthorizationCompletion};
use crate::rules::device;
use crate::state::{AppState, SignIn};

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// No pending, unexpired device code has this user code.
    #[error("no pending device code {0:?} (it may have expired or been used)")]
    UnknownUserCode(String),
    /// No such user in the configuration.
    #[error("no user {0:?} in the emulator's configuration")]
    UnknownUser(String),
    /// No pending authorization request (with that state).
    #[error("no pending authorization request{0}")]
    NoPendingAuthorization(String),
    /// The user cannot sign in to the request's tenant.
    #[error("{0}")]
    NotInTenant(String),
    /// No interactive broker request with this id is waiting (it may have been answered,
    /// canceled, or its caller went away).
    #[error("no pending broker request {0:?} (see broker_pending)")]
    NoPendingBrokerRequest(String),
    /// A broker error to inject is not usable.
    #[error("invalid broker error: {0}")]
    InvalidBrokerError(String),
}

/// A device code waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingDeviceCode {
    /// The code a user types.
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The requested scopes.
    pub scope: String,
}

/// An `/authorize` request waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorizationInfo {
    /// The `state` parameter.
    pub state: Option<String>,
    /// The client.
    pub client_id: String,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The `login_hint`.
    pub login_hint: Option<String>,
    /// The requested scopes.
    pub scope: String,
}

/// The in-process test-control handle. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    state: Arc<AppState>,
    broker: Arc<BrokerSession>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("base_url", &self.state.base_url)
            .finish()
    }
}

fn scope_text(s: &crate::scopes::RequestedScopes) -> String {
    let mut all = s.qualified();
    all.extend(s.oidc.iter().cloned());
    all.join(" ")
}

impl Control {
    /// A handle over the emulator's state and the broker's session.
    pub(crate) fn new(state: Arc<AppState>, broker: Arc<BrokerSession>) -> Self {
        Self { state, broker }
    }

    fn sign_in_for(&self, username: &str, tenant_segment: &str) -> Result<SignIn, ControlError> {
        let user = self
            .state
            .directory
            .user(username)
            .ok_or_else(|| ControlError::UnknownUser(username.to_string()))?;
        let segment = self
            .state
            .directory
            .tenant_segment(tenant_segment)
            .ok_or_else(|| ControlError::NotInTenant(format!("unknown tenant {tenant_segment}")))?;
        let tenant = access::user_tenant(&self.state, segment, user)
            .map_err(|e| ControlError::NotInTenant(e.message))?;
        Ok(SignIn {
            username: user.username.clone(),
            tenant,
            auth_time: self.state.clock.now(),
            mfa: true,
        })
    }

    /// Approves a pending device code as `username` (as if they signed in, with MFA).
    pub fn approve_device_code(&self, user_code: &str, username: &str) -> Result<(), ControlError> {
        let (device_code, record) = device::find_pending(&self.state, user_code)
            .ok_or_else(|| ControlError::UnknownUserCode(user_code.to_string()))?;
        let sign_in = self.sign_in_for(username, &record.tenant_segment)?;
        device::approve(&self.state, &device_code, sign_in);
        Ok(())
    }

    /// Declines a pending device code.
    pub fn deny_device_code(&self, user_code: &str) -> Result<(), ControlError> {
        let (device_code, _) = device::find_pending(&self.state, user_code)
            .ok_or_else(|| ControlError::UnknownUserCode(user_code.to_string()))?;
        device::decline(&self.state, &device_code);
        Ok(())
    }

    /// Device codes waiting for the user.
    pub fn pending_device_codes(&self) -> Vec<PendingDeviceCode> {
        let now = self.state.clock.now();
        self.state
            .runtime()
            .device_codes
            .values()
            .filter(|r| r.status == crate::state::DeviceCodeStatus::Pending && r.expires_at > now)
            .map(|r| PendingDeviceCode {
                user_code: r.user_code.clone(),
                client_id: r.client_id.clone(),
                scope: scope_text(&r.scopes),
            })
            .collect()
    }

    /// Authorization requests waiting for the user, oldest first.
    pub fn pending_authorizations(&self) -> Vec<PendingAuthorizationInfo> {
        let mut list: Vec<_> = {
            let runtime = self.state.runtime();
            runtime
                .pending
                .keys()
                .filter_map(|id| runtime.live_pending(id).cloned())
                .collect()
        };
        list.sort_by_key(|p| (p.created_at, p.received));
        list.into_iter()
            .map(|p| PendingAuthorizationInfo {
                scope: scope_text(&p.scopes),
                state: p.state,
                client_id: p.client_id,
                redirect_uri: p.redirect_uri,
                login_hint: p.login_hint,
            })
            .collect()
    }

    fn find_pending(
        &self,
        state: Option<&str>,
    ) -> Result<crate::state::PendingAuthorization, ControlError> {
        let runtime = self.state.runtime();
        let found = runtime
            .pending
            .keys()
            .filter_map(|id| runtime.live_pending(id))
            .filter(|p| state.is_none() || p.state.as_deref() == state)
            .max_by_key(|p| (p.created_at, p.received))
            .cloned();
        found.ok_or_else(|| {
            ControlError::NoPendingAuthorization(
                state
                    .map(|s| format!(" with state {s:?}"))
                    .unwrap_or_default(),
            )
        })
    }

    /// Approves a pending authorization request (the one with `state`, or the newest) as
    /// `username`, skipping the pages, and returns the response to deliver to the redirect URI.
    pub fn approve_authorization(
        &self,
        state: Option<&str>,
        username: &str,
    ) -> Result<AuthorizationCompletion, ControlError> {
        let pending = self.find_pending(state)?;
        let sign_in = self.sign_in_for(username, &pending.tenant_segment)?;
        access::grant_consent(&self.state, &sign_in.username, &pending.client_id);
        Ok(authorization::complete(&self.state, &pending, sign_in))
    }

    /// Denies a pending authorization request: the app receives `access_denied`.
    pub fn deny_authorization(
        &self,
        state: Option<&str>,
    ) -> Result<AuthorizationCompletion, ControlError> {
        let pending = self.find_pending(state)?;
        Ok(authorization::deny(&self.state, &pending))
    }

    /// Scripts a fault for the next `rule.count` matching requests.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.runtime().faults.push(rule);
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        self.state.runtime().faults.clear();
    }

    /// The SSH certificate authority: its public key as an OpenSSH line (`sshd`'s
    /// `TrustedUserCAKeys`) and its `SHA256:` fingerprint.
    pub fn ssh_ca(&self) -> Result<(String, String), String> {
        self.state
            .ssh_ca()
            .map(|ca| (ca.public_key_line(), ca.fingerprint()))
    }

    /// The emulator's current Unix time.
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    /// Moves the emulator's clock.
    pub fn advance_clock(&self, seconds: i64) {
        self.state.clock.advance(seconds);
    }

    /// Sets the emulator's clock.
    pub fn set_clock(&self, unix_seconds: i64) {
        self.state.clock.set(unix_seconds);
    }

    /// Revokes the refresh tokens of one user (or everyone), and their broker sessions (silent
    /// broker requests then need interaction); returns how many refresh tokens.
    pub fn revoke_refresh_tokens(&self, username: Option<&str>) -> usize {
        self.broker.revoke(username);
        let mut runtime = self.state.runtime();
        let mut count = 0;
        for record in runtime.refresh_tokens.values_mut() {
            if !record.revoked
                && username.is_none_or(|u| record.sign_in.username.eq_ignore_ascii_case(u))
            {
                record.revoked = true;
                count += 1;
            }
        }
        count
    }

    /// The request log, oldest first (control requests are not logged).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.state.log.clear();
    }

    /// Overrides the access-token lifetime (`None` restores the configured one).
    pub fn set_access_token_lifetime(&self, seconds: Option<u64>) {
        self.state.runtime().access_token_lifetime = seconds;
    }

    /// Chooses which username/password (usernamemixed) endpoints the federation server's MEX
    /// document advertises: WS-Trust 1.3, WS-Trust 2005 (both by default; clients prefer 1.3, so
    /// turn it off to exercise 2005 and SAML 1.1; turn both off for a server without one). The
    /// endpoints themselves keep answering.
    pub fn set_mex_endpoints(&self, ws_trust_13: bool, ws_trust_2005: bool) {
        self.state.runtime().mex_withheld = (!ws_trust_13, !ws_trust_2005);
    }

    /// Overrides the device-code polling interval (`None` restores the configured one). `0` is
    /// allowed: it is what a misbehaving server might send, for testing clients against it.
    pub fn set_device_code_interval(&self, seconds: Option<u64>) {
        self.state.runtime().device_code_interval = seconds;
    }

    /// Overrides the lifetime (`expires_in`) of device codes issued from now on (`None` restores
    /// the configured one); a short one makes expiry tests fast.
    pub fn set_device_code_lifetime(&self, seconds: Option<u64>) {
        self.state.runtime().device_code_lifetime = seconds;
    }

    /// Interactive broker requests (`acquireTokenInteractively`) waiting for the user, oldest
    /// first.
    pub fn broker_pending(&self) -> Vec<PendingBrokerRequest> {
        self.broker.pending()
    }

    /// Completes a pending interactive broker request, signed in as `username` (with MFA, and
    /// consenting to the app). Fails, leaving the request pending, when the user cannot sign in
    /// to the request's tenant.
    pub fn broker_approve(&self, id: &str, username: &str) -> Result<(), ControlError> {
        let segment = self
            .broker
            .pending_tenant(id)
            .ok_or_else(|| ControlError::NoPendingBrokerRequest(id.to_string()))?;
        let sign_in = self.sign_in_for(username, &segment)?;
        if self.broker.decide(id, Decision::Approve(sign_in)) {
            Ok(())
        } else {
            Err(ControlError::NoPendingBrokerRequest(id.to_string()))
        }
    }

    /// Denies a pending interactive broker request: the caller gets status 7 (UserCanceled).
    pub fn broker_deny(&self, id: &str) -> Result<(), ControlError> {
        if self.broker.decide(id, Decision::Deny) {
            Ok(())
        } else {
            Err(ControlError::NoPendingBrokerRequest(id.to_string()))
        }
    }

    /// Makes the next call of broker `method` (`acquireTokenSilently`, `getAccounts`, ...)
    /// answer with this error object, once. Errors queue per method. Refuses an empty
    /// `context`, status 12 and status 23, which Microsoft's client cannot handle.
    pub fn broker_inject_error(
        &self,
        method: &str,
        error: BrokerErrorSpec,
    ) -> Result<(), ControlError> {
        let m = Method::from_name(method).ok_or_else(|| {
            ControlError::InvalidBrokerError(format!(
                "unknown broker method {method:?} (one of: {})",
                Method::ALL.map(Method::name).join(", ")
            ))
        })?;
        error.check().map_err(ControlError::InvalidBrokerError)?;
        self.broker.inject(m, error);
        Ok(())
    }

    /// The accounts signed in through the broker, per client, in sign-in order (the device
    /// user appears once it has been used for a client).
    pub fn broker_signed_in(&self) -> Vec<BrokerSignIn> {
        self.broker.signed_in()
    }
}

fn failure(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// The longest device-code polling interval the control API accepts (one hour).
pub const MAX_INTERVAL_SECONDS: u64 = 3600;
/// The longest scripted delay: ten minutes.
pub const MAX_DELAY_MS: u64 = 600_000;

/// A whole number of seconds from 0 to `max` for `key`, or `null` (`None`); else why not.
fn seconds_setting(key: &str, value: &Value, max: u64) -> Result<Option<u64>, String> {
    if value.is_null() {
        return Ok(None);
    }
    match value.as_u64() {
        Some(n) if n <= max => Ok(Some(n)),
        _ => Err(format!(
            "{key} must be a whole number of seconds from 0 to {max}, or null to restore the configured value (got {value})"
        )),
    }
}

/// Why a scripted fault would make no sense, if it would not.
fn check_fault(rule: &FaultRule) -> Result<(), String> {
    use crate::faults::FaultAction;
    if rule.count == 0 {
        return Err("count must be at least 1".into());
    }
    match &rule.fault {
        FaultAction::Status { status, .. } if !(100..=599).contains(status) => Err(format!(
            "status must be an HTTP status from 100 to 599 (got {status})"
        )),
        FaultAction::Delay { ms } if *ms > MAX_DELAY_MS => Err(format!(
            "delay ms must be at most {MAX_DELAY_MS} (got {ms})"
        )),
        FaultAction::Aadsts { code } if crate::errors::by_code(*code).is_none() => Err(format!(
            "AADSTS{code} is not in the emulator's error catalogue"
        )),
        _ => Ok(()),
    }
}

/// The clock after a change, if it stays within years 1970 to 9999; else why not.
fn check_clock(now: i64, change: &ClockChange) -> Result<(), String> {
    let range = 0..=MAX_CLOCK_UNIX;
    let mut t = now;
    if let Some(set) = change.set_unix {
        if !range.contains(&set) {
            return Err(format!(
                "set_unix must be a Unix time from 0 to {MAX_CLOCK_UNIX} (years 1970 to 9999; got {set})"
            ));
        }
        t = set;
    }
    if let Some(d) = change.advance_seconds {
        match t.checked_add(d) {
            Some(after) if range.contains(&after) => {}
            _ => {
                return Err(format!(
                    "advance_seconds {d} would move the clock outside years 1970 to 9999"
                ));
            }
        }
    }
    Ok(())
}

/// A JSON body, where an empty body means `{}`.
fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &axum::body::Bytes,
) -> Result<T, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| failure(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

fn result<T: Serialize>(r: Result<T, ControlError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => failure(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[derive(Deserialize)]
struct ApproveDevice {
    user_code: String,
    username: String,
}

#[derive(Deserialize)]
struct UserCode {
    user_code: String,
}

#[derive(Deserialize)]
struct ApproveAuthorization {
    #[serde(default)]
    state: Option<String>,
    username: String,
}

#[derive(Deserialize, Default)]
struct StateSelector {
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set_unix: Option<i64>,
}

#[derive(Deserialize, Default)]
struct Revoke {
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct BrokerApprove {
    id: String,
    username: String,
}

#[derive(Deserialize)]
struct BrokerId {
    id: String,
}

#[derive(Deserialize)]
struct BrokerInject {
    method: String,
    #[serde(flatten)]
    error: BrokerErrorSpec,
}

fn completion_json(c: AuthorizationCompletion) -> Value {
    let params: serde_json::Map<String, Value> = c
        .params
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({"url": c.url(), "redirect_uri": c.redirect_uri, "response_mode": c.response_mode, "params": params})
}

/// `POST /_control/federation/mex`: which usernamemixed endpoints the MEX document advertises.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MexEndpoints {
    ws_trust_13: bool,
    ws_trust_2005: bool,
}

/// The HTTP control API, nested under `/_control`.
pub fn routes() -> Router<Control> {
    Router::new()
        .route(
            "/device/approve",
            post(|State(c): State<Control>, Json(b): Json<ApproveDevice>| async move {
                result(c.approve_device_code(&b.user_code, &b.username).map(|()| json!({})))
            }),
        )
        .route(
            "/device/deny",
            post(|State(c): State<Control>, Json(b): Json<UserCode>| async move {
                result(c.deny_device_code(&b.user_code).map(|()| json!({})))
            }),
        )
        .route(
            "/pending",
            get(|State(c): State<Control>| async move {
                Json(json!({"device_codes": c.pending_device_codes(), "authorization_requests": c.pending_authorizations()}))
            }),
        )
        .route(
            "/authorize/approve",
            post(|State(c): State<Control>, Json(b): Json<ApproveAuthorization>| async move {
                result(c.approve_authorization(b.state.as_deref(), &b.username).map(completion_json))
            }),
        )
        .route(
            "/authorize/deny",
            post(|State(c): State<Control>, body: axum::body::Bytes| async move {
                let b: StateSelector = match optional_body(&body) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                result(c.deny_authorization(b.state.as_deref()).map(completion_json))
            }),
        )
        .route(
            "/faults",
            post(|State(c): State<Control>, Json(rule): Json<FaultRule>| async move {
                if let Err(why) = check_fault(&rule) {
                    return failure(StatusCode::BAD_REQUEST, why);
                }
                c.add_fault(rule);
                Json(json!({})).into_response()
            })
            .delete(|State(c): State<Control>| async move {
                c.clear_faults();
                Json(json!({}))
            }),
        )
        .route(
            "/ssh-ca",
            get(|State(c): State<Control>| async move {
                match c.ssh_ca() {
                    Ok((public_key, fingerprint)) => {
                        Json(json!({"public_key": public_key, "fingerprint": fingerprint}))
                            .into_response()
                    }
                    Err(why) => failure(StatusCode::INTERNAL_SERVER_ERROR, why),
                }
            }),
        )
        .route(
            "/clock",
            get(|State(c): State<Control>| async move { Json(json!({"now": c.now()})) }).post(
                |State(c): State<Control>, Json(b): Json<ClockChange>| async move {
                        if let Err(why) = check_clock(c.now(), &b) {
                        return failure(StatusCode::BAD_REQUEST, why);
                    }
                    if let Some(t) = b.set_unix {
                        c.set_clock(t);
                    }
                    if let Some(d) = b.advance_seconds {
                        c.advance_clock(d);
                    }
                    Json(json!({"now": c.now()})).into_response()
                },
            ),
        )
        .route(
            "/revoke",
            post(|State(c): State<Control>, body: axum::body::Bytes| async move {
                let b: Revoke = match optional_body(&body) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                Json(json!({"revoked": c.revoke_refresh_tokens(b.username.as_deref())})).into_response()
            }),
        )
        .route(
            "/requests",
            get(|State(c): State<Control>| async move { Json(c.requests()) }).delete(
                |State(c): State<Control>| async move {
                    c.clear_requests();
                    Json(json!({}))
                },
            ),
        )
        .route(
            "/broker/pending",
            get(|State(c): State<Control>| async move { Json(c.broker_pending()) }),
        )
        .route(
            "/broker/approve",
            post(|State(c): State<Control>, Json(b): Json<BrokerApprove>| async move {
                result(c.broker_approve(&b.id, &b.username).map(|()| json!({})))
            }),
        )
        .route(
            "/broker/deny",
            post(|State(c): State<Control>, Json(b): Json<BrokerId>| async move {
                result(c.broker_deny(&b.id).map(|()| json!({})))
            }),
        )
        .route(
            "/broker/errors",
            post(|State(c): State<Control>, Json(b): Json<BrokerInject>| async move {
                match c.broker_inject_error(&b.method, b.error) {
                    Ok(()) => Json(json!({})).into_response(),
                    Err(e) => failure(StatusCode::BAD_REQUEST, e.to_string()),
                }
            }),
        )
        .route(
            "/broker/signed-in",
            get(|State(c): State<Control>| async move { Json(c.broker_signed_in()) }),
        )
        .route(
            "/federation/mex",
            post(|State(c): State<Control>, Json(b): Json<MexEndpoints>| async move {
                c.set_mex_endpoints(b.ws_trust_13, b.ws_trust_2005);
                Json(json!({}))
            }),
        )
        .route(
            "/settings",
            post(|State(c): State<Control>, Json(b): Json<serde_json::Map<String, Value>>| async move {
                // Every value is checked before any is applied.
                let mut changes = Vec::new();
                for (key, value) in &b {
                    let max = match key.as_str() {
                        "access_token_lifetime_seconds" => MAX_LIFETIME_SECONDS,
                        "device_code_interval_seconds" => MAX_INTERVAL_SECONDS,
                        "device_code_lifetime_seconds" => MAX_LIFETIME_SECONDS,
                        other => return failure(StatusCode::BAD_REQUEST, format!("unknown setting {other}")),
                    };
                    match seconds_setting(key, value, max) {
                        Ok(seconds) => changes.push((key.as_str(), seconds)),
                        Err(why) => return failure(StatusCode::BAD_REQUEST, why),
                    }
                }
                for (key, seconds) in changes {
                    match key {
                        "access_token_lifetime_seconds" => c.set_access_token_lifetime(seconds),
                        "device_code_lifetime_seconds" => c.set_device_code_lifetime(seconds),
                        _ => c.set_device_code_interval(seconds),
                    }
                }
                Json(json!({})).into_response()
            }),
        )
}
