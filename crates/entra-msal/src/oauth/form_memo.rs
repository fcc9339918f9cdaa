//! An application's last form body: the next request with the same fields (a client-credential
//! request repeated, the common case) copies it instead of encoding every field again, and one
//! that differs from some field on is encoded from that field.
//!
//! A field is known to be the same without reading its text when the text is at the same
//! address, with the same length, as last time, and cannot have changed there: a `'static`
//! name, or a value the caller pins (the application's own client id and secret, which live as
//! long as the memo and never change). Across many applications taking turns, the texts the
//! comparison no longer reads are the ones out of the processor's caches. Every other text is
//! compared byte by byte.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;

use super::form_body::append_pair;
use super::grants::Form;

/// The last form one application encoded. It holds the application's credential as the
/// application does, and its `Debug` shows none of it.
#[derive(Default)]
pub(crate) struct FormMemo(Mutex<Last>);

#[derive(Default)]
struct Last {
    /// The names and values of the known fields, one after the other.
    texts: Vec<u8>,
    /// Their encoding.
    body: Vec<u8>,
    /// The first [`KNOWN`] fields with a value, in order, `known` of them set. They are kept
    /// here rather than on the heap so that they come with the application's state, which a
    /// cache miss asks the processor for at once.
    fields: [Field; KNOWN],
    known: usize,
}

/// How many fields the memo knows; the rest of a longer form is encoded every time. Eight
/// cover every grant's fields and the client's credential.
const KNOWN: usize = 8;

/// What the memo knows of one field.
#[derive(Clone, Copy, Default)]
struct Field {
    /// The name's address when it is `'static`, the value's when it was pinned; else
    /// [`Address::NONE`], and the text is compared byte by byte.
    name_at: Address,
    value_at: Address,
    name_len: u32,
    value_len: u32,
    /// Where the field starts in `texts` and in `body`: a form that differs from the last
    /// from some field on (a new scope, say) is encoded from there.
    texts_at: u32,
    body_at: u32,
}

impl Field {
    /// `name` and `value` as the memo knows them, starting at these offsets; `None` past
    /// what 32 bits count (never in a real form; such a field is then encoded every time).
    fn new(
        (name, value): (&Cow<'static, str>, &Cow<'_, str>),
        pinned: &[&str],
        texts_at: usize,
        body_at: usize,
    ) -> Option<Self> {
        let is_pinned = pinned.iter().any(|p| std::ptr::eq(*p, &**value));
        Some(Self {
            name_at: match name {
                Cow::Borrowed(name) => Address::of(name),
                Cow::Owned(_) => Address::NONE,
            },
            value_at: if is_pinned {
                Address::of(value)
            } else {
                Address::NONE
            },
            name_len: name.len().try_into().ok()?,
            value_len: value.len().try_into().ok()?,
            texts_at: texts_at.try_into().ok()?,
            body_at: body_at.try_into().ok()?,
        })
    }

    /// Whether `name` is this field's name (`texts`: the memo's copies).
    fn has_name(&self, name: &str, texts: &[u8]) -> bool {
        let at = self.texts_at as usize;
        is_known(
            name,
            self.name_at,
            texts.get(at..at + self.name_len as usize),
        )
    }

    /// Whether `value` is this field's value (`texts`: the memo's copies).
    fn has_value(&self, value: &str, texts: &[u8]) -> bool {
        let at = self.texts_at as usize + self.name_len as usize;
        is_known(
            value,
            self.value_at,
            texts.get(at..at + self.value_len as usize),
        )
    }
}

/// Whether `text` is the one whose copy is `copy`: known by `address` when it is there, else
/// compared with the copy.
fn is_known(text: &str, address: Address, copy: Option<&[u8]>) -> bool {
    copy.is_some_and(|copy| copy.len() == text.len())
        && (Address::of(text) == address || copy == Some(text.as_bytes()))
}

/// Where a text starts in memory (no text starts at address 0).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Address(usize);

impl Address {
    const NONE: Self = Self(0);

    fn of(text: &str) -> Self {
        Self(text.as_ptr().addr())
    }
}

impl fmt::Debug for FormMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormMemo([redacted])")
    }
}

/// The fields a body holds: those with a value, as MSAL sends them.
fn sent<'f, 'a>(
    form: &'f Form<'a>,
) -> impl Iterator<Item = (&'f Cow<'static, str>, &'f Cow<'a, str>)> {
    form.iter()
        .filter_map(|(name, value)| (!value.is_empty()).then_some((name, value)))
}

/// The body of `form`, from scratch.
pub(crate) fn encode(form: &Form<'_>) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    for (name, value) in sent(form) {
        append_pair(&mut body, name, value);
    }
    body
}

impl FormMemo {
    /// The body of `form`: the last one's copy when it sends the same fields, else encoded
    /// from the first field that differs and remembered.
    ///
    /// `pinned`: texts that stay at their address, unchanged, for as long as this memo lives
    /// (the application's own client id and secret); a value that is one of them is known by
    /// its address from then on. Anything else a form holds may be gone or changed by the next
    /// call, and is compared by its bytes.
    pub(crate) fn body(&self, form: &Form<'_>, pinned: &[&str]) -> Vec<u8> {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let last = &mut *last;
        let same = last.same_fields(form);
        if same < last.known {
            let first_new = last.fields[same];
            last.texts.truncate(first_new.texts_at as usize);
            last.body.truncate(first_new.body_at as usize);
            last.known = same;
        }
        let mut rest = sent(form).skip(same);
        // The first field the memo cannot know (past `KNOWN`), if any.
        let unknown = loop {
            let Some(field) = rest.next() else {
                break None;
            };
            let Some(slot) = last.fields.get_mut(last.known) else {
                break Some(field);
            };
            let Some(known) = Field::new(field, pinned, last.texts.len(), last.body.len()) else {
                break Some(field);
            };
            *slot = known;
            last.known += 1;
            let (name, value) = field;
            last.texts.extend_from_slice(name.as_bytes());
            last.texts.extend_from_slice(value.as_bytes());
            append_pair(&mut last.body, name, value);
        };
        let mut body = last.body.clone();
        for (name, value) in unknown.into_iter().chain(rest) {
            append_pair(&mut body, name, value);
        }
        debug_assert!(body == encode(form), "the memo's body is not the form's");
        body
    }
}

