//! oracle-sdm: every response format pinned, and the documented flows.

use std::fmt::Write as _;
use std::time::Duration;

use insta::assert_snapshot;
use standin::Stand;
use standin::profiles::{self, Principal, Semantic};
use standin::wire::{Method, Request, Response};

use crate::support::{Reply, Req, TestStand};

const LOGIN: &str = "/rest/v1.1/admin/login";
const LOGOUT: &str = "/rest/v1.1/admin/logout";
const SERVER_INFO: &str = "/rest/v1.1/admin/serverInfo";
/// The vendor's `user.xml`, as documented.
const USER_XML: &str = include_str!("../../fixtures/oracle-sdm/user.xml");

fn stand() -> TestStand {
    TestStand::new("oracle-sdm")
}

fn with_options(options: &str) -> TestStand {
    TestStand::with_scenario("oracle-sdm", &format!("[stands.options]\n{options}"))
}

/// `user.xml` as `curl -d@user.xml` sends it: curl drops CR and LF from a `-d@file` body.
fn curl_d(file: &str) -> String {
    file.replace(['\r', '\n'], "")
}

/// The vendor's curl login: `-X POST -d@user.xml -H"Content-Type: application/xml" -H"Accept: application/xml"`.
fn curl_login(path: &str) -> Req {
    Req::post(path).header("Content-Type", "application/xml").header("Accept", "application/xml").body(curl_d(USER_XML))
}

fn json_login(user: &str, password: &str) -> Req {
    Req::post(LOGIN)
        .header("Accept", "application/json")
        .json(serde_json::json!({"userName": user, "password": password}))
}

fn xml_login(user: &str, password: &str) -> Req {
    Req::post(LOGIN)
        .header("Content-Type", "application/xml")
        .body(format!("<session><userName>{user}</userName><password>{password}</password></session>"))
}

/// The text between `<name>` and `</name>`.
fn element<'a>(body: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = body.find(&open).unwrap_or_else(|| panic!("no <{name}> in {body}")) + open.len();
    let end = body[start..].find(&format!("</{name}>")).expect("closed") + start;
    &body[start..end]
}

#[actix_web::test]
async fn the_vendors_curl_login_gets_the_documented_session_body_and_cookie() {
    let s = stand();
    let r = s.call(curl_login(LOGIN)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = element(&r.body, "sessionId").to_owned();
    assert_eq!(r.cookie("JSESSIONID").as_deref(), Some(id.as_str()), "cookie value = sessionId");
    let (hex, node) = id.split_once('.').expect("<hex>.<node>");
    assert_eq!(node, "tomcat1");
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)), "{hex}");
    assert_eq!(r.header("set-cookie"), Some(format!("JSESSIONID={id}; Path=/rest; HttpOnly").as_str()));
    let documented = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<session>\n  <idleTimeout>0</idleTimeout>\n  <serverInfo>NNC76B40</serverInfo>\n  <sessionId>C1B538D484F77F3EEB25ECD0A3148448.tomcat1</sessionId>\n  <userGroup>administrators</userGroup>\n  <userName>admin</userName>\n  <validUntil>valid until logout</validUntil>\n</session>\n";
    // The same content as the documentation, in JAXB's unformatted layout (see the layout tests).
    let unformatted: String = documented.lines().map(str::trim).collect();
    assert_eq!(r.body, unformatted.replace("C1B538D484F77F3EEB25ECD0A3148448.tomcat1", &id));
    assert_snapshot!("login_xml", r.snapshot());
}

