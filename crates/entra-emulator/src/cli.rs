//! `entra-emulator serve`: the command line shared by the `entra-emulator` binary and
//! `msal emulator serve`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::broker::{BrokerOptions, PrivateSessionBus};
use crate::config::EmulatorConfig;
use crate::endpoints::managed_identity::{ManagedIdentityConfig, ManagedIdentityServer};
use crate::info::{ConnectionInfo, ManagedIdentityIdInfo, ManagedIdentityInfo};
use crate::server::Emulator;

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, or JSON when it ends in .json). Default: the ready-made tenant.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, short, default_value_t = 0)]
    pub port: u16,
    /// Print one JSON object with the connection info on one line, once ready.
    #[arg(long)]
    pub json: bool,
    /// Serve plain HTTP instead of HTTPS (most MSAL clients refuse it).
    #[arg(long)]
    pub http: bool,
    /// Serve the HTTP control API under /_control (approve sign-ins, faults, clock, request log).
    #[arg(long)]
    pub enable_control: bool,
    /// Where to write the CA certificate and the certificate client's key (default: a new
    /// private directory under the system temp directory, removed on a clean exit).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Also serve the authentication broker (com.microsoft.identity.broker1) on the session bus:
    /// DBUS_SESSION_BUS_ADDRESS, --bus-address, or a private bus with --private-bus.
    #[arg(long)]
    pub broker: bool,
    /// The D-Bus session bus address for --broker (default: $DBUS_SESSION_BUS_ADDRESS).
    #[arg(
        long,
        value_name = "ADDRESS",
        requires = "broker",
        conflicts_with = "private_bus"
    )]
    pub bus_address: Option<String>,
    /// Start a private dbus-daemon for --broker and print its address (bus_address in --json).
    #[arg(long, requires = "broker")]
    pub private_bus: bool,
    /// The broker's device user, the account signed in to the machine (default: the first user,
    /// alice in the ready-made tenant).
    #[arg(long, value_name = "USERNAME", requires = "broker")]
    pub broker_user: Option<String>,
    /// Complete interactive broker requests at once, signed in as this user.
    #[arg(long, value_name = "USERNAME", requires = "broker")]
    pub broker_auto_approve: Option<String>,
    /// Also serve a managed-identity endpoint of this kind (on its own 127.0.0.1 port), and
    /// print the environment variables to export so a client (MSAL in any language, `msal token
    /// --managed-identity`) uses it.
    #[arg(long, value_name = "SOURCE", value_enum)]
    pub managed_identity: Option<ManagedIdentitySource>,
    /// Append every secret the emulator issues or receives, and its users' names, to FILE
    /// (JSON lines, owner-only), for `entra-emulator scan-logs`.
    #[arg(long, value_name = "FILE")]
    pub secrets_log: Option<PathBuf>,
}

/// The managed-identity sources `serve --managed-identity` can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManagedIdentitySource {
    /// An Azure VM's Instance Metadata Service (AZURE_POD_IDENTITY_AUTHORITY_HOST).
    Imds,
    /// App Service, Functions, Automation (IDENTITY_ENDPOINT, IDENTITY_HEADER).
    AppService,
    /// Azure Machine Learning (MSI_ENDPOINT, MSI_SECRET).
    MachineLearning,
    /// Azure Arc (IDENTITY_ENDPOINT, IMDS_ENDPOINT; key files in the state directory).
    AzureArc,
    /// Cloud Shell (AZUREPS_HOST_ENVIRONMENT, MSI_ENDPOINT).
    CloudShell,
    /// Service Fabric, HTTPS pinned by thumbprint (IDENTITY_ENDPOINT, IDENTITY_HEADER,
    /// IDENTITY_SERVER_THUMBPRINT).
    ServiceFabric,
}

