//! The cache as MSAL-compatible JSON (`SerializableTokenCache.serialize()` / `deserialize()`).
//!
//! Writing: one object holding the five maps (always all five, possibly empty), then unknown
//! top-level keys; entries sorted by key; indented by 4 spaces like MSAL Python.
//!
//! Reading is streaming (no intermediate JSON tree for the whole document) and tolerant: an
//! entry that does not fit the schema, a known map that is not an object, and unknown top-level
//! keys are all kept verbatim and written back.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::pretty_json;
use super::schema::{
    ACCESS_TOKEN, ACCOUNT, APP_METADATA, AccessToken, AccountEntity, AppMetadata, Entity,
    FieldValue, ID_TOKEN, IdToken, MAX_FIELDS, REFRESH_TOKEN, RefreshToken,
};
use super::store::{AccessTokens, EntryJson, EntryRef, Indexed, Section as StoreSection, Store};

/// The top-level maps, in the order MSAL Python creates them.
const SECTIONS: [&str; 5] = [ACCESS_TOKEN, ACCOUNT, ID_TOKEN, REFRESH_TOKEN, APP_METADATA];

// ---------------------------------------------------------------------------------------------
// Writing

struct Entries<'a, T>(Vec<(&'a str, EntryRef<'a, T>)>);

/// The depth of an entry's value in the document (`{"AccessToken": {"key": value}}`).
const ENTRY_DEPTH: usize = 2;

impl<T: Serialize> Serialize for Entries<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                EntryRef::Typed(t, json) => match remembered(json, k, t) {
                    // The whole entry, key included: nothing of it is read or escaped again.
                    Some(text) => m.serialize_key(&pretty_json::VerbatimEntry(text))?,
                    None => m.serialize_entry(k, t)?,
                },
                EntryRef::Raw(r) => m.serialize_entry(k, r)?,
            }
        }
        m.end()
    }
}

/// The entry's remembered text, written now if it has none yet; `None` only if the entry
/// cannot be written on its own (it is then written in place, as before).
fn remembered<'a, T: Serialize>(json: &'a EntryJson, key: &str, entry: &T) -> Option<&'a str> {
    if let Some(text) = json.get() {
        return Some(text);
    }
    let text = pretty_json::entry_text_at(ENTRY_DEPTH, key, entry).ok()?;
    Some(json.get_or_init(|| text.into_boxed_str()))
}

struct Document<'a>(&'a Store);

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let store = self.0;
        let mut m = serializer.serialize_map(None)?;
        for name in SECTIONS {
            if store.section_is_empty(name)
                && let Some(verbatim) = store.extra.get(name)
            {
                m.serialize_entry(name, verbatim)?;
                continue;
            }
            match name {
                ACCESS_TOKEN => m.serialize_entry(name, &Entries(store.access_tokens.sorted()))?,
                ACCOUNT => m.serialize_entry(name, &Entries(store.accounts.sorted()))?,
                ID_TOKEN => m.serialize_entry(name, &Entries(store.id_tokens.sorted()))?,
                REFRESH_TOKEN => {
                    m.serialize_entry(name, &Entries(store.refresh_tokens.sorted()))?
                }
                _ => m.serialize_entry(name, &Entries(store.app_metadata.sorted()))?,
            }
        }
        for (k, v) in &store.extra {
            if !SECTIONS.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The cache as JSON, indented by 4 spaces.
/// `capacity` is a guess of the output size (e.g. the previous one).
pub(crate) fn to_json(store: &Store, capacity: usize) -> String {
    to_json_into(store, String::new(), capacity)
}

/// [`to_json`], written into `out` (cleared first; its allocation is reused).
pub(crate) fn to_json_into(store: &Store, mut out: String, capacity: usize) -> String {
    out.clear();
    out.reserve(capacity.max(256));
    // Every map key the store holds is a string, and writing into a String cannot fail.
    if pretty_json::write(&mut out, &Document(store)).is_err() {
        out.clear();
        out.push_str("{}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A JSON value that is either an object (handled by `T`) or anything else (kept verbatim).
trait ObjectOr<'de>: Sized {
    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    fn from_other(value: Value) -> Self;
    /// A string the document holds as is (without escape sequences).
    fn from_borrowed_str(v: &'de str) -> Self {
        Self::from_other(Value::String(v.to_owned()))
    }
}

struct ObjectOrVisitor<T>(PhantomData<T>);

impl<'de, T: ObjectOr<'de>> Visitor<'de> for ObjectOrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_object(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(T::from_other(Value::Array(items)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::from_other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::from_other(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::from_other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::from_other(Value::from(v)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_borrowed_str(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from_other(Value::String(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from_other(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::from_other(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::from_other(Value::Null))
    }
}

struct ObjectOrSeed<T>(PhantomData<T>);

impl<'de, T: ObjectOr<'de>> DeserializeSeed<'de> for ObjectOrSeed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(ObjectOrVisitor(PhantomData))
    }
}

