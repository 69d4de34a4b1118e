//! Secrets at rest and secret comparison: the master-key [`Sealer`] (AES-256-GCM with key ids so
//! keys rotate), hashes for stored tokens and codes, constant-time comparison, random bytes.
//!
//! # Sealed blob format
//! ```text
//! [0]        format version (1)
//! [1]        key id length L (1..=32)
//! [2..2+L]   key id (ASCII letters, digits, `-`, `_`)
//! [..+12]    nonce (random 96 bits)
//! [..]       ciphertext || 16-byte GCM tag
//! ```
//! The header (version, length, id) is authenticated with the caller's AAD, so a blob cannot be
//! relabelled to another key or format. Random 96-bit nonces are safe for far more than the
//! ~2^32 seals per key that GCM allows; rotate the key long before.
//!
//! # Master key format
//! `GATEHOUSE_MASTER_KEY` (or the key file in the data folder) holds `id:base64(32 bytes)`; a
//! comma-separated list holds older keys after the current one (`k2:…,k1:…`), so blobs sealed under
//! old keys still open while [`Sealer::needs_reseal`] tells which to re-seal.
//!
//! # Stored hashes
//! Refresh tokens and other ≥128-bit random tokens are stored as plain SHA-256 ([`hash_token`]):
//! a dump cannot be brute-forced at that entropy. Six-digit codes have only 10^6 values, so they
//! are stored as HMAC-SHA256 under a server key derived from the master key ([`CodeHasher`]): a
//! database dump alone does not reveal them. The HMAC input binds a context (pool, user, purpose)
//! so a code hash cannot be replayed for another user. Rotating the master key invalidates codes
//! outstanding under the old one (they live 24 hours; users can ask for a new one).

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Current sealed-blob format version.
const FORMAT_VERSION: u8 = 1;
/// Longest key id.
pub const MAX_KEY_ID_LEN: usize = 32;
/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Largest plaintext [`Sealer::seal`] accepts: secrets are keys and tokens, never bulk data.
pub const MAX_SEAL_LEN: usize = 1024 * 1024;

// === errors ===

/// Why a master key could not be read or a blob could not be opened or sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The master key text is not `id:base64(32 bytes)`.
    #[error("invalid master key: {0}")]
    InvalidMasterKey(String),
    /// Two master keys share an id.
    #[error("duplicate master key id `{0}`")]
    DuplicateKeyId(String),
    /// The blob is not in the sealed format.
    #[error("sealed data is malformed")]
    Malformed,
    /// The blob names a key this sealer does not hold.
    #[error("sealed data uses unknown key id `{0}`")]
    UnknownKeyId(String),
    /// The plaintext exceeds [`MAX_SEAL_LEN`].
    #[error("data to seal is longer than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Authentication failed: wrong AAD, wrong key, or tampered data.
    #[error("sealed data failed authentication")]
    Unauthentic,
}

// === helpers ===

/// Compares two byte strings in time that depends only on their lengths.
///
/// Eight bytes at a time: the differences of all words are OR-ed together with no branch on
/// them, the running value passed through `black_box` after each word so that the optimiser
/// cannot stop early once it is non-zero, and only the sum is compared, by `subtle`.
/// `subtle`'s own slice comparison goes byte by byte, about ten instructions a byte, and an
/// API key is compared on every request.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut difference = 0u64;
    for (x, y) in a_words.iter().zip(b_words) {
        difference =
            std::hint::black_box(difference | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)));
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        difference |= u64::from(x ^ y);
    }
    bool::from(difference.ct_eq(&0))
}

/// `N` bytes from the system CSPRNG (AWS-LC's DRBG).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill_random(&mut out);
    out
}

/// Fills `out` from the system CSPRNG.
pub fn fill_random(out: &mut [u8]) {
    #[expect(
        clippy::expect_used,
        reason = "AWS-LC's RAND_bytes aborts the process instead of returning failure; the error arm cannot happen and there is no sane fallback for missing randomness"
    )]
    rand::fill(out).expect("system random generator failed");
}

/// Lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex_lower(bytes, &mut s);
    s
}

/// Appends `bytes` in lower-case hex to `out`.
pub fn push_hex_lower(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            // A nibble is below 16: the index is always in range.
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            out.push(char::from(digit));
        }
    }
}

