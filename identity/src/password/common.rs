//! Commonly used passwords: [`is_common`] answers whether a password is one of the 30,000
//! most common (zxcvbn's frequency list, MIT; origin and licence in `identity/data/README.md`),
//! compared lower-cased, so `Password1` is as common as `password1`.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The list, one password per line (lower-case).
const LIST: &str = include_str!("../../data/common-passwords.txt");

/// The list as a set, built on first use.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| LIST.lines().filter(|line| !line.is_empty()).collect());

/// How many passwords the list holds.
pub fn common_password_count() -> usize {
    COMMON.len()
}

/// Whether `password` (lower-cased) is on the list of commonly used passwords.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, common: bool) {
        assert_eq!(is_common(password), common, "{password}");
    }

    #[test]
    fn the_most_common_passwords_are_found_in_any_case() {
        assert!(common_password_count() >= 10_000, "at least the top 10,000");
        let cases = [
            ("the most common of all", "123456", true),
            ("a word", "password", true),
            ("case does not hide it", "PassWord", true),
            ("a common one with a digit", "Password1", true),
            ("the 10,000th", "qqqqqq1", true),
            ("the last of the 30,000", "geekboy", true),
            ("a passphrase", "Correct-Horse-9!", false),
            ("empty", "", false),
        ];
        for (_rule, password, common) in cases {
            check(password, common);
        }
    }
}
