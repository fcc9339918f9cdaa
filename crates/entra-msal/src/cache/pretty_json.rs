//! The cache's JSON writer: a `serde` serializer that writes exactly what
//! `serde_json::ser::PrettyFormatter::with_indent(b"    ")` writes (MSAL Python's 4-space
//! indent), into a `String`.
//!
//! Why not `serde_json` itself: it escapes strings one byte at a time through a table, and a
//! cache is mostly long secrets (access, refresh and ID tokens) with nothing to escape. Here a
//! string is checked 32 bytes at a time (a comparison the compiler turns into vector
//! instructions) and its clean runs are copied whole. Writing into a `String` through `&str`
//! slices also spares the final UTF-8 validation of the output.
//!
//! Only what the cache writes is supported: maps with string keys, sequences, strings, numbers,
//! booleans and null (`serde_json::Value` and the entities of `schema.rs`). Anything else is an
//! [`Unsupported`] error, never invalid JSON.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible, SerializeMap, SerializeSeq};

/// Writes `value` as indented JSON into `out`.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Unsupported> {
    value.serialize(&mut PrettyJson {
        out,
        depth: 0,
        in_key: false,
        verbatim: false,
    })
}

/// The map entry `key: value` as [`write()`] writes it when the entry sits in a map `depth`
/// levels deep in a document (after the separator, the new line and the indent that come
/// before it): the text a [`VerbatimEntry`] there must hold.
pub(crate) fn entry_text_at<T: Serialize + ?Sized>(
    depth: usize,
    key: &str,
    value: &T,
) -> Result<String, Unsupported> {
    let mut out = String::new();
    write_string(&mut out, key);
    out.push_str(": ");
    value.serialize(&mut PrettyJson {
        out: &mut out,
        depth,
        in_key: false,
        verbatim: false,
    })?;
    Ok(out)
}

/// A whole map entry (key and value) written as it is (see [`entry_text_at`]): passed to
/// `SerializeMap::serialize_key`, with no `serialize_value` after it. Only this writer knows
/// it; another serializer would write it as a key without a value.
pub(crate) struct VerbatimEntry<'a>(pub(crate) &'a str);

/// The name that marks a [`VerbatimEntry`] to this writer.
const VERBATIM_ENTRY: &str = "entra_msal::cache::pretty_json::VerbatimEntry";

impl Serialize for VerbatimEntry<'_> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(VERBATIM_ENTRY, self.0)
    }
}

/// A value the cache writer cannot write (a non-string map key, bytes, an enum, a struct).
#[derive(Debug)]
pub(crate) struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the cache's JSON writer cannot write {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn unsupported(what: &str) -> Unsupported {
    Unsupported(what.to_string())
}

struct PrettyJson<'a> {
    out: &'a mut String,
    depth: usize,
    /// A map key is being written: only strings are valid JSON keys.
    in_key: bool,
    /// The next string is a [`VerbatimEntry`]'s text.
    verbatim: bool,
}

const INDENT: &str = "    ";
/// A new line and the indents of the first levels, written with one copy (a cache is 3 deep).
const NEWLINE_INDENTS: &str = "\n                ";

impl PrettyJson<'_> {
    fn newline(&mut self) {
        let shallow = self.depth.min((NEWLINE_INDENTS.len() - 1) / INDENT.len());
        self.out
            .push_str(&NEWLINE_INDENTS[..1 + shallow * INDENT.len()]);
        for _ in shallow..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Fails for anything but a string while a map key is written.
    fn scalar(&mut self, what: &str) -> Result<(), Unsupported> {
        if self.in_key {
            return Err(unsupported(&format!("a map key that is {what}")));
        }
        Ok(())
    }
}

/// Opens a map (`{`) or a sequence (`[`).
fn open<'w, 'a>(
    writer: &'w mut PrettyJson<'a>,
    bracket: char,
) -> Result<Compound<'w, 'a>, Unsupported> {
    writer.scalar("a map or sequence")?;
    writer.out.push(bracket);
    writer.depth += 1;
    Ok(Compound {
        writer,
        first: true,
    })
}

