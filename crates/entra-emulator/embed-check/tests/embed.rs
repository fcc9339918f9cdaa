//! Times what a dependent project's debug-build test does with the emulator: build the ready-made
//! tenant, start the emulator, and sign a user in with the device-code flow over HTTPS. Prints the
//! figures; asserts only that the flow works.

use std::time::{Duration, Instant};

use entra_emulator::{Emulator, ready_made};
use serde_json::Value;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_device_code_sign_in() {
    let test_started = Instant::now();
    let config = ready_made().expect("the ready-made tenant");
    let ready_made_took = test_started.elapsed();

    let started = Instant::now();
    let emulator = Emulator::start(config).await.expect("the emulator starts");
    let start_took = started.elapsed();

    let sign_in_started = Instant::now();
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(emulator.ca_pem().expect("HTTPS").as_bytes())
                .expect("the emulator's CA"),
        )
        .build()
        .expect("an HTTP client");
    let authority = emulator.authority();
    let client_id = entra_emulator::ready_made::PUBLIC_CLIENT_ID;
    // A test does not wait the 5 s polling interval a real user needs.
    emulator.control().set_device_code_interval(Some(0));

    let code: Value = http
        .post(format!("{authority}/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", client_id),
            ("scope", "openid profile offline_access User.Read"),
        ])
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("devicecode JSON");
    let device_code = code["device_code"]
        .as_str()
        .expect("device_code")
        .to_string();
    let user_code = code["user_code"].as_str().expect("user_code").to_string();
    let poll = || async {
        http.post(format!("{authority}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", device_code.as_str()),
            ])
            .send()
            .await
            .expect("token")
            .json::<Value>()
            .await
            .expect("token JSON")
    };
    let pending = poll().await;
    assert_eq!(pending["error"], "authorization_pending", "{pending}");
    emulator
        .control()
        .approve_device_code(&user_code, "alice@contoso.example")
        .expect("approve");
    let tokens = poll().await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let sign_in_took = sign_in_started.elapsed();

    let refresh_started = Instant::now();
    let refreshed: Value = http
        .post(format!("{authority}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "User.Read"),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("refresh JSON");
    assert!(refreshed["access_token"].is_string(), "{refreshed}");
    let refresh_took = refresh_started.elapsed();
    drop(emulator);
    let total = test_started.elapsed();

    println!("embed-check ready_made(): {}", ms(ready_made_took));
    println!("embed-check Emulator::start: {}", ms(start_took));
    println!("embed-check device-code sign-in: {}", ms(sign_in_took));
    println!("embed-check one refresh: {}", ms(refresh_took));
    println!("embed-check whole test: {}", ms(total));
}
