//! `msal ssh-cert`: an SSH certificate for the user's public key (as `az ssh cert` gets it),
//! written beside the key as `<key>-cert.pub`, where `ssh` looks for it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use entra_msal::SshCertificateRequest;

use crate::cli::SshCertArgs;
use crate::client::Cache;
use crate::commands::token::{UserAsk, user_token};
use crate::failure::Failure;
use crate::output::ExecInfo;
use crate::settings::Settings;

/// The scope `az ssh` requests SSH certificates for.
pub const SSH_SCOPE: &str = "https://pas.windows.net/CheckMyAccess/Linux/.default";

/// Where the certificate of `public_key` goes: `id_rsa.pub` → `id_rsa-cert.pub` (OpenSSH's
/// name, which `ssh -i id_rsa` loads by itself); a key file without `.pub` gets `-cert.pub`
/// appended.
pub fn certificate_path(public_key: &Path) -> PathBuf {
    let name = public_key
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".pub").unwrap_or(&name);
    public_key.with_file_name(format!("{stem}-cert.pub"))
}

/// Gets the certificate and writes it; prints the file's path.
pub async fn run(settings: &Settings, args: &SshCertArgs) -> Result<(), Failure> {
    let line = std::fs::read_to_string(&args.public_key).map_err(|e| {
        Failure::config(format!(
            "cannot read the public key {}: {e}",
            args.public_key.display()
        ))
        .next("pass an OpenSSH public key file, e.g. --public-key ~/.ssh/id_rsa.pub (create one with `ssh-keygen -t rsa -b 4096`)")
    })?;
    let key = SshCertificateRequest::from_openssh_public_key(&line).map_err(|e| {
        Failure::from(e).next(
            "pass the public half of an RSA key (`ssh-rsa AAAA…`); create one with `ssh-keygen -t rsa -b 4096`",
        )
    })?;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| certificate_path(&args.public_key));
    let scopes = if args.scopes.is_empty() {
        vec![SSH_SCOPE.to_string()]
    } else {
        settings.scopes(&args.scopes, None)?
    };
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let cache = Cache::open(&settings.cache_file.value)?;
    let ask = UserAsk {
        account: args.account.as_deref(),
        no_interactive: args.no_interactive,
        force_refresh: args.force_refresh,
        sign_in: &args.sign_in,
        ssh: Some(&key),
    };
    let result = user_token(settings, &cache, &ask, &ExecInfo::default(), &scopes).await;
    cache.finish();
    let result = result?;
    let certificate = result.ssh_certificate_line().ok_or_else(|| {
        Failure::config(format!(
            "the identity provider returned a {} token, not an SSH certificate",
            crate::terminal::clean(&result.token_type)
        ))
        .next(
            "check that the authority issues SSH certificates (token_type ssh-cert) for this scope",
        )
    })?;
    crate::atomic_file::replace(
        &file,
        &format!("{certificate}\n"),
        "the SSH certificate",
        "choose a writable place with --file PATH",
    )?;
    let who = result
        .account
        .as_ref()
        .map(|a| crate::terminal::clean(&a.username).into_owned())
        .unwrap_or_default();
    eprintln!(
        "msal: wrote the SSH certificate of {who} for key {} (valid until {}); `ssh -i` with the private key uses it",
        key.key_id(),
        crate::localtime::display(result.expires_on)
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", file.display())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_where_ssh_looks_for_it() {
        assert_eq!(
            certificate_path(Path::new("/home/u/.ssh/id_rsa.pub")),
            PathBuf::from("/home/u/.ssh/id_rsa-cert.pub")
        );
        assert_eq!(
            certificate_path(Path::new("keys/work")),
            PathBuf::from("keys/work-cert.pub")
        );
    }
}
