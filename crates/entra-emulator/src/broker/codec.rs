//! The broker's wire format, as pure functions: parsing the request JSON of the eight methods and
//! building the response JSON Microsoft's client accepts (token responses, accounts, and error
//! objects with libmsalruntime's status numbers).
//!
//! Nothing here does I/O or touches the emulator's state; the engine decides, the codec spells.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The well-known bus name the broker owns on the session bus.
pub const BUS_NAME: &str = "com.microsoft.identity.broker1";
/// The object path of the broker object.
pub const OBJECT_PATH: &str = "/com/microsoft/identity/broker1";
/// The interface name (capital `B`, unlike the bus name).
pub const INTERFACE: &str = "com.microsoft.identity.Broker1";
/// The redirect URI Microsoft's Linux broker clients send.
pub const LINUX_BROKER_REDIRECT_URI: &str =
    "https://login.microsoftonline.com/common/oauth2/nativeclient";
/// The version `getLinuxBrokerVersion` reports (a version after 2.0.1, so clients expect the
/// `cookieItems` shape of `acquirePrtSsoCookie`).
pub const BROKER_VERSION: &str = "2.0.4";
/// The environment (cloud host) reported in accounts when no sign-in named another host.
pub const DEFAULT_ENVIRONMENT: &str = "login.microsoftonline.com";
/// The cookie name of `acquirePrtSsoCookie`.
pub const PRT_COOKIE_NAME: &str = "x-ms-RefreshTokenCredential";

/// One of the eight methods of `com.microsoft.identity.Broker1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `acquireTokenInteractively`.
    AcquireTokenInteractively,
    /// `acquireTokenSilently`.
    AcquireTokenSilently,
    /// `getAccounts`.
    GetAccounts,
    /// `removeAccount`.
    RemoveAccount,
    /// `acquirePrtSsoCookie`.
    AcquirePrtSsoCookie,
    /// `generateSignedHttpRequest`.
    GenerateSignedHttpRequest,
    /// `cancelInteractiveFlow`.
    CancelInteractiveFlow,
    /// `getLinuxBrokerVersion`.
    GetLinuxBrokerVersion,
}

impl Method {
    /// All eight methods.
    pub const ALL: [Method; 8] = [
        Method::AcquireTokenInteractively,
        Method::AcquireTokenSilently,
        Method::GetAccounts,
        Method::RemoveAccount,
        Method::AcquirePrtSsoCookie,
        Method::GenerateSignedHttpRequest,
        Method::CancelInteractiveFlow,
        Method::GetLinuxBrokerVersion,
    ];

