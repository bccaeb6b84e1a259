//! A stand: one profile on one listener over one engine. Also the library API ([`Stand::builder`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::control;
use crate::engine::{Clock, Engine, Expiry, SessionView, Timestamp, Which};
use crate::faults::{Action, Facts, Rules, SharedRules, Then, Verdict};
use crate::journal::{Entry, Journal, Kept};
use crate::profiles::{self, Handler, Operation, Semantic};
use crate::scenario::{Scenario, StandSpec, parse_span};
use crate::server;
use crate::tls::Tls;
use crate::wire::{HeaderValue, Outcome, Request, Response, Transport};

/// How often the background purge looks for expired sessions (in wall time).
const PURGE_EVERY: Duration = Duration::from_millis(500);
/// Records removed per lock acquisition by the purge.
const PURGE_BATCH: usize = 512;
/// Pause between purge batches, so requests always get the lock between two batches.
const PURGE_PAUSE: Duration = Duration::from_millis(1);

/// Why a stand could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario is invalid.
    #[error("{0}")]
    Scenario(#[from] crate::scenario::Error),
    /// No profile with this id.
    #[error("unknown profile `{0}`, expected one of {ids}", ids = profiles::ids())]
    UnknownProfile(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The stand's TLS could not be set up (certificate and key do not fit, CA file not written).
    #[error("stand `{id}`: {message}")]
    Tls {
        /// Stand id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The stand's profile rejected its options.
    #[error("stand `{id}`: {message}")]
    Options {
        /// Stand id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// The part of a stand that requests see: spec, profile handler, engine, rules, journal.
pub(crate) struct Core {
    pub spec: StandSpec,
    pub handler: Box<dyn Handler>,
    pub engine: Engine,
    pub rules: SharedRules,
    pub journal: Mutex<Journal>,
}

impl Core {
    pub fn new(spec: StandSpec) -> Result<Core, Error> {
        let handler =
            spec.profile.configure(&spec.options).map_err(|message| Error::Options { id: spec.id.clone(), message })?;
        let clock = match spec.manual_clock {
            Some(start) => Clock::manual(start),
            None => Clock::system(),
        };
        let engine = Engine::new(spec.setup.clone(), clock);
        let rules = SharedRules::new(Rules::new(spec.faults.clone()));
        let journal = Mutex::new(Journal::new(spec.journal));
        Ok(Core { spec, handler, engine, rules, journal })
    }

    /// Answers one request: the control API under `/__standin/`; vendor paths through the fault
    /// rules, the scenario's resources and the profile; each vendor request is journaled (the
    /// request is taken so that its path and query move into the journal when nothing in them
    /// needs masking).
    pub fn handle(&self, req: Request) -> Outcome {
        if control::is_control(&req.path) {
            return control::stand(self, &req).into();
        }
        let engine = &self.engine;
        let handler = &self.handler;
        let op = handler.operation(&req);
        let now = engine.clock().now();
        let token = handler.session_token(&req);
        let before = Before::read(engine, token.as_deref(), now);
        let user = handler.user(&req);
        let verdict = if self.rules.is_empty() {
            Verdict::default()
        } else {
            self.rules.lock().evaluate(&Facts { req: &req, op, user: user.clone(), now }, || engine.draw())
        };
        let (response, transport) = match &verdict.action {
            None => (self.respond(&req), Transport::Normal),
            Some((action, then)) => self.act(&req, *action, then, token.as_deref(), user.as_deref()),
        };
        let outcome = Outcome { response, transport, delay: verdict.delay };
        self.record(req, op, user, now, before, token, &outcome, verdict);
        outcome
    }

    /// Answers a request whose body was over [`server::BODY_LIMIT`] and was not read: 413 in the
    /// vendor's error format (JSON for the control API), journaled like any other request. No
    /// fault rule applies and no engine state changes.
    pub fn too_large(&self, req: Request) -> Response {
        if control::is_control(&req.path) {
            return control::error(413, "request body too large");
        }
        let op = self.handler.operation(&req);
        let now = self.engine.clock().now();
        let token = self.handler.session_token(&req);
        let before = Before::read(&self.engine, token.as_deref(), now);
        let mut response = self.handler.render(&self.engine, &req, &Semantic::TooLarge);
        for (name, value) in &self.spec.headers {
            response.headers.push((name.clone().into(), value.clone().into()));
        }
        let outcome = Outcome::from(response);
        self.record(req, op, None, now, before, token, &outcome, Verdict::default());
        outcome.response
    }

    /// The answer with no fault: a scenario resource (guarded by the profile), else the profile.
    fn respond(&self, req: &Request) -> Response {
        let found = self.spec.resources.iter().find_map(|r| r.answer(req).map(|a| (r.public, a)));
        let mut response = match found {
            Some((true, answer)) => answer,
            Some((false, answer)) => match self.handler.admit(&self.engine, req) {
                Ok(_) => answer,
                Err(refusal) => refusal,
            },
            None => self.handler.handle(&self.engine, req),
        };
        for (name, value) in &self.spec.headers {
            response.headers.push((name.clone().into(), value.clone().into()));
        }
        response
    }

    fn act(
        &self,
        req: &Request,
        action: Action,
        then: &Then,
        token: Option<&str>,
        user: Option<&str>,
    ) -> (Response, Transport) {
        let render = |event: Semantic| self.handler.render(&self.engine, req, &event);
        match action {
            Action::RejectLogin => (render(Semantic::LoginRejected), Transport::Normal),
            Action::Unauthorized => (render(Semantic::Unauthorized), Transport::Normal),
            Action::Busy => (render(Semantic::Busy { retry_after: then.retry_after.unwrap_or(30) }), Transport::Normal),
            Action::ExpireSession => {
                if let Some(t) = token {
                    self.engine.expire(Which::Token(t));
                }
                (self.respond(req), Transport::Normal)
            }
            Action::LockAccount => {
                if let Some(id) = user.and_then(|u| self.engine.find_account(u, None)) {
                    self.engine.lock_account(id);
                }
                (self.respond(req), Transport::Normal)
            }
            Action::Status => {
                let mut r = Response::new(then.status.unwrap_or(500));
                for (k, v) in then.headers.iter().flatten() {
                    r = r.header(k.clone(), v.clone());
                }
                (r.body(then.body.clone().unwrap_or_default()), Transport::Normal)
            }
            Action::SlowBody => {
                let interval = then.interval.as_deref().and_then(|i| parse_span(i).ok().flatten()).unwrap_or_default();
                (self.respond(req), Transport::Slow { chunk: then.chunk.unwrap_or(1).max(1), interval })
            }
            Action::Reset => (Response::new(0), Transport::Reset),
            Action::Garbage => (Response::new(0), Transport::Garbage),
            Action::CloseAfterHeaders => (self.respond(req), Transport::CloseAfterHeaders),
            Action::Truncate => (self.respond(req), Transport::Truncate(then.at.unwrap_or(0))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        req: Request,
        op: Operation,
        user: Option<String>,
        now: Timestamp,
        before: Before,
        token: Option<String>,
        outcome: &Outcome,
        verdict: Verdict,
    ) {
        if self.spec.journal == 0 {
            // Counted, not kept: no entry to build.
            self.journal.lock().record_nothing();
            return;
        }
        let redacted = self.handler.redact(&req);
        let entry = Entry {
            seq: 0,
            time: now,
            method: req.method,
            path: req.path,
            query: req.query,
            op: op.as_str(),
            user,
            status: match outcome.transport {
                Transport::Reset | Transport::Garbage => 0,
                _ => outcome.response.status,
            },
            transport: outcome.transport.name(),
            session_before: before.state,
            session_after: before.after(&self.engine, token.as_deref(), now),
            fired: verdict.fired,
            draws: verdict.draws,
            delay_ms: outcome.delay.as_millis() as u64,
        };
        // Masked when read: the path and query are moved in as they came.
        self.journal.lock().record(Kept::new(entry, token, redacted));
    }

    /// The journal's total and its last `limit` entries, masked once its lock is let go.
    pub fn journal_entries(&self, limit: usize) -> (u64, Vec<Entry>) {
        let (total, kept) = {
            let journal = self.journal.lock();
            (journal.total(), journal.last(limit))
        };
        (total, kept.into_iter().map(Kept::into_entry).collect())
    }

    /// The `Date` header for now on the stand clock (formatted once a second per thread: the
    /// text depends on the instant alone, so stands share it, and a thread's copy takes no lock).
    pub fn date_header(&self) -> HeaderValue {
        thread_local! {
            static LAST: std::cell::RefCell<(i64, HeaderValue)> =
                const { std::cell::RefCell::new((i64::MIN, HeaderValue::from_static(""))) };
        }
        let now = self.engine.clock().now();
        let second = now.as_millis().div_euclid(1000);
        LAST.with_borrow_mut(|(kept, value)| {
            if *kept != second {
                *value = HeaderValue::try_from(now.to_http_date()).expect("an HTTP date is a valid header value");
                *kept = second;
            }
            value.clone()
        })
    }

    /// Back to the scenario's initial state: engine, rules, journal.
    pub fn reset(&self) {
        self.engine.reset();
        *self.rules.lock() = Rules::new(self.spec.faults.clone());
        self.journal.lock().clear();
    }
}

/// The state of a request's session at its instant, read before it is answered, with the
/// engine's change count then: the state after it is the same unless a session was created or
/// removed meanwhile, and is read again only then (a check or a use, most requests, changes none).
#[derive(Clone, Copy)]
struct Before {
    state: &'static str,
    changes: u64,
}

impl Before {
    fn read(engine: &Engine, token: Option<&str>, now: Timestamp) -> Before {
        // The count first: a change between the two readings is then seen as one after.
        let changes = engine.changes();
        Before { state: session_state(engine, token, now), changes }
    }

    /// The state of the same token at the same instant, after the request.
    fn after(self, engine: &Engine, token: Option<&str>, now: Timestamp) -> &'static str {
        if token.is_none() || engine.changes() == self.changes {
            return self.state;
        }
        session_state(engine, token, now)
    }
}

/// The journal's name for the state of the request's session at the request's instant (before
/// and after it is answered: both at `now`, so that only what the request did tells them apart).
fn session_state(engine: &Engine, token: Option<&str>, now: Timestamp) -> &'static str {
    match token.map(|t| engine.status_at(t, now)) {
        None => "none",
        Some(None) => "unknown",
        Some(Some(Ok(()))) => "live",
        Some(Some(Err(Expiry::Idle))) => "expired-idle",
        Some(Some(Err(Expiry::Absolute))) => "expired-absolute",
    }
}

/// A running stand. Shut down when dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), standin::Error> {
/// let stand = standin::Stand::builder("junos-space")
///     .scenario_file("scenarios/junos-space-idle-expiry.toml")?
///     .start()
///     .await?;
/// let url = stand.url(); // http://127.0.0.1:<free port>
/// stand.clock().advance(std::time::Duration::from_secs(31 * 60));
/// assert!(stand.sessions().is_empty());
/// # Ok(()) }
/// ```
pub struct Stand {
    core: Arc<Core>,
    addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
    purger: tokio::task::JoinHandle<()>,
    tls: Option<Arc<Tls>>,
}

impl Stand {
    /// A builder for an in-process stand of `profile`, on 127.0.0.1 and a free port.
    pub fn builder(profile: &str) -> Builder {
        Builder {
            profile: profile.to_owned(),
            scenario: None,
            seed: None,
            manual_clock: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            workers: 1,
        }
    }

    /// Binds `spec`'s port on `host` and starts serving. Must be called within a Tokio runtime.
    pub fn start_spec(spec: StandSpec, host: IpAddr, workers: usize) -> Result<Stand, Error> {
        let addr = SocketAddr::new(host, spec.port);
        let listener = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        Stand::start_on(spec, listener, workers)
    }

    /// Starts serving `spec` on a listener the caller bound (the CLI binds every port first, so
    /// that a port in use fails before anything is served). Must be called within a Tokio runtime.
    pub fn start_on(spec: StandSpec, listener: std::net::TcpListener, workers: usize) -> Result<Stand, Error> {
        let addr = listener.local_addr().map_err(|source| Error::Bind { addr: unspecified(), source })?;
        let tls = match &spec.tls {
            Some(t) => Some(Arc::new(
                Tls::prepare(t, &spec.id, addr.ip(), addr.port())
                    .map_err(|message| Error::Tls { id: spec.id.clone(), message })?,
            )),
            None => None,
        };
        let core = Arc::new(Core::new(spec)?);
        let server = match &tls {
            Some(t) => server::serve_tls(core.clone(), listener, workers, t.clone()),
            None => server::serve(core.clone(), listener, workers),
        }
        .map_err(|source| Error::Bind { addr, source })?;
        let purger = tokio::spawn(purge_forever(core.clone()));
        Ok(Stand { core, addr, server, purger, tls })
    }

    /// The stand's id.
    pub fn id(&self) -> &str {
        &self.core.spec.id
    }

    /// The profile id.
    pub fn profile(&self) -> &'static str {
        self.core.spec.profile.id()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`, or `https://host:port` for an HTTPS stand.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA certificate (PEM) that signed the stand's start-up certificate, and the file it was
    /// written to; `None` unless the scenario asked for `generate = true`.
    pub fn generated_ca(&self) -> Option<(&str, &Path)> {
        self.tls.as_ref()?.generated_ca.as_ref().map(|(pem, path)| (pem.as_str(), path.as_path()))
    }

    /// The stand's clock (clones share time).
    pub fn clock(&self) -> &Clock {
        self.core.engine.clock()
    }

    /// The stand's engine: the same calls the control API makes.
    pub fn engine(&self) -> &Engine {
        &self.core.engine
    }

    /// The live sessions, oldest first.
    pub fn sessions(&self) -> Vec<SessionView> {
        self.core.engine.sessions()
    }

    /// Back to the scenario's initial state (sessions, activity, clock, seed, faults, journal).
    pub fn reset(&self) {
        self.core.reset();
    }

    /// The last `limit` journal entries, oldest first.
    pub fn journal(&self, limit: usize) -> Vec<crate::journal::Entry> {
        self.core.journal_entries(limit).1
    }

    /// Adds a fault rule at run time; returns its id.
    pub fn add_fault(&self, rule: crate::faults::Rule) -> String {
        self.core.rules.lock().add(rule)
    }

    /// Removes a fault rule; `false` if there is none with that id.
    pub fn remove_fault(&self, id: &str) -> bool {
        self.core.rules.lock().remove(id)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the workers to end.
    pub async fn stop(self) {
        self.purger.abort();
        self.server.stop(true).await;
    }

    /// Stops at once (in-flight requests are dropped) and waits for the workers to end.
    pub async fn stop_now(self) {
        self.purger.abort();
        self.server.stop(false).await;
    }

    /// A handle that stops the server ([`Registry::stop_all`](crate::control::listener::Registry::stop_all)).
    pub(crate) fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.clone()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        self.purger.abort();
        // The stop command is sent when `stop` is called; the returned future only waits for it.
        drop(self.server.stop(false));
        if let Some(tls) = &self.tls {
            tls.remove_temporary_ca();
        }
    }
}

impl std::fmt::Debug for Stand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stand").field("id", &self.id()).field("url", &self.url()).finish()
    }
}

fn unspecified() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
}

async fn purge_forever(core: Arc<Core>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut removed = 0;
        loop {
            let (n, more) = core.engine.purge_batch(PURGE_BATCH);
            removed += n;
            if !more {
                break;
            }
            // Step aside between batches: a waiting request thread may still be spinning rather
            // than parked, and would lose the lock to an eager purge again and again.
            tokio::time::sleep(PURGE_PAUSE).await;
        }
        if removed > 0 {
            tracing::debug!(stand = %core.spec.id, removed, "purged expired sessions");
        }
    }
}

