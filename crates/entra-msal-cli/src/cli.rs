//! The command line: every command, flag and help text (with examples).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::failure::EXIT_CODES_HELP;

const TOP_EXAMPLES: &str = "\
Examples:
  msal login --client-id 11111111-2222-3333-4444-555555555555 --tenant contoso.onmicrosoft.com --scope User.Read
  msal token --scope User.Read --output token
  curl -H \"Authorization: Bearer $(msal token --scope User.Read --output token)\" https://graph.microsoft.com/v1.0/me
  msal token --client-secret --scope https://graph.microsoft.com/.default < secret.txt
  msal accounts
  msal decode \"$(msal token --scope User.Read --output token)\"
  msal doctor
  msal demo

Without a client id, login and token use the Azure CLI's public client id
(04b07795-8ddb-461a-bbee-02f9e1bf7b46), as the Azure SDK's developer credentials do.

Configuration: flags, then environment variables (MSAL_CLIENT_ID, MSAL_AUTHORITY,
MSAL_OIDC_AUTHORITY, MSAL_TENANT, MSAL_CA_FILE, MSAL_CACHE_FILE, MSAL_CONFIG), then the config
file (TOML; `msal config`, and `msal doctor` prints its path), e.g.:
  client_id = \"11111111-2222-3333-4444-555555555555\"
  tenant = \"contoso.onmicrosoft.com\"
  scopes = [\"User.Read\"]
";

/// `msal`: sign in to Microsoft Entra ID, get tokens for scripts, kubectl and curl, manage the
/// signed-in accounts, and run a local Entra ID emulator. (No `Debug`: it may hold a secret.)
#[derive(Parser)]
#[command(
    name = "msal",
    version,
    about = "Microsoft Authentication Library for Rust: sign in, get tokens, run the Entra emulator",
    after_help = format!("{TOP_EXAMPLES}\n{EXIT_CODES_HELP}"),
)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Authority URL, e.g. `https://login.microsoftonline.com/contoso.onmicrosoft.com`
    /// (default: `https://login.microsoftonline.com/TENANT`, or `.../common` without --tenant).
    #[arg(
        long,
        global = true,
        env = "MSAL_AUTHORITY",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub authority: Option<String>,
    /// A generic OpenID Connect issuer instead of an Entra authority.
    #[arg(
        long,
        global = true,
        env = "MSAL_OIDC_AUTHORITY",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub oidc_authority: Option<String>,
    /// The application (client) id registered in Entra ID (default for user sign-in: the Azure
    /// CLI's public client, 04b07795-8ddb-461a-bbee-02f9e1bf7b46).
    #[arg(
        long,
        global = true,
        env = "MSAL_CLIENT_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub client_id: Option<String>,
    /// The tenant (GUID, domain, organizations, common); replaces the authority's tenant.
    #[arg(
        long,
        global = true,
        env = "MSAL_TENANT",
        hide_env_values = true,
        value_name = "TENANT"
    )]
    pub tenant: Option<String>,
    /// A CA certificate (PEM) to trust instead of the system's, for a private authority such as
    /// `msal emulator serve` (also turns instance discovery off).
    #[arg(
        long,
        global = true,
        env = "MSAL_CA_FILE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub ca_file: Option<PathBuf>,
    /// The token cache file (MSAL JSON, shared with MSAL Python and msal-extensions).
    #[arg(
        long,
        global = true,
        env = "MSAL_CACHE_FILE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub cache_file: Option<PathBuf>,
    /// The config file (TOML) to read instead of the default one.
    #[arg(
        long,
        global = true,
        env = "MSAL_CONFIG",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Do not validate the authority's host through instance discovery at
    /// login.microsoftonline.com (private clouds, emulators).
    #[arg(long, global = true)]
    pub no_instance_discovery: bool,
    /// Print a trace of what happens (to standard error; tokens and secrets never appear).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Append the trace to this file instead of standard error (created owner-only); without
    /// -v or RUST_LOG, everything down to TRACE is written.
    #[arg(
        long,
        global = true,
        env = "MSAL_LOG_FILE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub log_file: Option<PathBuf>,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Sign a user in and keep the tokens in the cache.
    #[command(after_help = format!("{LOGIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Login(LoginArgs),
    /// Print an access token: for the signed-in user (from the cache when possible), or for an
    /// application with --client-secret or --certificate.
    #[command(after_help = format!("{TOKEN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Token(TokenArgs),
    /// List the accounts signed in for this client id.
    #[command(after_help = format!("{ACCOUNTS_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Accounts(AccountsArgs),
    /// Sign an account out: remove its tokens from the cache.
    #[command(after_help = format!("{LOGOUT_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Logout(LogoutArgs),
    /// Show the signed-in accounts and, for each, the cached tokens: scopes, expiry and whether
    /// a refresh token is there.
    #[command(after_help = format!("{STATUS_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Status(StatusArgs),
    /// Read and change the config file (`msal doctor` prints its path).
    #[command(after_help = format!("{CONFIG_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Config {
        /// The config command.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Get an SSH certificate for your public key (like `az ssh cert`) and write it beside the
    /// key as `<key>-cert.pub`, where `ssh` finds it.
    #[command(name = "ssh-cert", after_help = format!("{SSH_CERT_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    SshCert(SshCertArgs),
    /// Add a kubeconfig user that gets its token from `msal token --output exec-credential`
    /// (like kubelogin's convert-kubeconfig), and point the cluster's contexts at it.
    #[command(after_help = format!("{KUBECONFIG_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Kubeconfig(KubeconfigArgs),
    /// Show a JWT's header and claims, with its times in local time (the signature is not
    /// checked).
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
    /// Check the configuration, the token cache and the authority, and print what sign-in needs.
    #[command(after_help = format!("{DOCTOR_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Doctor(DoctorArgs),
    /// Walk through a device-code sign-in and a client-credentials token against an embedded
    /// emulator, step by step. Needs no network and no account.
    #[command(after_help = "Example:\n  msal demo")]
    Demo(crate::demo::DemoArgs),
    /// Run the local Entra ID emulator.
    #[command(after_help = "Example:\n  msal emulator serve --json --enable-control")]
    Emulator {
        /// The emulator command.
        #[command(subcommand)]
        command: EmulatorCommand,
    },
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The emulator's commands.
#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Start the emulator and print how to use it.
    #[command(
        after_help = "Examples:\n  msal emulator serve\n  msal emulator serve --json --enable-control --port 8443\n  msal emulator serve --config tenant.toml"
    )]
    Serve(entra_emulator::cli::ServeArgs),
    /// Search log files for the secrets and usernames an emulator recorded (serve
    /// --secrets-log); fails, naming file, line and kind, if any appears.
    #[command(
        after_help = "Example:\n  msal emulator serve --secrets-log /tmp/secrets.jsonl\n  # run your app against it, logging to app.log\n  msal emulator scan-logs --secrets /tmp/secrets.jsonl app.log"
    )]
    ScanLogs(entra_emulator::cli::ScanLogsArgs),
}

