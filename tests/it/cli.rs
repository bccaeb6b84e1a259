//! The `standin` binary: ready line, exit codes, graceful shutdown.

use std::process::Command;
use std::time::Duration;

use crate::support::JsonValue as _;
use crate::support::Served;

fn standin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_standin"))
}

fn write_scenario(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tempdir() -> tempfile::TempDir {
    crate::support::scratch("cli")
}

#[actix_web::test]
async fn serve_prints_one_ready_line_then_serves_then_stops_on_sigterm() {
    let dir = tempdir();
    let sc = write_scenario(dir.path(), "s.toml", "[[stands]]\nprofile = \"junos-space\"\nport = 0\n");
    let served = Served::start(&[sc.to_str().unwrap(), "--control-port", "0"]);
    let ready = served.ready.clone();
    assert_eq!(ready["event"], "ready");
    let url = ready["stands"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(ready["stands"][0]["profile"], "junos-space");
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = c
        .post(format!("{url}/api/space/user-management/login"))
        .basic_auth("super", Some("juniper123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stands: serde_json::Value =
        c.get(format!("{}/__standin/stands", ready["control"].as_str().unwrap())).json_value().await;
    assert_eq!(stands[0]["url"], url.as_str());

    let (status, _) = tokio::task::spawn_blocking(move || served.stop()).await.unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_scenario_is_one_line_naming_file_line_and_field_and_exit_2() {
    let dir = tempdir();
    let sc = write_scenario(
        dir.path(),
        "bad.toml",
        "[[stands]]\nprofile = \"junos-space\"\n\n[stands.policy]\nidle_timeout = \"forever\"\n",
    );
    let out = crate::support::output(standin().args(["serve", sc.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.toml:5:16: stands[0].policy.idle_timeout"), "{err}");
    assert!(out.stdout.is_empty());

    let out = crate::support::output(standin().args(["check", sc.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_port_in_use_is_one_line_and_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempdir();
    let sc = write_scenario(dir.path(), "s.toml", &format!("[[stands]]\nprofile = \"junos-space\"\nport = {port}\n"));
    let out = crate::support::output(standin().args(["serve", sc.to_str().unwrap(), "--control-port", "0"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")) && err.lines().count() == 1, "{err}");
}

#[test]
fn profiles_lists_every_profile_and_check_accepts_the_shipped_scenarios() {
    let out = crate::support::output(standin().arg("profiles"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("junos-space"));
    let scenarios: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml" || e == "json"))
        .collect();
    let out = crate::support::output(standin().arg("check").args(&scenarios));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn an_https_stand_with_a_start_up_certificate_reports_its_ca_in_the_ready_line() {
    let dir = tempdir();
    let sc = write_scenario(
        dir.path(),
        "s.toml",
        "[[stands]]\nprofile = \"junos-space\"\nport = 0\n[stands.tls]\ngenerate = true\nca_file = \"ca.pem\"\n",
    );
    let served = Served::start(&[sc.to_str().unwrap(), "--control-port", "0"]);
    let (ready, line) = (served.ready.clone(), served.line.clone());
    let stand = &ready["stands"][0];
    assert!(stand["url"].as_str().unwrap().starts_with("https://127.0.0.1:"), "{line}");
    let ca = std::path::PathBuf::from(stand["ca"].as_str().expect("ca in the ready line"));
    assert_eq!(ca, std::fs::canonicalize(dir.path().join("ca.pem")).unwrap());
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let (status, _) = served.stop();
    assert!(status.success(), "{status:?}");
    assert!(ca.exists(), "a CA file the scenario named stays after the stand stops");
    dir.close().unwrap();
}
