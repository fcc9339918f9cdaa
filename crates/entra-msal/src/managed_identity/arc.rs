//! Azure Arc-enabled servers: `GET {endpoint}`, api-version `2020-06-01`, `Metadata: true`.
//!
//! The first request must be answered `401` with `WWW-Authenticate: Basic realm=<key file>`.
//! The key file must be a `.key` file directly inside the agent's key directory
//! (`/var/opt/azcmagent/tokens` on Linux, `%ProgramData%\AzureConnectedMachineAgent\Tokens` on
//! Windows), a regular file (not a link) of at most 4096 bytes; its content is sent back as
//! `Authorization: Basic <content>`. A user-assigned identity must be echoed by the response,
//! otherwise the token is refused (a legacy agent ignores the selector and returns the
//! system-assigned identity's token).

use std::path::{Path, PathBuf};

use super::error::{ManagedIdentityError, ManagedIdentityErrorKind};
use super::identity::{ManagedIdentity, UserAssignedId};
use super::source::ManagedIdentitySource;
use super::wire::{self, MiToken};
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};

const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AzureArc;
/// The API version MSAL uses.
pub(crate) const API_VERSION: &str = "2020-06-01";
/// The largest key file read.
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The request; `secret` is `None` for the first (challenge) request.
pub(crate) fn request(
    endpoint: &str,
    identity: &ManagedIdentity,
    resource: &str,
    secret: Option<&str>,
) -> Result<HttpRequest, Error> {
    let mut query = vec![("api-version", API_VERSION), ("resource", resource)];
    query.extend(identity.query_param("msi_res_id"));
    let authorization = secret.map(|s| format!("Basic {s}"));
    let mut headers = vec![("Metadata", "true")];
    if let Some(a) = &authorization {
        headers.push(("Authorization", a));
    }
    wire::request(SOURCE, http::Method::GET, endpoint, &query, &headers, None)
}

fn challenge_error(message: String, status: u16) -> Error {
    wire::boxed(
        ManagedIdentityError::new(SOURCE, ManagedIdentityErrorKind::ArcChallenge, message)
            .status(status)
            .code("invalid_request"),
    )
}

/// The key-file path named by the first response's challenge.
pub(crate) fn challenge_path(url: &str, response: &HttpResponse) -> Result<String, Error> {
    let status = response.status().as_u16();
    if status != 401 {
        if let Some(e) = wire::transient_failure(SOURCE, url, response) {
            return Err(e);
        }
        return Err(challenge_error(
            format!(
                "expected a 401 challenge, got: {} (is the Azure Connected Machine agent \
                 running and up to date?)",
                wire::snippet(response.body())
            ),
            status,
        ));
    }
    let header = response
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts: Vec<&str> = header.split('=').collect();
    match parts.as_slice() {
        [scheme, path]
            if scheme.trim().eq_ignore_ascii_case("basic realm") && !path.trim().is_empty() =>
        {
            Ok(path.trim().to_string())
        }
        _ => Err(challenge_error(
            format!(
                "unrecognizable WWW-Authenticate header {header:?}; expected Basic realm=<path>"
            ),
            status,
        )),
    }
}

fn key_error(message: String) -> Error {
    wire::mi_error(SOURCE, ManagedIdentityErrorKind::ArcKeyFile, message)
}

/// Applies the directory rules to the challenge's path and returns the file to read.
pub(crate) fn key_file_path(
    realm: &str,
    key_directory: &Path,
    windows: bool,
) -> Result<PathBuf, Error> {
    // The realm is the agent's path; split on both separators so a Windows path is judged
    // correctly whatever the host.
    let (dir, name) = match realm.rfind(['/', '\\']) {
        Some(i) => (&realm[..i], &realm[i + 1..]),
        None => ("", realm),
    };
    let stem = name
        .strip_suffix(".key")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            key_error(format!(
                "the challenge names {realm:?}, which is not a .key file; refusing to read it"
            ))
        })?;
    if stem.starts_with('.')
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(key_error(format!(
            "the challenge names an invalid file {realm:?}"
        )));
    }
    let expected = key_directory.to_string_lossy();
    let normalize = |s: &str| {
        let s = s.trim_end_matches(['/', '\\']);
        if windows {
            s.replace('/', "\\").to_lowercase()
        } else {
            s.to_string()
        }
    };
    if normalize(dir) != normalize(&expected) {
        return Err(key_error(format!(
            "the challenge names {realm:?}, outside the agent's key directory {expected:?}; \
             refusing to read it"
        )));
    }
    Ok(key_directory.join(format!("{stem}.key")))
}

