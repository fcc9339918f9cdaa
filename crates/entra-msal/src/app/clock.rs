//! The time source, injectable so tests never sleep to wait for expiry.

/// Seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock, read at the resolution token lifetimes need: on Linux, the coarse clock
/// (`CLOCK_REALTIME_COARSE`, updated every tick, 1–4 ms), which reads no hardware counter.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        coarse_unix_seconds()
    }
}

/// The wall clock as of the kernel's last tick (Linux's `CLOCK_REALTIME_COARSE`): read from the
/// vDSO's data page without reading the processor's counter, a few nanoseconds where the precise
/// clock costs 20–40 on a virtual machine (measured 37 ns here), which is a third of a cache
/// hit. Its resolution, a tick (1–4 ms), is far below the second a token's times are kept in.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn coarse_unix_seconds() -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a live, writable `timespec`, the only memory the call writes.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut t) };
    if status == 0 {
        // `tv_nsec` is never negative, so `tv_sec` is already rounded down. (`time_t` is
        // 32 bits on some 32-bit targets.)
        #[allow(clippy::useless_conversion)]
        i64::from(t.tv_sec)
    } else {
        // A kernel older than 2.6.32 has no coarse clock.
        unix_seconds(std::time::SystemTime::now())
    }
}

/// The wall clock, elsewhere (macOS reads it from a shared page already; Windows' is cheap).
#[cfg(not(target_os = "linux"))]
fn coarse_unix_seconds() -> i64 {
    unix_seconds(std::time::SystemTime::now())
}

/// Whole seconds since the Unix epoch, rounded down (as `OffsetDateTime::unix_timestamp`), without
/// the calendar conversion `OffsetDateTime::now_utc` makes.
fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -secs - i64::from(d.subsec_nanos() > 0)
        }
    }
}

impl<F: Fn() -> i64 + Send + Sync + 'static> Clock for F {
    fn now(&self) -> i64 {
        self()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn unix_seconds_round_down_like_offset_date_time() {
        for (t, want) in [
            (
                UNIX_EPOCH + Duration::new(1_700_000_000, 999_999_999),
                1_700_000_000,
            ),
            (UNIX_EPOCH, 0),
            (UNIX_EPOCH - Duration::from_millis(500), -1),
            (UNIX_EPOCH - Duration::from_secs(2), -2),
        ] {
            assert_eq!(unix_seconds(t), want);
            assert_eq!(time::OffsetDateTime::from(t).unix_timestamp(), want);
        }
        let now = SystemClock.now();
        assert!((now - time::OffsetDateTime::now_utc().unix_timestamp()).abs() <= 1);
    }
}
