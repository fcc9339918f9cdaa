//! An application's last form body: the next request with the same fields (a client-credential
//! request repeated, the common case) copies it instead of encoding every field again, and one
//! that differs from some field on is encoded from that field.

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
    /// Where each field starts in `fields` and in `body`: a form that differs from the last
    /// from some field on (a new scope, say) is encoded from there.
    starts: Vec<(usize, usize)>,
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
    /// The body of `form`: the last one's copy when it sends the same fields, else encoded
    /// from the first field that differs and remembered.
    pub(crate) fn body(&self, form: &Form<'_>) -> Vec<u8> {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let same = last.same_fields(form);
        if same < last.starts.len() {
            let (in_fields, in_body) = last.starts[same];
            last.fields.truncate(in_fields);
            last.body.truncate(in_body);
            last.starts.truncate(same);
        }
        let Last {
            fields,
            body,
            starts,
        } = &mut *last;
        for (name, value) in sent(form).skip(same) {
            starts.push((fields.len(), body.len()));
            for text in [name, value] {
                fields.extend_from_slice(text.as_bytes());
                fields.push(END);
            }
            append_pair(body, name, value);
        }
        body.clone()
    }
}

impl Last {
    /// How many of `form`'s first fields are the ones remembered, in order.
    fn same_fields(&self, form: &Form<'_>) -> usize {
        let mut rest = self.fields.as_slice();
        let mut same = 0;
        for (name, value) in sent(form) {
            for text in [name, value] {
                let text = text.as_bytes();
                match rest.get(text.len()) {
                    Some(&END) if rest.starts_with(text) => rest = &rest[text.len() + 1..],
                    _ => return same,
                }
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
