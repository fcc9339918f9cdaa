//! Sign a user in with username and password (managed, non-MFA accounts only).
//!
//! `ENTRA_USERNAME=... ENTRA_PASSWORD=... ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_SCOPE=...
//! cargo run -p entra-msal --example username_password`

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = common::public_client()?;
    let scope = common::var("ENTRA_SCOPE")?;
    let result = app
        .acquire_token_by_username_password(
            &common::var("ENTRA_USERNAME")?,
            &common::var("ENTRA_PASSWORD")?,
            &[scope.as_str()],
        )
        .await?;
    common::report(&result);
    Ok(())
}
