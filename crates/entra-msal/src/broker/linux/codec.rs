//! The Linux broker's JSON, as Microsoft's own client (libmsalruntime, through MSAL Python)
//! speaks it on `com.microsoft.identity.broker1`: request bodies per method,
//! lenient decoding of accounts and tokens, and the error objects with their status numbers.
//! Pure functions; the D-Bus shim only moves the strings.

use serde_json::{Map, Value, json};

use crate::broker::{
    BrokerAccount, BrokerError, BrokerPlatform, BrokerStatus, BrokerTokenRequest,
    BrokerTokenResponse, BrokerTokenType, PopParams,
};

/// The protocol version every known client sends.
pub const PROTOCOL_VERSION: &str = "0.0";

/// `authorizationType` of a silent request (cached refresh token).
const AUTHORIZATION_SILENT: i64 = 1;
/// `authorizationType` of an interactive request.
const AUTHORIZATION_INTERACTIVE: i64 = 6;

/// The SKU this library reports to the broker.
const CLIENT_SKU: &str = "MSAL.Rust";

const PLATFORM: BrokerPlatform = BrokerPlatform::Linux;

/// A broker D-Bus method, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `getAccounts`
    GetAccounts,
    /// `acquireTokenSilently`
    AcquireTokenSilently,
    /// `acquireTokenInteractively`
    AcquireTokenInteractively,
    /// `removeAccount`
    RemoveAccount,
}

impl Method {
    /// The D-Bus member name.
    pub fn name(self) -> &'static str {
        match self {
            Self::GetAccounts => "getAccounts",
            Self::AcquireTokenSilently => "acquireTokenSilently",
            Self::AcquireTokenInteractively => "acquireTokenInteractively",
            Self::RemoveAccount => "removeAccount",
        }
    }
}

/// `getAccounts`: Microsoft's client sends the client id as the redirect URI.
pub fn encode_get_accounts(client_id: &str) -> String {
    json!({"clientId": client_id, "redirectUri": client_id}).to_string()
}

/// `removeAccount`.
pub fn encode_remove_account(client_id: &str, account: &BrokerAccount) -> String {
    json!({"clientId": client_id, "account": account.raw}).to_string()
}

/// `acquireTokenSilently`: for `request.account`, or (no account) the device's signed-in user.
pub fn encode_silent(request: &BrokerTokenRequest) -> String {
    json!({"authParameters": auth_parameters(request, AUTHORIZATION_SILENT, false)}).to_string()
}

/// `acquireTokenInteractively`, owned by the window `handle`.
pub fn encode_interactive(request: &BrokerTokenRequest, handle: i64) -> String {
    let mut params = auth_parameters(request, AUTHORIZATION_INTERACTIVE, true);
    params.insert("parentWindow".into(), json!({"handle": handle}));
    json!({"authParameters": params, "parentWindowHandle": handle}).to_string()
}

fn auth_parameters(
    request: &BrokerTokenRequest,
    kind: i64,
    interactive: bool,
) -> Map<String, Value> {
    let mut extra: Map<String, Value> = Map::new();
    extra.insert("msal_client_sku".into(), CLIENT_SKU.into());
    extra.insert("msal_client_ver".into(), env!("CARGO_PKG_VERSION").into());
    if interactive {
        extra.insert("msal_gui_thread".into(), "true".into());
    }
    for (k, v) in &request.extra_parameters {
        extra.insert(k.clone(), v.clone().into());
    }
    let (account, username) = match &request.account {
        Some(a) => (a.raw.clone(), a.username.clone()),
        None => (Value::Null, request.login_hint.clone().unwrap_or_default()),
    };
    let mut p = Map::new();
    p.insert("accessTokenToRenew".into(), "".into());
    p.insert("account".into(), account);
    p.insert(
        "additionalQueryParametersForAuthorization".into(),
        Value::Object(extra),
    );
    p.insert("authority".into(), request.authority.clone().into());
    p.insert("authorizationType".into(), kind.into());
    p.insert("clientId".into(), request.client_id.clone().into());
    p.insert(
        "decodedClaims".into(),
        request.claims.clone().unwrap_or_default().into(),
    );
    p.insert("enrollmentId".into(), "".into());
    p.insert("isTestMode".into(), false.into());
    p.insert("password".into(), "".into());
    p.insert(
        "popParams".into(),
        request.pop.as_ref().map_or(Value::Null, pop_params),
    );
    p.insert("redirectUri".into(), request.redirect_uri.clone().into());
    p.insert("requestedScopes".into(), request.scopes.clone().into());
    p.insert("username".into(), username.into());
    p.insert("uxContextHandle".into(), (-1).into());
    if request.account.is_none() {
        p.insert("isSignIn".into(), true.into());
    }
    p
}

