//! Shared helpers for the library's integration tests: the in-process emulator with the
//! ready-made tenant, an HTTP client that trusts it, sign-in through its control API, and the
//! MSAL Python interpreter for interop tests.
#![allow(dead_code)]

pub mod log_capture;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use entra_emulator::{Emulator, FaultAction, FaultMatch, FaultRule};
use entra_msal::Error;
use entra_msal::UrlOpener;
use entra_msal::{ConfidentialClientApplication, ConfidentialClientBuilder};

/// A running emulator (control API on) and its connection info.
pub struct Env {
    pub emulator: Emulator,
    pub info: entra_emulator::ConnectionInfo,
    pub dir: tempfile::TempDir,
}

pub async fn env() -> Env {
    let mut config = entra_emulator::ready_made().unwrap();
    config.settings.control_api = true;
    let entra_test_support::emulator::Started {
        emulator,
        info,
        dir,
    } = entra_test_support::emulator::start_with(config).await;
    Env {
        emulator,
        info,
        dir,
    }
}

impl Env {
    /// A confidential-client builder for the emulator's authority, trusting its CA.
    pub fn builder(&self, client_id: &str) -> ConfidentialClientBuilder {
        ConfidentialClientApplication::builder(client_id)
            .authority(self.emulator.authority())
            .trusted_ca(self.emulator.ca_pem().unwrap())
            .instance_discovery(false)
    }

    /// A public-client builder for the emulator's authority, trusting its CA.
    pub fn public_builder(&self, client_id: &str) -> entra_msal::PublicClientBuilder {
        entra_msal::PublicClientApplication::builder(client_id)
            .authority(self.emulator.authority())
            .trusted_ca(self.emulator.ca_pem().unwrap())
            .instance_discovery(false)
    }

    /// The ready-made public client.
    pub fn public_app(&self) -> entra_msal::PublicClientApplication {
        self.public_builder(&self.info.public_client.as_ref().unwrap().client_id)
            .build()
            .unwrap()
    }

    /// A user of the ready-made tenant by name prefix (`alice`, `bob`, `carol`, `dave`).
    pub fn user(&self, prefix: &str) -> entra_emulator::info::UserInfo {
        self.info
            .users
            .iter()
            .find(|u| u.username.starts_with(prefix))
            .unwrap()
            .clone()
    }

    /// The ready-made confidential client with its secret.
    pub fn secret_builder(&self) -> ConfidentialClientBuilder {
        let c = self.info.confidential_client.as_ref().unwrap();
        self.builder(&c.client_id)
            .client_secret(c.client_secret.clone().unwrap())
    }

    pub fn secret_app(&self) -> ConfidentialClientApplication {
        self.secret_builder().build().unwrap()
    }

