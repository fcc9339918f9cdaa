//! Token-cache interoperability with MSAL Python 1.39, both ways, through
//! `interop/msal_python_cache.py`:
//!
//! 1. MSAL Python fills a `SerializableTokenCache` with `TokenCache.add` and serializes it; this
//!    crate reads it, finds every entity with exact fields, and writes it back losslessly.
//! 2. This crate fills a cache with [`TokenCache::add`] and serializes it; MSAL Python reads it
//!    and finds the same tokens with its own `search` API, then uses them through
//!    `acquire_token_silent` (a hit, then a refresh with the cached refresh token) and
//!    `acquire_token_for_client`, with a stub HTTP client.
//!
//! The interpreter is `$ENTRA_INTEROP_PYTHON`, else `.venv-interop/bin/python` at the repository
//! root (`scripts/test` creates it). Without it the tests fail when `CI=true` and are skipped
//! with a notice otherwise.

use super::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_msal::cache::{
    AccessToken, AccessTokenQuery, AccountEntity, RefreshTokenQuery, TokenCache, TokenEvent,
    ext_cache_key,
};
use serde_json::{Map, Value, json};

const ENVIRONMENT: &str = "login.microsoftonline.com";
const TENANT: &str = "7a1b2c3d-0000-4000-8000-00000000c0de";
const USER_CLIENT_ID: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const APP_CLIENT_ID: &str = "22222222-aaaa-4bbb-8ccc-000000000002";
const UID: &str = "00000000-0000-0000-1111-222222222222";
const USERNAME: &str = "alice@contoso.example";
const APP_SCOPE: &str = "https://graph.microsoft.com/.default";
const FMI_SCOPE: &str = "api://AzureFMITokenExchange/.default";
const FMI_PATH: &str = "agent-app-id";

use support::{python, repo_root};

/// Runs the script and returns its verdict (the last JSON line of stdout).
fn run_script(python: &Path, args: &[&Path], mode: &str) -> Value {
    let output = Command::new(python)
        .arg(repo_root().join("interop/msal_python_cache.py"))
        .arg(mode)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let verdict: Value = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success() && verdict["ok"] == true,
        "msal_python_cache.py {mode} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        verdict["msal_version"], "1.39.0",
        "the reference is MSAL Python 1.39"
    );
    verdict
}

fn hid() -> String {
    format!("{UID}.{TENANT}")
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn fmi_ext_key() -> String {
    ext_cache_key(&BTreeMap::from([(
        "fmi_path".to_string(),
        FMI_PATH.to_string(),
    )]))
    .expect("a key")
}

fn query<'a>(
    client_id: &'a str,
    home_account_id: Option<&'a str>,
    scopes: &'a [String],
    ext: Option<&'a str>,
    now: i64,
) -> AccessTokenQuery<'a> {
    AccessTokenQuery {
        client_id,
        environment: ENVIRONMENT,
        realm: TENANT,
        home_account_id,
        scopes,
        ext_cache_key: ext,
        key_id: None,
        now,
    }
}