impl ManagedIdentitySource {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Imds => "imds",
            Self::AppService => "app-service",
            Self::MachineLearning => "machine-learning",
            Self::AzureArc => "azure-arc",
            Self::CloudShell => "cloud-shell",
            Self::ServiceFabric => "service-fabric",
        }
    }

    /// The source's name in [`ManagedIdentityServer::environment`].
    fn environment_key(self) -> &'static str {
        match self {
            Self::Imds => "imds",
            Self::AppService => "app_service",
            Self::MachineLearning => "machine_learning",
            Self::AzureArc => "azure_arc",
            Self::CloudShell => "cloud_shell",
            Self::ServiceFabric => "service_fabric",
        }
    }
}

/// Starts the managed-identity endpoint of `source` next to `emulator` (Azure Arc's key files
/// in `<state dir>/arc-tokens`) and describes it.
async fn start_managed_identity(
    emulator: &Emulator,
    source: ManagedIdentitySource,
    state_dir: &Path,
) -> anyhow::Result<(ManagedIdentityServer, ManagedIdentityInfo)> {
    let mut config = ManagedIdentityConfig::default();
    if source == ManagedIdentitySource::AzureArc {
        let dir = state_dir.join("arc-tokens");
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the Azure Arc key directory {}: {e}",
                dir.display()
            )
        })?;
        config.arc_key_directory = Some(dir);
    }
    let server = emulator.start_managed_identity(config).await?;
    let id = |i: &crate::MiIdentity| ManagedIdentityIdInfo {
        client_id: i.client_id.clone(),
        object_id: i.object_id.clone(),
        resource_id: i.resource_id.clone(),
    };
    let info = ManagedIdentityInfo {
        source: source.name().to_string(),
        environment: server.environment(source.environment_key()),
        system_assigned: id(&server.config().system_assigned),
        user_assigned: server.config().user_assigned.iter().map(id).collect(),
        arc_key_directory: server
            .config()
            .arc_key_directory
            .as_ref()
            .map(|d| d.display().to_string()),
    };
    Ok((server, info))
}

/// Options of `scan-logs`.
#[derive(Debug, Clone, Args)]
pub struct ScanLogsArgs {
    /// The secrets log the emulator wrote (--secrets-log or ENTRA_EMULATOR_SECRETS_LOG).
    #[arg(long, value_name = "FILE")]
    pub secrets: PathBuf,
    /// Log files, or directories whose files are all logs.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// Print at most this many findings (all are counted).
    #[arg(long, default_value_t = 50)]
    pub max_findings: usize,
}

/// `scan-logs`: fails when a recorded secret (or a username, on a line not marked
/// `contains_pii=true`) appears in a log, and when there is nothing to scan, so an empty run
/// cannot pass.
pub fn scan_logs(args: ScanLogsArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let records = crate::secrets_log::read(&args.secrets)
        .with_context(|| format!("cannot read the secrets log {}", args.secrets.display()))?;
    let scanner = crate::leak_scan::LeakScanner::new(&records)?;
    anyhow::ensure!(
        !scanner.is_empty(),
        "the secrets log {} records nothing: was the emulator started with --secrets-log (or ENTRA_EMULATOR_SECRETS_LOG)?",
        args.secrets.display()
    );
    let files = crate::leak_scan::collect_files(&args.logs, &args.secrets)?;
    let report = scanner.scan_files(&files)?;
    anyhow::ensure!(
        report.lines > 0,
        "no log lines to scan in {} file(s): was logging on?",
        report.files
    );
    for f in report.findings.iter().take(args.max_findings) {
        eprintln!("{f}");
    }
    anyhow::ensure!(
        report.findings.is_empty(),
        "{} secret(s) or username(s) found in the logs (above; the values are not printed)",
        report.findings.len()
    );
    println!(
        "no leaks: {} secrets and usernames searched for in {} lines of {} files",
        report.secrets, report.lines, report.files
    );
    Ok(())
}

