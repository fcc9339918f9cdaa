//! The WSL bridge protocol: newline-delimited JSON between the library on Linux and the Windows
//! helper (`entra-broker-wsl-helper.exe`) that talks to WAM. Pure: no I/O.
//!
//! Each request is one line, `{"v":1,"id":N,"op":…,…}`; each answer is one line with the same
//! `id`, either `{"v":1,"id":N,"ok":…}` or `{"v":1,"id":N,"err":{…}}` carrying the full
//! [`BrokerError`]. An answer to a line that could not be read at all has `"id":null`.
//!
//! | `op` | fields | `ok` |
//! |---|---|---|
//! | `probe` | – | `null` |
//! | `accounts` | `client_id`, `correlation_id` | array of accounts |
//! | `silent` | `request` | token |
//! | `interactive` | `request`, `window` (`"console"` or `{"native":N}`) | token |
//! | `sign_out` | `client_id`, `account`, `correlation_id` | `null` |

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::broker::{
    BrokerAccount, BrokerError, BrokerPassword, BrokerPlatform, BrokerStatus, BrokerTokenRequest,
    BrokerTokenResponse, BrokerTokenType, ParentWindow, PopParams,
};

/// The protocol version this library speaks (`v`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line either side accepts (a token answer is a few kilobytes).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One request line.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WireRequest {
    /// The protocol version.
    pub v: u32,
    /// Ties the answer to the request.
    pub id: u64,
    /// The operation and its arguments.
    #[serde(flatten)]
    pub op: WireOp,
}

impl fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Requests may carry a password or a username: print the operation name only.
        f.debug_struct("WireRequest")
            .field("v", &self.v)
            .field("id", &self.id)
            .field("op", &self.op.name())
            .finish()
    }
}

/// An operation with its arguments.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WireOp {
    /// Is the broker reachable?
    Probe,
    /// The broker's accounts for a client.
    Accounts {
        /// The application (client) id.
        client_id: String,
        /// The correlation id.
        correlation_id: String,
    },
    /// A token without UI.
    Silent {
        /// The request.
        request: WireTokenRequest,
    },
    /// A token with UI.
    Interactive {
        /// The request.
        request: WireTokenRequest,
        /// The window that owns the UI.
        window: WireWindow,
    },
    /// Sign an account out.
    SignOut {
        /// The application (client) id.
        client_id: String,
        /// The account.
        account: WireAccount,
        /// The correlation id.
        correlation_id: String,
    },
}

impl WireOp {
    /// The `op` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Accounts { .. } => "accounts",
            Self::Silent { .. } => "silent",
            Self::Interactive { .. } => "interactive",
            Self::SignOut { .. } => "sign_out",
        }
    }
}

/// The window that owns interactive UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireWindow {
    /// The helper's console (root owner) or, failing that, the desktop window.
    Console,
    /// An `HWND` on the Windows host.
    Native(u64),
}

impl From<WireWindow> for ParentWindow {
    fn from(w: WireWindow) -> Self {
        match w {
            WireWindow::Console => ParentWindow::Console,
            WireWindow::Native(h) => ParentWindow::Native(h),
        }
    }
}

/// A [`BrokerAccount`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireAccount {
    /// See [`BrokerAccount::account_id`].
    pub account_id: String,
    /// See [`BrokerAccount::home_account_id`].
    pub home_account_id: String,
    /// See [`BrokerAccount::local_account_id`].
    pub local_account_id: String,
    /// See [`BrokerAccount::environment`].
    pub environment: String,
    /// See [`BrokerAccount::realm`].
    pub realm: String,
    /// See [`BrokerAccount::username`].
    pub username: String,
    /// See [`BrokerAccount::name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// See [`BrokerAccount::client_info`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
    /// See [`BrokerAccount::raw`].
    #[serde(default)]
    pub raw: Value,
}

impl From<&BrokerAccount> for WireAccount {
    fn from(a: &BrokerAccount) -> Self {
        Self {
            account_id: a.account_id.clone(),
            home_account_id: a.home_account_id.clone(),
            local_account_id: a.local_account_id.clone(),
            environment: a.environment.clone(),
            realm: a.realm.clone(),
            username: a.username.clone(),
            name: a.name.clone(),
            client_info: a.client_info.clone(),
            raw: a.raw.clone(),
        }
    }
}