fn next_object_or<'de, A: MapAccess<'de>, T: ObjectOr<'de>>(map: &mut A) -> Result<T, A::Error> {
    map.next_value_seed(ObjectOrSeed(PhantomData))
}

/// A field name: one of the entity's known fields (no allocation), or another one.
enum Field {
    Known(usize),
    Other(String),
}

struct FieldSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(match self.0.iter().position(|f| *f == v) {
            Some(i) => Field::Known(i),
            None => Field::Other(v.to_string()),
        })
    }
}

/// One entry: typed when it fits the schema, else verbatim.
enum Entry<T> {
    Typed(T),
    Raw(Value),
}

impl<'de, T: Entity> ObjectOr<'de> for Entry<T> {
    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut fields: [Option<FieldValue<'de>>; MAX_FIELDS] = Default::default();
        let fields = &mut fields[..T::FIELDS.len()];
        let mut extra = Map::new();
        while let Some(field) = map.next_key_seed(FieldSeed(T::FIELDS))? {
            match field {
                Field::Known(i) => {
                    let value: FieldValue<'de> = next_object_or(&mut map)?;
                    if let Some(slot) = fields.get_mut(i) {
                        *slot = Some(value);
                    }
                }
                Field::Other(name) => {
                    let value: Value = map.next_value()?;
                    extra.insert(name, value);
                }
            }
        }
        Ok(match T::from_fields(fields, extra) {
            Ok(t) => Entry::Typed(t),
            Err(raw) => Entry::Raw(raw),
        })
    }
    fn from_other(value: Value) -> Self {
        Entry::Raw(value)
    }
}

/// A known field: a string borrowed from the document where it can be, else any value.
impl<'de> ObjectOr<'de> for FieldValue<'de> {
    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let object = serde::de::value::MapAccessDeserializer::new(map);
        serde::Deserialize::deserialize(object).map(FieldValue::Json)
    }
    fn from_other(value: Value) -> Self {
        FieldValue::Json(value)
    }
    fn from_borrowed_str(v: &'de str) -> Self {
        FieldValue::Text(v)
    }
}

/// One top-level map: its entries when it is an object, else the value verbatim.
enum Section<T> {
    Entries(Vec<(String, Entry<T>)>),
    Other(Value),
}

impl<'de, T: Entity> ObjectOr<'de> for Section<T> {
    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            let entry: Entry<T> = next_object_or(&mut map)?;
            entries.push((key, entry));
        }
        Ok(Section::Entries(entries))
    }
    fn from_other(value: Value) -> Self {
        Section::Other(value)
    }
}

/// The sections as read; a repeated top-level key replaces the earlier one, like Python's
/// `json.loads`.
#[derive(Default)]
struct Sections {
    access_tokens: Option<Section<AccessToken>>,
    accounts: Option<Section<AccountEntity>>,
    id_tokens: Option<Section<IdToken>>,
    refresh_tokens: Option<Section<RefreshToken>>,
    app_metadata: Option<Section<AppMetadata>>,
    extra: Map<String, Value>,
}

