//! Captures the library's `tracing` output (every level, spans included) into memory, so tests
//! can search it for secrets. One process-wide subscriber, installed on first use; each test
//! binary that uses it gets everything the library logs while it runs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The captured text, shared by every writer.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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

/// Installs (once) a global subscriber writing the `entra_msal` crate's events and spans at
/// TRACE into the returned capture. The emulator's own logs are not captured.
pub fn install() -> LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("entra_msal=trace"))
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global tracing subscriber in this test binary");
            capture
        })
        .clone()
}
