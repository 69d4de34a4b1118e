//! Dates for the `Date…` condition operators: ISO 8601 (date only, with time, with `Z` or an
//! offset, with fractions of a second) and epoch seconds. No clock: the request supplies the time.

use crate::calendar::{SECONDS_PER_DAY, days_from_civil, days_in_month};

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) type Instant = i128;

const NANOS: i128 = 1_000_000_000;

/// Parses `2024-05-01`, `2024-05-01T10:20:30Z`, `2024-05-01T10:20:30.123+02:00`,
/// `2024-05-01T10:20Z`, or epoch seconds such as `1714557630` / `1714557630.5`.
pub(crate) fn parse(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    if b.len() > 40 {
        return None;
    }
    if b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'-')
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && b.get(4) != Some(&b'-')
    {
        return parse_epoch(text);
    }
    let mut r = Reader { b, at: 0 };
    let year = i64::from(r.digits(4)?);
    r.expect(b'-')?;
    let month = r.digits(2)?;
    r.expect(b'-')?;
    let day = r.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut seconds = i128::from(days_from_civil(year, month, day) * SECONDS_PER_DAY);
    let mut nanos: i128 = 0;
    if r.done() {
        return Some(seconds * NANOS);
    }
    if !matches!(r.next()?, b'T' | b't') {
        return None;
    }
    let hour = r.digits(2)?;
    r.expect(b':')?;
    let minute = r.digits(2)?;
    let mut second = 0;
    if r.peek() == Some(b':') {
        r.at += 1;
        second = r.digits(2)?;
        if r.peek() == Some(b'.') {
            r.at += 1;
            let start = r.at;
            let mut scale = NANOS;
            while let Some(d) = r.peek().filter(u8::is_ascii_digit) {
                r.at += 1;
                scale /= 10;
                nanos += i128::from(d - b'0') * scale;
            }
            if r.at == start {
                return None;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    seconds += i128::from(hour * 3600 + minute * 60 + second);
    match r.next() {
        None => {}
        Some(b'Z' | b'z') => {}
        Some(sign @ (b'+' | b'-')) => {
            let oh = r.digits(2)?;
            let om = match r.peek() {
                Some(b':') => {
                    r.at += 1;
                    r.digits(2)?
                }
                Some(_) => r.digits(2)?,
                None => 0,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = i128::from(oh * 3600 + om * 60);
            // Local time minus the offset is UTC.
            seconds = if sign == b'+' {
                seconds - offset
            } else {
                seconds + offset
            };
        }
        Some(_) => return None,
    }
    if !r.done() {
        return None;
    }
    Some(seconds * NANOS + nanos)
}

fn parse_epoch(text: &str) -> Option<Instant> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nanos = whole.parse::<i128>().ok()? * NANOS;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut scale = NANOS;
        for d in frac.bytes().take(9) {
            scale /= 10;
            nanos += i128::from(d - b'0') * scale;
        }
    }
    Some(if negative { -nanos } else { nanos })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self.next().filter(u8::is_ascii_digit)?;
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let s = |secs: i128| Some(secs * NANOS);
        assert_eq!(parse("1970-01-01"), s(0));
        assert_eq!(parse("2020-01-01T00:00:00Z"), s(1_577_836_800));
        assert_eq!(parse("2020-01-01"), s(1_577_836_800));
        assert_eq!(parse("2020-01-01T02:00:00+02:00"), s(1_577_836_800));
        assert_eq!(parse("2019-12-31T22:00:00-0200"), s(1_577_836_800));
        assert_eq!(parse("2019-12-31T23:00-01"), s(1_577_836_800));
        assert_eq!(parse("2020-01-01T00:00"), s(1_577_836_800));
        assert_eq!(parse("1577836800"), s(1_577_836_800));
        assert_eq!(parse("2024-02-29T12:00:00Z"), s(1_709_208_000));
        assert_eq!(
            parse("2020-01-01T00:00:00.5Z"),
            Some(1_577_836_800 * NANOS + NANOS / 2)
        );
        assert_eq!(
            parse("1577836800.25"),
            Some(1_577_836_800 * NANOS + NANOS / 4)
        );
        assert_eq!(parse("1969-12-31T23:59:59Z"), s(-1));
        for bad in [
            "",
            "2020",
            "2023-02-29",
            "2020-13-01",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:00:00X",
            "2020-01-01T",
            "yesterday",
            "2020-1-1",
            "1.",
            "--1",
            "2020-01-01T00:00:00.Z",
        ] {
            let parsed = parse(bad);
            // "2020" is four digits: epoch seconds, which is what AWS means by a bare number.
            if bad == "2020" {
                assert_eq!(parsed, s(2020));
            } else {
                assert_eq!(parsed, None, "{bad:?}");
            }
        }
    }
}