    /// The D-Bus member name (`acquireTokenSilently`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AcquireTokenInteractively => "acquireTokenInteractively",
            Self::AcquireTokenSilently => "acquireTokenSilently",
            Self::GetAccounts => "getAccounts",
            Self::RemoveAccount => "removeAccount",
            Self::AcquirePrtSsoCookie => "acquirePrtSsoCookie",
            Self::GenerateSignedHttpRequest => "generateSignedHttpRequest",
            Self::CancelInteractiveFlow => "cancelInteractiveFlow",
            Self::GetLinuxBrokerVersion => "getLinuxBrokerVersion",
        }
    }

    /// The method with this D-Bus member name (exact spelling).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Token methods put errors under `brokerTokenResponse.error`; the others at the top level.
    pub fn is_token_method(self) -> bool {
        matches!(
            self,
            Self::AcquireTokenInteractively | Self::AcquireTokenSilently
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Broker `status` numbers as libmsalruntime reads them (its internal numbering, which differs
/// from the public enum from 12 up). 12 is read as success and 23 makes Microsoft's client retry
/// forever: the emulator never sends either.
pub mod status {
    /// Unexpected.
    pub const UNEXPECTED: i64 = 0;
    /// InteractionRequired: the client should go interactive.
    pub const INTERACTION_REQUIRED: i64 = 2;
    /// NoNetwork.
    pub const NO_NETWORK: i64 = 3;
    /// ApiContractViolation: the request is malformed.
    pub const API_CONTRACT_VIOLATION: i64 = 6;
    /// UserCanceled.
    pub const USER_CANCELED: i64 = 7;
    /// ApplicationCanceled.
    pub const APPLICATION_CANCELED: i64 = 8;
    /// IncorrectConfiguration (unknown app, redirect URI not registered, ...).
    pub const INCORRECT_CONFIGURATION: i64 = 9;
    /// AuthorityUntrusted.
    pub const AUTHORITY_UNTRUSTED: i64 = 11;
    /// Read as success by Microsoft's client: never sent as an error.
    pub const TREATED_AS_SUCCESS: i64 = 12;
    /// AccountUnusable.
    pub const ACCOUNT_UNUSABLE: i64 = 13;
    /// AccountNotFound.
    pub const ACCOUNT_NOT_FOUND: i64 = 19;
    /// MdmEnrollmentHandoff: Microsoft's client re-sends the request forever. Never sent.
    pub const MDM_ENROLLMENT_HANDOFF: i64 = 23;
}

/// The `tag` numbers of the errors the emulator itself produces, one per cause, so a test can
/// tell them apart.
pub mod tag {
    /// The request JSON is malformed.
    pub const MALFORMED_REQUEST: i64 = 0x1E6A_0001;
    /// The client id is unknown or not a public client.
    pub const CLIENT: i64 = 0x1E6A_0002;
    /// The redirect URI is not registered.
    pub const REDIRECT_URI: i64 = 0x1E6A_0003;
    /// The authority is not an Entra authority the emulator hosts.
    pub const AUTHORITY: i64 = 0x1E6A_0004;
    /// The scopes are invalid for the app.
    pub const SCOPE: i64 = 0x1E6A_0005;
    /// No (usable) account: sign in interactively.
    pub const NO_ACCOUNT: i64 = 0x1E6A_0006;
    /// Consent is missing.
    pub const CONSENT: i64 = 0x1E6A_0007;
    /// Multi-factor authentication is required.
    pub const MFA: i64 = 0x1E6A_0008;
    /// A claims challenge needs an interactive sign-in.
    pub const CLAIMS: i64 = 0x1E6A_0009;
    /// The account is not in the directory.
    pub const ACCOUNT_NOT_FOUND: i64 = 0x1E6A_000A;
    /// The user canceled (denied) the interactive request.
    pub const USER_CANCELED: i64 = 0x1E6A_000B;
    /// The interactive request was canceled by the app or the broker stopped.
    pub const APPLICATION_CANCELED: i64 = 0x1E6A_000C;
    /// The user is not a member of the authority's tenant.
    pub const TENANT: i64 = 0x1E6A_000D;
    /// Token minting failed inside the emulator.
    pub const INTERNAL: i64 = 0x1E6A_000E;
}

/// An error object: what the broker answers instead of a result. Also what the control API
/// injects (`Control::broker_inject_error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerErrorSpec {
    /// The libmsalruntime status number ([`status`]).
    pub status: i64,
    /// The error code (the emulator uses the AADSTS number when there is one, else 0).
    pub error_code: i64,
    /// A tag identifying the place the error came from ([`tag`]).
    pub tag: i64,
    /// The human-readable text; never empty.
    pub context: String,
}

impl BrokerErrorSpec {
    /// An error object.
    pub fn new(status: i64, error_code: i64, tag: i64, context: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            tag,
            context: context.into(),
        }
    }

    /// Refuses error objects Microsoft's client cannot survive: an empty `context` (MSAL Python
    /// crashes), status 23 (libmsalruntime retries forever) and status 12 (read as success).
    pub fn check(&self) -> Result<(), String> {
        if self.context.trim().is_empty() {
            return Err(
                "context must be a non-empty string (MSAL Python crashes on an empty one)".into(),
            );
        }
        match self.status {
            status::MDM_ENROLLMENT_HANDOFF => Err(
                "status 23 (MdmEnrollmentHandoff) makes Microsoft's client re-send the request forever; use another status".into(),
            ),
            status::TREATED_AS_SUCCESS => Err(
                "status 12 is read as success by Microsoft's client; use another status".into(),
            ),
            s if !(0..=25).contains(&s) => Err(format!(
                "status {s} is outside libmsalruntime's range 0..=25"
            )),
            _ => Ok(()),
        }
    }

    /// The error object as JSON: `{"context","errorCode","status","tag"}` (integers, non-empty
    /// context).
    pub fn to_json(&self) -> Value {
        json!({
            "context": self.context,
            "errorCode": self.error_code,
            "status": self.status,
            "tag": self.tag,
        })
    }

    /// The whole response text for `method`: `{"brokerTokenResponse":{"error":{…}}}` for the
    /// token methods, `{"error":{…}}` for the others.
    pub fn response(&self, method: Method) -> String {
        let error = self.to_json();
        if method.is_token_method() {
            json!({"brokerTokenResponse": {"error": error}}).to_string()
        } else {
            json!({"error": error}).to_string()
        }
    }
}

/// A malformed request: becomes status 6 (ApiContractViolation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError(pub String);

impl RequestError {
    /// The error object for it.
    pub fn to_spec(&self, method: Method) -> BrokerErrorSpec {
        BrokerErrorSpec::new(
            status::API_CONTRACT_VIOLATION,
            0,
            tag::MALFORMED_REQUEST,
            format!("The {method} request is malformed: {}", self.0),
        )
    }
}

/// The account a request names: any of its identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRef {
    /// `username`.
    pub username: Option<String>,
    /// `homeAccountId` (`<oid>.<tid>`).
    pub home_account_id: Option<String>,
    /// `localAccountId`.
    pub local_account_id: Option<String>,
    /// `realm` (tenant id).
    pub realm: Option<String>,
}