/// Builds an in-process [`Stand`].
#[derive(Debug)]
pub struct Builder {
    profile: String,
    scenario: Option<Scenario>,
    seed: Option<u64>,
    manual_clock: Option<Timestamp>,
    host: IpAddr,
    port: u16,
    workers: usize,
}

impl Builder {
    /// Uses the first stand of this profile in a scenario file.
    pub fn scenario_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.scenario = Some(Scenario::load(path.as_ref())?);
        Ok(self)
    }

    /// Uses the first stand of this profile in scenario text (TOML or JSON).
    pub fn scenario_str(mut self, text: &str) -> Result<Self, Error> {
        self.scenario = Some(Scenario::parse(text, "<library>")?);
        Ok(self)
    }

    /// Deterministic tokens and draws.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// A manual clock starting at `start`.
    pub fn manual_clock(mut self, start: Timestamp) -> Self {
        self.manual_clock = Some(start);
        self
    }

    /// Listen on this port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Listen on this address instead of 127.0.0.1.
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Worker threads (default 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The spec the stand will run.
    pub fn spec(&self) -> Result<StandSpec, Error> {
        let profile = profiles::find(&self.profile).ok_or_else(|| Error::UnknownProfile(self.profile.clone()))?;
        let from = |s: &Scenario| s.stands.iter().find(|st| st.profile.id() == profile.id()).cloned();
        let mut spec = match &self.scenario {
            Some(s) => from(s).ok_or_else(|| {
                Error::Scenario(crate::scenario::Error {
                    origin: s.origin.clone(),
                    line: 0,
                    column: 0,
                    path: "stands".into(),
                    message: format!("no stand with profile `{}`", profile.id()),
                })
            })?,
            None => from(&Scenario::embedded_default()).ok_or_else(|| Error::UnknownProfile(self.profile.clone()))?,
        };
        spec.port = self.port;
        if let Some(seed) = self.seed {
            spec.setup.seed = Some(seed);
        }
        if let Some(start) = self.manual_clock {
            spec.manual_clock = Some(start);
            spec.setup.clock_start = Some(start);
        }
        Ok(spec)
    }

    /// Starts the stand. Must be awaited within a Tokio (or actix) runtime.
    pub async fn start(self) -> Result<Stand, Error> {
        Stand::start_spec(self.spec()?, self.host, self.workers)
    }
}
