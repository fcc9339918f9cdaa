//! The console program of `docs/broker.md` ("A console program"). Everything below the marker
//! line is in that document verbatim (a unit test in `broker::macos` checks it), so the
//! documented program is compiled here, and `scripts/test` checks it for macOS as well.
//!
//! `cargo run -p entra-msal --features broker --example broker_quickstart` (after putting your
//! app's client id in place of `CLIENT_ID`).

// docs/broker.md: A console program
use entra_msal::{InteractiveOptions, PublicClientApplication};

#[tokio::main]
async fn main() -> Result<(), entra_msal::Error> {
    let app = PublicClientApplication::builder("CLIENT_ID")
        .authority("https://login.microsoftonline.com/common")
        .enable_broker_on_mac(true)
        .enable_broker_on_windows(true)
        .enable_broker_on_linux(true)
        .enable_broker_on_wsl(true)
        .build()?;
    let options = InteractiveOptions {
        parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
        ..Default::default()
    };
    let result = app
        .acquire_token_interactive(&["User.ReadBasic.All"], &options)
        .await?;
    if let Some(account) = &result.account {
        println!("Signed in as {}.", account.username);
    }
    Ok(())
}
