//! Applications: builders, request options, results, and the silent-flow algorithm shared by
//! public and confidential clients.

mod auth_code;
mod brokered;
mod builder;
pub(crate) mod claims;
mod clock;
mod coalesce;
mod confidential;
pub(crate) mod core;
mod device_flow;
mod flows;
mod hit_memo;
mod managed_identity;
mod options;
mod prompt;
mod public;
mod request;
pub(crate) mod result;
mod scopes;

pub use auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
pub use clock::{Clock, SystemClock};
pub use confidential::{ConfidentialClientApplication, ConfidentialClientBuilder};
pub use device_flow::DeviceFlow;
pub use managed_identity::{ManagedIdentityClient, ManagedIdentityClientBuilder};
pub use options::{BeforeUiCallback, ForClientOptions, InteractiveOptions, SilentOptions};
pub use prompt::Prompt;
pub use public::{BrokerAvailability, PublicClientApplication, PublicClientBuilder};
pub use result::{Account, AuthenticationResult, SecretToken, TokenSource};