const LOGIN_EXAMPLES: &str = "\
Examples:
  msal login                                           # sign in only (no API's scope)
  msal login --scope User.Read                         # system browser (or $MSAL_BROWSER)
  msal login --prompt select_account --login-hint alice@contoso.com
  msal login --device-code --scope User.Read           # sign in on another device
  msal login --username alice@contoso.com --scope User.Read < password.txt
  MSAL_PASSWORD=... msal login --username alice@contoso.com --scope User.Read
  msal login --broker --scope User.Read                # the OS authentication broker

MSAL_BROWSER=/path/to/program opens the sign-in URL with that program (the URL is its last
argument, or replaces %s); otherwise $BROWSER, then the platform's opener.";

const TOKEN_EXAMPLES: &str = "\
Examples:
  msal token --scope User.Read
  msal token --scope User.Read --output token
  msal token --scope User.Read --no-interactive || echo \"run msal login first\"
  msal token --scope https://management.azure.com/.default --output az
  msal token --client-secret --scope https://graph.microsoft.com/.default    # secret from MSAL_CLIENT_SECRET, a prompt, or stdin
  msal token --certificate key.pem --certificate-cert cert.pem --scope api://my-api/.default

As a kubectl credential plugin (kubeconfig `users[].user.exec`):
  apiVersion: client.authentication.k8s.io/v1
  command: msal
  args: [token, --output, exec-credential, --scope, 6dae42f8-4368-4678-94ff-3960e28e3630/.default]
  interactiveMode: IfAvailable

