//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay test. Not part of the
//! API: hidden from the documentation, and free to change at any time.
//!
//! Each function takes the raw bytes a fuzzer produced, feeds them to one of the parsers that
//! read outside input (servers, brokers, browsers, cache files), and checks the properties that
//! must hold for every input. A panic is a finding: either the parser panicked, or a property
//! (such as "a serialized cache reads back to the same cache") does not hold.
//!
//! The first bytes of an input often choose the context (an HTTP status, a content type, a
//! managed-identity source); the rest is the body, so seed files are mostly real bodies behind
//! a short prefix.

use serde_json::Value;

use crate::app::claims::merged;
use crate::authority::Authority;
use crate::authority::discovery::parse_openid_configuration;
use crate::authority::instance::{aliases_in, parse_instance_discovery};
use crate::authority::user_realm::parse_user_realm;
use crate::broker::linux::codec::{
    Method, decode_accounts, decode_error, decode_remove_account, decode_token,
};
use crate::broker::{BrokerTokenRequest, PopParams};
use crate::cache::{TokenCache, TokenEvent};
use crate::http::HttpResponse;
use crate::interactive::http1::{MAX_REQUEST_BYTES, ParseError, parse_request};
use crate::interactive::redirect::authorization_response;
use crate::jwt::{claim_text, decode_json_object, home_account_id, jwt_claims};
use crate::managed_identity::ManagedIdentity;
use crate::managed_identity::codecs::{
    app_service, arc, cloud_shell, imds, machine_learning, service_fabric,
};
use crate::oauth::response::{parse_token_response, service_error};

/// A fixed "now" (2023-11-14), so runs are reproducible.
const NOW: i64 = 1_700_000_000;

/// Splits off the first byte (0 when the input is empty).
fn take(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}

fn pick<T: Copy>(options: &[T], selector: u8) -> T {
    options[usize::from(selector) % options.len()]
}

const STATUSES: [u16; 10] = [200, 400, 401, 403, 404, 429, 500, 503, 302, 201];

fn http_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        if http::HeaderValue::from_str(value).is_ok() {
            builder = builder.header(*name, *value);
        }
    }
    builder
        .body(body.to_vec())
        .unwrap_or_else(|_| http::Response::new(body.to_vec()))
}

/// Every error must format (Display and Debug) without panicking.
fn exercise_error(e: &crate::Error) {
    let _ = format!("{e} {e:?}");
    let _ = e.service_error();
    let _ = e.is_ui_required();
}

/// Loopback listener: the HTTP/1 request parser and the authorization-response reader.
///
/// Properties: no panic; a complete request's body is exactly its `Content-Length` and fits in
/// the input; an incomplete one announces a total larger than what it has; a prefix that parses
/// completely parses to the same request as the whole input.
pub fn http1_request(data: &[u8]) {
    match parse_request(data) {
        Ok(request) => {
            assert!(request.body.len() <= data.len());
            assert!(request.headers.len() <= crate::interactive::http1::MAX_HEADERS);
            for (name, _) in &request.headers {
                assert_eq!(
                    name,
                    &name.to_ascii_lowercase(),
                    "header names are lower-cased"
                );
            }
            if let Some(length) = request.header("content-length") {
                let length: usize = length
                    .split(',')
                    .next()
                    .and_then(|v| v.trim().parse().ok())
                    .expect("an accepted Content-Length is a number");
                assert_eq!(request.body.len(), length);
            }
            let _ = authorization_response(&request);
            let half = &data[..data.len() / 2];
            if let Ok(prefix) = parse_request(half) {
                assert_eq!(prefix, request, "a prefix parsed to a different request");
            }
        }
        Err(ParseError::Incomplete { total, .. }) => {
            if let Some(total) = total {
                assert!(
                    total > data.len(),
                    "incomplete, yet {total} <= {}",
                    data.len()
                );
                assert!(total <= MAX_REQUEST_BYTES);
            }
            assert!(data.len() < MAX_REQUEST_BYTES);
        }
        Err(e) => {
            let _ = (e.status(), e.reason());
        }
    }
}

