//! The app metadata entry a store last confirmed, kept inline.
//!
//! Every token response files its application's metadata, and it is nearly always the entry
//! already there. Checking that means hashing its key and reading the section's table, the key
//! and the entry's texts: across many applications taking turns, each a likely cache miss. The
//! store remembers the last entry it found in place or wrote, with the section's change count
//! at that moment ([`Section::changes`](super::store::Section::changes)); while the count is the
//! same, the same entry again is known to be there, and the check reads only this.

use super::add::NewAppMetadata;

/// Room for the environment, client id and family id together (a host name, a GUID and `1`
/// take about 65 bytes). An entry that does not fit is not remembered: it is checked the long
/// way every time.
const ROOM: usize = 104;

/// See the module docs.
pub(crate) struct KnownAppMetadata {
    /// The section's change count when the entry was remembered; `None`: nothing is known.
    changes: Option<u64>,
    /// The environment, the client id and the family id, one after the other.
    text: [u8; ROOM],
    /// The lengths of the environment and the client id in `text`, and of the family id when
    /// the entry has one.
    lengths: (u8, u8, Option<u8>),
}

impl Default for KnownAppMetadata {
    fn default() -> Self {
        Self {
            changes: None,
            text: [0; ROOM],
            lengths: (0, 0, None),
        }
    }
}

impl KnownAppMetadata {
    /// Whether `entry` is the entry remembered while the section's change count was `changes`:
    /// then it is in the section as `entry` would file it.
    pub(crate) fn holds(&self, changes: u64, entry: &NewAppMetadata<'_>) -> bool {
        self.changes == Some(changes) && Some(self.lengths) == lengths(entry) && {
            let (environment, rest) = self.text.split_at(entry.environment.len());
            let (client_id, rest) = rest.split_at(entry.client_id.len());
            let family_id = entry.family_id.as_deref().unwrap_or("");
            environment == entry.environment.as_bytes()
                && client_id == entry.client_id.as_bytes()
                && rest.get(..family_id.len()) == Some(family_id.as_bytes())
        }
    }

    /// Remembers `entry`, now in the section as it files it, at the section's change count
    /// `changes`; an entry too long to keep leaves nothing known.
    pub(crate) fn remember(&mut self, changes: u64, entry: &NewAppMetadata<'_>) {
        let family_id = entry.family_id.as_deref().unwrap_or("");
        let parts = [entry.environment, entry.client_id, family_id];
        let fits = parts.iter().map(|p| p.len()).sum::<usize>() <= ROOM;
        let Some(lengths) = lengths(entry).filter(|_| fits) else {
            self.changes = None;
            return;
        };
        let mut at = 0;
        for part in parts {
            self.text[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        self.lengths = lengths;
        self.changes = Some(changes);
    }
}

/// The lengths [`KnownAppMetadata::lengths`] keeps for `entry`, when each fits a byte.
fn lengths(entry: &NewAppMetadata<'_>) -> Option<(u8, u8, Option<u8>)> {
    let family_id = match entry.family_id.as_deref() {
        Some(family_id) => Some(u8::try_from(family_id.len()).ok()?),
        None => None,
    };
    Some((
        u8::try_from(entry.environment.len()).ok()?,
        u8::try_from(entry.client_id.len()).ok()?,
        family_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(
        environment: &'a str,
        client_id: &'a str,
        family: Option<&str>,
    ) -> NewAppMetadata<'a> {
        NewAppMetadata {
            client_id,
            environment,
            family_id: family.map(Into::into),
        }
    }

    #[test]
    fn holds_exactly_the_entry_it_remembered_at_that_change_count() {
        let mut known = KnownAppMetadata::default();
        let first = entry("login.microsoftonline.com", "client", None);
        assert!(!known.holds(0, &first), "nothing known yet");
        known.remember(3, &first);
        assert!(known.holds(3, &first));
        assert!(!known.holds(4, &first), "the section changed since");
        // Every other entry is not held: another part, the same bytes split elsewhere, a
        // family id present, empty or different.
        for other in [
            entry("login.microsoftonline.co", "mclient", None),
            entry("login.microsoftonline.com", "clienT", None),
            entry("login.microsoftonline.com", "client", Some("")),
            entry("login.microsoftonline.com", "client", Some("1")),
            entry("login.windows.net", "client", None),
        ] {
            assert!(!known.holds(3, &other), "{other:?}");
        }
        let family = entry("login.microsoftonline.com", "client", Some("1"));
        known.remember(5, &family);
        assert!(known.holds(5, &family));
        assert!(!known.holds(5, &first));
        assert!(!known.holds(5, &entry("login.microsoftonline.com", "client", Some("2"))));
    }

    #[test]
    fn an_entry_longer_than_its_room_is_never_held() {
        let mut known = KnownAppMetadata::default();
        let environment = "e".repeat(ROOM - 2);
        let fits = entry(&environment, "c", Some("1"));
        known.remember(1, &fits);
        assert!(known.holds(1, &fits), "exactly the room");
        let client = "c".repeat(2);
        let too_long = entry(&environment, &client, Some("1"));
        known.remember(2, &too_long);
        assert!(!known.holds(2, &too_long));
        assert!(!known.holds(1, &fits), "the earlier entry is forgotten too");
        let huge = "h".repeat(300);
        known.remember(3, &entry(&huge, "c", None));
        assert!(!known.holds(3, &entry(&huge, "c", None)));
    }
}