impl From<WireAccount> for BrokerAccount {
    fn from(a: WireAccount) -> Self {
        Self {
            account_id: a.account_id,
            home_account_id: a.home_account_id,
            local_account_id: a.local_account_id,
            environment: a.environment,
            realm: a.realm,
            username: a.username,
            name: a.name,
            client_info: a.client_info,
            raw: a.raw,
        }
    }
}

/// [`PopParams`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePop {
    /// See [`PopParams::http_method`].
    pub http_method: String,
    /// See [`PopParams::uri_host`].
    pub uri_host: String,
    /// See [`PopParams::uri_path`].
    pub uri_path: String,
    /// See [`PopParams::nonce`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Username and password on the wire (the helper's stdin is a private pipe).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireCredentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// A [`BrokerTokenRequest`] on the wire.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTokenRequest {
    /// See [`BrokerTokenRequest::client_id`].
    pub client_id: String,
    /// See [`BrokerTokenRequest::authority`].
    pub authority: String,
    /// See [`BrokerTokenRequest::scopes`].
    pub scopes: Vec<String>,
    /// See [`BrokerTokenRequest::redirect_uri`].
    pub redirect_uri: String,
    /// See [`BrokerTokenRequest::correlation_id`].
    pub correlation_id: String,
    /// See [`BrokerTokenRequest::claims`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// See [`BrokerTokenRequest::account`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<WireAccount>,
    /// See [`BrokerTokenRequest::login_hint`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// See [`BrokerTokenRequest::prompt`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// See [`BrokerTokenRequest::pop`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop: Option<WirePop>,
    /// See [`BrokerTokenRequest::username_password`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_password: Option<WireCredentials>,
    /// See [`BrokerTokenRequest::extra_parameters`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_parameters: BTreeMap<String, String>,
    /// See [`BrokerTokenRequest::validate_authority`].
    pub validate_authority: bool,
}

impl From<&BrokerTokenRequest> for WireTokenRequest {
    fn from(r: &BrokerTokenRequest) -> Self {
        Self {
            client_id: r.client_id.clone(),
            authority: r.authority.clone(),
            scopes: r.scopes.clone(),
            redirect_uri: r.redirect_uri.clone(),
            correlation_id: r.correlation_id.clone(),
            claims: r.claims.clone(),
            account: r.account.as_ref().map(WireAccount::from),
            login_hint: r.login_hint.clone(),
            prompt: r.prompt.clone(),
            pop: r.pop.as_ref().map(|p| WirePop {
                http_method: p.http_method.clone(),
                uri_host: p.uri_host.clone(),
                uri_path: p.uri_path.clone(),
                nonce: p.nonce.clone(),
            }),
            username_password: r.username_password.as_ref().map(|(u, p)| WireCredentials {
                username: u.clone(),
                password: p.0.clone(),
            }),
            extra_parameters: r.extra_parameters.clone(),
            validate_authority: r.validate_authority,
        }
    }
}

impl From<WireTokenRequest> for BrokerTokenRequest {
    fn from(r: WireTokenRequest) -> Self {
        Self {
            client_id: r.client_id,
            authority: r.authority,
            scopes: r.scopes,
            redirect_uri: r.redirect_uri,
            correlation_id: r.correlation_id,
            claims: r.claims,
            account: r.account.map(BrokerAccount::from),
            login_hint: r.login_hint,
            prompt: r.prompt,
            pop: r.pop.map(|p| PopParams {
                http_method: p.http_method,
                uri_host: p.uri_host,
                uri_path: p.uri_path,
                nonce: p.nonce,
            }),
            username_password: r
                .username_password
                .map(|c| (c.username, BrokerPassword(c.password))),
            extra_parameters: r.extra_parameters,
            validate_authority: r.validate_authority,
        }
    }
}

/// A [`BrokerTokenResponse`] on the wire.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToken {
    /// See [`BrokerTokenResponse::access_token`].
    pub access_token: String,
    /// `Bearer` or `pop`.
    pub token_type: String,
    /// See [`BrokerTokenResponse::expires_on`].
    pub expires_on: i64,
    /// See [`BrokerTokenResponse::ext_expires_on`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_expires_on: Option<i64>,
    /// See [`BrokerTokenResponse::id_token`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// See [`BrokerTokenResponse::client_info`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
    /// See [`BrokerTokenResponse::granted_scopes`].
    #[serde(default)]
    pub granted_scopes: Vec<String>,
    /// See [`BrokerTokenResponse::account`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<WireAccount>,
    /// See [`BrokerTokenResponse::authority`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

