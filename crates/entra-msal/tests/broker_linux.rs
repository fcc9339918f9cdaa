//! The Linux broker end to end: the library talks D-Bus (zbus) to the emulator's broker service
//! (`com.microsoft.identity.broker1`) on a private `dbus-daemon`, with MSAL Python's routing
//! rules: silent sign-in first, interactive on interaction-required, broker accounts in the
//! cache without refresh tokens, broker sign-out, and the typed errors.
#![cfg(all(feature = "broker", target_os = "linux"))]

mod support;

use std::time::Duration;

use entra_emulator::broker::{BrokerErrorSpec, BrokerOptions, BrokerService, PrivateSessionBus};
use entra_emulator::config::{AppConfig, ClientKind};
use entra_emulator::{Emulator, ready_made};
use entra_msal::Error;
use entra_msal::broker::{BrokerPlatform, BrokerStatus, LINUX_REDIRECT_URI, PopParams};
use entra_msal::{
    BrokerAvailability, InteractiveOptions, PublicClientApplication, SilentOptions, TokenSource,
};

const SCOPE: &str = "api://emulator-api/access_as_user";
const NO_BROKER_CLIENT: &str = "6a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d";

/// An emulator, a private session bus and (optionally) the broker service on it.
struct Rig {
    emulator: Emulator,
    bus: PrivateSessionBus,
    broker: Option<BrokerService>,
    public_client: String,
}

fn start_bus() -> Option<PrivateSessionBus> {
    match PrivateSessionBus::start() {
        Ok(bus) => Some(bus),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and no private D-Bus session bus could be started: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no private D-Bus session bus ({e})");
            None
        }
    }
}

