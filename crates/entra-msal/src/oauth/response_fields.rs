//! How a token response's fields are read: strings where `null` and `""` mean absent, the
//! family id as text or number, and numbers of seconds that may arrive as strings (`"3599"`).
//! Each reads the JSON value straight into its field; a value of the wrong kind is an error that
//! names the kind, never the value (it may be a secret).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A string field: absent, `null` and `""` are `None`; any other non-string is an error.
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(Text::<String>::new(false))
}

/// [`text`], read into a shared string (the access token, which the cache and every result
/// made from it share): one allocation, where a `String` would be copied once more.
pub(super) fn shared_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    d.deserialize_option(Text::<Arc<str>>::new(false))
}

/// [`text`], for `token_type`: the usual `Bearer` is borrowed, not allocated.
pub(super) fn token_type<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'static, str>>, D::Error> {
    d.deserialize_option(Text::<Cow<'static, str>>::new(false))
}

/// [`text`], with a number read as its decimal text.
pub(super) fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(Text::<String>::new(true))
}

/// What a text field is read into.
trait FromText: Sized {
    fn from_text(text: &str) -> Self;
    fn from_string(text: String) -> Self {
        Self::from_text(&text)
    }
}

impl FromText for String {
    fn from_text(text: &str) -> Self {
        text.to_string()
    }
    fn from_string(text: String) -> Self {
        text
    }
}

impl FromText for Arc<str> {
    fn from_text(text: &str) -> Self {
        text.into()
    }
}

impl FromText for Cow<'static, str> {
    fn from_text(text: &str) -> Self {
        crate::cache::token_type(text)
    }
    fn from_string(text: String) -> Self {
        crate::cache::token_type(text)
    }
}

/// A number of seconds, as a JSON number or a numeric string; anything else is an error.
pub(super) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(Seconds)
}

/// The error for a value of the wrong kind.
fn wrong<'de, E: de::Error, V: Visitor<'de>>(expected: &V, got: &str) -> E {
    E::custom(format_args!("expected {}, got {got}", Expected(expected)))
}

/// A visitor's `expecting`, as text.
struct Expected<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expected<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// Implements the visits every field refuses in the same way: booleans, arrays and objects.
macro_rules! refuse_containers {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(wrong(&self, "a boolean"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(wrong(&self, "an array"))
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(wrong(&self, "an object"))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

struct Text<T> {
    numbers: bool,
    into: PhantomData<T>,
}

impl<T: FromText> Text<T> {
    fn new(numbers: bool) -> Self {
        Self {
            numbers,
            into: PhantomData,
        }
    }

    fn number<E: de::Error>(self, text: impl FnOnce() -> String) -> Result<Option<T>, E> {
        if self.numbers {
            Ok(Some(T::from_string(text())))
        } else {
            Err(wrong(&self, "a number"))
        }
    }
}

impl<'de, T: FromText> Visitor<'de> for Text<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.numbers {
            "a string or a number"
        } else {
            "a string"
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then(|| T::from_text(v)))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then(|| T::from_string(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.number(|| v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.number(|| v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // As a JSON number prints (`1.0`, not Rust's `1`).
        self.number(|| {
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())
        })
    }
    refuse_containers!();
}

struct Seconds;

impl<'de> Visitor<'de> for Seconds {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of seconds")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        // Above i64::MAX: saturated, as the f64 conversion does.
        Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v as i64))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().parse::<f64>() {
            Ok(f) => Ok(Some(f as i64)),
            Err(_) => Err(wrong(&self, "a string")),
        }
    }
    refuse_containers!();
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "super::text")]
        text: Option<String>,
        #[serde(default, deserialize_with = "super::text_or_number")]
        foci: Option<String>,
        #[serde(default, deserialize_with = "super::seconds")]
        seconds: Option<i64>,
    }

    /// The three fields read, or the error's text.
    type Read = Result<(Option<String>, Option<String>, Option<i64>), String>;

    fn read(json: &str) -> Read {
        serde_json::from_str::<Fields>(json)
            .map(|f| (f.text, f.foci, f.seconds))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_null_and_empty_are_none() {
        assert_eq!(read("{}"), Ok((None, None, None)));
        assert_eq!(
            read(r#"{"text": null, "foci": null, "seconds": null}"#),
            Ok((None, None, None))
        );
        assert_eq!(read(r#"{"text": "", "foci": ""}"#), Ok((None, None, None)));
    }

    #[test]
    fn values_are_read_leniently() {
        assert_eq!(
            read(r#"{"text": "a\"b", "foci": 1, "seconds": "3599"}"#),
            Ok((Some("a\"b".into()), Some("1".into()), Some(3599)))
        );
        assert_eq!(
            read(r#"{"foci": "1", "seconds": 3599.9}"#),
            Ok((None, Some("1".into()), Some(3599)))
        );
        assert_eq!(
            read(r#"{"foci": -2, "seconds": -5}"#).unwrap().1.as_deref(),
            Some("-2")
        );
        assert_eq!(read(r#"{"foci": 1.5}"#).unwrap().1.as_deref(), Some("1.5"));
        assert_eq!(read(r#"{"foci": 2.0}"#).unwrap().1.as_deref(), Some("2.0"));
        assert_eq!(read(r#"{"seconds": " 60 "}"#).unwrap().2, Some(60));
        assert_eq!(
            read(r#"{"seconds": 18446744073709551615}"#).unwrap().2,
            Some(i64::MAX)
        );
    }

    #[test]
    fn a_wrong_kind_is_named_and_the_value_is_not() {
        for (json, message) in [
            (r#"{"text": 5}"#, "expected a string, got a number"),
            (r#"{"text": true}"#, "expected a string, got a boolean"),
            (r#"{"text": ["s3cret"]}"#, "expected a string, got an array"),
            (
                r#"{"foci": {"k": "s3cret"}}"#,
                "expected a string or a number, got an object",
            ),
            (
                r#"{"seconds": "s3cret"}"#,
                "expected a number of seconds, got a string",
            ),
            (
                r#"{"seconds": false}"#,
                "expected a number of seconds, got a boolean",
            ),
        ] {
            let error = read(json).unwrap_err();
            assert!(error.starts_with(message), "{json}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
