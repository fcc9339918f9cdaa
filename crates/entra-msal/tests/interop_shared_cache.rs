//! MSAL Python 1.39 and this library share one token cache file against the emulator: tokens
//! one writes, the other finds and uses (app tokens, and user tokens with their refresh token).
//!
//! The interpreter is `$ENTRA_INTEROP_PYTHON`, else `.venv-interop/bin/python` at the repository
//! root (`scripts/test` creates it). Without it the tests fail when `CI=true` and are skipped
//! with a notice otherwise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use entra_emulator::Emulator;
use entra_msal::app::{
    AuthCodeFlowOptions, ConfidentialClientApplication, SilentOptions, TokenSource,
};
use sha2::{Digest, Sha256};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("ENTRA_INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-interop/bin/python"));
    if candidate.exists() {
        return Some(candidate);
    }
    let message = format!(
        "MSAL Python interop: no interpreter at {} (run scripts/test)",
        candidate.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

struct Env {
    emulator: Emulator,
    info: entra_emulator::ConnectionInfo,
    dir: tempfile::TempDir,
    python: PathBuf,
}

async fn env() -> Option<Env> {
    let python = python()?;
    let mut config = entra_emulator::ready_made().unwrap();
    config.settings.control_api = true;
    let emulator = Emulator::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let info = emulator.connection_info(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("info.json"),
        serde_json::to_string(&info).unwrap(),
    )
    .unwrap();
    Some(Env {
        emulator,
        info,
        dir,
        python,
    })
}

impl Env {
    fn cache_file(&self) -> PathBuf {
        self.dir.path().join("msal_cache.json")
    }

    async fn python_step(&self, step: &str) -> serde_json::Value {
        let output = tokio::process::Command::new(&self.python)
            .arg(repo_root().join("interop/msal_python_shared_cache.py"))
            .arg("--info")
            .arg(self.dir.path().join("info.json"))
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
        let last = stdout.lines().last().unwrap_or("");
        let report: serde_json::Value =
            serde_json::from_str(last).unwrap_or(serde_json::Value::Null);
        assert!(
            output.status.success(),
            "python step {step} failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        report
    }

    fn app(&self) -> ConfidentialClientApplication {
        let c = self.info.confidential_client.as_ref().unwrap();
        ConfidentialClientApplication::builder(&c.client_id)
            .authority(self.emulator.authority())
            .client_secret(c.client_secret.clone().unwrap())
            .trusted_ca(self.emulator.ca_pem().unwrap())
            .instance_discovery(false)
            .build()
            .unwrap()
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
    let Some(e) = env().await else { return };
    let written = e.python_step("write-app-token").await;
    let app = e.app();
    app.token_cache()
        .deserialize(&std::fs::read_to_string(e.cache_file()).unwrap())
        .unwrap();
    let result = app
        .acquire_token_for_client(&[e.info.confidential_client.as_ref().unwrap().scope.as_str()])
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
    let Some(e) = env().await else { return };
    let app = e.app();
    let result = app
        .acquire_token_for_client(&[e.info.confidential_client.as_ref().unwrap().scope.as_str()])
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
    let Some(e) = env().await else { return };
    let written = e.python_step("write-user-token").await;
    let app = e.app();
    app.token_cache()
        .deserialize(&std::fs::read_to_string(e.cache_file()).unwrap())
        .unwrap();
    let accounts = app.accounts();
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
    let Some(e) = env().await else { return };
    let app = e.app();
    let options = AuthCodeFlowOptions {
        redirect_uri: "https://localhost/auth/callback".into(),
        ..Default::default()
    };
    let flow = app
        .initiate_auth_code_flow(&["api://emulator-api/access_as_user"], &options)
        .await
        .unwrap();
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(e.emulator.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap()
        .get(&flow.auth_uri)
        .send()
        .await
        .unwrap();
    let completion = e
        .emulator
        .control()
        .approve_authorization(Some(&flow.state), "alice@contoso.example")
        .unwrap();
    let response: HashMap<String, String> = completion.params.into_iter().collect();
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
