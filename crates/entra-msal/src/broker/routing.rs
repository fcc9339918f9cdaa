//! When the broker is used (MSAL Python 1.39's `_decide_broker`): the switch for the running OS
//! is on, the authority is Microsoft Entra ID (not ADFS, B2C, CIAM, dSTS or a generic OIDC
//! issuer), and on macOS the machine is Apple Silicon. The app being a public client is implied:
//! only `PublicClientBuilder` has the switches. Pure; the builder supplies the facts.

use super::platform::BrokerPlatform;
use crate::authority::AuthorityType;

/// The `enable_broker_on_*` switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BrokerSwitches {
    pub mac: bool,
    pub windows: bool,
    pub linux: bool,
    pub wsl: bool,
}

impl BrokerSwitches {
    /// Whether the switch for `platform` is on.
    pub fn enabled_for(self, platform: BrokerPlatform) -> bool {
        match platform {
            BrokerPlatform::MacOs => self.mac,
            BrokerPlatform::Windows => self.windows,
            BrokerPlatform::Linux => self.linux,
            BrokerPlatform::Wsl => self.wsl,
        }
    }

    /// The platforms whose switch is on.
    pub fn enabled(self) -> Vec<BrokerPlatform> {
        BrokerPlatform::ALL
            .into_iter()
            .filter(|p| self.enabled_for(*p))
            .collect()
    }
}

/// What the builder does about brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No broker: the switch for this OS is off, or the OS has no broker.
    Off,
    /// No broker for this authority (the broker serves Entra ID only).
    NotForAuthority(AuthorityType),
    /// The OS is not supported by the broker (macOS on Intel); fall back with a warning.
    Unsupported {
        /// The platform.
        platform: BrokerPlatform,
        /// Why.
        reason: String,
    },
    /// The broker would be used, but this build does not include it: the builder fails.
    NotBuiltIn(BrokerPlatform),
    /// Use this platform's broker.
    Use(BrokerPlatform),
}

/// Whether this build includes broker support.
pub(crate) const BUILT_IN: bool = cfg!(feature = "broker");

/// Decides, from the switches and the facts about this program and machine.
pub(crate) fn decide(
    switches: BrokerSwitches,
    current: Option<BrokerPlatform>,
    authority: AuthorityType,
    arch: &str,
    built_in: bool,
) -> Decision {
    let Some(platform) = current.filter(|p| switches.enabled_for(*p)) else {
        return Decision::Off;
    };
    if authority != AuthorityType::Aad {
        return Decision::NotForAuthority(authority);
    }
    if platform == BrokerPlatform::MacOs && !super::macos::mac_broker_supported(arch) {
        return Decision::Unsupported {
            platform,
            reason: format!(
                "the macOS broker needs Apple Silicon (this is {arch}); signing in through the browser"
            ),
        };
    }
    if !built_in {
        return Decision::NotBuiltIn(platform);
    }
    Decision::Use(platform)
}

/// The builder's error when the broker is switched on but not compiled in (the counterpart of
/// MSAL Python's `pip install "msal[broker]"` hint).
pub(crate) fn not_built_in_message(platform: BrokerPlatform) -> String {
    format!(
        "{switch}(true) needs the authentication broker, which this build of entra-msal does not \
         include: add `features = [\"broker\"]` to the entra-msal dependency in Cargo.toml \
         (for example `entra-msal = {{ path = \"../entra-msal/crates/entra-msal\", features = \
         [\"broker\"] }}`), or leave {switch} off to sign in through the system browser",
        switch = platform.switch_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthorityType::*;
    use BrokerPlatform::*;

    fn on(platform: BrokerPlatform) -> BrokerSwitches {
        let mut s = BrokerSwitches::default();
        match platform {
            MacOs => s.mac = true,
            Windows => s.windows = true,
            Linux => s.linux = true,
            Wsl => s.wsl = true,
        }
        s
    }

    #[test]
    fn only_the_running_platforms_switch_counts() {
        assert_eq!(
            decide(on(Windows), Some(Linux), Aad, "x86_64", true),
            Decision::Off
        );
        assert_eq!(
            decide(on(Linux), Some(Wsl), Aad, "x86_64", true),
            Decision::Off
        );
        assert_eq!(
            decide(on(Wsl), Some(Wsl), Aad, "x86_64", true),
            Decision::Use(Wsl)
        );
        assert_eq!(
            decide(on(Linux), Some(Linux), Aad, "x86_64", true),
            Decision::Use(Linux)
        );
        assert_eq!(decide(on(Linux), None, Aad, "x86_64", true), Decision::Off);
        assert_eq!(
            decide(BrokerSwitches::default(), Some(Linux), Aad, "x86_64", true),
            Decision::Off
        );
    }

    #[test]
    fn entra_authorities_only() {
        for kind in [Adfs, B2c, Ciam, Oidc, Dsts] {
            assert_eq!(
                decide(on(Windows), Some(Windows), kind, "x86_64", false),
                Decision::NotForAuthority(kind)
            );
        }
    }

    #[test]
    fn mac_needs_apple_silicon() {
        assert_eq!(
            decide(on(MacOs), Some(MacOs), Aad, "aarch64", true),
            Decision::Use(MacOs)
        );
        assert!(matches!(
            decide(on(MacOs), Some(MacOs), Aad, "x86_64", true),
            Decision::Unsupported {
                platform: MacOs,
                ..
            }
        ));
    }

    #[test]
    fn not_built_in_fails_with_instructions() {
        assert_eq!(
            decide(on(Linux), Some(Linux), Aad, "x86_64", false),
            Decision::NotBuiltIn(Linux)
        );
        let message = not_built_in_message(Linux);
        assert!(message.starts_with("enable_broker_on_linux(true)"));
        assert!(message.contains("features = [\"broker\"]"), "{message}");
        assert!(!message.contains("cargo add"), "{message}");
        assert_eq!(on(Linux).enabled(), [Linux]);
    }
}
