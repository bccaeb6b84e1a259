//! Session storage: the record, the small `Store` trait the engine speaks, and the in-memory store.
//!
//! The store keeps records and indexes; it makes no policy decision. A shared store (Redis, for
//! several Standin processes behind one load balancer) would implement the same trait.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashTable;

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
    /// Where the store keeps this record in its account's index (fills padding: no extra bytes).
    slot: u32,
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
        Session { account, serial, created, last_used: created, idle_ms, note, slot: 0 }
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
    /// The stored (shared) key for `token`, with its record.
    fn get_key_value(&self, token: &str) -> Option<(&Arc<str>, &Session)>;
    /// Stores a record, replacing any with the same token.
    fn insert(&mut self, token: Arc<str>, session: Session);
    /// Stores a record if no record has its token (one lookup); else hands the record back.
    fn insert_new(&mut self, token: Arc<str>, session: Session) -> Result<(), (Arc<str>, Session)>;
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

/// The in-memory store: the records in a sharded hash table, a per-account index, and the purge
/// queue: deadlines bucketed by second, so taking due records is a sequential walk rather than a
/// binary-heap sift per record over a million entries.
///
/// Nothing in it ever grows in one step proportional to the number of records: a hash table
/// doubles by rehashing every entry under the stand's lock (263 ms at 900 k records in one
/// table, at most 0.4 ms over 1024 tables here), so records are spread over [`SHARDS`] tables
/// that each grow on their own, and the per-account index and the purge buckets are [`Bag`]s of
/// fixed-size chunks.
///
/// The queue holds one entry per scheduled record; a renewal does not add one, the engine
/// schedules a record again when its old instant comes up and it is still valid (lazy deletion).
/// A deadline is purged at the first whole second at or after it (up to a second late); expiry
/// itself is decided exactly, on every access.
#[derive(Default)]
pub struct MemoryStore {
    records: Records,
    /// Tokens by account index; a record's `slot` is its place in its account's bag.
    users: Vec<Bag>,
    due: BTreeMap<i64, Bag>,
}

/// Tokens are random, so a fast keyed hash (foldhash, randomly seeded per process) is enough.
type Hasher = foldhash::fast::RandomState;

/// How many hash tables the records are spread over (a power of two).
const SHARDS: usize = 1024;
/// Tokens per chunk of a [`Bag`].
const CHUNK: usize = 1024;

/// The purge bucket of a deadline: the first whole second at or after it. A bucket is due once
/// that second has come, so a deadline on a second boundary is purged exactly on time, and a
/// record scheduled again (its deadline later than now) never lands in a bucket already due.
fn bucket_of(t: Timestamp) -> i64 {
    t.as_millis().saturating_add(999).div_euclid(1000)
}

/// Records by token, over [`SHARDS`] hash tables chosen by bits of the token's hash that the
/// tables themselves do not use (hashbrown takes the low bits for the bucket and the top seven
/// for its tags).
#[derive(Default)]
struct Records {
    /// Empty until the first insert, so that an idle stand costs nothing.
    shards: Vec<HashTable<Stored>>,
    hasher: Hasher,
    len: usize,
}

/// A record in its table, with its token's hash: a table that grows rehashes from the stored
/// hash rather than reading every token again (a cache miss each, on a table of a million).
struct Stored {
    token: Arc<str>,
    session: Session,
    hash: u64,
}

impl Records {
    fn locate(&self, token: &str) -> (u64, usize) {
        let hash = self.hasher.hash_one(token);
        (hash, (hash >> 40) as usize & (SHARDS - 1))
    }

    fn get(&self, token: &str) -> Option<(&Arc<str>, &Session)> {
        let (hash, shard) = self.locate(token);
        self.shards.get(shard)?.find(hash, |r| *r.token == *token).map(|r| (&r.token, &r.session))
    }

    fn get_mut(&mut self, token: &str) -> Option<&mut Session> {
        let (hash, shard) = self.locate(token);
        self.shards.get_mut(shard)?.find_mut(hash, |r| *r.token == *token).map(|r| &mut r.session)
    }

