//! Signing a user in: the browser (or `MSAL_BROWSER`), device code with a spinner, username and
//! password, or the broker. Ctrl+C cancels.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use entra_msal::Error;
use entra_msal::{
    AuthenticationResult, DeviceFlowOptions, InteractiveOptions, PublicClientApplication,
    SshCertificateRequest, UsernamePasswordOptions,
};
use entra_msal::{SystemBrowser, UrlOpener};
use time::OffsetDateTime;

use crate::cli::SignInArgs;
use crate::failure::{Failure, Kind};
use crate::terminal::{self, clean};

/// Opens the sign-in URL: `MSAL_BROWSER` when set, else the system browser; says so on stderr.
/// When no browser opens, it says so once and, when nobody is at a terminal to open the URL by
/// hand, wakes `failed` so the sign-in ends at once instead of waiting for ever.
struct CliOpener {
    command: Option<String>,
    system: SystemBrowser,
    failed: Arc<tokio::sync::Notify>,
    terminal: bool,
    /// The user's own app registration (not the Azure CLI's client, which has the redirect URI):
    /// the page may refuse the redirect URI, which only the browser shows.
    own_app: bool,
}

/// Printed with the sign-in URL for the user's own app: Entra shows a redirect-URI mismatch
/// (AADSTS50011) on the page and never redirects, so `msal` cannot see it.
pub const REDIRECT_URI_HINT: &str = "If the page reports AADSTS50011 (redirect URI mismatch), the app registration lacks http://localhost: add it under \"Mobile and desktop applications\" (any port is accepted; `msal doctor` lists what to register), then press Ctrl+C and run this again.";

impl CliOpener {
    fn launch(&self, url: &str) -> Result<(), Error> {
        let Some(command) = &self.command else {
            return self.system.open(url);
        };
        let mut words = command.split_whitespace().map(str::to_string);
        let program = words.next().ok_or_else(|| Error::NoBrowser {
            url: url.to_string(),
            message: "MSAL_BROWSER is empty".into(),
        })?;
        let mut args: Vec<String> = words.collect();
        if args.iter().any(|a| a.contains("%s")) {
            args = args.into_iter().map(|a| a.replace("%s", url)).collect();
        } else {
            args.push(url.to_string());
        }
        let mut child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| Error::NoBrowser {
                url: url.to_string(),
                message: format!("MSAL_BROWSER={command} could not be started ({e})"),
            })?;
        // Reap it without waiting for it: a browser may run until the user closes it.
        std::thread::spawn(move || child.wait());
        Ok(())
    }
}

