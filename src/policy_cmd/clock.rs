//! The one clock of the policy commands: read once at the edge, passed down as a value.

use gatehouse_policy::calendar;

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
        let epoch_seconds = calendar::unix_seconds(std::time::SystemTime::now());
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
        calendar::format_rfc3339(self.epoch_seconds)
    }
}
