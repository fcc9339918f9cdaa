//! `msal doctor`: what a person debugging sign-in needs, one section per concern.
//!
//! Every section is a function, called in order by [`sections`]; a new check (e.g. broker
//! availability and the broker's redirect URIs) is one more function added to that list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_msal::authority::{self, Authority, DiscoveryOptions};
use entra_msal::broker::BrokerPlatform;
use entra_msal::http::{HttpOptions, ReqwestHttpClient};
use entra_msal::{BrokerAvailability, PublicClientApplication};
use serde_json::{Value, json};

use crate::cli::{DoctorArgs, ListOutput};
use crate::failure::Failure;
use crate::settings::{Setting, Settings};

/// One section of the report.
#[derive(Debug, Default)]
pub struct Section {
    /// The title.
    pub title: &'static str,
    /// Key/value lines.
    pub lines: Vec<(String, String)>,
    /// What is wrong, if anything (the first problem sets the exit code).
    pub problem: Option<Failure>,
}

impl Section {
    fn new(title: &'static str) -> Self {
        Self {
            title,
            ..Default::default()
        }
    }

    fn line(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.lines.push((key.into(), value.into()));
    }
}

/// What the sections read.
pub struct Context<'a> {
    /// The effective settings.
    pub settings: &'a Settings,
    /// The endpoints, once the authority section discovered them.
    pub endpoints: Option<Arc<authority::Endpoints>>,
}

fn show<T: std::fmt::Display>(s: &Option<Setting<T>>) -> String {
    match s {
        Some(s) => format!("{} ({})", s.value, s.source),
        None => "(not set)".into(),
    }
}

fn configuration(ctx: &mut Context<'_>) -> Section {
    let s = ctx.settings;
    let mut out = Section::new("Configuration");
    match &s.config_path {
        Some((p, true)) => out.line("config file", p.display().to_string()),
        Some((p, false)) => out.line("config file", format!("{} (absent)", p.display())),
        None => out.line("config file", "(no config directory on this system)"),
    }
    if s.default_client_id() {
        out.line(
            "client id",
            format!(
                "{} (default: the Azure CLI's public client, for user sign-in without an app registration)",
                crate::settings::AZURE_CLI_CLIENT_ID
            ),
        );
        out.line(
            "your own app",
            "register a public client (redirect URI http://localhost), then `msal config set client_id ID`, --client-id ID or MSAL_CLIENT_ID; app tokens (--client-secret, --certificate) always need it",
        );
    } else {
        out.line("client id", show(&s.client_id));
    }
    if s.broker {
        out.line("broker", "on (config file: broker = true)");
    }
    out.line("authority", show(&s.authority));
    out.line("oidc authority", show(&s.oidc_authority));
    out.line("tenant", show(&s.tenant));
    match s.authority_url() {
        Ok(Some(url)) => out.line("effective authority", url),
        Ok(None) if s.oidc_authority.is_some() => {
            out.line("effective authority", "(the OIDC authority)")
        }
        Ok(None) => out.line(
            "effective authority",
            "https://login.microsoftonline.com/common (default)",
        ),
        Err(e) => {
            out.line("effective authority", format!("invalid: {e}"));
            out.problem.get_or_insert(e);
        }
    }
    out.line(
        "ca file",
        match &s.ca_file {
            Some(c) => format!("{} ({})", c.value.display(), c.source),
            None => "(system trust store)".into(),
        },
    );
    out.line(
        "instance discovery",
        format!(
            "{} ({})",
            if s.instance_discovery.value {
                "on"
            } else {
                "off"
            },
            s.instance_discovery.source
        ),
    );
    if !s.scopes.is_empty() {
        out.line("default scopes", s.scopes.join(" "));
    }
    out
}

fn token_cache(ctx: &mut Context<'_>) -> Section {
    let s = ctx.settings;
    let mut out = Section::new("Token cache");
    let path = &s.cache_file.value;
    out.line(
        "location",
        format!("{} ({})", path.display(), s.cache_file.source),
    );
    out.line(
        "encrypted",
        "no: MSAL JSON in a plaintext file readable by its owner only (as msal-extensions' FilePersistence)",
    );
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.line("state", "absent (created at the first sign-in)");
        }
        Err(e) => {
            out.line("state", format!("unreadable: {e}"));
            out.problem = Some(Failure::other(format!(
                "cannot inspect the token cache {}: {e}",
                path.display()
            )));
        }
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = meta.permissions().mode() & 0o777;
                let note = if mode & 0o077 == 0 {
                    ""
                } else {
                    " (readable by others: run chmod 600)"
                };
                out.line("permissions", format!("{mode:o}{note}"));
            }
            out.line("size", format!("{} bytes", meta.len()));
            // Through the library's reader: a device, FIFO or huge file is refused, not read.
            let reader = entra_msal::persistence::FilePersistence::new(path);
            let text = match entra_msal::persistence::Persistence::load(&reader) {
                Ok(text) => text,
                Err(e @ entra_msal::Error::CacheFileRefused { .. }) => {
                    out.line("state", "refused (not a regular file, or too large)");
                    out.problem = Some(Failure::from(e));
                    return out;
                }
                Err(_) => None,
            };
            match text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
                Some(v) => {
                    for section in ["Account", "AccessToken", "RefreshToken", "IdToken"] {
                        let n = v[section].as_object().map_or(0, |o| o.len());
                        out.line(format!("{section} entries"), n.to_string());
                    }
                }
                None => {
                    out.line("state", "not a valid MSAL cache (JSON expected)");
                    out.problem = Some(
                        Failure::other(format!(
                            "the token cache {} is not valid JSON",
                            path.display()
                        ))
                        .next("repair or delete it"),
                    );
                }
            }
        }
    }
    out
}

