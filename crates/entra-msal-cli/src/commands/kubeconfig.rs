//! `msal kubeconfig`: a kubeconfig `users:` entry whose `exec` plugin is `msal token --output
//! exec-credential`, and the cluster's contexts switched to it (kubelogin's
//! `convert-kubeconfig`, for msal).

use std::path::{Path, PathBuf};

use serde_json::json;
use serde_norway::{Mapping, Value};

use crate::cli::{KubeconfigArgs, ListOutput};
use crate::failure::Failure;
use crate::output::EXEC_CREDENTIAL_V1;
use crate::settings::{Settings, Source};
use crate::terminal::{clean, clean_json};

/// The scope of the AKS Microsoft Entra server application, which every AKS cluster with Entra
/// integration accepts.
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

/// The kubeconfig to change: the flag, else the first file of `$KUBECONFIG`, else
/// `~/.kube/config`.
fn kubeconfig_path(args: &KubeconfigArgs) -> Result<PathBuf, Failure> {
    if let Some(p) = &args.kubeconfig {
        return Ok(p.clone());
    }
    let separator = if cfg!(windows) { ';' } else { ':' };
    if let Ok(list) = std::env::var("KUBECONFIG")
        && let Some(first) = list.split(separator).find(|p| !p.trim().is_empty())
    {
        return Ok(PathBuf::from(first));
    }
    dirs::home_dir()
        .map(|h| h.join(".kube").join("config"))
        .ok_or_else(|| {
            Failure::config("no kubeconfig: KUBECONFIG is unset and there is no home directory")
                .next("name the file with --kubeconfig PATH")
        })
}

fn load(path: &Path) -> Result<Mapping, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::config(format!("cannot read the kubeconfig {}: {e}", path.display())).next(
            "get the cluster's kubeconfig first (e.g. `az aks get-credentials`), or name it with --kubeconfig",
        )
    })?;
    match serde_norway::from_str::<Value>(&text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(Failure::config(format!(
            "the kubeconfig {} is not a YAML mapping",
            path.display()
        ))
        .next("check the file: it should start with apiVersion: v1 and kind: Config")),
        Err(e) => Err(Failure::config(format!(
            "the kubeconfig {} is not valid YAML: {e}",
            path.display()
        ))
        .next("fix the file, or name another with --kubeconfig")),
    }
}

/// The named entries of a kubeconfig list (`clusters`, `contexts`, `users`), created empty when
/// missing.
fn list<'a>(config: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>, Failure> {
    let entry = config
        .entry(Value::String(key.into()))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if entry.is_null() {
        *entry = Value::Sequence(Vec::new());
    }
    entry.as_sequence_mut().ok_or_else(|| {
        Failure::config(format!("the kubeconfig's `{key}` is not a list"))
            .next("fix the kubeconfig file")
    })
}

