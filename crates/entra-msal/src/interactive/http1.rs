//! The smallest HTTP/1.x server-side codec the loopback listener needs: a pure request parser
//! and a response serializer. No I/O happens here.
//!
//! What is accepted, and why the rest is refused:
//!
//! - `CRLF` and bare `LF` line ends (RFC 9112 §2.2 lets a recipient accept `LF`), and up to
//!   [`MAX_LEADING_EMPTY_LINES`] empty lines before the request line.
//! - `HTTP/1.0` and `HTTP/1.1`; any other version gets `505`.
//! - A body framed by `Content-Length` (repeated or comma-separated identical values are one
//!   value; differing ones are an error). `Transfer-Encoding` (chunked or otherwise) is refused
//!   with `400`: browsers frame form posts with `Content-Length`, and not decoding chunked bodies
//!   keeps the parser small and free of request-smuggling ambiguity.
//! - Obsolete line folding (a header line starting with a space or tab) is refused with `400`,
//!   which RFC 9112 §5.2 allows.
//! - Bytes after the body (a pipelined request) are ignored: the listener answers one request
//!   per connection and closes it.
//! - A request larger than [`MAX_REQUEST_BYTES`] (head plus body) gets `413`; more than
//!   [`MAX_HEADERS`] header lines get `431`.

/// The largest request (head plus body) the listener reads.
pub(crate) const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The most header lines a request may have.
pub(crate) const MAX_HEADERS: usize = 100;
/// How many empty lines may precede the request line (RFC 9112 §2.2 asks for at least one).
pub(crate) const MAX_LEADING_EMPTY_LINES: usize = 8;

/// A complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedRequest {
    /// The method, case preserved (methods are case-sensitive).
    pub method: String,
    /// The request target as sent (origin form `/path?query`, or absolute form).
    pub target: String,
    /// The headers in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes; empty without one).
    pub body: Vec<u8>,
}

impl ParsedRequest {
    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why bytes are not (yet) a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// More bytes are needed. `total` is the full request length once the head is known;
    /// `expect_continue` is set when the head is complete and the client waits for
    /// `100 Continue` before sending the body.
    Incomplete {
        /// Head plus body length, when the head is complete.
        total: Option<usize>,
        /// The client sent `Expect: 100-continue`.
        expect_continue: bool,
    },
    /// The request exceeds [`MAX_REQUEST_BYTES`].
    TooLarge,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// The request line is not `METHOD SP target SP HTTP/x.y`.
    BadRequestLine,
    /// An HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// A header line that is not `name: value`, or a value with control characters.
    BadHeader,
    /// A header line starting with whitespace (obsolete line folding).
    ObsoleteLineFolding,
    /// `Content-Length` is not a number, or several differing values were sent.
    BadContentLength,
    /// `Transfer-Encoding` was sent (chunked bodies are not decoded).
    TransferEncoding,
}

impl ParseError {
    /// The status to answer with (not meaningful for `Incomplete`).
    pub fn status(self) -> u16 {
        match self {
            Self::Incomplete { .. } => 400,
            Self::TooLarge => 413,
            Self::TooManyHeaders => 431,
            Self::UnsupportedVersion => 505,
            Self::BadRequestLine
            | Self::BadHeader
            | Self::ObsoleteLineFolding
            | Self::BadContentLength
            | Self::TransferEncoding => 400,
        }
    }

    /// A short, human-readable reason (sent in the plain-text answer).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Incomplete { .. } => "incomplete request",
            Self::TooLarge => "request too large",
            Self::TooManyHeaders => "too many header lines",
            Self::BadRequestLine => "malformed request line",
            Self::UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are supported",
            Self::BadHeader => "malformed header line",
            Self::ObsoleteLineFolding => "folded header lines are not accepted",
            Self::BadContentLength => "invalid Content-Length",
            Self::TransferEncoding => "Transfer-Encoding is not supported; send Content-Length",
        }
    }
}

