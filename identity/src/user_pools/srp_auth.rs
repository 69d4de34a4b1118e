//! SRP sign-in (`USER_SRP_AUTH` → `PASSWORD_VERIFIER`), device SRP (`DEVICE_SRP_AUTH` →
//! `DEVICE_PASSWORD_VERIFIER`) and the SRP verifiers they rest on. The arithmetic is
//! [`crate::srp`]; this module stores, seals and checks.
//!
//! # Verifiers
//! SRP's verifier `v = g^x` rests on `x`, one SHA-256 of the password that the protocol
//! fixes: anyone holding `v` and its salt can test password guesses at the speed of SHA-256,
//! far faster than against the argon2id hash kept for the password flows. So the verifier
//! (with its salt) is sealed with the master key (AES-256-GCM, bound to the pool and user):
//! a copy of the database alone does not let anyone test guesses. It is written with every
//! password (sign-up, AdminCreateUser, AdminSetUserPassword, ChangePassword,
//! ConfirmForgotPassword, NEW_PASSWORD_REQUIRED); a password set before SRP existed gets one
//! at the user's next successful password sign-in.
//!
//! # The exchange
//! InitiateAuth computes `B` and the derived key right away (three 3072-bit exponentiations
//! on the bounded password pool) and seals the key, the user and the client into the
//! `SECRET_BLOCK`, which expires with the client's session validity and is answered once.
//! The answer's signature is checked within the password lockout, as a password is: a wrong
//! proof is a wrong password.
//!
//! # Names nobody holds
//! When the client hides which users exist (`PreventUserExistenceErrors`), a name nobody
//! holds must get a challenge nobody can tell from a real user's, and so must a user whose
//! password predates SRP (no verifier yet). They get a *stand-in* ([`SrpParty`]): a salt, a
//! verifier, a `sub` and (where usernames are `sub`s) a `USER_ID_FOR_SRP`, each derived with
//! the server's keyed hash from the pool and the name (or the user's `sub`), so asking twice
//! gives the same salt and id, as a real user's are, and nobody without the master key can
//! tell them from real ones. The exchange runs the same arithmetic on the same pool, and the
//! sealed secret block holds fields of the same lengths. No proof matches a stand-in's
//! verifier (see [`srp::stand_in_verifier`]): the answer is "Incorrect username or
//! password.", counted on the name's lockout as a wrong password is.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::attempts::{PASSWORD, Subject, unknown_name_key};
use super::auth::{AuthOutcome, Challenge, incorrect_credentials, invalid_session, required};
use super::challenges::{
    DEVICE_PASSWORD_VERIFIER, SessionClaims, SignIn, SrpState, password_digest,
};
use super::{
    AuthEventKind, Client, PasswordOutcome, User, UserPool, UserPoolError, UserPools, UserStatus,
};
use crate::crypto::{constant_time_eq, hash_token, hex_lower};
use crate::srp;
use crate::time::{parse_srp_timestamp, unix_seconds};

/// The challenge that carries the SRP password proof.
pub const PASSWORD_VERIFIER: &str = "PASSWORD_VERIFIER";
/// How far the client's `TIMESTAMP` may be from the server's clock.
pub const SRP_TIMESTAMP_SKEW_SECS: i64 = 300;
/// Bytes of a new verifier's salt.
const SALT_BYTES: usize = 16;
/// Longest `PASSWORD_CLAIM_SECRET_BLOCK` accepted (base64 of a sealed exchange).
const MAX_SECRET_BLOCK_LEN: usize = 4096;

/// A new password's stored forms: the argon2id hash (password flows) and the sealed SRP
/// verifier (SRP).
#[derive(Clone)]
pub(crate) struct PasswordSecrets {
    pub(crate) hash: String,
    pub(crate) srp_verifier: Vec<u8>,
}

/// Who an SRP exchange is with and what it rests on: a user and its verifier, or a stand-in
/// (see the module docs). Every field has the same shape and length either way.
struct SrpParty {
    /// The user's `sub`; a stand-in's is derived (a UUID no user has).
    sub: String,
    /// `USER_ID_FOR_SRP`: the name the verifier was computed with.
    user_id: String,
    /// [`password_digest`] of the password the exchange is for.
    password: String,
    salt: Vec<u8>,
    verifier: Vec<u8>,
}

