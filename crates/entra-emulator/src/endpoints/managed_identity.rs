//! Managed-identity endpoints: every source MSAL's `ManagedIdentityClient` talks to, each with
//! its own dialect, served next to the emulator.
//!
//! Like the real ones, IMDS, App Service, Machine Learning, Azure Arc and Cloud Shell are plain
//! HTTP on a local port; Service Fabric is HTTPS with a self-signed certificate that clients pin
//! by its SHA-1 thumbprint. Azure Arc writes a fresh secret into a `.key` file of the configured
//! key directory and answers the first request with `401` and
//! `WWW-Authenticate: Basic realm=<that file>`; the secret is accepted once.
//!
//! | source | path | checks |
//! |---|---|---|
//! | IMDS | `GET /metadata/identity/oauth2/token` | `Metadata: true`, api-version `2018-02-01`, `client_id`/`msi_res_id`/`object_id` |
//! | App Service | `GET /msi/token` | `X-IDENTITY-HEADER`, api-version `2019-08-01`, `client_id`/`mi_res_id`/`object_id` |
//! | Machine Learning | `GET /ml/token` | header `secret`, api-version `2017-09-01`, `clientid`/`msi_res_id`/`object_id` |
//! | Azure Arc | `GET /arc/metadata/identity/oauth2/token` | `Metadata: true`, api-version `2020-06-01`, the key-file challenge |
//! | Cloud Shell | `POST /cloudshell/oauth2/token` | `Metadata: true`, form `resource`; a token for the first user |
//! | Service Fabric (HTTPS) | `GET /servicefabric/token` | header `Secret`, api-version `2019-07-01-preview` |
//! | IMDS instance metadata (region detection) | `GET /metadata/instance/compute` (JSON), `GET /metadata/instance/compute/location?format=text` | `Metadata: true`, an api-version; the configured `location` |
//!
//! Every request goes through the emulator's request log and scripted faults (match them with
//! `path_contains`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::crypto::random_token;
use crate::jwt;
use crate::listener::{accept_loop, entra_layer};
use crate::startup::EmulatorError;
use crate::state::AppState;

/// One managed identity the emulated host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiIdentity {
    /// Client (application) id.
    pub client_id: String,
    /// Object (principal) id.
    pub object_id: String,
    /// ARM resource id.
    pub resource_id: String,
}

impl MiIdentity {
    fn derived(name: &str) -> Self {
        let id = |kind: &str| {
            uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("mi:{kind}:{name}").as_bytes(),
            )
            .to_string()
        };
        Self {
            client_id: id("client"),
            object_id: id("object"),
            resource_id: format!(
                "/subscriptions/00000000-0000-0000-0000-00000000e1a0/resourceGroups/emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
            ),
        }
    }
}

/// The managed identities of the emulated host, and how the endpoints behave.
#[derive(Debug, Clone)]
pub struct ManagedIdentityConfig {
    /// The system-assigned identity.
    pub system_assigned: MiIdentity,
    /// User-assigned identities attached to the host.
    pub user_assigned: Vec<MiIdentity>,
    /// Where Azure Arc writes its key files (the directory the client must read them from).
    /// `None`: the Arc endpoint answers 500.
    pub arc_key_directory: Option<PathBuf>,
    /// Token lifetime in seconds (default 86400, as IMDS; `>= 7200` makes clients refresh at
    /// half-life).
    pub token_lifetime_seconds: u64,
    /// Behave like a legacy Arc agent: ignore the user-assigned selection and echo nothing.
    pub arc_legacy_agent: bool,
    /// Write Arc key files of this many bytes instead of a short secret (tests of the 4096-byte
    /// limit).
    pub arc_key_file_bytes: Option<usize>,
    /// The Azure region IMDS's instance metadata reports as the host's `location` (region
    /// auto-detection); `None`: the instance-metadata endpoints answer 404, as off Azure.
    pub location: Option<String>,
}

impl Default for ManagedIdentityConfig {
    /// A system-assigned identity and two user-assigned ones (`uami-one`, `uami-two`) with fixed
    /// ids; no Arc key directory; located in `westus2`.
    fn default() -> Self {
        Self {
            system_assigned: MiIdentity::derived("system"),
            user_assigned: vec![
                MiIdentity::derived("uami-one"),
                MiIdentity::derived("uami-two"),
            ],
            arc_key_directory: None,
            token_lifetime_seconds: 86400,
            arc_legacy_agent: false,
            arc_key_file_bytes: None,
            location: Some("westus2".to_string()),
        }
    }
}

