//! ManagedIdentityClient end to end against the emulator's managed-identity endpoints: every
//! source, MSAL's cache layout, half-life refresh, claims challenges, throttling, and the typed
//! errors. The environment is injected through `StaticEnvironment`, never the process's.

mod support;

use std::sync::Arc;

use entra_emulator::{
    FaultAction, FaultMatch, FaultRule, LoggedRequest, ManagedIdentityConfig, ManagedIdentityServer,
};
use entra_msal::Error;
use entra_msal::managed_identity::{
    ManagedIdentity, ManagedIdentityErrorKind, ManagedIdentitySource, StaticEnvironment,
};
use entra_msal::{ManagedIdentityClient, TokenSource};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VAULT: &str = "https://vault.azure.net";

struct Mi {
    env: support::Env,
    server: ManagedIdentityServer,
    arc_dir: tempfile::TempDir,
}

async fn start(config: ManagedIdentityConfig) -> Mi {
    let env = support::env().await;
    let arc_dir = tempfile::tempdir().unwrap();
    let config = ManagedIdentityConfig {
        arc_key_directory: Some(arc_dir.path().to_path_buf()),
        ..config
    };
    let server = env.emulator.start_managed_identity(config).await.unwrap();
    Mi {
        env,
        server,
        arc_dir,
    }
}

impl Mi {
    fn environment(&self, source: &str) -> StaticEnvironment {
        let mut e = StaticEnvironment::new()
            .with_os("linux")
            .with_arc_key_directory(self.arc_dir.path());
        for (k, v) in self.server.environment(source) {
            e = e.with_var(k, v);
        }
        e
    }

    fn client(&self, source: &str, identity: ManagedIdentity) -> ManagedIdentityClient {
        let control = self.env.emulator.control();
        ManagedIdentityClient::builder(identity)
            .environment(self.environment(source))
            .clock(Arc::new(move || control.now()))
            .build()
            .unwrap()
    }

    fn requests(&self, path_part: &str) -> Vec<LoggedRequest> {
        self.env
            .emulator
            .control()
            .requests()
            .into_iter()
            .filter(|r| r.path.contains(path_part))
            .collect()
    }
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn mi_kind(e: &Error) -> ManagedIdentityErrorKind {
    match e {
        Error::ManagedIdentity(e) => e.kind,
        other => panic!("expected a managed identity error, got {other:?}"),
    }
}

#[tokio::test]
async fn imds_system_and_user_assigned_identities() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let cfg = mi.server.config().clone();

    let client = mi.client("imds", ManagedIdentity::SystemAssigned);
    assert_eq!(client.source(), ManagedIdentitySource::Imds);
    let t = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let c = claims(t.access_token.expose());
    assert_eq!(c["oid"], cfg.system_assigned.object_id.as_str());
    assert_eq!(c["aud"], VAULT);
    let logged = mi.requests("/metadata/identity/oauth2/token");
    assert_eq!(logged.len(), 1);
    let r = &logged[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.query.get("api-version").map(String::as_str),
        Some("2018-02-01")
    );
    assert_eq!(r.query.get("resource").map(String::as_str), Some(VAULT));
    assert_eq!(r.headers.get("metadata").map(String::as_str), Some("true"));
    assert_eq!(
        r.headers.get("x-client-sku").map(String::as_str),
        Some("MSAL.Rust")
    );
    assert!(r.headers.contains_key("x-ms-client-request-id"));

    // From the cache the second time.
    let again = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token, t.access_token);
    assert_eq!(mi.requests("/metadata/identity/oauth2/token").len(), 1);

    let uami = &cfg.user_assigned[1];
    for (identity, param, value) in [
        (
            ManagedIdentity::client_id(&uami.client_id),
            "client_id",
            &uami.client_id,
        ),
        (
            ManagedIdentity::resource_id(&uami.resource_id),
            "msi_res_id",
            &uami.resource_id,
        ),
        (
            ManagedIdentity::object_id(&uami.object_id),
            "object_id",
            &uami.object_id,
        ),
    ] {
        let t = mi
            .client("imds", identity)
            .acquire_token_for_client(VAULT)
            .await
            .unwrap();
        assert_eq!(
            claims(t.access_token.expose())["oid"],
            uami.object_id.as_str()
        );
        let last = mi
            .requests("/metadata/identity/oauth2/token")
            .pop()
            .unwrap();
        assert_eq!(last.query.get(param), Some(value));
    }

    let err = mi
        .client(
            "imds",
            ManagedIdentity::client_id("00000000-0000-0000-0000-000000000bad"),
        )
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::Refused);
    let Error::ManagedIdentity(e) = &err else {
        unreachable!()
    };
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.error.as_deref(), Some("invalid_request"));
    assert!(err.to_string().contains("Identity not found"), "{err}");
}

