//! WAM's request and answer shapes, as pure functions: which account provider to ask, the
//! `WebTokenRequest` (scope, client id, prompt type, properties), the decoding of a
//! `WebTokenResponse` and of the MSA plugin's form-encoded token, and the classification of
//! `WebTokenRequestStatus` plus provider HRESULTs. Nothing here calls the OS.

use std::collections::BTreeMap;
use std::fmt;

use crate::broker::{
    BrokerAccount, BrokerError, BrokerPlatform, BrokerStatus, BrokerTokenRequest,
    BrokerTokenResponse, BrokerTokenType,
};

use super::super::macos::codec::account_from_tokens;

/// The id of the Microsoft account provider WAM finds for Entra ID and Microsoft accounts.
pub const WAM_PROVIDER_ID: &str = "https://login.microsoft.com";

/// The authority of the Entra ID (work and school) plugin.
pub const AAD_PROVIDER_AUTHORITY: &str = "organizations";

/// The authority of the Microsoft account plugin.
pub const MSA_PROVIDER_AUTHORITY: &str = "consumers";

/// The tenant of personal Microsoft accounts.
pub const MSA_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Seconds from 1601-01-01 (the Windows epoch) to 1970-01-01.
pub const WINDOWS_TO_UNIX_EPOCH_SECS: i64 = 11_644_473_600;

/// Which WAM plugin serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WamPlugin {
    /// Entra ID work and school accounts.
    Aad,
    /// Personal Microsoft accounts.
    Msa,
}

/// `WebTokenRequestPromptType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WamPrompt {
    /// Let WAM decide.
    Default,
    /// Always show the sign-in UI.
    ForceAuthentication,
}

/// Everything needed to build a `WebTokenRequest` and find its provider.
#[derive(Clone, PartialEq, Eq)]
pub struct WamRequestSpec {
    /// The id for `FindAccountProviderAsync` (`https://login.microsoft.com`).
    pub provider_id: String,
    /// The authority for `FindAccountProviderAsync`: `organizations`, `consumers` or a full
    /// tenant authority.
    pub provider_authority: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The application (client) id.
    pub client_id: String,
    /// The prompt type.
    pub prompt: WamPrompt,
    /// `WebTokenRequest.Properties`, in insertion order.
    pub properties: Vec<(String, String)>,
}

impl WamRequestSpec {
    /// The value of a property, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for WamRequestSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords and login hints are never printed: list the property names only.
        f.debug_struct("WamRequestSpec")
            .field("provider_id", &self.provider_id)
            .field("provider_authority", &self.provider_authority)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("prompt", &self.prompt)
            .field(
                "properties",
                &self.properties.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn api_error(context: impl Into<String>) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Windows,
        BrokerStatus::ApiContractViolation,
        context,
    )
}

/// The tenant segment of an authority URL (`https://host/tenant`).
fn authority_tenant(authority: &str) -> Result<String, BrokerError> {
    let url = url::Url::parse(authority)
        .map_err(|e| api_error(format!("the authority {authority:?} is not a URL: {e}")))?;
    url.path_segments()
        .and_then(|mut s| s.next())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| {
            api_error(format!(
                "the authority {authority:?} has no tenant; use https://login.microsoftonline.com/<tenant>"
            ))
        })
}

/// The plugin an authority is served by: `consumers` (and the MSA tenant) by the MSA plugin,
/// everything else by the Entra ID plugin.
pub fn plugin_for_authority(authority: &str) -> Result<WamPlugin, BrokerError> {
    let tenant = authority_tenant(authority)?;
    Ok(if tenant == "consumers" || tenant == MSA_TENANT_ID {
        WamPlugin::Msa
    } else {
        WamPlugin::Aad
    })
}