struct MiState {
    app: Arc<AppState>,
    config: ManagedIdentityConfig,
    secret: String,
    arc_secrets: Mutex<HashMap<String, PathBuf>>,
}

/// The running managed-identity endpoints. Dropping it stops them.
pub struct ManagedIdentityServer {
    state: Arc<MiState>,
    http_base: String,
    https_base: String,
    thumbprint: String,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for ManagedIdentityServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityServer")
            .field("http_base", &self.http_base)
            .field("https_base", &self.https_base)
            .finish_non_exhaustive()
    }
}

impl Drop for ManagedIdentityServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl ManagedIdentityServer {
    /// The configuration in force.
    pub fn config(&self) -> &ManagedIdentityConfig {
        &self.state.config
    }

    /// The secret App Service, Machine Learning and Service Fabric expect
    /// (`IDENTITY_HEADER` / `MSI_SECRET`).
    pub fn secret(&self) -> &str {
        &self.state.secret
    }

    /// `http://127.0.0.1:PORT`: the IMDS host (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub fn imds_host(&self) -> &str {
        &self.http_base
    }

    /// App Service's `IDENTITY_ENDPOINT`.
    pub fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.http_base)
    }

    /// Machine Learning's `MSI_ENDPOINT`.
    pub fn machine_learning_endpoint(&self) -> String {
        format!("{}/ml/token", self.http_base)
    }

    /// Azure Arc's `IDENTITY_ENDPOINT`.
    pub fn arc_endpoint(&self) -> String {
        format!("{}/arc/metadata/identity/oauth2/token", self.http_base)
    }

    /// Cloud Shell's `MSI_ENDPOINT`.
    pub fn cloud_shell_endpoint(&self) -> String {
        format!("{}/cloudshell/oauth2/token", self.http_base)
    }

    /// Service Fabric's `IDENTITY_ENDPOINT` (HTTPS).
    pub fn service_fabric_endpoint(&self) -> String {
        format!("{}/servicefabric/token", self.https_base)
    }

    /// Service Fabric's `IDENTITY_SERVER_THUMBPRINT`: the SHA-1 of its certificate, uppercase hex.
    pub fn service_fabric_thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The environment variables a host of `source` has, pointing at these endpoints.
    /// `source` is one of `service_fabric`, `app_service`, `machine_learning`, `azure_arc`,
    /// `cloud_shell`, `imds`; anything else gives no variables.
    pub fn environment(&self, source: &str) -> Vec<(String, String)> {
        let v = |pairs: &[(&str, String)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect()
        };
        match source {
            "service_fabric" => v(&[
                ("IDENTITY_ENDPOINT", self.service_fabric_endpoint()),
                ("IDENTITY_HEADER", self.state.secret.clone()),
                ("IDENTITY_SERVER_THUMBPRINT", self.thumbprint.clone()),
            ]),
            "app_service" => v(&[
                ("IDENTITY_ENDPOINT", self.app_service_endpoint()),
                ("IDENTITY_HEADER", self.state.secret.clone()),
            ]),
            "machine_learning" => v(&[
                ("MSI_ENDPOINT", self.machine_learning_endpoint()),
                ("MSI_SECRET", self.state.secret.clone()),
            ]),
            "azure_arc" => v(&[
                ("IDENTITY_ENDPOINT", self.arc_endpoint()),
                ("IMDS_ENDPOINT", self.http_base.clone()),
            ]),
            "cloud_shell" => v(&[
                ("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0".to_string()),
                ("MSI_ENDPOINT", self.cloud_shell_endpoint()),
            ]),
            "imds" => v(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.http_base.clone())]),
            _ => Vec::new(),
        }
    }
}

