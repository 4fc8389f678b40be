//! Kubernetes resource quantities (`2`, `700m`, `1.5`, `128Mi`, `1G`, `1e3`) as integers, the
//! way `resource.Quantity`'s `Value()` and `MilliValue()` read them: exact decimal arithmetic,
//! rounded up (away from zero) when precision is lost, capped at `i64::MAX` in magnitude.
//!
//! k8s-openapi's `Quantity` is only the string, and no crate in the workspace parses it.

/// Significant digits kept of a quantity's number; any further digit only rounds up.
const MAX_DIGITS: u32 = 36;

/// The quantity as a whole number of units (bytes for memory, a count for pods), like
/// `Quantity.Value()`: `"128Mi"` → 134217728, `"1G"` → 10⁹, `"1e3"` → 1000, `"0.5"` → 1.
/// `None` when it is not a quantity.
pub fn parse_quantity(q: &str) -> Option<i64> {
    scaled(q, 0)
}

/// The quantity in thousandths, like `Quantity.MilliValue()` (CPU in millicores): `"2"` → 2000,
/// `"700m"` → 700, `"0.5"` → 500, `"1.5"` → 1500, `"1u"` → 1. `None` when it is not a quantity.
pub fn parse_quantity_millis(q: &str) -> Option<i64> {
    scaled(q, 3)
}

/// `q` × 10^`scale`, rounded up in magnitude.
fn scaled(q: &str, scale: i64) -> Option<i64> {
    let (negative, rest) = match q.as_bytes().first()? {
        b'-' => (true, &q[1..]),
        b'+' => (false, &q[1..]),
        _ => (false, q),
    };
    let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (int_digits, frac_digits) = number.split_once('.').unwrap_or((number, ""));
    if int_digits.is_empty() && frac_digits.is_empty() || frac_digits.contains('.') {
        return None;
    }
    let (exp10, exp2) = suffix_exponents(suffix)?;
    let mut mantissa: u128 = 0;
    let mut exp10 = exp10 + scale;
    // A non-zero digit beyond MAX_DIGITS: the true value is a little above mantissa × 10^exp10.
    let mut sticky = false;
    let limit = 10u128.pow(MAX_DIGITS);
    for (digit, fraction) in digits(int_digits, false).chain(digits(frac_digits, true)) {
        if mantissa < limit {
            mantissa = mantissa * 10 + digit;
            exp10 -= i64::from(fraction);
        } else {
            exp10 += i64::from(!fraction);
            sticky |= digit != 0;
        }
    }
    let value = mantissa.checked_shl(exp2).filter(|v| v >> exp2 == mantissa).unwrap_or(u128::MAX);
    let magnitude = if exp10 >= 0 {
        let factor = u32::try_from(exp10).ok().and_then(|e| 10u128.checked_pow(e));
        match factor {
            _ if value == 0 => 0,
            Some(f) => value.saturating_mul(f),
            None => u128::MAX,
        }
    } else {
        match u32::try_from(-exp10).ok().and_then(|e| 10u128.checked_pow(e)) {
            Some(d) => value / d + u128::from(value % d != 0 || sticky),
            None => u128::from(value != 0 || sticky),
        }
    };
    let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// Each decimal digit of `s` with whether it is a fraction digit.
fn digits(s: &str, fraction: bool) -> impl Iterator<Item = (u128, bool)> + '_ {
    s.bytes().map(move |b| (u128::from(b - b'0'), fraction))
}

/// The powers of ten and of two a suffix stands for: `k` (10³), `Ki` (2¹⁰), `e3`/`E3` (10³), …
fn suffix_exponents(suffix: &str) -> Option<(i64, u32)> {
    let decimal = |e: i64| Some((e, 0));
    let binary = |e: u32| Some((0, e));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            decimal(exponent.parse::<i32>().ok()?.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        let table: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("128974848", Some(128_974_848)),
            ("128Mi", Some(128 << 20)),
            ("1Gi", Some(1 << 30)),
            ("1.5Gi", Some(1_610_612_736)),
            ("1G", Some(1_000_000_000)),
            ("129M", Some(129_000_000)),
            ("512k", Some(512_000)),
            ("1Ki", Some(1024)),
            ("1e3", Some(1000)),
            ("1E3", Some(1000)),
            ("1e+3", Some(1000)),
            ("12e-1", Some(2)),
            ("1E", Some(1_000_000_000_000_000_000)),
            ("8Ei", Some(i64::MAX)),
            ("110", Some(110)),
            ("0.5", Some(1)),
            ("1.", Some(1)),
            (".5", Some(1)),
            ("+3", Some(3)),
            ("-1.5", Some(-2)),
            ("500m", Some(1)),
            ("1000m", Some(1)),
            ("99999999999999999999", Some(i64::MAX)),
            ("1e999", Some(i64::MAX)),
            ("0e999", Some(0)),
            ("1e-999", Some(1)),
            ("", None),
            (".", None),
            ("-", None),
            ("1.2.3", None),
            ("12x", None),
            ("1Mb", None),
            ("1e", None),
            ("1e+", None),
            ("1e1.5", None),
            ("Mi", None),
            (" 1", None),
        ];
        for (q, want) in table {
            assert_eq!(parse_quantity(q), *want, "{q:?}");
        }
    }

    #[test]
    fn millis() {
        let table: &[(&str, Option<i64>)] = &[
            ("2", Some(2000)),
            ("700m", Some(700)),
            ("0.5", Some(500)),
            ("1.5", Some(1500)),
            ("0.0001", Some(1)),
            ("100u", Some(1)),
            ("250000000n", Some(250)),
            ("1k", Some(1_000_000)),
            ("2e-3", Some(2)),
            ("0.1m", Some(1)),
            // A digit past the precision kept still rounds up.
            ("0.0010000000000000000000000000000000000000001", Some(2)),
            ("x", None),
        ];
        for (q, want) in table {
            assert_eq!(parse_quantity_millis(q), *want, "{q:?}");
        }
    }

    proptest! {
        #[test]
        fn integers_with_suffixes_are_exact(n in 0i64..1_000_000, s in 0usize..4) {
            let (suffix, factor) = [("", 1i64), ("k", 1000), ("Ki", 1024), ("Mi", 1 << 20)][s];
            prop_assert_eq!(parse_quantity(&format!("{n}{suffix}")), Some(n * factor));
            prop_assert_eq!(parse_quantity_millis(&format!("{n}{suffix}")), Some(n * factor * 1000));
        }

        #[test]
        fn millis_round_trip(m in 0i64..100_000_000) {
            prop_assert_eq!(parse_quantity_millis(&format!("{m}m")), Some(m));
            prop_assert_eq!(parse_quantity_millis(&format!("{}.{:03}", m / 1000, m % 1000)), Some(m));
            prop_assert_eq!(parse_quantity(&format!("{m}m")), Some((m + 999) / 1000));
        }

        #[test]
        fn never_panics(s in "[-+]?[0-9.]{0,45}([numkMGTPE]|[KMGTPE]i|[eE][-+]?[0-9]{0,12})?") {
            let _ = parse_quantity(&s);
            let _ = parse_quantity_millis(&s);
        }
    }
}