/// Builds the WAM request for `request`.
///
/// `interactive` selects `RequestTokenForWindowAsync` rules (login hint, forced prompt);
/// `account_in_wam` says whether the request's account (or hint) is already known to WAM, in
/// which case no login hint is sent and no prompt forced.
pub fn build_wam_request(
    request: &BrokerTokenRequest,
    plugin: WamPlugin,
    interactive: bool,
    account_in_wam: bool,
) -> Result<WamRequestSpec, BrokerError> {
    if request.pop.is_some() {
        return Err(api_error(
            "proof-of-possession tokens are not available through WAM in this library; request \
             a bearer token",
        ));
    }
    if request.scopes.is_empty() {
        return Err(api_error("no scopes requested; ask for at least one scope"));
    }
    let tenant = authority_tenant(&request.authority)?;
    let mut properties: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| {
        properties.retain(|(key, _)| key != k);
        properties.push((k.to_string(), v.to_string()));
    };
    let login_hint = request
        .login_hint
        .as_deref()
        .or(request.account.as_ref().map(|a| a.username.as_str()))
        .filter(|h| !h.is_empty());
    let send_hint = interactive && !account_in_wam && login_hint.is_some();
    let provider_authority = match plugin {
        WamPlugin::Aad => {
            set("wam_compat", "2.0");
            let authority = format!("{}/", request.authority.trim_end_matches('/'));
            set("authority", &authority);
            set(
                "validateAuthority",
                if request.validate_authority {
                    "yes"
                } else {
                    "no"
                },
            );
            if matches!(tenant.as_str(), "common" | "organizations") {
                AAD_PROVIDER_AUTHORITY.to_string()
            } else {
                request.authority.trim_end_matches('/').to_string()
            }
        }
        WamPlugin::Msa => {
            set("api-version", "2.0");
            set("oauth2_batch", "1");
            set("x-client-info", "1");
            if interactive && !account_in_wam {
                set("Client_uiflow", "new_account");
            }
            MSA_PROVIDER_AUTHORITY.to_string()
        }
    };
    if send_hint && let Some(hint) = login_hint {
        set("LoginHint", hint);
    }
    set("correlationId", &request.correlation_id);
    if let Some(claims) = request.claims.as_deref().filter(|c| !c.is_empty()) {
        set("claims", claims);
    }
    for (key, value) in &request.extra_parameters {
        match key.as_str() {
            // MSAL's instance_aware is called discover=home in WAM.
            "instance_aware" => {
                if value.eq_ignore_ascii_case("true") || value == "1" {
                    set("discover", "home");
                }
            }
            // msalruntime's own switches; our telemetry follows.
            k if k.starts_with("msal_") => {}
            "validateAuthority" => {}
            k => set(k, value),
        }
    }
    set("x-client-SKU", "MSAL.Rust");
    set("x-client-Ver", env!("CARGO_PKG_VERSION"));
    if let Some((username, password)) = &request.username_password {
        set("Username", username);
        set("Password", &password.0);
    }
    let force = interactive && (request.prompt.as_deref() == Some("login") || send_hint);
    Ok(WamRequestSpec {
        provider_id: WAM_PROVIDER_ID.to_string(),
        provider_authority,
        scope: request.scopes.join(" "),
        client_id: request.client_id.clone(),
        prompt: if force {
            WamPrompt::ForceAuthentication
        } else {
            WamPrompt::Default
        },
        properties,
    })
}

/// `TokenExpiresOn` (decimal seconds since 1601-01-01) as Unix seconds.
pub fn filetime_secs_to_unix(secs_since_1601: i64) -> i64 {
    secs_since_1601.saturating_sub(WINDOWS_TO_UNIX_EPOCH_SECS)
}

/// A `WebAccount` as plain data.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WamAccountData {
    /// `WebAccount.Id`.
    pub id: String,
    /// `WebAccount.UserName`.
    pub user_name: String,
    /// `WebAccount.Properties`.
    pub properties: BTreeMap<String, String>,
}

impl fmt::Debug for WamAccountData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WamAccountData")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A successful `WebTokenResponse` as plain data.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WamTokenData {
    /// `WebTokenResponse.Token` (AAD: the access token; MSA: a form-encoded token response).
    pub token: String,
    /// `WebTokenResponse.Properties`.
    pub properties: BTreeMap<String, String>,
    /// `WebTokenResponse.WebAccount`.
    pub account: Option<WamAccountData>,
}

impl fmt::Debug for WamTokenData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WamTokenData")
            .field("token", &"[redacted]")
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .field("account", &self.account)
            .finish()
    }
}

fn malformed(what: impl fmt::Display) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Windows,
        BrokerStatus::Unexpected,
        format!("WAM sent a malformed answer: {what}"),
    )
}

fn prop<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// A personal account's CID (16 hex digits, `SafeCustomerId`) as its local account id
/// `00000000-0000-0000-xxxx-xxxxxxxxxxxx`.
pub fn msa_cid_to_local_id(cid: &str) -> Option<String> {
    let cid = cid.trim().to_ascii_lowercase();
    if cid.len() != 16 || !cid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("00000000-0000-0000-{}-{}", &cid[..4], &cid[4..]))
}

