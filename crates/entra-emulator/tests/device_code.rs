//! The device authorization grant: the endpoint, polling, the sign-in pages and test control.

mod common;

use common::{assert_entra_error, claims};
use serde_json::Value;

const SCOPE: &str = "api://emulator-api/access_as_user openid profile offline_access";

async fn start_flow(t: &common::TestEmulator) -> Value {
    let url = t.url(&format!("/{}/oauth2/v2.0/devicecode", t.tenant()));
    let (status, flow) = t
        .post_form(&url, &[("client_id", t.public_id()), ("scope", SCOPE)])
        .await;
    assert_eq!(status, 200, "{flow}");
    flow
}

async fn poll(t: &common::TestEmulator, flow: &Value, grant: &str) -> (reqwest::StatusCode, Value) {
    let code = flow["device_code"].as_str().unwrap();
    t.token(&[
        ("grant_type", grant),
        ("client_id", t.public_id()),
        ("device_code", code),
        ("client_info", "1"),
    ])
    .await
}

const URN: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[tokio::test]
async fn device_authorization_response_shape() {
    let t = common::start().await;
    let flow = start_flow(&t).await;
    let user_code = flow["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(flow["verification_uri"], t.url("/devicelogin"));
    assert_eq!(flow["expires_in"], 900);
    assert_eq!(flow["interval"], 5);
    assert!(flow.get("verification_uri_complete").is_none());
    assert!(flow["message"].as_str().unwrap().contains(user_code));
    assert_eq!(
        t.emulator.control().pending_device_codes()[0].user_code,
        user_code
    );
}

#[tokio::test]
async fn approve_through_control_under_both_grant_spellings() {
    let t = common::start().await;
    for grant in [URN, "device_code"] {
        let flow = start_flow(&t).await;
        let (status, body) = poll(&t, &flow, grant).await;
        assert_entra_error(status, &body, 400, "authorization_pending", 70016);
        t.emulator
            .control()
            .approve_device_code(flow["user_code"].as_str().unwrap(), "alice@contoso.example")
            .unwrap();
        let (status, body) = poll(&t, &flow, grant).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            claims(body["id_token"].as_str().unwrap())["preferred_username"],
            "alice@contoso.example"
        );
        // The code is single use.
        let (status, body) = poll(&t, &flow, grant).await;
        assert_entra_error(status, &body, 400, "bad_verification_code", 70018);
    }
}

#[tokio::test]
async fn decline_expiry_and_unknown_codes() {
    let t = common::start().await;
    let flow = start_flow(&t).await;
    t.emulator
        .control()
        .deny_device_code(flow["user_code"].as_str().unwrap())
        .unwrap();
    let (status, body) = poll(&t, &flow, URN).await;
    assert_entra_error(status, &body, 400, "authorization_declined", 70020);

    let flow = start_flow(&t).await;
    t.emulator.control().advance_clock(901);
    let (status, body) = poll(&t, &flow, URN).await;
    assert_entra_error(status, &body, 400, "expired_token", 70019);
    assert!(
        t.emulator
            .control()
            .approve_device_code(flow["user_code"].as_str().unwrap(), "alice@contoso.example")
            .is_err()
    );

    let (status, body) = t
        .token(&[
            ("grant_type", URN),
            ("client_id", t.public_id()),
            ("device_code", "nope"),
        ])
        .await;
    assert_entra_error(status, &body, 400, "bad_verification_code", 70018);
    let (status, body) = t
        .token(&[("grant_type", URN), ("client_id", t.public_id())])
        .await;
    assert_entra_error(status, &body, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn devicecode_endpoint_errors() {
    let t = common::start().await;
    let url = t.url(&format!("/{}/oauth2/v2.0/devicecode", t.tenant()));
    let (status, body) = t
        .post_form(&url, &[("client_id", "nobody"), ("scope", SCOPE)])
        .await;
    assert_entra_error(status, &body, 400, "unauthorized_client", 700016);
    let (status, body) = t
        .post_form(
            &url,
            &[("client_id", t.public_id()), ("scope", "api://nope/x")],
        )
        .await;
    assert_entra_error(status, &body, 400, "invalid_scope", 70011);
    let (status, body) = t.post_form(&url, &[("client_id", t.public_id())]).await;
    assert_entra_error(status, &body, 400, "invalid_request", 900144);
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_string())
}

#[tokio::test]
async fn sign_in_through_the_pages_with_mfa() {
    let t = common::start().await;
    let flow = start_flow(&t).await;
    let user_code = flow["user_code"].as_str().unwrap().to_lowercase();
    let page = t
        .http
        .get(t.url("/devicelogin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"code\""));
    let submit = |form: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            t.http
                .post(t.url("/devicelogin"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let bad = submit(vec![
        ("action", "code".into()),
        ("user_code", "WRONGCODE".into()),
    ])
    .await;
    assert!(bad.contains("id=\"code-error\""), "{bad}");
    let login = submit(vec![
        ("action", "code".into()),
        ("user_code", user_code.clone()),
    ])
    .await;
    assert!(login.contains("id=\"password\""), "{login}");
    let code_field = hidden(&login, "user_code").unwrap();
    let bob = t.user("bob").clone();
    let wrong = submit(vec![
        ("action", "login".into()),
        ("user_code", code_field.clone()),
        ("username", bob.username.clone()),
        ("password", "x".into()),
    ])
    .await;
    assert!(wrong.contains("incorrect"));
    let mfa = submit(vec![
        ("action", "login".into()),
        ("user_code", code_field.clone()),
        ("username", bob.username.clone()),
        ("password", bob.password.clone()),
    ])
    .await;
    assert!(mfa.contains("id=\"mfa-approve\""), "{mfa}");
    let (status, body) = poll(&t, &flow, URN).await;
    assert_entra_error(status, &body, 400, "authorization_pending", 70016);
    let done = submit(vec![("action", "mfa".into()), ("user_code", code_field)]).await;
    assert!(done.contains("You have signed in"), "{done}");
    let (status, body) = poll(&t, &flow, URN).await;
    assert_eq!(status, 200, "{body}");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["preferred_username"], bob.username);
    assert!(at["amr"].as_array().unwrap().iter().any(|v| v == "mfa"));
}

#[tokio::test]
async fn declining_on_the_page() {
    let t = common::start().await;
    let flow = start_flow(&t).await;
    let user_code = flow["user_code"].as_str().unwrap().to_string();
    let page = t
        .http
        .post(t.url("/devicelogin"))
        .form(&[("action", "decline"), ("user_code", user_code.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("declined"));
    let (status, body) = poll(&t, &flow, URN).await;
    assert_entra_error(status, &body, 400, "authorization_declined", 70020);
}

#[tokio::test]
async fn slow_down_is_a_test_knob() {
    let t = common::start().await;
    let flow = start_flow(&t).await;
    t.emulator.control().add_fault(entra_emulator::FaultRule {
        matcher: entra_emulator::FaultMatch {
            grant_type: Some("device_code".into()),
            ..Default::default()
        },
        fault: entra_emulator::FaultAction::SlowDown,
        count: 1,
    });
    let (status, body) = poll(&t, &flow, URN).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "slow_down");
    let (_, body) = poll(&t, &flow, URN).await;
    assert_eq!(body["error"], "authorization_pending");
}