impl AccountRef {
    fn from_value(value: &Value, field: &str) -> Result<Option<Self>, RequestError> {
        match value {
            Value::Null => Ok(None),
            Value::Object(map) => {
                let get = |k: &str| opt_string(map, k, field);
                let account = Self {
                    username: get("username")?,
                    home_account_id: get("homeAccountId")?,
                    local_account_id: get("localAccountId")?,
                    realm: get("realm")?,
                };
                Ok(
                    (account.username.is_some() || account.home_account_id.is_some())
                        .then_some(account),
                )
            }
            _ => Err(RequestError(format!("{field} must be an object or null"))),
        }
    }
}

/// Proof-of-possession parameters (`popParams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopParams {
    /// `httpMethod` (`m`), `GET` when absent.
    pub http_method: String,
    /// The host (`u`); a URL in `uriHost` is split into host and path.
    pub host: String,
    /// The path (`p`), from `uriPath` or the path of a URL in `uriHost`.
    pub path: String,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `clientClaims` (a JSON string), echoed as `client_claims`.
    pub client_claims: Option<String>,
    /// `homeAccountId` (in `generateSignedHttpRequest`).
    pub home_account_id: Option<String>,
}

impl PopParams {
    /// `None` for `null`, a missing value, or an explicit bearer scheme.
    fn from_value(value: Option<&Value>) -> Result<Option<Self>, RequestError> {
        let map = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(RequestError("popParams must be an object or null".into())),
        };
        let field = "popParams";
        let scheme = opt_string(map, "authenticationScheme", field)?;
        let uri_host = opt_string(map, "uriHost", field)?;
        let is_pop = match scheme.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("pop") => true,
            Some(s) if s.eq_ignore_ascii_case("bearer") => false,
            Some(s) => {
                return Err(RequestError(format!(
                    "popParams.authenticationScheme {s:?} is neither \"pop\" nor \"bearer\""
                )));
            }
            None => uri_host.is_some(),
        };
        if !is_pop {
            return Ok(None);
        }
        let (mut host, mut path) = (uri_host.unwrap_or_default(), String::new());
        if host.contains("://")
            && let Ok(url) = url::Url::parse(&host)
        {
            path = url.path().to_string();
            host = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_string(),
            };
        }
        if let Some(p) = opt_string(map, "uriPath", field)? {
            path = p;
        }
        if host.is_empty() {
            return Err(RequestError(
                "popParams.uriHost is required for a proof-of-possession token".into(),
            ));
        }
        Ok(Some(Self {
            http_method: opt_string(map, "httpMethod", field)?
                .unwrap_or_else(|| "GET".into())
                .to_ascii_uppercase(),
            host,
            path,
            nonce: opt_string(map, "nonce", field)?,
            client_claims: opt_string(map, "clientClaims", field)?,
            home_account_id: opt_string(map, "homeAccountId", field)?,
        }))
    }
}

