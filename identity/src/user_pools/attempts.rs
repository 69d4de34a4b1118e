//! What stops guessing: the password lockout, the budget of guesses at one-time codes and the
//! limit of code sends, each kept in storage's attempt counters so every node counts the same
//! attempts.
//!
//! # Password lockout (as Cognito documents it)
//! After [`LOCKOUT_THRESHOLD`] failed passwords, further attempts are refused with
//! `NotAuthorizedException` "Password attempts exceeded" for 2^(n−5) seconds after the n-th
//! failure, doubling up to [`MAX_LOCKOUT`]. While locked even the right password is refused
//! (it is not even checked), so a locked account teaches nothing. A success resets the
//! count, and so do [`LOCKOUT_RESET_AFTER`] without a failure. InitiateAuth,
//! AdminInitiateAuth and ChangePassword's previous password share one counter per user
//! (kind `password`). Wrong MFA codes (TOTP and email sign-in codes) lock the same way on a
//! counter of their own (kind `mfa`): a right password must not forget them, or whoever
//! knows the password could guess codes for ever.
//!
//! A locked account is refused before its password is checked (no argon2 run), and the
//! outcome of every check is recorded in one transaction that locks the counter and looks at
//! the lockout again: a guess checked while another node's guess locked the account is
//! answered "Password attempts exceeded" whether it was right or not. So however many guesses
//! run at once, on however many nodes, only the five recorded before the lockout are told
//! apart; right passwords checked in parallel (one user signing in from many places) all
//! succeed.
//!
//! # Codes
//! Guesses at a code belong to the user and the code's purpose, not to one code:
//! [`CODE_GUESSES`] per [`CODE_WINDOW`] (kind `code:<purpose>`), and a new code does not
//! reset them. A right code forgets them. Code sends are limited to [`CODE_SENDS`] per user
//! and purpose per [`CODE_WINDOW`] (kind `send:<purpose>`). Both answer Cognito's
//! `LimitExceededException` "Attempt limit exceeded, please try after some time.".
//!
//! # Unknown users
//! When a client prevents user-existence errors, attempts for a name no user holds are
//! counted under that name, so an unknown user locks and runs out of sends exactly as a real
//! one does. The counter is keyed by a keyed digest of the name (`name:<HMAC>`), not the name:
//! anyone can send any name, of any length, and people often type their password into the
//! username box, so the name itself is never stored.

use std::time::{Duration, SystemTime};

use gatehouse_storage::{CounterKey, CounterState, CounterWrite};

use super::auth_events::{AuthEventKind, PasswordOutcome};
use super::config::AliasAttribute;
use super::{User, UserPool, UserPoolError, UserPools, is_email};
use crate::time::unix_millis;

/// Failed passwords before the first lockout.
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Time without a failed password after which the count starts again.
pub const LOCKOUT_RESET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Guesses at a user's codes of one purpose per [`CODE_WINDOW`].
pub const CODE_GUESSES: i64 = 5;
/// Codes sent to a user for one purpose per [`CODE_WINDOW`].
pub const CODE_SENDS: i64 = 5;
/// The window of [`CODE_GUESSES`] and [`CODE_SENDS`].
pub const CODE_WINDOW: Duration = Duration::from_secs(3600);

/// The counter kind of failed passwords (and SRP password proofs).
pub(crate) const PASSWORD: &str = "password";
/// The counter kind of wrong MFA codes.
pub(crate) const MFA: &str = "mfa";

/// Who an attempt is counted for: a user's `sub`, or a name no user holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject(String);

impl Subject {
    /// The subject of `user`, or of the name given when there is no such user (its
    /// [`unknown_name_key`], digested under the server's code key: see the module docs).
    pub(crate) fn of(pools: &UserPools, pool: &UserPool, user: Option<&User>, name: &str) -> Self {
        match user {
            Some(user) => Self(user.sub.clone()),
            None => {
                let digest = pools.inner.codes.hash(
                    &format!("attempt subject|{}", pool.id),
                    &unknown_name_key(pools, pool, name),
                );
                Self(format!("name:{digest}"))
            }
        }
    }

    /// The subject of a known user.
    pub(crate) fn user(user: &User) -> Self {
        Self(user.sub.clone())
    }

    /// The user's `sub`, when the subject is a user (not a name nobody holds).
    pub(crate) fn sub(&self) -> Option<&str> {
        (!self.0.starts_with("name:")).then_some(self.0.as_str())
    }

