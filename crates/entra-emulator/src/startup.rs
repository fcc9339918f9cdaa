//! Why the emulator, or one of the services it starts next to it (the managed-identity
//! endpoints), could not start.

use crate::config::ConfigError;
use crate::crypto::CryptoError;

/// Why the emulator, or a service started next to it, could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Key or certificate generation failed.
    #[error("key material: {0}")]
    Crypto(#[from] CryptoError),
    /// The port could not be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (choose another port, or 0 for any free one)"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SSH certificate authority's key could not be made or loaded.
    #[error("{0}")]
    SshCa(String),
}