    /// A plain HTTP client that trusts the emulator.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.emulator.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .build()
            .unwrap()
    }

    /// Opens `auth_uri` (registering the sign-in), approves it as `username` through the control
    /// API, and returns the authorization response's parameters.
    pub async fn sign_in(
        &self,
        auth_uri: &str,
        state: &str,
        username: &str,
    ) -> HashMap<String, String> {
        self.http().get(auth_uri).send().await.unwrap();
        let completion = self
            .emulator
            .control()
            .approve_authorization(Some(state), username)
            .unwrap();
        completion.params.into_iter().collect()
    }

    /// A username/password token response for the ready-made public client.
    pub async fn ropc(&self, scope: &str) -> serde_json::Value {
        let alice = &self.info.users[0];
        self.http()
            .post(format!("{}/oauth2/v2.0/token", self.emulator.authority()))
            .form(&[
                ("grant_type", "password"),
                (
                    "client_id",
                    self.info.public_client.as_ref().unwrap().client_id.as_str(),
                ),
                ("username", alice.username.as_str()),
                ("password", alice.password.as_str()),
                ("scope", scope),
                ("client_info", "1"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Requests the emulator received at its token endpoint.
    pub fn token_requests(&self) -> Vec<entra_emulator::LoggedRequest> {
        self.emulator
            .control()
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .collect()
    }

    /// Scripts a fault for the next `count` token requests.
    pub fn fault(&self, fault: FaultAction, count: u32) {
        self.emulator.control().add_fault(FaultRule {
            matcher: FaultMatch {
                path_contains: Some("/oauth2/v2.0/token".into()),
                ..Default::default()
            },
            fault,
            count,
        });
    }
}

/// How many requests whose path contains `path` reached the emulator (its request log).
pub fn hits(emulator: &Emulator, path: &str) -> usize {
    emulator
        .control()
        .requests()
        .iter()
        .filter(|r| r.path.contains(path))
        .count()
}

// Not every test binary that includes this module uses both.
#[allow(unused_imports)]
pub use entra_test_support::{python, repo_root};

/// A clock the test moves: the handle to move it, and the clock to give the application.
pub fn test_clock() -> (Arc<AtomicI64>, Arc<dyn entra_msal::Clock>) {
    let now = Arc::new(AtomicI64::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let reader = now.clone();
    (now, Arc::new(move || reader.load(Ordering::SeqCst)))
}

/// An example program of this crate, built once per test binary as a program (a plain
/// `cargo test --all-targets` builds examples as test harnesses, which is not what tests run).
/// Every test builds the examples the same way: for the whole workspace, with the features this
/// test binary has (and `azure-core`, which the `azure_sdk` example needs). Under
/// `cargo test --workspace --all-targets` with those features (`scripts/test`) every dependency
/// is the run's own, so only the examples themselves are compiled; other runs pay for more.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let mut features = vec!["entra-msal/azure-core"];
        for (on, feature) in [
            (cfg!(feature = "broker"), "entra-msal/broker"),
            (cfg!(feature = "keyring"), "entra-msal/keyring"),
            (cfg!(feature = "redis"), "entra-msal/redis"),
        ] {
            if on {
                features.push(feature);
            }
        }
        let mut build = std::process::Command::new(env!("CARGO"));
        // Without what cargo set for this test process: build scripts that watch those names
        // (ring's watches `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`…) would otherwise run again,
        // and every crate above them be compiled again.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_MANIFEST_LINKS",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref())
            {
                build.env_remove(name.as_ref());
            }
        }
        let output = build
            .args([
                "build",
                "--workspace",
                "--examples",
                "--features",
                &features.join(","),
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building the examples failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["kind"][0] == "example")
            .filter_map(|m| {
                Some((
                    m["target"]["name"].as_str()?.to_string(),
                    PathBuf::from(m["executable"].as_str()?),
                ))
            })
            .collect()
    });
    built
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no example named {name}"))
}

/// Plays the browser: opens the authorize URL, approves it through the control API, and posts
/// the response to the loopback listener, as the emulator's form_post page would.
struct ApprovingBrowser {
    emulator_ca: String,
    control: entra_emulator::Control,
    username: Option<String>,
}

impl UrlOpener for ApprovingBrowser {
    fn open(&self, url: &str) -> Result<(), Error> {
        let url = url::Url::parse(url).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.emulator_ca.as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let control = self.control.clone();
        let username = self.username.clone();
        tokio::spawn(async move {
            http.get(url.as_str()).send().await.unwrap();
            let completion = match username {
                Some(u) => control.approve_authorization(Some(&state), &u).unwrap(),
                None => control.deny_authorization(Some(&state)).unwrap(),
            };
            let page = reqwest::Client::new()
                .post(&completion.redirect_uri)
                .form(&completion.params)
                .send()
                .await
                .unwrap();
            assert!(page.status().is_success());
        });
        Ok(())
    }
}

pub fn browser(e: &Env, username: Option<&str>) -> Arc<dyn UrlOpener> {
    browser_on(&e.emulator, username)
}

/// [`browser`] for any emulator.
pub fn browser_on(emulator: &Emulator, username: Option<&str>) -> Arc<dyn UrlOpener> {
    Arc::new(ApprovingBrowser {
        emulator_ca: emulator.ca_pem().unwrap().to_string(),
        control: emulator.control(),
        username: username.map(str::to_string),
    })
}

/// A non-loopback address of this machine, if it has one.
pub fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Whether a TCP connection to `addr` is refused (or not answered within 5 s).
pub async fn refused(addr: std::net::SocketAddr) -> bool {
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .map(|r| r.is_err())
    .unwrap_or(true)
}
