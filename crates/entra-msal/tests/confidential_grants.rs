//! The confidential client's user grants beyond on-behalf-of (refresh-token migration,
//! username/password, the `user_fic` grant), claims on on-behalf-of, and forwarded client
//! claims, end to end against the in-process emulator.

mod support;

use entra_msal::{
    Error, FederatedUser, ForClientOptions, OnBehalfOfOptions, SilentOptions, TokenSource,
    UserFicOptions,
};

use support::{Env, env};

const APP_SCOPE: &str = "api://emulator-api/.default";
const GRAPH: &str = "https://graph.microsoft.com/User.Read";
const TOKEN_EXCHANGE: &str = "api://AzureADTokenExchange/.default";

/// A user access token for the ready-made confidential client (an on-behalf-of assertion).
async fn user_token(e: &Env) -> String {
    e.ropc("api://emulator-api/access_as_user").await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn last_request(e: &Env) -> entra_emulator::LoggedRequest {
    e.token_requests().pop().expect("a token request was sent")
}

#[tokio::test]
async fn refresh_token_migration_on_a_confidential_client() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let alice = e.user("alice");
    // A refresh token the web app holds from elsewhere (e.g. ADAL's cache).
    let response: serde_json::Value = e
        .http()
        .post(format!("{}/oauth2/v2.0/token", e.emulator.authority()))
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_deref().unwrap()),
            ("username", alice.username.as_str()),
            ("password", alice.password.as_str()),
            ("scope", "openid profile offline_access"),
            ("client_info", "1"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rt = response["refresh_token"].as_str().unwrap();
    let app = e.secret_app();
    let result = app
        .acquire_token_by_refresh_token(rt, &[GRAPH])
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, alice.username);
    let form = last_request(&e).form;
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], rt);
    assert!(
        form.contains_key("client_secret"),
        "the client authenticates"
    );
    // Migrated: the account and its refresh token serve silent calls.
    assert_eq!(app.accounts(None), vec![(*account).clone()]);
    let silent = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::IdentityProvider);
    let err = app
        .acquire_token_by_refresh_token("not-a-refresh-token", &[GRAPH])
        .await
        .unwrap_err();
    assert!(
        err.service_error()
            .is_some_and(|s| s.error() == "invalid_grant"),
        "{err}"
    );
}

#[tokio::test]
async fn username_password_on_a_confidential_client() {
    let e = env().await;
    let alice = e.user("alice");
    let app = e.secret_app();
    let result = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[GRAPH])
        .await
        .unwrap();
    assert_eq!(result.account.as_ref().unwrap().username, alice.username);
    let request = last_request(&e);
    assert_eq!(request.form["grant_type"], "password");
    assert_eq!(request.form["username"], alice.username);
    assert!(request.form.contains_key("client_secret"));
    assert_eq!(
        request.headers["x-anchormailbox"],
        format!("UPN:{}", alice.username)
    );
    // The token is cached for the account.
    let account = result.account.unwrap();
    let again = app
        .acquire_token_silent(&[GRAPH], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    let err = app
        .acquire_token_by_username_password(&alice.username, "wrong", &[GRAPH])
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(50126));
}

#[tokio::test]
async fn on_behalf_of_with_a_claims_challenge_skips_the_cache() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let app = e
        .builder(&c.client_id)
        .client_secret(c.client_secret.clone().unwrap())
        .client_capabilities(["CP1"])
        .build()
        .unwrap();
    let assertion = user_token(&e).await;
    let first = app
        .acquire_token_on_behalf_of(&assertion, &[GRAPH])
        .await
        .unwrap();
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let options = OnBehalfOfOptions {
        claims_challenge: Some(challenge.into()),
        ..Default::default()
    };
    let challenged = app
        .acquire_token_on_behalf_of_with(&assertion, &[GRAPH], &options)
        .await
        .unwrap();
    assert_eq!(challenged.token_source, TokenSource::IdentityProvider);
    assert_ne!(challenged.access_token, first.access_token);
    let form = last_request(&e).form;
    assert_eq!(form["requested_token_use"], "on_behalf_of");
    let claims: serde_json::Value = serde_json::from_str(&form["claims"]).unwrap();
    assert_eq!(claims["access_token"]["xms_cc"]["values"][0], "CP1");
    assert_eq!(claims["access_token"]["nbf"]["value"], "1700000000");
    // A challenge the caller's sign-in does not satisfy (MFA) comes back as the service's error.
    let mfa = OnBehalfOfOptions {
        claims_challenge: Some(
            r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#.into(),
        ),
        ..Default::default()
    };
    let err = app
        .acquire_token_on_behalf_of_with(&assertion, &[GRAPH], &mfa)
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(50076), "{err}");
    let bad = OnBehalfOfOptions {
        claims_challenge: Some("not json".into()),
        ..Default::default()
    };
    let requests = e.token_requests().len();
    let err = app
        .acquire_token_on_behalf_of_with(&assertion, &[GRAPH], &bad)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err}");
    assert_eq!(e.token_requests().len(), requests, "nothing was sent");
}