#[test]
fn rust_reads_a_cache_written_by_msal_python() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("msal_python_cache.json");
    let verdict = run_script(&python, &[&file], "write");
    let now = verdict["now"].as_i64().expect("now");
    assert_eq!(verdict["ext_cache_key"], json!(fmi_ext_key()));
    let text = std::fs::read_to_string(&file).expect("the cache file");

    let cache = TokenCache::new();
    cache.deserialize(&text).expect("MSAL Python's JSON");
    assert_eq!(cache.len_access_tokens(), 3);
    let hid = hid();

    // The user's access token, found case-insensitively by a subset of its scopes.
    let scopes = vec!["user.read".to_string()];
    let at = cache
        .find_access_token(&query(USER_CLIENT_ID, Some(&hid), &scopes, None, now))
        .expect("the user's access token");
    assert_eq!(
        at,
        AccessToken {
            secret: "msal-python-user-at".into(),
            home_account_id: Some(hid.clone()),
            environment: ENVIRONMENT.into(),
            client_id: USER_CLIENT_ID.into(),
            target: "Mail.Read User.Read openid profile".into(),
            realm: TENANT.into(),
            token_type: Some("Bearer".into()),
            cached_at: Some(now),
            expires_on: now + 3599,
            extended_expires_on: Some(now + 7199),
            refresh_on: None,
            key_id: None,
            ext_cache_key: None,
            extra: Map::new(),
        }
    );

    // Its refresh token, by app and by family.
    let rts = cache.find_refresh_tokens(&RefreshTokenQuery {
        environment: ENVIRONMENT,
        home_account_id: &hid,
        client_id: Some(USER_CLIENT_ID),
        family_id: None,
    });
    assert_eq!(rts.len(), 1);
    let rt = &rts[0];
    assert_eq!(rt.secret, "msal-python-user-rt");
    assert_eq!(rt.home_account_id.as_deref(), Some(hid.as_str()));
    assert_eq!(rt.client_id, USER_CLIENT_ID);
    assert_eq!(
        rt.target.as_deref(),
        Some("Mail.Read User.Read openid profile")
    );
    assert_eq!(rt.last_modification_time(), Some(now));
    assert_eq!(rt.family_id.as_deref(), Some("1"));
    let family = cache.find_refresh_tokens(&RefreshTokenQuery {
        environment: ENVIRONMENT,
        home_account_id: &hid,
        client_id: None,
        family_id: Some("1"),
    });
    assert_eq!(family, rts);

    // The account, its ID token and the app metadata.
    assert_eq!(
        cache.accounts(),
        vec![AccountEntity {
            home_account_id: hid.clone(),
            environment: ENVIRONMENT.into(),
            realm: TENANT.into(),
            local_account_id: UID.into(),
            username: USERNAME.into(),
            authority_type: "MSSTS".into(),
            account_source: Some("authorization_code".into()),
            extra: Map::new(),
        }]
    );
    let idt = cache
        .id_token(&hid, ENVIRONMENT, TENANT, USER_CLIENT_ID)
        .expect("the ID token");
    assert_eq!(
        (
            idt.home_account_id.as_deref(),
            idt.realm.as_str(),
            idt.client_id.as_str()
        ),
        (Some(hid.as_str()), TENANT, USER_CLIENT_ID)
    );
    assert_eq!(claims_of(&idt.secret)["preferred_username"], USERNAME);
    let meta = cache
        .app_metadata(ENVIRONMENT, USER_CLIENT_ID)
        .expect("app metadata");
    assert_eq!(meta.family_id.as_deref(), Some("1"));
    let meta = cache
        .app_metadata(ENVIRONMENT, APP_CLIENT_ID)
        .expect("app metadata");
    assert_eq!(meta.family_id, None);

    // The app token (with refresh_on) and the FMI token (isolated by its extended key).
    let scopes = vec![APP_SCOPE.to_string()];
    let app = cache
        .find_access_token(&query(APP_CLIENT_ID, None, &scopes, None, now))
        .expect("the app token");
    assert_eq!(&*app.secret, "msal-python-app-at");
    assert_eq!(app.home_account_id, None);
    assert_eq!(app.refresh_on, Some(now + 1799));
    assert_eq!(app.extended_expires_on, Some(now + 3599));
    let scopes = vec![FMI_SCOPE.to_string()];
    let ext = fmi_ext_key();
    let fmi = cache
        .find_access_token(&query(APP_CLIENT_ID, None, &scopes, Some(&ext), now))
        .expect("the FMI token");
    assert_eq!(&*fmi.secret, "msal-python-fmi-at");
    assert_eq!(fmi.ext_cache_key.as_deref(), Some(ext.as_str()));
    assert!(
        cache
            .find_access_token(&query(APP_CLIENT_ID, None, &scopes, None, now))
            .is_none()
    );

    // Written back without losing or adding anything.
    let original: Value = serde_json::from_str(&text).expect("JSON");
    let rewritten: Value = serde_json::from_str(&cache.serialize()).expect("JSON");
    assert_eq!(rewritten, original);
}

