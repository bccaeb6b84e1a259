//! The journal: a bounded per-stand record of requests, what they got, and why.
//!
//! Secrets never leave it: the session token and the password a request carries are masked in
//! the path and query it hands out, and headers and bodies are not recorded at all. The ring
//! keeps each request's path and query as they came, with the secrets found in the request, and
//! masks them when it is read ([`Kept::into_entry`]): masking is off the request path, and a
//! journal nobody reads costs no masking at all.

use serde::Serialize;

use crate::engine::Timestamp;
use crate::wire::Method;

/// One request as the journal records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// Sequence number on the stand, from 1.
    pub seq: u64,
    /// Stand-clock time of the request (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339")]
    pub time: Timestamp,
    /// HTTP method.
    #[serde(serialize_with = "method_str")]
    pub method: Method,
    /// Path, secrets masked.
    pub path: String,
    /// Query string, secrets masked.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Vendor operation.
    pub op: &'static str,
    /// Login name named by the request's credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Status sent (0 when no response was sent: reset, garbage).
    pub status: u16,
    /// Connection-level fault applied, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<&'static str>,
    /// State of the request's session before: `none`, `live`, `unknown`, `expired-idle`, `expired-absolute`.
    pub session_before: &'static str,
    /// State of the request's session after.
    pub session_after: &'static str,
    /// Fault rules that fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fired: Vec<String>,
    /// Random draws made for the rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub draws: Vec<f64>,
    /// Delay applied, in milliseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn method_str<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A request as the ring keeps it: an [`Entry`]'s fields with the path and query as they came,
/// the secrets to mask in them, and what most requests have none of (fired rules, draws, a delay,
/// a transport fault) boxed, so that a kept request is a few cache lines. Its `Debug` shows the
/// masked entry.
#[derive(Clone)]
pub struct Kept {
    seq: u64,
    time: Timestamp,
    method: Method,
    path: String,
    query: String,
    op: &'static str,
    user: Option<String>,
    status: u16,
    session_before: &'static str,
    session_after: &'static str,
    /// The session token the request carried.
    token: Option<String>,
    /// The other secrets the profile found in the request (`Handler::redact`).
    redacted: Vec<String>,
    rare: Option<Box<Rare>>,
}

/// The fields of an [`Entry`] that most requests leave empty.
#[derive(Clone)]
struct Rare {
    transport: Option<&'static str>,
    fired: Vec<String>,
    draws: Vec<f64>,
    delay_ms: u64,
}

impl Kept {
    /// `entry` (path and query unmasked), with the secrets of its request.
    pub fn new(entry: Entry, token: Option<String>, redacted: Vec<String>) -> Kept {
        let Entry {
            seq,
            time,
            method,
            path,
            query,
            op,
            user,
            status,
            transport,
            session_before,
            session_after,
            fired,
            draws,
            delay_ms,
        } = entry;
        let rare = (transport.is_some() || !fired.is_empty() || !draws.is_empty() || delay_ms != 0)
            .then(|| Box::new(Rare { transport, fired, draws, delay_ms }));
        Kept { seq, time, method, path, query, op, user, status, session_before, session_after, token, redacted, rare }
    }

    /// The entry as it is handed out: the token and the redacted values masked wherever they
    /// occur in the path and query (percent-encoded too), and the values of secret-looking query
    /// parameters masked.
    pub fn into_entry(self) -> Entry {
        let Kept {
            seq,
            time,
            method,
            mut path,
            mut query,
            op,
            user,
            status,
            session_before,
            session_after,
            token,
            redacted,
            rare,
        } = self;
        let secrets = || redacted.iter().map(String::as_str).chain(token.as_deref());
        if let Some(masked) = mask(&path, secrets()) {
            path = masked;
        }
        if let Some(masked) = mask_query(&query) {
            query = masked;
        }
        if let Some(masked) = mask(&query, secrets()) {
            query = masked;
        }
        let Rare { transport, fired, draws, delay_ms } =
            rare.map_or(Rare { transport: None, fired: Vec::new(), draws: Vec::new(), delay_ms: 0 }, |r| *r);
        Entry {
            seq,
            time,
            method,
            path,
            query,
            op,
            user,
            status,
            transport,
            session_before,
            session_after,
            fired,
            draws,
            delay_ms,
        }
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.clone().into_entry().fmt(f)
    }
}

/// A ring of the last `capacity` requests. Once full, a new request takes the oldest one's place
/// (no entry is moved).
#[derive(Debug)]
pub struct Journal {
    entries: Vec<Kept>,
    /// Where the oldest entry is once the ring is full (the next to be replaced).
    oldest: usize,
    capacity: usize,
    seq: u64,
}

impl Journal {
    /// An empty journal keeping at most `capacity` entries (0: records nothing).
    pub fn new(capacity: usize) -> Journal {
        Journal { entries: Vec::with_capacity(capacity.min(1024)), oldest: 0, capacity, seq: 0 }
    }

