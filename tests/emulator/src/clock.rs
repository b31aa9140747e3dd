//! The emulator's settable clock: system time plus an offset.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// A clock that every issued or validated time uses.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: Mutex<f64>,
}

fn system_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Clock {
    /// Current emulator time, epoch seconds.
    pub(crate) fn now(&self) -> f64 {
        system_now() + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current emulator time, whole epoch seconds.
    pub(crate) fn now_secs(&self) -> u64 {
        let now = self.now();
        if now <= 0.0 { 0 } else { now.floor() as u64 }
    }

    pub(crate) fn set(&self, epoch: f64) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) = epoch - system_now();
    }

    pub(crate) fn advance(&self, secs: f64) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += secs;
    }

    pub(crate) fn reset(&self) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) = 0.0;
    }
}

/// Formats epoch seconds as Entra's error timestamp, `YYYY-MM-DD HH:MM:SSZ`.
pub(crate) fn format_timestamp(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Formats epoch seconds as an XML Schema `dateTime` in UTC, `YYYY-MM-DDTHH:MM:SSZ` (the form
/// WS-Security timestamps and SAML instants use).
pub(crate) fn format_xml_time(epoch: u64) -> String {
    format_timestamp(epoch).replacen(' ', "T", 1)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_timestamp(1_700_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(format_xml_time(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn set_and_advance() {
        let c = Clock::default();
        c.set(1_000_000.0);
        assert!((c.now() - 1_000_000.0).abs() < 5.0);
        c.advance(3600.0);
        assert!((c.now() - 1_003_600.0).abs() < 5.0);
        c.reset();
        assert!((c.now() - system_now()).abs() < 5.0);
    }
}