/// Parses one request from the start of `bytes`.
///
/// Returns [`ParseError::Incomplete`] while more bytes could complete it, so the caller can
/// append what it reads and call again.
pub(crate) fn parse_request(bytes: &[u8]) -> Result<ParsedRequest, ParseError> {
    let incomplete_head = || {
        if bytes.len() >= MAX_REQUEST_BYTES {
            Err(ParseError::TooLarge)
        } else {
            Err(ParseError::Incomplete {
                total: None,
                expect_continue: false,
            })
        }
    };
    let mut pos = 0;
    let mut request_line: Option<&[u8]> = None;
    let mut header_lines: Vec<&[u8]> = Vec::new();
    let mut leading_empty = 0;
    let head_end = loop {
        let Some(offset) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            return incomplete_head();
        };
        let mut line = &bytes[pos..pos + offset];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        pos += offset + 1;
        if pos > MAX_REQUEST_BYTES {
            return Err(ParseError::TooLarge);
        }
        if line.is_empty() {
            if request_line.is_none() {
                leading_empty += 1;
                if leading_empty > MAX_LEADING_EMPTY_LINES {
                    return Err(ParseError::BadRequestLine);
                }
                continue;
            }
            break pos;
        }
        if request_line.is_none() {
            request_line = Some(line);
        } else {
            if header_lines.len() == MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            header_lines.push(line);
        }
    };
    let Some(request_line) = request_line else {
        return incomplete_head();
    };
    let (method, target) = parse_request_line(request_line)?;
    let mut headers = Vec::with_capacity(header_lines.len());
    for line in header_lines {
        headers.push(parse_header_line(line)?);
    }
    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(ParseError::TransferEncoding);
    }
    let body_len = content_length(&headers)?.unwrap_or(0);
    let total = usize::try_from(body_len)
        .ok()
        .and_then(|b| head_end.checked_add(b))
        .filter(|&t| t <= MAX_REQUEST_BYTES)
        .ok_or(ParseError::TooLarge)?;
    if bytes.len() < total {
        let expect_continue = headers
            .iter()
            .any(|(n, v)| n == "expect" && v.eq_ignore_ascii_case("100-continue"));
        return Err(ParseError::Incomplete {
            total: Some(total),
            expect_continue,
        });
    }
    Ok(ParsedRequest {
        method,
        target,
        headers,
        body: bytes[head_end..total].to_vec(),
    })
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_request_line(line: &[u8]) -> Result<(String, String), ParseError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine);
    };
    if method.is_empty() || !method.iter().all(|&b| is_token_char(b)) {
        return Err(ParseError::BadRequestLine);
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(ParseError::BadRequestLine);
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => {}
        v if v.starts_with(b"HTTP/") => return Err(ParseError::UnsupportedVersion),
        _ => return Err(ParseError::BadRequestLine),
    }
    // Both are ASCII, checked above.
    let method = String::from_utf8_lossy(method).into_owned();
    let target = String::from_utf8_lossy(target).into_owned();
    Ok((method, target))
}

fn parse_header_line(line: &[u8]) -> Result<(String, String), ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::ObsoleteLineFolding);
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ParseError::BadHeader)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
        return Err(ParseError::BadHeader);
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ParseError::BadHeader);
    }
    let value = String::from_utf8_lossy(value);
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        value.trim_matches([' ', '\t']).to_string(),
    ))
}

/// The one `Content-Length`, when sent.
fn content_length(headers: &[(String, String)]) -> Result<Option<u64>, ParseError> {
    let mut length = None;
    for (_, value) in headers.iter().filter(|(n, _)| n == "content-length") {
        for item in value.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if item.is_empty() || item.len() > 20 || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::BadContentLength);
            }
            let n: u64 = item.parse().map_err(|_| ParseError::BadContentLength)?;
            match length {
                Some(previous) if previous != n => return Err(ParseError::BadContentLength),
                _ => length = Some(n),
            }
        }
    }
    Ok(length)
}

