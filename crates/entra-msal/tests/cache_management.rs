//! Managing what the cache holds, against the emulator: accounts listed through the authority's
//! aliases, app tokens removed under every alias, one kind of credential removed at a time (with
//! persistence), and the refresh token and raw response a result carries on request.

mod support;

use std::sync::Arc;

use entra_emulator::ready_made::TENANT_ID;
use entra_msal::persistence::{FilePersistence, PersistentTokenCache};
use entra_msal::{ConfidentialClientApplication, PublicClientApplication, TokenCache};
use serde_json::Value;
use support::env;

const USER_SCOPE: &str = "api://emulator-api/access_as_user";
const APP_SCOPE: &str = "api://emulator-api/.default";

/// The cache's JSON with every entry's environment (the emulator's `127.0.0.1`) renamed `host`,
/// as if the tokens had been obtained through that host.
fn moved_to(cache: &TokenCache, host: &str) -> TokenCache {
    let moved = TokenCache::new();
    moved
        .deserialize(&cache.serialize().replace("127.0.0.1", host))
        .unwrap();
    moved
}

fn section_len(cache: &TokenCache, section: &str) -> usize {
    let json: Value = serde_json::from_str(&cache.serialize()).unwrap();
    json.get(section)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

/// A signed-in public client (alice, username/password) and its client id.
async fn signed_in(e: &support::Env) -> (PublicClientApplication, String) {
    let app = e.public_app();
    let alice = e.user("alice");
    app.acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    (app, client_id)
}

#[tokio::test]
async fn accounts_fall_back_to_the_authority_aliases() {
    let e = env().await;
    let (app, client_id) = signed_in(&e).await;
    let alice = e.user("alice");
    let written_via_windows_net = moved_to(app.token_cache(), "login.windows.net");
    let reader = |builder: entra_msal::PublicClientBuilder| {
        builder
            .token_cache(written_via_windows_net.clone())
            .build()
            .unwrap()
    };
    let world_wide = reader(
        PublicClientApplication::builder(&client_id)
            .authority(format!("https://login.microsoftonline.com/{TENANT_ID}")),
    );
    let accounts = world_wide.accounts(None);
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].environment, "login.windows.net");
    assert_eq!(accounts[0].username, alice.username);
    assert_eq!(
        world_wide
            .accounts(Some(&alice.username.to_uppercase()))
            .len(),
        1
    );
    assert!(world_wide.accounts(Some("nobody@example.com")).is_empty());
    // Without instance discovery there are no aliases (MSAL Python), and another cloud's host
    // is no alias.
    for other in [
        PublicClientApplication::builder(&client_id)
            .authority(format!("https://login.microsoftonline.com/{TENANT_ID}"))
            .instance_discovery(false),
        PublicClientApplication::builder(&client_id)
            .authority(format!("https://login.microsoftonline.us/{TENANT_ID}")),
    ] {
        assert!(reader(other).accounts(None).is_empty());
    }
}

#[tokio::test]
async fn remove_tokens_for_client_covers_the_aliases() {
    let e = env().await;
    let written = e.secret_app();
    written
        .acquire_token_for_client(&[APP_SCOPE])
        .await
        .unwrap();
    let cache = moved_to(written.token_cache(), "sts.windows.net");
    assert_eq!(section_len(&cache, "AccessToken"), 1);
    let registered = e.info.confidential_client.clone().unwrap();
    let app = ConfidentialClientApplication::builder(&registered.client_id)
        .authority(format!("https://login.microsoftonline.com/{TENANT_ID}"))
        .client_secret(registered.client_secret.unwrap())
        .token_cache(cache.clone())
        .build()
        .unwrap();
    app.remove_tokens_for_client();
    assert_eq!(section_len(&cache, "AccessToken"), 0);
}

