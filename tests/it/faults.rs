//! Fault actions through a real socket, seen by real HTTP clients; the journal; determinism.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use standin::Stand;

use crate::support::JsonValue as _;
use crate::support::client;

const LOGIN: &str = "/api/space/user-management/login";
const STATUS: &str = "/api/space/user-management/login-status";
const USERS: &str = "/api/space/user-management/users";

async fn stand(faults: &str) -> Stand {
    let text =
        format!("seed = 5\n[clock]\nmode = \"manual\"\n[[stands]]\nprofile = \"junos-space\"\nport = 0\n{faults}");
    Stand::builder("junos-space").scenario_str(&text).expect("scenario").start().await.expect("start")
}

/// Sends raw bytes and reads until EOF or error; returns what came and how the read ended.
async fn raw(addr: SocketAddr, request: String) -> (Vec<u8>, Option<ErrorKind>) {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e.kind())),
            }
        }
    })
    .await
    .unwrap()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c3VwZXI6anVuaXBlcjEyMw==\r\n\r\n")
}

#[actix_web::test]
async fn reset_sends_no_byte_and_resets_the_connection() {
    let s =
        stand("[[stands.faults]]\nwhen = {path = \"/api/space/user-management/users\"}\nthen = {action = \"reset\"}\n")
            .await;
    let (got, err) = raw(s.addr(), get(USERS)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    let e = client().get(format!("{}{USERS}", s.url())).send().await.expect_err("a reset is an error");
    assert!(e.is_request() || e.is_connect(), "{e:?}");
    let j = s.journal(1);
    assert_eq!((j[0].status, j[0].transport), (0, Some("reset")));
}

#[actix_web::test]
async fn close_after_headers_sends_the_head_then_closes() {
    let s = stand("[[stands.faults]]\nwhen = {op = \"resource\"}\nthen = {action = \"close-after-headers\"}\n").await;
    let (got, _) = raw(s.addr(), get(USERS)).await;
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n").expect("a full head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("content-length: ") || head.contains("Content-Length: "), "{head}");
    assert_eq!(body, "");
    let r = client().get(format!("{}{USERS}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body never comes");
}

#[actix_web::test]
async fn truncate_cuts_the_body_at_n_bytes() {
    let s = stand("[[stands.faults]]\nwhen = {op = \"resource\"}\nthen = {action = \"truncate\", at = 10}\n").await;
    let (got, _) = raw(s.addr(), get(USERS)).await;
    let text = String::from_utf8_lossy(&got);
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "<?xml vers");
}

#[actix_web::test]
async fn garbage_is_not_http_then_close() {
    let s = stand("[[stands.faults]]\nwhen = {op = \"check\"}\nthen = {action = \"garbage\"}\n").await;
    let (got, _) = raw(s.addr(), get(STATUS)).await;
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    assert!(got.windows(7).any(|w| w == b"garbage"));
    let e = client().get(format!("{}{STATUS}", s.url())).send().await.expect_err("garbage is an error");
    assert!(e.is_request(), "{e:?}");
}

#[actix_web::test]
async fn status_answers_raw_bytes() {
    let s = stand(
        "[[stands.faults]]\nwhen = {op = \"login\", nth = 1}\nthen = {action = \"status\", status = 502, body = \"upstream down\", headers = {X-Why = \"test\"}}\n",
    )
    .await;
    let c = client();
    let r = c.post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-why"], "test");
    assert_eq!(r.text().await.unwrap(), "upstream down");
    let r = c.post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 200, "only the first call");
}

#[actix_web::test]
async fn delay_holds_the_answer() {
    let s = stand("[[stands.faults]]\nwhen = {op = \"check\"}\nthen = {delay = \"300ms\"}\n").await;
    let started = Instant::now();
    let r = client().get(format!("{}{STATUS}", s.url())).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(s.journal(1)[0].delay_ms, 300);
}

#[actix_web::test]
async fn slow_body_trickles_in_chunks() {
    let s = stand(
        "[[stands.faults]]\nwhen = {op = \"login\"}\nthen = {action = \"slow-body\", chunk = 4, interval = \"60ms\"}\n",
    )
    .await;
    let started = Instant::now();
    let r = client().post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "User logged in");
    assert!(started.elapsed() >= Duration::from_millis(180), "4 chunks, 3 gaps");
}

#[actix_web::test]
async fn semantic_faults_are_rendered_by_the_profile() {
    let s = stand(
        "[[stands.faults]]\nid = \"no\"\nwhen = {op = \"login\", user = \"operator\"}\nthen = {action = \"reject-login\"}\n\
         [[stands.faults]]\nid = \"kick\"\nwhen = {op = \"check\", nth = 2}\nthen = {action = \"expire-session\"}\n",
    )
    .await;
    let c = client();
    let url = s.url();
    let r = c.post(format!("{url}{LOGIN}")).basic_auth("operator", Some("operator123")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (401, "User is not logged in"));
    c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 401, "expired by the rule");
    let j = s.journal(10);
    let last = j.last().unwrap();
    assert_eq!(last.fired, vec!["kick".to_string()]);
    assert_eq!(last.session_before, "live");
    assert_eq!(last.session_after, "unknown");
}

#[actix_web::test]
async fn the_flaky_login_scenario_is_busy_twice_then_lets_in() {
    let s = Stand::builder("junos-space").scenario_file("scenarios/flaky-login.toml").unwrap().start().await.unwrap();
    let c = client();
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = c.post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
        got.push((r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned())));
    }
    assert_eq!(got, [(503, Some("5".into())), (503, Some("5".into())), (200, None)]);
}

