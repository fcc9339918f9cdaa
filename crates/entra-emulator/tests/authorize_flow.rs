//! The interactive authorization-code flow end to end, driven like a browser: `/authorize`
//! validation, the sign-in pages (login, MFA, consent, account picker), single sign-on through
//! the `ESTSAUTHEMU` session cookie, code redemption with PKCE, guests, logout, and the
//! test-control hooks for pending sign-ins.

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestEmulator, assert_entra_error, claims};
use entra_emulator::ControlError;
use entra_emulator::info::UserInfo;
use entra_emulator::ready_made::{CONFIDENTIAL_CLIENT_ID, GUEST_HOME_TENANT_ID, TENANT_ID};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A loopback redirect URI; the public client registers `http://localhost` (any port).
const REDIRECT: &str = "http://localhost:12345";
const SCOPE: &str = "api://emulator-api/access_as_user openid profile offline_access";
const SESSION_COOKIE: &str = "ESTSAUTHEMU";
const ALICE: &str = "alice@contoso.example";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A PKCE verifier and its S256 challenge, computed here rather than by the emulator.
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Self {
        let verifier = format!(
            "{}-{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The query parameters of one `/authorize` request.
#[derive(Clone)]
struct AuthRequest {
    params: Vec<(String, String)>,
}

impl AuthRequest {
    /// What MSAL sends for an interactive sign-in with the public client.
    fn new(t: &TestEmulator, state: &str, pkce: &Pkce, response_mode: &str) -> Self {
        let params = [
            ("client_id", t.public_id()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("state", state),
            ("nonce", &format!("nonce-{state}")),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("response_mode", response_mode),
            ("client_info", "1"),
        ];
        Self {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Replaces (or adds) a parameter.
    fn set(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Drops a parameter.
    fn without(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    fn url(&self, t: &TestEmulator, tenant: &str) -> String {
        let endpoint = t.url(&format!("/{tenant}/oauth2/v2.0/authorize"));
        url::Url::parse_with_params(&endpoint, &self.params)
            .expect("authorize URL")
            .to_string()
    }
}

/// One HTTP response as a browser would see it.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    content_type: String,
    body: String,
}

async fn read(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let text = |v: &reqwest::header::HeaderValue| v.to_str().expect("ASCII header").to_string();
    Page {
        status,
        location: headers.get(LOCATION).map(text),
        set_cookies: headers.get_all(SET_COOKIE).iter().map(text).collect(),
        content_type: headers.get(CONTENT_TYPE).map(text).unwrap_or_default(),
        body: response.text().await.expect("body"),
    }
}

fn with_cookie(request: reqwest::RequestBuilder, session: Option<&str>) -> reqwest::RequestBuilder {
    match session {
        Some(s) => request.header(COOKIE, format!("{SESSION_COOKIE}={s}")),
        None => request,
    }
}

async fn get(t: &TestEmulator, url: &str, session: Option<&str>) -> Page {
    read(
        with_cookie(t.http.get(url), session)
            .send()
            .await
            .expect("GET"),
    )
    .await
}

async fn post(t: &TestEmulator, url: &str, form: &[(&str, &str)], session: Option<&str>) -> Page {
    read(
        with_cookie(t.http.post(url).form(form), session)
            .send()
            .await
            .expect("POST"),
    )
    .await
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The attributes of every `<tag ...>` in the page, in order.
fn tags(html: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag} ");
    html.match_indices(&open)
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            let mut inside = &rest[..rest.find('>').unwrap_or(rest.len())];
            let mut attributes = HashMap::new();
            while let Some(eq) = inside.find("=\"") {
                let name = inside[..eq]
                    .rsplit(char::is_whitespace)
                    .next()
                    .unwrap_or("");
                let after = &inside[eq + 2..];
                let end = after.find('"').unwrap_or(after.len());
                attributes.insert(name.to_string(), unescape(&after[..end]));
                inside = &after[(end + 1).min(after.len())..];
            }
            attributes
        })
        .collect()
}

impl Page {
    fn has_id(&self, id: &str) -> bool {
        self.body.contains(&format!("id=\"{id}\""))
    }

    /// The document title.
    fn title(&self) -> String {
        let start = self.body.find("<title>").map_or(0, |i| i + "<title>".len());
        let end = self.body[start..]
            .find("</title>")
            .map_or(start, |i| start + i);
        unescape(&self.body[start..end])
    }

    fn is_login_page(&self) -> bool {
        self.status == StatusCode::OK
            && self.location.is_none()
            && self.has_id("username")
            && self.has_id("password")
    }

    /// The text of the element with this id.
    fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let start = self.body.find(&marker)? + marker.len();
        let rest = &self.body[start..];
        let content = &rest[rest.find('>')? + 1..];
        Some(unescape(&content[..content.find('<')?]))
    }

    /// The value of the first input named `name`.
    fn input(&self, name: &str) -> Option<String> {
        tags(&self.body, "input")
            .into_iter()
            .find(|a| a.get("name").map(String::as_str) == Some(name))
            .and_then(|a| a.get("value").cloned())
    }

    /// The `action` of the form with this id.
    fn form_action(&self, form_id: &str) -> Option<String> {
        tags(&self.body, "form")
            .into_iter()
            .find(|a| a.get("id").map(String::as_str) == Some(form_id))
            .and_then(|a| a.get("action").cloned())
    }

    /// The session cookie the response sets (an empty string when it clears it).
    fn session(&self) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (name, value) = first.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
    }

    /// The parameters of a redirect to `redirect_uri`, in its query (`?`) or fragment (`#`).
    fn redirected_to(&self, redirect_uri: &str, separator: char) -> HashMap<String, String> {
        assert!(
            self.status.is_redirection(),
            "expected a redirect, got {}: {}",
            self.status,
            self.body
        );
        let location = self.location.as_deref().expect("Location header");
        let prefix = format!("{redirect_uri}{separator}");
        let encoded = location
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("Location {location:?} does not start with {prefix:?}"));
        url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect()
    }

    /// The fields of the auto-submitting `form_post` page, which must POST to `redirect_uri`.
    fn form_post_to(&self, redirect_uri: &str) -> HashMap<String, String> {
        assert_eq!(self.status, StatusCode::OK, "form_post page: {}", self.body);
        assert!(
            self.location.is_none(),
            "form_post must not redirect: {:?}",
            self.location
        );
        assert!(self.body.contains("form id=\"form_post\""), "{}", self.body);
        assert_eq!(self.form_action("form_post").as_deref(), Some(redirect_uri));
        tags(&self.body, "input")
            .into_iter()
            .filter(|a| a.get("type").map(String::as_str) == Some("hidden"))
            .filter_map(|a| Some((a.get("name")?.clone(), a.get("value")?.clone())))
            .collect()
    }
}

/// Submits one of the page's forms (its `request_id` included), as a browser would.
async fn submit(
    t: &TestEmulator,
    page: &Page,
    form_id: &str,
    fields: &[(&str, &str)],
    session: Option<&str>,
) -> Page {
    let action = page
        .form_action(form_id)
        .unwrap_or_else(|| panic!("no form #{form_id} in {}", page.body));
    assert!(
        action.starts_with('/'),
        "relative action expected: {action}"
    );
    let request_id = page.input("request_id").expect("request_id hidden input");
    let mut form = vec![("request_id", request_id.as_str())];
    form.extend_from_slice(fields);
    post(t, &t.url(&action), &form, session).await
}

/// Fills and submits the login form.
async fn log_in(t: &TestEmulator, page: &Page, user: &UserInfo, session: Option<&str>) -> Page {
    assert!(
        page.is_login_page(),
        "expected the login page: {} {}",
        page.status,
        page.body
    );
    let fields = [
        ("action", "login"),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
    ];
    submit(t, page, "login", &fields, session).await
}

async fn redeem(
    t: &TestEmulator,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    t.token(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("client_id", t.public_id()),
        ("client_info", "1"),
    ])
    .await
}