    /// Inserts a record if `token` is not stored yet (one hash, one probe), its slot in its
    /// account's index given by `slot`; else hands the record back without calling `slot`.
    fn try_insert(
        &mut self,
        token: Arc<str>,
        mut session: Session,
        slot: impl FnOnce(&Arc<str>) -> u32,
    ) -> Result<(), (Arc<str>, Session)> {
        let (hash, shard) = self.locate(&token);
        self.allocate();
        let table = &mut self.shards[shard];
        match table.entry(hash, |r| *r.token == *token, |r| r.hash) {
            hashbrown::hash_table::Entry::Occupied(_) => Err((token, session)),
            hashbrown::hash_table::Entry::Vacant(v) => {
                session.slot = slot(&token);
                v.insert(Stored { token, session, hash });
                self.len += 1;
                Ok(())
            }
        }
    }

    /// The tables, allocated on the first insert so that an idle stand costs nothing.
    fn allocate(&mut self) {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| HashTable::new()).collect();
        }
    }

    fn remove(&mut self, token: &str) -> Option<(Arc<str>, Session)> {
        let (hash, shard) = self.locate(token);
        let entry = self.shards.get_mut(shard)?.find_entry(hash, |r| *r.token == *token).ok()?;
        self.len -= 1;
        let record = entry.remove().0;
        Some((record.token, record.session))
    }

    fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.shards.iter().flat_map(|t| t.iter().map(|r| &r.token))
    }
}

/// A list of tokens in chunks of [`CHUNK`]: pushing never moves more than one chunk, and a
/// removal swaps the last token into the hole, so every token keeps a stable index (its slot)
/// until it is moved, and the caller is told which one moved.
#[derive(Default)]
struct Bag {
    /// Every chunk but the last is full.
    chunks: Vec<Vec<Arc<str>>>,
    len: usize,
}

impl Bag {
    /// Adds a token; returns its slot.
    fn push(&mut self, token: Arc<str>) -> u32 {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(token),
            _ => self.chunks.push(vec![token]),
        }
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Takes the last token.
    fn pop(&mut self) -> Option<Arc<str>> {
        let last = self.chunks.last_mut()?;
        let token = last.pop()?;
        if last.is_empty() && self.chunks.len() > 1 {
            self.chunks.pop();
        }
        self.len -= 1;
        Some(token)
    }

    /// Removes the token at `slot` by moving the last one into it; returns the moved token
    /// (now at `slot`), if another token moved.
    fn swap_remove(&mut self, slot: u32) -> Option<Arc<str>> {
        let slot = slot as usize;
        if slot >= self.len {
            return None;
        }
        let last = self.pop()?;
        if slot == self.len {
            return None;
        }
        let place = &mut self.chunks[slot / CHUNK][slot % CHUNK];
        *place = last.clone();
        Some(last)
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        self.chunks.iter().flatten()
    }
}

impl Store for MemoryStore {
    fn get(&self, token: &str) -> Option<&Session> {
        self.records.get(token).map(|(_, s)| s)
    }

    fn get_key_value(&self, token: &str) -> Option<(&Arc<str>, &Session)> {
        self.records.get(token)
    }

    fn insert(&mut self, token: Arc<str>, session: Session) {
        self.delete(&token);
        // Cannot be refused: the token was just removed.
        let _ = self.insert_new(token, session);
    }

    fn insert_new(&mut self, token: Arc<str>, session: Session) -> Result<(), (Arc<str>, Session)> {
        let account = session.account.0 as usize;
        if self.users.len() <= account {
            self.users.resize_with(account + 1, Bag::default);
        }
        let users = &mut self.users[account];
        self.records.try_insert(token, session, |t| users.push(t.clone()))
    }

    fn touch(&mut self, token: &str, last_used: Timestamp) -> bool {
        match self.records.get_mut(token) {
            Some(s) => {
                s.last_used = last_used;
                true
            }
            None => false,
        }
    }

