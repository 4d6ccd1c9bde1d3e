//! A user JWT's `times` and `times_location`: the daily windows in which it may connect
//! (nats-server `validateTimes`).

use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use rnats_jwt::TimeRange;

/// Whether `now` falls in one of `ranges` (each `HH:MM:SS` to `HH:MM:SS`, wrapping midnight
/// when the start is later than the end) in `location` (an IANA zone name, from the system's
/// time zone database; `None`: the server's local zone), and if so for how long it stays
/// allowed (the longest of the windows it is in). `Err` when the zone or a time cannot be
/// read: nats-server refuses such a user too.
pub(crate) fn allowed_for(
    ranges: &[TimeRange],
    location: Option<&str>,
    now: SystemTime,
) -> Result<Option<Duration>, String> {
    if ranges.is_empty() {
        return Ok(Some(Duration::MAX));
    }
    let tz = match location {
        Some(name) => TimeZone::get(name)
            .map_err(|e| format!("times_location {name:?} is not a known time zone: {e}"))?,
        None => TimeZone::system(),
    };
    let now = Timestamp::try_from(now)
        .map_err(|e| e.to_string())?
        .to_zoned(tz.clone());
    let today = now.date();
    let mut best: Option<Duration> = None;
    for range in ranges {
        let at = |text: &str| -> Result<Timestamp, String> {
            let t = parse_clock(text).ok_or_else(|| format!("time {text:?} is not HH:MM:SS"))?;
            today
                .to_datetime(t)
                .to_zoned(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| e.to_string())
        };
        let (start, mut end) = (at(&range.start)?, at(&range.end)?);
        let now = now.timestamp();
        let left = |end: Timestamp| Duration::try_from(end.duration_since(now)).ok();
        let mut inside = None;
        if start < now && end > now {
            inside = left(end);
        } else if start > end {
            if end > now {
                inside = left(end);
            } else {
                end = end
                    .checked_add(jiff::SignedDuration::from_hours(24))
                    .map_err(|e| e.to_string())?;
                if start < now && end > now {
                    inside = left(end);
                }
            }
        }
        if let Some(d) = inside
            && best.is_none_or(|b| d > b)
        {
            best = Some(d);
        }
    }
    Ok(best)
}

/// Go's `15:04:05` layout: hour of one or two digits, minutes and seconds of two.
fn parse_clock(text: &str) -> Option<Time> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || h.len() > 2 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let num = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse::<i8>().ok())?
    };
    Time::new(num(h)?, num(m)?, num(s)?, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &str, end: &str) -> TimeRange {
        TimeRange {
            start: start.into(),
            end: end.into(),
        }
    }

    /// 2026-03-04 10:00:00 UTC.
    fn ten_utc() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_618_400)
    }

    #[test]
    fn windows_in_utc() {
        let now = ten_utc();
        let utc = Some("UTC");
        assert_eq!(
            allowed_for(&[range("09:00:00", "11:00:00")], utc, now),
            Ok(Some(Duration::from_secs(3600)))
        );
        assert_eq!(
            allowed_for(&[range("11:00:00", "12:00:00")], utc, now),
            Ok(None)
        );
        // Wrapping midnight: 22:00 to 10:30 covers 10:00.
        assert_eq!(
            allowed_for(&[range("22:00:00", "10:30:00")], utc, now),
            Ok(Some(Duration::from_secs(1800)))
        );
        // The longest window wins.
        assert_eq!(
            allowed_for(
                &[range("09:00:00", "10:10:00"), range("08:00:00", "12:00:00")],
                utc,
                now
            ),
            Ok(Some(Duration::from_secs(7200)))
        );
        assert_eq!(allowed_for(&[], utc, now), Ok(Some(Duration::MAX)));
    }

    #[test]
    fn zones_and_bad_input() {
        // 10:00 UTC is 19:00 in Tokyo.
        assert_eq!(
            allowed_for(
                &[range("18:30:00", "19:30:00")],
                Some("Asia/Tokyo"),
                ten_utc()
            ),
            Ok(Some(Duration::from_secs(1800)))
        );
        assert!(
            allowed_for(
                &[range("1:00:00", "2:00:00")],
                Some("Nowhere/Land"),
                ten_utc()
            )
            .is_err()
        );
        assert!(allowed_for(&[range("25:00:00", "2:00:00")], Some("UTC"), ten_utc()).is_err());
        assert_eq!(parse_clock("9:05:00"), Time::new(9, 5, 0, 0).ok());
        assert_eq!(parse_clock("09:5:00"), None);
    }
}
