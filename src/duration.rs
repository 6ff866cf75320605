//! Go `time.Duration` strings ("87600h", "1h30m", "500ms") to and from `time::Duration`.
//! Pure; also accepts the day/week/year suffixes kpki's own flags use (`30d`) where asked.

use crate::error::{Error, Result};
use time::Duration;

/// Parses a Go duration exactly as Go's `time.ParseDuration` does (units ns us µs ms s m h).
pub fn parse_go(s: &str) -> Result<Duration> {
    parse(s, false)
}

/// Parses a Go duration, also accepting `d` (24h), `w` (7d) and `y` (365d) units.
pub fn parse_human(s: &str) -> Result<Duration> {
    parse(s, true)
}

fn parse(orig: &str, human: bool) -> Result<Duration> {
    let bad = || Error::Policy(5200, format!("time: invalid duration {orig:?}"));
    let mut s = orig.trim();
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0; // nanoseconds
    while !s.is_empty() {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        if num_end == 0 {
            return Err(bad());
        }
        let (num, rest) = s.split_at(num_end);
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" if human => 86_400_000_000_000,
            "w" if human => 7 * 86_400_000_000_000,
            "y" if human => 365 * 86_400_000_000_000,
            "" => {
                return Err(Error::Policy(
                    5200,
                    format!("time: missing unit in duration {orig:?}"),
                ));
            }
            u => {
                return Err(Error::Policy(
                    5200,
                    format!("time: unknown unit {u:?} in duration {orig:?}"),
                ));
            }
        };
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let ip: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut v = ip.checked_mul(scale).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            let digits = frac_part.len().min(18) as u32;
            let f: i128 = frac_part[..digits as usize].parse().map_err(|_| bad())?;
            v += f * scale / 10i128.pow(digits);
        }
        total = total.checked_add(v).ok_or_else(bad)?;
        // As Go: the magnitude may reach 2^63 while parsing, so that -2^63 ns itself is valid.
        if total > 1i128 << 63 {
            return Err(bad());
        }
        s = rest;
    }
    let total = if neg { -total } else { total };
    let total = i64::try_from(total).map_err(|_| bad())?;
    Ok(Duration::nanoseconds(total))
}

/// Formats like Go's `Duration.String()` for whole seconds: "8760h0m0s", "1h30m0s", "0s".
pub fn format_go(d: Duration) -> String {
    let secs = d.whole_seconds();
    if secs == 0 {
        return "0s".into();
    }
    let (sign, secs) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases = [
            ("87600h", Duration::hours(87600)),
            ("1h30m", Duration::minutes(90)),
            ("5m", Duration::minutes(5)),
            ("1.5h", Duration::minutes(90)),
            ("300ms", Duration::milliseconds(300)),
            ("0", Duration::ZERO),
            ("-5m", Duration::minutes(-5)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go(s).unwrap(), want, "{s}");
        }
        for bad in ["", "365d", "h", "10", "1x", "--1h", "9999999999999999h"] {
            assert!(parse_go(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            parse_go("365d").unwrap_err().message(),
            r#"time: unknown unit "d" in duration "365d""#
        );
        assert_eq!(parse_human("30d").unwrap(), Duration::days(30));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go(Duration::hours(8760)), "8760h0m0s");
        assert_eq!(format_go(Duration::seconds(90)), "1m30s");
        assert_eq!(format_go(Duration::ZERO), "0s");
        assert_eq!(format_go(Duration::minutes(-90)), "-1h30m0s");
        assert_eq!(format_go(Duration::seconds(-5)), "-5s");
    }

    #[test]
    fn human_units_only_where_asked() {
        assert_eq!(parse_human("2w").unwrap(), Duration::days(14));
        assert_eq!(parse_human("1y").unwrap(), Duration::days(365));
        assert_eq!(
            parse_human("1y2w3d4h").unwrap(),
            Duration::hours((365 + 17) * 24 + 4)
        );
        for go_only in ["2w", "1y", "3d"] {
            assert!(parse_go(go_only).is_err(), "{go_only}");
        }
    }

    #[test]
    fn fractions_and_signs_as_go_parses_them() {
        let cases = [
            (".5h", Duration::minutes(30)),
            ("1.h", Duration::hours(1)),
            ("+2h", Duration::hours(2)),
            ("-0", Duration::ZERO),
            ("1.25s", Duration::milliseconds(1250)),
            ("0.000000001s", Duration::nanoseconds(1)),
            ("1h0.5m", Duration::seconds(3630)),
            ("2us", Duration::microseconds(2)),
            ("3µs", Duration::microseconds(3)),
            ("4ns", Duration::nanoseconds(4)),
            ("1.5d", Duration::hours(36)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_human(s).unwrap(), want, "{s}");
        }
        assert_eq!(parse_go(" 90s ").unwrap(), Duration::seconds(90));
        assert_eq!(
            parse_go(".h").unwrap_err().to_json(),
            r#"{"code":5200,"message":"time: invalid duration \".h\""}"#
        );
        assert_eq!(
            parse_go("1h30").unwrap_err().message(),
            r#"time: missing unit in duration "1h30""#
        );
        assert_eq!(
            parse_go("h1").unwrap_err().message(),
            r#"time: invalid duration "h1""#
        );
    }

    #[test]
    fn formats_every_magnitude_like_go() {
        assert_eq!(format_go(Duration::hours(1)), "1h0m0s");
        assert_eq!(format_go(Duration::seconds(3661)), "1h1m1s");
        assert_eq!(format_go(Duration::seconds(150)), "2m30s");
        assert_eq!(format_go(Duration::seconds(59)), "59s");
        assert_eq!(format_go(Duration::seconds(60)), "1m0s");
        assert_eq!(format_go(Duration::seconds(-3600)), "-1h0m0s");
        assert_eq!(format_go(Duration::milliseconds(1500)), "1s");
        assert_eq!(format_go(Duration::hours(87600)), "87600h0m0s");
    }

    #[test]
    fn the_largest_go_duration_is_accepted_and_one_more_is_not() {
        // Go's time.Duration is an int64 of nanoseconds.
        assert_eq!(
            parse_go("9223372036854775807ns").unwrap(),
            Duration::nanoseconds(i64::MAX)
        );
        assert!(parse_go("9223372036854775808ns").is_err());
        assert!(parse_go("2562047h47m16.854775808s").is_err());
        assert_eq!(
            parse_go("2562047h47m16.854775807s").unwrap(),
            Duration::nanoseconds(i64::MAX)
        );
        // The smallest is one further from zero (Go checks the magnitude against 2^63 before
        // applying the sign): -2^63 ns parses, -(2^63 + 1) ns does not.
        assert_eq!(
            parse_go("-9223372036854775808ns").unwrap(),
            Duration::nanoseconds(i64::MIN)
        );
        assert_eq!(
            parse_go("-2562047h47m16.854775808s").unwrap(),
            Duration::nanoseconds(i64::MIN)
        );
        assert_eq!(
            parse_go("-9223372036854775809ns").unwrap_err().message(),
            r#"time: invalid duration "-9223372036854775809ns""#
        );
    }
}
