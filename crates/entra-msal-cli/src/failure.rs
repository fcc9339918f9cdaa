//! What went wrong, as one readable line, the next step, and a documented exit code.

use std::fmt;
use std::process::ExitCode;

use entra_msal::Error;
use entra_msal::broker::BrokerStatus;

/// The exit codes, as `--help` and `docs/cli.md` list them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other error (token cache, unexpected answer, I/O)
  2  wrong command line
  3  configuration error (client id, authority, scopes, credential, broker)
  4  interaction required (sign in with `msal login`, or allow interaction)
  5  cancelled by the user (Ctrl+C, sign-in declined or timed out)
  6  network error (DNS, connection, TLS, timeout)
  7  the identity provider refused the request (or throttled it)
  101  internal error (a bug: please report it)
  141  standard output was closed early (e.g. `msal decode ... | head -1`)";

/// The kinds of failure, each with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1.
    Other,
    /// 3.
    Configuration,
    /// 4.
    InteractionRequired,
    /// 5.
    Cancelled,
    /// 6.
    Network,
    /// 7.
    Service,
    /// 141: standard output or standard error was closed (a pipe's reader went away); nothing
    /// is printed.
    BrokenPipe,
}

impl Kind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Kind::Other => 1,
            Kind::Configuration => 3,
            Kind::InteractionRequired => 4,
            Kind::Cancelled => 5,
            Kind::Network => 6,
            Kind::Service => 7,
            Kind::BrokenPipe => crate::terminal::BROKEN_PIPE_EXIT as u8,
        }
    }
}