#[actix_web::test]
async fn user_xml_logs_in_with_its_newlines_too() {
    let s = stand();
    let r = s.call(Req::post(LOGIN).header("Content-Type", "application/xml").body(USER_XML)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let crlf = USER_XML.replace('\n', "\r\n");
    let r = s.call(Req::post(LOGIN).header("Content-Type", "application/xml;charset=UTF-8").body(crlf)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.engine().sessions().len(), 2);
}

#[actix_web::test]
async fn the_json_login_gets_the_json_twin() {
    let r = stand().call(json_login("admin", "password")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["sessionId"].as_str(), r.cookie("JSESSIONID").as_deref());
    assert_eq!(body["idleTimeout"], 0);
    assert_eq!(body["userGroup"], "administrators");
    assert_snapshot!("login_json", r.snapshot());
}

#[actix_web::test]
async fn content_type_decides_the_request_format_and_accept_the_response_format() {
    let s = stand();
    let r = s.call(xml_login("admin", "password").header("Accept", "application/json")).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
    let r = s
        .call(
            Req::post(LOGIN)
                .header("Content-Type", "application/json; charset=UTF-8")
                .body(r#"{"userName":"admin","password":"password"}"#),
        )
        .await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/xml")), "{}", r.body);
    let r = s.call(xml_login("admin", "password").header("Accept", "application/json, text/plain, */*")).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = s
        .call(
            Req::post(LOGIN)
                .header("Content-Type", "text/xml")
                .header("Accept", "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2")
                .body(USER_XML),
        )
        .await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/xml")));
}

#[actix_web::test]
async fn bad_input_is_400_the_user_input_is_invalid() {
    let s = stand();
    let r = s
        .call(
            Req::post(LOGIN)
                .header("Content-Type", "application/xml")
                .body("<session><userName>admin</userName><password>password</session>"),
        )
        .await;
    assert_snapshot!("login_400", r.snapshot());
    let cases = [
        Req::post(LOGIN),
        Req::post(LOGIN).header("Content-Type", "application/xml"),
        Req::post(LOGIN).header("Content-Type", "application/json").body("{\"userName\":\"admin\""),
        Req::post(LOGIN).json(serde_json::json!({"userName": "admin"})),
        Req::post(LOGIN).json(serde_json::json!({"password": "password"})),
        Req::post(LOGIN)
            .header("Content-Type", "application/xml")
            .body("<session><userName>admin</userName></session>"),
        // curl's default for -d: the body is XML but the type is not.
        Req::post(LOGIN).header("Content-Type", "application/x-www-form-urlencoded").body(curl_d(USER_XML)),
        Req::post(LOGIN).header("Content-Type", "text/plain").body(curl_d(USER_XML)),
        Req::post(LOGIN).header("Content-Type", "application/json").body(curl_d(USER_XML)),
        Req::post(LOGIN).header("Content-Type", "application/xml").body(vec![0xff, 0xfe, b'<']),
    ];
    for req in cases {
        let r = s.call(req.clone()).await;
        assert_eq!((r.status, r.body.as_str()), (400, "The user input is invalid."), "{req:?}");
    }
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn wrong_credentials_are_401_with_a_challenge() {
    let s = stand();
    let r = s.call(xml_login("admin", "wrong")).await;
    assert_snapshot!("login_401", r.snapshot());
    let r = s.call(json_login("nobody", "password")).await;
    assert_eq!((r.status, r.body.as_str()), (401, "The user ID or password is invalid."));
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"SDM\""));
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn every_documented_version_works_and_any_other_is_404_before_anything_else() {
    let s = stand();
    for v in ["v1.0", "v1.1", "v1.2", "v1.3"] {
        let r = s.call(curl_login(&format!("/rest/{v}/admin/login"))).await;
        assert_eq!(r.status, 200, "{v}");
    }
    let login = s.call(curl_login(LOGIN)).await;
    let r = s.call(curl_login("/rest/v9.9/admin/login")).await;
    assert_snapshot!("version_404", r.snapshot());
    for req in [
        Req::post("/rest/v9.9/admin/login"),
        Req::post("/rest/api/admin/login").header("Content-Type", "application/xml").body("<broken"),
        Req::post("/rest/V1.1/admin/login").json(serde_json::json!({"userName": "admin", "password": "wrong"})),
        Req::get("/rest/v9.9/admin/login"),
        Req::post("/rest/v9.9/admin/logout").cookies_from(&login),
        Req::get("/rest/v2.0/admin/serverInfo").cookies_from(&login),
        Req::get("/rest/v2.0/admin/serverInfo"),
        Req::get("/rest/v2.0/configuration/devices"),
    ] {
        let r = s.call(req.clone()).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "The REST API version of your input request cannot be found."),
            "{req:?}"
        );
    }
    assert_eq!(s.engine().sessions().len(), 5, "the session survived a logout on a bad version");
}

#[actix_web::test]
async fn the_supported_versions_are_an_option() {
    let s = with_options("versions = [\"v1.3\", \"v1.4\"]");
    assert_eq!(s.call(curl_login("/rest/v1.4/admin/login")).await.status, 200);
    assert_eq!(s.call(curl_login("/rest/v1.1/admin/login")).await.status, 404);
}

#[actix_web::test]
async fn the_cookie_opens_server_info_and_logout_ends_the_session() {
    let s = stand();
    let login = s.call(curl_login(LOGIN)).await;
    let r = s.call(Req::get(SERVER_INFO).header("Accept", "application/xml").cookies_from(&login)).await;
    assert_snapshot!("server_info_xml", r.snapshot());
    let r = s.call(Req::get(SERVER_INFO).header("Accept", "application/json").cookies_from(&login)).await;
    assert_eq!(r.json()["clusterMembers"][0]["heartBeatCount"], 22058);
    assert_snapshot!("server_info_json", r.snapshot());
    let r = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_204", r.snapshot());
    assert!(r.body.is_empty());
    let r = s.call(Req::get(SERVER_INFO).cookies_from(&login)).await;
    assert_snapshot!("server_info_401", r.snapshot());
    let r = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_401", r.snapshot());
}

