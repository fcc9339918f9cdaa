//! The HTTP endpoints, one file per Entra endpoint family.

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod grants;
pub mod logout;
pub mod managed_identity;
pub mod mex;
pub mod pages;
pub mod token;
pub mod userrealm;
pub mod wstrust;

use std::collections::BTreeMap;

use axum::http::HeaderMap;

use crate::directory::TenantSegment;
use crate::errors::{self, EntraError};
use crate::state::AppState;

/// A parsed `application/x-www-form-urlencoded` body; the first value of a repeated name wins.
#[derive(Debug, Clone, Default)]
pub struct Form(pub BTreeMap<String, String>);

impl Form {
    /// Parses a POST body, insisting on the form content type as Entra does.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, EntraError> {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(EntraError::new(
                errors::WRONG_CONTENT_TYPE,
                &[if content_type.is_empty() {
                    "(none)"
                } else {
                    content_type
                }],
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &[&format!("The body is not a valid form: {e}")],
            )
        })?;
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k).or_insert(v);
        }
        Ok(Self(map))
    }

    /// A non-empty value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required value, or AADSTS900144.
    pub fn require(&self, name: &str) -> Result<&str, EntraError> {
        self.get(name)
            .ok_or_else(|| EntraError::new(errors::MISSING_PARAMETER, &[name]))
    }
}

/// Resolves the tenant segment of the URL, or AADSTS90002.
pub fn resolve_tenant(state: &AppState, segment: &str) -> Result<TenantSegment, EntraError> {
    state
        .directory
        .tenant_segment(segment)
        .ok_or_else(|| EntraError::new(errors::TENANT_NOT_FOUND, &[segment]))
}
