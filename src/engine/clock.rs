//! The stand clock: wall time plus an offset, or a manual instant that moves only when told.
//!
//! This is the only place in the crate that reads the wall clock. Clones share time, so a test can
//! hold a clone and move every part of the stand at once.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An instant on a stand's clock: milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 instant such as `2026-01-01T00:00:00Z` or `2015-07-14T15:40:52.738+02:00`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let t =
            OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|e| format!("`{s}` is not an RFC 3339 instant ({e})"))?;
        Ok(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// This instant plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis().min(i64::MAX as u128) as i64))
    }

    /// This instant minus `d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(d.as_millis().min(i64::MAX as u128) as i64))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// As a `time` date-time in UTC (clamped to the range `time` supports).
    pub fn to_utc(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC with milliseconds: `2026-01-01T00:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let t = self.to_utc();
        if (0..=9999).contains(&t.year()) {
            // Digit by digit: this prints several dates on every SensNet check.
            let mut out = String::with_capacity(24);
            let two = |out: &mut String, n: u8, sep: char| {
                out.push(char::from(b'0' + n / 10));
                out.push(char::from(b'0' + n % 10));
                out.push(sep);
            };
            let y = t.year() as u16;
            for d in [y / 1000, y / 100 % 10, y / 10 % 10, y % 10] {
                out.push(char::from(b'0' + d as u8));
            }
            out.push('-');
            two(&mut out, u8::from(t.month()), '-');
            two(&mut out, t.day(), 'T');
            two(&mut out, t.hour(), ':');
            two(&mut out, t.minute(), ':');
            two(&mut out, t.second(), '.');
            let ms = t.millisecond();
            for d in [ms / 100, ms / 10 % 10, ms % 10] {
                out.push(char::from(b'0' + d as u8));
            }
            out.push('Z');
            return out;
        }
        rfc3339_formatted(t)
    }

    /// An IMF-fixdate for the HTTP `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn to_http_date(self) -> String {
        let secs = self.0.div_euclid(1000).max(0) as u64;
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// RFC 3339 through `format!`: years outside 0 to 9999 (signed, wider), and the reference the
/// digit-by-digit path is tested against.
fn rfc3339_formatted(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A stand's clock. `system` follows wall time (plus an offset that `advance`/`set` move);
/// `manual` stands still until told. Clones share one time.
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

struct Inner {
    manual: bool,
    /// Manual: the current instant. System: the offset added to wall time.
    value: AtomicI64,
}

impl Clock {
    /// Wall time.
    pub fn system() -> Self {
        Clock(Arc::new(Inner { manual: false, value: AtomicI64::new(0) }))
    }

    /// A clock that starts at `start` and moves only through [`Clock::advance`] and [`Clock::set`].
    pub fn manual(start: Timestamp) -> Self {
        Clock(Arc::new(Inner { manual: true, value: AtomicI64::new(start.0) }))
    }

    /// `true` for a manual clock.
    pub fn is_manual(&self) -> bool {
        self.0.manual
    }

    /// The current instant on this clock.
    pub fn now(&self) -> Timestamp {
        let v = self.0.value.load(Ordering::SeqCst);
        if self.0.manual { Timestamp(v) } else { Timestamp(wall_millis().saturating_add(v)) }
    }

    /// Moves the clock forward by `by`. On a system clock this grows the offset.
    pub fn advance(&self, by: Duration) {
        let ms = by.as_millis().min(i64::MAX as u128) as i64;
        self.0.value.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `to`. On a system clock this sets the offset so that `now() == to`.
    pub fn set(&self, to: Timestamp) {
        let v = if self.0.manual { to.0 } else { to.0.saturating_sub(wall_millis()) };
        self.0.value.store(v, Ordering::SeqCst);
    }

    /// Back to the initial state: `start` for a manual clock, no offset for a system clock.
    pub(crate) fn restart(&self, start: Option<Timestamp>) {
        let v = if self.0.manual { start.map_or(0, |s| s.0) } else { 0 };
        self.0.value.store(v, Ordering::SeqCst);
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.is_manual() { "manual" } else { "system" };
        write!(f, "Clock({mode}, {})", self.now())
    }
}

fn wall_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = Clock::manual(Timestamp::from_millis(1_000));
        let b = a.clone();
        b.advance(Duration::from_secs(60));
        assert_eq!(a.now(), Timestamp::from_millis(61_000));
        a.set(Timestamp::from_millis(5));
        assert_eq!(b.now(), Timestamp::from_millis(5));
    }

    #[test]
    fn system_clock_advance_adds_an_offset() {
        let c = Clock::system();
        let before = c.now();
        c.advance(Duration::from_secs(3600));
        assert!(c.now().since(before) >= Duration::from_secs(3600));
    }

    #[test]
    fn rfc3339_prints_as_its_format_string_does() {
        use proptest::prelude::*;
        // From year 0 to 9999, and a few beyond (the format! path).
        proptest!(|(ms in -62_200_000_000_000i64..253_500_000_000_000)| {
            let t = Timestamp::from_millis(ms);
            prop_assert_eq!(t.to_rfc3339(), rfc3339_formatted(t.to_utc()));
        });
    }

    #[test]
    fn rfc3339_round_trips_with_millis() {
        let t = Timestamp::parse_rfc3339("2015-07-14T15:40:52.738+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2015-07-14T13:40:52.738Z");
        for (ms, text) in [
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::from_millis(ms).to_rfc3339(), text);
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap().to_http_date(),
            "Thu, 01 Jan 2026 00:00:00 GMT"
        );
    }
}
