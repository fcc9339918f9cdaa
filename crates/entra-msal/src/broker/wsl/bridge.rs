//! The library side of the WSL bridge: a [`BrokerBackend`] that runs the Windows helper
//! (`entra-broker-wsl-helper.exe`, through WSL's Windows interop) and exchanges protocol lines
//! with it over its stdin and stdout.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use super::helper::{Line, read_line};
use super::protocol::{
    self, PROTOCOL_VERSION, WireAccount, WireOp, WireOutcome, WireRequest, WireTokenRequest,
    WireWindow,
};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};

/// The helper's file name, looked up on `PATH` when no path is given.
pub const HELPER_EXE: &str = "entra-broker-wsl-helper.exe";

/// How long a silent call (and probe, accounts, sign-out) may take before the helper is
/// considered stuck. Interactive calls wait for the user without a limit.
pub const DEFAULT_SILENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The WSL broker: WAM on the Windows host, reached through the helper process.
///
/// One helper process serves the bridge for its lifetime and is restarted when it has died;
/// calls are answered one at a time, in order.
#[derive(Debug)]
pub struct WslBridge {
    program: PathBuf,
    args: Vec<OsString>,
    silent_timeout: Duration,
    session: Mutex<Option<Session>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// A request was written whose answer was not read (the caller's future was dropped): the
    /// stream is out of step and the process must be replaced.
    in_flight: bool,
}

/// The first `HELPER_EXE` in the directories of `path_var` (a `PATH` value).
pub fn find_helper_on_path(path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join(HELPER_EXE))
        .find(|candidate| candidate.is_file())
}

fn missing(context: impl Into<String>) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Wsl,
        BrokerStatus::RequiredBrokerMissing,
        context,
    )
}

impl WslBridge {
    /// The bridge through the helper at `helper_path`, or the first `entra-broker-wsl-helper.exe`
    /// on `PATH`. A missing helper is
    /// [`RequiredBrokerMissing`](BrokerStatus::RequiredBrokerMissing), so the app falls back to
    /// the browser. The process starts on first use.
    // The routing layer holds every backend as `Arc<dyn BrokerBackend>`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(helper_path: Option<PathBuf>) -> Result<Arc<dyn BrokerBackend>, BrokerError> {
        Ok(Arc::new(Self::locate(helper_path)?))
    }

    /// Like [`WslBridge::new`], returning the concrete type.
    pub fn locate(helper_path: Option<PathBuf>) -> Result<Self, BrokerError> {
        let program = match helper_path {
            Some(path) if path.is_file() => path,
            Some(path) => {
                return Err(missing(format!(
                    "the WSL broker helper {} does not exist; build entra-broker-wsl-helper for \
                     x86_64-pc-windows-msvc and point the app at it, or sign in through the browser",
                    path.display()
                )));
            }
            None => std::env::var_os("PATH")
                .and_then(|p| find_helper_on_path(&p))
                .ok_or_else(|| {
                    missing(format!(
                        "{HELPER_EXE} is not on PATH; install it on the Windows side (for example \
                         in a folder on the Windows PATH) to use WAM from WSL"
                    ))
                })?,
        };
        Ok(Self::with_command(program, Vec::<OsString>::new()))
    }

    /// The bridge through an explicit command (a helper with arguments, or a test's helper).
    pub fn with_command(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            silent_timeout: DEFAULT_SILENT_TIMEOUT,
            session: Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    /// Sets how long non-interactive calls may take (default 30 s).
    pub fn silent_timeout(mut self, timeout: Duration) -> Self {
        self.silent_timeout = timeout;
        self
    }

    /// The helper program.
    pub fn helper_path(&self) -> &Path {
        &self.program
    }

    fn spawn(&self) -> Result<Session, BrokerError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                missing(format!(
                    "cannot start the WSL broker helper {}: {e}; check that WSL's Windows interop \
                     is enabled, or sign in through the browser",
                    self.program.display()
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(missing("the WSL broker helper has no stdin or stdout"));
        };
        if let Some(stderr) = child.stderr.take() {
            // The helper's diagnostics go to our log, never to the user's terminal.
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "entra_msal::broker::wsl", helper = %line);
                }
            });
        }
        tracing::debug!(pid = child.id(), "started the WSL broker helper");
        Ok(Session {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            in_flight: false,
        })
    }

    async fn call(
        &self,
        op: WireOp,
        timeout: Option<Duration>,
    ) -> Result<serde_json::Value, BrokerError> {
        let op_name = op.name();
        // Calls are answered in order; a non-interactive call does not wait behind a sign-in
        // window for longer than its own limit.
        let mut guard = match timeout {
            Some(limit) => tokio::time::timeout(limit, self.session.lock())
                .await
                .map_err(|_| {
                    BrokerError::new(
                        BrokerPlatform::Wsl,
                        BrokerStatus::TransientError,
                        format!(
                            "the WSL broker helper is busy (an interactive sign-in is open);                              `{op_name}` gave up after {} s",
                            limit.as_secs()
                        ),
                    )
                })?,
            None => self.session.lock().await,
        };
        let stale = match guard.as_mut() {
            Some(s) => s.in_flight || !matches!(s.child.try_wait(), Ok(None)),
            None => false,
        };
        if stale {
            tracing::debug!("replacing the WSL broker helper (exited or out of step)");
            if let Some(mut old) = guard.take() {
                let _ = old.child.start_kill();
            }
        }
        let session = match guard.as_mut() {
            Some(session) => session,
            None => guard.insert(self.spawn()?),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let line = protocol::encode_request(&WireRequest {
            v: PROTOCOL_VERSION,
            id,
            op,
        });
        session.in_flight = true;
        let exchange = async {
            session.stdin.write_all(line.as_bytes()).await?;
            session.stdin.flush().await?;
            read_line(&mut session.stdout).await
        };
        let read = match timeout {
            Some(limit) => match tokio::time::timeout(limit, exchange).await {
                Ok(read) => read,
                Err(_) => {
                    Self::discard(&mut guard);
                    return Err(BrokerError::new(
                        BrokerPlatform::Wsl,
                        BrokerStatus::TransientError,
                        format!(
                            "the WSL broker helper did not answer `{op_name}` within {} s; it was \
                             stopped and restarts on the next call",
                            limit.as_secs()
                        ),
                    ));
                }
            },
            None => exchange.await,
        };
        let text = match read {
            Ok(Line::Text(text)) => text,
            Ok(Line::Eof) | Err(_) => {
                let status = guard
                    .as_mut()
                    .and_then(|s| s.child.try_wait().ok().flatten())
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "its pipes closed".to_string());
                Self::discard(&mut guard);
                return Err(BrokerError::new(
                    BrokerPlatform::Wsl,
                    BrokerStatus::Unexpected,
                    format!(
                        "the WSL broker helper stopped before answering `{op_name}` ({status}); \
                         it restarts on the next call"
                    ),
                ));
            }
            Ok(Line::TooLong(n)) => {
                Self::discard(&mut guard);
                return Err(protocol::protocol_error(format!(
                    "the WSL broker helper sent a line of {n} bytes, over the limit"
                )));
            }
            Ok(Line::NotUtf8) => {
                Self::discard(&mut guard);
                return Err(protocol::protocol_error(
                    "the WSL broker helper sent a line that is not UTF-8",
                ));
            }
        };
        let response = match protocol::decode_response(&text) {
            Ok(response) => response,
            Err(e) => {
                Self::discard(&mut guard);
                return Err(e);
            }
        };
        match response.id {
            Some(answered) if answered == id => {}
            // The helper could not read our line at all: it is still in step.
            None => {}
            Some(other) => {
                Self::discard(&mut guard);
                return Err(protocol::protocol_error(format!(
                    "the WSL broker helper answered request {other} instead of {id}"
                )));
            }
        }
        if let Some(session) = guard.as_mut() {
            session.in_flight = false;
        }
        match response.outcome {
            WireOutcome::Ok(value) if response.id.is_some() => Ok(value),
            WireOutcome::Ok(_) => Err(protocol::protocol_error(
                "the WSL broker helper answered without a request id",
            )),
            WireOutcome::Err(e) => Err(BrokerError::from(e)),
        }
    }

    fn discard(guard: &mut Option<Session>) {
        if let Some(mut session) = guard.take() {
            let _ = session.child.start_kill();
        }
    }
}

