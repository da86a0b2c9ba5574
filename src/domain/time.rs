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

    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl serde::Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