/// SHA-256 of a high-entropy token (refresh tokens, API secrets), hex: what storage keeps.
pub fn hash_token(token: &str) -> String {
    hex_lower(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

// === MasterKey ===

/// One 256-bit master key and its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; MASTER_KEY_LEN],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl MasterKey {
    /// A new random key with this id.
    pub fn generate(id: &str) -> Result<Self, CryptoError> {
        Self::from_bytes(id, random_bytes())
    }

    /// A key from raw bytes.
    pub fn from_bytes(id: &str, key: [u8; MASTER_KEY_LEN]) -> Result<Self, CryptoError> {
        if !valid_key_id(id) {
            return Err(CryptoError::InvalidMasterKey(format!(
                "key id `{id}` must be 1 to {MAX_KEY_ID_LEN} letters, digits, `-` or `_`"
            )));
        }
        Ok(Self {
            id: id.to_owned(),
            key,
        })
    }

    /// Parses `id:base64(32 bytes)`.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let (id, b64) = text
            .split_once(':')
            .ok_or_else(|| CryptoError::InvalidMasterKey("expected `id:base64-key`".into()))?;
        let bytes = STANDARD
            .decode(b64.trim())
            .map_err(|_| CryptoError::InvalidMasterKey(format!("key `{id}` is not base64")))?;
        let key: [u8; MASTER_KEY_LEN] = bytes.try_into().map_err(|_| {
            CryptoError::InvalidMasterKey(format!("key `{id}` must be {MASTER_KEY_LEN} bytes"))
        })?;
        Self::from_bytes(id, key)
    }

    /// `id:base64(key)`, the form [`MasterKey::parse`] reads.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }

    /// The key id written into sealed blobs.
    pub fn id(&self) -> &str {
        &self.id
    }
}

// === Sealer ===

/// Seals and opens secrets with the current master key; opens with older ones too.
pub struct Sealer {
    /// Seals everything new.
    current: (String, LessSafeKey),
    /// Older keys, kept only to open what was sealed before a rotation.
    older: Vec<(String, LessSafeKey)>,
    /// HMAC key for derivations ([`Sealer::derive_key`]), from the current master key.
    derive: hmac::Key,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current.0)
            .field(
                "older",
                &self
                    .older
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn aead_key(key: &MasterKey) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, &key.key)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::InvalidMasterKey(format!("key `{}` rejected", key.id)))
}

