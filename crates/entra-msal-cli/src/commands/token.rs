//! `msal token`: a user token (cache first, then sign-in unless forbidden) or an app token.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use entra_msal::managed_identity::ManagedIdentity;
use entra_msal::{
    AuthenticationResult, ManagedIdentityClient, SilentOptions, SshCertificateRequest,
};

use crate::cli::{SignInArgs, TokenArgs, TokenOutput};
use crate::client::{self, AppCredential, Cache};
use crate::commands::accounts;
use crate::failure::{Failure, Kind};
use crate::output::{self, ExecInfo};
use crate::settings::{Settings, Source};
use crate::signin::{self, Method};

/// Whose token `msal token` gets. Every credential is chosen here, in [`Credential::select`]
/// (managed identity joins as one more variant).
#[derive(Debug)]
pub enum Credential {
    /// The signed-in user (public client).
    User,
    /// The application itself (confidential client).
    App(AppCredential),
    /// This machine's managed identity.
    ManagedIdentity(ManagedIdentity),
}

fn read_file(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!("cannot read the {what} {}: {e}", path.display()))
            .next(format!("pass a readable PEM file as the {what}"))
    })
}

impl Credential {
    /// The credential the flags (and `MSAL_CLIENT_SECRET` / standard input) give.
    pub fn select(settings: &Settings, args: &TokenArgs) -> Result<Self, Failure> {
        if args.managed_identity {
            // Only a --client-id flag names a user-assigned identity: MSAL_CLIENT_ID and the
            // config file configure the sign-in app, not the machine's identity.
            let flag_client_id = settings
                .client_id
                .as_ref()
                .filter(|c| c.source == Source::Flag)
                .map(|c| c.value.clone());
            let identity = match (flag_client_id, &args.resource_id, &args.object_id) {
                (None, None, None) => ManagedIdentity::SystemAssigned,
                (Some(id), None, None) => ManagedIdentity::client_id(id),
                (None, Some(id), None) => ManagedIdentity::resource_id(id.clone()),
                (None, None, Some(id)) => ManagedIdentity::object_id(id.clone()),
                _ => {
                    return Err(Failure::config(
                        "--managed-identity takes at most one of --client-id, --resource-id and --object-id",
                    )
                    .next("name the user-assigned identity one way, or none for the system-assigned one"));
                }
            };
            return Ok(Self::ManagedIdentity(identity));
        }
        if let Some(value) = &args.client_secret {
            // Before any prompt: an app token needs the app's own client id.
            settings.require_app_client_id()?;
            let secret = match value.as_str() {
                "" => match std::env::var("MSAL_CLIENT_SECRET") {
                    Ok(s) if !s.is_empty() => s,
                    _ => secret_from_terminal_or_stdin(settings)?,
                },
                "-" => signin::read_stdin_line()?,
                v => {
                    eprintln!("{SECRET_ON_COMMAND_LINE}");
                    v.to_string()
                }
            };
            if secret.trim().is_empty() {
                return Err(Failure::config("--client-secret: no secret given").next(
                    "set MSAL_CLIENT_SECRET, type it at the prompt, or write it to standard input (`--client-secret < secret.txt`)",
                ));
            }
            return Ok(Self::App(AppCredential::Secret(secret.trim().to_string())));
        }
        if let Some(key_path) = &args.certificate {
            settings.require_app_client_id()?;
            let key_pem = read_file(key_path, "private key")?;
            let cert_pem = match &args.certificate_cert {
                Some(p) => read_file(p, "certificate")?,
                None if key_pem.contains("-----BEGIN CERTIFICATE-----") => key_pem.clone(),
                None => {
                    return Err(Failure::config(format!(
                        "{} holds no certificate",
                        key_path.display()
                    ))
                    .next("pass the certificate with --certificate-cert CERT.pem"));
                }
            };
            return Ok(Self::App(AppCredential::Certificate { key_pem, cert_pem }));
        }
        if let Some(file) = env_value("AZURE_FEDERATED_TOKEN_FILE") {
            return Ok(Self::App(AppCredential::AssertionFile(file.into())));
        }
        Ok(Self::User)
    }
}

/// A non-empty environment variable.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The warning for a secret given as `--client-secret VALUE`.
const SECRET_ON_COMMAND_LINE: &str = "msal: warning: a client secret on the command line is visible to other users of this machine (`ps`) and may stay in the shell history; instead set MSAL_CLIENT_SECRET, type it at the prompt of `--client-secret` with no value, or read it from standard input (`--client-secret < secret.txt`)";

