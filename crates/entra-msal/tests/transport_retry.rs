//! The default transport's retries, as MSAL Python's default `requests` adapter
//! (`HTTPAdapter(max_retries=1)`): a refused connection is tried once more for any request; a GET
//! is sent once more after a dropped connection, and after a 413/429/503 with a short
//! `Retry-After`; a token request (POST) that reached the server is never sent twice; and managed
//! identity (as MSAL Python's) does not retry. The emulator's request log shows what reached it.

mod support;

use support::hits;

use entra_emulator::{Emulator, FaultAction, FaultMatch, FaultRule, ready_made};
use entra_msal::http::{HttpClient, HttpOptions, HttpRequest, ReqwestHttpClient};

const DISCOVERY: &str = "openid-configuration";
const TOKEN_PATH: &str = "/oauth2/v2.0/token";

async fn emulator() -> Emulator {
    Emulator::start(ready_made().unwrap()).await.unwrap()
}

fn client(emulator: &Emulator, retries: u8) -> ReqwestHttpClient {
    ReqwestHttpClient::new(&HttpOptions {
        trusted_ca_pems: vec![emulator.ca_pem().unwrap().to_string()],
        only_trusted_cas: true,
        retries,
        ..Default::default()
    })
    .unwrap()
}

fn fault(emulator: &Emulator, path: &str, fault: FaultAction, count: u32) {
    emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some(path.into()),
            ..Default::default()
        },
        fault,
        count,
    });
}

fn discovery_get(emulator: &Emulator) -> HttpRequest {
    http::Request::get(format!(
        "{}/v2.0/.well-known/openid-configuration",
        emulator.authority()
    ))
    .body(Vec::new())
    .unwrap()
}

fn token_post(url: &str) -> HttpRequest {
    http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("client_id", entra_emulator::ready_made::PUBLIC_CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", "not-a-refresh-token-at-all"),
                ("scope", "openid"),
            ])
            .unwrap()
            .into_bytes(),
        )
        .unwrap()
}

#[tokio::test]
async fn a_get_whose_connection_dropped_is_sent_once_more() {
    let e = emulator().await;
    fault(&e, DISCOVERY, FaultAction::DropConnection, 1);
    let response = client(&e, 1).send(discovery_get(&e)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits(&e, DISCOVERY), 2);

    // Twice dropped: one retry only, then the failure.
    fault(&e, DISCOVERY, FaultAction::DropConnection, 2);
    client(&e, 1).send(discovery_get(&e)).await.unwrap_err();
    assert_eq!(hits(&e, DISCOVERY), 4);

    // With retries off, the first failure is final.
    fault(&e, DISCOVERY, FaultAction::DropConnection, 1);
    client(&e, 0).send(discovery_get(&e)).await.unwrap_err();
    assert_eq!(hits(&e, DISCOVERY), 5);
}

#[tokio::test]
async fn a_get_answered_503_or_429_with_a_short_retry_after_is_retried_after_it() {
    let e = emulator().await;
    fault(
        &e,
        DISCOVERY,
        FaultAction::Status {
            status: 503,
            retry_after: Some(1),
        },
        1,
    );
    let response = client(&e, 1).send(discovery_get(&e)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits(&e, DISCOVERY), 2);

    fault(
        &e,
        DISCOVERY,
        FaultAction::Throttle {
            retry_after: Some(0),
        },
        1,
    );
    assert_eq!(
        client(&e, 1)
            .send(discovery_get(&e))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(hits(&e, DISCOVERY), 4);

    // Without Retry-After, with a long one, or with another status: returned as it is.
    for action in [
        FaultAction::Throttle { retry_after: None },
        FaultAction::Throttle {
            retry_after: Some(3600),
        },
        FaultAction::Status {
            status: 500,
            retry_after: Some(1),
        },
    ] {
        let before = hits(&e, DISCOVERY);
        fault(&e, DISCOVERY, action.clone(), 1);
        let response = client(&e, 1).send(discovery_get(&e)).await.unwrap();
        assert!(response.status().as_u16() >= 429, "{action:?}");
        assert_eq!(hits(&e, DISCOVERY), before + 1, "{action:?}");
    }
}

#[tokio::test]
async fn a_token_request_that_reached_the_server_is_never_sent_twice() {
    let e = emulator().await;
    let url = format!("{}{TOKEN_PATH}", e.authority());
    for action in [
        FaultAction::DropConnection,
        FaultAction::TruncatedBody,
        FaultAction::Throttle {
            retry_after: Some(1),
        },
        FaultAction::Status {
            status: 503,
            retry_after: Some(1),
        },
    ] {
        let before = hits(&e, TOKEN_PATH);
        fault(&e, TOKEN_PATH, action.clone(), 1);
        let _ = client(&e, 1).send(token_post(&url)).await;
        assert_eq!(hits(&e, TOKEN_PATH), before + 1, "{action:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_tried_once_more_then_reported() {
    let logs = support::log_capture::install();
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}/tenant{TOKEN_PATH}");
    let retries_logged = || {
        logs.text()
            .lines()
            .filter(|l| l.contains("retrying after a transport failure") && l.contains(&url))
            .count()
    };
    let http = ReqwestHttpClient::new(&HttpOptions::default()).unwrap();
    let error = http.send(token_post(&url)).await.unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert_eq!(retries_logged(), 1, "one retry, even for a POST");

    let http = ReqwestHttpClient::new(&HttpOptions {
        retries: 0,
        ..Default::default()
    })
    .unwrap();
    http.send(token_post(&url)).await.unwrap_err();
    assert_eq!(retries_logged(), 1, "no retry when retries are off");
}

#[tokio::test]
async fn managed_identity_does_not_retry() {
    use entra_emulator::ManagedIdentityConfig;
    use entra_msal::ManagedIdentityClient;
    use entra_msal::managed_identity::{ManagedIdentity, StaticEnvironment};

    let e = emulator().await;
    let server = e
        .start_managed_identity(ManagedIdentityConfig::default())
        .await
        .unwrap();
    let mut env = StaticEnvironment::new().with_os("linux");
    for (k, v) in server.environment("app_service") {
        env = env.with_var(k, v);
    }
    let client = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(env)
        .build()
        .unwrap();
    fault(&e, "/msi/token", FaultAction::DropConnection, 1);
    client
        .acquire_token_for_client("https://vault.azure.net")
        .await
        .unwrap_err();
    assert_eq!(hits(&e, "/msi/token"), 1);
    client
        .acquire_token_for_client("https://vault.azure.net")
        .await
        .unwrap();
}
