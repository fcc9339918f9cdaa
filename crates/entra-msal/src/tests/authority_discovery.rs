//! Authority parsing, tenant and instance discovery, aliases and regional endpoints, against the
//! real emulator.
//!
//! The emulator is not `login.microsoftonline.com`, so tests of instance discovery route that host
//! (and the other Microsoft hosts) to the emulator in the transport, the way an application would
//! test with its own `HttpClient`; the library always asks the real hosts.

use super::support;

use support::hits;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use entra_emulator::ready_made::TENANT_ID;
use entra_emulator::{Emulator, FaultAction, FaultMatch, FaultRule, ready_made};
use entra_msal::Error;
use entra_msal::authority::{
    Authority, AuthorityType, DiscoveryOptions, Endpoints, aliases, regional_token_endpoint,
    resolve_endpoints,
};
use entra_msal::http::{
    HttpClient, HttpError, HttpOptions, HttpRequest, HttpResponse, ReqwestHttpClient, ThrottledHttp,
};
use futures_util::future::BoxFuture;

const LOCAL: DiscoveryOptions = DiscoveryOptions {
    instance_discovery: false,
    validate_authority: true,
};
const VALIDATING: DiscoveryOptions = DiscoveryOptions {
    instance_discovery: true,
    validate_authority: true,
};

/// Sends requests for every host other than the emulator's to the emulator.
struct RouteToEmulator {
    inner: ReqwestHttpClient,
    emulator: http::uri::Authority,
}

impl HttpClient for RouteToEmulator {
    fn send(&self, mut request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let uri = request.uri().clone();
        if uri.host() != Some("127.0.0.1") && uri.host() != Some("localhost") {
            let mut parts = uri.into_parts();
            parts.authority = Some(self.emulator.clone());
            *request.uri_mut() = http::Uri::from_parts(parts).unwrap();
        }
        self.inner.send(request)
    }
}

fn client(emulator: &Emulator) -> ReqwestHttpClient {
    ReqwestHttpClient::new(&HttpOptions {
        trusted_ca_pems: emulator.ca_pem().map(str::to_string).into_iter().collect(),
        only_trusted_cas: true,
        ..Default::default()
    })
    .unwrap()
}

fn direct(emulator: &Emulator) -> ThrottledHttp {
    ThrottledHttp::new(Arc::new(client(emulator)), Duration::from_secs(60))
}

fn routed(emulator: &Emulator) -> ThrottledHttp {
    let target = emulator.local_addr().to_string().parse().unwrap();
    ThrottledHttp::new(
        Arc::new(RouteToEmulator {
            inner: client(emulator),
            emulator: target,
        }),
        Duration::from_secs(60),
    )
}

async fn start() -> Emulator {
    Emulator::start(ready_made().unwrap()).await.unwrap()
}

