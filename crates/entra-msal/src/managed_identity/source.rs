//! Which managed-identity endpoint this host has, detected from the environment in MSAL Python's
//! order: Service Fabric, App Service (and Functions, Automation), Azure Machine Learning, Azure
//! Arc, Cloud Shell, then the VM's Instance Metadata Service.

use std::fmt;
use std::path::Path;

use super::env::EnvironmentReader;

/// A managed-identity source (MSAL Python's `get_managed_identity_source()` sentinels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// Service Fabric: `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and `IDENTITY_SERVER_THUMBPRINT`.
    ServiceFabric,
    /// App Service, Azure Functions, Azure Automation: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    AppService,
    /// Azure Machine Learning: `MSI_ENDPOINT` and `MSI_SECRET`.
    MachineLearning,
    /// Azure Arc-enabled servers: `IDENTITY_ENDPOINT` and `IMDS_ENDPOINT`, or the Arc agent
    /// installed (`/opt/azcmagent/bin/himds`, `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`).
    AzureArc,
    /// Azure Cloud Shell: `AZUREPS_HOST_ENVIRONMENT` starts with `cloud-shell`.
    CloudShell,
    /// The Instance Metadata Service of an Azure VM (or AKS pod identity), the default.
    Imds,
}

impl ManagedIdentitySource {
    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ServiceFabric => "Service Fabric",
            Self::AppService => "App Service",
            Self::MachineLearning => "Azure Machine Learning",
            Self::AzureArc => "Azure Arc",
            Self::CloudShell => "Cloud Shell",
            Self::Imds => "IMDS",
        }
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Arc agent's default local endpoint.
pub(crate) const ARC_DEFAULT_ENDPOINT: &str =
    "http://localhost:40342/metadata/identity/oauth2/token";
/// Cloud Shell's local token endpoint when `MSI_ENDPOINT` is not set.
pub(crate) const CLOUD_SHELL_DEFAULT_ENDPOINT: &str = "http://localhost:50342/oauth2/token";
/// The VM's Instance Metadata Service.
pub(crate) const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";

/// A detected source with the settings its request needs.
#[derive(Clone)]
pub(crate) enum Detected {
    ServiceFabric {
        endpoint: String,
        secret: String,
        thumbprint: String,
    },
    AppService {
        endpoint: String,
        secret: String,
    },
    MachineLearning {
        endpoint: String,
        secret: String,
    },
    AzureArc {
        endpoint: String,
    },
    CloudShell {
        endpoint: String,
    },
    Imds {
        host: String,
    },
}

impl fmt::Debug for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (source, endpoint) = match self {
            Self::ServiceFabric { endpoint, .. }
            | Self::AppService { endpoint, .. }
            | Self::MachineLearning { endpoint, .. }
            | Self::AzureArc { endpoint }
            | Self::CloudShell { endpoint } => (self.source(), endpoint),
            Self::Imds { host } => (self.source(), host),
        };
        f.debug_struct("Detected")
            .field("source", &source)
            .field("endpoint", endpoint)
            .finish_non_exhaustive()
    }
}

impl Detected {
    pub(crate) fn source(&self) -> ManagedIdentitySource {
        match self {
            Self::ServiceFabric { .. } => ManagedIdentitySource::ServiceFabric,
            Self::AppService { .. } => ManagedIdentitySource::AppService,
            Self::MachineLearning { .. } => ManagedIdentitySource::MachineLearning,
            Self::AzureArc { .. } => ManagedIdentitySource::AzureArc,
            Self::CloudShell { .. } => ManagedIdentitySource::CloudShell,
            Self::Imds { .. } => ManagedIdentitySource::Imds,
        }
    }
}

fn arc_endpoint(env: &dyn EnvironmentReader) -> Option<String> {
    if let (Some(endpoint), Some(_)) = (env.var("IDENTITY_ENDPOINT"), env.var("IMDS_ENDPOINT")) {
        return Some(endpoint);
    }
    let installed = match env.os() {
        "linux" => env.file_exists(Path::new("/opt/azcmagent/bin/himds")),
        "windows" => env.var("ProgramFiles").is_some_and(|pf| {
            env.file_exists(
                &Path::new(&pf)
                    .join("AzureConnectedMachineAgent")
                    .join("himds.exe"),
            )
        }),
        _ => false,
    };
    installed.then(|| ARC_DEFAULT_ENDPOINT.to_string())
}

