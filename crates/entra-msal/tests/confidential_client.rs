//! ConfidentialClientApplication end to end against the in-process emulator.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use entra_emulator::FaultAction;
use entra_msal::Error;
use entra_msal::{
    AuthCodeFlow, AuthCodeFlowOptions, AuthorizationCodeOptions, ConfidentialClientApplication,
    ForClientOptions, SilentOptions, TokenSource,
};

use support::{Env, env, test_clock};

const SCOPE: &str = "api://emulator-api/.default";

#[tokio::test]
async fn client_credentials_then_cache() {
    let e = env().await;
    let app = e.secret_app();
    let first = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert_eq!(first.token_type, "Bearer");
    assert!(first.account.is_none());
    let second = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(second.access_token, first.access_token);
    assert_eq!(e.token_requests().len(), 1);
    // The request on the wire: MSAL headers, client_secret in the body, no scope decoration.
    let request = &e.token_requests()[0];
    assert_eq!(request.headers["x-client-sku"], "MSAL.Rust");
    assert!(request.headers.contains_key("client-request-id"));
    assert_eq!(request.headers["x-ms-lib-capability"], "retry-after, h429");
    assert_eq!(request.form["grant_type"], "client_credentials");
    assert_eq!(request.form["scope"], SCOPE);
    assert!(request.form.contains_key("client_secret"));
    // Debug never shows secrets or tokens.
    let shown = format!("{app:?} {first:?}");
    assert!(
        !shown.contains(
            e.info
                .confidential_client
                .as_ref()
                .unwrap()
                .client_secret
                .as_deref()
                .unwrap()
        )
    );
    assert!(!shown.contains(first.access_token.expose()));
}

