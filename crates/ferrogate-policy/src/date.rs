//! Dates for the `Date*` operators: W3C ISO 8601 profiles and epoch seconds.
//!
//! "You must specify date/time values with one of the W3C implementations of the ISO 8601 date
//! formats or in epoch (UNIX) time" (IAM User Guide, *Condition operators*, Date section). The W3C
//! note allows `YYYY` (which IAM's rule below reads as epoch seconds), `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ssTZD`
//! and `YYYY-MM-DDThh:mm:ss.sTZD`, with `TZD` = `Z` or `+hh:mm` / `-hh:mm`. A string with no `T`
//! and no `-` is read as epoch seconds, which is how IAM tells the two apart (moto's validator
//! encodes the same rule). A missing `TZD` is read as UTC.

/// An instant, in nanoseconds since 1970-01-01T00:00:00Z. Ordering is chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i128);

const NANOS: i128 = 1_000_000_000;

impl Timestamp {
    /// From whole seconds since the epoch.
    pub fn from_epoch_seconds(secs: i64) -> Self {
        Timestamp(i128::from(secs) * NANOS)
    }

    /// Parses either form described in the module docs.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        if t.contains(['t', 'T', '-']) {
            parse_iso(t)
        } else {
            parse_epoch(t)
        }
    }
}

/// Epoch seconds with an optional decimal fraction.
fn parse_epoch(t: &str) -> Option<Timestamp> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || whole.len() > 18 || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let secs: i128 = whole.parse().ok()?;
    Some(Timestamp(secs * NANOS + fraction_nanos(frac)?))
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Nanoseconds from the digits after a decimal point (extra digits are truncated).
fn fraction_nanos(frac: &str) -> Option<i128> {
    if !all_digits(frac) {
        return None;
    }
    let mut nanos = 0i128;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += i128::from(b - b'0') * 10i128.pow(8 - u32::try_from(i).ok()?);
    }
    Some(nanos)
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && all_digits(s)).then(|| s.parse().ok())?
}

fn parse_iso(t: &str) -> Option<Timestamp> {
    let (date, time) = match t.find(['T', 't']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let days = parse_calendar_date(date)?;
    let secs_of_day = match time {
        Some(time) => parse_time(time)?,
        None => 0,
    };
    Some(Timestamp(i128::from(days) * 86_400 * NANOS + secs_of_day))
}

/// Days since the epoch for `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
fn parse_calendar_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let year = num(parts.next()?, 4)?;
    let month = parts.next().map_or(Some(1), |m| num(m, 2))?;
    let day = parts.next().map_or(Some(1), |d| num(d, 2))?;
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Nanoseconds since midnight UTC for `hh:mm[:ss[.s+]][TZD]`.
fn parse_time(time: &str) -> Option<i128> {
    let (clock, offset_secs) = split_zone(time)?;
    let mut parts = clock.splitn(3, ':');
    let hour = num(parts.next()?, 2)?;
    let minute = num(parts.next()?, 2)?;
    let (second, nanos) = match parts.next() {
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            if s.contains('.') && frac.is_empty() {
                return None;
            }
            (num(whole, 2)?, fraction_nanos(frac)?)
        }
        None => (0, 0),
    };
    // Second 60 is a leap second; it is kept so that the instant stays ordered.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let secs = hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * NANOS + nanos)
}

/// Splits off a `Z`, `+hh:mm`, `-hh:mm`, `+hhmm` or `+hh` zone and returns its offset in seconds.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let Some(i) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let (clock, zone) = (&time[..i], &time[i + 1..]);
    let sign = if time.as_bytes()[i] == b'-' { -1 } else { 1 };
    let (hh, mm) = match zone.len() {
        2 => (num(zone, 2)?, 0),
        // `get`, not indexing: the zone may hold multi-byte characters.
        4 => (num(zone.get(..2)?, 2)?, num(zone.get(2..)?, 2)?),
        5 if zone.as_bytes()[2] == b':' => (num(zone.get(..2)?, 2)?, num(zone.get(3..)?, 2)?),
        _ => return None,
    };
    if hh > 23 || mm > 59 {
        return None;
    }
    Some((clock, sign * (hh * 3600 + mm * 60)))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Formats epoch seconds as `YYYY-MM-DDThh:mm:ssZ`, the form of `aws:CurrentTime`.
pub fn format_iso8601(epoch_secs: i64) -> String {
    let (days, secs) = (epoch_secs.div_euclid(86_400), epoch_secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn w3c_profiles() {
        let base = Timestamp::from_epoch_seconds(1_704_067_200); // 2024-01-01T00:00:00Z
                                                                 // A bare year has no `-` or `T`, so it reads as epoch seconds, as IAM's parser does.
        assert_eq!(ts("2024"), Timestamp::from_epoch_seconds(2024));
        assert_eq!(ts("2024-01"), base);
        assert_eq!(ts("2024-01-01"), base);
        assert_eq!(ts("2024-01-01T00:00Z"), base);
        assert_eq!(ts("2024-01-01T00:00:00Z"), base);
        assert_eq!(ts("2024-01-01T00:00:00.000Z"), base);
        assert_eq!(ts("2024-01-01T01:00:00+01:00"), base);
        assert_eq!(ts("2023-12-31T19:00:00-05:00"), base);
        assert_eq!(ts("2024-01-01T00:00:00"), base);
        assert_eq!(ts("2024-01-01t00:00:00z"), base);
        assert!(ts("2024-01-01T00:00:00.5Z") > base);
    }

    /// Found by the `policy` fuzz target (a `DateGreaterThan` value): a four-byte zone
    /// holding a multi-byte character panicked on a slice.
    #[test]
    fn zones_with_multibyte_characters_are_invalid() {
        for bad in [
            "2020-01-01T0-m\u{FFFD}",
            "2020-01-01T00:00+\u{e9}\u{e9}",
            "2020-01-01T00:00+0\u{20ac}",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_seconds() {
        assert_eq!(ts("1704067200"), ts("2024-01-01T00:00:00Z"));
        assert_eq!(ts("0"), Timestamp::from_epoch_seconds(0));
        assert!(ts("1704067200.25") > ts("1704067200"));
    }

    #[test]
    fn rejects_invalid_dates() {
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "2023-02-29",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60Z",
            "24-01-01",
            "2024-1-1",
            "abc",
            "",
            "-5",
            "2024-01-01T00:00:00+25:00",
            "2024-01-01T00:00:00.Z",
            "1.2.3",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
        assert!(Timestamp::parse("2024-02-29").is_some());
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_iso8601(1_704_067_199), "2023-12-31T23:59:59Z");
        assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [
            0i64,
            86_399,
            951_782_400,
            1_704_067_200,
            4_102_444_800,
            -86_400,
        ] {
            assert_eq!(
                ts(&format_iso8601(secs)),
                Timestamp::from_epoch_seconds(secs)
            );
        }
    }
}