/// The part of a pool id after `_`: the "pool name" of Cognito's SRP.
pub(crate) fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, name)| name)
}

fn verifier_aad(pool_id: &str, sub: &str) -> String {
    format!("gatehouse srp verifier v1|{pool_id}|{sub}")
}

impl UserPools {
    /// A stored verifier (salt and verifier, encoded), opened with the master key.
    pub(super) fn open_verifier_blob(
        &self,
        pool_id: &str,
        sub: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, UserPoolError> {
        self.sealer()
            .open(sealed, verifier_aad(pool_id, sub).as_bytes())
            .map_err(|e| UserPoolError::internal("opening a verifier", e))
    }

    /// An encoded salt and verifier, sealed with the master key for `sub` of `pool_id`.
    pub(super) fn seal_verifier_blob(
        &self,
        pool_id: &str,
        sub: &str,
        plain: &[u8],
    ) -> Result<Vec<u8>, UserPoolError> {
        self.sealer()
            .seal(plain, verifier_aad(pool_id, sub).as_bytes())
            .map_err(|e| UserPoolError::internal("sealing a verifier", e))
    }
}

fn device_verifier_aad(pool_id: &str, device_key: &str) -> String {
    format!("gatehouse device verifier v1|{pool_id}|{device_key}")
}

/// A verifier's salt and `v`, opened.
type SaltAndVerifier = (Vec<u8>, Vec<u8>);

/// `salt length | salt | v`.
fn encode_verifier(salt: &[u8], verifier: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(1 + salt.len() + verifier.len());
    plain.push(u8::try_from(salt.len()).unwrap_or(0));
    plain.extend_from_slice(salt);
    plain.extend_from_slice(verifier);
    plain
}

fn decode_verifier(plain: &[u8]) -> Option<SaltAndVerifier> {
    let (&len, rest) = plain.split_first()?;
    let salt = rest.get(..usize::from(len))?;
    let verifier = rest.get(usize::from(len)..)?;
    Some((salt.to_vec(), verifier.to_vec()))
}

/// A fresh salt whose first byte is not zero (see [`salt_from`]).
fn new_salt() -> [u8; SALT_BYTES] {
    salt_from(crate::crypto::random_bytes::<SALT_BYTES>())
}

/// A salt of `bytes` with a first byte that is not zero: the SDKs read `SALT` as a number,
/// and a leading zero byte would be lost on the way (pycognito keeps it,
/// amazon-cognito-identity-js drops it), so the two would compute different verifiers.
/// Stand-in salts go through here too, so they are distributed as real ones are.
fn salt_from(mut salt: [u8; SALT_BYTES]) -> [u8; SALT_BYTES] {
    if let Some(first) = salt.first_mut()
        && *first == 0
    {
        *first = 1;
    }
    salt
}

fn srp_error(e: srp::SrpError) -> UserPoolError {
    match e {
        srp::SrpError::InvalidPublicValue => UserPoolError::invalid("SRP_A is not a valid value"),
        srp::SrpError::InvalidVerifier | srp::SrpError::Degenerate => {
            UserPoolError::internal("srp exchange", e)
        }
    }
}

/// Checks a proof's `TIMESTAMP`: the SDKs' format, within [`SRP_TIMESTAMP_SKEW_SECS`].
fn check_timestamp(text: &str, now: SystemTime) -> Result<(), UserPoolError> {
    let at = parse_srp_timestamp(text).ok_or_else(|| {
        UserPoolError::invalid(format!(
            "TIMESTAMP `{text}` is not of the form `Wed Dec 2 05:22:58 UTC 2026`"
        ))
    })?;
    if (at - unix_seconds(now)).abs() > SRP_TIMESTAMP_SKEW_SECS {
        return Err(UserPoolError::invalid(
            "TIMESTAMP is more than 5 minutes away from the server's clock",
        ));
    }
    Ok(())
}

impl UserPools {
    /// Hashes a new password (argon2id) and computes its sealed SRP verifier, both on the
    /// bounded password pool.
    pub(crate) async fn password_secrets(
        &self,
        pool: &UserPool,
        sub: &str,
        username: &str,
        password: &str,
    ) -> Result<PasswordSecrets, UserPoolError> {
        let hash = self.passwords().hash(password).await?;
        let srp_verifier = self
            .seal_new_verifier(pool, sub, username, password)
            .await?;
        Ok(PasswordSecrets { hash, srp_verifier })
    }

