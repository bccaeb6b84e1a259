//! Random streams and token shapes. Profiles pick a shape; the engine owns the stream.

use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// A stand's random stream: ChaCha20 seeded from the OS (a CSPRNG), or from the scenario's seed
/// and the stand's id, so that two runs of one scenario draw the same numbers.
pub(crate) fn stream(seed: Option<u64>, stand_id: &str) -> ChaCha20Rng {
    match seed {
        Some(seed) => {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            rng.set_stream(fnv1a(stand_id.as_bytes()));
            rng
        }
        None => ChaCha20Rng::from_os_rng(),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// `n` random bytes as lowercase hex.
pub fn hex_lower(rng: &mut dyn RngCore, n: usize) -> String {
    hex_lower_then(rng, n, &[])
}

/// `n` random bytes as uppercase hex.
pub fn hex_upper(rng: &mut dyn RngCore, n: usize) -> String {
    hex_upper_then(rng, n, &[])
}

/// `n` random bytes as lowercase hex, then `tail` (a separator and a suffix), in one allocation.
pub fn hex_lower_then(rng: &mut dyn RngCore, n: usize, tail: &[&str]) -> String {
    hex_then(rng, n, LOWER, tail)
}

/// `n` random bytes as uppercase hex, then `tail`, in one allocation.
pub fn hex_upper_then(rng: &mut dyn RngCore, n: usize, tail: &[&str]) -> String {
    hex_then(rng, n, UPPER, tail)
}

fn hex_then(rng: &mut dyn RngCore, n: usize, digits: &[u8; 16], tail: &[&str]) -> String {
    let mut out = String::with_capacity(n * 2 + tail.iter().map(|t| t.len()).sum::<usize>());
    push_hex(&mut out, rng, n, digits);
    tail.iter().for_each(|t| out.push_str(t));
    out
}

const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_hex(out: &mut String, rng: &mut dyn RngCore, n: usize, digits: &[u8; 16]) {
    out.reserve(n * 2);
    let mut text = [0u8; 2 * DRAW];
    drawn(rng, n, |bytes| {
        for (i, b) in bytes.iter().enumerate() {
            text[2 * i] = digits[usize::from(b >> 4)];
            text[2 * i + 1] = digits[usize::from(b & 15)];
        }
        out.push_str(std::str::from_utf8(&text[..2 * bytes.len()]).expect("hex digits are ASCII"));
    });
}

/// `n` random bytes in standard, padded base64 (may contain `+`, `/`, `=`).
pub fn base64_std(rng: &mut dyn RngCore, n: usize) -> String {
    base64_std_then(rng, n, &[])
}

/// `n` random bytes in standard, padded base64, then `tail`, in one allocation (a Junos Space
/// login mints two of these). `DRAW` is a whole number of base64's 3-byte groups, so the text
/// is the whole input's.
pub fn base64_std_then(rng: &mut dyn RngCore, n: usize, tail: &[&str]) -> String {
    let mut out = String::with_capacity(n.div_ceil(3) * 4 + tail.iter().map(|t| t.len()).sum::<usize>());
    let mut text = [0u8; DRAW / 3 * 4];
    drawn(rng, n, |bytes| {
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut text)
            .expect("a draw's base64 fits its buffer");
        out.push_str(std::str::from_utf8(&text[..written]).expect("base64 is ASCII"));
    });
    tail.iter().for_each(|t| out.push_str(t));
    out
}

/// Bytes drawn at a time on the stack by [`drawn`]: a whole number of the stream's 32-bit words,
/// so that drawing `n` bytes chunk by chunk draws what one `fill_bytes(n)` draws (seeded tokens do
/// not change), and of base64's 3-byte groups.
const DRAW: usize = 48;

/// `n` random bytes, handed to `each` [`DRAW`] bytes at a time (the last chunk shorter).
fn drawn(rng: &mut dyn RngCore, n: usize, mut each: impl FnMut(&[u8])) {
    let mut bytes = [0u8; DRAW];
    let mut left = n;
    while left > 0 {
        let k = left.min(DRAW);
        rng.fill_bytes(&mut bytes[..k]);
        each(&bytes[..k]);
        left -= k;
    }
}

/// A random (version 4, variant 1) UUID in its hyphenated lowercase form: 122 random bits.
pub fn uuid_v4(rng: &mut dyn RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written on the stack, then copied once (a `push` per character checks capacity and
    // encodes a `char` each time: on every SensNet login).
    let (mut text, mut at) = ([0u8; 36], 0);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text[at] = b'-';
            at += 1;
        }
        text[at] = LOWER[usize::from(byte >> 4)];
        text[at + 1] = LOWER[usize::from(byte & 15)];
        at += 2;
    }
    std::str::from_utf8(&text).expect("hex digits and hyphens are ASCII").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uuid_v4` as first written, a `push` per character: the reference.
    fn uuid_v4_by_push(rng: &mut dyn RngCore) -> String {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut s = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push(LOWER[usize::from(byte >> 4)] as char);
            s.push(LOWER[usize::from(byte & 15)] as char);
        }
        s
    }

    #[test]
    fn uuids_are_written_as_pushing_each_character_wrote_them() {
        for seed in 0..200 {
            let (mut a, mut b) = (stream(Some(seed), "s"), stream(Some(seed), "s"));
            for _ in 0..3 {
                assert_eq!(uuid_v4(&mut a), uuid_v4_by_push(&mut b));
            }
        }
    }

    #[test]
    fn seeded_streams_repeat_and_differ_per_stand() {
        let a = uuid_v4(&mut stream(Some(7), "a"));
        assert_eq!(a, uuid_v4(&mut stream(Some(7), "a")));
        assert_ne!(a, uuid_v4(&mut stream(Some(7), "b")));
        assert_ne!(uuid_v4(&mut stream(None, "a")), uuid_v4(&mut stream(None, "a")));
    }

    #[test]
    fn shapes() {
        let mut rng = stream(Some(1), "x");
        let u = uuid_v4(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(hex_upper(&mut rng, 16).len(), 32);
        assert!(base64_std(&mut rng, 17).ends_with('='));
    }

    proptest::proptest! {
        /// The chunked writer draws what one `fill_bytes(n)` draws: seeded tokens stay as they were.
        #[test]
        fn hex_is_one_fill_in_hex(seed: u64, n in 0usize..100, suffix in "[a-z]{0,3}") {
            let mut bytes = vec![0u8; n];
            let mut one = stream(Some(seed), "s");
            one.fill_bytes(&mut bytes);
            let lower: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            proptest::prop_assert_eq!(hex_lower(&mut stream(Some(seed), "s"), n), lower.clone());
            proptest::prop_assert_eq!(hex_upper(&mut stream(Some(seed), "s"), n), lower.to_uppercase());
            let mut chunked = stream(Some(seed), "s");
            let out = hex_lower_then(&mut chunked, n, &[".", &suffix]);
            proptest::prop_assert_eq!(out, format!("{lower}.{suffix}"));
            // And leaves the stream where one fill leaves it.
            proptest::prop_assert_eq!(chunked.next_u64(), one.next_u64());
        }

        /// The same for base64: one `fill_bytes(n)`, encoded whole.
        #[test]
        fn base64_is_one_fill_in_base64(seed: u64, n in 0usize..150, suffix in "[a-z]{0,3}") {
            use base64::Engine as _;
            let mut bytes = vec![0u8; n];
            let mut one = stream(Some(seed), "s");
            one.fill_bytes(&mut bytes);
            let whole = base64::engine::general_purpose::STANDARD.encode(&bytes);
            proptest::prop_assert_eq!(base64_std(&mut stream(Some(seed), "s"), n), whole.clone());
            let mut chunked = stream(Some(seed), "s");
            let out = base64_std_then(&mut chunked, n, &[".", &suffix]);
            proptest::prop_assert_eq!(out, format!("{whole}.{suffix}"));
            proptest::prop_assert_eq!(chunked.next_u64(), one.next_u64());
        }
    }
}
