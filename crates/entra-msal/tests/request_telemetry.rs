//! MSAL's telemetry headers (`x-client-current-telemetry`, `x-client-last-telemetry`) as the
//! emulator receives them, request after request.

mod support;

use entra_emulator::{FaultAction, LoggedRequest};
use entra_msal::{ForClientOptions, SilentOptions};
use support::env;

const USER_SCOPE: &str = "api://emulator-api/access_as_user";
const APP_SCOPE: &str = "api://emulator-api/.default";

/// The two telemetry headers of a logged request.
fn telemetry(request: &LoggedRequest) -> (&str, &str) {
    (
        request.headers["x-client-current-telemetry"].as_str(),
        request.headers["x-client-last-telemetry"].as_str(),
    )
}

#[tokio::test]
async fn client_credentials_report_cache_hits_refresh_reasons_and_failures() {
    let e = env().await;
    let app = e.secret_app();
    let forced = ForClientOptions {
        force_refresh: true,
        ..Default::default()
    };
    app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    // Two cache hits, then a forced refresh.
    app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    app.acquire_token_for_client_with(&[APP_SCOPE], &forced)
        .await
        .unwrap();
    // A failure (the emulator refuses the secret once), reported by the next request.
    e.fault(FaultAction::Aadsts { code: 7000215 }, 1);
    app.acquire_token_for_client_with(&[APP_SCOPE], &forced)
        .await
        .unwrap_err();
    app.acquire_token_for_client_with(&[APP_SCOPE], &forced)
        .await
        .unwrap();
    // After that success the failure is forgotten.
    app.acquire_token_for_client_with(&[APP_SCOPE], &forced)
        .await
        .unwrap();

    let requests = e.token_requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    let failed_id = &requests[2].headers["client-request-id"];
    let seen: Vec<(&str, &str)> = requests.iter().map(telemetry).collect();
    assert_eq!(
        seen,
        [
            ("4|730,2|", "4|0|||"),
            ("4|730,1|", "4|2|||"),
            ("4|730,1|", "4|0|||"),
            ("4|730,1|", &*format!("4|0|730,{failed_id}|invalid_client|")),
            ("4|730,1|", "4|0|||"),
        ]
    );
}

#[tokio::test]
async fn user_flows_name_their_api_and_why_silent_calls_went_out() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    app.acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    let account = app.accounts(None).last().unwrap().clone();
    // A cache hit, then a forced refresh.
    app.acquire_token_silent(&[USER_SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    let forced = SilentOptions {
        force_refresh: true,
        ..Default::default()
    };
    app.acquire_token_silent(&[USER_SCOPE], &account, &forced)
        .await
        .unwrap();
    // No access token for these scopes: absent.
    app.acquire_token_silent(
        &["api://emulator-api/other"],
        &account,
        &SilentOptions::default(),
    )
    .await
    .ok();
    // The access tokens gone, the refresh token redeemed again: absent.
    app.token_cache()
        .remove_access_tokens(&account, app.client_id());
    app.acquire_token_silent(&[USER_SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();

    let requests = e.token_requests();
    let seen: Vec<&str> = requests.iter().map(|r| telemetry(r).0).collect();
    assert_eq!(seen[0], "4|301,0|", "{seen:?}");
    assert_eq!(telemetry(&requests[1]), ("4|84,1|", "4|1|||"));
    assert_eq!(seen.last().copied(), Some("4|84,2|"), "{seen:?}");
}

#[tokio::test]
async fn an_expired_token_is_reported_as_expired() {
    let e = env().await;
    let (now, clock) = support::test_clock();
    let app = e.secret_builder().clock(clock).build().unwrap();
    let first = app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    // Past the expiry (less than 300 s left counts as expired, as in MSAL).
    now.store(
        first.expires_on.unix_timestamp() - 100,
        std::sync::atomic::Ordering::SeqCst,
    );
    let second = app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    // Long past the expiry: the cache still holds the token, so it is an expiry too.
    now.store(
        second.expires_on.unix_timestamp() + 3600,
        std::sync::atomic::Ordering::SeqCst,
    );
    app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    let requests = e.token_requests();
    let seen: Vec<&str> = requests.iter().map(|r| telemetry(r).0).collect();
    assert_eq!(seen, ["4|730,2|", "4|730,3|", "4|730,3|"]);
}

/// The token requests' telemetry headers, with each correlation id replaced by its position
/// among the requests (`#0`, `#1`, …), so two runs compare.
fn normalized(requests: &[LoggedRequest]) -> Vec<(String, String)> {
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| r.headers["client-request-id"].as_str())
        .collect();
    requests
        .iter()
        .map(|r| {
            let (current, last) = telemetry(r);
            let mut last = last.to_string();
            for (n, id) in ids.iter().enumerate() {
                last = last.replace(id, &format!("#{n}"));
            }
            (current.to_string(), last)
        })
        .collect()
}

/// MSAL Python 1.39 and this library send the same headers for the same sequence: a miss, a
/// cache hit, a failure, two requests forced by a claims challenge
/// (`interop/msal_python_interop.py`, scenario `telemetry_client_credentials`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_match_msal_python() {
    let Some(python) = support::python() else {
        return;
    };
    let e = env().await;
    let info_file = e.dir.path().join("info.json");
    std::fs::write(&info_file, serde_json::to_string(&e.info).unwrap()).unwrap();
    let output = tokio::process::Command::new(&python)
        .arg(support::repo_root().join("interop/msal_python_interop.py"))
        .args(["--info".as_ref(), info_file.as_os_str()])
        .args(["--scenario", "telemetry_client_credentials"])
        .env_remove("REQUESTS_CA_BUNDLE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let python_headers = normalized(&e.token_requests());
    assert_eq!(
        python_headers.len(),
        4,
        "MSAL Python's requests: {python_headers:?}"
    );
    e.emulator.control().clear_requests();

    let scope = e.info.confidential_client.as_ref().unwrap().scope.clone();
    let app = e.secret_app();
    app.acquire_token_for_client(&[&scope]).await.unwrap();
    app.acquire_token_for_client(&[&scope]).await.unwrap();
    app.acquire_token_for_client(&["api://no-such-api/.default"])
        .await
        .unwrap_err();
    let forced = ForClientOptions {
        claims_challenge: Some(
            r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#.into(),
        ),
        ..Default::default()
    };
    for _ in 0..2 {
        app.acquire_token_for_client_with(&[&scope], &forced)
            .await
            .unwrap();
    }
    let rust_headers = normalized(&e.token_requests());
    assert_eq!(rust_headers.len(), 4, "{rust_headers:?}");
    assert_eq!(rust_headers, python_headers);
}
