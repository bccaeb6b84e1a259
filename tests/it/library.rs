//! The library API through a real socket, with a real HTTP client.

use std::io::{Read, Write};
use std::time::Duration;

use standin::Stand;

use crate::support::JsonValue as _;
use crate::support::client;

const LOGIN: &str = "/api/space/user-management/login";
const STATUS: &str = "/api/space/user-management/login-status";
const LOGOUT: &str = "/api/space/user-management/logout";

#[actix_web::test]
async fn a_cookie_jar_client_follows_the_documented_flow_over_a_real_socket() {
    let stand = Stand::builder("junos-space")
        .scenario_file("scenarios/junos-space-idle-expiry.toml")
        .expect("scenario")
        .start()
        .await
        .expect("start");
    let url = stand.url();
    let c = client();
    let r = c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "User logged in");
    let r = c.get(format!("{url}{STATUS}")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, "User is logged in"));
    assert_eq!(stand.sessions().len(), 1);

    stand.clock().advance(Duration::from_secs(31 * 60));
    assert!(stand.sessions().is_empty());
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 401);

    c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    let r = c.post(format!("{url}{LOGOUT}")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, "User logged out"));
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 401);
}

#[actix_web::test]
async fn the_control_api_moves_the_clock_and_expires_sessions() {
    let stand = Stand::builder("junos-space").manual_clock(standin::Timestamp::from_millis(0)).start().await.unwrap();
    let url = stand.url();
    let c = client();
    c.post(format!("{url}{LOGIN}")).basic_auth("super", Some("juniper123")).send().await.unwrap();
    let sessions: serde_json::Value = c.get(format!("{url}/__standin/sessions")).json_value().await;
    assert_eq!(sessions[0]["user"], "super");
    let clock: serde_json::Value =
        c.post(format!("{url}/__standin/clock")).body(r#"{"advance":"29m"}"#).json_value().await;
    assert_eq!(clock["now"], "1970-01-01T00:29:00.000Z");
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 200);
    let r = c.post(format!("{url}/__standin/clock")).body(r#"{"advance":"soon"}"#).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let gone: serde_json::Value = c.delete(format!("{url}/__standin/sessions")).json_value().await;
    assert_eq!(gone["expired"], 1);
    assert_eq!(c.get(format!("{url}{STATUS}")).send().await.unwrap().status(), 401);
    c.post(format!("{url}/__standin/clock")).body(r#"{"set":"2030-01-01T00:00:00Z"}"#).send().await.unwrap();
    c.post(format!("{url}/__standin/reset")).send().await.unwrap();
    let clock: serde_json::Value = c.get(format!("{url}/__standin/clock")).json_value().await;
    assert_eq!(clock["now_ms"], 0);
}

/// The JDK's HttpClient offers h2c on every plain-http request, POSTs with a body included: the
/// offer is ignored, the body read, and the connection kept alive for the next request.
#[actix_web::test]
async fn an_h2c_upgrade_offer_is_answered_as_http_1_1_and_the_connection_kept() {
    let stand = Stand::builder("junos-space").start().await.unwrap();
    let addr = stand.addr();
    let out = tokio::task::spawn_blocking(move || {
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let body = "maxage=600";
        let req = format!(
            "POST {LOGIN} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAAA\r\n\
Authorization: Basic c3VwZXI6anVuaXBlcjEyMw==\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}\
GET {STATUS} HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        sock.write_all(req.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&buf).contains("User is not logged in") {
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert!(!out.contains("101 Switching"), "{out}");
    assert!(out.contains("User logged in"), "{out}");
    assert!(out.contains("User is not logged in"), "second request on the same connection: {out}");
}
