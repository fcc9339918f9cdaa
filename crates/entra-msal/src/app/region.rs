//! Which Azure region a confidential client's client-credential requests go to (ESTS-R), as MSAL
//! Python decides it (`azure_region`, `MSAL_FORCE_REGION`, `REGION_NAME`, the IMDS probe).
//!
//! - a region name given to the builder is used as is (validated when the application is built);
//! - `"auto"` detects the region once, on the first client-credential request: `REGION_NAME` when
//!   set, else the Instance Metadata Service's `location` (`GET
//!   {host}/metadata/instance/compute?api-version=2021-02-01`, `Metadata: true`, at most
//!   [`IMDS_TIMEOUT`]); when neither answers, requests go to the global endpoint;
//! - no choice at all: the region named by `MSAL_FORCE_REGION`, when set;
//! - `""` or `"none"`: no region, and `MSAL_FORCE_REGION` is ignored (MSAL Python's `False`).
//!
//! The environment is read through an [`EnvironmentReader`]; the IMDS host is
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set (as for managed identity), else
//! `169.254.169.254`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::authority::{self, Authority, AuthorityType, Endpoints};
use crate::error::Error;
use crate::http::ThrottledHttp;
use crate::managed_identity::EnvironmentReader;

/// How long the IMDS probe may take before detection gives up (off Azure nothing answers).
pub(crate) const IMDS_TIMEOUT: Duration = Duration::from_secs(2);

/// The IMDS host when `AZURE_POD_IDENTITY_AUTHORITY_HOST` is not set.
const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";

/// The IMDS compute-metadata API version MSAL Python reads the region with.
const IMDS_API_VERSION: &str = "2021-02-01";

/// What the application was configured with, after `MSAL_FORCE_REGION`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    /// No regional endpoint.
    Global,
    /// This region (from the builder or `MSAL_FORCE_REGION`).
    Named(String),
    /// Detect the region on first use.
    Detect,
}

/// A confidential client's region choice and, once decided, the region its requests use.
pub(crate) struct RegionChoice {
    choice: Choice,
    env: Arc<dyn EnvironmentReader>,
    /// The region in use (`None`: the global endpoint), decided on the first request.
    decided: OnceCell<Option<String>>,
}

impl std::fmt::Debug for RegionChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionChoice")
            .field("choice", &self.choice)
            .field("decided", &self.decided.get())
            .finish()
    }
}

impl RegionChoice {
    /// The choice for the builder's `azure_region` value (`None`: not called), reading
    /// `MSAL_FORCE_REGION` from `env` when no choice was made. A malformed region name, from the
    /// builder or `MSAL_FORCE_REGION`, is a configuration error, as in MSAL Python.
    pub fn new(
        configured: Option<&str>,
        env: Arc<dyn EnvironmentReader>,
        authority: &Authority,
    ) -> Result<Self, Error> {
        let choice = match configured.map(str::trim) {
            None => match env.var("MSAL_FORCE_REGION") {
                Some(forced) if !forced.trim().is_empty() => {
                    let forced = forced.trim();
                    if !authority::is_valid_region(forced) {
                        return Err(invalid("MSAL_FORCE_REGION", forced));
                    }
                    Choice::Named(forced.to_string())
                }
                _ => Choice::Global,
            },
            Some(off) if off.is_empty() || off.eq_ignore_ascii_case("none") => Choice::Global,
            Some(auto)
                if auto.eq_ignore_ascii_case("auto")
                    || auto.eq_ignore_ascii_case("true")
                    || auto.eq_ignore_ascii_case("TryAutoDetect") =>
            {
                Choice::Detect
            }
            Some(named) => {
                if !authority::is_valid_region(named) {
                    return Err(invalid("azure_region", named));
                }
                // A region given in code must also suit the authority: refused now rather than
                // on the first request.
                authority::regional_token_endpoint(authority, &probe_endpoints(authority), named)?;
                Choice::Named(named.to_string())
            }
        };
        Ok(Self {
            choice,
            env,
            decided: OnceCell::new(),
        })
    }

    /// The region to send client-credential requests to, `None` for the global endpoint. The
    /// first call decides it, detecting it for `"auto"` (see the module docs); a region that
    /// does not suit the authority (not Microsoft Entra ID, an IP-address host) is not used.
    pub async fn region(&self, http: &ThrottledHttp, authority: &Authority) -> Option<&str> {
        if self.choice == Choice::Global {
            return None;
        }
        self.decided
            .get_or_init(|| self.decide(http, authority))
            .await
            .as_deref()
    }

    async fn decide(&self, http: &ThrottledHttp, authority: &Authority) -> Option<String> {
        let region = match &self.choice {
            Choice::Global => return None,
            Choice::Named(name) => name.clone(),
            Choice::Detect => detect(self.env.as_ref(), http).await?,
        };
        if authority.authority_type() != AuthorityType::Aad
            || authority::regional_token_endpoint(authority, &probe_endpoints(authority), &region)
                .is_err()
        {
            tracing::warn!(
                region = region.as_str(),
                authority = authority.url(),
                "the region does not apply to this authority; using its global token endpoint"
            );
            return None;
        }
        Some(region)
    }
}

fn invalid(source: &str, region: &str) -> Error {
    Error::configuration(format!(
        "{source} {region:?} is not an Azure region name: use lowercase letters, digits and hyphens, at \
         most 63 characters (e.g. westus2), \"auto\" to detect the region, or \"none\""
    ))
}

