//! `msal login`.

use entra_msal::{AuthenticationResult, BrokerAvailability, PublicClientApplication};

use crate::cli::{ListOutput, LoginArgs};
use crate::client::{self, Cache};
use crate::failure::Failure;
use crate::output::account_json;
use crate::settings::Settings;
use crate::signin::{self, Method};
use crate::terminal::{clean, clean_json};

/// Signs the user in and prints who.
pub async fn run(settings: &Settings, args: &LoginArgs) -> Result<(), Failure> {
    // No scope given or configured: sign in only (the library sends openid profile
    // offline_access and caches the account).
    let scopes = settings.scopes_or_none(&args.scopes);
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let cache = Cache::open(&settings.cache_file.value)?;
    let broker = args.sign_in.broker || settings.broker;
    let app = client::public_app(settings, &cache, broker)?;
    if broker {
        report_broker_fallback(&app).await;
    }
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

/// With `--broker`, one line on stderr when the broker will not be used (the sign-in then goes
/// through the browser), so the fallback is visible without logging.
async fn report_broker_fallback(app: &PublicClientApplication) {
    if let Some(line) = broker_fallback_line(&app.broker_availability().await) {
        eprintln!("{line}");
    }
}

/// The fallback line for an availability, or `None` when the broker is used.
fn broker_fallback_line(availability: &BrokerAvailability) -> Option<String> {
    match availability {
        BrokerAvailability::Available(_) => None,
        BrokerAvailability::Unavailable { reason, .. } => Some(format!(
            "msal: the authentication broker is not used ({reason}); signing in through the browser"
        )),
        BrokerAvailability::NotEnabled => Some(
            "msal: this operating system has no authentication broker; signing in through the \
             browser"
                .to_string(),
        ),
        // A future availability the CLI does not know: say nothing rather than guess.
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use entra_msal::broker::BrokerPlatform;

    #[test]
    fn fallback_line_only_when_the_broker_is_not_used() {
        assert_eq!(
            broker_fallback_line(&BrokerAvailability::Available(BrokerPlatform::Linux)),
            None
        );
        let line = broker_fallback_line(&BrokerAvailability::Unavailable {
            platform: Some(BrokerPlatform::Linux),
            reason: "no session bus".into(),
        })
        .unwrap();
        assert_eq!(
            line,
            "msal: the authentication broker is not used (no session bus); signing in through the browser"
        );
        assert!(!line.contains('\n'));
        assert!(
            broker_fallback_line(&BrokerAvailability::NotEnabled)
                .unwrap()
                .ends_with("signing in through the browser")
        );
    }
}
