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
    let account = app.accounts(None).pop().unwrap();
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
