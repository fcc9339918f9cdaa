//! Captures the library's `tracing` output (every level, spans included) so tests can search it
//! for secrets.
//!
//! Two sinks share one process-wide subscriber:
//! - **The whole test suite.** When `ENTRA_TEST_LOG_DIR` is set (`scripts/test` sets it), every
//!   test binary that includes `mod support;` installs the subscriber before `main` and appends
//!   everything the library logs to `$ENTRA_TEST_LOG_DIR/<binary>-<pid>.log`. The emulators
//!   those tests start record every secret they issue or receive (`ENTRA_EMULATOR_SECRETS_LOG`),
//!   and `scripts/test` then runs `entra-emulator scan-logs` over the files.
//! - **One test.** [`install`] also keeps the text in memory and returns it
//!   (`tests/security_logs.rs`).
//!
//! The emulator's own logs are not captured: only the `entra_msal` target.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex, Once, OnceLock};

use entra_test_support::logs::log_dir;

/// The captured text, shared by every writer.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// Forgets what was captured.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The secrets (of at least 6 characters) that occur in the captured text, each reported by
    /// `label` and never printed itself.
    pub fn leaks<'a>(&self, secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
        let text = self.text();
        secrets
            .into_iter()
            .filter(|(_, s)| s.len() >= 6 && text.contains(*s))
            .map(|(label, s)| format!("{label} ({} characters)", s.len()))
            .collect()
    }
}

/// Where formatted events go: the suite's file (when `ENTRA_TEST_LOG_DIR` is set) and the
/// in-memory capture (once [`install`] asked for it).
struct Sink {
    file: Option<Mutex<File>>,
    memory: OnceLock<LogCapture>,
}

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| Sink {
        file: suite_log_file().map(Mutex::new),
        memory: OnceLock::new(),
    })
}

/// `$ENTRA_TEST_LOG_DIR/<binary>-<pid>.log`, owner-only, when the variable is set.
fn suite_log_file() -> Option<File> {
    let dir = log_dir()?;
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    let path = std::path::Path::new(&dir).join(format!("{name}-{}.log", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match std::fs::create_dir_all(&dir).and_then(|()| options.open(&path)) {
        Ok(f) => Some(f),
        Err(e) => {
            // This runs before `main`, where a panic cannot be reported well: say why and stop,
            // since a run whose logs are not captured must not pass the leak scan.
            eprintln!("cannot write the test log {}: {e}", path.display());
            std::process::exit(101);
        }
    }
}

/// One formatted event, written to every active sink.
struct SinkWriter(&'static Sink);

impl Write for SinkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = &self.0.file {
            // One write per event: the line is whole in the file.
            file.lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_all(data)?;
        }
        if let Some(memory) = self.0.memory.get() {
            memory
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sets the global subscriber (once): the `entra_msal` crate at TRACE, spans included.
fn ensure_subscriber() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let sink = sink();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("entra_msal=trace"))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .with_writer(move || SinkWriter(sink))
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global tracing subscriber in this test binary");
    });
}

/// Before `main`: capture the whole binary's logs when `ENTRA_TEST_LOG_DIR` is set.
#[ctor::ctor(unsafe)]
fn capture_the_whole_suite() {
    if log_dir().is_some() {
        ensure_subscriber();
    }
}

/// Starts keeping the library's logs in memory too, and returns them.
pub fn install() -> LogCapture {
    let capture = sink().memory.get_or_init(LogCapture::default).clone();
    ensure_subscriber();
    capture
}
