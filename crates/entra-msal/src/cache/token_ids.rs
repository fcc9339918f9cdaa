//! The tokens of one partition that hold one scope (the scope index's entries): usually a single
//! token, kept inline, so indexing a new scope allocates no list.

/// Slot ids of the tokens that hold one scope, without repeats.
#[derive(Debug, Clone)]
pub(crate) enum TokenIds {
    /// The usual case: one token.
    One(usize),
    /// Any other number, none included (after removals).
    Many(Vec<usize>),
}

impl Default for TokenIds {
    /// No token.
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl TokenIds {
    /// The ids, in the order they were added (until a removal swaps the last into its place).
    pub(crate) fn as_slice(&self) -> &[usize] {
        match self {
            Self::One(id) => std::slice::from_ref(id),
            Self::Many(ids) => ids,
        }
    }

    /// How many tokens hold the scope.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Adds `id`.
    pub(crate) fn push(&mut self, id: usize) {
        match self {
            Self::One(first) => *self = Self::Many(vec![*first, id]),
            Self::Many(ids) if ids.is_empty() => *self = Self::One(id),
            Self::Many(ids) => ids.push(id),
        }
    }

    /// Removes `id` (if held); answers whether no token is left.
    pub(crate) fn remove(&mut self, id: usize) -> bool {
        match self {
            Self::One(only) if *only == id => *self = Self::default(),
            Self::One(_) => {}
            Self::Many(ids) => {
                if let Some(pos) = ids.iter().position(|held| *held == id) {
                    ids.swap_remove(pos);
                }
            }
        }
        self.as_slice().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_added_and_removed_as_a_list_would_be() {
        let mut ids = TokenIds::One(4);
        assert_eq!(ids.as_slice(), [4]);
        ids.push(7);
        ids.push(9);
        assert_eq!(ids.as_slice(), [4, 7, 9]);
        assert!(!ids.remove(4));
        assert_eq!(ids.as_slice(), [9, 7]);
        assert!(!ids.remove(5));
        assert!(!ids.remove(9));
        assert!(ids.remove(7));
        assert_eq!(ids.len(), 0);
        ids.push(3);
        assert!(matches!(ids, TokenIds::One(3)));
        assert!(!ids.remove(8));
        assert!(ids.remove(3));
    }
}
