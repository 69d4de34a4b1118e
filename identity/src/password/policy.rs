//! A user pool's password policy (Cognito's `Policies.PasswordPolicy`): minimum length and the
//! character classes it requires, checked rule by rule so the caller can say which one failed.

/// The characters Cognito counts as symbols. A space also counts when it is neither leading nor
/// trailing (leading or trailing whitespace is refused outright, as Cognito's `Password` pattern
/// `[\S]+(.*[\S]+)?` does).
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// Smallest `MinimumLength` a pool may set.
pub const MIN_MINIMUM_LENGTH: u32 = 6;
/// Largest `MinimumLength` a pool may set.
pub const MAX_MINIMUM_LENGTH: u32 = 99;

/// A validated password policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    minimum_length: u32,
    require_uppercase: bool,
    require_lowercase: bool,
    require_numbers: bool,
    require_symbols: bool,
}

/// An invalid policy (the pool configuration is wrong, not the password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `MinimumLength` outside 6..=99.
    #[error("minimum length `{0}` must be between {MIN_MINIMUM_LENGTH} and {MAX_MINIMUM_LENGTH}")]
    MinimumLengthOutOfRange(u32),
}

/// The first rule a password breaks, in Cognito's order. Cognito's `InvalidPasswordException`
/// messages, for the adapter: `Password did not conform with policy: Password not long enough`,
/// `… Password must have uppercase characters`, `… lowercase characters`, `… numeric characters`,
/// `… symbol characters`; leading/trailing whitespace is an `InvalidParameterException`
/// (the `Password` member's pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Leading or trailing whitespace.
    #[error("password must not begin or end with whitespace")]
    LeadingOrTrailingWhitespace,
    /// Shorter than the policy's minimum.
    #[error("password not long enough: at least {minimum} characters")]
    TooShort {
        /// The policy minimum.
        minimum: u32,
    },
    /// No `A`–`Z`.
    #[error("password must have uppercase characters")]
    MissingUppercase,
    /// No `a`–`z`.
    #[error("password must have lowercase characters")]
    MissingLowercase,
    /// No `0`–`9`.
    #[error("password must have numeric characters")]
    MissingNumber,
    /// Nothing from [`SYMBOLS`] nor an inner space.
    #[error("password must have symbol characters")]
    MissingSymbol,
}

impl Default for PasswordPolicy {
    /// Cognito's default: at least 8 characters, every class required.
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

impl PasswordPolicy {
    /// A policy with these rules; `minimum_length` must be 6..=99.
    pub fn new(
        minimum_length: u32,
        require_uppercase: bool,
        require_lowercase: bool,
        require_numbers: bool,
        require_symbols: bool,
    ) -> Result<Self, PolicyError> {
        if !(MIN_MINIMUM_LENGTH..=MAX_MINIMUM_LENGTH).contains(&minimum_length) {
            return Err(PolicyError::MinimumLengthOutOfRange(minimum_length));
        }
        Ok(Self {
            minimum_length,
            require_uppercase,
            require_lowercase,
            require_numbers,
            require_symbols,
        })
    }

    /// The minimum length in characters.
    pub fn minimum_length(&self) -> u32 {
        self.minimum_length
    }

    /// Checks every rule and returns the first one broken. The 256-character ceiling is
    /// [`super::hash_password`]'s job.
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        match self.violations(password).first() {
            Some(v) => Err(*v),
            None => Ok(()),
        }
    }

