//! Reading an MSAL token-cache file (the unified JSON schema) as tests check it.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

/// The targets (scopes) of the access tokens in the cache file at `path`, lower-cased. Panics
/// when the file cannot be read or does not parse (showing its start), or when an access token
/// has no target.
pub fn access_token_targets(path: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the cache file {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the cache file does not parse ({e}): {text:.200}"));
    doc["AccessToken"]
        .as_object()
        .map(|ats| {
            ats.values()
                .map(|at| {
                    at["target"]
                        .as_str()
                        .expect("every access token has a target")
                        .to_lowercase()
                })
                .collect()
        })
        .unwrap_or_default()
}