impl ManagedIdentityServer {
    /// Starts the managed-identity endpoints (a plain-HTTP and an HTTPS listener on 127.0.0.1)
    /// over the emulator's state `app`: its clock, signing key, request log and faults
    /// (`Emulator::start_managed_identity`).
    pub(crate) async fn start(
        app: Arc<AppState>,
        config: ManagedIdentityConfig,
    ) -> Result<Self, EmulatorError> {
        let bind = || async {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|source| EmulatorError::Bind { port: 0, source })?;
            let addr = listener
                .local_addr()
                .map_err(|source| EmulatorError::Bind { port: 0, source })?;
            Ok::<_, EmulatorError>((listener, addr))
        };
        let (http_listener, http_addr) = bind().await?;
        let (https_listener, https_addr) = bind().await?;
        let err = |e: String| EmulatorError::Crypto(crate::crypto::CryptoError::Parse(e));
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .map_err(|e| err(e.to_string()))?;
        let thumbprint: String = Sha1::digest(cert.cert.der())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        // rustls 0.23.48 deprecates ring's provider because it has no post-quantum key exchange;
        // the emulator's clients (MSAL, reqwest) negotiate classic groups, and this connection
        // never leaves the machine (loopback, or the local Service Fabric agent).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(
                    rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()),
                ),
            )
            .map_err(|e| err(e.to_string()))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let secret = random_token(24);
        app.secrets.record(
            crate::secrets_log::SecretKind::ManagedIdentitySecret,
            &secret,
        );
        let state = Arc::new(MiState {
            app: app.clone(),
            config,
            secret,
            arc_secrets: Mutex::new(HashMap::new()),
        });
        let layer = axum::middleware::from_fn_with_state(app, entra_layer);
        let http_router = Router::new()
            .route("/metadata/identity/oauth2/token", get(imds))
            .route("/metadata/instance/compute", get(instance_compute))
            .route(
                "/metadata/instance/compute/location",
                get(instance_location),
            )
            .route("/msi/token", get(app_service))
            .route("/ml/token", get(machine_learning))
            .route("/arc/metadata/identity/oauth2/token", get(arc))
            .route("/cloudshell/oauth2/token", post(cloud_shell))
            .layer(layer.clone())
            .with_state(state.clone());
        let https_router = Router::new()
            .route("/servicefabric/token", get(service_fabric))
            .layer(layer)
            .with_state(state.clone());
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(accept_loop(http_listener, None, http_router, rx.clone()));
        tokio::spawn(accept_loop(
            https_listener,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))),
            https_router,
            rx,
        ));
        Ok(Self {
            state,
            http_base: format!("http://127.0.0.1:{}", http_addr.port()),
            https_base: format!("https://127.0.0.1:{}", https_addr.port()),
            thumbprint,
            shutdown,
        })
    }
}

type Params = Query<BTreeMap<String, String>>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Which identity a request selects, given the source's parameter spellings.
enum Selection<'a> {
    System,
    Found(&'a MiIdentity, &'static str, String),
    Unknown,
}

fn select<'a>(
    state: &'a MiState,
    q: &BTreeMap<String, String>,
    names: [&'static str; 3],
) -> Selection<'a> {
    let [client, resource, object] = names;
    let pick = |name: &'static str, f: fn(&MiIdentity) -> &str| {
        q.get(name).filter(|v| !v.is_empty()).map(|v| {
            match state
                .config
                .user_assigned
                .iter()
                .find(|i| f(i).eq_ignore_ascii_case(v))
            {
                Some(i) => Selection::Found(i, name, v.clone()),
                None => Selection::Unknown,
            }
        })
    };
    pick(client, |i| &i.client_id)
        .or_else(|| pick(resource, |i| &i.resource_id))
        .or_else(|| pick(object, |i| &i.object_id))
        .unwrap_or(Selection::System)
}

/// Mints an app token for `identity` (v1 shape, as managed-identity tokens are).
fn mint(
    state: &MiState,
    identity: &MiIdentity,
    resource: &str,
) -> Result<(String, i64, i64), Response> {
    let app = &state.app;
    let tenant = app.directory.config().tenants[0].id.to_string();
    let now = app.clock.now();
    let lifetime = state.config.token_lifetime_seconds as i64;
    let claims = json!({
        "aud": resource,
        "iss": app.issuer(&tenant),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": identity.client_id,
        "appidacr": "2",
        "idp": app.issuer(&tenant),
        "idtyp": "app",
        "oid": identity.object_id,
        "sub": identity.object_id,
        "tid": tenant,
        "uti": random_token(16),
        "ver": "1.0",
        "xms_mirid": identity.resource_id,
    });
    let token = jwt::sign(&app.key, &claims).map_err(|e| {
        reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "server_error", "error_description": e.to_string()}),
        )
    })?;
    app.secrets
        .record(crate::secrets_log::SecretKind::AccessToken, &token);
    Ok((token, now, lifetime))
}

fn identity_for<'a>(state: &'a MiState, selection: &Selection<'a>) -> &'a MiIdentity {
    match selection {
        Selection::Found(i, ..) => i,
        _ => &state.config.system_assigned,
    }
}

