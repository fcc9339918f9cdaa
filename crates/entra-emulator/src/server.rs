//! The emulator as a whole: [`Emulator`] builds the shared state, serves the HTTP endpoints and
//! the control API, and starts the side services next to it (the broker service on D-Bus, the
//! managed-identity endpoints), each a type of its own built from the shared state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::{BrokerOptions, BrokerService, BrokerServiceError, BrokerSession};
use crate::config::EmulatorConfig;
use crate::control::Control;
use crate::crypto::SigningKey;
use crate::directory::Directory;
use crate::endpoints::managed_identity::{ManagedIdentityConfig, ManagedIdentityServer};
use crate::info::{self, ConnectionInfo};
pub use crate::listener::host_is_local;
use crate::listener::{accept_loop, entra_layer, method_not_allowed, not_found};
use crate::secrets_log::SecretsLog;
pub use crate::startup::EmulatorError;
use crate::state::AppState;
use crate::tls::TlsMaterial;

/// A running emulator on 127.0.0.1. Dropping it stops the server.
pub struct Emulator {
    state: Arc<AppState>,
    /// What the broker service remembers; the control API reads and decides it too.
    broker: Arc<BrokerSession>,
    ca_pem: Option<String>,
    shutdown: watch::Sender<bool>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.state.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1` and the given port (0: any free port).
    ///
    /// HTTPS with a freshly generated CA unless `settings.plain_http` is set.
    pub async fn start(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        Self::start_on_port(config, 0).await
    }

    /// Like [`Emulator::start`], on a chosen port.
    pub async fn start_on_port(config: EmulatorConfig, port: u16) -> Result<Self, EmulatorError> {
        config.validate()?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| EmulatorError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { port, source })?;
        let settings = config.settings.clone();
        let tls = if settings.plain_http {
            None
        } else {
            Some(TlsMaterial::generate()?)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://127.0.0.1:{}", addr.port());
        let key_pem = match &settings.signing_key_pem {
            Some(pem) => pem.clone(),
            None => crate::key_cache::rsa_key_pem(crate::key_cache::SIGNING_KEY)?,
        };
        let key = SigningKey::from_pem(&key_pem)?;
        let directory = Directory::new(config)?;
        let mut state = AppState::new(base_url, directory, key, settings);
        if let Some(path) = SecretsLog::path_for(state.settings.secrets_log.as_deref()) {
            state.secrets = SecretsLog::open(&path).map_err(|source| EmulatorError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        state.secrets.record_configuration(state.directory.config());
        let state = Arc::new(state);
        let broker = Arc::new(BrokerSession::default());
        let router = router(state.clone(), Control::new(state.clone(), broker.clone()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
        tokio::spawn(accept_loop(listener, acceptor, router, shutdown_rx));
        tracing::info!(base_url = %state.base_url, "entra-emulator listening");
        Ok(Self {
            state,
            broker,
            ca_pem: tls.map(|t| t.ca_pem),
            shutdown,
            addr,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The authority of the first configured tenant, `https://127.0.0.1:PORT/<tenant id>`.
    pub fn authority(&self) -> String {
        let tenant = &self.state.directory.config().tenants[0];
        format!("{}/{}", self.state.base_url, tenant.id)
    }

    /// The CA certificate (PEM) clients must trust; `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Writes the CA certificate to `dir/ca.pem`, owner-readable, and returns the path.
    pub fn write_ca_file(&self, dir: &Path) -> Result<Option<PathBuf>, EmulatorError> {
        let Some(pem) = &self.ca_pem else {
            return Ok(None);
        };
        let path = dir.join("ca.pem");
        std::fs::write(&path, pem).map_err(|source| EmulatorError::Write {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Some(path))
    }

    /// The test-control handle (works whether or not the HTTP control API is on).
    pub fn control(&self) -> Control {
        Control::new(self.state.clone(), self.broker.clone())
    }

    /// The configuration in force.
    pub fn config(&self) -> &EmulatorConfig {
        self.state.directory.config()
    }

    /// Everything a client needs, as printed by `entra-emulator serve --json`. Writes the CA and
    /// the ready-made certificate credential into `dir`.
    pub fn connection_info(&self, dir: &Path) -> Result<ConnectionInfo, EmulatorError> {
        let ca_file = self.write_ca_file(dir)?;
        let mut info = info::connection_info(
            self.config(),
            self.base_url(),
            self.authority(),
            ca_file,
            dir,
        )?;
        info.ssh_ca_public_key = Some(self.ssh_ca_public_key()?);
        Ok(info)
    }

    /// The public key of the SSH certificate authority that signs the certificates of
    /// `token_type=ssh-cert` requests, as an OpenSSH line (`sshd`'s `TrustedUserCAKeys`).
    pub fn ssh_ca_public_key(&self) -> Result<String, EmulatorError> {
        self.state
            .ssh_ca()
            .map(|ca| ca.public_key_line())
            .map_err(EmulatorError::SshCa)
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Serves the broker on the session bus at `bus_address` (a D-Bus address such as
    /// `unix:path=/run/user/1000/bus`, or [`PrivateSessionBus::address`]).
    ///
    /// [`PrivateSessionBus::address`]: crate::broker::PrivateSessionBus::address
    pub async fn serve_broker(
        &self,
        bus_address: &str,
        options: BrokerOptions,
    ) -> Result<BrokerService, BrokerServiceError> {
        BrokerService::start(
            self.state.clone(),
            self.broker.clone(),
            bus_address,
            options,
        )
        .await
    }

    /// Starts the managed-identity endpoints (a plain-HTTP and an HTTPS listener on 127.0.0.1),
    /// sharing this emulator's clock, signing key, request log and faults.
    pub async fn start_managed_identity(
        &self,
        config: ManagedIdentityConfig,
    ) -> Result<ManagedIdentityServer, EmulatorError> {
        ManagedIdentityServer::start(self.state.clone(), config).await
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The main listener's routes: the Entra endpoints, and the control API under `/_control`
/// (refused by [`entra_layer`] unless `settings.control_api` is on).
pub(crate) fn router(state: Arc<AppState>, control: Control) -> Router {
    use axum::routing::{get, post};

    use crate::endpoints::{authorize, device, discovery, logout, mex, token, userrealm, wstrust};
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/instance", get(discovery::instance))
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::start).post(authorize::submit),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device::devicecode))
        .route("/devicelogin", get(device::page).post(device::submit))
        .route("/common/userrealm/{user}", get(userrealm::userrealm))
        .route(mex::MEX_PATH, get(mex::mex))
        .route(mex::TRUST_13_PATH, post(wstrust::trust13))
        .route(mex::TRUST_2005_PATH, post(wstrust::trust2005))
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(logout::logout).post(logout::logout),
        )
        .nest("/_control", crate::control::routes().with_state(control))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            entra_layer,
        ))
        .with_state(state)
}
