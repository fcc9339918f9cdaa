//! The cache key in the macOS Keychain (a generic password), through `security-framework`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use security_framework::passwords::{get_generic_password, set_generic_password};

use crate::error::Error;

/// `errSecItemNotFound`.
const ITEM_NOT_FOUND: i32 = -25300;

/// Reads the cache key kept as the generic password `service` / `account` (the names
/// msal-extensions' `KeychainPersistence(service_name, account_name)` uses), creating a random
/// one when there is none.
///
/// # Errors
/// [`Error::Cache`] when the Keychain is locked or refuses access, or the item is not a key.
pub fn load_or_create_key(service: &str, account: &str) -> Result<[u8; 32], Error> {
    let describe = || format!("the Keychain item {service:?} / {account:?}");
    match get_generic_password(service, account) {
        Ok(value) => {
            let text = String::from_utf8_lossy(&value);
            STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    Error::cache(format!(
                        "{} does not hold a 256-bit key (base64); delete that item and the \
                         cache file to start over",
                        describe()
                    ))
                })
        }
        Err(e) if e.code() == ITEM_NOT_FOUND => {
            let key = super::AesGcmProtector::generate_key()?;
            set_generic_password(service, account, STANDARD.encode(key).as_bytes()).map_err(
                |e| {
                    Error::cache_caused(
                        format!(
                            "cannot store the token cache key in {}: {e}; unlock the login \
                         keychain and retry",
                            describe()
                        ),
                        e,
                    )
                },
            )?;
            Ok(key)
        }
        Err(e) => Err(Error::cache_caused(
            format!(
                "cannot read the token cache key from {}: {e}; unlock the login keychain (or allow \
             this program access) and retry",
                describe()
            ),
            e,
        )),
    }
}
