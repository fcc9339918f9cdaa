//! Which broker serves which platform, how to tell where the program runs, and the redirect URI
//! each broker requires an app registration to contain.

use std::fmt;

/// A platform with an authentication broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrokerPlatform {
    /// macOS: the Microsoft Enterprise SSO extension (Company Portal).
    MacOs,
    /// Windows: the Web Account Manager (WAM).
    Windows,
    /// Linux: the Microsoft identity broker on the session D-Bus.
    Linux,
    /// Windows Subsystem for Linux: WAM on the Windows host.
    Wsl,
}

impl BrokerPlatform {
    /// All platforms, in the order MSAL Python's documentation lists them.
    pub const ALL: [BrokerPlatform; 4] = [Self::Windows, Self::MacOs, Self::Linux, Self::Wsl];

    /// The builder switch that enables this platform's broker.
    pub fn switch_name(self) -> &'static str {
        match self {
            Self::MacOs => "enable_broker_on_mac",
            Self::Windows => "enable_broker_on_windows",
            Self::Linux => "enable_broker_on_linux",
            Self::Wsl => "enable_broker_on_wsl",
        }
    }

    /// The platform this program runs on, if it has a broker. WSL counts as WSL, not Linux.
    pub fn current() -> Option<Self> {
        if cfg!(target_os = "macos") {
            Some(Self::MacOs)
        } else if cfg!(windows) {
            Some(Self::Windows)
        } else if cfg!(target_os = "linux") {
            Some(if running_on_wsl() {
                Self::Wsl
            } else {
                Self::Linux
            })
        } else {
            None
        }
    }

    /// The redirect URI the broker sends, which the app registration must contain (under
    /// "Mobile and desktop applications" in the Entra portal).
    ///
    /// On macOS it depends on how the app is packaged: `msauth.<bundle id>://auth` for a signed
    /// app bundle, `msauth.com.msauth.unsignedapp://auth` otherwise (`bundle_id` `None`).
    pub fn redirect_uri(self, client_id: &str, bundle_id: Option<&str>) -> String {
        match self {
            Self::MacOs => mac_redirect_uri(bundle_id),
            Self::Windows | Self::Wsl => {
                format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{client_id}")
            }
            Self::Linux => LINUX_REDIRECT_URI.to_string(),
        }
    }
}

impl fmt::Display for BrokerPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MacOs => "macOS",
            Self::Windows => "Windows",
            Self::Linux => "Linux",
            Self::Wsl => "WSL",
        })
    }
}

/// The Linux broker's redirect URI (it requires a non-empty, valid one; MSAL Python PR #826).
pub const LINUX_REDIRECT_URI: &str = "https://login.microsoftonline.com/common/oauth2/nativeclient";

/// The macOS redirect URI of apps that are not signed bundles (scripts, command-line tools).
pub const MAC_UNSIGNED_REDIRECT_URI: &str = "msauth.com.msauth.unsignedapp://auth";

/// `msauth.<bundle id>://auth`, or the unsigned-app URI without a bundle id.
pub fn mac_redirect_uri(bundle_id: Option<&str>) -> String {
    match bundle_id.map(str::trim).filter(|b| !b.is_empty()) {
        Some(bundle) => format!("msauth.{bundle}://auth"),
        None => MAC_UNSIGNED_REDIRECT_URI.to_string(),
    }
}

/// One redirect URI an app registration must contain for a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRedirectUri {
    /// The platform whose broker sends it.
    pub platform: BrokerPlatform,
    /// The URI to add.
    pub redirect_uri: String,
}

/// The redirect URIs an app must register for the brokers of `platforms` (duplicates removed:
/// Windows and WSL share one). `bundle_id` is the macOS app's bundle id, `None` for unsigned apps.
///
/// ```
/// use entra_msal::broker::{BrokerPlatform, required_redirect_uris};
///
/// let uris = required_redirect_uris(
///     "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11",
///     &[BrokerPlatform::MacOs, BrokerPlatform::Windows, BrokerPlatform::Wsl],
///     None,
/// );
/// assert_eq!(uris[0].redirect_uri, "msauth.com.msauth.unsignedapp://auth");
/// assert_eq!(
///     uris[1].redirect_uri,
///     "ms-appx-web://Microsoft.AAD.BrokerPlugin/0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11"
/// );
/// assert_eq!(uris.len(), 2);
/// ```
pub fn required_redirect_uris(
    client_id: &str,
    platforms: &[BrokerPlatform],
    bundle_id: Option<&str>,
) -> Vec<RequiredRedirectUri> {
    let mut out: Vec<RequiredRedirectUri> = Vec::new();
    for &platform in platforms {
        let redirect_uri = platform.redirect_uri(client_id, bundle_id);
        if !out.iter().any(|r| r.redirect_uri == redirect_uri) {
            out.push(RequiredRedirectUri {
                platform,
                redirect_uri,
            });
        }
    }
    out
}

/// Whether this Linux is WSL: the kernel release names Microsoft (MSAL Python's `is_wsl`).
pub fn running_on_wsl() -> bool {
    cfg!(target_os = "linux")
        && std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|release| is_wsl_release(&release))
}

/// `is_wsl` over a kernel release string (`uname -r`).
pub(crate) fn is_wsl_release(release: &str) -> bool {
    release.to_ascii_lowercase().contains("microsoft")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11";

    #[test]
    fn redirect_uris_per_platform() {
        assert_eq!(
            BrokerPlatform::MacOs.redirect_uri(CLIENT, Some("com.contoso.myapp")),
            "msauth.com.contoso.myapp://auth"
        );
        assert_eq!(
            BrokerPlatform::MacOs.redirect_uri(CLIENT, None),
            "msauth.com.msauth.unsignedapp://auth"
        );
        assert_eq!(
            BrokerPlatform::MacOs.redirect_uri(CLIENT, Some(" ")),
            "msauth.com.msauth.unsignedapp://auth"
        );
        assert_eq!(
            BrokerPlatform::Windows.redirect_uri(CLIENT, None),
            format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}")
        );
        assert_eq!(
            BrokerPlatform::Wsl.redirect_uri(CLIENT, None),
            BrokerPlatform::Windows.redirect_uri(CLIENT, None)
        );
        assert_eq!(
            BrokerPlatform::Linux.redirect_uri(CLIENT, None),
            "https://login.microsoftonline.com/common/oauth2/nativeclient"
        );
    }

    #[test]
    fn required_uris_are_deduplicated_in_order() {
        let all = required_redirect_uris(CLIENT, &BrokerPlatform::ALL, Some("com.contoso.app"));
        let uris: Vec<_> = all.iter().map(|r| r.redirect_uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                format!("ms-appx-web://Microsoft.AAD.BrokerPlugin/{CLIENT}").as_str(),
                "msauth.com.contoso.app://auth",
                LINUX_REDIRECT_URI,
            ]
        );
        assert!(required_redirect_uris(CLIENT, &[], None).is_empty());
    }

    #[test]
    fn wsl_is_told_by_the_kernel_release() {
        assert!(is_wsl_release("5.15.167.4-microsoft-standard-WSL2"));
        assert!(is_wsl_release("4.4.0-19041-Microsoft"));
        assert!(!is_wsl_release("6.1.0-28-amd64"));
    }
}
