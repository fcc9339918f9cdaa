//! Sign a user in through the system browser (`$BROWSER`, else the platform's opener) and a
//! loopback redirect on 127.0.0.1.
//!
//! `ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_SCOPE=... cargo run -p entra-msal --example interactive`

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use entra_msal::InteractiveOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = common::public_client()?;
    let scope = common::var("ENTRA_SCOPE")?;
    let options = InteractiveOptions {
        timeout: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let result = app
        .acquire_token_interactive(&[scope.as_str()], &options)
        .await?;
    common::report(&result);
    Ok(())
}
