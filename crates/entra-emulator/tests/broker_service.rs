//! The emulator's broker service on a real, private `dbus-daemon`: every method through a zbus
//! client proxy and through `gdbus` (an independent client), success and error shapes checked key
//! by key against what Microsoft's client requires, interactive approve / deny /
//! cancel / auto-approve, account removal, injected errors, and the absent-name behaviour.
//!
//! Needs `dbus-daemon` (and `gdbus` from libglib2.0-bin); with `CI=true` a missing one fails the
//! test, otherwise the test is skipped with a loud notice.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use entra_emulator::broker::codec::{LINUX_BROKER_REDIRECT_URI, status};
use entra_emulator::broker::{
    BrokerErrorSpec, BrokerOptions, BrokerService, BrokerServiceError, PrivateSessionBus,
};
use entra_emulator::config::{AppConfig, ClientKind};
use entra_emulator::crypto::SigningKey;
use entra_emulator::{ControlError, EmulatorConfig};
use entra_test_support::external::ci;
use entra_test_support::repo_root;
use serde_json::{Value, json};

use common::TestEmulator;

#[zbus::proxy(
    interface = "com.microsoft.identity.Broker1",
    default_service = "com.microsoft.identity.broker1",
    default_path = "/com/microsoft/identity/broker1"
)]
trait Broker1 {
    #[zbus(name = "acquireTokenInteractively")]
    fn acquire_token_interactively(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "acquireTokenSilently")]
    fn acquire_token_silently(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "getAccounts")]
    fn get_accounts(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "removeAccount")]
    fn remove_account(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "acquirePrtSsoCookie")]
    fn acquire_prt_sso_cookie(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "generateSignedHttpRequest")]
    fn generate_signed_http_request(&self, v: &str, corr: &str, json: &str)
    -> zbus::Result<String>;
    #[zbus(name = "cancelInteractiveFlow")]
    fn cancel_interactive_flow(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
    #[zbus(name = "getLinuxBrokerVersion")]
    fn get_linux_broker_version(&self, v: &str, corr: &str, json: &str) -> zbus::Result<String>;
}

const CORR: &str = "5a0c3f1e-9d2b-4c8a-b7e6-1f2d3c4b5a69";
const SEED_TAG: i64 = 508170375;

/// A private bus, or `None` (test skipped) when dbus-daemon is missing outside CI.
fn private_bus() -> Option<PrivateSessionBus> {
    match PrivateSessionBus::start() {
        Ok(bus) => Some(bus),
        Err(BrokerServiceError::DbusDaemonMissing) if !ci() => {
            eprintln!(
                "\n!!! SKIPPED: dbus-daemon is not installed (apt-get install dbus-daemon; scripts/test does it). With CI=true this fails.\n"
            );
            None
        }
        Err(e) => panic!("private bus: {e}"),
    }
}

struct Setup {
    t: TestEmulator,
    broker: Option<BrokerService>,
    client: zbus::Connection,
    // Declared last: the daemon outlives the connections.
    bus: PrivateSessionBus,
}

impl Setup {
    async fn proxy(&self) -> Broker1Proxy<'static> {
        Broker1Proxy::new(&self.client).await.expect("proxy")
    }

    fn public(&self) -> String {
        self.t.public_id().to_string()
    }

    fn control(&self) -> entra_emulator::Control {
        self.t.emulator.control()
    }
}

async fn setup_with(config: EmulatorConfig, options: BrokerOptions) -> Option<Setup> {
    let bus = private_bus()?;
    let t = common::start_with(config).await;
    let broker = t
        .emulator
        .serve_broker(bus.address(), options)
        .await
        .expect("broker service starts");
    let client = zbus::connection::Builder::address(bus.address())
        .expect("address")
        .build()
        .await
        .expect("client connection");
    Some(Setup {
        t,
        broker: Some(broker),
        client,
        bus,
    })
}

