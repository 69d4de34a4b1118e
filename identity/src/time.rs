//! The calendar and epoch conversions this crate uses, from the one module that does them for
//! the whole workspace ([`gatehouse_policy::calendar`]): Unix seconds and milliseconds of the
//! caller's `SystemTime`, SigV4's ISO 8601 basic form, RFC 1123 `Date` headers and RFC 3339
//! for files people read. Nothing in this crate reads the clock.

pub(crate) use gatehouse_policy::calendar::{
    format_amz_date, format_rfc3339_millis, from_unix_millis, from_unix_seconds, parse_amz_date,
    parse_http_date, unix_millis, unix_seconds,
};
