//! The emulator's authentication-broker service: what Microsoft's Linux identity broker
//! (`microsoft-identity-broker`) is to MSAL, served from the emulator's own tenants, apps and
//! users.
//!
//! [`BrokerService`] (started by `Emulator::serve_broker`) claims `com.microsoft.identity.broker1`
//! on a session bus and serves
//! the object `/com/microsoft/identity/broker1`, interface `com.microsoft.identity.Broker1`, with
//! all eight methods `(protocol_version, correlation_id, request_json) -> response_json`:
//! `acquireTokenInteractively`, `acquireTokenSilently`, `getAccounts`, `removeAccount`,
//! `acquirePrtSsoCookie`, `generateSignedHttpRequest`, `cancelInteractiveFlow`,
//! `getLinuxBrokerVersion`. Responses have exactly the shapes Microsoft's client
//! (libmsalruntime, through MSAL Python's `enable_broker_on_linux`) requires; `docs/emulator.md`
//! ("Broker service") describes the behaviour rule by rule.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use entra_emulator::broker::{BrokerOptions, PrivateSessionBus};
//! use entra_emulator::{Emulator, ready_made};
//!
//! let emulator = Emulator::start(ready_made()?).await?;
//! let bus = PrivateSessionBus::start()?;
//! let broker = emulator.serve_broker(bus.address(), BrokerOptions::default()).await?;
//! println!("DBUS_SESSION_BUS_ADDRESS={} (device user {})", bus.address(), broker.broker_user());
//! // An interactive request now waits in `emulator.control().broker_pending()`.
//! # Ok(()) }
//! ```

mod bus;
pub mod codec;
mod engine;
mod service;
pub mod session;

use std::sync::Arc;

pub use bus::PrivateSessionBus;
pub use codec::{BrokerErrorSpec, Method};
pub use session::{BrokerSession, BrokerSignIn, PendingBrokerRequest};

use crate::state::AppState;

/// How the broker service behaves.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// The account signed in to the machine, used when a silent request names no account and
    /// listed by `getAccounts` for every client. Default: the configuration's first user (the
    /// ready-made `alice@contoso.example`).
    pub device_user: Option<String>,
    /// When set, interactive requests complete at once, signed in as this user (with MFA and
    /// consent), instead of waiting for `Control::broker_approve`.
    pub auto_approve: Option<String>,
}

/// Why the broker service (or a private bus) could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerServiceError {
    /// `dbus-daemon` is not installed.
    #[error(
        "dbus-daemon is not installed: install it (Debian/Ubuntu: apt-get install dbus-daemon) or pass the address of a running session bus"
    )]
    DbusDaemonMissing,
    /// `dbus-daemon` did not start.
    #[error("{0}")]
    DbusDaemon(String),
    /// The bus could not be reached or refused the connection.
    #[error(
        "cannot connect the broker to the session bus {address}: {source} (check DBUS_SESSION_BUS_ADDRESS or --bus-address)"
    )]
    Bus {
        /// The address.
        address: String,
        /// zbus's error.
        source: zbus::Error,
    },
    /// Another process owns `com.microsoft.identity.broker1` on that bus.
    #[error(
        "another broker already owns com.microsoft.identity.broker1 on {0}; stop it or use a private bus (--private-bus)"
    )]
    NameTaken(String),
    /// A username in [`BrokerOptions`] is not in the configuration.
    #[error(
        "no user {0:?} in the emulator's configuration (device_user / auto_approve must name a configured user)"
    )]
    UnknownUser(String),
    /// The configuration has no user to be the device user.
    #[error("the emulator's configuration has no users; the broker needs one as the device user")]
    NoUsers,
}

/// A running broker service. Dropping it (or [`BrokerService::stop`]) cancels pending
/// interactive requests, releases the bus name and unregisters the object.
pub struct BrokerService {
    connection: Option<zbus::Connection>,
    broker_user: String,
    bus_address: String,
    session: Arc<BrokerSession>,
}

impl std::fmt::Debug for BrokerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerService")
            .field("bus_address", &self.bus_address)
            .field("broker_user", &self.broker_user)
            .finish_non_exhaustive()
    }
}

impl BrokerService {
    /// The device user's username (printed as `broker_user` by `serve --json`).
    pub fn broker_user(&self) -> &str {
        &self.broker_user
    }

    /// The bus the service is on.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// Stops the service and waits until the bus has released the name.
    pub async fn stop(mut self) {
        if let Some(connection) = self.connection.take() {
            self.session.cancel(None, None);
            release(connection).await;
        }
    }
}

async fn release(connection: zbus::Connection) {
    let _ = connection
        .object_server()
        .remove::<service::Broker1, _>(codec::OBJECT_PATH)
        .await;
    let _ = connection.release_name(codec::BUS_NAME).await;
}

impl Drop for BrokerService {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.session.cancel(None, None);
            // Closing the connection releases the name too; the explicit release is best effort.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(release(connection));
            }
        }
    }
}

impl BrokerService {
    /// Serves the broker on the session bus at `bus_address` over the emulator's data (`state`)
    /// and the broker's memory (`session`, which the control API shares).
    pub(crate) async fn start(
        state: Arc<AppState>,
        session: Arc<BrokerSession>,
        bus_address: &str,
        options: BrokerOptions,
    ) -> Result<Self, BrokerServiceError> {
        let directory = &state.directory;
        let device_user = match &options.device_user {
            Some(name) => directory
                .user(name)
                .ok_or_else(|| BrokerServiceError::UnknownUser(name.clone()))?
                .username
                .clone(),
            None => directory
                .config()
                .users
                .first()
                .ok_or(BrokerServiceError::NoUsers)?
                .username
                .clone(),
        };
        let auto_approve = match &options.auto_approve {
            Some(name) => Some(
                directory
                    .user(name)
                    .ok_or_else(|| BrokerServiceError::UnknownUser(name.clone()))?
                    .username
                    .clone(),
            ),
            None => None,
        };
        session.set_device_user(&device_user);
        let engine = Arc::new(engine::Engine {
            state: state.clone(),
            session: session.clone(),
            device_user: device_user.clone(),
            auto_approve,
        });
        let bus_error = |source: zbus::Error| match source {
            zbus::Error::NameTaken => BrokerServiceError::NameTaken(bus_address.to_string()),
            source => BrokerServiceError::Bus {
                address: bus_address.to_string(),
                source,
            },
        };
        let connection = zbus::connection::Builder::address(bus_address)
            .and_then(|b| b.serve_at(codec::OBJECT_PATH, service::Broker1 { engine }))
            .and_then(|b| b.name(codec::BUS_NAME))
            // Never take the name from another broker, and never hand it over.
            .map(|b| {
                b.allow_name_replacements(false)
                    .replace_existing_names(false)
            })
            .map_err(bus_error)?
            .build()
            .await
            .map_err(bus_error)?;
        tracing::info!(bus = bus_address, device_user = %device_user, "broker service on the session bus");
        Ok(Self {
            connection: Some(connection),
            broker_user: device_user,
            bus_address: bus_address.to_string(),
            session,
        })
    }
}
