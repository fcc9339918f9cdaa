//! The fault matrix: every flow × every fault the emulator can script, each cell checked against
//! the documented outcome (a typed error naming the next step, throttling for the right window,
//! or a success after the library's own retry), with the cache compared before and after.
//!
//! One emulator per flow; the flows run concurrently, the cells of one flow one after another
//! (a scripted fault is consumed by the next matching request, so cells of one flow must not
//! overlap). The outcome table is written to `docs/fault-matrix.md`.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use entra_emulator::{
    FaultAction, FaultMatch, FaultRule, ManagedIdentityConfig, ManagedIdentityServer, errors,
};
use entra_msal::Error;
use entra_msal::managed_identity::{ManagedIdentity, ManagedIdentityErrorKind, StaticEnvironment};
use entra_msal::{AuthCodeFlowOptions, AuthenticationResult, ManagedIdentityClient, SilentOptions};

/// Any call that takes longer than this is a hang, and fails the test.
const HANG: Duration = Duration::from_secs(30);
/// The HTTP timeout given to every application of the matrix.
const APP_TIMEOUT: Duration = Duration::from_secs(5);
/// The scripted delay: well past [`APP_TIMEOUT`].
const DELAY_MS: u64 = 12000;
const USER_SCOPE: &str = "api://emulator-api/access_as_user";
const APP_SCOPE: &str = "api://emulator-api/.default";
const VAULT: &str = "https://vault.azure.net";
const TOKEN_PATH: &str = "/oauth2/v2.0/token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    ClientCredentials,
    OnBehalfOf,
    AuthCode,
    DeviceCode,
    UsernamePassword,
    SilentRefresh,
    ManagedIdentityImds,
    ManagedIdentityAppService,
}

impl Flow {
    const ALL: [Flow; 8] = [
        Flow::ClientCredentials,
        Flow::OnBehalfOf,
        Flow::AuthCode,
        Flow::DeviceCode,
        Flow::UsernamePassword,
        Flow::SilentRefresh,
        Flow::ManagedIdentityImds,
        Flow::ManagedIdentityAppService,
    ];

    fn name(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client credentials",
            Flow::OnBehalfOf => "on-behalf-of",
            Flow::AuthCode => "auth code",
            Flow::DeviceCode => "device code",
            Flow::UsernamePassword => "username/password",
            Flow::SilentRefresh => "silent refresh",
            Flow::ManagedIdentityImds => "MI: IMDS",
            Flow::ManagedIdentityAppService => "MI: App Service",
        }
    }

    /// Which requests of this flow the fault is scripted for.
    fn matcher(self) -> FaultMatch {
        let grant = |g: &str| FaultMatch {
            path_contains: Some(TOKEN_PATH.into()),
            grant_type: Some(g.into()),
            ..Default::default()
        };
        match self {
            Flow::ClientCredentials => grant("client_credentials"),
            Flow::OnBehalfOf => grant("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            Flow::AuthCode => grant("authorization_code"),
            Flow::DeviceCode => grant("device_code"),
            Flow::UsernamePassword => grant("password"),
            Flow::SilentRefresh => grant("refresh_token"),
            Flow::ManagedIdentityImds => FaultMatch {
                path_contains: Some("/metadata/identity/oauth2/token".into()),
                ..Default::default()
            },
            Flow::ManagedIdentityAppService => FaultMatch {
                path_contains: Some("/msi/token".into()),
                ..Default::default()
            },
        }
    }

    fn managed_identity(self) -> bool {
        matches!(
            self,
            Flow::ManagedIdentityImds | Flow::ManagedIdentityAppService
        )
    }
}

