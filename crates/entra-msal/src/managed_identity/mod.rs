//! Managed identity: which identity, which source the host offers, and one request codec per
//! source.
//!
//! Code running on Azure gets tokens without any secret of its own through the host's managed
//! identity endpoint. [`ManagedIdentityClient`](crate::app::ManagedIdentityClient) detects the
//! endpoint from the environment ([`detect_source`], MSAL Python's order) and speaks its dialect:
//!
//! | source | detected by | request |
//! |---|---|---|
//! | [Service Fabric](ManagedIdentitySource::ServiceFabric) | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` | HTTPS GET, api-version `2019-07-01-preview`, header `Secret`, certificate pinned to the thumbprint |
//! | [App Service / Functions](ManagedIdentitySource::AppService) | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | GET, `2019-08-01`, `X-IDENTITY-HEADER`, `mi_res_id` |
//! | [Machine Learning](ManagedIdentitySource::MachineLearning) | `MSI_ENDPOINT` + `MSI_SECRET` | GET, `2017-09-01`, header `secret`, `clientid` |
//! | [Azure Arc](ManagedIdentitySource::AzureArc) | `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the agent installed | GET, `2020-06-01`, 401 challenge, key file, `Authorization: Basic` |
//! | [Cloud Shell](ManagedIdentitySource::CloudShell) | `AZUREPS_HOST_ENVIRONMENT=cloud-shell…` | POST form `resource` to `MSI_ENDPOINT` |
//! | [IMDS](ManagedIdentitySource::Imds) | otherwise | GET `{AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254}/metadata/identity/oauth2/token`, `2018-02-01` |
//!
//! The environment is read through an [`EnvironmentReader`], so tests and unusual hosts can
//! supply it ([`StaticEnvironment`]) instead of the process's variables.

pub(crate) mod app_service;
pub(crate) mod arc;
pub(crate) mod cloud_shell;
mod env;
mod error;
mod identity;
pub(crate) mod imds;
pub(crate) mod machine_learning;
#[cfg(feature = "reqwest")]
pub(crate) mod pinned_tls;
#[cfg(not(feature = "reqwest"))]
#[path = "pinned_tls_unavailable.rs"]
pub(crate) mod pinned_tls;
pub(crate) mod service_fabric;
mod source;
mod wire;

pub use env::{EnvironmentReader, ProcessEnvironment, StaticEnvironment};
pub use error::{ManagedIdentityError, ManagedIdentityErrorKind};
pub use identity::{ManagedIdentity, UserAssignedId};
pub(crate) use source::CLOUD_SHELL_DEFAULT_ENDPOINT;
pub use source::{ManagedIdentitySource, detect_source};

pub(crate) use source::{Detected, detect};
pub(crate) use wire::MiToken;

/// The per-source codecs, for the client.
pub(crate) mod codecs {
    pub(crate) use super::{
        app_service, arc, cloud_shell, imds, machine_learning, pinned_tls, service_fabric,
    };
}
