//! The per-call options of the confidential client's user flows: on-behalf-of and the
//! user federated identity credential (`user_fic`) grant.

/// Options of
/// [`ConfidentialClientApplication::acquire_token_on_behalf_of_with`](super::ConfidentialClientApplication::acquire_token_on_behalf_of_with).
#[derive(Debug, Clone, Default)]
pub struct OnBehalfOfOptions {
    /// A claims challenge from the downstream API (e.g. Conditional Access); skips the cache
    /// and is merged with the client capabilities.
    pub claims_challenge: Option<String>,
    /// Client-originated claims (a JSON object) merged into the `claims` parameter; unlike a
    /// claims challenge they keep the cache, keyed by their value (MSAL Python's
    /// `forwarded_client_claims`).
    pub forwarded_client_claims: Option<String>,
}

/// The user a `user_fic` token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederatedUser {
    /// By user principal name (`username` on the wire, `X-AnchorMailbox: upn:<name>`).
    Username(String),
    /// By object id in the authority's tenant (`user_id` on the wire).
    ObjectId(String),
}

/// Options of
/// [`ConfidentialClientApplication::acquire_token_by_user_federated_identity_credential`](super::ConfidentialClientApplication::acquire_token_by_user_federated_identity_credential).
#[derive(Debug, Clone, Default)]
pub struct UserFicOptions {
    /// A claims challenge, merged with the client capabilities.
    pub claims_challenge: Option<String>,
    /// Client-originated claims (a JSON object) merged into the `claims` parameter; they key
    /// the cached token by their value (MSAL Python's `forwarded_client_claims`).
    pub forwarded_client_claims: Option<String>,
}
