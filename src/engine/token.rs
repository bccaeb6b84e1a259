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
    hex(rng, n, b"0123456789abcdef")
}

/// `n` random bytes as uppercase hex.
pub fn hex_upper(rng: &mut dyn RngCore, n: usize) -> String {
    hex(rng, n, b"0123456789ABCDEF")
}

fn hex(rng: &mut dyn RngCore, n: usize, digits: &[u8; 16]) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(n * 2);
    for b in bytes {
        s.push(digits[usize::from(b >> 4)] as char);
        s.push(digits[usize::from(b & 15)] as char);
    }
    s
}

/// `n` random bytes in standard, padded base64 (may contain `+`, `/`, `=`).
pub fn base64_std(rng: &mut dyn RngCore, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A random (version 4, variant 1) UUID in its hyphenated lowercase form: 122 random bits.
pub fn uuid_v4(rng: &mut dyn RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let digits = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(digits[usize::from(byte >> 4)] as char);
        s.push(digits[usize::from(byte & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
