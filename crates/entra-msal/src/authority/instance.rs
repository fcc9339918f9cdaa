//! Instance discovery: validating unknown hosts and reading a host's aliases.
//!
//! Both use `GET https://{host}/common/discovery/instance?api-version=1.1&authorization_endpoint=…`,
//! where `host` is the authority's own host for Microsoft's well-known clouds and
//! `login.microsoftonline.com` for every other host. Documents are kept 24 h in a process-wide
//! memo shared by all applications.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::Deserialize;

use super::hosts;
use super::memo::Memo;
use super::parse::Authority;
use super::wire;
use crate::error::Error;
use crate::http::ThrottledHttp;

/// How an authority is validated before its metadata is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Validate unknown hosts and look up aliases through Entra's instance discovery
    /// (`instance_discovery` in MSAL Python). Default true.
    pub instance_discovery: bool,
    /// Validate the authority (`validate_authority` in MSAL Python); false treats every
    /// authority as known to the developer. Default true.
    pub validate_authority: bool,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            instance_discovery: true,
            validate_authority: true,
        }
    }
}

/// An instance-discovery answer (the fields MSAL reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InstanceDiscovery {
    /// Where to fetch the authority's OIDC document.
    #[serde(default)]
    pub(crate) tenant_discovery_endpoint: Option<String>,
    /// The clouds' alias groups.
    #[serde(default)]
    pub(crate) metadata: Vec<AliasGroup>,
}

/// One cloud's host names.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AliasGroup {
    /// Every host name of the cloud.
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
}

static DOCUMENTS: LazyLock<Memo<InstanceDiscovery>> =
    LazyLock::new(|| Memo::new(Duration::from_secs(24 * 3600), 1024));

fn discovery_host(authority: &Authority) -> &str {
    if authority.is_well_known_host() {
        authority.host()
    } else {
        hosts::WORLD_WIDE
    }
}

fn instance_url(discovery_host: &str, authorization_endpoint: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("api-version", "1.1"),
        ("authorization_endpoint", authorization_endpoint),
    ])
    .unwrap_or_default();
    format!("https://{discovery_host}/common/discovery/instance?{query}")
}

/// The validation request for `authority`. Unlike MSAL Python, the port is kept in
/// `authorization_endpoint`.
pub(crate) fn validation_url(authority: &Authority) -> String {
    let authorize = format!(
        "https://{}{}/oauth2/v2.0/authorize",
        authority.host_with_port(),
        authority.path()
    );
    instance_url(discovery_host(authority), &authorize)
}

/// The alias request: MSAL Python's exact request for well-known hosts; for other hosts the
/// validation request, so that a custom domain Entra knows gets its own alias group and one
/// answer serves both purposes.
pub(crate) fn aliases_url(authority: &Authority) -> String {
    if authority.is_well_known_host() {
        let host = authority.host();
        instance_url(host, &format!("https://{host}/common/oauth2/authorize"))
    } else {
        validation_url(authority)
    }
}

fn unknown_authority(authority: &Authority) -> Error {
    Error::configuration(format!(
        "invalid_instance: the authority {} is not known to Microsoft Entra ID's instance discovery (AADSTS50049). \
         If it is a valid authority that you trust, skip this check with instance_discovery(false) or \
         validate_authority(false)",
        authority.url()
    ))
}

async fn document(
    http: &ThrottledHttp,
    authority: &Authority,
    url: String,
) -> Result<Arc<InstanceDiscovery>, Error> {
    let (http_owned, authority_owned, key) = (http.clone(), authority.clone(), url.clone());
    DOCUMENTS
        .get_or_fetch(&key, http, move || {
            Box::pin(async move { fetch_document(&http_owned, &authority_owned, &url).await })
        })
        .await
}

async fn fetch_document(
    http: &ThrottledHttp,
    authority: &Authority,
    url: &str,
) -> Result<InstanceDiscovery, Error> {
    tracing::debug!(target: "entra_msal::authority", %url, "instance discovery");
    let response = wire::get(http, url).await?;
    parse_instance_discovery(authority, url, &response)
}

/// Turns an instance-discovery answer into the document or the matching error.
pub(crate) fn parse_instance_discovery(
    authority: &Authority,
    url: &str,
    response: &crate::http::HttpResponse,
) -> Result<InstanceDiscovery, Error> {
    let status = response.status().as_u16();
    // MSAL reads the JSON whatever the status: Entra answers an unknown host with invalid_instance.
    if let Some(error) = wire::entra_error(status, response.body()) {
        if error.error == "invalid_instance" {
            return Err(unknown_authority(authority));
        }
        if status == 429 || status >= 500 {
            return Err(wire::server_failure(url, response));
        }
        return Err(Error::Service(Box::new(error)));
    }
    if status == 429 || status >= 500 {
        return Err(wire::server_failure(url, response));
    }
    if !response.status().is_success() {
        return Err(Error::InvalidResponse {
            url: url.to_string(),
            status,
            message: "instance discovery answered with neither metadata nor an Entra error".into(),
        });
    }
    serde_json::from_slice(response.body()).map_err(|e| Error::InvalidResponse {
        url: url.to_string(),
        status,
        message: format!(
            "the instance-discovery document is not valid JSON of the expected shape: {e}"
        ),
    })
}

