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
    let b = s.as_bytes();
    // serde_json escapes exactly the control characters, `"` and `\`. No early exit, so that the
    // check compiles to vector instructions.
    let plain = b.iter().fold(true, |ok, &c| ok & (c >= 0x20) & (c != b'"') & (c != b'\\'));
    if plain {
        out.reserve(b.len() + 2);
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
    } else {
        value(out, s);
    }
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
