//! Nothing here: the measurement is `tests/embed.rs`, run by `scripts/bench-embed`.
