//! The user federated identity credential grant (`user_fic`, MSAL Python 1.37): a confidential
//! client exchanges a federated identity credential (an agent's token for
//! `api://AzureADTokenExchange`) for a named user's tokens, filed like a sign-in with
//! `account_source = "user_fic"`.

use super::super::claims::Forwarded;
use super::super::confidential_options::{FederatedUser, UserFicOptions};
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued, anchor_mailbox};
use super::super::result::AuthenticationResult;
use crate::error::Error;
use crate::oauth::grants::{self, UserFicSubject};

/// Runs the flow.
pub(crate) async fn run(
    core: &ClientCore,
    scopes: &[&str],
    credential: &str,
    user: &FederatedUser,
    options: &UserFicOptions,
) -> Result<AuthenticationResult, Error> {
    if credential.trim().is_empty() {
        return Err(Error::configuration(
            "the federated identity credential (assertion) is empty".into(),
        ));
    }
    let (subject, anchor) = match user {
        FederatedUser::Username(name) if !name.trim().is_empty() => {
            (UserFicSubject::Username(name), format!("upn:{name}"))
        }
        FederatedUser::ObjectId(oid) if !oid.trim().is_empty() => (
            UserFicSubject::ObjectId(oid),
            format!("Oid:{oid}@{}", core.authority.tenant()),
        ),
        _ => {
            return Err(Error::configuration(
                "name the user by a non-empty username or object id".into(),
            ));
        }
    };
    let forwarded = Forwarded::new(options.forwarded_client_claims.as_deref())?;
    let mut request = core.begin(scopes, options.claims_challenge.as_deref())?;
    request.claims = forwarded.merge_into(request.claims.take())?;
    let ext_key = forwarded.ext_cache_key(&Default::default());
    CacheAccess::around(&core.cache, None, async {
        let endpoints = core.endpoints().await?;
        let form = grants::user_fic(
            &core.client_id,
            credential,
            subject,
            &request.decorated,
            request.claims.as_deref(),
        );
        let headers = anchor_mailbox(anchor);
        let response = core
            .send(&request, &endpoints.token_endpoint, form, headers)
            .await?;
        core.finish(&Issued {
            ext_cache_key: ext_key.as_deref(),
            ..Issued::response(
                &endpoints,
                &response,
                &request.decorated,
                GrantType::UserFic,
                core.now(),
                request.correlation_id(),
            )
        })
    })
    .await
}
