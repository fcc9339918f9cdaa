//! OpenSSH for the SSH certificate tests: `ssh-keygen` (keys, `-L` listings), and a real `sshd`
//! on a free loopback port that trusts a certificate authority, with `ssh` logging in to it.
//!
//! Missing binaries follow [`crate::missing`]: a failure when `CI=true`, a loud skip otherwise
//! (`scripts/test` installs `openssh-client` and `openssh-server`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::missing;

/// `ssh-keygen`, or `None` (see the module docs).
pub fn ssh_keygen() -> Option<PathBuf> {
    binary(&["/usr/bin/ssh-keygen"], "ssh-keygen", "openssh-client")
}

/// `ssh`, or `None` (see the module docs).
pub fn ssh() -> Option<PathBuf> {
    binary(&["/usr/bin/ssh"], "ssh", "openssh-client")
}

/// `sshd`, or `None` (see the module docs).
pub fn sshd() -> Option<PathBuf> {
    binary(&["/usr/sbin/sshd"], "sshd", "openssh-server")
}

fn binary(candidates: &[&str], name: &str, package: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(found);
    }
    missing(&format!(
        "the SSH certificate tests need {name} (apt-get install {package}; scripts/test installs it)"
    ))
}

fn run(command: &mut Command) -> Output {
    let started = command.stdin(Stdio::null()).output();
    started.unwrap_or_else(|e| panic!("{command:?} did not start: {e}"))
}

/// Generates an unencrypted RSA key `dir/name` (and `dir/name.pub`) with `ssh-keygen`;
/// returns the private key's path.
pub fn generate_rsa_key(keygen: &Path, dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let out = run(Command::new(keygen)
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", name, "-f"])
        .arg(&key));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// `ssh-keygen -L -f cert`: the certificate as OpenSSH reads it.
pub fn list_certificate(keygen: &Path, cert: &Path) -> String {
    let out = run(Command::new(keygen).arg("-L").arg("-f").arg(cert));
    assert!(
        out.status.success(),
        "ssh-keygen -L rejected {}: {}",
        cert.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `sshd -D` on 127.0.0.1 that trusts one certificate authority for user
/// certificates and lets `root` in with a certificate naming one principal. Stopped when
/// dropped.
pub struct Sshd {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    dir: PathBuf,
}

impl Sshd {
    /// Starts `sshd` with its files in `dir`: `TrustedUserCAKeys` holds `ca_public_key` (an
    /// OpenSSH public key line) and `AuthorizedPrincipalsFile` holds `principal`; password and
    /// `authorized_keys` logins are off, so only a certificate gets in.
    pub fn start(
        sshd: &Path,
        keygen: &Path,
        dir: &Path,
        ca_public_key: &str,
        principal: &str,
    ) -> Self {
        // sshd refuses to start without its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("sshd_host_rsa_key");
        if !host_key.exists() {
            generate_rsa_key(keygen, dir, "sshd_host_rsa_key");
        }
        let ca = dir.join("trusted_user_ca.pub");
        std::fs::write(&ca, format!("{ca_public_key}\n")).expect("the CA file is written");
        let principals = dir.join("authorized_principals");
        std::fs::write(&principals, format!("{principal}\n")).expect("the principals file");
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
                 TrustedUserCAKeys {ca}\nAuthorizedPrincipalsFile {principals}\n\
                 AuthorizedKeysFile none\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\n\
                 StrictModes no\nLogLevel VERBOSE\n",
                host = host_key.display(),
                pid = dir.join("sshd.pid").display(),
                ca = ca.display(),
                principals = principals.display(),
            ),
        )
        .expect("the sshd configuration is written");
        let log = std::fs::File::create(dir.join("sshd.log")).expect("the sshd log");
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        let mut started = Self {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = started.child.try_wait() {
                panic!("sshd exited ({status}): {}", started.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                started.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        started
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Runs `ssh -i key [-o CertificateFile=cert] root@127.0.0.1 true` against this server
    /// (no agent, no config file, no password prompts); returns whether the login succeeded,
    /// and ssh's standard error.
    pub fn login(&self, ssh: &Path, key: &Path, cert: Option<&Path>) -> (bool, String) {
        let mut command = Command::new(ssh);
        command
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10"])
            .env_remove("SSH_AUTH_SOCK")
            .arg("-i")
            .arg(key);
        if let Some(cert) = cert {
            command
                .arg("-o")
                .arg(format!("CertificateFile={}", cert.display()));
        }
        command.args(["-p", &self.port.to_string(), "root@127.0.0.1", "true"]);
        let out = run(&mut command);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
