//! The macOS SSO extension's wire format, as pure functions: requests are flat string
//! dictionaries (`ASAuthorizationSingleSignOnRequest.authorizationOptions`), answers are the
//! header dictionary of an HTTP response, failures are `NSError`s. Nothing here calls the OS, so
//! it compiles and is tested on every target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::broker::{
    BrokerAccount, BrokerError, BrokerPlatform, BrokerStatus, BrokerTokenRequest,
    BrokerTokenResponse, BrokerTokenType,
};
use crate::jwt::{claim_text, decode_json_object, jwt_claims};

/// The identity-provider URL the SSO provider is created for (MSAL's `MSID_DEFAULT_AAD_AUTHORITY`).
pub const SSO_PROVIDER_URL: &str = "https://login.microsoftonline.com/common";

/// The broker protocol version sent as `msg_protocol_ver`.
pub const MSG_PROTOCOL_VERSION: &str = "4";

/// The `client_sdk` value of MSAL clients.
pub const CLIENT_SDK: &str = "sdk_msal";

/// The `provider_type` of Microsoft Entra ID (v2 endpoint).
pub const PROVIDER_TYPE_AAD_V2: &str = "provider_aad_v2";

/// `ASAuthorizationErrorDomain`.
pub const AS_AUTHORIZATION_ERROR_DOMAIN: &str = "ASAuthorizationErrorDomain";

/// `ASAuthorizationError.canceled`: the user closed the sign-in UI.
pub const AS_ERROR_CANCELED: i64 = 1001;
/// `ASAuthorizationError.notHandled`: no extension handled the request.
pub const AS_ERROR_NOT_HANDLED: i64 = 1003;
/// `ASAuthorizationError.notInteractive`: UI was needed but the request did not allow it.
pub const AS_ERROR_NOT_INTERACTIVE: i64 = 1005;
/// MSAL's `MSIDSSOExtensionUnderlyingError`: the real error is `NSUnderlyingErrorKey`.
pub const SSO_EXTENSION_UNDERLYING_ERROR: i64 = -6000;

/// The suffix of the OAuth error domain (`MSIDOAuthErrorDomain`; msalruntime's embedded copy
/// prefixes it, e.g. `MSAIMSIDOAuthErrorDomain`).
pub const MSID_OAUTH_ERROR_DOMAIN_SUFFIX: &str = "MSIDOAuthErrorDomain";
/// The suffix of MSAL's general error domain (`MSIDErrorDomain`).
pub const MSID_ERROR_DOMAIN_SUFFIX: &str = "MSIDErrorDomain";
/// The suffix of common-core's HTTP error domain (`MSIDHttpErrorCodeDomain`).
pub const MSID_HTTP_ERROR_DOMAIN_SUFFIX: &str = "MSIDHttpErrorCodeDomain";
/// The suffix of MSAL ObjC's public error domain (`MSALErrorDomain`).
pub const MSAL_ERROR_DOMAIN_SUFFIX: &str = "MSALErrorDomain";
/// Foundation's networking error domain.
pub const NS_URL_ERROR_DOMAIN: &str = "NSURLErrorDomain";

/// `MSIDErrorServerInvalidClient`: `invalid_client`, in practice a redirect URI the app
/// registration lacks (AADSTS50011). Counts as a redirect-URI mismatch even when the description
/// is hidden as `(pii)`; see [`BrokerError::is_redirect_uri_mismatch`].
pub const MSID_INVALID_CLIENT: i64 = -51411;

/// The `userInfo` key of the OAuth error (`invalid_client`, ...).
pub const MSID_OAUTH_ERROR_KEY: &str = "MSIDOAuthErrorKey";
/// The `userInfo` key of the OAuth sub-error.
pub const MSID_OAUTH_SUB_ERROR_KEY: &str = "MSIDOAuthSubErrorKey";
/// The `userInfo` key of the error description (the AADSTS text).
pub const MSID_ERROR_DESCRIPTION_KEY: &str = "MSIDErrorDescriptionKey";
/// MSAL ObjC's `userInfo` key of the OAuth error (`MSALOAuthErrorKey`).
pub const MSAL_OAUTH_ERROR_KEY: &str = "MSALOAuthErrorKey";
/// MSAL ObjC's `userInfo` key of the error description (`MSALErrorDescriptionKey`).
pub const MSAL_ERROR_DESCRIPTION_KEY: &str = "MSALErrorDescriptionKey";

/// An SSO-extension operation (`ASAuthorizationOpenIDRequest.requestedOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacOperation {
    /// Interactive token (`ASAuthorizationOperationLogin`).
    Login,
    /// Silent token (`ASAuthorizationOperationRefresh`).
    Refresh,
    /// The accounts the extension knows.
    GetAccounts,
    /// Sign an account out.
    SignOut,
}

impl MacOperation {
    /// The operation string the extension expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::GetAccounts => "get_accounts_operation",
            Self::SignOut => "signout_account_operation",
        }
    }

    /// Whether the extension may show UI (`userInterfaceEnabled`): `login` only. MSAL ObjC's
    /// `MSIDSSOExtensionSignoutRequest` signs out with `setRequiresUI:NO`, and its silent and
    /// account requests never show UI either.
    pub fn user_interface_enabled(self) -> bool {
        matches!(self, Self::Login)
    }
}

/// A request for the SSO extension: the operation and its flat string options.
#[derive(Clone, PartialEq, Eq)]
pub struct MacSsoRequest {
    /// The operation.
    pub operation: MacOperation,
    /// The `authorizationOptions`, as name/value pairs (every value is a string).
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for MacSsoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Usernames are personal data: list the option names only.
        f.debug_struct("MacSsoRequest")
            .field("operation", &self.operation)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// An `NSError` as plain data: domain, code, the string values of `userInfo`, and the
/// `NSUnderlyingErrorKey` error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NsErrorInfo {
    /// `NSError.domain`.
    pub domain: String,
    /// `NSError.code`.
    pub code: i64,
    /// The string-valued entries of `userInfo`.
    pub user_info: BTreeMap<String, String>,
    /// `userInfo[NSUnderlyingErrorKey]`.
    pub underlying: Option<Box<NsErrorInfo>>,
}

/// Whether the macOS broker may be used on this CPU architecture: Apple Silicon only, as MSAL
/// Python 1.39 (Intel and Rosetta fall back to the browser with a warning). `arch` is
/// `std::env::consts::ARCH` (`aarch64`) or `uname -m` (`arm64`).
pub fn mac_broker_supported(arch: &str) -> bool {
    matches!(arch, "aarch64" | "arm64")
}

fn api_error(context: impl Into<String>) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::MacOs,
        BrokerStatus::ApiContractViolation,
        context,
    )
}

fn base_options(correlation_id: &str) -> Result<BTreeMap<String, String>, BrokerError> {
    let correlation = uuid::Uuid::parse_str(correlation_id).map_err(|_| {
        api_error(format!(
            "the correlation id {correlation_id:?} is not a UUID; pass a UUID such as the one \
             uuid::Uuid::new_v4() makes"
        ))
    })?;
    let mut options = BTreeMap::new();
    options.insert("msg_protocol_ver".into(), MSG_PROTOCOL_VERSION.into());
    // NSUUID.UUIDString is upper case; the extension's logs are searched that way.
    options.insert(
        "correlation_id".into(),
        correlation.hyphenated().to_string().to_ascii_uppercase(),
    );
    options.insert("client_sdk".into(), CLIENT_SDK.into());
    options.insert("client_version".into(), env!("CARGO_PKG_VERSION").into());
    Ok(options)
}

