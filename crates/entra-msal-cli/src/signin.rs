//! Signing a user in: the browser (or `MSAL_BROWSER`), device code with a spinner, username and
//! password, or the broker. Ctrl+C cancels.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use entra_msal::Error;
use entra_msal::app::{AuthenticationResult, InteractiveOptions, PublicClientApplication};
use entra_msal::interactive::{SystemBrowser, UrlOpener};
use time::OffsetDateTime;

use crate::cli::SignInArgs;
use crate::failure::{Failure, Kind};

/// Opens the sign-in URL: `MSAL_BROWSER` when set, else the system browser; says so on stderr.
struct CliOpener {
    command: Option<String>,
    system: SystemBrowser,
}

impl UrlOpener for CliOpener {
    fn open(&self, url: &str) -> Result<(), Error> {
        eprintln!("Opening the sign-in page in a browser. If none opens, visit:\n  {url}");
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
                message: format!("MSAL_BROWSER={command} could not be started: {e}"),
            })?;
        // Reap it without waiting for it: a browser may run until the user closes it.
        std::thread::spawn(move || child.wait());
        Ok(())
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
    },
    /// Device code.
    DeviceCode,
    /// Username and password.
    UsernamePassword(String),
}

impl Method {
    /// The method the flags ask for.
    pub fn from_args(args: &SignInArgs) -> Self {
        if args.device_code {
            Method::DeviceCode
        } else if let Some(u) = &args.username {
            Method::UsernamePassword(u.clone())
        } else {
            Method::Interactive {
                port: args.port,
                timeout: args.timeout.map(Duration::from_secs),
            }
        }
    }
}

/// Signs the user in with `method`.
pub async fn sign_in(
    app: &PublicClientApplication,
    method: &Method,
    scopes: &[&str],
    login_hint: Option<&str>,
) -> Result<AuthenticationResult, Failure> {
    match method {
        Method::Interactive { port, timeout } => {
            let options = InteractiveOptions {
                login_hint: login_hint.map(str::to_string),
                port: *port,
                timeout: *timeout,
                url_opener: Some(Arc::new(CliOpener {
                    command: std::env::var("MSAL_BROWSER")
                        .ok()
                        .filter(|c| !c.trim().is_empty()),
                    system: SystemBrowser::new(),
                })),
                parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
                ..Default::default()
            };
            tokio::select! {
                r = app.acquire_token_interactive(scopes, &options) => Ok(r?),
                () = ctrl_c() => Err(Failure::new(Kind::Cancelled, "the sign-in was cancelled (Ctrl+C)")),
            }
        }
        Method::DeviceCode => device_code(app, scopes).await,
        Method::UsernamePassword(username) => {
            let password = password_for(username)?;
            Ok(app
                .acquire_token_by_username_password(username, &password, scopes)
                .await?)
        }
    }
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

async fn device_code(
    app: &PublicClientApplication,
    scopes: &[&str],
) -> Result<AuthenticationResult, Failure> {
    let flow = app.initiate_device_flow(scopes).await?;
    eprintln!("{}", flow.message);
    let spinner = std::io::stderr().is_terminal();
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
                    flow.user_code,
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