fn pop_params(pop: &PopParams) -> Value {
    json!({
        "authenticationScheme": "pop",
        "clientClaims": "",
        "homeAccountId": "",
        "httpMethod": pop.http_method,
        "nonce": pop.nonce.clone().unwrap_or_default(),
        "uriHost": pop.uri_host,
        "uriPath": pop.uri_path,
    })
}

/// Parses a broker answer as JSON, or explains why it is not.
fn parse(method: Method, body: &str) -> Result<Map<String, Value>, BrokerError> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(BrokerError::new(
            PLATFORM,
            BrokerStatus::ApiContractViolation,
            format!(
                "the Linux broker answered {} with something that is not a JSON object ({} bytes); \
                 update or reinstall microsoft-identity-broker",
                method.name(),
                body.len()
            ),
        )),
    }
}

/// An integer sent as a number or a numeric string.
fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Maps the Linux broker's status numbers (libmsalruntime's internal numbering, which differs
/// from the public enum from 12 up).
pub fn status_from_wire(status: i64) -> BrokerStatus {
    use BrokerStatus::*;
    match status {
        0 => Unexpected,
        1 => Reserved,
        2 => InteractionRequired,
        3 => NoNetwork,
        4 => NetworkTemporarilyUnavailable,
        5 => ServerTemporarilyUnavailable,
        6 => ApiContractViolation,
        7 => UserCanceled,
        8 => ApplicationCanceled,
        9 => IncorrectConfiguration,
        10 => InsufficientBuffer,
        11 => AuthorityUntrusted,
        12 => UserSwitch,
        13 => AccountUnusable,
        14 => UserDataRemovalRequired,
        15 => TransientError,
        16 => AccountSwitch,
        17 => DeviceNotRegistered,
        18 => KeyNotFound,
        19 => AccountNotFound,
        20 => RequiredBrokerMissing,
        21 => FallbackToNativeMsal,
        _ => Unexpected,
    }
}

/// An error object (`context`, `status`, `errorCode`, `tag`, `subStatus`; every field optional,
/// numbers or numeric strings).
pub fn decode_error(error: &Value) -> BrokerError {
    let empty = Map::new();
    let map = error.as_object().unwrap_or(&empty);
    let context = text(map, "context")
        .or_else(|| error.as_str().map(str::to_string))
        .unwrap_or_else(|| "the Linux broker reported an error without a description".into());
    let status = match int(map.get("status")) {
        Some(s) => status_from_wire(s),
        None if context.contains("AADSTS50011") || context.contains("AADSTS7000218") => {
            BrokerStatus::IncorrectConfiguration
        }
        None => BrokerStatus::Unexpected,
    };
    BrokerError {
        platform: PLATFORM,
        status,
        error_code: int(map.get("errorCode"))
            .or_else(|| int(map.get("code")))
            .unwrap_or(0),
        tag: int(map.get("tag")).unwrap_or(0),
        context,
        sub_status: int(map.get("subStatus")),
    }
}

/// The error object of an answer, in either placement (top level, or inside
/// `brokerTokenResponse`).
fn error_in(map: &Map<String, Value>) -> Option<BrokerError> {
    let inner = map
        .get("brokerTokenResponse")
        .and_then(Value::as_object)
        .and_then(|r| r.get("error"));
    map.get("error")
        .or(inner)
        .filter(|e| !e.is_null())
        .map(decode_error)
}

/// Decodes one account object. `None` when a key Microsoft's client requires is missing
/// (`homeAccountId`, `localAccountId`, `username`, `environment`, `realm`): such accounts are
/// dropped, as libmsalruntime drops them.
pub fn decode_account(value: &Value) -> Option<BrokerAccount> {
    let map = value.as_object()?;
    let home_account_id = text(map, "homeAccountId")?;
    let local_account_id = text(map, "localAccountId")?;
    let name = text(map, "name").or_else(|| {
        let given = text(map, "givenName").unwrap_or_default();
        let family = text(map, "familyName").unwrap_or_default();
        let full = format!("{given} {family}").trim().to_string();
        (!full.is_empty()).then_some(full)
    });
    Some(BrokerAccount {
        account_id: local_account_id.clone(),
        home_account_id,
        local_account_id,
        environment: text(map, "environment")?,
        realm: text(map, "realm")?,
        username: text(map, "username")?,
        name,
        client_info: text(map, "clientInfo"),
        raw: value.clone(),
    })
}