#[tokio::test]
async fn app_service_uses_its_header_and_mi_res_id() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let uami = mi.server.config().user_assigned[0].clone();
    let client = mi.client(
        "app_service",
        ManagedIdentity::resource_id(&uami.resource_id),
    );
    assert_eq!(client.source(), ManagedIdentitySource::AppService);
    let before = mi.env.emulator.control().now();
    let t = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        claims(t.access_token.expose())["oid"],
        uami.object_id.as_str()
    );
    let r = mi.requests("/msi/token").pop().unwrap();
    assert_eq!(
        r.query.get("api-version").map(String::as_str),
        Some("2019-08-01")
    );
    assert_eq!(r.query.get("mi_res_id"), Some(&uami.resource_id));
    assert_eq!(
        r.headers.get("x-identity-header").map(String::as_str),
        Some(mi.server.secret())
    );
    assert_eq!(r.headers.get("metadata").map(String::as_str), Some("true"));
    // Expiry comes from expires_on: a day after issuance (the clock may tick during the call).
    let now = mi.env.emulator.control().now();
    assert!(
        (before + 86400..=now + 86400).contains(&t.expires_on.unix_timestamp()),
        "{} not a day after issuance",
        t.expires_on.unix_timestamp()
    );

    let wrong = mi
        .environment("app_service")
        .with_var("IDENTITY_HEADER", "stale");
    let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(wrong)
        .build()
        .unwrap()
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::Refused);
    assert!(err.to_string().contains("IDENTITY_HEADER"), "{err}");
}

#[tokio::test]
async fn machine_learning_spells_clientid() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let uami = mi.server.config().user_assigned[0].clone();
    let client = mi.client(
        "machine_learning",
        ManagedIdentity::client_id(&uami.client_id),
    );
    assert_eq!(client.source(), ManagedIdentitySource::MachineLearning);
    let t = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        claims(t.access_token.expose())["appid"],
        uami.client_id.as_str()
    );
    let r = mi.requests("/ml/token").pop().unwrap();
    assert_eq!(
        r.query.get("api-version").map(String::as_str),
        Some("2017-09-01")
    );
    assert_eq!(r.query.get("clientid"), Some(&uami.client_id));
    assert!(!r.query.contains_key("client_id"));
    assert_eq!(
        r.headers.get("secret").map(String::as_str),
        Some(mi.server.secret())
    );
}

#[tokio::test]
async fn service_fabric_pins_the_certificate_and_refreshes_on_claims() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let client = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(mi.environment("service_fabric"))
        .client_capabilities(["CP1"])
        .build()
        .unwrap();
    assert_eq!(client.source(), ManagedIdentitySource::ServiceFabric);
    let first = client.acquire_token_for_client(VAULT).await.unwrap();
    let r = mi.requests("/servicefabric/token").pop().unwrap();
    assert_eq!(
        r.query.get("api-version").map(String::as_str),
        Some("2019-07-01-preview")
    );
    assert_eq!(r.query.get("xms_cc").map(String::as_str), Some("CP1"));
    assert_eq!(
        r.headers.get("secret").map(String::as_str),
        Some(mi.server.secret())
    );
    assert!(!r.query.contains_key("token_sha256_to_refresh"));

    // A claims challenge bypasses the cache and names the token to replace.
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let second = client
        .acquire_token_for_client_with_claims(VAULT, challenge)
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::IdentityProvider);
    assert_ne!(second.access_token, first.access_token);
    let r = mi.requests("/servicefabric/token").pop().unwrap();
    let expected: String = Sha256::digest(first.access_token.expose().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r.query.get("token_sha256_to_refresh"), Some(&expected));
    // The new token replaced the old one in the cache.
    let third = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(third.token_source, TokenSource::Cache);
    assert_eq!(third.access_token, second.access_token);

    // Another thumbprint: refused before anything is sent.
    let before = mi.requests("/servicefabric/token").len();
    let pinned_elsewhere = mi.environment("service_fabric").with_var(
        "IDENTITY_SERVER_THUMBPRINT",
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
    );
    let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(pinned_elsewhere)
        .build()
        .unwrap()
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::CertificateMismatch);
    assert_eq!(mi.requests("/servicefabric/token").len(), before);

    // Malformed thumbprint, and plain HTTP: configuration errors.
    for (name, value) in [
        ("IDENTITY_SERVER_THUMBPRINT", "not-a-thumbprint".to_string()),
        (
            "IDENTITY_ENDPOINT",
            mi.server
                .service_fabric_endpoint()
                .replace("https://", "http://"),
        ),
    ] {
        let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
            .environment(mi.environment("service_fabric").with_var(name, value))
            .build()
            .unwrap()
            .acquire_token_for_client(VAULT)
            .await
            .unwrap_err();
        assert_eq!(
            mi_kind(&err),
            ManagedIdentityErrorKind::Configuration,
            "{err}"
        );
    }

    // A wrong secret maps as MSAL Python maps SecretHeaderNotFound.
    let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(
            mi.environment("service_fabric")
                .with_var("IDENTITY_HEADER", "wrong"),
        )
        .build()
        .unwrap()
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    let Error::ManagedIdentity(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.error.as_deref(), Some("unauthorized_client"));
}

