//! Lenient parsers for what real clients send: pasted Set-Cookie values, media types with extra
//! parameters, Basic credentials, form and query pairs. None of them panics on any input.

use std::borrow::Cow;

use base64::Engine as _;

/// Cookie name/value pairs from one `Cookie` header, leniently: splits on `;` and `,`, drops
/// Set-Cookie attributes (`Version`, `Path`, `Domain`, `Max-Age`, `Expires`, `HttpOnly`, `Secure`,
/// `SameSite`, `$`-prefixed ones) and bare words, strips ASCII whitespace and surrounding quotes. A pasted
/// `JSESSIONIDSSO=a;Version=1, JSESSIONID=b;Version=1; Path=/x` gives both cookies.
pub fn cookies(header: &str) -> impl Iterator<Item = (String, String)> + '_ {
    header.split([';', ',']).filter_map(|part| {
        let (name, value) = part.split_once('=')?;
        let name = name.trim_ascii();
        if name.is_empty() || name.starts_with('$') || is_attribute(name) {
            return None;
        }
        let value = value.trim_ascii();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        Some((name.to_owned(), value.to_owned()))
    })
}

/// The value of cookie `name` in one `Cookie` header, by the same lenient rules as [`cookies`].
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    cookie_bytes(header.as_bytes(), name)
}

/// [`cookie_value`] over the raw bytes of a header, without allocating or reading more of the
/// cookies it skips than their separators (this runs on every request): a segment is taken when,
/// after leading whitespace, it starts with `name`, then optional whitespace and `=`. The value is
/// the rest of the segment, trimmed and unquoted; `None` if it is not UTF-8.
pub fn cookie_bytes<'a>(header: &'a [u8], name: &str) -> Option<&'a str> {
    let n = name.as_bytes();
    // Names that a segment's name (cut at its first `=` and trimmed) can never be.
    if n.first().is_none_or(|b| *b == b'$' || b.is_ascii_whitespace())
        || n.last().is_some_and(u8::is_ascii_whitespace)
        || n.iter().any(|b| matches!(b, b'=' | b';' | b','))
        || is_attribute(name)
    {
        return None;
    }
    let mut rest = header;
    loop {
        let segment = rest.trim_ascii_start();
        // `;` and `,` are ASCII: every cut is on a character boundary.
        let end = memchr::memchr2(b';', b',', segment).unwrap_or(segment.len());
        if let Some(after) = segment[..end].strip_prefix(n)
            && let Some(value) = after.trim_ascii_start().strip_prefix(b"=")
        {
            let value = value.trim_ascii();
            let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
            // Cookie values are ASCII in practice, and `is_ascii` is the cheaper check.
            return if value.is_ascii() {
                // SAFETY: ASCII bytes are UTF-8.
                Some(unsafe { std::str::from_utf8_unchecked(value) })
            } else {
                std::str::from_utf8(value).ok()
            };
        }
        if end == segment.len() {
            return None;
        }
        rest = &segment[end + 1..];
    }
}

fn is_attribute(name: &str) -> bool {
    ["version", "path", "domain", "max-age", "expires", "httponly", "secure", "samesite", "comment"]
        .iter()
        .any(|a| name.eq_ignore_ascii_case(a))
}

/// User and password from an `Authorization: Basic …` header value. `None` for another scheme,
/// bad base64, non-UTF-8, or no colon.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = rest.trim();
    // Decoded on the stack when it fits (every login's header does): one copy per credential.
    let mut stack = [0u8; 192];
    let heap;
    let raw: &[u8] = match base64::engine::general_purpose::STANDARD.decode_slice(encoded, &mut stack) {
        Ok(n) => &stack[..n],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            heap = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
            &heap
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => return None,
    };
    let text = std::str::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The media type of a `Content-Type`/`Accept` entry: lowercase, parameters dropped.
pub fn media_type(value: &str) -> String {
    without_parameters(value).to_ascii_lowercase()
}

/// Whether a `Content-Type`/`Accept` entry is of media type `ty` (lowercase), parameters and
/// case aside: [`media_type`]'s comparison without its allocation.
pub fn is_media_type(value: &str, ty: &str) -> bool {
    without_parameters(value).eq_ignore_ascii_case(ty)
}