/// The authentication scheme's keys of a token request, as MSAL ObjC's
/// `MSIDAuthenticationSchemePop` / `MSIDAuthenticationSchemeSshCert` `jsonDictionary` add them
/// to the extension's request (AzureAD/microsoft-authentication-library-common-for-objc
/// IdentityCore/src/auth_scheme/): proof-of-possession is `token_type=Pop` with `req_cnf`
/// (base64url `{"kid":…}` of the library's PoP key, added by the routing layer to
/// `extra_parameters`); an SSH certificate is `token_type=ssh-cert` with `req_cnf` (the public
/// JWK) and `key_id`, passed through from the app's parameters. Bearer requests add nothing.
fn auth_scheme(request: &BrokerTokenRequest) -> Result<Vec<(&'static str, String)>, BrokerError> {
    let param = |k: &str| {
        request
            .extra_parameters
            .get(k)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let token_type = param("token_type");
    if request.pop.is_some() {
        let req_cnf = param("req_cnf")
            .filter(|_| {
                token_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("pop"))
            })
            .ok_or_else(|| {
                api_error(
                    "a proof-of-possession request to the SSO extension needs token_type=pop and \
                     req_cnf (the library's PoP key confirmation); use the application's pop \
                     option",
                )
            })?;
        return Ok(vec![("token_type", "Pop".into()), ("req_cnf", req_cnf)]);
    }
    if token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("ssh-cert"))
    {
        let (Some(req_cnf), Some(key_id)) = (param("req_cnf"), param("key_id")) else {
            return Err(api_error(
                "an SSH certificate request needs req_cnf (the public key as a JWK) and key_id \
                 besides token_type=ssh-cert",
            ));
        };
        return Ok(vec![
            ("token_type", "ssh-cert".into()),
            ("req_cnf", req_cnf),
            ("key_id", key_id),
        ]);
    }
    Ok(Vec::new())
}

fn token_options(request: &BrokerTokenRequest) -> Result<BTreeMap<String, String>, BrokerError> {
    let scheme = auth_scheme(request)?;
    if request.username_password.is_some() {
        return Err(BrokerError::new(
            BrokerPlatform::MacOs,
            BrokerStatus::FallbackToNativeMsal,
            "the macOS SSO extension has no username/password operation; use the non-broker \
             username/password flow",
        ));
    }
    if request.scopes.is_empty() {
        return Err(api_error("no scopes requested; ask for at least one scope"));
    }
    let mut options = base_options(&request.correlation_id)?;
    options.insert("authority".into(), request.authority.clone());
    options.insert("client_id".into(), request.client_id.clone());
    options.insert("redirect_uri".into(), request.redirect_uri.clone());
    options.insert("scope".into(), request.scopes.join(" "));
    options.insert(
        "extra_oidc_scopes".into(),
        "openid profile offline_access".into(),
    );
    options.insert("provider_type".into(), PROVIDER_TYPE_AAD_V2.into());
    if let Some(claims) = request.claims.as_deref().filter(|c| !c.is_empty()) {
        options.insert("claims".into(), claims.to_string());
    }
    // msalruntime's own switches (msal_client_sku, msal_gui_thread, ...) mean nothing to the
    // extension; everything else goes to the server as query parameters.
    // MSAL's instance_aware is a key of its own ("0"/"1", always sent).
    let instance_aware = request
        .extra_parameters
        .get("instance_aware")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    options.insert(
        "instance_aware".into(),
        if instance_aware { "1" } else { "0" }.into(),
    );
    for (key, value) in &scheme {
        options.insert((*key).to_string(), value.clone());
    }
    let extra: BTreeMap<&str, &str> = request
        .extra_parameters
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("msal_")
                && !matches!(k.as_str(), "validateAuthority" | "instance_aware")
                && !scheme.iter().any(|(key, _)| key == k)
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !extra.is_empty() {
        let encoded = serde_urlencoded::to_string(&extra)
            .map_err(|e| api_error(format!("extra parameters cannot be form-encoded: {e}")))?;
        options.insert("extra_query_param".into(), encoded);
    }
    Ok(options)
}

/// Encodes a silent token request (`refresh`) for `request.account`, or, without one, for the
/// user named by `request.login_hint` (`username` only).
///
/// The extension has no "default account": its parser (`MSIDBrokerOperationSilentTokenRequest`
/// `initWithJSONDictionary:` through `MSIDAccountIdentifier`) rejects a `refresh` that carries
/// neither `home_account_id` nor `username` with `MSIDErrorInvalidInternalParameter` (-51111),
/// before any UI, and MSAL ObjC never builds one (`MSIDAccountIdentifier` `jsonDictionary` returns
/// nil). So a silent request with neither an account nor a hint is answered here, without asking
/// the extension, with [`BrokerStatus::InteractionRequired`]: interactive sign-in then goes
/// straight to `login`, as pymsalruntime does on macOS (MSAL Python: "_signin_silently() won't
/// work on Mac").
pub fn encode_silent(request: &BrokerTokenRequest) -> Result<MacSsoRequest, BrokerError> {
    let mut options = token_options(request)?;
    if let Some(account) = &request.account {
        options.insert("home_account_id".into(), account.home_account_id.clone());
        options.insert("username".into(), account.username.clone());
    } else if let Some(hint) = request
        .login_hint
        .as_deref()
        .filter(|h| !h.trim().is_empty())
    {
        options.insert("username".into(), hint.to_string());
    } else {
        return Err(BrokerError::new(
            BrokerPlatform::MacOs,
            BrokerStatus::InteractionRequired,
            "the macOS SSO extension has no default account to sign in silently; sign in \
             interactively (or pass a login_hint or a signed-in account)",
        ));
    }
    Ok(MacSsoRequest {
        operation: MacOperation::Refresh,
        options,
    })
}

/// Encodes an interactive token request (`login`): the account (or login hint) pre-selects the
/// user, `prompt` is passed on.
pub fn encode_interactive(request: &BrokerTokenRequest) -> Result<MacSsoRequest, BrokerError> {
    let mut options = token_options(request)?;
    if let Some(account) = &request.account {
        options.insert("home_account_id".into(), account.home_account_id.clone());
        options.insert("username".into(), account.username.clone());
    } else if let Some(hint) = request.login_hint.as_deref().filter(|h| !h.is_empty()) {
        options.insert("username".into(), hint.to_string());
    }
    if let Some(prompt) = request.prompt.as_deref().filter(|p| !p.is_empty()) {
        options.insert("prompt".into(), prompt.to_string());
    }
    Ok(MacSsoRequest {
        operation: MacOperation::Login,
        options,
    })
}

/// Encodes "which accounts do you have for this client".
pub fn encode_get_accounts(
    client_id: &str,
    correlation_id: &str,
) -> Result<MacSsoRequest, BrokerError> {
    let mut options = base_options(correlation_id)?;
    options.insert("client_id".into(), client_id.to_string());
    options.insert("signed_in_accounts_only".into(), "1".into());
    Ok(MacSsoRequest {
        operation: MacOperation::GetAccounts,
        options,
    })
}

/// The authority a sign-out names: the account's home tenant on its cloud
/// (`https://<environment>/<realm>`, `common` when the realm is unknown).
pub fn sign_out_authority(account: &BrokerAccount) -> String {
    let environment = Some(account.environment.trim())
        .filter(|e| !e.is_empty())
        .unwrap_or("login.microsoftonline.com");
    let realm = Some(account.realm.trim())
        .filter(|r| !r.is_empty())
        .unwrap_or("common");
    format!("https://{environment}/{realm}")
}

/// Encodes signing `account` out of the extension for this client (the device's SSO session
/// stays: `signout_from_browser`, `wipe_account` and `wipe_cache_all_accounts` are off, as MSAL
/// Python's `signout_silently`).
///
/// The keys are those of MSAL ObjC's `MSIDBrokerOperationSignoutFromDeviceRequest`
/// (`jsonDictionary`), which the extension parses with `initWithJSONDictionary:`: that parser
/// **requires** `authority` (through `provider_type`) and `redirect_uri`, and its base class
/// `MSIDBrokerOperationRemoveAccountRequest` the account (`home_account_id`/`username`) and
/// `client_id`. `authority` is usually [`sign_out_authority`].
pub fn encode_sign_out(
    client_id: &str,
    authority: &str,
    redirect_uri: &str,
    account: &BrokerAccount,
    correlation_id: &str,
) -> Result<MacSsoRequest, BrokerError> {
    let mut options = base_options(correlation_id)?;
    options.insert("client_id".into(), client_id.to_string());
    options.insert("authority".into(), authority.to_string());
    options.insert("redirect_uri".into(), redirect_uri.to_string());
    options.insert("provider_type".into(), PROVIDER_TYPE_AAD_V2.into());
    options.insert("home_account_id".into(), account.home_account_id.clone());
    options.insert("username".into(), account.username.clone());
    options.insert("signout_from_browser".into(), "0".into());
    options.insert("clear_sso_extension_cookies".into(), "0".into());
    options.insert("wipe_account".into(), "0".into());
    options.insert("wipe_cache_all_accounts".into(), "0".into());
    Ok(MacSsoRequest {
        operation: MacOperation::SignOut,
        options,
    })
}

