//! Emulators for tests: in process with the ready-made tenant, or as a `serve --json` child
//! process whose first line of output is its connection info.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use entra_emulator::{ConnectionInfo, Emulator, EmulatorConfig};

/// The ready-made configuration with the control API on and a signing key generated once per
/// test binary (RSA key generation is the slow part of a start).
pub fn config() -> EmulatorConfig {
    static CONFIG: OnceLock<EmulatorConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut c = entra_emulator::ready_made().expect("the ready-made tenant builds");
            c.settings.signing_key_pem =
                Some(entra_emulator::crypto::generate_rsa_key_pem().expect("an RSA key"));
            c.settings.control_api = true;
            c
        })
        .clone()
}

/// A running in-process emulator, its connection info, and the private directory holding its
/// CA and credential files.
pub struct Started {
    /// The emulator (stopped when dropped).
    pub emulator: Emulator,
    /// What `serve --json` would print for it.
    pub info: ConnectionInfo,
    /// Where the CA and the certificate credential were written.
    pub dir: tempfile::TempDir,
}

/// Starts an emulator with `config` and writes its connection info into a new temporary
/// directory.
pub async fn start_with(config: EmulatorConfig) -> Started {
    let emulator = Emulator::start(config).await.expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let info = emulator
        .connection_info(dir.path())
        .expect("the connection info is written");
    Started {
        emulator,
        info,
        dir,
    }
}

/// Starts `command` (an `entra-emulator serve --json ...` or `msal emulator serve --json ...`
/// command line) with its standard output piped and its standard error discarded, and reads the
/// connection info it prints once it is ready.
pub fn spawn_serve(command: &mut Command) -> (Child, ConnectionInfo) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("standard output is piped"))
        .read_line(&mut line)
        .expect("the emulator prints a line");
    let info = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not one JSON line of connection info ({e}): {line:?}"));
    (child, info)
}
