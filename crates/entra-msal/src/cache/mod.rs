//! The token cache: the unified schema, MSAL-compatible JSON, and an indexed in-memory store.
