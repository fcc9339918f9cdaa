//! The device authorization grant: the device-code request and the polling form.

use super::Form;

/// The grant type MSAL sends when polling.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The form of `POST .../devicecode` (scopes already decorated).
pub fn device_authorization<'a>(
    client_id: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, "", scopes, claims);
    form.retain(|(k, _)| k != "grant_type");
    form
}

/// The polling form; MSAL sends the code as both `device_code` and `code`.
pub fn device_code<'a>(
    client_id: &'a str,
    device_code: &'a str,
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, DEVICE_CODE_GRANT, &[], claims);
    form.retain(|(k, _)| k != "scope");
    form.push(("device_code".into(), device_code.into()));
    form.push(("code".into(), device_code.into()));
    form.push(("client_info".into(), "1".into()));
    form
}