/// The broker account of a `WebAccount`: Entra accounts from `OID`/`TenantId`/`Authority`,
/// personal accounts from `SafeCustomerId`.
pub fn account_from_web_account(account: &WamAccountData) -> Result<BrokerAccount, BrokerError> {
    let p = &account.properties;
    let environment = prop(p, "Authority")
        .and_then(|a| url::Url::parse(a).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "login.microsoftonline.com".to_string());
    let raw = serde_json::json!({
        "id": account.id,
        "userName": account.user_name,
        "properties": p,
    });
    if let (Some(oid), Some(tenant)) = (prop(p, "OID"), prop(p, "TenantId")) {
        return Ok(BrokerAccount {
            account_id: account.id.clone(),
            home_account_id: format!("{oid}.{tenant}"),
            local_account_id: oid.to_string(),
            environment,
            realm: tenant.to_string(),
            username: account.user_name.clone(),
            name: prop(p, "DisplayName").map(str::to_string),
            client_info: None,
            raw,
        });
    }
    if let Some(local) = prop(p, "SafeCustomerId").and_then(msa_cid_to_local_id) {
        return Ok(BrokerAccount {
            account_id: account.id.clone(),
            home_account_id: format!("{local}.{MSA_TENANT_ID}"),
            local_account_id: local,
            environment,
            realm: MSA_TENANT_ID.to_string(),
            username: account.user_name.clone(),
            name: prop(p, "DisplayName").map(str::to_string),
            client_info: None,
            raw,
        });
    }
    Err(malformed(
        "a WebAccount has neither OID and TenantId nor SafeCustomerId",
    ))
}

/// The MSA plugin's token: a form-encoded response.
#[derive(Clone, PartialEq, Eq)]
pub struct MsaToken {
    /// The access token.
    pub access_token: String,
    /// The id token, when sent.
    pub id_token: Option<String>,
    /// `Bearer` (the plugin writes `bearer`) or `pop`.
    pub token_type: BrokerTokenType,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// base64url client info.
    pub client_info: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<i64>,
}

impl fmt::Debug for MsaToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsaToken")
            .field("token_type", &self.token_type)
            .field("scopes", &self.scopes)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Decodes the MSA plugin's form-encoded token