/// Token endpoint: status, content type and `Retry-After` chosen by the first three bytes, the
/// rest is the body. A successful answer goes on into the token cache, which must then survive
/// a serialize/deserialize round trip.
pub fn token_response(data: &[u8]) {
    let (status, data) = take(data);
    let (content_type, data) = take(data);
    let (retry, body) = take(data);
    let status = pick(&STATUSES, status);
    let content_type = pick(
        &[
            "application/json; charset=utf-8",
            "text/html",
            "application/problem+json",
            "",
        ],
        content_type,
    );
    let retry_after = pick(
        &["", "7", " 120 ", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"],
        retry,
    );
    let mut headers = Vec::new();
    if !content_type.is_empty() {
        headers.push(("content-type", content_type));
    }
    if !retry_after.is_empty() {
        headers.push(("retry-after", retry_after));
    }
    let response = http_response(status, &headers, body);
    let _ = service_error(body, status, "correlation");
    let _ = crate::authority::wire::entra_error(status, body);
    match parse_token_response("https://login.example/t/oauth2/v2.0/token", &response, "c") {
        Err(e) => exercise_error(&e),
        Ok(token) => {
            let _ = format!("{token:?}");
            let _ = (
                token.token_type(),
                token.refresh_token(),
                token.scopes(),
                token.expires_in(),
                token.ext_expires_in(),
                token.refresh_in(),
                token.foci(),
            );
            if let Some(id_token) = token.id_token() {
                let _ = jwt_claims(id_token);
            }
            if let Some(client_info) = token.client_info() {
                let _ = home_account_id(client_info);
            }
            let json = token.to_json();
            let scopes = vec!["https://graph.example/.default".to_string()];
            let cache = TokenCache::new();
            for grant_type in ["authorization_code", "refresh_token"] {
                let event = TokenEvent {
                    client_id: "client",
                    environment: "login.example",
                    realm: "tenant",
                    requested_scopes: &scopes,
                    response: &json,
                    grant_type,
                    username: Some("user@example"),
                    ext_cache_key: None,
                    skip_account_creation: false,
                    now: NOW,
                };
                if let Err(e) = cache.add(&event) {
                    exercise_error(&e);
                }
            }
            round_trip(&cache);
        }
    }
}

/// Serializes `cache`, reads it back, and checks that nothing changed.
fn round_trip(cache: &TokenCache) {
    let first = cache.serialize();
    let again = TokenCache::new();
    if let Err(e) = again.deserialize(&first) {
        panic!("the cache's own serialization does not read back: {e}\n{first}");
    }
    let second = again.serialize();
    assert_eq!(
        first, second,
        "serialize, deserialize, serialize changed the cache"
    );
    assert_eq!(cache.accounts(), again.accounts());
}

/// Token-cache JSON (files written by any MSAL): whatever reads must write back in a form that
/// reads back to the same cache.
pub fn cache_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cache = TokenCache::new();
    match cache.deserialize(text) {
        Err(e) => {
            exercise_error(&e);
            assert_eq!(cache.serialize(), TokenCache::new().serialize());
        }
        Ok(()) => {
            let _ = cache.accounts();
            round_trip(&cache);
        }
    }
}

