//! A partition's access tokens by scope, filed under each scope's hash alone. No scope text is
//! copied into the index: filing a token with a new scope allocates nothing but the table's
//! growth, growing never reads a scope again, and a lookup compares no text here.
//!
//! Two scopes whose hashes agree share one list of holders. That only adds candidates: a lookup
//! checks every candidate's own scopes (`AccessTokens::best_of`), so it finds exactly the tokens
//! a text-keyed index would. The hash is the cache's process-seeded one (see `hash.rs`).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::hash::FastState;
use super::token_ids::TokenIds;

/// Token ids by the hash of a scope they hold.
#[derive(Default)]
pub(crate) struct ScopeIndex {
    table: HashTable<(u64, TokenIds)>,
    state: FastState,
}

impl ScopeIndex {
    /// The hash `scope` is filed under.
    fn hash(&self, scope: &str) -> u64 {
        self.state.hash_one(scope)
    }

    /// The tokens filed under `scope` (and under any scope of the same hash).
    pub(crate) fn holders(&self, scope: &str) -> Option<&TokenIds> {
        let hash = self.hash(scope);
        self.table
            .find(hash, |(h, _)| *h == hash)
            .map(|(_, ids)| ids)
    }

    /// Files token `id` under `scope`.
    pub(crate) fn add(&mut self, scope: &str, id: usize) {
        let hash = self.hash(scope);
        match self.table.find_mut(hash, |(h, _)| *h == hash) {
            Some((_, ids)) => ids.push(id),
            None => {
                self.table
                    .insert_unique(hash, (hash, TokenIds::One(id)), |(h, _)| *h);
            }
        }
    }

    /// Removes token `id` from `scope`'s holders, and the entry when none is left.
    pub(crate) fn remove(&mut self, scope: &str, id: usize) {
        let hash = self.hash(scope);
        if let Ok(mut entry) = self.table.find_entry(hash, |(h, _)| *h == hash)
            && entry.get_mut().1.remove(id)
        {
            entry.remove();
        }
    }

    /// Every list of holders, in no order.
    pub(crate) fn lists(&self) -> impl Iterator<Item = &TokenIds> {
        self.table.iter().map(|(_, ids)| ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(index: &ScopeIndex, scope: &str) -> Vec<usize> {
        let mut ids = index
            .holders(scope)
            .map_or_else(Vec::new, |held| held.as_slice().to_vec());
        ids.sort_unstable();
        ids
    }

    #[test]
    fn holders_are_filed_and_removed_per_scope() {
        let mut index = ScopeIndex::default();
        index.add("user.read", 1);
        index.add("user.read", 2);
        index.add("mail.read", 2);
        assert_eq!(ids(&index, "user.read"), [1, 2]);
        assert_eq!(ids(&index, "mail.read"), [2]);
        assert!(index.holders("files.read").is_none());
        index.remove("user.read", 1);
        assert_eq!(ids(&index, "user.read"), [2]);
        // Removing what is not held changes nothing.
        index.remove("mail.read", 7);
        index.remove("files.read", 2);
        assert_eq!(ids(&index, "mail.read"), [2]);
        index.remove("mail.read", 2);
        assert!(index.holders("mail.read").is_none());
        assert_eq!(index.lists().count(), 1);
    }

    #[test]
    fn many_scopes_survive_growth() {
        let mut index = ScopeIndex::default();
        for id in 0..5_000 {
            index.add(&format!("scope_{id}"), id);
        }
        for id in (0..5_000).step_by(3) {
            index.remove(&format!("scope_{id}"), id);
        }
        for id in 0..5_000 {
            let expected: &[usize] = if id % 3 == 0 { &[] } else { &[id] };
            assert_eq!(ids(&index, &format!("scope_{id}")), expected, "scope_{id}");
        }
        assert_eq!(index.lists().count(), 5_000 - 1_667);
    }
}