/// The `authParameters` of a token request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthParams {
    /// `clientId`.
    pub client_id: String,
    /// `authority`.
    pub authority: Option<String>,
    /// `redirectUri`.
    pub redirect_uri: Option<String>,
    /// `requestedScopes`.
    pub requested_scopes: Vec<String>,
    /// `account` (in `authParameters` or at the top level), `None` for `null`.
    pub account: Option<AccountRef>,
    /// `username`, when not empty.
    pub username: Option<String>,
    /// `decodedClaims`, when not empty or `{}`.
    pub decoded_claims: Option<String>,
    /// `popParams`, when they ask for a PoP token.
    pub pop: Option<PopParams>,
    /// `authorizationType`.
    pub authorization_type: Option<i64>,
    /// `isSignIn`.
    pub is_sign_in: bool,
    /// `ssoUrl` (cookie requests).
    pub sso_url: Option<String>,
}

impl AuthParams {
    /// The username the request names: the account's, else `username`.
    pub fn named_username(&self) -> Option<&str> {
        self.account
            .as_ref()
            .and_then(|a| a.username.as_deref())
            .or(self.username.as_deref())
    }
}

/// A parsed request of one of the eight methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerRequest {
    /// `acquireTokenSilently` / `acquireTokenInteractively`.
    Token(Box<AuthParams>),
    /// `getAccounts`.
    GetAccounts {
        /// `clientId`.
        client_id: String,
    },
    /// `removeAccount`.
    RemoveAccount {
        /// `clientId`.
        client_id: String,
        /// `account`.
        account: Option<AccountRef>,
    },
    /// `acquirePrtSsoCookie`.
    PrtSsoCookie {
        /// The account (top level or in `authParameters`).
        account: Option<AccountRef>,
        /// `ssoUrl`.
        sso_url: Option<String>,
    },
    /// `generateSignedHttpRequest`.
    SignedHttpRequest {
        /// `clientId`.
        client_id: String,
        /// `popParams`.
        pop: Option<PopParams>,
    },
    /// `cancelInteractiveFlow` (payload undocumented: `clientId` is used when present).
    Cancel {
        /// `clientId`, or the one in `authParameters`.
        client_id: Option<String>,
    },
    /// `getLinuxBrokerVersion`.
    Version,
}

impl BrokerRequest {
    /// Request facts for the request log: ids, authority, scopes; never tokens.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = Vec::new();
        match self {
            Self::Token(p) => {
                facts.push(("client_id", p.client_id.clone()));
                if let Some(a) = &p.authority {
                    facts.push(("authority", a.clone()));
                }
                if let Some(r) = &p.redirect_uri {
                    facts.push(("redirect_uri", r.clone()));
                }
                facts.push(("scope", p.requested_scopes.join(" ")));
                if let Some(t) = p.authorization_type {
                    facts.push(("authorization_type", t.to_string()));
                }
                if let Some(u) = p.named_username() {
                    facts.push(("username", u.to_string()));
                }
                if p.pop.is_some() {
                    facts.push(("token_type", "pop".into()));
                }
                if p.decoded_claims.is_some() {
                    facts.push(("claims", "present".into()));
                }
            }
            Self::GetAccounts { client_id }
            | Self::RemoveAccount { client_id, .. }
            | Self::SignedHttpRequest { client_id, .. } => {
                facts.push(("client_id", client_id.clone()));
            }
            Self::Cancel { client_id } => {
                if let Some(c) = client_id {
                    facts.push(("client_id", c.clone()));
                }
            }
            Self::PrtSsoCookie { .. } | Self::Version => {}
        }
        facts
    }
}

fn opt_string(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, RequestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RequestError(format!("{field}.{key} must be a string"))),
    }
}

fn require_client_id(map: &Map<String, Value>, field: &str) -> Result<String, RequestError> {
    opt_string(map, "clientId", field)?
        .ok_or_else(|| RequestError(format!("{field}.clientId is required")))
}

