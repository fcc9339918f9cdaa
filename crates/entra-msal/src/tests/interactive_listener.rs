//! The loopback redirect listener over real sockets, and a real headless Chromium signing in at
//! the emulator through it.

use super::support;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use entra_msal::Error;
use entra_msal::interactive::{LoopbackListener, ResultPages, UrlOpener};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use support::repo_root;

type Outcome = Result<HashMap<String, String>, Error>;

/// Bounds every client-side wait, so a listener bug fails the test instead of hanging it.
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

/// Starts waiting on a fresh listener in the background; returns its port and the task.
async fn start(
    expected_state: Option<&str>,
    timeout: Option<Duration>,
    pages: ResultPages,
) -> (u16, JoinHandle<Outcome>) {
    let listener = LoopbackListener::bind(None).await.unwrap();
    start_with(listener, expected_state, timeout, pages)
}

fn start_with(
    listener: LoopbackListener,
    expected_state: Option<&str>,
    timeout: Option<Duration>,
    pages: ResultPages,
) -> (u16, JoinHandle<Outcome>) {
    let port = listener.port();
    let expected_state = expected_state.map(str::to_string);
    let task = tokio::spawn(async move {
        listener
            .wait_for_response(expected_state.as_deref(), timeout, &pages)
            .await
    });
    (port, task)
}

/// Sends raw bytes and reads the answer until the listener closes the connection.
async fn exchange(port: u16, request: &[u8]) -> String {
    tokio::time::timeout(CLIENT_LIMIT, async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("the listener answered in time")
}

fn form_post(body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nOrigin: https://login.example\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n").into_bytes()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

async fn finish(task: JoinHandle<Outcome>) -> Outcome {
    tokio::time::timeout(CLIENT_LIMIT, task)
        .await
        .expect("the listener returned in time")
        .expect("the listener task did not panic")
}

/// Lets the listener run a moment, then checks it is still waiting.
async fn assert_still_waiting(task: &JoinHandle<Outcome>) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "a stray request ended the wait");
}