/// `Some(store)` for an object; `None` for any other JSON value.
struct Top(Option<Sections>);

impl<'de> ObjectOr<'de> for Top {
    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut s = Sections::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                ACCESS_TOKEN => s.access_tokens = Some(next_object_or(&mut map)?),
                ACCOUNT => s.accounts = Some(next_object_or(&mut map)?),
                ID_TOKEN => s.id_tokens = Some(next_object_or(&mut map)?),
                REFRESH_TOKEN => s.refresh_tokens = Some(next_object_or(&mut map)?),
                APP_METADATA => s.app_metadata = Some(next_object_or(&mut map)?),
                _ => {
                    let value: Value = map.next_value()?;
                    s.extra.insert(key, value);
                }
            }
        }
        Ok(Top(Some(s)))
    }
    fn from_other(_: Value) -> Self {
        Top(None)
    }
}

/// Where the entries of one section go.
trait Sink<T> {
    fn reserve(&mut self, additional: usize);
    fn put(&mut self, key: String, entry: T);
    fn put_raw(&mut self, key: String, value: Value);
}

impl Sink<AccessToken> for AccessTokens {
    fn reserve(&mut self, additional: usize) {
        AccessTokens::reserve(self, additional);
    }
    fn put(&mut self, key: String, entry: AccessToken) {
        self.insert(key, entry);
    }
    fn put_raw(&mut self, key: String, value: Value) {
        self.insert_raw(key, value);
    }
}

impl<T: Indexed> Sink<T> for StoreSection<T> {
    fn reserve(&mut self, additional: usize) {
        StoreSection::reserve(self, additional);
    }
    fn put(&mut self, key: String, entry: T) {
        self.insert(key, entry);
    }
    fn put_raw(&mut self, key: String, value: Value) {
        self.insert_raw(key, value);
    }
}

/// Files a section's entries in document order (a repeated key replaces the earlier entry), or
/// keeps a non-object section verbatim.
fn fill<T>(
    section: Option<Section<T>>,
    name: &str,
    extra: &mut Map<String, Value>,
    sink: &mut impl Sink<T>,
) {
    match section {
        None => {}
        Some(Section::Other(value)) => {
            extra.insert(name.to_string(), value);
        }
        Some(Section::Entries(entries)) => {
            sink.reserve(entries.len());
            for (key, entry) in entries {
                match entry {
                    Entry::Typed(t) => sink.put(key, t),
                    Entry::Raw(v) => sink.put_raw(key, v),
                }
            }
        }
    }
}