async fn imds(State(state): State<Arc<MiState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let bad = |description: &str| {
        reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": description}),
        )
    };
    if header(&headers, "metadata") != Some("true") {
        return bad("Required metadata header not specified");
    }
    if q.get("api-version").map(String::as_str) != Some("2018-02-01") {
        return bad("Missing or unsupported api-version");
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return bad("Required audience parameter not specified");
    };
    let selection = select(&state, &q, ["client_id", "msi_res_id", "object_id"]);
    if matches!(selection, Selection::Unknown) {
        return bad("Identity not found");
    }
    let identity = identity_for(&state, &selection);
    match mint(&state, identity, resource) {
        Ok((token, now, lifetime)) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": lifetime.to_string(),
                "expires_on": (now + lifetime).to_string(),
                "ext_expires_in": lifetime.to_string(),
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(r) => r,
    }
}

/// IMDS's instance metadata, the part MSAL reads: `GET /metadata/instance/compute` (JSON; MSAL
/// Python reads `location` with api-version `2021-02-01`).
async fn instance_compute(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    match instance_checks(&state, &headers, &q) {
        Err(r) => r,
        Ok(location) => reply(
            StatusCode::OK,
            json!({
                "azEnvironment": "AzurePublicCloud",
                "location": location,
                "name": "emulated-vm",
                "osType": "Linux",
                "vmId": state.config.system_assigned.object_id,
            }),
        ),
    }
}

/// `GET /metadata/instance/compute/location?format=text`: the region alone, as plain text (MSAL
/// .NET and Java read this form).
async fn instance_location(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if q.get("format").map(String::as_str) != Some("text") {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad request. A leaf value requires format=text"}),
        );
    }
    match instance_checks(&state, &headers, &q) {
        Err(r) => r,
        Ok(location) => (StatusCode::OK, location.to_string()).into_response(),
    }
}

/// What both instance-metadata endpoints check: the `Metadata: true` header and an api-version
/// (IMDS's error bodies); then the configured location, or 404 when there is none.
fn instance_checks<'a>(
    state: &'a MiState,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
) -> Result<&'a str, Response> {
    if header(headers, "metadata") != Some("true") {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad request. Required metadata header not specified"}),
        ));
    }
    if q.get("api-version").is_none_or(|v| v.is_empty()) {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad request. api-version was not specified in the request"}),
        ));
    }
    state
        .config
        .location
        .as_deref()
        .ok_or_else(|| reply(StatusCode::NOT_FOUND, json!({"error": "Not found"})))
}

async fn app_service(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let fail = |status: StatusCode, message: &str| {
        reply(
            status,
            json!({"statusCode": status.as_u16(), "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}),
        )
    };
    if header(&headers, "x-identity-header") != Some(state.secret.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER is missing or incorrect.",
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return fail(StatusCode::BAD_REQUEST, "Unsupported api-version.");
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The resource parameter is required.",
        );
    };
    let selection = select(&state, &q, ["client_id", "mi_res_id", "object_id"]);
    if matches!(selection, Selection::Unknown) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Unable to load the proper Managed Identity.",
        );
    }
    let identity = identity_for(&state, &selection);
    match mint(&state, identity, resource) {
        Ok((token, now, lifetime)) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "expires_on": (now + lifetime).to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }),
        ),
        Err(r) => r,
    }
}

async fn machine_learning(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let fail = |status: StatusCode, message: &str| {
        reply(
            status,
            json!({"error": {"code": status.as_u16().to_string(), "message": message}}),
        )
    };
    if header(&headers, "secret") != Some(state.secret.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "The secret header is missing or incorrect.",
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2017-09-01") {
        return fail(StatusCode::BAD_REQUEST, "Unsupported api-version.");
    }
    if q.contains_key("client_id") {
        return fail(
            StatusCode::BAD_REQUEST,
            "Unknown parameter client_id; the 2017-09-01 API spells it clientid.",
        );
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The resource parameter is required.",
        );
    };
    let selection = select(&state, &q, ["clientid", "msi_res_id", "object_id"]);
    if matches!(selection, Selection::Unknown) {
        return fail(StatusCode::BAD_REQUEST, "Identity not found.");
    }
    let identity = identity_for(&state, &selection);
    match mint(&state, identity, resource) {
        Ok((token, now, lifetime)) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "expires_on": (now + lifetime).to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(r) => r,
    }
}

