//! The request log: the requests the emulator received, for tests to assert on.
//!
//! The log is bounded three ways so that no client can grow the emulator's memory through it:
//! every value (path, query and form values, header values) is cut to [`MAX_VALUE_BYTES`], each
//! entry keeps at most [`MAX_FIELDS`] query parameters, form fields and headers and at most
//! [`MAX_ENTRY_BYTES`] in all, and the whole log keeps at most its capacity in entries and
//! [`MAX_LOG_BYTES`] in bytes; the oldest entries are dropped first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The longest value (or name, or path) an entry keeps; longer ones are cut and end with
/// [`TRUNCATION_MARK`].
pub const MAX_VALUE_BYTES: usize = 4 * 1024;
/// The most query parameters, form fields and headers an entry keeps (each).
pub const MAX_FIELDS: usize = 64;
/// The most bytes one entry keeps across all its names and values.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;
/// The most bytes the whole log keeps (entries' names and values); the oldest entries go first.
pub const MAX_LOG_BYTES: usize = 32 * 1024 * 1024;
/// Appended to a value that was cut.
pub const TRUNCATION_MARK: &str = "…[truncated]";

/// One logged request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
    /// Headers (names lower-cased; repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// Form fields of a `application/x-www-form-urlencoded` body.
    pub form: BTreeMap<String, String>,
    /// The HTTP status the emulator answered with.
    pub status: u16,
}

impl LoggedRequest {
    /// Cuts the entry to the log's bounds: each value to [`MAX_VALUE_BYTES`], each map to
    /// [`MAX_FIELDS`] entries, the whole entry to about [`MAX_ENTRY_BYTES`]. Returns the bytes
    /// it keeps.
    pub fn bound(&mut self) -> usize {
        let mut budget = MAX_ENTRY_BYTES;
        cut(&mut self.method, 16);
        cut(&mut self.path, MAX_VALUE_BYTES);
        budget = budget.saturating_sub(self.method.len() + self.path.len());
        // Form and query first: tests assert on them more than on headers.
        for map in [&mut self.form, &mut self.query, &mut self.headers] {
            budget = bound_map(map, budget);
        }
        self.size()
    }

    /// The bytes held in names and values.
    pub fn size(&self) -> usize {
        let map = |m: &BTreeMap<String, String>| -> usize {
            m.iter().map(|(k, v)| k.len() + v.len()).sum()
        };
        self.method.len()
            + self.path.len()
            + map(&self.query)
            + map(&self.headers)
            + map(&self.form)
    }
}

/// Cuts `s` to at most `max` bytes (at a character boundary) plus [`TRUNCATION_MARK`].
fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(TRUNCATION_MARK);
    s.shrink_to_fit();
}

fn bound_map(map: &mut BTreeMap<String, String>, mut budget: usize) -> usize {
    let old = std::mem::take(map);
    for (mut k, mut v) in old {
        if map.len() == MAX_FIELDS || budget == 0 {
            break;
        }
        cut(&mut k, MAX_VALUE_BYTES.min(budget));
        cut(&mut v, MAX_VALUE_BYTES.min(budget.saturating_sub(k.len())));
        budget = budget.saturating_sub(k.len() + v.len());
        map.insert(k, v);
    }
    budget
}

#[derive(Debug, Default)]
struct Entries {
    list: VecDeque<(LoggedRequest, usize)>,
    bytes: usize,
}

/// A bounded log; the oldest entries are dropped first.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    max_bytes: usize,
    entries: Mutex<Entries>,
}

impl RequestLog {
    /// A log keeping at most `capacity` requests and [`MAX_LOG_BYTES`] bytes.
    pub fn new(capacity: usize) -> Self {
        Self::with_byte_budget(capacity, MAX_LOG_BYTES)
    }

    /// A log keeping at most `capacity` requests and `max_bytes` bytes of names and values.
    pub fn with_byte_budget(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(MAX_ENTRY_BYTES),
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Appends a request, cut to the bounds described in the module documentation.
    pub fn push(&self, mut entry: LoggedRequest) {
        let size = entry.bound();
        // The entries dropped to make room are freed after the lock is released: every request
        // passes here, so the critical section is kept to moving pointers.
        let mut evicted = Vec::new();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            while !entries.list.is_empty()
                && (entries.list.len() >= self.capacity || entries.bytes + size > self.max_bytes)
            {
                if let Some((old, dropped)) = entries.list.pop_front() {
                    entries.bytes -= dropped;
                    evicted.push(old);
                }
            }
            entries.bytes += size;
            entries.list.push_back((entry, size));
        }
        drop(evicted);
    }

    /// A copy of the log, oldest first.
    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.list.iter().map(|(e, _)| e.clone()).collect()
    }

    /// How many requests the log holds.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .list
            .len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the log and gives its memory back.
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        *entries = Entries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(form_value: &str) -> LoggedRequest {
        LoggedRequest {
            method: "POST".into(),
            path: "/t/oauth2/v2.0/token".into(),
            query: BTreeMap::new(),
            headers: BTreeMap::from([("host".into(), "127.0.0.1".into())]),
            form: BTreeMap::from([("x".into(), form_value.into())]),
            status: 400,
        }
    }

    #[test]
    fn values_are_cut_at_a_character_boundary() {
        let log = RequestLog::new(10);
        log.push(entry(&"é".repeat(10_000)));
        let kept = &log.snapshot()[0].form["x"];
        assert!(kept.ends_with(TRUNCATION_MARK));
        assert!(kept.len() <= MAX_VALUE_BYTES + TRUNCATION_MARK.len());
        assert_eq!(log.snapshot()[0].headers["host"], "127.0.0.1");
    }

    #[test]
    fn fields_and_entry_bytes_are_capped() {
        let mut e = entry("v");
        for i in 0..1000 {
            e.headers.insert(format!("x-h{i:04}"), "h".repeat(3000));
        }
        let size = e.bound();
        assert!(e.headers.len() <= MAX_FIELDS);
        assert!(size <= MAX_ENTRY_BYTES + 4 * TRUNCATION_MARK.len());
        assert_eq!(e.form["x"], "v");
    }

    #[test]
    fn oldest_dropped_by_count_and_by_bytes() {
        let log = RequestLog::new(3);
        for i in 0..5 {
            log.push(entry(&i.to_string()));
        }
        let kept: Vec<_> = log.snapshot().iter().map(|e| e.form["x"].clone()).collect();
        assert_eq!(kept, ["2", "3", "4"]);

        let log = RequestLog::with_byte_budget(1000, MAX_ENTRY_BYTES * 2);
        for i in 0..10 {
            log.push(entry(&format!("{i}{}", "a".repeat(MAX_VALUE_BYTES))));
        }
        let kept = log.snapshot();
        assert!(kept.len() < 10 && !kept.is_empty());
        assert!(kept.last().unwrap().form["x"].starts_with('9'));
        log.clear();
        assert!(log.is_empty());
    }
}
