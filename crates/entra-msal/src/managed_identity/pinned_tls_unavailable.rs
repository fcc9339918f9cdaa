//! Without the default transport (`reqwest` feature) there is no TLS stack to pin Service
//! Fabric's certificate to: the source says so.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::error::Error;
use crate::http::HttpClient;

/// Refuses: Service Fabric's pinned HTTPS needs the `reqwest` feature.
pub(crate) fn client(
    _thumbprint: [u8; 20],
    _timeout: Duration,
) -> Result<(Arc<dyn HttpClient>, Arc<AtomicBool>), Error> {
    Err(Error::configuration(
        "Service Fabric's managed identity needs the `reqwest` feature (its HTTPS endpoint \
         is pinned to IDENTITY_SERVER_THUMBPRINT by the default transport)"
            .into(),
    ))
}