#[tokio::test]
async fn form_post_response_is_returned_and_the_success_page_shown() {
    let (port, task) = start(Some("st-1"), None, ResultPages::default()).await;
    let answer = exchange(
        port,
        &form_post("code=0.AXYZ%2Babc&state=st-1&client_info=eyJ1aWQiOiIxIn0&session_state=s"),
    )
    .await;
    assert_eq!(status_of(&answer), 200);
    assert!(answer.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert!(body_of(&answer).contains("Authentication complete"));
    let params = finish(task).await.unwrap();
    assert_eq!(params["code"], "0.AXYZ+abc");
    assert_eq!(params["state"], "st-1");
    assert_eq!(params["client_info"], "eyJ1aWQiOiIxIn0");
    assert_eq!(params["session_state"], "s");
}

#[tokio::test]
async fn query_response_is_returned() {
    let (port, task) = start(None, None, ResultPages::default()).await;
    let answer = exchange(port, &get("/?code=abc&state=xyz")).await;
    assert_eq!(status_of(&answer), 200);
    let params = finish(task).await.unwrap();
    assert_eq!(
        params,
        HashMap::from([
            ("code".into(), "abc".into()),
            ("state".into(), "xyz".into())
        ])
    );
}

#[tokio::test]
async fn a_real_http_client_gets_the_page() {
    let pages = ResultPages {
        success_html: "<p>custom success</p>".into(),
        error_html: "<p>custom error {error}</p>".into(),
    };
    let (port, task) = start(Some("s"), None, pages).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .post(format!("http://localhost:{port}"))
        .form(&[("code", "c o d e"), ("state", "s")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "<p>custom success</p>");
    assert_eq!(finish(task).await.unwrap()["code"], "c o d e");
}

#[tokio::test]
async fn error_response_is_returned_and_the_error_page_escaped() {
    let (port, task) = start(Some("s"), None, ResultPages::default()).await;
    let answer = exchange(
        port,
        &form_post(
            "error=access_denied&error_description=AADSTS65004%3A+%3Cb%3Edeclined%3C%2Fb%3E+%26+co&state=s",
        ),
    )
    .await;
    assert_eq!(status_of(&answer), 200);
    let body = body_of(&answer);
    assert!(body.contains("access_denied"), "{body}");
    assert!(
        body.contains("AADSTS65004: &lt;b&gt;declined&lt;/b&gt; &amp; co"),
        "{body}"
    );
    assert!(!body.contains("<b>declined"));
    let params = finish(task).await.unwrap();
    assert_eq!(params["error"], "access_denied");
    assert_eq!(
        params["error_description"],
        "AADSTS65004: <b>declined</b> & co"
    );
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn custom_pages_are_used_for_success_and_error() {
    let pages = ResultPages {
        success_html: "<h1>Welcome back to Contoso Tool</h1>".into(),
        error_html: "<h1>No luck</h1><pre>{error}|{error_description}|{unknown}</pre>".into(),
    };
    let (port, task) = start(None, None, pages.clone()).await;
    let answer = exchange(port, &get("/?code=1")).await;
    assert_eq!(body_of(&answer), "<h1>Welcome back to Contoso Tool</h1>");
    finish(task).await.unwrap();

    let (port, task) = start(None, None, pages).await;
    let answer = exchange(
        port,
        &get("/?error=login_required&error_description=%22x%22"),
    )
    .await;
    assert_eq!(
        body_of(&answer),
        "<h1>No luck</h1><pre>login_required|&quot;x&quot;|{unknown}</pre>"
    );
    assert_eq!(finish(task).await.unwrap()["error"], "login_required");
}

#[tokio::test]
async fn stray_requests_do_not_end_the_wait() {
    let (port, task) = start(Some("s"), None, ResultPages::default()).await;

    // A connection that sends nothing, held open for the whole test.
    let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // A slow client that sent half a head and stalls.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();

    let favicon = exchange(port, &get("/favicon.ico")).await;
    assert_eq!(status_of(&favicon), 404);
    assert_eq!(
        status_of(&exchange(port, &get("/other?code=c&state=s")).await),
        404
    );
    assert_eq!(status_of(&exchange(port, &get("/")).await), 400);
    assert_eq!(status_of(&exchange(port, &get("/?state=s")).await), 400);
    assert_eq!(
        status_of(&exchange(port, b"garbage\x00\xff\r\n\r\n").await),
        400
    );
    assert_eq!(
        status_of(&exchange(port, b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\ncode=").await),
        415
    );
    assert_eq!(
        status_of(&exchange(port, b"DELETE /?code=c HTTP/1.1\r\n\r\n").await),
        405
    );
    // Bad bodies: chunked, Content-Length mismatch, folded headers.
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\
        Content-Type: application/x-www-form-urlencoded\r\n\r\n6\r\ncode=c\r\n0\r\n\r\n";
    assert_eq!(status_of(&exchange(port, chunked).await), 400);
    let mismatch = b"POST / HTTP/1.1\r\nContent-Length: 6\r\nContent-Length: 7\r\n\r\ncode=c";
    assert_eq!(status_of(&exchange(port, mismatch).await), 400);
    let folded = b"GET /?code=c HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n";
    assert_eq!(status_of(&exchange(port, folded).await), 400);
    // Too large.
    let mut huge = b"GET /?code=".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70 * 1024));
    assert_eq!(status_of(&exchange(port, &huge).await), 413);
    // Garbage without a line end, then the client closes its side: answered, no effect.
    {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"\x16\x03\x01\x00\xa5\x01\x00").await.unwrap();
        s.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(CLIENT_LIMIT, s.read_to_end(&mut answer)).await;
        assert_eq!(status_of(&String::from_utf8_lossy(&answer)), 400);
    }
    // A connection that opens and closes at once.
    drop(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    assert_still_waiting(&task).await;

    // The real response still gets through, while the silent and slow connections are open.
    let answer = exchange(port, &form_post("code=real&state=s")).await;
    assert_eq!(status_of(&answer), 200);
    assert_eq!(finish(task).await.unwrap()["code"], "real");
    // The slow client's connection was closed with the listener.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(CLIENT_LIMIT, slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow connection was closed");
}

#[tokio::test]
async fn wrong_state_is_ignored_then_the_right_state_accepted() {
    let (port, task) = start(Some("right"), None, ResultPages::default()).await;
    let forged = exchange(port, &form_post("code=forged&state=wrong")).await;
    assert_eq!(status_of(&forged), 400);
    assert!(body_of(&forged).contains("state_mismatch"));
    let missing = exchange(port, &get("/?code=forged")).await;
    assert_eq!(status_of(&missing), 400);
    let error_without_state = exchange(port, &get("/?error=access_denied")).await;
    assert_eq!(status_of(&error_without_state), 400);
    assert_still_waiting(&task).await;
    let answer = exchange(port, &form_post("code=genuine&state=right")).await;
    assert_eq!(status_of(&answer), 200);
    let params = finish(task).await.unwrap();
    assert_eq!(params["code"], "genuine");
    assert_eq!(params["state"], "right");
}

#[tokio::test]
async fn expect_continue_clients_are_served() {
    let (port, task) = start(None, None, ResultPages::default()).await;
    let body = "code=after-continue";
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nExpect: 100-continue\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(CLIENT_LIMIT, stream.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(CLIENT_LIMIT, stream.read_to_string(&mut answer)).await;
    assert_eq!(status_of(&answer), 200);
    assert_eq!(finish(task).await.unwrap()["code"], "after-continue");
}

#[tokio::test]
async fn slow_connections_are_cut_off_by_the_connection_timeout() {
    let listener = LoopbackListener::bind(None)
        .await
        .unwrap()
        .with_connection_timeout(Duration::from_millis(200));
    let (port, task) = start_with(listener, None, None, ResultPages::default());
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(b"GET /?code=").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(CLIENT_LIMIT, slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled connection was closed by the listener"
    );
    assert!(rest.is_empty());
    assert!(!task.is_finished());
    exchange(port, &get("/?code=ok")).await;
    assert_eq!(finish(task).await.unwrap()["code"], "ok");
}

#[tokio::test]
async fn timeout_gives_interaction_timeout_and_frees_the_port() {
    let listener = LoopbackListener::bind(None).await.unwrap();
    let port = listener.port();
    let waited = Duration::from_millis(300);
    let result = listener
        .wait_for_response(None, Some(waited), &ResultPages::default())
        .await;
    match result {
        Err(Error::InteractionTimeout { waited: w }) => assert_eq!(w, waited),
        other => panic!("expected InteractionTimeout, got {other:?}"),
    }
    // The same port can be bound again at once.
    let again = LoopbackListener::bind(Some(port)).await.unwrap();
    assert_eq!(again.port(), port);
}

#[tokio::test]
async fn timeout_after_stray_connections_still_frees_the_port() {
    let listener = LoopbackListener::bind(None).await.unwrap();
    let port = listener.port();
    let (_, task) = start_with(
        listener,
        None,
        Some(Duration::from_millis(300)),
        ResultPages::default(),
    );
    let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    exchange(port, &get("/favicon.ico")).await;
    assert!(matches!(
        finish(task).await,
        Err(Error::InteractionTimeout { .. })
    ));
    LoopbackListener::bind(Some(port)).await.unwrap();
}

#[tokio::test]
async fn cancellation_gives_cancelled() {
    let listener = LoopbackListener::bind(None).await.unwrap();
    let port = listener.port();
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        listener
            .wait_for_response_until(None, None, &ResultPages::default(), async {
                let _ = cancelled.await;
            })
            .await
    });
    exchange(port, &get("/favicon.ico")).await;
    cancel.send(()).unwrap();
    assert!(matches!(finish(task).await, Err(Error::Cancelled(_))));
    LoopbackListener::bind(Some(port)).await.unwrap();
}

#[tokio::test]
async fn listens_on_ipv4_loopback_only() {
    let listener = LoopbackListener::bind(None).await.unwrap();
    assert_eq!(
        listener.local_addr(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, listener.port()))
    );
    assert_eq!(
        listener.redirect_uri(),
        format!("http://localhost:{}", listener.port())
    );
    // The machine's outward-facing address (no packet is sent by a UDP connect).
    let outward = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    match outward {
        Some(ip) => {
            let refused = tokio::time::timeout(
                Duration::from_secs(5),
                TcpStream::connect((ip, listener.port())),
            )
            .await;
            assert!(
                !matches!(refused, Ok(Ok(_))),
                "the listener must not be reachable on {ip}"
            );
        }
        None => eprintln!("no non-loopback address on this machine; only local_addr checked"),
    }
    let v6 = TcpStream::connect((IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), listener.port())).await;
    assert!(v6.is_err(), "not bound on ::1 either");
}

