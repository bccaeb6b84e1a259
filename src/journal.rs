//! The journal: a bounded per-stand record of requests, what they got, and why.
//!
//! Secrets never enter it: the session token and the password a request carries are masked in
//! the recorded path and query, and headers and bodies are not recorded at all.

use std::collections::VecDeque;

use serde::Serialize;

use crate::engine::Timestamp;

/// One request as the journal records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// Sequence number on the stand, from 1.
    pub seq: u64,
    /// Stand-clock time of the request (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339")]
    pub time: Timestamp,
    /// HTTP method.
    pub method: String,
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

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A ring of the last `capacity` entries.
#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<Entry>,
    capacity: usize,
    seq: u64,
}

impl Journal {
    /// An empty journal keeping at most `capacity` entries (0: records nothing).
    pub fn new(capacity: usize) -> Journal {
        Journal { entries: VecDeque::with_capacity(capacity.min(1024)), capacity, seq: 0 }
    }

    /// Records an entry, numbering it and dropping the oldest beyond capacity.
    pub fn record(&mut self, mut entry: Entry) {
        self.seq += 1;
        if self.capacity == 0 {
            return;
        }
        entry.seq = self.seq;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// The last `limit` entries, oldest first.
    pub fn last(&self, limit: usize) -> Vec<Entry> {
        let skip = self.entries.len().saturating_sub(limit);
        self.entries.iter().skip(skip).cloned().collect()
    }

    /// How many requests were recorded since the start or the last clear (including dropped ones).
    pub fn total(&self) -> u64 {
        self.seq
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.seq = 0;
    }
}

/// `text` with every occurrence of each secret (and of its percent-encoded forms) replaced by
/// `***`. On the hot path: a secret is only searched for where it can occur, and encoded forms
/// are only computed when the text has escapes at all.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out: Option<String> = None;
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(s.as_str()) {
            out = Some(current.replace(s.as_str(), "***"));
        }
        let current = out.as_deref().unwrap_or(text);
        if !current.contains(['%', '+']) {
            continue;
        }
        let encoded = form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let path_encoded = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        for e in [encoded, path_encoded] {
            let current = out.as_deref().unwrap_or(text);
            if e != *s && current.contains(e.as_str()) {
                out = Some(current.replace(e.as_str(), "***"));
            }
        }
    }
    out.unwrap_or_else(|| text.to_owned())
}

/// A query string with the values of secret-looking parameters masked.
pub fn mask_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_name(k) => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "session", "key", "ticket"].iter().any(|s| n.contains(s)) || n == "p"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest() {
        let mut j = Journal::new(2);
        for i in 0..3 {
            j.record(Entry { status: 200 + i, ..sample() });
        }
        let last = j.last(10);
        assert_eq!(last.iter().map(|e| (e.seq, e.status)).collect::<Vec<_>>(), [(2, 201), (3, 202)]);
        assert_eq!(j.total(), 3);
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask("/sn/rest/api/login/u/p%40ss/n", &["p@ss".into()]), "/sn/rest/api/login/u/***/n");
        assert_eq!(
            mask_query("loginName=a&password=b&sessionId=c&output=json"),
            "loginName=a&password=***&sessionId=***&output=json"
        );
    }

    fn sample() -> Entry {
        Entry {
            seq: 0,
            time: Timestamp::from_millis(0),
            method: "GET".into(),
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
