//! Cognito's SRP-6a (`USER_SRP_AUTH`, `DEVICE_SRP_AUTH`): the server's arithmetic, exactly as
//! the SDKs (amazon-cognito-identity-js's `AuthenticationHelper`, pycognito's `AWSSRP`) compute
//! the client's half. Pure: no I/O, no clock, no randomness (the caller draws `b` and salts).
//!
//! # The protocol
//! The group is RFC 5054's 3072-bit prime `N` with `g = 2`; `H` is SHA-256 and `pad(n)` is the
//! SDKs' `padHex`: `n`'s big-endian bytes without leading zero bytes, with a `00` byte in
//! front when the first byte's high bit is set (so the bytes read as a positive number).
//! - `k = H(pad(N) | pad(g))`.
//! - The verifier of a user: `x = H(pad(salt) | hex(H(poolName | userIdForSrp | ":" |
//!   password)))` read as an integer, `v = g^x mod N` (`poolName` is the part of the pool id
//!   after `_`). A device's verifier is computed by the client the same way (with the device
//!   group key and device key for pool name and user) and sent in ConfirmDevice.
//! - The server draws `b`, answers `B = (k·v + g^b) mod N`; with the client's `A`,
//!   `u = H(pad(A) | pad(B))` and `S = (A·v^u)^b mod N`; both sides derive the 16-byte key
//!   `HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")`.
//! - The client proves it knows the key with `HMAC-SHA256(key, poolName | userIdForSrp |
//!   secretBlock | timestamp)`, the timestamp formatted as `Wed Dec 2 05:22:58 UTC 2026`.
//!
//! # Side channels
//! Every exponentiation with a secret (`b`, and `v` as a base) runs in constant time over a
//! fixed 256-bit exponent width (crypto-bigint's Montgomery form, the modulus fixed at compile
//! time); `A` and `u` are public.
//!
//! The unit tests check every value against vectors produced by pycognito
//! (`identity/tests/data/srp/`).

use std::sync::LazyLock;

use aws_lc_rs::{digest, hmac};
use crypto_bigint::modular::ConstMontyForm;
use crypto_bigint::{U256, U3072, const_monty_params};

const_monty_params!(
    Group3072,
    U3072,
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    "RFC 5054's 3072-bit SRP group modulus, the one Cognito uses"
);

/// A number modulo `N` in Montgomery form.
type Mod = ConstMontyForm<Group3072, { U3072::LIMBS }>;

/// Bytes of a number modulo `N` (3072 bits), big-endian, fixed width.
pub const GROUP_BYTES: usize = 384;
/// Bytes of the server's secret exponent `b` (and of `x` and `u`, which are SHA-256 values).
pub const EXPONENT_BYTES: usize = 32;
/// Bytes of the derived key.
pub const KEY_BYTES: usize = 16;

const HKDF_INFO: &[u8] = b"Caldera Derived Key";

/// Why an SRP step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// `A` is not a number below `N` other than zero (SRP-6a's safety check `A mod N ≠ 0`).
    #[error("`SRP_A` is not a valid public value")]
    InvalidPublicValue,
    /// A verifier is zero or not below `N`.
    #[error("the password verifier is not valid")]
    InvalidVerifier,
    /// `u` or `B` came out zero (probability 2^-256; the caller draws another `b`).
    #[error("degenerate exchange")]
    Degenerate,
}

/// What the server answers and keeps after receiving `A`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerExchange {
    /// `B`, to send (`SRP_B`).
    pub public_b: [u8; GROUP_BYTES],
    /// The key the client's proof must be signed with.
    pub key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for ServerExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerExchange").finish_non_exhaustive()
    }
}

// === numbers ===

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The SDKs' `padHex` on bytes: no leading zero bytes, a `00` in front of a set high bit,
/// and `00` for zero.
pub fn pad(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = bytes.get(first..).unwrap_or_default();
    let mut out = Vec::with_capacity(digits.len() + 1);
    match digits.first() {
        None => out.push(0),
        Some(&b) if b & 0x80 != 0 => out.push(0),
        Some(_) => {}
    }
    out.extend_from_slice(digits);
    out
}

/// A number of at most 3072 bits from big-endian bytes of any length (leading zeros allowed).
fn group_uint(bytes: &[u8]) -> Option<U3072> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = bytes.get(first..)?;
    let start = GROUP_BYTES.checked_sub(digits.len())?;
    let mut buf = [0u8; GROUP_BYTES];
    buf.get_mut(start..)?.copy_from_slice(digits);
    Some(U3072::from_be_slice(&buf))
}

