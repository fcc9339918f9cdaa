//! `GET /common/userrealm/{user}`: home realm discovery (managed, federated or unknown).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// Reports whether the user's domain is managed by a tenant, federated, or unknown.
pub async fn userrealm(State(state): State<Arc<AppState>>, Path(user): Path<String>) -> Response {
    let domain = user
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("")
        .to_ascii_lowercase();
    let tenants = &state.directory.config().tenants;
    let federated = tenants.iter().any(|t| {
        t.federated_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
    });
    let managed = tenants
        .iter()
        .any(|t| t.domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)));
    let mut body = json!({
        "ver": "1.0",
        "account_type": if federated { "Federated" } else if managed { "Managed" } else { "Unknown" },
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    });
    if federated {
        body["federation_protocol"] = json!("WSTrust");
        body["federation_metadata_url"] =
            json!(format!("{}{}", state.base_url, super::mex::MEX_PATH));
        body["federation_active_auth_url"] =
            json!(format!("{}{}", state.base_url, super::mex::TRUST_2005_PATH));
    }
    Json(body).into_response()
}