fn parse_auth_params(root: &Map<String, Value>) -> Result<AuthParams, RequestError> {
    let field = "authParameters";
    let map = match root.get(field) {
        Some(Value::Object(map)) => map,
        Some(_) => return Err(RequestError("authParameters must be an object".into())),
        None => return Err(RequestError("authParameters is required".into())),
    };
    let requested_scopes = match map.get("requestedScopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    RequestError(
                        "authParameters.requestedScopes must be an array of strings".into(),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(RequestError(
                "authParameters.requestedScopes must be an array of strings".into(),
            ));
        }
    };
    let account = match map.get("account") {
        Some(v) => AccountRef::from_value(v, "authParameters.account")?,
        None => None,
    };
    // Some clients (browsers through linux-entra-sso / himmelblau) put the account at the root.
    let account = match (account, root.get("account")) {
        (Some(a), _) => Some(a),
        (None, Some(v)) => AccountRef::from_value(v, "account")?,
        (None, None) => None,
    };
    let authorization_type = match map.get("authorizationType") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    RequestError("authParameters.authorizationType must be an integer".into())
                })?,
        ),
    };
    let is_sign_in = match map.get("isSignIn") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(RequestError(
                "authParameters.isSignIn must be a boolean".into(),
            ));
        }
    };
    let decoded_claims = opt_string(map, "decodedClaims", field)?
        .filter(|c| c.trim() != "{}" && !c.trim().is_empty());
    let sso_url = opt_string(map, "ssoUrl", field)?.or(opt_string(root, "ssoUrl", "request")?);
    Ok(AuthParams {
        client_id: require_client_id(map, field)?,
        authority: opt_string(map, "authority", field)?,
        redirect_uri: opt_string(map, "redirectUri", field)?,
        requested_scopes,
        account,
        username: opt_string(map, "username", field)?,
        decoded_claims,
        pop: PopParams::from_value(map.get("popParams"))?,
        authorization_type,
        is_sign_in,
        sso_url,
    })
}

/// Parses the request JSON of `method`. Anything that is not the documented shape is a
/// [`RequestError`] (answered with status 6), never a panic.
pub fn parse_request(method: Method, text: &str) -> Result<BrokerRequest, RequestError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| RequestError(format!("the request is not JSON ({e})")))?;
    let Value::Object(root) = value else {
        return Err(RequestError("the request is not a JSON object".into()));
    };
    match method {
        Method::AcquireTokenInteractively | Method::AcquireTokenSilently => {
            parse_auth_params(&root).map(|p| BrokerRequest::Token(Box::new(p)))
        }
        Method::GetAccounts => Ok(BrokerRequest::GetAccounts {
            client_id: require_client_id(&root, "request")?,
        }),
        Method::RemoveAccount => Ok(BrokerRequest::RemoveAccount {
            client_id: require_client_id(&root, "request")?,
            account: match root.get("account") {
                Some(v) => AccountRef::from_value(v, "account")?,
                None => None,
            },
        }),
        Method::AcquirePrtSsoCookie => {
            let mut account = match root.get("account") {
                Some(v) => AccountRef::from_value(v, "account")?,
                None => None,
            };
            let mut sso_url = opt_string(&root, "ssoUrl", "request")?;
            if let Some(Value::Object(_)) = root.get("authParameters") {
                let auth = parse_auth_params(&root)?;
                account = account.or(auth.account);
                sso_url = sso_url.or(auth.sso_url);
            }
            Ok(BrokerRequest::PrtSsoCookie { account, sso_url })
        }
        Method::GenerateSignedHttpRequest => Ok(BrokerRequest::SignedHttpRequest {
            client_id: require_client_id(&root, "request")?,
            pop: PopParams::from_value(root.get("popParams"))?,
        }),
        Method::CancelInteractiveFlow => {
            let mut client_id = opt_string(&root, "clientId", "request")?;
            if client_id.is_none()
                && let Some(Value::Object(auth)) = root.get("authParameters")
            {
                client_id = opt_string(auth, "clientId", "authParameters")?;
            }
            Ok(BrokerRequest::Cancel { client_id })
        }
        Method::GetLinuxBrokerVersion => Ok(BrokerRequest::Version),
    }
}

/// What an account looks like to the broker's clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// The cloud host (`login.microsoftonline.com`).
    pub environment: String,
    /// The tenant of the sign-in (`realm`).
    pub realm: String,
    /// The object id in the home tenant (`uid`).
    pub home_object_id: String,
    /// The home tenant (`utid`).
    pub home_tenant: String,
    /// The object id in `realm` (`localAccountId`).
    pub local_object_id: String,
    /// The sign-in name.
    pub username: String,
    /// The display name.
    pub display_name: String,
}

impl AccountView {
    /// `<uid>.<utid>`.
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.home_object_id, self.home_tenant)
    }

    /// `base64url({"uid":…,"utid":…})`.
    pub fn client_info(&self) -> String {
        let json = json!({"uid": self.home_object_id, "utid": self.home_tenant});
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    /// The account object of `getAccounts` and of token responses (§9.3).
    pub fn to_json(&self) -> Value {
        let (given, family) = match self.display_name.split_once(' ') {
            Some((g, f)) => (g.to_string(), f.to_string()),
            None => (self.display_name.clone(), String::new()),
        };
        json!({
            "clientInfo": self.client_info(),
            "environment": self.environment,
            "familyName": family,
            "givenName": given,
            "homeAccountId": self.home_account_id(),
            "localAccountId": self.local_object_id,
            "name": self.display_name,
            "passwordExpiry": 0,
            "realm": self.realm,
            "username": self.username,
        })
    }
}