fn authority(url: &str) -> Authority {
    Authority::parse(url, false).unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[test]
fn parse_and_classify() {
    use AuthorityType::*;
    let table = [
        (
            "https://login.microsoftonline.com/common/",
            Aad,
            "common",
            "login.microsoftonline.com",
            true,
        ),
        (
            "https://login.microsoftonline.us/contoso.onmicrosoft.com",
            Aad,
            "contoso.onmicrosoft.com",
            "login.microsoftonline.us",
            true,
        ),
        (
            "https://login.partner.microsoftonline.cn/organizations",
            Aad,
            "organizations",
            "login.partner.microsoftonline.cn",
            true,
        ),
        (
            "https://login.sovcloud-identity.fr/tid",
            Aad,
            "tid",
            "login.sovcloud-identity.fr",
            true,
        ),
        (
            "https://login.contoso.com:8443/tid",
            Aad,
            "tid",
            "login.contoso.com",
            false,
        ),
        (
            "https://fs.contoso.com/adfs",
            Adfs,
            "adfs",
            "fs.contoso.com",
            false,
        ),
        (
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
            B2c,
            "contoso.onmicrosoft.com",
            "contoso.b2clogin.com",
            false,
        ),
        (
            "https://login.contoso.com/contoso.onmicrosoft.com/b2c_1_susi",
            B2c,
            "contoso.onmicrosoft.com",
            "login.contoso.com",
            false,
        ),
        (
            "https://contoso.ciamlogin.com",
            Ciam,
            "contoso.onmicrosoft.com",
            "contoso.ciamlogin.com",
            false,
        ),
        (
            "https://contoso.ciamlogin.com/contoso.example",
            Ciam,
            "contoso.example",
            "contoso.ciamlogin.com",
            false,
        ),
        (
            "https://sts.contoso.example/dstsv2/tid",
            Dsts,
            "dstsv2",
            "sts.contoso.example",
            false,
        ),
    ];
    for (url, kind, tenant, host, well_known) in table {
        let a = authority(url);
        assert_eq!(a.authority_type(), kind, "{url}");
        assert_eq!(a.tenant(), tenant, "{url}");
        assert_eq!(a.host(), host, "{url}");
        assert_eq!(a.is_well_known_host(), well_known, "{url}");
        assert_eq!(a.is_known_to_developer(true), kind != Aad, "{url}");
        assert!(a.is_known_to_developer(false), "{url}");
    }
    let oidc = Authority::parse_oidc("https://issuer.example/realm/", false).unwrap();
    assert_eq!(oidc.authority_type(), Oidc);
    assert!(oidc.is_known_to_developer(true));

    for refused in [
        "http://login.microsoftonline.com/common",
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.com/",
        "not a url",
    ] {
        assert!(
            matches!(
                Authority::parse(refused, false),
                Err(Error::Configuration { .. })
            ),
            "{refused}"
        );
    }
    assert!(Authority::parse("http://127.0.0.1:8080/tid", false).is_err());
    assert!(Authority::parse("http://127.0.0.1:8080/tid", true).is_ok());
    assert!(Authority::parse("http://localhost:8080/tid", true).is_ok());
    assert!(Authority::parse("http://[::1]:8080/tid", true).is_ok());
    assert!(Authority::parse("http://login.contoso.com/tid", true).is_err());
}

#[test]
fn discovery_urls_keep_the_port() {
    let table = [
        (
            "https://login.microsoftonline.com/common",
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
        ),
        (
            "https://127.0.0.1:8443/tid",
            "https://127.0.0.1:8443/tid/v2.0/.well-known/openid-configuration",
        ),
        (
            "https://fs.contoso.com:444/adfs",
            "https://fs.contoso.com:444/adfs/.well-known/openid-configuration",
        ),
        (
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/b2c_1_signin",
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/b2c_1_signin/v2.0/.well-known/openid-configuration",
        ),
        (
            "https://contoso.ciamlogin.com",
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        ),
        (
            "https://sts.contoso.example/dstsv2/tid",
            "https://sts.contoso.example/dstsv2/tid/.well-known/openid-configuration",
        ),
    ];
    for (url, expected) in table {
        assert_eq!(authority(url).discovery_url(), expected);
    }
    assert_eq!(
        Authority::parse_oidc("https://issuer.example:444/realm", false)
            .unwrap()
            .discovery_url(),
        "https://issuer.example:444/realm/.well-known/openid-configuration"
    );
}

#[tokio::test]
async fn endpoints_for_guid_domain_common_and_organizations() {
    let emulator = start().await;
    let http = direct(&emulator);
    let base = emulator.base_url();
    let guid = TENANT_ID.to_string();
    let table = [
        (
            format!("{base}/{guid}"),
            guid.clone(),
            format!("{base}/{guid}/v2.0"),
        ),
        (
            format!("{base}/contoso.example"),
            guid.clone(),
            format!("{base}/{guid}/v2.0"),
        ),
        (
            format!("{base}/common"),
            "common".to_string(),
            format!("{base}/{{tenantid}}/v2.0"),
        ),
        (
            format!("{base}/organizations"),
            "organizations".to_string(),
            format!("{base}/{{tenantid}}/v2.0"),
        ),
    ];
    for (url, realm, issuer) in table {
        let a = authority(&url);
        let e = resolve_endpoints(&http, &a, LOCAL)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(e.realm, realm, "{url}");
        assert_eq!(e.issuer.as_deref(), Some(issuer.as_str()), "{url}");
        assert_eq!(
            e.token_endpoint,
            format!("{base}/{realm}/oauth2/v2.0/token")
        );
        assert_eq!(
            e.authorization_endpoint,
            format!("{base}/{realm}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            e.device_authorization_endpoint,
            Some(format!("{base}/{realm}/oauth2/v2.0/devicecode"))
        );
        assert_eq!(
            e.end_session_endpoint,
            Some(format!("{base}/{realm}/oauth2/v2.0/logout"))
        );
        assert_eq!(
            e.jwks_uri,
            Some(format!("{base}/{realm}/discovery/v2.0/keys"))
        );
        assert_eq!(a.host(), "127.0.0.1", "the cache environment has no port");
    }
    assert_eq!(
        hits(&emulator, "/discovery/instance"),
        0,
        "instance_discovery off: no validation"
    );
}

#[tokio::test]
async fn endpoints_are_cached_process_wide_for_a_day() {
    let emulator = start().await;
    let a = authority(&emulator.authority());
    let base = Instant::now();
    let offset = Arc::new(AtomicU64::new(0));
    let clocked = || {
        let offset = offset.clone();
        ThrottledHttp::with_clock(
            Arc::new(client(&emulator)),
            Duration::from_secs(60),
            move || base + Duration::from_secs(offset.load(Ordering::SeqCst)),
        )
    };
    let first = resolve_endpoints(&clocked(), &a, LOCAL).await.unwrap();
    assert_eq!(hits(&emulator, "openid-configuration"), 1);
    // Another application (its own HTTP client and HTTP cache) shares the result.
    offset.store(24 * 3600 - 1, Ordering::SeqCst);
    let second = resolve_endpoints(&clocked(), &a, LOCAL).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(
        hits(&emulator, "openid-configuration"),
        1,
        "served from the process-wide cache"
    );
    // Other options are another cache entry.
    resolve_endpoints(
        &clocked(),
        &a,
        DiscoveryOptions {
            instance_discovery: false,
            validate_authority: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(hits(&emulator, "openid-configuration"), 2);
    // After 24 h the document is fetched again.
    offset.store(24 * 3600, Ordering::SeqCst);
    resolve_endpoints(&clocked(), &a, LOCAL).await.unwrap();
    assert_eq!(hits(&emulator, "openid-configuration"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_make_one_request() {
    let emulator = start().await;
    emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("openid-configuration".into()),
            ..Default::default()
        },
        fault: FaultAction::Delay { ms: 200 },
        count: 10,
    });
    let a = authority(&format!("{}/contoso.example", emulator.base_url()));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (http, a) = (direct(&emulator), a.clone());
            tokio::spawn(async move { resolve_endpoints(&http, &a, LOCAL).await })
        })
        .collect();
    let mut results: Vec<Arc<Endpoints>> = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
    assert_eq!(hits(&emulator, "openid-configuration"), 1);
}

#[tokio::test]
async fn unknown_hosts_are_validated_through_instance_discovery() {
    let emulator = start().await;
    let http = routed(&emulator);
    let a = authority(&emulator.authority());
    let e = resolve_endpoints(&http, &a, VALIDATING).await.unwrap();
    assert_eq!(e.realm, TENANT_ID.to_string());
    let requests = emulator.control().requests();
    let instance: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/common/discovery/instance")
        .collect();
    assert_eq!(instance.len(), 1);
    assert_eq!(instance[0].query["api-version"], "1.1");
    assert_eq!(
        instance[0].query["authorization_endpoint"],
        format!("{}/oauth2/v2.0/authorize", emulator.authority()),
        "the port is kept"
    );
    assert_eq!(hits(&emulator, "openid-configuration"), 1);

    // validate_authority=false, or a well-known host, or a known-to-developer type skips validation.
    emulator.control().clear_requests();
    let skip = DiscoveryOptions {
        instance_discovery: true,
        validate_authority: false,
    };
    resolve_endpoints(
        &http,
        &authority(&format!("{}/common", emulator.base_url())),
        skip,
    )
    .await
    .unwrap();
    assert_eq!(hits(&emulator, "/discovery/instance"), 0);
}

#[tokio::test]
async fn invalid_instance_says_how_to_skip_the_check() {
    let emulator = start().await;
    let http = routed(&emulator);
    let a = authority("https://login.contoso.test/contoso.example");
    let err = resolve_endpoints(&http, &a, VALIDATING).await.unwrap_err();
    let Error::Configuration { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("https://login.contoso.test/contoso.example"),
        "{message}"
    );
    assert!(message.contains("not known"), "{message}");
    assert!(
        message.contains("instance_discovery(false)")
            && message.contains("validate_authority(false)"),
        "{message}"
    );
    assert_eq!(hits(&emulator, "/discovery/instance"), 1);
    assert_eq!(hits(&emulator, "openid-configuration"), 0);
}

#[tokio::test]
async fn unknown_tenant_is_a_typed_error_and_not_cached() {
    let emulator = start().await;
    let a = authority(&format!("{}/no-such-tenant.example", emulator.base_url()));
    for attempt in 1..=2 {
        let err = resolve_endpoints(&direct(&emulator), &a, LOCAL)
            .await
            .unwrap_err();
        let service = err.service_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(service.aadsts(), Some(90002));
        assert_eq!(service.http_status, Some(400));
        assert!(service.error_description.contains("no-such-tenant.example"));
        assert!(!err.is_ui_required());
        assert_eq!(hits(&emulator, "openid-configuration"), attempt);
    }
}

#[tokio::test]
async fn server_errors_are_not_cached() {
    let emulator = start().await;
    emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("openid-configuration".into()),
            ..Default::default()
        },
        fault: FaultAction::Status {
            status: 503,
            retry_after: None,
        },
        count: 1,
    });
    let http = direct(&emulator);
    let a = authority(&emulator.authority());
    let err = resolve_endpoints(&http, &a, LOCAL).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 503, .. }),
        "{err:?}"
    );
    resolve_endpoints(&http, &a, LOCAL).await.unwrap();
    assert_eq!(hits(&emulator, "openid-configuration"), 2);

    // A transport failure (on the first try and on the transport's one retry of a GET) is a
    // network error, and not cached either.
    let emulator = start().await;
    emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("openid-configuration".into()),
            ..Default::default()
        },
        fault: FaultAction::DropConnection,
        count: 2,
    });
    let a = authority(&emulator.authority());
    let err = resolve_endpoints(&direct(&emulator), &a, LOCAL)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    resolve_endpoints(&direct(&emulator), &a, LOCAL)
        .await
        .unwrap();
}