#[tokio::test]
async fn force_refresh_claims_and_capabilities_bypass_the_cache() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let app = e
        .builder(&c.client_id)
        .client_secret(c.client_secret.clone().unwrap())
        .client_capabilities(["CP1"])
        .build()
        .unwrap();
    app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let forced = app
        .acquire_token_for_client_with(
            &[SCOPE],
            &ForClientOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(forced.token_source, TokenSource::IdentityProvider);
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let claimed = app
        .acquire_token_for_client_with(
            &[SCOPE],
            &ForClientOptions {
                claims_challenge: Some(challenge.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(claimed.token_source, TokenSource::IdentityProvider);
    let requests = e.token_requests();
    assert_eq!(requests.len(), 3);
    let claims: serde_json::Value = serde_json::from_str(&requests[2].form["claims"]).unwrap();
    assert_eq!(claims["access_token"]["xms_cc"]["values"][0], "CP1");
    assert_eq!(claims["access_token"]["nbf"]["value"], "1700000000");
}

#[tokio::test]
async fn fmi_path_has_its_own_cache_entry() {
    let e = env().await;
    let app = e.secret_app();
    let plain = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let options = ForClientOptions {
        fmi_path: Some("agent-app-id".into()),
        ..Default::default()
    };
    let fmi = app
        .acquire_token_for_client_with(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(fmi.token_source, TokenSource::IdentityProvider);
    assert_ne!(fmi.access_token, plain.access_token);
    assert_eq!(
        app.acquire_token_for_client_with(&[SCOPE], &options)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    assert_eq!(e.token_requests()[1].form["fmi_path"], "agent-app-id");
    assert!(app.token_cache().serialize().contains("-atext-"));
}

#[tokio::test]
async fn certificate_credentials() {
    let e = env().await;
    let cert = e.info.certificate_client.as_ref().unwrap();
    let key = std::fs::read_to_string(&cert.private_key_file).unwrap();
    let pem = std::fs::read_to_string(&cert.certificate_file).unwrap();
    let ps256 = e
        .builder(&cert.client_id)
        .certificate(key.clone(), pem.clone())
        .send_x5c(true)
        .build()
        .unwrap();
    ps256.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let rs256 = e
        .builder(&cert.client_id)
        .certificate_thumbprint(key.clone(), cert.thumbprint_sha1.clone())
        .build()
        .unwrap();
    rs256.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let requests = e.token_requests();
    let header = |i: usize| {
        let a = &requests[i].form["client_assertion"];
        entra_emulator::jwt::decode_unverified(a).unwrap().header
    };
    assert_eq!(header(0)["alg"], "PS256");
    assert!(header(0).contains_key("x5t#S256") && header(0).contains_key("x5c"));
    assert_eq!(header(1)["alg"], "RS256");
    assert!(header(1).contains_key("x5t"));
    assert_eq!(
        requests[0].form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );

    // A certificate that does not match the key is refused at build time.
    let other = entra_emulator::crypto::generate_rsa_key_pem().unwrap();
    let err = e
        .builder(&cert.client_id)
        .certificate(other, pem.clone())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err}");
}

#[tokio::test]
async fn pkcs12_and_assertion_callback() {
    let e = env().await;
    let cert = e.info.certificate_client.as_ref().unwrap();
    let key_pem = std::fs::read_to_string(&cert.private_key_file).unwrap();
    let cert_pem = std::fs::read_to_string(&cert.certificate_file).unwrap();
    let pfx = make_pfx(&key_pem, &cert_pem, "pfx-pass");
    let app = e
        .builder(&cert.client_id)
        .certificate_pkcs12(pfx.clone(), "pfx-pass")
        .build()
        .unwrap();
    app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let wrong = e
        .builder(&cert.client_id)
        .certificate_pkcs12(pfx, "nope")
        .build()
        .unwrap_err();
    assert!(matches!(wrong, Error::Configuration { .. }));

    let signer = entra_msal::CertificateCredential::from_pem(&key_pem, &cert_pem).unwrap();
    let calls = Arc::new(AtomicI64::new(0));
    let counter = calls.clone();
    let app = e
        .builder(&cert.client_id)
        .client_assertion(move |req| {
            counter.fetch_add(1, Ordering::SeqCst);
            signer.sign(
                &req.client_id,
                &req.token_endpoint,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            )
        })
        .build()
        .unwrap();
    app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

fn make_pfx(key_pem: &str, cert_pem: &str, password: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    let key_der = entra_emulator::crypto::rsa_pem_to_pkcs8_der(key_pem).unwrap();
    let cert_der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let key = p12_keystore::PrivateKey::from_der(&key_der).unwrap();
    let cert = p12_keystore::Certificate::from_der(cert_der.as_ref()).unwrap();
    let chain = p12_keystore::PrivateKeyChain::new(vec![1u8; 20], key, vec![cert]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "client",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store.writer(password).write().unwrap()
}

#[tokio::test]
async fn service_errors_are_typed() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let wrong = e
        .builder(&c.client_id)
        .client_secret("wrong")
        .build()
        .unwrap();
    let err = wrong.acquire_token_for_client(&[SCOPE]).await.unwrap_err();
    let service = err.service_error().expect("a service error");
    assert_eq!(service.error(), "invalid_client");
    assert_eq!(service.aadsts(), Some(7000215));
    assert_eq!(service.http_status(), Some(401));
    assert!(service.correlation_id().is_some());
    assert!(!err.is_ui_required());

    let app = e.secret_app();
    let err = app
        .acquire_token_for_client(&["api://unknown/.default"])
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(70011));
    let err = app.acquire_token_for_client(&["openid"]).await.unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }));
    assert!(
        ConfidentialClientApplication::builder("x")
            .authority(e.emulator.authority())
            .build()
            .is_err(),
        "no credential"
    );
    assert!(
        ConfidentialClientApplication::builder("x")
            .authority("http://login.example.com/t")
            .client_secret("s")
            .build()
            .is_err(),
        "http refused"
    );
}

#[tokio::test]
async fn transport_faults_are_typed_and_nothing_is_cached() {
    let e = env().await;
    let app = e.secret_app();
    e.fault(
        FaultAction::Throttle {
            retry_after: Some(30),
        },
        1,
    );
    match app.acquire_token_for_client(&[SCOPE]).await {
        Err(Error::Throttled {
            retry_after,
            status,
            ..
        }) => {
            assert_eq!(retry_after.as_secs(), 30);
            assert_eq!(status, 429);
        }
        other => panic!("{other:?}"),
    }
    // The throttled response is replayed without reaching the emulator.
    assert!(matches!(
        app.acquire_token_for_client(&[SCOPE]).await,
        Err(Error::Throttled { .. })
    ));
    assert_eq!(e.token_requests().len(), 1);

    let app = e.secret_app();
    e.fault(FaultAction::MalformedJson, 1);
    assert!(matches!(
        app.acquire_token_for_client(&[SCOPE]).await,
        Err(Error::InvalidResponse { .. })
    ));
    e.fault(FaultAction::WrongContentType, 1);
    assert!(matches!(
        app.acquire_token_for_client(&[SCOPE]).await,
        Err(Error::InvalidResponse { .. })
    ));
    e.fault(FaultAction::DropConnection, 1);
    assert!(matches!(
        app.acquire_token_for_client(&[SCOPE]).await,
        Err(Error::Network { .. })
    ));
    e.fault(FaultAction::TruncatedBody, 1);
    assert!(matches!(
        app.acquire_token_for_client(&[SCOPE]).await,
        Err(Error::Network { .. })
    ));
    let cache: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    assert!(
        cache["AccessToken"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "nothing cached from failed responses: {cache}"
    );

    let c = e.info.confidential_client.as_ref().unwrap();
    let impatient = e
        .builder(&c.client_id)
        .client_secret(c.client_secret.clone().unwrap())
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap();
    impatient
        .acquire_token_for_client(&["api://load-warmup/.default"])
        .await
        .unwrap();
    e.fault(FaultAction::Delay { ms: 15000 }, 1);
    match impatient.acquire_token_for_client(&[SCOPE]).await {
        Err(Error::Network { timeout, .. }) => assert!(timeout),
        other => panic!("{other:?}"),
    }
    // Works again afterwards.
    assert!(app.acquire_token_for_client(&[SCOPE]).await.is_ok());
}

#[tokio::test]
async fn concurrent_requests_coalesce() {
    let e = env().await;
    let app = Arc::new(e.secret_app());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.acquire_token_for_client(&["api://load-1/.default"])
                    .await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap().access_token);
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_eq!(
        e.token_requests().len(),
        1,
        "20 concurrent misses cost one request"
    );
}

async fn user_token(e: &Env) -> String {
    e.ropc("api://emulator-api/access_as_user").await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn on_behalf_of_is_cached_per_assertion() {
    let e = env().await;
    let app = e.secret_app();
    let assertion = user_token(&e).await;
    let first = app
        .acquire_token_on_behalf_of(&assertion, &["https://graph.microsoft.com/User.Read"])
        .await
        .unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        first.account.as_ref().unwrap().username,
        "alice@contoso.example"
    );
    let second = app
        .acquire_token_on_behalf_of(&assertion, &["https://graph.microsoft.com/User.Read"])
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    let requests = e.token_requests();
    let obo: Vec<_> = requests
        .iter()
        .filter(|r| r.form.contains_key("requested_token_use"))
        .collect();
    assert_eq!(obo.len(), 1, "the second call was answered from the cache");
    let form = &obo[0].form;
    assert_eq!(form["requested_token_use"], "on_behalf_of");
    assert_eq!(
        form["scope"],
        "https://graph.microsoft.com/User.Read offline_access openid profile"
    );
    let err = app
        .acquire_token_on_behalf_of("not-a-jwt", &["https://graph.microsoft.com/User.Read"])
        .await
        .unwrap_err();
    assert_eq!(err.service_error().unwrap().aadsts(), Some(50013));
}

#[tokio::test]
async fn web_app_auth_code_flow_then_silent() {
    let e = env().await;
    let (now, clock) = test_clock();
    let app = e.secret_builder().clock(clock).build().unwrap();
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let flow = app
        .initiate_auth_code_flow(&["api://emulator-api/access_as_user"], &options)
        .await
        .unwrap();
    assert!(flow.auth_uri.contains("code_challenge_method=S256"));
    // The user signs in (the emulator's control API stands in for the browser).
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
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, "alice@contoso.example");
    assert_eq!(
        account.account_source.as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        result.id_token_claims.as_ref().unwrap()["preferred_username"],
        "alice@contoso.example"
    );
    assert_eq!(app.accounts(None), vec![(*account).clone()]);

    let cached = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert!(cached.id_token.is_some());
    // Within 300 s of expiry the cached token is not used: the refresh token is.
    now.fetch_add(3599 - 299, Ordering::SeqCst);
    let refreshed = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let last = e.token_requests().pop().unwrap();
    assert_eq!(last.form["grant_type"], "refresh_token");
    assert!(last.headers["x-anchormailbox"].starts_with("Oid:"));
    // Another resource with the same refresh token.
    let graph = app
        .acquire_token_silent(
            &["https://graph.microsoft.com/User.Read"],
            &account,
            &SilentOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(graph.token_source, TokenSource::IdentityProvider);

    // Revoked: the user must sign in again; the refresh token stays in the cache.
    e.emulator.control().revoke_refresh_tokens(None);
    let err = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_ui_required(), "{err}");
    assert_eq!(err.service_error().unwrap().aadsts(), Some(70008));
    assert!(app.token_cache().serialize().contains("refreshtoken"));

    app.remove_account(&account);
    assert!(app.accounts(None).is_empty());
    let err = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_ui_required());
}