impl Sealer {
    /// A sealer that seals with `current` and also opens blobs sealed with `older` keys.
    pub fn new(current: &MasterKey, older: &[MasterKey]) -> Result<Self, CryptoError> {
        let mut seen = vec![current.id.as_str()];
        let mut older_keys = Vec::with_capacity(older.len());
        for k in older {
            if seen.contains(&k.id.as_str()) {
                return Err(CryptoError::DuplicateKeyId(k.id.clone()));
            }
            seen.push(&k.id);
            older_keys.push((k.id.clone(), aead_key(k)?));
        }
        let derive_key = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &current.key),
            b"gatehouse master key derivation v1",
        );
        Ok(Self {
            current: (current.id.clone(), aead_key(current)?),
            older: older_keys,
            derive: hmac::Key::new(hmac::HMAC_SHA256, derive_key.as_ref()),
        })
    }

    /// Reads the `GATEHOUSE_MASTER_KEY` form: `id:base64[,id:base64…]`, current key first.
    pub fn from_config(text: &str) -> Result<Self, CryptoError> {
        let keys = text
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(MasterKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let (current, older) = keys
            .split_first()
            .ok_or_else(|| CryptoError::InvalidMasterKey("no key given".into()))?;
        Self::new(current, older)
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &str {
        &self.current.0
    }

    /// Encrypts and authenticates `plaintext`, binding `aad` (what the blob is for, e.g.
    /// `"signing-key|us-east-1_abc|kid"`), under the current key.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if plaintext.len() > MAX_SEAL_LEN {
            return Err(CryptoError::TooLarge {
                limit: MAX_SEAL_LEN,
            });
        }
        let (id, key) = &self.current;
        let id_len = u8::try_from(id.len()).unwrap_or(0);
        let mut blob = Vec::with_capacity(2 + id.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        blob.push(FORMAT_VERSION);
        blob.push(id_len);
        blob.extend_from_slice(id.as_bytes());
        let header_len = blob.len();
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes();
        blob.extend_from_slice(&nonce_bytes);
        let mut full_aad = Vec::with_capacity(header_len + aad.len());
        full_aad.extend_from_slice(blob.get(..header_len).unwrap_or_default());
        full_aad.extend_from_slice(aad);
        let mut in_out = plaintext.to_vec();
        let tag = key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(&full_aad),
            &mut in_out,
        );
        let tag = tag.map_err(|_| CryptoError::TooLarge {
            limit: MAX_SEAL_LEN,
        })?;
        blob.extend_from_slice(&in_out);
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    /// Authenticates and decrypts a blob made by [`Sealer::seal`] with the same `aad`, under
    /// whichever held key its id names.
    pub fn open(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (id, header_len) = parse_header(blob)?;
        let key = if self.current.0 == id {
            &self.current.1
        } else {
            &self
                .older
                .iter()
                .find(|(k, _)| k == id)
                .ok_or_else(|| CryptoError::UnknownKeyId(id.to_owned()))?
                .1
        };
        let header = blob.get(..header_len).ok_or(CryptoError::Malformed)?;
        let nonce: [u8; NONCE_LEN] = blob
            .get(header_len..header_len + NONCE_LEN)
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::Malformed)?;
        let sealed = blob
            .get(header_len + NONCE_LEN..)
            .ok_or(CryptoError::Malformed)?;
        if sealed.len() < TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let mut full_aad = Vec::with_capacity(header.len() + aad.len());
        full_aad.extend_from_slice(header);
        full_aad.extend_from_slice(aad);
        let mut in_out = sealed.to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&full_aad),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Unauthentic)?;
        let len = plain.len();
        in_out.truncate(len);
        Ok(in_out)
    }

    /// Whether a blob was sealed under an older key and should be re-sealed (after a rotation).
    pub fn needs_reseal(&self, blob: &[u8]) -> Result<bool, CryptoError> {
        let (id, _) = parse_header(blob)?;
        Ok(id != self.current.0)
    }

    /// A 256-bit key for another purpose (`label`), derived from the current master key with
    /// HMAC-SHA256, so one configured secret serves every need.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.derive, label.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// The key id and header length of a sealed blob.
fn parse_header(blob: &[u8]) -> Result<(&str, usize), CryptoError> {
    match blob {
        [FORMAT_VERSION, len, rest @ ..] => {
            let len = usize::from(*len);
            if len == 0 || len > MAX_KEY_ID_LEN {
                return Err(CryptoError::Malformed);
            }
            let id = rest.get(..len).ok_or(CryptoError::Malformed)?;
            let id = std::str::from_utf8(id).map_err(|_| CryptoError::Malformed)?;
            Ok((id, 2 + len))
        }
        _ => Err(CryptoError::Malformed),
    }
}

// === CodeHasher ===

/// Hashes short codes (six-digit confirmation codes) with HMAC-SHA256 under a server key, so a
/// database dump alone cannot brute-force them. See the module docs.
pub struct CodeHasher {
    key: hmac::Key,
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher(..)")
    }
}

impl CodeHasher {
    /// A hasher under a 256-bit key (normally `sealer.derive_key("code-hash")`).
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// A hasher keyed from the master key.
    pub fn from_sealer(sealer: &Sealer) -> Self {
        Self::new(&sealer.derive_key("code-hash v1"))
    }

    /// Hex HMAC of `code` bound to `context` (e.g. `"{pool}|{sub}|signup"`). Each part is length-
    /// prefixed so `("a|b", "c")` and `("a", "b|c")` differ.
    pub fn hash(&self, context: &str, code: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [context, code] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        hex_lower(ctx.sign().as_ref())
    }

    /// Whether `code` hashes to `stored` under `context`, in constant time.
    pub fn verify(&self, context: &str, code: &str, stored: &str) -> bool {
        constant_time_eq(self.hash(context, code).as_bytes(), stored.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&MasterKey::generate("k1").unwrap(), &[]).unwrap()
    }

