//! JSON bodies written piece by piece: keys in the vendor's order, no map or value tree built,
//! and strings escaped by `serde_json` only when they have something to escape.

use serde::Serialize;

/// Appends pieces that are already JSON (keys, punctuation, pre-rendered values).
pub fn raw(out: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
}

/// Appends `s` as a JSON string, byte for byte what `serde_json` writes. Tokens, dates and most
/// names have nothing to escape and are copied as they are; any other string is escaped by
/// `serde_json`.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if is_plain(s.as_bytes()) {
        plain_string(out, s.as_bytes());
    } else {
        value(out, s);
    }
}

/// `true` if `serde_json` writes `b` as it is: no control character, `"` or `\`, the only bytes
/// it escapes. Checked 16 bytes at a time, the last 16 overlapping the chunk before them (under 16
/// bytes: padded with spaces): a login or check writes a few strings of 17 to 40 bytes, too short
/// for a vectorized loop over the whole slice to reach its vector body (that ran byte by byte,
/// about five instructions a byte).
fn is_plain(b: &[u8]) -> bool {
    let Some(last) = b.last_chunk::<16>() else {
        let mut padded = [b' '; 16];
        padded[..b.len()].copy_from_slice(b);
        return chunk_is_plain(&padded);
    };
    let mut plain = chunk_is_plain(last);
    for chunk in b.chunks_exact(16) {
        plain &= chunk_is_plain(chunk.try_into().expect("16 bytes"));
    }
    plain
}

/// [`is_plain`] for 16 bytes: a few vector instructions. Not inlined: inlined into the loop over
/// the chunks, the compiler vectorizes that loop instead, across chunks, byte by byte.
#[inline(never)]
fn chunk_is_plain(chunk: &[u8; 16]) -> bool {
    chunk.iter().fold(0u8, |bad, &c| bad | u8::from((c < 0x20) | (c == b'"') | (c == b'\\'))) == 0
}

/// Appends text known to need no escape (digits, dates, hex) as a JSON string.
pub fn plain_string(out: &mut Vec<u8>, s: &[u8]) {
    debug_assert!(is_plain(s), "{s:?} needs escaping");
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// Appends any serializable value as `serde_json` writes it.
pub fn value(out: &mut Vec<u8>, v: &(impl Serialize + ?Sized)) {
    // Writing into a Vec cannot fail, and the values written here have string keys only.
    let _ = serde_json::to_writer(out, v);
}

/// Appends a list of strings as a JSON array.
pub fn strings(out: &mut Vec<u8>, items: &[impl AsRef<str>]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, item.as_ref());
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strings_needing_escapes_are_escaped() {
        for s in ["", "plain", "a\"b", "back\\slash", "tab\there", "nul\0", "\u{1f}", "ü€😀", "\u{7f}"] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        let mut out = Vec::new();
        strings(&mut out, &["a", "\"b\""]);
        assert_eq!(out, br#"["a","\"b\""]"#);
    }

    #[test]
    fn an_escape_is_found_at_every_place_of_every_chunk_and_tail() {
        for len in 1..50 {
            for at in 0..len {
                for bad in [b'"', b'\\', 0, 0x1f] {
                    let mut b = vec![b'a'; len];
                    b[at] = bad;
                    assert!(!is_plain(&b), "{len} {at} {bad}");
                }
                assert!(is_plain(&vec![b'a'; len]));
            }
        }
        assert!(is_plain(b""));
        assert!(is_plain("ü€😀 \x7f".as_bytes()));
    }

    proptest! {
        #[test]
        fn string_is_serde_jsons_bytes(s in any::<String>()) {
            let mut out = b"x".to_vec();
            string(&mut out, &s);
            let mut expected = b"x".to_vec();
            expected.extend(serde_json::to_vec(&s).unwrap());
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn string_lists_are_serde_jsons_bytes(v in proptest::collection::vec(any::<String>(), 0..4)) {
            let mut out = Vec::new();
            strings(&mut out, &v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }
}
