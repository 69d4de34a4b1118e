//! The request context: condition keys (case-insensitive names) to one or more string values.

use std::cmp::Ordering;

/// Condition keys of a request, each with one or more values.
///
/// Key names are case-insensitive (ASCII), as AWS condition keys are. A key present with an empty
/// list is an empty set: `ForAllValues` is true over it, `ForAnyValue` false, `Null: true` matches.
/// Time keys (`aws:CurrentTime`, `aws:EpochTime`) come from the caller: this crate has no clock.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Sorted by ASCII-lowercased key so lookups are a binary search without allocation.
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    /// An empty context, usable in constants.
    pub const EMPTY: Self = Self {
        entries: Vec::new(),
    };

    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; a key inserted twice becomes multi-valued.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        match self.position(key) {
            Ok(i) => {
                if let Some((_, values)) = self.entries.get_mut(i) {
                    values.push(value.into());
                }
            }
            Err(i) => self
                .entries
                .insert(i, (key.to_ascii_lowercase(), vec![value.into()])),
        }
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Replaces all values of `key` (an empty vec makes the key an empty set).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        match self.position(key) {
            Ok(i) => {
                if let Some((_, old)) = self.entries.get_mut(i) {
                    *old = values;
                }
            }
            Err(i) => self.entries.insert(i, (key.to_ascii_lowercase(), values)),
        }
    }

    /// Removes `key` and returns its values.
    pub fn remove(&mut self, key: &str) -> Option<Vec<String>> {
        let i = self.position(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// The values of `key`, looked up case-insensitively; `None` when the key is absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        let i = self.position(key).ok()?;
        self.entries.get(i).map(|(_, values)| values.as_slice())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No keys at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys (lowercased) and their values, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        // The key folded once, on the stack, so each step of the search is one `memcmp`
        // rather than a byte-at-a-time comparison (a request context is looked up and filled
        // a few dozen times per decision); a longer key is folded as it is compared.
        let mut buffer = [0u8; FOLD_BUFFER];
        match buffer.get_mut(..key.len()) {
            Some(folded) => {
                folded.copy_from_slice(key.as_bytes());
                folded.make_ascii_lowercase();
                let folded: &[u8] = folded;
                self.entries
                    .binary_search_by(|(stored, _)| stored.as_bytes().cmp(folded))
            }
            None => self
                .entries
                .binary_search_by(|(stored, _)| cmp_folded(stored, key)),
        }
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Context {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut context = Self::new();
        for (k, v) in iter {
            context.insert(k.as_ref(), v);
        }
        context
    }
}

/// Longest key folded on the stack for a lookup (condition keys are short; a longer one is
/// compared byte by byte).
const FOLD_BUFFER: usize = 128;

/// Compares a stored (lowercased) key with a key of any case, without allocating.
fn cmp_folded(stored: &str, key: &str) -> Ordering {
    stored
        .bytes()
        .cmp(key.bytes().map(|b| b.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_multi_valued() {
        let mut c = Context::new();
        c.insert("aws:PrincipalTag/Team", "a");
        c.insert("AWS:principaltag/team", "b");
        c.insert("aws:username", "alice");
        assert_eq!(
            c.get("aws:principaltag/TEAM"),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(c.get("aws:UserName"), Some(&["alice".to_owned()][..]));
        assert_eq!(c.get("aws:userid"), None);
        c.set("aws:username", vec![]);
        assert_eq!(c.get("aws:username"), Some(&[][..]));
        assert_eq!(c.remove("AWS:USERNAME"), Some(vec![]));
        assert_eq!(c.len(), 1);
        let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["aws:principaltag/team"]);
    }

    /// Keys short enough to be folded on the stack and longer ones are found alike, in any
    /// case, and kept in one order.
    #[test]
    fn long_and_short_keys_are_found_in_any_case() {
        let long = format!("aws:PrincipalTag/{}", "Ab".repeat(FOLD_BUFFER));
        let edge = format!("aws:PrincipalTag/{}", "C".repeat(FOLD_BUFFER - 17));
        assert_eq!(edge.len(), FOLD_BUFFER);
        let mut c = Context::new();
        for key in [
            long.as_str(),
            edge.as_str(),
            "aws:SourceIp",
            "AWS:sourceip",
            "a",
        ] {
            c.insert(key, key);
        }
        assert_eq!(c.len(), 4);
        for key in [
            long.clone(),
            edge.clone(),
            "aws:SOURCEIP".into(),
            "A".into(),
        ] {
            assert!(c.get(&key).is_some(), "{key}");
            assert!(c.get(&key.to_ascii_lowercase()).is_some(), "{key}");
            assert!(c.get(&key.to_ascii_uppercase()).is_some(), "{key}");
        }
        assert_eq!(c.get("aws:sourceip").map(<[String]>::len), Some(2));
        assert!(c.get(&format!("{long}x")).is_none());
        assert!(c.get(&edge[..FOLD_BUFFER - 1]).is_none());
        let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }
}
