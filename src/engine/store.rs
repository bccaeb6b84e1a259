//! Session storage: the record, the small `Store` trait the engine speaks, and the in-memory store.
//!
//! The store keeps records and indexes; it makes no policy decision. A shared store (Redis, for
//! several Standin processes behind one load balancer) would implement the same trait.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::{AccountId, Timestamp};

/// One session record. Compact on purpose: a stand may hold a million of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The account the session belongs to.
    pub account: AccountId,
    /// Per-stand sequence number, from 1 (SensNet's `id`, Junos Space's session key).
    pub serial: u64,
    /// When the session was created.
    pub created: Timestamp,
    /// When the session was last used successfully (login counts as a use).
    pub last_used: Timestamp,
    /// Idle timeout of this session in milliseconds, fixed at login; `u64::MAX` for none.
    idle_ms: u64,
    /// Profile-owned data (SensNet's note, Junos Space's JSESSIONID).
    pub note: Option<Box<str>>,
}

impl Session {
    /// A session created at `created`, idling out after `idle` (none: never).
    pub fn new(
        account: AccountId,
        serial: u64,
        created: Timestamp,
        idle: Option<Duration>,
        note: Option<Box<str>>,
    ) -> Self {
        let idle_ms = idle.map_or(u64::MAX, |d| d.as_millis().min(u64::MAX as u128 - 1) as u64);
        Session { account, serial, created, last_used: created, idle_ms, note }
    }

    /// The idle timeout fixed for this session at login.
    pub fn idle(&self) -> Option<Duration> {
        (self.idle_ms != u64::MAX).then(|| Duration::from_millis(self.idle_ms))
    }
}

/// What the engine needs from session storage. Every method is a plain data operation; the
/// decisions (valid? expired why? new deadline?) are made by `policy` from the record.
pub trait Store: Send {
    /// The record for `token`.
    fn get(&self, token: &str) -> Option<&Session>;
    /// The stored (shared) key for `token`.
    fn key(&self, token: &str) -> Option<Arc<str>>;
    /// Stores a new record.
    fn insert(&mut self, token: Arc<str>, session: Session);
    /// Records a use of `token` at `last_used`; `false` if there is no such record.
    fn touch(&mut self, token: &str, last_used: Timestamp) -> bool;
    /// Removes and returns the record for `token`.
    fn delete(&mut self, token: &str) -> Option<Session>;
    /// Asks to be handed `token` by [`Store::take_due`] once `at` has come.
    fn schedule(&mut self, token: Arc<str>, at: Timestamp);
    /// Up to `limit` scheduled tokens whose instant is at or before `now`, taken off the queue.
    /// They may be gone already or renewed since: the caller re-checks each one.
    fn take_due(&mut self, now: Timestamp, limit: usize) -> Vec<Arc<str>>;
    /// Tokens of every record of `account`.
    fn tokens_of(&self, account: AccountId) -> Vec<Arc<str>>;
    /// How many records `account` has.
    fn count_of(&self, account: AccountId) -> usize;
    /// How many records there are, expired or not.
    fn len(&self) -> usize;
    /// `true` when there are no records.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every token, in no particular order.
    fn tokens(&self) -> Vec<Arc<str>>;
    /// Drops everything.
    fn clear(&mut self);
}

/// The in-memory store: a hash map of records, a per-user index, and the purge queue: deadlines
/// bucketed by second (`BTreeMap<second, Vec<token>>`), so taking due records is a sequential
/// walk rather than a binary-heap sift per record over a million entries.
///
/// The queue holds one entry per scheduled record; a renewal does not add one, the engine
/// schedules a record again when its old instant comes up and it is still valid (lazy deletion).
/// A deadline is purged at the first whole second at or after it (up to a second late); expiry
/// itself is decided exactly, on every access.
#[derive(Default)]
pub struct MemoryStore {
    sessions: HashMap<Arc<str>, Session, Hasher>,
    users: HashMap<AccountId, HashSet<Arc<str>, Hasher>, Hasher>,
    due: BTreeMap<i64, Vec<Arc<str>>>,
}

/// Tokens are random, so a fast keyed hash (foldhash, randomly seeded per process) is enough.
type Hasher = foldhash::fast::RandomState;

/// The purge bucket of a deadline: the first whole second at or after it. A bucket is due once
/// that second has come, so a deadline on a second boundary is purged exactly on time, and a
/// record scheduled again (its deadline later than now) never lands in a bucket already due.
fn bucket_of(t: Timestamp) -> i64 {
    t.as_millis().saturating_add(999).div_euclid(1000)
}

impl Store for MemoryStore {
    fn get(&self, token: &str) -> Option<&Session> {
        self.sessions.get(token)
    }

    fn key(&self, token: &str) -> Option<Arc<str>> {
        self.sessions.get_key_value(token).map(|(k, _)| k.clone())
    }

    fn insert(&mut self, token: Arc<str>, session: Session) {
        self.users.entry(session.account).or_default().insert(token.clone());
        if let Some(old) = self.sessions.insert(token.clone(), session)
            && self.sessions.get(&token).is_some_and(|s| s.account != old.account)
        {
            self.unindex(old.account, &token);
        }
    }

    fn touch(&mut self, token: &str, last_used: Timestamp) -> bool {
        match self.sessions.get_mut(token) {
            Some(s) => {
                s.last_used = last_used;
                true
            }
            None => false,
        }
    }

    fn delete(&mut self, token: &str) -> Option<Session> {
        let (key, s) = self.sessions.remove_entry(token)?;
        self.unindex(s.account, &key);
        Some(s)
    }

    fn schedule(&mut self, token: Arc<str>, at: Timestamp) {
        self.due.entry(bucket_of(at)).or_default().push(token);
    }

    fn take_due(&mut self, now: Timestamp, limit: usize) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        let last_due = now.as_millis().div_euclid(1000);
        while out.len() < limit {
            let Some(mut bucket) = self.due.first_entry() else { break };
            if *bucket.key() > last_due {
                break;
            }
            let tokens = bucket.get_mut();
            let take = (limit - out.len()).min(tokens.len());
            out.extend(tokens.drain(tokens.len() - take..));
            if tokens.is_empty() {
                bucket.remove();
            }
        }
        out
    }

    fn tokens_of(&self, account: AccountId) -> Vec<Arc<str>> {
        self.users.get(&account).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    fn count_of(&self, account: AccountId) -> usize {
        self.users.get(&account).map_or(0, HashSet::len)
    }

    fn len(&self) -> usize {
        self.sessions.len()
    }

    fn tokens(&self) -> Vec<Arc<str>> {
        self.sessions.keys().cloned().collect()
    }

    fn clear(&mut self) {
        *self = MemoryStore::default();
    }
}

impl MemoryStore {
    fn unindex(&mut self, account: AccountId, token: &str) {
        if let Some(set) = self.users.get_mut(&account) {
            set.remove(token);
            if set.is_empty() {
                self.users.remove(&account);
            }
        }
    }
}