fn decode_client_info(value: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .expect("client_info is base64url");
    serde_json::from_slice(&bytes).expect("client_info is JSON")
}

/// The configured object id and home tenant of a user.
fn identity(t: &TestEmulator, username: &str) -> (String, String) {
    let user = t
        .emulator
        .config()
        .users
        .iter()
        .find(|u| u.username == username)
        .expect("configured user");
    (user.object_id.to_string(), user.home_tenant.to_string())
}

/// Signs `user` in interactively in query mode; returns the redirect's parameters, the PKCE pair
/// and the session cookie.
async fn sign_in_query(
    t: &TestEmulator,
    prefix: &str,
    state: &str,
) -> (HashMap<String, String>, Pkce, String) {
    let pkce = Pkce::new();
    let request = AuthRequest::new(t, state, &pkce, "query");
    let login = get(t, &request.url(t, t.tenant()), None).await;
    let user = t.user(prefix).clone();
    let done = log_in(t, &login, &user, None).await;
    let params = done.redirected_to(REDIRECT, '?');
    assert_eq!(params.get("state").map(String::as_str), Some(state));
    let session = done
        .session()
        .filter(|s| !s.is_empty())
        .expect("session cookie after sign-in");
    (params, pkce, session)
}

fn assert_error_page(page: &Page, code: u32) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.location.is_none(),
        "an error page must not redirect: {:?}",
        page.location
    );
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert_eq!(
        page.text_of("error-code"),
        Some(format!("AADSTS{code}")),
        "{}",
        page.body
    );
}