/// `{"accounts":[…]}`.
pub fn accounts_response(accounts: &[AccountView]) -> Value {
    json!({"accounts": accounts.iter().map(AccountView::to_json).collect::<Vec<_>>()})
}

/// A token result in Microsoft's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResult {
    /// The access token (or the signed HTTP request of a PoP result).
    pub access_token: String,
    /// A proof-of-possession token (`accessTokenType` 1).
    pub pop: bool,
    /// The account.
    pub account: AccountView,
    /// Expiry, Unix seconds.
    pub expires_on: i64,
    /// Extended expiry, Unix seconds.
    pub extended_expires_on: i64,
    /// Granted scopes, space-separated.
    pub granted_scopes: String,
    /// The id token.
    pub id_token: String,
}

impl TokenResult {
    /// `{"brokerTokenResponse":{…}}` with integer `accessTokenType`, millisecond expiries,
    /// base64url `clientInfo` and a space-separated `grantedScopes` string.
    pub fn to_json(&self) -> Value {
        json!({"brokerTokenResponse": {
            "accessToken": self.access_token,
            "accessTokenType": if self.pop { 1 } else { 0 },
            "account": self.account.to_json(),
            "clientInfo": self.account.client_info(),
            "expiresOn": self.expires_on.saturating_mul(1000),
            "extendedExpiresOn": self.extended_expires_on.saturating_mul(1000),
            "grantedScopes": self.granted_scopes,
            "idToken": self.id_token,
        }})
    }
}

/// The claims of a signed HTTP request (the PoP token): `at` (when bound to an access token),
/// `ts`, `m`, `u`, `p`, `nonce`, `client_claims`.
pub fn shr_claims(pop: &PopParams, access_token: Option<&str>, now: i64) -> Value {
    let mut claims = json!({
        "ts": now,
        "m": pop.http_method,
        "u": pop.host,
        "p": pop.path,
    });
    if let Some(at) = access_token {
        claims["at"] = json!(at);
    }
    if let Some(nonce) = &pop.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(cc) = &pop.client_claims {
        claims["client_claims"] = json!(cc);
    }
    claims
}

/// The `sso_nonce` query parameter of an SSO URL, if any.
pub fn sso_nonce(sso_url: &str) -> Option<String> {
    let url = url::Url::parse(sso_url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "sso_nonce")
        .map(|(_, v)| v.into_owned())
}

