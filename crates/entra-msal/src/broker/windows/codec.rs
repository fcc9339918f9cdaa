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
/// everything else by the Entra ID plugin. For `common`, see [`plugin_for_request`].
pub fn plugin_for_authority(authority: &str) -> Result<WamPlugin, BrokerError> {
    let tenant = authority_tenant(authority)?;
    Ok(if tenant == "consumers" || tenant == MSA_TENANT_ID {
        WamPlugin::Msa
    } else {
        WamPlugin::Aad
    })
}

/// The id `FindAccountProviderAsync` takes for the provider of the OS's default account.
pub const DEFAULT_ACCOUNT_PROVIDER_ID: &str = "https://login.windows.local";

/// Whether a `WebAccountProvider.Authority` is the personal-account provider's (`consumers`),
/// as MSAL.NET's `WebAccountProviderFactory.IsConsumerProvider` and `IsDefaultAccountMsaAsync`
/// decide.
pub fn is_consumers_provider(provider_authority: &str) -> bool {
    provider_authority.eq_ignore_ascii_case(MSA_PROVIDER_AUTHORITY)
}

/// The plugin for a request, as MSAL.NET's `WamBroker.IsMsaRequestAsync` decides it:
/// `consumers` → MSA; `organizations` or a tenant → Entra ID; `common` → the account's home
/// tenant when known (the MSA tenant → MSA), else whether the OS's default account is a personal
/// one (`default_account_is_msa`, asked only then).
pub fn plugin_for_request(
    authority: &str,
    home_tenant: Option<&str>,
    default_account_is_msa: impl FnOnce() -> bool,
) -> Result<WamPlugin, BrokerError> {
    let tenant = authority_tenant(authority)?;
    if tenant != "common" {
        return plugin_for_authority(authority);
    }
    Ok(match home_tenant.filter(|t| !t.is_empty()) {
        Some(t) if t.eq_ignore_ascii_case(MSA_TENANT_ID) => WamPlugin::Msa,
        Some(_) => WamPlugin::Aad,
        None if default_account_is_msa() => WamPlugin::Msa,
        None => WamPlugin::Aad,
    })
}

/// The home tenant of a broker account (`<oid>.<tid>` → `tid`).
pub fn home_tenant(account: &BrokerAccount) -> Option<&str> {
    account
        .home_account_id
        .split_once('.')
        .map(|(_, tenant)| tenant)
        .filter(|t| !t.is_empty())
}

/// Whether an interactive request without a usable account goes straight to the Entra ID plugin
/// (work-and-school-only authorities: `organizations` or a tenant) instead of the Windows
/// account picker (`common`, `consumers`), as MSAL.NET's `WamBroker.CanSkipAccountPicker`.
pub fn can_skip_account_picker(authority: &str) -> Result<bool, BrokerError> {
    let tenant = authority_tenant(authority)?;
    Ok(!matches!(tenant.as_str(), "common" | "consumers") && tenant != MSA_TENANT_ID)
}

/// The provider authorities the account picker offers for `authority`, in MSAL.NET's order
/// (`AccountPicker.Authenticator_AccountCommandsRequested` / `AddSelectorsAsync`): `common`
/// offers work-and-school (`organizations`) and personal (`consumers`) accounts, `consumers` only
/// personal ones, `organizations` only work-and-school, a tenant its own authority.
pub fn picker_provider_authorities(authority: &str) -> Result<Vec<String>, BrokerError> {
    let tenant = authority_tenant(authority)?;
    Ok(match tenant.as_str() {
        "common" => vec![AAD_PROVIDER_AUTHORITY.into(), MSA_PROVIDER_AUTHORITY.into()],
        "consumers" => vec![MSA_PROVIDER_AUTHORITY.into()],
        t if t == MSA_TENANT_ID => vec![MSA_PROVIDER_AUTHORITY.into()],
        "organizations" => vec![AAD_PROVIDER_AUTHORITY.into()],
        _ => vec![authority.trim_end_matches('/').to_string()],
    })
}

/// The plugin serving the provider the user picked in the account picker
/// (`WamBroker.AcquireInteractiveWithPickerAsync`: a consumers provider → MSA, else Entra ID).
pub fn plugin_for_picked_provider(provider_authority: &str) -> WamPlugin {
    if is_consumers_provider(provider_authority) {
        WamPlugin::Msa
    } else {
        WamPlugin::Aad
    }
}