    /// Records a request, numbering it and replacing the oldest beyond capacity.
    pub fn record(&mut self, mut kept: Kept) {
        self.seq += 1;
        if self.capacity == 0 {
            return;
        }
        kept.seq = self.seq;
        if self.entries.len() < self.capacity {
            self.entries.push(kept);
        } else {
            self.entries[self.oldest] = kept;
            self.oldest = (self.oldest + 1) % self.capacity;
        }
    }

    /// Counts a request without keeping an entry (a journal of capacity 0).
    pub fn record_nothing(&mut self) {
        self.seq += 1;
    }

    /// The last `limit` requests, oldest first, still to be masked ([`Kept::into_entry`]):
    /// callers mask them after letting go of the journal's lock.
    pub fn last(&self, limit: usize) -> Vec<Kept> {
        let (newer, older) = self.entries.split_at(self.oldest);
        let skip = self.entries.len().saturating_sub(limit);
        older.iter().chain(newer).skip(skip).cloned().collect()
    }

    /// How many requests were recorded since the start or the last clear (including dropped ones).
    pub fn total(&self) -> u64 {
        self.seq
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.oldest = 0;
        self.seq = 0;
    }
}

/// `text` with every occurrence of each secret (and of its percent-encoded forms) replaced by
/// `***`; `None` if there was nothing to mask (the caller keeps `text` as it is). On the hot
/// path: a secret is only searched for where it can occur, and encoded forms are only computed
/// when the text has escapes at all.
pub fn mask<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if text.len() < 3 {
        // No secret shorter than three bytes is masked (most queries are empty).
        return None;
    }
    let mut out: Option<String> = None;
    let escaped = memchr::memchr2(b'%', b'+', text.as_bytes()).is_some();
    for s in secrets.into_iter().filter(|s| s.len() >= 3) {
        let current = out.as_deref().unwrap_or(text);
        if let Some(masked) = replaced(current, s) {
            out = Some(masked);
        }
        if !escaped {
            continue;
        }
        let encoded = form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let path_encoded = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        for e in [encoded, path_encoded] {
            let current = out.as_deref().unwrap_or(text);
            if e != *s
                && let Some(masked) = replaced(current, &e)
            {
                out = Some(masked);
            }
        }
    }
    out
}

/// `text` with every occurrence of `needle` (non-empty) replaced by `***`, or `None` if it has
/// none. Candidates are found by the needle's first byte (memchr), so the common miss is a scan.
fn replaced(text: &str, needle: &str) -> Option<String> {
    let (t, n) = (text.as_bytes(), needle.as_bytes());
    let first = *n.first()?;
    let mut out: Option<String> = None;
    let mut copied = 0;
    for i in memchr::memchr_iter(first, t) {
        if i >= copied && t[i..].starts_with(n) {
            // `i` and `i + n.len()` are char boundaries: they start and end a match of a `str`.
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..i]);
            o.push_str("***");
            copied = i + n.len();
        }
    }
    let mut o = out?;
    o.push_str(&text[copied..]);
    Some(o)
}