impl From<&BrokerTokenResponse> for WireToken {
    fn from(t: &BrokerTokenResponse) -> Self {
        Self {
            access_token: t.access_token.clone(),
            token_type: t.token_type.as_str().to_string(),
            expires_on: t.expires_on,
            ext_expires_on: t.ext_expires_on,
            id_token: t.id_token.clone(),
            client_info: t.client_info.clone(),
            granted_scopes: t.granted_scopes.clone(),
            account: t.account.as_ref().map(WireAccount::from),
            authority: t.authority.clone(),
        }
    }
}

impl TryFrom<WireToken> for BrokerTokenResponse {
    type Error = BrokerError;

    fn try_from(t: WireToken) -> Result<Self, BrokerError> {
        let token_type = if t.token_type.eq_ignore_ascii_case("bearer") {
            BrokerTokenType::Bearer
        } else if t.token_type.eq_ignore_ascii_case("pop") {
            BrokerTokenType::Pop
        } else {
            return Err(protocol_error(format!(
                "the helper sent an unknown token_type {:?}",
                t.token_type
            )));
        };
        Ok(Self {
            access_token: t.access_token,
            token_type,
            expires_on: t.expires_on,
            ext_expires_on: t.ext_expires_on,
            id_token: t.id_token,
            client_info: t.client_info,
            granted_scopes: t.granted_scopes,
            account: t.account.map(BrokerAccount::from),
            authority: t.authority,
        })
    }
}

/// A [`BrokerError`] on the wire: every field, the platform and status by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// `Windows`, `macOS`, `Linux` or `WSL`.
    pub platform: String,
    /// The status name (`InteractionRequired`, ...).
    pub status: String,
    /// See [`BrokerError::error_code`].
    pub error_code: i64,
    /// See [`BrokerError::tag`].
    pub tag: i64,
    /// See [`BrokerError::context`].
    pub context: String,
    /// See [`BrokerError::sub_status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_status: Option<i64>,
}

impl From<&BrokerError> for WireError {
    fn from(e: &BrokerError) -> Self {
        Self {
            platform: e.platform.to_string(),
            status: e.status.name().to_string(),
            error_code: e.error_code,
            tag: e.tag,
            context: e.context.clone(),
            sub_status: e.sub_status,
        }
    }
}

impl From<WireError> for BrokerError {
    fn from(e: WireError) -> Self {
        let platform = BrokerPlatform::ALL
            .into_iter()
            .find(|p| p.to_string() == e.platform)
            .unwrap_or(BrokerPlatform::Wsl);
        // A status this version does not know (a newer helper) keeps its name in the context.
        let (status, context) = match status_from_name(&e.status) {
            Some(status) => (status, e.context),
            None => (
                BrokerStatus::Unexpected,
                format!("{} (helper status {})", e.context, e.status),
            ),
        };
        Self {
            platform,
            status,
            error_code: e.error_code,
            tag: e.tag,
            context,
            sub_status: e.sub_status,
        }
    }
}

/// The status with this [`BrokerStatus::name`].
pub fn status_from_name(name: &str) -> Option<BrokerStatus> {
    (0..)
        .map_while(BrokerStatus::from_msalruntime)
        .find(|s| s.name() == name)
}

/// One answer line.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WireResponse {
    /// The protocol version.
    pub v: u32,
    /// The id of the request answered; `None` when the request line could not be read.
    pub id: Option<u64>,
    /// The outcome.
    #[serde(flatten)]
    pub outcome: WireOutcome,
}

impl fmt::Debug for WireResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.outcome {
            WireOutcome::Ok(_) => "ok",
            WireOutcome::Err(_) => "err",
        };
        f.debug_struct("WireResponse")
            .field("v", &self.v)
            .field("id", &self.id)
            .field("outcome", &outcome)
            .finish()
    }
}

/// Success with the operation's value, or the broker's error.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireOutcome {
    /// The operation's value (see the module table).
    Ok(Value),
    /// The error.
    Err(WireError),
}

