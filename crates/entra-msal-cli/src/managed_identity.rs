//! `--managed-identity` around the library: which source this environment selects and the
//! variables behind it (for `msal doctor` and the hints), and the exit code and next step of
//! each managed-identity failure.

use entra_msal::Error;
use entra_msal::managed_identity::{
    EnvironmentReader, ManagedIdentityErrorKind, ManagedIdentitySource, ProcessEnvironment,
    detect_source,
};

use crate::failure::{Failure, Kind};

/// The environment variables that select `source` and configure its endpoint, in the order
/// MSAL reads them.
pub fn variables(source: ManagedIdentitySource) -> &'static [&'static str] {
    match source {
        ManagedIdentitySource::ServiceFabric => &[
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "IDENTITY_SERVER_THUMBPRINT",
        ],
        ManagedIdentitySource::AppService => &["IDENTITY_ENDPOINT", "IDENTITY_HEADER"],
        ManagedIdentitySource::MachineLearning => &["MSI_ENDPOINT", "MSI_SECRET"],
        ManagedIdentitySource::AzureArc => &["IDENTITY_ENDPOINT", "IMDS_ENDPOINT"],
        ManagedIdentitySource::CloudShell => &["AZUREPS_HOST_ENVIRONMENT", "MSI_ENDPOINT"],
        _ => &["AZURE_POD_IDENTITY_AUTHORITY_HOST"],
    }
}

/// The variables whose values are secrets (shown as "set", never printed).
fn is_secret(name: &str) -> bool {
    matches!(name, "IDENTITY_HEADER" | "MSI_SECRET")
}

/// The `entra-emulator serve --managed-identity` value that serves `source`.
pub fn emulator_name(source: ManagedIdentitySource) -> &'static str {
    match source {
        ManagedIdentitySource::ServiceFabric => "service-fabric",
        ManagedIdentitySource::AppService => "app-service",
        ManagedIdentitySource::MachineLearning => "machine-learning",
        ManagedIdentitySource::AzureArc => "azure-arc",
        ManagedIdentitySource::CloudShell => "cloud-shell",
        _ => "imds",
    }
}

/// The source this process's environment selects.
pub fn detected() -> ManagedIdentitySource {
    detect_source(&ProcessEnvironment)
}

/// `name=value` for each variable of `source` (secrets as `set`), for `msal doctor`.
pub fn variable_lines(source: ManagedIdentitySource) -> Vec<(String, String)> {
    let env = ProcessEnvironment;
    variables(source)
        .iter()
        .map(|name| {
            let value = match env.var(name) {
                Some(v) if is_secret(name) && !v.is_empty() => "set (a secret, not shown)".into(),
                Some(v) => v,
                None => "(not set)".into(),
            };
            ((*name).to_string(), value)
        })
        .collect()
}

/// Where a request to `source` goes, and how to point it somewhere else.
fn endpoint_hint(source: ManagedIdentitySource) -> String {
    let how = match source {
        ManagedIdentitySource::Imds => {
            "no managed-identity variables are set, so the request went to the Instance Metadata Service (169.254.169.254), which only Azure VMs, scale sets and AKS nodes have".to_string()
        }
        s => format!(
            "the {s} endpoint comes from {}",
            variables(s).join(", ")
        ),
    };
    format!(
        "{how}; run this on an Azure host with a managed identity, or serve one locally with `entra-emulator serve --managed-identity {}` and export the variables it prints; `msal doctor` shows the detected source and its variables",
        emulator_name(source)
    )
}

/// The failure of a `--managed-identity` request: the library's error with an exit code and a
/// next step that speak of the managed-identity endpoint (never of the authority or
/// `--ca-file`, which it does not use).
pub fn failure(e: Error) -> Failure {
    let source = match &e {
        Error::ManagedIdentity(mi) => mi.source,
        _ => detected(),
    };
    let (kind, next) = match &e {
        Error::Network { .. } => (
            Kind::Network,
            format!("the {source} managed-identity endpoint cannot be reached: {}", endpoint_hint(source)),
        ),
        Error::Configuration { .. } | Error::Unsupported { .. } => (
            Kind::Configuration,
            format!("fix the managed-identity settings: {}", endpoint_hint(source)),
        ),
        Error::Throttled { .. } => (
            Kind::Service,
            "the endpoint is throttling: wait for the time given above, then try again".into(),
        ),
        Error::ManagedIdentity(mi) => match mi.kind {
            ManagedIdentityErrorKind::Configuration
            | ManagedIdentityErrorKind::PlatformNotSupported => (
                Kind::Configuration,
                format!(
                    "fix what the error names: the {source} settings are {} and --client-id, --resource-id or --object-id; `msal doctor` shows the detected source and its variables",
                    variables(source).join(", ")
                ),
            ),
            ManagedIdentityErrorKind::CertificateMismatch => (
                Kind::Network,
                "the Service Fabric endpoint's TLS certificate is not the one IDENTITY_SERVER_THUMBPRINT pins: check IDENTITY_ENDPOINT and IDENTITY_SERVER_THUMBPRINT (both come from the Service Fabric runtime)".into(),
            ),
            ManagedIdentityErrorKind::Unavailable => (
                Kind::Network,
                "the endpoint failed; try again later".into(),
            ),
            ManagedIdentityErrorKind::Refused => (
                Kind::Service,
                "check that the identity is attached to this host (a user-assigned one by --client-id, --resource-id or --object-id) and the --scope's resource".into(),
            ),
            _ => (
                Kind::Service,
                format!("the endpoint answered something unexpected; run with --verbose: {}", endpoint_hint(source)),
            ),
        },
        _ => return Failure::from(e),
    };
    let mut f = Failure::from(e);
    f.kind = kind;
    f.next = Some(next);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use entra_msal::managed_identity::StaticEnvironment;

    #[test]
    fn every_source_has_variables_and_an_emulator_name() {
        for (env, source) in [
            (
                StaticEnvironment::new()
                    .with_os("linux")
                    .with_var("MSI_ENDPOINT", "http://x")
                    .with_var("MSI_SECRET", "s"),
                ManagedIdentitySource::MachineLearning,
            ),
            (
                StaticEnvironment::new().with_os("linux"),
                ManagedIdentitySource::Imds,
            ),
        ] {
            assert_eq!(detect_source(&env), source);
            assert!(!variables(source).is_empty());
            assert!(!emulator_name(source).is_empty());
        }
        assert!(is_secret("IDENTITY_HEADER") && !is_secret("IDENTITY_ENDPOINT"));
    }

    #[test]
    fn network_failures_speak_of_the_endpoint_not_the_authority() {
        let f = failure(Error::Network {
            url: "http://127.0.0.1:1/msi/token".into(),
            message: "connection refused".into(),
            timeout: false,
            source: None,
        });
        assert_eq!(f.kind.code(), 6);
        let next = f.next.unwrap();
        assert!(next.contains("managed-identity endpoint"), "{next}");
        assert!(
            !next.contains("--ca-file") && !next.contains("authority URL"),
            "{next}"
        );
        let config = failure(Error::Configuration {
            message: "x".into(),
            source: None,
        });
        assert_eq!(config.kind.code(), 3);
    }
}