#[tokio::test]
async fn forwarded_client_claims_reach_the_wire_and_key_the_cache() {
    let e = env().await;
    let app = e.secret_app();
    let forwarded = r#"{"access_token":{"xms_fwd":{"values":["edge-1"]}}}"#;
    let other = r#"{"access_token":{"xms_fwd":{"values":["edge-2"]}}}"#;
    let with = |claims: &str| ForClientOptions {
        forwarded_client_claims: Some(claims.into()),
        ..Default::default()
    };

    // Client credentials (D4).
    let plain = app.acquire_token_for_client(&[APP_SCOPE]).await.unwrap();
    let fwd = app
        .acquire_token_for_client_with(&[APP_SCOPE], &with(forwarded))
        .await
        .unwrap();
    assert_eq!(
        fwd.token_source,
        TokenSource::IdentityProvider,
        "its own entry"
    );
    assert_ne!(fwd.access_token, plain.access_token);
    let form = last_request(&e).form;
    assert_eq!(form["claims"], forwarded);
    assert!(!form.contains_key("client_claims"), "a cache key only");
    let again = app
        .acquire_token_for_client_with(&[APP_SCOPE], &with(forwarded))
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token, fwd.access_token);
    let changed = app
        .acquire_token_for_client_with(&[APP_SCOPE], &with(other))
        .await
        .unwrap();
    assert_eq!(changed.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        app.acquire_token_for_client(&[APP_SCOPE])
            .await
            .unwrap()
            .access_token,
        plain.access_token
    );
    let err = app
        .acquire_token_for_client_with(&[APP_SCOPE], &with("[1]"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forwarded_client_claims"), "{err}");

    // On-behalf-of (D10).
    let assertion = user_token(&e).await;
    let obo = |claims: &str| OnBehalfOfOptions {
        forwarded_client_claims: Some(claims.into()),
        ..Default::default()
    };
    let first = app
        .acquire_token_on_behalf_of_with(&assertion, &[GRAPH], &obo(forwarded))
        .await
        .unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert_eq!(last_request(&e).form["claims"], forwarded);
    let cached = app
        .acquire_token_on_behalf_of_with(&assertion, &[GRAPH], &obo(forwarded))
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    let plain_obo = app
        .acquire_token_on_behalf_of(&assertion, &[GRAPH])
        .await
        .unwrap();
    assert_eq!(plain_obo.token_source, TokenSource::IdentityProvider);

    // Silent (B24): a refresh carries the claims, and its token is keyed by them.
    let account = first.account.unwrap();
    let silent = |claims: &str| SilentOptions {
        forwarded_client_claims: Some(claims.into()),
        ..Default::default()
    };
    let scopes = ["https://graph.microsoft.com/Mail.Read"];
    let refreshed = app
        .acquire_token_silent(&scopes, &account, &silent(other))
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let request = last_request(&e);
    assert_eq!(request.form["grant_type"], "refresh_token");
    assert_eq!(request.form["claims"], other);
    let hit = app
        .acquire_token_silent(&scopes, &account, &silent(other))
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(hit.access_token, refreshed.access_token);
    let unkeyed = app
        .acquire_token_silent(&scopes, &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(unkeyed.token_source, TokenSource::IdentityProvider);
}

#[tokio::test]
async fn user_federated_identity_credential() {
    let e = env().await;
    let alice = e.user("alice");
    let app = e.secret_app();
    // The agent's federated identity credential: its own token for the token-exchange audience.
    let fic = app
        .acquire_token_for_client(&[TOKEN_EXCHANGE])
        .await
        .unwrap();
    let fic = fic.access_token.expose().to_string();
    let result = app
        .acquire_token_by_user_federated_identity_credential(
            &[GRAPH],
            &fic,
            &FederatedUser::Username(alice.username.clone()),
            &UserFicOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, alice.username);
    assert_eq!(account.account_source.as_deref(), Some("user_fic"));
    let request = last_request(&e);
    assert_eq!(request.form["grant_type"], "user_fic");
    assert_eq!(request.form["user_federated_identity_credential"], fic);
    assert_eq!(request.form["username"], alice.username);
    assert_eq!(request.form["client_info"], "1");
    assert!(request.form.contains_key("client_secret"));
    assert_eq!(
        request.headers["x-anchormailbox"],
        format!("upn:{}", alice.username)
    );
    assert!(request.form["scope"].contains("offline_access"));
    // Cached like a sign-in: silent answers from the cache.
    let silent = app
        .acquire_token_silent(&[GRAPH], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);

    // By object id: `user_id`, and the anchor names the authority's tenant.
    let oid = account.local_account_id.clone();
    let by_oid = app
        .acquire_token_by_user_federated_identity_credential(
            &["api://emulator-api/access_as_user"],
            &fic,
            &FederatedUser::ObjectId(oid.clone()),
            &UserFicOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        by_oid.account.unwrap().home_account_id,
        account.home_account_id
    );
    let request = last_request(&e);
    assert_eq!(request.form["user_id"], oid);
    assert!(!request.form.contains_key("username"));
    let tenant = e
        .emulator
        .authority()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        request.headers["x-anchormailbox"],
        format!("Oid:{oid}@{tenant}")
    );

    // What Entra refuses: a user token (wrong audience), another app's credential.
    let user_at = user_token(&e).await;
    let user = FederatedUser::Username(alice.username.clone());
    let err = app
        .acquire_token_by_user_federated_identity_credential(
            &[GRAPH],
            &user_at,
            &user,
            &UserFicOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(70021), "{err}");
    let cert = e.info.certificate_client.as_ref().unwrap();
    let other_app = e
        .builder(&cert.client_id)
        .certificate(
            std::fs::read_to_string(&cert.private_key_file).unwrap(),
            std::fs::read_to_string(&cert.certificate_file).unwrap(),
        )
        .build()
        .unwrap();
    let foreign = other_app
        .acquire_token_for_client(&[TOKEN_EXCHANGE])
        .await
        .unwrap();
    let err = app
        .acquire_token_by_user_federated_identity_credential(
            &[GRAPH],
            foreign.access_token.expose(),
            &user,
            &UserFicOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(70021), "{err}");
    // Bad input is refused before anything is sent.
    let sent = e.token_requests().len();
    for (assertion, user) in [
        ("", FederatedUser::Username(alice.username.clone())),
        (fic.as_str(), FederatedUser::ObjectId(" ".into())),
    ] {
        let err = app
            .acquire_token_by_user_federated_identity_credential(
                &[GRAPH],
                assertion,
                &user,
                &UserFicOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Configuration { .. }), "{err}");
    }
    assert_eq!(e.token_requests().len(), sent);
}

