//! The WSL bridge end to end on Linux: `WslBridge` runs a real helper process and speaks the
//! line protocol with it over pipes.
//!
//! The helpers are this test binary itself, started with `--wsl-helper <scenario>`: it then runs
//! `entra_msal::broker::wsl::serve` over stdin/stdout with a fake broker defined below (or
//! misbehaves on purpose), exactly as `entra-broker-wsl-helper.exe` serves WAM on Windows. The
//! real helper binary is run too (built for Linux it answers `RequiredBrokerMissing`).
//!
//! This file has its own `main` (`harness = false`) so the binary can play the helper: libtest
//! would print to stdout, which is the protocol channel. Arguments: an optional name filter;
//! libtest flags are ignored.

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, Write};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use entra_msal::broker::wsl_bridge::{WslBridge, serve};
use entra_msal::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPassword, BrokerPlatform,
    BrokerStatus, BrokerTokenRequest, BrokerTokenResponse, BrokerTokenType, ParentWindow,
};

const CLIENT: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";
const CORR: &str = "c0ffee00-0000-4000-8000-000000000001";

// ---------------------------------------------------------------------------------------------
// The fake broker the helper serves.

#[derive(Debug)]
struct FakeWam {
    accounts: Mutex<Vec<BrokerAccount>>,
    crash_on_silent: bool,
}

fn alice() -> BrokerAccount {
    BrokerAccount {
        account_id: "wam-alice".into(),
        home_account_id: "oid-alice.tid1".into(),
        local_account_id: "oid-alice".into(),
        environment: "login.microsoftonline.com".into(),
        realm: "tid1".into(),
        username: "alice@contoso.com".into(),
        name: Some("Alice".into()),
        client_info: Some("eyJ1aWQiOiJvaWQtYWxpY2UiLCJ1dGlkIjoidGlkMSJ9".into()),
        raw: serde_json::json!({"id": "wam-alice"}),
    }
}

fn token(request: &BrokerTokenRequest, account: BrokerAccount, how: &str) -> BrokerTokenResponse {
    BrokerTokenResponse {
        access_token: format!("at-{how}-{}", account.username),
        token_type: BrokerTokenType::Bearer,
        expires_on: 1_900_000_000,
        ext_expires_on: Some(1_900_003_600),
        id_token: Some("header.payload.sig".into()),
        client_info: account.client_info.clone(),
        granted_scopes: request.scopes.clone(),
        account: Some(account),
        authority: Some(format!("{}/", request.authority)),
    }
}

fn wam_error(status: BrokerStatus, code: i64, context: &str) -> BrokerError {
    BrokerError {
        platform: BrokerPlatform::Windows,
        status,
        error_code: code,
        tag: 0x1234,
        context: context.into(),
        sub_status: Some(7),
    }
}

impl BrokerBackend for FakeWam {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::Windows
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async move {
            if client_id != CLIENT {
                return Err(wam_error(
                    BrokerStatus::IncorrectConfiguration,
                    -895352831,
                    "unknown client",
                ));
            }
            Ok(self.accounts.lock().unwrap().clone())
        })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            if self.crash_on_silent {
                std::process::exit(3);
            }
            if request.claims.is_some() {
                return Err(wam_error(
                    BrokerStatus::InteractionRequired,
                    -895352829,
                    "interaction_required: AADSTS50076 MFA",
                ));
            }
            let accounts = self.accounts.lock().unwrap();
            let account = match &request.account {
                // No account: the device's default one.
                None => accounts.first().cloned(),
                Some(wanted) => accounts
                    .iter()
                    .find(|a| a.account_id == wanted.account_id)
                    .cloned(),
            };
            match account {
                Some(account) => Ok(token(request, account, "silent")),
                None => Err(wam_error(
                    BrokerStatus::AccountNotFound,
                    0,
                    "the account is not in WAM",
                )),
            }
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            if window != ParentWindow::Console {
                return Err(wam_error(
                    BrokerStatus::ApiContractViolation,
                    0,
                    "expected the console window",
                ));
            }
            match request.prompt.as_deref() {
                // The user never finishes (the caller gives up).
                Some("wait") => std::future::pending().await,
                Some("cancel") => {
                    return Err(wam_error(
                        BrokerStatus::UserCanceled,
                        0,
                        "authentication_canceled",
                    ));
                }
                _ => {}
            }
            if let Some((user, password)) = &request.username_password {
                if password.0 != "correct horse" {
                    return Err(wam_error(
                        BrokerStatus::InteractionRequired,
                        0,
                        "wrong password",
                    ));
                }
                let mut account = alice();
                account.username = user.clone();
                return Ok(token(request, account, "password"));
            }
            let mut account = alice();
            if let Some(hint) = &request.login_hint {
                account.username = hint.clone();
            }
            Ok(token(request, account, "interactive"))
        })
    }

    fn sign_out<'a>(
        &'a self,
        _client_id: &'a str,
        account: &'a BrokerAccount,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async move {
            let mut accounts = self.accounts.lock().unwrap();
            let before = accounts.len();
            accounts.retain(|a| a.account_id != account.account_id);
            if accounts.len() == before {
                return Err(wam_error(
                    BrokerStatus::AccountNotFound,
                    0,
                    "no such account",
                ));
            }
            Ok(())
        })
    }
}

