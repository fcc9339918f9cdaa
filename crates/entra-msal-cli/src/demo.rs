//! `msal demo`: the emulator in-process, then the library: a device-code sign-in, a silent
//! token from the cache, a refresh, a client-credentials token, and sign-out, each step printed
//! with its timing. No network and no account needed.
//!
//! The sign-in a person would do in a browser is done by the demo on the emulator's own
//! device-login page, with plain HTTP.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use entra_msal::{ConfidentialClientApplication, PublicClientApplication, SilentOptions};

/// Options of `msal demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

struct Steps {
    started: Instant,
    step: usize,
}

impl Steps {
    fn begin(&mut self, title: &str) -> Instant {
        self.step += 1;
        println!("\n[{}] {title}", self.step);
        Instant::now()
    }

    fn done(&self, since: Instant) {
        println!("    done in {}", ms(since.elapsed()));
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// Plays the user: enters the code and the password on the emulator's device-login page.
async fn sign_in_on_device_page(
    http: &reqwest::Client,
    base_url: &str,
    user_code: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    let url = format!("{base_url}/devicelogin");
    let page = http
        .post(&url)
        .form(&[("action", "code"), ("user_code", user_code)])
        .send()
        .await?
        .text()
        .await?;
    let code = hidden_value(&page, "user_code")
        .context("the device-login page did not accept the code")?;
    let page = http
        .post(&url)
        .form(&[
            ("action", "login"),
            ("user_code", &code),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await?
        .text()
        .await?;
    if !page.contains("You have signed in") {
        bail!("the device-login page did not finish the sign-in");
    }
    Ok(())
}

/// Runs the demo.
pub async fn run(_args: DemoArgs) -> anyhow::Result<()> {
    let mut steps = Steps {
        started: Instant::now(),
        step: 0,
    };
    println!(
        "entra-msal demo: a local Microsoft Entra ID, and the library signing a user and an app in."
    );

    let t = steps
        .begin("Start the Entra emulator in-process (HTTPS with its own CA, ready-made tenant)");
    let mut config = entra_emulator::ready_made()?;
    config.settings.device_code_interval_seconds = 1;
    let emulator = entra_emulator::Emulator::start(config).await?;
    let dir = tempfile::tempdir()?;
    let info = emulator.connection_info(dir.path())?;
    let ca = emulator
        .ca_pem()
        .context("the emulator serves HTTPS")?
        .to_string();
    println!("    authority    {}", info.authority);
    println!(
        "    CA file      {}",
        info.ca_file.as_deref().unwrap_or("-")
    );
    steps.done(t);

    let public = info.public_client.clone().context("a public client")?;
    let t = steps.begin("Build a PublicClientApplication (no network I/O: discovery is lazy)");
    let app = PublicClientApplication::builder(&public.client_id)
        .authority(&info.authority)
        .trusted_ca(ca.clone())
        .instance_discovery(false)
        .build()?;
    println!("    client id    {}", public.client_id);
    steps.done(t);

    let scopes = [public.scope.as_str()];
    let t = steps.begin("Start a device-code sign-in: discovery, then POST .../devicecode");
    let flow = app.initiate_device_flow(&scopes).await?;
    println!("    {}", flow.message);
    steps.done(t);

    let user = info.users.first().context("a user")?.clone();
    let t = steps.begin(&format!(
        "The user signs in on the device-login page as {} (done by the demo)",
        user.username
    ));
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes())?)
        .timeout(Duration::from_secs(30))
        .build()?;
    sign_in_on_device_page(
        &http,
        &info.base_url,
        &flow.user_code,
        &user.username,
        &user.password,
    )
    .await?;
    println!(
        "    entered code {} and the password; the page says the device is signed in",
        flow.user_code
    );
    steps.done(t);

    let t = steps.begin("acquire_token_by_device_flow: poll until the tokens arrive");
    let signed_in = app.acquire_token_by_device_flow(&flow).await?;
    let account = signed_in.account.clone().context("an account")?;
    println!(
        "    signed in    {} (home account {})",
        account.username, account.home_account_id
    );
    println!(
        "    token        from {:?}, scopes {:?}, expires {}",
        signed_in.token_source, signed_in.scopes, signed_in.expires_on
    );
    steps.done(t);

    let t = steps.begin("acquire_token_silent: the same token, from the cache");
    let cached = app
        .acquire_token_silent(&scopes, &account, &SilentOptions::default())
        .await?;
    println!(
        "    token        from {:?}; same token: {}",
        cached.token_source,
        cached.access_token == signed_in.access_token
    );
    steps.done(t);

    let t =
        steps.begin("acquire_token_silent with force_refresh: a new token with the refresh token");
    let refreshed = app
        .acquire_token_silent(
            &scopes,
            &account,
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await?;
    println!(
        "    token        from {:?}; new token: {}",
        refreshed.token_source,
        refreshed.access_token != signed_in.access_token
    );
    steps.done(t);

    let daemon = info
        .confidential_client
        .clone()
        .context("a confidential client")?;
    let t =
        steps.begin("A daemon: ConfidentialClientApplication with a secret, client credentials");
    let cca = ConfidentialClientApplication::builder(&daemon.client_id)
        .authority(&info.authority)
        .client_secret(daemon.client_secret.clone().unwrap_or_default())
        .trusted_ca(ca.clone())
        .instance_discovery(false)
        .build()?;
    let first = cca
        .acquire_token_for_client(&[daemon.scope.as_str()])
        .await?;
    let second = cca
        .acquire_token_for_client(&[daemon.scope.as_str()])
        .await?;
    println!(
        "    first from {:?}, second from {:?}",
        first.token_source, second.token_source
    );
    steps.done(t);

    let t = steps.begin("A wrong secret gets Entra's exact error, typed");
    let wrong = ConfidentialClientApplication::builder(&daemon.client_id)
        .authority(&info.authority)
        .client_secret("not-the-secret")
        .trusted_ca(ca.clone())
        .instance_discovery(false)
        .build()?;
    match wrong
        .acquire_token_for_client(&[daemon.scope.as_str()])
        .await
    {
        Err(e) => {
            let service = e.service_error().context("a service error")?;
            println!(
                "    {} (HTTP {}), AADSTS{}",
                service.error(),
                service.http_status().map_or("-".into(), |s| s.to_string()),
                service.aadsts().unwrap_or(0)
            );
            println!("    {}", service.summary());
        }
        Ok(_) => bail!("a wrong secret was accepted"),
    }
    steps.done(t);

    let t = steps.begin("Sign out: remove_account, then silent needs the user again");
    app.remove_account(&account).await;
    match app
        .acquire_token_silent(&scopes, &account, &SilentOptions::default())
        .await
    {
        Err(e) if e.is_ui_required() => println!("    UiRequired, as expected: {e}"),
        other => bail!("expected UiRequired after sign-out, got {other:?}"),
    }
    steps.done(t);

    let t = steps.begin(
        "Sign in through the Linux broker: the emulator's broker service on a private D-Bus",
    );
    broker_step(&emulator, &info.authority, &ca, &public.client_id, &scopes).await?;
    steps.done(t);

    emulator.shutdown();
    println!(
        "\nAll {} steps finished in {}.",
        steps.step,
        ms(steps.started.elapsed())
    );
    Ok(())
}

/// The broker step: `enable_broker_on_linux` routes interactive sign-in to the emulator's broker
/// service, which signs the device's user in without UI. Skipped (with the reason) where no
/// private session bus can be started (no `dbus-daemon`, or not Linux).
async fn broker_step(
    emulator: &entra_emulator::Emulator,
    authority: &str,
    ca: &str,
    client_id: &str,
    scopes: &[&str],
) -> anyhow::Result<()> {
    use entra_emulator::broker::{BrokerOptions, PrivateSessionBus};
    use entra_msal::{InteractiveOptions, TokenSource};

    if !cfg!(target_os = "linux") || entra_msal::broker::running_on_wsl() {
        println!("    skipped: the Linux broker step runs on Linux (not WSL)");
        return Ok(());
    }
    let bus = match PrivateSessionBus::start() {
        Ok(bus) => bus,
        Err(e) => {
            println!("    skipped: {e}");
            return Ok(());
        }
    };
    let service = emulator
        .serve_broker(bus.address(), BrokerOptions::default())
        .await?;
    let app = PublicClientApplication::builder(client_id)
        .authority(authority)
        .trusted_ca(ca.to_string())
        .instance_discovery(false)
        .enable_broker_on_linux(true)
        .broker_bus_address(bus.address())
        .build()?;
    let options = InteractiveOptions {
        parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
        ..Default::default()
    };
    let result = app.acquire_token_interactive(scopes, &options).await?;
    if result.token_source != TokenSource::Broker {
        bail!(
            "expected a token from the broker, got {:?}",
            result.token_source
        );
    }
    println!(
        "    bus          {}\n    signed in    {} (the device user, no UI), token from the broker",
        bus.address(),
        result.account.as_ref().map_or("?", |a| a.username.as_str())
    );
    println!(
        "    cache        broker account, no refresh token (the broker keeps it); register {} for this app",
        app.broker_redirect_uris()
            .first()
            .map_or("-", |u| u.redirect_uri.as_str())
    );
    service.stop().await;
    Ok(())
}
