//! The `msal` binary: the README's demo and the emulator subcommand.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn demo_runs_unattended_to_the_end() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_msal"));
    demo.arg("demo").env_remove("MSAL_LOG_FILE");
    // Under scripts/test the demo's trace joins the whole suite's logs for the leak scan.
    if let Some(dir) = std::env::var_os("ENTRA_TEST_LOG_DIR").filter(|d| !d.is_empty()) {
        demo.env(
            "MSAL_LOG_FILE",
            std::path::Path::new(&dir).join(format!("msal-demo-{}.log", std::process::id())),
        );
    }
    let output = demo.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "signed in    alice@contoso.example",
        "token        from IdentityProvider",
        "from Cache; same token: true",
        "from IdentityProvider; new token: true",
        "first from IdentityProvider, second from Cache",
        "invalid_client (HTTP 401), AADSTS7000215",
        "UiRequired, as expected",
        "All 11 steps finished",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The broker step runs wherever a private D-Bus can be started (always under CI).
    let broker_ran = stdout.contains("(the device user, no UI), token from the broker");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(broker_ran, "the broker step did not run:\n{stdout}");
    } else if !broker_ran {
        eprintln!("SKIPPED: the demo's broker step (no private D-Bus here)");
    }
}

#[test]
fn emulator_serve_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_msal"))
        .args(["emulator", "serve", "--json", "--state-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        info["authority"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(
        info["control_url"].is_null(),
        "the control API is off unless enabled"
    );
}

#[test]
fn emulator_scan_logs_finds_a_recorded_secret_and_passes_a_clean_log() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.jsonl");
    std::fs::write(
        &secrets,
        "{\"kind\":\"refresh_token\",\"value\":\"1.emu.a-refresh-token-value\"}\n",
    )
    .unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "DEBUG token acquired\n").unwrap();
    let leaky = dir.path().join("leaky.log");
    std::fs::write(&leaky, "DEBUG rt=1.emu.a-refresh-token-value\n").unwrap();
    let scan = |log: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_msal"))
            .args(["emulator", "scan-logs", "--secrets"])
            .arg(&secrets)
            .arg(log)
            .output()
            .unwrap()
    };
    let ok = scan(&clean);
    assert!(ok.status.success(), "{ok:?}");
    let bad = scan(&leaky);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("leaky.log:1: RefreshToken"), "{stderr}");
    assert!(!stderr.contains("a-refresh-token-value"), "{stderr}");
}
