//! The macOS broker: the Microsoft Enterprise SSO extension (Company Portal) through
//! AuthenticationServices.
//!
//! [`codec`] turns requests into the extension's flat string dictionaries and its answers and
//! `NSError`s back into [`BrokerTokenResponse`](crate::broker::BrokerTokenResponse) and
//! [`BrokerError`](crate::broker::BrokerError); it is pure and compiled everywhere. The shim
//! (`MacBroker`, macOS with the `broker` feature only) hands those dictionaries to
//! `ASAuthorizationSingleSignOnProvider` for `https://login.microsoftonline.com/common`.
//!
//! # Main thread and run loop
//!
//! AuthenticationServices delivers its answers to a delegate on the **main thread**, through the
//! main run loop. `MacBroker` therefore dispatches every request to the main queue and awaits the
//! answer from whatever thread the caller's future runs on. For that to work:
//!
//! - the main thread must run its run loop (`NSApplication::run` in a GUI app;
//!   `CFRunLoopRun()` or `dispatch_main()` in a command-line tool), and
//! - the async runtime that awaits broker calls must run on **other** threads.
//!
//! A `#[tokio::main]` program blocks the main thread inside the runtime, so the extension's answer
//! can never be delivered: it would deadlock. Such a program should start a runtime on a
//! background thread and park the main thread in the run loop, for example:
//!
//! ```text
//! fn main() {
//!     std::thread::spawn(|| {
//!         let rt = tokio::runtime::Runtime::new().unwrap();
//!         rt.block_on(async { /* use PublicClientApplication here */ });
//!         std::process::exit(0);
//!     });
//!     // Keep the main thread in the main run loop (CFRunLoopRun or dispatch_main).
//!     dispatch2::dispatch_main();
//! }
//! ```
//!
//! `MacBroker` refuses a call made on the main thread itself (a typed
//! [`ApiContractViolation`](crate::broker::BrokerStatus::ApiContractViolation) error instead of
//! a hang), and silent calls give up after a timeout with a hint about the run loop.
//!
//! # Apple Silicon only
//!
//! As MSAL Python 1.39, the broker is used on Apple Silicon only
//! ([`codec::mac_broker_supported`]); Intel Macs and Rosetta fall back to the browser.

pub mod codec;
#[cfg(all(feature = "broker", target_os = "macos"))]
mod shim;

#[cfg(all(feature = "broker", target_os = "macos"))]
pub use shim::MacBroker;

pub use codec::{NsErrorInfo, mac_broker_supported};

/// The bundle id of the running app, for its redirect URI `msauth.<bundle id>://auth`; `None`
/// for a program that is not an app bundle (then `msauth.com.msauth.unsignedapp://auth` is used).
///
/// On macOS with the `broker` feature this is `NSBundle.mainBundle.bundleIdentifier`; elsewhere
/// it is read from the `Info.plist` of the bundle the executable lives in, if any. Apps can
/// override the result (the builder's redirect-URI option).
pub fn detect_bundle_id() -> Option<String> {
    #[cfg(all(feature = "broker", target_os = "macos"))]
    {
        shim::main_bundle_id()
    }
    #[cfg(not(all(feature = "broker", target_os = "macos")))]
    {
        let exe = std::env::current_exe().ok()?;
        codec::bundle_id_for_executable(&exe)
    }
}

/// Whether this process may use the macOS broker: running on macOS on Apple Silicon.
pub fn supported_here() -> bool {
    cfg!(target_os = "macos") && mac_broker_supported(std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_binary_is_not_an_app_bundle() {
        // Test executables live in target/debug/deps, not in X.app/Contents/MacOS.
        assert_eq!(super::detect_bundle_id(), None);
        assert_eq!(
            super::supported_here(),
            cfg!(all(target_os = "macos", target_arch = "aarch64"))
        );
    }
}
