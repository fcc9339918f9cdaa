//! The helper side of the WSL bridge: [`serve`] answers protocol lines with any
//! [`BrokerBackend`]. The `entra-broker-wsl-helper` binary runs it over stdin/stdout with WAM on
//! Windows; tests run it with their own backend.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use super::protocol::{
    self, MAX_LINE_BYTES, PROTOCOL_VERSION, WireAccount, WireError, WireOp, WireOutcome,
    WireResponse, WireToken, protocol_error,
};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerTokenRequest,
    BrokerTokenResponse, ParentWindow,
};

/// One line read with a length limit.
pub(crate) enum Line {
    /// A line, without its `\n`.
    Text(String),
    /// End of input before any byte.
    Eof,
    /// A line longer than [`MAX_LINE_BYTES`] (discarded up to its end), with its length.
    TooLong(usize),
    /// A line that is not UTF-8.
    NotUtf8,
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE_BYTES`]; input that ends without `\n`
/// is a last line.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Line> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    let mut overflow = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            if total == 0 {
                return Ok(Line::Eof);
            }
            break;
        }
        let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        total += used;
        if !overflow {
            if buf.len() + used > MAX_LINE_BYTES + 1 {
                overflow = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(&chunk[..used]);
            }
        }
        reader.consume(used);
        if done {
            break;
        }
    }
    if overflow {
        return Ok(Line::TooLong(total));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(String::from_utf8(buf).map_or(Line::NotUtf8, Line::Text))
}

/// Answers protocol lines from `reader` on `writer` with `backend` until `reader` ends.
///
/// A malformed line gets an `err` answer (with the request's `id` when it can be read) and the
/// loop goes on; only I/O errors on `reader` or `writer` end it early.
pub async fn serve<R, W>(
    backend: &dyn BrokerBackend,
    mut reader: R,
    mut writer: W,
) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let text = match read_line(&mut reader).await? {
            Line::Eof => return Ok(()),
            Line::TooLong(n) => {
                let e = protocol_error(format!(
                    "a request line of {n} bytes exceeds the {MAX_LINE_BYTES}-byte limit"
                ));
                write(&mut writer, None, WireOutcome::Err(WireError::from(&e))).await?;
                continue;
            }
            Line::NotUtf8 => {
                let e = protocol_error("a request line is not UTF-8");
                write(&mut writer, None, WireOutcome::Err(WireError::from(&e))).await?;
                continue;
            }
            Line::Text(text) => text,
        };
        if text.trim().is_empty() {
            continue;
        }
        let (id, outcome) = match protocol::decode_request(&text) {
            Ok(request) => {
                tracing::debug!(
                    id = request.id,
                    op = request.op.name(),
                    "WSL helper request"
                );
                (Some(request.id), dispatch(backend, request.op).await)
            }
            Err(e) => {
                // Answer with the id when the line has one, so the caller can match it.
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64());
                (id, WireOutcome::Err(WireError::from(&e)))
            }
        };
        write(&mut writer, id, outcome).await?;
    }
}

async fn write<W: AsyncWrite + Unpin>(
    writer: &mut W,
    id: Option<u64>,
    outcome: WireOutcome,
) -> io::Result<()> {
    let line = protocol::encode_response(&WireResponse {
        v: PROTOCOL_VERSION,
        id,
        outcome,
    });
    writer.write_all(line.as_bytes()).await?;
    writer.flush().await
}

fn outcome<T>(
    result: Result<T, BrokerError>,
    f: impl FnOnce(T) -> serde_json::Value,
) -> WireOutcome {
    match result {
        Ok(value) => WireOutcome::Ok(f(value)),
        Err(e) => WireOutcome::Err(WireError::from(&e)),
    }
}

fn to_value<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

async fn dispatch(backend: &dyn BrokerBackend, op: WireOp) -> WireOutcome {
    match op {
        WireOp::Probe => outcome(backend.probe().await, |()| serde_json::Value::Null),
        WireOp::Accounts {
            client_id,
            correlation_id,
        } => outcome(
            backend.accounts(&client_id, &correlation_id).await,
            |accounts| to_value(accounts.iter().map(WireAccount::from).collect::<Vec<_>>()),
        ),
        WireOp::Silent { request } => {
            let request = BrokerTokenRequest::from(request);
            outcome(backend.acquire_token_silently(&request).await, |t| {
                to_value(WireToken::from(&t))
            })
        }
        WireOp::Interactive { request, window } => {
            let request = BrokerTokenRequest::from(request);
            outcome(
                backend
                    .acquire_token_interactively(&request, ParentWindow::from(window))
                    .await,
                |t| to_value(WireToken::from(&t)),
            )
        }
        WireOp::SignOut {
            client_id,
            account,
            correlation_id,
        } => {
            let account = BrokerAccount::from(account);
            outcome(
                backend
                    .sign_out(&client_id, &account, &correlation_id)
                    .await,
                |()| serde_json::Value::Null,
            )
        }
    }
}

/// A backend whose broker could not be started: every call answers with the start-up error
/// (the helper keeps serving so the caller gets a typed error, not a dead pipe).
#[derive(Debug, Clone)]
pub struct UnavailableBroker(pub BrokerError);

impl BrokerBackend for UnavailableBroker {
    fn platform(&self) -> BrokerPlatform {
        self.0.platform
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { Err(self.0.clone()) })
    }

    fn accounts<'a>(
        &'a self,
        _client_id: &'a str,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async move { Err(self.0.clone()) })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        _request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move { Err(self.0.clone()) })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        _request: &'a BrokerTokenRequest,
        _window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move { Err(self.0.clone()) })
    }

    fn sign_out<'a>(
        &'a self,
        _client_id: &'a str,
        _account: &'a BrokerAccount,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async move { Err(self.0.clone()) })
    }
}

/// Serves `backend` over this process's stdin and stdout until stdin closes: what the
/// `entra-broker-wsl-helper` binary runs.
#[cfg(feature = "broker")]
pub async fn run_stdio(backend: &dyn BrokerBackend) -> io::Result<()> {
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    serve(backend, stdin, tokio::io::stdout()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerStatus;
    use tokio::io::BufReader;

    fn missing() -> UnavailableBroker {
        UnavailableBroker(BrokerError::new(
            BrokerPlatform::Windows,
            BrokerStatus::RequiredBrokerMissing,
            "WAM is not available",
        ))
    }

    async fn run(input: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        serve(&missing(), BufReader::new(input.as_bytes()), &mut out)
            .await
            .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn answers_each_line_and_survives_bad_ones() {
        let answers = run(concat!(
            "{\"v\":1,\"id\":1,\"op\":\"probe\"}\n",
            "\n",
            "garbage\n",
            "{\"v\":1,\"id\":5,\"op\":\"fly\"}\n",
            "{\"v\":1,\"id\":6,\"op\":\"accounts\",\"client_id\":\"c\",\"correlation_id\":\"x\"}",
        ))
        .await;
        assert_eq!(answers.len(), 4);
        assert_eq!(answers[0]["id"], 1);
        assert_eq!(answers[0]["err"]["status"], "RequiredBrokerMissing");
        assert_eq!(answers[0]["err"]["platform"], "Windows");
        assert!(answers[1]["id"].is_null());
        assert_eq!(answers[1]["err"]["status"], "ApiContractViolation");
        assert_eq!(answers[2]["id"], 5);
        assert_eq!(answers[2]["err"]["status"], "ApiContractViolation");
        assert_eq!(answers[3]["id"], 6);
        assert!(run("").await.is_empty());
    }

    #[tokio::test]
    async fn long_and_binary_lines_are_rejected() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.push(b'\n');
        input.extend_from_slice(&[0xff, 0xfe, b'\n']);
        input.extend_from_slice(b"{\"v\":1,\"id\":2,\"op\":\"probe\"}\n");
        let mut out = Vec::new();
        serve(&missing(), BufReader::new(&input[..]), &mut out)
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("limit"));
        assert!(lines[1].contains("UTF-8"));
        assert!(lines[2].contains("\"id\":2"));
    }
}