/// Decodes a `getAccounts` answer.
pub fn decode_accounts(body: &str) -> Result<Vec<BrokerAccount>, BrokerError> {
    let map = parse(Method::GetAccounts, body)?;
    if let Some(e) = error_in(&map) {
        return Err(e);
    }
    let accounts = match map.get("accounts") {
        Some(Value::Array(list)) => list,
        Some(Value::Null) | None => return Ok(Vec::new()),
        Some(_) => {
            return Err(BrokerError::new(
                PLATFORM,
                BrokerStatus::ApiContractViolation,
                "the Linux broker's getAccounts answer has an `accounts` that is not a list",
            ));
        }
    };
    let decoded: Vec<BrokerAccount> = accounts.iter().filter_map(decode_account).collect();
    if decoded.len() < accounts.len() {
        tracing::debug!(
            dropped = accounts.len() - decoded.len(),
            "broker accounts without the required keys were ignored"
        );
    }
    Ok(decoded)
}

/// Below this, an `expiresOn` is taken to be in seconds, not milliseconds (some brokers send
/// seconds; 1e11 ms is 1973, 1e11 s is the year 5138).
const SECONDS_THRESHOLD: i64 = 100_000_000_000;

fn epoch_seconds(value: i64) -> i64 {
    // `unsigned_abs`: `abs` overflows on i64::MIN (a fuzzing finding, from a huge negative
    // `expiresOn`).
    if value.unsigned_abs() < SECONDS_THRESHOLD.unsigned_abs() {
        value
    } else {
        value / 1000
    }
}

fn contract(context: String) -> BrokerError {
    BrokerError::new(PLATFORM, BrokerStatus::ApiContractViolation, context)
}

/// Decodes a token answer (`acquireTokenSilently`, `acquireTokenInteractively`). The request
/// supplies the fallbacks libmsalruntime uses: the requested scopes when none were granted, the
/// request's account when the answer has none.
pub fn decode_token(
    method: Method,
    body: &str,
    request: &BrokerTokenRequest,
) -> Result<BrokerTokenResponse, BrokerError> {
    let map = parse(method, body)?;
    if let Some(e) = error_in(&map) {
        return Err(e);
    }
    let response = map
        .get("brokerTokenResponse")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            contract(format!(
                "the Linux broker's {} answer has no brokerTokenResponse object",
                method.name()
            ))
        })?;
    let access_token = text(response, "accessToken").ok_or_else(|| {
        contract(format!(
            "the Linux broker's {} answer has no access token",
            method.name()
        ))
    })?;
    let token_type = match response.get("accessTokenType") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("pop") => BrokerTokenType::Pop,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("bearer") => BrokerTokenType::Bearer,
        other => match int(other) {
            Some(1) if request.pop.is_some() => BrokerTokenType::Pop,
            Some(0 | 1) => BrokerTokenType::Bearer,
            _ => {
                return Err(contract(format!(
                    "the Linux broker's {} answer has no valid accessTokenType",
                    method.name()
                )));
            }
        },
    };
    if request.pop.is_some() && token_type != BrokerTokenType::Pop {
        return Err(contract(
            "a proof-of-possession token was requested but the broker issued a bearer token; \
             this broker does not support PoP"
                .into(),
        ));
    }
    let expires_on = int(response.get("expiresOn"))
        .map(epoch_seconds)
        .ok_or_else(|| {
            contract(format!(
                "the Linux broker's {} answer has no valid expiresOn",
                method.name()
            ))
        })?;
    let ext_expires_on = int(response.get("extendedExpiresOn"))
        .filter(|v| *v > 0)
        .map(epoch_seconds);
    let granted_scopes = match response.get("grantedScopes") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let granted_scopes = if granted_scopes.is_empty() {
        request.scopes.clone()
    } else {
        granted_scopes
    };
    let account = response
        .get("account")
        .and_then(decode_account)
        .or_else(|| request.account.clone());
    let client_info = text(response, "clientInfo")
        .or_else(|| account.as_ref().and_then(|a| a.client_info.clone()));
    Ok(BrokerTokenResponse {
        access_token,
        token_type,
        expires_on,
        ext_expires_on,
        id_token: text(response, "idToken"),
        client_info,
        granted_scopes,
        account,
        authority: None,
    })
}