/// Whether a `Content-Type`/`Accept` entry's media type ends with `suffix` (lowercase, such as
/// `+xml`), parameters and case aside, without lowercasing it into a new string.
pub fn has_media_suffix(value: &str, suffix: &str) -> bool {
    let ty = without_parameters(value).as_bytes();
    ty.len() >= suffix.len() && ty[ty.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn without_parameters(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// A body format a profile can answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// XML.
    Xml,
    /// JSON.
    Json,
}

/// `true` if the `Accept` header lists a media range whose type ends with `suffix` (ignoring
/// parameters such as `;version=1;g=0.01`) with a non-zero quality.
pub fn wants(accept: Option<&str>, suffix: &str) -> bool {
    let Some(accept) = accept else { return false };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let zero = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        !zero && ty.ends_with(suffix)
    })
}

/// Name/value pairs of a query string or form body, percent- and `+`-decoded; invalid UTF-8 is
/// replaced, never fatal.
///
/// The same pairs as `form_urlencoded::parse` (a proptest holds them equal), made cheap for what
/// every request has: a name or value with nothing to decode is borrowed from the input, and one
/// with escapes is decoded in one pass into one buffer (the crate decodes byte by byte through an
/// iterator, then again for the lossy UTF-8 pass: a query or login form on every request).
pub fn form_pairs(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> + '_ {
    form_pairs_raw(input).map(|(name, value)| (form_decode(name), form_decode(value)))
}

/// The pairs of [`form_pairs`] before decoding, for a reader that decodes only the ones it
/// keeps ([`form_decode`]; a name with no `+` or `%` decodes to its own bytes if UTF-8).
pub fn form_pairs_raw(input: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    let mut rest = input;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
            let pair = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            return Some((name, value));
        }
    })
}

