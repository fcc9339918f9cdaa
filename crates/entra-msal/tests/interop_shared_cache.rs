//! MSAL Python 1.39 and this library share one token cache file against the emulator: tokens
//! one writes, the other finds and uses (app tokens, and user tokens with their refresh token).
//!
//! The interpreter is `$ENTRA_INTEROP_PYTHON`, else `.venv-interop/bin/python` at the repository
//! root (`scripts/test` creates it). Without it the tests fail when `CI=true` and are skipped
//! with a notice otherwise.

mod support;

use std::path::PathBuf;

use entra_msal::{AuthCodeFlowOptions, ConfidentialClientApplication, SilentOptions, TokenSource};
use sha2::{Digest, Sha256};
use support::{python, repo_root};

struct Interop {
    env: support::Env,
    python: PathBuf,
}

async fn interop() -> Option<Interop> {
    let python = python()?;
    let env = support::env().await;
    std::fs::write(
        env.dir.path().join("info.json"),
        serde_json::to_string(&env.info).unwrap(),
    )
    .unwrap();
    Some(Interop { env, python })
}

impl Interop {
    fn cache_file(&self) -> PathBuf {
        self.env.dir.path().join("msal_cache.json")
    }

    async fn python_step(&self, step: &str) -> serde_json::Value {
        let output = tokio::process::Command::new(&self.python)
            .arg(repo_root().join("interop/msal_python_shared_cache.py"))
            .arg("--info")
            .arg(self.env.dir.path().join("info.json"))
            .arg("--cache")
            .arg(self.cache_file())
            .arg("--step")
            .arg(step)
            .env_remove("REQUESTS_CA_BUNDLE")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
            .unwrap_or(serde_json::Value::Null);
        assert!(
            output.status.success(),
            "python step {step} failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        report
    }

    fn app(&self) -> ConfidentialClientApplication {
        self.env.secret_app()
    }

    fn scope(&self) -> String {
        self.env
            .info
            .confidential_client
            .as_ref()
            .unwrap()
            .scope
            .clone()
    }
}

fn sha256(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_written_by_msal_python_is_used_by_rust() {
    let Some(e) = interop().await else { return };
    let written = e.python_step("write-app-token").await;
    let app = e.app();
    app.token_cache()
        .deserialize(&std::fs::read_to_string(e.cache_file()).unwrap())
        .unwrap();
    let result = app
        .acquire_token_for_client(&[e.scope().as_str()])
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::Cache);
    assert_eq!(
        Some(sha256(result.access_token.expose())).as_deref(),
        written["token_sha256"].as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_token_written_by_rust_is_used_by_msal_python() {
    let Some(e) = interop().await else { return };
    let app = e.app();
    let result = app
        .acquire_token_for_client(&[e.scope().as_str()])
        .await
        .unwrap();
    std::fs::write(e.cache_file(), app.token_cache().serialize()).unwrap();
    let read = e.python_step("read-app-token").await;
    assert_eq!(read["token_source"], "cache");
    assert_eq!(
        read["token_sha256"].as_str(),
        Some(sha256(result.access_token.expose()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tokens_written_by_msal_python_are_used_by_rust() {
    let Some(e) = interop().await else { return };
    let written = e.python_step("write-user-token").await;
    let app = e.app();
    app.token_cache()
        .deserialize(&std::fs::read_to_string(e.cache_file()).unwrap())
        .unwrap();
    let accounts = app.accounts(None);
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(
        Some(accounts[0].home_account_id.as_str()),
        written["home_account_id"].as_str()
    );
    let scopes = ["api://emulator-api/access_as_user"];
    let cached = app
        .acquire_token_silent(&scopes, &accounts[0], &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(
        Some(sha256(cached.access_token.expose())).as_deref(),
        written["token_sha256"].as_str()
    );
    let refreshed = app
        .acquire_token_silent(
            &scopes,
            &accounts[0],
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        refreshed.token_source,
        TokenSource::IdentityProvider,
        "MSAL Python's refresh token works here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tokens_written_by_rust_are_used_by_msal_python() {
    let Some(e) = interop().await else { return };
    let app = e.app();
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let flow = app
        .initiate_auth_code_flow(&["api://emulator-api/access_as_user"], &options)
        .await
        .unwrap();
    let response = e
        .env
        .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
        .await;
    let result = app
        .acquire_token_by_auth_code_flow(&flow, &response)
        .await
        .unwrap();
    std::fs::write(e.cache_file(), app.token_cache().serialize()).unwrap();
    let read = e.python_step("read-user-token").await;
    assert_eq!(read["cached_source"], "cache", "{read}");
    assert_eq!(
        read["token_sha256"].as_str(),
        Some(sha256(result.access_token.expose()).as_str())
    );
    assert_eq!(read["refreshed_source"], "identity_provider", "{read}");
    assert_eq!(
        read["home_account_id"].as_str(),
        Some(result.account.unwrap().home_account_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_client_user_written_by_msal_python_is_used_by_rust() {
    let Some(e) = interop().await else { return };
    let written = e.python_step("write-public-user").await;
    let app = e.env.public_app();
    app.token_cache()
        .deserialize(&std::fs::read_to_string(e.cache_file()).unwrap())
        .unwrap();
    let accounts = app.accounts(None);
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(
        Some(accounts[0].home_account_id.as_str()),
        written["home_account_id"].as_str()
    );
    let scopes = ["api://emulator-api/access_as_user"];
    let cached = app
        .acquire_token_silent(&scopes, &accounts[0], &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(
        Some(sha256(cached.access_token.expose())).as_deref(),
        written["token_sha256"].as_str()
    );
    let refreshed = app
        .acquire_token_silent(
            &scopes,
            &accounts[0],
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_client_user_written_by_rust_is_used_by_msal_python() {
    let Some(e) = interop().await else { return };
    let app = e.env.public_app();
    let alice = e.env.user("alice");
    let result = app
        .acquire_token_by_username_password(
            &alice.username,
            &alice.password,
            &["api://emulator-api/access_as_user"],
        )
        .await
        .unwrap();
    std::fs::write(e.cache_file(), app.token_cache().serialize()).unwrap();
    let read = e.python_step("read-public-user").await;
    assert_eq!(read["cached_source"], "cache", "{read}");
    assert_eq!(
        read["token_sha256"].as_str(),
        Some(sha256(result.access_token.expose()).as_str())
    );
    assert_eq!(read["refreshed_source"], "identity_provider", "{read}");
}