#[actix_web::test]
async fn a_missing_unknown_or_expired_session_is_401_the_request_is_not_authorized() {
    let s = stand();
    let login = s.call(curl_login(LOGIN)).await;
    for req in [
        Req::get(SERVER_INFO),
        Req::get(SERVER_INFO).header("Cookie", "JSESSIONID=C1B538D484F77F3EEB25ECD0A3148448.tomcat1"),
        Req::post(LOGOUT),
        Req::get(SERVER_INFO).header("Authorization", "Basic YWRtaW46cGFzc3dvcmQ="),
    ] {
        let r = s.call(req.clone()).await;
        assert_eq!((r.status, r.body.as_str()), (401, "The request is not authorized."), "{req:?}");
        assert!(r.header("www-authenticate").is_some());
    }
    s.advance(Duration::from_secs(30 * 60));
    assert_eq!(s.call(Req::get(SERVER_INFO).cookies_from(&login)).await.status, 401);
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_pasted_set_cookie_value_works_as_the_cookie_header() {
    let s = stand();
    let login = s.call(curl_login(LOGIN)).await;
    let pasted = login.header("set-cookie").expect("Set-Cookie").to_owned();
    let r = s.call(Req::get(SERVER_INFO).header("Cookie", &pasted)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn the_vendor_headers_are_on_every_response() {
    let s = stand();
    let login = s.call(curl_login(LOGIN)).await;
    for r in [
        login.clone(),
        s.call(Req::get(SERVER_INFO).cookies_from(&login)).await,
        s.call(xml_login("admin", "x")).await,
        s.call(Req::post(LOGIN)).await,
        s.call(Req::get("/rest/v9.9/admin/serverInfo")).await,
        s.call(Req::post(LOGOUT).cookies_from(&login)).await,
    ] {
        assert_eq!(r.header("server"), Some("Apache"), "{}", r.snapshot());
        assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(r.headers.iter().filter(|(n, _)| n == "vary").count(), 1, "{}", r.snapshot());
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    }
}

#[actix_web::test]
async fn wrong_methods_and_unknown_resources() {
    let s = stand();
    let r = s.call(Req::get(LOGIN)).await;
    assert_snapshot!("login_405", r.snapshot());
    assert_eq!(s.call(Req::post(SERVER_INFO)).await.status, 405);
    let r = s.call(Req::get("/rest/v1.1/admin/nothing")).await;
    assert_eq!(r.status, 401, "unknown resources are guarded");
    let login = s.call(curl_login(LOGIN)).await;
    let r = s.call(Req::get("/rest/v1.1/admin/nothing").cookies_from(&login)).await;
    assert_snapshot!("unknown_resource_404", r.snapshot());
    assert_eq!(s.call(Req::get("/index.html")).await.status, 404);
}

#[actix_web::test]
async fn repeated_slashes_are_merged() {
    let r = stand().call(curl_login("//rest//v1.1/admin//login")).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn error_envelopes_follow_accept() {
    let s = with_options("error_body = \"envelope\"");
    let r = s.call(xml_login("admin", "wrong").header("Accept", "application/xml")).await;
    assert_snapshot!("envelope_401_xml", r.snapshot());
    let r = s.call(json_login("admin", "wrong")).await;
    assert_snapshot!("envelope_401_json", r.snapshot());
    let r = s.call(Req::post(LOGIN).header("Content-Type", "application/xml").body("<session>")).await;
    assert_snapshot!("envelope_400_xml", r.snapshot());
    let r = s.call(Req::post(LOGIN).header("Accept", "application/json").json(serde_json::json!({}))).await;
    assert_snapshot!("envelope_400_json", r.snapshot());
    let r = s.call(Req::get("/rest/v9.9/admin/serverInfo")).await;
    assert_snapshot!("envelope_404_xml", r.snapshot());
    let r = s.call(Req::get("/rest/v9.9/admin/serverInfo").header("Accept", "application/json")).await;
    assert_snapshot!("envelope_404_json", r.snapshot());
    let r = s.call(Req::get(SERVER_INFO).header("Accept", "application/json")).await;
    assert_snapshot!("envelope_server_info_401_json", r.snapshot());
}

#[actix_web::test]
async fn the_challenge_node_and_server_info_are_options() {
    let s = with_options(
        "auth_scheme = \"Session\"\nrealm = \"Oracle SDM\"\nnode = \"sdm2\"\nserver_info = \"NNC12345\"\nserver_address = \"192.0.2.7\"\nserver_status = \"Standby\"",
    );
    let r = s.call(xml_login("admin", "wrong")).await;
    assert_eq!(r.header("www-authenticate"), Some("Session realm=\"Oracle SDM\""));
    let login = s.call(curl_login(LOGIN)).await;
    assert!(element(&login.body, "sessionId").ends_with(".sdm2"));
    assert_eq!(element(&login.body, "serverInfo"), "NNC12345");
    let r = s.call(Req::get(SERVER_INFO).cookies_from(&login)).await;
    assert_eq!(element(&r.body, "ipAddress"), "192.0.2.7");
    assert_eq!(element(&r.body, "status"), "Standby");
}

#[actix_web::test]
async fn the_logout_cookie_is_an_option() {
    let s = with_options("logout_set_cookie = \"\"");
    let login = s.call(curl_login(LOGIN)).await;
    let r = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_eq!((r.status, r.header("set-cookie")), (204, None));
    let s =
        with_options("logout_set_cookie = \"JSESSIONID=deleted; Path=/rest; Expires=Thu, 01 Jan 1970 00:00:00 GMT\"");
    let login = s.call(curl_login(LOGIN)).await;
    let r = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_eq!(r.header("set-cookie"), Some("JSESSIONID=deleted; Path=/rest; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
}

/// The documentation's own response headers say `Content-Length: 304`: the pretty-printed body
/// on the same page is 325 bytes, JAXB's unformatted output of it exactly 304. So that is the default.
#[actix_web::test]
async fn the_default_layout_is_jaxbs_unformatted_output_of_the_documented_content_length() {
    let s = TestStand::new("oracle-sdm");
    let r = s.call(curl_login(LOGIN)).await;
    assert_eq!(r.body.len(), 304, "the documented response's Content-Length");
    assert_snapshot!("login_xml_compact", r.snapshot());
}

#[actix_web::test]
async fn the_indented_layout_reproduces_the_documentation_rendering() {
    let s = with_options("xml_layout = \"indented\"");
    let r = s.call(curl_login(LOGIN)).await;
    assert_eq!(r.body.len(), 325);
    assert_snapshot!("login_xml_indented", r.snapshot());
}

#[actix_web::test]
async fn show_idle_timeout_puts_the_real_timeout_and_expiry_in_the_body() {
    let s = TestStand::with_scenario(
        "oracle-sdm",
        "[stands.policy]\nidle_timeout = \"10m\"\n[stands.options]\nshow_idle_timeout = true",
    );
    s.advance(Duration::from_secs(5));
    let r = s.call(curl_login(LOGIN)).await;
    assert_snapshot!("login_xml_show_idle_timeout", r.snapshot());
    let r = s.call(json_login("admin", "password")).await;
    assert_eq!(r.json()["idleTimeout"], 600);
    assert_eq!(r.json()["validUntil"], "2026-01-01 00:10:05");
    assert_snapshot!("login_json_show_idle_timeout", r.snapshot());
    // A session that never idles out still says so.
    let s = TestStand::with_scenario(
        "oracle-sdm",
        "[stands.policy]\nidle_timeout = \"none\"\n[stands.options]\nshow_idle_timeout = true",
    );
    let r = s.call(json_login("admin", "password")).await;
    assert_eq!(
        (r.json()["idleTimeout"].as_u64(), r.json()["validUntil"].as_str()),
        (Some(0), Some("valid until logout"))
    );
}

#[actix_web::test]
async fn an_account_without_a_group_has_no_user_group_element() {
    let s = TestStand::with_scenario(
        "oracle-sdm",
        "[[stands.accounts]]\nname = \"ops\"\npassword = \"secret\"\n[[stands.accounts]]\nname = \"admin\"\npassword = \"password\"\ngroup = \"administrators\"",
    );
    let r = s.call(xml_login("ops", "secret")).await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("userGroup"), "{}", r.body);
    let r = s.call(xml_login("admin", "password")).await;
    assert_eq!(element(&r.body, "userGroup"), "administrators");
}

#[actix_web::test]
async fn the_idle_expiry_scenario_shows_its_timeout_and_ends_idle_sessions() {
    let s = TestStand::from_spec(
        standin::Scenario::load("scenarios/oracle-sdm-idle-expiry.toml".as_ref()).expect("scenario").stands.remove(0),
    );
    let login = s.call(curl_login(LOGIN)).await;
    assert_eq!(element(&login.body, "idleTimeout"), "600");
    assert_eq!(element(&login.body, "validUntil"), "2026-01-01 00:10:00");
    for _ in 0..10 {
        s.advance(Duration::from_secs(9 * 60));
        assert_eq!(s.call(Req::get(SERVER_INFO).cookies_from(&login)).await.status, 200);
    }
    s.advance(Duration::from_secs(10 * 60));
    let r = s.call(Req::get(SERVER_INFO).cookies_from(&login)).await;
    assert_eq!((r.status, r.body.as_str()), (401, "The request is not authorized."));
}

fn wire_snapshot(r: &Response) -> String {
    let mut out = format!("HTTP {}\n", r.status);
    let mut headers: Vec<_> = r.headers.iter().collect();
    headers.sort_by_key(|h| h.0.to_ascii_lowercase());
    for (n, v) in headers {
        let _ = writeln!(out, "{}: {v}", n.to_ascii_lowercase());
    }
    out.push('\n');
    out.push_str(&r.text_body());
    out
}

#[actix_web::test]
async fn semantic_faults_render_in_the_vendor_format() {
    let s = stand();
    let handler = profiles::find("oracle-sdm").expect("listed").configure(&serde_json::Value::Null).expect("defaults");
    let login = Request::new(Method::POST, LOGIN);
    let info = Request::new(Method::GET, SERVER_INFO);
    let busy = handler.render(s.engine(), &login, &Semantic::Busy { retry_after: 30 });
    assert_snapshot!("fault_busy", wire_snapshot(&busy));
    let rejected = handler.render(s.engine(), &login, &Semantic::LoginRejected);
    assert_eq!((rejected.status, rejected.text_body()), (401, "The user ID or password is invalid.".into()));
    let locked = handler.render(s.engine(), &login, &Semantic::Locked);
    assert_eq!(locked.status, 401);
    let unauthorized = handler.render(s.engine(), &info, &Semantic::Unauthorized);
    assert_eq!((unauthorized.status, unauthorized.text_body()), (401, "The request is not authorized.".into()));
    assert!(unauthorized.header_value("www-authenticate").is_some());
}

#[actix_web::test]
async fn the_guard_checks_the_version_then_the_cookie() {
    let s = stand();
    let handler = profiles::find("oracle-sdm").expect("listed").configure(&serde_json::Value::Null).expect("defaults");
    let login: Reply = s.call(curl_login(LOGIN)).await;
    let cookie = login.cookie_header();
    let resource = |path: &str| Request::new(Method::GET, path).with_header("cookie", &cookie);
    let Ok(Principal::Session(p)) = handler.guard(s.engine(), &resource("/rest/v1.3/config/devices")) else {
        panic!("a live session passes");
    };
    assert_eq!(p.account.name, "admin");
    let denied = handler.guard(s.engine(), &Request::new(Method::GET, "/rest/v1.3/config/devices")).expect_err("401");
    assert_eq!(denied.status, 401);
    let bad = handler.guard(s.engine(), &resource("/rest/v7/config/devices")).expect_err("404");
    assert_eq!(
        (bad.status, bad.text_body()),
        (404, "The REST API version of your input request cannot be found.".into())
    );
    assert_eq!(handler.session_token(&resource(SERVER_INFO)).as_deref(), login.cookie("JSESSIONID").as_deref());
    let named = Request::new(Method::POST, LOGIN).with_header("content-type", "application/xml").with_body(USER_XML);
    assert_eq!(handler.user(&named).as_deref(), Some("admin"));
    assert_eq!(handler.operation(&named), profiles::Operation::Login);
}

#[actix_web::test]
async fn the_documented_curl_flow_works_over_a_real_socket() {
    let stand = Stand::builder("oracle-sdm").start().await.expect("start");
    let url = stand.url();
    let c = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().expect("client");
    let r = c
        .post(format!("{url}{LOGIN}"))
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(curl_d(USER_XML))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["server"], "Apache");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert_eq!(cookie, format!("JSESSIONID={}; Path=/rest; HttpOnly", element(&body, "sessionId")));
    let r = c.get(format!("{url}{SERVER_INFO}")).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["clusterMembers"][0]["status"], "Online");
    let r = c.post(format!("{url}{LOGOUT}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["set-cookie"], "JSESSIONID=; Path=/rest; Max-Age=0");
    let r = c.get(format!("{url}{SERVER_INFO}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "The request is not authorized.");
    assert!(stand.sessions().is_empty());
}