/// `{"cookieItems":[{"cookieName":"x-ms-RefreshTokenCredential","cookieContent":…}]}`, the shape
/// of brokers after 2.0.1.
pub fn cookie_response(content: &str) -> Value {
    json!({"cookieItems": [{"cookieName": PRT_COOKIE_NAME, "cookieContent": content}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    // The request Microsoft's client sends, in its exact shape (ids shortened to real GUIDs).
    const SILENT: &str = r#"{"authParameters":{
      "accessTokenToRenew":"",
      "account":{"alternativeAccountId":"","clientInfo":"eyJ1aWQiOiJ4In0","environment":"login.microsoftonline.com",
                 "familyName":"Example","givenName":"Alice","homeAccountId":"6f0e1d2c-3b4a-4958-8766-a5b4c3d2e1f0.7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801","homeEnvironment":"",
                 "localAccountId":"6f0e1d2c-3b4a-4958-8766-a5b4c3d2e1f0","middleName":"","name":"Alice Example","passwordChangeUrl":"",
                 "passwordExpiry":0,"realm":"7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801","username":"alice@contoso.example"},
      "additionalQueryParametersForAuthorization":{"msal_client_sku":"MSAL.Python","msal_client_ver":"1.39.0",
                 "x-client-xtra-sku":"MSAL.Python|1.39.0,|0.20.7,|,|,|12.0.2"},
      "authority":"https://login.microsoftonline.com/common",
      "authorizationType":1,"clientId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","decodedClaims":"","enrollmentId":"","isTestMode":false,
      "password":"","popParams":null,
      "redirectUri":"https://login.microsoftonline.com/common/oauth2/nativeclient",
      "requestedScopes":["User.Read"],"username":"alice@contoso.example","uxContextHandle":-1}}"#;

    #[test]
    fn parses_microsofts_silent_request() {
        let BrokerRequest::Token(p) = parse_request(Method::AcquireTokenSilently, SILENT).unwrap()
        else {
            panic!("token request expected")
        };
        assert_eq!(p.client_id, "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
        assert_eq!(
            p.authority.as_deref(),
            Some("https://login.microsoftonline.com/common")
        );
        assert_eq!(p.redirect_uri.as_deref(), Some(LINUX_BROKER_REDIRECT_URI));
        assert_eq!(p.requested_scopes, ["User.Read"]);
        assert_eq!(p.named_username(), Some("alice@contoso.example"));
        assert_eq!(p.authorization_type, Some(1));
        assert_eq!(p.decoded_claims, None);
        assert_eq!(p.pop, None);
        assert!(!p.is_sign_in);
    }

    #[test]
    fn parses_sign_in_claims_and_pop_variants() {
        let text = SILENT
            .replace(r#""account":{"#, r#""account":null,"ignored":{"#)
            .replace(r#""username":"alice@contoso.example","uxContextHandle""#, r#""username":"","isSignIn":true,"uxContextHandle""#)
            .replace(r#""decodedClaims":"""#, r#""decodedClaims":"{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1700000000\"}}}""#)
            .replace(
                r#""popParams":null"#,
                r#""popParams":{"clientClaims":"","homeAccountId":"","httpMethod":"GET","nonce":"nonce-123","uriHost":"graph.microsoft.com","uriPath":"/v1.0/me"}"#,
            );
        let BrokerRequest::Token(p) = parse_request(Method::AcquireTokenSilently, &text).unwrap()
        else {
            panic!("token request expected")
        };
        assert_eq!(p.account, None);
        assert_eq!(p.named_username(), None);
        assert!(p.is_sign_in);
        assert!(p.decoded_claims.unwrap().contains("nbf"));
        let pop = p.pop.unwrap();
        assert_eq!(
            (
                pop.http_method.as_str(),
                pop.host.as_str(),
                pop.path.as_str(),
                pop.nonce.as_deref()
            ),
            ("GET", "graph.microsoft.com", "/v1.0/me", Some("nonce-123"))
        );
    }

    #[test]
    fn pop_params_from_sso_mib_and_bearer() {
        // A URL in uriHost, as Microsoft's client can send it.
        let v = json!({"authenticationScheme":"pop","uriHost":"https://x/y","httpMethod":"post","nonce":"n","kid":"k"});
        let pop = PopParams::from_value(Some(&v)).unwrap().unwrap();
        assert_eq!(
            (
                pop.host.as_str(),
                pop.path.as_str(),
                pop.http_method.as_str()
            ),
            ("x", "/y", "POST")
        );
        let bearer = json!({"authenticationScheme":"bearer","uriHost":"x"});
        assert_eq!(PopParams::from_value(Some(&bearer)).unwrap(), None);
        let odd = json!({"authenticationScheme":"mac"});
        assert!(PopParams::from_value(Some(&odd)).is_err());
    }

    #[test]
    fn parses_the_other_methods() {
        // getAccounts as Microsoft's client sends it: redirectUri is the client id.
        let r = parse_request(
            Method::GetAccounts,
            r#"{"clientId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","redirectUri":"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            BrokerRequest::GetAccounts {
                client_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into()
            }
        );
        let r = parse_request(
            Method::AcquirePrtSsoCookie,
            r#"{"account":{"username":"a@b"},"authParameters":{"clientId":"c","authorizationType":8,"ssoUrl":"https://login.microsoftonline.com/?sso_nonce=abc"},"ssoUrl":"https://login.microsoftonline.com/","mamEnrollment":false}"#,
        )
        .unwrap();
        let BrokerRequest::PrtSsoCookie { account, sso_url } = r else {
            panic!()
        };
        assert_eq!(account.unwrap().username.as_deref(), Some("a@b"));
        assert_eq!(
            sso_url.as_deref(),
            Some("https://login.microsoftonline.com/")
        );
        assert_eq!(
            sso_nonce("https://login.microsoftonline.com/?sso_nonce=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            parse_request(
                Method::GetLinuxBrokerVersion,
                r#"{"msalCppVersion":"1.0.0"}"#
            )
            .unwrap(),
            BrokerRequest::Version
        );
        assert_eq!(
            parse_request(Method::CancelInteractiveFlow, "{}").unwrap(),
            BrokerRequest::Cancel { client_id: None }
        );
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        for (method, text) in [
            (Method::AcquireTokenSilently, "this is not json"),
            (Method::AcquireTokenSilently, "[]"),
            (Method::AcquireTokenSilently, "{}"),
            (Method::AcquireTokenSilently, r#"{"authParameters":[]}"#),
            (
                Method::AcquireTokenSilently,
                r#"{"authParameters":{"requestedScopes":["x"]}}"#,
            ),
            (
                Method::AcquireTokenInteractively,
                r#"{"authParameters":{"clientId":"c","requestedScopes":"User.Read"}}"#,
            ),
            (
                Method::AcquireTokenInteractively,
                r#"{"authParameters":{"clientId":"c","account":"alice"}}"#,
            ),
            (
                Method::AcquireTokenInteractively,
                r#"{"authParameters":{"clientId":7}}"#,
            ),
            (Method::GetAccounts, r#"{"redirectUri":"x"}"#),
            (Method::GetAccounts, ""),
            (Method::RemoveAccount, r#"{"clientId":"c","account":5}"#),
        ] {
            let e = parse_request(method, text).expect_err(text);
            let spec = e.to_spec(method);
            assert_eq!(spec.status, status::API_CONTRACT_VIOLATION);
            assert!(spec.check().is_ok(), "{spec:?}");
        }
    }

    #[test]
    fn error_objects_have_the_four_keys_and_placement() {
        let spec = BrokerErrorSpec::new(9, 50011, 508170375, "AADSTS50011: x");
        let token: Value =
            serde_json::from_str(&spec.response(Method::AcquireTokenSilently)).unwrap();
        assert_eq!(
            token,
            json!({"brokerTokenResponse":{"error":{"context":"AADSTS50011: x","errorCode":50011,"status":9,"tag":508170375}}})
        );
        let top: Value = serde_json::from_str(&spec.response(Method::GetAccounts)).unwrap();
        assert_eq!(top["error"]["status"], 9);
        assert!(BrokerErrorSpec::new(23, 0, 0, "x").check().is_err());
        assert!(BrokerErrorSpec::new(12, 0, 0, "x").check().is_err());
        assert!(BrokerErrorSpec::new(2, 0, 0, " ").check().is_err());
        assert!(BrokerErrorSpec::new(2, 0, 0, "x").check().is_ok());
    }

    #[test]
    fn token_result_has_microsofts_shape() {
        let account = AccountView {
            environment: DEFAULT_ENVIRONMENT.into(),
            realm: "t".into(),
            home_object_id: "o".into(),
            home_tenant: "t".into(),
            local_object_id: "o".into(),
            username: "alice@contoso.example".into(),
            display_name: "Alice Example".into(),
        };
        let r = TokenResult {
            access_token: "at".into(),
            pop: false,
            account: account.clone(),
            expires_on: 1_900_000_000,
            extended_expires_on: 1_900_000_100,
            granted_scopes: "User.Read profile openid".into(),
            id_token: "a.b.c".into(),
        }
        .to_json();
        let t = &r["brokerTokenResponse"];
        assert_eq!(t["accessTokenType"], 0);
        assert_eq!(t["expiresOn"], 1_900_000_000_000_i64);
        assert_eq!(t["extendedExpiresOn"], 1_900_000_100_000_i64);
        assert_eq!(t["grantedScopes"], "User.Read profile openid");
        let ci = URL_SAFE_NO_PAD
            .decode(t["clientInfo"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&ci).unwrap(),
            json!({"uid":"o","utid":"t"})
        );
        let a = &t["account"];
        assert_eq!(
            (a["givenName"].as_str(), a["familyName"].as_str()),
            (Some("Alice"), Some("Example"))
        );
        assert_eq!(a["homeAccountId"], "o.t");
        for key in [
            "homeAccountId",
            "localAccountId",
            "username",
            "environment",
            "realm",
        ] {
            assert!(a[key].is_string(), "{key}");
        }
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_name(m.name()), Some(m));
        }
        assert_eq!(Method::from_name("AcquireTokenSilently"), None);
    }
}
