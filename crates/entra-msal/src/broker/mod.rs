//! Authentication brokers: the Microsoft identity broker on Linux (D-Bus), the Web Account
//! Manager on Windows (and from WSL), and the Enterprise SSO extension on macOS.
//!
//! Apps turn a broker on with the `enable_broker_on_*` switches of
//! [`PublicClientBuilder`](crate::app::PublicClientBuilder). The library then routes
//! interactive and silent requests as MSAL Python 1.39 does: through the broker when the switch
//! for the running OS is on, the app is a public client and the authority is Microsoft Entra ID;
//! through the browser and refresh tokens otherwise, and when the broker cannot be reached.
//!
//! Each platform is a pure codec (requests, answers, errors; tested everywhere with golden
//! vectors) plus a thin OS shim compiled only for its OS and only with the `broker` feature.
//!
//! | module | broker | transport |
//! |---|---|---|
//! | `linux` | `com.microsoft.identity.broker1` | session D-Bus (zbus, no libdbus) |
//! | `macos` | Enterprise SSO extension | AuthenticationServices |
//! | `windows` | WAM | WinRT `WebAuthenticationCoreManager` |
//! | `wsl` | WAM on the Windows host | a Windows helper over stdin/stdout JSON |

#![cfg_attr(not(feature = "broker"), allow(dead_code))]

mod backend;
pub(crate) mod connect;
mod error;
pub(crate) mod linux;
pub(crate) mod macos;
mod platform;
pub(crate) mod pop_key;
pub(crate) mod routing;
mod types;
mod window;
pub(crate) mod windows;
pub(crate) mod wsl;

pub use backend::{BrokerBackend, BrokerFuture};
pub use error::{BrokerError, BrokerStatus};
pub use platform::{
    BrokerPlatform, LINUX_REDIRECT_URI, MAC_UNSIGNED_REDIRECT_URI, RequiredRedirectUri,
    mac_redirect_uri, required_redirect_uris, running_on_wsl,
};
pub use types::{
    BrokerAccount, BrokerPassword, BrokerTokenRequest, BrokerTokenResponse, BrokerTokenType,
    PopParams,
};
pub use window::ParentWindow;

/// The WSL bridge's two ends, for the `entra-broker-wsl-helper` binary this package ships and
/// its tests: [`serve`](wsl_bridge::serve) answers the bridge protocol for a backend
/// over any byte streams, [`run_stdio`](wsl_bridge::run_stdio) over stdin/stdout. Not API.
#[doc(hidden)]
pub mod wsl_bridge {
    #[cfg(all(feature = "broker", windows))]
    pub use super::windows::WamBroker;
    pub use super::wsl::{PROTOCOL_VERSION, UnavailableBroker, serve};
    #[cfg(feature = "broker")]
    pub use super::wsl::{WslBridge, run_stdio};
}
