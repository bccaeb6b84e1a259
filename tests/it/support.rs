//! Test support: in-process stands driven through actix's real request parsing, and a compact
//! text form of responses for snapshots.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::{App, test};
use base64::Engine as _;
use standin::scenario::{Scenario, StandSpec};
use standin::testing::Harness;

/// A scratch folder (`standin-TAG-…` under the system's temp folder), removed with what is in it
/// when dropped.
pub fn scratch(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("standin-{tag}-")).tempdir().expect("a scratch folder")
}

/// A stand of one profile in-process, seeded, on a manual clock at 2026-01-01T00:00:00Z.
pub struct TestStand {
    pub harness: Harness,
}

impl TestStand {
    pub fn new(profile: &str) -> Self {
        Self::with_scenario(profile, "")
    }

    /// `extra` is appended to a stand table of this profile (e.g. `[stands.policy]` lines).
    pub fn with_scenario(profile: &str, extra: &str) -> Self {
        let text = format!(
            "seed = 42\n[clock]\nmode = \"manual\"\nstart = \"2026-01-01T00:00:00Z\"\n[[stands]]\nprofile = \"{profile}\"\nport = 0\n{extra}\n"
        );
        let scenario = Scenario::parse(&text, "test.toml").expect("test scenario is valid");
        Self::from_spec(scenario.stands.into_iter().next().expect("one stand"))
    }

    pub fn from_spec(spec: StandSpec) -> Self {
        TestStand { harness: Harness::new(spec).expect("stand builds") }
    }

    pub fn engine(&self) -> &standin::Engine {
        self.harness.engine()
    }

    pub fn advance(&self, d: Duration) {
        self.engine().clock().advance(d);
    }

    pub async fn call(&self, req: Req) -> Reply {
        let app = test::init_service(App::new().configure(self.harness.configure())).await;
        let mut r = test::TestRequest::default()
            .method(req.method)
            .uri(&req.uri)
            .peer_addr("127.0.0.1:50000".parse().expect("addr"));
        for (k, v) in &req.headers {
            let value = actix_web::http::header::HeaderValue::from_bytes(v).expect("a header value HTTP can carry");
            r = r.append_header((k.as_str(), value));
        }
        let resp = test::call_service(&app, r.set_payload(req.body).to_request()).await;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect::<Vec<_>>();
        let body = test::read_body(resp).await;
        Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }
}

/// A request under construction.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: actix_web::http::Method,
    pub uri: String,
    /// Header values as bytes, so that tests can send what is not UTF-8.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, uri: &str) -> Self {
        Req { method: method.parse().expect("method"), uri: uri.into(), headers: vec![], body: vec![] }
    }
    pub fn get(uri: &str) -> Self {
        Self::new("GET", uri)
    }
    pub fn post(uri: &str) -> Self {
        Self::new("POST", uri)
    }
    pub fn delete(uri: &str) -> Self {
        Self::new("DELETE", uri)
    }
    pub fn header(self, k: &str, v: &str) -> Self {
        self.header_bytes(k, v.as_bytes())
    }
    pub fn header_bytes(mut self, k: &str, v: &[u8]) -> Self {
        self.headers.push((k.into(), v.to_vec()));
        self
    }
    pub fn basic(self, user: &str, password: &str) -> Self {
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {v}"))
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub fn json(self, v: serde_json::Value) -> Self {
        self.header("Content-Type", "application/json").body(v.to_string())
    }
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.header("Content-Type", "application/x-www-form-urlencoded").body(body)
    }
    /// Sends the cookies a jar would have kept from `reply` (name=value of each Set-Cookie).
    pub fn cookies_from(self, reply: &Reply) -> Self {
        let jar = reply.cookie_header();
        if jar.is_empty() { self } else { self.header("Cookie", &jar) }
    }
}