#[tokio::test]
async fn proactive_refresh_falls_back_to_the_cached_token() {
    let e = env().await;
    e.emulator
        .control()
        .set_access_token_lifetime(Some(4 * 3600));
    let (now, clock) = test_clock();
    let app = e.secret_builder().clock(clock).build().unwrap();
    let first = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert!(first.refresh_on.is_some());
    now.fetch_add(2 * 3600 + 10, Ordering::SeqCst);
    // A dropped connection (a 5xx would be replayed by the throttling layer for 5 s).
    e.fault(FaultAction::DropConnection, 1);
    let aging = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(
        aging.token_source,
        TokenSource::Cache,
        "the identity provider failed: keep the old token"
    );
    let fresh = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
    assert_ne!(fresh.access_token, first.access_token);
}

#[tokio::test]
async fn remove_tokens_for_client() {
    let e = env().await;
    let app = e.secret_app();
    app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    app.remove_tokens_for_client();
    assert_eq!(
        app.acquire_token_for_client(&[SCOPE])
            .await
            .unwrap()
            .token_source,
        TokenSource::IdentityProvider
    );
}

#[tokio::test]
async fn every_aadsts_error_becomes_the_right_typed_error() {
    let e = env().await;
    for aadsts in entra_emulator::errors::ALL {
        // A fresh app each time: HTTP 400 answers are replayed for 60 s by design.
        let app = e.secret_app();
        e.fault(FaultAction::Aadsts { code: aadsts.code }, 1);
        let err = app.acquire_token_for_client(&[SCOPE]).await.unwrap_err();
        match aadsts.status {
            429 | 503 => assert!(
                matches!(err, Error::Throttled { .. }),
                "{}: {err:?}",
                aadsts.code
            ),
            status => {
                let service = err
                    .service_error()
                    .unwrap_or_else(|| panic!("{}: {err:?}", aadsts.code));
                assert_eq!(service.aadsts(), Some(aadsts.code));
                assert_eq!(service.error(), aadsts.error);
                assert_eq!(service.http_status(), Some(status));
                assert_eq!(service.suberror(), aadsts.suberror);
                let interactive = matches!(
                    aadsts.error,
                    "invalid_grant"
                        | "interaction_required"
                        | "login_required"
                        | "consent_required"
                );
                assert_eq!(err.is_ui_required(), interactive, "{}: {err}", aadsts.code);
                if aadsts.code == 50076 {
                    assert!(
                        service.claims().is_some(),
                        "the MFA claims challenge is kept"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn generic_oidc_authority() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let app = ConfidentialClientApplication::builder(&c.client_id)
        .oidc_authority(format!("{}/v2.0", e.emulator.authority()))
        .client_secret(c.client_secret.clone().unwrap())
        .trusted_ca(e.emulator.ca_pem().unwrap())
        .build()
        .unwrap();
    let result = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let discovery = e
        .emulator
        .control()
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("openid-configuration"))
        .unwrap();
    assert_eq!(
        discovery.path,
        format!(
            "/{}/v2.0/.well-known/openid-configuration",
            e.info.tenant_id
        )
    );
    // A domain in the authority path: the issuer carries the GUID but the same host, which
    // MSAL's issuer rules accept (issuer mismatches are covered by the authority unit tests).
    let by_domain = ConfidentialClientApplication::builder(&c.client_id)
        .oidc_authority(format!("{}/contoso.example/v2.0", e.emulator.base_url()))
        .client_secret(c.client_secret.clone().unwrap())
        .trusted_ca(e.emulator.ca_pem().unwrap())
        .build()
        .unwrap();
    assert!(by_domain.acquire_token_for_client(&[SCOPE]).await.is_ok());
}

#[tokio::test]
async fn unknown_tenant_is_a_typed_discovery_error() {
    let e = env().await;
    let c = e.info.confidential_client.as_ref().unwrap();
    let app = ConfidentialClientApplication::builder(&c.client_id)
        .authority(format!("{}/no-such-tenant.example", e.emulator.base_url()))
        .client_secret("x")
        .trusted_ca(e.emulator.ca_pem().unwrap())
        .instance_discovery(false)
        .build()
        .unwrap();
    let err = app.acquire_token_for_client(&[SCOPE]).await.unwrap_err();
    assert_eq!(
        err.service_error().map(|s| s.aadsts()),
        Some(Some(90002)),
        "{err}"
    );
}

#[tokio::test]
async fn silent_tries_family_tokens_first_then_its_own() {
    let e = env().await;
    let (_, clock) = test_clock();
    let app = e.secret_builder().clock(clock).build().unwrap();
    // The app's own sign-in (auth code) ...
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let flow = app
        .initiate_auth_code_flow(&["api://emulator-api/access_as_user"], &options)
        .await
        .unwrap();
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    let account = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap()
        .account
        .unwrap();
    // ... and a family refresh token of a public app for the same user, in the same cache, with
    // no app metadata for this app (as after a migration): MSAL tries the family token first.
    let public_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let alice = e.user("alice");
    e.public_builder(&public_id)
        .token_cache(app.token_cache().clone())
        .build()
        .unwrap()
        .acquire_token_by_username_password(
            &alice.username,
            &alice.password,
            &["api://emulator-api/access_as_user"],
        )
        .await
        .unwrap();
    let mut cache: serde_json::Value =
        serde_json::from_str(&app.token_cache().serialize()).unwrap();
    cache["AppMetadata"] = serde_json::json!({});
    let family_refresh_token = cache["RefreshToken"]
        .as_object()
        .unwrap()
        .values()
        .find(|rt| rt["client_id"] == public_id.as_str())
        .expect("the public app's family refresh token")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.token_cache().deserialize(&cache.to_string()).unwrap();
    e.emulator.control().clear_requests();
    let refreshed = app
        .acquire_token_silent(
            &["api://emulator-api/access_as_user"],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let attempts = e.token_requests();
    assert_eq!(
        attempts.len(),
        2,
        "the family token first (refused: this app is not in the family), then its own"
    );
    assert_eq!(attempts[0].form["refresh_token"], family_refresh_token);
    assert_eq!(attempts[0].status, 400);
    assert_eq!(attempts[1].status, 200);
}

/// A web app keeps the flow in its server-side session; another worker (a new application
/// instance, the same registration) reads it back and finishes the sign-in.
#[tokio::test]
async fn an_auth_code_flow_kept_in_a_session_is_finished_by_another_instance() {
    let e = env().await;
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let flow = e
        .secret_app()
        .initiate_auth_code_flow(&["api://emulator-api/access_as_user"], &options)
        .await
        .unwrap();
    let session = serde_json::to_string(&flow).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&session).unwrap();
    let verifier = stored["code_verifier"].as_str().unwrap();
    let nonce = stored["nonce"].as_str().unwrap();
    assert!(verifier.len() >= 43 && nonce.len() == 64);
    // The nonce is in `auth_uri` (it is sent); the verifier never leaves the server until the
    // code is redeemed.
    assert!(stored["auth_uri"].as_str().unwrap().contains(nonce));
    let debug = format!("{flow:?}");
    assert!(!debug.contains(verifier), "{debug}");
    drop(flow);

    let response = e
        .sign_in(
            stored["auth_uri"].as_str().unwrap(),
            stored["state"].as_str().unwrap(),
            "alice@contoso.example",
        )
        .await;
    let other_worker = e.secret_app();
    let restored: AuthCodeFlow = serde_json::from_str(&session).unwrap();
    let result = other_worker
        .acquire_token_by_auth_code_flow(&restored, &response)
        .await
        .unwrap();
    assert_eq!(result.account.unwrap().username, "alice@contoso.example");
    let redeem = e.token_requests().pop().unwrap();
    assert_eq!(redeem.form["code_verifier"], verifier);
}

/// A code from a hand-built authorization request, redeemed with the nonce and PKCE verifier
/// the request used, on both applications; a wrong nonce is refused.
#[tokio::test]
async fn a_raw_authorization_code_is_redeemed_by_both_applications() {
    let e = env().await;
    let public_id = e.info.public_client.as_ref().unwrap().client_id.clone();
    let public = e.public_builder(&public_id).build().unwrap();
    let confidential = e.secret_app();
    /// Starts a sign-in and returns (code, redirect URI, nonce as sent, verifier).
    async fn code_for(e: &Env, flow: AuthCodeFlow, user: &str) -> (String, String, String, String) {
        let json: serde_json::Value = serde_json::to_value(&flow).unwrap();
        let response = e.sign_in(&flow.auth_uri, &flow.state, user).await;
        (
            response["code"].clone(),
            flow.redirect_uri.clone(),
            json["nonce"].as_str().unwrap().to_string(),
            json["code_verifier"].as_str().unwrap().to_string(),
        )
    }
    let scope = "api://emulator-api/access_as_user";
    let web = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let native = AuthCodeFlowOptions {
        redirect_uri: "http://localhost".into(),
        ..Default::default()
    };

    let flow = confidential
        .initiate_auth_code_flow(&[scope], &web)
        .await
        .unwrap();
    let (code, redirect_uri, nonce, verifier) = code_for(&e, flow, "alice@contoso.example").await;
    let options = AuthorizationCodeOptions {
        nonce: Some(nonce),
        code_verifier: Some(verifier.clone()),
        ..Default::default()
    };
    assert!(!format!("{options:?}").contains(&verifier));
    let result = confidential
        .acquire_token_by_authorization_code(&code, &[scope], &redirect_uri, &options)
        .await
        .unwrap();
    assert_eq!(result.account.unwrap().username, "alice@contoso.example");
    assert_eq!(confidential.accounts(None).len(), 1);

    let flow = public
        .initiate_auth_code_flow(&[scope], &native)
        .await
        .unwrap();
    let (code, redirect_uri, _, verifier) = code_for(&e, flow, "bob@contoso.example").await;
    let wrong_nonce = AuthorizationCodeOptions {
        nonce: Some("not-the-nonce-sent".into()),
        code_verifier: Some(verifier.clone()),
        ..Default::default()
    };
    assert!(matches!(
        public
            .acquire_token_by_authorization_code(&code, &[scope], &redirect_uri, &wrong_nonce)
            .await,
        Err(Error::Validation(_))
    ));
    assert!(
        public.accounts(None).is_empty(),
        "nothing cached after a nonce mismatch"
    );
}

/// The user consents to two APIs' scopes up front; the code is redeemed for one of them.
#[tokio::test]
async fn an_auth_code_flow_is_redeemed_for_a_subset_of_its_scopes() {
    let e = env().await;
    let app = e.secret_app();
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let scopes = [
        "api://emulator-api/access_as_user",
        "api://emulator-api/read",
    ];
    let flow = app
        .initiate_auth_code_flow(&scopes, &options)
        .await
        .unwrap();
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    assert!(matches!(
        app.acquire_token_by_auth_code_flow_for_scopes(&flow, &response, &["api://other/x"])
            .await,
        Err(Error::Configuration { .. })
    ));
    let result = app
        .acquire_token_by_auth_code_flow_for_scopes(&flow, &response, &["api://emulator-api/read"])
        .await
        .unwrap();
    let redeem = e.token_requests().pop().unwrap();
    let sent: Vec<&str> = redeem.form["scope"].split(' ').collect();
    assert!(sent.contains(&"api://emulator-api/read"), "{sent:?}");
    assert!(
        !sent.contains(&"api://emulator-api/access_as_user"),
        "{sent:?}"
    );
    assert!(
        result.scopes.iter().any(|s| s.ends_with("/read")),
        "{:?}",
        result.scopes
    );
}