/// Endpoints shaped like the authority's, to check that a regional endpoint can be made.
fn probe_endpoints(authority: &Authority) -> Endpoints {
    Endpoints {
        authorization_endpoint: String::new(),
        token_endpoint: format!("{}/oauth2/v2.0/token", authority.url()),
        device_authorization_endpoint: None,
        end_session_endpoint: None,
        issuer: None,
        jwks_uri: None,
        realm: authority.tenant().to_string(),
    }
}

/// `REGION_NAME` if set (a malformed value detects nothing, as in MSAL Python), else the IMDS
/// probe.
async fn detect(env: &dyn EnvironmentReader, http: &ThrottledHttp) -> Option<String> {
    if let Some(name) = env.var("REGION_NAME").filter(|r| !r.is_empty()) {
        if authority::is_valid_region(&name) {
            tracing::debug!(region = name.as_str(), "region from REGION_NAME");
            return Some(name);
        }
        tracing::warn!("REGION_NAME {name:?} is not an Azure region name; no region detected");
        return None;
    }
    let host = env
        .var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| IMDS_DEFAULT_HOST.to_string());
    let url = imds_url(&host);
    let region = probe_imds(http, &url).await;
    match &region {
        Some(region) => tracing::debug!(
            region = region.as_str(),
            "region from the Instance Metadata Service"
        ),
        None => tracing::info!(
            url,
            "no region detected (is this an Azure VM?); using the global token endpoint"
        ),
    }
    region
}

/// The IMDS compute-metadata URL on `host` (`http://169.254.169.254` or an override).
fn imds_url(host: &str) -> String {
    format!(
        "{}/metadata/instance/compute?api-version={IMDS_API_VERSION}",
        host.trim().trim_end_matches('/')
    )
}

async fn probe_imds(http: &ThrottledHttp, url: &str) -> Option<String> {
    let request = http::Request::get(url)
        .header("Metadata", "true")
        .body(Vec::new())
        .ok()?;
    let response = match tokio::time::timeout(IMDS_TIMEOUT, http.send(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::debug!(url, error = e.message(), "the IMDS probe failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(url, "the IMDS probe timed out");
            return None;
        }
    };
    if !response.status().is_success() {
        tracing::debug!(
            url,
            status = response.status().as_u16(),
            "IMDS refused the probe"
        );
        return None;
    }
    location(response.body())
}

/// The `location` of a compute-metadata answer, if it is a region name.
fn location(body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let location = doc.get("location")?.as_str()?;
    if authority::is_valid_region(location) {
        Some(location.to_string())
    } else {
        tracing::warn!("IMDS's location {location:?} is not an Azure region name; ignored");
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed_identity::StaticEnvironment;

    fn authority() -> Authority {
        Authority::parse("https://login.microsoftonline.com/tid", false).unwrap()
    }

    fn choice(configured: Option<&str>, env: StaticEnvironment) -> Result<Choice, Error> {
        RegionChoice::new(configured, Arc::new(env), &authority()).map(|c| c.choice)
    }

    #[test]
    fn precedence_follows_msal_python() {
        let forced = || StaticEnvironment::new().with_var("MSAL_FORCE_REGION", "eastus");
        assert_eq!(
            choice(None, StaticEnvironment::new()).unwrap(),
            Choice::Global
        );
        assert_eq!(
            choice(None, forced()).unwrap(),
            Choice::Named("eastus".into())
        );
        // A choice made in code wins over MSAL_FORCE_REGION, "none" included.
        assert_eq!(
            choice(Some("westus2"), forced()).unwrap(),
            Choice::Named("westus2".into())
        );
        assert_eq!(choice(Some("none"), forced()).unwrap(), Choice::Global);
        assert_eq!(choice(Some(""), forced()).unwrap(), Choice::Global);
        for auto in ["auto", "true", "TryAutoDetect"] {
            assert_eq!(choice(Some(auto), forced()).unwrap(), Choice::Detect);
        }
    }

    #[test]
    fn malformed_regions_are_configuration_errors() {
        let bad_force = StaticEnvironment::new().with_var("MSAL_FORCE_REGION", "West US");
        let e = choice(None, bad_force).unwrap_err();
        assert!(matches!(e, Error::Configuration { .. }));
        assert!(e.to_string().contains("MSAL_FORCE_REGION"), "{e}");
        assert!(matches!(
            choice(Some("west_us"), StaticEnvironment::new()),
            Err(Error::Configuration { .. })
        ));
        let adfs = Authority::parse("https://fs.contoso.com/adfs", false).unwrap();
        assert!(matches!(
            RegionChoice::new(Some("westus2"), Arc::new(StaticEnvironment::new()), &adfs),
            Err(Error::Configuration { .. })
        ));
    }

    #[test]
    fn imds_answers() {
        assert_eq!(
            imds_url("http://127.0.0.1:9/"),
            "http://127.0.0.1:9/metadata/instance/compute?api-version=2021-02-01"
        );
        assert_eq!(
            location(br#"{"location":"westus2","name":"vm"}"#).as_deref(),
            Some("westus2")
        );
        for bad in [
            &br#"{"location":"West US 2"}"#[..],
            br#"{"location":7}"#,
            br#"["westus2"]"#,
            b"westus2",
            b"",
        ] {
            assert_eq!(location(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
