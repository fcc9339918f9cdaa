//! Removing one kind of credential of one account from a [`TokenCache`] (MSAL Python's
//! `TokenCache.remove_at`, `remove_rt` and `remove_idt`), for tools that manage a cache: the
//! entries are chosen by account and client rather than handed over one by one, since the cache's
//! entries are not part of the API.
//!
//! Each removal is one cache access: the listener's hooks run around it, so a persistent cache
//! writes the removal to its store.

use super::result::Account;
use crate::cache::{CredentialKind, TokenCache};

impl TokenCache {
    /// Removes `account`'s access tokens issued to `client_id` (every tenant, every scope set,
    /// in the account's environment). Returns how many were removed.
    pub fn remove_access_tokens(&self, account: &Account, client_id: &str) -> usize {
        self.remove_account_credentials(CredentialKind::Access, account, client_id)
    }

    /// Removes `account`'s refresh tokens issued to `client_id` (in the account's environment;
    /// a family refresh token filed under another client is kept). Returns how many were
    /// removed. Silent requests for the account then need a new sign-in once its access tokens
    /// expire.
    pub fn remove_refresh_tokens(&self, account: &Account, client_id: &str) -> usize {
        self.remove_account_credentials(CredentialKind::Refresh, account, client_id)
    }

    /// Removes `account`'s ID tokens issued to `client_id` (every tenant, in the account's
    /// environment). Returns how many were removed.
    pub fn remove_id_tokens(&self, account: &Account, client_id: &str) -> usize {
        self.remove_account_credentials(CredentialKind::Id, account, client_id)
    }

    fn remove_account_credentials(
        &self,
        kind: CredentialKind,
        account: &Account,
        client_id: &str,
    ) -> usize {
        self.before_partition_access(Some(&account.home_account_id));
        let removed = self.remove_credentials(
            kind,
            &account.environment,
            &account.home_account_id,
            client_id,
        );
        self.after_access();
        removed
    }
}
