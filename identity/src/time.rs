//! The calendar and epoch conversions this crate uses, from the one module that does them for
//! the whole workspace ([`gatehouse_policy::calendar`]): Unix seconds and milliseconds of the
//! caller's `SystemTime`, SigV4's ISO 8601 basic form, RFC 1123 `Date` headers and RFC 3339
//! for files people read; and the one form only Cognito uses, SRP's `TIMESTAMP`. Nothing in
//! this crate reads the clock.

use gatehouse_policy::calendar::{DateTime, SECONDS_PER_DAY};
pub(crate) use gatehouse_policy::calendar::{
    format_amz_date, format_rfc3339_millis, from_unix_millis, from_unix_seconds, parse_amz_date,
    parse_http_date, unix_millis, unix_seconds,
};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The weekday name of `secs` since the epoch (1970-01-01 was a Thursday).
fn weekday(secs: i64) -> &'static str {
    let index = usize::try_from((secs.div_euclid(SECONDS_PER_DAY) + 3).rem_euclid(7)).unwrap_or(0);
    WEEKDAYS.get(index).copied().unwrap_or("Mon")
}

/// The SRP `TIMESTAMP` as the Cognito SDKs format it: `Wed Dec 2 05:22:58 UTC 2026` (the day
/// of the month not padded, the time padded).
pub(crate) fn format_srp_timestamp(secs: i64) -> String {
    let t = DateTime::from_unix(secs);
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        weekday(secs),
        t.month_abbreviation(),
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
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
    if fields.next().is_some() || zone != "UTC" || day_text.starts_with('0') || year_text.len() != 4
    {
        return None;
    }
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, sec].iter().any(|f| f.len() != 2) {
        return None;
    }
    let month = (1..=12).find(|&month| {
        DateTime {
            year: 2000,
            month,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        }
        .month_abbreviation()
            == month_name
    })?;
    let secs = DateTime {
        year: i64::from(digits(year_text)?),
        month,
        day: digits(day_text)?,
        hour: digits(h)?,
        minute: digits(m)?,
        second: digits(sec)?,
    }
    .to_unix()?;
    (weekday(secs) == weekday_name).then_some(secs)
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
}
