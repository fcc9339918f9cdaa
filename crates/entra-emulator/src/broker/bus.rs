//! A private D-Bus session bus for tests and `serve --private-bus`: a `dbus-daemon` child
//! process listening in a private directory, stopped (by its PID) and cleaned up when the handle
//! is dropped.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::BrokerServiceError;

/// A `dbus-daemon --session` the emulator started. Dropping it kills the daemon.
#[derive(Debug)]
pub struct PrivateSessionBus {
    child: Child,
    address: String,
    stderr: Arc<Mutex<String>>,
    dir: std::path::PathBuf,
}

impl PrivateSessionBus {
    /// Spawns `dbus-daemon --session --nofork --print-address=1` and reads the bus address it
    /// prints. Fails with [`BrokerServiceError::DbusDaemonMissing`] when `dbus-daemon` is not
    /// installed.
    pub fn start() -> Result<Self, BrokerServiceError> {
        // The socket lives in a directory of our own, removed on drop (a killed daemon cannot
        // clean up after itself).
        let dir = std::env::temp_dir().join(format!(
            "entra-emulator-bus-{}",
            crate::crypto::random_token(12)
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(|e| {
            BrokerServiceError::DbusDaemon(format!("cannot create {}: {e}", dir.display()))
        })?;
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:dir={}", dir.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = spawned.map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            if e.kind() == std::io::ErrorKind::NotFound {
                BrokerServiceError::DbusDaemonMissing
            } else {
                BrokerServiceError::DbusDaemon(format!("cannot start dbus-daemon: {e}"))
            }
        })?;
        // Drain stderr so the daemon never blocks on a full pipe ("Failed to set fd limit" and
        // similar warnings are harmless); keep it for error messages.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                    if s.len() < 16 * 1024 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(out) => BufReader::new(out).read_line(&mut line),
            None => Ok(0),
        };
        let address = line.trim().to_string();
        if read.is_err() || address.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            let text = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
            return Err(BrokerServiceError::DbusDaemon(format!(
                "dbus-daemon printed no bus address{}",
                if text.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", text.trim())
                }
            )));
        }
        Ok(Self {
            child,
            address,
            stderr,
            dir,
        })
    }

    /// The bus address (`unix:path=/tmp/dbus-…,guid=…`), for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for PrivateSessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