/// The secret typed at a prompt without echo when standard input is a terminal, else one line
/// of standard input.
fn secret_from_terminal_or_stdin(settings: &Settings) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        let client_id = settings.require_app_client_id()?;
        Ok(rpassword::prompt_password(format!(
            "Client secret for {client_id}: "
        ))?)
    } else {
        signin::read_stdin_line()
    }
}

/// The settings of a workload-identity token: `AZURE_CLIENT_ID` and `AZURE_TENANT_ID` fill the
/// client id and tenant that flags do not give, and `AZURE_AUTHORITY_HOST` the authority's host
/// when no authority is configured (as the Azure SDK's workload-identity credential reads them).
fn workload_identity_settings(settings: &Settings) -> Result<Settings, Failure> {
    let mut s = settings.clone();
    let from_flag = |c: &Option<crate::settings::Setting<String>>| {
        c.as_ref().is_some_and(|c| c.source == Source::Flag)
    };
    if !from_flag(&s.client_id) {
        let Some(id) = env_value("AZURE_CLIENT_ID") else {
            return Err(Failure::config(
                "AZURE_FEDERATED_TOKEN_FILE is set, but AZURE_CLIENT_ID is not",
            )
            .next("set AZURE_CLIENT_ID to the workload identity's client id (the Azure workload identity webhook sets both), or pass --client-id"));
        };
        s.client_id = Some(crate::settings::Setting {
            value: id,
            source: Source::Env("AZURE_CLIENT_ID"),
        });
    }
    if !from_flag(&s.tenant)
        && let Some(t) = env_value("AZURE_TENANT_ID")
    {
        s.tenant = Some(crate::settings::Setting {
            value: t,
            source: Source::Env("AZURE_TENANT_ID"),
        });
    }
    if s.authority.is_none()
        && s.oidc_authority.is_none()
        && let Some(host) = env_value("AZURE_AUTHORITY_HOST")
    {
        let tenant = s
            .tenant
            .as_ref()
            .map_or("organizations".to_string(), |t| t.value.clone());
        s.authority = Some(crate::settings::Setting {
            value: format!("{}/{tenant}", host.trim_end_matches('/')),
            source: Source::Env("AZURE_AUTHORITY_HOST"),
        });
    }
    Ok(s)
}

/// Gets and prints a token.
pub async fn run(settings: &Settings, args: &TokenArgs) -> Result<(), Failure> {
    let exec = if args.output == TokenOutput::ExecCredential {
        ExecInfo::from_env()
    } else {
        ExecInfo::default()
    };
    let credential = Credential::select(settings, args)?;
    let scopes = settings.scopes(&args.scopes, None)?;
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let cache = Cache::open(&settings.cache_file.value)?;
    let result = match credential {
        Credential::User => {
            let ask = UserAsk {
                account: args.account.as_deref(),
                no_interactive: args.no_interactive,
                force_refresh: args.force_refresh,
                sign_in: &args.sign_in,
                ssh: None,
            };
            user_token(settings, &cache, &ask, &exec, &scopes).await
        }
        Credential::App(c) => {
            let workload;
            let settings = if matches!(c, AppCredential::AssertionFile(_)) {
                workload = workload_identity_settings(settings)?;
                &workload
            } else {
                settings
            };
            let app = client::confidential_app(settings, &cache, c)?;
            let options = entra_msal::ForClientOptions {
                force_refresh: args.force_refresh,
                ..Default::default()
            };
            app.acquire_token_for_client_with(&scopes, &options)
                .await
                .map_err(Failure::from)
        }
        Credential::ManagedIdentity(identity) => {
            managed_identity_token(settings, &cache, identity, &scopes).await
        }
    };
    cache.finish();
    let result = result?;
    let fallback_tenant = settings.tenant.as_ref().map(|t| t.value.as_str());
    let tenant = output::tenant_of(&result, fallback_tenant);
    let text = output::render(
        &result,
        args.output,
        tenant.as_deref(),
        settings.subscription.as_deref(),
        &exec,
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", crate::terminal::clean_json(&text))?;
    out.flush()?;
    Ok(())
}

/// A managed-identity token: the one scope's resource (`/.default` removed).
async fn managed_identity_token(
    settings: &Settings,
    cache: &Cache,
    identity: ManagedIdentity,
    scopes: &[&str],
) -> Result<AuthenticationResult, Failure> {
    let [scope] = scopes else {
        return Err(
            Failure::config("--managed-identity takes exactly one --scope").next(
                "pass the resource's scope, e.g. --scope https://management.azure.com/.default",
            ),
        );
    };
    let resource = scope.strip_suffix("/.default").unwrap_or(scope);
    let mut builder = ManagedIdentityClient::builder(identity).token_cache(cache.cache.clone());
    if let Some(ca) = &settings.ca_file {
        builder = builder.trusted_ca(client::read_ca(&ca.value)?);
    }
    let client = builder.build().map_err(crate::managed_identity::failure)?;
    client
        .acquire_token_for_client(resource)
        .await
        .map_err(crate::managed_identity::failure)
}

/// The `msal login` command line that signs in for this token (kubectl never shows a plugin's
/// arguments, so the hint spells them out).
fn login_command(settings: &Settings, scopes: &[&str]) -> String {
    let mut command = String::from("msal login");
    if let Some(c) = settings
        .client_id
        .as_ref()
        .filter(|c| c.source != Source::Default)
    {
        command.push_str(&format!(" --client-id {}", c.value));
    }
    if let Some(t) = &settings.tenant {
        command.push_str(&format!(" --tenant {}", t.value));
    }
    for s in scopes {
        command.push_str(&format!(" --scope {s}"));
    }
    crate::terminal::clean(&command).into_owned()
}

/// What a user token request asks for (`msal token`, `msal ssh-cert`).
pub struct UserAsk<'a> {
    /// `--account`.
    pub account: Option<&'a str>,
    /// `--no-interactive`.
    pub no_interactive: bool,
    /// `--force-refresh`.
    pub force_refresh: bool,
    /// How to sign in when the user must.
    pub sign_in: &'a SignInArgs,
    /// An SSH certificate for this key instead of a bearer token.
    pub ssh: Option<&'a SshCertificateRequest>,
}

