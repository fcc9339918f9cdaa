//! `msal login`.

use entra_msal::app::AuthenticationResult;

use crate::cli::{ListOutput, LoginArgs};
use crate::client::{self, Cache};
use crate::failure::Failure;
use crate::output::account_json;
use crate::settings::Settings;
use crate::signin::{self, Method};
use crate::terminal::{clean, clean_json};

/// The scope `login` asks for when none is configured.
pub const DEFAULT_LOGIN_SCOPE: &str = "User.Read";

/// Signs the user in and prints who.
pub async fn run(settings: &Settings, args: &LoginArgs) -> Result<(), Failure> {
    let scopes = settings.scopes(&args.scopes, Some(DEFAULT_LOGIN_SCOPE))?;
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let cache = Cache::open(&settings.cache_file.value)?;
    let broker = args.sign_in.broker || settings.broker;
    let app = client::public_app(settings, &cache, broker)?;
    let result = signin::sign_in(
        &app,
        &Method::from_args(&args.sign_in, broker),
        &scopes,
        None,
    )
    .await;
    cache.finish();
    print_signed_in(&result?, args.output);
    Ok(())
}

fn print_signed_in(result: &AuthenticationResult, output: ListOutput) {
    match (output, &result.account) {
        (ListOutput::Json, Some(a)) => println!(
            "{}",
            clean_json(&serde_json::to_string_pretty(&account_json(a)).unwrap_or_default())
        ),
        (ListOutput::Json, None) => println!("null"),
        (ListOutput::Text, Some(a)) => println!(
            "Signed in as {} (tenant {}, home account {}).",
            clean(&a.username),
            clean(&a.realm),
            clean(&a.home_account_id)
        ),
        (ListOutput::Text, None) => println!("Signed in."),
    }
}
