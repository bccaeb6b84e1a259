//! A stand: one profile on one listener over one engine. Also the library API ([`Stand::builder`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::control;
use crate::engine::{Clock, Engine, SessionView, Timestamp};
use crate::profiles::{self, Handler};
use crate::scenario::{Scenario, StandSpec};
use crate::server;
use crate::wire::{Request, Response};

/// How often the background purge looks for expired sessions (in wall time).
const PURGE_EVERY: Duration = Duration::from_millis(500);
/// Records removed per lock acquisition by the purge.
const PURGE_BATCH: usize = 4096;

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
    /// The stand's profile rejected its options.
    #[error("stand `{id}`: {message}")]
    Options {
        /// Stand id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// The part of a stand that requests see: spec, profile handler, engine.
pub(crate) struct Core {
    pub spec: StandSpec,
    pub handler: Box<dyn Handler>,
    pub engine: Engine,
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
        Ok(Core { spec, handler, engine })
    }

    /// Answers one request: the control API under `/__standin/`, the vendor's paths elsewhere.
    pub fn handle(&self, req: &Request) -> Response {
        let mut response = if control::is_control(&req.path) {
            control::stand(self, req)
        } else {
            self.handler.handle(&self.engine, req)
        };
        for (name, value) in &self.spec.headers {
            response.headers.push((name.clone().into(), value.clone()));
        }
        response
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
        let core = Arc::new(Core::new(spec)?);
        let server = server::serve(core.clone(), listener, workers).map_err(|source| Error::Bind { addr, source })?;
        let purger = tokio::spawn(purge_forever(core.clone()));
        Ok(Stand { core, addr, server, purger })
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

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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

    /// Back to the scenario's initial state.
    pub fn reset(&self) {
        self.core.engine.reset();
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the workers to end.
    pub async fn stop(self) {
        self.purger.abort();
        self.server.stop(true).await;
    }

    /// A handle that stops the server (used by the CLI for graceful shutdown of every stand).
    pub(crate) fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.clone()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        self.purger.abort();
        // The stop command is sent when `stop` is called; the returned future only waits for it.
        drop(self.server.stop(false));
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
        let removed = core.engine.purge(PURGE_BATCH);
        if removed > 0 {
            tracing::debug!(stand = %core.spec.id, removed, "purged expired sessions");
        }
        tokio::task::yield_now().await;
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