fn assert_redirect_error(params: &HashMap<String, String>, error: &str, code: u32, state: &str) {
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    let description = params.get("error_description").expect("error_description");
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert_eq!(
        params.get("error_uri").map(String::as_str),
        Some(format!("https://login.microsoftonline.com/error?code={code}").as_str())
    );
    assert_eq!(params.get("state").map(String::as_str), Some(state));
    assert!(
        !params.contains_key("code"),
        "no code with an error: {params:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Full browser-like sign-in: PKCE S256, form_post, redemption and its failure modes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pkce_form_post_sign_in_and_code_redemption() {
    let t = common::start().await;
    let alice = t.user("alice").clone();
    let (alice_oid, alice_home) = identity(&t, ALICE);
    // A state with characters that need escaping in HTML and in URLs.
    let state = "st-1 <&\"'>";
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, state, &pkce, "form_post");

    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    assert!(login.is_login_page(), "{} {}", login.status, login.body);
    assert!(
        login.content_type.starts_with("text/html"),
        "{}",
        login.content_type
    );
    assert!(
        login.body.contains("Emulator Desktop App"),
        "the app's name is shown"
    );
    assert_eq!(
        login.form_action("login").as_deref(),
        Some(format!("/{}/oauth2/v2.0/authorize", t.tenant()).as_str())
    );
    assert!(login.input("request_id").is_some_and(|id| !id.is_empty()));
    assert!(login.session().is_none(), "no session before sign-in");

    let done = log_in(&t, &login, &alice, None).await;
    let fields = done.form_post_to(REDIRECT);
    assert_eq!(
        fields.get("state").map(String::as_str),
        Some(state),
        "state survives HTML escaping"
    );
    let code = fields.get("code").expect("code").clone();
    let info = decode_client_info(fields.get("client_info").expect("client_info"));
    assert_eq!(info, json!({"uid": alice_oid, "utid": alice_home}));
    let session = done.session().expect("session cookie");
    assert!(!session.is_empty());
    let cookie = done
        .set_cookies
        .iter()
        .find(|c| c.starts_with(SESSION_COOKIE))
        .unwrap();
    for attribute in ["Path=/", "HttpOnly", "SameSite=None", "Secure"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }

    let (status, body) = redeem(&t, &code, REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        "api://emulator-api/access_as_user profile openid"
    );
    assert_eq!(body["foci"], "1");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    let info = decode_client_info(body["client_info"].as_str().expect("client_info"));
    assert_eq!(info, json!({"uid": alice_oid, "utid": alice_home}));

    let issuer = format!("{}/{}/v2.0", t.base(), t.tenant());
    let id = claims(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["nonce"], format!("nonce-{state}"));
    assert_eq!(id["aud"], t.public_id());
    assert_eq!(id["tid"], t.tenant());
    assert_eq!(id["iss"], issuer);
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["oid"], alice_oid);
    assert_eq!(id["ver"], "2.0");

    let access = claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(access["aud"], CONFIDENTIAL_CLIENT_ID, "the API's client id");
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["azp"], t.public_id());
    assert_eq!(access["azpacr"], "0");
    assert_eq!(access["tid"], t.tenant());
    assert_eq!(access["iss"], issuer);
    assert_eq!(access["amr"], json!(["pwd"]));

    // A code is single use.
    let (status, body) = redeem(&t, &code, REDIRECT, &pkce.verifier).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 54005);

    // Fresh codes through the session cookie (no pages: single sign-on).
    let fresh_code = |pkce: Pkce, state: &'static str| {
        let t = &t;
        let session = session.clone();
        async move {
            let request = AuthRequest::new(t, state, &pkce, "form_post");
            let page = get(t, &request.url(t, t.tenant()), Some(&session)).await;
            let fields = page.form_post_to(REDIRECT);
            assert_eq!(fields.get("state").map(String::as_str), Some(state));
            (fields.get("code").expect("code").clone(), pkce)
        }
    };

    // Wrong PKCE verifier, and no verifier at all.
    let (code, pkce) = fresh_code(Pkce::new(), "st-2").await;
    let (status, body) = redeem(&t, &code, REDIRECT, &Pkce::new().verifier).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 501481);
    let (status, body) = t
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", t.public_id()),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 501481);
    // The verifier sent at the wrong time did not burn the code.
    let (status, body) = redeem(&t, &code, REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Redirect URI different from the one of the authorization request (even another port).
    let (code, pkce) = fresh_code(Pkce::new(), "st-3").await;
    for wrong in ["http://localhost:54321", "http://localhost"] {
        let (status, body) = redeem(&t, &code, wrong, &pkce.verifier).await;
        assert_entra_error(status, &body, 400, "invalid_grant", 70000);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("redirect_uri"),
            "{body}"
        );
    }

    // Another client cannot redeem the code.
    let (status, body) = t
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
            ("client_id", t.family_id()),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70000);

    // An unknown code.
    let (status, body) = redeem(&t, "1.emu.not-a-code", REDIRECT, &pkce.verifier).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70000);
}

