//! Sign in through the platform's authentication broker from a console program: WAM on Windows
//! (and from WSL), the Enterprise SSO extension on macOS, the Microsoft identity broker on Linux.
//! Where the broker cannot be reached, the library falls back to the system browser.
//!
//! The app registration needs the broker redirect URIs this example prints. Run it with the
//! `broker` feature:
//!
//! `ENTRA_AUTHORITY=https://login.microsoftonline.com/common ENTRA_CLIENT_ID=... ENTRA_SCOPE=User.ReadBasic.All cargo run -p entra-msal --features broker --example broker_console`
//!
//! A plain `#[tokio::main]` is all it takes on every platform; on macOS the library runs the main
//! run loop itself while it waits for the SSO extension (see the `broker::macos` docs).
//!
//! Against the emulator's broker service (`entra-emulator serve --broker --json` prints the
//! values), also set `ENTRA_BROKER_BUS` to the bus address it claims.

#[path = "common/mod.rs"]
mod common;

use entra_msal::{BrokerAvailability, InteractiveOptions, PublicClientApplication, SilentOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scope = common::var("ENTRA_SCOPE")?;
    let mut builder = PublicClientApplication::builder(common::var("ENTRA_CLIENT_ID")?)
        .authority(common::var("ENTRA_AUTHORITY")?)
        .enable_broker_on_mac(true)
        .enable_broker_on_windows(true)
        .enable_broker_on_linux(true)
        .enable_broker_on_wsl(true);
    if let Ok(ca_file) = std::env::var("ENTRA_CA_FILE") {
        builder = builder
            .trusted_ca(std::fs::read_to_string(ca_file)?)
            .instance_discovery(false);
    }
    if let Ok(bus) = std::env::var("ENTRA_BROKER_BUS") {
        builder = builder.broker_bus_address(bus);
    }
    let app = builder.build()?;

    println!("Redirect URIs to register for the brokers enabled here:");
    for uri in app.broker_redirect_uris() {
        println!("  {:<8} {}", uri.platform.to_string(), uri.redirect_uri);
    }
    match app.broker_availability().await {
        BrokerAvailability::Available(platform) => println!("Using the {platform} broker."),
        BrokerAvailability::Unavailable { reason, .. } => {
            println!("No broker ({reason}); the system browser will be used.")
        }
        BrokerAvailability::NotEnabled => println!("No broker on this platform."),
        other => println!("{other:?}"),
    }

    let scopes = [scope.as_str()];
    let result = match app.accounts(None).first() {
        Some(account) => {
            app.acquire_token_silent(&scopes, account, &SilentOptions::default())
                .await?
        }
        None => {
            let options = InteractiveOptions {
                parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
                ..Default::default()
            };
            app.acquire_token_interactive(&scopes, &options).await?
        }
    };
    common::report(&result);
    Ok(())
}