/// The helper side: what this binary does when started with `--wsl-helper <scenario>`.
fn run_helper(scenario: &str) -> std::process::ExitCode {
    match scenario {
        "fake-wam" | "crash-on-silent" => {
            let backend = FakeWam {
                accounts: Mutex::new(vec![alice()]),
                crash_on_silent: scenario == "crash-on-silent",
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(serve(
                    &backend,
                    tokio::io::BufReader::new(tokio::io::stdin()),
                    tokio::io::stdout(),
                ))
                .unwrap();
        }
        "garbage" => {
            // Answers every request with a line that is not the protocol.
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                if line.is_err() {
                    break;
                }
                let mut out = std::io::stdout().lock();
                writeln!(out, "this is not json").unwrap();
                out.flush().unwrap();
            }
        }
        "wrong-id" => {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                if line.is_err() {
                    break;
                }
                let mut out = std::io::stdout().lock();
                writeln!(out, "{{\"v\":1,\"id\":999999,\"ok\":null}}").unwrap();
                out.flush().unwrap();
            }
        }
        "silent" => {
            // Reads requests and never answers.
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                if line.is_err() {
                    break;
                }
            }
        }
        "exit" => return std::process::ExitCode::from(4),
        other => {
            eprintln!("unknown helper scenario {other}");
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// The tests.

fn bridge(scenario: &str) -> WslBridge {
    let me = std::env::current_exe().unwrap();
    WslBridge::with_command(me, ["--wsl-helper", scenario])
}

fn request() -> BrokerTokenRequest {
    BrokerTokenRequest {
        client_id: CLIENT.into(),
        authority: "https://login.microsoftonline.com/common".into(),
        scopes: vec!["User.Read".into()],
        redirect_uri: format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}"),
        correlation_id: CORR.into(),
        claims: None,
        account: None,
        login_hint: None,
        prompt: None,
        pop: None,
        username_password: None,
        extra_parameters: BTreeMap::new(),
        validate_authority: true,
    }
}

async fn accounts_silent_interactive_and_sign_out() {
    let bridge = bridge("fake-wam");
    assert_eq!(bridge.platform(), BrokerPlatform::Wsl);
    bridge.probe().await.unwrap();

    let accounts = bridge.accounts(CLIENT, CORR).await.unwrap();
    assert_eq!(accounts, vec![alice()]);

    // Silent for the device's default account, then for a named one.
    let t = bridge.acquire_token_silently(&request()).await.unwrap();
    assert_eq!(t.access_token, "at-silent-alice@contoso.com");
    assert_eq!(t.expires_on, 1_900_000_000);
    assert_eq!(t.ext_expires_on, Some(1_900_003_600));
    assert_eq!(t.granted_scopes, ["User.Read"]);
    assert_eq!(t.account.as_ref(), Some(&alice()));
    let mut named = request();
    named.account = Some(accounts[0].clone());
    assert_eq!(
        bridge.acquire_token_silently(&named).await.unwrap().account,
        Some(alice())
    );

    // Interactive, with a login hint; a Linux window becomes the helper's console.
    let mut hinted = request();
    hinted.login_hint = Some("bob@contoso.com".into());
    let t = bridge
        .acquire_token_interactively(&hinted, ParentWindow::Native(0x4200007))
        .await
        .unwrap();
    assert_eq!(t.access_token, "at-interactive-bob@contoso.com");
    assert_eq!(
        t.authority.as_deref(),
        Some("https://login.microsoftonline.com/common/")
    );

    // Username and password travel to the helper intact.
    let mut ropc = request();
    ropc.username_password = Some((
        "carol@contoso.com".into(),
        BrokerPassword("correct horse".into()),
    ));
    let t = bridge
        .acquire_token_interactively(&ropc, ParentWindow::Console)
        .await
        .unwrap();
    assert_eq!(t.access_token, "at-password-carol@contoso.com");

    // Sign-out changes the helper's state: the same process serves the whole session.
    bridge.sign_out(CLIENT, &alice(), CORR).await.unwrap();
    assert!(bridge.accounts(CLIENT, CORR).await.unwrap().is_empty());
    let e = bridge.acquire_token_silently(&named).await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::AccountNotFound);
}

