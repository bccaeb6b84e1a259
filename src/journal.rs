//! The journal: a bounded per-stand record of requests, what they got, and why.
//!
//! Secrets never leave it: the session token and the password a request carries are masked in
//! the path and query it hands out, and headers and bodies are not recorded at all. The ring
//! keeps each request's path and query as they came, with the secrets found in the request, and
//! masks them when it is read ([`Kept::into_entry`]): masking is off the request path, and a
//! journal nobody reads costs no masking at all.

use std::collections::VecDeque;

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

/// A request on its way into the ring and out of it: an [`Entry`]'s fields with the path and
/// query as they came, the secrets to mask in them, and what most requests have none of (fired
/// rules, draws, a delay, a transport fault) boxed. Its `Debug` shows the masked entry.
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
#[derive(Clone, Debug)]
struct Rare {
    transport: Option<&'static str>,
    fired: Vec<String>,
    draws: Vec<f64>,
    delay_ms: u64,
}

impl Rare {
    fn none() -> Rare {
        Rare { transport: None, fired: Vec::new(), draws: Vec::new(), delay_ms: 0 }
    }
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
        let Rare { transport, fired, draws, delay_ms } = rare.map_or_else(Rare::none, |r| *r);
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
///
/// A kept request is a compact `Slot` with no heap memory of its own: its text (path, query,
/// user, token, an extension method) is copied into one byte buffer, and its rare fields go to a
/// side queue. Replacing the oldest request then only writes its slot: the ring's slots are long
/// out of the caches when their turn comes, and with strings and boxes in them, reading the old
/// slot to drop it missed two cache lines a request and freed two or three cold blocks (in a
/// `perf` profile of SensNet checks, dropping the replaced entry was Standin's costliest function).
#[derive(Debug)]
pub struct Journal {
    slots: Vec<Slot>,
    /// Where the oldest slot is once the ring is full (the next to be replaced).
    oldest: usize,
    capacity: usize,
    seq: u64,
    /// The slots' text, oldest first; `text[0]` is byte `base` of everything ever appended.
    /// Bytes of replaced slots stay until the buffer outgrows `compact_at`.
    text: Vec<u8>,
    base: u64,
    compact_at: usize,
    /// The rare fields and redacted values of the kept requests that have any, by sequence
    /// number, oldest first.
    rare: VecDeque<(u64, Box<RareKept>)>,
}

/// What a kept request has beyond its slot: rare fields, and the values to mask when read.
type RareKept = (Rare, Vec<String>);

/// A kept request in the ring: [`Kept`]'s fields, its strings as lengths in [`Journal::text`].
/// Plain data (no `Drop`), so that replacing it reads nothing.
#[derive(Clone, Copy, Debug)]
struct Slot {
    seq: u64,
    time: Timestamp,
    /// Where the text starts in [`Journal::text`] (counted from the first byte ever appended).
    start: u64,
    op: &'static str,
    session_before: &'static str,
    session_after: &'static str,
    /// Byte lengths of the path, query, user, token and extension method, one after the other
    /// in the text.
    lens: [u32; 5],
    status: u16,
    /// The method: an index into [`METHODS`], or `METHODS.len()` for an extension method (its
    /// name is in the text).
    method: u8,
    /// Bit 0: the request named a user; 1: it carried a token; 2: it has rare fields.
    flags: u8,
}

const HAS_USER: u8 = 1;
const HAS_TOKEN: u8 = 2;
const HAS_RARE: u8 = 4;

/// The standard methods, as a slot numbers them.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
    Method::PATCH,
    Method::TRACE,
];

/// At most `u32::MAX` bytes of `s`, the most a slot's length holds (a request head is far
/// shorter: the server refuses heads over a few kilobytes). A character cut in two is read back
/// as U+FFFD.
fn bounded(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(u32::MAX as usize)]
}

/// The text buffer's size below which replaced slots' bytes are left where they are (small in
/// tests, so that they let go of text often).
const MIN_COMPACT: usize = if cfg!(test) { 256 } else { 16 * 1024 };