fn group_bytes(n: &U3072) -> [u8; GROUP_BYTES] {
    let mut out = [0u8; GROUP_BYTES];
    out.copy_from_slice(n.to_be_bytes().as_ref());
    out
}

fn modulus() -> U3072 {
    use crypto_bigint::modular::ConstMontyParams as _;
    *Group3072::PARAMS.modulus().as_ref()
}

/// `N`, big-endian.
pub fn modulus_bytes() -> [u8; GROUP_BYTES] {
    group_bytes(&modulus())
}

/// A number below `N` other than zero.
fn below_modulus(bytes: &[u8]) -> Option<U3072> {
    let n = group_uint(bytes)?;
    (n < modulus() && !n.is_zero_vartime()).then_some(n)
}

/// `k = H(pad(N) | pad(g))`, computed once.
static K: LazyLock<U3072> = LazyLock::new(|| {
    let k = sha256(&[&pad(&modulus_bytes()), &pad(&[2])]);
    // A 32-byte value always fits; zero would only mean a broken hash.
    group_uint(&k).unwrap_or(U3072::ZERO)
});

fn generator() -> Mod {
    Mod::new(&U3072::from_u8(2))
}

// === the protocol ===

/// `x = H(pad(salt) | hex(H(poolName | userId ":" password)))`: the exponent of a verifier.
pub fn password_exponent(
    pool_name: &str,
    user_id: &str,
    password: &str,
    salt: &[u8],
) -> [u8; EXPONENT_BYTES] {
    let inner = sha256(&[
        pool_name.as_bytes(),
        user_id.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    // The SDKs hash the hex text of the inner hash as bytes of hex: the same 32 bytes.
    sha256(&[&pad(salt), &inner])
}

/// `v = g^x mod N`, big-endian, fixed width.
pub fn verifier(x: &[u8; EXPONENT_BYTES]) -> [u8; GROUP_BYTES] {
    let exponent = U256::from_be_slice(x);
    group_bytes(&generator().pow_bounded_exp(&exponent, 256).retrieve())
}

/// A verifier that belongs to nobody, fixed by `seed`: for the exchanges of a name nobody
/// holds (and of a user without a verifier), which must look like a real one and can never
/// be proven. It is `h² mod N`, `h` the seed stretched to 3071 bits with SHA-256: a square,
/// as every `g^x` is (2 is a square modulo this `N`), whose discrete logarithm nobody knows,
/// so no proof ever matches it. Costs one multiplication, not an exponentiation, so these
/// exchanges cost what a real one does.
pub fn stand_in_verifier(seed: &[u8; 32]) -> [u8; GROUP_BYTES] {
    let mut wide = [0u8; GROUP_BYTES];
    for (counter, chunk) in (0u32..).zip(wide.chunks_mut(32)) {
        let block = sha256(&[b"gatehouse srp stand-in", &counter.to_be_bytes(), seed]);
        chunk.copy_from_slice(block.get(..chunk.len()).unwrap_or_default());
    }
    // Below 2^3071 < N: a number modulo N as it is. Zero (probability 2^-3071) would make a
    // zero verifier: one instead.
    if let Some(top) = wide.first_mut() {
        *top &= 0x7f;
    }
    let h = U3072::from_be_slice(&wide);
    let h = if h.is_zero_vartime() { U3072::ONE } else { h };
    group_bytes(&Mod::new(&h).square().retrieve())
}

/// Checks a verifier a client sent (ConfirmDevice): a number below `N` other than zero;
/// returns it in fixed width.
pub fn check_verifier(bytes: &[u8]) -> Result<[u8; GROUP_BYTES], SrpError> {
    below_modulus(bytes)
        .map(|v| group_bytes(&v))
        .ok_or(SrpError::InvalidVerifier)
}

/// The server's step: from the verifier `v`, the client's `A` and the server's secret `b`,
/// the public `B` and the derived key.
pub fn server_exchange(
    verifier: &[u8],
    public_a: &[u8],
    secret_b: &[u8; EXPONENT_BYTES],
) -> Result<ServerExchange, SrpError> {
    let a = below_modulus(public_a).ok_or(SrpError::InvalidPublicValue)?;
    let v = below_modulus(verifier).ok_or(SrpError::InvalidVerifier)?;
    let b = U256::from_be_slice(secret_b);
    let v_mod = Mod::new(&v);
    let public_b = (Mod::new(&K) * v_mod + generator().pow_bounded_exp(&b, 256)).retrieve();
    if public_b.is_zero_vartime() {
        return Err(SrpError::Degenerate);
    }
    let public_b = group_bytes(&public_b);
    let u = sha256(&[&pad(&group_bytes(&a)), &pad(&public_b)]);
    if u.iter().all(|&x| x == 0) {
        return Err(SrpError::Degenerate);
    }
    let u_exp = U256::from_be_slice(&u);
    let s = (Mod::new(&a) * v_mod.pow_bounded_exp(&u_exp, 256))
        .pow_bounded_exp(&b, 256)
        .retrieve();
    let key = derive_key(&group_bytes(&s), &u);
    Ok(ServerExchange { public_b, key })
}

/// `HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")`, first 16 bytes.
fn derive_key(s: &[u8], u: &[u8]) -> [u8; KEY_BYTES] {
    let salt = hmac::Key::new(hmac::HMAC_SHA256, &pad(u));
    let prk = hmac::sign(&salt, &pad(s));
    let prk = hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref());
    let mut ctx = hmac::Context::with_key(&prk);
    ctx.update(HKDF_INFO);
    ctx.update(&[1]);
    let okm = ctx.sign();
    let mut out = [0u8; KEY_BYTES];
    out.copy_from_slice(okm.as_ref().get(..KEY_BYTES).unwrap_or(&[0; KEY_BYTES]));
    out
}

/// The proof the client sends (`PASSWORD_CLAIM_SIGNATURE`, base64 of these bytes):
/// `HMAC-SHA256(key, poolName | userId | secretBlock | timestamp)`. For a device, the device
/// group key and the device key stand for pool name and user.
pub fn claim_signature(
    key: &[u8; KEY_BYTES],
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(pool_name.as_bytes());
    ctx.update(user_id.as_bytes());
    ctx.update(secret_block);
    ctx.update(timestamp.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// `TIMESTAMP` as the SDKs format it (`Wed Dec 2 05:22:58 UTC 2026`) for Unix seconds.
pub fn timestamp(unix_seconds: i64) -> String {
    crate::time::format_srp_timestamp(unix_seconds)
}

// === the client's half ===

/// The client's half of the exchange, as the SDKs compute it: for tests, benchmarks and
/// tools that sign in the way amazon-cognito-identity-js does. `a` is the client's secret.
#[derive(Clone)]
pub struct ClientExchange {
    a: U256,
    /// `A = g^a`, to send as `SRP_A`.
    pub public_a: [u8; GROUP_BYTES],
}

impl std::fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientExchange").finish_non_exhaustive()
    }
}

impl ClientExchange {
    /// A client with the secret `a`.
    pub fn new(secret_a: &[u8; EXPONENT_BYTES]) -> Self {
        let a = U256::from_be_slice(secret_a);
        let public_a = group_bytes(&generator().pow_bounded_exp(&a, 256).retrieve());
        Self { a, public_a }
    }

    /// The derived key from the server's `B` and `SALT` and the password:
    /// `S = (B − k·g^x)^(a + u·x)`.
    pub fn key(
        &self,
        pool_name: &str,
        user_id: &str,
        password: &str,
        salt: &[u8],
        public_b: &[u8],
    ) -> Result<[u8; KEY_BYTES], SrpError> {
        let b = below_modulus(public_b).ok_or(SrpError::InvalidPublicValue)?;
        let u = sha256(&[&pad(&self.public_a), &pad(&group_bytes(&b))]);
        let x = password_exponent(pool_name, user_id, password, salt);
        let x_uint = U256::from_be_slice(&x);
        let g_x = generator().pow_bounded_exp(&x_uint, 256);
        let base = Mod::new(&b) - Mod::new(&K) * g_x;
        // a + u·x < 2^513: exact in 3072 bits.
        let widen = |bytes: &[u8]| group_uint(bytes).ok_or(SrpError::Degenerate);
        let a_bytes = self.a.to_be_bytes();
        let exponent = widen(&u)?
            .wrapping_mul(&widen(&x)?)
            .wrapping_add(&widen(a_bytes.as_ref())?);
        let s = base.pow_bounded_exp(&exponent, 520).retrieve();
        Ok(derive_key(&group_bytes(&s), &u))
    }
}

// === hex ===

/// Lower-case hex without leading zeros, as the SDKs print big numbers (`SRP_B`, `SALT`);
/// `0` for zero.
pub fn to_hex(bytes: &[u8]) -> String {
    let hex = crate::crypto::hex_lower(bytes);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.to_owned()
    }
}

