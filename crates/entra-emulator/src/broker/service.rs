//! The D-Bus object: `com.microsoft.identity.Broker1` at `/com/microsoft/identity/broker1`, eight
//! methods `(sss) -> s`. Each forwards its strings to the engine; zbus answers
//! `org.freedesktop.DBus.Peer.Ping` itself. Method calls run concurrently (zbus spawns a task per
//! call), so a pending interactive request does not block the others.

use std::sync::Arc;

use super::codec::Method;
use super::engine::Engine;

/// The served object.
pub(crate) struct Broker1 {
    pub engine: Arc<Engine>,
}

impl Broker1 {
    async fn call(
        &self,
        method: Method,
        version: String,
        correlation_id: String,
        request: String,
    ) -> String {
        self.engine
            .call(method, &version, &correlation_id, &request)
            .await
    }
}

#[zbus::interface(name = "com.microsoft.identity.Broker1")]
impl Broker1 {
    #[zbus(name = "acquireTokenInteractively")]
    async fn acquire_token_interactively(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::AcquireTokenInteractively,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "acquireTokenSilently")]
    async fn acquire_token_silently(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::AcquireTokenSilently,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "getAccounts")]
    async fn get_accounts(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::GetAccounts,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "removeAccount")]
    async fn remove_account(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::RemoveAccount,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "acquirePrtSsoCookie")]
    async fn acquire_prt_sso_cookie(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::AcquirePrtSsoCookie,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "generateSignedHttpRequest")]
    async fn generate_signed_http_request(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::GenerateSignedHttpRequest,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "cancelInteractiveFlow")]
    async fn cancel_interactive_flow(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::CancelInteractiveFlow,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }

    #[zbus(name = "getLinuxBrokerVersion")]
    async fn get_linux_broker_version(
        &self,
        protocol_version: String,
        correlation_id: String,
        request_json: String,
    ) -> String {
        self.call(
            Method::GetLinuxBrokerVersion,
            protocol_version,
            correlation_id,
            request_json,
        )
        .await
    }
}
