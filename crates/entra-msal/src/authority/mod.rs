//! Authorities: the cloud hosts and [`AuthorityBuilder`], parsing and classification
//! ([`Authority`]), and tenant discovery ([`discover`]).
//!
//! An [`Authority`] is parsed without I/O. Its [`Endpoints`] are discovered on an application's
//! first request and kept 24 h in a process-wide cache shared by every application, so
//! concurrent first calls make one request; [`discover`] runs the same discovery for tools.
//!
//! The rules follow MSAL Python 1.39 (`msal/authority.py`), with these improvements: the port is
//! kept in every URL built from the authority (MSAL drops it from instance discovery), discovery is
//! lazy, concurrent discoveries are coalesced, and failures are typed [`Error`](crate::Error)s.
//!
//! ```
//! use entra_msal::authority::{Authority, AuthorityType};
//!
//! let authority = Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com/", false)?;
//! assert_eq!(authority.authority_type(), AuthorityType::Aad);
//! assert_eq!(authority.tenant(), "contoso.onmicrosoft.com");
//! assert_eq!(
//!     authority.discovery_url(),
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
//! );
//! # Ok::<(), entra_msal::Error>(())
//! ```
//!
//! Testing against a local authority: pass `instance_discovery: false` (as with MSAL Python), or
//! route `login.microsoftonline.com` to the local server in your
//! [`HttpClient`](crate::http::HttpClient); the library itself always asks Microsoft's real hosts.

mod builder;
pub(crate) mod discovery;
mod hosts;
pub(crate) mod instance;
mod issuer;
mod memo;
mod parse;
mod region;
pub(crate) mod user_realm;
pub(crate) mod wire;

pub use builder::{
    AZURE_CHINA, AZURE_GOV_DE, AZURE_GOV_FR, AZURE_GOV_SG, AZURE_PUBLIC, AZURE_US_GOVERNMENT,
    AuthorityBuilder,
};
pub use discovery::{Endpoints, discover};
pub use instance::DiscoveryOptions;
pub use parse::{Authority, AuthorityType};

pub(crate) use discovery::{resolve_endpoints, resolve_endpoints_until};
pub(crate) use instance::{aliases, known_aliases};
pub(crate) use region::{is_valid_region, regional_token_endpoint};
pub(crate) use user_realm::{FederatedRealm, UserRealm, federation_url_allowed, user_realm};