/// An error about the protocol itself (a malformed line, a version mismatch).
pub fn protocol_error(context: impl Into<String>) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Wsl,
        BrokerStatus::ApiContractViolation,
        context,
    )
}

/// The line (with its `\n`) for a request.
pub fn encode_request(request: &WireRequest) -> String {
    line(request)
}

/// The line (with its `\n`) for an answer.
pub fn encode_response(response: &WireResponse) -> String {
    line(response)
}

fn line<T: Serialize>(value: &T) -> String {
    // Serialising these types cannot fail: every map key is a string.
    let mut text = serde_json::to_string(value).unwrap_or_else(|e| {
        serde_json::json!({"v": PROTOCOL_VERSION, "id": null, "err": WireError::from(
            &protocol_error(format!("cannot serialise: {e}")))})
        .to_string()
    });
    text.push('\n');
    text
}

fn check_length(line: &str) -> Result<&str, BrokerError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(protocol_error(format!(
            "a protocol line of {} bytes exceeds the {MAX_LINE_BYTES}-byte limit",
            line.len()
        )));
    }
    Ok(line.trim_end_matches(['\n', '\r']))
}

/// The version field of a line, if it has one (read before the rest so a newer peer gets a
/// version error rather than a parse error).
fn version_of(line: &str) -> Option<u64> {
    serde_json::from_str::<Value>(line).ok()?.get("v")?.as_u64()
}

/// Reads a request line. Errors never quote the line (it may hold a password).
pub fn decode_request(line: &str) -> Result<WireRequest, BrokerError> {
    let line = check_length(line)?;
    if let Some(v) = version_of(line).filter(|v| *v != u64::from(PROTOCOL_VERSION)) {
        return Err(protocol_error(format!(
            "the request speaks protocol version {v}, this helper speaks {PROTOCOL_VERSION}; \
             install the entra-broker-wsl-helper.exe that matches the library"
        )));
    }
    serde_json::from_str(line).map_err(|e| {
        protocol_error(format!(
            "a malformed request line ({} bytes): {} at column {}",
            line.len(),
            classify(&e),
            e.column()
        ))
    })
}

/// Reads an answer line. Errors never quote the line (it may hold a token).
pub fn decode_response(line: &str) -> Result<WireResponse, BrokerError> {
    let line = check_length(line)?;
    if let Some(v) = version_of(line).filter(|v| *v != u64::from(PROTOCOL_VERSION)) {
        return Err(protocol_error(format!(
            "the WSL helper speaks protocol version {v}, this library speaks \
             {PROTOCOL_VERSION}; install the entra-broker-wsl-helper.exe that matches the library"
        )));
    }
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line)
        && map.contains_key("ok") == map.contains_key("err")
    {
        return Err(protocol_error(
            "the WSL helper sent an answer with neither or both of `ok` and `err`",
        ));
    }
    serde_json::from_str(line).map_err(|e| {
        protocol_error(format!(
            "the WSL helper sent a malformed line ({} bytes): {} at column {}",
            line.len(),
            classify(&e),
            e.column()
        ))
    })
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a protocol message",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// Decodes the `ok` value of an `accounts` answer.
pub fn accounts_from_value(value: Value) -> Result<Vec<BrokerAccount>, BrokerError> {
    let accounts: Vec<WireAccount> = serde_json::from_value(value)
        .map_err(|e| protocol_error(format!("the helper's accounts are malformed: {e}")))?;
    Ok(accounts.into_iter().map(BrokerAccount::from).collect())
}

/// Decodes the `ok` value of a `silent` or `interactive` answer.
pub fn token_from_value(value: Value) -> Result<BrokerTokenResponse, BrokerError> {
    let token: WireToken = serde_json::from_value(value).map_err(|e| {
        protocol_error(format!(
            "the helper's token answer is malformed: {}",
            classify(&e)
        ))
    })?;
    BrokerTokenResponse::try_from(token)
}