/// The faults of the matrix: the transport faults, then every AADSTS code of the emulator.
fn faults() -> Vec<(String, FaultAction)> {
    let mut all = vec![
        (
            "429 + Retry-After: 7".to_string(),
            FaultAction::Throttle {
                retry_after: Some(7),
            },
        ),
        (
            "429, no Retry-After".into(),
            FaultAction::Throttle { retry_after: None },
        ),
        (
            "500".into(),
            FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        ),
        (
            "503".into(),
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        ),
        (
            format!("delay {DELAY_MS} ms > timeout"),
            FaultAction::Delay { ms: DELAY_MS },
        ),
        ("dropped connection".into(), FaultAction::DropConnection),
        ("truncated body".into(), FaultAction::TruncatedBody),
        ("malformed JSON".into(), FaultAction::MalformedJson),
        ("wrong content type".into(), FaultAction::WrongContentType),
    ];
    for a in errors::ALL {
        all.push((
            format!("AADSTS{} ({})", a.code, a.error),
            FaultAction::Aadsts { code: a.code },
        ));
    }
    all
}

/// What a cell must end in.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// `Error::Throttled` with this status and window; a second identical call is answered by
    /// the throttle without reaching the server.
    Throttled { status: u16, retry_after: u64 },
    /// `Error::Network` (timeout or not).
    Network { timeout: bool },
    /// `Error::InvalidResponse`.
    Invalid,
    /// `Error::Service` or `Error::UiRequired` carrying this AADSTS code; `ui` says which;
    /// `transient` whether `is_transient()`.
    Refused {
        code: u32,
        ui: bool,
        transient: bool,
    },
    /// The library retries on its own and succeeds (device-code polling).
    RetriedToSuccess,
    /// A managed-identity error of this kind; `transient` is `is_transient()`.
    ManagedIdentity {
        kind: ManagedIdentityErrorKind,
        transient: bool,
    },
}

/// MSAL's interaction errors (and, as documented on `Error::from_service`, every `invalid_grant`).
fn needs_ui(a: &errors::Aadsts) -> bool {
    matches!(
        a.error,
        "invalid_grant" | "interaction_required" | "login_required" | "consent_required"
    ) || matches!(a.suberror, Some("basic_action" | "consent_required"))
}

fn expect(flow: Flow, action: &FaultAction) -> Expect {
    if flow.managed_identity() {
        use ManagedIdentityErrorKind::*;
        let mi = |kind, transient| Expect::ManagedIdentity { kind, transient };
        // Managed identity: a 429 is `Throttled` (replayed for Retry-After, else 5 s), a 5xx
        // `ManagedIdentity(Unavailable)`, transport failures `Network`; all transient.
        return match action {
            FaultAction::Throttle { retry_after } => Expect::Throttled {
                status: 429,
                retry_after: retry_after.unwrap_or(5),
            },
            FaultAction::Status { .. } => mi(Unavailable, true),
            FaultAction::Delay { .. } => Expect::Network { timeout: true },
            FaultAction::DropConnection | FaultAction::TruncatedBody => {
                Expect::Network { timeout: false }
            }
            FaultAction::MalformedJson | FaultAction::WrongContentType => {
                mi(InvalidResponse, false)
            }
            FaultAction::Aadsts { code } => {
                let a = errors::by_code(*code).unwrap();
                if a.status == 429 {
                    Expect::Throttled {
                        status: 429,
                        retry_after: 5,
                    }
                } else if a.status >= 500 {
                    mi(Unavailable, true)
                } else {
                    mi(Refused, false)
                }
            }
            FaultAction::SlowDown => unreachable!(),
        };
    }
    // A public client replays a 429/5xx without Retry-After for 60 s, a confidential one for 5 s.
    let default_window = match flow {
        Flow::DeviceCode | Flow::UsernamePassword | Flow::SilentRefresh => 60,
        _ => 5,
    };
    match action {
        FaultAction::Throttle { retry_after } => Expect::Throttled {
            status: 429,
            retry_after: retry_after.unwrap_or(default_window),
        },
        FaultAction::Status { status: 503, .. } => Expect::Throttled {
            status: 503,
            retry_after: default_window,
        },
        FaultAction::Status { status, .. } => Expect::Refused {
            code: errors::SERVICE_UNAVAILABLE.code,
            ui: false,
            transient: *status >= 500,
        },
        FaultAction::Delay { .. } => Expect::Network { timeout: true },
        FaultAction::DropConnection | FaultAction::TruncatedBody => {
            Expect::Network { timeout: false }
        }
        FaultAction::MalformedJson | FaultAction::WrongContentType => Expect::Invalid,
        FaultAction::Aadsts { code } => {
            let a = errors::by_code(*code).unwrap();
            if flow == Flow::DeviceCode && a.error == "authorization_pending" {
                return Expect::RetriedToSuccess;
            }
            if a.status == 429 || a.status == 503 {
                return Expect::Throttled {
                    status: a.status,
                    retry_after: default_window,
                };
            }
            Expect::Refused {
                code: a.code,
                ui: needs_ui(&a),
                transient: a.status >= 500,
            }
        }
        FaultAction::SlowDown => Expect::RetriedToSuccess,
    }
}

