//! Where source detection reads the environment from: the process by default, a fixed map in
//! tests (setting process-wide variables in a multi-threaded test is unsound).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Reads environment variables and the few filesystem facts managed-identity detection needs.
///
/// [`ProcessEnvironment`] is the default; [`StaticEnvironment`] is a fixed set for tests and for
/// hosts that configure managed identity some other way.
pub trait EnvironmentReader: Send + Sync + fmt::Debug + 'static {
    /// The value of an environment variable, `None` when unset.
    fn var(&self, name: &str) -> Option<String>;

    /// Whether a file exists (the Azure Arc agent's `himds` executable).
    fn file_exists(&self, path: &Path) -> bool {
        path.is_file()
    }

    /// The operating system, as [`std::env::consts::OS`] spells it (`linux`, `windows`, …).
    fn os(&self) -> &str {
        std::env::consts::OS
    }

    /// The only directory the Azure Arc agent's key files may be read from:
    /// `/var/opt/azcmagent/tokens` on Linux, `%ProgramData%\AzureConnectedMachineAgent\Tokens`
    /// on Windows, `None` elsewhere (Arc is not supported there).
    fn arc_key_directory(&self) -> Option<PathBuf> {
        match self.os() {
            "linux" => Some(PathBuf::from("/var/opt/azcmagent/tokens")),
            "windows" => {
                let program_data = self
                    .var("ProgramData")
                    .unwrap_or_else(|| r"C:\ProgramData".to_string());
                Some(
                    Path::new(&program_data)
                        .join("AzureConnectedMachineAgent")
                        .join("Tokens"),
                )
            }
            _ => None,
        }
    }
}

/// The process's real environment (`std::env::var`) and filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl EnvironmentReader for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed environment: the variables, files and Arc key directory you give it, nothing else.
///
/// ```
/// use entra_msal::managed_identity::{EnvironmentReader, StaticEnvironment};
/// let env = StaticEnvironment::new()
///     .with_var("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token")
///     .with_var("IDENTITY_HEADER", "secret");
/// assert_eq!(env.var("IDENTITY_HEADER").as_deref(), Some("secret"));
/// assert_eq!(env.var("PATH"), None);
/// ```
#[derive(Clone, Default)]
pub struct StaticEnvironment {
    vars: HashMap<String, String>,
    files: HashSet<PathBuf>,
    os: Option<String>,
    arc_key_directory: Option<PathBuf>,
}

impl fmt::Debug for StaticEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be secrets (IDENTITY_HEADER, MSI_SECRET): print the names only.
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("StaticEnvironment")
            .field("vars", &names)
            .field("files", &self.files)
            .field("os", &self.os)
            .field("arc_key_directory", &self.arc_key_directory)
            .finish()
    }
}

impl StaticEnvironment {
    /// An empty environment (detection then chooses IMDS).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable.
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Declares that a file exists (e.g. `/opt/azcmagent/bin/himds`).
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.insert(path.into());
        self
    }

    /// Pretends to be another operating system (`linux`, `windows`, `macos`, …).
    pub fn with_os(mut self, os: impl Into<String>) -> Self {
        self.os = Some(os.into());
        self
    }

    /// Reads Azure Arc key files from `dir` instead of the platform's directory.
    pub fn with_arc_key_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.arc_key_directory = Some(dir.into());
        self
    }
}

impl EnvironmentReader for StaticEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn file_exists(&self, path: &Path) -> bool {
        self.files.contains(path)
    }

    fn os(&self) -> &str {
        self.os.as_deref().unwrap_or(std::env::consts::OS)
    }

    fn arc_key_directory(&self) -> Option<PathBuf> {
        match &self.arc_key_directory {
            Some(dir) => Some(dir.clone()),
            None => match self.os() {
                "linux" => Some(PathBuf::from("/var/opt/azcmagent/tokens")),
                "windows" => Some(
                    Path::new(
                        &self
                            .var("ProgramData")
                            .unwrap_or_else(|| r"C:\ProgramData".to_string()),
                    )
                    .join("AzureConnectedMachineAgent")
                    .join("Tokens"),
                ),
                _ => None,
            },
        }
    }
}
