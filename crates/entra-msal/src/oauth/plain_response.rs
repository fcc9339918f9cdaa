//! A direct reader for token responses in their plain shape: one JSON object of known fields
//! whose values are strings without escapes (or, for the lifetimes, whole numbers), which is what
//! Microsoft Entra ID sends. It reads them straight into a [`TokenResponse`], without serde's
//! field dispatch and flattened map.
//!
//! Anything else (an escape, `null`, an unknown or repeated field, a fraction, a number as text)
//! answers `None`, and the caller reads the body with serde, which stays the one definition of
//! what a token response means: every response this reader accepts, serde reads the same
//! (`reads_what_serde_reads`, over generated and hand-made bodies).

use std::sync::Arc;

use super::response::TokenResponse;

/// The token response in `text`, when it has the plain shape; else `None` (read it with serde).
pub(super) fn read(text: &str) -> Option<Box<TokenResponse>> {
    let mut json = Cursor {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    // Filled where it will stay.
    let mut response = Box::<TokenResponse>::default();
    let mut seen = Seen::default();
    json.skip_space();
    json.take(b'{')?;
    json.skip_space();
    if json.take(b'}').is_none() {
        loop {
            json.skip_space();
            let name = json.string()?;
            json.skip_space();
            json.take(b':')?;
            json.skip_space();
            let value = json.value()?;
            file(&mut response, &mut seen, name, value)?;
            json.skip_space();
            match json.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    json.skip_space();
    json.at_end().then_some(response)
}

/// A value of the plain shape.
enum Plain<'a> {
    /// A string without escapes (its text between the quotes).
    Text(&'a str),
    /// A whole number without sign, in `i64`'s range.
    Whole(i64),
}

/// The known fields already read (a repeated one goes to serde, which refuses it).
#[derive(Default)]
struct Seen(u16);

impl Seen {
    /// Marks field `bit`; `None` when it was marked before.
    fn first(&mut self, bit: u16) -> Option<()> {
        let mask = 1 << bit;
        (self.0 & mask == 0).then(|| self.0 |= mask)
    }
}

/// Files `value` under the field `name`, as serde's readers of these fields would
/// (`response_fields`: an empty string is absent; `token_type` `Bearer` is borrowed).
fn file(response: &mut TokenResponse, seen: &mut Seen, name: &str, value: Plain<'_>) -> Option<()> {
    fn text(value: Plain<'_>) -> Option<Option<String>> {
        match value {
            Plain::Text(text) => Some((!text.is_empty()).then(|| text.to_owned())),
            Plain::Whole(_) => None,
        }
    }
    fn seconds(value: Plain<'_>) -> Option<Option<i64>> {
        match value {
            Plain::Whole(n) => Some(Some(n)),
            Plain::Text(_) => None,
        }
    }
    match name {
        "access_token" => {
            seen.first(0)?;
            response.access_token = match value {
                Plain::Text(text) => (!text.is_empty()).then(|| Arc::from(text)),
                Plain::Whole(_) => return None,
            };
        }
        "token_type" => {
            seen.first(1)?;
            response.token_type = match value {
                Plain::Text(text) => (!text.is_empty()).then(|| crate::cache::token_type(text)),
                Plain::Whole(_) => return None,
            };
        }
        "expires_in" => {
            seen.first(2)?;
            response.expires_in = seconds(value)?;
        }
        "expires_on" => {
            seen.first(3)?;
            response.expires_on = seconds(value)?;
        }
        "ext_expires_in" => {
            seen.first(4)?;
            response.ext_expires_in = seconds(value)?;
        }
        "refresh_in" => {
            seen.first(5)?;
            response.refresh_in = seconds(value)?;
        }
        "refresh_token" => {
            seen.first(6)?;
            response.refresh_token = text(value)?;
        }
        "id_token" => {
            seen.first(7)?;
            response.id_token = text(value)?;
        }
        "client_info" => {
            seen.first(8)?;
            response.client_info = text(value)?;
        }
        "scope" => {
            seen.first(9)?;
            response.scope = text(value)?;
        }
        "foci" => {
            seen.first(10)?;
            response.foci = text(value)?;
        }
        _ => return None,
    }
    Some(())
}

/// A position in the body.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Skips JSON whitespace.
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn take(&mut self, expected: u8) -> Option<()> {
        (self.bytes.get(self.at) == Some(&expected)).then(|| self.at += 1)
    }

    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// A string without escapes or control characters; its text.
    fn string(&mut self) -> Option<&'a str> {
        self.take(b'"')?;
        let start = self.at;
        let end = start + first_special(self.bytes.get(start..)?)?;
        // Only the closing quote ends a plain string.
        (self.bytes.get(end) == Some(&b'"')).then_some(())?;
        self.at = end + 1;
        // Both ends sit next to an ASCII quote: character boundaries.
        self.text.get(start..end)
    }

    /// A plain value.
    fn value(&mut self) -> Option<Plain<'a>> {
        if self.bytes.get(self.at) == Some(&b'"') {
            return self.string().map(Plain::Text);
        }
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = self.text.get(start..self.at)?;
        // JSON has no leading zeros; a fraction or an exponent goes to serde.
        let plain = !digits.is_empty()
            && (digits == "0" || !digits.starts_with('0'))
            && !matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        digits.parse::<i64>().ok().map(Plain::Whole)
    }
}

