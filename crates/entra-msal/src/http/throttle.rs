//! MSAL's throttling and HTTP response cache.