#[actix_web::test]
async fn the_lockout_scenario_locks_after_three_bad_passwords() {
    let s = Stand::builder("junos-space").scenario_file("scenarios/lockout.toml").unwrap().start().await.unwrap();
    let c = client();
    let login = |pw: &'static str| c.post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some(pw)).send();
    for _ in 0..3 {
        assert_eq!(login("wrong").await.unwrap().status(), 401);
    }
    assert_eq!(login("juniper123").await.unwrap().status(), 401, "locked");
    let accounts: serde_json::Value = c.get(format!("{}/__standin/accounts", s.url())).json_value().await;
    assert_eq!(accounts[0]["locked"], true);
    c.post(format!("{}/__standin/reset", s.url())).send().await.unwrap();
    assert_eq!(login("juniper123").await.unwrap().status(), 200, "reset unlocks");
}

#[actix_web::test]
async fn the_reset_on_check_scenario_resets_every_second_check() {
    let s =
        Stand::builder("junos-space").scenario_file("scenarios/reset-on-check.toml").unwrap().start().await.unwrap();
    let mut resets = Vec::new();
    for _ in 0..4 {
        let (got, err) = raw(s.addr(), get(STATUS)).await;
        let reset = err == Some(ErrorKind::ConnectionReset);
        assert!(reset || got.starts_with(b"HTTP/1.1 401"), "{}", String::from_utf8_lossy(&got));
        resets.push(reset);
    }
    assert_eq!(resets, [false, true, false, true]);
}

#[actix_web::test]
async fn the_slow_network_scenario_delays_every_answer() {
    let s = Stand::builder("junos-space").scenario_file("scenarios/slow-network.toml").unwrap().start().await.unwrap();
    let started = Instant::now();
    let r = client().get(format!("{}{USERS}", s.url())).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert!(r.text().await.unwrap().ends_with("</users>"));
    assert!(started.elapsed() >= Duration::from_millis(150));
    let j = s.journal(1);
    assert_eq!(j[0].fired, ["latency", "trickle"]);
    assert!((150..=400).contains(&j[0].delay_ms), "{}", j[0].delay_ms);
}

#[actix_web::test]
async fn faults_are_listed_added_and_removed_at_run_time() {
    let s = stand("").await;
    let c = client();
    let url = s.url();
    let r = c
        .post(format!("{url}/__standin/faults"))
        .body(r#"{"id":"down","when":{"op":"login"},"then":{"action":"busy","retry_after":9}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let list: serde_json::Value = c.get(format!("{url}/__standin/faults")).json_value().await;
    assert_eq!((list[0]["id"].as_str(), list[0]["seen"].as_u64()), (Some("down"), Some(1)));
    let bad = c.post(format!("{url}/__standin/faults")).body(r#"{"then":{"action":"status"}}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("then.status"));
    assert_eq!(c.delete(format!("{url}/__standin/faults/down")).send().await.unwrap().status(), 200);
    let r = c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn the_journal_masks_tokens_and_is_bounded() {
    let text = "seed = 5\n[[stands]]\nprofile = \"junos-space\"\nport = 0\njournal = 3\n";
    let s = Stand::builder("junos-space").scenario_str(text).unwrap().start().await.unwrap();
    let c = client();
    let url = s.url();
    c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    let token = s.sessions()[0].token.to_string();
    for _ in 0..4 {
        c.get(format!("{url}{STATUS}?x={token}")).send().await.unwrap();
    }
    let j: serde_json::Value = c.get(format!("{url}/__standin/journal?limit=10")).json_value().await;
    assert_eq!(j["total"], 5);
    assert_eq!(j["entries"].as_array().unwrap().len(), 3);
    let dump = j.to_string();
    assert!(!dump.contains(&token) && !dump.contains("juniper123"), "{dump}");
    assert!(dump.contains("x=***"), "{dump}");
}

/// Same scenario, seed and requests: byte-identical responses and journals.
#[actix_web::test]
async fn the_same_run_twice_gives_identical_bytes_and_journals() {
    async fn run() -> (Vec<String>, String) {
        let s = stand(
            "[[stands.faults]]\nwhen = {probability = 0.5}\nthen = {action = \"busy\"}\n\
             [[stands.faults]]\nwhen = {op = \"check\"}\nthen = {delay = {min = \"1ms\", max = \"20ms\"}}\n",
        )
        .await;
        let c = client();
        let mut out = Vec::new();
        for i in 0..12 {
            let req = if i % 3 == 0 {
                c.post(format!("{}{LOGIN}", s.url())).basic_auth("super", Some("juniper123"))
            } else {
                c.get(format!("{}{STATUS}", s.url()))
            };
            let r = req.send().await.unwrap();
            let mut text = format!("{} ", r.status());
            for (k, v) in r.headers() {
                text += &format!("{k}={v:?};");
            }
            text += &r.text().await.unwrap();
            out.push(text);
            s.clock().advance(Duration::from_secs(60));
        }
        (out, serde_json::to_string(&s.journal(100)).unwrap())
    }
    let (a, b) = (run().await, run().await);
    assert_eq!(a, b);
    assert!(a.0.iter().any(|r| r.starts_with("503")) && a.0.iter().any(|r| r.starts_with("200")), "{:?}", a.0);
}

/// Header names on the wire are spelled as the vendors' servlet containers spell them:
/// camel-cased, and `WWW-Authenticate` as RFC 7235 writes it (not `Www-Authenticate`).
#[actix_web::test]
async fn header_names_are_spelled_as_servlet_containers_spell_them() {
    let s = stand("").await;
    let (got, _) = raw(s.addr(), format!("GET {USERS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await;
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    assert!(head.contains("\r\nWWW-Authenticate: Basic realm=\"Junos Space\"\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: ") && head.contains("\r\nDate: "), "{head}");
}
