//! PublicClientApplication end to end against the in-process emulator.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use entra_emulator::FaultAction;
use entra_msal::Error;
use entra_msal::UrlOpener;
use entra_msal::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};
use entra_msal::managed_identity::StaticEnvironment;
use entra_msal::{
    AuthCodeFlowOptions, InteractiveOptions, Prompt, PublicClientApplication, SilentOptions,
    TokenSource,
};
use support::{browser, env, test_clock};

const SCOPE: &str = "api://emulator-api/access_as_user";

#[tokio::test]
async fn device_code_flow() {
    let e = env().await;
    let app = e.public_app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    assert_eq!(flow.user_code.len(), 9);
    assert!(flow.message.contains(&flow.user_code));
    assert!(flow.verification_uri.ends_with("/devicelogin"));
    assert!(
        !format!("{flow:?}").contains("DAQAB"),
        "the device code is redacted"
    );
    e.emulator
        .control()
        .approve_device_code(&flow.user_code, "alice@contoso.example")
        .unwrap();
    let result = app.acquire_token_by_device_flow(&flow).await.unwrap();
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, "alice@contoso.example");
    assert_eq!(
        account.account_source.as_deref(),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    assert_eq!(app.accounts(None), vec![(*account).clone()]);
    let poll = e.token_requests().pop().unwrap();
    assert_eq!(
        poll.form["grant_type"],
        "urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(poll.form["device_code"], poll.form["code"]);
    let silent = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
}

#[tokio::test]
async fn device_code_polls_until_approved() {
    let e = env().await;
    e.emulator.control().set_device_code_interval(Some(1));
    let app = e.public_app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    assert_eq!(flow.interval, Duration::from_secs(1));
    let control = e.emulator.control();
    let code = flow.user_code.clone();
    let approver = tokio::spawn(async move {
        // Approve once the client has polled and heard "pending".
        loop {
            if control.requests().iter().any(|r| {
                r.status == 400
                    && r.form
                        .get("grant_type")
                        .is_some_and(|g| g.ends_with("device_code"))
            }) {
                control
                    .approve_device_code(&code, "alice@contoso.example")
                    .unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let result = app.acquire_token_by_device_flow(&flow).await.unwrap();
    approver.await.unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let polls = e.token_requests().len();
    assert!(
        polls >= 2,
        "pending at least once, then tokens ({polls} polls)"
    );
}

#[tokio::test]
async fn device_code_declined_expired_and_cancelled() {
    let e = env().await;
    let app = e.public_app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    e.emulator
        .control()
        .deny_device_code(&flow.user_code)
        .unwrap();
    let err = app.acquire_token_by_device_flow(&flow).await.unwrap_err();
    assert_eq!(
        err.service_error().unwrap().error(),
        "authorization_declined"
    );

    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    e.emulator.control().advance_clock(901);
    let err = app.acquire_token_by_device_flow(&flow).await.unwrap_err();
    assert_eq!(err.service_error().unwrap().error(), "expired_token");

    e.emulator.control().set_device_code_interval(Some(1));
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    let err = app
        .acquire_token_by_device_flow_until(&flow, tokio::time::sleep(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled(_)), "{err}");
}

/// Device-code polls the emulator received.
fn device_code_polls(e: &support::Env) -> usize {
    e.token_requests()
        .iter()
        .filter(|r| {
            r.form
                .get("grant_type")
                .is_some_and(|g| g.ends_with("device_code"))
        })
        .count()
}

/// A security review found that `interval: 0` made the client poll ~735 times a second. It is
/// raised to RFC 8628's default of 5 s, so a code that lives 2 s is polled once (at the start),
/// then the flow ends at its expiry. Requests are counted, not timed.
#[tokio::test]
async fn device_code_interval_zero_polls_every_five_seconds_not_in_a_storm() {
    let e = env().await;
    e.emulator.control().set_device_code_interval(Some(0));
    e.emulator.control().set_device_code_lifetime(Some(2));
    let app = e.public_app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    assert_eq!(
        flow.interval,
        Duration::from_secs(5),
        "MSAL's default interval"
    );
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        app.acquire_token_by_device_flow(&flow),
    )
    .await
    .expect("polling stops at the code's expiry")
    .unwrap_err();
    assert_eq!(
        err.service_error().unwrap().error(),
        "expired_token",
        "{err}"
    );
    let polls = device_code_polls(&e);
    assert!(
        (1..=2).contains(&polls),
        "one poll before the 2 s expiry (two if a clock second ticked), not a storm: {polls}"
    );
}

/// From the same review: a 3600 s interval on a code that lives 2 s waited an hour past the
/// expiry. The wait is cut at the expiry and the flow ends with `expired_token`.
#[tokio::test]
async fn device_code_interval_longer_than_the_code_ends_at_expiry() {
    let e = env().await;
    e.emulator.control().set_device_code_interval(Some(3600));
    e.emulator.control().set_device_code_lifetime(Some(2));
    let app = e.public_app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    assert_eq!(flow.interval, Duration::from_secs(3600));
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        app.acquire_token_by_device_flow(&flow),
    )
    .await
    .expect("the wait is cut at the code's expiry, not after the 3600 s interval")
    .unwrap_err();
    assert_eq!(
        err.service_error().unwrap().error(),
        "expired_token",
        "{err}"
    );
    let polls = device_code_polls(&e);
    assert!(
        (1..=2).contains(&polls),
        "polled at the start (and at most once more at the expiry): {polls}"
    );
}

#[tokio::test]
async fn username_password() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let result = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap();
    assert_eq!(
        result.account.as_ref().unwrap().account_source.as_deref(),
        Some("password")
    );
    let request = e.token_requests().pop().unwrap();
    assert_eq!(
        request.headers["x-anchormailbox"],
        format!("UPN:{}", alice.username)
    );
    assert_eq!(
        request.form["scope"],
        format!("{SCOPE} offline_access openid profile")
    );
    // User-realm discovery ran first, on the authority's host and port.
    assert!(
        e.emulator
            .control()
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/common/userrealm/"))
    );

    let bob = e.user("bob");
    let err = app
        .acquire_token_by_username_password(&bob.username, &bob.password, &[SCOPE])
        .await
        .unwrap_err();
    assert!(err.is_ui_required());
    let service = err.service_error().unwrap();
    assert_eq!(service.aadsts(), Some(50076));
    assert!(service.claims().is_some());
    assert_eq!(
        service.classification(),
        &entra_msal::Classification::BasicAction
    );

    let err = app
        .acquire_token_by_username_password(&alice.username, "wrong", &[SCOPE])
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(50126));

    // A federated domain: the federation server does not know the user (its SOAP fault).
    let err = app
        .acquire_token_by_username_password("eve@federated.fabrikam.example", "x", &[SCOPE])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::FederationFault { code, .. } if code == "a:FailedAuthentication"),
        "{err:?}"
    );
    assert!(matches!(
        app.acquire_token_by_username_password(&alice.username, "x", &["openid"])
            .await,
        Err(Error::Configuration { .. })
    ));
}