    /// A new salt and the verifier of `password` for `username`, sealed for the user.
    async fn seal_new_verifier(
        &self,
        pool: &UserPool,
        sub: &str,
        username: &str,
        password: &str,
    ) -> Result<Vec<u8>, UserPoolError> {
        let salt = new_salt();
        let x = srp::password_exponent(pool_name(&pool.id), username, password, &salt);
        let verifier = self.passwords().compute(move || srp::verifier(&x)).await?;
        self.sealer()
            .seal(
                &encode_verifier(&salt, &verifier),
                verifier_aad(&pool.id, sub).as_bytes(),
            )
            .map_err(|e| UserPoolError::internal("sealing a verifier", e))
    }

    /// After a successful password sign-in of a user whose password predates SRP: computes
    /// and stores its verifier, so that SRP works from now on. A failure is logged; the
    /// sign-in goes on.
    pub(crate) async fn backfill_srp_verifier(
        &self,
        pool: &UserPool,
        user: User,
        password: &str,
    ) -> User {
        let Some(hash) = user.password_hash.clone() else {
            return user;
        };
        if user.srp_verifier.is_some() {
            return user;
        }
        let sealed = match self
            .seal_new_verifier(pool, &user.sub, &user.username, password)
            .await
        {
            Ok(sealed) => sealed,
            Err(error) => {
                tracing::warn!(%error, "no SRP verifier for a password that predates SRP");
                return user;
            }
        };
        match self
            .store()
            .users()
            .set_srp_verifier(&pool.id, &user.sub, &hash, &sealed)
            .await
        {
            Ok(true) => User {
                srp_verifier: Some(sealed),
                ..user
            },
            Ok(false) => user,
            Err(error) => {
                tracing::warn!(%error, "storing an SRP verifier failed");
                user
            }
        }
    }

    /// The salt and verifier of a user, opened; `None` when it has none.
    fn user_verifier(
        &self,
        pool: &UserPool,
        user: &User,
    ) -> Result<Option<SaltAndVerifier>, UserPoolError> {
        let Some(sealed) = &user.srp_verifier else {
            return Ok(None);
        };
        let plain = self
            .sealer()
            .open(sealed, verifier_aad(&pool.id, &user.sub).as_bytes())
            .map_err(|e| UserPoolError::internal("opening a verifier", e))?;
        decode_verifier(&plain)
            .map(Some)
            .ok_or_else(|| UserPoolError::internal("opening a verifier", "malformed"))
    }

    /// Who a `USER_SRP_AUTH` for `name` exchanges with: the user and its verifier, or a
    /// stand-in for a user without a verifier (keyed by its `sub`) or for a name nobody holds
    /// (keyed by the name).
    fn srp_party(
        &self,
        pool: &UserPool,
        user: Option<&User>,
        name: &str,
    ) -> Result<SrpParty, UserPoolError> {
        let Some(user) = user else {
            let stand_in = self.stand_in(
                pool,
                &format!("name|{}", unknown_name_key(self, pool, name)),
            );
            // Where usernames are `sub`s (email or phone as username), a real user's
            // `USER_ID_FOR_SRP` is a UUID: so is a stand-in's. Elsewhere it is the name.
            let user_id = if pool.config.uses_username_attributes() {
                stand_in.sub.clone()
            } else {
                name.to_owned()
            };
            return Ok(SrpParty {
                user_id,
                // What a user without a password has: the same length as any digest.
                password: hash_token(""),
                ..stand_in
            });
        };
        let (salt, verifier) = match self.user_verifier(pool, user)? {
            Some(opened) => opened,
            None => {
                let stand_in = self.stand_in(pool, &format!("sub|{}", user.sub));
                (stand_in.salt, stand_in.verifier)
            }
        };
        Ok(SrpParty {
            sub: user.sub.clone(),
            user_id: user.username.clone(),
            password: password_digest(user),
            salt,
            verifier,
        })
    }

