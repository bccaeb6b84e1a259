//! Real Python clients (`requests.Session()`) against the real binary, every profile.

use std::process::Command;

use crate::support::Served;

#[test]
fn python_requests_sessions_follow_every_vendors_documented_flow() {
    let served = Served::start(&["tests/clients/all-profiles.toml", "--control-port", "0"]);
    // python3 and `requests` are needed for the client tests (CI installs them).
    let out =
        crate::support::output(Command::new("python3").args(["tests/clients/vendor_flows.py", served.line.trim()]));
    drop(served);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": ok")).count(), 5, "{stdout}");
}
