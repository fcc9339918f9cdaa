//! The D-Bus shim of the Linux broker: calls the eight-method interface of
//! `com.microsoft.identity.broker1` on the session bus with zbus (no libdbus) and hands the JSON
//! to the codec. It never parses JSON itself.

use std::time::Duration;

use zbus::Connection;

use super::codec::{self, Method, PROTOCOL_VERSION};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};

/// The broker's well-known bus name.
pub const BUS_NAME: &str = "com.microsoft.identity.broker1";
/// The broker's object path.
pub const OBJECT_PATH: &str = "/com/microsoft/identity/broker1";
/// The broker's interface (capital B, unlike the bus name).
pub const INTERFACE: &str = "com.microsoft.identity.Broker1";

/// Silent calls that take longer than this fail (interactive calls wait for the user).
const SILENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the start-up ping may take (the broker may be D-Bus activated).
const PROBE_TIMEOUT: Duration = Duration::from_secs(25);

/// The Microsoft identity broker on a D-Bus session bus.
#[derive(Debug, Clone)]
pub struct LinuxBroker {
    connection: Connection,
}

impl LinuxBroker {
    /// Connects to the session bus (`DBUS_SESSION_BUS_ADDRESS`, else the user's default bus), or
    /// to `address` when given. No bus ⇒ `RequiredBrokerMissing`.
    pub async fn connect(address: Option<&str>) -> Result<Self, BrokerError> {
        let connection = match address {
            Some(address) => match zbus::connection::Builder::address(address) {
                Ok(builder) => builder.build().await,
                Err(e) => Err(e),
            },
            None => Connection::session().await,
        }
        .map_err(|e| {
            missing(format!(
                "no D-Bus session bus could be reached ({e}); the Linux broker needs a desktop \
                 session (or DBUS_SESSION_BUS_ADDRESS)"
            ))
        })?;
        Ok(Self { connection })
    }

    async fn call(
        &self,
        method: Method,
        correlation_id: &str,
        body: &str,
    ) -> Result<String, BrokerError> {
        let reply = self
            .connection
            .call_method(
                Some(BUS_NAME),
                OBJECT_PATH,
                Some(INTERFACE),
                method.name(),
                &(PROTOCOL_VERSION, correlation_id, body),
            )
            .await
            .map_err(|e| from_dbus(method, e))?;
        reply.body().deserialize::<String>().map_err(|e| {
            BrokerError::new(
                BrokerPlatform::Linux,
                BrokerStatus::ApiContractViolation,
                format!(
                    "the Linux broker's {} reply is not a string: {e}",
                    method.name()
                ),
            )
        })
    }

    async fn call_with_timeout(
        &self,
        method: Method,
        correlation_id: &str,
        body: &str,
    ) -> Result<String, BrokerError> {
        match tokio::time::timeout(SILENT_TIMEOUT, self.call(method, correlation_id, body)).await {
            Ok(result) => result,
            Err(_) => Err(BrokerError::new(
                BrokerPlatform::Linux,
                BrokerStatus::TransientError,
                format!(
                    "the Linux broker did not answer {} within {} s",
                    method.name(),
                    SILENT_TIMEOUT.as_secs()
                ),
            )),
        }
    }
}

fn missing(context: String) -> BrokerError {
    BrokerError::new(
        BrokerPlatform::Linux,
        BrokerStatus::RequiredBrokerMissing,
        context,
    )
}

/// Maps a D-Bus failure: no owner of the name ⇒ the broker is missing; an error reply ⇒ its text.
fn from_dbus(method: Method, error: zbus::Error) -> BrokerError {
    if let zbus::Error::MethodError(name, text, _) = &error {
        let name = name.as_str();
        if matches!(
            name,
            "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
                | "org.freedesktop.DBus.Error.Spawn.ChildExited"
        ) {
            return missing(format!(
                "the Microsoft identity broker ({BUS_NAME}) is not running or installed: {}",
                text.as_deref().unwrap_or(name)
            ));
        }
        return BrokerError::new(
            BrokerPlatform::Linux,
            BrokerStatus::Unexpected,
            format!(
                "DBUS failed to send a message. Error: {name} ({})",
                text.as_deref().unwrap_or("")
            ),
        );
    }
    let status = match &error {
        zbus::Error::InputOutput(_) => BrokerStatus::RequiredBrokerMissing,
        _ => BrokerStatus::Unexpected,
    };
    BrokerError::new(
        BrokerPlatform::Linux,
        status,
        format!(
            "calling the Linux broker's {} failed: {error}",
            method.name()
        ),
    )
}

/// The window handle the Linux broker gets: the console has none (MSAL Python passes 1 with
/// `msal_gui_thread=true`), a native X11 window id is passed as is.
fn window_handle(window: ParentWindow) -> i64 {
    match window {
        ParentWindow::Console => 1,
        ParentWindow::Native(id) => i64::try_from(id).unwrap_or(1),
    }
}

impl BrokerBackend for LinuxBroker {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::Linux
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            let ping = self.connection.call_method(
                Some(BUS_NAME),
                OBJECT_PATH,
                Some("org.freedesktop.DBus.Peer"),
                "Ping",
                &(),
            );
            match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(match from_dbus(Method::GetAccounts, e) {
                    e if e.status == BrokerStatus::RequiredBrokerMissing => e,
                    e => missing(e.context),
                }),
                Err(_) => Err(missing(format!(
                    "the Microsoft identity broker ({BUS_NAME}) did not answer a ping within {} s",
                    PROBE_TIMEOUT.as_secs()
                ))),
            }
        })
    }

    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async move {
            let body = codec::encode_get_accounts(client_id);
            let answer = self
                .call_with_timeout(Method::GetAccounts, correlation_id, &body)
                .await?;
            codec::decode_accounts(&answer)
        })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let body = codec::encode_silent(request);
            let answer = self
                .call_with_timeout(Method::AcquireTokenSilently, &request.correlation_id, &body)
                .await?;
            codec::decode_token(Method::AcquireTokenSilently, &answer, request)
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let body = codec::encode_interactive(request, window_handle(window));
            // No timeout and no retry: the user is at the broker's window.
            let answer = self
                .call(
                    Method::AcquireTokenInteractively,
                    &request.correlation_id,
                    &body,
                )
                .await?;
            codec::decode_token(Method::AcquireTokenInteractively, &answer, request)
        })
    }

    fn sign_out<'a>(
        &'a self,
        client_id: &'a str,
        account: &'a BrokerAccount,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async move {
            let body = codec::encode_remove_account(client_id, account);
            let answer = self
                .call_with_timeout(Method::RemoveAccount, correlation_id, &body)
                .await?;
            codec::decode_remove_account(&answer)
        })
    }
}