/// Paths of the requests the emulator received.
fn paths(e: &support::Env) -> Vec<String> {
    e.emulator
        .control()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect()
}

/// A federated user (MSAL Python's `_acquire_token_by_username_password_federated`): user-realm
/// discovery, the MEX document, WS-Trust 1.3 with a SAML 2.0 assertion by default, WS-Trust
/// 2005 with SAML 1.1 when the MEX document offers only that, then the assertion redeemed at the
/// token endpoint and the tokens cached as for managed ROPC.
#[tokio::test]
async fn federated_username_password_through_ws_trust() {
    let e = env().await;
    let erin = e.info.federated_users[0].clone();
    assert!(e.info.users.iter().all(|u| u.username != erin.username));

    // WS-Trust 1.3, SAML 2.0.
    let app = e.public_app();
    let result = app
        .acquire_token_by_username_password(&erin.username, &erin.password, &[SCOPE])
        .await
        .unwrap();
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, erin.username);
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let request = e.token_requests().pop().unwrap();
    assert_eq!(
        request.form["grant_type"],
        "urn:ietf:params:oauth:grant-type:saml2-bearer"
    );
    assert!(!request.form.contains_key("password"));
    assert!(!request.form["assertion"].contains('='));
    let seen = paths(&e);
    for path in [
        "/adfs/services/trust/mex",
        "/adfs/services/trust/13/usernamemixed",
    ] {
        assert!(seen.iter().any(|p| p == path), "{path} in {seen:?}");
    }
    assert!(!seen.iter().any(|p| p.contains("/2005/")));
    // Cached: the account, the access token, and a refresh token that works.
    assert_eq!(app.accounts(None), vec![(*account).clone()]);
    let cached = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    let refreshed = app
        .acquire_token_silent(
            &[SCOPE],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..SilentOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        e.token_requests().pop().unwrap().form["grant_type"],
        "refresh_token"
    );

    // WS-Trust 2005, SAML 1.1.
    e.emulator.control().set_mex_endpoints(false, true);
    let app = e.public_app();
    let result = app
        .acquire_token_by_username_password(&erin.username, &erin.password, &[SCOPE])
        .await
        .unwrap();
    assert_eq!(result.account.unwrap().username, erin.username);
    assert_eq!(
        e.token_requests().pop().unwrap().form["grant_type"],
        "urn:ietf:params:oauth:grant-type:saml1_1-bearer"
    );
    assert!(
        paths(&e)
            .iter()
            .any(|p| p == "/adfs/services/trust/2005/usernamemixed")
    );

    // A wrong password: the federation server's SOAP fault, code and reason.
    let tokens_before = e.token_requests().len();
    let err = app
        .acquire_token_by_username_password(&erin.username, "wrong", &[SCOPE])
        .await
        .unwrap_err();
    match &err {
        Error::FederationFault { url, code, reason } => {
            assert!(
                url.ends_with("/adfs/services/trust/2005/usernamemixed"),
                "{url}"
            );
            assert_eq!(code, "a:FailedAuthentication");
            assert!(reason.starts_with("ID3242"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err:?} {err}").contains("wrong"));
    assert_eq!(e.token_requests().len(), tokens_before);
    // The fault is not replayed to the next attempt (MSAL's throttling keys a SOAP request by
    // its exact envelope): the right password works at once.
    app.acquire_token_by_username_password(&erin.username, &erin.password, &[SCOPE])
        .await
        .unwrap();

    // No usernamemixed endpoint in the MEX document (a new application: MSAL caches a
    // successful GET for 24 hours).
    e.emulator.control().set_mex_endpoints(false, false);
    match e
        .public_app()
        .acquire_token_by_username_password(&erin.username, &erin.password, &[SCOPE])
        .await
    {
        Err(Error::Unsupported { why, .. }) => {
            assert!(why.contains("usernamemixed"), "{why}")
        }
        other => panic!("{other:?}"),
    }

    // A MEX document that is not XML.
    e.emulator.control().set_mex_endpoints(true, true);
    e.emulator.control().add_fault(entra_emulator::FaultRule {
        matcher: entra_emulator::FaultMatch {
            path_contains: Some("/adfs/services/trust/mex".into()),
            ..Default::default()
        },
        fault: FaultAction::MalformedJson,
        count: 1,
    });
    match e
        .public_app()
        .acquire_token_by_username_password(&erin.username, &erin.password, &[SCOPE])
        .await
    {
        Err(Error::InvalidResponse { url, message, .. }) => {
            assert!(url.ends_with("/adfs/services/trust/mex"), "{url}");
            assert!(message.contains("MEX"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refresh_token_migration() {
    let e = env().await;
    let raw = e
        .ropc("api://emulator-api/access_as_user openid profile offline_access")
        .await;
    let app = e.public_app();
    let result = app
        .acquire_token_by_refresh_token(raw["refresh_token"].as_str().unwrap(), &[SCOPE])
        .await
        .unwrap();
    let account = result.account.unwrap();
    assert_eq!(account.username, "alice@contoso.example");
    let silent = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
}

/// MSAL Python's `TestApplicationForRefreshInBehaviors`: fresh, aging with the identity
/// provider up, aging with it down, expired.
#[tokio::test]
async fn silent_refresh_in_matrix() {
    let e = env().await;
    e.emulator
        .control()
        .set_access_token_lifetime(Some(4 * 3600));
    let (now, clock) = test_clock();
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let app = e.public_builder(&client_id).clock(clock).build().unwrap();
    let alice = e.user("alice");
    let first = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap();
    let account = first.account.clone().unwrap();
    assert_eq!(
        first.refresh_on.unwrap().unix_timestamp() - first.expires_on.unix_timestamp(),
        -7200
    );
    let defaults = SilentOptions::default();
    let silent = || app.acquire_token_silent(&[SCOPE], &account, &defaults);

    // Fresh.
    assert_eq!(silent().await.unwrap().token_source, TokenSource::Cache);
    // Aging, identity provider down: the cached token.
    now.fetch_add(2 * 3600 + 60, Ordering::SeqCst);
    e.fault(FaultAction::DropConnection, 1);
    let aging_down = silent().await.unwrap();
    assert_eq!(aging_down.token_source, TokenSource::Cache);
    assert_eq!(aging_down.access_token, first.access_token);
    // Aging, identity provider up: a new token.
    let aging_up = silent().await.unwrap();
    assert_eq!(aging_up.token_source, TokenSource::IdentityProvider);
    // Expired: a new token, or the error when the identity provider is down.
    now.fetch_add(5 * 3600, Ordering::SeqCst);
    let expired = silent().await.unwrap();
    assert_eq!(expired.token_source, TokenSource::IdentityProvider);
    now.fetch_add(5 * 3600, Ordering::SeqCst);
    e.fault(FaultAction::DropConnection, 1);
    assert!(matches!(silent().await, Err(Error::Network { .. })));
}

#[tokio::test]
async fn family_app_uses_the_family_refresh_token() {
    let e = env().await;
    let cache = entra_msal::TokenCache::new();
    let first = e
        .public_builder(&e.info.public_client.as_ref().unwrap().client_id)
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let family = e
        .public_builder(&e.info.family_client.as_ref().unwrap().client_id)
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let alice = e.user("alice");
    let signed_in = first
        .acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap();
    let account = family
        .accounts(None)
        .last()
        .cloned()
        .expect("the family app sees the account");
    assert_eq!(account, *signed_in.account.unwrap());
    let result = family
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let refresh = e.token_requests().pop().unwrap();
    assert_eq!(
        refresh.form["client_id"],
        e.info.family_client.as_ref().unwrap().client_id
    );
    assert_eq!(refresh.form["grant_type"], "refresh_token");
    assert_eq!(refresh.status, 200);
}

#[tokio::test]
async fn guest_account_and_tenant_override() {
    let e = env().await;
    let app = e.public_app();
    let carol = e.user("carol");
    let signed_in = app
        .acquire_token_by_username_password(&carol.username, &carol.password, &[SCOPE])
        .await
        .unwrap();
    assert_eq!(
        signed_in.id_token_claims.as_ref().unwrap()["tid"],
        e.info.tenant_id.as_str()
    );
    let accounts = app.accounts(Some("CAROL@fabrikam.example"));
    assert_eq!(accounts.len(), 1, "username filter is case-insensitive");
    let home = entra_emulator::ready_made::GUEST_HOME_TENANT_ID.to_string();
    assert!(accounts[0].home_account_id.ends_with(&home));
    let options = SilentOptions {
        tenant: Some(home.clone()),
        ..Default::default()
    };
    let at_home = app
        .acquire_token_silent(&[SCOPE], &accounts[0], &options)
        .await
        .unwrap();
    assert_eq!(at_home.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        at_home.id_token_claims.as_ref().unwrap()["tid"],
        home.as_str()
    );
    assert!(app.accounts(Some("nobody@contoso.example")).is_empty());
}

#[tokio::test]
async fn remove_account_then_ui_required() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let account = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap()
        .account
        .unwrap();
    app.remove_account(&account).await;
    assert!(app.accounts(None).is_empty());
    let err = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_ui_required());
    let cache: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    for section in ["AccessToken", "RefreshToken", "IdToken", "Account"] {
        assert!(
            cache[section].as_object().unwrap().is_empty(),
            "{section} left behind"
        );
    }
}

#[tokio::test]
async fn interactive_with_a_custom_url_opener() {
    let e = env().await;
    let app = e.public_app();
    let launched = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = launched.clone();
    let options = InteractiveOptions {
        login_hint: Some("alice@contoso.example".into()),
        url_opener: Some(browser(&e, Some("alice@contoso.example"))),
        on_before_launching_ui: Some(Arc::new(move |ui: &str| {
            seen.lock().unwrap().push(ui.to_string())
        })),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let result = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(
        result.account.as_ref().unwrap().username,
        "alice@contoso.example"
    );
    assert_eq!(*launched.lock().unwrap(), vec!["browser".to_string()]);
    let authorize = e
        .emulator
        .control()
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/authorize"))
        .unwrap();
    assert_eq!(authorize.query["response_mode"], "form_post");
    assert_eq!(authorize.query["code_challenge_method"], "S256");
    assert!(authorize.query["redirect_uri"].starts_with("http://localhost:"));
    assert_eq!(authorize.query["login_hint"], "alice@contoso.example");
    let redeem = e.token_requests().pop().unwrap();
    assert_eq!(redeem.form["grant_type"], "authorization_code");
    assert!(redeem.headers["x-anchormailbox"].starts_with("Oid:"));
}

#[tokio::test]
async fn interactive_denied_and_timeout() {
    let e = env().await;
    let app = e.public_app();
    let denied = InteractiveOptions {
        url_opener: Some(browser(&e, None)),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let err = app
        .acquire_token_interactive(&[SCOPE], &denied)
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().error(), "access_denied");

    struct Nothing;
    impl UrlOpener for Nothing {
        fn open(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
    }
    let options = InteractiveOptions {
        url_opener: Some(Arc::new(Nothing)),
        timeout: Some(Duration::from_millis(300)),
        port: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        app.acquire_token_interactive(&[SCOPE], &options).await,
        Err(Error::InteractionTimeout { .. })
    ));
}

/// Debian's headless Chromium, driven through chromedriver by `interop/browser_signin.py`, signs
/// in on the emulator's pages and completes the loopback redirect to the library.
struct ChromiumSignIn {
    python: std::path::PathBuf,
    username: String,
    password: String,
}

impl UrlOpener for ChromiumSignIn {
    fn open(&self, url: &str) -> Result<(), Error> {
        std::process::Command::new(&self.python)
            .arg(support::repo_root().join("interop/browser_signin.py"))
            .arg(url)
            .env("INTEROP_USERNAME", &self.username)
            .env("INTEROP_PASSWORD", &self.password)
            .env("INTEROP_TIMEOUT", "90")
            .stdout(std::process::Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| Error::NoBrowser {
                url: url.to_string(),
                message: e.to_string(),
            })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_in_headless_chromium() {
    let Some(python) = support::python() else {
        return;
    };
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but /usr/bin/chromium is missing (scripts/test installs it)");
        }
        eprintln!("SKIPPED: no /usr/bin/chromium");
        return;
    }
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let options = InteractiveOptions {
        url_opener: Some(Arc::new(ChromiumSignIn {
            python,
            username: alice.username.clone(),
            password: alice.password.clone(),
        })),
        timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    let result = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    assert_eq!(result.account.unwrap().username, alice.username);
}

#[test]
fn broker_switches_for_other_platforms_are_ignored() {
    // As in MSAL Python: only the running platform's switch counts (the build with the switch
    // for this platform is tested in `app::public` and `tests/broker_linux.rs`).
    if cfg!(target_os = "linux") {
        let app = PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
            .enable_broker_on_mac(true)
            .enable_broker_on_windows(true)
            .build()
            .unwrap();
        assert!(!app.is_broker_enabled());
        assert_eq!(
            app.broker_redirect_uris().len(),
            2,
            "both platforms' URIs are listed"
        );
    }
}

/// A browser that counts the sign-ins it was asked to open, then completes them as `user`.
struct CountingBrowser {
    inner: Arc<dyn UrlOpener>,
    opened: std::sync::atomic::AtomicUsize,
}

impl UrlOpener for CountingBrowser {
    fn open(&self, url: &str) -> Result<(), Error> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.inner.open(url)
    }
}

fn counting_browser(e: &support::Env, user: &str) -> Arc<CountingBrowser> {
    Arc::new(CountingBrowser {
        inner: browser(e, Some(user)),
        opened: std::sync::atomic::AtomicUsize::new(0),
    })
}

fn with_browser(b: &Arc<CountingBrowser>) -> InteractiveOptions {
    InteractiveOptions {
        url_opener: Some(b.clone()),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    }
}

fn authorize_requests(e: &support::Env) -> Vec<entra_emulator::LoggedRequest> {
    e.emulator
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/authorize"))
        .collect()
}

/// No account: the browser; then the only cached account, silently (no browser).
#[tokio::test]
async fn silent_or_interactive_signs_in_once_then_answers_silently() {
    let e = env().await;
    let app = e.public_app();
    let b = counting_browser(&e, "alice@contoso.example");
    let first = app
        .acquire_token_silent_or_interactive(&[SCOPE], None, &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert_eq!(b.opened.load(Ordering::SeqCst), 1);
    let second = app
        .acquire_token_silent_or_interactive(&[SCOPE], None, &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(second.access_token, first.access_token);
    assert_eq!(
        b.opened.load(Ordering::SeqCst),
        1,
        "no second browser window"
    );
}

/// A revoked refresh token (`invalid_grant`) on an expired access token: the browser, with
/// the account's username as `login_hint`.
#[tokio::test]
async fn silent_or_interactive_after_a_revoked_refresh_token_signs_in_again() {
    let e = env().await;
    let (now, clock) = test_clock();
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let app = e.public_builder(&client_id).clock(clock).build().unwrap();
    let alice = e.user("alice");
    let account = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap()
        .account
        .unwrap();
    now.fetch_add(2 * 24 * 3600, Ordering::SeqCst);
    assert!(
        e.emulator
            .control()
            .revoke_refresh_tokens(Some(&alice.username))
            > 0
    );
    let b = counting_browser(&e, &alice.username);
    let result = app
        .acquire_token_silent_or_interactive(&[SCOPE], Some(&account), &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(b.opened.load(Ordering::SeqCst), 1);
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let grants: Vec<String> = e
        .token_requests()
        .iter()
        .map(|r| r.form["grant_type"].clone())
        .collect();
    assert_eq!(grants.first().unwrap(), "password");
    assert!(grants.contains(&"refresh_token".to_string()), "{grants:?}");
    assert_eq!(grants.last().unwrap(), "authorization_code");
    assert_eq!(
        authorize_requests(&e)[0].query["login_hint"],
        alice.username
    );
}

/// A claims challenge from the refresh (AADSTS50076, MFA required) goes to the browser.
#[tokio::test]
async fn silent_or_interactive_sends_the_claims_challenge_to_the_browser() {
    let e = env().await;
    let (now, clock) = test_clock();
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let app = e.public_builder(&client_id).clock(clock).build().unwrap();
    let alice = e.user("alice");
    app.acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap();
    now.fetch_add(2 * 24 * 3600, Ordering::SeqCst);
    e.fault(FaultAction::Aadsts { code: 50076 }, 1);
    let b = counting_browser(&e, &alice.username);
    app.acquire_token_silent_or_interactive(&[SCOPE], None, &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(b.opened.load(Ordering::SeqCst), 1);
    let claims = &authorize_requests(&e)[0].query["claims"];
    assert!(claims.contains("access_token"), "{claims}");
}

/// Errors that interaction cannot fix are returned, and no browser opens.
#[tokio::test]
async fn silent_or_interactive_returns_network_and_throttling_errors() {
    let e = env().await;
    let (now, clock) = test_clock();
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let app = e.public_builder(&client_id).clock(clock).build().unwrap();
    let alice = e.user("alice");
    app.acquire_token_by_username_password(&alice.username, &alice.password, &[SCOPE])
        .await
        .unwrap();
    now.fetch_add(2 * 24 * 3600, Ordering::SeqCst);
    let b = counting_browser(&e, &alice.username);
    e.fault(FaultAction::DropConnection, 1);
    let err = app
        .acquire_token_silent_or_interactive(&[SCOPE], None, &with_browser(&b))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    e.fault(
        FaultAction::Throttle {
            retry_after: Some(30),
        },
        1,
    );
    let err = app
        .acquire_token_silent_or_interactive(&[SCOPE], None, &with_browser(&b))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
    assert_eq!(b.opened.load(Ordering::SeqCst), 0);
    let err = app
        .acquire_token_silent_or_device_code(&[SCOPE], None, |_| panic!("no device code"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
}

/// No account: a device code, shown through the callback; then silently.
#[tokio::test]
async fn silent_or_device_code_signs_in_once_then_answers_silently() {
    let e = env().await;
    let app = e.public_app();
    let control = e.emulator.control();
    let shown = std::sync::Mutex::new(Vec::new());
    let first = app
        .acquire_token_silent_or_device_code(&[SCOPE], None, |flow| {
            shown.lock().unwrap().push(flow.message.clone());
            control
                .approve_device_code(&flow.user_code, "alice@contoso.example")
                .unwrap();
        })
        .await
        .unwrap();
    assert_eq!(shown.lock().unwrap().len(), 1);
    let account = first.account.clone().unwrap();
    let second = app
        .acquire_token_silent_or_device_code(&[SCOPE], Some(&account), |_| {
            panic!("the cached token should answer")
        })
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    // A removed account: the silent attempt needs the user, so a device code again.
    app.remove_account(&account).await;
    let again = app
        .acquire_token_silent_or_device_code(&[SCOPE], Some(&account), |flow| {
            control
                .approve_device_code(&flow.user_code, "alice@contoso.example")
                .unwrap();
        })
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::IdentityProvider);
}

/// Sign in only (no scopes) through the browser, a device code and the auth-code flow: just
/// the reserved scopes are sent, and the result carries the id token and the account.
#[tokio::test]
async fn sign_in_only_with_no_scopes() {
    let e = env().await;
    let app = e.public_app();
    let b = counting_browser(&e, "alice@contoso.example");
    let interactive = app
        .acquire_token_interactive(&[], &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(
        interactive.id_token_claims.as_ref().unwrap()["preferred_username"],
        "alice@contoso.example"
    );
    assert_eq!(
        interactive.account.unwrap().username,
        "alice@contoso.example"
    );
    let reserved = |scope: &str| {
        let mut s: Vec<&str> = scope.split(' ').collect();
        s.sort_unstable();
        s == ["offline_access", "openid", "profile"]
    };
    assert!(reserved(&authorize_requests(&e)[0].query["scope"]));
    assert!(reserved(&e.token_requests().pop().unwrap().form["scope"]));

    let flow = app.initiate_device_flow(&[]).await.unwrap();
    e.emulator
        .control()
        .approve_device_code(&flow.user_code, "bob@contoso.example")
        .unwrap();
    let device = app.acquire_token_by_device_flow(&flow).await.unwrap();
    assert_eq!(device.account.unwrap().username, "bob@contoso.example");
    assert!(device.id_token.is_some());

    let options = AuthCodeFlowOptions {
        redirect_uri: "msauth.com.msauth.unsignedapp://auth".into(),
        response_mode: Some("query".into()),
        ..Default::default()
    };
    let flow = app.initiate_auth_code_flow(&[], &options).await.unwrap();
    let url = url::Url::parse(&flow.auth_uri).unwrap();
    let scope = url.query_pairs().find(|(k, _)| k == "scope").unwrap().1;
    assert!(reserved(&scope), "{scope}");
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "dave@contoso.example")
        .await;
    let code_flow = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    assert_eq!(code_flow.account.unwrap().username, "dave@contoso.example");
    assert_eq!(app.accounts(None).len(), 3);
}

/// A native app with a custom-scheme redirect runs the auth-code flow itself on a public
/// client: no secret is sent, PKCE is.
#[tokio::test]
async fn public_auth_code_flow_with_a_custom_scheme_redirect() {
    let e = env().await;
    let app = e.public_app();
    let options = AuthCodeFlowOptions {
        redirect_uri: "msauth.com.msauth.unsignedapp://auth".into(),
        response_mode: Some("query".into()),
        login_hint: Some("alice@contoso.example".into()),
        ..Default::default()
    };
    let flow = app
        .initiate_auth_code_flow(&[SCOPE], &options)
        .await
        .unwrap();
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    let mut forged = response.clone();
    forged.insert("state".into(), "forged".into());
    assert!(matches!(
        app.acquire_token_by_auth_code_flow(&flow, &forged).await,
        Err(Error::Validation(_))
    ));
    let result = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    let account = result.account.unwrap();
    assert_eq!(account.username, "alice@contoso.example");
    let redeem = e.token_requests().pop().unwrap();
    assert_eq!(
        redeem.form["redirect_uri"],
        "msauth.com.msauth.unsignedapp://auth"
    );
    assert!(redeem.form.contains_key("code_verifier"));
    assert!(!redeem.form.contains_key("client_secret"));
    let silent = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
}

/// In Cloud Shell, `prompt=none` asks Cloud Shell's endpoint for the portal user's token (no
/// browser), caches it under that user's account; other prompts use the browser as usual.
#[tokio::test]
async fn cloud_shell_prompt_none_gets_the_portal_users_token_without_a_browser() {
    let e = env().await;
    let server = e
        .emulator
        .start_managed_identity(entra_emulator::ManagedIdentityConfig::default())
        .await
        .unwrap();
    let mut cloud_shell = StaticEnvironment::new();
    for (name, value) in server.environment("cloud_shell") {
        cloud_shell = cloud_shell.with_var(name, value);
    }
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let app = e
        .public_builder(&client_id)
        .environment(cloud_shell)
        .build()
        .unwrap();
    let b = counting_browser(&e, "alice@contoso.example");
    let arm = "https://management.core.windows.net//.default";
    let none = InteractiveOptions {
        prompt: Some(Prompt::None),
        ..with_browser(&b)
    };
    let result = app.acquire_token_interactive(&[arm], &none).await.unwrap();
    assert_eq!(b.opened.load(Ordering::SeqCst), 0);
    assert_eq!(result.token_source, TokenSource::Broker);
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, "alice@contoso.example");
    let posted = e
        .emulator
        .control()
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/cloudshell/"))
        .expect("Cloud Shell's endpoint was called");
    assert_eq!(posted.method, "POST");
    assert_eq!(
        posted.form["resource"],
        "https://management.core.windows.net/"
    );
    assert_eq!(posted.headers["metadata"], "true");
    assert!(e.token_requests().is_empty(), "no token endpoint request");
    // Cached: a silent call for the same scope finds it.
    let silent = app
        .acquire_token_silent(&[arm], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(silent.access_token, result.access_token);
    // Sign in only has no resource to ask Cloud Shell for.
    assert!(matches!(
        app.acquire_token_interactive(&[], &none).await,
        Err(Error::Configuration { .. })
    ));
    // Any other prompt: the browser.
    app.acquire_token_interactive(&[SCOPE], &with_browser(&b))
        .await
        .unwrap();
    assert_eq!(b.opened.load(Ordering::SeqCst), 1);
}

/// A broker that records the requests it gets and answers that the user must act (silently)
/// or cancelled (interactively).
#[derive(Debug, Default)]
struct RecordingBroker {
    requests: std::sync::Mutex<Vec<BrokerTokenRequest>>,
}

impl BrokerBackend for RecordingBroker {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::Linux
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn accounts<'a>(&'a self, _: &'a str, _: &'a str) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        self.requests.lock().unwrap().push(request.clone());
        Box::pin(async {
            Err(BrokerError::new(
                BrokerPlatform::Linux,
                BrokerStatus::InteractionRequired,
                "interaction required",
            ))
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        _: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        self.requests.lock().unwrap().push(request.clone());
        Box::pin(async {
            Err(BrokerError::new(
                BrokerPlatform::Linux,
                BrokerStatus::UserCanceled,
                "cancelled",
            ))
        })
    }

    fn sign_out<'a>(
        &'a self,
        _: &'a str,
        _: &'a BrokerAccount,
        _: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// `enable_msa_passthrough` sends `msal_request_type=consumer_passthrough` with the broker's
/// silent sign-in and its interactive sign-in, and nothing without it.
#[cfg(target_os = "linux")]
#[tokio::test]
#[cfg_attr(not(feature = "broker"), allow(deprecated))]
async fn msa_passthrough_goes_to_the_broker() {
    let e = env().await;
    let client_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    for passthrough in [true, false] {
        let broker = Arc::new(RecordingBroker::default());
        let app = e
            .public_builder(&client_id)
            .enable_broker_on_linux(true)
            .broker_backend(broker.clone())
            .build()
            .unwrap();
        let options = InteractiveOptions {
            parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
            enable_msa_passthrough: passthrough,
            ..Default::default()
        };
        assert!(
            app.acquire_token_interactive(&[SCOPE], &options)
                .await
                .is_err()
        );
        let requests = broker.requests.lock().unwrap();
        assert_eq!(
            requests.len(),
            2,
            "the silent sign-in, then the broker's UI"
        );
        for request in requests.iter() {
            assert_eq!(
                request
                    .extra_parameters
                    .get("msal_request_type")
                    .map(String::as_str),
                passthrough.then_some("consumer_passthrough")
            );
        }
    }
}

/// `welcome_html`: the browser opens the listener's welcome page first, which links to the
/// sign-in; following the link signs in.
#[tokio::test]
async fn interactive_with_a_welcome_page() {
    struct FollowsTheWelcomePage {
        then: Arc<dyn UrlOpener>,
        opened: std::sync::Mutex<Vec<String>>,
    }
    impl UrlOpener for FollowsTheWelcomePage {
        fn open(&self, url: &str) -> Result<(), Error> {
            self.opened.lock().unwrap().push(url.to_string());
            let then = self.then.clone();
            let url = url.to_string();
            tokio::runtime::Handle::current().spawn(async move {
                let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
                let href = page
                    .split("href=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .expect("the welcome page links to the sign-in")
                    .replace("&amp;", "&");
                then.open(&href).unwrap();
            });
            Ok(())
        }
    }
    let e = env().await;
    let app = e.public_app();
    let opener = Arc::new(FollowsTheWelcomePage {
        then: browser(&e, Some("alice@contoso.example")),
        opened: std::sync::Mutex::new(Vec::new()),
    });
    let options = InteractiveOptions {
        url_opener: Some(opener.clone()),
        welcome_html: Some("<p>Contoso Tool</p><a href=\"{auth_uri}\">Sign in</a>".into()),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let result = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(result.account.unwrap().username, "alice@contoso.example");
    let opened = opener.opened.lock().unwrap();
    assert_eq!(opened.len(), 1);
    assert!(opened[0].starts_with("http://localhost:") && opened[0].ends_with("/?welcome=true"));
}