/// The authority `FindAccountProviderAsync` takes for `plugin` and the request's authority: the
/// MSA plugin's `consumers`; the Entra ID plugin's `organizations` for `common` and
/// `organizations`, else the tenant authority itself.
pub fn provider_authority_for(authority: &str, plugin: WamPlugin) -> Result<String, BrokerError> {
    let tenant = authority_tenant(authority)?;
    Ok(match plugin {
        WamPlugin::Msa => MSA_PROVIDER_AUTHORITY.to_string(),
        WamPlugin::Aad if matches!(tenant.as_str(), "common" | "organizations") => {
            AAD_PROVIDER_AUTHORITY.to_string()
        }
        WamPlugin::Aad => authority.trim_end_matches('/').to_string(),
    })
}

/// The scopes WAM is asked for: the app's plus `openid profile offline_access`, as MSAL.NET's
/// `ScopeHelper.GetMsalScopes` (used by `AadPlugin` and `MsaPlugin.CreateWebTokenRequestAsync`),
/// so that WAM answers with an id token and client info.
pub fn wam_scopes(scopes: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for scope in scopes
        .iter()
        .map(String::as_str)
        .chain(["openid", "profile", "offline_access"])
    {
        if !out.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
            out.push(scope);
        }
    }
    out.join(" ")
}

/// How a WAM request is made (MSAL.NET's `CreateWebTokenRequestAsync` arguments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WamCall {
    /// `RequestTokenForWindowAsync` (true) or `GetTokenSilentlyAsync` (false).
    pub interactive: bool,
    /// The account (or hint) was found in WAM: no login hint is sent and no prompt forced.
    pub account_in_wam: bool,
    /// MSAL.NET's `isForceLoginPrompt`: the Entra ID plugin's sign-in without an account
    /// (`AcquireInteractiveWithAadBrowserAsync`) forces the UI and sends the `prompt` property.
    pub force_login: bool,
    /// Whether the OS's default account is a personal one (MSA plugin: `Client_uiflow`).
    pub default_account_is_msa: bool,
}

/// Builds the WAM request for `request`, served by `plugin`, as MSAL.NET's
/// `AadPlugin`/`MsaPlugin.CreateWebTokenRequestAsync` plus `WamAdapters.AddMsalParamsToRequest`,
/// `WamBroker.AddPromptToRequest` and `WorkaroundOrganizationsBugAsync` build it.
///
/// Proof-of-possession requests (Entra ID only) carry `token_type=pop` and `req_cnf` in
/// `request.extra_parameters` (the routing layer adds them); SSH-certificate parameters
/// (`token_type=ssh-cert`, `req_cnf`, `key_id`) pass through the same way.
pub fn build_wam_request(
    request: &BrokerTokenRequest,
    plugin: WamPlugin,
    call: WamCall,
) -> Result<WamRequestSpec, BrokerError> {
    if request.pop.is_some() {
        if plugin == WamPlugin::Msa {
            return Err(api_error(
                "proof-of-possession tokens are issued for work and school accounts only; \
                 request a bearer token for a personal Microsoft account",
            ));
        }
        let pop_type = request
            .extra_parameters
            .get("token_type")
            .is_some_and(|t| t.eq_ignore_ascii_case("pop"));
        if !pop_type || !request.extra_parameters.contains_key("req_cnf") {
            return Err(api_error(
                "a proof-of-possession request to WAM needs token_type=pop and req_cnf (the \
                 library's PoP key confirmation); use the application's pop option",
            ));
        }
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
    let fresh = call.interactive && !call.account_in_wam;
    let send_hint = fresh && login_hint.is_some();
    let force_login =
        call.interactive && (call.force_login || request.prompt.as_deref() == Some("login"));
    let mut force = send_hint || force_login;
    match plugin {
        WamPlugin::Aad => {
            set("wam_compat", "2.0");
        }
        WamPlugin::Msa => {
            // MsaPlugin: a new account when there is a hint, or when the OS's default account is
            // not a personal one (otherwise WAM would answer for that default account).
            let add_new_account = fresh && login_hint.is_none() && !call.default_account_is_msa;
            if add_new_account || send_hint {
                set("Client_uiflow", "new_account");
            }
            force |= add_new_account;
            set("api-version", "2.0");
            set("oauth2_batch", "1");
            set("x-client-info", "1");
        }
    }
    if send_hint && let Some(hint) = login_hint {
        set("LoginHint", hint);
    }
    set("correlationId", &request.correlation_id);
    if let Some(claims) = request.claims.as_deref().filter(|c| !c.is_empty()) {
        set("claims", claims);
    }
    // AddMsalParamsToRequest (both plugins): extra parameters, telemetry, the authority (with
    // the /organizations → /common workaround: our Entra ID provider is always the
    // `organizations` provider for that authority, so the workaround always applies) and
    // authority validation.
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
    let authority = if tenant == "organizations" && plugin == WamPlugin::Aad {
        let url = url::Url::parse(&request.authority)
            .map_err(|e| api_error(format!("the authority is not a URL: {e}")))?;
        let mut host = url.host_str().unwrap_or_default().to_string();
        if let Some(port) = url.port() {
            host.push_str(&format!(":{port}"));
        }
        format!("{}://{host}/common/", url.scheme())
    } else {
        format!("{}/", request.authority.trim_end_matches('/'))
    };
    set("authority", &authority);
    set(
        "validateAuthority",
        if request.validate_authority {
            "yes"
        } else {
            "no"
        },
    );
    // AddPromptToRequest: only with a forced login, never for none.
    if force_login && plugin == WamPlugin::Aad {
        let prompt = request
            .prompt
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("select_account");
        if prompt != "none" {
            set("prompt", prompt);
        }
    }
    if let Some((username, password)) = &request.username_password {
        set("Username", username);
        set("Password", &password.0);
    }
    Ok(WamRequestSpec {
        provider_id: WAM_PROVIDER_ID.to_string(),
        provider_authority: provider_authority_for(&request.authority, plugin)?,
        scope: wam_scopes(&request.scopes),
        client_id: request.client_id.clone(),
        prompt: if force {
            WamPrompt::ForceAuthentication
        } else {
            WamPrompt::Default
        },
        properties,
    })
}

/// The error for a silent request whose account WAM does not know: interaction is required,
/// as MSAL.NET's `WamBroker.AcquireTokenSilentAsync` throws `MsalUiRequiredException` ("Could not
/// find a WAM account for the silent request").
pub fn account_not_in_wam() -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Windows,
        BrokerStatus::InteractionRequired,
        "AccountNotFound: WAM does not know the account of this silent request; sign in \
         interactively",
    )
}