/// Validates an authority whose host is unknown; returns its tenant-discovery (OIDC) URL.
pub(crate) async fn validate(http: &ThrottledHttp, authority: &Authority) -> Result<String, Error> {
    let url = validation_url(authority);
    let doc = document(http, authority, url.clone()).await?;
    doc.tenant_discovery_endpoint
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::InvalidResponse {
            url,
            status: 200,
            message: "the instance-discovery answer has no tenant_discovery_endpoint".into(),
        })
}

/// The other host names of the authority's cloud, from instance discovery: the hosts whose cache
/// entries (`environment`) belong to the same accounts, e.g. `login.windows.net` for
/// `login.microsoftonline.com`.
///
/// Empty, without any request, when `instance_discovery` is off or the authority is known to the
/// developer (ADFS, B2C, CIAM, OIDC, dSTS, or `validate_authority` off), and when no alias group
/// names the host. Answers are kept 24 h in a process-wide cache.
///
/// The request goes to the authority's own host for Microsoft's well-known clouds and to
/// `login.microsoftonline.com` otherwise; to test against a local authority, route that host to it
/// in the [`HttpClient`](crate::http::HttpClient).
pub async fn aliases(
    http: &ThrottledHttp,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Result<Vec<String>, Error> {
    if !options.instance_discovery || authority.is_known_to_developer(options.validate_authority) {
        return Ok(Vec::new());
    }
    let doc = document(http, authority, aliases_url(authority)).await?;
    Ok(aliases_in(&doc, authority))
}

/// The authority's aliases known without a request, for the synchronous cache reads
/// (`accounts`, `remove_tokens_for_client`): the instance-discovery answer this process already
/// holds, else, for Microsoft's clouds, their published alias groups. Empty under the same
/// conditions as [`aliases`].
pub(crate) fn known_aliases(
    http: &ThrottledHttp,
    authority: &Authority,
    options: DiscoveryOptions,
) -> Vec<String> {
    if !options.instance_discovery || authority.is_known_to_developer(options.validate_authority) {
        return Vec::new();
    }
    if let Some(doc) = DOCUMENTS.peek(&aliases_url(authority), http.now()) {
        return aliases_in(&doc, authority);
    }
    let host = authority.host();
    hosts::CLOUD_ALIAS_GROUPS
        .iter()
        .find(|group| group.contains(&host))
        .map(|group| {
            group
                .iter()
                .filter(|alias| **alias != host)
                .map(|alias| alias.to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn aliases_in(doc: &InstanceDiscovery, authority: &Authority) -> Vec<String> {
    let host = authority.host();
    let host_with_port = authority.host_with_port();
    let is_self = |alias: &str| {
        alias.eq_ignore_ascii_case(host) || alias.eq_ignore_ascii_case(&host_with_port)
    };
    let Some(group) = doc
        .metadata
        .iter()
        .find(|g| g.aliases.iter().any(|a| is_self(a)))
    else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for alias in group.aliases.iter().filter(|a| !is_self(a)) {
        let alias = alias.to_ascii_lowercase();
        if !out.contains(&alias) {
            out.push(alias);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(url: &str) -> Authority {
        Authority::parse(url, false).unwrap()
    }

    #[test]
    fn request_urls() {
        assert_eq!(
            validation_url(&authority("https://login.contoso.com:8443/tenant")),
            "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=\
             https%3A%2F%2Flogin.contoso.com%3A8443%2Ftenant%2Foauth2%2Fv2.0%2Fauthorize"
        );
        assert_eq!(
            aliases_url(&authority("https://login.chinacloudapi.cn/tenant")),
            "https://login.chinacloudapi.cn/common/discovery/instance?api-version=1.1&authorization_endpoint=\
             https%3A%2F%2Flogin.chinacloudapi.cn%2Fcommon%2Foauth2%2Fauthorize"
        );
        let custom = authority("https://login.contoso.com/tenant");
        assert_eq!(aliases_url(&custom), validation_url(&custom));
    }

    #[test]
    fn alias_groups() {
        let doc: InstanceDiscovery = serde_json::from_str(
            r#"{"tenant_discovery_endpoint":"x","api-version":"1.1","metadata":[
                {"preferred_network":"login.microsoftonline.com","preferred_cache":"login.windows.net",
                 "aliases":["login.microsoftonline.com","login.windows.net","login.microsoft.com","sts.windows.net"]},
                {"preferred_network":"127.0.0.1:9","preferred_cache":"127.0.0.1",
                 "aliases":["127.0.0.1","localhost","127.0.0.1:9","localhost:9"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            aliases_in(&doc, &authority("https://login.windows.net/common")),
            [
                "login.microsoftonline.com",
                "login.microsoft.com",
                "sts.windows.net"
            ]
        );
        assert_eq!(
            aliases_in(&doc, &authority("https://127.0.0.1:9/t")),
            ["localhost", "localhost:9"]
        );
        assert!(aliases_in(&doc, &authority("https://login.contoso.com/t")).is_empty());
    }

    #[test]
    fn invalid_instance_message_says_what_to_do() {
        let message = unknown_authority(&authority("https://login.contoso.com/t")).to_string();
        assert!(message.contains("https://login.contoso.com/t"), "{message}");
        assert!(message.contains("not known"), "{message}");
        assert!(
            message.contains("instance_discovery(false)")
                && message.contains("validate_authority(false)")
        );
    }
}