/// A short description of a result, for the table.
fn describe(r: &Result<AuthenticationResult, Error>) -> String {
    match r {
        Ok(_) => "success".into(),
        Err(Error::Throttled {
            status,
            retry_after,
            ..
        }) => format!("Throttled {status}, retry after {}s", retry_after.as_secs()),
        Err(Error::Network { timeout, .. }) => {
            format!("Network{}", if *timeout { " (timeout)" } else { "" })
        }
        Err(Error::InvalidResponse { status, .. }) => format!("InvalidResponse (HTTP {status})"),
        Err(e @ (Error::Service(s) | Error::UiRequired(s))) => format!(
            "{} {} AADSTS{}{}",
            if e.is_ui_required() {
                "UiRequired"
            } else {
                "Service"
            },
            s.error(),
            s.aadsts().map(|c| c.to_string()).unwrap_or_default(),
            if e.is_transient() { " (transient)" } else { "" }
        ),
        Err(Error::ManagedIdentity(m)) => format!(
            "ManagedIdentity {:?}{}",
            m.kind,
            if m.is_transient() { " (transient)" } else { "" }
        ),
        Err(other) => format!("{other:?}"),
    }
}

/// Whether `r` is what `e` says, or why not.
fn check(e: &Expect, r: &Result<AuthenticationResult, Error>) -> Result<(), String> {
    let ok = match (e, r) {
        (
            Expect::Throttled {
                status,
                retry_after,
            },
            Err(Error::Throttled {
                status: s,
                retry_after: ra,
                ..
            }),
        ) => s == status && ra.as_secs() == *retry_after,
        (Expect::Network { timeout }, Err(Error::Network { timeout: t, .. })) => t == timeout,
        (Expect::Invalid, Err(Error::InvalidResponse { .. })) => true,
        (
            Expect::Refused {
                code,
                ui,
                transient,
            },
            Err(err),
        ) => err.service_error().is_some_and(|s| {
            s.aadsts() == Some(*code)
                && err.is_ui_required() == *ui
                && err.is_transient() == *transient
        }),
        (Expect::RetriedToSuccess, Ok(_)) => true,
        (Expect::ManagedIdentity { kind, transient }, Err(Error::ManagedIdentity(m))) => {
            m.kind == *kind && m.is_transient() == *transient
        }
        _ => false,
    };
    if !ok {
        return Err(format!("expected {e:?}, got {}", describe(r)));
    }
    if let Err(err) = r {
        // Every error says what happened and where to go next.
        let text = err.to_string();
        if text.len() < 20 {
            return Err(format!(
                "the error message is too short to act on: {text:?}"
            ));
        }
    }
    Ok(())
}

/// One flow's world: an emulator (and managed-identity server), and what its cells need.
struct Rig {
    env: support::Env,
    mi: Option<(ManagedIdentityServer, tempfile::TempDir)>,
    /// A user access token for OBO.
    assertion: String,
    /// A cache holding alice's refresh token, for silent refresh.
    seeded_cache: String,
}

