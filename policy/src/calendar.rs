//! Calendar and epoch arithmetic, written once for the whole workspace: proleptic Gregorian
//! dates to and from day counts (Howard Hinnant's `days_from_civil` / `civil_from_days`),
//! `SystemTime` to and from Unix seconds and milliseconds, and the few timestamp forms the
//! protocols write and read (RFC 3339, SigV4's ISO 8601 basic form, RFC 1123 `Date` headers,
//! the access log's CLF time, `YYYY-MM-DD` days).
//!
//! It lives in `policy` because that is the lowest crate every other one depends on. Like the
//! rest of the crate it reads no clock: every instant is passed in. Instants before 1970 clamp
//! to the epoch when converted from a `SystemTime` (no request carries one).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds in a day (UTC has no leap seconds in Unix time).
pub const SECONDS_PER_DAY: i64 = 86_400;
/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = SECONDS_PER_DAY * 1000;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

// === impl DateTime ===

impl DateTime {
    /// The calendar time of `secs` seconds since the epoch (negative values are before 1970).
    pub fn from_unix(secs: i64) -> Self {
        let (year, month, day) = civil_from_days(secs.div_euclid(SECONDS_PER_DAY));
        let rest = secs.rem_euclid(SECONDS_PER_DAY);
        // `rest` is in 0..86_400, so every field fits.
        let field = |n: i64| u32::try_from(n).unwrap_or(0);
        Self {
            year,
            month,
            day,
            hour: field(rest / 3600),
            minute: field(rest % 3600 / 60),
            second: field(rest % 60),
        }
    }

    /// Seconds since the epoch, or `None` when a field is out of range (month 13, 31 April,
    /// 29 February of a common year, hour 24, …).
    pub fn to_unix(&self) -> Option<i64> {
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
        {
            return None;
        }
        Some(
            days_from_civil(self.year, self.month, self.day) * SECONDS_PER_DAY
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second),
        )
    }

    /// `Jan` … `Dec`.
    pub fn month_abbreviation(&self) -> &'static str {
        usize::try_from(self.month)
            .ok()
            .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
            .copied()
            .unwrap_or("Jan")
    }

    /// `YYYY{d}MM{d}DDtHH{c}MM{c}SSZ` for a year of four digits, written digit by digit:
    /// SigV4 formats its request time on every signed request, and `format!` costs ten times
    /// as much. `None` for a year outside 0..=9999 (the caller falls back to `format!`).
    fn write_fixed(&self, date_sep: &[u8], t: &[u8], time_sep: &[u8]) -> Option<String> {
        let year = u32::try_from(self.year).ok().filter(|y| *y <= 9999)?;
        let mut out = Vec::with_capacity(24);
        let two = |out: &mut Vec<u8>, n: u32| {
            out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
        };
        two(&mut out, year / 100);
        two(&mut out, year % 100);
        out.extend_from_slice(date_sep);
        two(&mut out, self.month);
        out.extend_from_slice(date_sep);
        two(&mut out, self.day);
        out.extend_from_slice(t);
        two(&mut out, self.hour);
        out.extend_from_slice(time_sep);
        two(&mut out, self.minute);
        out.extend_from_slice(time_sep);
        two(&mut out, self.second);
        out.push(b'Z');
        String::from_utf8(out).ok()
    }
}

// === day counts ===

/// Whether `year` has a 29 February.
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`; 31 for a month out of range.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before 1970). The fields are
/// not checked: 31 April is 1 May.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let month_from_march = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

// === SystemTime ===

/// Whole seconds since the Unix epoch; instants before 1970 clamp to 0.
pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The instant `secs` seconds after the epoch (negative values clamp to the epoch).
pub fn from_unix_seconds(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// Whole milliseconds since the Unix epoch (storage's time unit); pre-1970 clamps to 0.
pub fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The instant `millis` milliseconds after the epoch (negative values clamp to the epoch).
pub fn from_unix_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

// === formats ===

/// RFC 3339 UTC to the second (`2026-01-02T03:04:05Z`), the form of `aws:CurrentTime`.
pub fn format_rfc3339(secs: i64) -> String {
    let t = DateTime::from_unix(secs);
    if let Some(text) = t.write_fixed(b"-", b"T", b":") {
        return text;
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`), for files people read.
pub fn format_rfc3339_millis(millis: i64) -> String {
    let t = DateTime::from_unix(millis.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        millis.rem_euclid(1000)
    )
}