async fn discovery(ctx: &mut Context<'_>) -> Section {
    let s = ctx.settings;
    let mut out = Section::new("Authority");
    let parsed = (|| -> Result<Authority, Failure> {
        Ok(match (&s.oidc_authority, s.authority_url()?) {
            (Some(oidc), _) => Authority::parse_oidc(&oidc.value, true)?,
            (None, Some(url)) => Authority::parse(&url, true)?,
            (None, None) => Authority::parse("https://login.microsoftonline.com/common", false)?,
        })
    })();
    let authority = match parsed {
        Ok(a) => a,
        Err(e) => {
            out.line("authority", format!("invalid: {e}"));
            out.problem = Some(e);
            return out;
        }
    };
    out.line("url", authority.url());
    out.line("type", format!("{:?}", authority.authority_type()));
    let mut options = HttpOptions {
        timeout: Duration::from_secs(15),
        ..Default::default()
    };
    if let Some(ca) = &s.ca_file {
        match std::fs::read_to_string(&ca.value) {
            Ok(pem) => {
                options.trusted_ca_pems.push(pem);
                options.only_trusted_cas = true;
            }
            Err(e) => {
                out.problem = Some(Failure::config(format!(
                    "cannot read the CA file {}: {e}",
                    ca.value.display()
                )));
                return out;
            }
        }
    }
    let http = match ReqwestHttpClient::new(&options) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            out.problem = Some(e.into());
            return out;
        }
    };
    let started = Instant::now();
    let result = authority::discover(
        http,
        &authority,
        DiscoveryOptions {
            instance_discovery: s.instance_discovery.value,
            validate_authority: true,
        },
    )
    .await;
    let took = started.elapsed();
    match result {
        Ok(e) => {
            out.line(
                "discovery",
                format!(
                    "ok in {:.0} ms ({})",
                    took.as_secs_f64() * 1000.0,
                    authority.discovery_url()
                ),
            );
            out.line("authorization endpoint", &e.authorization_endpoint);
            out.line("token endpoint", &e.token_endpoint);
            out.line(
                "device code endpoint",
                e.device_authorization_endpoint
                    .as_deref()
                    .unwrap_or("(none: --device-code is unavailable)"),
            );
            if let Some(i) = &e.issuer {
                out.line("issuer", i);
            }
            out.line("tenant (realm)", &e.realm);
            ctx.endpoints = Some(e);
        }
        Err(e) => {
            out.line("discovery", format!("FAILED: {e}"));
            out.problem = Some(e.into());
        }
    }
    out
}

fn sign_in(ctx: &mut Context<'_>) -> Section {
    let mut out = Section::new("Sign-in");
    out.line(
        "browser redirect URI",
        "http://localhost (register it under \"Mobile and desktop applications\"; any port is accepted)",
    );
    out.line(
        "MSAL_BROWSER",
        std::env::var("MSAL_BROWSER")
            .unwrap_or_else(|_| "(not set: $BROWSER, then the system opener)".into()),
    );
    let device = ctx
        .endpoints
        .as_ref()
        .map(|e| e.device_authorization_endpoint.is_some());
    out.line(
        "device code",
        match device {
            Some(true) => {
                "available (--device-code); the app registration must allow public client flows"
            }
            Some(false) => "not offered by this authority",
            None => "unknown (discovery failed)",
        },
    );
    out.line(
        "username/password",
        "--username, for accounts without MFA or federation; needs public client flows allowed",
    );
    out
}