impl Rig {
    async fn start(flow: Flow) -> Rig {
        let env = support::env().await;
        let mut rig = Rig {
            mi: None,
            assertion: String::new(),
            seeded_cache: String::new(),
            env,
        };
        match flow {
            Flow::OnBehalfOf => {
                rig.assertion = rig.env.ropc(USER_SCOPE).await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
            Flow::SilentRefresh => {
                let app = rig.public_app();
                let alice = rig.env.user("alice");
                app.acquire_token_by_username_password(
                    &alice.username,
                    &alice.password,
                    &[USER_SCOPE],
                )
                .await
                .unwrap();
                rig.seeded_cache = app.token_cache().serialize();
            }
            Flow::ManagedIdentityImds | Flow::ManagedIdentityAppService => {
                let dir = tempfile::tempdir().unwrap();
                let server = rig
                    .env
                    .emulator
                    .start_managed_identity(ManagedIdentityConfig {
                        arc_key_directory: Some(dir.path().to_path_buf()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                rig.mi = Some((server, dir));
            }
            _ => {}
        }
        rig
    }

    fn public_app(&self) -> entra_msal::PublicClientApplication {
        self.env
            .public_builder(&self.env.info.public_client.as_ref().unwrap().client_id)
            .timeout(APP_TIMEOUT)
            .build()
            .unwrap()
    }

    fn secret_app(&self) -> entra_msal::ConfidentialClientApplication {
        self.env
            .secret_builder()
            .timeout(APP_TIMEOUT)
            .build()
            .unwrap()
    }

    fn mi_client(&self, flow: Flow) -> ManagedIdentityClient {
        let (server, dir) = self.mi.as_ref().unwrap();
        let source = if flow == Flow::ManagedIdentityImds {
            "imds"
        } else {
            "app_service"
        };
        let mut e = StaticEnvironment::new()
            .with_os("linux")
            .with_arc_key_directory(dir.path());
        for (k, v) in server.environment(source) {
            e = e.with_var(k, v);
        }
        ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
            .environment(e)
            .timeout(APP_TIMEOUT)
            .build()
            .unwrap()
    }

    fn hits(&self, flow: Flow) -> usize {
        let m = flow.matcher();
        let path = m.path_contains.unwrap();
        self.env
            .emulator
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.contains(&path))
            .count()
    }
}

/// The application of a cell, whichever kind it is.
enum App {
    Public(entra_msal::PublicClientApplication),
    Confidential(entra_msal::ConfidentialClientApplication),
    Mi(ManagedIdentityClient),
}

impl App {
    fn cache(&self) -> String {
        match self {
            App::Public(a) => a.token_cache().serialize(),
            App::Confidential(a) => a.token_cache().serialize(),
            App::Mi(a) => a.token_cache().serialize(),
        }
    }
}

/// Prepares a cell (everything before the faulted request), returning the app and the call.
async fn prepare(rig: &Rig, flow: Flow) -> (App, Option<CellState>) {
    match flow {
        Flow::ClientCredentials | Flow::OnBehalfOf => (App::Confidential(rig.secret_app()), None),
        Flow::AuthCode => {
            let app = rig.secret_app();
            let flow = app
                .initiate_auth_code_flow(
                    &[USER_SCOPE],
                    &AuthCodeFlowOptions {
                        redirect_uri: "https://localhost/auth/callback".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let response = rig
                .env
                .sign_in(&flow.auth_uri, &flow.state, "alice@contoso.example")
                .await;
            (
                App::Confidential(app),
                Some(CellState::AuthCode(Box::new(flow), response)),
            )
        }
        Flow::DeviceCode => {
            let app = rig.public_app();
            let flow = app.initiate_device_flow(&[USER_SCOPE]).await.unwrap();
            rig.env
                .emulator
                .control()
                .approve_device_code(&flow.user_code, "alice@contoso.example")
                .unwrap();
            (App::Public(app), Some(CellState::Device(Box::new(flow))))
        }
        Flow::UsernamePassword => (App::Public(rig.public_app()), None),
        Flow::SilentRefresh => {
            let app = rig.public_app();
            app.token_cache().deserialize(&rig.seeded_cache).unwrap();
            (App::Public(app), None)
        }
        Flow::ManagedIdentityImds | Flow::ManagedIdentityAppService => {
            (App::Mi(rig.mi_client(flow)), None)
        }
    }
}

enum CellState {
    AuthCode(Box<entra_msal::AuthCodeFlow>, HashMap<String, String>),
    Device(Box<entra_msal::DeviceFlow>),
}

/// The call under test.
async fn call(
    rig: &Rig,
    flow: Flow,
    app: &App,
    state: &Option<CellState>,
) -> Result<AuthenticationResult, Error> {
    match (flow, app, state) {
        (Flow::ClientCredentials, App::Confidential(a), _) => {
            a.acquire_token_for_client(&[APP_SCOPE]).await
        }
        (Flow::OnBehalfOf, App::Confidential(a), _) => {
            a.acquire_token_on_behalf_of(&rig.assertion, &["https://graph.microsoft.com/User.Read"])
                .await
        }
        (Flow::AuthCode, App::Confidential(a), Some(CellState::AuthCode(f, response))) => {
            a.acquire_token_by_auth_code_flow(f, response).await
        }
        (Flow::DeviceCode, App::Public(a), Some(CellState::Device(f))) => {
            a.acquire_token_by_device_flow(f).await
        }
        (Flow::UsernamePassword, App::Public(a), _) => {
            let alice = rig.env.user("alice");
            a.acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
                .await
        }
        (Flow::SilentRefresh, App::Public(a), _) => {
            let account = a.accounts(None)[0].clone();
            a.acquire_token_silent(
                &[USER_SCOPE],
                &account,
                &SilentOptions {
                    force_refresh: true,
                    ..Default::default()
                },
            )
            .await
        }
        (_, App::Mi(a), _) => a.acquire_token_for_client(VAULT).await,
        _ => unreachable!("cell shape"),
    }
}

/// One row of the table.
struct Cell {
    flow: Flow,
    fault: String,
    outcome: String,
    failure: Option<String>,
}

async fn run_flow(flow: Flow) -> Vec<Cell> {
    let rig = Rig::start(flow).await;
    let control = rig.env.emulator.control();
    let mut cells = Vec::new();
    for (name, action) in faults() {
        let (app, state) = prepare(&rig, flow).await;
        let before = app.cache();
        let hits_before = rig.hits(flow);
        control.add_fault(FaultRule {
            matcher: flow.matcher(),
            fault: action.clone(),
            count: 1,
        });
        let result = tokio::time::timeout(HANG, call(&rig, flow, &app, &state))
            .await
            .unwrap_or_else(|_| panic!("{} × {name}: hung for {HANG:?}", flow.name()));
        // A delayed request is logged only once answered, after the client gave up.
        let unconsumed =
            rig.hits(flow) == hits_before && !matches!(action, FaultAction::Delay { .. });
        control.clear_faults();
        let after = app.cache();
        let expected = expect(flow, &action);
        let mut failure = check(&expected, &result).err();
        if unconsumed {
            failure.get_or_insert_with(|| "the fault was never reached".into());
        }
        let mut outcome = describe(&result);
        if result.is_err() && before != after {
            failure.get_or_insert_with(|| "the cache changed after a failed call".into());
        }
        if result.is_ok() && before == after {
            failure.get_or_insert_with(|| "a success left the cache as it was".into());
        }
        // Throttling: the same call again is answered without reaching the server.
        if let Expect::Throttled { .. } = expected
            && failure.is_none()
        {
            let hits = rig.hits(flow);
            let again = tokio::time::timeout(HANG, call(&rig, flow, &app, &state))
                .await
                .unwrap_or_else(|_| panic!("{} × {name}: replay hung", flow.name()));
            if !matches!(again, Err(Error::Throttled { .. })) {
                failure = Some(format!("the replay was {}", describe(&again)));
            } else if rig.hits(flow) != hits {
                failure = Some("the replay reached the server".into());
            } else {
                outcome.push_str("; replayed locally");
            }
        }
        if let Expect::RetriedToSuccess = expected
            && failure.is_none()
        {
            let polls = rig.hits(flow) - hits_before;
            outcome.push_str(&format!(" after {polls} requests"));
        }
        cells.push(Cell {
            flow,
            fault: name,
            outcome,
            failure,
        });
    }
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_flow_under_every_fault() {
    let handles: Vec<_> = Flow::ALL
        .into_iter()
        .map(|f| tokio::spawn(run_flow(f)))
        .collect();
    let mut cells = Vec::new();
    for h in handles {
        cells.extend(h.await.unwrap());
    }
    #[cfg(all(feature = "broker", target_os = "linux"))]
    let broker_rows = broker::matrix().await;
    #[cfg(not(all(feature = "broker", target_os = "linux")))]
    let broker_rows: Vec<(String, String, Option<String>)> = Vec::new();

    write_report(&cells, &broker_rows);
    let failures: Vec<String> = cells
        .iter()
        .filter_map(|c| {
            c.failure
                .as_ref()
                .map(|f| format!("{} × {}: {f}", c.flow.name(), c.fault))
        })
        .chain(
            broker_rows
                .iter()
                .filter_map(|(s, _, f)| f.as_ref().map(|f| format!("broker × {s}: {f}"))),
        )
        .collect();
    assert!(
        failures.is_empty(),
        "{} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Writes `docs/fault-matrix.md`: one row per fault, one column per flow.
fn write_report(cells: &[Cell], broker_rows: &[(String, String, Option<String>)]) {
    let mut md = String::from(
        "# Fault matrix\n\n\
         Generated by `cargo test -p entra-msal --features broker --test fault_matrix` (do not edit \
         by hand). Each cell is the outcome of one call with one scripted fault on the flow's \
         endpoint: the error variant (`Throttled`, `Network`, `InvalidResponse`, `Service`, \
         `UiRequired`, `ManagedIdentity` and its kind), whether `Error::is_transient()` is true, \
         and for throttling whether an identical second call was answered locally. Every cell also \
         checked that the token cache is byte-for-byte unchanged after a failure and that no call \
         hangs (30 s guard). A ✗ marks a cell that did not end as documented.\n\n",
    );
    let _ = write!(md, "| fault |");
    for f in Flow::ALL {
        let _ = write!(md, " {} |", f.name());
    }
    md.push('\n');
    md.push_str("|---|");
    for _ in Flow::ALL {
        md.push_str("---|");
    }
    md.push('\n');
    for (fault, _) in faults() {
        let _ = write!(md, "| {fault} |");
        for f in Flow::ALL {
            let c = cells
                .iter()
                .find(|c| c.flow == f && c.fault == fault)
                .unwrap();
            let mark = if c.failure.is_some() { "✗ " } else { "" };
            let _ = write!(md, " {mark}{} |", c.outcome);
        }
        md.push('\n');
    }
    if !broker_rows.is_empty() {
        md.push_str(
            "\n## Linux broker (`acquireTokenSilently` answering an error object)\n\n\
             | broker status | outcome |\n|---|---|\n",
        );
        for (status, outcome, failure) in broker_rows {
            let mark = if failure.is_some() { "✗ " } else { "" };
            let _ = writeln!(md, "| {status} | {mark}{outcome} |");
        }
    }
    // The document is the full build's (the command above): a run without the broker would
    // write it without the broker's section.
    if !cfg!(feature = "broker") {
        eprintln!("fault matrix not written: it is generated with --features broker");
        return;
    }
    let path = support::repo_root().join("docs/fault-matrix.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, md).unwrap();
    eprintln!("fault matrix written to {}", path.display());
}

#[cfg(all(feature = "broker", target_os = "linux"))]
mod broker {
    use super::*;
    use entra_emulator::broker::{BrokerErrorSpec, BrokerOptions, PrivateSessionBus};
    use entra_emulator::{Emulator, ready_made};
    use entra_msal::{InteractiveOptions, PublicClientApplication};

    fn start_bus() -> Option<PrivateSessionBus> {
        match PrivateSessionBus::start() {
            Ok(bus) => Some(bus),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and no private D-Bus session bus could be started: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: broker fault matrix: no private D-Bus session bus ({e})");
                None
            }
        }
    }

    /// libmsalruntime's internal status numbers as the app sees them (they differ from the
    /// public enum from 12 upward).
    fn internal_status(n: i64) -> &'static str {
        const TABLE: [&str; 22] = [
            "Unexpected",
            "Reserved",
            "InteractionRequired",
            "NoNetwork",
            "NetworkTemporarilyUnavailable",
            "ServerTemporarilyUnavailable",
            "ApiContractViolation",
            "UserCanceled",
            "ApplicationCanceled",
            "IncorrectConfiguration",
            "InsufficientBuffer",
            "AuthorityUntrusted",
            "(success)",
            "AccountUnusable",
            "UserDataRemovalRequired",
            "TransientError",
            "AccountSwitch",
            "DeviceNotRegistered",
            "KeyNotFound",
            "AccountNotFound",
            "RequiredBrokerMissing",
            "FallbackToNativeMsal",
        ];
        usize::try_from(n)
            .ok()
            .and_then(|i| TABLE.get(i).copied())
            .unwrap_or("Unexpected")
    }

    /// Every status the emulator's broker can answer `acquireTokenSilently` with.
    pub async fn matrix() -> Vec<(String, String, Option<String>)> {
        let Some(bus) = start_bus() else {
            return Vec::new();
        };
        let mut config = ready_made().unwrap();
        config.settings.control_api = true;
        let emulator = Emulator::start(config).await.unwrap();
        let _service = emulator
            .serve_broker(bus.address(), BrokerOptions::default())
            .await
            .unwrap();
        let app = PublicClientApplication::builder(ready_made::PUBLIC_CLIENT_ID)
            .authority(emulator.authority())
            .trusted_ca(emulator.ca_pem().unwrap())
            .instance_discovery(false)
            .enable_broker_on_linux(true)
            .broker_bus_address(bus.address())
            .timeout(APP_TIMEOUT)
            .build()
            .unwrap();
        // The device user signs in silently through the broker (no interaction needed).
        let options = InteractiveOptions {
            parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
            ..Default::default()
        };
        tokio::time::timeout(HANG, app.acquire_token_interactive(&[USER_SCOPE], &options))
            .await
            .expect("broker sign-in hung")
            .unwrap();
        let account = app.accounts(None)[0].clone();
        let control = emulator.control();
        let mut rows = Vec::new();
        for status in 0..=25i64 {
            let spec = BrokerErrorSpec::new(status, 4242, 777, format!("scripted status {status}"));
            if spec.check().is_err() {
                continue; // statuses Microsoft's client cannot survive; the emulator never sends them
            }
            let before = app.token_cache().serialize();
            control
                .broker_inject_error("acquireTokenSilently", spec)
                .unwrap();
            let result = tokio::time::timeout(
                HANG,
                app.acquire_token_silent(
                    &[USER_SCOPE],
                    &account,
                    &SilentOptions {
                        force_refresh: true,
                        ..Default::default()
                    },
                ),
            )
            .await
            .unwrap_or_else(|_| panic!("broker status {status}: hung"));
            let after = app.token_cache().serialize();
            let mut failure = None;
            let outcome = match &result {
                Ok(_) => {
                    failure = Some("an injected error ended in success".to_string());
                    "success".to_string()
                }
                Err(e) => {
                    let expected_status = internal_status(status);
                    match (e, e.broker_error()) {
                        (Error::UiRequired(_), _) => {
                            if !matches!(expected_status, "InteractionRequired" | "AccountUnusable")
                            {
                                failure = Some(format!("UiRequired for {expected_status:?}"));
                            }
                            "UiRequired".to_string()
                        }
                        (_, Some(b)) => {
                            if b.status.name() != expected_status {
                                failure = Some(format!(
                                    "status {}, expected {expected_status}",
                                    b.status.name()
                                ));
                            }
                            if b.status.requires_interaction() {
                                failure = Some("an interaction status was not UiRequired".into());
                            }
                            if (b.error_code, b.tag) != (4242, 777) {
                                failure = Some("the broker's error code and tag were lost".into());
                            }
                            format!(
                                "Broker {}{}",
                                b.status.name(),
                                if e.is_transient() { " (transient)" } else { "" }
                            )
                        }
                        (other, None) => {
                            failure = Some(format!("not a broker error: {other:?}"));
                            format!("{other}")
                        }
                    }
                }
            };
            if result.is_err() && before != after {
                failure.get_or_insert_with(|| "the cache changed after a failed call".into());
            }
            let label = format!("{status} ({})", internal_status(status));
            rows.push((label, outcome, failure));
        }
        rows
    }
}
