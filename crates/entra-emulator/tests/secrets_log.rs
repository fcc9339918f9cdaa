//! The secrets log (`Settings::secrets_log`) records what the emulator issues and receives, and
//! `entra-emulator scan-logs` finds any of it in a log, naming file, line and kind but never the
//! value, while allowing usernames on lines marked `contains_pii=true`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use entra_emulator::secrets_log::{SecretKind, read};

const API_USER: &str = "api://emulator-api/access_as_user openid profile offline_access";

fn scan(secrets: &Path, log: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .arg("scan-logs")
        .arg("--secrets")
        .arg(secrets)
        .arg(log)
        .output()
        .unwrap()
}

#[tokio::test]
async fn issued_and_received_secrets_are_recorded_and_found_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.jsonl");
    let mut config = common::config();
    config.settings.secrets_log = Some(secrets.clone());
    let t = common::start_with(config).await;

    let (status, body) = t.password_tokens("alice", API_USER).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let id = body["id_token"].as_str().unwrap().to_string();
    let alice = t.user("alice").clone();

    let records = read(&secrets).unwrap();
    let has =
        |kind: SecretKind, value: &str| records.iter().any(|r| r.kind == kind && r.value == value);
    assert!(has(SecretKind::AccessToken, &access));
    assert!(has(SecretKind::RefreshToken, &refresh));
    assert!(has(SecretKind::IdToken, &id));
    assert!(has(SecretKind::Username, &alice.username));
    assert!(has(SecretKind::Password, &alice.password));
    let (_, client_secret) = t.confidential();
    assert!(has(SecretKind::ClientSecret, client_secret));
    assert!(
        records.iter().any(|r| r.kind == SecretKind::Received
            && r.field.as_deref() == Some("password")
            && r.value == alice.password),
        "the password the client sent is recorded as received"
    );

    // A clean log passes; the JWT header alone is not a leak.
    let clean = dir.path().join("clean.log");
    std::fs::write(
        &clean,
        format!(
            "DEBUG token acquired account=[redacted] contains_pii=false\nheader={}\nTRACE contains_pii=true account={}\n",
            access.split('.').next().unwrap(),
            alice.username
        ),
    )
    .unwrap();
    let out = scan(&secrets, &clean);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("no leaks: "));

    // Each kind of leak is found, and the values are never printed.
    let leaky = dir.path().join("leaky.log");
    std::fs::write(
        &leaky,
        format!(
            "start\nrefresh={refresh}\nsig={}\naccount={}\n",
            id.split('.').nth(2).unwrap(),
            alice.username.to_uppercase()
        ),
    )
    .unwrap();
    let out = scan(&secrets, &leaky);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("leaky.log:2: RefreshToken"), "{stderr}");
    assert!(
        stderr.contains("leaky.log:3: IdToken, JWT signature"),
        "{stderr}"
    );
    assert!(stderr.contains("leaky.log:4: Username"), "{stderr}");
    assert!(
        stderr.contains("3 secret(s) or username(s) found"),
        "{stderr}"
    );
    assert!(!stderr.contains(&refresh));
    assert!(
        !stderr
            .to_lowercase()
            .contains(&alice.username.to_lowercase())
    );
}

#[test]
fn an_empty_secrets_log_or_empty_logs_cannot_pass() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.jsonl");
    let log = dir.path().join("app.log");
    std::fs::write(&secrets, "").unwrap();
    std::fs::write(&log, "a line\n").unwrap();
    let out = scan(&secrets, &log);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("records nothing"));

    std::fs::write(
        &secrets,
        "{\"kind\":\"password\",\"value\":\"Long-Enough-Password\"}\n",
    )
    .unwrap();
    std::fs::write(&log, "").unwrap();
    let out = scan(&secrets, &log);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log lines to scan"));
}

#[tokio::test]
async fn an_unwritable_secrets_log_stops_the_start_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("secrets.jsonl");
    let mut config = common::config();
    config.settings.secrets_log = Some(path.clone());
    let e = entra_emulator::Emulator::start(config).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("cannot write {}", path.display())),
        "{e}"
    );
}
