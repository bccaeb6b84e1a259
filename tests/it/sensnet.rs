//! sensnet: every response format pinned, the documented flow, sliding validity and its cap.

use std::time::Duration;

use insta::assert_snapshot;

use crate::support::JsonValue as _;
use crate::support::{Reply, Req, TestStand};

const API: &str = "/sn/rest/api";
const LOGIN: &str = "/sn/rest/api/login";
const USER: &str = "test1@test.domain";

fn stand() -> TestStand {
    TestStand::new("sensnet")
}

fn form_login() -> Req {
    Req::post(LOGIN).form(&[("u", USER), ("p", "password"), ("n", "Java-client")])
}

fn ticket(r: &Reply) -> String {
    r.json()["loginSession"]["token"].as_str().expect("a token").to_owned()
}

fn valid_until(r: &Reply) -> String {
    r.json()["loginSession"]["validUntil"].as_str().expect("validUntil").to_owned()
}

fn check(t: &str) -> Req {
    Req::get(&format!("{API}/{t}"))
}

fn ms(d: &str) -> Duration {
    humantime::parse_duration(d).expect("duration")
}

fn documented_stand() -> TestStand {
    let scenario = standin::Scenario::load("scenarios/sensnet-idle-expiry.toml".as_ref()).expect("scenario loads");
    TestStand::from_spec(scenario.stands.into_iter().next().expect("one stand"))
}