#[tokio::test]
async fn azure_arc_key_file_challenge() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let uami = mi.server.config().user_assigned[0].clone();
    let client = mi.client("azure_arc", ManagedIdentity::object_id(&uami.object_id));
    assert_eq!(client.source(), ManagedIdentitySource::AzureArc);
    let t = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        claims(t.access_token.expose())["oid"],
        uami.object_id.as_str()
    );
    let logged = mi.requests("/arc/");
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].status, 401);
    assert!(!logged[0].headers.contains_key("authorization"));
    assert!(logged[1].headers["authorization"].starts_with("Basic "));
    assert_eq!(
        logged[1].query.get("api-version").map(String::as_str),
        Some("2020-06-01")
    );
    assert_eq!(logged[1].query.get("object_id"), Some(&uami.object_id));
    assert_eq!(logged[1].status, 200);

    // The key file must be in the agent's key directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(
            mi.environment("azure_arc")
                .with_arc_key_directory(elsewhere.path()),
        )
        .build()
        .unwrap()
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::ArcKeyFile);

    // Not Linux or Windows: not supported.
    let err = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(
            mi.server
                .environment("azure_arc")
                .into_iter()
                .fold(StaticEnvironment::new().with_os("macos"), |e, (k, v)| {
                    e.with_var(k, v)
                }),
        )
        .build()
        .unwrap()
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(
        mi_kind(&err),
        ManagedIdentityErrorKind::PlatformNotSupported
    );
}

#[tokio::test]
async fn azure_arc_fails_closed_and_limits_the_key_file() {
    let legacy = start(ManagedIdentityConfig {
        arc_legacy_agent: true,
        ..Default::default()
    })
    .await;
    let uami = legacy.server.config().user_assigned[0].clone();
    let err = legacy
        .client("azure_arc", ManagedIdentity::client_id(&uami.client_id))
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::IdentityMismatch);
    // System-assigned still works against the legacy agent.
    legacy
        .client("azure_arc", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(VAULT)
        .await
        .unwrap();

    let big = start(ManagedIdentityConfig {
        arc_key_file_bytes: Some(4097),
        ..Default::default()
    })
    .await;
    let err = big
        .client("azure_arc", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::ArcKeyFile);
    assert!(err.to_string().contains("4096"), "{err}");
    // Nothing was sent with the oversized key.
    assert_eq!(big.requests("/arc/").len(), 1);
}

#[tokio::test]
async fn cloud_shell_posts_the_resource() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let client = mi.client("cloud_shell", ManagedIdentity::SystemAssigned);
    assert_eq!(client.source(), ManagedIdentitySource::CloudShell);
    let t = client
        .acquire_token_for_client("https://management.core.windows.net/")
        .await
        .unwrap();
    let c = claims(t.access_token.expose());
    assert_eq!(c["upn"], mi.env.user("alice").username.as_str());
    let r = mi.requests("/cloudshell/").pop().unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.form.get("resource").map(String::as_str),
        Some("https://management.core.windows.net/")
    );
    assert_eq!(r.headers.get("metadata").map(String::as_str), Some("true"));

    let err = mi
        .client("cloud_shell", ManagedIdentity::client_id("x"))
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_kind(&err), ManagedIdentityErrorKind::Configuration);
}