async fn service_fabric(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let fail = |status: StatusCode, code: &str, message: &str| {
        reply(
            status,
            json!({"error": {"code": code, "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}}),
        )
    };
    if header(&headers, "secret") != Some(state.secret.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "SecretHeaderNotFound",
            "Secret is not found in the request headers.",
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2019-07-01-preview") {
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            "The api-version is not supported.",
        );
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "ArgumentNullOrEmpty",
            "Value cannot be null or empty. Parameter name: resource",
        );
    };
    match mint(&state, &state.config.system_assigned, resource) {
        Ok((token, now, lifetime)) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "expires_on": now + lifetime,
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(r) => r,
    }
}

async fn arc(State(state): State<Arc<MiState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let bad = |status: StatusCode, description: &str| {
        reply(
            status,
            json!({"error": "invalid_request", "error_description": description}),
        )
    };
    if header(&headers, "metadata") != Some("true") {
        return bad(
            StatusCode::BAD_REQUEST,
            "Required metadata header not specified",
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2020-06-01") {
        return bad(
            StatusCode::BAD_REQUEST,
            "Missing or unsupported api-version",
        );
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "Required audience parameter not specified",
        );
    };
    let Some(dir) = state.config.arc_key_directory.clone() else {
        return bad(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The emulator has no Arc key directory configured.",
        );
    };
    let authorization = header(&headers, "authorization").and_then(|a| a.strip_prefix("Basic "));
    let Some(secret) = authorization else {
        let secret = random_token(32);
        let name = format!("{}.key", uuid::Uuid::new_v4());
        let path = dir.join(&name);
        let content = match state.config.arc_key_file_bytes {
            Some(n) => "k".repeat(n),
            None => secret.clone(),
        };
        if let Err(e) = std::fs::write(&path, &content) {
            return bad(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot write the key file: {e}"),
            );
        }
        state.app.secrets.record(
            crate::secrets_log::SecretKind::ManagedIdentitySecret,
            &content,
        );
        state
            .arc_secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(content, path.clone());
        let mut response = bad(StatusCode::UNAUTHORIZED, "Authorization required");
        if let Ok(v) = format!("Basic realm={}", path.display()).parse() {
            response.headers_mut().insert("www-authenticate", v);
        }
        return response;
    };
    let known = state
        .arc_secrets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(secret);
    let Some(path) = known else {
        return bad(
            StatusCode::UNAUTHORIZED,
            "The key is not valid; request a new challenge.",
        );
    };
    let _ = std::fs::remove_file(path);
    let selection = if state.config.arc_legacy_agent {
        Selection::System
    } else {
        select(&state, &q, ["client_id", "msi_res_id", "object_id"])
    };
    if matches!(selection, Selection::Unknown) {
        return bad(StatusCode::BAD_REQUEST, "Identity not found");
    }
    let identity = identity_for(&state, &selection);
    match mint(&state, identity, resource) {
        Ok((token, now, lifetime)) => {
            let mut body = json!({
                "access_token": token,
                "expires_in": lifetime.to_string(),
                "expires_on": (now + lifetime).to_string(),
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            });
            if let Selection::Found(_, name, value) = &selection {
                body[*name] = json!(value);
            }
            reply(StatusCode::OK, body)
        }
        Err(r) => r,
    }
}

async fn cloud_shell(
    State(state): State<Arc<MiState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fail = |status: StatusCode, code: &str, message: &str| {
        reply(status, json!({"error": {"code": code, "message": message}}))
    };
    if header(&headers, "metadata") != Some("true") {
        return fail(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Required metadata header not specified",
        );
    }
    let form: BTreeMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(resource) = form.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The resource is required.",
        );
    };
    let app = &state.app;
    let Some(user) = app.directory.config().users.first() else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "No user is signed in to Cloud Shell.",
        );
    };
    let now = app.clock.now();
    let lifetime = 3599_i64;
    let tenant = user.home_tenant.to_string();
    let claims = json!({
        "aud": resource,
        "iss": app.issuer(&tenant),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "oid": user.object_id.to_string(),
        "sub": user.object_id.to_string(),
        "tid": tenant,
        "upn": user.username,
        "unique_name": user.username,
        "scp": "user_impersonation",
        "ver": "1.0",
    });
    match jwt::sign(&app.key, &claims) {
        Ok(token) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "refresh_token": "",
                "expires_in": lifetime.to_string(),
                "expires_on": (now + lifetime).to_string(),
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        ),
        Err(e) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &e.to_string(),
        ),
    }
}