    /// The subject as storage keys it.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// What stands for a name nobody holds wherever a real user would be found whatever the
/// name's case: folded to lower case for an email, in a case-insensitive pool and where
/// preferred usernames are aliases. So spelling an unknown name differently opens no new
/// lockout counter, and gets the same SRP salt (`srp_auth`), where a real user's would be
/// the same.
pub(crate) fn unknown_name_key(pools: &UserPools, pool: &UserPool, name: &str) -> String {
    let folds = is_email(name)
        || pool
            .config
            .alias_attributes
            .contains(&AliasAttribute::PreferredUsername);
    if folds {
        name.to_lowercase()
    } else {
        pools.username_key(pool, name)
    }
}

/// The refusal of a locked account (Cognito's wording).
pub(crate) fn password_attempts_exceeded() -> UserPoolError {
    UserPoolError::NotAuthorized("Password attempts exceeded".into())
}

/// Whether `e` is the refusal of a locked account (the hosted pages say so in their own
/// words; with their uniform answers it reveals nothing about which users exist).
pub(crate) fn is_locked_out(e: &UserPoolError) -> bool {
    matches!(e, UserPoolError::NotAuthorized(m) if *m == "Password attempts exceeded")
}

/// The refusal of a spent code budget or send limit (Cognito's wording).
pub(crate) fn attempt_limit_exceeded() -> UserPoolError {
    UserPoolError::LimitExceeded("Attempt limit exceeded, please try after some time.".into())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether the counter locks attempts at `now` (a lockout older than the idle reset is over).
fn locked_at(stored: Option<CounterState>, now: i64) -> bool {
    live_lockout(stored, now).is_some_and(|s| now < s.locked_until)
}

/// The counter while it still counts: [`LOCKOUT_RESET_AFTER`] without a failure forgets it.
fn live_lockout(stored: Option<CounterState>, now: i64) -> Option<CounterState> {
    stored.filter(|s| now < s.last_at.saturating_add(millis(LOCKOUT_RESET_AFTER)))
}

/// Records the outcome of one checked password at `now`: refused (`false`, nothing written)
/// while locked; otherwise a right password forgets the failures and a wrong one is counted,
/// locking for 2^(n−5) s from the fifth failure on.
pub(crate) fn lockout_step(
    stored: Option<CounterState>,
    now: i64,
    matched: bool,
) -> (CounterWrite, bool) {
    if locked_at(stored, now) {
        return (CounterWrite::Keep, false);
    }
    if matched {
        let write = if stored.is_some() {
            CounterWrite::Delete
        } else {
            CounterWrite::Keep
        };
        return (write, true);
    }
    let live = live_lockout(stored, now);
    let count = live.map_or(0, |s| s.count).saturating_add(1);
    let locked_until = if count >= LOCKOUT_THRESHOLD {
        // 2^(n−5) seconds; 2^10 s is already past the cap, so larger shifts never happen.
        let doublings = count - LOCKOUT_THRESHOLD;
        let lock = if doublings < 10 {
            (1000_i64 << doublings).min(millis(MAX_LOCKOUT))
        } else {
            millis(MAX_LOCKOUT)
        };
        now.saturating_add(lock)
    } else {
        0
    };
    let state = CounterState {
        count,
        window_start: live.map_or(now, |s| s.window_start),
        last_at: now,
        locked_until,
        expires_at: now
            .saturating_add(millis(LOCKOUT_RESET_AFTER))
            .max(locked_until),
    };
    (CounterWrite::Put(state), true)
}

/// One event (a send, a guess) at `now` against a counter of at most `limit` events per
/// `window` from the window's first event: refused when the window's budget is spent.
pub(crate) fn window_step(
    stored: Option<CounterState>,
    now: i64,
    limit: i64,
    window: Duration,
) -> (CounterWrite, bool) {
    let live = stored.filter(|s| now < s.window_start.saturating_add(millis(window)));
    let count = live.map_or(0, |s| s.count);
    if count >= limit {
        return (CounterWrite::Keep, false);
    }
    let window_start = live.map_or(now, |s| s.window_start);
    let state = CounterState {
        count: count.saturating_add(1),
        window_start,
        last_at: now,
        locked_until: 0,
        expires_at: window_start.saturating_add(millis(window)),
    };
    (CounterWrite::Put(state), true)
}

/// The counter kind of guesses at codes of `purpose`.
pub(crate) fn guess_kind(purpose: &str) -> String {
    format!("code:{purpose}")
}

/// The counter kind of sends of codes of `purpose`.
pub(crate) fn send_kind(purpose: &str) -> String {
    format!("send:{purpose}")
}

/// Decides one guess at a code of `now`.
pub(crate) fn guess_step(
    now: SystemTime,
) -> impl FnOnce(Option<CounterState>) -> (CounterWrite, bool) {
    let now = unix_millis(now);
    move |stored| window_step(stored, now, CODE_GUESSES, CODE_WINDOW)
}

/// Decides one code send at `now`.
pub(crate) fn send_step(
    now: SystemTime,
) -> impl FnOnce(Option<CounterState>) -> (CounterWrite, bool) {
    let now = unix_millis(now);
    move |stored| window_step(stored, now, CODE_SENDS, CODE_WINDOW)
}

// === impl UserPools ===

impl UserPools {
    /// Checks `password` against `stored` within `subject`'s lockout: refused unchecked while
    /// locked, then checked (against the dummy hash when `stored` is `None`, which never
    /// matches, so the time is the same) and the outcome recorded. Every password guess goes
    /// through here (sign-ins and ChangePassword's previous password). Returns whether the
    /// password matched.
    pub(crate) async fn check_password(
        &self,
        pool: &UserPool,
        subject: &Subject,
        password: &str,
        stored: Option<&str>,
        now: SystemTime,
    ) -> Result<bool, UserPoolError> {
        self.check_password_as(AuthEventKind::SignIn, pool, subject, password, stored, now)
            .await
    }

    /// [`UserPools::check_password`] for an event of `kind` (see `auth_events`): a user's
    /// checks and lockout refusals are recorded for AdminListUserAuthEvents.
    pub(crate) async fn check_password_as(
        &self,
        kind: AuthEventKind,
        pool: &UserPool,
        subject: &Subject,
        password: &str,
        stored: Option<&str>,
        now: SystemTime,
    ) -> Result<bool, UserPoolError> {
        let event = |outcome| async move {
            if let Some(sub) = subject.sub() {
                self.record_auth_event(&pool.id, sub, kind, outcome, now)
                    .await;
            }
        };
        if let Err(locked) = self.check_lockout(pool, subject, PASSWORD, now).await {
            event(PasswordOutcome::RefusedWhileLocked).await;
            return Err(locked);
        }
        let matched = self.passwords().verify(password, stored).await?;
        if let Err(locked) = self
            .record_check(pool, subject, PASSWORD, matched, now)
            .await
        {
            event(PasswordOutcome::RefusedWhileLocked).await;
            return Err(locked);
        }
        let outcome = if matched {
            PasswordOutcome::Right
        } else if self.is_locked(pool, subject, PASSWORD, now).await {
            PasswordOutcome::WrongAndLocked
        } else {
            PasswordOutcome::Wrong
        };
        event(outcome).await;
        Ok(matched)
    }

    /// Whether `subject` is locked out for `kind` at `now` (after a failure, to tell the one
    /// that locked); a storage failure reads as not locked (the event is only a report).
    pub(crate) async fn is_locked(
        &self,
        pool: &UserPool,
        subject: &Subject,
        kind: &str,
        now: SystemTime,
    ) -> bool {
        let stored = self
            .store()
            .counters()
            .get(lockout_key(pool, subject, kind))
            .await
            .ok()
            .flatten();
        locked_at(stored, unix_millis(now))
    }

    /// Refuses with "Password attempts exceeded" while `subject` is locked out for `kind`
    /// ([`PASSWORD`] or [`MFA`]): a read before the (costly) check;
    /// [`UserPools::record_check`] looks again.
    pub(crate) async fn check_lockout(
        &self,
        pool: &UserPool,
        subject: &Subject,
        kind: &str,
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        let stored = self
            .store()
            .counters()
            .get(lockout_key(pool, subject, kind))
            .await?;
        if locked_at(stored, unix_millis(now)) {
            return Err(password_attempts_exceeded());
        }
        Ok(())
    }

    /// Records whether the password (or code, for [`MFA`]) checked for `subject` `matched`;
    /// refuses with "Password attempts exceeded" when the account got locked meanwhile
    /// (right or not).
    pub(crate) async fn record_check(
        &self,
        pool: &UserPool,
        subject: &Subject,
        kind: &str,
        matched: bool,
        now: SystemTime,
    ) -> Result<(), UserPoolError> {
        let now = unix_millis(now);
        let allowed = self
            .store()
            .counters()
            .update(lockout_key(pool, subject, kind), |stored| {
                lockout_step(stored, now, matched)
            })
            .await?;
        if allowed {
            Ok(())
        } else {
            Err(password_attempts_exceeded())
        }
    }

    /// Forgets the guesses at `subject`'s codes of `purpose` after a right code.
    pub(crate) async fn code_accepted(
        &self,
        pool_id: &str,
        subject: &Subject,
        purpose: &str,
    ) -> Result<(), UserPoolError> {
        let kind = guess_kind(purpose);
        self.store()
            .counters()
            .delete(CounterKey {
                pool_id,
                subject: &subject.0,
                kind: &kind,
            })
            .await?;
        Ok(())
    }

    /// Deletes the counters (and the users' auth events) that expired at the clock's now;
    /// returns how many counters.
    pub async fn purge_attempt_counters(&self) -> Result<u64, UserPoolError> {
        let now = unix_millis(self.now());
        self.store().auth_events().purge_expired(now).await?;
        Ok(self.store().counters().purge_expired(now).await?)
    }
}

fn lockout_key<'a>(pool: &'a UserPool, subject: &'a Subject, kind: &'a str) -> CounterKey<'a> {
    CounterKey {
        pool_id: &pool.id,
        subject: &subject.0,
        kind,
    }
}

