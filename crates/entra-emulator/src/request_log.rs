//! The request log: every request the emulator received, for tests to assert on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

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

/// A bounded log; the oldest entries are dropped first.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    /// A log keeping at most `capacity` requests.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends a request.
    pub fn push(&self, entry: LoggedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the log, oldest first.
    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().cloned().collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
