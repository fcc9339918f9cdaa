//! The whole suite's logs: when `ENTRA_TEST_LOG_DIR` is set (`scripts/test` sets it), tests
//! write what their programs log into files there, and `scripts/test` then runs
//! `entra-emulator scan-logs` over them to fail on any secret an emulator issued.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the directory for the whole suite's logs.
pub const LOG_DIR_ENV: &str = "ENTRA_TEST_LOG_DIR";

/// The suite's log directory, when `ENTRA_TEST_LOG_DIR` is set and not empty.
pub fn log_dir() -> Option<PathBuf> {
    std::env::var_os(LOG_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// A new file name under the suite's log directory for one run of a program, unique within the
/// test process: `<dir>/<prefix>-<pid>-<n>.log`. `None` when the variable is not set.
pub fn suite_log_file(prefix: &str) -> Option<PathBuf> {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = log_dir()?;
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    Some(dir.join(format!("{prefix}-{}-{n}.log", std::process::id())))
}