impl Journal {
    /// An empty journal keeping at most `capacity` entries (0: records nothing).
    pub fn new(capacity: usize) -> Journal {
        Journal {
            slots: Vec::with_capacity(capacity.min(1024)),
            oldest: 0,
            capacity,
            seq: 0,
            text: Vec::new(),
            base: 0,
            compact_at: MIN_COMPACT,
            rare: VecDeque::new(),
        }
    }

    /// Records a request, numbering it and replacing the oldest beyond capacity.
    pub fn record(&mut self, kept: Kept) {
        self.seq += 1;
        if self.capacity == 0 {
            return;
        }
        let full = self.slots.len() == self.capacity;
        if full {
            // Sequence numbers run on by one: the slot replaced now is `capacity` requests old.
            let replaced = self.seq - self.capacity as u64;
            while self.rare.front().is_some_and(|(seq, _)| *seq <= replaced) {
                self.rare.pop_front();
            }
        }
        if self.text.len() >= self.compact_at {
            self.compact(full);
        }
        let start = self.base + self.text.len() as u64;
        let code = METHODS.iter().position(|m| *m == kept.method).unwrap_or(METHODS.len());
        let extension = if code == METHODS.len() { kept.method.as_str() } else { "" };
        let (user, token) = (kept.user.as_deref(), kept.token.as_deref());
        let parts = [&*kept.path, &*kept.query, user.unwrap_or(""), token.unwrap_or(""), extension];
        let mut lens = [0u32; 5];
        for (len, part) in lens.iter_mut().zip(parts) {
            let part = bounded(part);
            self.text.extend_from_slice(part);
            *len = part.len() as u32;
        }
        let mut flags = 0;
        if user.is_some() {
            flags |= HAS_USER;
        }
        if token.is_some() {
            flags |= HAS_TOKEN;
        }
        if kept.rare.is_some() || !kept.redacted.is_empty() {
            flags |= HAS_RARE;
            self.rare.push_back((self.seq, Box::new((kept.rare.map_or_else(Rare::none, |r| *r), kept.redacted))));
        }
        let slot = Slot {
            seq: self.seq,
            time: kept.time,
            start,
            op: kept.op,
            session_before: kept.session_before,
            session_after: kept.session_after,
            lens,
            status: kept.status,
            method: code as u8,
            flags,
        };
        if full {
            self.slots[self.oldest] = slot;
            self.oldest = (self.oldest + 1) % self.capacity;
        } else {
            self.slots.push(slot);
        }
    }

    /// Lets go of the text of replaced slots (the bytes before the oldest kept slot's), and sets
    /// the size at which to do it again: twice what is kept, so that each byte is moved at most
    /// once for each time it is appended.
    fn compact(&mut self, full: bool) {
        // Before the new slot goes in: when full, the oldest slot is the one about to be replaced,
        // whose text goes too (with a capacity of one, every slot's).
        let first_kept = if !full {
            self.slots.first()
        } else if self.capacity > 1 {
            Some(&self.slots[(self.oldest + 1) % self.capacity])
        } else {
            None
        };
        let front = first_kept.map_or(self.base + self.text.len() as u64, |slot| slot.start);
        let dead = (front - self.base) as usize;
        self.text.drain(..dead);
        self.base = front;
        self.compact_at = (self.text.len() * 2).max(MIN_COMPACT);
    }

    /// Counts a request without keeping an entry (a journal of capacity 0).
    pub fn record_nothing(&mut self) {
        self.seq += 1;
    }

    /// The last `limit` requests, oldest first, still to be masked ([`Kept::into_entry`]):
    /// callers mask them after letting go of the journal's lock.
    pub fn last(&self, limit: usize) -> Vec<Kept> {
        let (newer, older) = self.slots.split_at(self.oldest);
        let skip = self.slots.len().saturating_sub(limit);
        older.iter().chain(newer).skip(skip).map(|slot| self.kept(slot)).collect()
    }