// ---------------------------------------------------------------------------------------------
// 2. Response modes query and fragment
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn query_and_fragment_response_modes_redirect_with_the_code() {
    let t = common::start().await;
    let alice = t.user("alice").clone();

    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "q-state", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let query = log_in(&t, &login, &alice, None).await;
    let location = query.location.clone().expect("Location");
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );
    let params = query.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "q-state");
    assert!(params.contains_key("client_info"), "{params:?}");
    assert!(params.contains_key("session_state"), "{params:?}");
    assert!(query.body.is_empty() || !query.body.contains("form_post"));
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "f-state", &pkce, "fragment");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let fragment = log_in(&t, &login, &alice, None).await;
    let location = fragment.location.clone().expect("Location");
    assert!(location.contains("#code="), "{location}");
    assert!(!location.contains('?'), "nothing in the query: {location}");
    let params = fragment.redirected_to(REDIRECT, '#');
    assert_eq!(params["state"], "f-state");
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Entra answers the authorization response with `302 Found`.
    assert_eq!(
        query.status,
        StatusCode::FOUND,
        "query-mode authorization response status"
    );
    assert_eq!(
        fragment.status,
        StatusCode::FOUND,
        "fragment-mode authorization response status"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Requests that must not redirect: error pages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unsafe_requests_get_an_error_page_instead_of_a_redirect() {
    let t = common::start().await;
    let pkce = Pkce::new();
    let base = AuthRequest::new(&t, "err-state", &pkce, "query");

    for unregistered in [
        "https://evil.example/callback",
        "http://localhost:12345/other/path",
        "http://127.0.0.1:12345",
    ] {
        let page = get(
            &t,
            &base
                .clone()
                .set("redirect_uri", unregistered)
                .url(&t, t.tenant()),
            None,
        )
        .await;
        assert_error_page(&page, 50011);
        let message = page.text_of("error-message").expect("error message");
        assert!(message.contains(unregistered), "{message}");
        assert!(message.contains(t.public_id()), "{message}");
    }

    let unknown_client = "11111111-2222-4333-8444-555555555555";
    let page = get(
        &t,
        &base
            .clone()
            .set("client_id", unknown_client)
            .url(&t, t.tenant()),
        None,
    )
    .await;
    assert_error_page(&page, 700016);
    assert!(
        page.text_of("error-message")
            .unwrap()
            .contains(unknown_client)
    );

    let page = get(&t, &base.url(&t, "no-such-tenant.example"), None).await;
    assert_error_page(&page, 90002);
    assert!(
        page.text_of("error-message")
            .unwrap()
            .contains("no-such-tenant.example")
    );

    let page = get(
        &t,
        &base.clone().without("redirect_uri").url(&t, t.tenant()),
        None,
    )
    .await;
    assert_error_page(&page, 900971);

    let page = get(
        &t,
        &base.clone().without("client_id").url(&t, t.tenant()),
        None,
    )
    .await;
    assert_error_page(&page, 900144);

    // Nothing was left waiting for a user.
    assert!(t.emulator.control().pending_authorizations().is_empty());
}

// ---------------------------------------------------------------------------------------------
// 4. Invalid requests with a valid client and redirect URI: error redirects
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_requests_redirect_with_an_oauth_error() {
    let t = common::start().await;
    let pkce = Pkce::new();
    let base = AuthRequest::new(&t, "bad-state", &pkce, "query");
    let tenant = t.tenant().to_string();

    let plain = get(
        &t,
        &base
            .clone()
            .set("code_challenge_method", "plain")
            .url(&t, &tenant),
        None,
    )
    .await;
    let params = plain.redirected_to(REDIRECT, '?');
    assert_redirect_error(&params, "invalid_request", 9002313, "bad-state");
    assert!(
        params["error_description"].contains("code_challenge_method"),
        "{params:?}"
    );

    let missing = get(
        &t,
        &base
            .clone()
            .without("code_challenge_method")
            .url(&t, &tenant),
        None,
    )
    .await;
    assert_redirect_error(
        &missing.redirected_to(REDIRECT, '?'),
        "invalid_request",
        9002313,
        "bad-state",
    );

    let scope = get(
        &t,
        &base
            .clone()
            .set("scope", "api://other/x openid")
            .url(&t, &tenant),
        None,
    )
    .await;
    let params = scope.redirected_to(REDIRECT, '?');
    assert_redirect_error(&params, "invalid_scope", 70011, "bad-state");
    assert!(
        params["error_description"].contains("api://other/x"),
        "{params:?}"
    );

    let token = get(
        &t,
        &base.clone().set("response_type", "token").url(&t, &tenant),
        None,
    )
    .await;
    assert_redirect_error(
        &token.redirected_to(REDIRECT, '?'),
        "unsupported_response_type",
        700054,
        "bad-state",
    );

    // The error is delivered with the requested response mode.
    let fragment = base
        .clone()
        .set("response_mode", "fragment")
        .set("response_type", "token");
    let page = get(&t, &fragment.url(&t, &tenant), None).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '#'),
        "unsupported_response_type",
        700054,
        "bad-state",
    );
    let form_post = base
        .clone()
        .set("response_mode", "form_post")
        .set("scope", "api://other/x");
    let page = get(&t, &form_post.url(&t, &tenant), None).await;
    assert_redirect_error(
        &page.form_post_to(REDIRECT),
        "invalid_scope",
        70011,
        "bad-state",
    );

    assert!(t.emulator.control().pending_authorizations().is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. Wrong password
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_shows_the_login_page_again() {
    let t = common::start().await;
    let alice = t.user("alice").clone();
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "pw-state", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let request_id = login.input("request_id").unwrap();

    let fields = [
        ("action", "login"),
        ("username", ALICE),
        ("password", "not-the-password"),
    ];
    let again = submit(&t, &login, "login", &fields, None).await;
    assert!(again.is_login_page(), "{} {}", again.status, again.body);
    assert!(again.body.contains("AADSTS50126"), "{}", again.body);
    assert!(
        again
            .text_of("login-error")
            .unwrap()
            .contains("AADSTS50126")
    );
    assert!(again.session().is_none(), "no session for a failed sign-in");
    assert_eq!(
        again.input("request_id"),
        Some(request_id),
        "the same request continues"
    );

    let fields = [
        ("action", "login"),
        ("username", "nobody@contoso.example"),
        ("password", "x"),
    ];
    let unknown = submit(&t, &again, "login", &fields, None).await;
    assert!(unknown.is_login_page());
    assert!(unknown.body.contains("AADSTS50034"), "{}", unknown.body);

    // The request is still pending and the right password completes it.
    let done = log_in(&t, &unknown, &alice, None).await;
    let params = done.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "pw-state");
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------------------------------------
// 6. MFA
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mfa_user_approves_on_the_mfa_page() {
    let t = common::start().await;
    let bob = t.user("bob").clone();
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "mfa-state", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;

    let mfa = log_in(&t, &login, &bob, None).await;
    assert_eq!(mfa.status, StatusCode::OK, "{}", mfa.body);
    assert!(mfa.location.is_none());
    assert!(mfa.has_id("mfa-approve"), "{}", mfa.body);
    assert!(mfa.body.contains(&bob.username));
    assert!(mfa.session().is_none(), "no session before MFA");

    let done = submit(&t, &mfa, "mfa", &[("action", "mfa")], None).await;
    let params = done.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "mfa-state");
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = claims(body["access_token"].as_str().unwrap());
    let amr: Vec<&str> = access["amr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(amr.contains(&"mfa"), "{amr:?}");
    assert!(amr.contains(&"pwd"), "{amr:?}");

    // Refreshing keeps the MFA (bob's refresh would fail with 50076 otherwise).
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = t
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", t.public_id()),
            ("scope", SCOPE),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Cancelling on the MFA page ends the request with access_denied.
    let request = AuthRequest::new(&t, "mfa-cancel", &Pkce::new(), "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let mfa = log_in(&t, &login, &bob, None).await;
    let cancelled = submit(&t, &mfa, "mfa", &[("action", "cancel")], None).await;
    assert_redirect_error(
        &cancelled.redirected_to(REDIRECT, '?'),
        "access_denied",
        65004,
        "mfa-cancel",
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Consent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn consent_page_cancel_then_accept() {
    let t = common::start().await;
    let dave = t.user("dave").clone();
    assert!(!dave.consent_given);

    // Before consent, ROPC is refused as Entra does: 65001 with suberror consent_required.
    let (status, body) = t.password_tokens("dave", SCOPE).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 65001);
    assert_eq!(body["suberror"], "consent_required", "{body}");

    // Cancel on the consent page.
    let request = AuthRequest::new(&t, "consent-1", &Pkce::new(), "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let consent = log_in(&t, &login, &dave, None).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.has_id("accept"), "{}", consent.body);
    assert!(
        consent.body.contains("api://emulator-api/access_as_user"),
        "{}",
        consent.body
    );
    let cancelled = submit(&t, &consent, "consent", &[("action", "cancel")], None).await;
    assert_redirect_error(
        &cancelled.redirected_to(REDIRECT, '?'),
        "access_denied",
        65004,
        "consent-1",
    );
    let (status, body) = t.password_tokens("dave", SCOPE).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 65001);

    // Accept on a second attempt.
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "consent-2", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let consent = log_in(&t, &login, &dave, None).await;
    assert!(consent.has_id("accept"), "{}", consent.body);
    let done = submit(&t, &consent, "consent", &[("action", "consent")], None).await;
    let params = done.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "consent-2");
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["preferred_username"],
        dave.username
    );

    // The consent is remembered: ROPC now works, and the next sign-in skips the consent page.
    let (status, body) = t.password_tokens("dave", SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let request = AuthRequest::new(&t, "consent-3", &Pkce::new(), "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let done = log_in(&t, &login, &dave, None).await;
    assert_eq!(done.redirected_to(REDIRECT, '?')["state"], "consent-3");

    // The consent was for this client only.
    let (status, body) = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", t.family_id()),
            ("username", &dave.username),
            ("password", &dave.password),
            ("scope", SCOPE),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 65001);
}

// ---------------------------------------------------------------------------------------------
// 8. Single sign-on through the session cookie
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn session_cookie_single_sign_on_and_prompts() {
    let t = common::start().await;
    let (first, first_pkce, session) = sign_in_query(&t, "alice", "sso-0").await;
    let (status, body) = redeem(&t, &first["code"], REDIRECT, &first_pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first_auth_time = claims(body["id_token"].as_str().unwrap())["auth_time"].clone();

    // No prompt: completes at once, keeping the same session.
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "sso-1", &pkce, "query");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    let params = page.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "sso-1");
    assert_eq!(page.session().as_deref(), Some(session.as_str()));
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(
        id["auth_time"], first_auth_time,
        "SSO keeps the original authentication time"
    );
    assert_eq!(id["nonce"], "nonce-sso-1");

    // prompt=none with the cookie: a code.
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "sso-2", &pkce, "query").set("prompt", "none");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    let params = page.redirected_to(REDIRECT, '?');
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // prompt=none without the cookie (or with an unknown one): login_required.
    let request = AuthRequest::new(&t, "sso-3", &Pkce::new(), "query").set("prompt", "none");
    let page = get(&t, &request.url(&t, t.tenant()), None).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '?'),
        "login_required",
        50058,
        "sso-3",
    );
    let page = get(&t, &request.url(&t, t.tenant()), Some("not-a-session")).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '?'),
        "login_required",
        50058,
        "sso-3",
    );

    // prompt=login with the cookie: the login page anyway.
    let request = AuthRequest::new(&t, "sso-4", &Pkce::new(), "query").set("prompt", "login");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert!(page.is_login_page(), "{} {}", page.status, page.body);

    // prompt=select_account: the picker, then picking the account completes.
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "sso-5", &pkce, "query").set("prompt", "select_account");
    let picker = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_eq!(picker.status, StatusCode::OK, "{}", picker.body);
    assert!(
        picker
            .body
            .contains("data-username=\"alice@contoso.example\""),
        "{}",
        picker.body
    );
    assert!(picker.has_id("other-account"));
    assert!(
        !picker.has_id("username"),
        "the picker is not the login page"
    );
    let done = submit(
        &t,
        &picker,
        "picker",
        &[("action", "pick"), ("username", ALICE)],
        Some(&session),
    )
    .await;
    let params = done.redirected_to(REDIRECT, '?');
    assert_eq!(params["state"], "sso-5");
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // "Use another account" from the picker shows the login page.
    let request =
        AuthRequest::new(&t, "sso-6", &Pkce::new(), "query").set("prompt", "select_account");
    let picker = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    let other = post(
        &t,
        &t.url(&picker.form_action("picker").unwrap()),
        &[
            ("request_id", &picker.input("request_id").unwrap()),
            ("action", "other"),
        ],
        Some(&session),
    )
    .await;
    assert!(other.is_login_page(), "{}", other.body);

    // A second account joins the session: without a hint the picker lists both.
    let bob = t.user("bob").clone();
    let request = AuthRequest::new(&t, "sso-7", &Pkce::new(), "query").set("prompt", "login");
    let login = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    let mfa = log_in(&t, &login, &bob, Some(&session)).await;
    let done = submit(&t, &mfa, "mfa", &[("action", "mfa")], Some(&session)).await;
    assert_eq!(done.redirected_to(REDIRECT, '?')["state"], "sso-7");
    assert_eq!(done.session().as_deref(), Some(session.as_str()));
    let request = AuthRequest::new(&t, "sso-8", &Pkce::new(), "query");
    let picker = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert!(
        picker
            .body
            .contains("data-username=\"alice@contoso.example\""),
        "{}",
        picker.body
    );
    assert!(
        picker
            .body
            .contains("data-username=\"bob@contoso.example\""),
        "{}",
        picker.body
    );
    // ... and login_hint selects one of them silently.
    let pkce = Pkce::new();
    let request =
        AuthRequest::new(&t, "sso-9", &pkce, "query").set("login_hint", "BOB@contoso.example");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    let params = page.redirected_to(REDIRECT, '?');
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["preferred_username"],
        "bob@contoso.example"
    );
}