fn get<'a>(headers: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    headers
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// A positive number of seconds; MSAL ObjC writes `"0"` for an unset expiry, which is treated
/// as absent.
fn parse_i64(headers: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, BrokerError> {
    let parsed = parse_number(headers, key)?;
    Ok(parsed.filter(|n| *n > 0))
}

fn parse_number(headers: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, BrokerError> {
    match get(headers, key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Some(f as i64))
            .ok_or_else(|| malformed(format!("`{key}` is not a number"))),
    }
}

fn malformed(what: impl std::fmt::Display) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::MacOs,
        BrokerStatus::Unexpected,
        format!("the SSO extension sent a malformed answer: {what}"),
    )
}

/// The error a `success:"0"` answer carries (`error`, `error_description`, `error_codes`).
fn answer_error(headers: &BTreeMap<String, String>) -> BrokerError {
    let error = get(headers, "error").unwrap_or("unknown_error");
    let description = get(headers, "error_description").unwrap_or("(no description)");
    let code = get(headers, "error_codes")
        .and_then(|codes| {
            codes
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|s| s.parse::<i64>().ok())
        })
        .unwrap_or(0);
    let status = match error {
        "interaction_required" | "invalid_grant" | "consent_required" | "login_required" => {
            BrokerStatus::InteractionRequired
        }
        "invalid_client" | "unauthorized_client" => BrokerStatus::IncorrectConfiguration,
        "temporarily_unavailable" | "server_error" => BrokerStatus::ServerTemporarilyUnavailable,
        "access_denied" => BrokerStatus::UserCanceled,
        _ => BrokerStatus::Unexpected,
    };
    let mut e = BrokerError::new(
        BrokerPlatform::MacOs,
        status,
        format!("{error}: {description}"),
    );
    e.error_code = code;
    e
}

fn check_success(headers: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    match get(headers, "success") {
        Some("1") | Some("true") => Ok(()),
        Some(_) => Err(answer_error(headers)),
        None if get(headers, "error").is_some() => Err(answer_error(headers)),
        None => Err(malformed("no `success` key")),
    }
}

/// Decodes the answer to a `login` or `refresh` request. `now` is the current Unix time (for
/// `expires_in`).
pub fn decode_token_response(
    headers: &BTreeMap<String, String>,
    now: i64,
) -> Result<BrokerTokenResponse, BrokerError> {
    check_success(headers)?;
    let access_token = get(headers, "access_token")
        .ok_or_else(|| malformed("no `access_token`"))?
        .to_string();
    let expires_on = match (
        parse_i64(headers, "expires_on")?,
        parse_i64(headers, "expires_in")?,
    ) {
        (Some(on), _) => on,
        (None, Some(secs)) => now.saturating_add(secs),
        (None, None) => return Err(malformed("neither `expires_on` nor `expires_in`")),
    };
    let ext_expires_on = match (
        parse_i64(headers, "ext_expires_on")?,
        parse_i64(headers, "ext_expires_in")?,
    ) {
        (Some(on), _) => Some(on),
        (None, Some(secs)) => Some(now.saturating_add(secs)),
        (None, None) => None,
    };
    let token_type = match get(headers, "token_type") {
        None => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("bearer") => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("pop") => BrokerTokenType::Pop,
        Some(t) => return Err(malformed(format!("unknown `token_type` {t:?}"))),
    };
    let granted_scopes = get(headers, "scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let id_token = get(headers, "id_token").map(str::to_string);
    let client_info = get(headers, "client_info").map(str::to_string);
    // MSAL ObjC rejects a successful token answer without an authority; so do we.
    let authority = Some(
        get(headers, "authority")
            .ok_or_else(|| malformed("no `authority` in a successful answer"))?
            .to_string(),
    );
    let account = account_from_tokens(
        client_info.as_deref(),
        id_token.as_deref(),
        authority.as_deref(),
    );
    Ok(BrokerTokenResponse {
        access_token,
        token_type,
        expires_on,
        ext_expires_on,
        id_token,
        client_info,
        granted_scopes,
        account,
        authority,
    })
}

/// The account a token answer is for, from its client info and id token. `None` when neither
/// names the user's home account.
pub fn account_from_tokens(
    client_info: Option<&str>,
    id_token: Option<&str>,
    authority: Option<&str>,
) -> Option<BrokerAccount> {
    let claims = id_token.and_then(jwt_claims).unwrap_or_default();
    let info = client_info.and_then(decode_json_object);
    let home_account_id = match &info {
        Some(info) => format!("{}.{}", claim_text(info, "uid")?, claim_text(info, "utid")?),
        None => format!(
            "{}.{}",
            claim_text(&claims, "oid")?,
            claim_text(&claims, "tid")?
        ),
    };
    let environment = authority
        .and_then(|a| url::Url::parse(a).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "login.microsoftonline.com".to_string());
    let realm = claim_text(&claims, "tid")
        .or_else(|| home_account_id.split('.').nth(1).map(str::to_string))
        .unwrap_or_default();
    let local_account_id = claim_text(&claims, "oid")
        .or_else(|| claim_text(&claims, "sub"))
        .unwrap_or_else(|| home_account_id.split('.').next().unwrap_or("").to_string());
    let username = claim_text(&claims, "preferred_username")
        .or_else(|| claim_text(&claims, "upn"))
        .or_else(|| claim_text(&claims, "email"))
        .unwrap_or_default();
    Some(BrokerAccount {
        account_id: home_account_id.clone(),
        home_account_id,
        local_account_id,
        environment,
        realm,
        username,
        name: claim_text(&claims, "name"),
        client_info: client_info.map(str::to_string),
        raw: Value::Object(claims),
    })
}

fn account_from_json(object: &Map<String, Value>) -> Option<BrokerAccount> {
    let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::to_string);
    // An empty id names no account (a fuzzing finding: it was kept as an account with id "").
    let home_account_id = text("home_account_id").filter(|id| !id.trim().is_empty())?;
    let realm = text("realm")
        .or_else(|| home_account_id.split('.').nth(1).map(str::to_string))
        .unwrap_or_default();
    Some(BrokerAccount {
        account_id: home_account_id.clone(),
        local_account_id: text("local_account_id")
            .unwrap_or_else(|| home_account_id.split('.').next().unwrap_or("").to_string()),
        environment: text("environment").unwrap_or_else(|| "login.microsoftonline.com".into()),
        realm,
        username: text("username").unwrap_or_default(),
        name: text("name"),
        client_info: text("client_info"),
        home_account_id,
        raw: Value::Object(object.clone()),
    })
}