impl UrlOpener for CliOpener {
    fn open(&self, url: &str) -> Result<(), Error> {
        eprintln!("Opening the sign-in page in a browser. If none opens, visit:\n  {url}");
        if self.own_app {
            eprintln!("{REDIRECT_URI_HINT}");
        }
        match self.launch(url) {
            Ok(()) => Ok(()),
            Err(Error::NoBrowser { message, .. }) => {
                eprintln!(
                    "msal: no browser could be opened because {}.",
                    clean(&message)
                );
                if !self.terminal {
                    self.failed.notify_one();
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Completes when the user presses Ctrl+C.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A sign-in method.
#[derive(Debug, Clone)]
pub enum Method {
    /// The system browser (or `MSAL_BROWSER`), or the broker when the app has it on.
    Interactive {
        /// Loopback port.
        port: Option<u16>,
        /// Time limit.
        timeout: Option<Duration>,
        /// Whether the broker signs the user in (it brings its own window).
        broker: bool,
        /// With no browser at hand, the device code that replaces it shows a QR code.
        qr: bool,
        /// `--login-hint`, which wins over the account a command already knows.
        login_hint: Option<String>,
        /// `--prompt`.
        prompt: Option<entra_msal::Prompt>,
    },
    /// Device code.
    DeviceCode {
        /// Also show the sign-in page's URL as a QR code.
        qr: bool,
    },
    /// Username and password.
    UsernamePassword(String),
}

/// How long a browser sign-in waits when nobody is at a terminal and `--timeout` is not given.
pub const UNATTENDED_TIMEOUT: Duration = Duration::from_secs(300);

impl Method {
    /// The method the flags ask for; `broker` is the effective broker switch (flag or config).
    pub fn from_args(args: &SignInArgs, broker: bool) -> Self {
        if args.device_code {
            Method::DeviceCode { qr: args.qr }
        } else if let Some(u) = &args.username {
            Method::UsernamePassword(u.clone())
        } else {
            Method::Interactive {
                port: args.port,
                timeout: args.timeout.map(Duration::from_secs),
                broker,
                qr: args.qr,
                login_hint: args.login_hint.clone(),
                prompt: args.prompt.map(Into::into),
            }
        }
    }
}

/// What to do instead of opening a browser that cannot open: a device code when a person is at
/// the terminal, else a failure (exit 4) with the next step.
fn headless_fallback(reason: &str, terminal: bool) -> Result<(), Failure> {
    if terminal {
        eprintln!(
            "msal: no browser can be opened here because {reason}, so signing in with a device code instead (pass --device-code to skip this check)."
        );
        Ok(())
    } else {
        Err(no_browser_no_terminal(reason))
    }
}

fn no_browser_no_terminal(reason: &str) -> Failure {
    Failure::new(
        Kind::InteractionRequired,
        format!("the user must sign in, but no browser can be opened here because {reason}, and no terminal is attached for a device code"),
    )
    .next("run `msal login --device-code` in a terminal (same --client-id, --tenant and --scope) and then this command again, which will use the signed-in account; or set MSAL_BROWSER to a program that opens URLs")
}

/// A loopback port that cannot be used, in the CLI's words (the library speaks of its
/// `port: None` option); any other error as it is.
fn port_failure(e: Error, port: Option<u16>) -> Failure {
    let busy = port.is_some()
        && matches!(&e, Error::Configuration { message, .. } if message.contains("already in use"));
    let mut failure = Failure::from(e);
    if busy {
        failure.message = failure
            .message
            .replace("let the OS pick one (port None)", "omit --port");
        failure.next = Some("omit --port to let the system choose a free port (Entra accepts any port for http://localhost), or pass a free one".into());
    }
    failure
}

/// Signs the user in with `method`.
pub async fn sign_in(
    app: &PublicClientApplication,
    method: &Method,
    scopes: &[&str],
    login_hint: Option<&str>,
) -> Result<AuthenticationResult, Failure> {
    sign_in_for(app, method, scopes, login_hint, None).await
}

/// [`sign_in`] that asks for an SSH certificate for `ssh`'s key instead of a bearer token.
pub async fn sign_in_for(
    app: &PublicClientApplication,
    method: &Method,
    scopes: &[&str],
    login_hint: Option<&str>,
    ssh: Option<&SshCertificateRequest>,
) -> Result<AuthenticationResult, Failure> {
    match method {
        Method::Interactive {
            port,
            timeout,
            broker,
            qr,
            login_hint: hint,
            prompt,
        } => {
            let terminal = terminal::interactive_terminal();
            if !broker
                && let Some(reason) = terminal::no_browser_reason(&|name| std::env::var(name).ok())
            {
                headless_fallback(&reason, terminal)?;
                return device_code(app, scopes, *qr, ssh).await;
            }
            let failed = Arc::new(tokio::sync::Notify::new());
            let options = InteractiveOptions {
                login_hint: hint.as_deref().or(login_hint).map(str::to_string),
                prompt: *prompt,
                port: *port,
                timeout: timeout.or((!terminal).then_some(UNATTENDED_TIMEOUT)),
                url_opener: Some(Arc::new(CliOpener {
                    command: std::env::var("MSAL_BROWSER")
                        .ok()
                        .filter(|c| !c.trim().is_empty()),
                    system: SystemBrowser::new(),
                    failed: failed.clone(),
                    terminal,
                    own_app: app.client_id() != crate::settings::AZURE_CLI_CLIENT_ID,
                })),
                parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
                ssh_certificate: ssh.cloned(),
                ..Default::default()
            };
            tokio::select! {
                r = app.acquire_token_interactive(scopes, &options) => r.map_err(|e| port_failure(e, *port)),
                () = ctrl_c() => Err(Failure::new(Kind::Cancelled, "the sign-in was cancelled (Ctrl+C)")),
                () = failed.notified() => Err(no_browser_no_terminal("the browser could not be started")),
            }
        }
        Method::DeviceCode { qr } => device_code(app, scopes, *qr, ssh).await,
        Method::UsernamePassword(username) => {
            let password = password_for(username)?;
            let options = UsernamePasswordOptions {
                ssh_certificate: ssh.cloned(),
                ..Default::default()
            };
            app.acquire_token_by_username_password_with(username, &password, scopes, &options)
                .await
                .map_err(|e| password_failure(e, username))
        }
    }
}

/// The failure of a username/password sign-in, with a next step that fits: a wrong password,
/// an account that needs MFA, and a federated account whose federation server offers no
/// username/password sign-in each get their own (a federated account's wrong password is the
/// federation server's fault, told by `Failure::from`).
fn password_failure(e: Error, username: &str) -> Failure {
    const OTHER_WAYS: &str =
        "sign in with `msal login` (the browser) or `msal login --device-code` instead";
    let service = e.service_error().cloned();
    let federated =
        matches!(&e, Error::Unsupported { what, .. } if what.contains("federated account"));
    let mut failure = Failure::from(e);
    if federated {
        failure.message = format!(
            "{} belongs to a federated domain whose identity provider offers no username/password sign-in, so --username cannot sign it in",
            clean(username)
        );
        failure.next = Some(OTHER_WAYS.into());
        return failure;
    }
    let Some(s) = service else {
        return failure;
    };
    let codes = &s.error_codes();
    if codes.contains(&50126) {
        failure.next = Some(format!(
            "check the password of {} (MSAL_PASSWORD or standard input) and run the command again",
            clean(username)
        ));
    } else if codes
        .iter()
        .any(|c| matches!(c, 50076 | 50079 | 50072 | 50074))
        || s.suberror() == Some("basic_action")
    {
        failure.next = Some(format!(
            "this account must use multi-factor authentication, which a password alone cannot: {OTHER_WAYS}"
        ));
    }
    failure
}

/// The password: `MSAL_PASSWORD`, else a prompt without echo on a terminal, else one line of
/// standard input.
fn password_for(username: &str) -> Result<String, Failure> {
    if let Ok(p) = std::env::var("MSAL_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {username}: "))?
    } else {
        read_stdin_line()?
    };
    if password.is_empty() {
        return Err(Failure::config("no password given").next(
            "set MSAL_PASSWORD or write the password to standard input, e.g. `msal login --username U < file`",
        ));
    }
    Ok(password)
}

/// One line of standard input without its line ending.
pub fn read_stdin_line() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// The device-code line: the URL and the code on one line, the code bold on a colour terminal.
pub fn device_code_line(uri: &str, code: &str, styled: bool) -> String {
    let uri = clean(uri);
    let code = clean(code);
    if styled {
        format!("To sign in, open {uri} and enter the code \x1b[1m{code}\x1b[0m")
    } else {
        format!("To sign in, open {uri} and enter the code {code}")
    }
}

async fn device_code(
    app: &PublicClientApplication,
    scopes: &[&str],
    qr: bool,
    ssh: Option<&SshCertificateRequest>,
) -> Result<AuthenticationResult, Failure> {
    let options = DeviceFlowOptions {
        ssh_certificate: ssh.cloned(),
        ..Default::default()
    };
    let flow = app.initiate_device_flow_with(scopes, &options).await?;
    let on_terminal =
        std::io::stderr().is_terminal() && std::env::var("TERM").ok().is_none_or(|t| t != "dumb");
    let colour = on_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    eprintln!(
        "{}",
        device_code_line(&flow.verification_uri, &flow.user_code, colour)
    );
    if qr {
        match crate::qr::render(&flow.verification_uri) {
            Ok(code) => eprint!("{code}"),
            Err(e) => eprintln!("msal: warning: no QR code: {e}"),
        }
    }
    let spinner = on_terminal;
    let poll = app.acquire_token_by_device_flow_until(&flow, ctrl_c());
    tokio::pin!(poll);
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    let mut frame = 0usize;
    let result = loop {
        tokio::select! {
            r = &mut poll => break r,
            _ = tick.tick(), if spinner => {
                let left = (flow.expires_at - OffsetDateTime::now_utc()).whole_seconds().max(0);
                eprint!(
                    "\r{} Waiting for the sign-in with code {} ({}:{:02} left) ",
                    FRAMES[frame % FRAMES.len()],
                    clean(&flow.user_code),
                    left / 60,
                    left % 60
                );
                let _ = std::io::stderr().flush();
                frame += 1;
            }
        }
    };
    if spinner {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
    Ok(result?)
}
