//! Exact decimal numbers for the `Numeric*` operators.
//!
//! "Numeric condition operators let you construct Condition elements that restrict access based on
//! comparing a key to an integer or decimal value" (IAM User Guide, *Condition operators*). Values
//! are compared exactly, as digit strings, so `9007199254740993` is not equal to
//! `9007199254740992` as it would be after a trip through `f64`.

use std::cmp::Ordering;

/// A decimal number in canonical form: no leading zeros in `int`, no trailing zeros in `frac`,
/// and zero is never negative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    int: String,
    frac: String,
}

/// Exponents beyond this are refused rather than expanded into huge digit strings.
const MAX_EXPONENT: i64 = 400;

impl Decimal {
    /// Parses `[+-]digits[.digits][e[+-]digits]` (at least one digit before or after the point).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], parse_exponent(&t[i + 1..])?),
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
            return None;
        }
        let (int, frac) = shift(int, frac, exp);
        Some(Self::canonical(negative, &int, &frac))
    }

    fn canonical(negative: bool, int: &str, frac: &str) -> Self {
        let int = int.trim_start_matches('0').to_string();
        let frac = frac.trim_end_matches('0').to_string();
        let zero = int.is_empty() && frac.is_empty();
        Decimal {
            negative: negative && !zero,
            int,
            frac,
        }
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(&other.int))
            .then_with(|| self.frac.cmp(&other.frac))
    }
}

fn parse_exponent(e: &str) -> Option<i64> {
    let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = e.parse().ok()?;
    (v.abs() <= MAX_EXPONENT).then_some(v)
}

/// Moves the decimal point `exp` places to the right (left if negative).
fn shift(int: &str, frac: &str, exp: i64) -> (String, String) {
    let digits = format!("{int}{frac}");
    let point = i64::try_from(int.len())
        .unwrap_or(i64::MAX)
        .saturating_add(exp);
    let len = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        (String::new(), format!("{zeros}{digits}"))
    } else if point >= len {
        let zeros = "0".repeat(usize::try_from(point - len).unwrap_or(0));
        (format!("{digits}{zeros}"), String::new())
    } else {
        let p = usize::try_from(point).unwrap_or(0);
        (digits[..p].to_string(), digits[p..].to_string())
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn canonical_equality() {
        assert_eq!(d("10"), d("10.0"));
        assert_eq!(d("010"), d("10"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d(".5"), d("0.5"));
        assert_eq!(d("5."), d("5"));
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("1.5E-2"), d("0.015"));
        assert_eq!(d("+7"), d("7"));
        assert_ne!(d("9007199254740993"), d("9007199254740992"));
    }

    #[test]
    fn ordering() {
        let mut v = vec![
            d("10"),
            d("-2.5"),
            d("0"),
            d("2"),
            d("-10"),
            d("2.05"),
            d("100"),
        ];
        v.sort();
        let expect: Vec<_> = ["-10", "-2.5", "0", "2", "2.05", "10", "100"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(v, expect);
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in [
            "", "-", ".", "abc", "1.2.3", "1e", "1e99999", "0x10", "1,000", "NaN", "inf", "1 2",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }
}