    /// The `sub` of a name nobody holds: the same every time for the same name, a UUID like
    /// any user's (the `USER_ID_FOR_SRP` and `USERNAME` such a name shows where usernames are
    /// `sub`s).
    pub(super) fn stand_in_sub(&self, pool: &UserPool, name: &str) -> String {
        self.stand_in(
            pool,
            &format!("name|{}", unknown_name_key(self, pool, name)),
        )
        .sub
    }

    /// A stand-in's `sub`, salt and verifier for `seed` (a name or a `sub`, tagged), each
    /// its own keyed hash (HMAC-SHA256 under the code key derived from the master key), so
    /// the same seed always gets the same ones and no one else can compute them.
    fn stand_in(&self, pool: &UserPool, seed: &str) -> SrpParty {
        let derive = |what: &str| -> [u8; 32] {
            let hex = self
                .inner
                .codes
                .hash(&format!("srp stand-in {what}|{}", pool.id), seed);
            let mut out = [0u8; 32];
            if let Some(bytes) = srp::parse_hex(&hex, 32) {
                out.iter_mut().zip(bytes).for_each(|(o, b)| *o = b);
            }
            out
        };
        let first_16 = |bytes: [u8; 32]| -> [u8; 16] {
            let mut out = [0u8; 16];
            out.iter_mut().zip(bytes).for_each(|(o, b)| *o = b);
            out
        };
        let sub = crate::ids::uuid_v4_from(first_16(derive("sub")));
        SrpParty {
            user_id: sub.clone(),
            sub,
            password: hash_token(""),
            salt: salt_from(first_16(derive("salt"))).to_vec(),
            verifier: srp::stand_in_verifier(&derive("verifier")).to_vec(),
        }
    }

    /// `USER_SRP_AUTH`: `USERNAME`, `SRP_A` (and `SECRET_HASH`) → `PASSWORD_VERIFIER` with
    /// `SALT`, `SRP_B`, `SECRET_BLOCK`, `USER_ID_FOR_SRP` and `USERNAME`.
    pub(crate) async fn srp_initiate(
        &self,
        pool: &UserPool,
        client: &Client,
        parameters: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let username = required(parameters, "USERNAME")?;
        let public_a = srp::parse_hex(required(parameters, "SRP_A")?, srp::GROUP_BYTES + 1)
            .ok_or_else(|| UserPoolError::invalid("SRP_A is not a valid value"))?;
        self.check_secret_hash(
            client,
            username,
            parameters.get("SECRET_HASH").map(String::as_str),
        )?;
        let now = self.now();
        let user = self.find_user(pool, username).await?;
        let uniform = client.config.prevent_user_existence_errors;
        if user.is_none() && !uniform {
            return Err(UserPoolError::UserNotFound("User does not exist.".into()));
        }
        // PreAuthentication before the password proof is asked for, as Cognito asks it.
        self.pre_authentication(pool, client, user.as_ref(), username, uniform, metadata)
            .await?;
        let sign_in = SignIn {
            name: username.to_owned(),
            password: String::new(),
            device: None,
            device_proven: false,
            hosted: false,
            new_password: false,
            client_metadata: BTreeMap::new(),
        };
        self.srp_challenge(pool, client, user.as_ref(), sign_in, public_a, None, now)
            .await
    }

