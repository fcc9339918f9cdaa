//! `msal demo`: the emulator in-process, a device-code sign-in, a refresh, and a
//! client-credentials token, each step printed with its timing.
//!
//! The steps use plain HTTP so that every request of the protocol is visible; the sign-in that a
//! person would do in a browser is done by the demo through the emulator's own device-login pages.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::Args;
use serde_json::Value;

/// Options of `msal demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the full tokens instead of shortening them.
    #[arg(long)]
    pub show_tokens: bool,
}

struct Steps {
    started: Instant,
    step: usize,
    show_tokens: bool,
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

    fn token(&self, token: &str) -> String {
        if self.show_tokens || token.len() <= 40 {
            token.to_string()
        } else {
            format!(
                "{}...{} ({} chars)",
                &token[..24],
                &token[token.len() - 8..],
                token.len()
            )
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn claims(jwt: &str) -> anyhow::Result<Value> {
    let payload = jwt.split('.').nth(1).context("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

async fn form(
    http: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<(u16, Value)> {
    let response = http.post(url).form(fields).send().await?;
    let status = response.status().as_u16();
    let body = response.json().await.context("the response is not JSON")?;
    Ok((status, body))
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut steps = Steps {
        started: Instant::now(),
        step: 0,
        show_tokens: args.show_tokens,
    };
    println!(
        "entra-msal demo: a local Microsoft Entra ID, a device-code sign-in and an app token."
    );

    let t = steps
        .begin("Start the Entra emulator in-process (HTTPS with its own CA, ready-made tenant)");
    let mut config = entra_emulator::ready_made()?;
    config.settings.device_code_interval_seconds = 1;
    let emulator = entra_emulator::Emulator::start(config).await?;
    let dir = tempfile::tempdir()?;
    let info = emulator.connection_info(dir.path())?;
    let ca = emulator.ca_pem().context("the emulator serves HTTPS")?;
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes())?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    println!("    authority    {}", info.authority);
    println!(
        "    CA file      {}",
        info.ca_file.as_deref().unwrap_or("-")
    );
    steps.done(t);

    let t = steps.begin("Discover the tenant's endpoints (OpenID Connect discovery)");
    let discovery_url = format!("{}/v2.0/.well-known/openid-configuration", info.authority);
    let doc: Value = http.get(&discovery_url).send().await?.json().await?;
    let token_endpoint = doc["token_endpoint"]
        .as_str()
        .context("token_endpoint")?
        .to_string();
    let device_endpoint = doc["device_authorization_endpoint"]
        .as_str()
        .context("device endpoint")?
        .to_string();
    println!("    GET {discovery_url}");
    println!("    issuer       {}", doc["issuer"].as_str().unwrap_or("-"));
    println!("    token        {token_endpoint}");
    steps.done(t);

    let public = info.public_client.clone().context("a public client")?;
    let scope = format!("{} openid profile offline_access", public.scope);
    let t = steps.begin("Start a device-code sign-in (POST .../oauth2/v2.0/devicecode)");
    let (status, flow) = form(
        &http,
        &device_endpoint,
        &[("client_id", &public.client_id), ("scope", &scope)],
    )
    .await?;
    if status != 200 {
        bail!("device authorization failed: {flow}");
    }
    let user_code = flow["user_code"].as_str().context("user_code")?.to_string();
    let device_code = flow["device_code"]
        .as_str()
        .context("device_code")?
        .to_string();
    let interval = flow["interval"].as_u64().unwrap_or(5);
    println!("    {}", flow["message"].as_str().unwrap_or("-"));
    steps.done(t);

    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", public.client_id.as_str()),
        ("device_code", device_code.as_str()),
        ("client_info", "1"),
    ];
    let t = steps.begin("Poll the token endpoint before the user has signed in");
    let (status, pending) = form(&http, &token_endpoint, &poll).await?;
    println!(
        "    HTTP {status}: error={} ({})",
        pending["error"].as_str().unwrap_or("-"),
        first_line(&pending)
    );
    steps.done(t);

    let alice = info.users.first().context("a user")?.clone();
    let t = steps.begin(&format!(
        "The user signs in on the device-login page as {} (done by the demo)",
        alice.username
    ));
    let login_url = format!("{}/devicelogin", info.base_url);
    let page = http
        .post(&login_url)
        .form(&[("action", "code"), ("user_code", &user_code)])
        .send()
        .await?
        .text()
        .await?;
    let code_field = hidden_value(&page, "user_code").context("the code was not accepted")?;
    let page = http
        .post(&login_url)
        .form(&[
            ("action", "login"),
            ("user_code", &code_field),
            ("username", &alice.username),
            ("password", &alice.password),
        ])
        .send()
        .await?
        .text()
        .await?;
    if !page.contains("You have signed in") {
        bail!("the device sign-in page did not complete");
    }
    println!(
        "    entered code {user_code}, username and password; the page says the device is signed in"
    );
    steps.done(t);

    let t = steps.begin(&format!(
        "Poll again after the {interval} s interval: tokens arrive"
    ));
    tokio::time::sleep(Duration::from_secs(interval)).await;
    let (status, tokens) = form(&http, &token_endpoint, &poll).await?;
    if status != 200 {
        bail!("device-code redemption failed: {tokens}");
    }
    let id = claims(tokens["id_token"].as_str().context("id_token")?)?;
    let at = claims(tokens["access_token"].as_str().context("access_token")?)?;
    println!(
        "    signed in    {} ({}), tenant {}",
        id["name"].as_str().unwrap_or("-"),
        id["preferred_username"].as_str().unwrap_or("-"),
        id["tid"].as_str().unwrap_or("-")
    );
    println!(
        "    access token {}  scope '{}', expires in {} s",
        steps.token(tokens["access_token"].as_str().unwrap_or("")),
        at["scp"].as_str().unwrap_or("-"),
        tokens["expires_in"]
    );
    println!(
        "    refresh token {}",
        steps.token(tokens["refresh_token"].as_str().unwrap_or(""))
    );
    steps.done(t);

    let t = steps.begin("Renew silently with the refresh token (grant_type=refresh_token)");
    let rt = tokens["refresh_token"].as_str().context("refresh_token")?;
    let (status, renewed) = form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &public.client_id),
            ("refresh_token", rt),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )
    .await?;
    if status != 200 {
        bail!("refresh failed: {renewed}");
    }
    println!(
        "    new access token {}; a new refresh token too: {}",
        steps.token(renewed["access_token"].as_str().unwrap_or("")),
        renewed["refresh_token"] != tokens["refresh_token"]
    );
    steps.done(t);

    let daemon = info
        .confidential_client
        .clone()
        .context("a confidential client")?;
    let t =
        steps.begin("A daemon gets an app token with its secret (grant_type=client_credentials)");
    let (status, app) = form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &daemon.client_id),
            (
                "client_secret",
                daemon.client_secret.as_deref().unwrap_or(""),
            ),
            ("scope", &daemon.scope),
        ],
    )
    .await?;
    if status != 200 {
        bail!("client credentials failed: {app}");
    }
    let app_claims = claims(app["access_token"].as_str().context("access_token")?)?;
    println!(
        "    access token {}  aud {}, idtyp {}",
        steps.token(app["access_token"].as_str().unwrap_or("")),
        app_claims["aud"],
        app_claims["idtyp"]
    );
    steps.done(t);

    let t = steps.begin("A wrong secret gets Entra's exact error");
    let (status, err) = form(
        &http,
        &token_endpoint,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &daemon.client_id),
            ("client_secret", "not-the-secret"),
            ("scope", &daemon.scope),
        ],
    )
    .await?;
    println!(
        "    HTTP {status}: error={} error_codes={}",
        err["error"].as_str().unwrap_or("-"),
        err["error_codes"]
    );
    println!("    {}", first_line(&err));
    steps.done(t);

    emulator.shutdown();
    println!(
        "\nAll {} steps finished in {}.",
        steps.step,
        ms(steps.started.elapsed())
    );
    Ok(())
}

fn first_line(body: &Value) -> String {
    body["error_description"]
        .as_str()
        .and_then(|d| d.lines().next())
        .unwrap_or("-")
        .to_string()
}