/// Decodes the answer to `get_accounts_operation`: `accounts` is a JSON string holding an array
/// of accounts (entries without a `home_account_id` are skipped).
pub fn decode_accounts(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<BrokerAccount>, BrokerError> {
    check_success(headers)?;
    let Some(json) = get(headers, "accounts") else {
        return Ok(Vec::new());
    };
    let value: Value = serde_json::from_str(json)
        .map_err(|e| malformed(format!("`accounts` is not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(malformed("`accounts` is not a JSON array"));
    };
    Ok(items
        .iter()
        .filter_map(Value::as_object)
        .filter_map(account_from_json)
        .collect())
}

/// Decodes the answer to a sign-out request.
pub fn decode_sign_out(headers: &BTreeMap<String, String>) -> Result<(), BrokerError> {
    check_success(headers)
}

/// Classifies an `NSError` from `authorizationController:didCompleteWithError:`.
///
/// `ASAuthorizationErrorDomain` 1001 is a cancel, 1005 needs interaction, 1003 means no
/// extension handled the request (so the broker is missing), -6000 wraps the extension's own
/// error in `NSUnderlyingErrorKey`, which is classified by its MSAL code.
pub fn classify_ns_error(error: &NsErrorInfo) -> BrokerError {
    if error.domain == AS_AUTHORIZATION_ERROR_DOMAIN {
        let (status, what) = match error.code {
            AS_ERROR_CANCELED => (BrokerStatus::UserCanceled, "the user canceled the sign-in"),
            AS_ERROR_NOT_INTERACTIVE => (
                BrokerStatus::InteractionRequired,
                "the SSO extension needs to show UI; sign in interactively",
            ),
            AS_ERROR_NOT_HANDLED => (
                BrokerStatus::RequiredBrokerMissing,
                "no SSO extension handled the request; install Company Portal and its SSO \
                 extension profile, or sign in through the browser",
            ),
            SSO_EXTENSION_UNDERLYING_ERROR => match &error.underlying {
                Some(underlying) => return classify_underlying(underlying),
                None => (
                    BrokerStatus::Unexpected,
                    "the SSO extension failed without saying why",
                ),
            },
            _ => (BrokerStatus::Unexpected, "the SSO extension request failed"),
        };
        let mut e = BrokerError::new(
            BrokerPlatform::MacOs,
            status,
            format!("{what} (Domain: {}, code {})", error.domain, error.code),
        );
        e.error_code = error.code;
        return e;
    }
    classify_underlying(error)
}

/// The status of an error in common-core's domains (`MSIDErrorDomain`, `MSIDOAuthErrorDomain`,
/// `MSIDHttpErrorCodeDomain`, with or without msalruntime's `MSAI` prefix). Codes from
/// AzureAD/microsoft-authentication-library-common-for-objc `IdentityCore/src/MSIDError.h`
/// (`MSIDErrorCode`).
fn msid_status(code: i64, oauth_error: Option<&str>) -> BrokerStatus {
    match (code, oauth_error) {
        // MSIDErrorServerInvalidClient, MSIDErrorServerUnauthorizedClient.
        (MSID_INVALID_CLIENT | -51414, _) | (_, Some("invalid_client" | "unauthorized_client")) => {
            BrokerStatus::IncorrectConfiguration
        }
        // MSIDErrorRedirectSchemeNotRegistered, MSIDErrorInvalidRedirectURI.
        (-51118 | -51119, _) => BrokerStatus::IncorrectConfiguration,
        // MSIDErrorInvalidInternalParameter, MSIDErrorInvalidDeveloperParameter.
        (-51111 | -51112, _) => BrokerStatus::ApiContractViolation,
        // MSIDErrorMissingAccountParameter, MSIDErrorInteractionRequired,
        // MSIDErrorServerInvalidGrant, MSIDErrorServerDeclinedScopes,
        // MSIDErrorServerProtectionPoliciesRequired (Company Portal remediates in its UI).
        (-51113 | -51115 | -51412 | -51415 | -51430, _)
        | (
            _,
            Some("invalid_grant" | "interaction_required" | "consent_required" | "login_required"),
        ) => BrokerStatus::InteractionRequired,
        // MSIDErrorUserCancel, MSIDErrorServerAccessDenied.
        (-51700 | -51416, _) | (_, Some("access_denied")) => BrokerStatus::UserCanceled,
        // MSIDErrorSessionCanceledProgrammatically.
        (-51701, _) => BrokerStatus::ApplicationCanceled,
        // MSIDErrorServerError, MSIDErrorServerUnhandledResponse, MSIDErrorUnexpectedHttpResponse.
        (-51417 | -51500 | -51501, _) | (_, Some("server_error" | "temporarily_unavailable")) => {
            BrokerStatus::ServerTemporarilyUnavailable
        }
        // MSIDErrorMDMEnrollmentCompletedNeedsRetry: enrolment just finished, ask again.
        (-51733, _) => BrokerStatus::TransientError,
        // MSIDErrorWorkplaceJoinRequired.
        (-51810, _) => BrokerStatus::DeviceNotRegistered,
        // MSIDErrorBrokerNotAvailable.
        (-51814, _) => BrokerStatus::RequiredBrokerMissing,
        // MSIDErrorInternal, MSIDErrorSSOExtensionUnexpectedError (-51815) and the rest.
        _ => BrokerStatus::Unexpected,
    }
}

/// The status of an error in MSAL's public domain (`MSALErrorDomain`). Codes from
/// AzureAD/microsoft-authentication-library-for-objc `MSAL/src/public/MSALError.h`
/// (`MSALError`; the older `MSALErrorCode` numbering for the -42xxx codes).
fn msal_status(code: i64) -> BrokerStatus {
    match code {
        // MSALErrorWorkplaceJoinRequired.
        -50001 => BrokerStatus::DeviceNotRegistered,
        // MSALErrorInteractionRequired, MSALErrorServerDeclinedScopes,
        // MSALErrorServerProtectionPoliciesRequired, the older MSALErrorInteractionRequired.
        -50002 | -50003 | -50004 | -42100 => BrokerStatus::InteractionRequired,
        // MSALErrorUserCanceled.
        -50005 => BrokerStatus::UserCanceled,
        // MSALErrorServerError.
        -50006 => BrokerStatus::ServerTemporarilyUnavailable,
        // MSALInternalErrorInvalidParameter (MSALErrorInvalidParameter before).
        -42000 => BrokerStatus::ApiContractViolation,
        // MSALErrorInternal and the rest.
        _ => BrokerStatus::Unexpected,
    }
}

/// The status of a Foundation networking error (`NSURLErrorDomain`): no connection at all is
/// `NoNetwork`, anything else on the way a temporary network failure. Both are transient.
fn url_status(code: i64) -> BrokerStatus {
    match code {
        // NSURLErrorNotConnectedToInternet, NSURLErrorInternationalRoamingOff,
        // NSURLErrorDataNotAllowed.
        -1009 | -1018 | -1020 => BrokerStatus::NoNetwork,
        _ => BrokerStatus::NetworkTemporarilyUnavailable,
    }
}

/// What to do about a status, appended to the error's context where the code alone is terse.
fn status_hint(status: BrokerStatus) -> Option<&'static str> {
    match status {
        BrokerStatus::DeviceNotRegistered => Some(
            "the device must be registered with Microsoft Entra ID: sign in to Company Portal, \
             then retry",
        ),
        BrokerStatus::TransientError => Some("retry the request"),
        _ => None,
    }
}

fn classify_underlying(error: &NsErrorInfo) -> BrokerError {
    let oauth_error = error
        .user_info
        .get(MSID_OAUTH_ERROR_KEY)
        .or_else(|| error.user_info.get(MSAL_OAUTH_ERROR_KEY))
        .map(String::as_str);
    let description = error
        .user_info
        .get(MSID_ERROR_DESCRIPTION_KEY)
        .or_else(|| error.user_info.get(MSAL_ERROR_DESCRIPTION_KEY))
        .or_else(|| error.user_info.get("NSLocalizedDescription"))
        .map(String::as_str)
        .unwrap_or("(pii)");
    let domain = error.domain.as_str();
    let status = if domain.ends_with(MSID_OAUTH_ERROR_DOMAIN_SUFFIX)
        || domain.ends_with(MSID_ERROR_DOMAIN_SUFFIX)
    {
        msid_status(error.code, oauth_error)
    } else if domain.ends_with(MSID_HTTP_ERROR_DOMAIN_SUFFIX) {
        BrokerStatus::ServerTemporarilyUnavailable
    } else if domain.ends_with(MSAL_ERROR_DOMAIN_SUFFIX) {
        match msal_status(error.code) {
            BrokerStatus::Unexpected => msid_status(error.code, oauth_error),
            status => status,
        }
    } else if domain == NS_URL_ERROR_DOMAIN {
        url_status(error.code)
    } else {
        BrokerStatus::Unexpected
    };
    let mut context = format!("{description}, Domain: {domain}");
    if let Some(oauth_error) = oauth_error {
        context.push_str(&format!(", OAuth error: {oauth_error}"));
    }
    if let Some(sub) = error.user_info.get(MSID_OAUTH_SUB_ERROR_KEY) {
        context.push_str(&format!(", sub-error: {sub}"));
    }
    if let Some(hint) = status_hint(status) {
        context.push_str(&format!("; {hint}"));
    }
    let mut e = BrokerError::new(BrokerPlatform::MacOs, status, context);
    e.error_code = error.code;
    e
}

/// The `Info.plist` of the app bundle an executable lives in (`X.app/Contents/MacOS/exe` ⇒
/// `X.app/Contents/Info.plist`); `None` for an executable outside a bundle (a command-line tool).
pub fn bundle_info_plist_for_executable(executable: &Path) -> Option<PathBuf> {
    let macos_dir = executable.parent()?;
    let contents = macos_dir.parent()?;
    let bundle = contents.parent()?;
    let is_bundle = macos_dir.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && bundle.extension().is_some_and(|e| e == "app");
    is_bundle.then(|| contents.join("Info.plist"))
}

/// `CFBundleIdentifier` from the text of an XML `Info.plist`; `None` when absent or when the
/// plist is binary.
pub fn bundle_id_from_info_plist(xml: &str) -> Option<String> {
    let after_key = &xml[xml.find("<key>CFBundleIdentifier</key>")? + 29..];
    let rest = after_key.trim_start();
    let value = rest.strip_prefix("<string>")?;
    let id = &value[..value.find("</string>")?];
    let id = id.trim();
    (!id.is_empty() && !id.contains('$')).then(|| id.to_string())
}

/// The bundle id of the app bundle `executable` lives in, read from its `Info.plist`; `None`
/// outside a bundle (the redirect URI is then `msauth.com.msauth.unsignedapp://auth`).
pub fn bundle_id_for_executable(executable: &Path) -> Option<String> {
    let plist = bundle_info_plist_for_executable(executable)?;
    let text = std::fs::read_to_string(plist).ok()?;
    bundle_id_from_info_plist(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const CLIENT: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";
    const CORR: &str = "5a3f0c2e-1b4d-4e6f-8a9b-0c1d2e3f4a5b";

    fn account() -> BrokerAccount {
        BrokerAccount {
            account_id: "uid1.utid1".into(),
            home_account_id: "uid1.utid1".into(),
            local_account_id: "uid1".into(),
            environment: "login.microsoftonline.com".into(),
            realm: "utid1".into(),
            username: "alice@contoso.com".into(),
            name: None,
            client_info: None,
            raw: Value::Null,
        }
    }

    fn request() -> BrokerTokenRequest {
        BrokerTokenRequest {
            client_id: CLIENT.into(),
            authority: "https://login.microsoftonline.com/common".into(),
            scopes: vec!["User.Read".into(), "Mail.Read".into()],
            redirect_uri: "msauth.com.msauth.unsignedapp://auth".into(),
            correlation_id: CORR.into(),
            claims: None,
            account: None,
            login_hint: None,
            prompt: None,
            pop: None,
            username_password: None,
            extra_parameters: BTreeMap::new(),
            validate_authority: true,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn silent_request_dictionary() {
        // §7.15: the keys of MSAL ObjC's silent request (MSIDBrokerOperationSilentTokenRequestTests:
        // flat strings, claims as a JSON string, instance_aware "0"/"1", extra_query_param
        // form-encoded). broker_key is left out: it needs a keychain-entitled app.
        let mut r = request();
        r.account = Some(account());
        r.claims = Some(r#"{"id_token":{"nickname":null}}"#.into());
        r.extra_parameters.insert("qp1".into(), "value1".into());
        r.extra_parameters
            .insert("instance_aware".into(), "true".into());
        r.extra_parameters
            .insert("msal_client_sku".into(), "MSAL.Rust".into());
        let encoded = encode_silent(&r).unwrap();
        assert_eq!(encoded.operation.as_str(), "refresh");
        assert!(!encoded.operation.user_interface_enabled());
        let expected = map(&[
            ("msg_protocol_ver", "4"),
            ("correlation_id", "5A3F0C2E-1B4D-4E6F-8A9B-0C1D2E3F4A5B"),
            ("client_sdk", "sdk_msal"),
            ("client_version", env!("CARGO_PKG_VERSION")),
            ("authority", "https://login.microsoftonline.com/common"),
            ("client_id", CLIENT),
            ("redirect_uri", "msauth.com.msauth.unsignedapp://auth"),
            ("scope", "User.Read Mail.Read"),
            ("extra_oidc_scopes", "openid profile offline_access"),
            ("provider_type", "provider_aad_v2"),
            ("instance_aware", "1"),
            ("claims", r#"{"id_token":{"nickname":null}}"#),
            ("extra_query_param", "qp1=value1"),
            ("home_account_id", "uid1.utid1"),
            ("username", "alice@contoso.com"),
        ]);
        assert_eq!(encoded.options, expected);
        // The username never shows in Debug.
        assert!(!format!("{encoded:?}").contains("alice"));
    }

    #[test]
    fn a_silent_request_without_account_or_hint_never_reaches_the_extension() {
        // M3. AzureAD/microsoft-authentication-library-common-for-objc
        // IdentityCore/src/broker_operation/request/silent_token_request/
        // MSIDBrokerOperationSilentTokenRequest.m `initWithJSONDictionary:error:` builds an
        // MSIDAccountIdentifier, and IdentityCore/src/oauth2/account/MSIDAccountIdentifier.m
        // `initWithJSONDictionary:error:` fails with MSIDErrorInvalidInternalParameter (-51111)
        // when both `username` (MSID_ACCOUNT_DISPLAYABLE_ID_JSON_KEY) and `home_account_id`
        // (MSID_ACCOUNT_HOME_ID_JSON_KEY) are missing. Such a request is answered locally as
        // "interaction required", so interactive sign-in goes straight to `login`.
        let e = encode_silent(&request()).unwrap_err();
        assert_eq!(e.status, BrokerStatus::InteractionRequired);
        assert!(e.status.requires_interaction());
        assert_eq!(e.platform, BrokerPlatform::MacOs);
        let mut blank = request();
        blank.login_hint = Some("  ".into());
        assert_eq!(
            encode_silent(&blank).unwrap_err().status,
            BrokerStatus::InteractionRequired
        );

        // A login hint alone is an account identifier the parser accepts (`username` only).
        let mut hinted = request();
        hinted.login_hint = Some("bob@contoso.com".into());
        let encoded = encode_silent(&hinted).unwrap();
        assert_eq!(encoded.operation, MacOperation::Refresh);
        assert_eq!(encoded.options["username"], "bob@contoso.com");
        assert!(!encoded.options.contains_key("home_account_id"));
        assert!(!encoded.options.contains_key("claims"));
        assert!(!encoded.options.contains_key("extra_query_param"));
        assert_eq!(encoded.options["instance_aware"], "0");
        assert_eq!(encoded.options.len(), 12);
        // The other refusals come first (a username/password request is not "needs UI").
        let mut ropc = request();
        ropc.username_password = Some(("u".into(), crate::broker::BrokerPassword("p".into())));
        assert_eq!(
            encode_silent(&ropc).unwrap_err().status,
            BrokerStatus::FallbackToNativeMsal
        );
    }

    #[test]
    fn interactive_request_uses_login_hint_and_prompt() {
        let mut r = request();
        r.login_hint = Some("bob@contoso.com".into());
        r.prompt = Some("select_account".into());
        r.extra_parameters.insert("max_age".into(), "0".into());
        r.extra_parameters.insert("a b".into(), "c&d".into());
        let encoded = encode_interactive(&r).unwrap();
        assert_eq!(encoded.operation.as_str(), "login");
        assert!(encoded.operation.user_interface_enabled());
        assert_eq!(encoded.options["username"], "bob@contoso.com");
        assert_eq!(encoded.options["prompt"], "select_account");
        assert_eq!(encoded.options["extra_query_param"], "a+b=c%26d&max_age=0");
        assert!(!encoded.options.contains_key("home_account_id"));
    }

    #[test]
    fn accounts_and_sign_out_requests() {
        let get = encode_get_accounts(CLIENT, CORR).unwrap();
        assert_eq!(get.operation.as_str(), "get_accounts_operation");
        assert!(!get.operation.user_interface_enabled());
        assert_eq!(get.options["client_id"], CLIENT);
        assert_eq!(get.options["msg_protocol_ver"], "4");
    }

    #[test]
    fn sign_out_carries_the_keys_the_extension_requires() {
        // M5. AzureAD/microsoft-authentication-library-common-for-objc
        // IdentityCore/src/broker_operation/request/account_request/
        // MSIDBrokerOperationSignoutFromDeviceRequest.m: `initWithJSONDictionary:error:` requires
        // the authority (MSIDAuthority from `provider_type`, key MSID_AUTHORITY_URL_JSON_KEY
        // "authority") and `redirect_uri`; `jsonDictionary` writes `provider_type`,
        // `signout_from_browser`, `clear_sso_extension_cookies`, `wipe_account` and
        // `wipe_cache_all_accounts` as "0"/"1"; its superclass MSIDBrokerOperationRemoveAccountRequest
        // adds `client_id` and the account identifier. IdentityCore/src/requests/broker/
        // MSIDSSOExtensionSignoutRequest.m `executeRequestWithCompletion:` sends it with
        // `setRequiresUI:NO`.
        let authority = sign_out_authority(&account());
        assert_eq!(authority, "https://login.microsoftonline.com/utid1");
        let out = encode_sign_out(CLIENT, &authority, MAC_UNSIGNED, &account(), CORR).unwrap();
        assert_eq!(out.operation.as_str(), "signout_account_operation");
        assert!(!out.operation.user_interface_enabled());
        let keys: Vec<&str> = out.options.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "authority",
                "clear_sso_extension_cookies",
                "client_id",
                "client_sdk",
                "client_version",
                "correlation_id",
                "home_account_id",
                "msg_protocol_ver",
                "provider_type",
                "redirect_uri",
                "signout_from_browser",
                "username",
                "wipe_account",
                "wipe_cache_all_accounts",
            ]
        );
        assert_eq!(
            out.options["authority"],
            "https://login.microsoftonline.com/utid1"
        );
        assert_eq!(out.options["home_account_id"], "uid1.utid1");
        assert_eq!(out.options["provider_type"], "provider_aad_v2");
        assert_eq!(out.options["redirect_uri"], MAC_UNSIGNED);
        for flag in [
            "signout_from_browser",
            "clear_sso_extension_cookies",
            "wipe_account",
            "wipe_cache_all_accounts",
        ] {
            assert_eq!(out.options[flag], "0", "{flag}");
        }
        // Another cloud and an account without a realm.
        let mut other = account();
        other.environment = "login.microsoftonline.us".into();
        other.realm = String::new();
        assert_eq!(
            sign_out_authority(&other),
            "https://login.microsoftonline.us/common"
        );
    }

    const MAC_UNSIGNED: &str = "msauth.com.msauth.unsignedapp://auth";

    #[test]
    fn bad_requests_are_typed_errors() {
        let mut r = request();
        r.correlation_id = "not-a-uuid".into();
        assert_eq!(
            encode_silent(&r).unwrap_err().status,
            BrokerStatus::ApiContractViolation
        );
        let mut r = request();
        r.scopes.clear();
        assert!(encode_interactive(&r).is_err());
        let mut r = request();
        r.username_password = Some(("u".into(), crate::broker::BrokerPassword("p".into())));
        assert_eq!(
            encode_interactive(&r).unwrap_err().status,
            BrokerStatus::FallbackToNativeMsal
        );
    }

    #[test]
    fn pop_and_ssh_certificate_keys() {
        // AzureAD/microsoft-authentication-library-common-for-objc
        // IdentityCore/src/auth_scheme/MSIDAuthenticationSchemePop.m jsonDictionary
        // (token_type = MSIDAuthSchemeParamFromType(MSIDAuthSchemePop), req_cnf) and
        // MSIDAuthenticationSchemeSshCert.m jsonDictionary (token_type=ssh-cert, req_cnf,
        // key_id): top-level keys of the request, not query parameters.
        let mut r = request();
        r.pop = Some(crate::broker::PopParams {
            http_method: "GET".into(),
            uri_host: "graph.microsoft.com".into(),
            uri_path: "/v1.0/me".into(),
            nonce: None,
        });
        assert_eq!(
            encode_silent(&r).unwrap_err().status,
            BrokerStatus::ApiContractViolation
        );
        r.extra_parameters.insert("token_type".into(), "pop".into());
        r.extra_parameters
            .insert("req_cnf".into(), "eyJraWQiOiJrMSJ9".into());
        let encoded = encode_interactive(&r).unwrap();
        assert_eq!(encoded.options["token_type"], "Pop");
        assert_eq!(encoded.options["req_cnf"], "eyJraWQiOiJrMSJ9");
        assert!(!encoded.options.contains_key("extra_query_param"));

        // A silent request names its user (M3: no account-less refresh reaches the extension).
        let mut r = request();
        r.login_hint = Some("bob@contoso.com".into());
        r.extra_parameters
            .insert("token_type".into(), "ssh-cert".into());
        r.extra_parameters.insert(
            "req_cnf".into(),
            r#"{"kty":"RSA","n":"x","e":"AQAB","kid":"k1"}"#.into(),
        );
        r.extra_parameters.insert("key_id".into(), "k1".into());
        r.extra_parameters.insert("max_age".into(), "0".into());
        let encoded = encode_silent(&r).unwrap();
        assert_eq!(encoded.options["token_type"], "ssh-cert");
        assert_eq!(encoded.options["key_id"], "k1");
        assert!(encoded.options["req_cnf"].contains("\"kid\":\"k1\""));
        assert_eq!(encoded.options["extra_query_param"], "max_age=0");
        r.extra_parameters.remove("key_id");
        assert!(encode_silent(&r).is_err());
    }

    fn jwt(claims: Value) -> String {
        format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        )
    }

    #[test]
    fn token_response_dictionary() {
        // §7.16: MSIDBrokerOperationTokenResponseTests' success dictionary.
        let client_info = URL_SAFE_NO_PAD.encode(br#"{"uid":"uid1","utid":"utid1"}"#);
        let id_token = jwt(
            json!({"oid":"uid1","tid":"utid1","preferred_username":"alice@contoso.com","name":"Alice"}),
        );
        let headers = map(&[
            ("operation", "login"),
            ("operation_response_type", "operation_token_response"),
            ("success", "1"),
            ("provider_type", "provider_aad_v2"),
            ("token_type", "Bearer"),
            ("access_token", "AT"),
            ("expires_in", "300"),
            ("ext_expires_in", "600"),
            ("scope", "User.Read openid"),
            ("authority", "https://login.microsoftonline.com/utid1"),
            ("client_info", &client_info),
            ("id_token", &id_token),
            ("additional_token_reponse", "{\"x\":1}"),
            ("device_mode", "personal"),
            ("wpj_status", "notJoined"),
        ]);
        let token = decode_token_response(&headers, 1_700_000_000).unwrap();
        assert_eq!(token.access_token, "AT");
        assert_eq!(token.token_type, BrokerTokenType::Bearer);
        assert_eq!(token.expires_on, 1_700_000_300);
        assert_eq!(token.ext_expires_on, Some(1_700_000_600));
        assert_eq!(token.granted_scopes, ["User.Read", "openid"]);
        let account = token.account.clone().unwrap();
        assert_eq!(account.home_account_id, "uid1.utid1");
        assert_eq!(account.username, "alice@contoso.com");
        assert_eq!(account.realm, "utid1");
        assert_eq!(account.environment, "login.microsoftonline.com");
        assert!(!format!("{token:?}").contains("AT\""));

        // expires_on wins over expires_in; pop is recognised.
        let mut h = headers.clone();
        h.insert("expires_on".into(), "1900000000".into());
        h.insert("token_type".into(), "pop".into());
        let token = decode_token_response(&h, 0).unwrap();
        assert_eq!(token.expires_on, 1_900_000_000);
        assert_eq!(token.token_type, BrokerTokenType::Pop);
    }

    #[test]
    fn msal_objc_token_response_vector() {
        // MSIDBrokerOperationTokenResponseTests, all properties set (18 keys): unset expiries
        // are written as "0" and must not win over expires_in.
        let id_token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6Il9raWRfdmFsdWUifQ.eyJpc3MiOiJpc3N1ZXIiLCJuYW1lIjoiVGVzdCBuYW1lIiwicHJlZmVycmVkX3VzZXJuYW1lIjoidXNlckBjb250b3NvLmNvbSIsInN1YiI6InN1YiJ9.eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6Il9raWRfdmFsdWUifQ";
        let additional = format!(
            "{{\"token_type\":\"Bearer\",\"scope\":\"scope 1\",\"ext_expires_in\":\"0\",\"provider_type\":\"provider_aad_v2\",\"ext_expires_on\":\"0\",\"expires_on\":\"0\",\"id_token\":\"{id_token}\",\"access_token\":\"access_token\",\"expires_in\":\"300\"}}"
        );
        let headers = map(&[
            ("access_token", "access_token"),
            ("authority", "https://login.microsoftonline.com/common"),
            ("client_app_version", "1.0"),
            ("expires_in", "300"),
            ("expires_on", "0"),
            ("ext_expires_in", "0"),
            ("ext_expires_on", "0"),
            ("id_token", id_token),
            ("operation", "login"),
            ("operation_response_type", "operation_token_response"),
            ("provider_type", "provider_aad_v2"),
            ("scope", "scope 1"),
            ("success", "1"),
            ("token_type", "Bearer"),
            ("additional_token_reponse", &additional),
            ("device_mode", "personal"),
            ("sso_extension_mode", "full"),
            ("wpj_status", "notJoined"),
        ]);
        assert_eq!(headers.len(), 18);
        let token = decode_token_response(&headers, 1_000).unwrap();
        assert_eq!(token.access_token, "access_token");
        assert_eq!(token.expires_on, 1_300);
        assert_eq!(token.ext_expires_on, None);
        assert_eq!(token.granted_scopes, ["scope", "1"]);
        assert_eq!(token.id_token.as_deref(), Some(id_token));
        // No client info and no oid/tid in that id token: no account to report.
        assert!(token.account.is_none());

        // The failure variant (success "0") is an error even though it carries a token.
        let mut failed = headers.clone();
        failed.insert("success".into(), "0".into());
        failed.remove("authority");
        assert!(decode_token_response(&failed, 0).is_err());
        // A success without an authority is rejected, as MSAL ObjC does.
        let mut no_authority = headers;
        no_authority.remove("authority");
        assert!(decode_token_response(&no_authority, 0).is_err());
    }

    #[test]
    fn failed_and_malformed_token_responses() {
        let failed = map(&[
            ("operation", "refresh"),
            ("success", "0"),
            ("error", "invalid_grant"),
            ("error_description", "AADSTS50076: MFA required"),
            ("error_codes", "[50076]"),
        ]);
        let e = decode_token_response(&failed, 0).unwrap_err();
        assert_eq!(e.status, BrokerStatus::InteractionRequired);
        assert_eq!(e.error_code, 50076);
        assert!(e.context.contains("AADSTS50076"));

        let redirect = map(&[
            ("success", "0"),
            ("error", "invalid_client"),
            ("error_description", "AADSTS50011: The redirect URI ..."),
        ]);
        let e = decode_token_response(&redirect, 0).unwrap_err();
        assert!(e.is_redirect_uri_mismatch());

        for bad in [
            map(&[("success", "1")]),
            map(&[("success", "1"), ("access_token", "AT")]),
            map(&[
                ("success", "1"),
                ("access_token", "AT"),
                ("expires_in", "soon"),
            ]),
            map(&[
                ("success", "1"),
                ("access_token", "AT"),
                ("expires_in", "1"),
                ("token_type", "mac"),
            ]),
            map(&[]),
        ] {
            let e = decode_token_response(&bad, 0).unwrap_err();
            assert_eq!(e.platform, BrokerPlatform::MacOs);
        }
    }

    #[test]
    fn accounts_answer_is_a_json_string() {
        let accounts = json!([
            {"home_account_id":"uid1.utid1","environment":"login.microsoftonline.com","realm":"utid1","local_account_id":"uid1","username":"alice@contoso.com","name":"Alice"},
            {"username":"no-home-id"},
            {"home_account_id":"","username":"empty-home-id"},
            {"home_account_id":" ","username":"blank-home-id"}
        ])
        .to_string();
        let headers = map(&[
            ("operation_response_type", "operation_get_accounts_response"),
            ("success", "1"),
            ("accounts", &accounts),
        ]);
        let decoded = decode_accounts(&headers).unwrap();
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0].home_account_id, "uid1.utid1");
        assert_eq!(decoded[0].account_id, "uid1.utid1");
        assert_eq!(decoded[0].name.as_deref(), Some("Alice"));
        assert!(
            decode_accounts(&map(&[("success", "1")]))
                .unwrap()
                .is_empty()
        );
        assert!(decode_accounts(&map(&[("success", "1"), ("accounts", "{")])).is_err());
        assert!(decode_accounts(&map(&[("success", "1"), ("accounts", "{}")])).is_err());
        assert!(decode_sign_out(&map(&[("success", "1")])).is_ok());
        assert!(decode_sign_out(&map(&[("success", "0")])).is_err());
    }

    fn as_error(code: i64, underlying: Option<NsErrorInfo>) -> NsErrorInfo {
        NsErrorInfo {
            domain: AS_AUTHORIZATION_ERROR_DOMAIN.into(),
            code,
            user_info: BTreeMap::new(),
            underlying: underlying.map(Box::new),
        }
    }

    #[test]
    fn ns_errors_are_classified() {
        // §7.17.
        assert_eq!(
            classify_ns_error(&as_error(1001, None)).status,
            BrokerStatus::UserCanceled
        );
        assert_eq!(
            classify_ns_error(&as_error(1005, None)).status,
            BrokerStatus::InteractionRequired
        );
        assert_eq!(
            classify_ns_error(&as_error(1003, None)).status,
            BrokerStatus::RequiredBrokerMissing
        );
        let bare = classify_ns_error(&as_error(-6000, None));
        assert_eq!(bare.status, BrokerStatus::Unexpected);
        assert_eq!(bare.error_code, -6000);
        assert!(!bare.is_redirect_uri_mismatch());

        let underlying = NsErrorInfo {
            domain: "MSAIMSIDOAuthErrorDomain".into(),
            code: -51411,
            user_info: map(&[
                ("MSIDOAuthErrorKey", "invalid_client"),
                (
                    "MSIDErrorDescriptionKey",
                    "AADSTS50011: The redirect URI 'msauth.com.microsoft.VSCode.helper://auth' \
                     specified in the request does not match",
                ),
            ]),
            underlying: None,
        };
        let e = classify_ns_error(&as_error(-6000, Some(underlying.clone())));
        assert_eq!(e.status, BrokerStatus::IncorrectConfiguration);
        assert_eq!(e.error_code, -51411);
        assert!(e.context.contains("AADSTS50011"));
        assert!(e.context.contains("MSAIMSIDOAuthErrorDomain"));
        assert!(e.is_redirect_uri_mismatch());

        // The description hidden as (pii): -51411 alone still names the redirect URI.
        let mut hidden = underlying;
        hidden.user_info.clear();
        let e = classify_ns_error(&as_error(-6000, Some(hidden)));
        assert_eq!(e.context, "(pii), Domain: MSAIMSIDOAuthErrorDomain");
        assert!(e.is_redirect_uri_mismatch());

        let other = NsErrorInfo {
            domain: "MSIDErrorDomain".into(),
            code: -51115,
            ..Default::default()
        };
        assert_eq!(
            classify_ns_error(&as_error(-6000, Some(other))).status,
            BrokerStatus::InteractionRequired
        );
        let foreign = NsErrorInfo {
            domain: "NSCocoaErrorDomain".into(),
            code: 4,
            ..Default::default()
        };
        let e = classify_ns_error(&foreign);
        assert_eq!(e.status, BrokerStatus::Unexpected);
        assert_eq!(e.error_code, 4);
        assert!(!e.is_redirect_uri_mismatch());
    }

    fn underlying(domain: &str, code: i64, user_info: &[(&str, &str)]) -> NsErrorInfo {
        as_error(
            SSO_EXTENSION_UNDERLYING_ERROR,
            Some(NsErrorInfo {
                domain: domain.into(),
                code,
                user_info: map(user_info),
                underlying: None,
            }),
        )
    }

    #[test]
    fn needs_ui_answers_are_interaction_required_and_the_rest_is_classified() {
        // M6. Codes from AzureAD/microsoft-authentication-library-common-for-objc
        // IdentityCore/src/MSIDError.h (`MSIDErrorCode`) and
        // AzureAD/microsoft-authentication-library-for-objc MSAL/src/public/MSALError.h
        // (`MSALError`, `MSALInternalError`); the -6000 wrapper is
        // IdentityCore/src/requests/broker/MSIDSSOExtensionRequestDelegate.m
        // (MSIDSSOExtensionUnderlyingError). msalruntime prefixes the domains with `MSAI`.
        use BrokerStatus::*;
        let table: &[(&str, i64, BrokerStatus)] = &[
            // MSIDErrorMissingAccountParameter, MSIDErrorInteractionRequired.
            ("MSIDErrorDomain", -51113, InteractionRequired),
            ("MSAIMSIDErrorDomain", -51115, InteractionRequired),
            // MSIDErrorServerInvalidGrant, MSIDErrorServerDeclinedScopes,
            // MSIDErrorServerProtectionPoliciesRequired.
            ("MSIDOAuthErrorDomain", -51412, InteractionRequired),
            ("MSIDOAuthErrorDomain", -51415, InteractionRequired),
            ("MSAIMSIDOAuthErrorDomain", -51430, InteractionRequired),
            // MSIDErrorServerAccessDenied, MSIDErrorUserCancel,
            // MSIDErrorSessionCanceledProgrammatically.
            ("MSIDOAuthErrorDomain", -51416, UserCanceled),
            ("MSIDErrorDomain", -51700, UserCanceled),
            ("MSIDErrorDomain", -51701, ApplicationCanceled),
            // MSIDErrorMDMEnrollmentCompletedNeedsRetry.
            ("MSIDErrorDomain", -51733, TransientError),
            // MSIDErrorWorkplaceJoinRequired, MSIDErrorBrokerNotAvailable,
            // MSIDErrorSSOExtensionUnexpectedError, MSIDErrorInternal.
            ("MSIDErrorDomain", -51810, DeviceNotRegistered),
            ("MSIDErrorDomain", -51814, RequiredBrokerMissing),
            ("MSIDErrorDomain", -51815, Unexpected),
            ("MSIDErrorDomain", -51100, Unexpected),
            // MSIDErrorInvalidInternalParameter, MSIDErrorServerUnauthorizedClient,
            // MSIDErrorServerError.
            ("MSIDErrorDomain", -51111, ApiContractViolation),
            ("MSIDOAuthErrorDomain", -51414, IncorrectConfiguration),
            ("MSIDOAuthErrorDomain", -51417, ServerTemporarilyUnavailable),
            // MSIDHttpErrorCodeDomain: MSIDErrorServerUnhandledResponse.
            (
                "MSIDHttpErrorCodeDomain",
                -51500,
                ServerTemporarilyUnavailable,
            ),
            (
                "MSAIMSIDHttpErrorCodeDomain",
                503,
                ServerTemporarilyUnavailable,
            ),
            // MSALErrorDomain: MSALErrorInternal, MSALErrorWorkplaceJoinRequired,
            // MSALErrorInteractionRequired, MSALErrorServerDeclinedScopes,
            // MSALErrorServerProtectionPoliciesRequired, MSALErrorUserCanceled,
            // MSALErrorServerError, MSALInternalErrorInvalidParameter.
            ("MSALErrorDomain", -50000, Unexpected),
            ("MSALErrorDomain", -50001, DeviceNotRegistered),
            ("MSALErrorDomain", -50002, InteractionRequired),
            ("MSALErrorDomain", -50003, InteractionRequired),
            ("MSALErrorDomain", -50004, InteractionRequired),
            ("MSALErrorDomain", -50005, UserCanceled),
            ("MSALErrorDomain", -50006, ServerTemporarilyUnavailable),
            ("MSALErrorDomain", -42000, ApiContractViolation),
            // NSURLErrorDomain: NSURLErrorNotConnectedToInternet, NSURLErrorTimedOut,
            // NSURLErrorNetworkConnectionLost.
            ("NSURLErrorDomain", -1009, NoNetwork),
            ("NSURLErrorDomain", -1001, NetworkTemporarilyUnavailable),
            ("NSURLErrorDomain", -1005, NetworkTemporarilyUnavailable),
        ];
        for (domain, code, status) in table {
            let wrapped = classify_ns_error(&underlying(domain, *code, &[]));
            assert_eq!(wrapped.status, *status, "{domain} {code}");
            assert_eq!(wrapped.error_code, *code);
            assert_eq!(wrapped.platform, BrokerPlatform::MacOs);
            // The same error unwrapped (as some paths report it) is classified alike.
            let bare = classify_ns_error(&NsErrorInfo {
                domain: domain.to_string(),
                code: *code,
                ..Default::default()
            });
            assert_eq!(bare.status, *status, "{domain} {code} unwrapped");
        }
        // Network errors are transient; "needs UI" is what interactive sign-in continues on.
        assert!(
            classify_ns_error(&underlying("NSURLErrorDomain", -1009, &[]))
                .status
                .is_transient()
        );
        assert!(
            classify_ns_error(&underlying("MSALErrorDomain", -50002, &[]))
                .status
                .requires_interaction()
        );
        // The OAuth error decides when the code is a generic one (MSIDErrorServerOauth).
        for (oauth, status) in [
            ("interaction_required", InteractionRequired),
            ("login_required", InteractionRequired),
            ("consent_required", InteractionRequired),
            ("access_denied", UserCanceled),
            ("unauthorized_client", IncorrectConfiguration),
            ("temporarily_unavailable", ServerTemporarilyUnavailable),
        ] {
            let e = classify_ns_error(&underlying(
                "MSIDOAuthErrorDomain",
                -51400,
                &[("MSIDOAuthErrorKey", oauth)],
            ));
            assert_eq!(e.status, status, "{oauth}");
        }
        // MSAL's own userInfo keys are read too.
        let e = classify_ns_error(&underlying(
            "MSALErrorDomain",
            -50000,
            &[
                ("MSALOAuthErrorKey", "invalid_grant"),
                ("MSALErrorDescriptionKey", "AADSTS50076: MFA"),
            ],
        ));
        assert_eq!(e.status, InteractionRequired);
        assert!(e.context.contains("AADSTS50076"));
        // Device registration says what to do.
        let e = classify_ns_error(&underlying("MSIDErrorDomain", -51810, &[]));
        assert!(e.context.contains("Company Portal"), "{e}");
    }

    #[test]
    fn the_issue_seed_case_is_a_redirect_uri_error() {
        // tag=508170375 context=AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain
        // errorCode=-51411 status=Response_Status.Status_Unexpected
        let seed = BrokerError {
            platform: BrokerPlatform::MacOs,
            status: BrokerStatus::Unexpected,
            error_code: -51411,
            tag: 508170375,
            context: "AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain".into(),
            sub_status: None,
        };
        assert!(seed.is_redirect_uri_mismatch());
        let without_text = BrokerError {
            context: "Description: (pii), Domain: MSAIMSIDOAuthErrorDomain".into(),
            ..seed.clone()
        };
        assert!(without_text.is_redirect_uri_mismatch());
        let elsewhere = BrokerError {
            platform: BrokerPlatform::Windows,
            ..without_text
        };
        assert!(!elsewhere.is_redirect_uri_mismatch());
    }

    #[test]
    fn apple_silicon_only() {
        assert!(mac_broker_supported("aarch64"));
        assert!(mac_broker_supported("arm64"));
        assert!(!mac_broker_supported("x86_64"));
        assert!(!mac_broker_supported(""));
    }

    #[test]
    fn bundle_id_from_the_bundle_layout() {
        // §7.18.
        assert_eq!(
            bundle_info_plist_for_executable(Path::new(
                "/Applications/MyApp.app/Contents/MacOS/myapp"
            )),
            Some(PathBuf::from("/Applications/MyApp.app/Contents/Info.plist"))
        );
        assert_eq!(
            bundle_info_plist_for_executable(Path::new("/usr/local/bin/myapp")),
            None
        );
        assert_eq!(bundle_info_plist_for_executable(Path::new("myapp")), None);
        let plist = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>MyApp</string>
  <key>CFBundleIdentifier</key>
  <string>com.contoso.myapp</string>
</dict></plist>"#;
        let id = bundle_id_from_info_plist(plist).unwrap();
        assert_eq!(id, "com.contoso.myapp");
        assert_eq!(
            crate::broker::mac_redirect_uri(Some(&id)),
            "msauth.com.contoso.myapp://auth"
        );
        assert_eq!(bundle_id_from_info_plist("bplist00..."), None);
        assert_eq!(
            bundle_id_from_info_plist(
                "<key>CFBundleIdentifier</key><string>$(PRODUCT_BUNDLE_IDENTIFIER)</string>"
            ),
            None
        );

        let dir = tempfile::tempdir().unwrap();
        let contents = dir.path().join("My.app/Contents");
        std::fs::create_dir_all(contents.join("MacOS")).unwrap();
        std::fs::write(contents.join("Info.plist"), plist).unwrap();
        assert_eq!(
            bundle_id_for_executable(&contents.join("MacOS/my")).as_deref(),
            Some("com.contoso.myapp")
        );
        assert_eq!(bundle_id_for_executable(&dir.path().join("my")), None);
    }
}