    /// The `PASSWORD_VERIFIER` challenge for `user` (`None`: a name nobody holds, which gets a
    /// stand-in) with the client's `public_a`, within the password lockout. In a custom chain
    /// (`custom`), the chain rides in the secret block and the challenge also has a `Session`
    /// (the same sealed claims), which the SDKs send back.
    #[expect(
        clippy::too_many_arguments,
        reason = "one sign-in's state, passed along"
    )]
    pub(crate) async fn srp_challenge(
        &self,
        pool: &UserPool,
        client: &Client,
        user: Option<&User>,
        sign_in: SignIn,
        public_a: Vec<u8>,
        custom: Option<super::custom_auth::CustomChain>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let subject = Subject::of(self, pool, user, &sign_in.name);
        self.check_lockout(pool, &subject, PASSWORD, now).await?;
        let party = self.srp_party(pool, user, &sign_in.name)?;
        let verifier = party.verifier;
        let secret_b = crate::crypto::random_bytes::<{ srp::EXPONENT_BYTES }>();
        let exchange = self
            .passwords()
            .compute(move || srp::server_exchange(&verifier, &public_a, &secret_b))
            .await?
            .map_err(srp_error)?;
        let sign_in = SignIn {
            password: party.password,
            ..sign_in
        };
        let mut claims = self.new_claims(pool, client, &party.sub, PASSWORD_VERIFIER, sign_in, now);
        claims.srp = Some(SrpState {
            key: hex_lower(&exchange.key),
            user_id: party.user_id.clone(),
            group: pool_name(&pool.id).to_owned(),
            block: None,
        });
        let in_chain = custom.is_some();
        claims.custom = custom;
        let sealed = self.seal_claims(&claims)?;
        let block = STANDARD.encode(&sealed);
        let session = if in_chain {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sealed)
        } else {
            String::new()
        };
        let mut parameters = BTreeMap::new();
        parameters.insert("SALT".to_owned(), srp::to_hex(&party.salt));
        parameters.insert("SRP_B".to_owned(), srp::to_hex(&exchange.public_b));
        parameters.insert("SECRET_BLOCK".to_owned(), block);
        parameters.insert("USER_ID_FOR_SRP".to_owned(), party.user_id.clone());
        parameters.insert("USERNAME".to_owned(), party.user_id);
        Ok(AuthOutcome::Challenge(Challenge {
            name: PASSWORD_VERIFIER.into(),
            session,
            parameters,
        }))
    }

    /// `PASSWORD_VERIFIER`: checks the proof (`PASSWORD_CLAIM_SIGNATURE` over the secret
    /// block and `TIMESTAMP`) within the lockout; then the sign-in goes on as after a
    /// password (new password, device SRP, MFA, tokens), or, in a custom chain, with
    /// DefineAuthChallenge.
    pub(crate) async fn srp_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        responses: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome, UserPoolError> {
        let username = required(responses, "USERNAME")?;
        let block_text = required(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = required(responses, "PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = required(responses, "TIMESTAMP")?;
        let now = self.now();
        if block_text.len() > MAX_SECRET_BLOCK_LEN {
            return Err(invalid_session());
        }
        let block = STANDARD.decode(block_text).map_err(|_| invalid_session())?;
        let claims = self.open_claims(&block, pool, client, PASSWORD_VERIFIER, now)?;
        let Some(state) = &claims.srp else {
            return Err(invalid_session());
        };
        self.check_answer_secret_hash(
            client,
            &[username, &claims.sign_in.name, &state.user_id],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        if username != state.user_id && !self.names_user(pool, username, &claims).await? {
            return Err(incorrect_credentials());
        }
        check_timestamp(timestamp, now)?;
        // An unknown device is refused before the block is spent: amazon-cognito-identity-js
        // then forgets its device key and sends the same answer again without it. (A
        // stand-in's `sub` has no devices: any key is unknown, as for a real user.)
        let device = self
            .device_of_sub(pool, &claims.sub, responses.get("DEVICE_KEY"))
            .await?;
        self.spend(&claims).await?;
        // `None` for a stand-in (a name nobody holds), or a user deleted since.
        let user = match self
            .store()
            .users()
            .get_by_sub(&pool.id, &claims.sub)
            .await?
        {
            Some(r) => Some(super::attributes::user_from_record(r)?),
            None => None,
        };
        let subject = Subject::of(self, pool, user.as_ref(), &claims.sign_in.name);
        // The proof is reported to AdminListUserAuthEvents as a sign-in's password is.
        let subject_ref = &subject;
        let event = |outcome| async move {
            if let Some(sub) = subject_ref.sub() {
                self.record_auth_event(&pool.id, sub, AuthEventKind::SignIn, outcome, now)
                    .await;
            }
        };
        if let Err(locked) = self.check_lockout(pool, &subject, PASSWORD, now).await {
            event(PasswordOutcome::RefusedWhileLocked).await;
            return Err(locked);
        }
        // A stand-in's key is real, but no proof matches it (nobody knows its verifier's
        // exponent).
        let proven = srp::parse_hex(&state.key, srp::KEY_BYTES)
            .and_then(|key| <[u8; srp::KEY_BYTES]>::try_from(key).ok())
            .is_some_and(|key| {
                let expected =
                    srp::claim_signature(&key, &state.group, &state.user_id, &block, timestamp);
                constant_time_eq(STANDARD.encode(expected).as_bytes(), signature.as_bytes())
            });
        // A user whose password predates SRP could not have proven anything: not a guess,
        // not counted (see docs/security.md). Every other failed proof is a wrong password.
        let predates_srp = user.as_ref().is_some_and(|u| u.srp_verifier.is_none());
        if !predates_srp {
            if let Err(locked) = self
                .record_check(pool, &subject, PASSWORD, proven, now)
                .await
            {
                event(PasswordOutcome::RefusedWhileLocked).await;
                return Err(locked);
            }
            let outcome = if proven {
                PasswordOutcome::Right
            } else if self.is_locked(pool, &subject, PASSWORD, now).await {
                PasswordOutcome::WrongAndLocked
            } else {
                PasswordOutcome::Wrong
            };
            event(outcome).await;
        }
        let Some(user) = user else {
            return Err(incorrect_credentials());
        };
        // The password changed since InitiateAuth: the proof was for the old one.
        if !proven || password_digest(&user) != claims.sign_in.password {
            return Err(incorrect_credentials());
        }
        if !user.enabled {
            return Err(UserPoolError::NotAuthorized("User is disabled.".into()));
        }
        match user.status {
            UserStatus::Confirmed | UserStatus::ForceChangePassword => {
                let sign_in = SignIn {
                    device,
                    client_metadata: metadata.clone(),
                    ..claims.sign_in
                };
                if let Some(chain) = claims.custom {
                    return self
                        .custom_after_password(pool, client, user, sign_in, chain, metadata, now)
                        .await;
                }
                self.next_step(pool, client, user, sign_in, now).await
            }
            UserStatus::Unconfirmed => Err(UserPoolError::UserNotConfirmed(
                "User is not confirmed.".into(),
            )),
            UserStatus::ResetRequired => Err(UserPoolError::PasswordResetRequired(
                "Password reset required for the user".into(),
            )),
            UserStatus::Archived
            | UserStatus::Compromised
            | UserStatus::Unknown
            | UserStatus::ExternalProvider => Err(incorrect_credentials()),
        }
    }

    /// Seals a device verifier from ConfirmDevice (`salt`, `v`) for the device.
    pub(crate) fn seal_device_verifier(
        &self,
        pool: &UserPool,
        device_key: &str,
        salt: &[u8],
        verifier: &[u8],
    ) -> Result<Vec<u8>, UserPoolError> {
        if salt.is_empty() || salt.len() > 255 {
            return Err(UserPoolError::invalid(
                "DeviceSecretVerifierConfig.Salt must be 1 to 255 bytes",
            ));
        }
        let verifier = srp::check_verifier(verifier).map_err(|_| {
            UserPoolError::invalid("DeviceSecretVerifierConfig.PasswordVerifier is not valid")
        })?;
        self.sealer()
            .seal(
                &encode_verifier(salt, &verifier),
                device_verifier_aad(&pool.id, device_key).as_bytes(),
            )
            .map_err(|e| UserPoolError::internal("sealing a device verifier", e))
    }

    /// `DEVICE_SRP_AUTH`: `DEVICE_KEY` and `SRP_A` → `DEVICE_PASSWORD_VERIFIER` with `SALT`,
    /// `SRP_B`, `SECRET_BLOCK`, `USERNAME` and `DEVICE_KEY`.
    pub(crate) async fn device_srp_start(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        claims: SessionClaims,
        responses: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let device_key = required(responses, "DEVICE_KEY")?;
        let public_a = srp::parse_hex(required(responses, "SRP_A")?, srp::GROUP_BYTES + 1)
            .ok_or_else(|| UserPoolError::invalid("SRP_A is not a valid value"))?;
        if claims.sign_in.device.as_deref() != Some(device_key) {
            return Err(invalid_session());
        }
        let device = self
            .store()
            .devices()
            .get(&pool.id, &user.sub, device_key)
            .await?
            .ok_or_else(super::devices::device_not_found)?;
        let sealed = device
            .verifier
            .as_ref()
            .ok_or_else(super::devices::device_not_found)?;
        let plain = self
            .sealer()
            .open(sealed, device_verifier_aad(&pool.id, device_key).as_bytes())
            .map_err(|e| UserPoolError::internal("opening a device verifier", e))?;
        let (salt, verifier) = decode_verifier(&plain)
            .ok_or_else(|| UserPoolError::internal("opening a device verifier", "malformed"))?;
        let secret_b = crate::crypto::random_bytes::<{ srp::EXPONENT_BYTES }>();
        let exchange = self
            .passwords()
            .compute(move || srp::server_exchange(&verifier, &public_a, &secret_b))
            .await?
            .map_err(srp_error)?;
        let block = STANDARD.encode(crate::crypto::random_bytes::<32>());
        let mut next = self.new_claims(
            pool,
            client,
            &user.sub,
            DEVICE_PASSWORD_VERIFIER,
            claims.sign_in,
            now,
        );
        next.srp = Some(SrpState {
            key: hex_lower(&exchange.key),
            user_id: device_key.to_owned(),
            group: device.group_key.clone(),
            block: Some(block.clone()),
        });
        let mut parameters = BTreeMap::new();
        parameters.insert("USERNAME".to_owned(), user.username.clone());
        parameters.insert("DEVICE_KEY".to_owned(), device_key.to_owned());
        parameters.insert("SALT".to_owned(), srp::to_hex(&salt));
        parameters.insert("SRP_B".to_owned(), srp::to_hex(&exchange.public_b));
        parameters.insert("SECRET_BLOCK".to_owned(), block);
        Ok(AuthOutcome::Challenge(Challenge {
            name: DEVICE_PASSWORD_VERIFIER.into(),
            session: self.session_text(&next)?,
            parameters,
        }))
    }

    /// `DEVICE_PASSWORD_VERIFIER`: the device's proof; a proven remembered device skips MFA.
    pub(crate) async fn device_srp_answer(
        &self,
        pool: &UserPool,
        client: &Client,
        user: User,
        claims: SessionClaims,
        responses: &BTreeMap<String, String>,
        now: SystemTime,
    ) -> Result<AuthOutcome, UserPoolError> {
        let block = required(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = required(responses, "PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = required(responses, "TIMESTAMP")?;
        check_timestamp(timestamp, now)?;
        let Some(state) = &claims.srp else {
            return Err(invalid_session());
        };
        if state.block.as_deref() != Some(block) {
            return Err(invalid_session());
        }
        let key = srp::parse_hex(&state.key, srp::KEY_BYTES)
            .filter(|k| k.len() == srp::KEY_BYTES)
            .ok_or_else(invalid_session)?;
        let mut k = [0u8; srp::KEY_BYTES];
        k.copy_from_slice(&key);
        let block_bytes = STANDARD.decode(block).map_err(|_| invalid_session())?;
        let expected =
            srp::claim_signature(&k, &state.group, &state.user_id, &block_bytes, timestamp);
        if !constant_time_eq(STANDARD.encode(expected).as_bytes(), signature.as_bytes()) {
            return Err(incorrect_credentials());
        }
        // The device may have been forgotten (or set not remembered) since DEVICE_SRP_AUTH:
        // from then on it stands in for MFA no more, whatever exchange is in flight.
        if !self.device_skips_mfa(pool, &user, &claims.sign_in).await? {
            return Err(super::devices::device_not_found());
        }
        let sign_in = SignIn {
            device_proven: true,
            ..claims.sign_in
        };
        self.next_step(pool, client, user, sign_in, now).await
    }
}