/// ID-token claims, `client_info`, and claims challenges, through the one lenient decoder that
/// the cache and the results share: a strictly encoded (base64url, unpadded) payload decodes to
/// the same claims as its lenient reading.
pub fn id_token_claims(data: &[u8]) {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(data);
    let lenient = jwt_claims(&text);
    if let Some(payload) = text.split('.').nth(1)
        && let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)
        && let Ok(Value::Object(strict)) = serde_json::from_slice::<Value>(&bytes)
    {
        assert_eq!(
            Some(&strict),
            lenient.as_ref(),
            "lenient decoding disagrees"
        );
    }
    if let Some(home) = home_account_id(&text) {
        let info = decode_json_object(&text).expect("lenient client_info decoding refused");
        let uid = claim_text(&info, "uid").expect("uid");
        let utid = claim_text(&info, "utid").expect("utid");
        assert_eq!(home, format!("{uid}.{utid}"));
    }
    if let Some(claims) = lenient {
        for name in [
            "sub",
            "oid",
            "preferred_username",
            "upn",
            "tid",
            "iss",
            "exp",
        ] {
            let _ = claim_text(&claims, name);
        }
    }
    for capabilities in [&[][..], &["CP1".to_string()][..]] {
        match merged(capabilities, Some(&text)) {
            Ok(Some(out)) => {
                let _: serde_json::Map<String, Value> =
                    serde_json::from_str(&out).expect("merged claims are a JSON object");
            }
            Ok(None) => {}
            Err(e) => exercise_error(&e),
        }
    }
}

const AUTHORITIES: [&str; 6] = [
    "https://login.microsoftonline.com/common",
    "https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
    "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
    "https://adfs.contoso.example/adfs",
    "https://contoso.ciamlogin.com",
    "http://127.0.0.1:8443/tenant",
];

/// OIDC discovery, instance discovery and user-realm documents, the federation server's MEX
/// document and WS-Trust response, and authority URLs. The first
/// byte chooses the authority, the second the status.
pub fn discovery(data: &[u8]) {
    let (which, data) = take(data);
    let (status, body) = take(data);
    let authority =
        Authority::parse(pick(&AUTHORITIES, which), true).expect("the fixed authorities are valid");
    let status = pick(&STATUSES, status);
    let response = http_response(status, &[("retry-after", "3")], body);
    match parse_openid_configuration(&authority, "https://d/x", &response) {
        Ok(endpoints) => {
            for endpoint in [&endpoints.authorization_endpoint, &endpoints.token_endpoint] {
                let url = url::Url::parse(endpoint).expect("endpoints are URLs");
                assert!(
                    url.scheme() == "https" || authority.url().starts_with("http://"),
                    "a non-https endpoint was accepted: {endpoint}"
                );
            }
            assert!(!endpoints.realm.is_empty());
        }
        Err(e) => exercise_error(&e),
    }
    match parse_instance_discovery(&authority, "https://d/i", &response) {
        Ok(doc) => {
            for alias in aliases_in(&doc, &authority) {
                assert!(!alias.eq_ignore_ascii_case(authority.host()));
            }
        }
        Err(e) => exercise_error(&e),
    }
    let _ = parse_user_realm(body);
    let text = String::from_utf8_lossy(body);
    // The federation server's documents: a MEX endpoint is only ever an https URL; a token is
    // never empty.
    if let Ok(Some(endpoint)) =
        crate::oauth::wstrust::mex::username_password_endpoint(&text, |a| a.starts_with("https://"))
    {
        assert!(endpoint.address.starts_with("https://"));
    }
    if let Ok(crate::oauth::wstrust::response::RstrOutcome::Token(token)) =
        crate::oauth::wstrust::response::parse(&text)
    {
        assert!(!token.xml.is_empty());
    }
    for trust in [false, true] {
        if let Ok(a) = Authority::parse(&text, trust) {
            let _ = (
                a.authority_type(),
                a.host_with_port(),
                a.tenant(),
                a.discovery_url(),
            );
            let _ = a.with_tenant("organizations");
        }
        let _ = Authority::parse_oidc(&text, trust);
    }
}