/// Parses a serialized cache. An empty (or all-whitespace) text is an empty cache, as in MSAL
/// Python. Errors describe the position of the problem, never the content.
pub(crate) fn from_json(json: &str) -> Result<Store, String> {
    if json.trim().is_empty() {
        return Ok(Store::default());
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let top = ObjectOrSeed::<Top>(PhantomData)
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top))
        .map_err(|e| format!("the serialized token cache is not valid JSON ({e})"))?;
    let Top(Some(s)) = top else {
        return Err("the serialized token cache is not a JSON object".to_string());
    };
    let mut store = Store::default();
    let mut extra = s.extra;
    fill(
        s.access_tokens,
        ACCESS_TOKEN,
        &mut extra,
        &mut store.access_tokens,
    );
    fill(s.accounts, ACCOUNT, &mut extra, &mut store.accounts);
    fill(s.id_tokens, ID_TOKEN, &mut extra, &mut store.id_tokens);
    fill(
        s.refresh_tokens,
        REFRESH_TOKEN,
        &mut extra,
        &mut store.refresh_tokens,
    );
    fill(
        s.app_metadata,
        APP_METADATA,
        &mut extra,
        &mut store.app_metadata,
    );
    store.extra = extra;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Fuzzing finding: without serde_json's `float_roundtrip`, a large number kept from a
    /// cache file came back 1 ULP off after a write and a read, so every save changed it.
    #[test]
    fn numbers_read_back_bit_for_bit() {
        for input in [
            r#"{"'Ac5eeo":4500000000000080061584410}"#,
            r#"{"AccessToken":{"k":{"secret":"s","expires_on":"1","x":4.5000000000000796e+24}}}"#,
            r#"{"Extra":[0.1,1e-300,2.2250738585072014e-308,1.7976931348623157e308]}"#,
        ] {
            let first = to_json(&from_json(input).unwrap(), 0);
            let second = to_json(&from_json(&first).unwrap(), 0);
            assert_eq!(first, second);
        }
    }

    #[test]
    fn writes_five_maps_indented_by_four_spaces() {
        let text = to_json(&Store::default(), 0);
        assert_eq!(
            text,
            "{\n    \"AccessToken\": {},\n    \"Account\": {},\n    \"IdToken\": {},\n    \
             \"RefreshToken\": {},\n    \"AppMetadata\": {}\n}"
        );
    }

    /// An entry's remembered text sits at its depth: the document is indented exactly as
    /// MSAL Python indents it, on the first serialization (which remembers) and the next (which
    /// copies).
    #[test]
    fn remembered_entries_are_indented_at_their_depth() {
        let input = r#"{"AppMetadata": {"appmetadata-e-c": {"client_id": "c", "environment": "e",
            "x": [1, {"y": null}]}}}"#;
        let store = from_json(input).unwrap();
        let expected = "{\n    \"AccessToken\": {},\n    \"Account\": {},\n    \"IdToken\": {},\n    \
             \"RefreshToken\": {},\n    \"AppMetadata\": {\n        \"appmetadata-e-c\": {\n            \
             \"client_id\": \"c\",\n            \"environment\": \"e\",\n            \"x\": [\n                \
             1,\n                {\n                    \"y\": null\n                }\n            ]\n        \
             }\n    }\n}";
        assert_eq!(to_json(&store, 0), expected);
        assert_eq!(to_json(&store, 0), expected);
    }

    #[test]
    fn entries_are_sorted_and_numbers_become_strings() {
        let input = json!({"AppMetadata": {
            "appmetadata-b-c": {"client_id": "c", "environment": "b"},
            "appmetadata-a-c": {"client_id": "c", "environment": "a", "family_id": "1"}},
            "AccessToken": {"k": {"secret": "s", "home_account_id": null, "environment": "e",
                "client_id": "c", "target": "t", "realm": "r", "expires_on": 5,
                "cached_at": 1.0}}});
        let store = from_json(&input.to_string()).unwrap();
        let text = to_json(&store, 0);
        let a = text.find("appmetadata-a-c").unwrap();
        let b = text.find("appmetadata-b-c").unwrap();
        assert!(a < b);
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["AccessToken"]["k"]["expires_on"], "5");
        assert_eq!(out["AccessToken"]["k"]["cached_at"], "1");
        assert_eq!(out["AccessToken"]["k"]["credential_type"], "AccessToken");
    }

    /// Known fields are read borrowed from the document when they can be; a string with an
    /// escape sequence is decoded instead, and an entry that does not fit keeps every field as
    /// written (a time stays a string, a number a number).
    #[test]
    fn escaped_and_borrowed_fields_read_alike() {
        let plain = r#"{"AccessToken": {"k": {"credential_type": "AccessToken", "secret": "s/1",
            "home_account_id": null, "environment": "e", "client_id": "c", "target": "t",
            "realm": "r", "expires_on": "5", "cached_at": "1"}}}"#;
        let escaped = r#"{"AccessToken": {"k": {"credential_type": "Access\u0054oken",
            "secret": "s\/1", "home_account_id": null, "environment": "\u0065",
            "client_id": "c", "target": "t", "realm": "r", "expires_on": " \u0035",
            "cached_at": "1"}}}"#;
        for text in [plain, escaped] {
            let store = from_json(text).unwrap();
            let sorted = store.access_tokens.sorted();
            let Some((_, EntryRef::Typed(at, _))) = sorted.first() else {
                panic!("a typed token");
            };
            assert_eq!(&*at.secret, "s/1");
            assert_eq!(&*at.environment, "e");
            assert_eq!((at.expires_on, at.cached_at), (5, Some(1)));
        }
        let unfit = r#"{"AccessToken": {"k": {"credential_type": "AccessToken", "secret": 7,
            "home_account_id": null, "environment": "e\u0065", "client_id": "c",
            "target": "t", "realm": "r", "expires_on": "5", "cached_at": 1.5}}}"#;
        let store = from_json(unfit).unwrap();
        assert_eq!(store.access_tokens.len(), 0);
        let out: Value = serde_json::from_str(&to_json(&store, 0)).unwrap();
        let expected: Value = serde_json::from_str(unfit).unwrap();
        assert_eq!(out["AccessToken"], expected["AccessToken"]);
    }

    #[test]
    fn a_repeated_key_replaces_the_earlier_one() {
        let text = r#"{
            "RefreshToken": {"k": {"foo": 1}},
            "RefreshToken": {"k": {"secret": "s", "home_account_id": "h", "environment": "e",
                                   "client_id": "c"},
                             "k": {"bar": 2}},
            "x": 1, "x": 2
        }"#;
        let store = from_json(text).unwrap();
        assert_eq!(store.refresh_tokens.len(), 0);
        let out: Value = serde_json::from_str(&to_json(&store, 0)).unwrap();
        assert_eq!(out["RefreshToken"], json!({"k": {"bar": 2}}));
        assert_eq!(out["x"], 2);
    }

    #[test]
    fn corrupted_input_never_panics() {
        let doc = json!({
            "AccessToken": {"k": {"credential_type": "AccessToken", "secret": "s",
                "home_account_id": null, "environment": "e", "client_id": "c",
                "target": "a b", "realm": "r", "expires_on": "99", "refresh_on": 5}},
            "RefreshToken": {"r": {"secret": "s", "home_account_id": "h", "environment": "e",
                "client_id": "c", "family_id": "1", "last_modification_time": "7"}},
            "Account": {"a": {"home_account_id": "h", "environment": "e", "realm": "r",
                "local_account_id": "l", "username": "u", "authority_type": "MSSTS"}},
            "IdToken": {"i": {"secret": "x.y.z", "home_account_id": "h", "environment": "e",
                "realm": "r", "client_id": "c"}},
            "AppMetadata": {"m": {"client_id": "c", "environment": "e"}},
            "other": [1, -2.5e300, "é😀 \\ \" \n", {"n": null}]
        })
        .to_string();
        let bytes = doc.as_bytes();
        for end in 0..bytes.len() {
            if let Ok(prefix) = std::str::from_utf8(&bytes[..end]) {
                let _ = from_json(prefix);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let mut mutated = bytes.to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % mutated.len() as u64) as usize;
                mutated[at] = b"{}[]\",:0-e\"nul x"[(state >> 40) as usize % 16];
            }
            if let Ok(text) = std::str::from_utf8(&mutated)
                && let Ok(store) = from_json(text)
            {
                // Whatever was accepted can be written and read again.
                let again = to_json(&store, 0);
                assert!(from_json(&again).is_ok());
            }
        }
    }

    #[test]
    fn errors_never_echo_the_content() {
        let err = from_json(r#"{"AccessToken": {"k": {"secret": "super-secret-value"#)
            .err()
            .unwrap();
        assert!(!err.contains("super-secret"), "{err}");
        assert!(from_json("   ").is_ok());
        assert!(from_json("42").is_err());
    }
}