/// The reason phrase of the statuses the listener sends.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A complete response that closes the connection.
pub(crate) fn response(
    status: u16,
    content_type: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         X-Content-Type-Options: nosniff\r\n",
        reason_phrase(status),
        body.len()
    );
    for (name, value) in extra_headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The interim answer to `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete(total: Option<usize>) -> Result<ParsedRequest, ParseError> {
        Err(ParseError::Incomplete {
            total,
            expect_continue: false,
        })
    }

    const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: localhost:8400\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n\
        code=abc&state=xyz12";

    #[test]
    fn parses_a_form_post() {
        let r = parse_request(POST).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/");
        assert_eq!(r.header("host"), Some("localhost:8400"));
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.body, b"code=abc&state=xyz12");
    }

    #[test]
    fn parses_a_get_without_body() {
        let r = parse_request(b"GET /?code=1&state=2 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/?code=1&state=2");
        assert!(r.body.is_empty());
    }

    #[test]
    fn every_prefix_is_incomplete_and_never_panics() {
        let head_len = POST.len() - 20;
        for cut in 0..POST.len() {
            let expected = if cut < head_len {
                None
            } else {
                Some(POST.len())
            };
            assert_eq!(
                parse_request(&POST[..cut]),
                incomplete(expected),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bare_lf_and_leading_empty_lines_are_accepted() {
        let r = parse_request(b"\r\n\nGET /x HTTP/1.0\nHost: a\n\n").unwrap();
        assert_eq!(r.target, "/x");
        assert_eq!(r.header("host"), Some("a"));
        let many = [
            &b"\r\n".repeat(MAX_LEADING_EMPTY_LINES + 1)[..],
            b"GET / HTTP/1.1\r\n\r\n",
        ]
        .concat();
        assert_eq!(parse_request(&many), Err(ParseError::BadRequestLine));
        // Only empty lines so far: still waiting.
        assert_eq!(parse_request(b"\r\n\r\n"), incomplete(None));
    }

    #[test]
    fn extra_bytes_after_the_body_are_ignored() {
        let mut bytes = POST.to_vec();
        bytes.extend_from_slice(b"GET /favicon.ico HTTP/1.1\r\n\r\n");
        assert_eq!(parse_request(&bytes).unwrap().body, b"code=abc&state=xyz12");
    }

    #[test]
    fn content_length_rules() {
        let req = |cl: &str| format!("POST / HTTP/1.1\r\n{cl}\r\n\r\nabcd").into_bytes();
        assert_eq!(
            parse_request(&req("Content-Length: 4")).unwrap().body,
            b"abcd"
        );
        assert_eq!(
            parse_request(&req("Content-Length: 2")).unwrap().body,
            b"ab"
        );
        assert_eq!(
            parse_request(&req("Content-Length: 4\r\nContent-Length: 4"))
                .unwrap()
                .body,
            b"abcd"
        );
        assert_eq!(
            parse_request(&req("Content-Length: 4, 4")).unwrap().body,
            b"abcd"
        );
        for bad in [
            "Content-Length: 4\r\nContent-Length: 5",
            "Content-Length: 4, 3",
            "Content-Length: -1",
            "Content-Length: +4",
            "Content-Length: 4x",
            "Content-Length: ",
            "Content-Length: 0x10",
            "Content-Length: 99999999999999999999999",
        ] {
            assert_eq!(
                parse_request(&req(bad)),
                Err(ParseError::BadContentLength),
                "{bad}"
            );
        }
        // Announced more than was sent: waits for the rest.
        let head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            parse_request(format!("{head}abcd").as_bytes()),
            incomplete(Some(head.len() + 10))
        );
        // Announced more than the limit: refused at once.
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"),
            Err(ParseError::TooLarge)
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"),
            Err(ParseError::TooLarge)
        );
    }

    #[test]
    fn chunked_bodies_are_refused() {
        let r = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ncode\r\n0\r\n\r\n";
        assert_eq!(parse_request(r), Err(ParseError::TransferEncoding));
        assert_eq!(ParseError::TransferEncoding.status(), 400);
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\nabcd";
        assert_eq!(parse_request(both), Err(ParseError::TransferEncoding));
    }

    #[test]
    fn header_folding_and_bad_headers_are_refused() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n"),
            Err(ParseError::ObsoleteLineFolding)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"),
            Err(ParseError::ObsoleteLineFolding)
        );
        for bad in [
            &b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : space before colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: bare\rcr\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: nul\0\r\n\r\n",
            b"GET / HTTP/1.1\r\nX\xffA: b\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), Err(ParseError::BadHeader), "{bad:?}");
        }
        // Non-ASCII in a value is obs-text: kept (lossily), not an error.
        let r = parse_request(b"GET / HTTP/1.1\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n").unwrap();
        assert_eq!(r.header("x-a"), Some("caf\u{e9} \u{fffd}"));
    }

    #[test]
    fn bad_request_lines_and_versions() {
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b" GET / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
            b"GET / FTP/1.0\r\n\r\n",
        ] {
            assert_eq!(
                parse_request(bad),
                Err(ParseError::BadRequestLine),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_request(b"GET / HTTP/2.0\r\n\r\n"),
            Err(ParseError::UnsupportedVersion)
        );
        assert_eq!(ParseError::UnsupportedVersion.status(), 505);
    }

    #[test]
    fn size_limits() {
        let mut huge = b"GET / HTTP/1.1\r\nX-A: ".to_vec();
        huge.resize(MAX_REQUEST_BYTES, b'a');
        assert_eq!(parse_request(&huge), Err(ParseError::TooLarge));
        huge.truncate(MAX_REQUEST_BYTES - 1);
        assert_eq!(parse_request(&huge), incomplete(None));
        // No newline at all (garbage): too large once the limit is reached.
        assert_eq!(
            parse_request(&vec![0u8; MAX_REQUEST_BYTES]),
            Err(ParseError::TooLarge)
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_request(&many), Err(ParseError::TooManyHeaders));
        assert_eq!(ParseError::TooManyHeaders.status(), 431);
    }

    #[test]
    fn expect_continue_is_reported_when_the_head_is_complete() {
        let head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            parse_request(head.as_bytes()),
            Err(ParseError::Incomplete {
                total: Some(head.len() + 3),
                expect_continue: true
            })
        );
        assert_eq!(
            parse_request(format!("{head}abc").as_bytes()).unwrap().body,
            b"abc"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every byte value at every position of a request.
        let base = POST;
        for i in 0..base.len() {
            for b in [0u8, b'\r', b'\n', b' ', b':', b'\t', 0x7f, 0xff, b'0'] {
                let mut v = base.to_vec();
                v[i] = b;
                let _ = parse_request(&v);
                v.truncate(i + 1);
                let _ = parse_request(&v);
            }
        }
    }

    #[test]
    fn responses_are_well_formed() {
        let r = response(
            404,
            "text/plain; charset=utf-8",
            &[("Allow", "GET")],
            b"nope",
        );
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("\r\nContent-Length: 4\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.contains("\r\nAllow: GET\r\n"));
        assert!(text.ends_with("\r\n\r\nnope"));
    }
}