/// Whether JSON needs `b` escaped: `"`, `\` and the control characters below U+0020.
fn needs_escape(b: u8) -> bool {
    // Bitwise, not short-circuit: branch-free, so a chunk's checks vectorize.
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// The bytes checked at once.
const CHUNK: usize = 32;

/// Whether any byte of a chunk needs escaping; written as a fold over a fixed-size array so
/// that it compiles to a few vector comparisons instead of one branch per byte.
#[inline(always)]
fn any_needs_escape(chunk: &[u8; CHUNK]) -> bool {
    chunk
        .iter()
        .fold(0u8, |acc, &b| acc | u8::from(needs_escape(b)))
        != 0
}

/// The index of the first byte at or after `from` that needs escaping.
///
/// Whole chunks are checked at once, and only a chunk with a hit is searched byte by byte.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes
        .get(i..i + CHUNK)
        .and_then(|c| <&[u8; CHUNK]>::try_from(c).ok())
    {
        if any_needs_escape(chunk) {
            return bytes[i..i + CHUNK]
                .iter()
                .position(|&b| needs_escape(b))
                .map(|p| i + p);
        }
        i += CHUNK;
    }
    let tail = &bytes[i..];
    // A string of a chunk or more: its last chunk covers the tail (some bytes twice). A shorter
    // one (most keys and names) is checked 8 bytes at a time; copying it into a padded chunk
    // would cost more (the copy's stores stall the chunk's load).
    let clean = match bytes.len().checked_sub(CHUNK) {
        Some(last) => bytes
            .get(last..)
            .and_then(|c| <&[u8; CHUNK]>::try_from(c).ok())
            .is_some_and(|c| !any_needs_escape(c)),
        None => short_is_clean(tail),
    };
    if clean {
        return None;
    }
    tail.iter().position(|&b| needs_escape(b)).map(|p| i + p)
}

/// Whether nothing in `bytes` (shorter than a chunk) needs escaping, 8 bytes at a time; the
/// last word overlaps the one before it.
fn short_is_clean(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return !bytes.iter().any(|&b| needs_escape(b));
    }
    let words = bytes.chunks_exact(8).chain(bytes.get(bytes.len() - 8..));
    words
        .filter_map(|w| <[u8; 8]>::try_from(w).ok())
        .all(|w| !word_needs_escape(u64::from_le_bytes(w)))
}

/// Whether any byte of `word` needs escaping, without a branch per byte: the classic
/// "has a zero byte" and "has a byte less than n" bit tricks, exact as a yes/no answer.
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::MAX / 255; // 0x0101…01
    const HIGH: u64 = ONES * 0x80;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// `s` as a JSON string literal, escaped exactly as `serde_json` escapes it.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        // The byte at `i` is ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// An open map or sequence.
struct Compound<'w, 'a> {
    writer: &'w mut PrettyJson<'a>,
    first: bool,
}

impl Compound<'_, '_> {
    /// Before an item: the separator, a new line and the indent.
    fn item(&mut self) {
        if !self.first {
            self.writer.out.push(',');
        }
        self.first = false;
        self.writer.newline();
    }

    fn close(self, bracket: char) {
        self.writer.depth -= 1;
        if !self.first {
            self.writer.newline();
        }
        self.writer.out.push(bracket);
    }
}