fn broker_request(pop: bool, with_account: bool) -> BrokerTokenRequest {
    BrokerTokenRequest {
        client_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
        authority: "https://login.microsoftonline.com/common".into(),
        scopes: vec!["https://graph.microsoft.com/.default".into()],
        redirect_uri: "https://login.microsoftonline.com/common/oauth2/nativeclient".into(),
        correlation_id: "00000000-0000-0000-0000-000000000000".into(),
        claims: None,
        account: if with_account {
            crate::broker::linux::codec::decode_account(&serde_json::json!({
                "homeAccountId": "oid.tid", "localAccountId": "oid", "environment": "login.example",
                "realm": "tid", "username": "alice@example", "clientInfo": "eyJ1aWQiOiJvaWQifQ"
            }))
        } else {
            None
        },
        login_hint: None,
        prompt: None,
        pop: pop.then(|| PopParams {
            http_method: "GET".into(),
            uri_host: "resource.example".into(),
            uri_path: "/api".into(),
            nonce: None,
        }),
        username_password: None,
        extra_parameters: Default::default(),
        validate_authority: true,
    }
}

/// The Linux broker's JSON answers (D-Bus strings, so UTF-8). The first byte chooses the
/// method and the request's options.
pub fn linux_broker(data: &[u8]) {
    let (selector, data) = take(data);
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let request = broker_request(selector & 4 != 0, selector & 8 != 0);
    match selector % 4 {
        0 => {
            if let Ok(accounts) = decode_accounts(body) {
                for a in accounts {
                    assert!(!a.home_account_id.is_empty() && !a.username.is_empty());
                }
            }
        }
        1 | 2 => {
            let method = if selector % 4 == 1 {
                Method::AcquireTokenSilently
            } else {
                Method::AcquireTokenInteractively
            };
            match decode_token(method, body, &request) {
                Ok(token) => {
                    assert!(!token.access_token.is_empty());
                    assert!(!token.granted_scopes.is_empty());
                    let _ = format!("{token:?}");
                }
                Err(e) => {
                    let _ = format!("{e} {e:?}");
                }
            }
        }
        _ => {
            let _ = decode_remove_account(body);
        }
    }
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let e = decode_error(&value);
        let _ = format!("{e} {e:?}");
    }
}

/// Managed-identity endpoints: the first byte chooses the source (and identity), the second the
/// status, the third the headers; the rest is the body.
pub fn managed_identity(data: &[u8]) {
    let (selector, data) = take(data);
    let (status, data) = take(data);
    let (header, body) = take(data);
    let status = pick(&STATUSES, status);
    let text = String::from_utf8_lossy(body);
    let www_authenticate = match header % 3 {
        0 => "Basic realm=/var/opt/azcmagent/tokens/key.key".to_string(),
        1 => text.chars().take(200).collect(),
        _ => String::new(),
    };
    let retry_after = pick(&["", "1", "abc", "99999999999999999999"], header / 3);
    let mut headers = vec![("content-type", "application/json")];
    if !www_authenticate.is_empty() {
        headers.push(("www-authenticate", www_authenticate.as_str()));
    }
    if !retry_after.is_empty() {
        headers.push(("retry-after", retry_after));
    }
    let response = http_response(status, &headers, body);
    let identity = match (selector / 8) % 4 {
        0 => ManagedIdentity::SystemAssigned,
        1 => ManagedIdentity::client_id("client-id"),
        2 => ManagedIdentity::object_id("object-id"),
        _ => ManagedIdentity::resource_id("/subscriptions/s/rg/r"),
    };
    let url = "http://169.254.169.254/metadata/identity/oauth2/token";
    let parsed = match selector % 8 {
        0 => imds::parse(url, &response).map(Some),
        1 => app_service::parse(url, &response, NOW).map(Some),
        2 => cloud_shell::parse(url, &response, NOW).map(Some),
        3 => machine_learning::parse(url, &response, NOW).map(Some),
        4 => service_fabric::parse(url, &response, NOW).map(Some),
        5 => arc::parse(url, &response, &identity).map(Some),
        6 => arc::challenge_path(url, &response).map(|path| {
            assert!(!path.is_empty());
            None
        }),
        _ => {
            let _ = ManagedIdentity::from_json(&text);
            return;
        }
    };
    match parsed {
        Ok(Some(token)) => {
            assert!(!token.access_token.is_empty());
            assert!(token.expires_in > 0, "an expired token was accepted");
        }
        Ok(None) => {}
        Err(e) => exercise_error(&e),
    }
}

