//! Password hashing (argon2id, PHC strings), the bounded blocking pool that runs it off the async
//! runtime ([`PasswordHasher`]), the user-pool password policy ([`PasswordPolicy`]) and the
//! list of commonly used passwords ([`is_common`]).

mod common;
mod hasher;
mod policy;

pub use common::{common_password_count, is_common};
pub use hasher::{PasswordHasher, PasswordHasherConfig, PoolStats};
pub use policy::{
    MAX_MINIMUM_LENGTH, MIN_MINIMUM_LENGTH, PasswordPolicy, PolicyError, PolicyViolation, SYMBOLS,
};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};

/// Longest password accepted, in characters (Cognito's limit). Longer ones are refused, never
/// truncated.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Upper bound on the memory cost a stored hash may ask for (1 GiB), so a corrupted or hostile
/// hash string cannot make one verification allocate without limit.
pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
/// Upper bound on the time cost a stored hash may ask for.
pub const MAX_T_COST: u32 = 64;
/// Upper bound on the parallelism a stored hash may ask for.
pub const MAX_P_COST: u32 = 16;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for Argon2Params {
    /// OWASP's argon2id baseline: m=19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Why hashing or verification could not run. A wrong password is not an error: `verify`
/// returns `Ok(false)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("password is longer than {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// The parameters are outside argon2's or this crate's bounds.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// The stored hash is not an argon2id PHC string this crate accepts.
    #[error("stored password hash is malformed: {0}")]
    MalformedHash(String),
    /// The bounded pool's queue is full (a login storm): try again later.
    #[error("too many password operations are waiting")]
    Overloaded,
    /// The blocking task died (it panicked or the runtime is shutting down).
    #[error("password worker stopped: {0}")]
    WorkerStopped(String),
}

impl Argon2Params {
    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        if self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST
        {
            return Err(PasswordError::InvalidParams(format!(
                "m={} t={} p={} exceeds the limits m<={MAX_M_COST_KIB} t<={MAX_T_COST} p<={MAX_P_COST}",
                self.m_cost_kib, self.t_cost, self.p_cost
            )));
        }
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

fn check_length(password: &str) -> Result<(), PasswordError> {
    // Count characters, not bytes: the limit is Cognito's, which counts characters. Stop early
    // so a megabyte-long input costs nothing.
    if password.chars().nth(MAX_PASSWORD_CHARS).is_some() {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes with argon2id and a fresh 128-bit salt into a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). CPU-heavy: call through
/// [`PasswordHasher`] from async code.
pub fn hash_password(password: &str, params: &Argon2Params) -> Result<String, PasswordError> {
    check_length(password)?;
    let salt: [u8; 16] = crate::crypto::random_bytes();
    let hash = params
        .argon2()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks `password` against a stored PHC string with the parameters recorded in it. Only
/// argon2id is accepted; parameters beyond [`MAX_M_COST_KIB`] etc. are refused.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    check_length(password)?;
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(PasswordError::MalformedHash(format!(
            "algorithm `{}` is not argon2id",
            parsed.algorithm.as_str()
        )));
    }
    let params =
        Params::try_from(&parsed).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    let stored = Argon2Params {
        m_cost_kib: params.m_cost(),
        t_cost: params.t_cost(),
        p_cost: params.p_cost(),
    };
    match stored
        .argon2()?
        .verify_password(password.as_bytes(), &parsed)
    {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
    }
}

/// Whether a stored hash was made with other parameters than `params` (re-hash on next login).
pub fn needs_rehash(phc: &str, params: &Argon2Params) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(p) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || p.m_cost() != params.m_cost_kib
        || p.t_cost() != params.t_cost
        || p.p_cost() != params.p_cost
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so unit tests stay fast; the defaults are exercised once below.
    const FAST: Argon2Params = Argon2Params {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn hash_and_verify() {
        let phc = hash_password("correct horse", &FAST).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify_password("correct horse", &phc).unwrap());
        assert!(!verify_password("correct horsf", &phc).unwrap());
        assert!(!verify_password("", &phc).unwrap());
        assert_ne!(
            hash_password("correct horse", &FAST).unwrap(),
            phc,
            "salted"
        );
    }

    #[test]
    fn default_params_are_owasp_baseline() {
        let phc = hash_password("pw", &Argon2Params::default()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("pw", &phc).unwrap());
        assert!(!needs_rehash(&phc, &Argon2Params::default()));
        assert!(needs_rehash(&phc, &FAST));
    }

    #[test]
    fn length_limit_is_in_characters_and_never_truncates() {
        let max = "é".repeat(MAX_PASSWORD_CHARS);
        let phc = hash_password(&max, &FAST).unwrap();
        assert!(verify_password(&max, &phc).unwrap());
        let longer = format!("{max}x");
        assert_eq!(hash_password(&longer, &FAST), Err(PasswordError::TooLong));
        assert_eq!(verify_password(&longer, &phc), Err(PasswordError::TooLong));
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors() {
        for bad in [
            "",
            "plaintext",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(
                matches!(
                    verify_password("pw", bad),
                    Err(PasswordError::MalformedHash(_) | PasswordError::InvalidParams(_))
                ),
                "{bad}: {:?}",
                verify_password("pw", bad)
            );
        }
    }

    #[test]
    fn params_are_bounded() {
        let huge = Argon2Params {
            m_cost_kib: MAX_M_COST_KIB + 1,
            ..FAST
        };
        assert!(matches!(
            hash_password("pw", &huge),
            Err(PasswordError::InvalidParams(_))
        ));
        let zero = Argon2Params { t_cost: 0, ..FAST };
        assert!(matches!(
            hash_password("pw", &zero),
            Err(PasswordError::InvalidParams(_))
        ));
    }
}
