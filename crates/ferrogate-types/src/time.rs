//! UTC timestamps with the three spellings AWS uses: ISO 8601 (`2015-08-30T12:36:00Z`, XML
//! and CloudTrail), the SigV4 basic form (`20150830T123600Z`), and epoch seconds (JSON).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A timestamp that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp '{0}'")]
pub struct TimestampError(pub String);

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// A timestamp from milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// A timestamp from whole seconds since the epoch.
    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Seconds since the epoch as a float, the JSON protocols' timestamp form.
    #[allow(clippy::cast_precision_loss)]
    pub fn epoch_seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// From epoch seconds as sent by JSON clients (fractions allowed). `None` when not finite
    /// or out of range.
    #[allow(clippy::cast_possible_truncation)]
    pub fn from_epoch_seconds_f64(s: f64) -> Option<Self> {
        let ms = (s * 1000.0).round();
        // ±2^53 ms keeps the value exact and far beyond year 9999.
        if ms.is_finite() && ms.abs() < 9_007_199_254_740_992.0 {
            Some(Self(ms as i64))
        } else {
            None
        }
    }

    /// Adds milliseconds, saturating.
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// The absolute difference in milliseconds.
    pub const fn abs_diff_millis(self, other: Self) -> u64 {
        self.0.abs_diff(other.0)
    }

    fn parts(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        let as_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
        (
            y,
            m,
            d,
            as_u32(secs / 3600),
            as_u32(secs / 60 % 60),
            as_u32(secs % 60),
            as_u32(ms_of_day % 1000),
        )
    }

    /// `2015-08-30T12:36:00Z` (seconds precision), as CloudTrail and IAM's XML print it.
    pub fn iso8601(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// `2015-08-30T12:36:00.123Z` (milliseconds).
    pub fn iso8601_millis(self) -> String {
        let (y, mo, d, h, mi, s, ms) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// `20150830T123600Z`, the SigV4 `X-Amz-Date` form.
    pub fn amz_date(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.parts();
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }

    /// `20150830`, the date of a SigV4 credential scope.
    pub fn amz_day(self) -> String {
        let (y, mo, d, ..) = self.parts();
        format!("{y:04}{mo:02}{d:02}")
    }

    /// Parses the SigV4 basic form `YYYYMMDDTHHMMSSZ`.
    pub fn parse_amz_date(s: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, TimestampError> {
            // `get`, not indexing: a multi-byte character may straddle a field boundary.
            let part = s.get(r).ok_or_else(err)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        Self::from_fields(
            num(0..4)?,
            num(4..6)?,
            num(6..8)?,
            num(9..11)?,
            num(11..13)?,
            num(13..15)?,
            0,
        )
        .ok_or_else(err)
    }

    /// Parses ISO 8601 / RFC 3339 in UTC or with an offset: `2015-08-30T12:36:00Z`,
    /// `2015-08-30T12:36:00.5Z`, `2015-08-30T12:36:00+02:00`, and a bare date `2015-08-30`.
    pub fn parse_iso8601(s: &str) -> Result<Self, TimestampError> {
        parse_iso(s).ok_or_else(|| TimestampError(s.to_owned()))
    }

    fn from_fields(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<Self> {
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        let days = days_from_civil(i64::from(y), mo, d);
        let secs = i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
        Some(Self(days * MS_PER_DAY + secs * 1000 + i64::from(ms)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso8601())
    }
}

fn parse_iso(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if b.len() == 10 {
        return Timestamp::from_fields(y, mo, d, 0, 0, 0, 0);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut i = 19;
    let mut ms = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        ms = frac.parse::<u32>().ok()? * 10u32.pow(3 - u32::try_from(frac.len()).ok()?);
    }
    let base = Timestamp::from_fields(y, mo, d, h, mi, sec, ms)?;
    let offset_ms = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && (tz.starts_with('+') || tz.starts_with('-'))
            && tz.as_bytes()[3] == b':' =>
        {
            let oh = i64::from(digits(i + 1..i + 3)?);
            let om = i64::from(digits(i + 4..i + 6)?);
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60) * 1000
        }
        _ => return None,
    };
    Some(Timestamp(base.0 - offset_ms))
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain), proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        assert_eq!(t.iso8601(), "2015-08-30T12:36:00Z");
        assert_eq!(t.amz_date(), "20150830T123600Z");
        assert_eq!(t.amz_day(), "20150830");
        assert_eq!(
            Timestamp::from_millis(1_440_938_160_123).iso8601_millis(),
            "2015-08-30T12:36:00.123Z"
        );
        assert_eq!(Timestamp::from_secs(0).iso8601(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_secs(951_782_400).iso8601(),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn parses() {
        let t = Timestamp::from_secs(1_440_938_160);
        assert_eq!(Timestamp::parse_amz_date("20150830T123600Z"), Ok(t));
        assert_eq!(Timestamp::parse_iso8601("2015-08-30T12:36:00Z"), Ok(t));
        assert_eq!(Timestamp::parse_iso8601("2015-08-30T14:36:00+02:00"), Ok(t));
        assert_eq!(
            Timestamp::parse_iso8601("2015-08-30T12:36:00.5Z"),
            Ok(t.plus_millis(500))
        );
        assert_eq!(
            Timestamp::parse_iso8601("2015-08-30"),
            Ok(Timestamp::from_secs(1_440_892_800))
        );
        for bad in [
            "",
            "2015-13-01T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2015-08-30T25:00:00Z",
            "x",
            "2015-08-30T12:36:00",
        ] {
            assert!(Timestamp::parse_iso8601(bad).is_err(), "{bad}");
        }
        for bad in [
            "20150830T123600",
            "2015083T1236000Z",
            "20150830X123600Z",
            "2015083aT123600Z",
        ] {
            assert!(Timestamp::parse_amz_date(bad).is_err(), "{bad}");
        }
    }

    /// Found by the `sigv4` fuzz target: 16 bytes with `T` and `Z` in place but a
    /// multi-byte character across a field boundary panicked on a slice.
    #[test]
    fn amz_date_with_multibyte_characters_is_an_error() {
        for bad in [
            "07541\u{FFFD}T123600Z",
            "201\u{e9}830T123600Z",
            "2015083\u{e9}123600Z",
        ] {
            assert!(Timestamp::parse_amz_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        let mut day = days_from_civil(1900, 1, 1);
        while day < days_from_civil(2300, 1, 1) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            day += 1;
        }
    }

    #[test]
    fn epoch_seconds() {
        let t = Timestamp::from_millis(1_500);
        assert!((t.epoch_seconds_f64() - 1.5).abs() < f64::EPSILON);
        assert_eq!(Timestamp::from_epoch_seconds_f64(1.5), Some(t));
        assert_eq!(Timestamp::from_epoch_seconds_f64(f64::NAN), None);
        assert_eq!(Timestamp::from_epoch_seconds_f64(1e300), None);
    }
}