/// Checks that the `ok` value of `probe` and `sign_out` answers is `null`.
pub fn unit_from_value(value: Value) -> Result<(), BrokerError> {
    match value {
        Value::Null => Ok(()),
        _ => Err(protocol_error(
            "the helper answered with a value where none was expected",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLIENT: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";

    fn account() -> BrokerAccount {
        BrokerAccount {
            account_id: "wam-id".into(),
            home_account_id: "oid.tid".into(),
            local_account_id: "oid".into(),
            environment: "login.microsoftonline.com".into(),
            realm: "tid".into(),
            username: "alice@contoso.com".into(),
            name: Some("Alice".into()),
            client_info: None,
            raw: json!({"id":"wam-id"}),
        }
    }

    fn request() -> BrokerTokenRequest {
        BrokerTokenRequest {
            client_id: CLIENT.into(),
            authority: "https://login.microsoftonline.com/common".into(),
            scopes: vec!["User.Read".into()],
            redirect_uri: format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}"),
            correlation_id: "c0ffee00-0000-4000-8000-000000000001".into(),
            claims: None,
            account: None,
            login_hint: Some("alice@contoso.com".into()),
            prompt: None,
            pop: None,
            username_password: None,
            extra_parameters: BTreeMap::new(),
            validate_authority: true,
        }
    }

    #[test]
    fn golden_request_lines() {
        let probe = WireRequest {
            v: 1,
            id: 1,
            op: WireOp::Probe,
        };
        assert_eq!(
            encode_request(&probe),
            "{\"v\":1,\"id\":1,\"op\":\"probe\"}\n"
        );

        let accounts = WireRequest {
            v: 1,
            id: 2,
            op: WireOp::Accounts {
                client_id: CLIENT.into(),
                correlation_id: "c".into(),
            },
        };
        assert_eq!(
            encode_request(&accounts),
            format!(
                "{{\"v\":1,\"id\":2,\"op\":\"accounts\",\"client_id\":\"{CLIENT}\",\"correlation_id\":\"c\"}}\n"
            )
        );

        let interactive = WireRequest {
            v: 1,
            id: 3,
            op: WireOp::Interactive {
                request: WireTokenRequest::from(&request()),
                window: WireWindow::Console,
            },
        };
        let line = encode_request(&interactive);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            json!({
                "v": 1, "id": 3, "op": "interactive", "window": "console",
                "request": {
                    "client_id": CLIENT,
                    "authority": "https://login.microsoftonline.com/common",
                    "scopes": ["User.Read"],
                    "redirect_uri": format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}"),
                    "correlation_id": "c0ffee00-0000-4000-8000-000000000001",
                    "login_hint": "alice@contoso.com",
                    "validate_authority": true
                }
            })
        );
        assert_eq!(decode_request(&line).unwrap(), interactive);

        let sign_out = WireRequest {
            v: 1,
            id: 4,
            op: WireOp::SignOut {
                client_id: CLIENT.into(),
                account: WireAccount::from(&account()),
                correlation_id: "c".into(),
            },
        };
        let value: Value = serde_json::from_str(&encode_request(&sign_out)).unwrap();
        assert_eq!(value["op"], "sign_out");
        assert_eq!(value["account"]["home_account_id"], "oid.tid");
        assert_eq!(value["account"]["raw"], json!({"id":"wam-id"}));
        let native: Value = serde_json::to_value(WireWindow::Native(42)).unwrap();
        assert_eq!(native, json!({"native": 42}));
    }

    #[test]
    fn full_request_round_trips_and_redacts() {
        let mut r = request();
        r.account = Some(account());
        r.claims = Some("{}".into());
        r.prompt = Some("login".into());
        r.pop = Some(PopParams {
            http_method: "GET".into(),
            uri_host: "h".into(),
            uri_path: "/p".into(),
            nonce: Some("n".into()),
        });
        r.username_password = Some(("alice".into(), BrokerPassword("s3cret".into())));
        r.extra_parameters.insert("max_age".into(), "1".into());
        r.validate_authority = false;
        let wire = WireRequest {
            v: 1,
            id: 9,
            op: WireOp::Silent {
                request: WireTokenRequest::from(&r),
            },
        };
        let decoded = decode_request(&encode_request(&wire)).unwrap();
        assert!(!format!("{decoded:?}").contains("s3cret"));
        let WireOp::Silent { request: back } = decoded.op else {
            panic!("not silent")
        };
        assert_eq!(BrokerTokenRequest::from(back), r);
    }

    #[test]
    fn golden_response_lines() {
        let ok = WireResponse {
            v: 1,
            id: Some(2),
            outcome: WireOutcome::Ok(Value::Null),
        };
        assert_eq!(encode_response(&ok), "{\"v\":1,\"id\":2,\"ok\":null}\n");

        let err = BrokerError {
            platform: BrokerPlatform::Windows,
            status: BrokerStatus::InteractionRequired,
            error_code: -895352831,
            tag: 7,
            context: "interaction_required: MFA".into(),
            sub_status: Some(5),
        };
        let line = encode_response(&WireResponse {
            v: 1,
            id: Some(3),
            outcome: WireOutcome::Err(WireError::from(&err)),
        });
        assert_eq!(
            line,
            "{\"v\":1,\"id\":3,\"err\":{\"platform\":\"Windows\",\"status\":\"InteractionRequired\",\
             \"error_code\":-895352831,\"tag\":7,\"context\":\"interaction_required: MFA\",\"sub_status\":5}}\n"
        );
        let back = decode_response(&line).unwrap();
        let WireOutcome::Err(wire) = back.outcome else {
            panic!("not an error")
        };
        assert_eq!(BrokerError::from(wire), err);

        let token = BrokerTokenResponse {
            access_token: "AT".into(),
            token_type: BrokerTokenType::Bearer,
            expires_on: 1_900_000_000,
            ext_expires_on: None,
            id_token: Some("IT".into()),
            client_info: None,
            granted_scopes: vec!["User.Read".into()],
            account: Some(account()),
            authority: Some("https://login.microsoftonline.com/tid/".into()),
        };
        let value = serde_json::to_value(WireToken::from(&token)).unwrap();
        assert_eq!(value["token_type"], "Bearer");
        assert_eq!(token_from_value(value).unwrap(), token);
        let accounts = serde_json::to_value(vec![WireAccount::from(&account())]).unwrap();
        assert_eq!(accounts_from_value(accounts).unwrap(), vec![account()]);
    }

    #[test]
    fn malformed_lines_are_typed_errors() {
        for bad in [
            "",
            "not json",
            "{\"v\":1,\"id\":1}",
            "{\"v\":1,\"id\":1,\"op\":\"fly\"}",
            "{\"v\":1,\"id\":\"x\",\"op\":\"probe\"}",
            "[1,2]",
        ] {
            let e = decode_request(bad).unwrap_err();
            assert_eq!(e.status, BrokerStatus::ApiContractViolation, "{bad}");
            assert_eq!(e.platform, BrokerPlatform::Wsl);
        }
        let secret = "{\"v\":1,\"id\":1,\"op\":\"silent\",\"request\":{\"password\":\"s3cret\"";
        assert!(
            !decode_request(secret)
                .unwrap_err()
                .context
                .contains("s3cret")
        );
        let e = decode_request("{\"v\":2,\"id\":1,\"op\":\"probe\"}").unwrap_err();
        assert!(e.context.contains("version 2"), "{}", e.context);
        let e = decode_response("{\"v\":7,\"id\":1,\"ok\":null}").unwrap_err();
        assert!(e.context.contains("version 7"));
        assert!(decode_response("{\"v\":1,\"id\":1}").is_err());
        assert!(decode_response("{\"v\":1,\"id\":1,\"ok\":null,\"err\":{}}").is_err());
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        assert!(
            decode_response(&long)
                .unwrap_err()
                .context
                .contains("limit")
        );
        assert!(
            token_from_value(json!({"access_token":"A","token_type":"mac","expires_on":1}))
                .is_err()
        );
        assert!(token_from_value(json!({"token_type":"Bearer"})).is_err());
        assert!(unit_from_value(json!(1)).is_err());
        assert!(accounts_from_value(json!({})).is_err());
    }

    #[test]
    fn statuses_by_name() {
        for code in 0..22 {
            let status = BrokerStatus::from_msalruntime(code).unwrap();
            assert_eq!(status_from_name(status.name()), Some(status));
        }
        assert_eq!(status_from_name("Bogus"), None);
        let e = BrokerError::from(WireError {
            platform: "Mars".into(),
            status: "Bogus".into(),
            error_code: 1,
            tag: 2,
            context: "c".into(),
            sub_status: None,
        });
        assert_eq!(e.platform, BrokerPlatform::Wsl);
        assert_eq!(e.status, BrokerStatus::Unexpected);
        assert!(e.context.contains("Bogus"));
    }
}
