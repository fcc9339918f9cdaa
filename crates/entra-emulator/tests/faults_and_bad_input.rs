//! Scripted faults, the HTTP control API, and malformed or hostile input.

mod common;

use std::time::Duration;

use common::assert_entra_error;
use entra_emulator::{FaultAction, FaultMatch, FaultRule};
use serde_json::{Value, json};

fn token_fault(fault: FaultAction, count: u32) -> FaultRule {
    FaultRule {
        matcher: FaultMatch {
            path_contains: Some("/oauth2/v2.0/token".into()),
            ..Default::default()
        },
        fault,
        count,
    }
}

async fn client_credentials(t: &common::TestEmulator) -> Result<reqwest::Response, reqwest::Error> {
    let (id, secret) = t.confidential();
    t.http
        .post(t.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "api://emulator-api/.default"),
        ])
        .send()
        .await
}

#[tokio::test]
async fn throttling_and_server_errors() {
    let t = common::start().await;
    let control = t.emulator.control();
    control.add_fault(token_fault(
        FaultAction::Throttle {
            retry_after: Some(7),
        },
        2,
    ));
    for _ in 0..2 {
        let r = client_credentials(&t).await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    assert_eq!(
        client_credentials(&t).await.unwrap().status(),
        200,
        "the fault is used up"
    );

    control.add_fault(token_fault(FaultAction::Throttle { retry_after: None }, 1));
    let r = client_credentials(&t).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());

    for status in [500u16, 503] {
        control.add_fault(token_fault(
            FaultAction::Status {
                status,
                retry_after: None,
            },
            1,
        ));
        let r = client_credentials(&t).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS")
        );
    }
}

#[tokio::test]
async fn scripted_aadsts_errors() {
    let t = common::start().await;
    for code in [50076u64, 70008, 65001, 50126, 700016, 7000215] {
        t.emulator
            .control()
            .add_fault(token_fault(FaultAction::Aadsts { code: code as u32 }, 1));
        let r = client_credentials(&t).await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        let expected = entra_emulator::errors::by_code(code as u32).unwrap();
        assert_entra_error(status, &body, expected.status, expected.error, code);
        if code == 50076 {
            assert!(body["claims"].is_string());
        }
    }
}

#[tokio::test]
async fn broken_transport_faults() {
    let t = common::start().await;
    let control = t.emulator.control();

    control.add_fault(token_fault(FaultAction::MalformedJson, 1));
    let r = client_credentials(&t).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());

    control.add_fault(token_fault(FaultAction::WrongContentType, 1));
    let r = client_credentials(&t).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    control.add_fault(token_fault(FaultAction::TruncatedBody, 1));
    let body = match client_credentials(&t).await {
        Ok(r) => r.bytes().await,
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "a truncated body must fail to read");

    control.add_fault(token_fault(FaultAction::DropConnection, 1));
    let dropped = match client_credentials(&t).await {
        Ok(r) => r.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(dropped.is_err(), "a dropped connection must fail");

    control.add_fault(token_fault(FaultAction::Delay { ms: 15000 }, 1));
    let (id, secret) = t.confidential();
    let impatient = t
        .http
        .post(t.token_url())
        .timeout(Duration::from_secs(3))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "api://emulator-api/.default"),
        ])
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    // After all faults the endpoint works again.
    assert_eq!(client_credentials(&t).await.unwrap().status(), 200);
}