#[tokio::test]
async fn port_in_use_is_a_configuration_error_naming_the_port() {
    let first = LoopbackListener::bind(None).await.unwrap();
    let port = first.port();
    match LoopbackListener::bind(Some(port)).await {
        Err(Error::Configuration { message, .. }) => {
            assert!(message.contains(&format!("port {port}")), "{message}");
            assert!(message.contains("in use"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // Some(0) and None both let the OS pick.
    let picked = LoopbackListener::bind(Some(0)).await.unwrap();
    assert_ne!(picked.port(), 0);
}

// ----- a real browser against the emulator -----

/// Missing test dependencies fail the test under CI and skip it elsewhere.
fn require(what: &str, path: &Path, hint: &str) -> bool {
    path.exists()
        || entra_test_support::missing::<()>(&format!(
            "real-browser sign-in: {what} missing at {} ({hint})",
            path.display()
        ))
        .is_some()
}

/// Opens the URL by running `interop/browser_signin.py URL` (Selenium driving headless
/// Chromium), which signs in and exits once the browser reached the loopback listener.
struct SeleniumOpener {
    python: PathBuf,
    env: Vec<(String, String)>,
    child: Mutex<Option<Child>>,
}

impl UrlOpener for SeleniumOpener {
    fn open(&self, url: &str) -> Result<(), Error> {
        let child = Command::new(&self.python)
            .arg(repo_root().join("interop/browser_signin.py"))
            .arg(url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::NoBrowser {
                url: url.to_string(),
                message: format!("could not run browser_signin.py: {e}"),
            })?;
        *self.child.lock().unwrap() = Some(child);
        Ok(())
    }
}

impl SeleniumOpener {
    /// Waits for the script and returns (success, stdout, stderr).
    async fn finish(&self) -> (bool, String, String) {
        let child = self.child.lock().unwrap().take().expect("the script ran");
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_browser_signs_in_through_the_emulator() {
    let python = std::env::var_os("ENTRA_INTEROP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-interop/bin/python"));
    if !require(
        "the Python interpreter with selenium",
        &python,
        "run scripts/test, or set ENTRA_INTEROP_PYTHON",
    ) || !require(
        "Chromium",
        Path::new("/usr/bin/chromium"),
        "apt-get install chromium",
    ) || !require(
        "chromedriver",
        Path::new("/usr/bin/chromedriver"),
        "apt-get install chromium-driver",
    ) {
        return;
    }

    let emulator = entra_emulator::Emulator::start(entra_emulator::ready_made().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let info = emulator.connection_info(dir.path()).unwrap();
    let user = info
        .users
        .iter()
        .find(|u| !u.mfa_required && !u.guest && u.consent_given)
        .expect("the ready-made tenant has a plain user");

    let listener = LoopbackListener::bind(None).await.unwrap();
    let redirect_uri = listener.redirect_uri();
    let pkce = entra_msal::oauth::pkce::Pkce::generate();
    let state = entra_msal::oauth::pkce::random_urlsafe(16);
    let scope = "api://emulator-api/access_as_user openid profile offline_access";
    let client_id = entra_emulator::ready_made::PUBLIC_CLIENT_ID;
    let mut auth_uri =
        url::Url::parse(&format!("{}/oauth2/v2.0/authorize", emulator.authority())).unwrap();
    auth_uri
        .query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("response_mode", "form_post")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("client_info", "1");

    let mut script_env = vec![
        ("INTEROP_USERNAME".to_string(), user.username.clone()),
        ("INTEROP_PASSWORD".to_string(), user.password.clone()),
        ("INTEROP_TIMEOUT".to_string(), "90".to_string()),
    ];
    if let Some(ca) = &info.ca_file {
        script_env.push(("INTEROP_CA_FILE".to_string(), ca.clone()));
    }
    let opener = SeleniumOpener {
        python,
        env: script_env,
        child: Mutex::new(None),
    };
    let opener_ref: &dyn UrlOpener = &opener;
    opener_ref.open(auth_uri.as_str()).unwrap();
    let result = listener
        .wait_for_response(
            Some(&state),
            Some(Duration::from_secs(150)),
            &ResultPages::default(),
        )
        .await;
    let (script_ok, stdout, stderr) = opener.finish().await;
    let params = match result {
        Ok(params) => params,
        Err(e) => {
            panic!("the listener failed: {e}\nscript stdout: {stdout}\nscript stderr: {stderr}")
        }
    };
    assert!(script_ok, "browser_signin.py failed:\n{stdout}\n{stderr}");
    let status: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(status["result"], "redirected", "{stdout}");
    assert!(
        status["page"]
            .as_str()
            .unwrap_or("")
            .contains("Authentication complete"),
        "the browser showed the success page: {stdout}"
    );
    assert_eq!(params.get("state"), Some(&state));
    let code = params.get("code").expect("an authorization code").clone();
    assert!(!code.is_empty());
    assert!(params.contains_key("client_info"), "{:?}", params.keys());

    // The code is real: the emulator redeems it (with the PKCE verifier) for tokens.
    let http = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(
            reqwest::Certificate::from_pem(emulator.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let response = http
        .post(format!("{}/oauth2/v2.0/token", emulator.authority()))
        .form(&[
            ("client_id", client_id),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("scope", scope),
            ("client_info", "1"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let tokens: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(tokens["id_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

// Guards `interactive/listener.rs` (`TcpListener::bind((Ipv4Addr::LOCALHOST, port))`, the
// one-shot claim, and the timeout that frees the port).
#[tokio::test]
async fn loopback_listener_is_loopback_only_one_shot_and_closes_on_timeout() {
    let listener = LoopbackListener::bind(None).await.unwrap();
    let addr = listener.local_addr();
    assert_eq!(addr.ip(), IpAddr::from([127, 0, 0, 1]));
    if let Some(ip) = support::non_loopback_ip() {
        assert!(
            support::refused(SocketAddr::new(ip, addr.port())).await,
            "the listener answered on {ip}"
        );
    } else {
        eprintln!("NOTE: no non-loopback interface; only the bound address was checked");
    }
    let pages = ResultPages::default();
    let waiter = tokio::spawn(async move {
        listener
            .wait_for_response(Some("s1"), Some(Duration::from_secs(30)), &pages)
            .await
    });
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/", addr.port());
    // A forged state is ignored; the real response ends the wait.
    http.post(&url)
        .form(&[("code", "forged"), ("state", "other")])
        .send()
        .await
        .unwrap();
    http.post(&url)
        .form(&[("code", "c1"), ("state", "s1")])
        .send()
        .await
        .unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got["code"], "c1");
    // A second delivery finds nobody listening.
    assert!(
        http.post(&url)
            .form(&[("code", "c2"), ("state", "s1")])
            .send()
            .await
            .is_err(),
        "the listener accepted a second response"
    );

    // Timeout: a typed error, and the port is closed.
    let listener = LoopbackListener::bind(None).await.unwrap();
    let addr = listener.local_addr();
    let err = listener
        .wait_for_response(
            None,
            Some(Duration::from_millis(200)),
            &ResultPages::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InteractionTimeout { .. }), "{err:?}");
    assert!(
        support::refused(addr).await,
        "the port stayed open after the timeout"
    );
}

/// An explicit non-loopback bind (a container's `0.0.0.0`): reachable through the published
/// port, still answering only requests addressed to a loopback name.
#[tokio::test]
async fn an_explicit_all_interfaces_bind_keeps_the_host_check() {
    let listener = LoopbackListener::bind_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), None)
        .await
        .unwrap();
    assert_eq!(
        listener.local_addr().ip(),
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    assert_eq!(
        listener.redirect_uri(),
        format!("http://localhost:{}", listener.port())
    );
    let (port, task) = start_with(listener, Some("s"), None, ResultPages::default());
    // A page on another machine naming the container's address is refused.
    let foreign = exchange(
        port,
        b"GET /?code=c&state=s HTTP/1.1\r\nHost: 172.17.0.2:8400\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&foreign), 400);
    // Through the machine's own outward address (what a published port forwards to), a
    // request for localhost is the browser's redirect.
    let outward = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    let answer = tokio::time::timeout(CLIENT_LIMIT, async {
        let target = outward.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut stream = TcpStream::connect((target, port)).await.unwrap();
        stream.write_all(&get("/?code=c&state=s")).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(finish(task).await.unwrap()["code"], "c");
}

/// MSAL Python's `welcome_template`: `GET /?welcome=true` shows the page, and waiting goes on.
#[tokio::test]
async fn the_welcome_page_is_served_and_waiting_continues() {
    let listener = LoopbackListener::bind(None)
        .await
        .unwrap()
        .with_welcome_page(
            "<a href='https://login.example/authorize?a=1&amp;b=2'>Sign in</a>".into(),
        );
    assert_eq!(
        listener.welcome_uri(),
        format!("http://localhost:{}/?welcome=true", listener.port())
    );
    let (port, task) = start_with(listener, None, None, ResultPages::default());
    let welcome = exchange(port, &get("/?welcome=true")).await;
    assert_eq!(status_of(&welcome), 200);
    assert!(body_of(&welcome).contains("Sign in"), "{welcome}");
    assert!(!task.is_finished());
    let answer = exchange(port, &get("/?code=after-welcome")).await;
    assert_eq!(status_of(&answer), 200);
    assert_eq!(finish(task).await.unwrap()["code"], "after-welcome");

    // Without a welcome page the same request is just not an authorization response.
    let (port, task) = start(None, None, ResultPages::default()).await;
    assert_eq!(
        status_of(&exchange(port, &get("/?welcome=true")).await),
        400
    );
    exchange(port, &get("/?code=x")).await;
    finish(task).await.unwrap();
}
