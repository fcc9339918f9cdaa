//! Runs every example program against the in-process emulator, as a user would run them.

mod support;

use std::process::Stdio;

use support::{Env, env, example};
use tokio::io::{AsyncBufReadExt, BufReader};

fn command(e: &Env, name: &str, client_id: &str, scope: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(example(name));
    command
        .env("ENTRA_AUTHORITY", e.emulator.authority())
        .env("ENTRA_CLIENT_ID", client_id)
        .env("ENTRA_SCOPE", scope)
        .env("ENTRA_CA_FILE", e.info.ca_file.as_ref().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn run(mut command: tokio::process::Command) -> String {
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const SCOPE: &str = "api://emulator-api/access_as_user";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_example() {
    let e = env().await;
    let mut child = command(&e, "device_code", e.public_app().client_id(), SCOPE)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut output = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        output.push_str(&line);
        output.push('\n');
        if let Some(code) = line.strip_prefix("user code: ") {
            e.emulator
                .control()
                .approve_device_code(code, "alice@contoso.example")
                .unwrap();
        }
    }
    assert!(child.wait().await.unwrap().success(), "{output}");
    assert!(output.contains("To sign in, use a web browser"), "{output}");
    assert!(
        output.contains("token for alice@contoso.example: source IdentityProvider"),
        "{output}"
    );
    assert!(
        output.contains("token for alice@contoso.example: source Cache"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_password_example() {
    let e = env().await;
    let alice = e.user("alice");
    let mut command = command(&e, "username_password", e.public_app().client_id(), SCOPE);
    command
        .env("ENTRA_USERNAME", &alice.username)
        .env("ENTRA_PASSWORD", &alice.password);
    let output = run(command).await;
    assert!(
        output.contains("token for alice@contoso.example: source IdentityProvider"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_example() {
    let e = env().await;
    let raw = e
        .ropc("api://emulator-api/access_as_user openid profile offline_access")
        .await;
    let mut command = command(&e, "refresh_token", e.public_app().client_id(), SCOPE);
    command.env(
        "ENTRA_REFRESH_TOKEN",
        raw["refresh_token"].as_str().unwrap(),
    );
    let output = run(command).await;
    assert!(output.contains("source IdentityProvider"), "{output}");
    assert!(
        output.contains("token for alice@contoso.example: source Cache"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_example() {
    let e = env().await;
    let c = e.info.confidential_client.clone().unwrap();
    let mut command = command(&e, "client_credentials", &c.client_id, &c.scope);
    command.env("ENTRA_CLIENT_SECRET", c.client_secret.unwrap());
    let output = run(command).await;
    assert!(
        output.contains("token for (the app itself): source IdentityProvider"),
        "{output}"
    );
    assert!(
        output.contains("token for (the app itself): source Cache"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_example_in_headless_chromium() {
    let Some(python) = support::python() else {
        return;
    };
    let e = env().await;
    let alice = e.user("alice");
    let mut command = command(&e, "interactive", e.public_app().client_id(), SCOPE);
    let script = support::repo_root().join("interop/browser_signin.py");
    command
        .env(
            "BROWSER",
            format!("{} {}", python.display(), script.display()),
        )
        .env("INTEROP_USERNAME", &alice.username)
        .env("INTEROP_PASSWORD", &alice.password);
    let output = run(command).await;
    assert!(
        output.contains("token for alice@contoso.example: source IdentityProvider"),
        "{output}"
    );
}