/// A response, flattened.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `name=value` of every Set-Cookie header (attributes dropped), joined as a Cookie header.
    pub fn cookie_header(&self) -> String {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Status, every header except content-length (sorted by name, order kept within a name), body.
    pub fn snapshot(&self) -> String {
        let mut out = format!("HTTP {}\n", self.status);
        let mut headers: Vec<_> = self.headers.iter().filter(|(n, _)| n != "content-length").collect();
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        for (n, v) in headers {
            let _ = writeln!(out, "{n}: {v}");
        }
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

/// `.json_value()`: send a request that must get an answer, and read the answer as JSON.
pub trait JsonValue {
    /// The answer's body as JSON; panics (failing the test) if there is no answer or no JSON.
    fn json_value(self) -> impl std::future::Future<Output = serde_json::Value>;
}

impl JsonValue for reqwest::RequestBuilder {
    async fn json_value(self) -> serde_json::Value {
        self.send().await.expect("an answer").json().await.expect("a JSON body")
    }
}

/// A real HTTP client with a cookie jar (as Python's `requests.Session()` keeps one), bounded in time.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().expect("client")
}

/// A `standin serve …` child process, its ready line read; killed when dropped (a failing test
/// leaves no process behind).
pub struct Served {
    child: Option<std::process::Child>,
    /// The ready line, parsed.
    pub ready: serde_json::Value,
    /// The ready line as printed.
    pub line: String,
}

impl Served {
    /// Runs `standin serve` with `args` (no control token from the environment, stderr
    /// discarded) and waits for its ready line.
    pub fn start(args: &[&str]) -> Served {
        Served::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_standin"))
                .arg("serve")
                .args(args)
                .env_remove("STANDIN_CONTROL_TOKEN")
                .stderr(std::process::Stdio::null()),
        )
    }

    /// Runs `command` (a `standin serve`, its stderr as the caller set it) with its stdout piped,
    /// and waits for its ready line, at most [`READY_LIMIT`]: a child that neither prints it nor
    /// exits by then is killed and the test fails.
    pub fn spawn(command: &mut std::process::Command) -> Served {
        use std::io::BufRead;
        let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("standin starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        // Owned from here, so that a failure below kills it.
        let mut served = Served { child: Some(child), ready: serde_json::Value::Null, line: String::new() };
        let read = within(READY_LIMIT, move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        served.line = match read {
            Some(read) => read.expect("stdout is readable"),
            None => panic!("standin printed no ready line within {READY_LIMIT:?}"),
        };
        served.ready = serde_json::from_str(&served.line)
            .unwrap_or_else(|e| panic!("the ready line is JSON ({e}): {:?}", served.line));
        served
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// The control listener's URL.
    pub fn control(&self) -> String {
        self.ready["control"].as_str().expect("a control URL in the ready line").to_owned()
    }

    /// Every stand's URL, in the ready line's order.
    pub fn stand_urls(&self) -> Vec<String> {
        let stands = self.ready["stands"].as_array().expect("stands in the ready line");
        stands.iter().map(|s| s["url"].as_str().expect("a stand URL").to_owned()).collect()
    }

    /// Sends SIGTERM and returns the exit status and everything the child wrote to stderr
    /// (empty unless the command piped it). Bounded: a child still running [`EXIT_LIMIT`] later
    /// is killed and the test fails, instead of hanging the suite.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let exited = within(EXIT_LIMIT, move || {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            (child.wait(), err)
        });
        match exited {
            Some((status, err)) => (status.expect("wait for standin"), err),
            None => {
                kill_unreaped(&pid);
                panic!("standin (pid {pid}) did not exit within {EXIT_LIMIT:?} of SIGTERM");
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `cmd` run to its end, its output collected as `Command::output` does, but bounded: a child
/// still running [`RUN_LIMIT`] later is killed and the test fails naming it. A `standin serve`
/// expected to refuse its arguments at once would otherwise, if it started serving instead, hang
/// the suite rather than fail it.
pub fn output(cmd: &mut std::process::Command) -> std::process::Output {
    output_within(cmd, RUN_LIMIT)
}

fn output_within(cmd: &mut std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let pid = child.id().to_string();
    match within(limit, move || child.wait_with_output()) {
        Some(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        None => {
            kill_unreaped(&pid);
            panic!("{what} (pid {pid}) was still running after {limit:?}");
        }
    }
}

/// `work`'s result if it comes within `limit`; `None` if not (the work goes on, on its own
/// thread). How the tests wait on a child without risking hanging the suite.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(limit).ok()
}

/// SIGKILL to a child whose wait timed out: not yet reaped, so the pid is still that child's.
fn kill_unreaped(pid: &str) {
    let _ = std::process::Command::new("kill").args(["-KILL", pid]).status();
}

/// The bounded run itself (`actix_web::test` is not the `#[test]` here).
mod bounded_runs {
    use super::{output, output_within};
    use std::time::Duration;

    #[test]
    fn a_child_that_runs_too_long_is_killed_and_fails_the_test() {
        let mut sleeper = std::process::Command::new("sleep");
        sleeper.arg("600");
        let started = std::time::Instant::now();
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            output_within(&mut sleeper, Duration::from_millis(100))
        }));
        let message = failed.expect_err("a run past its limit fails");
        let message = message.downcast_ref::<String>().expect("a message");
        assert!(message.contains("\"sleep\" \"600\"") && message.contains("still running after 100ms"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(30), "the wait was bounded");
        // The child was killed: no `sleep 600` of ours is left.
        let pid = message.split("(pid ").nth(1).and_then(|r| r.split(')').next()).expect("the pid in the message");
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("pid {pid} still alive");
    }

    #[test]
    fn a_child_that_ends_gives_its_output() {
        let out = output(std::process::Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
        assert_eq!((out.status.code(), &out.stdout[..], &out.stderr[..]), (Some(3), &b"out\n"[..], &b"err\n"[..]));
    }
}

/// Longest a test waits for a child it runs to its end (`standin check`, a refused `standin
/// serve`, the Python client): each takes well under a second, the Python client a few.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Longest a test waits for a `standin serve` child's ready line (it prints it within a few
/// milliseconds).
pub const READY_LIMIT: Duration = Duration::from_secs(30);

/// Longest a test waits for a `standin serve` child to exit after SIGTERM: its graceful shutdown
/// waits at most 30 s for in-flight responses (stands stop together), 5 s for the control
/// listener's idle connections.
pub const EXIT_LIMIT: Duration = Duration::from_secs(60);
