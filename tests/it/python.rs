//! Real Python clients (`requests.Session()`) against the real binary, every profile.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn python_requests_sessions_follow_every_vendors_documented_flow() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_standin"))
        .args(["serve", "tests/clients/all-profiles.toml", "--control-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("standin starts");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let out = Command::new("python3").args(["tests/clients/vendor_flows.py", ready.trim()]).output();
    let _ = child.kill();
    let _ = child.wait();
    let out = out.expect("python3 is needed for the client tests (CI installs `requests`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": ok")).count(), 5, "{stdout}");
}