#[tokio::test]
async fn max_age_forces_a_fresh_login() {
    let t = common::start().await;
    let (_, _, session) = sign_in_query(&t, "alice", "age-0").await;
    t.emulator.control().advance_clock(10);

    // Ten seconds old is fresh enough for max_age=3600.
    let request = AuthRequest::new(&t, "age-1", &Pkce::new(), "query").set("max_age", "3600");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_eq!(page.redirected_to(REDIRECT, '?')["state"], "age-1");

    // A non-numeric max_age is refused.
    let request = AuthRequest::new(&t, "age-2", &Pkce::new(), "query").set("max_age", "soon");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '?'),
        "invalid_request",
        9002313,
        "age-2",
    );

    // Too old for max_age=0: a silent request cannot complete ...
    let request = AuthRequest::new(&t, "age-3", &Pkce::new(), "query")
        .set("max_age", "0")
        .set("prompt", "none");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '?'),
        "login_required",
        50058,
        "age-3",
    );

    // ... and an interactive one must show the login page (checked last, after following
    // whatever page comes first through to a fresh sign-in).
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "age-4", &pkce, "query").set("max_age", "0");
    let first = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_eq!(
        first.status,
        StatusCode::OK,
        "no silent completion: {:?}",
        first.location
    );
    let first_title = first.title();
    let straight_to_login = first.is_login_page();
    let login = if straight_to_login {
        first
    } else {
        // The account picker: picking the stale account must lead to the login page for it.
        assert!(
            first
                .body
                .contains("data-username=\"alice@contoso.example\""),
            "{}",
            first.body
        );
        let fields = [("action", "pick"), ("username", ALICE)];
        let page = submit(&t, &first, "picker", &fields, Some(&session)).await;
        assert!(
            page.is_login_page(),
            "a stale account needs its password: {}",
            page.body
        );
        assert_eq!(page.input("username").as_deref(), Some(ALICE), "pre-filled");
        page
    };
    let done = log_in(&t, &login, &t.user("alice").clone(), Some(&session)).await;
    let params = done.redirected_to(REDIRECT, '?');
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let auth_time = claims(body["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(
        auth_time >= t.emulator.control().now() - 2,
        "a fresh authentication time"
    );

    assert!(
        straight_to_login,
        "max_age=0 with a stale session must go straight to the login page, got the page {first_title:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Guest sign-in
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn guest_signs_in_to_the_resource_tenant() {
    let t = common::start().await;
    let carol = t.user("carol").clone();
    assert!(carol.guest);
    let (carol_oid, carol_home) = identity(&t, &carol.username);
    assert_eq!(carol_home, GUEST_HOME_TENANT_ID.to_string());
    assert_eq!(t.tenant(), TENANT_ID.to_string());

    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "guest-1", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let done = log_in(&t, &login, &carol, None).await;
    let params = done.redirected_to(REDIRECT, '?');
    let info = decode_client_info(&params["client_info"]);
    assert_eq!(
        info,
        json!({"uid": carol_oid, "utid": GUEST_HOME_TENANT_ID.to_string()})
    );

    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["tid"], t.tenant());
    assert_eq!(id["iss"], format!("{}/{}/v2.0", t.base(), t.tenant()));
    assert_eq!(id["preferred_username"], carol.username);
    assert_ne!(
        id["oid"], carol_oid,
        "a guest has another object id in the resource tenant"
    );
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["tid"],
        t.tenant()
    );
    let info = decode_client_info(body["client_info"].as_str().unwrap());
    assert_eq!(info["utid"], GUEST_HOME_TENANT_ID.to_string());
    assert_eq!(info["uid"], carol_oid);

    // Through /common she gets tokens for her home tenant.
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "guest-2", &pkce, "query");
    let login = get(&t, &request.url(&t, "common"), None).await;
    let params = log_in(&t, &login, &carol, None)
        .await
        .redirected_to(REDIRECT, '?');
    let (status, body) = redeem(&t, &params["code"], REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["tid"], GUEST_HOME_TENANT_ID.to_string());
    assert_eq!(id["oid"], carol_oid);

    // Alice is not a member of carol's home tenant: the login page explains.
    let request = AuthRequest::new(&t, "guest-3", &Pkce::new(), "query");
    let login = get(
        &t,
        &request.url(&t, &GUEST_HOME_TENANT_ID.to_string()),
        None,
    )
    .await;
    let refused = log_in(&t, &login, &t.user("alice").clone(), None).await;
    assert!(refused.is_login_page(), "{}", refused.body);
    assert!(
        refused
            .text_of("login-error")
            .unwrap()
            .contains("does not exist in tenant"),
        "{}",
        refused.body
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Control API: headless approval and denial
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn control_api_approves_and_denies_pending_sign_ins() {
    let t = common::start().await;
    let control = t.emulator.control();
    assert!(control.pending_authorizations().is_empty());

    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "ctl-1", &pkce, "query").set("login_hint", ALICE);
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    assert!(login.is_login_page());
    assert_eq!(
        login.input("username").as_deref(),
        Some(ALICE),
        "login_hint pre-fills the username"
    );

    let pending = control.pending_authorizations();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].state.as_deref(), Some("ctl-1"));
    assert_eq!(pending[0].client_id, t.public_id());
    assert_eq!(pending[0].redirect_uri, REDIRECT);
    assert_eq!(pending[0].login_hint.as_deref(), Some(ALICE));
    for scope in [
        "api://emulator-api/access_as_user",
        "openid",
        "profile",
        "offline_access",
    ] {
        assert!(
            pending[0].scope.split(' ').any(|s| s == scope),
            "{scope} missing: {}",
            pending[0].scope
        );
    }

    let completion = control
        .approve_authorization(Some("ctl-1"), ALICE)
        .expect("approved");
    assert_eq!(completion.redirect_uri, REDIRECT);
    assert_eq!(completion.response_mode, "query");
    assert_eq!(completion.param("state"), Some("ctl-1"));
    assert!(completion.param("client_info").is_some());
    let code = completion.param("code").expect("code").to_string();
    assert!(
        completion.url().starts_with(&format!("{REDIRECT}?code=")),
        "{}",
        completion.url()
    );
    let (status, body) = redeem(&t, &code, REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["nonce"], "nonce-ctl-1");
    assert!(
        control.pending_authorizations().is_empty(),
        "approval ends the request"
    );

    // The browser's copy of the request is gone too.
    let stale = log_in(&t, &login, &t.user("alice").clone(), None).await;
    assert_error_page(&stale, 70000);

    // Denial.
    let request = AuthRequest::new(&t, "ctl-2", &Pkce::new(), "fragment");
    get(&t, &request.url(&t, t.tenant()), None).await;
    let denied = control.deny_authorization(Some("ctl-2")).expect("denied");
    assert_eq!(denied.response_mode, "fragment");
    assert_eq!(denied.param("error"), Some("access_denied"));
    assert_eq!(denied.param("state"), Some("ctl-2"));
    assert!(
        denied
            .param("error_description")
            .unwrap()
            .starts_with("AADSTS65004: ")
    );
    assert!(
        denied
            .url()
            .starts_with(&format!("{REDIRECT}#error=access_denied")),
        "{}",
        denied.url()
    );
    assert!(control.pending_authorizations().is_empty());

    // Nothing left to approve or deny.
    assert!(matches!(
        control.approve_authorization(Some("ctl-2"), ALICE),
        Err(ControlError::NoPendingAuthorization(_))
    ));
    assert!(matches!(
        control.deny_authorization(None),
        Err(ControlError::NoPendingAuthorization(_))
    ));
    get(
        &t,
        &AuthRequest::new(&t, "ctl-3", &Pkce::new(), "query").url(&t, t.tenant()),
        None,
    )
    .await;
    assert!(matches!(
        control.approve_authorization(Some("ctl-3"), "nobody@contoso.example"),
        Err(ControlError::UnknownUser(_))
    ));

    // Approving dave records his consent.
    let (status, _) = t.password_tokens("dave", SCOPE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    control
        .approve_authorization(Some("ctl-3"), "dave@contoso.example")
        .expect("approved");
    let (status, body) = t.password_tokens("dave", SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn http_control_api_approves_and_denies_pending_sign_ins() {
    let t = common::start().await;
    let control_url = t.info.control_url.clone().expect("control API on");
    assert_eq!(control_url, t.url("/_control"));

    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "http-1", &pkce, "form_post");
    get(&t, &request.url(&t, t.tenant()), None).await;
    let (status, pending) = t.get_json(&format!("{control_url}/pending")).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(
        pending["authorization_requests"][0]["state"], "http-1",
        "{pending}"
    );
    assert_eq!(
        pending["authorization_requests"][0]["redirect_uri"],
        REDIRECT
    );

    let response = t
        .http
        .post(format!("{control_url}/authorize/approve"))
        .json(&json!({"state": "http-1", "username": ALICE}))
        .send()
        .await
        .expect("approve");
    assert_eq!(response.status(), StatusCode::OK);
    let approved: Value = response.json().await.expect("JSON");
    assert_eq!(approved["response_mode"], "form_post");
    assert_eq!(approved["redirect_uri"], REDIRECT);
    assert_eq!(approved["params"]["state"], "http-1");
    let code = approved["params"]["code"].as_str().expect("params.code");
    let url = approved["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{REDIRECT}?code=")), "{url}");
    let (status, body) = redeem(&t, code, REDIRECT, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Approving again: 404, nothing pending with that state.
    let response = t
        .http
        .post(format!("{control_url}/authorize/approve"))
        .json(&json!({"state": "http-1", "username": ALICE}))
        .send()
        .await
        .expect("approve");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("JSON");
    assert!(body["error"].as_str().unwrap().contains("http-1"), "{body}");

    // Denial over HTTP.
    get(
        &t,
        &AuthRequest::new(&t, "http-2", &Pkce::new(), "query").url(&t, t.tenant()),
        None,
    )
    .await;
    let response = t
        .http
        .post(format!("{control_url}/authorize/deny"))
        .json(&json!({"state": "http-2"}))
        .send()
        .await
        .expect("deny");
    assert_eq!(response.status(), StatusCode::OK);
    let denied: Value = response.json().await.expect("JSON");
    assert_eq!(denied["params"]["error"], "access_denied");
    assert_eq!(denied["params"]["state"], "http-2");
    let (_, pending) = t.get_json(&format!("{control_url}/pending")).await;
    assert_eq!(pending["authorization_requests"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// 11. Logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_to_registered_uris() {
    let t = common::start().await;
    let (_, _, session) = sign_in_query(&t, "alice", "out-0").await;
    let logout = |redirect: &str| {
        let endpoint = t.url(&format!("/{}/oauth2/v2.0/logout", t.tenant()));
        url::Url::parse_with_params(&endpoint, [("post_logout_redirect_uri", redirect)])
            .unwrap()
            .to_string()
    };

    let out = get(&t, &logout("http://localhost"), Some(&session)).await;
    assert!(out.status.is_redirection(), "{} {}", out.status, out.body);
    assert_eq!(out.location.as_deref(), Some("http://localhost"));
    assert_eq!(
        out.session().as_deref(),
        Some(""),
        "the cookie is cleared: {:?}",
        out.set_cookies
    );
    assert!(
        out.set_cookies.iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        out.set_cookies
    );

    // The old cookie no longer signs anyone in.
    let request = AuthRequest::new(&t, "out-1", &Pkce::new(), "query").set("prompt", "none");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert_redirect_error(
        &page.redirected_to(REDIRECT, '?'),
        "login_required",
        50058,
        "out-1",
    );
    let request = AuthRequest::new(&t, "out-2", &Pkce::new(), "query");
    let page = get(&t, &request.url(&t, t.tenant()), Some(&session)).await;
    assert!(page.is_login_page(), "{}", page.body);

    // Unregistered post-logout URI: a signed-out page, no redirect.
    let page = get(&t, &logout("https://evil.example/after-logout"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.location.is_none(), "{:?}", page.location);
    assert!(page.content_type.starts_with("text/html"));
    assert!(
        page.text_of("title").unwrap().contains("signed out"),
        "{}",
        page.body
    );

    // Entra answers a logout redirect with `302 Found`.
    assert_eq!(out.status, StatusCode::FOUND, "logout redirect status");
}

// ---------------------------------------------------------------------------------------------
// 12. Request log
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn request_log_records_the_authorize_request() {
    let t = common::start().await;
    let control = t.emulator.control();
    control.clear_requests();
    let pkce = Pkce::new();
    let request = AuthRequest::new(&t, "log-1", &pkce, "query");
    let login = get(&t, &request.url(&t, t.tenant()), None).await;
    let done = log_in(&t, &login, &t.user("alice").clone(), None).await;
    assert!(done.status.is_redirection());

    let log = control.requests();
    let path = format!("/{}/oauth2/v2.0/authorize", t.tenant());
    let start = log
        .iter()
        .find(|r| r.method == "GET" && r.path == path)
        .unwrap_or_else(|| panic!("authorize GET not logged: {log:?}"));
    assert_eq!(start.status, 200);
    let expected = [
        ("client_id", t.public_id()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", SCOPE),
        ("state", "log-1"),
        ("nonce", "nonce-log-1"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("response_mode", "query"),
        ("client_info", "1"),
    ];
    for (name, value) in expected {
        assert_eq!(
            start.query.get(name).map(String::as_str),
            Some(value),
            "query parameter {name}"
        );
    }
    assert_eq!(start.query.len(), expected.len(), "{:?}", start.query);

    let submitted = log
        .iter()
        .find(|r| r.method == "POST" && r.path == path)
        .expect("login POST logged");
    assert_eq!(
        submitted.form.get("request_id"),
        login.input("request_id").as_ref()
    );
    assert_eq!(
        submitted.form.get("username").map(String::as_str),
        Some(ALICE)
    );
    assert!(
        (300..400).contains(&submitted.status),
        "{}",
        submitted.status
    );
    let order: Vec<&str> = log.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(order, ["GET", "POST"], "oldest first");
}
