//! Security tests. Each one fails if the protection it names is removed; the comment above each
//! test says which library code it guards.

mod support;

use support::{non_loopback_ip, refused};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use entra_emulator::{Emulator, ready_made};
use entra_msal::Error;
use entra_msal::{AuthCodeFlowOptions, ConfidentialClientApplication};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const USER_SCOPE: &str = "api://emulator-api/access_as_user";
const REDIRECT: &str = "https://localhost/auth/callback";

fn options() -> AuthCodeFlowOptions {
    AuthCodeFlowOptions {
        redirect_uri: REDIRECT.into(),
        ..Default::default()
    }
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn b64url_sha256(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

fn jwt_claims(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

// Guards `app/auth_code.rs` (`code_challenge` / `code_challenge_method=S256` in the authorize URL,
// and `code_verifier` in the redemption) and the emulator's PKCE check.
#[tokio::test]
async fn pkce_s256_is_always_sent_and_checked() {
    let e = support::env().await;
    let app = e.secret_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_SCOPE], &options())
        .await
        .unwrap();
    let q = query(&flow.auth_uri);
    assert_eq!(q["code_challenge_method"], "S256");
    let challenge = q["code_challenge"].clone();
    assert_eq!(challenge.len(), 43, "a SHA-256 in base64url");
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;

    // The emulator refuses the code without the matching verifier.
    let c = e.info.confidential_client.as_ref().unwrap();
    let wrong: serde_json::Value = e
        .http()
        .post(format!("{}/oauth2/v2.0/token", e.emulator.authority()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_deref().unwrap()),
            ("code", response["code"].as_str()),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "a-verifier-that-does-not-match-the-challenge-0123456789",
            ),
            ("scope", USER_SCOPE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error_codes"][0], 501481, "{wrong}");

    // The library sends the verifier whose S256 is the challenge.
    let e2 = support::env().await;
    let app = e2.secret_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_SCOPE], &options())
        .await
        .unwrap();
    let challenge = query(&flow.auth_uri)["code_challenge"].clone();
    let response = e2
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    app.acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    let redeemed = e2
        .token_requests()
        .into_iter()
        .find(|r| r.form.get("grant_type").map(String::as_str) == Some("authorization_code"))
        .unwrap();
    let verifier = &redeemed.form["code_verifier"];
    assert!(verifier.len() >= 43);
    assert_eq!(b64url_sha256(verifier), challenge);
}

// Guards `app/auth_code.rs` (the `state` comparison before anything is sent).
#[tokio::test]
async fn state_mismatch_is_rejected_before_the_code_is_sent() {
    let e = support::env().await;
    let app = e.secret_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_SCOPE], &options())
        .await
        .unwrap();
    let mut response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    response.insert("state".into(), "attacker-state".into());
    let err = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(
        e.token_requests().is_empty(),
        "the code was sent despite the mismatch"
    );
    response.remove("state");
    assert!(matches!(
        app.acquire_token_by_auth_code_flow(&flow, &response).await,
        Err(Error::Validation(_))
    ));
    assert!(app.accounts(None).is_empty());
}

// Guards `app/auth_code.rs` (the id token's `nonce` compared with the flow's before caching).
#[tokio::test]
async fn nonce_mismatch_is_rejected_and_nothing_is_cached() {
    let e = support::env().await;
    let app = e.secret_app();
    let victim = app
        .initiate_auth_code_flow(&[USER_SCOPE], &options())
        .await
        .unwrap();
    // The authorization request reaches the server with another nonce (an injected or replayed
    // id token); PKCE and state still match, so only the nonce check stands in the way.
    let mut tampered = url::Url::parse(&victim.auth_uri).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "0".repeat(v.len())
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let response = e
        .sign_in(tampered.as_str(), &victim.state, "alice@contoso.example")
        .await;
    let before = app.token_cache().serialize();
    let err = app
        .acquire_token_by_auth_code_flow(&victim, &response)
        .await
        .unwrap_err();
    match &err {
        Error::Validation(m) => assert!(m.contains("nonce"), "{m}"),
        other => panic!("expected a nonce validation error, got {other:?}"),
    }
    assert_eq!(app.token_cache().serialize(), before);
    assert!(app.accounts(None).is_empty());
}

