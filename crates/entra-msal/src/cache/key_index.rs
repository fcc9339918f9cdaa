//! The access tokens' keys, indexed: each entry of the table is a slot id with its key's hash
//! beside it. Growing the table moves the pairs and never reads a key again (with thousands of
//! tokens, reading each key back is a cache miss apiece); a lookup compares keys only where
//! the hashes agree.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::hash::FastState;

/// Slot ids by their entry's key.
#[derive(Default)]
pub(crate) struct KeyIndex {
    table: HashTable<(u64, usize)>,
    state: FastState,
}

impl KeyIndex {
    /// The hash the index files `key` under.
    pub(crate) fn hash(&self, key: &str) -> u64 {
        self.state.hash_one(key)
    }

    /// The id filed under the hash `hash` whose key `is_key` recognizes.
    pub(crate) fn find(&self, hash: u64, mut is_key: impl FnMut(usize) -> bool) -> Option<usize> {
        self.table
            .find(hash, |&(h, id)| h == hash && is_key(id))
            .map(|&(_, id)| id)
    }

    /// Files `id` under `hash` (its key's: no other id may be filed under the same key).
    pub(crate) fn insert(&mut self, hash: u64, id: usize) {
        self.table.insert_unique(hash, (hash, id), |&(h, _)| h);
    }

    /// Removes `id`, filed under `hash`.
    pub(crate) fn remove(&mut self, hash: u64, id: usize) {
        if let Ok(entry) = self.table.find_entry(hash, |&(h, i)| h == hash && i == id) {
            entry.remove();
        }
    }

    /// How many ids are filed.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no id is filed.
    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Makes room for `additional` more.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.table.reserve(additional, |&(h, _)| h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_by_their_key_through_growth_and_removal() {
        let keys: Vec<String> = (0..1000).map(|i| format!("key-{i}")).collect();
        let mut index = KeyIndex::default();
        for (id, key) in keys.iter().enumerate() {
            index.insert(index.hash(key), id);
        }
        assert_eq!(index.len(), 1000);
        let find = |index: &KeyIndex, key: &str| index.find(index.hash(key), |id| keys[id] == key);
        for (id, key) in keys.iter().enumerate() {
            assert_eq!(find(&index, key), Some(id));
        }
        assert_eq!(find(&index, "key-1000"), None);
        for id in (0..1000).step_by(2) {
            index.remove(index.hash(&keys[id]), id);
        }
        // Removing what is not there changes nothing.
        index.remove(index.hash("key-0"), 0);
        assert_eq!(index.len(), 500);
        for (id, key) in keys.iter().enumerate() {
            assert_eq!(find(&index, key), (id % 2 == 1).then_some(id), "{key}");
        }
    }
}