/// A query string with the values of secret-looking parameters masked; `None` if it has none.
pub fn mask_query(query: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let (mut at, mut copied) = (0, 0);
    let bytes = query.as_bytes();
    while at <= bytes.len() {
        let end = memchr::memchr(b'&', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        // `&` and `=` are ASCII: every cut is on a character boundary.
        if let Some(eq) = memchr::memchr(b'=', &bytes[at..end])
            && is_secret_name(&query[at..at + eq])
        {
            let o = out.get_or_insert_with(|| String::with_capacity(query.len()));
            o.push_str(&query[copied..at + eq]);
            o.push_str("=***");
            copied = end;
        }
        at = end + 1;
    }
    let mut o = out?;
    o.push_str(&query[copied..]);
    Some(o)
}

/// Whether a parameter name looks like it carries a secret (case-insensitively).
fn is_secret_name(name: &str) -> bool {
    const PARTS: [&[u8]; 7] = [b"pass", b"pwd", b"secret", b"token", b"session", b"key", b"ticket"];
    let b = name.as_bytes();
    if name.eq_ignore_ascii_case("p") {
        return true;
    }
    (0..b.len()).any(|i| {
        // Only the parts starting with this letter are compared.
        let c = b[i].to_ascii_lowercase();
        matches!(c, b'p' | b's' | b't' | b'k')
            && PARTS.iter().any(|p| p[0] == c && b[i..].len() >= p.len() && b[i..i + p.len()].eq_ignore_ascii_case(p))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `mask_query` as it was first written, pair by pair with `split`: the reference.
    fn mask_query_by_split(query: &str) -> Option<String> {
        let mut masked = false;
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_name(k) => {
                    masked = true;
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        masked.then(|| pairs.join("&"))
    }

    proptest! {
        #[test]
        fn mask_query_masks_as_splitting_does(parts in proptest::collection::vec(
            prop_oneof![Just("&"), Just("="), Just("sessionId"), Just("p"), Just("x"), Just("é"), Just("Token"), Just("")],
            0..12,
        )) {
            let query = parts.concat();
            prop_assert_eq!(mask_query(&query), mask_query_by_split(&query));
        }
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let mut j = Journal::new(2);
        for i in 0..3 {
            j.record(Kept::new(Entry { status: 200 + i, ..sample() }, None, vec![]));
        }
        let last: Vec<Entry> = j.last(10).into_iter().map(Kept::into_entry).collect();
        assert_eq!(last.iter().map(|e| (e.seq, e.status)).collect::<Vec<_>>(), [(2, 201), (3, 202)]);
        assert_eq!(j.total(), 3);
    }

    #[test]
    fn the_ring_replaces_the_oldest_lap_after_lap() {
        let mut j = Journal::new(3);
        for i in 0..11u16 {
            j.record(Kept::new(Entry { status: i, ..sample() }, None, vec![]));
            let statuses: Vec<u16> = j.last(10).into_iter().map(|k| k.into_entry().status).collect();
            let want: Vec<u16> = (i.saturating_sub(2)..=i).collect();
            assert_eq!(statuses, want);
            assert_eq!(j.last(2).len(), want.len().min(2));
        }
        j.clear();
        assert!(j.last(10).is_empty());
        j.record(Kept::new(sample(), None, vec![]));
        assert_eq!(j.last(10).into_iter().map(|k| k.into_entry().seq).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_kept_request_gives_back_every_field() {
        let rare = Entry {
            user: Some("u".into()),
            transport: Some("reset"),
            fired: vec!["r1".into()],
            draws: vec![0.25],
            delay_ms: 7,
            session_before: "live",
            session_after: "unknown",
            ..sample()
        };
        for entry in [sample(), rare] {
            assert_eq!(Kept::new(entry.clone(), None, vec![]).into_entry(), entry);
        }
    }

    #[test]
    fn kept_requests_are_masked_when_read() {
        let entry = Entry {
            path: "/sn/rest/api/0f1e2d3c/logout/hunter%202".into(),
            query: "sessionId=0f1e2d3c&x=hunter+2&note=0f1e2d3c".into(),
            ..sample()
        };
        let kept = Kept::new(entry, Some("0f1e2d3c".into()), vec!["hunter 2".into()]);
        let shown = format!("{kept:?}");
        let entry = kept.into_entry();
        assert_eq!(entry.path, "/sn/rest/api/***/logout/***");
        assert_eq!(entry.query, "sessionId=***&x=***&note=***");
        assert!(!shown.contains("0f1e2d3c") && !shown.contains("hunter"), "{shown}");
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("/sn/rest/api/login/u/p%40ss/n", ["p@ss"]).as_deref(), Some("/sn/rest/api/login/u/***/n"));
        assert_eq!(mask("/sn/rest/api/x/abcd/abcd", ["abcd"]).as_deref(), Some("/sn/rest/api/x/***/***"));
        assert_eq!(mask("/sn/rest/api/check", ["abcd", "ab"]), None);
        assert_eq!(mask("aaaa", ["aaa"]).as_deref(), Some("***a"));
        assert_eq!(mask("é/ticket/é", ["ticket"]).as_deref(), Some("é/***/é"));
        assert_eq!(
            mask_query("loginName=a&password=b&sessionId=c&output=json").as_deref(),
            Some("loginName=a&password=***&sessionId=***&output=json")
        );
        assert_eq!(mask_query("loginName=a&SESSIONID=c").as_deref(), Some("loginName=a&SESSIONID=***"));
        assert_eq!(mask_query("output=json&query=x"), None);
        assert_eq!(mask_query(""), None);
        assert_eq!(mask_query("a=1&token=2&b&key=3").as_deref(), Some("a=1&token=***&b&key=***"));
        assert_eq!(mask_query("p=x").as_deref(), Some("p=***"));
        assert_eq!(mask_query("pp=x&P=y").as_deref(), Some("pp=x&P=***"));
    }

    #[test]
    fn masking_replaces_as_str_replace_does() {
        use proptest::prelude::*;
        proptest!(|(text in "[abé/]{0,12}", secret in "[abé]{3,4}")| {
            let expected = text.contains(&secret).then(|| text.replace(&secret, "***"));
            prop_assert_eq!(mask(&text, [secret.as_str()]), expected);
        });
    }

    fn sample() -> Entry {
        Entry {
            seq: 0,
            time: Timestamp::from_millis(0),
            method: Method::GET,
            path: "/".into(),
            query: String::new(),
            op: "other",
            user: None,
            status: 200,
            transport: None,
            session_before: "none",
            session_after: "none",
            fired: vec![],
            draws: vec![],
            delay_ms: 0,
        }
    }
}