#[tokio::test]
async fn faults_match_on_grant_type_and_client() {
    let t = common::start().await;
    t.emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            grant_type: Some("password".into()),
            ..Default::default()
        },
        fault: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        count: 1,
    });
    assert_eq!(
        client_credentials(&t).await.unwrap().status(),
        200,
        "other grants are unaffected"
    );
    let (status, _) = t.password_tokens("alice", "openid").await;
    assert_eq!(status, 500);
    let (status, _) = t.password_tokens("alice", "openid").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn http_control_api() {
    let t = common::start().await;
    let control = format!("{}/_control", t.base());
    let post = |path: &str, body: Value| {
        let url = format!("{control}{path}");
        let http = t.http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let r = post("/faults", json!({"match": {"path_contains": "/token"}, "fault": {"kind": "status", "status": 503}, "count": 1})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(client_credentials(&t).await.unwrap().status(), 503);
    let r = post("/faults", json!({"fault": {"kind": "bogus"}})).await;
    assert!(r.status().is_client_error());

    let before = t.emulator.control().now();
    let r: Value = post("/clock", json!({"advance_seconds": 3600}))
        .await
        .json()
        .await
        .unwrap();
    assert!(r["now"].as_i64().unwrap() >= before + 3600);

    let r = post("/settings", json!({"access_token_lifetime_seconds": 60})).await;
    assert_eq!(r.status(), 200);
    let (_, body) = t.password_tokens("alice", "openid offline_access").await;
    assert_eq!(body["expires_in"], 60);
    post("/settings", json!({"access_token_lifetime_seconds": null})).await;
    let (_, body) = t.password_tokens("alice", "openid offline_access").await;
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(
        post("/settings", json!({"nonsense": 1})).await.status(),
        400
    );

    let r: Value = post("/revoke", json!({"username": "alice@contoso.example"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["revoked"], 2);

    let log: Value = t
        .http
        .get(format!("{control}/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log.as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/_control"))
    );
    let ropc = entries
        .iter()
        .find(|e| e["form"]["grant_type"] == "password")
        .unwrap();
    assert_eq!(ropc["method"], "POST");
    assert_eq!(ropc["status"], 200);
    assert!(
        ropc["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    t.http
        .delete(format!("{control}/requests"))
        .send()
        .await
        .unwrap();
    assert!(t.emulator.control().requests().is_empty());

    let r = post(
        "/device/approve",
        json!({"user_code": "NOPE", "username": "alice@contoso.example"}),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn control_api_is_off_unless_enabled() {
    let mut config = common::config();
    config.settings.control_api = false;
    let t = common::start_with(config).await;
    let r = t
        .http
        .get(t.url("/_control/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The in-process handle still works.
    assert!(t.emulator.control().requests().is_empty());
}

#[tokio::test]
async fn wrong_content_type_and_methods() {
    let t = common::start().await;
    let r = t
        .http
        .post(t.token_url())
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_entra_error(
        status,
        &r.json().await.unwrap(),
        400,
        "invalid_request",
        900561,
    );
    let r = t.http.get(t.token_url()).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    let r = t
        .http
        .get(t.url("/no/such/endpoint/at/all"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let t = common::start().await;
    let big = "a".repeat(2 * 1024 * 1024);
    let r = t
        .http
        .post(t.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&username={big}"))
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status();
            assert_eq!(status, 413);
        }
        // The server may close the connection before the client finishes sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
}

#[tokio::test]
async fn garbage_never_panics_or_hangs() {
    use rand::{Rng, SeedableRng};
    let t = common::start().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let paths = [
        t.token_url(),
        t.url(&format!("/{}/oauth2/v2.0/devicecode", t.tenant())),
        t.url(&format!("/{}/oauth2/v2.0/authorize", t.tenant())),
        t.url("/devicelogin"),
    ];
    let types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "",
    ];
    for i in 0..300 {
        let len = rng.gen_range(0..400);
        let mut body: Vec<u8> = (0..len).map(|_| rng.r#gen::<u8>()).collect();
        if i % 3 == 0 {
            body = format!(
                "grant_type={}&client_id={}&scope=%{:02X}&code=&assertion=a.b.c",
                [
                    "password",
                    "refresh_token",
                    "authorization_code",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer"
                ][i % 5],
                t.public_id(),
                rng.r#gen::<u8>()
            )
            .into_bytes();
        }
        let mut request = t.http.post(&paths[i % paths.len()]).body(body);
        let ct = types[i % types.len()];
        if !ct.is_empty() {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.expect("the emulator answers");
        let status = response.status().as_u16();
        assert!(status < 500, "status {status} for case {i}");
    }
}
