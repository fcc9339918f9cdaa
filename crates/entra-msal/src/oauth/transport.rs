//! Sending a form to a token endpoint with MSAL's headers, through the throttling layer.

use crate::error::Error;
use crate::http::{ClientIdentity, ExtraHeaders, HttpRequest, TelemetryHeaders, ThrottledHttp};

use super::form_memo::{FormMemo, encode};
use super::grants::Form;
use super::response::{TokenResponse, parse_token_response};

/// One POST to a token (or device-authorization) endpoint.
#[derive(Debug, Clone)]
pub struct FormPost<'a> {
    /// The endpoint.
    pub url: &'a str,
    /// `url` already parsed, when the caller has it.
    pub uri: Option<http::Uri>,
    /// Form fields; empty values are dropped, as MSAL does.
    pub form: Form<'a>,
    /// The correlation id (`client-request-id`).
    pub correlation_id: &'a str,
    /// App name and version headers.
    pub identity: &'a ClientIdentity,
    /// Extra headers (`X-AnchorMailbox`).
    pub extra_headers: ExtraHeaders,
    /// The application's last body, when it keeps one, and the texts it may know by address
    /// (see [`FormMemo::body`]).
    pub memo: Option<(&'a FormMemo, &'a [&'a str])>,
}

impl FormPost<'_> {
    /// The body: the fields with a value, form-encoded.
    fn body(&self) -> Vec<u8> {
        match self.memo {
            Some((memo, pinned)) => memo.body(&self.form, pinned),
            None => encode(&self.form),
        }
    }

    /// The endpoint: the caller's parsed copy, taken (the request is made once), else parsed.
    fn take_uri(&mut self) -> Result<http::Uri, Error> {
        match self.uri.take() {
            Some(uri) => Ok(uri),
            None => http::Uri::try_from(self.url).map_err(|e| self.unbuildable(e)),
        }
    }

    fn request(&mut self, telemetry: TelemetryHeaders) -> Result<HttpRequest, Error> {
        let uri = self.take_uri()?;
        let mut request = http::Request::new(self.body());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        *headers = self.identity.form_headers(self.correlation_id, telemetry);
        for (name, value) in &self.extra_headers {
            headers.append(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// A request this form cannot become (a bad URL or header): the caller's configuration.
    fn unbuildable(&self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::configuration_caused(format!("cannot build a request to {}: {e}", self.url), e)
    }

    /// Sends the form, with the telemetry headers' values, and returns the raw response.
    pub async fn send(
        &mut self,
        http: &ThrottledHttp,
        telemetry: TelemetryHeaders,
    ) -> Result<crate::http::HttpResponse, Error> {
        let request = self.request(telemetry)?;
        // The URI parsed when the request was made, so it parses again (only for an answer
        // that must be stored, which is rare).
        let again = || Some((http::Uri::try_from(self.url).ok()?, self.body()));
        http.send_form(request, again)
            .await
            .map_err(|e| e.at(self.url))
    }

    /// Sends the form and parses a token response.
    pub async fn send_for_token(
        &mut self,
        http: &ThrottledHttp,
        telemetry: TelemetryHeaders,
    ) -> Result<Box<TokenResponse>, Error> {
        let response = self.send(http, telemetry).await?;
        match parse_token_response(self.url, &response, self.correlation_id) {
            // Without a usable Retry-After the throttle replays this answer for its own default
            // window (60 s for a public client), so that is when a retry can reach the server.
            Err(Error::Throttled { url, status, .. }) if !has_retry_after_seconds(&response) => {
                Err(Error::Throttled {
                    url,
                    status,
                    retry_after: http.default_retry_after(),
                })
            }
            other => other,
        }
    }
}

fn has_retry_after_seconds(response: &crate::http::HttpResponse) -> bool {
    response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().parse::<u64>().is_ok())
}