/// Which of `candidates` (WAM's accounts) is the request's account, as MSAL.NET's
/// `WamBroker.FindWamAccountForMsalAccountAsync` matches (after its `FindAccountAsync` by the
/// WAM account id, which the shim tries first): the same WAM id, then the same home account id
/// (guest accounts carry another one), then the same user name (the account's, or the login
/// hint).
pub fn match_web_account(
    candidates: &[WamAccountData],
    account: Option<&BrokerAccount>,
    login_hint: Option<&str>,
) -> Option<usize> {
    if let Some(account) = account {
        if !account.account_id.is_empty()
            && let Some(i) = candidates.iter().position(|c| c.id == account.account_id)
        {
            return Some(i);
        }
        if let Some(i) = candidates.iter().position(|c| {
            account_from_web_account(c).is_ok_and(|a| {
                a.home_account_id
                    .eq_ignore_ascii_case(&account.home_account_id)
            })
        }) {
            return Some(i);
        }
    }
    let username = login_hint
        .filter(|h| !h.is_empty())
        .or(account.map(|a| a.username.as_str()))
        .filter(|u| !u.is_empty())?;
    candidates
        .iter()
        .position(|c| c.user_name.eq_ignore_ascii_case(username))
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

/// Decodes the MSA plugin's token string
/// (`access_token=…&id_token=…&token_type=bearer&scope=a%20b&…`) as MSAL.NET's
/// `MsaPlugin.ParseSuccesfullWamResponse` does: pairs split on `&`, each on its first `=`, values
/// taken as they are (no form decoding: a `+` stays a `+`), only `%20` in `scope` read as a
/// space. A pair without `=` is an error.
pub fn decode_msa_token(token: &str) -> Result<MsaToken, BrokerError> {
    let mut fields = BTreeMap::new();
    for pair in token.split('&').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(malformed("the MSA token has a pair without `=`"));
        };
        fields.insert(k.to_string(), v.to_string());
    }
    let access_token = fields
        .remove("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("the MSA token has no access_token"))?;
    let token_type = match fields.get("token_type").map(String::as_str) {
        None | Some("") => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("bearer") => BrokerTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("pop") => BrokerTokenType::Pop,
        Some(other) => {
            return Err(malformed(format!(
                "the MSA token has the unknown token_type {other:?}"
            )));
        }
    };
    let expires_in = match fields.get("expires_in") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| malformed("the MSA token's expires_in is not a number"))?,
        ),
    };
    Ok(MsaToken {
        access_token,
        id_token: fields.remove("id_token").filter(|t| !t.is_empty()),
        token_type,
        scopes: fields
            .get("scope")
            .map(|s| {
                s.replace("%20", " ")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        client_info: fields.remove("client_info").filter(|t| !t.is_empty()),
        expires_in,
    })
}

/// The account of a successful answer: from the `WebAccount` when it carries the ids, else from
/// the tokens' client info and id token (MSAL.NET never needs the `WebAccount`'s properties to
/// read a token: `AadPlugin.ParseSuccessfullWamResponse` only logs their absence), keeping the
/// WAM account id and user name.
fn answer_account(
    data: &WamTokenData,
    client_info: Option<&str>,
    id_token: Option<&str>,
    authority: &str,
) -> Option<BrokerAccount> {
    let web = data.account.as_ref();
    if let Some(account) = web.and_then(|w| account_from_web_account(w).ok()) {
        return Some(account);
    }
    let mut account = account_from_tokens(client_info, id_token, Some(authority))?;
    if let Some(web) = web {
        if !web.id.is_empty() {
            account.account_id = web.id.clone();
        }
        if account.username.is_empty() {
            account.username = web.user_name.clone();
        }
    }
    Some(account)
}

/// Decodes a successful WAM answer. `now` is the current Unix time (for an MSA `expires_in`, and
/// for an answer without `TokenExpiresOn`, which is an already expired token as in MSAL.NET's
/// `AadPlugin.ParseSuccessfullWamResponse`). `pop` says the request asked for a
/// proof-of-possession token (the token is then bound to the library's key).
pub fn decode_wam_success(
    data: &WamTokenData,
    plugin: WamPlugin,
    now: i64,
    pop: bool,
) -> Result<BrokerTokenResponse, BrokerError> {
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
            let expires_on = match prop(&data.properties, "TokenExpiresOn") {
                None => {
                    tracing::warn!(
                        "WAM answered without TokenExpiresOn; the token is treated as expired"
                    );
                    now
                }
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map(filetime_secs_to_unix)
                    .map_err(|_| malformed("TokenExpiresOn is not a number"))?,
            };
            let ext_expires_on = prop(&data.properties, "ExtendedLifetimeToken")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(filetime_secs_to_unix);
            let id_token = prop(&data.properties, "wamcompat_id_token").map(str::to_string);
            let client_info = prop(&data.properties, "wamcompat_client_info").map(str::to_string);
            let granted_scopes = prop(&data.properties, "wamcompat_scopes")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let account =
                answer_account(data, client_info.as_deref(), id_token.as_deref(), authority);
            Ok(BrokerTokenResponse {
                access_token: data.token.clone(),
                token_type: if pop {
                    BrokerTokenType::Pop
                } else {
                    BrokerTokenType::Bearer
                },
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
                // MSAL.NET: expires_in defaults to 0, an expired token.
                (None, None) => now,
            };
            let authority = format!("https://login.microsoftonline.com/{MSA_TENANT_ID}");
            let account = answer_account(
                data,
                msa.client_info.as_deref(),
                msa.id_token.as_deref(),
                &authority,
            );
            Ok(BrokerTokenResponse {
                access_token: msa.access_token,
                token_type: msa.token_type,
                expires_on,
                ext_expires_on: None,
                id_token: msa.id_token,
                client_info: msa.client_info,
                granted_scopes: msa.scopes,
                account,
                authority: Some(authority),
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
    //! Golden vectors. `NET` is AzureAD/microsoft-authentication-library-for-dotnet at commit
    //! 0166c405 (the last trees with the WinRT WAM code), folder
    //! src/client/Microsoft.Identity.Client/Platforms/Features/WamBroker/.
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

    fn interactive(account_in_wam: bool) -> WamCall {
        WamCall {
            interactive: true,
            account_in_wam,
            ..WamCall::default()
        }
    }

    fn broker_account(home: &str, wam_id: &str, username: &str) -> BrokerAccount {
        BrokerAccount {
            account_id: wam_id.into(),
            home_account_id: home.into(),
            local_account_id: wam_id.into(),
            environment: "login.microsoftonline.com".into(),
            realm: home.split('.').nth(1).unwrap_or_default().into(),
            username: username.into(),
            name: None,
            client_info: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn aad_interactive_request() {
        // NET AadPlugin.cs CreateWebTokenRequestAsync (LoginHint + ForceAuthentication when the
        // hint is not in WAM, wam_compat=2.0, correlationId, claims), WamAdapters.cs
        // AddMsalParamsToRequest (extra parameters, x-client-SKU/Ver, authority,
        // validateAuthority), WamBroker.cs WorkaroundOrganizationsBugAsync (organizations →
        // common), Utils/ScopeHelper.cs GetMsalScopes (openid profile offline_access).
        let mut r = request("https://login.microsoftonline.com/organizations");
        r.login_hint = Some("u@contoso.com".into());
        r.claims = Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#.into());
        r.extra_parameters
            .insert("instance_aware".into(), "true".into());
        r.extra_parameters
            .insert("msal_client_sku".into(), "x".into());
        r.extra_parameters.insert("max_age".into(), "0".into());
        let spec = build_wam_request(&r, WamPlugin::Aad, interactive(false)).unwrap();
        assert_eq!(spec.provider_id, "https://login.microsoft.com");
        assert_eq!(spec.provider_authority, "organizations");
        assert_eq!(
            spec.scope,
            "User.Read Mail.Read openid profile offline_access"
        );
        assert_eq!(spec.client_id, CLIENT);
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        let props: BTreeMap<_, _> = spec.properties.iter().cloned().collect();
        let expected: BTreeMap<String, String> = [
            ("wam_compat", "2.0"),
            ("authority", "https://login.microsoftonline.com/common/"),
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
        let spec = build_wam_request(&r, WamPlugin::Aad, interactive(true)).unwrap();
        assert_eq!(spec.prompt, WamPrompt::Default);
        assert_eq!(spec.property("LoginHint"), None);
        // Silent: never forced, never a hint.
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
        assert_eq!(spec.prompt, WamPrompt::Default);
        assert_eq!(spec.property("LoginHint"), None);
        // prompt=login forces.
        let mut r2 = request("https://login.microsoftonline.com/common");
        r2.prompt = Some("login".into());
        let spec = build_wam_request(&r2, WamPlugin::Aad, interactive(true)).unwrap();
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        assert_eq!(spec.provider_authority, "organizations");
        assert_eq!(
            spec.property("authority"),
            Some("https://login.microsoftonline.com/common/")
        );
        // Scopes already decorated are not repeated.
        assert_eq!(
            wam_scopes(&["openid".into(), "User.Read".into(), "OFFLINE_ACCESS".into()]),
            "openid User.Read OFFLINE_ACCESS profile"
        );
    }

    #[test]
    fn organizations_workaround() {
        // NET WamBroker.cs WorkaroundOrganizationsBugAsync (issues #2476, #3217): /organizations
        // with the organizations provider is sent as /common; nothing else is rewritten.
        let r = request("https://login.microsoftonline.com:8443/organizations/");
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
        assert_eq!(
            spec.property("authority"),
            Some("https://login.microsoftonline.com:8443/common/")
        );
        for tenant in ["common", "contoso.onmicrosoft.com"] {
            let r = request(&format!("https://login.microsoftonline.com/{tenant}"));
            let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
            assert_eq!(
                spec.property("authority").unwrap(),
                format!("https://login.microsoftonline.com/{tenant}/")
            );
        }
    }

    #[test]
    fn aad_prompt_without_account() {
        // NET WamBroker.cs AcquireInteractiveWithAadBrowserAsync: isForceLoginPrompt: true and
        // AddPromptToRequest(NotSpecified → SelectAccount); AddPromptToRequest sends the prompt
        // property only with a forced login and never for none.
        let r = request("https://login.microsoftonline.com/organizations");
        let call = WamCall {
            interactive: true,
            force_login: true,
            ..WamCall::default()
        };
        let spec = build_wam_request(&r, WamPlugin::Aad, call).unwrap();
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        assert_eq!(spec.property("prompt"), Some("select_account"));
        for prompt in ["consent", "login", "select_account"] {
            let mut r = request("https://login.microsoftonline.com/organizations");
            r.prompt = Some(prompt.into());
            let spec = build_wam_request(&r, WamPlugin::Aad, call).unwrap();
            assert_eq!(spec.property("prompt"), Some(prompt));
        }
        let mut r = request("https://login.microsoftonline.com/organizations");
        r.prompt = Some("none".into());
        assert_eq!(
            build_wam_request(&r, WamPlugin::Aad, call)
                .unwrap()
                .property("prompt"),
            None
        );
        // Without a forced login (an account found in WAM, the picker) no prompt property.
        r.prompt = Some("consent".into());
        assert_eq!(
            build_wam_request(&r, WamPlugin::Aad, interactive(true))
                .unwrap()
                .property("prompt"),
            None
        );
    }

    #[test]
    fn tenant_authority_and_validation() {
        let mut r = request("https://login.microsoftonline.com/contoso.onmicrosoft.com/");
        r.validate_authority = false;
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
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
    fn plugin_and_picker_selection() {
        // NET WamBroker.cs IsMsaRequestAsync: consumers → MSA; organizations or a tenant → AAD;
        // common → the home tenant when known, else whether the OS default account is MSA
        // (WebAccountProviderFactory.cs IsDefaultAccountMsaAsync: the provider of
        // https://login.windows.local has the authority "consumers").
        let common = "https://login.microsoftonline.com/common";
        let never = || -> bool { panic!("the default account is not needed") };
        assert_eq!(
            plugin_for_request("https://login.microsoftonline.com/consumers", None, never).unwrap(),
            WamPlugin::Msa
        );
        assert_eq!(
            plugin_for_request(
                "https://login.microsoftonline.com/organizations",
                None,
                never
            )
            .unwrap(),
            WamPlugin::Aad
        );
        assert_eq!(
            plugin_for_request(common, Some(MSA_TENANT_ID), never).unwrap(),
            WamPlugin::Msa
        );
        assert_eq!(
            plugin_for_request(common, Some("tid1"), never).unwrap(),
            WamPlugin::Aad
        );
        assert_eq!(
            plugin_for_request(common, None, || true).unwrap(),
            WamPlugin::Msa
        );
        assert_eq!(
            plugin_for_request(common, None, || false).unwrap(),
            WamPlugin::Aad
        );
        assert!(is_consumers_provider("consumers"));
        assert!(!is_consumers_provider("organizations"));
        assert_eq!(DEFAULT_ACCOUNT_PROVIDER_ID, "https://login.windows.local");
        let account = broker_account(&format!("cid.{MSA_TENANT_ID}"), "id", "bob@outlook.com");
        assert_eq!(home_tenant(&account), Some(MSA_TENANT_ID));

        // NET WamBroker.cs CanSkipAccountPicker (AadAuthority.IsWorkAndSchoolOnly) and
        // AccountPicker.cs Authenticator_AccountCommandsRequested / AddSelectorsAsync: common
        // offers both providers, consumers only MSA, organizations only AAD, a tenant itself.
        assert!(!can_skip_account_picker(common).unwrap());
        assert!(!can_skip_account_picker("https://login.microsoftonline.com/consumers").unwrap());
        assert!(
            can_skip_account_picker("https://login.microsoftonline.com/organizations").unwrap()
        );
        assert!(can_skip_account_picker("https://login.microsoftonline.com/tid1").unwrap());
        assert_eq!(
            picker_provider_authorities(common).unwrap(),
            ["organizations", "consumers"]
        );
        assert_eq!(
            picker_provider_authorities("https://login.microsoftonline.com/consumers").unwrap(),
            ["consumers"]
        );
        assert_eq!(
            picker_provider_authorities("https://login.microsoftonline.com/tid1/").unwrap(),
            ["https://login.microsoftonline.com/tid1"]
        );
        // NET WamBroker.cs AcquireInteractiveWithPickerAsync: the picked provider decides.
        assert_eq!(plugin_for_picked_provider("consumers"), WamPlugin::Msa);
        assert_eq!(plugin_for_picked_provider("organizations"), WamPlugin::Aad);
        assert_eq!(
            provider_authority_for(common, WamPlugin::Msa).unwrap(),
            "consumers"
        );
    }

    #[test]
    fn msa_request_and_username_password() {
        // NET MsaPlugin.cs CreateWebTokenRequestAsync: api-version, oauth2_batch, x-client-info;
        // Client_uiflow=new_account (with ForceAuthentication) only with a login hint or when
        // the OS default account is not MSA. WamAdapters.cs AddMsalParamsToRequest adds the
        // authority for MSA too.
        let r = request("https://login.microsoftonline.com/consumers");
        let spec = build_wam_request(&r, WamPlugin::Msa, interactive(false)).unwrap();
        assert_eq!(spec.provider_authority, "consumers");
        assert_eq!(spec.property("api-version"), Some("2.0"));
        assert_eq!(spec.property("oauth2_batch"), Some("1"));
        assert_eq!(spec.property("x-client-info"), Some("1"));
        assert_eq!(spec.property("Client_uiflow"), Some("new_account"));
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        assert_eq!(spec.property("wam_compat"), None);
        assert_eq!(
            spec.property("authority"),
            Some("https://login.microsoftonline.com/consumers/")
        );
        assert_eq!(
            spec.scope,
            "User.Read Mail.Read openid profile offline_access"
        );
        // The default OS account is MSA and there is no hint: let WAM use it.
        let call = WamCall {
            default_account_is_msa: true,
            ..interactive(false)
        };
        let spec = build_wam_request(&r, WamPlugin::Msa, call).unwrap();
        assert_eq!(spec.property("Client_uiflow"), None);
        assert_eq!(spec.prompt, WamPrompt::Default);
        // consumers + login_hint: new account with the hint, forced.
        let mut hinted = r.clone();
        hinted.login_hint = Some("bob@outlook.com".into());
        let spec = build_wam_request(&hinted, WamPlugin::Msa, call).unwrap();
        assert_eq!(spec.property("Client_uiflow"), Some("new_account"));
        assert_eq!(spec.property("LoginHint"), Some("bob@outlook.com"));
        assert_eq!(spec.prompt, WamPrompt::ForceAuthentication);
        // Silent: nothing of the sort.
        let spec = build_wam_request(&hinted, WamPlugin::Msa, WamCall::default()).unwrap();
        assert_eq!(spec.property("Client_uiflow"), None);
        assert_eq!(spec.property("LoginHint"), None);

        let mut r = request("https://login.microsoftonline.com/common");
        r.username_password = Some(("alice@contoso.com".into(), BrokerPassword("s3cret".into())));
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
        assert_eq!(spec.property("Username"), Some("alice@contoso.com"));
        assert_eq!(spec.property("Password"), Some("s3cret"));
        assert!(!format!("{spec:?}").contains("s3cret"));
    }

    #[test]
    fn pop_and_ssh_certificate_parameters() {
        // PoP through WAM: token_type=pop and req_cnf as properties (NET WamBroker.cs
        // AcquireTokenSilentAsync: "add POP support by adding token_type = pop and req_cnf";
        // the same parameters the token endpoint takes, MSAL.NET
        // AuthScheme/PoP/PoPAuthenticationScheme.cs GetTokenRequestParams).
        let mut r = request("https://login.microsoftonline.com/common");
        r.pop = Some(crate::broker::PopParams {
            http_method: "GET".into(),
            uri_host: "h".into(),
            uri_path: "/".into(),
            nonce: None,
        });
        assert!(build_wam_request(&r, WamPlugin::Aad, WamCall::default()).is_err());
        r.extra_parameters.insert("token_type".into(), "pop".into());
        r.extra_parameters
            .insert("req_cnf".into(), "eyJraWQiOiJrMSJ9".into());
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
        assert_eq!(spec.property("token_type"), Some("pop"));
        assert_eq!(spec.property("req_cnf"), Some("eyJraWQiOiJrMSJ9"));
        assert!(build_wam_request(&r, WamPlugin::Msa, WamCall::default()).is_err());

        // SSH certificates: Azure CLI's parameters (MSAL Python `data`: token_type=ssh-cert,
        // req_cnf (a JWK), key_id) pass through as properties.
        let mut r = request("https://login.microsoftonline.com/common");
        r.scopes = vec!["https://pas.windows.net/CheckMyAccess/Linux/.default".into()];
        r.extra_parameters
            .insert("token_type".into(), "ssh-cert".into());
        r.extra_parameters.insert(
            "req_cnf".into(),
            r#"{"kty":"RSA","n":"x","e":"AQAB","kid":"k1"}"#.into(),
        );
        r.extra_parameters.insert("key_id".into(), "k1".into());
        let spec = build_wam_request(&r, WamPlugin::Aad, WamCall::default()).unwrap();
        assert_eq!(spec.property("token_type"), Some("ssh-cert"));
        assert_eq!(spec.property("key_id"), Some("k1"));
        assert!(spec.property("req_cnf").unwrap().contains("\"kid\":\"k1\""));
    }

    fn web_account(id: &str, user: &str, props: &[(&str, &str)]) -> WamAccountData {
        WamAccountData {
            id: id.into(),
            user_name: user.into(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn account_matching() {
        // NET WamBroker.cs FindWamAccountForMsalAccountAsync: the WAM id (WamAccountIds), then
        // FindMatchingWebAccount: the home account id, then the user name; AadPlugin.cs
        // GetAccountsAsync/MatchCacheAccount: a guest's WebAccount carries its home-tenant ids
        // wrongly, so the user name decides.
        let wam = vec![
            web_account(
                "w1",
                "alice@contoso.com",
                &[("OID", "oid1"), ("TenantId", "tid1")],
            ),
            web_account(
                "w2",
                "guest@fabrikam.com",
                &[("OID", "resource-oid"), ("TenantId", "resource-tenant")],
            ),
            web_account(
                "w3",
                "bob@outlook.com",
                &[("SafeCustomerId", "540648eb0b3075bb")],
            ),
        ];
        let by_id = broker_account("x.y", "w3", "");
        assert_eq!(match_web_account(&wam, Some(&by_id), None), Some(2));
        let by_home = broker_account("OID1.TID1", "unknown", "");
        assert_eq!(match_web_account(&wam, Some(&by_home), None), Some(0));
        let guest = broker_account("home-oid.home-tid", "other", "Guest@Fabrikam.com");
        assert_eq!(match_web_account(&wam, Some(&guest), None), Some(1));
        assert_eq!(
            match_web_account(&wam, None, Some("BOB@outlook.com")),
            Some(2)
        );
        assert_eq!(match_web_account(&wam, None, None), None);
        assert_eq!(match_web_account(&wam, None, Some("nobody@x")), None);
        // NET WamBroker.cs AcquireTokenSilentAsync: no WAM account → MsalUiRequiredException.
        let e = account_not_in_wam();
        assert!(e.status.requires_interaction());
        assert!(e.context.starts_with("AccountNotFound"));
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
        // NET AadPlugin.cs ParseSuccessfullWamResponse.
        assert_eq!(filetime_secs_to_unix(13_380_000_000), 1_735_526_400);
        let token = decode_wam_success(&aad_success(), WamPlugin::Aad, 0, false).unwrap();
        assert_eq!(token.access_token, "AT");
        assert_eq!(token.token_type, BrokerTokenType::Bearer);
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
        let pop = decode_wam_success(&aad_success(), WamPlugin::Aad, 0, true).unwrap();
        assert_eq!(pop.token_type, BrokerTokenType::Pop);

        let mut missing = aad_success();
        missing.properties.remove("Authority");
        let e = decode_wam_success(&missing, WamPlugin::Aad, 0, false).unwrap_err();
        assert!(e.context.starts_with("no_authority_in_wam_response"));

        let mut bad = aad_success();
        bad.properties
            .insert("TokenExpiresOn".into(), "soon".into());
        assert!(decode_wam_success(&bad, WamPlugin::Aad, 0, false).is_err());
        // Without a WebAccount the account comes from client info.
        let mut no_account = aad_success();
        no_account.account = None;
        let token = decode_wam_success(&no_account, WamPlugin::Aad, 0, false).unwrap();
        assert_eq!(token.account.unwrap().home_account_id, "oid1.tid1");
    }

    #[test]
    fn web_account_without_ids_and_token_without_expiry() {
        // W6: NET AadPlugin.cs never needs the WebAccount's OID/TenantId to read a token
        // (GetHomeAccountIdOrNull only warns); the account comes from wamcompat_client_info,
        // keeping the WAM account id.
        let mut no_ids = aad_success();
        no_ids.account.as_mut().unwrap().properties.clear();
        let token = decode_wam_success(&no_ids, WamPlugin::Aad, 0, false).unwrap();
        let account = token.account.unwrap();
        assert_eq!(account.home_account_id, "oid1.tid1");
        assert_eq!(account.account_id, "wam-account-id");
        assert_eq!(account.username, "alice@contoso.com");
        // W11: NET AadPlugin.cs ParseSuccessfullWamResponse "Result from WAM does not have
        // expiration. Marking access token as expired."
        let mut no_expiry = aad_success();
        no_expiry.properties.remove("TokenExpiresOn");
        let token = decode_wam_success(&no_expiry, WamPlugin::Aad, 1_000, false).unwrap();
        assert_eq!(token.expires_on, 1_000);
    }

    #[test]
    fn msa_token_string() {
        // NET MsaPlugin.cs ParseSuccesfullWamResponse: split on & and =, nothing decoded except
        // %20 in scope.
        let msa = decode_msa_token(
            "access_token=AT&id_token=IT&token_type=bearer&scope=a%20b&client_info=CI&expires_in=3600&correlation=C",
        )
        .unwrap();
        assert_eq!(msa.access_token, "AT");
        assert_eq!(msa.scopes, ["a", "b"]);
        assert_eq!(msa.token_type.as_str(), "Bearer");
        assert_eq!(msa.expires_in, Some(3600));
        // W7: a compact ticket with `+`, `/`, `%` and `=` comes back byte for byte.
        let msa = decode_msa_token("access_token=EwB4A+8/bG%2Fx==&scope=wl.basic").unwrap();
        assert_eq!(msa.access_token, "EwB4A+8/bG%2Fx==");
        assert!(decode_msa_token("access_token=AT&broken").is_err());
        assert!(decode_msa_token("id_token=IT").is_err());
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
        let token = decode_wam_success(&data, WamPlugin::Msa, 100, false).unwrap();
        assert_eq!(token.expires_on, 3700);
        let account = token.account.unwrap();
        assert_eq!(
            account.local_account_id,
            "00000000-0000-0000-5406-48eb0b3075bb"
        );
        assert_eq!(account.account_id, "msa-id");
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