/// A raw form name ([`form_pairs_raw`]) decoded as [`form_decode`] does, as bytes to compare
/// with a name: borrowed, with no UTF-8 check, when it is ASCII with nothing to decode.
pub fn form_name(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.is_ascii() && !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return Cow::Borrowed(raw);
    }
    match form_decode(raw) {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// One name or value of a form: `+` is a space, then percent-decoding (a `%` without two hex
/// digits stays as it is), then lossy UTF-8, as `form_urlencoded` decodes it. A `+` that an
/// escape decodes to (`%2B`) stays a `+`, which one pass gives for free.
pub fn form_decode(text: &[u8]) -> Cow<'_, str> {
    // A plain loop: the pieces are a few bytes, too short for memchr's set-up to pay.
    if !text.iter().any(|&b| b == b'+' || b == b'%') {
        // `from_utf8` first: `from_utf8_lossy` walks valid text chunk by chunk, slowly.
        return match std::str::from_utf8(text) {
            Ok(plain) => Cow::Borrowed(plain),
            Err(_) => String::from_utf8_lossy(text),
        };
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        // The run up to the next `+` or `%` is copied as it is, in one go.
        let run = text[i..].iter().position(|&b| b == b'+' || b == b'%').map_or(text.len(), |p| i + p);
        out.extend_from_slice(&text[i..run]);
        i = run;
        let Some(&b) = text.get(i) else { break };
        let escaped = match (b, text.get(i + 1..i + 3)) {
            (b'%', Some(&[hi, lo])) => hex_digit(hi).zip(hex_digit(lo)).map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A percent-decoded path segment; `None` if it does not decode to UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn raw_form_names_are_decoded_as_values_are(
            raw in proptest::collection::vec(prop_oneof![Just(b'+'), Just(b'%'), Just(b'2'), Just(b'0'), Just(b'a'), Just(b' '), Just(0xC3), Just(0xA9), any::<u8>()], 0..8),
        ) {
            let decoded = form_decode(&raw);
            prop_assert_eq!(&*form_name(&raw), decoded.as_bytes());
        }

        #[test]
        fn form_pairs_are_form_urlencodeds(input in proptest::collection::vec(
            prop_oneof![Just(b'&'), Just(b'='), Just(b'+'), Just(b'%'), Just(b'2'), Just(b'B'), Just(b'a'), Just(0xC3), Just(0xA9), any::<u8>()],
            0..24,
        )) {
            let expected: Vec<_> = form_urlencoded::parse(&input).collect();
            prop_assert_eq!(form_pairs(&input).collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn form_pairs_decode_in_one_pass_as_form_urlencoded_does() {
        let input = b"u=test1%40test.domain&%=%2&%zz=a%2B+b&e=%C3%A9%FF&plain=as+is%";
        let expected: Vec<_> = form_urlencoded::parse(input).collect();
        assert_eq!(form_pairs(input).collect::<Vec<_>>(), expected);
        assert_eq!(expected[0], ("u".into(), "test1@test.domain".into()));
        assert_eq!(expected[2].1, "a+ b");
        assert!(matches!(form_pairs(b"n=bench").next(), Some((Cow::Borrowed("n"), Cow::Borrowed("bench")))));
    }

    #[test]
    fn pasted_set_cookie_gives_both_cookies() {
        let got: Vec<_> =
            cookies("JSESSIONIDSSO=a+b/c=;Version=1, JSESSIONID=z=.node:0;Version=1; Path=/api/space/user-management")
                .collect();
        assert_eq!(got, vec![("JSESSIONIDSSO".into(), "a+b/c=".into()), ("JSESSIONID".into(), "z=.node:0".into())]);
    }

    proptest! {
        /// Looking for one cookie finds what splitting the header into all of them finds.
        #[test]
        fn cookie_value_is_the_first_of_cookies(
            header in proptest::collection::vec(
                prop_oneof![Just("JSESSIONID"), Just("SSO"), Just("="), Just(";"), Just(","), Just(" "), Just("\t"),
                    Just("\""), Just("$"), Just("Path"), Just("a"), Just("é")],
                0..12,
            ).prop_map(|parts| parts.concat()),
            name in prop_oneof![Just("JSESSIONID"), Just("JSESSIONIDSSO"), Just("SSO"), Just(" SSO"), Just("a=b"),
                Just("$a"), Just("Path"), Just(""), Just("a"), Just("a a"), Just("é")],
        ) {
            let expected = cookies(&header).find(|(n, _)| n == name).map(|(_, v)| v);
            prop_assert_eq!(cookie_value(&header, name).map(str::to_owned), expected);
        }
    }

    #[test]
    fn cookie_value_agrees_with_cookies() {
        let h = "JSESSIONIDSSO=a+b/c=;Version=1, JSESSIONID=\"z=.node:0\";Version=1; Path=/x";
        for name in ["JSESSIONIDSSO", "JSESSIONID", "Path", "missing"] {
            let expected = cookies(h).find(|(n, _)| n == name).map(|(_, v)| v);
            assert_eq!(cookie_value(h, name).map(str::to_owned), expected, "{name}");
        }
    }

    #[test]
    fn expires_attribute_with_a_comma_is_dropped() {
        let got: Vec<_> = cookies("A=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; B=\"2\"").collect();
        assert_eq!(got, vec![("A".into(), "1".into()), ("B".into(), "2".into())]);
    }

    #[test]
    fn basic_rejects_malformed_values() {
        assert_eq!(basic_credentials("Basic c3VwZXI6anVuaXBlcjEyMw=="), Some(("super".into(), "juniper123".into())));
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Basic c3VwZXI="), None);
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials(""), None);
    }

    /// `basic_credentials` as first written, decoding into a vector: the reference.
    fn basic_by_vec(header: &str) -> Option<(String, String)> {
        let (scheme, rest) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }

    proptest! {
        /// Decoding on the stack reads what decoding into a vector read, credentials far longer
        /// than the stack's room included, and garbage.
        #[test]
        fn basic_decodes_as_decoding_into_a_vector_does(
            user in "[a-zé:]{0,10}",
            password in proptest::collection::vec(any::<u8>(), 0..300),
            garble in proptest::option::of((0usize..400, "[!=A-Za-z0-9+/ ]")),
        ) {
            let mut raw = user.into_bytes();
            raw.push(b':');
            raw.extend(password);
            let mut encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
            if let Some((at, c)) = garble {
                let at = at.min(encoded.len());
                encoded.insert_str(at, &c);
            }
            let header = format!("Basic {encoded}");
            prop_assert_eq!(basic_credentials(&header), basic_by_vec(&header));
        }
    }

    #[test]
    fn accept_matching_ignores_parameters() {
        let a = Some("application/vnd.net.juniper.space.user-management.user-ref+json;version=1;q=0.01");
        assert!(wants(a, "user-ref+json"));
        assert!(!wants(a, "user-ref+xml"));
        assert!(!wants(Some("application/json;q=0"), "json"));
        let form = "Application/X-WWW-Form-Urlencoded ; charset=UTF-8";
        assert!(is_media_type(form, "application/x-www-form-urlencoded"));
        assert_eq!(media_type(form), "application/x-www-form-urlencoded");
        assert!(!is_media_type("text/plain", "application/x-www-form-urlencoded"));
    }

    proptest! {
        #[test]
        fn media_suffixes_compare_as_lowercased_types_do(
            value in "[a-zA-Z/+; =]{0,16}",
            suffix in prop_oneof![Just("+xml"), Just("+json"), Just("/xml"), Just("")],
        ) {
            prop_assert_eq!(has_media_suffix(&value, suffix), media_type(&value).ends_with(suffix));
        }
    }
}