/// Loads the configuration named by the options (or the ready-made tenant) and applies flags.
pub fn load_config(args: &ServeArgs) -> anyhow::Result<EmulatorConfig> {
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_file(path)?,
        None => crate::ready_made::ready_made()?,
    };
    if args.http {
        config.settings.plain_http = true;
    }
    if args.enable_control {
        config.settings.control_api = true;
    }
    if let Some(path) = &args.secrets_log {
        config.settings.secrets_log = Some(path.clone());
    }
    Ok(config)
}

/// Where `serve` writes the CA and the certificate credential.
enum StateDir {
    /// `--state-dir`: the user's directory, kept on exit.
    Given(PathBuf),
    /// A fresh private directory in the temp dir, removed on a clean exit.
    Temporary(tempfile::TempDir),
}

impl StateDir {
    fn path(&self) -> &Path {
        match self {
            Self::Given(p) => p,
            Self::Temporary(t) => t.path(),
        }
    }
}

/// The state directory. Without `--state-dir`, a new directory with an unpredictable name
/// (`entra-emulator-XXXXXX`), created by `mkdir` with mode 0700: an existing path (a squatted
/// directory, a planted symlink) is never reused or followed; it is removed on a clean exit.
fn state_dir(args: &ServeArgs) -> anyhow::Result<StateDir> {
    let Some(dir) = &args.state_dir else {
        let temp = std::env::temp_dir();
        let mut builder = tempfile::Builder::new();
        builder.prefix("entra-emulator-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = builder.tempdir_in(&temp).map_err(|e| {
            anyhow::anyhow!("cannot create a state directory in {}: {e}", temp.display())
        })?;
        return Ok(StateDir::Temporary(dir));
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the state directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Not through a symlink: chmod follows links, so a planted one would change its target.
        let meta = std::fs::symlink_metadata(dir).map_err(|e| {
            anyhow::anyhow!("cannot read the state directory {}: {e}", dir.display())
        })?;
        if !meta.is_dir() {
            anyhow::bail!(
                "the state directory {} is not a directory (a symlink?)",
                dir.display()
            );
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            anyhow::anyhow!(
                "cannot make the state directory {} private: {e}",
                dir.display()
            )
        })?;
    }
    Ok(StateDir::Given(dir.clone()))
}

/// Starts the emulator, prints the connection info, and serves until Ctrl+C or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let emulator = Emulator::start_on_port(config, args.port).await?;
    let dir = state_dir(&args)?;
    let mut info = emulator.connection_info(dir.path())?;
    let mut private_bus = None;
    let mut broker = None;
    if args.broker {
        let address = match (&args.bus_address, args.private_bus) {
            (Some(a), _) => a.clone(),
            (None, true) => {
                let bus = PrivateSessionBus::start()?;
                let a = bus.address().to_string();
                private_bus = Some(bus);
                a
            }
            (None, false) => std::env::var("DBUS_SESSION_BUS_ADDRESS")
                .ok()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--broker needs a session bus: DBUS_SESSION_BUS_ADDRESS is not set; pass --bus-address ADDRESS or --private-bus"
                    )
                })?,
        };
        let options = BrokerOptions {
            device_user: args.broker_user.clone(),
            auto_approve: args.broker_auto_approve.clone(),
        };
        let service = emulator.serve_broker(&address, options).await?;
        info.broker_user = Some(service.broker_user().to_string());
        info.bus_address = Some(address);
        broker = Some(service);
    }
    let mut managed_identity = None;
    if let Some(source) = args.managed_identity {
        let (server, mi) = start_managed_identity(&emulator, source, dir.path()).await?;
        info.managed_identity = Some(mi);
        managed_identity = Some(server);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&info)?)?;
    } else {
        write!(out, "{}", describe(&info))?;
    }
    out.flush()?;
    drop(out);
    wait_for_shutdown().await;
    if let Some(service) = broker {
        service.stop().await;
    }
    drop(private_bus);
    drop(managed_identity);
    emulator.shutdown();
    // A temporary state directory (it holds private keys) goes with the emulator.
    drop(dir);
    Ok(())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The human-readable description `serve` prints.
