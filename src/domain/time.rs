//! Time as stored (milliseconds since the Unix epoch, UTC) and as shown
//! (RFC 3339 with milliseconds and a `Z`, as the API documents show).

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The application's "now". It reads the system clock; tests move it
/// forward with [`Clock::advance`] instead of sleeping, and every rule that
/// depends on time (expiry, lifetimes, sweeps, retries) asks this clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Millis {
        Millis(
            Millis::now()
                .0
                .saturating_add(self.offset_ms.load(Ordering::Relaxed)),
        )
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Self {
        Millis(Utc::now().timestamp_millis())
    }

    pub fn plus(self, duration: Duration) -> Self {
        let added = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Millis(self.0.saturating_add(added))
    }

    /// "29 November 2026, 03:15 UTC": for people (messages and pages), not parsers.
    pub fn to_human(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .map(|t| t.format("%-d %B %Y, %H:%M UTC").to_string())
            .unwrap_or_default()
    }

    pub fn to_rfc3339(self) -> String {
        match self.rfc3339_bytes() {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => self.to_rfc3339_slow(),
        }
    }

    fn to_rfc3339_slow(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for the years 1970 to 9999, without
    /// allocating: a list page formats three timestamps per row, and
    /// chrono's general formatter took a twentieth of the page's time.
    /// Days to civil date: Howard Hinnant's `civil_from_days`.
    fn rfc3339_bytes(self) -> Option<[u8; 24]> {
        const MAX: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        if !(0..=MAX).contains(&self.0) {
            return None;
        }
        let millis = self.0 % 1000;
        let seconds = self.0 / 1000;
        let (days, in_day) = (seconds / 86_400, seconds % 86_400);
        let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);

        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            // Every call below names a field inside `out`, so no digit is dropped.
            if let Some(field) = out.get_mut(at..at + width) {
                for digit in field.iter_mut().rev() {
                    *digit = b'0' + (value % 10) as u8;
                    value /= 10;
                }
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, hour);
        put(14, 2, minute);
        put(17, 2, second);
        put(20, 3, millis);
        Some(out)
    }
}

impl serde::Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_bytes() {
            // Only ASCII digits and punctuation were written.
            Some(bytes) => serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or("")),
            None => serializer.serialize_str(&self.to_rfc3339_slow()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_formatter_agrees_with_chrono() {
        let mut at: i64 = 0;
        while at <= 253_402_300_799_999 {
            assert_eq!(
                Millis(at).to_rfc3339(),
                Millis(at).to_rfc3339_slow(),
                "{at}"
            );
            // A stride that is no multiple of a day, an hour or a second.
            at += 86_399_937 * 7 + 13;
        }
        for at in [
            0,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            4_107_542_400_000,   // 2100-03-01 (no leap day)
            253_402_300_799_999, // the last millisecond of 9999
            -1,
            253_402_300_800_000,
        ] {
            assert_eq!(
                Millis(at).to_rfc3339(),
                Millis(at).to_rfc3339_slow(),
                "{at}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Millis(1_748_659_751_773)).unwrap(),
            "\"2025-05-31T02:49:11.773Z\""
        );
    }

    #[test]
    fn formats_like_the_api_documents() {
        assert_eq!(
            Millis(1_748_659_751_773).to_rfc3339(),
            "2025-05-31T02:49:11.773Z"
        );
        assert_eq!(Millis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_clock_moves_with_its_clones() {
        let clock = Clock::default();
        let clone = clock.clone();
        let before = clock.now();
        clone.advance(Duration::from_secs(3600));
        assert!(clock.now().0 - before.0 >= 3_600_000);
    }

    #[test]
    fn adding_saturates() {
        assert_eq!(
            Millis(i64::MAX - 1).plus(Duration::from_secs(10)),
            Millis(i64::MAX)
        );
    }
}