/// A counter key for a subject and a kind built by [`guess_kind`] or [`send_kind`].
pub(crate) fn key<'a>(pool_id: &'a str, subject: &'a Subject, kind: &'a str) -> CounterKey<'a> {
    CounterKey {
        pool_id,
        subject: &subject.0,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000_000;
    const S: i64 = 1000;
    const MIN: i64 = 60 * S;

    fn counter(count: i64, last_at: i64, locked_until: i64) -> CounterState {
        CounterState {
            count,
            window_start: T,
            last_at,
            locked_until,
            expires_at: last_at + 15 * MIN,
        }
    }

    /// (rule, stored counter, now, password right, allowed, count after, locked until after).
    fn check_lockout(
        rule: &str,
        stored: Option<CounterState>,
        now: i64,
        matched: bool,
        allowed: bool,
        count: i64,
        locked_until: i64,
    ) {
        let (write, ok) = lockout_step(stored, now, matched);
        assert_eq!(ok, allowed, "{rule}");
        let after = match write {
            CounterWrite::Put(s) => s,
            CounterWrite::Keep => stored.unwrap_or_default(),
            CounterWrite::Delete => CounterState::default(),
        };
        assert_eq!(
            (after.count, after.locked_until),
            (count, locked_until),
            "{rule}"
        );
        assert!(
            after.expires_at >= after.locked_until,
            "{rule}: kept while locked"
        );
    }

    #[test]
    fn lockout_follows_cognito() {
        check_lockout("a first failure is counted", None, T, false, true, 1, 0);
        check_lockout("a first success writes nothing", None, T, true, true, 0, 0);
        check_lockout(
            "four failures lock nothing",
            Some(counter(3, T, 0)),
            T + S,
            false,
            true,
            4,
            0,
        );
        check_lockout(
            "a success forgets the failures",
            Some(counter(4, T, 0)),
            T + S,
            true,
            true,
            0,
            0,
        );
        check_lockout(
            "the fifth failure locks for 1 s",
            Some(counter(4, T, 0)),
            T + S,
            false,
            true,
            5,
            T + 2 * S,
        );
        check_lockout(
            "while locked even the right password is refused, and nothing is counted",
            Some(counter(5, T, T + S)),
            T + S - 1,
            true,
            false,
            5,
            T + S,
        );
        check_lockout(
            "the sixth failure locks for 2 s",
            Some(counter(5, T, T + S)),
            T + S,
            false,
            true,
            6,
            T + 3 * S,
        );
        check_lockout(
            "the tenth failure locks for 32 s",
            Some(counter(9, T, T + S)),
            T + S,
            false,
            true,
            10,
            T + 33 * S,
        );
        check_lockout(
            "doubling stops at 15 minutes",
            Some(counter(14, T, T + S)),
            T + S,
            false,
            true,
            15,
            T + S + 15 * MIN,
        );
        check_lockout(
            "a huge count still locks for 15 minutes",
            Some(counter(90, T, T + S)),
            T + S,
            false,
            true,
            91,
            T + S + 15 * MIN,
        );
        check_lockout(
            "15 idle minutes start the count again",
            Some(counter(7, T, 0)),
            T + 15 * MIN,
            false,
            true,
            1,
            0,
        );
        check_lockout(
            "just under 15 idle minutes do not",
            Some(counter(7, T, 0)),
            T + 15 * MIN - 1,
            false,
            true,
            8,
            T + 15 * MIN - 1 + 8 * S,
        );
    }

    #[test]
    fn windows_count_up_to_their_limit() {
        let window = Duration::from_secs(3600);
        let cases: &[(&str, Option<CounterState>, i64, bool, i64)] = &[
            ("a first event opens the window", None, T, true, 1),
            (
                "below the limit is allowed",
                Some(counter(4, T, 0)),
                T + S,
                true,
                5,
            ),
            (
                "at the limit is refused",
                Some(counter(5, T, 0)),
                T + 59 * MIN,
                false,
                5,
            ),
            (
                "a new window after an hour from its first event",
                Some(counter(5, T, 0)),
                T + 60 * MIN,
                true,
                1,
            ),
        ];
        for (rule, stored, now, allowed, count) in cases {
            let (write, ok) = window_step(*stored, *now, 5, window);
            assert_eq!(ok, *allowed, "{rule}");
            let after = match write {
                CounterWrite::Put(s) => s,
                _ => stored.unwrap_or_default(),
            };
            assert_eq!(after.count, *count, "{rule}");
        }
    }
}