impl Last {
    /// How many of `form`'s first fields are the ones remembered, in order.
    fn same_fields(&self, form: &Form<'_>) -> usize {
        let mut same = 0;
        for ((name, value), known) in sent(form).zip(&self.fields[..self.known]) {
            if !(known.has_name(name, &self.texts) && known.has_value(value, &self.texts)) {
                break;
            }
            same += 1;
        }
        same
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&'static str, &'static str)]) -> Form<'static> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect()
    }

    /// Every answer is the encoding of the form asked for, whatever was asked before: forms
    /// that differ in a value, a name, a field's presence or where a field ends, with their
    /// texts pinned or not.
    #[test]
    fn every_body_is_its_forms_encoding() {
        let known = [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
            ("e", "5"),
            ("f", "6"),
            ("g", "7"),
            ("h", "8"),
        ];
        assert_eq!(known.len(), KNOWN);
        let longer = |tail: &[(&'static str, &'static str)]| form(&[&known[..], tail].concat());
        let forms = [
            form(&[
                ("client_id", "c"),
                ("scope", "a b"),
                ("client_secret", "s&t"),
            ]),
            form(&[
                ("client_id", "c"),
                ("scope", "a b"),
                ("client_secret", "s&t"),
            ]),
            form(&[
                ("client_id", "c"),
                ("scope", "a b"),
                ("client_secret", "s&u"),
            ]),
            form(&[("client_id", "c"), ("scope", "a b")]),
            form(&[("client_id", "c"), ("scope", "a b"), ("claims", "")]),
            form(&[("client_id", "c"), ("scope", "a"), ("b", "")]),
            form(&[("client_id", "c"), ("scope", "ab")]),
            form(&[("client_id", "cs"), ("cope", "ab")]),
            form(&[("client_id", "c"), ("scope", "a b"), ("cl", "ient_secret")]),
            form(&[]),
            // Longer than the memo knows, and differing only past that.
            longer(&[("i", "9"), ("j", "10")]),
            longer(&[("i", "9"), ("j", "11")]),
            longer(&[]),
            vec![
                ("client_id".to_string().into(), "c".into()),
                ("scope".into(), "a b".to_string().into()),
            ],
            form(&[
                ("client_id", "c"),
                ("scope", "a b"),
                ("client_secret", "s&t"),
            ]),
        ];
        let pinned: Vec<&str> = forms.iter().flatten().map(|(_, v)| &**v).collect();
        for pinned in [&[][..], &pinned] {
            let memo = FormMemo::default();
            for first in &forms {
                for second in &forms {
                    assert_eq!(memo.body(first, pinned), encode(first));
                    assert_eq!(
                        memo.body(second, pinned),
                        encode(second),
                        "{second:?} after {first:?}"
                    );
                }
            }
        }
    }

    /// A value that is not pinned is read again, even at the address and length of the last
    /// one: its memory may have been freed and reused.
    #[test]
    fn a_reused_address_is_read_again() {
        let memo = FormMemo::default();
        let first = String::from("scope-one");
        let at = first.as_ptr();
        memo.body(&vec![("scope".into(), first.as_str().into())], &[]);
        drop(first);
        let second = String::from("scope-two");
        assert_eq!(second.as_ptr(), at, "the allocator reuses a freed block");
        let form = vec![("scope".into(), second.as_str().into())];
        assert_eq!(memo.body(&form, &[]), b"scope=scope-two");
    }

    /// A `'static` name and a pinned value are known by their address: the memo does not read
    /// its copy of them (spoiled here), only of the other texts.
    #[test]
    fn static_names_and_pinned_values_are_known_by_address() {
        let client_id = String::from("c");
        let secret = String::from("s3cret");
        let form: Form<'_> = vec![
            ("client_id".into(), client_id.as_str().into()),
            ("client_secret".into(), secret.as_str().into()),
        ];
        let memo = FormMemo::default();
        let body = memo.body(&form, &[&secret]);
        // Every copied text spoiled but the client id, the one value not pinned.
        let client_id_at = "client_id".len();
        for (i, byte) in memo.0.lock().unwrap().texts.iter_mut().enumerate() {
            if i != client_id_at {
                *byte = b'#';
            }
        }
        assert_eq!(memo.0.lock().unwrap().same_fields(&form), 2);
        assert_eq!(memo.body(&form, &[&secret]), body);
        // The client id's copy spoiled too: it is read, and found different.
        memo.0.lock().unwrap().texts[client_id_at] = b'#';
        assert_eq!(memo.0.lock().unwrap().same_fields(&form), 0);
    }

    #[test]
    fn the_debug_form_shows_no_field() {
        let memo = FormMemo::default();
        memo.body(&form(&[("client_secret", "hunter2")]), &[]);
        assert!(!format!("{memo:?}").contains("hunter2"));
    }
}
