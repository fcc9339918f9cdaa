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
//! main run loop. Apps do not need to arrange anything for that; `MacBroker` works from any
//! thread, as Microsoft's runtimes do ([`main_loop`] has the details and the tests):
//!
//! - **Called on the main thread** (a plain `#[tokio::main]` program of either flavour, a
//!   current-thread runtime's `block_on`, the `msal` CLI): the request starts right there, and
//!   while it waits the future runs the main run loop in short slices (`CFRunLoopRunInMode`,
//!   50 ms at most), so the answer is delivered and the runtime's other tasks keep running. This
//!   is what pymsalruntime (`MSALRUNTIME_runloop_run`) and MSAL.NET (`MacMainThreadScheduler`)
//!   do for console programs.
//! - **Called from another thread** (a GUI app's background task, `tokio::spawn` on a
//!   multi-thread runtime): the request is posted to the main queue. The main thread must then
//!   service its run loop, as a GUI app's `NSApplication.run` does. A program that parks the main
//!   thread itself should use `CFRunLoopRun()` (not `dispatch_main()`, which drains the main
//!   queue but runs no run-loop sources). If the main thread does not pick the request up within
//!   about 2 s, the call fails with
//!   [`ApiContractViolation`](crate::broker::BrokerStatus::ApiContractViolation) and a message
//!   that says what to change.
//!
//! Silent requests time out after 60 s, interactive sign-in after 10 minutes; a request that
//! times out, or whose future is dropped, is cancelled (`-[ASAuthorizationController cancel]`).
//! The thread a call comes from never makes the library give up on the broker for good.
//!
//! # Apple Silicon only
//!
//! As MSAL Python 1.39, the broker is used on Apple Silicon only
//! ([`codec::mac_broker_supported`]); Intel Macs and Rosetta fall back to the browser.

// The codec is pure and compiled (and tested) everywhere; on macOS with the broker some of its
// fallbacks (reading Info.plist) are unused, elsewhere the request encoders are.
#![allow(dead_code)]

pub mod codec;
pub mod main_loop;
#[cfg(all(feature = "broker", target_os = "macos"))]
mod shim;

#[cfg(all(feature = "broker", target_os = "macos"))]
pub use shim::MacBroker;

pub use codec::mac_broker_supported;

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
    fn the_documented_console_program_is_the_compiled_example() {
        // docs/broker.md shows examples/broker_quickstart.rs (below its marker line) verbatim, so
        // the program users copy is the one the build (and scripts/test, for macOS) compiles.
        let docs = include_str!("../../../../../docs/broker.md");
        let example = include_str!("../../../examples/broker_quickstart.rs");
        let marker = "// docs/broker.md: A console program\n";
        let program = &example[example.find(marker).expect("the marker line") + marker.len()..];
        assert!(program.contains("#[tokio::main]\nasync fn main()"));
        assert!(
            docs.contains(&format!("```rust\n{program}```")),
            "docs/broker.md no longer shows examples/broker_quickstart.rs verbatim"
        );
        assert!(!docs.contains("dispatch_main();"));
    }

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