/// The index of the first `"`, `\` or control character in `bytes`, eight bytes at a time.
fn first_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte below `n` (exact up to the first such byte; bytes of 0x80 and
    // above, UTF-8's, never count).
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder();
    for (i, chunk) in chunks.enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let special = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if special != 0 {
            return Some(i * 8 + (special.trailing_zeros() / 8) as usize);
        }
    }
    let done = bytes.len() - tail.len();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| done + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's reading of `body`, the definition.
    fn serde(body: &str) -> Option<Box<TokenResponse>> {
        serde_json::from_str(body).ok().map(Box::new)
    }

    fn check(body: &str) {
        if let Some(plain) = read(body) {
            assert_eq!(Some(&plain), serde(body).as_ref(), "{body:?}");
        }
    }

    #[test]
    fn the_usual_responses_are_read_directly() {
        let body = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.eyJ1.c2ln"}"#;
        let plain = read(body).expect("the plain shape");
        assert_eq!(plain, serde(body).unwrap());
        assert_eq!(plain.access_token(), Some("eyJ0.eyJ1.c2ln"));
        assert_eq!(plain.expires_in(), Some(3599));
        assert!(matches!(
            plain.token_type,
            Some(std::borrow::Cow::Borrowed(_))
        ));
        let user = r#" {
            "token_type": "Bearer", "scope": "User.Read profile openid", "expires_in": 4796,
            "ext_expires_in": 4796, "refresh_in": 2398, "access_token": "AT", "refresh_token": "RT",
            "id_token": "a.b.c", "client_info": "eyJ1aWQiOiIxIn0", "foci": "1", "expires_on": 0
        } "#;
        assert_eq!(read(user).expect("the plain shape"), serde(user).unwrap());
        assert_eq!(read("{}"), serde("{}"));
        assert_eq!(read(r#"{"access_token": "", "scope": ""}"#), serde("{}"));
    }

    #[test]
    fn everything_else_goes_to_serde() {
        for body in [
            r#"{"access_token": "a\"b"}"#,
            r#"{"access_token": "a\nb"}"#,
            r#"{"access_token": null}"#,
            r#"{"access_token": "a", "access_token": "b"}"#,
            r#"{"unknown": "x"}"#,
            r#"{"expires_in": "3599"}"#,
            r#"{"expires_in": 3599.5}"#,
            r#"{"expires_in": 1e3}"#,
            r#"{"expires_in": -1}"#,
            r#"{"expires_in": 01}"#,
            r#"{"expires_in": 99999999999999999999}"#,
            r#"{"foci": 1}"#,
            r#"{"access_token": 1}"#,
            r#"{"scope": ["a"]}"#,
            r#"{"access_token": "a",}"#,
            r#"{"access_token": "a"} x"#,
            r#"{"access_token": "a""#,
            r#"{"access_token" "a"}"#,
            r#"["access_token"]"#,
            "",
        ] {
            assert_eq!(read(body), None, "{body}");
        }
    }

    #[test]
    fn special_bytes_are_found_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert_eq!(first_special(&bytes), Some(at), "{len} {at} {special}");
                    // A later special byte does not hide the first.
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                        assert_eq!(first_special(&bytes), Some(at));
                    }
                }
            }
            assert_eq!(first_special(&vec![b'a'; len]), None);
            // UTF-8's bytes (0x80 and above) and the last plain ones (0x20, 0x7f) are text.
            let text: Vec<u8> = "é ~\u{7f}€".bytes().cycle().take(len).collect();
            assert_eq!(first_special(&text), None);
        }
    }

    /// Generated bodies: every field in turn, in both kinds, empty or not, spaced or not, in
    /// shuffled orders, with and without an unknown field; each is checked against serde.
    #[test]
    fn reads_what_serde_reads() {
        let names = [
            "access_token",
            "token_type",
            "expires_in",
            "expires_on",
            "ext_expires_in",
            "refresh_in",
            "refresh_token",
            "id_token",
            "client_info",
            "scope",
            "foci",
            "other",
        ];
        let values = [
            r#""""#,
            r#""Bearer""#,
            r#""pop""#,
            r#""é€""#,
            "0",
            "3599",
            "42 ",
            r#""3599""#,
        ];
        let spaces = ["", " ", "\n\t", "\r\n  "];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut plain = 0;
        for _ in 0..20_000 {
            let count = random(names.len() + 1);
            let mut body = String::from(spaces[random(spaces.len())]);
            body.push('{');
            for i in 0..count {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(spaces[random(spaces.len())]);
                body.push('"');
                body.push_str(names[random(names.len())]);
                body.push('"');
                body.push_str(spaces[random(spaces.len())]);
                body.push(':');
                body.push_str(spaces[random(spaces.len())]);
                body.push_str(values[random(values.len())]);
            }
            body.push_str(spaces[random(spaces.len())]);
            body.push('}');
            body.push_str(spaces[random(spaces.len())]);
            check(&body);
            plain += usize::from(read(&body).is_some());
        }
        // The generator reaches both paths.
        assert!(plain > 1_000, "{plain}");
    }
}
