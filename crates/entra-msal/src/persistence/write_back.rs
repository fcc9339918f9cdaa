//! When a persistent cache listener writes: the token operations running on the cache, and
//! whether a write is still owed. Shared by [`PersistentTokenCache`](super::PersistentTokenCache)
//! and the Redis listener.

/// The write-back bookkeeping of one cache listener.
#[derive(Debug, Default)]
pub(super) struct WriteBack {
    /// Token operations in progress on the cache.
    depth: usize,
    /// A write failed, or ran while another operation was still going: write at the next end.
    owed: bool,
}

impl WriteBack {
    /// A token operation starts; `true` when it is the only one running.
    pub(super) fn enter(&mut self) -> bool {
        self.depth += 1;
        self.depth == 1
    }

    /// Changes are in memory that have not been written.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn owe(&mut self) {
        self.owed = true;
    }

    /// Whether the operation that ends must write: it changed the cache, or a write is owed.
    pub(super) fn must_write(&self, changed: bool) -> bool {
        changed || self.owed
    }

    /// Records a write's outcome. After a failure the write is still owed. After a success it
    /// is too while other operations are still running: one of them may have changed the cache
    /// after this write without its flag surviving it, so the last one writes again.
    pub(super) fn wrote(&mut self, ok: bool) {
        self.owed = !ok || self.depth > 1;
    }

    /// A token operation ends; `true` when it was the last one running.
    pub(super) fn leave(&mut self) -> bool {
        self.depth = self.depth.saturating_sub(1);
        self.depth == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_operation_writes_again_after_a_nested_or_failed_write() {
        let mut w = WriteBack::default();
        assert!(w.enter());
        assert!(!w.enter());
        assert!(w.must_write(true));
        w.wrote(true);
        assert!(!w.leave());
        assert!(w.must_write(false), "written while another operation ran");
        w.wrote(true);
        assert!(w.leave());
        assert!(!w.must_write(false));

        assert!(w.enter());
        w.wrote(false);
        assert!(w.leave());
        assert!(w.must_write(false), "a failed write is owed");
        w.owe();
        w.wrote(true);
        assert!(!w.must_write(false));
        assert!(w.leave(), "never below zero");
    }
}