async fn broker_errors_arrive_with_every_field() {
    let bridge = bridge("fake-wam");
    let mut mfa = request();
    mfa.claims = Some("{\"access_token\":{\"acrs\":{\"essential\":true}}}".into());
    let e = bridge.acquire_token_silently(&mfa).await.unwrap_err();
    assert_eq!(
        e,
        BrokerError {
            platform: BrokerPlatform::Windows,
            status: BrokerStatus::InteractionRequired,
            error_code: -895352829,
            tag: 0x1234,
            context: "interaction_required: AADSTS50076 MFA".into(),
            sub_status: Some(7),
        }
    );
    assert!(e.status.requires_interaction());

    let mut cancel = request();
    cancel.prompt = Some("cancel".into());
    let e = bridge
        .acquire_token_interactively(&cancel, ParentWindow::Console)
        .await
        .unwrap_err();
    assert_eq!(e.status, BrokerStatus::UserCanceled);

    let e = bridge.accounts("other-client", CORR).await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::IncorrectConfiguration);
    assert_eq!(e.error_code, -895352831);
    // The session survives broker errors.
    assert_eq!(bridge.accounts(CLIENT, CORR).await.unwrap().len(), 1);
}

async fn a_crashed_helper_is_a_typed_error_and_is_restarted() {
    let bridge = bridge("crash-on-silent");
    assert_eq!(bridge.accounts(CLIENT, CORR).await.unwrap().len(), 1);
    bridge.sign_out(CLIENT, &alice(), CORR).await.unwrap();
    assert!(bridge.accounts(CLIENT, CORR).await.unwrap().is_empty());

    let e = bridge.acquire_token_silently(&request()).await.unwrap_err();
    assert_eq!(e.platform, BrokerPlatform::Wsl);
    assert_eq!(e.status, BrokerStatus::Unexpected);
    assert!(
        e.context.contains("stopped before answering"),
        "{}",
        e.context
    );

    // A new helper process: its state is fresh (alice is back).
    assert_eq!(bridge.accounts(CLIENT, CORR).await.unwrap(), vec![alice()]);
}

async fn a_helper_that_exits_at_once_is_a_typed_error() {
    let bridge = bridge("exit");
    let e = bridge.probe().await.unwrap_err();
    assert_eq!(e.platform, BrokerPlatform::Wsl);
    assert_eq!(e.status, BrokerStatus::Unexpected);
    // Again: restarted, and the same error, never a hang.
    let e = bridge.accounts(CLIENT, CORR).await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::Unexpected);
}

async fn malformed_answers_are_typed_errors() {
    let bridge = bridge("garbage");
    for _ in 0..2 {
        let e = bridge.acquire_token_silently(&request()).await.unwrap_err();
        assert_eq!(e.platform, BrokerPlatform::Wsl);
        assert_eq!(e.status, BrokerStatus::ApiContractViolation);
        assert!(e.context.contains("malformed"), "{}", e.context);
    }
    let bridge = self::bridge("wrong-id");
    let e = bridge.probe().await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::ApiContractViolation);
    assert!(e.context.contains("999999"), "{}", e.context);
}

async fn a_silent_call_to_a_stuck_helper_times_out() {
    let bridge = bridge("silent").silent_timeout(Duration::from_millis(500));
    let e = bridge.acquire_token_silently(&request()).await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::TransientError);
    assert!(e.status.is_transient());
    assert!(e.context.contains("did not answer"), "{}", e.context);
}

async fn an_abandoned_interactive_call_does_not_desync_the_session() {
    let bridge = bridge("fake-wam");
    let mut wait = request();
    wait.prompt = Some("wait".into());
    // The caller gives up on an interactive call (no timeout of its own inside the bridge).
    let gave_up = tokio::time::timeout(
        Duration::from_millis(500),
        bridge.acquire_token_interactively(&wait, ParentWindow::Console),
    )
    .await;
    assert!(gave_up.is_err());
    // The next call gets its own answer, from a fresh helper.
    assert_eq!(bridge.accounts(CLIENT, CORR).await.unwrap(), vec![alice()]);
    let t = bridge.acquire_token_silently(&request()).await.unwrap();
    assert_eq!(t.access_token, "at-silent-alice@contoso.com");
}

