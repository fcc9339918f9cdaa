//! An Azure SDK-style client authorized by entra-msal's credential: an `azure_core` pipeline with
//! the SDK's `BearerTokenAuthorizationPolicy`, exactly as `azure_security_keyvault_secrets`,
//! `azure_storage_blob` and the other SDK clients build theirs.
//!
//! The credential is a `ConfidentialClientApplication` when `ENTRA_CLIENT_SECRET` is set, the
//! host's managed identity otherwise. The transport is entra-msal's (rustls with ring), so the
//! build needs neither OpenSSL nor aws-lc.
//!
//! `ENTRA_AUTHORITY=… ENTRA_CLIENT_ID=… ENTRA_CLIENT_SECRET=… AZURE_SCOPE=https://vault.azure.net/.default
//! AZURE_URL=https://my-vault.vault.azure.net/secrets/my-secret?api-version=7.5
//! cargo run -p entra-msal --features azure-core --example azure_sdk`

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::Headers;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    AsyncRawResponse, Body, ClientOptions, Context, HttpClient, Method, Pipeline, Request,
    StatusCode, Transport, Url,
};
use entra_msal::ManagedIdentityClient;
use entra_msal::http::{HttpOptions, ReqwestHttpClient};
use entra_msal::managed_identity::ManagedIdentity;

/// The SDK's transport trait over entra-msal's HTTP client.
#[derive(Debug)]
struct EntraTransport(ReqwestHttpClient);

#[async_trait::async_trait]
impl HttpClient for EntraTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        use azure_core::error::ErrorKind;
        let body = match request.body() {
            Body::Bytes(bytes) => bytes.to_vec(),
            _ => {
                return Err(azure_core::Error::with_message(
                    ErrorKind::Other,
                    "streaming bodies are not supported by this example transport",
                ));
            }
        };
        let mut builder = http::Request::builder()
            .method(request.method().as_ref())
            .uri(request.url().as_str());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder
            .body(body)
            .map_err(|e| azure_core::Error::new(ErrorKind::DataConversion, e))?;
        let response = entra_msal::http::HttpClient::send(&self.0, outgoing)
            .await
            .map_err(|e| azure_core::Error::new(ErrorKind::Io, e))?;
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            headers.insert(
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            );
        }
        let status = StatusCode::from(response.status().as_u16());
        Ok(AsyncRawResponse::from_bytes(
            status,
            headers,
            response.into_body(),
        ))
    }
}

/// A minimal SDK client: one pipeline, one bearer-token policy, one operation.
struct ResourceClient {
    pipeline: Pipeline,
}

impl ResourceClient {
    fn new(
        credential: Arc<dyn TokenCredential>,
        scope: &str,
        transport: Arc<dyn HttpClient>,
    ) -> Self {
        let auth: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, [scope]));
        let options = ClientOptions {
            transport: Some(Transport::new(transport)),
            ..Default::default()
        };
        Self {
            pipeline: Pipeline::new(
                Some("entra-msal-example"),
                Some(env!("CARGO_PKG_VERSION")),
                options,
                Vec::new(),
                vec![auth],
                None,
            ),
        }
    }

    async fn get(&self, url: Url) -> azure_core::Result<StatusCode> {
        let mut request = Request::new(url, Method::Get);
        let response = self
            .pipeline
            .send(&Context::new(), &mut request, None)
            .await?;
        Ok(response.status())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scope = common::var("AZURE_SCOPE")?;
    let url = Url::parse(&common::var("AZURE_URL")?)?;
    let credential: Arc<dyn TokenCredential> = match std::env::var("ENTRA_CLIENT_SECRET") {
        Ok(secret) => Arc::new(
            common::confidential_client()?
                .client_secret(secret)
                .build()?,
        ),
        Err(_) => Arc::new(ManagedIdentityClient::new(ManagedIdentity::SystemAssigned)?),
    };
    let mut http = HttpOptions::default();
    if let Ok(path) = std::env::var("ENTRA_CA_FILE") {
        http.trusted_ca_pems.push(std::fs::read_to_string(path)?);
    }
    let transport = Arc::new(EntraTransport(ReqwestHttpClient::new(&http)?));
    let client = ResourceClient::new(credential.clone(), &scope, transport);
    for _ in 0..2 {
        let status = client.get(url.clone()).await?;
        println!("GET {}: HTTP {}", url.path(), u16::from(status));
    }
    println!("credential: {credential:?}");
    Ok(())
}