impl<'a, 'w> ser::Serializer for &'w mut PrettyJson<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.scalar("a boolean")?;
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.scalar("a number")?;
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.scalar("a number")?;
        self.out.push_str(itoa::Buffer::new().format(v));
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        self.scalar("a number")?;
        // Rare in a cache (only in unknown fields): `serde_json` writes it, so the shortest
        // round-trip form and `null` for non-finite values stay exactly its own.
        let text = serde_json::to_string(&v).map_err(|e| unsupported(&e.to_string()))?;
        self.out.push_str(&text);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        if std::mem::take(&mut self.verbatim) {
            self.out.push_str(v);
        } else {
            write_string(self.out, v);
        }
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.scalar("null")?;
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if name == VERBATIM_ENTRY {
            if !self.in_key {
                return Err(unsupported("a verbatim map entry outside a map's keys"));
            }
            self.verbatim = true;
            let written = value.serialize(&mut *self);
            self.verbatim = false;
            return written;
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        open(self, '[')
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(unsupported("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        open(self, '{')
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(unsupported("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(unsupported("an enum variant with data"))
    }
}

impl SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item();
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close(']');
        Ok(())
    }
}

impl SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.item();
        self.writer.in_key = true;
        let written = key.serialize(&mut *self.writer);
        self.writer.in_key = false;
        written
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.writer.out.push_str(": ");
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn serde_json_pretty(value: &Value) -> String {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        value.serialize(&mut serializer).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn ours(value: &Value) -> String {
        let mut out = String::new();
        write(&mut out, value).unwrap();
        out
    }

    #[test]
    fn writes_what_serde_json_pretty_writes() {
        let value = json!({
            "empty_map": {}, "empty_list": [], "null": null, "yes": true, "no": false,
            "numbers": [0, -1, 18446744073709551615u64, -9223372036854775808i64, 1.5, 1e300, 0.1],
            "nested": {"a": [{"b": []}, [1, [2]], "c"], "d": {"e": {"f": "g"}}},
            "text": "plain", "": "empty key",
            "unicode": "üñïçødé – 日本語 🦀",
        });
        assert_eq!(ours(&value), serde_json_pretty(&value));
    }

    #[test]
    fn escapes_every_byte_as_serde_json_does() {
        // Every ASCII byte, at every offset of a chunk and across chunk boundaries.
        let all: String = (0u8..0x80).map(char::from).collect();
        for prefix in 0..70 {
            let s = format!("{}{all}{}é\u{7f}", "x".repeat(prefix), "y".repeat(prefix));
            let value = json!({ s.clone(): [s.clone(), {"k": s}] });
            assert_eq!(ours(&value), serde_json_pretty(&value), "prefix {prefix}");
        }
    }

    #[test]
    fn long_clean_and_dirty_strings() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1500] {
            for special in ["", "\"", "\\", "\n", "\u{1}", "ü"] {
                let s = format!("{}{special}{}", "a".repeat(len), "b".repeat(len / 2));
                let value = Value::String(s);
                assert_eq!(ours(&value), serde_json_pretty(&value));
            }
        }
    }

    #[test]
    fn short_strings_with_one_special_character_anywhere() {
        for len in 1..40 {
            for at in 0..len {
                for special in [
                    '\0', '\u{1f}', '"', '\\', ' ', '\u{7f}', 'é', '!', '#', '[', ']',
                ] {
                    let s: String = (0..len)
                        .map(|i| if i == at { special } else { 'k' })
                        .collect();
                    let value = Value::String(s);
                    assert_eq!(ours(&value), serde_json_pretty(&value));
                }
            }
        }
    }

    #[test]
    fn the_word_check_agrees_with_the_byte_check() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            // xorshift: varied words, many with bytes near the escape boundaries.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let word = (seed & (u64::MAX / 255 * 0x7f)) | ((seed >> 3) & (u64::MAX / 255 * 0x80));
            let bytes = word.to_le_bytes();
            assert_eq!(
                word_needs_escape(word),
                bytes.iter().any(|&b| needs_escape(b)),
                "{bytes:?}"
            );
        }
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut bytes = [b'a'; 8];
                bytes[at] = b;
                let word = u64::from_le_bytes(bytes);
                assert_eq!(word_needs_escape(word), needs_escape(b), "{b:#x} at {at}");
            }
        }
    }

    /// A map of remembered entries, each written whole, reads as the map written in place.
    #[test]
    fn verbatim_entries_write_what_the_entries_would() {
        struct Remembered(Vec<String>);
        impl Serialize for Remembered {
            fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(Some(self.0.len()))?;
                for text in &self.0 {
                    m.serialize_key(&VerbatimEntry(text))?;
                }
                m.end()
            }
        }
        // In key order, as `serde_json`'s map writes them.
        let entries = [
            ("", json!("scalar")),
            (
                "needs \"escaping\"\n",
                json!({"nested": {"list": [1, {}], "empty": []}}),
            ),
            ("plain", json!({"secret": "x", "n": 1})),
        ];
        let remembered = entries
            .iter()
            .map(|(key, value)| entry_text_at(2, key, value).unwrap())
            .collect();
        let expected = json!({"outer": Value::Object(
            entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        )});
        let mut out = String::new();
        write(
            &mut out,
            &std::collections::BTreeMap::from([("outer", Remembered(remembered))]),
        )
        .unwrap();
        assert_eq!(out, serde_json_pretty(&expected));
        // Anywhere but in a map's keys, it is refused.
        let err = write(&mut String::new(), &VerbatimEntry("\"k\": 1")).unwrap_err();
        assert!(err.to_string().contains("verbatim"), "{err}");
    }

    #[test]
    fn a_non_string_key_is_an_error_not_invalid_json() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(1, "one");
        let mut out = String::new();
        let err = write(&mut out, &map).unwrap_err();
        assert!(err.to_string().contains("map key"), "{err}");
    }
}