/// A failed command: a message, what to do next, and the error behind it (for `--verbose`).
#[derive(Debug)]
pub struct Failure {
    /// The kind (exit code).
    pub kind: Kind,
    /// One line.
    pub message: String,
    /// The next step, when there is one.
    pub next: Option<String>,
    /// The underlying error, printed in full with `--verbose`.
    pub detail: Option<String>,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            next: None,
            detail: None,
        }
    }

    /// A configuration failure.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Configuration, message)
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }

    /// Adds the next step.
    pub fn next(mut self, next: impl Into<String>) -> Self {
        self.next = Some(next.into());
        self
    }

    /// The exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.code())
    }

    /// Prints the failure to standard error, terminal control characters written out (the
    /// message may quote a server's error description). A closed pipe prints nothing.
    pub fn print(&self, verbose: bool) {
        use crate::terminal::clean;
        use std::io::Write as _;
        if self.kind == Kind::BrokenPipe {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "msal: error: {}", clean(&self.message));
        if let Some(next) = &self.next {
            let _ = writeln!(err, "  next: {}", clean(next));
        }
        if verbose && let Some(detail) = &self.detail {
            let _ = writeln!(err, "  detail: {}", clean(detail));
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code and next step for a broker's status.
fn broker_failure(status: BrokerStatus) -> (Kind, Option<String>) {
    match status {
        BrokerStatus::UserCanceled | BrokerStatus::ApplicationCanceled => (Kind::Cancelled, None),
        BrokerStatus::InteractionRequired | BrokerStatus::AccountUnusable => (
            Kind::InteractionRequired,
            Some("sign in again with `msal login --broker`".into()),
        ),
        s if s.is_transient() => (
            Kind::Network,
            Some("the broker could not reach the identity provider; try again later".into()),
        ),
        BrokerStatus::IncorrectConfiguration | BrokerStatus::AuthorityUntrusted => (
            Kind::Configuration,
            Some("check the client id, authority and the app registration's broker redirect URI (`msal doctor`)".into()),
        ),
        _ => (
            Kind::Service,
            Some("the broker refused; run with --verbose, or sign in without --broker".into()),
        ),
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let detail = Some(format!("{e:?}"));
        let message = e.to_string();
        let (kind, next): (Kind, Option<String>) = match &e {
            Error::UiRequired(_) => (
                Kind::InteractionRequired,
                Some("sign in again with `msal login` (same --scope), or run without --no-interactive".into()),
            ),
            Error::Service(s) => match s.error() {
                "access_denied" | "authorization_declined" => (
                    Kind::Cancelled,
                    Some("the sign-in was declined; run the command again to retry".into()),
                ),
                "expired_token" => (
                    Kind::Cancelled,
                    Some("the code expired before the sign-in finished; run the command again".into()),
                ),
                "invalid_client" => (
                    Kind::Service,
                    Some("check the client secret or certificate, and that it belongs to this client id".into()),
                ),
                "unauthorized_client" => (
                    Kind::Service,
                    Some("check the client id and tenant, and that the app registration allows this flow (public client flows for device code and username/password)".into()),
                ),
                "invalid_scope" => (
                    Kind::Service,
                    Some("check the --scope values (e.g. User.Read, or api://APP/.default for an app token)".into()),
                ),
                _ => (
                    Kind::Service,
                    Some("read the AADSTS code above; `msal doctor` checks the configuration".into()),
                ),
            },
            Error::Throttled { .. } => (
                Kind::Service,
                Some("wait for the time given above, then try again".into()),
            ),
            Error::Network { .. } => (
                Kind::Network,
                Some("check the network, the authority URL and --ca-file for a private authority; `msal doctor` shows the authority's discovery".into()),
            ),
            Error::InvalidResponse { .. } => (
                Kind::Service,
                Some("the authority answered something unexpected: check the authority URL with `msal doctor`".into()),
            ),
            Error::Configuration { .. } => (
                Kind::Configuration,
                Some("fix the configuration (flags, MSAL_* environment variables, config file); `msal doctor` shows it".into()),
            ),
            Error::Unsupported { .. } => (Kind::Configuration, None),
            Error::FederationFault { .. } => (
                Kind::Service,
                Some("check the username and password: the federation server (ADFS) of the account's domain refused them".into()),
            ),
            Error::Cache { .. } => (
                Kind::Other,
                Some("repair or delete the token cache file, or use another one with --cache-file".into()),
            ),
            Error::CacheLockBusy { .. } => (
                Kind::Other,
                Some("another msal (or MSAL) process is writing the token cache; run the command again when it is done".into()),
            ),
            Error::CacheFileRefused { .. } => (
                Kind::Other,
                Some("give --cache-file (or MSAL_CACHE_FILE, or cache_file in the config file) the path of a regular file".into()),
            ),
            Error::Validation(_) => (
                Kind::Other,
                Some("start the sign-in again; if it keeps failing, run with --verbose".into()),
            ),
            Error::InteractionTimeout { .. } => (
                Kind::Cancelled,
                Some("run the command again, with a larger --timeout if needed".into()),
            ),
            Error::NoBrowser { .. } => (
                Kind::InteractionRequired,
                Some("use --device-code, or set MSAL_BROWSER to a program that opens URLs".into()),
            ),
            Error::Cancelled(_) => (Kind::Cancelled, None),
            Error::ParentWindowRequired => (Kind::Configuration, None),
            Error::BrokerRedirectUriNotRegistered { .. } => (
                Kind::Configuration,
                Some("register the redirect URI named above on the app registration; `msal doctor` lists every broker redirect URI".into()),
            ),
            Error::Broker(b) => broker_failure(b.status),
            Error::ManagedIdentity(_) => (
                if e.is_transient() { Kind::Network } else { Kind::Service },
                Some("run this on an Azure host with a managed identity (or its emulator); `msal doctor` shows the detected source".into()),
            ),
            _ => (Kind::Other, None),
        };
        Self {
            kind,
            message,
            next,
            detail,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Self::new(Kind::BrokenPipe, "standard output was closed");
        }
        Self::other(format!("I/O error: {e}"))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        let mut f = Self::other(format!("{e:#}"));
        f.detail = Some(format!("{e:?}"));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_map_to_distinct_codes() {
        assert_eq!(
            Failure::from(Error::Configuration {
                message: "x".into(),
                source: None
            })
            .kind
            .code(),
            3
        );
        assert_eq!(Failure::from(Error::Cancelled("x".into())).kind.code(), 5);
        let network = Error::Network {
            url: "u".into(),
            message: "m".into(),
            timeout: false,
            source: None,
        };
        assert_eq!(Failure::from(network).kind.code(), 6);
        assert_eq!(
            Failure::from(Error::Cache {
                message: "x".into(),
                source: None
            })
            .kind
            .code(),
            1
        );
        let codes: std::collections::HashSet<u8> = [
            Kind::Other,
            Kind::Configuration,
            Kind::InteractionRequired,
            Kind::Cancelled,
            Kind::Network,
            Kind::Service,
            Kind::BrokenPipe,
        ]
        .iter()
        .map(|k| k.code())
        .collect();
        assert_eq!(codes.len(), 7);
        assert!(!codes.contains(&0) && !codes.contains(&2));
    }
}
