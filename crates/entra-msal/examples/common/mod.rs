//! Configuration shared by the examples, read from the environment so they run against Entra ID
//! or against `entra-emulator` (`entra-emulator serve --json` prints every value):
//!
//! | variable | meaning |
//! |---|---|
//! | `ENTRA_AUTHORITY` | e.g. `https://login.microsoftonline.com/<tenant>` |
//! | `ENTRA_CLIENT_ID` | the application (client) id |
//! | `ENTRA_SCOPE` | a scope to request, e.g. `User.Read` |
//! | `ENTRA_CA_FILE` | optional: a CA certificate to trust (the emulator's `ca_file`) |
#![allow(dead_code)]

use entra_msal::{
    ConfidentialClientApplication, ConfidentialClientBuilder, PublicClientApplication,
    PublicClientBuilder,
};

/// A required environment variable.
pub fn var(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name)
        .map_err(|_| format!("set {name} (see the table in examples/common/mod.rs)").into())
}

fn trust_ca(pem_file: Option<String>) -> Result<Option<String>, Box<dyn std::error::Error>> {
    Ok(match pem_file {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read ENTRA_CA_FILE {path}: {e}"))?,
        ),
        None => None,
    })
}

/// A public client configured from the environment.
pub fn public_client() -> Result<PublicClientApplication, Box<dyn std::error::Error>> {
    let mut builder: PublicClientBuilder =
        PublicClientApplication::builder(var("ENTRA_CLIENT_ID")?)
            .authority(var("ENTRA_AUTHORITY")?);
    if let Some(ca) = trust_ca(std::env::var("ENTRA_CA_FILE").ok())? {
        builder = builder.trusted_ca(ca).instance_discovery(false);
    }
    Ok(builder.build()?)
}

/// A confidential-client builder configured from the environment (add the credential).
pub fn confidential_client() -> Result<ConfidentialClientBuilder, Box<dyn std::error::Error>> {
    let mut builder = ConfidentialClientApplication::builder(var("ENTRA_CLIENT_ID")?)
        .authority(var("ENTRA_AUTHORITY")?);
    if let Some(ca) = trust_ca(std::env::var("ENTRA_CA_FILE").ok())? {
        builder = builder.trusted_ca(ca).instance_discovery(false);
    }
    Ok(builder)
}

/// Prints the outcome of a token acquisition without the token itself.
pub fn report(result: &entra_msal::AuthenticationResult) {
    let who = result
        .account
        .as_ref()
        .map(|a| a.username.as_str())
        .unwrap_or("(the app itself)");
    println!(
        "token for {who}: source {:?}, scopes {:?}, expires {}",
        result.token_source, result.scopes, result.expires_on
    );
}
