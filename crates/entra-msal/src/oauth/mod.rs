//! The OAuth 2.0 wire protocol: one file per grant, PKCE, client assertions, responses and errors.