/// The signed-in user's token: from the cache or a refresh token when possible, else a sign-in
/// (unless interaction is not allowed).
pub async fn user_token(
    settings: &Settings,
    cache: &Cache,
    args: &UserAsk<'_>,
    exec: &ExecInfo,
    scopes: &[&str],
) -> Result<AuthenticationResult, Failure> {
    let broker = args.sign_in.broker || settings.broker;
    let app = client::public_app(settings, cache, broker)?;
    let interactive = !args.no_interactive && exec.interactive != Some(false);
    let signed_in = app.accounts(None);
    let account = match (args.account, signed_in.as_slice()) {
        (Some(wanted), _) => match accounts::find(&signed_in, wanted) {
            Ok(a) => Some(a.clone()),
            Err(e) if !interactive => return Err(e),
            Err(_) => None,
        },
        (None, [one]) => Some(one.clone()),
        (None, []) => None,
        (None, several) => {
            return Err(Failure::config(format!(
                "several accounts are signed in: {}",
                accounts::names(several)
            ))
            .next("choose one with --account USERNAME"));
        }
    };
    let login_hint = account
        .as_ref()
        .map(|a| a.username.clone())
        .or_else(|| args.account.map(str::to_string));
    if let Some(account) = &account {
        let options = SilentOptions {
            force_refresh: args.force_refresh,
            ssh_certificate: args.ssh.cloned(),
            ..Default::default()
        };
        match app.acquire_token_silent(scopes, account, &options).await {
            Ok(r) => return Ok(r),
            Err(e)
                if e.is_ui_required()
                    && !broker
                    && account.account_source.as_deref() == Some("broker") =>
            {
                return Err(Failure::new(
                    Kind::InteractionRequired,
                    format!(
                        "{} was signed in through the authentication broker, which keeps its tokens, and this command did not use the broker",
                        crate::terminal::clean(&account.username)
                    ),
                )
                .next("add --broker to this command, or run `msal config set broker true` to use the broker always"));
            }
            Err(e) if e.is_ui_required() && interactive => {
                eprintln!(
                    "msal: {} must sign in again: {}",
                    crate::terminal::clean(&account.username),
                    crate::terminal::clean(&e.to_string())
                );
            }
            Err(e) => return Err(e.into()),
        }
    } else if !interactive {
        return Err(Failure::new(
            Kind::InteractionRequired,
            format!("no account is signed in for client id {}", app.client_id()),
        )
        .next(format!(
            "sign in first with `{}`",
            login_command(settings, scopes)
        )));
    }
    if !interactive {
        return Err(Failure::new(
            Kind::InteractionRequired,
            "the user must sign in again, and interaction is not allowed here",
        )
        .next(format!(
            "run `{}` in a terminal, then retry",
            login_command(settings, scopes)
        )));
    }
    signin::sign_in_for(
        &app,
        &Method::from_args(args.sign_in, broker),
        scopes,
        login_hint.as_deref(),
        args.ssh,
    )
    .await
}
