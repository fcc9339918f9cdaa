//! External components of interop tests: the repository root, and interpreters found through an
//! environment variable or a virtual environment that `scripts/test` creates.
//!
//! Rule: a test that needs a component that is missing fails when `CI=true` (a CI run must not
//! pass by skipping) and otherwise prints `SKIPPED: ...` and returns early.

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Whether this is a CI run (`CI=true`), where a missing component is a failure.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A component is missing: panics with `message` when `CI=true`; otherwise prints a notice and
/// returns `None`, so a test can write `missing(...)?` or `let Some(x) = ... else { return }`.
pub fn missing<T>(message: &str) -> Option<T> {
    if ci() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// An interpreter: the path in the environment variable `variable`, else `default` under the
/// repository root. Missing: see [`missing`]; `what` names the tests that need it.
pub fn interpreter(variable: &str, default: &str, what: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(default));
    if candidate.exists() {
        return Some(candidate);
    }
    missing(&format!(
        "{what}: no interpreter at {} (run scripts/test, or set {variable})",
        candidate.display()
    ))
}

/// The MSAL Python interpreter: `$ENTRA_INTEROP_PYTHON`, else `.venv-interop/bin/python`.
/// Missing: a failure when `CI=true`, a skip with a notice otherwise.
pub fn python() -> Option<PathBuf> {
    interpreter(
        "ENTRA_INTEROP_PYTHON",
        ".venv-interop/bin/python",
        "MSAL Python interop",
    )
}
