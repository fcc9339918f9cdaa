//! Local time: the offset is read once at startup, while the process has one thread (the only
//! time the `time` crate can read it safely on Unix).

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

static OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local offset; call first thing in `main`.
pub fn init() {
    let _ = OFFSET.set(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC));
}

/// `t` in local time.
pub fn local(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(*OFFSET.get().unwrap_or(&UtcOffset::UTC))
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in local time (the Azure CLI's `expiresOn`).
pub fn az_format(t: OffsetDateTime) -> String {
    let t = local(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `YYYY-MM-DD HH:MM:SS +HH:MM` in local time.
pub fn display(t: OffsetDateTime) -> String {
    let t = local(t);
    let o = t.offset();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if o.is_negative() { '-' } else { '+' },
        o.whole_hours().unsigned_abs(),
        o.minutes_past_hour().unsigned_abs()
    )
}

/// RFC 3339 in UTC, e.g. `2026-11-29T15:04:05Z`.
pub fn rfc3339_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// "in 59 min" / "3 min ago", relative to now.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (t - now).whole_seconds();
    let span = |s: i64| {
        let s = s.unsigned_abs();
        if s < 120 {
            format!("{s} s")
        } else if s < 7200 {
            format!("{} min", s / 60)
        } else if s < 172_800 {
            format!("{} h", s / 3600)
        } else {
            format!("{} days", s / 86_400)
        }
    };
    if secs >= 0 {
        format!("in {}", span(secs))
    } else {
        format!("{} ago", span(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = OffsetDateTime::from_unix_timestamp(1_764_430_452).unwrap();
        assert_eq!(rfc3339_utc(t), "2025-11-29T15:34:12Z");
        let az = az_format(t);
        assert_eq!(az.len(), "2025-11-29 15:34:12.000000".len());
        assert!(az.ends_with(":12.000000"));
        assert_eq!(relative(t + time::Duration::minutes(59), t), "in 59 min");
        assert_eq!(relative(t - time::Duration::seconds(30), t), "30 s ago");
    }
}
