//! The effective configuration: flags, then environment variables (both through clap), then the
//! config file, then defaults; each value remembers where it came from (for `msal doctor`).

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::failure::Failure;

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    ConfigFile,
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("command line"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::ConfigFile => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `authority`.
    pub authority: Option<String>,
    /// `oidc_authority`.
    pub oidc_authority: Option<String>,
    /// `tenant`.
    pub tenant: Option<String>,
    /// `ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `cache_file`.
    pub cache_file: Option<PathBuf>,
    /// Default scopes of `login` and `token`.
    pub scopes: Option<Vec<String>>,
    /// `instance_discovery = false` turns instance discovery off.
    pub instance_discovery: Option<bool>,
    /// The Azure subscription reported by `--output az`.
    pub subscription: Option<String>,
    /// `broker = true` signs users in through the authentication broker (as `--broker`).
    pub broker: Option<bool>,
}

/// Everything a command needs to know about the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The client id.
    pub client_id: Option<Setting<String>>,
    /// The authority.
    pub authority: Option<Setting<String>>,
    /// The OIDC authority.
    pub oidc_authority: Option<Setting<String>>,
    /// The tenant.
    pub tenant: Option<Setting<String>>,
    /// The CA file.
    pub ca_file: Option<Setting<PathBuf>>,
    /// The token cache file.
    pub cache_file: Setting<PathBuf>,
    /// Default scopes.
    pub scopes: Vec<String>,
    /// Instance discovery on?
    pub instance_discovery: Setting<bool>,
    /// The subscription for `--output az`.
    pub subscription: Option<String>,
    /// The config file's `broker` switch.
    pub broker: bool,
    /// The config file, whether it exists.
    pub config_path: Option<(PathBuf, bool)>,
}

/// The Azure CLI's public client id, used when no client id is configured (as the Azure SDK's
/// developer credentials do): Microsoft's first-party app, pre-authorized for Microsoft Graph
/// and Azure Resource Manager in every tenant, so no app registration is needed.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The config file's keys, as `msal config` and the errors name them.
pub const CONFIG_KEYS: &str = "client_id, authority, oidc_authority, tenant, ca_file, cache_file, scopes, instance_discovery, subscription, broker";

/// The default config file: `<OS config dir>/msal/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("msal").join("config.toml"))
}

/// The default token cache: `<OS cache dir>/msal/token_cache.json`.
pub fn default_cache_path() -> PathBuf {
    dirs::cache_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("msal")
        .join("token_cache.json")
}

/// Reads a config file: `None` when it does not exist.
pub fn read_config(path: &Path) -> Result<Option<ConfigFile>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::config(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        // toml's full error names the line and column and quotes the key.
        let mut detail = e.to_string().trim_end().replace('\n', " ");
        while detail.contains("  ") {
            detail = detail.replace("  ", " ");
        }
        Failure::config(format!(
            "the config file {} is not valid: {detail}",
            path.display(),
        ))
        .next(format!("fix it with `msal config set KEY VALUE` or an editor, or remove it; the keys are {CONFIG_KEYS}"))
    })
}

fn source_of(matches: &ArgMatches, id: &str, env: &'static str) -> Source {
    match matches.value_source(id) {
        Some(ValueSource::EnvVariable) => Source::Env(env),
        Some(ValueSource::DefaultValue) => Source::Default,
        _ => Source::Flag,
    }
}

/// The innermost subcommand's matches (where global flags end up).
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m
}