    #[test]
    fn seal_open_round_trip() {
        let s = sealer();
        let blob = s.seal(b"secret", b"purpose").unwrap();
        assert_eq!(blob.first(), Some(&1));
        assert_eq!(s.open(&blob, b"purpose").unwrap(), b"secret");
        assert_ne!(
            s.seal(b"secret", b"purpose").unwrap(),
            blob,
            "fresh nonce each time"
        );
        assert_eq!(s.open(&s.seal(b"", b"").unwrap(), b"").unwrap(), b"");
    }

    #[test]
    fn open_rejects_wrong_aad_and_tampering() {
        let s = sealer();
        let blob = s.seal(b"secret", b"purpose").unwrap();
        assert_eq!(s.open(&blob, b"other"), Err(CryptoError::Unauthentic));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(
                s.open(&t, b"purpose").is_err(),
                "flipping byte {i} must fail"
            );
        }
        for len in 0..blob.len() {
            assert!(
                s.open(&blob[..len], b"purpose").is_err(),
                "truncation to {len}"
            );
        }
    }

    #[test]
    fn rotation_opens_old_blobs_and_flags_them() {
        let k1 = MasterKey::generate("k1").unwrap();
        let k2 = MasterKey::generate("k2").unwrap();
        let old = Sealer::new(&k1, &[]).unwrap();
        let blob = old.seal(b"secret", b"aad").unwrap();
        let rotated = Sealer::from_config(&format!("{},{}", k2.encode(), k1.encode())).unwrap();
        assert_eq!(rotated.current_key_id(), "k2");
        assert_eq!(rotated.open(&blob, b"aad").unwrap(), b"secret");
        assert!(rotated.needs_reseal(&blob).unwrap());
        assert!(
            !rotated
                .needs_reseal(&rotated.seal(b"x", b"").unwrap())
                .unwrap()
        );
        let only_new = Sealer::new(&k2, &[]).unwrap();
        assert_eq!(
            only_new.open(&blob, b"aad"),
            Err(CryptoError::UnknownKeyId("k1".into()))
        );
    }

    #[test]
    fn master_key_text_format() {
        let k = MasterKey::generate("prod-2026_1").unwrap();
        let parsed = MasterKey::parse(&k.encode()).unwrap();
        assert_eq!(parsed.id(), "prod-2026_1");
        assert_eq!(parsed.key, k.key);
        assert!(
            !format!("{k:?}").contains(&STANDARD.encode(k.key)),
            "debug redacts"
        );
        for bad in [
            "",
            "nokey",
            "k1:!!!",
            "k1:AAAA",
            ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "k 1:AAAA",
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Sealer::from_config(&format!("{},{}", k.encode(), k.encode())),
            Err(CryptoError::DuplicateKeyId(_))
        ));
        assert!(Sealer::from_config(" ").is_err());
    }

    #[test]
    fn code_hasher_binds_context_and_key() {
        let s = sealer();
        let h = CodeHasher::from_sealer(&s);
        let stored = h.hash("pool|user|signup", "123456");
        assert!(h.verify("pool|user|signup", "123456", &stored));
        assert!(!h.verify("pool|user|signup", "123457", &stored));
        assert!(!h.verify("pool|other|signup", "123456", &stored));
        assert_ne!(h.hash("a|b", "c"), h.hash("a", "b|c"));
        let other = CodeHasher::from_sealer(&sealer());
        assert!(!other.verify("pool|user|signup", "123456", &stored));
    }

    #[test]
    fn constant_time_eq_sees_every_byte_of_words_and_tail() {
        // Lengths around the eight-byte words: whole words only, a tail only, both.
        for len in [0usize, 1, 7, 8, 9, 16, 23, 58] {
            let a: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            assert!(constant_time_eq(&a, &a.clone()), "equal, {len} bytes");
            for at in 0..len {
                for flip in [0x01u8, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= flip;
                    assert!(!constant_time_eq(&a, &b), "byte {at} of {len} differs");
                }
            }
            assert!(!constant_time_eq(&a, &[a.as_slice(), b"x"].concat()));
        }
    }

    #[test]
    fn helpers() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(
            hash_token(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
    }
}
