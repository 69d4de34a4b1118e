//! Calendar arithmetic for the few timestamp formats the protocols use (SigV4's ISO 8601 basic
//! form and RFC 1123 `Date` headers), without a date-time dependency.
//!
//! Time is always passed in (`SystemTime` from the caller's clock) and converted to whole Unix
//! seconds here; nothing in this crate reads the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whole seconds since the Unix epoch; instants before 1970 clamp to 0 (never a real request).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The instant `secs` seconds after the epoch (negative values clamp to the epoch).
pub(crate) fn from_unix_seconds(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// Whole milliseconds since the Unix epoch (storage's time unit); pre-1970 clamps to 0.
pub(crate) fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The instant `millis` milliseconds after the epoch (negative values clamp to the epoch).
pub(crate) fn from_unix_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`), for files people read.
pub(crate) fn format_rfc3339_millis(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Seconds since the epoch of a UTC calendar time, or `None` when a field is out of range.
fn to_unix(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(min) * 60
            + i64::from(sec),
    )
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The weekday (0 = Monday) of a day count since 1970-01-01 (a Thursday).
fn weekday(days: i64) -> usize {
    usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0)
}

/// The SRP `TIMESTAMP` as the Cognito SDKs format it: `Wed Dec 2 05:22:58 UTC 2026` (the day
/// of the month not padded, the time padded).
pub(crate) fn format_srp_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let month_name = usize::try_from(month)
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    let weekday_name = WEEKDAYS.get(weekday(days)).copied().unwrap_or("Mon");
    format!(
        "{weekday_name} {month_name} {day} {:02}:{:02}:{:02} UTC {year}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses an SRP `TIMESTAMP` in exactly the SDKs' format (see [`format_srp_timestamp`]): a
/// zero-padded day, another zone, a weekday that does not match the date or any other
/// spelling is `None`, as Cognito refuses them.
pub(crate) fn parse_srp_timestamp(s: &str) -> Option<i64> {
    let mut fields = s.split(' ');
    let weekday_name = fields.next()?;
    let month_name = fields.next()?;
    let day_text = fields.next()?;
    let time = fields.next()?;
    let zone = fields.next()?;
    let year_text = fields.next()?;
    if fields.next().is_some() || zone != "UTC" || day_text.starts_with('0') {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let month = u32::try_from(month).ok()? + 1;
    let day = digits(day_text)?;
    if year_text.len() != 4 {
        return None;
    }
    let year = i64::from(digits(year_text)?);
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, sec].iter().any(|f| f.len() != 2) {
        return None;
    }
    let secs = to_unix(year, month, day, digits(h)?, digits(m)?, digits(sec)?)?;
    (WEEKDAYS.get(weekday(secs.div_euclid(86_400))) == Some(&weekday_name)).then_some(secs)
}

/// Parses SigV4's `YYYYMMDD'T'HHMMSS'Z'` (e.g. `20150830T123600Z`) into Unix seconds.
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(8);
    let rest = rest.strip_prefix('T')?.strip_suffix('Z')?;
    if rest.len() != 6 {
        return None;
    }
    let year = i64::from(digits(date.get(0..4)?)?);
    let month = digits(date.get(4..6)?)?;
    let day = digits(date.get(6..8)?)?;
    let hour = digits(rest.get(0..2)?)?;
    let min = digits(rest.get(2..4)?)?;
    let sec = digits(rest.get(4..6)?)?;
    to_unix(year, month, day, hour, min, sec)
}

/// Formats Unix seconds as SigV4's `YYYYMMDD'T'HHMMSS'Z'`.
pub(crate) fn format_amz_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses an RFC 1123 HTTP date (`Sun, 30 Aug 2015 12:36:00 GMT`), the `Date` header form
/// SigV4 falls back to when `X-Amz-Date` is absent.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let rest = s.trim();
    let (_weekday, rest) = rest.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day = digits(parts.next()?)?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let month = u32::try_from(month).ok()? + 1;
    let year = i64::from(digits(parts.next()?)?);
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let mut hms = time.split(':');
    let hour = digits(hms.next()?)?;
    let min = digits(hms.next()?)?;
    let sec = digits(hms.next()?)?;
    if hms.next().is_some() {
        return None;
    }
    to_unix(year, month, day, hour, min, sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_round_trips() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_amz_date(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn amz_date_rejects_malformed() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T12360ZZ",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_date_parses_rfc1123() {
        assert_eq!(
            parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC"), None);
        assert_eq!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"), None);
    }

    #[test]
    fn rfc3339_and_millis() {
        assert_eq!(
            format_rfc3339_millis(1_440_938_160_123),
            "2015-08-30T12:36:00.123Z"
        );
        let t = from_unix_millis(1_440_938_160_123);
        assert_eq!(unix_millis(t), 1_440_938_160_123);
    }

    #[test]
    fn srp_timestamps_follow_the_sdks() {
        #[derive(serde::Deserialize)]
        struct Stamp {
            unix: i64,
            text: String,
        }
        #[derive(serde::Deserialize)]
        struct Vectors {
            timestamps: Vec<Stamp>,
        }
        let vectors: Vectors =
            serde_json::from_str(include_str!("../tests/data/srp/vectors.json")).unwrap();
        for stamp in vectors.timestamps {
            assert_eq!(format_srp_timestamp(stamp.unix), stamp.text);
            assert_eq!(
                parse_srp_timestamp(&stamp.text),
                Some(stamp.unix),
                "{}",
                stamp.text
            );
        }
        let refused: &[(&str, &str)] = &[
            ("a zero-padded day", "Wed Dec 02 05:22:58 UTC 2026"),
            (
                "a weekday that is not the date's",
                "Thu Dec 2 05:22:58 UTC 2026",
            ),
            ("another zone", "Wed Dec 2 05:22:58 GMT 2026"),
            ("an unpadded hour", "Wed Dec 2 5:22:58 UTC 2026"),
            ("a day the month lacks", "Tue Feb 30 05:22:58 UTC 2027"),
            ("two spaces", "Wed Dec  2 05:22:58 UTC 2026"),
            ("a trailing field", "Wed Dec 2 05:22:58 UTC 2026 x"),
            ("a lower-case month", "Wed dec 2 05:22:58 UTC 2026"),
            ("empty", ""),
        ];
        for (rule, text) in refused {
            assert_eq!(parse_srp_timestamp(text), None, "{rule}");
        }
    }

    #[test]
    fn civil_conversion_matches_known_days() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2100, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
    }
}