impl Settings {
    /// Resolves the configuration for a run.
    pub fn resolve(global: &GlobalArgs, matches: &ArgMatches) -> Result<Self, Failure> {
        let matches = leaf(matches);
        let (config_path, explicit_config) = match &global.config {
            Some(p) => (Some(p.clone()), true),
            None => (default_config_path(), false),
        };
        let file = match &config_path {
            Some(p) => read_config(p)?,
            None => None,
        };
        if explicit_config && file.is_none() {
            let path = config_path.as_deref().unwrap_or(Path::new(""));
            return Err(Failure::config(format!(
                "the config file {} does not exist",
                path.display()
            ))
            .next("create it, or drop --config / MSAL_CONFIG"));
        }
        let exists = file.is_some();
        let file = file.unwrap_or_default();
        fn pick<T: Clone>(
            flag: &Option<T>,
            matches: &ArgMatches,
            id: &str,
            env: &'static str,
            file: Option<T>,
        ) -> Option<Setting<T>> {
            match flag {
                Some(v) => Some(Setting {
                    value: v.clone(),
                    source: source_of(matches, id, env),
                }),
                None => file.map(|value| Setting {
                    value,
                    source: Source::ConfigFile,
                }),
            }
        }
        let cache_file = pick(
            &global.cache_file,
            matches,
            "cache_file",
            "MSAL_CACHE_FILE",
            file.cache_file,
        )
        .unwrap_or_else(|| Setting {
            value: default_cache_path(),
            source: Source::Default,
        });
        let ca_file = pick(
            &global.ca_file,
            matches,
            "ca_file",
            "MSAL_CA_FILE",
            file.ca_file,
        );
        let instance_discovery = if global.no_instance_discovery {
            Setting {
                value: false,
                source: Source::Flag,
            }
        } else if let Some(v) = file.instance_discovery {
            Setting {
                value: v,
                source: Source::ConfigFile,
            }
        } else if let Some(ca) = &ca_file {
            // A private CA means a private authority: nothing to validate at Microsoft.
            Setting {
                value: false,
                source: ca.source,
            }
        } else {
            Setting {
                value: true,
                source: Source::Default,
            }
        };
        let client_id = pick(
            &global.client_id,
            matches,
            "client_id",
            "MSAL_CLIENT_ID",
            file.client_id,
        )
        .filter(|c| !c.value.trim().is_empty())
        .unwrap_or_else(|| Setting {
            value: AZURE_CLI_CLIENT_ID.into(),
            source: Source::Default,
        });
        Ok(Self {
            client_id: Some(client_id),
            authority: pick(
                &global.authority,
                matches,
                "authority",
                "MSAL_AUTHORITY",
                file.authority,
            ),
            oidc_authority: pick(
                &global.oidc_authority,
                matches,
                "oidc_authority",
                "MSAL_OIDC_AUTHORITY",
                file.oidc_authority,
            ),
            tenant: pick(
                &global.tenant,
                matches,
                "tenant",
                "MSAL_TENANT",
                file.tenant,
            ),
            ca_file,
            cache_file,
            scopes: file.scopes.unwrap_or_default(),
            instance_discovery,
            subscription: std::env::var("MSAL_SUBSCRIPTION")
                .ok()
                .filter(|s| !s.is_empty())
                .or(file.subscription),
            broker: file.broker.unwrap_or(false),
            config_path: config_path.map(|p| (p, exists)),
        })
    }

    /// The client id of a user sign-in: the configured one, else the Azure CLI's.
    pub fn require_client_id(&self) -> Result<&str, Failure> {
        match &self.client_id {
            Some(s) if !s.value.trim().is_empty() => Ok(s.value.trim()),
            _ => Ok(AZURE_CLI_CLIENT_ID),
        }
    }

    /// The client id of an app token, which has no default: the app's own registration.
    pub fn require_app_client_id(&self) -> Result<&str, Failure> {
        match &self.client_id {
            Some(s) if s.source != Source::Default && !s.value.trim().is_empty() => {
                Ok(s.value.trim())
            }
            _ => Err(Failure::config(
                "an app token needs the app's own client id, and none is configured",
            )
            .next(
                "pass --client-id ID, set MSAL_CLIENT_ID, or run `msal config set client_id ID`",
            )),
        }
    }

    /// Whether the client id is the built-in default (the Azure CLI's).
    pub fn default_client_id(&self) -> bool {
        self.client_id
            .as_ref()
            .is_none_or(|c| c.source == Source::Default)
    }

    /// The authority URL to use (the tenant applied), or `None` for an OIDC authority or the
    /// library's default.
    pub fn authority_url(&self) -> Result<Option<String>, Failure> {
        if self.oidc_authority.is_some() {
            if self.tenant.is_some() || self.authority.is_some() {
                return Err(Failure::config(
                    "--oidc-authority cannot be combined with --authority or --tenant",
                )
                .next("use one of them"));
            }
            return Ok(None);
        }
        let tenant = self.tenant.as_ref().map(|t| t.value.as_str());
        match (&self.authority, tenant) {
            (None, None) => Ok(None),
            (None, Some(t)) => Ok(Some(format!("https://login.microsoftonline.com/{t}"))),
            (Some(a), None) => Ok(Some(a.value.clone())),
            (Some(a), Some(t)) => {
                let parsed = entra_msal::authority::Authority::parse(&a.value, true)?;
                Ok(Some(parsed.with_tenant(t)?.url().to_string()))
            }
        }
    }

    /// The scopes given, else the config file's, else none (a sign-in only).
    pub fn scopes_or_none(&self, given: &[String]) -> Vec<String> {
        if given.is_empty() {
            return self.scopes.clone();
        }
        given
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_string)
            .collect()
    }

    /// The scopes to request: the given ones, else the config file's, else `fallback`.
    pub fn scopes(&self, given: &[String], fallback: Option<&str>) -> Result<Vec<String>, Failure> {
        let scopes: Vec<String> = if !given.is_empty() {
            given
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_string)
                .collect()
        } else if !self.scopes.is_empty() {
            self.scopes.clone()
        } else if let Some(f) = fallback {
            vec![f.to_string()]
        } else {
            Vec::new()
        };
        if scopes.is_empty() {
            return Err(Failure::config("no scope given").next(
                "pass --scope SCOPE (e.g. User.Read, or api://APP/.default), or set scopes = [\"...\"] in the config file",
            ));
        }
        Ok(scopes)
    }
}
