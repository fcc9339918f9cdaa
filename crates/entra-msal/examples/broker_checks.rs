//! One broker sign-in with the knobs the hardware checks of `docs/broker.md` ("Checks to run on
//! a real Mac / Windows machine") turn: a login hint, a prompt, proof-of-possession, and a
//! silent call afterwards. It prints the route that served each token (broker, identity
//! provider, cache), the token type and the account, never a token.
//!
//! `ENTRA_AUTHORITY=https://login.microsoftonline.com/common ENTRA_CLIENT_ID=... ENTRA_SCOPE=User.Read cargo run -p entra-msal --features broker --example broker_checks`
//!
//! Optional: `ENTRA_LOGIN_HINT` (a username), `ENTRA_PROMPT` (`select_account`, `login`,
//! `consent`), `ENTRA_POP_URL` (a URL: the token is a proof-of-possession token for `GET` on it).

#[path = "common/mod.rs"]
mod common;

use entra_msal::broker::PopParams;
use entra_msal::{
    AuthenticationResult, BrokerAvailability, InteractiveOptions, PublicClientApplication,
    SilentOptions,
};

fn describe(what: &str, result: &AuthenticationResult) {
    let account = result.account.as_ref();
    println!(
        "{what}: route {:?}, token_type {}, account {} (tenant {}, home account {})",
        result.token_source,
        result.token_type,
        account.map_or("-", |a| a.username.as_str()),
        account.map_or("-", |a| a.realm.as_str()),
        account.map_or("-", |a| a.home_account_id.as_str()),
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scope = common::var("ENTRA_SCOPE")?;
    let app = PublicClientApplication::builder(common::var("ENTRA_CLIENT_ID")?)
        .authority(common::var("ENTRA_AUTHORITY")?)
        .enable_broker_on_mac(true)
        .enable_broker_on_windows(true)
        .enable_broker_on_linux(true)
        .enable_broker_on_wsl(true)
        .build()?;
    match app.broker_availability().await {
        BrokerAvailability::Available(platform) => println!("broker: available ({platform})"),
        BrokerAvailability::Unavailable { reason, .. } => println!("broker: not used ({reason})"),
        other => println!("broker: {other:?}"),
    }
    let pop = match std::env::var("ENTRA_POP_URL") {
        Ok(url) => {
            let url = url::Url::parse(&url)?;
            Some(PopParams {
                http_method: "GET".into(),
                uri_host: url.host_str().unwrap_or_default().to_string(),
                uri_path: url.path().to_string(),
                nonce: None,
            })
        }
        Err(_) => None,
    };
    let options = InteractiveOptions {
        parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
        login_hint: std::env::var("ENTRA_LOGIN_HINT").ok(),
        prompt: std::env::var("ENTRA_PROMPT")
            .ok()
            .map(|p| p.parse())
            .transpose()?,
        pop: pop.clone(),
        ..Default::default()
    };
    let scopes = [scope.as_str()];
    let signed_in = app.acquire_token_interactive(&scopes, &options).await?;
    describe("interactive", &signed_in);
    if let Some(account) = signed_in.account.as_ref() {
        let silent = SilentOptions {
            pop: pop.clone(),
            ..Default::default()
        };
        describe(
            "silent",
            &app.acquire_token_silent(&scopes, account, &silent).await?,
        );
        let forced = SilentOptions {
            force_refresh: true,
            pop,
            ..Default::default()
        };
        describe(
            "silent, force_refresh",
            &app.acquire_token_silent(&scopes, account, &forced).await?,
        );
    }
    Ok(())
}