Workload identity (Kubernetes): with no other credential, AZURE_CLIENT_ID, AZURE_TENANT_ID and
AZURE_FEDERATED_TOKEN_FILE give an app token whose client assertion is read from the file.

Outputs: json (default: token, type, expiry, scopes, account, source), token (the bare token),
az (`az account get-access-token`), exec-credential (Kubernetes ExecCredential; honours
KUBERNETES_EXEC_INFO's spec.interactive).";

const ACCOUNTS_EXAMPLES: &str = "\
Examples:
  msal accounts
  msal accounts --output json";

const LOGOUT_EXAMPLES: &str = "\
Examples:
  msal logout                           # the only signed-in account
  msal logout --account alice@contoso.com
  msal logout --all
  msal logout --broker                  # an account signed in with --broker
  msal logout --app --client-id ID      # the app tokens of `msal token --client-secret/--certificate`";

const STATUS_EXAMPLES: &str = "\
Examples:
  msal status
  msal status --output json";

const CONFIG_EXAMPLES: &str = "\
Examples:
  msal config set client_id 11111111-2222-3333-4444-555555555555
  msal config set scopes \"User.Read Mail.Read\"
  msal config set broker true
  msal config get tenant
  msal config unset tenant
  msal config list --output json

Keys: client_id, authority, oidc_authority, tenant, ca_file, cache_file, scopes,
instance_discovery, subscription, broker.";

const SSH_CERT_EXAMPLES: &str = "\
Examples:
  msal ssh-cert --public-key ~/.ssh/id_rsa.pub
  msal ssh-cert --public-key ~/.ssh/id_rsa.pub --file /tmp/id_rsa-cert.pub --device-code
  ssh -i ~/.ssh/id_rsa user@host      # ssh finds ~/.ssh/id_rsa-cert.pub by itself

The certificate is requested as Azure CLI's `az ssh cert` requests it: token_type ssh-cert, the
key as a JWK (req_cnf) and a key id derived from the key. Entra signs RSA keys only. The
account is used silently when it can be (cached certificate for the same key, else the refresh
token); otherwise the user signs in as `msal token` would.";

const KUBECONFIG_EXAMPLES: &str = "\
Examples:
  msal kubeconfig --cluster aks-prod --scope 6dae42f8-4368-4678-94ff-3960e28e3630/.default
  msal kubeconfig --cluster aks-prod --kubeconfig ./config --client-id ID --tenant TENANT
  msal kubeconfig --cluster aks-prod --device-code

The user entry runs `msal token --output exec-credential` with the given client id, tenant
and scope (the AKS server application's scope by default); the cluster's contexts use it.";

const DECODE_EXAMPLES: &str = "\
Examples:
  msal decode eyJ0eXAiOiJKV1Qi...
  msal token --scope User.Read --output token | msal decode
  msal decode --output json \"$TOKEN\"";

const DOCTOR_EXAMPLES: &str = "\
Examples:
  msal doctor
  msal doctor --client-id 11111111-2222-3333-4444-555555555555 --tenant contoso.onmicrosoft.com
  msal doctor --output json";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  msal completions bash > ~/.local/share/bash-completion/completions/msal
  msal completions zsh > \"${fpath[1]}/_msal\"
  msal completions fish > ~/.config/fish/completions/msal.fish
  msal completions powershell >> $PROFILE";

/// How a user signs in (`login`, and `token` when it must sign in).
#[derive(Debug, Clone, Args)]
pub struct SignInArgs {
    /// Sign in with a code on another device instead of the browser.
    #[arg(long, conflicts_with_all = ["broker", "username"])]
    pub device_code: bool,
    /// Sign in through the operating system's authentication broker (default: the config
    /// file's `broker`).
    #[arg(long, conflicts_with = "username")]
    pub broker: bool,
    /// With a device code, also draw the sign-in page's URL as a QR code (scan it with a phone).
    #[arg(long)]
    pub qr: bool,
    /// Sign in with a username and password (password from MSAL_PASSWORD or standard input).
    /// Not for MFA accounts; federated (ADFS) accounts go through WS-Trust.
    #[arg(long, value_name = "USERNAME")]
    pub username: Option<String>,
    /// The loopback port for the browser's redirect (default: any free port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Pre-fill this username on the sign-in page (browser and broker).
    #[arg(long, value_name = "USERNAME", conflicts_with_all = ["device_code", "username"])]
    pub login_hint: Option<String>,
    /// What the sign-in page asks of the user (browser and broker).
    #[arg(long, value_enum, value_name = "PROMPT", conflicts_with_all = ["device_code", "username"])]
    pub prompt: Option<PromptArg>,
    /// Give up an interactive sign-in after this many seconds (default: no limit at a terminal,
    /// 300 without one).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// The `prompt` of an interactive sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PromptArg {
    /// The account picker.
    #[value(name = "select_account", alias = "select-account")]
    SelectAccount,
    /// Enter the credentials again, even with a session.
    Login,
    /// The consent page, even when consent was given.
    Consent,
    /// No UI at all: fail when the user must act.
    None,
    /// The sign-up page (External ID / B2C self-service sign-up).
    Create,
}

impl From<PromptArg> for entra_msal::Prompt {
    fn from(p: PromptArg) -> Self {
        match p {
            PromptArg::SelectAccount => Self::SelectAccount,
            PromptArg::Login => Self::Login,
            PromptArg::Consent => Self::Consent,
            PromptArg::None => Self::None,
            PromptArg::Create => Self::Create,
        }
    }
}

/// `msal login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A scope to consent to while signing in (repeatable; default: the config file's
    /// `scopes`, else none: sign in only, with just openid, profile and offline_access).
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// How to sign in.
    #[command(flatten)]
    pub sign_in: SignInArgs,
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal token`. (No `Debug`: `client_secret` may hold a secret.)
#[derive(Args)]
pub struct TokenArgs {
    /// A scope (repeatable), e.g. User.Read or api://my-api/.default (default: the config
    /// file's `scopes`).
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The account to use when several are signed in (username).
    #[arg(long, value_name = "USERNAME")]
    pub account: Option<String>,
    /// Never prompt: fail with exit code 4 when the user must sign in.
    #[arg(long)]
    pub no_interactive: bool,
    /// Skip the cached access token and get a new one.
    #[arg(long)]
    pub force_refresh: bool,
    /// An app token with a client secret: from the value, else MSAL_CLIENT_SECRET, else a
    /// prompt without echo on a terminal, else one line of standard input (`-` forces standard
    /// input). Prefer these: a value on the command line is visible to other users (`ps`).
    #[arg(
        long,
        value_name = "SECRET",
        num_args = 0..=1,
        default_missing_value = "",
        hide_default_value = true,
        conflicts_with_all = ["certificate", "device_code", "broker", "username"],
    )]
    pub client_secret: Option<String>,
    /// An app token with a certificate: the private key (PEM; may also hold the certificate).
    #[arg(long, value_name = "KEY.pem",
          conflicts_with_all = ["device_code", "broker", "username"])]
    pub certificate: Option<PathBuf>,
    /// The certificate (PEM) that goes with --certificate.
    #[arg(long, value_name = "CERT.pem", requires = "certificate")]
    pub certificate_cert: Option<PathBuf>,
    /// An app token for this machine's managed identity (Azure VM, App Service, Functions,
    /// Azure ML, Arc, Service Fabric, Cloud Shell; the source is detected from the
    /// environment), like `az login --identity`. System-assigned unless --client-id,
    /// --resource-id or --object-id names a user-assigned identity. One scope: the resource's
    /// `/.default`.
    #[arg(long, conflicts_with_all = ["client_secret", "certificate", "device_code", "broker", "username"])]
    pub managed_identity: bool,
    /// With --managed-identity: the user-assigned identity's Azure resource id.
    #[arg(
        long,
        value_name = "ID",
        requires = "managed_identity",
        conflicts_with = "object_id"
    )]
    pub resource_id: Option<String>,
    /// With --managed-identity: the user-assigned identity's object (principal) id.
    #[arg(long, value_name = "ID", requires = "managed_identity")]
    pub object_id: Option<String>,
    /// How to sign in when the user must.
    #[command(flatten)]
    pub sign_in: SignInArgs,
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = TokenOutput::Json)]
    pub output: TokenOutput,
}

/// `msal ssh-cert`.
#[derive(Debug, Args)]
pub struct SshCertArgs {
    /// The OpenSSH RSA public key to certify (`ssh-rsa AAAA…`), e.g. ~/.ssh/id_rsa.pub.
    #[arg(long, value_name = "KEY.pub")]
    pub public_key: PathBuf,
    /// Where to write the certificate (default: beside the key, `<key without .pub>-cert.pub`).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The scope (default: `https://pas.windows.net/CheckMyAccess/Linux/.default`, as `az ssh`).
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The account to use when several are signed in (username).
    #[arg(long, value_name = "USERNAME")]
    pub account: Option<String>,
    /// Never prompt: fail with exit code 4 when the user must sign in.
    #[arg(long)]
    pub no_interactive: bool,
    /// Skip the cached certificate and get a new one.
    #[arg(long)]
    pub force_refresh: bool,
    /// How to sign in when the user must.
    #[command(flatten)]
    pub sign_in: SignInArgs,
}

/// What `msal token` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenOutput {
    /// Our JSON: token, type, expiry, scopes, account, source.
    Json,
    /// The bare access token, for `$(...)`.
    Token,
    /// The Azure CLI's `az account get-access-token` JSON.
    Az,
    /// A Kubernetes `ExecCredential` (client.authentication.k8s.io/v1).
    ExecCredential,
}

