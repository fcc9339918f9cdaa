//! `msal config get|set|unset|list`: the config file, checked key by key before it is written.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::cli::{ConfigCommand, GlobalArgs, ListOutput};
use crate::failure::Failure;
use crate::settings::{self, CONFIG_KEYS};
use crate::terminal::{clean, clean_json};

/// The kind of value a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A client id: a GUID.
    Guid,
    /// An Entra authority URL.
    Authority,
    /// An https URL.
    Url,
    /// A tenant: GUID, domain, organizations, common or consumers.
    Tenant,
    /// A CA file: a readable PEM file.
    CaFile,
    /// A file path.
    Path,
    /// A list of scopes (separated by spaces or commas).
    Scopes,
    /// true or false.
    Bool,
    /// Any non-empty text.
    Text,
}

const KEYS: [(&str, KeyKind); 10] = [
    ("client_id", KeyKind::Guid),
    ("authority", KeyKind::Authority),
    ("oidc_authority", KeyKind::Url),
    ("tenant", KeyKind::Tenant),
    ("ca_file", KeyKind::CaFile),
    ("cache_file", KeyKind::Path),
    ("scopes", KeyKind::Scopes),
    ("instance_discovery", KeyKind::Bool),
    ("subscription", KeyKind::Text),
    ("broker", KeyKind::Bool),
];