async fn silent_calls_do_not_wait_forever_behind_a_sign_in() {
    let bridge = std::sync::Arc::new(bridge("fake-wam").silent_timeout(Duration::from_millis(500)));
    let mut wait = request();
    wait.prompt = Some("wait".into());
    let signing_in = {
        let bridge = bridge.clone();
        tokio::spawn(async move {
            bridge
                .acquire_token_interactively(&wait, ParentWindow::Console)
                .await
        })
    };
    // Let the interactive call take the session first.
    while bridge.accounts(CLIENT, CORR).await.is_ok() {
        tokio::task::yield_now().await;
    }
    let e = bridge.acquire_token_silently(&request()).await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::TransientError);
    assert!(e.context.contains("busy"), "{}", e.context);
    signing_in.abort();
    assert!(signing_in.await.unwrap_err().is_cancelled());
    // The abandoned sign-in does not leave the session out of step.
    assert_eq!(bridge.accounts(CLIENT, CORR).await.unwrap(), vec![alice()]);
}

async fn the_real_helper_binary_answers_broker_missing_off_windows() {
    let helper = env!("CARGO_BIN_EXE_entra-broker-wsl-helper");
    let bridge = WslBridge::locate(Some(helper.into())).unwrap();
    let e = bridge.probe().await.unwrap_err();
    assert_eq!(e.status, BrokerStatus::RequiredBrokerMissing);
    assert!(
        e.context.contains("x86_64-pc-windows-msvc"),
        "{}",
        e.context
    );
    let e = bridge
        .acquire_token_interactively(&request(), ParentWindow::Console)
        .await
        .unwrap_err();
    assert_eq!(e.status, BrokerStatus::RequiredBrokerMissing);
}

async fn a_missing_helper_is_a_missing_broker() {
    let dir = tempfile::tempdir().unwrap();
    let e = WslBridge::new(Some(dir.path().join("entra-broker-wsl-helper.exe"))).unwrap_err();
    assert_eq!(e.status, BrokerStatus::RequiredBrokerMissing);
    assert_eq!(e.platform, BrokerPlatform::Wsl);
}

// ---------------------------------------------------------------------------------------------
// A minimal harness.

type TestFn = fn() -> Pin<Box<dyn Future<Output = ()>>>;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), (|| Box::pin($name()) as Pin<Box<dyn Future<Output = ()>>>) as TestFn)),*]
    };
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--wsl-helper") {
        return run_helper(args.get(i + 1).map(String::as_str).unwrap_or(""));
    }
    let all = tests![
        accounts_silent_interactive_and_sign_out,
        broker_errors_arrive_with_every_field,
        a_crashed_helper_is_a_typed_error_and_is_restarted,
        a_helper_that_exits_at_once_is_a_typed_error,
        malformed_answers_are_typed_errors,
        a_silent_call_to_a_stuck_helper_times_out,
        an_abandoned_interactive_call_does_not_desync_the_session,
        silent_calls_do_not_wait_forever_behind_a_sign_in,
        the_real_helper_binary_answers_broker_missing_off_windows,
        a_missing_helper_is_a_missing_broker,
    ];
    if args.iter().any(|a| a == "--list") {
        for (name, _) in all {
            println!("{name}: test");
        }
        return std::process::ExitCode::SUCCESS;
    }
    // libtest's flags (and their values) are accepted and ignored; anything else filters.
    let mut filters = Vec::new();
    let mut skip_value = false;
    for arg in &args {
        if skip_value {
            skip_value = false;
        } else if matches!(
            arg.as_str(),
            "--test-threads" | "--format" | "--color" | "--skip" | "-Z"
        ) {
            skip_value = true;
        } else if !arg.starts_with('-') {
            filters.push(arg.clone());
        }
    }
    let selected: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in selected {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(test())));
        drop(runtime);
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        println!("\ntest result: ok");
        std::process::ExitCode::SUCCESS
    } else {
        println!(
            "\ntest result: FAILED ({} failed: {})",
            failed.len(),
            failed.join(", ")
        );
        std::process::ExitCode::FAILURE
    }
}