/// Whether the status of a `removeAccount` answer is a failure (the body is otherwise ignored).
pub fn decode_remove_account(body: &str) -> Result<(), BrokerError> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => error_in(&map).map_or(Ok(()), Err),
        // Some brokers answer with an empty string.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

    fn account_json() -> Value {
        json!({"clientInfo":"eyJ1aWQiOiJvaWQiLCJ1dGlkIjoidGlkIn0","environment":"login.microsoftonline.com",
               "familyName":"Example","givenName":"Alice","homeAccountId":"oid.tid","localAccountId":"oid",
               "name":"Alice Example","passwordExpiry":0,"realm":"tid","username":"alice@contoso.example"})
    }

    fn request(account: Option<BrokerAccount>) -> BrokerTokenRequest {
        BrokerTokenRequest {
            client_id: CLIENT.into(),
            authority: "https://login.microsoftonline.com/common".into(),
            scopes: vec!["User.Read".into()],
            redirect_uri: crate::broker::LINUX_REDIRECT_URI.into(),
            correlation_id: "c0ffee00-0000-4000-8000-000000000000".into(),
            claims: None,
            account,
            login_hint: None,
            prompt: None,
            pop: None,
            username_password: None,
            extra_parameters: BTreeMap::new(),
            validate_authority: true,
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// Fuzzing finding: an `expiresOn` that saturates to i64::MIN overflowed `abs`.
    #[test]
    fn extreme_expires_on_does_not_overflow() {
        for expires_on in [
            "-92233720368547758087007000",
            "-9223372036854775808",
            "1e300",
        ] {
            let body = format!(
                r#"{{"brokerTokenResponse":{{"accessToken":"at","accessTokenType":0,"expiresOn":{expires_on}}}}}"#
            );
            let _ = decode_token(Method::AcquireTokenSilently, &body, &request(None));
        }
        assert_eq!(epoch_seconds(i64::MIN), i64::MIN / 1000);
        assert_eq!(epoch_seconds(-5), -5);
    }

    #[test]
    fn get_accounts_request_matches_microsofts_client() {
        let v: Value = serde_json::from_str(&encode_get_accounts(CLIENT)).unwrap();
        assert_eq!(v, json!({"clientId": CLIENT, "redirectUri": CLIENT}));
    }

    #[test]
    fn silent_request_has_microsofts_key_set() {
        let account = decode_account(&account_json()).unwrap();
        let v: Value = serde_json::from_str(&encode_silent(&request(Some(account)))).unwrap();
        let p = &v["authParameters"];
        assert_eq!(keys(&v), ["authParameters"]);
        assert_eq!(
            keys(p),
            [
                "accessTokenToRenew",
                "account",
                "additionalQueryParametersForAuthorization",
                "authority",
                "authorizationType",
                "clientId",
                "decodedClaims",
                "enrollmentId",
                "isTestMode",
                "password",
                "popParams",
                "redirectUri",
                "requestedScopes",
                "username",
                "uxContextHandle",
            ]
        );
        assert_eq!(p["authorizationType"], 1);
        assert_eq!(p["account"], account_json());
        assert_eq!(p["username"], "alice@contoso.example");
        assert_eq!(p["uxContextHandle"], -1);
        assert_eq!(p["popParams"], Value::Null);
        assert_eq!(
            p["redirectUri"],
            "https://login.microsoftonline.com/common/oauth2/nativeclient"
        );
        assert_eq!(p["requestedScopes"], json!(["User.Read"]));
        assert_eq!(
            p["additionalQueryParametersForAuthorization"]["msal_client_sku"],
            "MSAL.Rust"
        );
    }

    #[test]
    fn silent_sign_in_without_account_sets_is_sign_in() {
        let mut r = request(None);
        r.claims =
            Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#.into());
        let v: Value = serde_json::from_str(&encode_silent(&r)).unwrap();
        let p = &v["authParameters"];
        assert_eq!(p["account"], Value::Null);
        assert_eq!(p["username"], "");
        assert_eq!(p["isSignIn"], true);
        assert_eq!(
            p["decodedClaims"],
            r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#
        );
    }

    #[test]
    fn interactive_request_carries_the_parent_window() {
        let mut r = request(None);
        r.pop = Some(PopParams {
            http_method: "GET".into(),
            uri_host: "graph.microsoft.com".into(),
            uri_path: "/v1.0/me".into(),
            nonce: Some("nonce-123".into()),
        });
        let v: Value = serde_json::from_str(&encode_interactive(&r, 1)).unwrap();
        assert_eq!(keys(&v), ["authParameters", "parentWindowHandle"]);
        assert_eq!(v["parentWindowHandle"], 1);
        let p = &v["authParameters"];
        assert_eq!(p["authorizationType"], 6);
        assert_eq!(p["parentWindow"], json!({"handle": 1}));
        assert_eq!(p["isSignIn"], true);
        assert_eq!(
            p["additionalQueryParametersForAuthorization"]["msal_gui_thread"],
            "true"
        );
        assert_eq!(p["popParams"]["uriHost"], "graph.microsoft.com");
        assert_eq!(p["popParams"]["uriPath"], "/v1.0/me");
        assert_eq!(p["popParams"]["nonce"], "nonce-123");
        assert_eq!(p["popParams"]["httpMethod"], "GET");
    }

    #[test]
    fn accounts_decode_and_incomplete_ones_are_dropped() {
        let mut minimal = json!({"homeAccountId":"h.t","localAccountId":"h","username":"u@x",
                                 "environment":"login.microsoftonline.com","realm":"t"});
        let only_username = json!({"username": "nobody@x"});
        let body =
            json!({"accounts": [account_json(), minimal.clone(), only_username]}).to_string();
        let accounts = decode_accounts(&body).unwrap();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].home_account_id, "oid.tid");
        assert_eq!(accounts[0].account_id, "oid");
        assert_eq!(accounts[0].name.as_deref(), Some("Alice Example"));
        assert_eq!(accounts[0].raw, account_json());
        assert_eq!(accounts[1].client_info, None);
        minimal["realm"] = Value::Null;
        assert!(decode_account(&minimal).is_none());
        assert!(decode_accounts(r#"{"accounts":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn token_success_with_millisecond_expiry() {
        let body = json!({"brokerTokenResponse":{"accessToken":"at","accessTokenType":0,
            "account": account_json(), "clientInfo":"ci","expiresOn":1_900_000_000_000i64,
            "extendedExpiresOn":1_900_003_600_000i64,"grantedScopes":"User.Read profile","idToken":"a.b.c"}})
        .to_string();
        let t = decode_token(Method::AcquireTokenSilently, &body, &request(None)).unwrap();
        assert_eq!(t.access_token, "at");
        assert_eq!(t.token_type, BrokerTokenType::Bearer);
        assert_eq!(t.expires_on, 1_900_000_000);
        assert_eq!(t.ext_expires_on, Some(1_900_003_600));
        assert_eq!(t.granted_scopes, ["User.Read", "profile"]);
        assert_eq!(t.client_info.as_deref(), Some("ci"));
        assert_eq!(t.account.unwrap().username, "alice@contoso.example");
    }

    #[test]
    fn token_variants_are_tolerated() {
        // accessTokenType as a string, scopes as a list, seconds instead of ms, no account.
        let body = json!({"brokerTokenResponse":{"accessToken":"at","accessTokenType":"Bearer",
            "expiresOn":"1900000000","extendedExpiresOn":0,"grantedScopes":["a","b"],
            "idToken":"x.y.z","clientInfo":"ci"}})
        .to_string();
        let account = decode_account(&account_json()).unwrap();
        let t = decode_token(Method::AcquireTokenSilently, &body, &request(Some(account))).unwrap();
        assert_eq!(t.expires_on, 1_900_000_000);
        assert_eq!(t.ext_expires_on, None);
        assert_eq!(t.granted_scopes, ["a", "b"]);
        assert_eq!(t.account.unwrap().home_account_id, "oid.tid");
        // No granted scopes: the requested ones.
        let body = json!({"brokerTokenResponse":{"accessToken":"at","accessTokenType":0,
            "expiresOn":1_900_000_000_000i64,"clientInfo":"ci"}})
        .to_string();
        let t = decode_token(Method::AcquireTokenSilently, &body, &request(None)).unwrap();
        assert_eq!(t.granted_scopes, ["User.Read"]);
    }

    #[test]
    fn pop_needs_a_pop_token() {
        let mut r = request(None);
        r.pop = Some(PopParams {
            http_method: "GET".into(),
            uri_host: "h".into(),
            uri_path: "/".into(),
            nonce: None,
        });
        let pop = json!({"brokerTokenResponse":{"accessToken":"SHR","accessTokenType":1,"expiresOn":1_900_000_000_000i64}}).to_string();
        assert_eq!(
            decode_token(Method::AcquireTokenSilently, &pop, &r)
                .unwrap()
                .token_type,
            BrokerTokenType::Pop
        );
        let bearer = json!({"brokerTokenResponse":{"accessToken":"AT","accessTokenType":0,"expiresOn":1_900_000_000_000i64}}).to_string();
        let e = decode_token(Method::AcquireTokenSilently, &bearer, &r).unwrap_err();
        assert_eq!(e.status, BrokerStatus::ApiContractViolation);
        // Type 1 on a bearer request stays bearer (as libmsalruntime).
        let t = decode_token(Method::AcquireTokenSilently, &pop, &request(None)).unwrap();
        assert_eq!(t.token_type, BrokerTokenType::Bearer);
    }

    #[test]
    fn errors_in_both_placements() {
        let inner = json!({"brokerTokenResponse":{"error":{"context":"need MFA","status":2,"subStatus":5,"errorCode":0,"tag":1}}}).to_string();
        let e = decode_token(Method::AcquireTokenSilently, &inner, &request(None)).unwrap_err();
        assert_eq!(e.status, BrokerStatus::InteractionRequired);
        assert_eq!(e.sub_status, Some(5));
        assert_eq!(e.context, "need MFA");
        let top =
            json!({"error":{"context":"Unable to find account","code":42,"status":"19","tag":7}})
                .to_string();
        let e = decode_accounts(&top).unwrap_err();
        assert_eq!(e.status, BrokerStatus::AccountNotFound);
        assert_eq!(e.error_code, 42);
        assert_eq!(e.tag, 7);
    }

    #[test]
    fn the_seed_redirect_uri_case_is_recognised() {
        let body = json!({"brokerTokenResponse":{"error":{
            "context":"AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain",
            "errorCode":-51411,"status":0,"tag":508170375}}})
        .to_string();
        let e = decode_token(Method::AcquireTokenInteractively, &body, &request(None)).unwrap_err();
        assert!(e.is_redirect_uri_mismatch());
        assert_eq!(e.tag, 508170375);
        assert_eq!(
            e.to_string(),
            "AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain. Status: \
             Response_Status.Status_Unexpected, Error code: -51411, Tag: 508170375"
        );
    }

    #[test]
    fn status_numbers_follow_the_internal_table() {
        assert_eq!(status_from_wire(13), BrokerStatus::AccountUnusable);
        assert_eq!(status_from_wire(15), BrokerStatus::TransientError);
        assert_eq!(status_from_wire(19), BrokerStatus::AccountNotFound);
        assert_eq!(status_from_wire(20), BrokerStatus::RequiredBrokerMissing);
        assert_eq!(status_from_wire(23), BrokerStatus::Unexpected);
        assert_eq!(status_from_wire(-4), BrokerStatus::Unexpected);
    }

    #[test]
    fn malformed_answers_are_contract_violations() {
        for body in [
            "",
            "this is not json",
            "[]",
            "{}",
            r#"{"brokerTokenResponse":{}}"#,
            r#"{"brokerTokenResponse":{"accessToken":"a","accessTokenType":0}}"#,
            r#"{"brokerTokenResponse":{"accessToken":"a","expiresOn":1}}"#,
        ] {
            let e = decode_token(Method::AcquireTokenSilently, body, &request(None)).unwrap_err();
            assert_eq!(e.status, BrokerStatus::ApiContractViolation, "{body}");
        }
        assert!(decode_accounts(r#"{"accounts":"x"}"#).is_err());
        assert!(decode_remove_account("").is_ok());
        assert!(
            decode_remove_account(
                r#"{"error":{"context":"no","status":19,"errorCode":0,"tag":0}}"#
            )
            .is_err()
        );
    }
}
