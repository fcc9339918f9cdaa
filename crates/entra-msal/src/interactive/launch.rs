//! The OS shim of [`SystemBrowser`](super::SystemBrowser): finding a program on `PATH` and
//! starting it detached.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One command to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The program, as named (looked up on `PATH` unless it contains a path separator).
    pub program: String,
    /// Its arguments, the URL included.
    pub args: Vec<String>,
    /// The arguments are already quoted for `cmd.exe` and go onto the command line verbatim
    /// (Windows only).
    pub raw_args: bool,
    /// The exit status means nothing (`explorer.exe` exits with 1 after opening a URL).
    pub ignore_exit_status: bool,
    /// Where the command came from, for error messages.
    pub origin: &'static str,
}

/// What became of one launch attempt.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The command runs, or exited successfully.
    Started,
    /// It could not be started, or exited with a failure at once.
    Failed(String),
}

/// How often a started command is checked during the grace period.
const POLL: Duration = Duration::from_millis(25);

/// Starts `candidate` (resolved to `path`) with null standard streams, in its own process
/// group on Unix (a Ctrl-C in the terminal does not reach the browser), and watches it for
/// `grace`.
pub(crate) fn start(path: &Path, candidate: &Candidate, grace: Duration) -> Outcome {
    let mut command = Command::new(path);
    add_args(&mut command, candidate);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    detach(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("could not be started: {e}")),
    };
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() || candidate.ignore_exit_status => {
                return Outcome::Started;
            }
            Ok(Some(status)) => return Outcome::Failed(format!("exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                reap_in_background(child);
                return Outcome::Started;
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                reap_in_background(child);
                return Outcome::Failed(format!("could not be watched: {e}"));
            }
        }
    }
}

#[cfg(windows)]
fn add_args(command: &mut Command, candidate: &Candidate) {
    use std::os::windows::process::CommandExt as _;
    if candidate.raw_args {
        for arg in &candidate.args {
            command.raw_arg(arg);
        }
    } else {
        command.args(&candidate.args);
    }
}

#[cfg(not(windows))]
fn add_args(command: &mut Command, candidate: &Candidate) {
    command.args(&candidate.args);
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    command.process_group(0);
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt as _;
    /// Do not open a console window for `cmd`.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    command.creation_flags(CREATE_NO_WINDOW);
}

#[cfg(not(any(unix, windows)))]
fn detach(_command: &mut Command) {}

/// Waits for `child` on a background thread so it does not linger as a zombie.
fn reap_in_background(mut child: Child) {
    let spawned = std::thread::Builder::new()
        .name("browser-launcher-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "could not start a thread to reap the browser launcher");
    }
}

/// Finds `program`: a name with a path separator is used as is when it is a file; a bare name
/// is searched in `path_var` (with the `PATHEXT` extensions on Windows). `None`: not found.
pub(crate) fn search_path(
    program: &str,
    path_var: Option<&str>,
    pathext_var: Option<&str>,
    windows: bool,
) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    let has_separator = program.contains('/') || (windows && program.contains('\\'));
    if has_separator {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let list_separator = if windows { ';' } else { ':' };
    let extensions: Vec<String> = if windows && Path::new(program).extension().is_none() {
        pathext_var
            .unwrap_or(".COM;.EXE;.BAT;.CMD")
            .split(';')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        vec![String::new()]
    };
    path_var?
        .split(list_separator)
        .filter(|dir| !dir.is_empty())
        .flat_map(|dir| {
            extensions
                .iter()
                .map(move |ext| Path::new(dir).join(format!("{program}{ext}")))
        })
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("launcher");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("/nonexistent::{}", dir.path().display());
        assert_eq!(
            search_path("launcher", Some(&path), None, false),
            Some(exe.clone())
        );
        assert_eq!(search_path("plain", Some(&path), None, false), None);
        assert_eq!(search_path("missing", Some(&path), None, false), None);
        assert_eq!(search_path("launcher", None, None, false), None);
        assert_eq!(search_path("", Some(&path), None, false), None);
        let absolute = exe.display().to_string();
        assert_eq!(search_path(&absolute, None, None, false), Some(exe));
        // A directory is not a program.
        assert_eq!(
            search_path(&dir.path().display().to_string(), Some(&path), None, false),
            None
        );
    }

    #[test]
    fn windows_style_search_tries_pathext() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("wslview.CMD");
        std::fs::write(&exe, "").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().display().to_string();
        assert_eq!(
            search_path("wslview", Some(&path), Some(".EXE;.CMD"), true),
            Some(exe)
        );
        assert_eq!(
            search_path("wslview", Some(&path), Some(".EXE"), true),
            None
        );
    }
}
