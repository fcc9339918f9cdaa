//! The secrets log: every secret the emulator hands out or receives (tokens, codes, passwords,
//! client secrets and assertions, and the usernames of its users), appended to a file so that a
//! test suite can search its own logs for leaks afterwards ([`crate::leak_scan`],
//! `entra-emulator scan-logs`).
//!
//! Off unless [`Settings::secrets_log`](crate::config::Settings::secrets_log) or the
//! `ENTRA_EMULATOR_SECRETS_LOG` environment variable names a file. Each line is one JSON object,
//! `{"kind":"access_token","value":"eyJ…"}`; the file is created readable by its owner only and
//! opened for appending, so several emulators (and processes) can share it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The environment variable that switches the secrets log on for every emulator started in
/// the process (and its children) when the configuration does not name a file.
pub const SECRETS_LOG_ENV: &str = "ENTRA_EMULATOR_SECRETS_LOG";

/// Form fields whose values are credentials when a client sends them.
pub const SECRET_FORM_FIELDS: [&str; 9] = [
    "client_secret",
    "client_assertion",
    "user_federated_identity_credential",
    "code",
    "code_verifier",
    "device_code",
    "refresh_token",
    "assertion",
    "password",
];

/// Values a client sends that are shorter than this are not recorded: short test inputs such as
/// `invalid` would match ordinary log text, and no real credential is that short.
const MIN_RECEIVED_LEN: usize = 10;

/// What a recorded value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An access token the emulator signed.
    AccessToken,
    /// An ID token the emulator signed.
    IdToken,
    /// A refresh token the emulator issued.
    RefreshToken,
    /// An authorization code.
    AuthorizationCode,
    /// A device code.
    DeviceCode,
    /// A user's password from the configuration.
    Password,
    /// A confidential client's secret from the configuration.
    ClientSecret,
    /// A certificate's private key (one base64 line of its PEM).
    PrivateKey,
    /// A managed-identity endpoint's secret (App Service or Service Fabric header, Azure Arc
    /// key file).
    ManagedIdentitySecret,
    /// A SAML assertion the emulated federation server (WS-Trust) issued.
    SamlAssertion,
    /// A credential a client sent in a form field (the field is `field`).
    Received,
    /// A username: allowed in logs only on lines that say `contains_pii=true`.
    Username,
}

/// One line of the secrets log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    /// What the value is.
    pub kind: SecretKind,
    /// The form field it came in, for [`SecretKind::Received`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The secret itself.
    pub value: String,
}

/// Appends secrets to the file, or does nothing when off.
#[derive(Debug, Default)]
pub struct SecretsLog {
    file: Option<Mutex<File>>,
}

impl SecretsLog {
    /// A log that records nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// Opens (creating it owner-only) the file for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(Self {
            file: Some(Mutex::new(file)),
        })
    }

    /// The file to record to: the configured one, else the one `ENTRA_EMULATOR_SECRETS_LOG`
    /// names, else none (off).
    pub fn path_for(configured: Option<&Path>) -> Option<PathBuf> {
        configured.map(Path::to_path_buf).or_else(|| {
            std::env::var_os(SECRETS_LOG_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// Whether values are being recorded.
    pub fn is_on(&self) -> bool {
        self.file.is_some()
    }

    /// Records a value the emulator issued or was configured with.
    pub fn record(&self, kind: SecretKind, value: &str) {
        if !self.is_on() {
            return;
        }
        self.write(&SecretRecord {
            kind,
            field: None,
            value: value.to_string(),
        });
    }

    /// Records the credential fields of a form a client sent.
    pub fn record_received<'a>(&self, form: impl IntoIterator<Item = (&'a String, &'a String)>) {
        if !self.is_on() {
            return;
        }
        for (field, value) in form {
            if SECRET_FORM_FIELDS.contains(&field.as_str())
                && value.chars().count() >= MIN_RECEIVED_LEN
            {
                self.write(&SecretRecord {
                    kind: SecretKind::Received,
                    field: Some(field.clone()),
                    value: value.clone(),
                });
            }
        }
    }

    /// Records the configuration's passwords, client secrets, private keys and usernames.
    pub fn record_configuration(&self, config: &crate::config::EmulatorConfig) {
        if !self.is_on() {
            return;
        }
        for user in &config.users {
            self.record(SecretKind::Username, &user.username);
            self.record(SecretKind::Password, &user.password);
        }
        for app in &config.applications {
            for secret in &app.secrets {
                self.record(SecretKind::ClientSecret, secret);
            }
            for cert in &app.certificates {
                for line in cert
                    .private_key_pem
                    .as_deref()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 32)
                {
                    self.record(SecretKind::PrivateKey, line);
                }
            }
        }
    }

    fn write(&self, record: &SecretRecord) {
        let Some(file) = &self.file else { return };
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line: appends from several processes do not interleave.
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "cannot append to the secrets log");
        }
    }
}

/// Reads a secrets log back.
pub fn read(path: &Path) -> std::io::Result<Vec<SecretRecord>> {
    let text = std::fs::read_to_string(path)?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: not a secrets-log line: {e}", path.display(), n + 1),
            )
        })?;
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn records_round_trip_and_the_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.jsonl");
        let log = SecretsLog::open(&path).unwrap();
        log.record(SecretKind::AccessToken, "eyJ.a\"b\\c\nd");
        let form: BTreeMap<String, String> = [
            ("client_secret", "a-long-client-secret"),
            ("password", "short"),
            ("scope", "openid profile offline_access"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        log.record_received(&form);
        let again = SecretsLog::open(&path).unwrap();
        again.record(SecretKind::Username, "alice@example.com");

        let records = read(&path).unwrap();
        assert_eq!(
            records,
            vec![
                SecretRecord {
                    kind: SecretKind::AccessToken,
                    field: None,
                    value: "eyJ.a\"b\\c\nd".into()
                },
                SecretRecord {
                    kind: SecretKind::Received,
                    field: Some("client_secret".into()),
                    value: "a-long-client-secret".into()
                },
                SecretRecord {
                    kind: SecretKind::Username,
                    field: None,
                    value: "alice@example.com".into()
                },
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn off_records_nothing_and_a_bad_line_is_an_error() {
        let log = SecretsLog::off();
        assert!(!log.is_on());
        log.record(SecretKind::Password, "not written anywhere");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "{\"kind\":\"password\",\"value\":\"x\"}\nnot json\n").unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.to_string().contains("bad.jsonl:2"), "{e}");
    }
}