async fn rig(with_broker: bool, options: BrokerOptions) -> Option<Rig> {
    let bus = start_bus()?;
    let mut config = ready_made().unwrap();
    config.settings.control_api = true;
    config.applications.push(AppConfig {
        client_id: NO_BROKER_CLIENT.into(),
        display_name: Some("No broker redirect URI".into()),
        kind: ClientKind::Public,
        secrets: vec![],
        certificates: vec![],
        redirect_uris: vec!["http://localhost".into()],
        family_id: None,
        delegated_scopes: vec!["api://emulator-api/*".into()],
        application_scopes: vec![],
        identifier_uris: vec![],
    });
    let emulator = Emulator::start(config).await.unwrap();
    let broker = if with_broker {
        Some(emulator.serve_broker(bus.address(), options).await.unwrap())
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap();
    let public_client = emulator
        .connection_info(dir.path())
        .unwrap()
        .public_client
        .unwrap()
        .client_id;
    Some(Rig {
        emulator,
        bus,
        broker,
        public_client,
    })
}

impl Rig {
    fn app_for(&self, client_id: &str) -> PublicClientApplication {
        PublicClientApplication::builder(client_id)
            .authority(self.emulator.authority())
            .trusted_ca(self.emulator.ca_pem().unwrap())
            .instance_discovery(false)
            .enable_broker_on_linux(true)
            .broker_bus_address(self.bus.address())
            .build()
            .unwrap()
    }

    fn app(&self) -> PublicClientApplication {
        self.app_for(&self.public_client)
    }

    fn broker_calls(&self, method: &str) -> usize {
        self.emulator
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.contains(method))
            .count()
    }

    /// Approves the next interactive broker request as `username` once it is pending.
    fn approve_next(&self, username: &'static str) -> tokio::task::JoinHandle<()> {
        let control = self.emulator.control();
        tokio::spawn(async move {
            for _ in 0..500 {
                if let Some(p) = control.broker_pending().first() {
                    control.broker_approve(&p.id, username).unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no interactive broker request arrived");
        })
    }
}

fn console() -> InteractiveOptions {
    InteractiveOptions {
        parent_window: Some(PublicClientApplication::CONSOLE_WINDOW_HANDLE),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_signs_the_device_user_in_silently_and_caches_a_broker_account() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    assert_eq!(
        app.broker_availability().await,
        BrokerAvailability::Available(BrokerPlatform::Linux)
    );
    let result = app
        .acquire_token_interactive(&[SCOPE], &console())
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::Broker);
    let account = result.account.clone().unwrap();
    assert_eq!(account.username, rig.broker.as_ref().unwrap().broker_user());
    assert!(rig.emulator.control().broker_pending().is_empty());

    // The cache holds a broker account, an access token and an id token, and no refresh token.
    let cache: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    assert!(cache["RefreshToken"].as_object().unwrap().is_empty());
    assert_eq!(cache["AccessToken"].as_object().unwrap().len(), 1);
    let accounts = app.accounts(None);
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].account_source.as_deref(), Some("broker"));

    // Silent: from the cache, then through the broker when forced.
    let cached = app
        .acquire_token_silent(&[SCOPE], &accounts[0], &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    assert_eq!(cached.access_token, result.access_token);
    let forced = app
        .acquire_token_silent(
            &[SCOPE],
            &accounts[0],
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(forced.token_source, TokenSource::Broker);
    assert_eq!(
        forced.account.unwrap().home_account_id,
        account.home_account_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_account_goes_to_the_brokers_ui_and_cancel_is_typed() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    let approver = rig.approve_next("carol@fabrikam.example");
    let options = InteractiveOptions {
        prompt: Some(entra_msal::Prompt::SelectAccount),
        ..console()
    };
    let result = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    approver.await.unwrap();
    assert_eq!(result.account.unwrap().username, "carol@fabrikam.example");

    // The user cancels in the broker's window.
    let control = rig.emulator.control();
    let denier = tokio::spawn(async move {
        for _ in 0..500 {
            if let Some(p) = control.broker_pending().first() {
                control.broker_deny(&p.id).unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no interactive broker request arrived");
    });
    let err = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap_err();
    denier.await.unwrap();
    let broker = err.broker_error().expect("a broker error");
    assert_eq!(broker.status, BrokerStatus::UserCanceled);
    assert!(
        err.to_string()
            .contains("Status: Response_Status.Status_UserCanceled"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_required_falls_through_to_interactive() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    rig.emulator
        .control()
        .broker_inject_error(
            "acquireTokenSilently",
            BrokerErrorSpec::new(2, 0, 4321, "the device user must sign in again"),
        )
        .unwrap();
    let approver = rig.approve_next("alice@contoso.example");
    let result = app
        .acquire_token_interactive(&[SCOPE], &console())
        .await
        .unwrap();
    approver.await.unwrap();
    assert_eq!(result.token_source, TokenSource::Broker);

    // Any other silent error is returned as it is, with the broker's details.
    rig.emulator
        .control()
        .broker_inject_error(
            "acquireTokenSilently",
            BrokerErrorSpec::new(5, 1234, 98765, "the server is busy"),
        )
        .unwrap();
    let err = app
        .acquire_token_interactive(&[SCOPE], &console())
        .await
        .unwrap_err();
    let broker = err.broker_error().unwrap();
    assert_eq!(broker.status, BrokerStatus::ServerTemporarilyUnavailable);
    assert_eq!((broker.error_code, broker.tag), (1234, 98765));
    assert!(err.is_transient());
    assert!(rig.emulator.control().broker_pending().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_interaction_required_is_ui_required() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    app.acquire_token_interactive(&[SCOPE], &console())
        .await
        .unwrap();
    let account = app.accounts(None)[0].clone();
    rig.emulator
        .control()
        .broker_inject_error(
            "acquireTokenSilently",
            BrokerErrorSpec::new(2, 0, 1, "interaction is required"),
        )
        .unwrap();
    let err = app
        .acquire_token_silent(
            &[SCOPE],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_ui_required(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_redirect_uri_names_the_one_to_register() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app_for(NO_BROKER_CLIENT);
    let err = app
        .acquire_token_interactive(&[SCOPE], &console())
        .await
        .unwrap_err();
    match &err {
        Error::BrokerRedirectUriNotRegistered {
            client_id,
            platform,
            redirect_uri,
            source,
        } => {
            assert_eq!(client_id, NO_BROKER_CLIENT);
            assert_eq!(*platform, BrokerPlatform::Linux);
            assert_eq!(redirect_uri, LINUX_REDIRECT_URI);
            assert!(source.context.contains("AADSTS50011"));
        }
        other => panic!("expected BrokerRedirectUriNotRegistered, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(LINUX_REDIRECT_URI) && text.contains("Mobile and desktop applications"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_account_signs_out_in_the_broker_then_locally() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    let approver = rig.approve_next("carol@fabrikam.example");
    let options = InteractiveOptions {
        prompt: Some(entra_msal::Prompt::Login),
        ..console()
    };
    app.acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    approver.await.unwrap();
    let control = rig.emulator.control();
    let signed_in = |who: &str| {
        control
            .broker_signed_in()
            .iter()
            .any(|s| s.username == who && s.client_id == rig.public_client)
    };
    assert!(signed_in("carol@fabrikam.example"));
    let account = app.accounts(Some("carol@fabrikam.example"))[0].clone();
    app.remove_account(&account).await;
    assert!(!signed_in("carol@fabrikam.example"));
    assert!(app.accounts(Some("carol@fabrikam.example")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_tokens_are_cached_apart_from_bearer_tokens() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    let pop = PopParams {
        http_method: "GET".into(),
        uri_host: "api.contoso.example".into(),
        uri_path: "/v1/items".into(),
        nonce: Some("nonce-1".into()),
    };
    let options = InteractiveOptions {
        pop: Some(pop.clone()),
        ..console()
    };
    let popped = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(popped.token_type, "pop");
    let account = app.accounts(None)[0].clone();
    let bearer = app
        .acquire_token_silent(&[SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(bearer.token_type, "Bearer");
    assert_ne!(bearer.access_token, popped.access_token);
    assert_eq!(
        bearer.token_source,
        TokenSource::Broker,
        "a PoP token never answers a bearer request"
    );
    let again = app
        .acquire_token_silent(
            &[SCOPE],
            &account,
            &SilentOptions {
                pop: Some(pop),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token, popped.access_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_broker_on_the_bus_falls_back_to_the_browser() {
    let Some(rig) = rig(false, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    match app.broker_availability().await {
        BrokerAvailability::Unavailable { platform, reason } => {
            assert_eq!(platform, Some(BrokerPlatform::Linux));
            assert!(
                reason.contains("com.microsoft.identity.broker1"),
                "{reason}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The parent window is still required while the switch is on.
    let err = app
        .acquire_token_interactive(&[SCOPE], &InteractiveOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ParentWindowRequired), "{err:?}");
    let options = InteractiveOptions {
        url_opener: Some(support::browser_on(
            &rig.emulator,
            Some("alice@contoso.example"),
        )),
        timeout: Some(Duration::from_secs(30)),
        ..console()
    };
    let result = app
        .acquire_token_interactive(&[SCOPE], &options)
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        app.accounts(None)[0].account_source.as_deref(),
        Some("authorization_code")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_bus_at_all_is_unavailable_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}/no-bus-here", dir.path().display());
    let app = PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
        .enable_broker_on_linux(true)
        .broker_bus_address(address)
        .build()
        .unwrap();
    assert!(matches!(
        app.broker_availability().await,
        BrokerAvailability::Unavailable { .. }
    ));
    // Other authorities never use the broker.
    let b2c = PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
        .authority("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin")
        .enable_broker_on_linux(true)
        .build()
        .unwrap();
    assert!(!b2c.is_broker_enabled());
    assert!(matches!(
        b2c.broker_availability().await,
        BrokerAvailability::Unavailable { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_from_other_flows_never_go_to_the_broker() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    let flow = app.initiate_device_flow(&[SCOPE]).await.unwrap();
    rig.emulator
        .control()
        .approve_device_code(&flow.user_code, "alice@contoso.example")
        .unwrap();
    app.acquire_token_by_device_flow(&flow).await.unwrap();
    let account = app.accounts(None)[0].clone();
    assert_eq!(
        account.account_source.as_deref(),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    let before = rig.broker_calls("acquireTokenSilently");
    let refreshed = app
        .acquire_token_silent(
            &[SCOPE],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    assert_eq!(rig.broker_calls("acquireTokenSilently"), before);
}

/// MSAL Python 1.39 never sends an SSH certificate request to the Linux broker: with the broker
/// enabled, the certificate comes from the browser sign-in and then the refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_certificates_bypass_the_linux_broker() {
    let Some(rig) = rig(true, BrokerOptions::default()).await else {
        return;
    };
    let app = rig.app();
    let key = entra_msal::SshCertificateRequest::from_rsa_jwk(
        &base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xc5u8; 256],
        ),
        "AQAB",
    )
    .unwrap();
    let result = app
        .acquire_token_interactive(
            &[SCOPE],
            &InteractiveOptions {
                url_opener: Some(support::browser_on(
                    &rig.emulator,
                    Some("alice@contoso.example"),
                )),
                ssh_certificate: Some(key.clone()),
                ..console()
            },
        )
        .await
        .unwrap();
    assert_eq!(result.token_type, "ssh-cert");
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    let account = result.account.clone().unwrap();
    let silent = app
        .acquire_token_silent(
            &[SCOPE],
            &account,
            &SilentOptions {
                force_refresh: true,
                ssh_certificate: Some(key),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(silent.token_type, "ssh-cert");
    assert_eq!(silent.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        rig.broker_calls("acquireToken"),
        0,
        "the broker was not asked"
    );
}