#[tokio::test]
async fn malformed_documents_are_invalid_responses() {
    let emulator = start().await;
    emulator.control().add_fault(FaultRule {
        matcher: FaultMatch {
            path_contains: Some("openid-configuration".into()),
            ..Default::default()
        },
        fault: FaultAction::WrongContentType,
        count: 1,
    });
    let a = authority(&emulator.authority());
    let err = resolve_endpoints(&direct(&emulator), &a, LOCAL)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn oidc_issuer_rules() {
    let emulator = start().await;
    let http = direct(&emulator);
    let base = emulator.base_url();
    // The issuer equals the authority.
    let exact = Authority::parse_oidc(&format!("{base}/{TENANT_ID}/v2.0"), false).unwrap();
    let e = resolve_endpoints(&http, &exact, VALIDATING).await.unwrap();
    assert_eq!(e.issuer.as_deref(), Some(exact.url()));
    // Same scheme and host, other path ({tenantid} issuer of a multi-tenant document).
    let same_host = Authority::parse_oidc(&format!("{base}/common/v2.0"), false).unwrap();
    resolve_endpoints(&http, &same_host, VALIDATING)
        .await
        .unwrap();
    // Another host: refused.
    let port = emulator.local_addr().port();
    let other_host =
        Authority::parse_oidc(&format!("https://localhost:{port}/{TENANT_ID}/v2.0"), false)
            .unwrap();
    let err = resolve_endpoints(&http, &other_host, VALIDATING)
        .await
        .unwrap_err();
    let Error::Configuration { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("issuer") && message.contains(other_host.url()),
        "{message}"
    );
    // No instance discovery for OIDC authorities.
    assert_eq!(hits(&emulator, "/discovery/instance"), 0);
}

#[tokio::test]
async fn aliases_of_public_sovereign_and_local_hosts() {
    let emulator = start().await;
    let http = routed(&emulator);
    let public = aliases(
        &http,
        &authority("https://login.microsoftonline.com/common"),
        VALIDATING,
    )
    .await
    .unwrap();
    assert_eq!(
        public,
        [
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net"
        ]
    );
    let china = aliases(
        &http,
        &authority("https://login.chinacloudapi.cn/tid"),
        VALIDATING,
    )
    .await
    .unwrap();
    assert_eq!(china, ["login.partner.microsoftonline.cn"]);
    let requests = emulator.control().requests();
    let china_request = requests
        .iter()
        .find(|r| {
            r.query
                .get("authorization_endpoint")
                .is_some_and(|e| e.contains("chinacloudapi"))
        })
        .expect("the sovereign cloud is asked itself");
    assert_eq!(
        china_request.query["authorization_endpoint"],
        "https://login.chinacloudapi.cn/common/oauth2/authorize"
    );
    assert_eq!(china_request.query["api-version"], "1.1");

    let local = authority(&emulator.authority());
    let port = emulator.local_addr().port();
    let found = aliases(&http, &local, VALIDATING).await.unwrap();
    assert_eq!(
        found,
        ["localhost".to_string(), format!("localhost:{port}")]
    );
    // Validation and aliases share one instance-discovery answer.
    emulator.control().clear_requests();
    resolve_endpoints(&http, &local, VALIDATING).await.unwrap();
    assert_eq!(hits(&emulator, "/discovery/instance"), 0);

    // Not applicable: no request at all.
    emulator.control().clear_requests();
    assert!(aliases(&http, &local, LOCAL).await.unwrap().is_empty());
    let skip = DiscoveryOptions {
        instance_discovery: true,
        validate_authority: false,
    };
    assert!(aliases(&http, &local, skip).await.unwrap().is_empty());
    assert!(
        aliases(&http, &authority("https://fs.contoso.com/adfs"), VALIDATING)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        aliases(
            &http,
            &authority("https://c.b2clogin.com/t/b2c_1_x"),
            VALIDATING
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert!(emulator.control().requests().is_empty());

    // An unknown host has no aliases to offer: invalid_instance.
    let err = aliases(
        &http,
        &authority("https://login.contoso.test/t"),
        VALIDATING,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err:?}");
}

#[tokio::test]
async fn plain_http_loopback_authority_when_trusted() {
    let mut config = ready_made().unwrap();
    config.settings.plain_http = true;
    let emulator = Emulator::start(config).await.unwrap();
    let url = emulator.authority();
    assert!(url.starts_with("http://"));
    assert!(Authority::parse(&url, false).is_err());
    let a = Authority::parse(&url, true).unwrap();
    let e = resolve_endpoints(&direct(&emulator), &a, LOCAL)
        .await
        .unwrap();
    assert!(e.token_endpoint.starts_with("http://127.0.0.1:"));
    assert_eq!(e.realm, TENANT_ID.to_string());
}

#[test]
fn regional_token_endpoints() {
    let endpoints = |token: &str| Endpoints {
        authorization_endpoint: token.replace("/token", "/authorize"),
        token_endpoint: token.to_string(),
        device_authorization_endpoint: None,
        end_session_endpoint: None,
        issuer: None,
        jwks_uri: None,
        realm: "tid".into(),
    };
    let table = [
        (
            "https://login.microsoftonline.com/common",
            "https://login.microsoftonline.com/tid/oauth2/v2.0/token",
            "https://eastus.login.microsoft.com/tid/oauth2/v2.0/token",
        ),
        (
            "https://login.windows.net/tid",
            "https://login.windows.net/tid/oauth2/v2.0/token",
            "https://eastus.login.microsoft.com/tid/oauth2/v2.0/token",
        ),
        (
            "https://sts.windows.net/tid",
            "https://sts.windows.net/tid/oauth2/v2.0/token",
            "https://eastus.login.microsoft.com/tid/oauth2/v2.0/token",
        ),
        (
            "https://login.microsoft.com/tid",
            "https://login.microsoft.com/tid/oauth2/v2.0/token",
            "https://eastus.login.microsoft.com/tid/oauth2/v2.0/token",
        ),
        (
            "https://login.microsoftonline.us/tid",
            "https://login.microsoftonline.us/tid/oauth2/v2.0/token",
            "https://eastus.login.microsoftonline.us/tid/oauth2/v2.0/token",
        ),
        (
            "https://login.contoso.com/tid",
            "https://login.contoso.com/tid/oauth2/v2.0/token",
            "https://eastus.login.contoso.com/tid/oauth2/v2.0/token",
        ),
    ];
    for (url, token, expected) in table {
        assert_eq!(
            regional_token_endpoint(&authority(url), &endpoints(token), "eastus").unwrap(),
            expected,
            "{url}"
        );
    }
    let public = authority("https://login.microsoftonline.com/tid");
    let e = endpoints("https://login.microsoftonline.com/tid/oauth2/v2.0/token");
    for bad in ["EastUS", "east us", "eastus-", "", "a.b"] {
        assert!(
            matches!(
                regional_token_endpoint(&public, &e, bad),
                Err(Error::Configuration { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(
        regional_token_endpoint(&authority("https://fs.contoso.com/adfs"), &e, "eastus").is_err()
    );
}

/// Records every URL the application asks for, then routes it to the emulator.
struct Recording {
    inner: RouteToEmulator,
    urls: Arc<std::sync::Mutex<Vec<String>>>,
}

impl HttpClient for Recording {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        self.urls.lock().unwrap().push(request.uri().to_string());
        self.inner.send(request)
    }
}

/// `azure_region("auto")`, `REGION_NAME`, `MSAL_FORCE_REGION` and a failed detection, end to end:
/// the region comes from the emulator's IMDS instance metadata (reached through
/// `AZURE_POD_IDENTITY_AUTHORITY_HOST`), and the token request goes to the regional host.
#[tokio::test]
async fn region_auto_detection_probes_imds_and_uses_the_regional_endpoint() {
    use entra_emulator::ManagedIdentityConfig;
    use entra_msal::ConfidentialClientApplication;
    use entra_msal::managed_identity::StaticEnvironment;

    const SCOPE: &str = "api://emulator-api/.default";
    let e = support::env().await;
    let located = e
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            location: Some("eastus2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let off_azure = e
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            location: None,
            ..Default::default()
        })
        .await
        .unwrap();
    let registered = e.info.confidential_client.clone().unwrap();
    let token_url = |host: &str| format!("https://{host}/{TENANT_ID}/oauth2/v2.0/token");
    let emulator_host = e.emulator.local_addr().to_string();
    let cases: [(&str, Option<&str>, StaticEnvironment, String, usize); 5] = [
        (
            "auto, IMDS answers",
            Some("auto"),
            StaticEnvironment::new()
                .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", located.imds_host()),
            token_url("eastus2.login.microsoft.com"),
            1,
        ),
        (
            "auto, REGION_NAME first",
            Some("auto"),
            StaticEnvironment::new()
                .with_var("REGION_NAME", "centralus")
                .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", located.imds_host()),
            token_url("centralus.login.microsoft.com"),
            0,
        ),
        (
            "auto, no region anywhere",
            Some("auto"),
            StaticEnvironment::new()
                .with_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", off_azure.imds_host()),
            token_url(&emulator_host),
            1,
        ),
        (
            "no choice, MSAL_FORCE_REGION",
            None,
            StaticEnvironment::new().with_var("MSAL_FORCE_REGION", "westeurope"),
            token_url("westeurope.login.microsoft.com"),
            0,
        ),
        (
            "none beats MSAL_FORCE_REGION",
            Some("none"),
            StaticEnvironment::new().with_var("MSAL_FORCE_REGION", "westeurope"),
            token_url(&emulator_host),
            0,
        ),
    ];
    for (name, region, env, expected, probes) in cases {
        e.emulator.control().clear_requests();
        let urls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let transport = Recording {
            inner: RouteToEmulator {
                inner: client(&e.emulator),
                emulator: e.emulator.local_addr().to_string().parse().unwrap(),
            },
            urls: urls.clone(),
        };
        let mut builder = ConfidentialClientApplication::builder(&registered.client_id)
            .authority(format!("https://login.microsoftonline.com/{TENANT_ID}"))
            .client_secret(registered.client_secret.clone().unwrap())
            .http_client(Arc::new(transport))
            .environment(env);
        if let Some(region) = region {
            builder = builder.azure_region(region);
        }
        let app = builder.build().unwrap();
        for _ in 0..2 {
            app.acquire_token_for_client_with(
                &[SCOPE],
                &entra_msal::ForClientOptions {
                    force_refresh: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        let urls = urls.lock().unwrap().clone();
        let token_posts: Vec<&String> = urls.iter().filter(|u| u.ends_with("/token")).collect();
        assert_eq!(token_posts, [&expected, &expected], "{name}: {urls:?}");
        let log = e.emulator.control().requests();
        let imds: Vec<_> = log
            .iter()
            .filter(|r| r.path == "/metadata/instance/compute")
            .collect();
        // Detection runs once per application, whatever it found.
        assert_eq!(imds.len(), probes, "{name}: {log:?}");
        for probe in imds {
            assert_eq!(
                probe.headers.get("metadata").map(String::as_str),
                Some("true")
            );
            assert_eq!(
                probe.query.get("api-version").map(String::as_str),
                Some("2021-02-01")
            );
        }
        // The regional request reached the emulator's token endpoint.
        assert_eq!(
            log.iter()
                .filter(|r| r.path.ends_with("/oauth2/v2.0/token") && r.status == 200)
                .count(),
            2,
            "{name}"
        );
    }
}