/// Text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// `msal accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal config`'s commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a key's value (nothing, exit 0, when it is not set).
    Get {
        /// The key, e.g. client_id.
        key: String,
    },
    /// Set a key (checked first: the key must exist and the value must fit it).
    Set {
        /// The key, e.g. client_id.
        key: String,
        /// The value; scopes take several, separated by spaces; booleans are true or false.
        value: String,
    },
    /// Remove a key.
    Unset {
        /// The key.
        key: String,
    },
    /// Print every key that is set.
    List {
        /// What to print.
        #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
        output: ListOutput,
    },
}

/// `msal kubeconfig`.
#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    /// The cluster (its name under `clusters:`); every context that uses it gets the new user.
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// The kubeconfig to change (default: the first file in $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The user entry's name (default: msal-CLUSTER).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The scope the token is for (default: the AKS server application,
    /// 6dae42f8-4368-4678-94ff-3960e28e3630/.default).
    #[arg(long = "scope", short = 's', value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Sign in with a device code when kubectl needs a new sign-in (default: the browser).
    #[arg(long)]
    pub device_code: bool,
    /// The program kubectl runs (default: this msal's path when it can be found, else `msal`).
    #[arg(long, value_name = "PATH")]
    pub command: Option<String>,
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The account to sign out (username or home account id).
    #[arg(long, value_name = "ACCOUNT", conflicts_with_all = ["all", "app"])]
    pub account: Option<String>,
    /// Remove the app-only tokens of the application (--client-id) instead of a user's: the
    /// tokens `msal token --client-secret`, `--certificate` or a federated token cached, under
    /// the authority's host and its aliases. Needs no credential.
    #[arg(long, conflicts_with_all = ["all", "broker"])]
    pub app: bool,
    /// Sign every account of this client id out.
    #[arg(long)]
    pub all: bool,
    /// Also sign the accounts out of the authentication broker (for accounts signed in with
    /// `--broker`).
    #[arg(long)]
    pub broker: bool,
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token (JWT); `-` or nothing reads it from standard input.
    pub token: Option<String>,
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}

/// `msal doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// What to print.
    #[arg(long, short, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
}
