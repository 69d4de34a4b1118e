//! Request ids: `x-amzn-RequestId` values in UUID form. A client-supplied UUID is honoured
//! (so a caller can correlate its own logs); otherwise a fresh one is made.
//!
//! Ids need to be unique, not secret: a process-wide random seed (from the standard library's
//! randomly keyed hasher, so no RNG dependency) mixed with a counter through SplitMix64 gives
//! distinct, well-spread version-4-shaped UUIDs without a lock or a syscall per request.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The header API Gateway uses for the request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// A request id: 36 ASCII characters, `8-4-4-4-12` lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 36]);

/// Makes request ids.
#[derive(Debug)]
pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

// === impl RequestId ===

impl RequestId {
    /// A client-supplied id, if it is a UUID (any version, any case; kept as sent but
    /// lower-cased so logs group consistently).
    pub fn parse(text: &[u8]) -> Option<Self> {
        let bytes: &[u8; 36] = text.try_into().ok()?;
        let mut out = [0u8; 36];
        for (i, (&b, slot)) in bytes.iter().zip(out.iter_mut()).enumerate() {
            let dash = matches!(i, 8 | 13 | 18 | 23);
            *slot = match (dash, b) {
                (true, b'-') => b'-',
                (false, b'0'..=b'9' | b'a'..=b'f') => b,
                (false, b'A'..=b'F') => b.to_ascii_lowercase(),
                _ => return None,
            };
        }
        Some(Self(out))
    }

    pub fn as_str(&self) -> &str {
        // Every byte is ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl RequestIds ===

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIds {
    /// A generator with a random seed.
    pub fn new() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x9e37_79b9_7f4a_7c15);
        Self {
            seed: hasher.finish(),
            counter: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.seed ^ n);
        let lo = splitmix64(hi ^ n.rotate_left(32) ^ 0x2545_f491_4f6c_dd1d);
        // Version 4, RFC 4122 variant, so tools that check the shape accept it.
        let hi = (hi & !0xf000) | 0x4000;
        let lo = (lo & !(0xc0 << 56)) | (0x80 << 56);
        let (hi, lo) = (hex_digits(hi), hex_digits(lo));
        let mut out = [b'-'; 36];
        // 8-4-4-4-12: the groups' places in `out` and in the 32 digits.
        for (to, from) in [
            (0..8, &hi[0..8]),
            (9..13, &hi[8..12]),
            (14..18, &hi[12..16]),
            (19..23, &lo[0..4]),
            (24..36, &lo[4..16]),
        ] {
            if let Some(slot) = out.get_mut(to) {
                slot.copy_from_slice(from);
            }
        }
        RequestId(out)
    }
}

/// The 16 lower-case hex digits of `x`, most significant first, found for all 16 at once:
/// a byte-wise digit loop costs several times as much on the request path.
fn hex_digits(x: u64) -> [u8; 16] {
    // Each nibble to a byte of its own, in order: halves, then quarters, bytes, nibbles.
    let mut v = u128::from(x);
    v = (v | (v << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    v = (v | (v << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    // A byte n (0..=15) becomes b'0' + n, plus 39 more (to b'a'..) when n > 9; no byte
    // carries into the next.
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let letters = ((v + 6 * ONES) >> 4) & ONES;
    (v + u128::from(b'0') * ONES + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuids_and_distinct() {
        let ids = RequestIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next_id();
            assert_eq!(RequestId::parse(id.as_bytes()), Some(id), "{id}");
            assert_eq!(id.as_bytes()[14], b'4');
            assert!(seen.insert(id.0));
        }
    }

    #[test]
    fn ids_are_the_seeded_sequence() {
        // Fixed by the algorithm (splitmix64 of seed and counter): a change of the digit
        // layout or of the version and variant bits shows here.
        let ids = RequestIds {
            seed: 0x0123_4567_89ab_cdef,
            counter: AtomicU64::new(0),
        };
        assert_eq!(
            ids.next_id().as_str(),
            "157a3807-a48f-4a9d-abd2-cfbe4bcb0898"
        );
        assert_eq!(
            ids.next_id().as_str(),
            "e821eebb-c077-4421-9728-d2495c3fbba2"
        );
        ids.counter.store(1 << 40, Ordering::Relaxed);
        assert_eq!(
            ids.next_id().as_str(),
            "cebfe7af-ad86-47b0-8f4a-4a9831cac25a"
        );
    }

    #[test]
    fn hex_digits_are_the_formatters() {
        for x in [
            0,
            u64::MAX,
            0x0123_4567_89ab_cdef,
            0xfedc_ba98_7654_3210,
            0x0909_0a0a_f0f0_9a9a,
        ]
        .into_iter()
        .chain((0..1000).map(splitmix64))
        {
            assert_eq!(hex_digits(x), *format!("{x:016x}").as_bytes(), "{x:#x}");
        }
    }

    #[test]
    fn client_ids_must_be_uuids() {
        assert!(RequestId::parse(b"6F9619FF-8B86-D011-B42D-00C04FC964FF").is_some());
        for bad in [
            &b"not-a-uuid"[..],
            b"6f9619ff8b86d011b42d00c04fc964ff0000",
            b"6f9619ff-8b86-d011-b42d-00c04fc964fg",
            b"6f9619ff-8b86-d011-b42d-00c04fc964f\n",
        ] {
            assert!(RequestId::parse(bad).is_none());
        }
    }
}