/// MSAL Python 1.39 runs `user_fic` and forwarded client claims against the emulator; entra-msal
/// then answers from the cache Python wrote: the same forwarded claims find Python's token (the
/// same extended cache key), and the `user_fic` account serves silent calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_user_fic_and_forwarded_claims_share_the_cache() {
    let Some(python) = entra_test_support::python() else {
        return;
    };
    let e = env().await;
    let info_file = e.dir.path().join("info.json");
    std::fs::write(&info_file, serde_json::to_string(&e.info).unwrap()).unwrap();
    let cache_file = e.dir.path().join("python-cache.json");
    let forwarded = r#"{"access_token":{"xms_fwd":{"values":["edge-1"]}}}"#;
    let output = tokio::process::Command::new(&python)
        .arg(entra_test_support::repo_root().join("interop/msal_python_confidential.py"))
        .arg("--info")
        .arg(&info_file)
        .arg("--cache-out")
        .arg(&cache_file)
        .arg("--forwarded-claims")
        .arg(forwarded)
        .env_remove("REQUESTS_CA_BUNDLE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_default();
    assert!(
        output.status.success() && report["ok"] == true,
        "MSAL Python failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report["account_source"], "user_fic");
    let python_requests = e.token_requests();
    let python_fwd = python_requests
        .iter()
        .find(|r| r.form.contains_key("claims") && r.form["grant_type"] == "client_credentials")
        .expect("MSAL Python sent the forwarded claims");
    assert_eq!(python_fwd.form["claims"], forwarded);
    let user_fic = python_requests
        .iter()
        .find(|r| r.form["grant_type"] == "user_fic")
        .unwrap();
    assert_eq!(user_fic.headers["x-client-sku"], "MSAL.Python");

    let cache = entra_msal::TokenCache::new();
    cache
        .deserialize(&std::fs::read_to_string(&cache_file).unwrap())
        .unwrap();
    let app = e.secret_builder().token_cache(cache).build().unwrap();
    let hit = app
        .acquire_token_for_client_with(
            &[APP_SCOPE],
            &ForClientOptions {
                forwarded_client_claims: Some(forwarded.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache, "Python's keyed entry");
    let account = app
        .accounts(Some(report["username"].as_str().unwrap()))
        .last()
        .cloned()
        .expect("the user_fic account");
    assert_eq!(account.account_source.as_deref(), Some("user_fic"));
    assert_eq!(account.local_account_id, report["oid"].as_str().unwrap());
    let silent = app
        .acquire_token_silent(&[GRAPH], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(
        e.token_requests().len(),
        python_requests.len(),
        "no request from Rust"
    );
}
