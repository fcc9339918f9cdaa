//! A fast hasher for the cache's internal indexes.
//!
//! Index keys are long (an AccessToken key is often over 100 bytes) and every entity is hashed
//! several times when a large cache is loaded, so SipHash dominated `deserialize`. This hasher
//! mixes 8 bytes per multiply and finishes with an avalanche step. It is seeded once per
//! process from the standard library's random state, so colliding keys cannot be precomputed;
//! the keys come from the application's own configuration, its identity provider and its own
//! cache file.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A `HashMap` with the fast hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` with the fast hasher.
pub(crate) type FastSet<K> = HashSet<K, FastState>;

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x5eed_u64) | 1)
}

/// Builds [`FastHasher`]s with the process seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        Self {
            seed: process_seed(),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}

/// The hasher state.
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // The length first: the last word is padded with zeros, and only the length keeps
        // a text that ends in zeros apart from a shorter one (tagging the last word instead
        // cannot work: full words take every value, so `scope_2` once met `scope_28`).
        self.mix(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i) | 0x100);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_close_keys() {
        let state = FastState::default();
        let keys = [
            "",
            "a",
            "ab",
            "ab\0",
            "ba",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            // A last word of seven bytes against a full one that adds an `8` (0x38).
            "scope_2",
            "scope_28",
            "abcdefghijklmno",
            "abcdefghijklmno8",
        ];
        let hashes: FastSet<u64> = keys.iter().map(|k| state.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
        assert_eq!(
            state.hash_one("same"),
            FastState::default().hash_one("same")
        );
    }
}