fn name_of(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// The `msal token` arguments kubectl will run.
fn exec_args(settings: &Settings, args: &KubeconfigArgs) -> Vec<String> {
    let mut out: Vec<String> = ["token", "--output", "exec-credential"]
        .map(String::from)
        .to_vec();
    if let Some(c) = &settings.client_id {
        out.extend(["--client-id".into(), c.value.clone()]);
    }
    if let Some(t) = &settings.tenant {
        out.extend(["--tenant".into(), t.value.clone()]);
    }
    // An authority or CA file given on this command line goes into the entry; those from the
    // environment or the config file are read again when kubectl runs msal.
    if let Some(a) = settings
        .authority
        .as_ref()
        .filter(|a| a.source == Source::Flag)
    {
        out.extend(["--authority".into(), a.value.clone()]);
    }
    if let Some(c) = settings
        .ca_file
        .as_ref()
        .filter(|c| c.source == Source::Flag)
    {
        out.extend(["--ca-file".into(), c.value.display().to_string()]);
    }
    let scopes: Vec<String> = if args.scopes.is_empty() {
        vec![AKS_SCOPE.into()]
    } else {
        args.scopes.clone()
    };
    for s in scopes {
        out.extend(["--scope".into(), s]);
    }
    if args.device_code {
        out.push("--device-code".into());
    }
    out
}

/// The `users:` entry.
fn user_entry(name: &str, command: &str, exec_args: &[String]) -> Value {
    let mut exec = Mapping::new();
    let mut put = |k: &str, v: Value| {
        exec.insert(Value::String(k.into()), v);
    };
    put("apiVersion", Value::String(EXEC_CREDENTIAL_V1.into()));
    put("command", Value::String(command.into()));
    put(
        "args",
        Value::Sequence(exec_args.iter().cloned().map(Value::String).collect()),
    );
    put("interactiveMode", Value::String("IfAvailable".into()));
    put("provideClusterInfo", Value::Bool(false));
    put(
        "installHint",
        Value::String(
            "msal (entra-msal's CLI) signs in to Microsoft Entra ID for this cluster; install it and put it on PATH".into(),
        ),
    );
    let mut user = Mapping::new();
    user.insert(Value::String("exec".into()), Value::Mapping(exec));
    let mut entry = Mapping::new();
    entry.insert(Value::String("name".into()), Value::String(name.into()));
    entry.insert(Value::String("user".into()), Value::Mapping(user));
    Value::Mapping(entry)
}

/// Writes the user entry and points the cluster's contexts at it.
pub fn run(settings: &Settings, args: &KubeconfigArgs) -> Result<(), Failure> {
    let path = kubeconfig_path(args)?;
    let mut config = load(&path)?;
    let clusters: Vec<String> = list(&mut config, "clusters")?
        .iter()
        .filter_map(|c| name_of(c).map(str::to_string))
        .collect();
    if !clusters.iter().any(|c| c == &args.cluster) {
        return Err(Failure::config(format!(
            "the kubeconfig {} has no cluster named {}",
            path.display(),
            clean(&args.cluster)
        ))
        .next(if clusters.is_empty() {
            "add the cluster first (e.g. `az aks get-credentials`)".to_string()
        } else {
            format!(
                "pass one of these to --cluster: {}",
                clean(&clusters.join(", "))
            )
        }));
    }
    let user = args
        .user
        .clone()
        .unwrap_or_else(|| format!("msal-{}", args.cluster));
    let command = match &args.command {
        Some(c) => c.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .map_or_else(|| "msal".to_string(), |p| p.display().to_string()),
    };
    let exec_args = exec_args(settings, args);
    let entry = user_entry(&user, &command, &exec_args);
    let users = list(&mut config, "users")?;
    match users.iter_mut().find(|u| name_of(u) == Some(user.as_str())) {
        Some(existing) => *existing = entry,
        None => users.push(entry),
    }
    let mut switched = Vec::new();
    for context in list(&mut config, "contexts")?.iter_mut() {
        let name = name_of(context).unwrap_or("").to_string();
        if let Some(Value::Mapping(inner)) = context.get_mut("context")
            && inner.get("cluster").and_then(Value::as_str) == Some(args.cluster.as_str())
        {
            inner.insert(Value::String("user".into()), Value::String(user.clone()));
            switched.push(name);
        }
    }
    for (key, value) in [("apiVersion", "v1"), ("kind", "Config")] {
        config
            .entry(Value::String(key.into()))
            .or_insert_with(|| Value::String(value.into()));
    }
    let text = serde_norway::to_string(&Value::Mapping(config))
        .map_err(|e| Failure::other(format!("cannot write the kubeconfig as YAML: {e}")))?;
    write(&path, &text)?;
    match args.output {
        ListOutput::Json => {
            let v = json!({
                "kubeconfig": path.display().to_string(),
                "user": user,
                "command": command,
                "args": exec_args,
                "contexts": switched,
            });
            println!(
                "{}",
                clean_json(&serde_json::to_string_pretty(&v).unwrap_or_default())
            );
        }
        ListOutput::Text => {
            println!(
                "Wrote the user {} to {}: kubectl runs `{} {}`.",
                clean(&user),
                path.display(),
                command,
                exec_args.join(" ")
            );
            if switched.is_empty() {
                println!(
                    "No context uses the cluster {} yet: add one with `kubectl config set-context NAME --cluster {0} --user {}`.",
                    clean(&args.cluster),
                    clean(&user)
                );
            } else {
                println!("Contexts now using it: {}.", clean(&switched.join(", ")));
            }
        }
    }
    Ok(())
}

/// Replaces the file through a temporary file beside it, keeping it owner-only (a kubeconfig
/// holds credentials).
fn write(path: &Path, text: &str) -> Result<(), Failure> {
    crate::atomic_file::replace(
        path,
        text,
        "the kubeconfig",
        "check the file's and its directory's permissions",
    )
}
