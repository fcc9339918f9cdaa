//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay test. Not part of the
//! API: hidden from the documentation, and free to change at any time.
//!
//! Each function feeds a fuzzer's bytes to what the emulator parses from its clients (form
//! bodies, query strings, client assertions, broker requests over D-Bus, configuration files).
//! A panic is a finding.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::broker::codec::{BrokerRequest, Method, parse_request};
use crate::config::EmulatorConfig;
use crate::crypto::{self, SigningKey};
use crate::directory::Directory;
use crate::endpoints::Form;
use crate::ready_made;
use crate::rules::access::parse_scopes;
use crate::scopes::{glob_match, split_scope};
use crate::state::AppState;

/// The password every user of the fuzzing tenant has, so seeds can sign in.
pub const PASSWORD: &str = "Fuzz-Password-1";
/// The secret of every confidential client of the fuzzing tenant.
pub const SECRET: &str = "Fuzz-Secret-1";

fn take(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}

/// The broker service's request codec: the first byte chooses the D-Bus method, the rest is the
/// request JSON.
pub fn broker_request(data: &[u8]) {
    let (selector, data) = take(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let method = Method::ALL[usize::from(selector) % Method::ALL.len()];
    let _ = (method.name(), Method::from_name(method.name()));
    match parse_request(method, text) {
        Ok(request) => {
            let _ = request.facts();
            if let BrokerRequest::Token(params) = &request {
                let _ = params.named_username();
            }
            let _ = format!("{request:?}");
        }
        Err(e) => {
            let spec = e.to_spec(method);
            let _ = (spec.check(), spec.to_json(), spec.response(method));
        }
    }
}

/// Form bodies, scope parameters and client assertions: the first byte chooses the content
/// type; every value of the form is then read as scopes and as a JWT.
pub fn form(data: &[u8]) {
    let (selector, body) = take(data);
    let mut headers = axum::http::HeaderMap::new();
    let content_type = [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/json",
    ][usize::from(selector) % 3];
    headers.insert(
        "content-type",
        axum::http::HeaderValue::from_static(content_type),
    );
    match Form::parse(&headers, body) {
        Ok(form) => {
            for value in form.0.values() {
                match parse_scopes(value) {
                    Ok(scopes) => {
                        let _ = (scopes.qualified(), scopes.is_default(), scopes.echo());
                        let _ = scopes.resource_or_graph();
                    }
                    Err(e) => {
                        let _ = format!("{e:?}");
                    }
                }
                let _ = split_scope(value);
                if let Ok(jwt) = crate::jwt::decode_unverified(value) {
                    let _ = (jwt.alg(), jwt.claim_str("iss"), jwt.claim_time("exp"));
                }
            }
            if let (Some(pattern), Some(text)) = (form.get("pattern"), form.get("scope")) {
                let _ = glob_match(pattern, text);
            }
        }
        Err(e) => {
            let _ = format!("{e:?}");
        }
    }
}

/// Configuration files (TOML or JSON, by the first byte), then their validation.
pub fn config(data: &[u8]) {
    let (selector, data) = take(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed: Option<EmulatorConfig> = if selector % 2 == 0 {
        toml::from_str(text).ok()
    } else {
        serde_json::from_str(text).ok()
    };
    if let Some(config) = parsed
        && config.validate().is_ok()
    {
        let _ = Directory::new(config);
    }
}

struct Harness {
    router: Router,
    runtime: tokio::runtime::Runtime,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let mut config = ready_made::ready_made().expect("the ready-made tenant builds");
        for user in &mut config.users {
            user.password = PASSWORD.to_string();
        }
        for app in &mut config.applications {
            if !app.secrets.is_empty() {
                app.secrets = vec![SECRET.to_string()];
            }
        }
        config.settings.plain_http = true;
        config.settings.control_api = false;
        let key = SigningKey::from_pem(&crypto::generate_rsa_key_pem().expect("an RSA key"))
            .expect("the generated key reads");
        let settings = config.settings.clone();
        let directory = Directory::new(config).expect("the ready-made directory builds");
        let state = Arc::new(AppState::new(
            "http://127.0.0.1:1".into(),
            directory,
            key,
            settings,
        ));
        let control = crate::control::Control::new(
            state.clone(),
            Arc::new(crate::broker::BrokerSession::default()),
        );
        Harness {
            router: crate::server::router(state, control),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        }
    })
}

const ROUTES: [(&str, &str); 10] = [
    ("POST", "/{tenant}/oauth2/v2.0/token"),
    ("GET", "/{tenant}/oauth2/v2.0/authorize"),
    ("POST", "/{tenant}/oauth2/v2.0/authorize"),
    ("POST", "/{tenant}/oauth2/v2.0/devicecode"),
    ("POST", "/devicelogin"),
    ("GET", "/{tenant}/discovery/instance"),
    ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
    ("GET", "/common/userrealm/alice@contoso.example"),
    ("POST", "/{tenant}/oauth2/v2.0/logout"),
    ("GET", "/devicelogin"),
];

const TENANTS: [&str; 5] = [
    "common",
    "organizations",
    "7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
    "contoso.example",
    "consumers",
];

/// The whole HTTP surface of the emulator, in process: the first byte chooses the endpoint and
/// tenant, the second the content type; the rest is the form body (POST) or the query (GET).
/// Each answer must be a well-formed response with a non-5xx status (a 5xx from the emulator is
/// a bug: it only fails on purpose through scripted faults, which are off here).
pub fn http(data: &[u8]) {
    let (selector, data) = take(data);
    let (content_type, rest) = take(data);
    let (method, template) = ROUTES[usize::from(selector) % ROUTES.len()];
    let tenant = TENANTS[usize::from(selector / 16) % TENANTS.len()];
    let path = template.replace("{tenant}", tenant);
    let (uri, body) = if method == "GET" {
        let query: String = String::from_utf8_lossy(rest)
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .collect();
        (format!("{path}?{query}"), Vec::new())
    } else {
        (path.clone(), rest.to_vec())
    };
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if content_type % 4 != 3 {
        request = request.header(
            "content-type",
            [
                "application/x-www-form-urlencoded",
                "application/json",
                "text/plain",
            ][usize::from(content_type % 4)],
        );
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    let h = harness();
    let status = h.runtime.block_on(async {
        let response = h
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let _ = response.into_body().collect().await;
        status
    });
    assert!(
        !status.is_server_error(),
        "the emulator answered {status} to {method} {path}"
    );
}

/// The committed inputs of one target: `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/`
/// of this repository, sorted.
fn corpus_files(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    files.sort();
    files
}

/// Replays a target's committed inputs through `check` (the target's entry point), for the
/// stable-toolchain replay tests of this crate and of `entra-msal`. Panics, naming the file, when
/// one fails, and when there are none.
pub fn replay_corpus(target: &str, check: fn(&[u8])) {
    let files = corpus_files(target);
    assert!(
        !files.is_empty(),
        "fuzz/seeds/{target} is empty; run fuzz/seed_corpora.py and fuzz/golden_seeds.py"
    );
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
}
