//! An application's last form body: the next request with the same fields (a client-credential
//! request repeated, the common case) copies it instead of encoding every field again.

use std::fmt;
use std::sync::Mutex;

use super::form_body::append_pair;
use super::grants::Form;

/// Ends each name and each value in [`Last::fields`]: a byte no UTF-8 text holds.
const END: u8 = 0xFF;

/// The last form one application encoded. It holds the application's credential as the
/// application does, and its `Debug` shows none of it.
#[derive(Default)]
pub(crate) struct FormMemo(Mutex<Last>);

#[derive(Default)]
struct Last {
    /// The fields with a value, each name and value followed by [`END`].
    fields: Vec<u8>,
    /// Their encoding.
    body: Vec<u8>,
}

impl fmt::Debug for FormMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormMemo([redacted])")
    }
}

/// The fields a body holds: those with a value, as MSAL sends them.
fn sent<'f>(form: &'f Form<'_>) -> impl Iterator<Item = (&'f str, &'f str)> {
    form.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (&**n, &**v))
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
    /// The body of `form`: the last one's copy when its fields are the same, else encoded and
    /// remembered.
    pub(crate) fn body(&self, form: &Form<'_>) -> Vec<u8> {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if last.holds(form) {
            return last.body.clone();
        }
        let body = encode(form);
        let Last { fields, body: kept } = &mut *last;
        fields.clear();
        for (name, value) in sent(form) {
            for text in [name, value] {
                fields.extend_from_slice(text.as_bytes());
                fields.push(END);
            }
        }
        kept.clone_from(&body);
        body
    }
}

impl Last {
    /// Whether `form` sends exactly the fields remembered.
    fn holds(&self, form: &Form<'_>) -> bool {
        let mut rest = self.fields.as_slice();
        for (name, value) in sent(form) {
            for text in [name, value] {
                let text = text.as_bytes();
                match rest.get(text.len()) {
                    Some(&END) if rest.starts_with(text) => rest = &rest[text.len() + 1..],
                    _ => return false,
                }
            }
        }
        rest.is_empty()
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
    /// that differ in a value, a name, a field's presence or where a field ends.
    #[test]
    fn every_body_is_its_forms_encoding() {
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
            form(&[]),
            form(&[
                ("client_id", "c"),
                ("scope", "a b"),
                ("client_secret", "s&t"),
            ]),
        ];
        let memo = FormMemo::default();
        for first in &forms {
            for second in &forms {
                assert_eq!(memo.body(first), encode(first));
                assert_eq!(
                    memo.body(second),
                    encode(second),
                    "{second:?} after {first:?}"
                );
            }
        }
    }

    #[test]
    fn the_debug_form_shows_no_field() {
        let memo = FormMemo::default();
        memo.body(&form(&[("client_secret", "hunter2")]));
        assert!(!format!("{memo:?}").contains("hunter2"));
    }
}