/// Big-endian bytes of a hex number of any length and case (an odd length reads as if a `0`
/// led it); `None` for anything else, or for more than `max_bytes` bytes.
pub fn parse_hex(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.is_empty() || digits.len() > max_bytes.saturating_mul(2) {
        return None;
    }
    let nibble = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(digits.len().div_ceil(2));
    let (head, rest) = if digits.len() % 2 == 1 {
        digits.split_at(1)
    } else {
        digits.split_at(0)
    };
    if let Some(&c) = head.first() {
        out.push(nibble(c)?);
    }
    for pair in rest.chunks_exact(2) {
        if let [hi, lo] = pair {
            out.push(nibble(*hi)? << 4 | nibble(*lo)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::Deserialize;

    use super::*;

    /// The vectors pycognito computed (`identity/tests/data/srp/make_vectors.py`).
    #[derive(Deserialize)]
    struct Vectors {
        k: String,
        users: Vec<UserCase>,
        devices: Vec<DeviceCase>,
    }

    #[derive(Deserialize)]
    struct UserCase {
        name: String,
        pool_id: String,
        user_id: String,
        password: String,
        salt: String,
        x: String,
        verifier: String,
        srp_a: String,
        small_b: String,
        srp_b: String,
        hkdf: String,
        secret_block: String,
        timestamp: String,
        signature: String,
    }

    #[derive(Deserialize)]
    struct DeviceCase {
        name: String,
        device_group_key: String,
        device_key: String,
        verifier_base64: String,
        srp_a: String,
        small_b: String,
        srp_b: String,
        hkdf: String,
        secret_block: String,
        timestamp: String,
        signature: String,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../tests/data/srp/vectors.json")).unwrap()
    }

    fn hex(text: &str) -> Vec<u8> {
        parse_hex(text, 4096).unwrap()
    }

    fn exponent(text: &str) -> [u8; 32] {
        let bytes = hex(text);
        let mut out = [0u8; 32];
        out[32 - bytes.len()..].copy_from_slice(&bytes);
        out
    }

    #[test]
    fn k_matches_the_sdks() {
        assert_eq!(to_hex(&group_bytes(&K)), vectors().k);
    }

    #[test]
    fn user_exchanges_match_pycognito() {
        for case in vectors().users {
            let name = &case.name;
            let pool_name = case.pool_id.split_once('_').unwrap().1;
            let x = password_exponent(pool_name, &case.user_id, &case.password, &hex(&case.salt));
            assert_eq!(to_hex(&x), case.x, "{name}: x");
            let v = verifier(&x);
            assert_eq!(to_hex(&v), case.verifier, "{name}: verifier");
            let exchange = server_exchange(&v, &hex(&case.srp_a), &exponent(&case.small_b))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(to_hex(&exchange.public_b), case.srp_b, "{name}: B");
            assert_eq!(
                crate::crypto::hex_lower(&exchange.key),
                case.hkdf,
                "{name}: derived key"
            );
            let signature = claim_signature(
                &exchange.key,
                pool_name,
                &case.user_id,
                &STANDARD.decode(&case.secret_block).unwrap(),
                &case.timestamp,
            );
            assert_eq!(
                STANDARD.encode(signature),
                case.signature,
                "{name}: signature"
            );
        }
    }

    #[test]
    fn device_exchanges_match_pycognito() {
        for case in vectors().devices {
            let name = &case.name;
            let v = check_verifier(&STANDARD.decode(&case.verifier_base64).unwrap()).unwrap();
            let exchange =
                server_exchange(&v, &hex(&case.srp_a), &exponent(&case.small_b)).unwrap();
            assert_eq!(to_hex(&exchange.public_b), case.srp_b, "{name}: B");
            assert_eq!(
                crate::crypto::hex_lower(&exchange.key),
                case.hkdf,
                "{name}: key"
            );
            let signature = claim_signature(
                &exchange.key,
                &case.device_group_key,
                &case.device_key,
                &STANDARD.decode(&case.secret_block).unwrap(),
                &case.timestamp,
            );
            assert_eq!(
                STANDARD.encode(signature),
                case.signature,
                "{name}: signature"
            );
        }
    }

    #[test]
    fn the_client_half_derives_the_servers_key() {
        for case in vectors().users {
            let pool_name = case.pool_id.split_once('_').unwrap().1;
            let salt = hex(&case.salt);
            let v = verifier(&password_exponent(
                pool_name,
                &case.user_id,
                &case.password,
                &salt,
            ));
            let client = ClientExchange::new(&[7; 32]);
            let server = server_exchange(&v, &client.public_a, &exponent(&case.small_b)).unwrap();
            let key = client
                .key(
                    pool_name,
                    &case.user_id,
                    &case.password,
                    &salt,
                    &server.public_b,
                )
                .unwrap();
            assert_eq!(key, server.key, "{}", case.name);
            let wrong = client
                .key(
                    pool_name,
                    &case.user_id,
                    "not the password",
                    &salt,
                    &server.public_b,
                )
                .unwrap();
            assert_ne!(wrong, server.key, "{}: a wrong password", case.name);
        }
    }

    #[test]
    fn public_values_are_checked() {
        let case = &vectors().users[0];
        let v = hex(&case.verifier);
        let b = exponent(&case.small_b);
        let n = modulus_bytes();
        // N ends in 64 one bits, so all-ones is above it.
        let above_n = [0xff_u8; GROUP_BYTES];
        let cases: &[(&str, Vec<u8>)] = &[
            ("A = 0 is refused (A mod N = 0)", vec![0]),
            ("A = N is refused (A mod N = 0)", n.to_vec()),
            ("A above N is refused", above_n.to_vec()),
            (
                "A longer than the group is refused",
                vec![1; GROUP_BYTES + 1],
            ),
            ("empty A is refused", Vec::new()),
        ];
        for (rule, a) in cases {
            assert_eq!(
                server_exchange(&v, a, &b),
                Err(SrpError::InvalidPublicValue),
                "{rule}"
            );
        }
        assert_eq!(
            server_exchange(&[0], &hex(&case.srp_a), &b),
            Err(SrpError::InvalidVerifier),
            "a zero verifier is refused"
        );
        assert_eq!(check_verifier(&n), Err(SrpError::InvalidVerifier));
    }

    #[test]
    fn stand_in_verifiers_are_fixed_by_their_seed_and_valid() {
        let a = stand_in_verifier(&[1; 32]);
        assert_eq!(
            a,
            stand_in_verifier(&[1; 32]),
            "the same seed, the same verifier"
        );
        assert_ne!(
            a,
            stand_in_verifier(&[2; 32]),
            "another seed, another verifier"
        );
        assert_eq!(check_verifier(&a), Ok(a), "below N and not zero");
        let case = &vectors().users[0];
        let client = ClientExchange::new(&[7; 32]);
        let server = server_exchange(&a, &client.public_a, &exponent(&case.small_b)).unwrap();
        let guess = client
            .key(
                "pool",
                "name",
                &case.password,
                &hex(&case.salt),
                &server.public_b,
            )
            .unwrap();
        assert_ne!(guess, server.key, "a password does not prove a stand-in");
    }

    #[test]
    fn pad_and_hex_follow_the_sdks() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("zero is one zero byte", &[], &[0]),
            ("leading zero bytes go", &[0, 0, 0x12], &[0x12]),
            ("a set high bit gets a zero byte", &[0x80, 1], &[0, 0x80, 1]),
            ("a low first nibble stays", &[0x0a, 0xbc], &[0x0a, 0xbc]),
        ];
        for (rule, input, expected) in cases {
            assert_eq!(pad(input), *expected, "{rule}");
        }
        assert_eq!(to_hex(&[0, 0x0a, 0xbc]), "abc");
        assert_eq!(to_hex(&[0, 0]), "0");
        assert_eq!(parse_hex("abc", 8), Some(vec![0x0a, 0xbc]));
        assert_eq!(parse_hex("0ABC", 8), Some(vec![0x0a, 0xbc]));
        for bad in ["", "xyz", "12 3", "+12", "123456789012345678"] {
            assert_eq!(parse_hex(bad, 8), None, "{bad}");
        }
    }
}
