//! The access tokens' slots in key order, kept between serializations. A persisted cache is
//! written after every token operation, which usually adds one token to hundreds: the new ones
//! are placed by binary search instead of the whole list being sorted again (a merge of a
//! thousand keys that share their first sixty bytes is a fifth of such a write).

use std::sync::{Mutex, MutexGuard};

/// Slot ids in key order, and the ids filed since that order was made.
#[derive(Debug, Default)]
pub(crate) struct KeyOrder(Mutex<Order>);

#[derive(Debug, Default)]
struct Order {
    /// In key order, as of the last [`KeyOrder::with_sorted`].
    sorted: Vec<usize>,
    /// Filed since, in no order.
    added: Vec<usize>,
    /// A slot was emptied since: the next order is made from scratch.
    stale: bool,
}

impl KeyOrder {
    /// Slot `id` was filed under a key no other slot has.
    pub(crate) fn added(&mut self, id: usize) {
        let order = self.order_mut();
        if !order.stale {
            order.added.push(id);
        }
    }

    /// A slot was emptied (its id may be filed again under another key).
    pub(crate) fn removed(&mut self) {
        let order = self.order_mut();
        order.stale = true;
        order.sorted.clear();
        order.added.clear();
    }

    /// Calls `f` with every filed slot id in key order. `key` gives a slot's key; `all` lists
    /// every filed slot id, for an order made from scratch.
    pub(crate) fn with_sorted<'k, R>(
        &self,
        key: impl Fn(usize) -> &'k str,
        all: impl FnOnce() -> Vec<usize>,
        f: impl FnOnce(&[usize]) -> R,
    ) -> R {
        let mut order = self.lock();
        let Order {
            sorted,
            added,
            stale,
        } = &mut *order;
        if *stale || added.len() * 8 > sorted.len() {
            // From scratch: after a removal, or when many were filed (a cache just read).
            *sorted = all();
            sorted.sort_unstable_by(|a, b| key(*a).cmp(key(*b)));
            added.clear();
            *stale = false;
        } else {
            for id in added.drain(..) {
                let new = key(id);
                let at = sorted.partition_point(|other| key(*other) < new);
                sorted.insert(at, id);
            }
        }
        f(sorted)
    }

    fn order_mut(&mut self) -> &mut Order {
        self.0.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Order> {
        self.0.lock().unwrap_or_else(|poisoned| {
            // A panic halfway through an update: make the order again.
            let mut order = poisoned.into_inner();
            order.stale = true;
            order
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files, renames (a removal and a new key under a freed id) and reads in turn; every read
    /// is checked against a full sort.
    #[test]
    fn the_order_is_always_the_sorted_one() {
        let mut keys: Vec<Option<String>> = Vec::new();
        let mut order = KeyOrder::default();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut random = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut fresh = 0;
        for step in 0..3_000 {
            match random(10) {
                // Mostly one new key between reads, as a file cache's writes go.
                0..=5 => {
                    fresh += 1;
                    let key = format!("-login.example-accesstoken-app-t-{}", random(1_000_000));
                    // Keys are unique: a clash is a renewal, which changes no order.
                    if keys.iter().flatten().all(|k| *k != key) {
                        let id = match keys.iter().position(Option::is_none) {
                            Some(free) => free,
                            None => {
                                keys.push(None);
                                keys.len() - 1
                            }
                        };
                        keys[id] = Some(key);
                        order.added(id);
                    }
                }
                6 if !keys.is_empty() => {
                    let id = usize::try_from(random(keys.len() as u64)).unwrap();
                    if keys[id].take().is_some() {
                        order.removed();
                    }
                }
                _ => {
                    let key = |id: usize| keys[id].as_deref().unwrap_or("");
                    let all = || (0..keys.len()).filter(|&id| keys[id].is_some()).collect();
                    let got: Vec<&str> =
                        order.with_sorted(key, all, |ids| ids.iter().map(|&id| key(id)).collect());
                    let mut expected: Vec<&str> =
                        keys.iter().flatten().map(String::as_str).collect();
                    expected.sort_unstable();
                    assert_eq!(got, expected, "step {step}");
                }
            }
        }
        assert!(fresh > 1_000);
    }
}
