//! The OAuth 2.0 wire protocol: one file per grant, PKCE, client credentials and assertions,
//! token-response parsing and Entra error bodies. Nothing here touches the token cache.

pub mod assertion;
pub mod assertion_source;
pub mod credential;
mod form_body;
pub(crate) mod form_memo;
pub mod grants;
mod legacy_pem;
pub mod pkce;
mod plain_response;
pub mod response;
mod response_fields;
pub mod transport;
pub(crate) mod wstrust;

pub use assertion::CertificateCredential;
pub(crate) use assertion_source::{AssertionFile, MemoizedAssertion};
pub use credential::AssertionRequest;
pub(crate) use credential::{ClientCredential, ClientSecret};
pub use response::TokenResponse;
