//! A daemon's token with a client secret (client credentials), from the cache the second time.
//!
//! `ENTRA_CLIENT_SECRET=... ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_SCOPE=<resource>/.default
//! cargo run -p entra-msal --example client_credentials`

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = common::confidential_client()?
        .client_secret(common::var("ENTRA_CLIENT_SECRET")?)
        .build()?;
    let scope = common::var("ENTRA_SCOPE")?;
    for _ in 0..2 {
        let result = app.acquire_token_for_client(&[scope.as_str()]).await?;
        common::report(&result);
    }
    Ok(())
}
