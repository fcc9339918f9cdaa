//! Sign a user in with the device-code flow, then get a token silently.
//!
//! `ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_SCOPE=... cargo run -p entra-msal --example device_code`

#[path = "common/mod.rs"]
mod common;

use entra_msal::SilentOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = common::public_client()?;
    let scope = common::var("ENTRA_SCOPE")?;
    let flow = app.initiate_device_flow(&[scope.as_str()]).await?;
    println!("{}", flow.message);
    println!("user code: {}", flow.user_code);
    let result = app.acquire_token_by_device_flow(&flow).await?;
    common::report(&result);
    let account = result
        .account
        .ok_or("the identity provider returned no account")?;
    let again = app
        .acquire_token_silent(&[scope.as_str()], &account, &SilentOptions::default())
        .await?;
    common::report(&again);
    Ok(())
}