// Guards the single use of an authorization response: the emulator's code redemption
// (AADSTS54005) and the library's error mapping; the cache is untouched by the replay.
#[tokio::test]
async fn a_replayed_authorization_response_is_rejected() {
    let e = support::env().await;
    let app = e.secret_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_SCOPE], &options())
        .await
        .unwrap();
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    app.acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    let before = app.token_cache().serialize();
    // The same response again, to the same app and to a fresh one.
    let err = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation(_))
            || err.service_error().and_then(|s| s.aadsts()) == Some(54005),
        "{err:?}"
    );
    assert_eq!(app.token_cache().serialize(), before);
    let other = e.secret_app();
    let err = other
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap_err();
    assert!(
        err.is_ui_required() || matches!(err, Error::Validation(_)),
        "{err:?}"
    );
    assert!(other.accounts(None).is_empty());
}

// Guards `authority/parse.rs` (`"http" if trust_loopback_http && hosts::is_loopback(&host)`).
#[tokio::test]
async fn plain_http_authority_is_refused_except_trusted_loopback() {
    let build = |url: &str, allow: bool| {
        ConfidentialClientApplication::builder("9e8f7a6b-5c4d-4e3f-a2b1-c0d9e8f7a613")
            .authority(url)
            .client_secret("s")
            .allow_http_loopback_authority(allow)
            .build()
    };
    for (url, allow) in [
        ("http://login.microsoftonline.com/common", false),
        ("http://login.microsoftonline.com/common", true),
        ("http://login.contoso.test/tenant", true),
        ("http://127.0.0.1:1/tenant", false),
        ("http://127.0.0.2:1/tenant", true),
    ] {
        match build(url, allow) {
            Err(Error::Configuration { message: m, .. }) => {
                assert!(m.contains("http"), "{url}: {m}")
            }
            Err(other) => panic!("{url}: {other:?}"),
            Ok(_) => panic!("{url} (allow={allow}) was accepted"),
        }
    }
    // A trusted loopback authority over plain HTTP works end to end.
    let mut config = ready_made().unwrap();
    config.settings.plain_http = true;
    let emulator = Emulator::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let info = emulator.connection_info(dir.path()).unwrap();
    let c = info.confidential_client.unwrap();
    let app = ConfidentialClientApplication::builder(&c.client_id)
        .authority(emulator.authority())
        .client_secret(c.client_secret.unwrap())
        .allow_http_loopback_authority(true)
        .instance_discovery(false)
        .build()
        .unwrap();
    app.acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap();
}

/// Sends requests for hosts other than 127.0.0.1 to the emulator (the library asks the real
/// host names; this stands in for DNS).
struct RouteToEmulator {
    inner: entra_msal::http::ReqwestHttpClient,
    emulator: http::uri::Authority,
}

impl entra_msal::http::HttpClient for RouteToEmulator {
    fn send(
        &self,
        mut request: entra_msal::http::HttpRequest,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<entra_msal::http::HttpResponse, entra_msal::http::HttpError>,
    > {
        let uri = request.uri().clone();
        if uri.host() != Some("127.0.0.1") {
            let mut parts = uri.into_parts();
            parts.authority = Some(self.emulator.clone());
            *request.uri_mut() = http::Uri::from_parts(parts).unwrap();
        }
        self.inner.send(request)
    }
}

// Guards `authority/instance.rs` (an unknown host answered `invalid_instance` is a
// configuration error) and `app/builder.rs` `validate_authority`.
#[tokio::test]
async fn unknown_authorities_are_refused_unless_validation_is_off() {
    let e = support::env().await;
    let routed = Arc::new(RouteToEmulator {
        inner: entra_msal::http::ReqwestHttpClient::new(&entra_msal::http::HttpOptions {
            trusted_ca_pems: vec![e.emulator.ca_pem().unwrap().to_string()],
            only_trusted_cas: true,
            ..Default::default()
        })
        .unwrap(),
        emulator: e.emulator.local_addr().to_string().parse().unwrap(),
    });
    let c = e.info.confidential_client.as_ref().unwrap();
    let app = |validate: bool| {
        ConfidentialClientApplication::builder(&c.client_id)
            .authority("https://login.contoso.test/contoso.example")
            .client_secret(c.client_secret.clone().unwrap())
            .http_client(routed.clone())
            .validate_authority(validate)
            .build()
            .unwrap()
    };
    let err = app(true)
        .acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err:?}");
    assert!(
        err.to_string().contains("validate_authority(false)"),
        "{err}"
    );
    let requests = e.emulator.control().requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains("/discovery/instance"))
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("openid-configuration") || r.path.ends_with("/token")),
        "the unknown authority was used: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // Validation off: the authority is used as given (and instance discovery is not asked).
    e.emulator.control().clear_requests();
    app(false)
        .acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap();
    let requests = e.emulator.control().requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("/discovery/instance"))
    );
}

