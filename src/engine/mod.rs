//! The session engine every profile shares: accounts, sessions, policy, the clock, tokens.
//!
//! Sans-IO: no HTTP, no serialization, no wall clock (time comes from [`Clock`]). Every operation
//! takes the stand's one lock once, so operations on a stand are linearizable: of N concurrent
//! logins of a single-session user, the one that takes the lock last is the one that survives.

mod account;
mod clock;
pub mod policy;
mod store;
pub mod token;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::published::Published;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::RngCore;

pub use account::{Account, AccountId, Activity, CertificateIdentity};
pub use clock::{Clock, Timestamp};
pub use policy::{Expiry, Policy};
pub use store::{InUse, MemoryStore, Session, Store};

/// How many expired records a login clears on its way, so a client that logs in forever and
/// never logs out cannot grow the store without the background purge.
const PURGE_ON_LOGIN: usize = 4;

/// What a stand's engine starts from, and goes back to on reset.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// The stand id: names the seeded random stream.
    pub stand_id: String,
    /// The accounts, in scenario order.
    pub accounts: Vec<Account>,
    /// The session policy.
    pub policy: Policy,
    /// Seed for tokens and draws; `None`: OS randomness (CSPRNG).
    pub seed: Option<u64>,
    /// Where a manual clock starts (and returns to on reset).
    pub clock_start: Option<Timestamp>,
}

/// One stand's sessions and accounts.
pub struct Engine {
    clock: Clock,
    setup: Setup,
    accounts: Vec<Arc<Account>>,
    by_name: HashMap<String, Vec<AccountId>>,
    /// Taken through [`Engine::lock`], which publishes the store's change count (the purge,
    /// which unlocks fairly, publishes it itself).
    state: Mutex<State>,
    /// The store's [`Store::changes`] as of the last time its lock was let go, readable without
    /// the lock ([`Engine::changes`]).
    changes: AtomicU64,
}

struct State {
    store: MemoryStore,
    activity: Vec<Activity>,
    rng: ChaCha20Rng,
    serial: u64,
}

/// The credential a login (or a stateless call) presents.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// Name and password.
    Password {
        /// Login name.
        user: &'a str,
        /// Password as sent.
        password: &'a str,
    },
    /// An API token or key issued to an account.
    Token(&'a str),
    /// An account the profile has already authenticated (e.g. by client certificate).
    Account(AccountId),
}

/// A login attempt.
#[derive(Clone, Copy, Debug)]
pub struct Login<'a> {
    /// Who, and with what.
    pub credential: Credential<'a>,
    /// Tenant / customer the name is looked up in; `None`: any.
    pub tenant: Option<&'a str>,
    /// The client's address, recorded in the account's activity.
    pub peer: Option<IpAddr>,
    /// Idle timeout for this session instead of the policy's (`Some(None)`: never idles out).
    pub idle: Option<Option<Duration>>,
    /// Let a password login through for an `sso_only` account.
    pub admin_fallback: bool,
}

impl<'a> Login<'a> {
    /// A password login with everything else defaulted.
    pub fn password(user: &'a str, password: &'a str) -> Self {
        Login {
            credential: Credential::Password { user, password },
            tenant: None,
            peer: None,
            idle: None,
            admin_fallback: false,
        }
    }

    /// The same login from `peer`.
    pub fn from_peer(mut self, peer: Option<IpAddr>) -> Self {
        self.peer = peer;
        self
    }
}

/// The token (and profile-owned note) a profile mints for a new session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minted {
    /// The session token in the vendor's shape.
    pub token: String,
    /// Profile-owned data kept with the session.
    pub note: Option<String>,
}

impl Minted {
    /// A token with no note.
    pub fn token(token: String) -> Self {
        Minted { token, note: None }
    }
}

/// Why a login or a credential check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// No such account.
    #[error("unknown user")]
    UnknownUser,
    /// Wrong password or token.
    #[error("wrong password")]
    BadPassword,
    /// The account is disabled.
    #[error("account disabled")]
    Disabled,
    /// The account is locked.
    #[error("account locked")]
    Locked,
    /// Password login for an SSO-only account without the admin fallback.
    #[error("password login not allowed for this account")]
    SsoOnly,
    /// The user has as many live sessions as the policy allows.
    #[error("too many sessions for this user")]
    TooManySessions,
    /// The stand has as many live sessions as the policy allows.
    #[error("too many sessions on this stand")]
    StandFull,
}