    /// A slot with its text and rare fields, as it was recorded.
    fn kept(&self, slot: &Slot) -> Kept {
        let mut at = (slot.start - self.base) as usize;
        let mut next = |len: u32| {
            let bytes = &self.text[at..at + len as usize];
            at += len as usize;
            // Recorded from `&str`s (cut only past 4 GiB).
            String::from_utf8_lossy(bytes).into_owned()
        };
        let [path, query, user, token, extension] = slot.lens.map(&mut next);
        let method = match METHODS.get(usize::from(slot.method)) {
            Some(m) => m.clone(),
            None => Method::from_bytes(extension.as_bytes()).unwrap_or_default(),
        };
        let found = (slot.flags & HAS_RARE != 0)
            .then(|| self.rare.binary_search_by_key(&slot.seq, |(seq, _)| *seq).ok())
            .flatten();
        let (rare, redacted) = match found {
            Some(i) => (Some(Box::new(self.rare[i].1.0.clone())), self.rare[i].1.1.clone()),
            None => (None, Vec::new()),
        };
        Kept {
            seq: slot.seq,
            time: slot.time,
            method,
            path,
            query,
            op: slot.op,
            user: (slot.flags & HAS_USER != 0).then_some(user),
            status: slot.status,
            session_before: slot.session_before,
            session_after: slot.session_after,
            token: (slot.flags & HAS_TOKEN != 0).then_some(token),
            redacted,
            rare,
        }
    }

    /// How many requests were recorded since the start or the last clear (including dropped ones).
    pub fn total(&self) -> u64 {
        self.seq
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.oldest = 0;
        self.seq = 0;
        self.text.clear();
        self.base = 0;
        self.compact_at = MIN_COMPACT;
        self.rare.clear();
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

    proptest! {
        /// The ring gives back the last requests recorded, every field as it came, however their
        /// texts' lengths vary and however many laps the ring and its text buffer have made.
        #[test]
        fn the_ring_gives_back_what_was_recorded(
            capacity in 1usize..6,
            requests in proptest::collection::vec(
                ("[a-zé/%]{0,40}", "[a-z=&]{0,8}", proptest::option::of("[a-z@]{0,6}"),
                    proptest::option::of("[0-9a-f]{0,36}"), any::<bool>(),
                    proptest::sample::select(vec!["GET", "DELETE", "TRACE", "PROPFIND", "X-Y"])),
                0..200,
            ),
            limit in 0usize..8,
        ) {
            let mut journal = Journal::new(capacity);
            let mut model = std::collections::VecDeque::new();
            for (i, (path, query, user, token, rare, method)) in requests.into_iter().enumerate() {
                let entry = Entry {
                    method: Method::from_bytes(method.as_bytes()).expect("a method"),
                    path,
                    query,
                    user,
                    status: i as u16,
                    delay_ms: u64::from(rare),
                    ..sample()
                };
                let redacted = if rare { vec!["x".to_owned()] } else { Vec::new() };
                journal.record(Kept::new(entry.clone(), token.clone(), redacted.clone()));
                model.push_back((Entry { seq: i as u64 + 1, ..entry }, token, redacted));
                if model.len() > capacity {
                    model.pop_front();
                }
                let skip = model.len().saturating_sub(limit);
                let got = journal.last(limit);
                prop_assert_eq!(got.len(), model.len() - skip);
                for (kept, (entry, token, redacted)) in got.into_iter().zip(model.iter().skip(skip)) {
                    prop_assert_eq!(&kept.token, token);
                    prop_assert_eq!(&kept.redacted, redacted);
                    prop_assert_eq!(&kept.path, &entry.path);
                    prop_assert_eq!(&kept.query, &entry.query);
                    let Kept { seq, status, user, method, .. } = kept;
                    prop_assert_eq!((seq, status, user), (entry.seq, entry.status, entry.user.clone()));
                    prop_assert_eq!(method, entry.method.clone());
                }
            }
            // The text of replaced requests does not pile up.
            prop_assert!(journal.text.len() <= 2 * (capacity + 1) * (40 * 2 + 8 + 6 + 36 + 8) + MIN_COMPACT);
        }
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
            let mut journal = Journal::new(1);
            journal.record(Kept::new(entry.clone(), None, vec![]));
            let kept = journal.last(1).pop().expect("kept");
            assert_eq!(kept.into_entry(), Entry { seq: 1, ..entry }, "through the ring");
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