#[tokio::test]
async fn credentials_are_removed_one_kind_at_a_time_and_persisted() {
    let e = env().await;
    let path = e.dir.path().join("cache.json");
    let cache = TokenCache::new();
    PersistentTokenCache::attach(&cache, Arc::new(FilePersistence::new(&path))).unwrap();
    let app = e
        .public_builder(&e.info.public_client.as_ref().unwrap().client_id)
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let alice = e.user("alice");
    app.acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    let client_id = app.client_id().to_string();
    let account = app.accounts(None).last().unwrap().clone();
    let on_disk = |section: &str| {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json.get(section)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    assert_eq!(
        ["AccessToken", "RefreshToken", "IdToken"].map(on_disk),
        [1, 1, 1]
    );
    // Another client's credentials are not this account's.
    assert_eq!(cache.remove_refresh_tokens(&account, "another-client"), 0);
    assert_eq!(cache.remove_refresh_tokens(&account, &client_id), 1);
    assert_eq!(
        ["AccessToken", "RefreshToken", "IdToken"].map(on_disk),
        [1, 0, 1]
    );
    assert_eq!(cache.remove_access_tokens(&account, &client_id), 1);
    assert_eq!(cache.remove_id_tokens(&account, &client_id), 1);
    assert_eq!(
        ["AccessToken", "RefreshToken", "IdToken", "Account"].map(on_disk),
        [0, 0, 0, 1]
    );
    assert_eq!(cache.remove_id_tokens(&account, &client_id), 0);
    // With no refresh token left, a silent request needs the user again.
    let err = app
        .acquire_token_silent(&[USER_SCOPE], &account, &Default::default())
        .await
        .unwrap_err();
    assert!(err.is_ui_required(), "{err:?}");
}

#[tokio::test]
async fn refresh_token_and_raw_response_only_on_request() {
    let logs = support::log_capture::install();
    let e = env().await;
    let alice = e.user("alice");
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let (default_app, _) = signed_in(&e).await;
    let plain = default_app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    assert!(plain.refresh_token().is_none());
    assert!(plain.raw_response().is_none());

    let app = e
        .public_builder(&client_id)
        .include_refresh_token(true)
        .include_raw_response(true)
        .build()
        .unwrap();
    let result = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    let rt = result.refresh_token().expect("the refresh token");
    let raw = result.raw_response().expect("the raw response");
    assert_eq!(raw["refresh_token"].as_str(), Some(rt.expose()));
    assert_eq!(
        raw["access_token"].as_str(),
        Some(result.access_token.expose())
    );
    assert!(raw["client_info"].is_string(), "{raw:?}");
    assert!(raw["expires_in"].is_number());
    // The cache's refresh token is the one handed out.
    let cached: Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    let secrets: Vec<&str> = cached["RefreshToken"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|rt| rt["secret"].as_str())
        .collect();
    assert_eq!(secrets, [rt.expose()]);
    // Debug shows neither token nor client_info.
    let debug = format!("{result:?}");
    for secret in [
        rt.expose(),
        result.access_token.expose(),
        raw["id_token"].as_str().unwrap(),
        raw["client_info"].as_str().unwrap(),
    ] {
        assert!(!debug.contains(secret), "a secret in {debug}");
    }
    assert!(debug.contains("expires_in"), "{debug}");
    // Nor do the logs, at any level, even with the refresh token logged through `Debug` (the
    // result's own `Debug` is checked above; logging it whole would log the id token claims,
    // which name the user, and the raw JSON is the caller's to protect).
    tracing::info!(
        target: "entra_msal",
        refresh_token = ?result.refresh_token(),
        "the result"
    );
    let leaks = logs.leaks([
        ("refresh token", rt.expose()),
        ("access token", result.access_token.expose()),
        ("client_info", raw["client_info"].as_str().unwrap()),
    ]);
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(logs.text().contains("the result"), "the capture works");

    // A token from the cache carries neither.
    let account = app.accounts(None).last().unwrap().clone();
    let cached = app
        .acquire_token_silent(&[USER_SCOPE], &account, &Default::default())
        .await
        .unwrap();
    assert_eq!(cached.token_source, entra_msal::TokenSource::Cache);
    assert!(cached.refresh_token().is_none() && cached.raw_response().is_none());

    // App-only tokens have no refresh token, but a raw response.
    let daemon = e
        .secret_builder()
        .include_refresh_token(true)
        .include_raw_response(true)
        .build()
        .unwrap();
    let app_only = daemon.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    assert!(app_only.refresh_token().is_none());
    assert_eq!(
        app_only.raw_response().unwrap()["token_type"].as_str(),
        Some("Bearer")
    );
}
