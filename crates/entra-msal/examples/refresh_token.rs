//! Migrate a refresh token obtained elsewhere into the cache, then use the account silently.
//!
//! `ENTRA_REFRESH_TOKEN=... ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_SCOPE=...
//! cargo run -p entra-msal --example refresh_token`

#[path = "common/mod.rs"]
mod common;

use entra_msal::SilentOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = common::public_client()?;
    let scope = common::var("ENTRA_SCOPE")?;
    let result = app
        .acquire_token_by_refresh_token(&common::var("ENTRA_REFRESH_TOKEN")?, &[scope.as_str()])
        .await?;
    common::report(&result);
    for account in app.accounts(None) {
        let silent = app
            .acquire_token_silent(&[scope.as_str()], &account, &SilentOptions::default())
            .await?;
        common::report(&silent);
    }
    Ok(())
}