/// The number of single-character edits between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The kind of `key`, or a failure naming it, with the closest key when there is one.
fn kind_of(key: &str) -> Result<KeyKind, Failure> {
    if let Some((_, kind)) = KEYS.iter().find(|(k, _)| *k == key) {
        return Ok(*kind);
    }
    let normalized = key.to_ascii_lowercase().replace('-', "_");
    let closest = KEYS
        .iter()
        .map(|(k, _)| (distance(&normalized, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    let mut failure = Failure::config(format!("`{}` is not a config key", clean(key)));
    failure = match closest {
        Some((_, k)) => failure.next(format!("did you mean `{k}`? The keys are {CONFIG_KEYS}")),
        None => failure.next(format!("the keys are {CONFIG_KEYS}")),
    };
    Err(failure)
}

fn is_guid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `value` checked for `key` and turned into its TOML value.
fn parse_value(key: &str, kind: KeyKind, value: &str) -> Result<toml::Value, Failure> {
    let bad = |why: &str, example: &str| {
        Failure::config(format!("`{key}` {why}, not `{}`", clean(value)))
            .next(format!("e.g. `msal config set {key} {example}`"))
    };
    let v = value.trim();
    if v.is_empty() {
        return Err(Failure::config(format!("`{key}` cannot be empty"))
            .next(format!("to remove it, run `msal config unset {key}`")));
    }
    Ok(match kind {
        KeyKind::Guid if !is_guid(v) => {
            return Err(bad(
                "must be a GUID (the application (client) id of the app registration)",
                "11111111-2222-3333-4444-555555555555",
            ));
        }
        KeyKind::Authority => {
            entra_msal::authority::Authority::parse(v, true).map_err(|e| {
                bad(
                    &format!("must be an authority URL ({e})"),
                    "https://login.microsoftonline.com/contoso.onmicrosoft.com",
                )
            })?;
            toml::Value::String(v.into())
        }
        KeyKind::Url if !v.starts_with("https://") => {
            return Err(bad("must be an https:// URL", "https://issuer.example.com"));
        }
        KeyKind::Tenant if v.contains(['/', ' ', '?', '#']) => {
            return Err(bad(
                "must be a tenant id, a domain, organizations, common or consumers",
                "contoso.onmicrosoft.com",
            ));
        }
        KeyKind::CaFile => {
            crate::client::read_ca(Path::new(v)).map_err(|e| {
                Failure::config(format!("`{key}`: {}", e.message))
                    .next("pass the path of a PEM file with the CA certificate")
            })?;
            toml::Value::String(v.into())
        }
        KeyKind::Scopes => {
            let scopes: Vec<toml::Value> = v
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect();
            toml::Value::Array(scopes)
        }
        KeyKind::Bool => match v {
            "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            _ => return Err(bad("must be true or false", "true")),
        },
        KeyKind::Guid | KeyKind::Url | KeyKind::Tenant | KeyKind::Path | KeyKind::Text => {
            toml::Value::String(v.into())
        }
    })
}

/// The config file `msal config` works on: `--config` / `MSAL_CONFIG`, else the default one.
fn config_path(global: &GlobalArgs) -> Result<PathBuf, Failure> {
    global
        .config
        .clone()
        .or_else(settings::default_config_path)
        .ok_or_else(|| {
            Failure::config("this system has no config directory")
                .next("name a config file with --config PATH or MSAL_CONFIG")
        })
}

/// The file as a TOML table (empty when it does not exist).
fn load(path: &Path) -> Result<toml::Table, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => {
            return Err(Failure::config(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    text.parse::<toml::Table>().map_err(|e| {
        Failure::config(format!(
            "the config file {} is not TOML: {}",
            path.display(),
            e.message()
        ))
        .next("fix it in an editor, or remove it")
    })
}

/// Writes the table next to the file and moves it into place (a reader never sees half).
fn save(path: &Path, table: &toml::Table) -> Result<(), Failure> {
    let hint = "check the directory's permissions, or use another file with --config";
    let text = toml::to_string(table).map_err(|e| {
        Failure::config(format!(
            "cannot write the config file {}: {e}",
            path.display()
        ))
        .next(hint)
    })?;
    crate::atomic_file::replace(path, &text, "the config file", hint)
}

/// A TOML value as `get` prints it: text bare, lists space-separated.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

fn to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => json!(s),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        other => json!(other.to_string()),
    }
}

/// Runs a config command.
pub fn run(global: &GlobalArgs, command: &ConfigCommand) -> Result<(), Failure> {
    let path = config_path(global)?;
    match command {
        ConfigCommand::Get { key } => {
            kind_of(key)?;
            if let Some(v) = load(&path)?.get(key.as_str()) {
                println!("{}", clean(&show(v)));
            }
        }
        ConfigCommand::Set { key, value } => {
            let kind = kind_of(key)?;
            let value = parse_value(key, kind, value)?;
            let mut table = load(&path)?;
            table.insert(key.clone(), value);
            save(&path, &table)?;
            eprintln!("Set {key} in {}.", path.display());
        }
        ConfigCommand::Unset { key } => {
            kind_of(key)?;
            let mut table = load(&path)?;
            if table.remove(key.as_str()).is_some() {
                save(&path, &table)?;
                eprintln!("Removed {key} from {}.", path.display());
            } else {
                eprintln!("{key} is not set in {}; nothing to do.", path.display());
            }
        }
        ConfigCommand::List { output } => {
            let table = load(&path)?;
            match output {
                ListOutput::Json => {
                    let map: Map<String, Value> =
                        table.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
                    let v = json!({ "path": path.display().to_string(), "values": map });
                    println!(
                        "{}",
                        clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
                    );
                }
                ListOutput::Text if table.is_empty() => {
                    eprintln!(
                        "No key is set in {}; set one with `msal config set KEY VALUE`.",
                        path.display()
                    );
                }
                ListOutput::Text => {
                    for (k, v) in &table {
                        println!("{} = {}", clean(k), clean(&v.to_string()));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_checked() {
        assert_eq!(kind_of("broker").unwrap(), KeyKind::Bool);
        let e = kind_of("clientid").unwrap_err();
        assert!(e.next.unwrap().contains("did you mean `client_id`"));
        assert!(parse_value("client_id", KeyKind::Guid, "my-app").is_err());
        assert!(
            parse_value(
                "client_id",
                KeyKind::Guid,
                "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
            )
            .is_ok()
        );
        let e = parse_value("broker", KeyKind::Bool, "yes").unwrap_err();
        assert!(
            e.message.contains("`broker` must be true or false"),
            "{}",
            e.message
        );
        assert_eq!(
            parse_value("scopes", KeyKind::Scopes, "User.Read, Mail.Read").unwrap(),
            toml::Value::Array(vec!["User.Read".into(), "Mail.Read".into()])
        );
    }
}