async fn setup() -> Option<Setup> {
    setup_with(common::config(), BrokerOptions::default()).await
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("response is not JSON ({e}): {text}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn b64json(text: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The account object Microsoft's client takes from getAccounts (§9.3).
fn assert_account(a: &Value, username: &str) {
    assert_eq!(
        keys(a),
        set(&[
            "clientInfo",
            "environment",
            "familyName",
            "givenName",
            "homeAccountId",
            "localAccountId",
            "name",
            "passwordExpiry",
            "realm",
            "username"
        ]),
        "{a}"
    );
    assert_eq!(a["username"], username);
    assert!(a["passwordExpiry"].is_i64());
    let ci = b64json(a["clientInfo"].as_str().unwrap());
    assert_eq!(
        a["homeAccountId"].as_str().unwrap(),
        format!(
            "{}.{}",
            ci["uid"].as_str().unwrap(),
            ci["utid"].as_str().unwrap()
        )
    );
}

/// A success token response as Microsoft's client requires it (§9.3); returns the inner object.
fn assert_token(text: &str, username: &str) -> Value {
    let v = parse(text);
    assert_eq!(keys(&v), set(&["brokerTokenResponse"]), "{text}");
    let t = v["brokerTokenResponse"].clone();
    assert_eq!(
        keys(&t),
        set(&[
            "accessToken",
            "accessTokenType",
            "account",
            "clientInfo",
            "expiresOn",
            "extendedExpiresOn",
            "grantedScopes",
            "idToken"
        ]),
        "{text}"
    );
    assert!(t["accessTokenType"].is_i64(), "{text}");
    assert!(t["expiresOn"].is_i64() && t["extendedExpiresOn"].is_i64());
    assert!(t["grantedScopes"].is_string());
    assert!(!t["accessToken"].as_str().unwrap().is_empty());
    let ci = b64json(t["clientInfo"].as_str().unwrap());
    assert_eq!(keys(&ci), set(&["uid", "utid"]));
    let id = common::claims(t["idToken"].as_str().unwrap());
    assert_eq!(id["preferred_username"], username);
    assert_account(&t["account"], username);
    assert_eq!(t["account"]["clientInfo"], t["clientInfo"]);
    t
}

/// An error object with exactly the four keys, integers and a non-empty context (§9.4).
fn assert_error(text: &str, nested: bool, want_status: i64) -> Value {
    let v = parse(text);
    let e = if nested {
        assert_eq!(keys(&v), set(&["brokerTokenResponse"]), "{text}");
        assert_eq!(keys(&v["brokerTokenResponse"]), set(&["error"]), "{text}");
        v["brokerTokenResponse"]["error"].clone()
    } else {
        assert_eq!(keys(&v), set(&["error"]), "{text}");
        v["error"].clone()
    };
    assert_eq!(
        keys(&e),
        set(&["context", "errorCode", "status", "tag"]),
        "{text}"
    );
    assert!(e["errorCode"].is_i64() && e["tag"].is_i64(), "{text}");
    assert!(!e["context"].as_str().unwrap().trim().is_empty(), "{text}");
    assert_eq!(e["status"], want_status, "{text}");
    e
}

fn get_accounts_request(client_id: &str) -> String {
    // Microsoft's client sends the client id as redirectUri here (§9.2).
    json!({"clientId": client_id, "redirectUri": client_id}).to_string()
}

/// `authParameters` exactly as Microsoft's client (libmsalruntime 12.0.2) sends them (§9.2).
fn auth_parameters(
    client_id: &str,
    account: Value,
    scopes: &[&str],
    authorization_type: i64,
) -> Value {
    let username = account["username"].as_str().unwrap_or("").to_string();
    let mut p = json!({
        "accessTokenToRenew": "",
        "account": account,
        "additionalQueryParametersForAuthorization": {"msal_client_sku": "MSAL.Python", "msal_client_ver": "1.39.0",
            "x-client-xtra-sku": "MSAL.Python|1.39.0,|0.20.7,|,|,|12.0.2"},
        "authority": "https://login.microsoftonline.com/common",
        "authorizationType": authorization_type,
        "clientId": client_id,
        "decodedClaims": "",
        "enrollmentId": "",
        "isTestMode": false,
        "password": "",
        "popParams": null,
        "redirectUri": LINUX_BROKER_REDIRECT_URI,
        "requestedScopes": scopes,
        "username": username,
        "uxContextHandle": -1
    });
    if p["account"].is_null() {
        p["isSignIn"] = json!(true);
    }
    p
}

fn silent_request(client_id: &str, account: Value, scopes: &[&str]) -> String {
    json!({"authParameters": auth_parameters(client_id, account, scopes, 1)}).to_string()
}

fn interactive_request(client_id: &str, scopes: &[&str]) -> String {
    let mut p = auth_parameters(client_id, Value::Null, scopes, 6);
    p["additionalQueryParametersForAuthorization"]["msal_gui_thread"] = json!("true");
    p["parentWindow"] = json!({"handle": 1});
    p["onboardingBlob"] = json!("{\"onboarding_mode\":\"brokered\",\"schema_version\":\"1.0.0\"}");
    json!({"authParameters": p, "parentWindowHandle": 1}).to_string()
}

fn verify(jwt: &str) -> Value {
    let pem = common::config().settings.signing_key_pem.unwrap();
    let key = SigningKey::from_pem(&pem).unwrap();
    let token = entra_emulator::jwt::decode_unverified(jwt).expect("JWT");
    token
        .verify_rsa(key.public_key_der())
        .expect("signed by the emulator");
    Value::Object(token.claims)
}

async fn wait_for_pending(
    s: &Setup,
    n: usize,
) -> Vec<entra_emulator::broker::PendingBrokerRequest> {
    for _ in 0..1000 {
        let pending = s.control().broker_pending();
        if pending.len() >= n {
            return pending;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pending broker request appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_user_signs_in_silently_with_microsofts_shapes() {
    let Some(s) = setup().await else { return };
    let p = s.proxy().await;
    let public = s.public();

    // Microsoft's client pings the broker first (org.freedesktop.DBus.Peer.Ping).
    let peer = zbus::fdo::PeerProxy::builder(&s.client)
        .destination("com.microsoft.identity.broker1")
        .unwrap()
        .path("/com/microsoft/identity/broker1")
        .unwrap()
        .build()
        .await
        .unwrap();
    peer.ping().await.expect("Peer.Ping");

    let version = parse(
        &p.get_linux_broker_version("0.0", CORR, r#"{"msalCppVersion":"1.0.0"}"#)
            .await
            .unwrap(),
    );
    assert_eq!(version, json!({"linuxBrokerVersion": "2.0.4"}));

    let accounts = parse(
        &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
            .await
            .unwrap(),
    );
    assert_eq!(keys(&accounts), set(&["accounts"]));
    let list = accounts["accounts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{accounts}");
    assert_account(&list[0], "alice@contoso.example");
    assert_eq!(list[0]["givenName"], "Alice");
    assert_eq!(list[0]["familyName"], "Example");
    assert_eq!(list[0]["environment"], "login.microsoftonline.com");
    assert_eq!(list[0]["realm"], s.t.tenant());

    // No usable account: account null, isSignIn true ⇒ the device user.
    let text = p
        .acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap();
    let t = assert_token(&text, "alice@contoso.example");
    assert_eq!(t["accessTokenType"], 0);
    assert_eq!(t["grantedScopes"], "User.Read profile openid");
    let at = verify(t["accessToken"].as_str().unwrap());
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["azp"], public);
    assert_eq!(at["tid"], s.t.tenant());
    // Milliseconds, equal to the token's own expiry.
    assert_eq!(
        t["expiresOn"].as_i64().unwrap(),
        at["exp"].as_i64().unwrap() * 1000
    );
    assert_eq!(t["extendedExpiresOn"], t["expiresOn"]);
    let id = verify(t["idToken"].as_str().unwrap());
    assert_eq!(id["aud"], public);
    let ci = b64json(t["clientInfo"].as_str().unwrap());
    assert_eq!(ci["utid"], s.t.tenant());
    assert_eq!(ci["uid"], id["oid"]);

    // Silent with the account getAccounts returned, for another resource.
    let text = p
        .acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(
                &public,
                list[0].clone(),
                &["api://emulator-api/access_as_user"],
            ),
        )
        .await
        .unwrap();
    let t = assert_token(&text, "alice@contoso.example");
    assert_eq!(
        t["grantedScopes"],
        "api://emulator-api/access_as_user profile openid"
    );

    // A tenant-specific authority on the emulator's own host.
    let mut req = parse(&silent_request(&public, list[0].clone(), &["User.Read"]));
    req["authParameters"]["authority"] = json!(s.t.emulator.authority());
    let t = assert_token(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        "alice@contoso.example",
    );
    assert_eq!(
        t["account"]["environment"],
        s.t.base().trim_start_matches("https://")
    );

    // Proof of possession (pymsalruntime's set_pop_params shape).
    let mut req = parse(&silent_request(&public, list[0].clone(), &["User.Read"]));
    req["authParameters"]["popParams"] = json!({"clientClaims":"","homeAccountId":"","httpMethod":"GET","nonce":"nonce-123","uriHost":"graph.microsoft.com","uriPath":"/v1.0/me"});
    let t = assert_token(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        "alice@contoso.example",
    );
    assert_eq!(t["accessTokenType"], 1);
    let shr = t["accessToken"].as_str().unwrap();
    let header = b64json(shr.split('.').next().unwrap());
    assert_eq!(header["typ"], "pop");
    let claims = verify(shr);
    assert_eq!(claims["nonce"], "nonce-123");
    assert_eq!(
        (
            claims["m"].as_str(),
            claims["u"].as_str(),
            claims["p"].as_str()
        ),
        (Some("GET"), Some("graph.microsoft.com"), Some("/v1.0/me"))
    );
    assert!(claims["ts"].is_i64());
    let inner = verify(claims["at"].as_str().unwrap());
    assert_eq!(inner["preferred_username"], "alice@contoso.example");

    // PRT SSO cookie (linux-entra-sso shape) and a signed HTTP request (sso-mib shape).
    let cookie_req = json!({"account": list[0], "authParameters": {"account": list[0], "authority": "https://login.microsoftonline.com/common", "authorizationType": 8,
        "clientId": public, "redirectUri": LINUX_BROKER_REDIRECT_URI, "requestedScopes": ["https://graph.microsoft.com/.default"],
        "ssoUrl": "https://login.microsoftonline.com/?sso_nonce=n-42", "username": "alice@contoso.example"},
        "ssoUrl": "https://login.microsoftonline.com/?sso_nonce=n-42", "mamEnrollment": false});
    let cookie = parse(
        &p.acquire_prt_sso_cookie("0.0", CORR, &cookie_req.to_string())
            .await
            .unwrap(),
    );
    assert_eq!(keys(&cookie), set(&["cookieItems"]));
    let item = &cookie["cookieItems"][0];
    assert_eq!(item["cookieName"], "x-ms-RefreshTokenCredential");
    let prt = verify(item["cookieContent"].as_str().unwrap());
    assert_eq!(prt["request_nonce"], "n-42");

    let shr_req = json!({"clientId": public, "popParams": {"authenticationScheme": "pop", "uriHost": "https://api.contoso.example/orders",
        "httpMethod": "POST", "nonce": "n-7", "homeAccountId": list[0]["homeAccountId"]}});
    let shr = parse(
        &p.generate_signed_http_request("0.0", CORR, &shr_req.to_string())
            .await
            .unwrap(),
    );
    assert_eq!(keys(&shr), set(&["signedHttpRequest"]));
    let claims = verify(shr["signedHttpRequest"].as_str().unwrap());
    assert_eq!(
        (
            claims["m"].as_str(),
            claims["u"].as_str(),
            claims["p"].as_str(),
            claims["nonce"].as_str()
        ),
        (
            Some("POST"),
            Some("api.contoso.example"),
            Some("/orders"),
            Some("n-7")
        )
    );
    assert!(claims.get("at").is_none());

    // The sign-in is listed; every call is in the request log, without tokens.
    let signed_in = s.control().broker_signed_in();
    assert_eq!(signed_in.len(), 1);
    assert_eq!(
        (
            signed_in[0].client_id.as_str(),
            signed_in[0].username.as_str()
        ),
        (public.as_str(), "alice@contoso.example")
    );
    let log: Vec<_> = s
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "DBUS")
        .collect();
    assert_eq!(log.len(), 8, "{log:?}");
    assert_eq!(
        log[0].path,
        "com.microsoft.identity.Broker1.getLinuxBrokerVersion"
    );
    assert_eq!(
        log[2].path,
        "com.microsoft.identity.Broker1.acquireTokenSilently"
    );
    assert_eq!(log[2].headers["correlation-id"], CORR);
    assert_eq!(log[2].headers["protocol-version"], "0.0");
    assert_eq!(log[2].form["client_id"], public);
    assert_eq!(log[2].form["scope"], "User.Read");
    assert_eq!(log[2].status, 200);
    let logged = serde_json::to_string(&log).unwrap();
    assert!(!logged.contains(t["accessToken"].as_str().unwrap()));
    assert!(
        !logged.contains("eyJ"),
        "a JWT leaked into the request log: {logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_requests_wait_for_approve_deny_or_cancel() {
    let Some(s) = setup().await else { return };
    let public = s.public();
    let control = s.control();

    // Approve as carol (a user of another tenant).
    let p = s.proxy().await;
    let req = interactive_request(&public, &["User.Read"]);
    let call = tokio::spawn(async move { p.acquire_token_interactively("0.0", CORR, &req).await });
    let pending = wait_for_pending(&s, 1).await;
    assert_eq!(pending[0].client_id, public);
    assert_eq!(pending[0].scopes, ["User.Read"]);
    assert_eq!(pending[0].username_hint, None);
    assert_eq!(pending[0].correlation_id, CORR);
    assert!(matches!(
        control.broker_approve("no-such-id", "carol@fabrikam.example"),
        Err(ControlError::NoPendingBrokerRequest(_))
    ));
    assert!(matches!(
        control.broker_approve(&pending[0].id, "nobody@contoso.example"),
        Err(ControlError::UnknownUser(_))
    ));
    assert_eq!(
        control.broker_pending().len(),
        1,
        "a failed approval leaves the request pending"
    );
    control
        .broker_approve(&pending[0].id, "carol@fabrikam.example")
        .unwrap();
    let text = call.await.unwrap().unwrap();
    let t = assert_token(&text, "carol@fabrikam.example");
    assert_eq!(
        b64json(t["clientInfo"].as_str().unwrap())["utid"],
        t["account"]["realm"]
    );
    assert!(control.broker_pending().is_empty());
    let p = s.proxy().await;
    let accounts = parse(
        &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
            .await
            .unwrap(),
    );
    let names: Vec<_> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["alice@contoso.example", "carol@fabrikam.example"]);
    // Other clients do not see carol.
    let family = s.t.family_id().to_string();
    let other = parse(
        &p.get_accounts("0.0", CORR, &get_accounts_request(&family))
            .await
            .unwrap(),
    );
    assert_eq!(other["accounts"].as_array().unwrap().len(), 1);

    // Deny ⇒ status 7 UserCanceled.
    let req = interactive_request(&public, &["User.Read"]);
    let p2 = s.proxy().await;
    let call = tokio::spawn(async move {
        p2.acquire_token_interactively("0.0", "corr-deny", &req)
            .await
    });
    let pending = wait_for_pending(&s, 1).await;
    control.broker_deny(&pending[0].id).unwrap();
    assert_error(&call.await.unwrap().unwrap(), true, status::USER_CANCELED);
    assert!(matches!(
        control.broker_deny(&pending[0].id),
        Err(ControlError::NoPendingBrokerRequest(_))
    ));

    // cancelInteractiveFlow with the same correlation id ⇒ status 8 ApplicationCanceled.
    let req = interactive_request(&public, &["User.Read"]);
    let p3 = s.proxy().await;
    let call = tokio::spawn(async move {
        p3.acquire_token_interactively("0.0", "corr-cancel", &req)
            .await
    });
    wait_for_pending(&s, 1).await;
    let canceled = p
        .cancel_interactive_flow(
            "0.0",
            "corr-cancel",
            &json!({"clientId": public}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(parse(&canceled), json!({}));
    assert_error(
        &call.await.unwrap().unwrap(),
        true,
        status::APPLICATION_CANCELED,
    );

    // Stopping the service cancels what is still pending.
    let req = interactive_request(&public, &["User.Read"]);
    let p4 = s.proxy().await;
    let call = tokio::spawn(async move {
        p4.acquire_token_interactively("0.0", "corr-stop", &req)
            .await
    });
    wait_for_pending(&s, 1).await;
    let mut s = s;
    s.broker.take().unwrap().stop().await;
    match call.await.unwrap() {
        Ok(text) => {
            assert_error(&text, true, status::APPLICATION_CANCELED);
        }
        // The reply may not make it out before the object is gone; either way the call ends.
        Err(e) => eprintln!("interactive call ended with a D-Bus error after stop: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_approve_mfa_consent_and_claims_rules() {
    // bob needs MFA; as the device user his silent sign-in needs interaction.
    let options = BrokerOptions {
        device_user: Some("bob@contoso.example".into()),
        auto_approve: Some("bob@contoso.example".into()),
    };
    let Some(s) = setup_with(common::config(), options).await else {
        return;
    };
    assert_eq!(
        s.broker.as_ref().unwrap().broker_user(),
        "bob@contoso.example"
    );
    let p = s.proxy().await;
    let public = s.public();
    let e = assert_error(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );
    assert_eq!(e["errorCode"], 50076);
    assert!(
        e["context"].as_str().unwrap().starts_with("AADSTS50076: "),
        "{e}"
    );
    // Auto-approve: completes at once, with MFA; silent works afterwards, claims challenge too.
    let t = assert_token(
        &p.acquire_token_interactively("0.0", CORR, &interactive_request(&public, &["User.Read"]))
            .await
            .unwrap(),
        "bob@contoso.example",
    );
    assert_eq!(
        verify(t["accessToken"].as_str().unwrap())["amr"],
        json!(["pwd", "mfa"])
    );
    assert!(s.control().broker_pending().is_empty());
    let account = t["account"].clone();
    assert_token(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, account.clone(), &["User.Read"]),
        )
        .await
        .unwrap(),
        "bob@contoso.example",
    );
    let mut req = parse(&silent_request(&public, account, &["User.Read"]));
    req["authParameters"]["decodedClaims"] =
        json!(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
    assert_token(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        "bob@contoso.example",
    );
    drop(p);
    drop(s);

    // dave has not consented: silent needs interaction (AADSTS65001); a claims challenge on a
    // device (non-interactive) sign-in too.
    let options = BrokerOptions {
        device_user: Some("dave@contoso.example".into()),
        auto_approve: None,
    };
    let Some(s) = setup_with(common::config(), options).await else {
        return;
    };
    let p = s.proxy().await;
    let public = s.public();
    let e = assert_error(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );
    assert_eq!(e["errorCode"], 65001);
    drop(p);
    drop(s);
    // A CAE claims challenge on a device (non-interactive) sign-in is satisfied silently, as
    // Entra does with a refresh; one asking for an authentication context (`acrs`, MFA) the
    // session lacks needs interaction. Source: "Claims challenges, claims requests, and client
    // capabilities", https://learn.microsoft.com/entra/identity-platform/claims-challenge
    let Some(s) = setup().await else { return };
    let p = s.proxy().await;
    let mut req = parse(&silent_request(&s.public(), Value::Null, &["User.Read"]));
    req["authParameters"]["decodedClaims"] =
        json!(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
    let device_user = s.broker.as_ref().unwrap().broker_user().to_string();
    assert_token(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        &device_user,
    );
    req["authParameters"]["decodedClaims"] =
        json!(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
    let e = assert_error(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );
    assert_eq!(e["errorCode"], 50076, "{e}");
    // A revoked session is the other case the user must act on: after the control API revokes
    // the device user's session, even the CAE challenge needs interaction.
    req["authParameters"]["decodedClaims"] =
        json!(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
    s.control().revoke_refresh_tokens(Some(&device_user));
    assert_error(
        &p.acquire_token_silently("0.0", CORR, &req.to_string())
            .await
            .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_and_request_errors() {
    let mut config = common::config();
    let no_broker = "6a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
    config.applications.push(AppConfig {
        client_id: no_broker.into(),
        display_name: Some("No broker redirect".into()),
        kind: ClientKind::Public,
        secrets: vec![],
        certificates: vec![],
        redirect_uris: vec!["http://localhost".into()],
        family_id: None,
        delegated_scopes: vec!["https://graph.microsoft.com/*".into()],
        application_scopes: vec![],
        identifier_uris: vec![],
    });
    let Some(s) = setup_with(config, BrokerOptions::default()).await else {
        return;
    };
    let p = s.proxy().await;
    let public = s.public();

    // The redirect URI the broker sends is not registered ⇒ AADSTS50011, status 9.
    for text in [
        p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(no_broker, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        p.acquire_token_interactively("0.0", CORR, &interactive_request(no_broker, &["User.Read"]))
            .await
            .unwrap(),
    ] {
        let e = assert_error(&text, true, status::INCORRECT_CONFIGURATION);
        let want = format!(
            "AADSTS50011: The redirect URI '{LINUX_BROKER_REDIRECT_URI}' specified in the request does not match the redirect URIs configured for the application '{no_broker}'"
        );
        assert!(e["context"].as_str().unwrap().starts_with(&want), "{e}");
        assert_eq!(e["errorCode"], 50011);
    }
    assert!(s.control().broker_pending().is_empty());

    // Unknown client, confidential client, unknown tenant, untrusted authority, bad scope.
    let (confidential, _) = s.t.confidential();
    let cases: Vec<(String, i64, &str)> = vec![
        (
            silent_request(
                "00000000-1111-2222-3333-444444444444",
                Value::Null,
                &["User.Read"],
            ),
            status::INCORRECT_CONFIGURATION,
            "AADSTS700016: ",
        ),
        (
            silent_request(confidential, Value::Null, &["User.Read"]),
            status::INCORRECT_CONFIGURATION,
            "AADSTS7000218: ",
        ),
        (
            {
                let mut r = parse(&silent_request(&public, Value::Null, &["User.Read"]));
                r["authParameters"]["authority"] =
                    json!("https://login.microsoftonline.com/unknown.example");
                r.to_string()
            },
            status::INCORRECT_CONFIGURATION,
            "AADSTS90002: ",
        ),
        (
            {
                let mut r = parse(&silent_request(&public, Value::Null, &["User.Read"]));
                r["authParameters"]["authority"] = json!("http://login.example/common");
                r.to_string()
            },
            status::AUTHORITY_UNTRUSTED,
            "The authority",
        ),
        (
            silent_request(&public, Value::Null, &["api://unknown-api/read"]),
            status::INCORRECT_CONFIGURATION,
            "AADSTS70011: ",
        ),
        (
            silent_request(
                &public,
                json!({"username": "nobody@contoso.example", "homeAccountId": "x.y"}),
                &["User.Read"],
            ),
            status::ACCOUNT_NOT_FOUND,
            "The account",
        ),
    ];
    for (req, want, prefix) in cases {
        let e = assert_error(
            &p.acquire_token_silently("0.0", CORR, &req).await.unwrap(),
            true,
            want,
        );
        assert!(e["context"].as_str().unwrap().starts_with(prefix), "{e}");
    }
    // getAccounts for an unknown client: a well-formed top-level error object.
    assert_error(
        &p.get_accounts(
            "0.0",
            CORR,
            &get_accounts_request("00000000-1111-2222-3333-444444444444"),
        )
        .await
        .unwrap(),
        false,
        status::INCORRECT_CONFIGURATION,
    );

    // Malformed JSON ⇒ status 6, in the method's error placement; never a panic.
    for bad in [
        "this is not json",
        "[]",
        "{}",
        r#"{"authParameters":{"clientId":5}}"#,
        r#"{"authParameters":null}"#,
    ] {
        assert_error(
            &p.acquire_token_silently("0.0", CORR, bad).await.unwrap(),
            true,
            status::API_CONTRACT_VIOLATION,
        );
        assert_error(
            &p.acquire_token_interactively("0.0", CORR, bad)
                .await
                .unwrap(),
            true,
            status::API_CONTRACT_VIOLATION,
        );
        assert_error(
            &p.get_accounts("0.0", CORR, bad).await.unwrap(),
            false,
            status::API_CONTRACT_VIOLATION,
        );
        assert_error(
            &p.remove_account("0.0", CORR, bad).await.unwrap(),
            false,
            status::API_CONTRACT_VIOLATION,
        );
        assert_error(
            &p.generate_signed_http_request("0.0", CORR, bad)
                .await
                .unwrap(),
            false,
            status::API_CONTRACT_VIOLATION,
        );
    }
    assert_error(
        &p.get_linux_broker_version("0.0", CORR, "not json")
            .await
            .unwrap(),
        false,
        status::API_CONTRACT_VIOLATION,
    );
    assert_error(
        &p.acquire_prt_sso_cookie("0.0", CORR, "{}").await.unwrap(),
        false,
        status::API_CONTRACT_VIOLATION,
    );
    // The service is still healthy.
    assert_token(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        "alice@contoso.example",
    );
    let logged = s.control().requests();
    let failed = logged
        .iter()
        .find(|r| r.method == "DBUS" && r.form.get("broker_status").is_some_and(|v| v == "9"))
        .expect("logged failure");
    assert_eq!(failed.status, 400);
    assert!(failed.form.contains_key("tag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_account_signs_out() {
    let options = BrokerOptions {
        device_user: None,
        auto_approve: Some("carol@fabrikam.example".into()),
    };
    let Some(s) = setup_with(common::config(), options).await else {
        return;
    };
    let p = s.proxy().await;
    let public = s.public();
    let carol = assert_token(
        &p.acquire_token_interactively("0.0", CORR, &interactive_request(&public, &["User.Read"]))
            .await
            .unwrap(),
        "carol@fabrikam.example",
    )["account"]
        .clone();
    let accounts = |v: Value| -> Vec<String> {
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_string())
            .collect()
    };
    let list = accounts(parse(
        &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
            .await
            .unwrap(),
    ));
    assert_eq!(list, ["alice@contoso.example", "carol@fabrikam.example"]);

    let removed = p
        .remove_account(
            "0.0",
            CORR,
            &json!({"clientId": public, "account": carol}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(parse(&removed), json!({}));
    assert_eq!(
        accounts(parse(
            &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
                .await
                .unwrap()
        )),
        ["alice@contoso.example"]
    );
    // Silent for the removed account ⇒ status 2 InteractionRequired.
    assert_error(
        &p.acquire_token_silently("0.0", CORR, &silent_request(&public, carol, &["User.Read"]))
            .await
            .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );

    // Removing the device user hides it for this client only.
    let alice = json!({"username": "alice@contoso.example", "homeAccountId": "6f0e1d2c-3b4a-4958-8766-a5b4c3d2e1f0.7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801"});
    assert_eq!(
        parse(
            &p.remove_account(
                "0.0",
                CORR,
                &json!({"clientId": public, "account": alice}).to_string()
            )
            .await
            .unwrap()
        ),
        json!({})
    );
    assert!(
        accounts(parse(
            &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
                .await
                .unwrap()
        ))
        .is_empty()
    );
    let e = assert_error(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        true,
        status::INTERACTION_REQUIRED,
    );
    assert_eq!(e["errorCode"], 50058);
    assert_eq!(
        accounts(parse(
            &p.get_accounts("0.0", CORR, &get_accounts_request(s.t.family_id()))
                .await
                .unwrap()
        )),
        ["alice@contoso.example"]
    );
    // An account the directory does not know ⇒ 19 AccountNotFound.
    assert_error(
        &p.remove_account(
            "0.0",
            CORR,
            &json!({"clientId": public, "account": {"username": "nobody@contoso.example"}})
                .to_string(),
        )
        .await
        .unwrap(),
        false,
        status::ACCOUNT_NOT_FOUND,
    );
    // Signing in again brings the account back.
    assert_token(
        &p.acquire_token_interactively("0.0", CORR, &interactive_request(&public, &["User.Read"]))
            .await
            .unwrap(),
        "carol@fabrikam.example",
    );
    assert_eq!(
        accounts(parse(
            &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
                .await
                .unwrap()
        )),
        ["carol@fabrikam.example"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_are_one_shot_and_the_http_control_api_works() {
    let Some(s) = setup().await else { return };
    let p = s.proxy().await;
    let public = s.public();
    let control = s.control();
    // The issue's seed case.
    let seed = BrokerErrorSpec {
        status: 9,
        error_code: -51411,
        tag: SEED_TAG,
        context: "AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain".into(),
    };
    control
        .broker_inject_error("acquireTokenSilently", seed.clone())
        .unwrap();
    control
        .broker_inject_error(
            "getAccounts",
            BrokerErrorSpec {
                status: 4,
                error_code: 7,
                tag: 8,
                context: "network down".into(),
            },
        )
        .unwrap();
    let e = assert_error(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        true,
        9,
    );
    assert_eq!(
        e,
        json!({"context": seed.context, "errorCode": -51411, "status": 9, "tag": SEED_TAG})
    );
    let e = assert_error(
        &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
            .await
            .unwrap(),
        false,
        4,
    );
    assert_eq!(
        (e["errorCode"].as_i64(), e["tag"].as_i64()),
        (Some(7), Some(8))
    );
    // One shot: the next calls succeed.
    assert_token(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        )
        .await
        .unwrap(),
        "alice@contoso.example",
    );
    assert_eq!(
        parse(
            &p.get_accounts("0.0", CORR, &get_accounts_request(&public))
                .await
                .unwrap()
        )["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Refused: unknown method, empty context, statuses 12 and 23.
    for (method, st, ctx) in [
        ("acquireToken", 2, "x"),
        ("getAccounts", 2, ""),
        ("getAccounts", 23, "x"),
        ("getAccounts", 12, "x"),
    ] {
        let r = control.broker_inject_error(
            method,
            BrokerErrorSpec {
                status: st,
                error_code: 0,
                tag: 1,
                context: ctx.into(),
            },
        );
        assert!(
            matches!(r, Err(ControlError::InvalidBrokerError(_))),
            "{method} {st} {ctx:?}"
        );
    }

    // Over HTTP: inject, list pending, approve, list sign-ins.
    let http = &s.t.http;
    let r = http.post(s.t.url("/_control/broker/errors")).json(&json!({"method": "removeAccount", "status": 13, "error_code": 1, "tag": 2, "context": "account unusable"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_error(
        &p.remove_account(
            "0.0",
            CORR,
            &json!({"clientId": public, "account": {"username": "alice@contoso.example"}})
                .to_string(),
        )
        .await
        .unwrap(),
        false,
        13,
    );
    let r = http.post(s.t.url("/_control/broker/errors")).json(&json!({"method": "getAccounts", "status": 23, "error_code": 1, "tag": 2, "context": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 400);

    let req = interactive_request(&public, &["User.Read"]);
    let p2 = s.proxy().await;
    let call = tokio::spawn(async move { p2.acquire_token_interactively("0.0", CORR, &req).await });
    wait_for_pending(&s, 1).await;
    let (st, pending) = s.t.get_json(&s.t.url("/_control/broker/pending")).await;
    assert_eq!(st, 200);
    let id = pending[0]["id"].as_str().unwrap().to_string();
    assert_eq!(pending[0]["client_id"], public);
    let r = http
        .post(s.t.url("/_control/broker/approve"))
        .json(&json!({"id": "nope", "username": "alice@contoso.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(s.t.url("/_control/broker/approve"))
        .json(&json!({"id": id, "username": "dave@contoso.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_token(&call.await.unwrap().unwrap(), "dave@contoso.example");
    let (_, signed_in) = s.t.get_json(&s.t.url("/_control/broker/signed-in")).await;
    assert!(
        signed_in
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["username"] == "dave@contoso.example" && e["client_id"] == public),
        "{signed_in}"
    );
    // Approval includes consent: dave's silent calls now work.
    assert_token(
        &p.acquire_token_silently(
            "0.0",
            CORR,
            &silent_request(
                &public,
                json!({"username": "dave@contoso.example"}),
                &["User.Read"],
            ),
        )
        .await
        .unwrap(),
        "dave@contoso.example",
    );
}

/// Unquotes gdbus's `('…',)` output (GVariant text of one string).
fn gdbus_string(out: &str) -> String {
    let inner = out
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(",)"))
        .unwrap_or_else(|| panic!("unexpected gdbus output: {out}"));
    let quote = inner.chars().next().unwrap();
    assert!(quote == '\'' || quote == '"', "{out}");
    let body = &inner[1..inner.len() - 1];
    let mut s = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            s.extend(chars.next());
        } else {
            s.push(c);
        }
    }
    s
}

fn gdbus(s: &Setup, method: &str, args: &[&str]) -> Option<String> {
    let quote = |a: &str| format!("'{}'", a.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut cmd = std::process::Command::new("gdbus");
    cmd.env("DBUS_SESSION_BUS_ADDRESS", s.bus.address()).args([
        "call",
        "--session",
        "--dest",
        "com.microsoft.identity.broker1",
        "--object-path",
        "/com/microsoft/identity/broker1",
        "--method",
        method,
    ]);
    for a in args {
        cmd.arg(quote(a));
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !ci() => {
            eprintln!(
                "\n!!! SKIPPED the gdbus part: gdbus is not installed (apt-get install libglib2.0-bin). With CI=true this fails.\n"
            );
            return None;
        }
        Err(e) => panic!("gdbus: {e}"),
    };
    assert!(
        out.status.success(),
        "gdbus {method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdbus_is_an_independent_client() {
    let Some(s) = setup().await else { return };
    let public = s.public();
    let Some(ping) = gdbus(&s, "org.freedesktop.DBus.Peer.Ping", &[]) else {
        return;
    };
    assert_eq!(ping.trim(), "()");
    let iface = "com.microsoft.identity.Broker1";
    let out = gdbus(
        &s,
        &format!("{iface}.getLinuxBrokerVersion"),
        &["0.0", CORR, r#"{"msalCppVersion":"1.0.0"}"#],
    )
    .unwrap();
    assert_eq!(
        parse(&gdbus_string(&out)),
        json!({"linuxBrokerVersion": "2.0.4"})
    );
    let out = gdbus(
        &s,
        &format!("{iface}.getAccounts"),
        &["0.0", CORR, &get_accounts_request(&public)],
    )
    .unwrap();
    let accounts = parse(&gdbus_string(&out));
    assert_account(&accounts["accounts"][0], "alice@contoso.example");
    let out = gdbus(
        &s,
        &format!("{iface}.acquireTokenSilently"),
        &[
            "0.0",
            CORR,
            &silent_request(&public, Value::Null, &["User.Read"]),
        ],
    )
    .unwrap();
    assert_token(&gdbus_string(&out), "alice@contoso.example");
    // An error whose context has quotes survives gdbus's quoting.
    let out = gdbus(
        &s,
        &format!("{iface}.acquireTokenSilently"),
        &[
            "0.0",
            CORR,
            &silent_request(
                "00000000-1111-2222-3333-444444444444",
                Value::Null,
                &["User.Read"],
            ),
        ],
    )
    .unwrap();
    let e = assert_error(&gdbus_string(&out), true, status::INCORRECT_CONFIGURATION);
    assert!(
        e["context"]
            .as_str()
            .unwrap()
            .contains("'00000000-1111-2222-3333-444444444444'")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_name_taken_name_and_release() {
    let Some(bus) = private_bus() else { return };
    let t = common::start().await;
    let client = zbus::connection::Builder::address(bus.address())
        .unwrap()
        .build()
        .await
        .unwrap();
    let dbus = zbus::fdo::DBusProxy::new(&client).await.unwrap();
    let name = zbus::names::BusName::try_from("com.microsoft.identity.broker1").unwrap();
    let p = Broker1Proxy::new(&client).await.unwrap();
    let absent = |r: zbus::Result<String>| {
        let e = r.expect_err("no broker on the bus");
        assert!(e.to_string().contains("ServiceUnknown"), "{e}");
    };
    absent(p.get_linux_broker_version("0.0", CORR, "{}").await);
    assert!(!dbus.name_has_owner(name.clone()).await.unwrap());

    let broker = t
        .emulator
        .serve_broker(bus.address(), BrokerOptions::default())
        .await
        .unwrap();
    assert!(dbus.name_has_owner(name.clone()).await.unwrap());
    assert_eq!(broker.bus_address(), bus.address());
    // A second broker on the same bus cannot take the name.
    let second = t
        .emulator
        .serve_broker(bus.address(), BrokerOptions::default())
        .await;
    assert!(
        matches!(second, Err(BrokerServiceError::NameTaken(_))),
        "{second:?}"
    );
    // Unknown users in the options are refused up front.
    let bad = t
        .emulator
        .serve_broker(
            bus.address(),
            BrokerOptions {
                device_user: Some("nobody@x".into()),
                auto_approve: None,
            },
        )
        .await;
    assert!(
        matches!(bad, Err(BrokerServiceError::UnknownUser(_))),
        "{bad:?}"
    );
    assert!(p.get_linux_broker_version("0.0", CORR, "{}").await.is_ok());
    broker.stop().await;
    assert!(!dbus.name_has_owner(name.clone()).await.unwrap());
    absent(p.get_linux_broker_version("0.0", CORR, "{}").await);

    // Dropping the service releases the name too (asynchronously: wait for the bus to say so).
    let broker = t
        .emulator
        .serve_broker(bus.address(), BrokerOptions::default())
        .await
        .unwrap();
    assert!(dbus.name_has_owner(name.clone()).await.unwrap());
    drop(broker);
    let mut released = false;
    for _ in 0..500 {
        if !dbus.name_has_owner(name.clone()).await.unwrap() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        released,
        "the name is still owned after the service was dropped"
    );
    // A bad bus address is a clear error.
    let err = t
        .emulator
        .serve_broker("unix:path=/nonexistent/bus", BrokerOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot connect the broker to the session bus"),
        "{err}"
    );
}

fn missing(what: &str) -> Option<std::convert::Infallible> {
    entra_test_support::missing(&format!("MSAL Python broker interop: {what}"))
}

/// The interop interpreter with msal[broker] (pymsalruntime and its system libraries) usable.
fn broker_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("ENTRA_INTEROP_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-interop/bin/python"));
    if !python.exists() {
        missing(&format!(
            "no interpreter at {} (run scripts/test, or set ENTRA_INTEROP_PYTHON)",
            python.display()
        ))?;
    }
    // Without a broker on the bus, a usable pymsalruntime raises RuntimeError at import; a missing
    // package raises ImportError, a missing system library OSError.
    let probe = "import sys\ntry:\n    import pymsalruntime\nexcept RuntimeError:\n    sys.exit(0)\nexcept (ImportError, OSError) as e:\n    print(e)\n    sys.exit(3)\n";
    let out = std::process::Command::new(&python)
        .args(["-c", probe])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("python runs");
    if !out.status.success() {
        missing(&format!(
            "pymsalruntime is not usable ({}); pip install 'msal[broker]==1.39.0' and apt-get install libwebkit2gtk-4.1-0 (scripts/test does both)",
            String::from_utf8_lossy(&out.stdout).trim()
        ))?;
    }
    Some(python)
}

/// gnome-keyring's Secret Service on the private bus, unlocked (libmsalruntime keeps its account
/// cache there). Killed by PID on drop.
struct Keyring(std::process::Child);

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_keyring(
    bus: &str,
    home: &std::path::Path,
    client: &zbus::Connection,
) -> Option<Keyring> {
    use std::io::Write as _;
    let child = std::process::Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("HOME", home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            missing("gnome-keyring-daemon is not installed (apt-get install gnome-keyring)")?;
            unreachable!()
        }
        Err(e) => panic!("gnome-keyring-daemon: {e}"),
    };
    // The login collection's password, then EOF.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"interop-test").unwrap();
    drop(stdin);
    let keyring = Keyring(child);
    let dbus = zbus::fdo::DBusProxy::new(client).await.unwrap();
    let name = zbus::names::BusName::try_from("org.freedesktop.secrets").unwrap();
    for _ in 0..1000 {
        if dbus.name_has_owner(name.clone()).await.unwrap() {
            return Some(keyring);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gnome-keyring-daemon did not claim org.freedesktop.secrets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_with_microsofts_broker_runtime_signs_in_through_the_service() {
    let Some(python) = broker_python() else {
        return;
    };
    let options = BrokerOptions {
        device_user: None,
        auto_approve: Some("alice@contoso.example".into()),
    };
    let Some(s) = setup_with(common::config(), options).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let Some(_keyring) = start_keyring(s.bus.address(), home.path(), &s.client).await else {
        return;
    };
    let info_file = s.t.dir.path().join("info.json");
    std::fs::write(&info_file, serde_json::to_string(&s.t.info).unwrap()).unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(&python)
            .arg(repo_root().join("interop/msal_python_broker.py"))
            .arg(&info_file)
            .env("DBUS_SESSION_BUS_ADDRESS", s.bus.address())
            .env("HOME", home.path())
            .env_remove("REQUESTS_CA_BUNDLE")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("MSAL Python finishes within 4 minutes")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("null");
    let result: Value = serde_json::from_str(last).unwrap_or(Value::Null);
    assert!(
        output.status.success(),
        "MSAL Python failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(result["broker_enabled"], true, "{result}");
    for step in ["sso", "interactive", "silent"] {
        assert_eq!(result[step]["token_source"], "broker", "{step}: {result}");
        assert_eq!(
            result[step]["username"], "alice@contoso.example",
            "{step}: {result}"
        );
        assert_eq!(result[step]["token_type"], "bearer", "{step}: {result}");
    }
    assert!(
        result["silent"]["scope"]
            .as_str()
            .unwrap()
            .contains("api://emulator-api/access_as_user"),
        "{result}"
    );
    // The calls Microsoft's client made, in order.
    let calls: Vec<String> = s
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "DBUS")
        .map(|r| {
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.headers["protocol-version"], "0.0");
            r.path
                .trim_start_matches("com.microsoft.identity.Broker1.")
                .to_string()
        })
        .collect();
    assert_eq!(
        calls,
        [
            "getAccounts",
            "acquireTokenSilently",
            "acquireTokenInteractively",
            "acquireTokenSilently"
        ],
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_broker_private_bus_prints_the_broker_user_and_bus_address() {
    use std::io::BufRead as _;
    // Checked the same way as PrivateSessionBus::start: skip (or fail in CI) without dbus-daemon.
    let Some(probe) = private_bus() else { return };
    drop(probe);
    let exe = env!("CARGO_BIN_EXE_entra-emulator");
    let state = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "serve",
            "--json",
            "--broker",
            "--private-bus",
            "--broker-user",
            "carol@fabrikam.example",
            "--state-dir",
        ])
        .arg(state.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("entra-emulator starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info = parse(&line);
    assert_eq!(info["broker_user"], "carol@fabrikam.example", "{info}");
    let address = info["bus_address"]
        .as_str()
        .expect("bus_address")
        .to_string();
    let client = zbus::connection::Builder::address(address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let p = Broker1Proxy::new(&client).await.unwrap();
    let accounts = parse(
        &p.get_accounts(
            "0.0",
            CORR,
            &get_accounts_request(info["public_client"]["client_id"].as_str().unwrap()),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        accounts["accounts"][0]["username"],
        "carol@fabrikam.example"
    );
    drop(p);
    drop(client);
    // SIGTERM: the emulator stops the broker and its private dbus-daemon, then exits.
    let killed = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    let gone = zbus::connection::Builder::address(address.as_str())
        .unwrap()
        .build()
        .await;
    assert!(gone.is_err(), "the private bus outlived the emulator");

    // --broker without any bus is a clear error.
    let out = std::process::Command::new(exe)
        .args(["serve", "--broker", "--state-dir"])
        .arg(state.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--broker needs a session bus"), "{stderr}");
}
