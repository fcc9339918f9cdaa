//! The emulator's clock: real time plus an offset that tests can set or advance.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// The latest time the clock may be set to: 9999-12-31T23:59:59Z (the last time Entra's
/// `YYYY-MM-DD` timestamps can show).
pub const MAX_CLOCK_UNIX: i64 = 253_402_300_799;

/// Adjustable time source shared by every endpoint.
#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    /// Seconds since the Unix epoch, as the emulator sees it: within years 1970 to 9999, so
    /// that adding a token lifetime never overflows.
    pub fn now(&self) -> i64 {
        // Saturating: an absurd offset set in process must not overflow (a panic in debug).
        OffsetDateTime::now_utc()
            .unix_timestamp()
            .saturating_add(self.offset_seconds.load(Ordering::Relaxed))
            .clamp(0, MAX_CLOCK_UNIX)
    }

    /// Moves the clock forward (or backward, with a negative value).
    pub fn advance(&self, seconds: i64) {
        let _ = self
            .offset_seconds
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(seconds))
            });
    }

    /// Sets the clock to an absolute Unix time.
    pub fn set(&self, unix_seconds: i64) {
        let real = OffsetDateTime::now_utc().unix_timestamp();
        self.offset_seconds
            .store(unix_seconds.saturating_sub(real), Ordering::Relaxed);
    }

    /// Entra's timestamp format, `YYYY-MM-DD HH:MM:SSZ`.
    pub fn timestamp(&self) -> String {
        let t =
            OffsetDateTime::from_unix_timestamp(self.now()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let fmt =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
        t.format(&fmt).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_and_set() {
        let c = Clock::default();
        let before = c.now();
        c.advance(3600);
        assert!(c.now() >= before + 3600);
        c.set(1_000_000);
        assert!((c.now() - 1_000_000).abs() <= 1);
        assert_eq!(c.timestamp().len(), "1970-01-12 13:46:40Z".len());
        // Absurd values saturate instead of wrapping (or panicking in debug).
        c.set(i64::MAX);
        c.advance(i64::MAX);
        assert_eq!(c.now(), MAX_CLOCK_UNIX);
        c.set(i64::MIN);
        assert_eq!(c.now(), 0);
    }
}
