//! `msal decode`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::cli::{DecodeArgs, ListOutput};
use crate::failure::Failure;
use crate::terminal::clean_json;
use crate::{jwt, localtime, signin};

const TIME_CLAIMS: [(&str, &str); 4] = [
    ("iat", "Issued at"),
    ("nbf", "Not before"),
    ("exp", "Expires"),
    ("auth_time", "Signed in at"),
];

/// Prints a JWT's header and claims.
pub fn run(args: &DecodeArgs) -> Result<(), Failure> {
    let token = match args.token.as_deref() {
        None | Some("-") => signin::read_stdin_line()?,
        Some(t) => t.to_string(),
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::config("no token given")
            .next("pass the token as an argument or on standard input"));
    }
    let claims = jwt::claims(token)?;
    let header = jwt::header(token)?;
    let now = OffsetDateTime::now_utc();
    match args.output {
        ListOutput::Json => {
            let v = json!({"header": header, "claims": claims, "times": times_json(&claims)});
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
            );
        }
        ListOutput::Text => {
            println!("Header (the signature is not checked):");
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&header).unwrap_or_default())
            );
            println!("Claims:");
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&claims).unwrap_or_default())
            );
            for (claim, label, t) in times(&claims) {
                let note = match claim {
                    "exp" if t <= now => format!("expired {}", localtime::relative(t, now)),
                    _ => localtime::relative(t, now),
                };
                println!("{label:<13} {} ({note})", localtime::display(t));
            }
        }
    }
    Ok(())
}

fn times(claims: &Map<String, Value>) -> Vec<(&'static str, &'static str, OffsetDateTime)> {
    TIME_CLAIMS
        .iter()
        .filter_map(|(claim, label)| {
            let secs = claims.get(*claim)?.as_i64()?;
            Some((
                *claim,
                *label,
                OffsetDateTime::from_unix_timestamp(secs).ok()?,
            ))
        })
        .collect()
}

fn times_json(claims: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (claim, _, t) in times(claims) {
        out.insert(claim.to_string(), json!(localtime::display(t)));
    }
    Value::Object(out)
}