#[actix_web::test]
async fn form_post_login_returns_the_documented_login_session() {
    let s = stand();
    let r = s.call(form_login()).await;
    assert_eq!(r.status, 200);
    let t = ticket(&r);
    assert_eq!((t.len(), &t[14..15]), (36, "4"), "UUID v4: {t}");
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn get_path_login_returns_the_same_object_with_get_in_the_note() {
    let r = stand().call(Req::get(&format!("{LOGIN}/{USER}/password/Java-client"))).await;
    assert_eq!(r.json()["loginSession"]["note"], "[127.0.0.1 GET] Java-client");
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_answers_xml_when_accept_asks_with_one_element_per_role() {
    let s = TestStand::with_scenario(
        "sensnet",
        "[[stands.accounts]]\nname = \"test1@test.domain\"\npassword = \"password\"\nid = 3\nroles = [\"admin\", \"R&D <lab>\"]\n",
    );
    let r = s.call(form_login().header("Accept", "application/xml")).await;
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_snapshot!("login_xml_with_roles", r.snapshot());
    let r = s.call(form_login().header("Accept", "application/json")).await;
    assert_eq!(r.json()["loginSession"]["roleArray"], serde_json::json!(["admin", "R&D <lab>"]));
    assert_snapshot!("login_json_with_roles", r.snapshot());
    let r = s.call(form_login().header("Accept", "application/xml")).await;
    let t = r.body.split("<token>").nth(1).and_then(|b| b.split('<').next()).expect("token element").to_owned();
    let r = s.call(check(&t).header("Accept", "text/xml;charset=UTF-8")).await;
    assert_snapshot!("check_xml", r.snapshot());
}

#[actix_web::test]
async fn wrong_password_is_401_with_an_empty_body() {
    let s = stand();
    let r = s.call(Req::post(LOGIN).form(&[("u", USER), ("p", "nope")])).await;
    assert_snapshot!(r.snapshot());
    for req in [
        Req::post(LOGIN).form(&[("u", "nobody@test.domain"), ("p", "password")]),
        Req::post(LOGIN).form(&[("u", USER)]),
        Req::post(LOGIN),
        Req::post(LOGIN).json(serde_json::json!({"u": USER, "p": "password"})),
        Req::get(&format!("{LOGIN}/{USER}/nope/Java-client")),
        Req::get(&format!("{LOGIN}/{USER}/password/x").replace("password", "pass%FFword")),
    ] {
        let r = s.call(req.clone()).await;
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{req:?}");
    }
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_check_5_min_58_843_s_later_moves_valid_until_by_exactly_that() {
    let s = documented_stand();
    let login = s.call(Req::get(&format!("{LOGIN}/{USER}/password/Java-client"))).await;
    assert_eq!(login.json()["loginSession"]["created"], "2015-07-14T15:40:52.738+02:00");
    assert_eq!(valid_until(&login), "2015-07-14T18:40:52.738+02:00");
    s.advance(ms("5min 58s 843ms"));
    let r = s.call(check(&ticket(&login))).await;
    assert_eq!(r.status, 200);
    assert_eq!(valid_until(&r), "2015-07-14T18:46:51.581+02:00", "the documented example");
    assert_eq!(r.json()["loginSession"]["created"], login.json()["loginSession"]["created"]);
    assert_snapshot!("documented_login", login.snapshot());
    assert_snapshot!("documented_check", r.snapshot());
}

#[actix_web::test]
async fn the_check_alias_renews_like_the_documented_check() {
    let s = stand();
    let login = s.call(form_login()).await;
    s.advance(ms("1h"));
    let r = s.call(Req::get(&format!("{API}/check/{}", ticket(&login)))).await;
    assert_eq!(valid_until(&r), "2026-01-01T06:00:00.000+02:00");
    let off = TestStand::with_scenario("sensnet", "[stands.options]\naliases = false");
    let login = off.call(form_login()).await;
    assert_eq!(off.call(Req::get(&format!("{API}/check/{}", ticket(&login)))).await.status, 404);
    assert_eq!(off.call(Req::delete(&format!("{API}/logout/{}", ticket(&login)))).await.status, 404);
}

#[actix_web::test]
async fn logout_says_true_then_check_and_logout_are_204() {
    let s = stand();
    let t = ticket(&s.call(form_login()).await);
    let r = s.call(Req::delete(&format!("{API}/{t}"))).await;
    assert_snapshot!("logout_ok", r.snapshot());
    assert_snapshot!("check_after_logout", s.call(check(&t)).await.snapshot());
    assert_snapshot!("logout_again", s.call(Req::delete(&format!("{API}/{t}"))).await.snapshot());
    assert_eq!(s.call(check("never-issued")).await.status, 204);
}

#[actix_web::test]
async fn the_logout_alias_ends_the_ticket() {
    let s = stand();
    let t = ticket(&s.call(form_login()).await);
    let r = s.call(Req::delete(&format!("{API}/logout/{t}"))).await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    assert_eq!(s.call(check(&t)).await.status, 204);
}

#[actix_web::test]
async fn logout_body_is_configurable() {
    let s = TestStand::with_scenario(
        "sensnet",
        "[stands.options]\nlogout_body = \"\"\nlogout_content_type = \"text/plain\"\nlogin_failure_status = 403",
    );
    let t = ticket(&s.call(form_login()).await);
    let r = s.call(Req::delete(&format!("{API}/{t}"))).await;
    assert_eq!((r.status, r.body.as_str(), r.header("content-type")), (200, "", Some("text/plain")));
    assert_eq!(s.call(Req::post(LOGIN).form(&[("u", USER), ("p", "x")])).await.status, 403);
}

#[actix_web::test]
async fn three_idle_hours_end_the_ticket() {
    let s = stand();
    let t = ticket(&s.call(form_login()).await);
    s.advance(ms("3h") - ms("1ms"));
    assert_eq!(s.call(check(&t)).await.status, 200, "just before validUntil");
    s.advance(ms("3h"));
    let r = s.call(check(&t)).await;
    assert_eq!((r.status, r.body.as_str(), r.header("content-type")), (204, "", None));
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_ticket_checked_every_hour_stops_renewing_at_the_cap_and_then_is_204() {
    let s = documented_stand();
    let login = s.call(form_login()).await;
    let t = ticket(&login);
    let created = standin::Timestamp::parse_rfc3339("2015-07-14T15:40:52.738+02:00").unwrap();
    let cap = created.plus(ms("24h"));
    let mut last = String::new();
    for hour in 1..24u64 {
        s.advance(ms("1h"));
        let r = s.call(check(&t)).await;
        assert_eq!(r.status, 200, "hour {hour}");
        let until = standin::Timestamp::parse_rfc3339(&valid_until(&r)).unwrap();
        assert_eq!(until, created.plus(Duration::from_secs((hour + 3) * 3600)).min(cap), "hour {hour}");
        last = valid_until(&r);
    }
    assert_eq!(last, "2015-07-15T15:40:52.738+02:00", "capped at created + 24 h");
    s.advance(ms("1h"));
    assert_eq!(s.call(check(&t)).await.status, 204, "at the cap");
}

#[actix_web::test]
async fn the_cap_is_configurable() {
    let s = TestStand::with_scenario("sensnet", "[stands.policy]\nidle_timeout = \"1h\"\nabsolute_lifetime = \"90m\"");
    let t = ticket(&s.call(form_login()).await);
    s.advance(ms("59m"));
    assert_eq!(valid_until(&s.call(check(&t)).await), "2026-01-01T03:30:00.000+02:00");
    s.advance(ms("31m"));
    assert_eq!(s.call(check(&t)).await.status, 204);
}

#[actix_web::test]
async fn a_ticket_that_never_expires_has_no_valid_until() {
    let s =
        TestStand::with_scenario("sensnet", "[stands.policy]\nidle_timeout = \"none\"\nabsolute_lifetime = \"none\"");
    let r = s.call(form_login()).await;
    assert!(r.json()["loginSession"].get("validUntil").is_none(), "{}", r.body);
    let r = s.call(form_login().header("Accept", "application/xml")).await;
    assert!(!r.body.contains("validUntil"), "{}", r.body);
}

#[actix_web::test]
async fn percent_encoded_path_segments_decode_and_plus_stays_literal() {
    let s = TestStand::with_scenario(
        "sensnet",
        "[[stands.accounts]]\nname = \"a+b@test.domain\"\npassword = \"pa/ss w+rd\"\nid = 7\n",
    );
    let r = s.call(Req::get(&format!("{LOGIN}/a+b%40test.domain/pa%2Fss%20w+rd/from%2Fhere%20%E2%9C%93"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = &r.json()["loginSession"];
    assert_eq!(session["username"], "a+b@test.domain");
    assert_eq!(session["idUser"], 7);
    assert_eq!(session["note"], "[127.0.0.1 GET] from/here ✓");
    // `+` in a path is not a space.
    assert_eq!(s.call(Req::get(&format!("{LOGIN}/a%20b@test.domain/pa%2Fss%20w+rd/x"))).await.status, 401);
    // Not UTF-8 in the note: replaced, as Java's decoder does; malformed escapes stay literal.
    let r = s.call(Req::get(&format!("{LOGIN}/a+b@test.domain/pa%2Fss%20w+rd/x%FF%ZZ"))).await;
    assert_eq!(r.json()["loginSession"]["note"], "[127.0.0.1 GET] x\u{FFFD}%ZZ");
}

#[actix_web::test]
async fn an_empty_note_is_allowed_with_or_without_the_trailing_slash() {
    let s = stand();
    for path in [format!("{LOGIN}/{USER}/password/"), format!("{LOGIN}/{USER}/password")] {
        let r = s.call(Req::get(&path)).await;
        assert_eq!(r.json()["loginSession"]["note"], "[127.0.0.1 GET] ", "{path}");
    }
    let r = s.call(Req::post(LOGIN).form(&[("u", USER), ("p", "password")])).await;
    assert_eq!(r.json()["loginSession"]["note"], "[127.0.0.1 POST] ");
}

#[actix_web::test]
async fn session_ids_count_per_stand() {
    let s = stand();
    for id in 1..=3 {
        assert_eq!(s.call(form_login()).await.json()["loginSession"]["id"], id);
    }
}

#[actix_web::test]
async fn wrong_methods_are_405_and_other_paths_404() {
    let s = stand();
    let r = s.call(Req::get(LOGIN)).await;
    assert_snapshot!("login_by_get_without_segments_is_405", r.snapshot());
    assert_eq!(s.call(Req::post(&format!("{LOGIN}/{USER}/password/n"))).await.status, 405);
    assert_eq!(s.call(Req::post(&format!("{API}/some-ticket"))).await.status, 405);
    let r = s.call(Req::get("/sn/rest/other")).await;
    assert_snapshot!("unknown_path_is_404", r.snapshot());
    assert_eq!(s.call(Req::get(&format!("{LOGIN}/{USER}"))).await.status, 404);
    assert_eq!(s.call(Req::get(&format!("{LOGIN}/{USER}/password/n/extra"))).await.status, 404);
}

#[actix_web::test]
async fn repeated_slashes_are_merged() {
    let r = stand().call(Req::post("//sn/rest/api//login").form(&[("u", USER), ("p", "password")])).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn zero_offset_prints_z_by_default_and_numeric_when_asked() {
    let s = TestStand::with_scenario("sensnet", "[stands.options]\ntime_zone = \"+00:00\"");
    assert_eq!(s.call(form_login()).await.json()["loginSession"]["created"], "2026-01-01T00:00:00.000Z");
    let s = TestStand::with_scenario("sensnet", "[stands.options]\ntime_zone = \"+00:00\"\nzero_offset = \"+00:00\"");
    assert_eq!(s.call(form_login()).await.json()["loginSession"]["created"], "2026-01-01T00:00:00.000+00:00");
}

/// The docs' flow through a real socket over IPv6 loopback, so the note shows Java's long form.
#[actix_web::test]
async fn the_documented_flow_over_a_real_socket_on_ipv6_loopback() {
    let builder = standin::Stand::builder("sensnet")
        .scenario_file("scenarios/sensnet-idle-expiry.toml")
        .expect("scenario")
        .host(std::net::Ipv6Addr::LOCALHOST.into());
    let stand = match builder.start().await {
        Ok(stand) => stand,
        Err(e) => return eprintln!("skipped: no IPv6 loopback here ({e})"),
    };
    let url = stand.url();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let r = c.get(format!("{url}{LOGIN}/{USER}/password/Java-client")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let login: serde_json::Value = r.json().await.unwrap();
    let session = &login["loginSession"];
    assert_eq!(session["note"], "[0:0:0:0:0:0:0:1 GET] Java-client");
    assert_eq!(session["created"], "2015-07-14T15:40:52.738+02:00");
    let t = session["token"].as_str().unwrap();

    stand.clock().advance(ms("5min 58s 843ms"));
    let checked: serde_json::Value = c.get(format!("{url}{API}/{t}")).json_value().await;
    assert_eq!(checked["loginSession"]["validUntil"], "2015-07-14T18:46:51.581+02:00");

    let r = c.delete(format!("{url}{API}/{t}")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().as_str()), (200, "true"));
    let r = c.get(format!("{url}{API}/{t}")).send().await.unwrap();
    assert_eq!(r.status(), 204);

    let r = c
        .post(format!("{url}{LOGIN}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("u=test1%40test.domain&p=password&n=Java-client")
        .send()
        .await
        .unwrap();
    let login: serde_json::Value = r.json().await.unwrap();
    assert_eq!(login["loginSession"]["note"], "[0:0:0:0:0:0:0:1 POST] Java-client");
}
