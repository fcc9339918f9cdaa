//! A form's `application/x-www-form-urlencoded` body, encoded as browsers (and
//! `url::form_urlencoded`) encode it: ASCII letters, digits and `*-._` as they are, a space as
//! `+`, every other byte as `%XX` in upper-case hex. Runs of plain bytes are copied at once
//! (a form is mostly plain: identifiers, scopes, secrets).

/// Whether a byte goes into the body as it is.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        plain[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    plain
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `name=value` to `body`, after a `&` unless it is the first pair.
pub(crate) fn append_pair(body: &mut Vec<u8>, name: &str, value: &str) {
    if !body.is_empty() {
        body.push(b'&');
    }
    append_encoded(body, name.as_bytes());
    body.push(b'=');
    append_encoded(body, value.as_bytes());
}

fn append_encoded(body: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if PLAIN[usize::from(b)] {
            continue;
        }
        body.extend_from_slice(&bytes[start..i]);
        if b == b' ' {
            body.push(b'+');
        } else {
            body.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        start = i + 1;
    }
    body.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(pairs: &[(&str, &str)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (n, v) in pairs {
            s.append_pair(n, v);
        }
        s.finish()
    }

    fn ours(pairs: &[(&str, &str)]) -> String {
        let mut body = Vec::new();
        for (n, v) in pairs {
            append_pair(&mut body, n, v);
        }
        String::from_utf8(body).expect("an encoded body is ASCII")
    }

    #[test]
    fn every_character_is_encoded_as_url_encodes_it() {
        // Every ASCII byte, alone and between plain text, in names and values.
        for c in (0u8..128).map(char::from) {
            let alone = c.to_string();
            let between = format!("ab{c}cd{c}");
            for pairs in [
                vec![(alone.as_str(), alone.as_str())],
                vec![("scope", between.as_str()), (between.as_str(), "x")],
            ] {
                assert_eq!(ours(&pairs), reference(&pairs), "{c:?}");
            }
        }
        // Non-ASCII text, every byte escaped.
        let pairs = [
            ("username", "jöhn ñ@例え.jp"),
            ("", ""),
            ("claims", "{\"a\":[1]}"),
        ];
        assert_eq!(ours(&pairs), reference(&pairs));
    }

    #[test]
    fn a_token_request_form() {
        let pairs = [
            ("client_id", "6731de76-14a6-49ae-97bc-6eba6914391e"),
            ("grant_type", "client_credentials"),
            (
                "scope",
                "https://graph.microsoft.com/.default offline_access",
            ),
            ("client_secret", "s3cr~t+/="),
        ];
        assert_eq!(
            ours(&pairs),
            "client_id=6731de76-14a6-49ae-97bc-6eba6914391e&grant_type=client_credentials\
             &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default+offline_access\
             &client_secret=s3cr%7Et%2B%2F%3D"
        );
        assert_eq!(ours(&pairs), reference(&pairs));
    }
}
