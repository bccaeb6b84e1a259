//! The `standin` command line: a thin layer over the library.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use standin::control::Access;
use standin::control::listener::{self, Registry};
use standin::{Scenario, Stand, profiles};

/// mimalloc: a request allocates a few dozen small objects, and a stand that grows to a million
/// sessions must not pay for the system allocator handing pages back and faulting them in again.
#[global_allocator]
static ALLOCATOR: standin::alloc::Mimalloc = standin::alloc::Mimalloc;

/// A faithful, deterministic stand-in for vendor login and session REST APIs.
#[derive(Parser)]
#[command(name = "standin", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the stands of the given scenario files (the embedded default when none is given).
    Serve {
        /// Scenario files (TOML, or JSON with the same schema).
        scenarios: Vec<PathBuf>,
        /// Address every listener binds to.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        host: IpAddr,
        /// Port of the control listener (0: any free port).
        #[arg(long, default_value_t = 7400)]
        control_port: u16,
        /// Seed for every stand: deterministic tokens and draws.
        #[arg(long)]
        seed: Option<u64>,
        /// Require `Authorization: Bearer <TOKEN>` on every control request (also from
        /// STANDIN_CONTROL_TOKEN). Needed to listen on a non-loopback --host.
        #[arg(long, env = "STANDIN_CONTROL_TOKEN", hide_env_values = true)]
        control_token: Option<String>,
        /// Worker threads per stand.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        workers: u16,
    },
    /// List the vendor profiles.
    Profiles,
    /// Print the JSON Schema of the scenario format (docs/scenario.schema.json).
    Schema,
    /// Validate scenario files; prints one line per error.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Profiles => {
            for p in profiles::ALL {
                println!("{:<14} {:>5}  {}", p.id(), p.default_port(), p.summary());
            }
            ExitCode::SUCCESS
        }
        Command::Check { files } => check(&files),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&standin::scenario::schema()).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::Serve { scenarios, host, control_port, seed, control_token, workers } => {
            init_logs();
            let options = Options { host, control_port, seed, control_token, workers: usize::from(workers) };
            let system = actix_web::rt::System::new();
            match system.block_on(serve(scenarios, options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("standin: {message}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("standin=info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        match Scenario::load(f) {
            Ok(s) => println!("{}: ok ({} stands)", f.display(), s.stands.len()),
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    if failed { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

struct Options {
    host: IpAddr,
    control_port: u16,
    seed: Option<u64>,
    control_token: Option<String>,
    workers: usize,
}

async fn serve(files: Vec<PathBuf>, options: Options) -> Result<(), String> {
    let Options { host, control_port, seed, control_token, workers } = options;
    if !host.is_loopback() && control_token.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "--host {host} is not a loopback address: the control API would be reachable from the network; \
             set --control-token (or STANDIN_CONTROL_TOKEN) to allow it"
        ));
    }
    let access = Access { token: control_token.filter(|t| !t.is_empty()).map(Into::into) };
    let mut specs = Vec::new();
    let scenarios = if files.is_empty() {
        vec![Scenario::embedded_default()]
    } else {
        files.iter().map(|f| Scenario::load(f).map_err(|e| e.to_string())).collect::<Result<_, _>>()?
    };
    for scenario in scenarios {
        let scenario = match seed {
            Some(seed) => scenario.with_seed(seed),
            None => scenario,
        };
        for mut spec in scenario.stands {
            spec.control = access.clone();
            if specs.iter().any(|s: &standin::StandSpec| s.id == spec.id) {
                return Err(format!("{}: stand id `{}` is used by an earlier scenario file", scenario.origin, spec.id));
            }
            if spec.port != 0 && specs.iter().any(|s: &standin::StandSpec| s.port == spec.port) {
                return Err(format!(
                    "{}: stand `{}`: port {} is used by an earlier stand",
                    scenario.origin, spec.id, spec.port
                ));
            }
            specs.push(spec);
        }
    }
    // Bind everything before serving anything, so a port in use fails cleanly.
    let bind = |port: u16, what: &str| {
        let addr = SocketAddr::new(host, port);
        TcpListener::bind(addr).map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))
    };
    let control = bind(control_port, "control listener")?;
    let listeners: Vec<TcpListener> =
        specs.iter().map(|s| bind(s.port, &format!("stand `{}`", s.id))).collect::<Result<_, _>>()?;

    let registry = Registry::new(host, access);
    for (spec, l) in specs.into_iter().zip(listeners) {
        if spec.setup.seed.is_some() {
            tracing::warn!(stand = %spec.id, "seeded: tokens are deterministic and guessable; for tests only");
        }
        registry.add(Stand::start_on(spec, l, workers).map_err(|e| e.to_string())?);
    }
    let control_addr = control.local_addr().map_err(|e| e.to_string())?;
    let control_handle = listener::serve(registry.clone(), control).map_err(|e| e.to_string())?;

    let shutdown = shutdown_signal();
    let ready = serde_json::json!({
        "event": "ready",
        "control": format!("http://{control_addr}"),
        "stands": registry.list(),
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{ready}");
    let _ = out.flush();
    drop(out);
    tracing::info!(control = %control_addr, "standin ready");

    shutdown.await;
    tracing::info!("shutting down");
    control_handle.stop(true).await;
    // After the control listener, so that no control request is still adding or deleting one.
    registry.stop_all().await;
    Ok(())
}

/// Listens for SIGINT/SIGTERM from now on (before the ready line, so that a signal sent as soon as
/// it is read is not lost); the returned future ends when one arrives.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)));
        async move {
            match streams {
                Ok((mut term, mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