/// (`access_token=…&id_token=…&token_type=bearer&scope=a%20b&…`). A pair without `=` is an error.
pub fn decode_msa_token(token: &str) -> Result<MsaToken, BrokerError> {
    let mut fields = BTreeMap::new();
    for pair in token.split('&').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(malformed("the MSA token has a pair without `=`"));
        };
        let decode = |s: &str| -> Result<String, BrokerError> {
            let spaced = s.replace('+', " ");
            percent_decode(&spaced).ok_or_else(|| malformed("the MSA token is not form-encoded"))
        };
        fields.insert(decode(k)?, decode(v)?);
    }
    let access_token = fields
        .remove("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("the MSA token has no access_token"))?;
    let token_type = match fields.get("token_type").map(String::as_str) {
        None => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("bearer") => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("pop") => BrokerTokenType::Pop,
        Some(t) => return Err(malformed(format!("unknown token_type {t:?}"))),
    };
    let expires_in = match fields.get("expires_in") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| malformed("expires_in is not a number"))?,
        ),
    };
    Ok(MsaToken {
        access_token,
        id_token: fields.remove("id_token").filter(|t| !t.is_empty()),
        token_type,
        scopes: fields
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        client_info: fields.remove("client_info").filter(|t| !t.is_empty()),
        expires_in,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes a successful WAM answer. `now` is the current Unix time (for an MSA `expires_in`).
pub fn decode_wam_success(
    data: &WamTokenData,
    plugin: WamPlugin,
    now: i64,
) -> Result<BrokerTokenResponse, BrokerError> {
    let account = data
        .account
        .as_ref()
        .map(account_from_web_account)
        .transpose()?;
    match plugin {
        WamPlugin::Aad => {
            let authority = prop(&data.properties, "Authority").ok_or_else(|| {
                let mut e = malformed("no_authority_in_wam_response: the answer has no Authority");
                e.context = "no_authority_in_wam_response: WAM answered without an Authority \
                             property; update Windows or sign in through the browser"
                    .into();
                e
            })?;
            if data.token.is_empty() {
                return Err(malformed("an empty token"));
            }
            let expires_on = prop(&data.properties, "TokenExpiresOn")
                .ok_or_else(|| malformed("no TokenExpiresOn"))?
                .trim()
                .parse::<i64>()
                .map(filetime_secs_to_unix)
                .map_err(|_| malformed("TokenExpiresOn is not a number"))?;
            let ext_expires_on = prop(&data.properties, "ExtendedLifetimeToken")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(filetime_secs_to_unix);
            let id_token = prop(&data.properties, "wamcompat_id_token").map(str::to_string);
            let client_info = prop(&data.properties, "wamcompat_client_info").map(str::to_string);
            let granted_scopes = prop(&data.properties, "wamcompat_scopes")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let account = account.or_else(|| {
                account_from_tokens(client_info.as_deref(), id_token.as_deref(), Some(authority))
            });
            Ok(BrokerTokenResponse {
                access_token: data.token.clone(),
                token_type: BrokerTokenType::Bearer,
                expires_on,
                ext_expires_on,
                id_token,
                client_info,
                granted_scopes,
                account,
                authority: Some(authority.to_string()),
            })
        }
        WamPlugin::Msa => {
            let msa = decode_msa_token(&data.token)?;
            let expires_on = match (prop(&data.properties, "TokenExpiresOn"), msa.expires_in) {
                (Some(v), _) => v
                    .trim()
                    .parse::<i64>()
                    .map(filetime_secs_to_unix)
                    .map_err(|_| malformed("TokenExpiresOn is not a number"))?,
                (None, Some(secs)) => now.saturating_add(secs),
                (None, None) => return Err(malformed("no expiry")),
            };
            Ok(BrokerTokenResponse {
                access_token: msa.access_token,
                token_type: msa.token_type,
                expires_on,
                ext_expires_on: None,
                id_token: msa.id_token,
                client_info: msa.client_info,
                granted_scopes: msa.scopes,
                account,
                authority: Some(format!("https://login.microsoftonline.com/{MSA_TENANT_ID}")),
            })
        }
    }
}

/// `WebTokenRequestStatus` values (windows 0.62).
pub mod status {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// The user canceled.
    pub const USER_CANCEL: i32 = 1;
    /// The user switched accounts (a success).
    pub const ACCOUNT_SWITCH: i32 = 2;
    /// UI is needed.
    pub const USER_INTERACTION_REQUIRED: i32 = 3;
    /// The provider is not available.
    pub const ACCOUNT_PROVIDER_NOT_AVAILABLE: i32 = 4;
    /// The provider failed (see the error code).
    pub const PROVIDER_ERROR: i32 = 5;
}

/// The facility of an HRESULT (`(code >> 16) & 0x1fff`).
pub fn hresult_facility(code: u32) -> u32 {
    (code >> 16) & 0x1fff
}

/// Classifies a WAM answer: `Ok(())` for success (and account switch), otherwise the error with
/// its status, the provider's HRESULT as a signed error code and its message.
pub fn classify_wam_status(
    plugin: WamPlugin,
    status: i32,
    error_code: u32,
    error_message: &str,
    client_id: &str,
) -> Result<(), BrokerError> {
    let (broker_status, what) = match status {
        status::SUCCESS | status::ACCOUNT_SWITCH => return Ok(()),
        status::USER_CANCEL => (BrokerStatus::UserCanceled, "authentication_canceled"),
        status::USER_INTERACTION_REQUIRED => {
            (BrokerStatus::InteractionRequired, "interaction_required")
        }
        status::ACCOUNT_PROVIDER_NOT_AVAILABLE => (
            BrokerStatus::RequiredBrokerMissing,
            "the WAM account provider is not available",
        ),
        status::PROVIDER_ERROR if plugin == WamPlugin::Msa => {
            (BrokerStatus::Unexpected, "wam_msa_error")
        }
        status::PROVIDER_ERROR => match (error_code, hresult_facility(error_code)) {
            (0xCAA2_0005 | 0xCAA2_0008, _) => (
                BrokerStatus::ServerTemporarilyUnavailable,
                "WAM_server_temporarily_unavailable",
            ),
            (0x8008_0300, _) => (
                BrokerStatus::TransientError,
                "WAM_plugin_process_interrupted",
            ),
            (_, 0xAA3 | 0xAA7 | 0xAA8) => (BrokerStatus::NoNetwork, "WAM_no_network"),
            (_, 0xAAD) => (
                BrokerStatus::TransientError,
                "WAM_background_infrastructure_cancelled",
            ),
            (_, 0xAA1) => (
                BrokerStatus::ApiContractViolation,
                "WAM_internal_error_ApiContractViolation",
            ),
            _ => (BrokerStatus::Unexpected, "WAM_aad_provider_error"),
        },
        _ => (BrokerStatus::Unexpected, "WAM_unexpected_aad_error"),
    };
    let mut context = if error_message.trim().is_empty() {
        what.to_string()
    } else {
        format!("{what}: {}", error_message.trim())
    };
    if status == status::PROVIDER_ERROR {
        context.push_str(&format!(
            ". If the app registration lacks the broker redirect URI, add \
             ms-appx-web://Microsoft.AAD.BrokerPlugin/{client_id} under \"Mobile and desktop \
             applications\" in the Entra portal"
        ));
    }
    let mut e = BrokerError::new(BrokerPlatform::Windows, broker_status, context);
    e.error_code = i64::from(error_code as i32);
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerPassword;

    const CLIENT: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";
    const CORR: &str = "5a3f0c2e-1b4d-4e6f-8a9b-0c1d2e3f4a5b";

    fn request(authority: &str) -> BrokerTokenRequest {
        BrokerTokenRequest {
            client_id: CLIENT.into(),
            authority: authority.into(),
            scopes: vec!["User.Read".into(), "Mail.Read".into()],
            redirect_uri: format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}"),
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

    #[test]
    fn aad_interactive_request() {
        // §7.19.
        let mut r = request("https://login.microsoftonline.com/organizations");
        r.login_hint = Some("u@contoso.com".into());
        r.claims = Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#.into());
        r.extra_parameters
            .insert("instance_aware".into(), "true".into());
        r.extra_parameters
            .insert("msal_client_sku".into(), "x".into());
        r.extra_parameters.insert("max_age".into(), "0".into());
        let spec = build_wam_request(&r, WamPlugin::Aad, true, false).unwrap();
        assert_eq!(spec.provider_id, "https://login.microsoft.com");
        assert_eq!(spec.provider_authority, "organizations");
        assert_eq!(spec.scope, "User.Read Mail.Read");
        assert_eq!(spec.client_id, CLIENT);
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        let props: BTreeMap<_, _> = spec.properties.iter().cloned().collect();
        let expected: BTreeMap<String, String> = [
            ("wam_compat", "2.0"),
            (
                "authority",
                "https://login.microsoftonline.com/organizations/",
            ),
            ("validateAuthority", "yes"),
            ("LoginHint", "u@contoso.com"),
            ("correlationId", CORR),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
            ),
            ("discover", "home"),
            ("max_age", "0"),
            ("x-client-SKU", "MSAL.Rust"),
            ("x-client-Ver", env!("CARGO_PKG_VERSION")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(props, expected);
        assert!(!format!("{spec:?}").contains("u@contoso.com"));

        // Known to WAM: no hint, no forced prompt.
        let spec = build_wam_request(&r, WamPlugin::Aad, true, true).unwrap();
        assert_eq!(spec.prompt, WamPrompt::Default);
        assert_eq!(spec.property("LoginHint"), None);
        // Silent: never forced, never a hint.
        let spec = build_wam_request(&r, WamPlugin::Aad, false, false).unwrap();
        assert_eq!(spec.prompt, WamPrompt::Default);
        assert_eq!(spec.property("LoginHint"), None);
        // prompt=login forces.
        let mut r2 = request("https://login.microsoftonline.com/common");
        r2.prompt = Some("login".into());
        let spec = build_wam_request(&r2, WamPlugin::Aad, true, true).unwrap();
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        assert_eq!(spec.provider_authority, "organizations");
    }

    #[test]
    fn tenant_authority_and_validation() {
        let mut r = request("https://login.microsoftonline.com/contoso.onmicrosoft.com/");
        r.validate_authority = false;
        let spec = build_wam_request(&r, WamPlugin::Aad, false, true).unwrap();
        assert_eq!(
            spec.provider_authority,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com"
        );
        assert_eq!(spec.property("validateAuthority"), Some("no"));
        assert_eq!(
            spec.property("authority"),
            Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/")
        );
        assert_eq!(
            plugin_for_authority("https://login.microsoftonline.com/consumers").unwrap(),
            WamPlugin::Msa
        );
        assert_eq!(
            plugin_for_authority("https://login.microsoftonline.com/common").unwrap(),
            WamPlugin::Aad
        );
        assert!(plugin_for_authority("https://login.microsoftonline.com").is_err());
        assert!(plugin_for_authority("not a url").is_err());
    }

    #[test]
    fn msa_request_and_username_password() {
        // §7.20.
        let r = request("https://login.microsoftonline.com/consumers");
        let spec = build_wam_request(&r, WamPlugin::Msa, true, false).unwrap();
        assert_eq!(spec.provider_authority, "consumers");
        assert_eq!(spec.property("api-version"), Some("2.0"));
        assert_eq!(spec.property("oauth2_batch"), Some("1"));
        assert_eq!(spec.property("x-client-info"), Some("1"));
        assert_eq!(spec.property("Client_uiflow"), Some("new_account"));
        assert_eq!(spec.property("wam_compat"), None);

        let mut r = request("https://login.microsoftonline.com/common");
        r.username_password = Some(("alice@contoso.com".into(), BrokerPassword("s3cret".into())));
        let spec = build_wam_request(&r, WamPlugin::Aad, false, false).unwrap();
        assert_eq!(spec.property("Username"), Some("alice@contoso.com"));
        assert_eq!(spec.property("Password"), Some("s3cret"));
        assert!(!format!("{spec:?}").contains("s3cret"));

        let mut r = request("https://login.microsoftonline.com/common");
        r.pop = Some(crate::broker::PopParams {
            http_method: "GET".into(),
            uri_host: "h".into(),
            uri_path: "/".into(),
            nonce: None,
        });
        assert!(build_wam_request(&r, WamPlugin::Aad, false, false).is_err());
    }

    fn aad_success() -> WamTokenData {
        WamTokenData {
            token: "AT".into(),
            properties: [
                ("Authority", "https://login.microsoftonline.com/tid1/"),
                (
                    "wamcompat_client_info",
                    "eyJ1aWQiOiJvaWQxIiwidXRpZCI6InRpZDEifQ",
                ),
                ("wamcompat_id_token", "e30.eyJvaWQiOiJvaWQxIn0.sig"),
                ("wamcompat_scopes", "profile openid"),
                ("TokenExpiresOn", "13380000000"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            account: Some(WamAccountData {
                id: "wam-account-id".into(),
                user_name: "alice@contoso.com".into(),
                properties: [
                    ("Authority", "https://login.microsoftonline.com/tid1"),
                    ("TenantId", "tid1"),
                    ("OID", "oid1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            }),
        }
    }

    #[test]
    fn aad_success_properties() {
        // §7.21.
        assert_eq!(filetime_secs_to_unix(13_380_000_000), 1_735_526_400);
        let token = decode_wam_success(&aad_success(), WamPlugin::Aad, 0).unwrap();
        assert_eq!(token.access_token, "AT");
        assert_eq!(token.expires_on, 1_735_526_400);
        assert_eq!(token.granted_scopes, ["profile", "openid"]);
        assert_eq!(
            token.id_token.as_deref(),
            Some("e30.eyJvaWQiOiJvaWQxIn0.sig")
        );
        assert_eq!(
            token.authority.as_deref(),
            Some("https://login.microsoftonline.com/tid1/")
        );
        let account = token.account.unwrap();
        assert_eq!(account.account_id, "wam-account-id");
        assert_eq!(account.home_account_id, "oid1.tid1");
        assert_eq!(account.realm, "tid1");
        assert_eq!(account.username, "alice@contoso.com");

        let mut missing = aad_success();
        missing.properties.remove("Authority");
        let e = decode_wam_success(&missing, WamPlugin::Aad, 0).unwrap_err();
        assert!(e.context.starts_with("no_authority_in_wam_response"));

        let mut bad = aad_success();
        bad.properties
            .insert("TokenExpiresOn".into(), "soon".into());
        assert!(decode_wam_success(&bad, WamPlugin::Aad, 0).is_err());
        let mut no_ids = aad_success();
        no_ids.account.as_mut().unwrap().properties.clear();
        assert!(decode_wam_success(&no_ids, WamPlugin::Aad, 0).is_err());
        // Without a WebAccount the account comes from client info.
        let mut no_account = aad_success();
        no_account.account = None;
        let token = decode_wam_success(&no_account, WamPlugin::Aad, 0).unwrap();
        assert_eq!(token.account.unwrap().home_account_id, "oid1.tid1");
    }

    #[test]
    fn msa_token_string() {
        // §7.22.
        let msa = decode_msa_token(
            "access_token=AT&id_token=IT&token_type=bearer&scope=a%20b&client_info=CI&expires_in=3600&correlation=C",
        )
        .unwrap();
        assert_eq!(msa.access_token, "AT");
        assert_eq!(msa.scopes, ["a", "b"]);
        assert_eq!(msa.token_type.as_str(), "Bearer");
        assert_eq!(msa.expires_in, Some(3600));
        assert!(decode_msa_token("access_token=AT&broken").is_err());
        assert!(decode_msa_token("id_token=IT").is_err());
        assert!(decode_msa_token("access_token=%zz").is_err());
        assert_eq!(
            msa_cid_to_local_id("540648eb0b3075bb").as_deref(),
            Some("00000000-0000-0000-5406-48eb0b3075bb")
        );
        assert_eq!(msa_cid_to_local_id("xyz"), None);

        let data = WamTokenData {
            token: "access_token=AT&token_type=bearer&scope=a%20b&expires_in=3600".into(),
            properties: BTreeMap::new(),
            account: Some(WamAccountData {
                id: "msa-id".into(),
                user_name: "bob@outlook.com".into(),
                properties: [("SafeCustomerId".to_string(), "540648eb0b3075bb".to_string())]
                    .into_iter()
                    .collect(),
            }),
        };
        let token = decode_wam_success(&data, WamPlugin::Msa, 100).unwrap();
        assert_eq!(token.expires_on, 3700);
        let account = token.account.unwrap();
        assert_eq!(
            account.local_account_id,
            "00000000-0000-0000-5406-48eb0b3075bb"
        );
        assert_eq!(account.realm, MSA_TENANT_ID);
    }

    #[test]
    fn error_classification() {
        // §7.23.
        let classify = |status, code| {
            classify_wam_status(WamPlugin::Aad, status, code, "msg", CLIENT)
                .unwrap_err()
                .status
        };
        assert!(classify(status::PROVIDER_ERROR, 0xCAA2_0005).is_transient());
        assert!(classify(status::PROVIDER_ERROR, 0xCAA2_0008).is_transient());
        assert!(classify(status::PROVIDER_ERROR, 0x8008_0300).is_transient());
        assert_eq!(
            classify(status::PROVIDER_ERROR, 0xCAA3_0001),
            BrokerStatus::NoNetwork
        );
        assert_eq!(
            classify(status::PROVIDER_ERROR, 0xCAA1_0001),
            BrokerStatus::ApiContractViolation
        );
        assert!(classify(status::PROVIDER_ERROR, 0xCAAD_0001).is_transient());
        assert_eq!(
            classify(status::PROVIDER_ERROR, 0x8000_4005),
            BrokerStatus::Unexpected
        );
        assert_eq!(
            classify(status::USER_INTERACTION_REQUIRED, 0),
            BrokerStatus::InteractionRequired
        );
        assert_eq!(classify(status::USER_CANCEL, 0), BrokerStatus::UserCanceled);
        assert_eq!(
            classify(status::ACCOUNT_PROVIDER_NOT_AVAILABLE, 0),
            BrokerStatus::RequiredBrokerMissing
        );
        assert_eq!(classify(99, 0), BrokerStatus::Unexpected);
        assert!(classify_wam_status(WamPlugin::Aad, status::ACCOUNT_SWITCH, 0, "", CLIENT).is_ok());
        assert!(classify_wam_status(WamPlugin::Aad, status::SUCCESS, 0, "", CLIENT).is_ok());

        let e = classify_wam_status(
            WamPlugin::Aad,
            status::PROVIDER_ERROR,
            0xCAA2_0003,
            "AADSTS50011: redirect URI mismatch",
            CLIENT,
        )
        .unwrap_err();
        assert_eq!(e.error_code, 0xCAA2_0003_u32 as i32 as i64);
        assert!(e.error_code < 0);
        assert!(e.context.contains(&format!(
            "ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}"
        )));
        assert!(e.is_redirect_uri_mismatch());
        assert_eq!(
            classify_wam_status(
                WamPlugin::Msa,
                status::PROVIDER_ERROR,
                0xCAA2_0005,
                "",
                CLIENT
            )
            .unwrap_err()
            .status,
            BrokerStatus::Unexpected
        );
    }
}
