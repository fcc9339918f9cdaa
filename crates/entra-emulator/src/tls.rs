//! The emulator's own certificate authority and its HTTPS server certificate.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::crypto::CryptoError;

/// A CA generated at start and the server certificate it issued for 127.0.0.1 and localhost.
pub struct TlsMaterial {
    /// The CA certificate, PEM: what clients must trust.
    pub ca_pem: String,
    /// rustls server configuration using the leaf certificate.
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TlsMaterial {
    /// Generates a CA (ECDSA P-256) and a leaf certificate for `127.0.0.1`, `localhost`, `::1`.
    pub fn generate() -> Result<Self, CryptoError> {
        let err = |e: rcgen::Error| CryptoError::Parse(e.to_string());
        let ca_key = rcgen::KeyPair::generate().map_err(err)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "entra-emulator local CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;

        let leaf_key = rcgen::KeyPair::generate().map_err(err)?;
        let mut leaf_params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .map_err(err)?;
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "entra-emulator");
        leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(err)?;

        let chain = vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(ca.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        // rustls 0.23.48 deprecates ring's provider because it has no post-quantum key exchange;
        // the emulator's clients (MSAL, reqwest) negotiate classic groups, and this connection
        // never leaves the machine (loopback, or the local Service Fabric agent).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CryptoError::Parse(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| CryptoError::Parse(e.to_string()))?;
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            server_config: Arc::new(server_config),
        })
    }
}
