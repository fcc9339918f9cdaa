//! Reaching the broker of the running platform: built once per application, lazily (the first
//! request that needs it), and checked with a probe so an absent broker means "fall back to the
//! browser" rather than an error.

use std::path::PathBuf;
use std::sync::Arc;

use super::{BrokerBackend, BrokerError, BrokerPlatform};

/// How to reach the broker (all optional; the defaults find the platform's broker).
#[derive(Clone, Default)]
pub(crate) struct BrokerSettings {
    /// Linux: a D-Bus address instead of the session bus.
    pub bus_address: Option<String>,
    /// macOS: the bundle id for the redirect URI (default: detected).
    pub bundle_id: Option<String>,
    /// WSL: the path of the Windows helper (default: found on `PATH`).
    pub wsl_helper: Option<PathBuf>,
    /// A backend supplied by the app (tests, custom brokers).
    pub backend: Option<Arc<dyn BrokerBackend>>,
}

impl std::fmt::Debug for BrokerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerSettings")
            .field("bus_address", &self.bus_address)
            .field("bundle_id", &self.bundle_id)
            .field("wsl_helper", &self.wsl_helper)
            .field("custom_backend", &self.backend.is_some())
            .finish()
    }
}

/// Connects to `platform`'s broker and checks it answers.
pub(crate) async fn connect(
    platform: BrokerPlatform,
    settings: &BrokerSettings,
) -> Result<Arc<dyn BrokerBackend>, BrokerError> {
    let backend: Arc<dyn BrokerBackend> = match &settings.backend {
        Some(custom) => custom.clone(),
        None => platform_backend(platform, settings).await?,
    };
    backend.probe().await?;
    Ok(backend)
}

#[cfg(feature = "broker")]
async fn platform_backend(
    platform: BrokerPlatform,
    settings: &BrokerSettings,
) -> Result<Arc<dyn BrokerBackend>, BrokerError> {
    // Only the Linux backends read the settings (bus address, WSL helper path).
    let _ = settings;
    match platform {
        #[cfg(target_os = "linux")]
        BrokerPlatform::Linux => Ok(Arc::new(
            super::linux::LinuxBroker::connect(settings.bus_address.as_deref()).await?,
        )),
        #[cfg(target_os = "linux")]
        BrokerPlatform::Wsl => super::wsl::WslBridge::new(settings.wsl_helper.clone()),
        #[cfg(target_os = "macos")]
        BrokerPlatform::MacOs => super::macos::MacBroker::new(),
        #[cfg(windows)]
        BrokerPlatform::Windows => super::windows::WamBroker::new(),
        #[allow(unreachable_patterns)]
        other => Err(BrokerError::new(
            other,
            super::BrokerStatus::RequiredBrokerMissing,
            format!("the {other} broker does not run on this operating system"),
        )),
    }
}

#[cfg(not(feature = "broker"))]
async fn platform_backend(
    platform: BrokerPlatform,
    _settings: &BrokerSettings,
) -> Result<Arc<dyn BrokerBackend>, BrokerError> {
    Err(BrokerError::new(
        platform,
        super::BrokerStatus::RequiredBrokerMissing,
        super::routing::not_built_in_message(platform),
    ))
}