fn unsigned_jwt(claims: &Value) -> String {
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn msal_python_uses_a_cache_written_by_rust() {
    let Some(python) = python() else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let hid = hid();
    let cache = TokenCache::new();

    let id_token = unsigned_jwt(&json!({
        "aud": USER_CLIENT_ID, "iss": format!("https://{ENVIRONMENT}/{TENANT}/v2.0"),
        "iat": now, "exp": now + 3600, "oid": UID, "preferred_username": USERNAME,
        "sub": "alice-pairwise-sub", "tid": TENANT, "name": "Alice"}));
    let client_info = URL_SAFE_NO_PAD.encode(json!({"uid": UID, "utid": TENANT}).to_string());
    let user_response = json!({
        "token_type": "Bearer", "scope": "User.Read Mail.Read openid profile",
        "expires_in": 3599, "ext_expires_in": "7199",
        "access_token": "entra-msal-user-at", "refresh_token": "entra-msal-user-rt",
        "id_token": id_token, "client_info": client_info, "foci": "1"});
    let requested: Vec<String> = [
        "User.Read",
        "Mail.Read",
        "offline_access",
        "openid",
        "profile",
    ]
    .map(String::from)
    .to_vec();
    let event = |client_id, requested_scopes, response, grant_type, ext_cache_key| TokenEvent {
        client_id,
        environment: ENVIRONMENT,
        realm: TENANT,
        requested_scopes,
        response,
        grant_type,
        username: None,
        ext_cache_key,
        skip_account_creation: false,
        now,
    };
    cache
        .add(&event(
            USER_CLIENT_ID,
            &requested,
            &user_response,
            "authorization_code",
            None,
        ))
        .expect("user token");
    let app_scopes = vec![APP_SCOPE.to_string()];
    let app_response = json!({"token_type": "Bearer", "expires_in": 3599,
        "access_token": "entra-msal-app-at"});
    cache
        .add(&event(
            APP_CLIENT_ID,
            &app_scopes,
            &app_response,
            "client_credentials",
            None,
        ))
        .expect("app token");
    let fmi_scopes = vec![FMI_SCOPE.to_string()];
    let fmi_response = json!({"token_type": "Bearer", "expires_in": 3599,
        "access_token": "entra-msal-fmi-at"});
    let ext = fmi_ext_key();
    cache
        .add(&event(
            APP_CLIENT_ID,
            &fmi_scopes,
            &fmi_response,
            "client_credentials",
            Some(&ext),
        ))
        .expect("FMI token");

    let dir = tempfile::tempdir().expect("temp dir");
    let cache_file = dir.path().join("entra_msal_cache.json");
    std::fs::write(&cache_file, cache.serialize()).expect("write the cache");
    let expect = json!({
        "now": now, "environment": ENVIRONMENT, "tenant": TENANT,
        "user": {"client_id": USER_CLIENT_ID, "home_account_id": hid, "scopes": ["User.Read"],
            "at_secret": "entra-msal-user-at", "rt_secret": "entra-msal-user-rt",
            "id_token": user_response["id_token"], "username": USERNAME,
            "local_account_id": UID, "family_id": "1",
            "target": "Mail.Read User.Read openid profile"},
        "app": {"client_id": APP_CLIENT_ID, "scopes": [APP_SCOPE],
            "at_secret": "entra-msal-app-at"},
        "fmi": {"client_id": APP_CLIENT_ID, "scopes": [FMI_SCOPE], "fmi_path": FMI_PATH,
            "at_secret": "entra-msal-fmi-at"},
    });
    let expect_file = dir.path().join("expect.json");
    std::fs::write(&expect_file, expect.to_string()).expect("write the expectations");

    let verdict = run_script(&python, &[&cache_file, &expect_file], "read");
    let checks = verdict["checks"].as_object().expect("checks");
    for name in [
        "search_user_access_token",
        "search_refresh_token",
        "search_family_refresh_token",
        "search_account",
        "search_id_token",
        "search_app_metadata",
        "search_app_access_token",
        "search_fmi_access_token",
        "fmi_token_isolated",
        "get_accounts",
        "silent_cache_hit",
        "no_post_for_cache_hit",
        "silent_refresh_with_cached_rt",
        "refresh_token_rotated",
        "app_token_cache_hit",
    ] {
        assert_eq!(
            checks.get(name),
            Some(&Value::Bool(true)),
            "{name}: {verdict}"
        );
    }
}
