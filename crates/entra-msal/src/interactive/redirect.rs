//! Which request arriving at the loopback listener is the authorization response (pure).

use std::collections::HashMap;

use super::http1::ParsedRequest;

/// Why a request is not the authorization response: the small answer it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The HTTP status.
    pub status: u16,
    /// A short plain-text explanation.
    pub message: &'static str,
}

const fn reject(status: u16, message: &'static str) -> Rejection {
    Rejection { status, message }
}

/// The parameters of an authorization response carried by `request`: `POST /` with an
/// `application/x-www-form-urlencoded` body (`response_mode=form_post`), or `GET /?...`
/// (`response_mode=query`). It must carry a non-empty `code` or `error`; a parameter sent
/// twice makes it ambiguous and it is refused. A `Host` other than the loopback names is
/// refused too (a DNS-rebinding page could otherwise post to the listener).
pub(crate) fn authorization_response(
    request: &ParsedRequest,
) -> Result<HashMap<String, String>, Rejection> {
    if let Some(host) = request.header("host")
        && !is_loopback_host(host)
    {
        return Err(reject(400, "unexpected Host"));
    }
    let (path, query) = split_target(&request.target)?;
    if path != "/" {
        return Err(reject(404, "not found"));
    }
    let raw: &[u8] = match request.method.as_str() {
        "GET" => query.unwrap_or("").as_bytes(),
        "POST" => {
            let media_type = request
                .header("content-type")
                .and_then(|ct| ct.split(';').next())
                .map(|t| t.trim_matches([' ', '\t']));
            if !media_type
                .is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
            {
                return Err(reject(
                    415,
                    "the authorization response must be application/x-www-form-urlencoded",
                ));
            }
            &request.body
        }
        _ => return Err(reject(405, "method not allowed")),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|_| reject(400, "the parameters are not form-encoded"))?;
    let mut params = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if params.insert(name, value).is_some() {
            return Err(reject(400, "a parameter appears more than once"));
        }
    }
    let present = |name: &str| params.get(name).is_some_and(|v| !v.is_empty());
    if !present("code") && !present("error") {
        return Err(reject(400, "not an authorization response"));
    }
    Ok(params)
}

/// Whether `request` asks for the welcome page: `GET /?welcome=true` with a loopback `Host`
/// (MSAL Python's landing page, shown before the browser goes on to sign in).
pub(crate) fn is_welcome_request(request: &ParsedRequest) -> bool {
    request.method == "GET"
        && request.header("host").is_none_or(is_loopback_host)
        && matches!(
            split_target(&request.target),
            Ok(("/", Some(query))) if query.split('&').any(|p| p == "welcome=true")
        )
}

/// Path and query of an origin-form (`/p?q`) or absolute-form (`http://host/p?q`) target.
fn split_target(target: &str) -> Result<(&str, Option<&str>), Rejection> {
    let origin_form = if target.starts_with('/') {
        target
    } else {
        // Absolute form: only http:// to a loopback name.
        let rest = target
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .map(|_| &target[7..])
            .ok_or(reject(400, "unsupported request target"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || !is_loopback_host(authority) {
            return Err(reject(400, "unexpected host in the request target"));
        }
        if let Some(query) = path.strip_prefix('?') {
            return Ok(("/", Some(query)));
        }
        path
    };
    let without_fragment = origin_form.split('#').next().unwrap_or("");
    Ok(match without_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (without_fragment, None),
    })
}

/// Whether a `Host` value (`name[:port]`) names this machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => return false,
        }
    } else {
        host.split(':').next().unwrap_or("")
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> ParsedRequest {
        ParsedRequest {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    #[test]
    fn form_post_is_the_response() {
        let p = authorization_response(&request(
            "POST",
            "/",
            &[("host", "localhost:8400"), FORM],
            "code=0.AX%2Bb&state=s1&client_info=eyJ1&session_state=a+b",
        ))
        .unwrap();
        assert_eq!(p["code"], "0.AX+b");
        assert_eq!(p["state"], "s1");
        assert_eq!(p["session_state"], "a b");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn query_get_is_the_response() {
        let p = authorization_response(&request(
            "GET",
            "/?error=access_denied&error_description=User%20cancelled&state=s",
            &[("host", "127.0.0.1:1")],
            "",
        ))
        .unwrap();
        assert_eq!(p["error"], "access_denied");
        assert_eq!(p["error_description"], "User cancelled");
    }

    #[test]
    fn content_type_parameters_and_case_are_accepted() {
        let ct = (
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        );
        assert!(authorization_response(&request("POST", "/", &[ct], "code=c")).is_ok());
    }

    #[test]
    fn stray_requests_are_rejected() {
        let cases = [
            (request("GET", "/favicon.ico", &[], ""), 404),
            (request("GET", "/other?code=c", &[], ""), 404),
            (request("GET", "/", &[], ""), 400),
            (request("GET", "/?state=only", &[], ""), 400),
            (request("GET", "/?code=", &[], ""), 400),
            (request("GET", "/?code=a&code=b", &[], ""), 400),
            (request("POST", "/", &[], "code=c"), 415),
            (
                request("POST", "/", &[("content-type", "text/plain")], "code=c"),
                415,
            ),
            (request("POST", "/", &[FORM], ""), 400),
            (request("PUT", "/", &[FORM], "code=c"), 405),
            (request("HEAD", "/?code=c", &[], ""), 405),
            (request("get", "/?code=c", &[], ""), 405),
            (request("GET", "*", &[], ""), 400),
            (
                request("GET", "/?code=c", &[("host", "evil.example")], ""),
                400,
            ),
            (
                request(
                    "GET",
                    "/?code=c",
                    &[("host", "localhost.evil.example:80")],
                    "",
                ),
                400,
            ),
            (request("GET", "/?code=c", &[("host", "[::1")], ""), 400),
            (request("GET", "http://evil.example/?code=c", &[], ""), 400),
            (
                request("GET", "http://localhost@evil/?code=c", &[], ""),
                400,
            ),
            (request("GET", "https://localhost/?code=c", &[], ""), 400),
        ];
        for (req, status) in cases {
            assert_eq!(
                authorization_response(&req).map_err(|r| r.status),
                Err(status),
                "{req:?}"
            );
        }
    }

    #[test]
    fn absolute_form_and_loopback_hosts() {
        for target in [
            "http://localhost:8400/?code=c",
            "HTTP://127.0.0.1?code=c",
            "http://[::1]:9/?code=c#frag",
        ] {
            let p = authorization_response(&request("GET", target, &[], "")).unwrap();
            assert_eq!(p["code"], "c", "{target}");
        }
        for host in ["localhost", "LOCALHOST:1", "127.0.0.1:65535", "[::1]:80"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["", "127.0.0.2", "0.0.0.0", "[::]", "example.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn invalid_utf8_in_parameters_does_not_panic() {
        let p = authorization_response(&request("GET", "/?code=%FF%FE", &[], "")).unwrap();
        assert_eq!(p["code"], "\u{fffd}\u{fffd}");
    }
}
