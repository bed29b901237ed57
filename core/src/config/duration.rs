//! Durations as written in the cluster file.
//!
//! In: strings such as `"100ms"`, `"3s"`, `"2m30s"`, `"1d"`. Out: whole milliseconds
//! ([`Ms`]), and back ([`format_ms`]) for rendering. Hand-written rather than a
//! dependency: five units and a sum are all the file needs.

use super::Ms;

/// Units in the order they are tried: `ms` before `m`, so `"5ms"` is not read as minutes.
const UNITS: [(&str, Ms); 5] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

/// Parses a sum of `NUMBER UNIT` parts with units `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration_ms(text: &str) -> Result<Ms, String> {
    if text.is_empty() {
        return Err("empty duration (write e.g. \"3s\", \"100ms\", \"5m\")".into());
    }
    let mut rest = text;
    let mut total: Ms = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at \"{rest}\" (write e.g. \"3s\", \"100ms\", \"2m30s\")"));
        }
        let number: Ms = rest[..digits].parse().map_err(|_| "number too large".to_string())?;
        rest = &rest[digits..];
        let Some((unit, scale)) = UNITS.iter().find(|(u, _)| rest.starts_with(u)) else {
            return Err(format!("missing or unknown unit after {number} (units: ms, s, m, h, d)"));
        };
        rest = &rest[unit.len()..];
        total = number.checked_mul(*scale).and_then(|v| total.checked_add(v)).ok_or("duration too large")?;
    }
    Ok(total)
}

/// Writes milliseconds the way a person would: `"3s"`, `"100ms"`, `"2m30s"`, `"0s"`.
/// The result parses back to the same value.
pub fn format_ms(ms: Ms) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, scale) in UNITS.iter().rev() {
        let n = rest / scale;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration_ms("100ms"), Ok(100));
        assert_eq!(parse_duration_ms("3s"), Ok(3_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("2m30s"), Ok(150_000));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
    }

    #[test]
    fn refuses_bad_text() {
        for bad in ["", "3", "s", "3x", "3 s", "-1s", "1.5s", "99999999999999999999s"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_back() {
        for ms in [0, 1, 100, 3_000, 150_000, 3_600_000, 86_400_000 + 61_001] {
            assert_eq!(parse_duration_ms(&format_ms(ms)), Ok(ms));
        }
        assert_eq!(format_ms(150_000), "2m30s");
        assert_eq!(format_ms(100), "100ms");
    }
}