#[tokio::test]
async fn cached_like_msal_and_refreshed_at_half_life() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let control = mi.env.emulator.control();
    let client = mi.client("imds", ManagedIdentity::SystemAssigned);
    let first = client.acquire_token_for_client(VAULT).await.unwrap();
    let now = control.now();
    assert_eq!(first.refresh_on.unwrap().unix_timestamp(), now + 43200);

    let json: Value = serde_json::from_str(&client.token_cache().serialize()).unwrap();
    let ats = json["AccessToken"].as_object().unwrap();
    assert_eq!(ats.len(), 1);
    let (key, at) = ats.iter().next().unwrap();
    assert_eq!(at["client_id"], "SYSTEM_ASSIGNED_MANAGED_IDENTITY");
    assert_eq!(at["environment"], "localhost");
    assert_eq!(at["realm"], "managed_identity");
    assert_eq!(at["target"], VAULT);
    assert_eq!(at["home_account_id"], Value::Null);
    assert_eq!(at["refresh_on"], (now + 43200).to_string());
    assert_eq!(
        key,
        &format!(
            "-localhost-accesstoken-system_assigned_managed_identity-managed_identity-{VAULT}"
        )
    );
    assert!(json["Account"].as_object().is_none_or(|a| a.is_empty()));

    // Before half-life: cache. After: a new token.
    control.advance_clock(43000);
    assert_eq!(
        client
            .acquire_token_for_client(VAULT)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    control.advance_clock(300);
    let refreshed = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    assert_ne!(refreshed.access_token, first.access_token);

    // A failed proactive refresh falls back to the cached token.
    control.advance_clock(43300);
    control.add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("/metadata/identity".into()),
            ..Default::default()
        },
        fault: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        count: 1,
    });
    let fallback = client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(fallback.token_source, TokenSource::Cache);
    assert_eq!(fallback.access_token, refreshed.access_token);

    // Short-lived tokens (< 2 h) have no refresh_on.
    control.set_clock(control.now() + 1);
    let short = start(ManagedIdentityConfig {
        token_lifetime_seconds: 3600,
        ..Default::default()
    })
    .await;
    let t = short
        .client("imds", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(VAULT)
        .await
        .unwrap();
    assert!(t.refresh_on.is_none());
}

#[tokio::test]
async fn throttled_answers_are_replayed_not_resent() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let control = mi.env.emulator.control();
    control.add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("/metadata/identity".into()),
            ..Default::default()
        },
        fault: FaultAction::Throttle {
            retry_after: Some(60),
        },
        count: 1,
    });
    let client = mi.client("imds", ManagedIdentity::SystemAssigned);
    for _ in 0..3 {
        let err = client.acquire_token_for_client(VAULT).await.unwrap_err();
        assert!(
            matches!(err, Error::Throttled { status: 429, .. }),
            "{err:?}"
        );
        assert!(err.is_transient());
    }
    assert_eq!(mi.requests("/metadata/identity").len(), 1);
    control.advance_clock(61);
    client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(mi.requests("/metadata/identity").len(), 2);
}

#[tokio::test]
async fn no_endpoint_is_a_network_error_that_says_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(StaticEnvironment::new().with_var(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{port}"),
        ))
        .build()
        .unwrap();
    let err = client.acquire_token_for_client(VAULT).await.unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert!(
        err.to_string().contains("Instance Metadata Service"),
        "{err}"
    );
    assert!(matches!(
        client.acquire_token_for_client(" ").await,
        Err(Error::Configuration { .. })
    ));
    assert!(matches!(
        ManagedIdentityClient::new(ManagedIdentity::client_id("")),
        Err(Error::Configuration { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_call() {
    let mi = start(ManagedIdentityConfig::default()).await;
    let client = mi.client("app_service", ManagedIdentity::SystemAssigned);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.acquire_token_for_client(VAULT).await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().access_token);
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(mi.requests("/msi/token").len(), 1);
}