    fn delete(&mut self, token: &str) -> Option<Session> {
        let (_, s) = self.records.remove(token)?;
        let moved = self.users.get_mut(s.account.0 as usize).and_then(|bag| bag.swap_remove(s.slot));
        if let Some(moved) = moved
            && let Some(m) = self.records.get_mut(&moved)
        {
            m.slot = s.slot;
        }
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
            while out.len() < limit
                && let Some(t) = tokens.pop()
            {
                out.push(t);
            }
            if tokens.len == 0 {
                bucket.remove();
            }
        }
        out
    }

    fn tokens_of(&self, account: AccountId) -> Vec<Arc<str>> {
        self.users.get(account.0 as usize).map(|bag| bag.iter().cloned().collect()).unwrap_or_default()
    }

    fn count_of(&self, account: AccountId) -> usize {
        self.users.get(account.0 as usize).map_or(0, |bag| bag.len)
    }

    fn len(&self) -> usize {
        self.records.len
    }

    fn tokens(&self) -> Vec<Arc<str>> {
        self.records.keys().cloned().collect()
    }

    fn clear(&mut self) {
        *self = MemoryStore::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(account: u32, serial: u64) -> Session {
        Session::new(AccountId(account), serial, Timestamp::from_millis(0), None, None)
    }

    #[test]
    fn the_account_index_follows_inserts_and_deletes_across_chunks() {
        let mut store = MemoryStore::default();
        let n = CHUNK * 2 + 7;
        let tokens: Vec<Arc<str>> = (0..n).map(|i| Arc::from(format!("t{i}"))).collect();
        for (i, t) in tokens.iter().enumerate() {
            store.insert(t.clone(), session((i % 2) as u32, i as u64));
        }
        assert_eq!(store.len(), n);
        assert_eq!(store.count_of(AccountId(0)) + store.count_of(AccountId(1)), n);
        // Delete every third token, from both ends of the bags, then check the index exactly.
        for t in tokens.iter().step_by(3) {
            assert!(store.delete(t).is_some());
            assert!(store.delete(t).is_none());
        }
        for account in [0u32, 1] {
            let mut have: Vec<Arc<str>> = store.tokens_of(AccountId(account));
            let mut want: Vec<Arc<str>> = tokens
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == account as usize && i % 3 != 0)
                .map(|(_, t)| t.clone())
                .collect();
            have.sort();
            want.sort();
            assert_eq!(have, want);
            assert_eq!(store.count_of(AccountId(account)), want.len());
            for (slot, t) in store.users[account as usize].iter().enumerate() {
                assert_eq!(store.get(t).map(|s| s.slot as usize), Some(slot), "slot of {t}");
            }
        }
        // Re-inserting a stored token under another account moves it between indexes.
        store.insert(tokens[1].clone(), session(0, 99));
        assert!(store.tokens_of(AccountId(0)).contains(&tokens[1]));
        assert!(!store.tokens_of(AccountId(1)).contains(&tokens[1]));
        assert_eq!(store.len(), n - n.div_ceil(3));
    }

    #[test]
    fn due_tokens_come_out_once_and_in_limits() {
        let mut store = MemoryStore::default();
        for i in 0..(CHUNK * 3) {
            store.schedule(Arc::from(format!("t{i}")), Timestamp::from_millis(1_000 * (i % 3) as i64));
        }
        assert!(store.take_due(Timestamp::from_millis(-1), usize::MAX).is_empty());
        let first = store.take_due(Timestamp::from_millis(1_000), 1_500);
        assert_eq!(first.len(), 1_500);
        let rest = store.take_due(Timestamp::from_millis(1_000), usize::MAX);
        assert_eq!(first.len() + rest.len(), CHUNK * 2);
        assert_eq!(store.take_due(Timestamp::from_millis(2_000), usize::MAX).len(), CHUNK);
        assert!(store.due.is_empty());
    }
}