/// Reads the key file: a regular file of at most [`MAX_KEY_FILE_BYTES`], checked before reading.
pub(crate) fn read_key_file(path: &Path) -> Result<String, Error> {
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        key_error(format!(
            "cannot read the key file {shown}: {e} (run as a user in the agent's \
             'himds' group, or as root/Administrator)"
        ))
    })?;
    if !meta.file_type().is_file() {
        return Err(key_error(format!(
            "{shown} is not a regular file; refusing to read it"
        )));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(key_error(format!(
            "the key file {shown} is {} bytes, larger than {MAX_KEY_FILE_BYTES}; refusing to read it",
            meta.len()
        )));
    }
    let content = std::fs::read(path)
        .map_err(|e| key_error(format!("cannot read the key file {shown}: {e}")))?;
    if content.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(key_error(format!(
            "the key file {shown} grew past {MAX_KEY_FILE_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(content)
        .map_err(|_| key_error(format!("the key file {shown} is not text")))?;
    let secret = text.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() || secret.contains(['\r', '\n']) {
        return Err(key_error(format!(
            "the key file {shown} does not hold one secret line"
        )));
    }
    Ok(secret)
}

/// The second response: a token (`access_token`, `expires_in`) that, for a user-assigned
/// identity, echoes that identity.
pub(crate) fn parse(
    url: &str,
    response: &HttpResponse,
    identity: &ManagedIdentity,
) -> Result<MiToken, Error> {
    if let Some(e) = wire::transient_failure(SOURCE, url, response) {
        return Err(e);
    }
    let status = response.status().as_u16();
    let json = wire::json_object(SOURCE, response)?;
    if !(wire::text(&json, "access_token").is_some() && json.contains_key("expires_in")) {
        return Err(wire::boxed(
            ManagedIdentityError::new(
                SOURCE,
                ManagedIdentityErrorKind::Refused,
                wire::snippet(response.body()),
            )
            .status(status)
            .code("invalid_request"),
        ));
    }
    if let Some(requested) = identity.user_assigned() {
        let echoed = match requested {
            UserAssignedId::ClientId(_) => wire::text(&json, "client_id"),
            UserAssignedId::ObjectId(_) => wire::text(&json, "object_id"),
            UserAssignedId::ResourceId(_) => {
                wire::text(&json, "msi_res_id").or_else(|| wire::text(&json, "mi_res_id"))
            }
        };
        if !echoed.is_some_and(|e| e.eq_ignore_ascii_case(requested.value())) {
            return Err(wire::boxed(
                ManagedIdentityError::new(
                    SOURCE,
                    ManagedIdentityErrorKind::IdentityMismatch,
                    format!(
                        "the agent did not confirm the requested user-assigned identity ({} {}); \
                         it probably does not support user-assigned identities and returned the \
                         system-assigned one. Update the Azure Connected Machine agent, or use \
                         ManagedIdentity::SystemAssigned",
                        requested.kind(),
                        requested.value()
                    ),
                )
                .status(status),
            ));
        }
    }
    wire::token(SOURCE, &json, wire::integer(json.get("expires_in")), status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, header: Option<&str>, body: &str) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        if let Some(h) = header {
            b = b.header("WWW-Authenticate", h);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn challenge_is_required_and_parsed() {
        assert_eq!(
            challenge_path(
                "u",
                &resp(401, Some("Basic realm=/var/opt/azcmagent/tokens/a.key"), "")
            )
            .unwrap(),
            "/var/opt/azcmagent/tokens/a.key"
        );
        for (status, header) in [
            (200, None),
            (401, None),
            (401, Some("Bearer realm=x")),
            (401, Some("Basic realm=a=b")),
            // Fuzzing finding: a blank path was accepted as the empty path.
            (401, Some("Basic realm= ")),
            (401, Some("Basic realm=\t")),
        ] {
            assert!(matches!(
                challenge_path("u", &resp(status, header, "{}")),
                Err(Error::ManagedIdentity(e)) if e.kind == ManagedIdentityErrorKind::ArcChallenge
            ));
        }
    }

    #[test]
    fn directory_rules() {
        let dir = Path::new("/var/opt/azcmagent/tokens");
        assert_eq!(
            key_file_path("/var/opt/azcmagent/tokens/abc.key", dir, false).unwrap(),
            dir.join("abc.key")
        );
        for bad in [
            "/etc/shadow",
            "/var/opt/azcmagent/tokens/abc.txt",
            "/var/opt/azcmagent/tokens/../../../etc/x.key",
            "/tmp/abc.key",
            "abc.key",
            "/var/opt/azcmagent/tokens/.key",
        ] {
            assert!(key_file_path(bad, dir, false).is_err(), "{bad}");
        }
        let win = Path::new(r"C:\ProgramData\AzureConnectedMachineAgent\Tokens");
        assert!(
            key_file_path(
                r"c:\programdata\azureconnectedmachineagent\tokens\k.key",
                win,
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn key_file_size_limit_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.key");
        std::fs::write(&big, "x".repeat(4097)).unwrap();
        assert!(read_key_file(&big).is_err());
        let ok = dir.path().join("ok.key");
        std::fs::write(&ok, format!("{}\n", "y".repeat(64))).unwrap();
        assert_eq!(read_key_file(&ok).unwrap(), "y".repeat(64));
        assert!(read_key_file(&dir.path().join("missing.key")).is_err());
    }

    #[test]
    fn user_assigned_identity_must_be_echoed() {
        let body = r#"{"access_token":"a","expires_in":"3600","client_id":"C1"}"#;
        assert!(
            parse(
                "u",
                &resp(200, None, body),
                &ManagedIdentity::client_id("c1")
            )
            .is_ok()
        );
        assert!(matches!(
            parse("u", &resp(200, None, body), &ManagedIdentity::client_id("c2")),
            Err(Error::ManagedIdentity(e)) if e.kind == ManagedIdentityErrorKind::IdentityMismatch
        ));
        assert!(
            parse(
                "u",
                &resp(200, None, r#"{"access_token":"a","expires_in":1}"#),
                &ManagedIdentity::object_id("o")
            )
            .is_err()
        );
        assert!(
            parse(
                "u",
                &resp(200, None, r#"{"access_token":"a","expires_in":1}"#),
                &ManagedIdentity::SystemAssigned
            )
            .is_ok()
        );
    }
}