/// A tiny plain-HTTP server on 127.0.0.1: answers OIDC discovery for its tenant and `answer` on
/// the token endpoint; records every request line.
async fn tiny_server(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, base2) = (seen.clone(), base.clone());
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (log, base, answer) = (log.clone(), base2.clone(), answer.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let line = text.lines().next().unwrap_or("").to_string();
                log.lock().unwrap().push(text.clone());
                let response = if line.contains("openid-configuration") {
                    let body = serde_json::json!({
                        "authorization_endpoint": format!("{base}/tenant-x/oauth2/v2.0/authorize"),
                        "token_endpoint": format!("{base}/tenant-x/oauth2/v2.0/token"),
                        "issuer": format!("{base}/tenant-x/v2.0"),
                    })
                    .to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    answer(&line)
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (base, seen)
}

// Guards `http/reqwest_client.rs` (`.redirect(reqwest::redirect::Policy::none())`): a token
// endpoint's redirect would carry the client secret to another host.
#[tokio::test]
async fn redirects_from_the_token_endpoint_are_not_followed() {
    let (elsewhere, stolen) = tiny_server(|_| {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".into()
    })
    .await;
    let target = format!("{elsewhere}/steal");
    let (base, seen) = tiny_server(move |_| {
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
    })
    .await;
    let app = ConfidentialClientApplication::builder("9e8f7a6b-5c4d-4e3f-a2b1-c0d9e8f7a613")
        .authority(format!("{base}/tenant-x"))
        .client_secret("the-client-secret-value")
        .allow_http_loopback_authority(true)
        .instance_discovery(false)
        .build()
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        app.acquire_token_for_client(&["api://emulator-api/.default"]),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 307, .. }),
        "{err:?}"
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|r| r.starts_with("POST /tenant-x/oauth2/v2.0/token")),
        "the token endpoint was asked"
    );
    assert!(
        stolen.lock().unwrap().is_empty(),
        "the redirect was followed: {:?}",
        stolen.lock().unwrap()
    );
}

// Guards `oauth/assertion.rs` (`aud` is the token endpoint, and a cached assertion is reused
// only for the same endpoint) and `app/core.rs` `redeem` (credentials are added to token
// requests only).
#[tokio::test]
async fn a_client_assertion_only_goes_to_the_token_endpoint_it_was_made_for() {
    let first = support::env().await;
    let second = support::env().await;
    for e in [&first, &second] {
        let cert = e.info.certificate_client.as_ref().unwrap();
        let key = std::fs::read_to_string(&cert.private_key_file).unwrap();
        let pem = std::fs::read_to_string(&cert.certificate_file).unwrap();
        let app = e
            .builder(&cert.client_id)
            .certificate(key, pem)
            .build()
            .unwrap();
        app.acquire_token_for_client(&["api://emulator-api/.default"])
            .await
            .unwrap();
        app.acquire_token_for_client_with(
            &["api://emulator-api/.default"],
            &entra_msal::ForClientOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let flow = app
            .initiate_auth_code_flow(&[USER_SCOPE], &options())
            .await
            .unwrap();
        assert!(!flow.auth_uri.contains("client_assertion"));
    }
    for e in [&first, &second] {
        let token_endpoint = format!("{}/oauth2/v2.0/token", e.emulator.authority());
        let mut seen = 0;
        for r in e.emulator.control().requests() {
            let assertion = r
                .form
                .get("client_assertion")
                .or_else(|| r.query.get("client_assertion"));
            let Some(assertion) = assertion else {
                continue;
            };
            assert!(
                r.path.ends_with("/oauth2/v2.0/token"),
                "an assertion was sent to {}",
                r.path
            );
            assert_eq!(jwt_claims(assertion)["aud"], token_endpoint.as_str());
            seen += 1;
        }
        assert_eq!(seen, 2);
    }
}

// Guards the emulator's `server.rs` (`is_control && !state.settings.control_api` → 404) and its
// loopback-only bind.
#[tokio::test]
async fn emulator_control_api_is_off_unless_enabled_and_loopback_only() {
    let off = Emulator::start(ready_made().unwrap()).await.unwrap();
    let on = support::env().await;
    let client = |e: &Emulator| {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(e.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .build()
            .unwrap()
    };
    let get = |e: &Emulator| {
        client(e)
            .get(format!("{}/_control/requests", e.base_url()))
            .send()
    };
    assert_eq!(get(&off).await.unwrap().status(), 404);
    assert_eq!(get(&on.emulator).await.unwrap().status(), 200);
    for e in [&off, &on.emulator] {
        assert!(e.local_addr().ip().is_loopback(), "{}", e.local_addr());
        if let Some(ip) = non_loopback_ip() {
            assert!(
                refused(SocketAddr::new(ip, e.local_addr().port())).await,
                "the emulator answers on {ip}"
            );
        }
    }
}