impl BrokerBackend for WslBridge {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::Wsl
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            let value = self.call(WireOp::Probe, Some(self.silent_timeout)).await?;
            protocol::unit_from_value(value)
        })
    }

    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async move {
            let op = WireOp::Accounts {
                client_id: client_id.to_string(),
                correlation_id: correlation_id.to_string(),
            };
            protocol::accounts_from_value(self.call(op, Some(self.silent_timeout)).await?)
        })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let op = WireOp::Silent {
                request: WireTokenRequest::from(request),
            };
            protocol::token_from_value(self.call(op, Some(self.silent_timeout)).await?)
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            // A Linux window id means nothing on the Windows host: the helper parents WAM's UI
            // to its console's root owner or the desktop.
            if let ParentWindow::Native(handle) = window {
                tracing::debug!(
                    handle,
                    "WSL: a Linux window cannot own WAM's UI; using the console"
                );
            }
            let op = WireOp::Interactive {
                request: WireTokenRequest::from(request),
                window: WireWindow::Console,
            };
            protocol::token_from_value(self.call(op, None).await?)
        })
    }

    fn sign_out<'a>(
        &'a self,
        client_id: &'a str,
        account: &'a BrokerAccount,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async move {
            let op = WireOp::SignOut {
                client_id: client_id.to_string(),
                account: WireAccount::from(account),
                correlation_id: correlation_id.to_string(),
            };
            protocol::unit_from_value(self.call(op, Some(self.silent_timeout)).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_is_found_on_path_or_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(HELPER_EXE), b"").unwrap();
        let path = std::env::join_paths([empty.path(), dir.path()]).unwrap();
        assert_eq!(
            find_helper_on_path(&path),
            Some(dir.path().join(HELPER_EXE))
        );
        let path = std::env::join_paths([empty.path()]).unwrap();
        assert_eq!(find_helper_on_path(&path), None);

        let e = WslBridge::locate(Some(empty.path().join("nope.exe"))).unwrap_err();
        assert_eq!(e.status, BrokerStatus::RequiredBrokerMissing);
        assert_eq!(e.platform, BrokerPlatform::Wsl);
        let bridge = WslBridge::locate(Some(dir.path().join(HELPER_EXE))).unwrap();
        assert_eq!(bridge.helper_path(), dir.path().join(HELPER_EXE));
    }

    #[tokio::test]
    async fn a_helper_that_cannot_start_is_a_missing_broker() {
        let dir = tempfile::tempdir().unwrap();
        let bridge = WslBridge::with_command(dir.path().join("absent.exe"), ["x"]);
        let e = bridge.probe().await.unwrap_err();
        assert_eq!(e.status, BrokerStatus::RequiredBrokerMissing);
        assert!(e.context.contains("absent.exe"));
    }
}
