//! MSAL Python 1.39, unchanged, against the in-process emulator: each scenario of
//! `interop/msal_python_interop.py` runs in a real Python interpreter with the real `msal`
//! package (and, for the interactive flow, headless Chromium driven through chromedriver).
//!
//! The interpreter is `$ENTRA_INTEROP_PYTHON`, else `.venv-interop/bin/python` at the repository
//! root (`scripts/test` creates it). Without it the tests fail when `CI=true` and are skipped
//! with a notice otherwise.

mod common;

use entra_test_support::{python, repo_root};
use serde_json::Value;

async fn run_scenario(scenario: &str) {
    let Some(python) = python() else { return };
    let t = common::start().await;
    let info_file = t.dir.path().join("info.json");
    std::fs::write(&info_file, serde_json::to_string(&t.info).unwrap()).unwrap();
    let script = repo_root().join("interop/msal_python_interop.py");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg("--info")
            .arg(&info_file)
            .arg("--scenario")
            .arg(scenario)
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("AZUREPS_HOST_ENVIRONMENT")
            .env_remove("MSAL_FORCE_REGION")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the scenario finishes within 4 minutes")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    let result: Value = serde_json::from_str(last).unwrap_or(Value::Null);
    assert!(
        output.status.success() && result["ok"] == true,
        "scenario {scenario} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // MSAL Python really talked to the emulator.
    let requests = t.emulator.control().requests();
    assert!(
        requests
            .iter()
            .any(|r| r.headers.get("x-client-sku").map(String::as_str) == Some("MSAL.Python")),
        "no request carried x-client-sku: MSAL.Python"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_client_credentials_with_secret() {
    run_scenario("client_credentials_secret").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_client_credentials_with_certificate() {
    run_scenario("client_credentials_certificate").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_device_flow() {
    run_scenario("device_flow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_username_password() {
    run_scenario("username_password").await;
}

// A federated user: MSAL Python's own WS-Trust code (MEX, RST, SAML 2.0 and 1.1 grants) against
// the emulated federation server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_username_password_federated() {
    run_scenario("username_password_federated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_interactive_in_headless_chromium() {
    run_scenario("interactive").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_silent_refresh_after_expiry() {
    run_scenario("silent_refresh").await;
}

// MSAL Python caches a token under the `scope` the emulator answers and looks it up by the
// scopes requested: every scope form (short, qualified, delegated `.default`) must be found
// again without a network call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_finds_tokens_by_every_scope_form() {
    run_scenario("scope_forms_cache").await;
}
