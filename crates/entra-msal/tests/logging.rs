//! Logs carry correlation ids but never tokens or secrets, and name accounts only when PII
//! logging is on.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use entra_msal::{AuthCodeFlowOptions, SilentOptions};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs an auth-code sign-in, a silent call and a client-credentials call; returns the logs and
/// every secret value that must not appear in them.
async fn run(pii: bool) -> (String, Vec<String>) {
    let e = support::env().await;
    let c = e.info.confidential_client.clone().unwrap();
    let secret = c.client_secret.clone().unwrap();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let app = e.secret_builder().enable_pii_log(pii).build().unwrap();
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
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    let account = signed_in.account.clone().unwrap();
    let silent = app
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
    let app_token = app
        .acquire_token_for_client(&[c.scope.as_str()])
        .await
        .unwrap();
    let cache = app.token_cache().serialize();
    let refresh_tokens: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&cache).unwrap()["RefreshToken"]
            .as_object()
            .unwrap()
            .values()
            .map(|rt| rt["secret"].as_str().unwrap().to_string())
            .collect();
    let mut secrets = vec![
        secret,
        signed_in.access_token.expose().to_string(),
        silent.access_token.expose().to_string(),
        app_token.access_token.expose().to_string(),
        signed_in.id_token.unwrap().expose().to_string(),
        response["code"].clone(),
    ];
    secrets.extend(refresh_tokens);
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (logs, secrets)
}

#[tokio::test(flavor = "current_thread")]
async fn no_tokens_or_secrets_and_no_usernames_by_default() {
    let (logs, secrets) = run(false).await;
    assert!(logs.contains("correlation_id"), "logs: {logs}");
    assert!(logs.contains("token acquired from the identity provider"));
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret value appeared in the logs"
        );
    }
    assert!(
        !logs.contains("alice@contoso.example"),
        "the username appeared without PII logging"
    );
    assert!(logs.contains("[redacted]"));
}

#[tokio::test(flavor = "current_thread")]
async fn pii_logging_names_the_account_but_never_tokens() {
    let (logs, secrets) = run(true).await;
    assert!(logs.contains("alice@contoso.example"));
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret value appeared in the logs"
        );
    }
}
