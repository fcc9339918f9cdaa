//! Replacing a small text file the CLI owns (the config file, a kubeconfig) so that a reader never
//! sees half of it: a temporary file beside it (owner-only, as `tempfile` creates it), then a
//! rename over the old one.

use std::path::Path;

use crate::failure::Failure;

/// Writes `text` to `path` atomically, creating the directory when missing. A failure names the
/// file as `what` (for example "the config file") and gives `next` as the next step.
pub fn replace(path: &Path, text: &str, what: &str, next: &str) -> Result<(), Failure> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| {
        Failure::config(format!("cannot write {what} {}: {e}", path.display())).next(next)
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}
