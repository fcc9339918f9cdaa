//! End-to-end tests of components that are not public API (tenant and instance discovery, the
//! throttling layer, the loopback listener, the cache's query and add functions), run against the
//! emulator like the integration tests in `tests/`, whose helpers they share. They live inside
//! the crate because those components are `pub(crate)`.

#[path = "../../tests/support/mod.rs"]
mod support;

mod authority_discovery;
mod cache_interop_msal_python;
mod interactive_listener;
mod throttling;
