//! Windows DPAPI (`CryptProtectData`): the cache file encrypted for the current user, as
//! msal-extensions' `FilePersistenceWithDataProtection` and the Azure CLI
//! (`msal_token_cache.bin`) keep it. A thin shim: bytes in, bytes out.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};

use super::DataProtector;
use crate::error::Error;

/// Encrypts with DPAPI for the current Windows user (no entropy, no UI), so the file is the
/// same as msal-extensions' on Windows and both can share it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DpapiProtector;

fn blob(data: &[u8]) -> Result<CRYPT_INTEGER_BLOB, Error> {
    let len = u32::try_from(data.len())
        .map_err(|_| Error::cache("the token cache is larger than 4 GiB".into()))?;
    Ok(CRYPT_INTEGER_BLOB {
        cbData: len,
        pbData: data.as_ptr().cast_mut(),
    })
}

/// Copies and frees a blob DPAPI allocated.
fn take(out: CRYPT_INTEGER_BLOB) -> Vec<u8> {
    if out.pbData.is_null() {
        return Vec::new();
    }
    // SAFETY: on success DPAPI returns `cbData` readable bytes at `pbData`, allocated with
    // LocalAlloc; they are copied before being freed exactly once with LocalFree.
    unsafe {
        let bytes = std::slice::from_raw_parts(out.pbData, out.cbData as usize).to_vec();
        LocalFree(out.pbData.cast());
        bytes
    }
}

impl DataProtector for DpapiProtector {
    fn protect(&self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let input = blob(plaintext)?;
        let mut out = CRYPT_INTEGER_BLOB {
            cbData: 0,
            pbData: std::ptr::null_mut(),
        };
        // SAFETY: `input` points into `plaintext`, alive for the call; the optional pointers
        // are null as the API allows; `out` is a valid place for the result.
        let ok = unsafe {
            CryptProtectData(
                &input,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut out,
            )
        };
        if ok == 0 {
            return Err(Error::cache(format!(
                "DPAPI could not encrypt the token cache: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(take(out))
    }

    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let input = blob(data)?;
        let mut out = CRYPT_INTEGER_BLOB {
            cbData: 0,
            pbData: std::ptr::null_mut(),
        };
        // SAFETY: as in `protect`; the description out-pointer is null (not wanted).
        let ok = unsafe {
            CryptUnprotectData(
                &input,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut out,
            )
        };
        if ok == 0 {
            return Err(Error::cache(format!(
                "DPAPI could not decrypt the token cache ({}): it belongs to another Windows \
                 user or machine, or is not a DPAPI file; delete it to start over",
                std::io::Error::last_os_error()
            )));
        }
        Ok(take(out))
    }

    fn description(&self) -> String {
        "Windows DPAPI (current user)".into()
    }
}
