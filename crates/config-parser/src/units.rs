//! Durations (Go `time.ParseDuration` syntax) and Zulu timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a Go duration such as `500ms`, `1m30s`, `-2h`, `1.5s` or `0` into signed nanoseconds.
pub(crate) fn parse_go_duration(s: &str) -> Result<i128, String> {
    let bad = || format!("invalid duration \"{s}\"");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration \"{s}\"")),
            _ => return Err(format!("unknown unit \"{unit}\" in duration \"{s}\"")),
        };
        total += n * scale;
        rest = tail;
    }
    // Go limits durations to int64 nanoseconds (about 292 years).
    if total > i64::MAX as f64 {
        return Err(format!("invalid duration \"{s}\": too large"));
    }
    // The value is finite and within i64 range here.
    let nanos = total.round() as i128;
    Ok(if neg { -nanos } else { nanos })
}

/// Signed nanoseconds to a `Duration`, refusing negatives.
pub(crate) fn non_negative(nanos: i128) -> Option<Duration> {
    u64::try_from(nanos).ok().map(Duration::from_nanos)
}

/// Formats a duration the way Go prints one (`5s`, `1m30s`, `500ms`).
pub(crate) fn go_format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac = d.subsec_nanos();
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{:09}", frac);
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only).
pub(crate) fn parse_zulu(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("invalid timestamp \"{s}\", expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return Err(bad());
    }
    if b[16] != b':' || b[b.len() - 1] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u64, String> {
        let t = s.get(r).ok_or_else(bad)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut nanos = 0u32;
    if b.len() > 20 {
        let frac = s.get(19..b.len() - 1).ok_or_else(bad)?;
        let digits = frac.strip_prefix('.').ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let padded = format!("{digits:0<9}");
        nanos = padded.parse().map_err(|_| bad())?;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max_day = usize::try_from(month)
        .ok()
        .and_then(|m| m.checked_sub(1))
        .and_then(|m| month_days.get(m).copied())
        .ok_or_else(bad)?;
    if year < 1970 || day == 0 || day > max_day || hour > 23 || min > 59 || sec > 59 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date on or after 1970 (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("2h"), Ok(7_200_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("-5s"), Ok(-5_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("10us"), Ok(10_000));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5d").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
        assert!(parse_go_duration("9999999999h").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_format(Duration::from_secs(5)), "5s");
        assert_eq!(go_format(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_format(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(go_format(Duration::from_millis(500)), "500ms");
        assert_eq!(go_format(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn zulu_timestamps() {
        let t = parse_zulu("2026-12-31T23:59:59Z").expect("parse");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok(),
            Some(1_798_761_599)
        );
        let t = parse_zulu("1970-01-01T00:00:01.5Z").expect("parse");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).ok(),
            Some(1500)
        );
        assert!(parse_zulu("2026-02-30T00:00:00Z").is_err());
        assert!(parse_zulu("2026-12-31T23:59:59+01:00").is_err());
        assert!(parse_zulu("2026-13-01T00:00:00Z").is_err());
    }
}