/// Detects the source and reads its settings (MSAL Python's order; a variable counts as set
/// even when empty, as `"X" in os.environ` does).
pub(crate) fn detect(env: &dyn EnvironmentReader) -> Detected {
    let identity_endpoint = env.var("IDENTITY_ENDPOINT");
    let identity_header = env.var("IDENTITY_HEADER");
    if let (Some(endpoint), Some(secret)) = (&identity_endpoint, &identity_header) {
        if let Some(thumbprint) = env.var("IDENTITY_SERVER_THUMBPRINT") {
            return Detected::ServiceFabric {
                endpoint: endpoint.clone(),
                secret: secret.clone(),
                thumbprint,
            };
        }
        return Detected::AppService {
            endpoint: endpoint.clone(),
            secret: secret.clone(),
        };
    }
    if let (Some(endpoint), Some(secret)) = (env.var("MSI_ENDPOINT"), env.var("MSI_SECRET")) {
        return Detected::MachineLearning { endpoint, secret };
    }
    if let Some(endpoint) = arc_endpoint(env) {
        return Detected::AzureArc { endpoint };
    }
    if env
        .var("AZUREPS_HOST_ENVIRONMENT")
        .is_some_and(|v| v.starts_with("cloud-shell"))
    {
        return Detected::CloudShell {
            endpoint: env
                .var("MSI_ENDPOINT")
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| CLOUD_SHELL_DEFAULT_ENDPOINT.to_string()),
        };
    }
    Detected::Imds {
        host: env
            .var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| IMDS_DEFAULT_HOST.to_string()),
    }
}

/// The managed-identity source this environment selects (MSAL Python's
/// `get_managed_identity_source()`).
///
/// ```
/// use entra_msal::managed_identity::{detect_source, ManagedIdentitySource, StaticEnvironment};
/// let env = StaticEnvironment::new().with_var("MSI_ENDPOINT", "http://x").with_var("MSI_SECRET", "s");
/// assert_eq!(detect_source(&env), ManagedIdentitySource::MachineLearning);
/// assert_eq!(detect_source(&StaticEnvironment::new().with_os("linux")), ManagedIdentitySource::Imds);
/// ```
pub fn detect_source(env: &dyn EnvironmentReader) -> ManagedIdentitySource {
    detect(env).source()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed_identity::StaticEnvironment;

    fn env() -> StaticEnvironment {
        StaticEnvironment::new().with_os("linux")
    }

    #[test]
    fn detection_follows_msal_python_order() {
        use ManagedIdentitySource::*;
        let all = env()
            .with_var("IDENTITY_ENDPOINT", "https://sf")
            .with_var("IDENTITY_HEADER", "h")
            .with_var("IDENTITY_SERVER_THUMBPRINT", "t")
            .with_var("MSI_ENDPOINT", "http://ml")
            .with_var("MSI_SECRET", "s")
            .with_var("IMDS_ENDPOINT", "http://imds")
            .with_var("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0");
        assert_eq!(detect_source(&all), ServiceFabric);
        let app = env()
            .with_var("IDENTITY_ENDPOINT", "http://a")
            .with_var("IDENTITY_HEADER", "h")
            .with_var("IMDS_ENDPOINT", "http://imds");
        assert_eq!(detect_source(&app), AppService);
        let ml = env()
            .with_var("MSI_ENDPOINT", "http://ml")
            .with_var("MSI_SECRET", "")
            .with_var("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0");
        assert_eq!(detect_source(&ml), MachineLearning);
        let arc = env()
            .with_var("IDENTITY_ENDPOINT", "http://arc")
            .with_var("IMDS_ENDPOINT", "http://imds");
        assert_eq!(detect_source(&arc), AzureArc);
        let arc_installed = env().with_file("/opt/azcmagent/bin/himds");
        assert!(matches!(
            detect(&arc_installed),
            Detected::AzureArc { endpoint } if endpoint == ARC_DEFAULT_ENDPOINT
        ));
        let arc_windows = StaticEnvironment::new()
            .with_os("windows")
            .with_var("ProgramFiles", "/pf")
            .with_file("/pf/AzureConnectedMachineAgent/himds.exe");
        assert_eq!(detect_source(&arc_windows), AzureArc);
        let shell = env()
            .with_var("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")
            .with_var("MSI_ENDPOINT", "http://localhost:50342/oauth2/token");
        assert_eq!(detect_source(&shell), CloudShell);
        assert!(matches!(
            detect(&env().with_var("AZUREPS_HOST_ENVIRONMENT", "cloud-shell")),
            Detected::CloudShell { endpoint } if endpoint == CLOUD_SHELL_DEFAULT_ENDPOINT
        ));
        assert_eq!(
            detect_source(&env().with_var("AZUREPS_HOST_ENVIRONMENT", "vscode")),
            Imds
        );
        assert!(matches!(
            detect(&env().with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://pod:2579/")),
            Detected::Imds { host } if host == "http://pod:2579/"
        ));
        assert!(matches!(detect(&env()), Detected::Imds { host } if host == IMDS_DEFAULT_HOST));
    }

    #[test]
    fn debug_hides_secrets() {
        let d = detect(
            &env()
                .with_var("IDENTITY_ENDPOINT", "http://a")
                .with_var("IDENTITY_HEADER", "very-secret"),
        );
        assert!(!format!("{d:?}").contains("very-secret"));
        let e = env().with_var("IDENTITY_HEADER", "very-secret");
        assert!(!format!("{e:?}").contains("very-secret"));
    }
}