/// Answers discovery with a fixed document and the token endpoint with the fuzzer's response.
struct Scripted {
    token: HttpResponse,
}

const OIDC_DOCUMENT: &str = r#"{"authorization_endpoint":"https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/oauth2/v2.0/authorize",
"token_endpoint":"https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/oauth2/v2.0/token",
"device_authorization_endpoint":"https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/oauth2/v2.0/devicecode",
"issuer":"https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/v2.0"}"#;

impl crate::http::HttpClient for Scripted {
    fn send(
        &self,
        request: crate::http::HttpRequest,
    ) -> futures_util::future::BoxFuture<'_, Result<HttpResponse, crate::http::HttpError>> {
        let response = if request.uri().path().ends_with("/token") {
            self.token.clone()
        } else if request.uri().path().contains("openid-configuration") {
            http_response(
                200,
                &[("content-type", "application/json")],
                OIDC_DOCUMENT.as_bytes(),
            )
        } else {
            http_response(404, &[], b"{}")
        };
        Box::pin(async move { Ok(response) })
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

/// The whole client over a scripted transport: the token endpoint answers with the fuzzer's
/// response (status, content type and `Retry-After` chosen as in [`token_response`]); the
/// first byte's high bit picks a public client redeeming a refresh token (a user flow: accounts,
/// ID token) or a confidential client's client-credentials grant. Results, the cache, and a
/// second, silent request must all hold together.
pub fn client_flow(data: &[u8]) {
    use crate::app::{ConfidentialClientApplication, PublicClientApplication};
    let (status, data) = take(data);
    let (content_type, data) = take(data);
    let (retry, body) = take(data);
    let public = status & 0x80 != 0;
    let status = pick(&STATUSES, status & 0x7f);
    let content_type = pick(&["application/json", "text/html"], content_type);
    let retry_after = pick(&["", "0", "1"], retry);
    let mut headers = vec![("content-type", content_type)];
    if !retry_after.is_empty() {
        headers.push(("retry-after", retry_after));
    }
    let transport: std::sync::Arc<dyn crate::http::HttpClient> = std::sync::Arc::new(Scripted {
        token: http_response(status, &headers, body),
    });
    let authority = "https://login.microsoftonline.com/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801";
    let cache = TokenCache::new();
    let clock = || NOW;
    let scopes = ["api://emulator-api/.default"];
    let outcome = runtime().block_on(async {
        if public {
            let app = PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
                .authority(authority)
                .http_client(transport)
                .instance_discovery(false)
                .token_cache(cache.clone())
                .clock(std::sync::Arc::new(clock))
                .build()
                .expect("the fixed application builds");
            let result = app
                .acquire_token_by_refresh_token("rt", &["api://emulator-api/access_as_user"])
                .await;
            let accounts = app.accounts(None);
            if let Some(account) = accounts.first() {
                let _ = app
                    .acquire_token_silent(
                        &["api://emulator-api/access_as_user"],
                        account,
                        &crate::app::SilentOptions::default(),
                    )
                    .await;
            }
            result
        } else {
            let app =
                ConfidentialClientApplication::builder("9e8f7a6b-5c4d-4e3f-a2b1-c0d9e8f7a613")
                    .authority(authority)
                    .client_secret("secret")
                    .http_client(transport)
                    .instance_discovery(false)
                    .token_cache(cache.clone())
                    .clock(std::sync::Arc::new(clock))
                    .build()
                    .expect("the fixed application builds");
            let first = app.acquire_token_for_client(&scopes).await;
            if first.is_ok() {
                let again = app.acquire_token_for_client(&scopes).await;
                assert!(again.is_ok(), "a token just acquired is not served again");
            }
            first
        }
    });
    match outcome {
        Ok(result) => {
            assert!(!result.access_token.expose().is_empty());
            let _ = format!("{result:?}");
        }
        Err(e) => exercise_error(&e),
    }
    round_trip(&cache);
}

/// `key=value` lines (split at the first `=`) as a dictionary: the shape of the macOS SSO
/// extension's header dictionaries and of WAM property sets.
fn dictionary(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn exercise_broker_error(e: &crate::broker::BrokerError) {
    let _ = format!("{e} {e:?}");
}

/// The macOS SSO extension's answers: the first byte chooses token, accounts, sign-out, an
/// `NSError`, or an `Info.plist`; the rest is `key=value` lines (or the plist).
pub fn macos_broker(data: &[u8]) {
    use crate::broker::macos::codec::{
        NsErrorInfo, bundle_id_from_info_plist, classify_ns_error, decode_accounts,
        decode_sign_out, decode_token_response,
    };
    let (selector, data) = take(data);
    let text = String::from_utf8_lossy(data);
    let headers = dictionary(&text);
    match selector % 5 {
        0 => match decode_token_response(&headers, NOW) {
            Ok(token) => {
                assert!(!token.access_token.is_empty());
                let _ = format!("{token:?}");
            }
            Err(e) => exercise_broker_error(&e),
        },
        1 => match decode_accounts(&headers) {
            Ok(accounts) => {
                for a in accounts {
                    assert!(!a.home_account_id.is_empty());
                }
            }
            Err(e) => exercise_broker_error(&e),
        },
        2 => {
            if let Err(e) = decode_sign_out(&headers) {
                exercise_broker_error(&e);
            }
        }
        3 => {
            let error = |headers: &std::collections::BTreeMap<String, String>| NsErrorInfo {
                domain: headers.get("domain").cloned().unwrap_or_default(),
                code: headers
                    .get("code")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_default(),
                user_info: headers.clone(),
                underlying: None,
            };
            let mut outer = error(&headers);
            let inner: std::collections::BTreeMap<String, String> = headers
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("underlying.").map(|k| (k.into(), v.clone())))
                .collect();
            if !inner.is_empty() {
                outer.underlying = Some(Box::new(error(&inner)));
            }
            exercise_broker_error(&classify_ns_error(&outer));
        }
        _ => {
            let _ = bundle_id_from_info_plist(&text);
        }
    }
}

/// WAM's answers on Windows: the first byte chooses an MSA token string, a successful
/// `WebTokenResponse` (first line the token, then `key=value` properties; `account.`-prefixed
/// keys make its `WebAccount`), a status classification, or an authority.
pub fn windows_broker(data: &[u8]) {
    use crate::broker::windows::codec::{
        WamAccountData, WamPlugin, WamTokenData, account_from_web_account, classify_wam_status,
        decode_msa_token, decode_wam_success, msa_cid_to_local_id, plugin_for_authority,
    };
    let (selector, data) = take(data);
    let text = String::from_utf8_lossy(data);
    let plugin = if selector & 0x80 != 0 {
        WamPlugin::Msa
    } else {
        WamPlugin::Aad
    };
    let account = |properties: &std::collections::BTreeMap<String, String>| {
        let inner: std::collections::BTreeMap<String, String> = properties
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("account.").map(|k| (k.into(), v.clone())))
            .collect();
        (!inner.is_empty()).then(|| WamAccountData {
            id: inner.get("Id").cloned().unwrap_or_default(),
            user_name: inner.get("UserName").cloned().unwrap_or_default(),
            properties: inner,
        })
    };
    match selector % 4 {
        0 => match decode_msa_token(&text) {
            Ok(token) => {
                assert!(!token.access_token.is_empty());
                let _ = format!("{token:?}");
            }
            Err(e) => exercise_broker_error(&e),
        },
        1 => {
            let (token, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let properties = dictionary(rest);
            let data = WamTokenData {
                token: token.to_string(),
                account: account(&properties),
                properties,
            };
            match decode_wam_success(&data, plugin, NOW, selector & 0x40 != 0) {
                Ok(token) => {
                    let _ = format!("{token:?}");
                }
                Err(e) => exercise_broker_error(&e),
            }
        }
        2 => {
            let (head, message) = data.split_at(data.len().min(8));
            let mut bytes = [0u8; 8];
            bytes[..head.len()].copy_from_slice(head);
            let status = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let code = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            let message = String::from_utf8_lossy(message);
            if let Err(e) = classify_wam_status(plugin, status, code, &message, "client") {
                exercise_broker_error(&e);
            }
        }
        _ => {
            let _ = plugin_for_authority(&text);
            let _ = msa_cid_to_local_id(&text);
            if let Some(account) = account(&dictionary(&text)) {
                match account_from_web_account(&account) {
                    Ok(a) => {
                        let _ = format!("{a:?}");
                    }
                    Err(e) => exercise_broker_error(&e),
                }
            }
        }
    }
}

/// `message` encodes to exactly one line, which decodes to the same message.
fn assert_line_round_trip<M: PartialEq>(
    what: &str,
    message: &M,
    encode: fn(&M) -> String,
    decode: fn(&str) -> Result<M, crate::broker::BrokerError>,
) {
    let encoded = encode(message);
    assert!(
        encoded.ends_with('\n') && !encoded.trim_end_matches('\n').contains('\n'),
        "an encoded {what} is not one line"
    );
    let again = decode(&encoded).unwrap_or_else(|_| panic!("an encoded {what} does not decode"));
    assert!(
        again == *message,
        "{what} changed in a round trip: {encoded}"
    );
}

/// The WSL bridge's line protocol: a request or an answer line (the first byte chooses). What
/// decodes must encode to a line that decodes to the same message.
pub fn wsl_protocol(data: &[u8]) {
    use crate::broker::wsl::protocol::{
        WireOutcome, accounts_from_value, decode_request, decode_response, encode_request,
        encode_response, token_from_value, unit_from_value,
    };
    let (selector, data) = take(data);
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if selector % 2 == 0 {
        match decode_request(line) {
            Ok(request) => {
                assert_line_round_trip("request", &request, encode_request, decode_request);
                let _ = format!("{request:?}");
            }
            Err(e) => exercise_broker_error(&e),
        }
    } else {
        match decode_response(line) {
            Ok(response) => {
                assert_line_round_trip("answer", &response, encode_response, decode_response);
                if let WireOutcome::Ok(value) = response.outcome {
                    let _ = accounts_from_value(value.clone());
                    if let Ok(token) = token_from_value(value.clone()) {
                        let _ = format!("{token:?}");
                    }
                    let _ = unit_from_value(value);
                }
            }
            Err(e) => exercise_broker_error(&e),
        }
    }
}

/// The token cache's internal entry points, for the criterion benchmarks in `benches/`, which
/// measure the cache without an application around it. Not API.
pub mod cache_internals {
    pub use crate::cache::{AccessTokenQuery, TokenEvent};
    use crate::{Error, TokenCache};

    /// Files a token response (what the applications do after a successful request).
    pub fn add(cache: &TokenCache, event: &TokenEvent<'_>) -> Result<(), Error> {
        cache.add(event)
    }

    /// Whether the cache holds a usable access token for `query`.
    pub fn has_access_token(cache: &TokenCache, query: &AccessTokenQuery<'_>) -> bool {
        cache.find_access_token(query).is_some()
    }

    /// How many access tokens the cache holds.
    pub fn access_token_count(cache: &TokenCache) -> usize {
        cache.len_access_tokens()
    }

    /// How many accounts the cache lists.
    pub fn account_count(cache: &TokenCache) -> usize {
        cache.accounts().len()
    }

    /// Runs `operation` inside the listener's bracket, as the applications run one token
    /// operation (`before_access` for `partition`, then `after_access`).
    pub fn with_access<T>(
        cache: &TokenCache,
        partition: Option<&str>,
        operation: impl FnOnce() -> T,
    ) -> T {
        cache.before_partition_access(partition);
        let out = operation();
        cache.after_access();
        out
    }
}
