//! Soak (not CI): clients that log in on every request and never log out, against the real
//! `standin` binary, for a fixed time. Samples the server's RSS and health; passes when
//! there were no errors and RSS stayed flat once the idle timeout had passed.
//!
//! cargo build --release && cargo run --release --example soak -- [--seconds 600] [--idle 30] [--clients 4]
//! (`scripts/soak.sh` does both.)

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use standin::testing::rss_kib;

struct Args {
    seconds: u64,
    idle: u64,
    clients: usize,
    binary: String,
}

fn args() -> Args {
    let mut a = Args { seconds: 600, idle: 30, clients: 4, binary: "target/release/standin".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--idle" => a.idle = value().parse().expect("--idle N (seconds)"),
            "--clients" => a.clients = value().parse().expect("--clients N"),
            "--binary" => a.binary = value(),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() -> ExitCode {
    let a = args();
    let dir = std::env::temp_dir().join(format!("standin-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = dir.join("soak.toml");
    std::fs::write(
        &scenario,
        format!("[[stands]]\nprofile = \"storware\"\nport = 0\n[stands.policy]\nidle_timeout = \"{}s\"\n", a.idle),
    )
    .expect("scenario");
    let mut child = Command::new(&a.binary)
        .args(["serve", scenario.to_str().expect("utf-8"), "--control-port", "0", "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (cargo build --release first)", a.binary));
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
    let url = ready["stands"][0]["url"].as_str().expect("url").to_owned();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let verdict = rt.block_on(soak(&a, &url, pid));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if verdict { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn soak(a: &Args, url: &str, pid: u32) -> bool {
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..a.clients {
        let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
        let login = format!("{url}/api/session/login");
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                // A fresh login on every request, never a logout: what polling clients do.
                let r = http
                    .post(&login)
                    .header("Content-Type", "application/json")
                    .body(r#"{"login":"admin","password":"vPr0tect"}"#)
                    .send()
                    .await;
                let fine = match r {
                    Ok(r) => r.status() == 201 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if fine { &ok } else { &errors }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let http = reqwest::Client::new();
    let started = Instant::now();
    let every = Duration::from_secs((a.seconds / 20).clamp(1, 30));
    let mut samples: Vec<(u64, u64)> = Vec::new();
    println!("{:>7} {:>10} {:>7} {:>7} {:>9}", "t (s)", "logins", "errors", "health", "RSS (KiB)");
    while started.elapsed() < Duration::from_secs(a.seconds) {
        tokio::time::sleep(every).await;
        // Health only: listing hundreds of thousands of sessions would itself dominate RSS.
        let healthy = http.get(format!("{url}/__standin/health")).send().await.is_ok_and(|r| r.status() == 200);
        let (t, rss) = (started.elapsed().as_secs(), rss_kib(pid));
        samples.push((t, rss));
        println!(
            "{t:>7} {:>10} {:>7} {:>7} {rss:>9}",
            ok.load(Ordering::Relaxed),
            errors.load(Ordering::Relaxed),
            if healthy { "ok" } else { "DOWN" }
        );
        if !healthy {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    // Flat: once twice the idle timeout has passed (sessions created before it have expired and
    // been purged), the peak RSS of the second half of the run is at most 10% (and 4 MiB) above
    // the peak of the first half: memory stopped growing. (A hash table doubling while the
    // login rate climbs is a step, not growth, and lands in the first half of a long enough run.)
    let settled: Vec<u64> = samples.iter().filter(|(t, _)| *t >= 2 * a.idle).map(|(_, r)| *r).collect();
    let (early, late) = settled.split_at(settled.len() / 2);
    let errors = errors.load(Ordering::Relaxed);
    let logins = ok.load(Ordering::Relaxed);
    let (early_max, late_max) = (early.iter().max().copied(), late.iter().max().copied());
    let flat = match (early_max, late_max) {
        (Some(e), Some(l)) => l <= e + (e / 10).max(4096),
        _ => false,
    };
    println!(
        "logins {logins} ({:.0}/s), errors {errors}; RSS peak after {}s: first half {} KiB, second half {} KiB -> {}",
        logins as f64 / started.elapsed().as_secs_f64(),
        2 * a.idle,
        early_max.unwrap_or(0),
        late_max.unwrap_or(0),
        if flat { "flat" } else { "NOT flat (or too short a run: use --seconds > 3 x --idle)" }
    );
    errors == 0 && flat
}