/// SigV4's ISO 8601 basic form, `YYYYMMDD'T'HHMMSS'Z'` (`20150830T123600Z`).
pub fn format_amz_date(secs: i64) -> String {
    let t = DateTime::from_unix(secs);
    if let Some(text) = t.write_fixed(b"", b"T", b"") {
        return text;
    }
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The access log's time, `dd/MMM/yyyy:HH:mm:ss +0000` (API Gateway's
/// `$context.requestTime`).
pub fn format_clf(secs: i64) -> String {
    let t = DateTime::from_unix(secs);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day,
        t.month_abbreviation(),
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// `YYYY-MM-DD` of the day containing `millis` (UTC).
pub fn format_day(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Parses SigV4's `YYYYMMDD'T'HHMMSS'Z'` into Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(8);
    let rest = rest.strip_prefix('T')?.strip_suffix('Z')?;
    if rest.len() != 6 {
        return None;
    }
    DateTime {
        year: i64::from(digits(date.get(0..4)?)?),
        month: digits(date.get(4..6)?)?,
        day: digits(date.get(6..8)?)?,
        hour: digits(rest.get(0..2)?)?,
        minute: digits(rest.get(2..4)?)?,
        second: digits(rest.get(4..6)?)?,
    }
    .to_unix()
}

/// Parses an RFC 1123 HTTP date (`Sun, 30 Aug 2015 12:36:00 GMT`) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let (_weekday, rest) = s.trim().split_once(", ")?;
    let mut parts = rest.split(' ');
    let day = digits(parts.next()?)?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let year = i64::from(digits(parts.next()?)?);
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let mut hms = time.split(':');
    let (hour, minute, second) = (
        digits(hms.next()?)?,
        digits(hms.next()?)?,
        digits(hms.next()?)?,
    );
    if hms.next().is_some() {
        return None;
    }
    DateTime {
        year,
        month: u32::try_from(month).ok()? + 1,
        day,
        hour,
        minute,
        second,
    }
    .to_unix()
}

/// A run of ASCII digits.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known instants in every form, each checked both ways where a parser exists.
    #[test]
    fn known_instants() {
        struct Case {
            name: &'static str,
            secs: i64,
            rfc3339: &'static str,
            amz: &'static str,
            clf: &'static str,
        }
        let cases = [
            Case {
                name: "the epoch",
                secs: 0,
                rfc3339: "1970-01-01T00:00:00Z",
                amz: "19700101T000000Z",
                clf: "01/Jan/1970:00:00:00 +0000",
            },
            Case {
                name: "the SigV4 test suite's date",
                secs: 1_440_938_160,
                rfc3339: "2015-08-30T12:36:00Z",
                amz: "20150830T123600Z",
                clf: "30/Aug/2015:12:36:00 +0000",
            },
            Case {
                name: "29 February of a year divisible by 400",
                secs: 951_782_400,
                rfc3339: "2000-02-29T00:00:00Z",
                amz: "20000229T000000Z",
                clf: "29/Feb/2000:00:00:00 +0000",
            },
            Case {
                name: "the last second of a leap day",
                secs: 1_709_251_199,
                rfc3339: "2024-02-29T23:59:59Z",
                amz: "20240229T235959Z",
                clf: "29/Feb/2024:23:59:59 +0000",
            },
            Case {
                name: "a century that is not a leap year",
                secs: 4_107_542_400,
                rfc3339: "2100-03-01T00:00:00Z",
                amz: "21000301T000000Z",
                clf: "01/Mar/2100:00:00:00 +0000",
            },
            Case {
                name: "one second before the epoch",
                secs: -1,
                rfc3339: "1969-12-31T23:59:59Z",
                amz: "19691231T235959Z",
                clf: "31/Dec/1969:23:59:59 +0000",
            },
        ];
        for case in cases {
            assert_eq!(format_rfc3339(case.secs), case.rfc3339, "{}", case.name);
            assert_eq!(format_amz_date(case.secs), case.amz, "{}", case.name);
            assert_eq!(format_clf(case.secs), case.clf, "{}", case.name);
            if case.secs >= 0 {
                assert_eq!(parse_amz_date(case.amz), Some(case.secs), "{}", case.name);
            }
            assert_eq!(
                DateTime::from_unix(case.secs).to_unix(),
                Some(case.secs),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn day_counts_round_trip() {
        for (name, date, days) in [
            ("the epoch", (1970, 1, 1), 0),
            ("a leap day", (2024, 2, 29), 19_782),
            ("the day after a leap day", (2024, 3, 1), 19_783),
            ("the end of a year", (2024, 12, 31), 20_088),
            ("a year divisible by 400", (2000, 2, 29), 11_016),
            ("a century that is not a leap year", (2100, 3, 1), 47_541),
            ("before the epoch", (1969, 12, 31), -1),
            ("before the Gregorian reform", (1582, 10, 4), -141_438),
        ] {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{name}");
            assert_eq!(civil_from_days(days), date, "{name}");
        }
        // Every day of four centuries maps back to itself.
        for days in -146_097..146_097 {
            let (y, m, d) = civil_from_days(days);
            assert!(d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn leap_years_and_month_lengths() {
        for (year, leap) in [(1900, false), (2000, true), (2023, false), (2024, true)] {
            assert_eq!(is_leap(year), leap, "{year}");
        }
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2024, 4), 30);
        assert_eq!(days_in_month(2024, 12), 31);
    }

    #[test]
    fn out_of_range_fields_have_no_instant() {
        let valid = DateTime::from_unix(0);
        for (name, t) in [
            ("month 0", DateTime { month: 0, ..valid }),
            ("month 13", DateTime { month: 13, ..valid }),
            ("day 0", DateTime { day: 0, ..valid }),
            (
                "31 April",
                DateTime {
                    month: 4,
                    day: 31,
                    ..valid
                },
            ),
            (
                "29 February of a common year",
                DateTime {
                    year: 2023,
                    month: 2,
                    day: 29,
                    ..valid
                },
            ),
            ("hour 24", DateTime { hour: 24, ..valid }),
            (
                "minute 60",
                DateTime {
                    minute: 60,
                    ..valid
                },
            ),
            (
                "second 60",
                DateTime {
                    second: 60,
                    ..valid
                },
            ),
        ] {
            assert_eq!(t.to_unix(), None, "{name}");
        }
    }

    #[test]
    fn system_time_conversions() {
        let t = from_unix_millis(1_440_938_160_123);
        assert_eq!(unix_millis(t), 1_440_938_160_123);
        assert_eq!(unix_seconds(t), 1_440_938_160);
        assert_eq!(
            from_unix_seconds(1_440_938_160),
            from_unix_millis(1_440_938_160_000)
        );
        // Before the epoch clamps to it, both ways.
        assert_eq!(from_unix_seconds(-5), UNIX_EPOCH);
        assert_eq!(from_unix_millis(-5), UNIX_EPOCH);
        let before = UNIX_EPOCH.checked_sub(Duration::from_secs(5));
        assert_eq!(before.map(unix_seconds), Some(0));
    }

    #[test]
    fn rfc3339_with_millis_and_days() {
        assert_eq!(
            format_rfc3339_millis(1_440_938_160_123),
            "2015-08-30T12:36:00.123Z"
        );
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_day(1_440_938_160_123), "2015-08-30");
        assert_eq!(format_day(19_782 * MILLIS_PER_DAY), "2024-02-29");
    }

    #[test]
    fn amz_dates_refuse_malformed_text() {
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
    fn http_dates() {
        for (text, expected) in [
            ("Sun, 30 Aug 2015 12:36:00 GMT", Some(1_440_938_160)),
            ("  Sun, 30 Aug 2015 12:36:00 GMT ", Some(1_440_938_160)),
            ("Sun, 30 Aug 2015 12:36:00 UTC", None),
            ("Sun, 30 Foo 2015 12:36:00 GMT", None),
            ("Sun, 31 Apr 2015 12:36:00 GMT", None),
            ("Sun, 30 Aug 2015 12:36 GMT", None),
            ("Sun, 30 Aug 2015 12:36:00:00 GMT", None),
            ("30 Aug 2015 12:36:00 GMT", None),
        ] {
            assert_eq!(parse_http_date(text), expected, "{text}");
        }
    }
}