pub fn describe(info: &ConnectionInfo) -> String {
    let mut s = String::new();
    let mut line = |t: String| {
        s.push_str(&t);
        s.push('\n');
    };
    line("entra-emulator is running: a local Microsoft Entra ID.".into());
    line(format!("  Authority          {}", info.authority));
    if let Some(domain) = &info.tenant_domain {
        line(format!(
            "                     {}/{domain}  {}/common  {}/organizations",
            info.base_url, info.base_url, info.base_url
        ));
    }
    line(format!("  Tenant id          {}", info.tenant_id));
    match &info.ca_file {
        Some(ca) => line(format!(
            "  CA certificate     {ca}   (trust it in your client; MSAL Python: a requests.Session with verify=<this file>)"
        )),
        None => line("  Transport          plain HTTP (no TLS)".into()),
    }
    if let Some(c) = &info.control_url {
        line(format!("  Control API        {c}"));
    }
    if let Some(c) = &info.public_client {
        line(format!(
            "  Public client      {}   scope {}",
            c.client_id, c.scope
        ));
    }
    if let Some(c) = &info.family_client {
        line(format!(
            "  Family client      {}   (same FOCI family)",
            c.client_id
        ));
    }
    if let Some(c) = &info.confidential_client {
        line(format!(
            "  Confidential app   {}   secret {}   scope {}",
            c.client_id,
            c.client_secret.as_deref().unwrap_or("-"),
            c.scope
        ));
    }
    if let Some(c) = &info.certificate_client {
        line(format!(
            "  Certificate app    {}   scope {}",
            c.client_id, c.scope
        ));
        line(format!(
            "                     key {}   cert {}   SHA-1 {}",
            c.private_key_file, c.certificate_file, c.thumbprint_sha1
        ));
    }
    line("  Users".into());
    for u in &info.users {
        let mut notes = Vec::new();
        if u.mfa_required {
            notes.push("MFA required");
        }
        if u.guest {
            notes.push("guest from another tenant");
        }
        if !u.consent_given {
            notes.push("has not consented");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("   ({})", notes.join(", "))
        };
        line(format!(
            "    {:<28} password {}{notes}",
            u.username, u.password
        ));
    }
    for u in &info.federated_users {
        line(format!(
            "    {:<28} password {}   (federated: WS-Trust at {}/adfs/services/trust/mex)",
            u.username, u.password, info.base_url
        ));
    }
    line(format!(
        "  Device sign-in     {}/devicelogin",
        info.base_url
    ));
    if let (Some(user), Some(bus)) = (&info.broker_user, &info.bus_address) {
        line(format!(
            "  Broker             com.microsoft.identity.broker1, device user {user}"
        ));
        line(format!(
            "                     DBUS_SESSION_BUS_ADDRESS={bus}"
        ));
    }
    if let Some(mi) = &info.managed_identity {
        line(format!(
            "  Managed identity   {}: system-assigned client id {}",
            mi.source, mi.system_assigned.client_id
        ));
        for u in &mi.user_assigned {
            line(format!(
                "                     user-assigned client id {}   resource id {}",
                u.client_id, u.resource_id
            ));
        }
        line("                     export these for the client (then e.g. `msal token --managed-identity --scope https://management.azure.com/.default`):".into());
        for (name, value) in &mi.environment {
            line(format!("                     export {name}={value}"));
        }
        if let Some(dir) = &mi.arc_key_directory {
            line(format!(
                "                     Azure Arc key files go to {dir}: MSAL clients read them only from the agent's directory (/var/opt/azcmagent/tokens on Linux) unless they let you set it"
            ));
        }
    }
    line("Press Ctrl+C to stop.".into());
    s
}
