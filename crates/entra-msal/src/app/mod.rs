//! Applications: builders, request options, results, and the silent-flow algorithm shared by
//! public and confidential clients.

mod account_list;
mod auth_code;
mod brokered;
mod builder;
pub(crate) mod claims;
mod clock;
mod coalesce;
mod confidential;
mod confidential_options;
pub(crate) mod core;
mod credential_removal;
mod device_flow;
mod flows;
mod hit_memo;
mod managed_identity;
mod options;
mod prompt;
mod public;
mod region;
mod request;
pub(crate) mod result;
mod scopes;
mod ssh_certificate;
mod telemetry;

pub use account_list::AccountList;
pub use auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
pub use clock::{Clock, SystemClock};
pub use confidential::{ConfidentialClientApplication, ConfidentialClientBuilder};
pub use confidential_options::{FederatedUser, OnBehalfOfOptions, UserFicOptions};
pub use device_flow::DeviceFlow;
pub use managed_identity::{ManagedIdentityClient, ManagedIdentityClientBuilder};
pub use options::{
    AuthorizationCodeOptions, BeforeUiCallback, DeviceFlowOptions, ForClientOptions,
    InteractiveOptions, SilentOptions, UsernamePasswordOptions,
};
pub use prompt::Prompt;
pub use public::{BrokerAvailability, PublicClientApplication, PublicClientBuilder};
pub use result::{Account, AuthenticationResult, SecretToken, TokenSource};
pub use ssh_certificate::{SSH_CERT_TOKEN_TYPE, SSH_RSA_CERT_KEY_TYPE, SshCertificateRequest};