    /// Every rule the password breaks, in Cognito's order (for forms that list them all).
    pub fn violations(&self, password: &str) -> Vec<PolicyViolation> {
        let mut out = Vec::new();
        let starts_ws = password.chars().next().is_some_and(char::is_whitespace);
        let ends_ws = password
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace);
        if starts_ws || ends_ws {
            out.push(PolicyViolation::LeadingOrTrailingWhitespace);
        }
        let length = password.chars().count();
        if u32::try_from(length).unwrap_or(u32::MAX) < self.minimum_length {
            out.push(PolicyViolation::TooShort {
                minimum: self.minimum_length,
            });
        }
        let has = |pred: fn(char) -> bool| password.chars().any(pred);
        if self.require_uppercase && !has(|c| c.is_ascii_uppercase()) {
            out.push(PolicyViolation::MissingUppercase);
        }
        if self.require_lowercase && !has(|c| c.is_ascii_lowercase()) {
            out.push(PolicyViolation::MissingLowercase);
        }
        if self.require_numbers && !has(|c| c.is_ascii_digit()) {
            out.push(PolicyViolation::MissingNumber);
        }
        // An inner space counts; an outer one was refused above.
        let trimmed = password.trim_matches(char::is_whitespace);
        if self.require_symbols && !trimmed.chars().any(|c| c == ' ' || SYMBOLS.contains(c)) {
            out.push(PolicyViolation::MissingSymbol);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_rules() {
        let p = PasswordPolicy::default();
        // (rule, password, expected first violation)
        let cases: &[(&str, &str, Option<PolicyViolation>)] = &[
            ("all classes", "Passw0rd!", None),
            ("inner space is a symbol", "Pass w0rd", None),
            ("every listed symbol counts", "Passw0rd`", None),
            (
                "too short",
                "Pa0!",
                Some(PolicyViolation::TooShort { minimum: 8 }),
            ),
            (
                "no upper",
                "passw0rd!",
                Some(PolicyViolation::MissingUppercase),
            ),
            (
                "no lower",
                "PASSW0RD!",
                Some(PolicyViolation::MissingLowercase),
            ),
            (
                "no digit",
                "Password!",
                Some(PolicyViolation::MissingNumber),
            ),
            (
                "no symbol",
                "Passw0rdx",
                Some(PolicyViolation::MissingSymbol),
            ),
            (
                "non-ascii capitals are not uppercase",
                "ÉÉÉÉ0000!a",
                Some(PolicyViolation::MissingUppercase),
            ),
            (
                "unlisted symbol does not count",
                "Passw0rd§",
                Some(PolicyViolation::MissingSymbol),
            ),
            (
                "leading space",
                " Passw0rd!",
                Some(PolicyViolation::LeadingOrTrailingWhitespace),
            ),
            (
                "trailing tab",
                "Passw0rd!\t",
                Some(PolicyViolation::LeadingOrTrailingWhitespace),
            ),
        ];
        for (rule, pw, want) in cases {
            assert_eq!(p.check(pw).err(), *want, "{rule}");
        }
        for c in SYMBOLS.chars() {
            assert_eq!(p.check(&format!("Passw0rd{c}")), Ok(()), "symbol {c}");
        }
    }

    #[test]
    fn length_counts_characters_and_is_configurable() {
        let p = PasswordPolicy::new(6, false, false, false, false).unwrap();
        assert_eq!(p.check("éééééé"), Ok(()));
        assert_eq!(
            p.check("ééééé"),
            Err(PolicyViolation::TooShort { minimum: 6 })
        );
        let p = PasswordPolicy::new(99, false, false, false, false).unwrap();
        assert!(p.check(&"a".repeat(98)).is_err());
        assert!(p.check(&"a".repeat(99)).is_ok());
    }

    #[test]
    fn all_violations_listed_in_order() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.violations("abc"),
            [
                PolicyViolation::TooShort { minimum: 8 },
                PolicyViolation::MissingUppercase,
                PolicyViolation::MissingNumber,
                PolicyViolation::MissingSymbol
            ]
        );
    }

    #[test]
    fn minimum_length_range() {
        assert_eq!(
            PasswordPolicy::new(5, true, true, true, true),
            Err(PolicyError::MinimumLengthOutOfRange(5))
        );
        assert_eq!(
            PasswordPolicy::new(100, true, true, true, true),
            Err(PolicyError::MinimumLengthOutOfRange(100))
        );
        assert!(PasswordPolicy::new(6, true, true, true, true).is_ok());
    }
}
