//! `msal accounts` and `msal logout`.

use entra_msal::Account;

use crate::cli::{AccountsArgs, ListOutput, LogoutArgs};
use crate::client::{self, Cache};
use crate::failure::Failure;
use crate::output::account_json;
use crate::settings::Settings;
use crate::terminal::{clean, clean_json};

/// Lists the signed-in accounts.
pub fn list(settings: &Settings, args: &AccountsArgs) -> Result<(), Failure> {
    let cache = Cache::open(&settings.cache_file.value)?;
    let app = client::public_app(settings, &cache, false)?;
    let accounts = app.accounts(None);
    match args.output {
        ListOutput::Json => {
            let list: Vec<_> = accounts.iter().map(account_json).collect();
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&list).unwrap_or_default())
            );
        }
        ListOutput::Text if accounts.is_empty() => {
            eprintln!(
                "No account is signed in for client id {} in {}. Sign in with `msal login`.",
                app.client_id(),
                cache.path.display()
            );
        }
        ListOutput::Text => {
            for a in &accounts {
                println!(
                    "{}\ttenant {}\thome account {}",
                    if a.username.is_empty() {
                        "(no username)".into()
                    } else {
                        clean(&a.username)
                    },
                    clean(&a.realm),
                    clean(&a.home_account_id)
                );
            }
        }
    }
    Ok(())
}

/// Finds `wanted` (username or home account id) among `accounts`.
pub fn find<'a>(accounts: &'a [Account], wanted: &str) -> Result<&'a Account, Failure> {
    accounts
        .iter()
        .find(|a| a.username.eq_ignore_ascii_case(wanted) || a.home_account_id == wanted)
        .ok_or_else(|| {
            Failure::new(
                crate::failure::Kind::InteractionRequired,
                format!("{} is not signed in", clean(wanted)),
            )
            .next(if accounts.is_empty() {
                "sign in with `msal login`; no account is signed in now".to_string()
            } else {
                format!(
                    "sign in with `msal login`; signed in now: {}",
                    names(accounts)
                )
            })
        })
}

/// The usernames, for messages.
pub fn names(accounts: &[Account]) -> String {
    if accounts.is_empty() {
        return "nobody".into();
    }
    accounts
        .iter()
        .map(|a| clean(&a.username).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Signs accounts out.
pub async fn logout(settings: &Settings, args: &LogoutArgs) -> Result<(), Failure> {
    if args.app {
        return logout_app(settings, args);
    }
    let cache = Cache::open(&settings.cache_file.value)?;
    let app = client::public_app(settings, &cache, args.broker || settings.broker)?;
    let accounts = app.accounts(None);
    let chosen: Vec<Account> = if args.all {
        accounts.to_vec()
    } else if let Some(wanted) = &args.account {
        vec![find(&accounts, wanted)?.clone()]
    } else {
        match accounts.as_slice() {
            [] => Vec::new(),
            [one] => vec![one.clone()],
            _ => {
                return Err(Failure::config(format!(
                    "several accounts are signed in: {}",
                    names(&accounts)
                ))
                .next("choose one with --account USERNAME, or sign every one out with --all"));
            }
        }
    };
    if chosen.is_empty() && args.output == ListOutput::Text {
        eprintln!("No account is signed in; nothing to do.");
    }
    for a in &chosen {
        app.remove_account(a).await;
        if args.output == ListOutput::Text {
            println!("Signed out {}.", clean(&a.username));
        }
    }
    cache.finish();
    if args.output == ListOutput::Json {
        let list: Vec<_> = chosen.iter().map(account_json).collect();
        let v = serde_json::json!({ "signed_out": list });
        println!(
            "{}",
            clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
        );
    }
    Ok(())
}

/// Removes the app-only tokens of the configured application (`msal logout --app`).
fn logout_app(settings: &Settings, args: &LogoutArgs) -> Result<(), Failure> {
    let client_id = settings.require_app_client_id()?.to_string();
    let cache = Cache::open(&settings.cache_file.value)?;
    let app = client::confidential_app_for_cache(settings, &cache)?;
    app.remove_tokens_for_client();
    cache.finish();
    match args.output {
        ListOutput::Text => println!("Removed the app tokens of {}.", clean(&client_id)),
        ListOutput::Json => println!(
            "{}",
            clean_json(
                &serde_json::to_string_pretty(
                    &serde_json::json!({ "app_tokens_removed_for": client_id })
                )
                .unwrap_or_default()
            )
        ),
    }
    Ok(())
}
