//! Standin: a faithful, deterministic stand-in for vendor login and session REST APIs.
//!
//! A [`Stand`] serves one vendor [profile](profiles) (Junos Space, …) at the vendor's own paths,
//! over one session [engine] whose clock, seed and rules a [scenario] controls. The same stand is
//! reachable from the command line (`standin serve`), over the control API (`/__standin/…`), and
//! in-process from Rust tests:
//!
//! ```no_run
//! # async fn demo() -> Result<(), standin::Error> {
//! let stand = standin::Stand::builder("junos-space").seed(7).start().await?;
//! println!("point your client at {}", stand.url());
//! # Ok(()) }
//! ```

pub mod alloc;
pub mod control;
pub mod engine;
pub mod faults;
pub mod journal;
pub mod profiles;
mod published;
pub mod resources;
pub mod scenario;

mod server;
mod stand;
pub mod tls;
pub mod wire;

pub use engine::{Clock, Engine, SessionView, Timestamp};
pub use scenario::{Scenario, StandSpec};
pub use stand::{Builder, Error, Stand};

#[doc(hidden)]
pub mod testing {
    //! For the integration tests, examples and benchmark: a stand's actix routes without a
    //! socket, and a process's resident memory.
    use std::sync::Arc;

    use crate::scenario::StandSpec;
    use crate::stand::{Core, Error};

    /// Resident memory of process `pid` in KiB, from `/proc` (0 where there is none): shared by
    /// the isolation tests, the soak example and the benchmark.
    pub fn rss_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// A stand's request handling without a listener.
    #[derive(Clone)]
    pub struct Harness(Arc<Core>);

    impl Harness {
        /// Builds the stand described by `spec`.
        pub fn new(spec: StandSpec) -> Result<Harness, Error> {
            Ok(Harness(Arc::new(Core::new(spec)?)))
        }

        /// The engine.
        pub fn engine(&self) -> &crate::Engine {
            &self.0.engine
        }

        /// Routes for `actix_web::test::init_service(App::new().configure(..))`.
        pub fn configure(&self) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
            crate::server::configure(actix_web::web::Data::from(self.0.clone()))
        }
    }
}
