//! The Service Fabric transport: HTTPS whose only trust anchor is the SHA-1 thumbprint of the
//! server's certificate (`IDENTITY_SERVER_THUMBPRINT`), checked before any request (and so the
//! `Secret` header) is sent. No proxy: a forwarding proxy would hide the certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha1::{Digest, Sha1};

use crate::error::Error;
use crate::http::{HttpClient, ReqwestHttpClient};

/// Accepts exactly the certificate with the pinned SHA-1 thumbprint (signatures still verified).
#[derive(Debug)]
struct ThumbprintVerifier {
    thumbprint: [u8; 20],
    algorithms: WebPkiSupportedAlgorithms,
    mismatch: Arc<AtomicBool>,
}

/// Compares without an early exit.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ServerCertVerifier for ThumbprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = Sha1::digest(end_entity.as_ref());
        if equal(actual.as_slice(), &self.thumbprint) {
            Ok(ServerCertVerified::assertion())
        } else {
            self.mismatch.store(true, Ordering::SeqCst);
            Err(rustls::Error::General(
                "the Service Fabric endpoint certificate does not match IDENTITY_SERVER_THUMBPRINT"
                    .into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A transport pinned to `thumbprint`, and a flag that turns true when a handshake met another
/// certificate.
pub(crate) fn client(
    thumbprint: [u8; 20],
    timeout: Duration,
) -> Result<(Arc<dyn HttpClient>, Arc<AtomicBool>), Error> {
    // rustls 0.23.48 deprecates ring's provider because it has no post-quantum key exchange;
    // the alternative (aws-lc-rs) needs a C toolchain and CMake at build time. This connection
    // never leaves the machine (loopback, or the local Service Fabric agent).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch = Arc::new(AtomicBool::new(false));
    let verifier = ThumbprintVerifier {
        thumbprint,
        algorithms: provider.signature_verification_algorithms,
        mismatch: mismatch.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::configuration_caused(format!("cannot configure TLS: {e}"), e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| {
            Error::configuration_caused(format!("cannot build the Service Fabric client: {e}"), e)
        })?;
    Ok((Arc::new(ReqwestHttpClient::from_client(client)), mismatch))
}
