//! On-behalf-of (`acquire_token_on_behalf_of`): a web API exchanges its caller's token for one
//! to a downstream API; repeated calls with the same assertion are answered from the cache,
//! unless a claims challenge is forwarded (it goes to the network, merged with the client
//! capabilities). Forwarded client claims key the cached token by their value.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::super::claims::Forwarded;
use super::super::confidential_options::OnBehalfOfOptions;
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::result::AuthenticationResult;
use crate::error::Error;
use crate::oauth::grants;

/// Runs the flow. `obo_accounts` maps a hash of each assertion seen to the home account id the
/// cache filed for it.
pub(crate) async fn run(
    core: &ClientCore,
    obo_accounts: &Mutex<HashMap<String, String>>,
    user_assertion: &str,
    scopes: &[&str],
    options: &OnBehalfOfOptions,
) -> Result<AuthenticationResult, Error> {
    let forwarded = Forwarded::new(options.forwarded_client_claims.as_deref())?;
    let mut request = core.begin(scopes, options.claims_challenge.as_deref())?;
    request.claims = forwarded.merge_into(request.claims.take())?;
    let ext_key = forwarded.ext_cache_key(&Default::default());
    let use_cache = options.claims_challenge.is_none();
    let assertion_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(user_assertion.as_bytes()));
    let known = obo_accounts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&assertion_hash)
        .cloned();
    CacheAccess::around(&core.cache, known.as_deref(), async {
        let endpoints = core.endpoints().await?;
        if use_cache && let Some(hid) = &known {
            let hit = core.cached_token(
                &endpoints.realm,
                Some(hid),
                &request.scopes,
                ext_key.as_deref(),
                None,
            );
            if let Some(at) = hit {
                let account = core
                    .accounts(None)
                    .iter()
                    .find(|a| &a.home_account_id == hid)
                    .cloned();
                return Ok(core.result_from_cache(&at, account, request.correlation_id_if_sent()));
            }
        }
        let form = grants::on_behalf_of(
            &core.client_id,
            user_assertion,
            &request.decorated,
            request.claims.as_deref(),
        );
        let response = core
            .send(&request, &endpoints.token_endpoint, form, Vec::new())
            .await?;
        let result = core.finish(&Issued {
            ext_cache_key: ext_key.as_deref(),
            ..Issued::response(
                &endpoints,
                &response,
                &request.decorated,
                GrantType::OnBehalfOf,
                core.now(),
                request.correlation_id(),
            )
        })?;
        // The next call with this assertion looks for the account just filed.
        if let Some(account) = &result.account {
            obo_accounts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(assertion_hash, account.home_account_id.clone());
        }
        Ok(result)
    })
    .await
}
