//! `msal status`: who is signed in, and for each account what the cache holds (like
//! `gh auth status`): the access tokens' scopes and expiry, and whether a refresh token is there.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::cli::{ListOutput, StatusArgs};
use crate::client::{self, Cache};
use crate::failure::Failure;
use crate::localtime;
use crate::output::account_json;
use crate::settings::Settings;
use crate::terminal::{clean, clean_json};

/// One cached access token, as `status` reports it.
#[derive(Debug, Clone)]
struct AccessTokenInfo {
    scopes: Vec<String>,
    expires_on: Option<OffsetDateTime>,
    client_id: String,
    realm: String,
}

/// The entries of one section (`AccessToken`, `RefreshToken`) of the MSAL JSON cache.
fn entries<'a>(cache: &'a Value, section: &str) -> impl Iterator<Item = &'a Map<String, Value>> {
    cache[section]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_object)
}

fn text_field<'a>(entry: &'a Map<String, Value>, name: &str) -> &'a str {
    entry.get(name).and_then(Value::as_str).unwrap_or("")
}

/// `expires_on` is a string of seconds in MSAL's schema (a number in some older writers).
fn time_field(entry: &Map<String, Value>, name: &str) -> Option<OffsetDateTime> {
    let secs = match entry.get(name)? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// Prints the signed-in accounts and their cached tokens.
pub fn run(settings: &Settings, args: &StatusArgs) -> Result<(), Failure> {
    let cache = Cache::open(&settings.cache_file.value)?;
    let app = client::public_app(settings, &cache, false)?;
    let accounts = app.accounts(None);
    let snapshot: Value = serde_json::from_str(&cache.cache.serialize()).unwrap_or(Value::Null);
    let now = OffsetDateTime::now_utc();
    let mut report = Vec::new();
    for account in &accounts {
        let home = account.home_account_id.as_str();
        let access: Vec<AccessTokenInfo> = entries(&snapshot, "AccessToken")
            .filter(|e| text_field(e, "home_account_id") == home)
            .map(|e| AccessTokenInfo {
                scopes: text_field(e, "target")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                expires_on: time_field(e, "expires_on"),
                client_id: text_field(e, "client_id").to_string(),
                realm: text_field(e, "realm").to_string(),
            })
            .collect();
        let refresh =
            entries(&snapshot, "RefreshToken").any(|e| text_field(e, "home_account_id") == home);
        report.push((account, access, refresh));
    }
    match args.output {
        ListOutput::Json => {
            let list: Vec<Value> = report
                .iter()
                .map(|(account, access, refresh)| {
                    let mut v = account_json(account);
                    v["refresh_token"] = json!(refresh);
                    v["access_tokens"] = access
                        .iter()
                        .map(|t| {
                            json!({
                                "scopes": t.scopes,
                                "client_id": t.client_id,
                                "tenant": t.realm,
                                "expires_on": t.expires_on.map(OffsetDateTime::unix_timestamp),
                                "expires_at": t.expires_on.map(localtime::rfc3339_utc),
                                "expired": t.expires_on.is_none_or(|e| e <= now),
                            })
                        })
                        .collect();
                    v
                })
                .collect();
            let v = json!({
                "cache_file": cache.path.display().to_string(),
                "client_id": app.client_id(),
                "accounts": list,
            });
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
            );
        }
        ListOutput::Text if report.is_empty() => {
            println!(
                "No account is signed in for client id {} in {}.",
                app.client_id(),
                cache.path.display()
            );
            println!("  next: sign in with `msal login` (or `msal login --device-code`)");
        }
        ListOutput::Text => {
            println!(
                "Token cache {} (client id {})",
                cache.path.display(),
                app.client_id()
            );
            for (account, access, refresh) in &report {
                let name = if account.username.is_empty() {
                    "(no username)".into()
                } else {
                    clean(&account.username)
                };
                println!("\n{name} (tenant {})", clean(&account.realm));
                let source = account.account_source.as_deref().unwrap_or("unknown");
                println!("  signed in with  {}", clean(source));
                println!(
                    "  refresh token   {}",
                    if *refresh {
                        "yes: new access tokens come without a sign-in"
                    } else if source == "broker" {
                        "no (the broker keeps it; use --broker)"
                    } else {
                        "no: the next token needs a sign-in (`msal login`)"
                    }
                );
                if access.is_empty() {
                    println!("  access tokens   none cached");
                }
                for t in access {
                    let expiry = match t.expires_on {
                        Some(e) if e <= now => {
                            format!("expired {}", localtime::relative(e, now))
                        }
                        Some(e) => format!(
                            "expires {} ({})",
                            localtime::display(e),
                            localtime::relative(e, now)
                        ),
                        None => "expiry unknown".into(),
                    };
                    println!("  access token    {}  {expiry}", clean(&t.scopes.join(" ")));
                }
            }
        }
    }
    cache.finish();
    Ok(())
}
