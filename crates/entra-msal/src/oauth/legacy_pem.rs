//! OpenSSL's traditional ("legacy") encrypted PEM private key: a `BEGIN RSA PRIVATE KEY` block
//! with `Proc-Type: 4,ENCRYPTED` and `DEK-Info: <cipher>,<iv in hex>` headers, as
//! `openssl genrsa -aes256` or `openssl rsa -aes256 -traditional` write it. The key is derived
//! with OpenSSL's `EVP_BytesToKey` (MD5, one round, the IV's first 8 bytes as salt); the body is
//! AES-128/192/256-CBC or DES-EDE3-CBC with PKCS#7 padding. MSAL Python reads these keys
//! through `cryptography`; here they decrypt to PKCS#1 DER.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use md5::{Digest, Md5};

use crate::error::Error;

/// Whether `pem` is a legacy encrypted PEM key.
pub(crate) fn is_legacy_encrypted(pem: &str) -> bool {
    pem.contains("Proc-Type: 4,ENCRYPTED")
}

/// The PKCS#1 DER of the legacy encrypted RSA key in `pem`, decrypted with `passphrase`.
pub(crate) fn decrypt(pem: &str, passphrase: &str) -> Result<Vec<u8>, Error> {
    let bad = |what: &str| Error::configuration(format!("the encrypted private key PEM {what}"));
    let begin = "-----BEGIN RSA PRIVATE KEY-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| bad("is not an RSA PRIVATE KEY block"))?
        + begin.len();
    let end = pem[start..]
        .find("-----END RSA PRIVATE KEY-----")
        .ok_or_else(|| bad("has no END line"))?;
    let mut dek_info = None;
    let mut body = String::new();
    for line in pem[start..start + end].lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("DEK-Info:") {
            dek_info = Some(value.trim().to_string());
        } else if !line.contains(':') {
            body.push_str(line);
        }
    }
    let dek_info = dek_info.ok_or_else(|| bad("has no DEK-Info header"))?;
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| bad("has a malformed DEK-Info header"))?;
    let iv = hex_decode(iv_hex.trim()).ok_or_else(|| bad("has a malformed IV"))?;
    let ciphertext = STANDARD.decode(body).map_err(|e| {
        Error::configuration_caused(
            format!("the encrypted private key PEM is not valid base64: {e}"),
            e,
        )
    })?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let key_len = match cipher.as_str() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" | "DES-EDE3-CBC" => 24,
        "AES-256-CBC" => 32,
        other => {
            return Err(Error::configuration(format!(
                "the private key is encrypted with {other}, which is not supported: convert it \
                 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-pkcs8.pem`"
            )));
        }
    };
    if iv.len() < 8 {
        return Err(bad("has an IV shorter than 8 bytes"));
    }
    let key = bytes_to_key(passphrase.as_bytes(), &iv[..8], key_len);
    let wrong = || Error::configuration("the private key's passphrase is wrong".into());
    let iv_length = || bad("has an IV of the wrong length for its cipher");
    let plain = match cipher.as_str() {
        "AES-128-CBC" => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(|_| iv_length())?
            .decrypt_padded_vec::<Pkcs7>(&ciphertext),
        "AES-192-CBC" => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(|_| iv_length())?
            .decrypt_padded_vec::<Pkcs7>(&ciphertext),
        "DES-EDE3-CBC" => cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| iv_length())?
            .decrypt_padded_vec::<Pkcs7>(&ciphertext),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|_| iv_length())?
            .decrypt_padded_vec::<Pkcs7>(&ciphertext),
    }
    .map_err(|_| wrong())?;
    // A wrong passphrase can still unpad by chance; the DER must be a SEQUENCE.
    if plain.first() != Some(&0x30) {
        return Err(wrong());
    }
    Ok(plain)
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration: D1 = MD5(pass‖salt),
/// Di = MD5(Di-1‖pass‖salt), concatenated to `len` bytes.
fn bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut previous: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut md5 = Md5::new();
        md5.update(&previous);
        md5.update(passphrase);
        md5.update(salt);
        previous = md5.finalize().to_vec();
        out.extend_from_slice(&previous);
    }
    out.truncate(len);
    out
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:secret -S 0001020304050607`
        let key = bytes_to_key(b"secret", &[0, 1, 2, 3, 4, 5, 6, 7], 32);
        assert_eq!(
            key,
            hex_decode("035FB8145B73CF111570DC936112BE9C375A5D3D8B915BC213BDBEF9DBFB7851").unwrap()
        );
        assert_eq!(hex_decode("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex_decode("0"), None);
    }
}
