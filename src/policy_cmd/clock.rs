//! The one clock of the policy commands: read once at the edge, passed down as a value.

/// A moment in UTC, whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    epoch_seconds: i64,
}

impl Now {
    /// Reads the system clock.
    #[expect(
        clippy::disallowed_methods,
        reason = "the command line is the edge where the clock is read"
    )]
    pub(crate) fn system() -> Self {
        let epoch_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        Self { epoch_seconds }
    }

    #[cfg(test)]
    pub(crate) fn from_epoch(epoch_seconds: i64) -> Self {
        Self { epoch_seconds }
    }

    pub(crate) fn epoch_seconds(self) -> i64 {
        self.epoch_seconds
    }

    /// `YYYY-MM-DDThh:mm:ssZ`, the form AWS uses for `aws:CurrentTime`.
    pub(crate) fn iso8601(self) -> String {
        let days = self.epoch_seconds.div_euclid(86_400);
        let secs = self.epoch_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day), using the
/// era-based method (400-year cycles of 146 097 days) so every day maps exactly.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
        ];
        for (epoch, expected) in cases {
            assert_eq!(Now::from_epoch(epoch).iso8601(), expected, "epoch {epoch}");
        }
    }
}