/// Why a session token is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Never issued, logged out, ended by a newer login, or expired and purged.
    #[error("unknown session")]
    Unknown,
    /// Found, but expired (it is removed now).
    #[error("session expired ({0:?})")]
    Expired(Expiry),
}

/// A session as the engine reports it to profiles, the control API and the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The token.
    pub token: Arc<str>,
    /// The account's index on the stand.
    pub account_id: AccountId,
    /// The account.
    pub account: Arc<Account>,
    /// Per-stand sequence number, from 1.
    pub serial: u64,
    /// Creation instant.
    pub created: Timestamp,
    /// Last successful use.
    pub last_used: Timestamp,
    /// Idle timeout of this session.
    pub idle: Option<Duration>,
    /// When it expires unless used again (or at its cap).
    pub expires_at: Option<Timestamp>,
    /// Profile-owned data.
    pub note: Option<Box<str>>,
    /// The account's login activity, as of this operation.
    pub activity: Activity,
}

/// Which sessions to expire.
#[derive(Clone, Copy, Debug)]
pub enum Which<'a> {
    /// Every session of the stand.
    All,
    /// The session with this token.
    Token(&'a str),
    /// Every session of the user with this login name.
    User(&'a str),
}

impl Engine {
    /// An engine in the state `setup` describes, on `clock`.
    pub fn new(setup: Setup, clock: Clock) -> Self {
        let accounts: Vec<Arc<Account>> = setup.accounts.iter().cloned().map(Arc::new).collect();
        let mut by_name: HashMap<String, Vec<AccountId>> = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            by_name.entry(a.name.clone()).or_default().push(AccountId(i as u32));
        }
        let state = Mutex::new(State::new(&setup, accounts.len()));
        Engine { clock, setup, accounts, by_name, state, changes: AtomicU64::new(0) }
    }

    /// The engine's state, locked; the store's change count is published when it is let go.
    fn lock(&self) -> Published<'_, State, impl FnMut(&State) + '_> {
        Published::new(self.state.lock(), |state: &State| self.publish(state))
    }

    /// Lets the store's change count out to [`Engine::changes`]: a plain store on x86 (no locked
    /// instruction), on every lock.
    fn publish(&self, state: &State) {
        self.changes.store(state.store.changes(), Ordering::Release);
    }

    /// A number that changes whenever a session is created or removed (login, logout, expiry,
    /// purge, reset), read without taking the engine's lock: while it is unchanged, every token's
    /// [`Engine::status_at`] a given instant is unchanged too (a use only renews a live session).
    /// The journal reads a request's session state after it from the state before it that way.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The stand's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The stand's policy.
    pub fn policy(&self) -> &Policy {
        &self.setup.policy
    }

    /// The setup this engine was built from.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Every account, in scenario order.
    pub fn accounts(&self) -> &[Arc<Account>] {
        &self.accounts
    }

    /// The account with this name (in `tenant`, if given).
    pub fn find_account(&self, name: &str, tenant: Option<&str>) -> Option<AccountId> {
        self.by_name
            .get(name)?
            .iter()
            .copied()
            .find(|id| tenant.is_none_or(|t| self.accounts[id.0 as usize].tenant.as_deref() == Some(t)))
    }

    /// The account with this index.
    pub fn account(&self, id: AccountId) -> Option<&Arc<Account>> {
        self.accounts.get(id.0 as usize)
    }

    /// The login activity of an account.
    pub fn activity(&self, id: AccountId) -> Activity {
        self.lock().activity.get(id.0 as usize).cloned().unwrap_or_default()
    }

    /// Checks a credential without creating a session or recording anything (stateless calls,
    /// such as Junos Space's Basic auth on every resource).
    pub fn verify(
        &self,
        credential: Credential<'_>,
        tenant: Option<&str>,
        admin_fallback: bool,
    ) -> Result<AccountId, LoginError> {
        let state = self.lock();
        self.resolve(&state, credential, tenant, admin_fallback)
    }

    /// Logs in: checks the credential, applies the policy (ending earlier sessions of a
    /// single-session user), mints a token with `mint` from the stand's random stream and stores
    /// the new session. Failed attempts on a known account are recorded in its activity.
    pub fn login(
        &self,
        attempt: Login<'_>,
        mint: impl Fn(&mut dyn RngCore) -> Minted,
    ) -> Result<SessionView, LoginError> {
        let now = self.clock.now();
        let policy = &self.setup.policy;
        let mut state = self.lock();
        let account = match self.resolve(&state, attempt.credential, attempt.tenant, attempt.admin_fallback) {
            Ok(id) => id,
            Err(e) => {
                if let Some(id) = self.named(attempt.credential, attempt.tenant)
                    && let Some(a) = state.activity.get_mut(id.0 as usize)
                {
                    a.last_failure = Some((now, attempt.peer));
                    a.failures_in_a_row = a.failures_in_a_row.saturating_add(1);
                    if e == LoginError::BadPassword && policy.lockout_after.is_some_and(|n| a.failures_in_a_row >= n) {
                        a.locked = true;
                    }
                }
                return Err(e);
            }
        };
        state.purge(policy, now, PURGE_ON_LOGIN);
        if policy.single_session_per_user {
            for token in state.store.tokens_of(account) {
                state.store.delete(&token);
            }
        } else if let Some(max) = policy.max_sessions_per_user
            && state.live_of(account, policy, now) >= max as usize
        {
            return Err(LoginError::TooManySessions);
        }
        if let Some(max) = policy.max_sessions
            && state.store.len() >= max as usize
        {
            state.purge(policy, now, usize::MAX);
            if state.store.len() >= max as usize {
                return Err(LoginError::StandFull);
            }
        }
        state.serial += 1;
        let idle = attempt.idle.unwrap_or(policy.idle_timeout);
        let activity = &mut state.activity[account.0 as usize];
        activity.last_success = Some((now, attempt.peer));
        activity.failures_in_a_row = 0;
        // A token is minted again in the (unlikely) case that it is taken; one lookup otherwise.
        let minted = mint(&mut state.rng);
        state.store.prefetch(&minted.token);
        let mut token: Arc<str> = Arc::from(minted.token);
        let mut session = Session::new(account, state.serial, now, idle, minted.note.map(String::into_boxed_str));
        let view = loop {
            let view = self.view(&state, token.clone(), &session);
            match state.store.insert_new(token.clone(), session) {
                Ok(()) => break view,
                Err((_, mut s)) => {
                    let again = mint(&mut state.rng);
                    token = Arc::from(again.token);
                    s.note = again.note.map(String::into_boxed_str);
                    session = s;
                }
            }
        };
        if let Some(due) = view.expires_at {
            state.store.schedule(token, due);
        }
        Ok(view)
    }

    /// Validates a token and records the use (renewing its idle timeout if the policy says so).
    pub fn authenticate(&self, token: &str) -> Result<SessionView, Invalid> {
        self.access(token, true)
    }

    /// [`Engine::authenticate`] for a caller that only needs to know the token is good: the same
    /// check and recorded use, without building a [`SessionView`].
    pub fn admit(&self, token: &str) -> Result<(), Invalid> {
        self.authenticate_if(token, |_| true).map(drop)
    }

    /// Validates a token and, if `accept` approves the session's profile note, records the use
    /// as [`Engine::authenticate`] does; `Ok(false)`: valid, but refused by `accept` (no use
    /// recorded). One lock, no [`SessionView`] built: for checks that only need a yes or no.
    pub fn authenticate_if(&self, token: &str, accept: impl FnOnce(Option<&str>) -> bool) -> Result<bool, Invalid> {
        let now = self.clock.now();
        let policy = &self.setup.policy;
        let mut state = self.lock();
        with_live(&mut state.store, token, policy, now, |mut record| {
            let session = record.session();
            if !accept(session.note.as_deref()) {
                return false;
            }
            record.set_last_used(policy::used_at(session, policy, now));
            true
        })
    }

    /// The state of a token, changing nothing: `None` if unknown, else valid or why not.
    pub fn status(&self, token: &str) -> Option<Result<(), Expiry>> {
        self.status_at(token, self.clock.now())
    }

    /// The state of a token at `now` (a request's instant, read once for all it asks), changing
    /// nothing.
    pub fn status_at(&self, token: &str, now: Timestamp) -> Option<Result<(), Expiry>> {
        let state = self.lock();
        state.store.get(token).map(|s| policy::check(s, &self.setup.policy, now))
    }

    /// Validates a token without recording a use.
    pub fn peek(&self, token: &str) -> Result<SessionView, Invalid> {
        self.access(token, false)
    }

    /// Ends a session. An expired one is removed and reported as expired.
    pub fn logout(&self, token: &str) -> Result<SessionView, Invalid> {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some((key, session)) = state.store.delete(token) else {
            return Err(Invalid::Unknown);
        };
        // Removed either way: an expired record is what a purge would have taken.
        policy::check(&session, &self.setup.policy, now).map_err(Invalid::Expired)?;
        Ok(self.view_of_removed(&state, key, session))
    }

    /// Ends every session of an account; returns how many were live.
    pub fn logout_account(&self, account: AccountId) -> usize {
        let now = self.clock.now();
        let mut state = self.lock();
        let live = state.live_of(account, &self.setup.policy, now);
        for token in state.store.tokens_of(account) {
            state.store.delete(&token);
        }
        live
    }

    /// Expires sessions now; returns how many live sessions ended.
    pub fn expire(&self, which: Which<'_>) -> usize {
        match which {
            Which::All => {
                let now = self.clock.now();
                let mut state = self.lock();
                let live = state.all_live(&self.setup.policy, now).len();
                state.store.clear();
                live
            }
            Which::Token(t) => usize::from(self.logout(t).is_ok()),
            Which::User(name) => self.by_name.get(name).into_iter().flatten().map(|id| self.logout_account(*id)).sum(),
        }
    }

    /// Every live session, oldest first.
    pub fn sessions(&self) -> Vec<SessionView> {
        let now = self.clock.now();
        let state = self.lock();
        let mut live: Vec<SessionView> = state
            .all_live(&self.setup.policy, now)
            .into_iter()
            .filter_map(|t| state.store.get(&t).map(|s| self.view(&state, t.clone(), s)))
            .collect();
        live.sort_by_key(|v| v.serial);
        live
    }

    /// How many session records are stored, expired-but-not-yet-purged ones included.
    pub fn stored(&self) -> usize {
        self.lock().store.len()
    }

    /// Removes expired records, `batch` at a time, taking the lock once per batch so requests
    /// never wait behind a long purge. Returns how many were removed.
    pub fn purge(&self, batch: usize) -> usize {
        let mut removed = 0;
        loop {
            let (n, more) = self.purge_batch(batch);
            removed += n;
            if !more {
                return removed;
            }
        }
    }

    /// Removes up to `batch` expired records under one lock acquisition, then hands the lock
    /// fairly to any waiting request (a plain unlock would let the purge barge back in first and
    /// starve requests for the whole purge). Returns (removed, whether more may be due).
    pub fn purge_batch(&self, batch: usize) -> (usize, bool) {
        let now = self.clock.now();
        // The one lock not taken through `Engine::lock`: a fair unlock hands over the guard.
        let mut state = self.state.lock();
        let result = state.purge(&self.setup.policy, now, batch.max(1));
        self.publish(&state);
        parking_lot::MutexGuard::unlock_fair(state);
        result
    }

    /// Locks an account at run time (a lockout rule, the control API).
    pub fn lock_account(&self, id: AccountId) {
        if let Some(a) = self.lock().activity.get_mut(id.0 as usize) {
            a.locked = true;
        }
    }

    /// A uniform draw in `[0, 1)` from the stand's random stream.
    pub fn draw(&self) -> f64 {
        (self.lock().rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Back to the state the setup describes: no sessions, fresh activity, the random stream and
    /// the clock restarted.
    pub fn reset(&self) {
        let mut state = self.lock();
        let changes = state.store.changes();
        *state = State::new(&self.setup, self.accounts.len());
        // A reset is a change: the new store counts on from the old one.
        state.store.count_from(changes + 1);
        drop(state);
        self.clock.restart(self.setup.clock_start);
    }

    /// One lookup: the record is checked, used and viewed in place.
    fn access(&self, token: &str, touch: bool) -> Result<SessionView, Invalid> {
        let now = self.clock.now();
        let policy = &self.setup.policy;
        let mut state = self.lock();
        let State { store, activity, .. } = &mut *state;
        with_live(store, token, policy, now, |mut record| {
            if touch {
                record.set_last_used(policy::used_at(record.session(), policy, now));
            }
            let s = record.session();
            self.view_with_note(activity, record.key().clone(), s, s.note.clone())
        })
    }

    fn named(&self, credential: Credential<'_>, tenant: Option<&str>) -> Option<AccountId> {
        match credential {
            Credential::Password { user, .. } => self.find_account(user, tenant),
            Credential::Account(id) => Some(id),
            Credential::Token(_) => None,
        }
    }

    fn resolve(
        &self,
        state: &State,
        credential: Credential<'_>,
        tenant: Option<&str>,
        admin_fallback: bool,
    ) -> Result<AccountId, LoginError> {
        let id = match credential {
            Credential::Password { user, .. } => self.find_account(user, tenant),
            Credential::Account(id) => self.account(id).map(|_| id),
            Credential::Token(t) => (0..self.accounts.len())
                .map(|i| AccountId(i as u32))
                .find(|id| self.accounts[id.0 as usize].token_matches(t)),
        };
        let Some(id) = id else {
            return Err(match credential {
                Credential::Token(_) => LoginError::BadPassword,
                _ => LoginError::UnknownUser,
            });
        };
        let account = &self.accounts[id.0 as usize];
        if let Credential::Password { password, .. } = credential
            && !account.password_matches(password)
        {
            return Err(LoginError::BadPassword);
        }
        if account.disabled {
            return Err(LoginError::Disabled);
        }
        if account.locked || state.activity[id.0 as usize].locked {
            return Err(LoginError::Locked);
        }
        if account.sso_only && matches!(credential, Credential::Password { .. }) && !admin_fallback {
            return Err(LoginError::SsoOnly);
        }
        Ok(id)
    }

    fn view(&self, state: &State, token: Arc<str>, s: &Session) -> SessionView {
        self.view_with_note(&state.activity, token, s, s.note.clone())
    }

    /// [`Engine::view`] of a record the caller took out of the store: its note is moved, not
    /// copied.
    fn view_of_removed(&self, state: &State, token: Arc<str>, mut s: Session) -> SessionView {
        let note = s.note.take();
        self.view_with_note(&state.activity, token, &s, note)
    }

    fn view_with_note(
        &self,
        activity: &[Activity],
        token: Arc<str>,
        s: &Session,
        note: Option<Box<str>>,
    ) -> SessionView {
        SessionView {
            token,
            account_id: s.account,
            account: self.accounts[s.account.0 as usize].clone(),
            serial: s.serial,
            created: s.created,
            last_used: s.last_used,
            idle: s.idle(),
            expires_at: policy::expires_at(s, &self.setup.policy),
            note,
            activity: activity[s.account.0 as usize].clone(),
        }
    }
}

/// `f` of the record of `token` if it names a session live at `now`, in one lookup; an expired
/// record is removed on the way. What a check, a use and a view share.
fn with_live<T>(
    store: &mut MemoryStore,
    token: &str,
    policy: &Policy,
    now: Timestamp,
    f: impl FnOnce(InUse<'_>) -> T,
) -> Result<T, Invalid> {
    let why = match store.in_use(token) {
        None => return Err(Invalid::Unknown),
        Some(record) => match policy::check(record.session(), policy, now) {
            Ok(()) => return Ok(f(record)),
            Err(why) => why,
        },
    };
    store.delete(token);
    Err(Invalid::Expired(why))
}

impl State {
    fn new(setup: &Setup, accounts: usize) -> Self {
        State {
            store: MemoryStore::default(),
            activity: vec![Activity::default(); accounts],
            rng: token::stream(setup.seed, &setup.stand_id),
            serial: 0,
        }
    }

    fn live_of(&self, account: AccountId, policy: &Policy, now: Timestamp) -> usize {
        self.store
            .tokens_of(account)
            .iter()
            .filter(|t| self.store.get(t).is_some_and(|s| policy::check(s, policy, now).is_ok()))
            .count()
    }

    fn all_live(&self, policy: &Policy, now: Timestamp) -> Vec<Arc<str>> {
        let mut tokens = self.store.tokens();
        tokens.retain(|t| self.store.get(t).is_some_and(|s| policy::check(s, policy, now).is_ok()));
        tokens
    }

    /// Takes up to `limit` due records off the queue: expired ones are removed, renewed ones are
    /// queued again at their new deadline. Returns (removed, whether more may be due).
    fn purge(&mut self, policy: &Policy, now: Timestamp, limit: usize) -> (usize, bool) {
        let due = self.store.take_due(now, limit);
        let more = due.len() == limit;
        let mut removed = 0;
        for token in due {
            // Most due records are expired: take each out with one lookup, and put back the few
            // that were renewed since they were scheduled.
            let Some((_, s)) = self.store.delete(&token) else { continue };
            match policy::check(&s, policy, now) {
                Err(_) => removed += 1,
                Ok(()) => {
                    if let Some(next) = policy::expires_at(&s, policy) {
                        self.store.schedule(token.clone(), next);
                    }
                    self.store.insert(token, s);
                }
            }
        }
        (removed, more)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stand", &self.setup.stand_id)
            .field("clock", &self.clock)
            .field("stored", &self.stored())
            .finish()
    }
}