/// The authentication broker: whether this machine has one for this app, why not, and the
/// redirect URIs the app registration needs for each platform's broker.
async fn broker(ctx: &mut Context<'_>) -> Section {
    let mut out = Section::new("Broker");
    let platform = BrokerPlatform::current();
    out.line(
        "platform",
        platform.map_or_else(
            || "none (no broker on this OS)".to_string(),
            |p| p.to_string(),
        ),
    );
    out.line("built in", "yes (the `broker` feature)");
    let client_id = ctx
        .settings
        .client_id
        .as_ref()
        .map_or_else(|| "<client id>".to_string(), |c| c.value.clone());
    let mut builder = PublicClientApplication::builder(client_id.clone())
        .enable_broker_on_mac(true)
        .enable_broker_on_windows(true)
        .enable_broker_on_linux(true)
        .enable_broker_on_wsl(true);
    match ctx.settings.authority_url() {
        Ok(Some(url)) => builder = builder.authority(url),
        Ok(None) => {}
        Err(e) => {
            out.problem = Some(e);
            return out;
        }
    }
    if let Some(oidc) = &ctx.settings.oidc_authority {
        builder = builder.oidc_authority(oidc.value.clone());
    }
    match builder.allow_http_loopback_authority(true).build() {
        Ok(app) => {
            let availability = match app.broker_availability().await {
                BrokerAvailability::Available(p) => {
                    format!("available: `--broker` uses the {p} broker")
                }
                BrokerAvailability::Unavailable { reason, .. } => {
                    format!("unavailable, `--broker` falls back to the browser: {reason}")
                }
                BrokerAvailability::NotEnabled => "no broker on this OS".to_string(),
                other => format!("{other:?}"),
            };
            out.line("availability", availability);
            for uri in app.broker_redirect_uris() {
                out.line(format!("redirect URI ({})", uri.platform), uri.redirect_uri);
            }
        }
        Err(e) => out.problem = Some(e.into()),
    }
    out.line(
        "register",
        "each redirect URI the app uses under \"Mobile and desktop applications\" in the Entra portal",
    );
    out
}

/// Managed identity: the source `msal token --managed-identity` would use here, and the
/// environment variables behind it (secrets shown as set, never printed). No request is made:
/// off Azure the Instance Metadata Service may not answer at all.
fn managed_identity(_ctx: &mut Context<'_>) -> Section {
    use crate::managed_identity as mi;
    let mut out = Section::new("Managed identity");
    let source = mi::detected();
    let set: Vec<&str> = mi::variables(source)
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_some())
        .collect();
    out.line(
        "source",
        match (source, set.is_empty()) {
            (entra_msal::managed_identity::ManagedIdentitySource::Imds, true) => {
                "IMDS (the default when no managed-identity variable is set: 169.254.169.254, which only Azure VMs, scale sets and AKS nodes answer)".to_string()
            }
            (s, true) => format!("{s} (detected from the host, e.g. the Azure Arc agent)"),
            (s, false) => format!("{s} (detected from {})", set.join(", ")),
        },
    );
    for (name, value) in mi::variable_lines(source) {
        out.line(name, value);
    }
    out.line(
        "use",
        "msal token --managed-identity --scope RESOURCE/.default (a user-assigned identity: --client-id, --resource-id or --object-id)",
    );
    out.line(
        "try it locally",
        format!(
            "entra-emulator serve --managed-identity {} (or msal emulator serve ...) prints the variables to export",
            mi::emulator_name(source)
        ),
    );
    out
}

/// The report's sections, in order. Add a section here.
async fn sections(settings: &Settings) -> Vec<Section> {
    let mut ctx = Context {
        settings,
        endpoints: None,
    };
    vec![
        configuration(&mut ctx),
        token_cache(&mut ctx),
        discovery(&mut ctx).await,
        sign_in(&mut ctx),
        broker(&mut ctx).await,
        managed_identity(&mut ctx),
    ]
}

/// Prints the report; fails with the first problem's exit code.
pub async fn run(settings: &Settings, args: &DoctorArgs) -> Result<(), Failure> {
    let sections = sections(settings).await;
    match args.output {
        ListOutput::Json => {
            let v: Vec<Value> = sections
                .iter()
                .map(|s| {
                    let lines: serde_json::Map<String, Value> =
                        s.lines.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    json!({
                        "title": s.title,
                        "values": lines,
                        "problem": s.problem.as_ref().map(|p| p.message.clone()),
                    })
                })
                .collect();
            println!(
                "{}",
                crate::terminal::clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
            );
        }
        ListOutput::Text => {
            for s in &sections {
                println!("{}", s.title);
                let width = s.lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, v) in &s.lines {
                    println!("  {k:<width$}  {}", crate::terminal::clean(v));
                }
                if let Some(p) = &s.problem {
                    println!("  PROBLEM: {}", crate::terminal::clean(&p.message));
                    if let Some(n) = &p.next {
                        println!("  next: {}", crate::terminal::clean(n));
                    }
                }
                println!();
            }
        }
    }
    match sections.into_iter().find_map(|s| s.problem) {
        Some(p) => Err(Failure {
            message: format!("doctor found a problem: {}", p.message),
            ..p
        }),
        None => Ok(()),
    }
}
