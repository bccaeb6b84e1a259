//! junos-space: every response format pinned, and the documented flows.

use std::time::Duration;

use insta::assert_snapshot;

use crate::support::{Req, TestStand};

const LOGIN: &str = "/api/space/user-management/login";
const STATUS: &str = "/api/space/user-management/login-status";
const LOGOUT: &str = "/api/space/user-management/logout";
const USERS: &str = "/api/space/user-management/users";
const ACTIVE: &str = "/api/space/user-management/active-user-sessions";

fn stand() -> TestStand {
    TestStand::new("junos-space")
}

#[actix_web::test]
async fn login_sets_both_cookies_and_says_user_logged_in() {
    let s = stand();
    let r = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    assert_eq!(r.status, 200);
    let jsessionid = r.cookie("JSESSIONID").expect("JSESSIONID");
    let (b64, node) = jsessionid.split_once('.').expect("<base64>.<node>");
    assert_eq!(b64.len(), 24);
    assert_eq!(node, "space-000c2980f778:0");
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_answers_user_ref_json_when_the_ansible_accept_asks() {
    let r = stand()
        .call(
            Req::post(LOGIN)
                .basic("super", "juniper123")
                .header("Accept", "application/vnd.net.juniper.space.user-management.user-ref+json;version=1"),
        )
        .await;
    assert_eq!(r.json()["user-ref"]["name"], "super");
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_answers_user_ref_xml() {
    let r = stand()
        .call(
            Req::post(LOGIN)
                .basic("super", "juniper123")
                .header("Accept", "application/vnd.net.juniper.space.user-management.user-ref+xml;version=1;q=0.9"),
        )
        .await;
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn documented_cookie_style_emits_the_one_line_header() {
    let s = TestStand::with_scenario("junos-space", "[stands.options]\ncookie_style = \"documented\"");
    let r = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    let headers: Vec<_> = r.headers.iter().filter(|(n, _)| n == "set-cookie").collect();
    assert_eq!(headers.len(), 1);
    assert_snapshot!(r.snapshot());
    // A client pasting that line back as its Cookie header is understood.
    let pasted = headers[0].1.clone();
    let st = s.call(Req::get(STATUS).header("Cookie", &pasted)).await;
    assert_eq!(st.status, 200, "{}", st.body);
}

#[actix_web::test]
async fn wrong_password_is_401_user_is_not_logged_in() {
    let r = stand().call(Req::post(LOGIN).basic("super", "nope")).await;
    assert_snapshot!(r.snapshot());
}

#[actix_web::test]
async fn login_without_credentials_and_with_a_bad_basic_header_is_401() {
    let s = stand();
    for req in [
        Req::post(LOGIN),
        Req::post(LOGIN).header("Authorization", "Basic !!!notbase64"),
        Req::post(LOGIN).header("Authorization", "Basic c3VwZXI="),
    ] {
        let r = s.call(req).await;
        assert_eq!((r.status, r.body.as_str()), (401, "User is not logged in"));
    }
}

#[actix_web::test]
async fn login_status_logout_and_after() {
    let s = stand();
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    let st = s.call(Req::get(STATUS).cookies_from(&login)).await;
    assert_snapshot!("login_status_ok", st.snapshot());
    let out = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_ok", out.snapshot());
    let st = s.call(Req::get(STATUS).cookies_from(&login)).await;
    assert_snapshot!("login_status_after_logout", st.snapshot());
    let again = s.call(Req::post(LOGOUT).cookies_from(&login)).await;
    assert_snapshot!("logout_again", again.snapshot());
}

#[actix_web::test]
async fn logout_with_basic_and_no_cookies_is_the_documented_401_and_nothing_else() {
    let s = stand();
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    let r = s.call(Req::post(LOGOUT).basic("super", "juniper123")).await;
    assert_eq!((r.status, r.body.as_str()), (401, "Incorrect headers were passed in"));
    assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 200);
}

#[actix_web::test]
async fn logout_with_mismatched_cookies_is_412() {
    let s = stand();
    let a = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    let b = s.call(Req::post(LOGIN).basic("operator", "operator123")).await;
    let cookie =
        format!("JSESSIONIDSSO={}; JSESSIONID={}", a.cookie("JSESSIONIDSSO").unwrap(), b.cookie("JSESSIONID").unwrap());
    let r = s.call(Req::post(LOGOUT).header("Cookie", &cookie)).await;
    assert_snapshot!(r.snapshot());
    assert_eq!(s.engine().sessions().len(), 2, "nothing was logged out");
}

#[actix_web::test]
async fn login_status_needs_both_cookies_but_resources_take_jsessionidsso_alone() {
    let s = stand();
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    let sso = format!("JSESSIONIDSSO={}", login.cookie("JSESSIONIDSSO").unwrap());
    assert_eq!(s.call(Req::get(STATUS).header("Cookie", &sso)).await.status, 401);
    assert_eq!(s.call(Req::get(USERS).header("Cookie", &sso)).await.status, 200);
}

#[actix_web::test]
async fn every_protected_resource_takes_basic_without_a_session() {
    let s = stand();
    let r = s.call(Req::get(USERS).basic("operator", "operator123")).await;
    assert_snapshot!("users_xml", r.snapshot());
    assert!(s.engine().sessions().is_empty(), "Basic on a resource creates no session");
    let r = s
        .call(
            Req::get(USERS)
                .basic("super", "juniper123")
                .header("Accept", "application/vnd.net.juniper.space.user-management.users+json;version=1"),
        )
        .await;
    assert_snapshot!("users_json", r.snapshot());
    let r = s.call(Req::get("/api/space/user-management/users/131074").basic("super", "juniper123")).await;
    assert_snapshot!("user_xml", r.snapshot());
}

#[actix_web::test]
async fn active_user_sessions_lists_live_sessions_in_both_formats() {
    let s = stand();
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    s.advance(Duration::from_secs(90));
    let r = s.call(Req::get(ACTIVE).cookies_from(&login)).await;
    assert_snapshot!("active_sessions_xml", r.snapshot());
    let r = s
        .call(
            Req::get(ACTIVE).cookies_from(&login).header(
                "Accept",
                "application/vnd.net.juniper.space.user-management.active-user-sessions+json;version=1",
            ),
        )
        .await;
    assert_snapshot!("active_sessions_json", r.snapshot());
}

#[actix_web::test]
async fn unauthenticated_resource_gets_the_jboss_401_with_a_challenge() {
    let s = stand();
    let r = s.call(Req::get("/api/space/device-management/devices")).await;
    assert_snapshot!("resource_401", r.snapshot());
    let r = s.call(Req::get("/api/space/device-management/devices").basic("super", "juniper123")).await;
    assert_snapshot!("resource_404_after_auth", r.snapshot());
}

#[actix_web::test]
async fn maxage_sets_the_idle_timeout_in_seconds() {
    let s = stand();
    let login = s.call(Req::post(&format!("{LOGIN}?maxage=60")).basic("super", "juniper123")).await;
    s.advance(Duration::from_secs(59));
    assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 200);
    s.advance(Duration::from_secs(60));
    assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 401);
    // In a form body too.
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123").form(&[("maxage", "60")])).await;
    s.advance(Duration::from_secs(60));
    assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 401);
}

#[actix_web::test]
async fn a_bad_maxage_is_400_plain_text() {
    let s = stand();
    for bad in ["abc", "-5", "1.5"] {
        let r = s.call(Req::post(&format!("{LOGIN}?maxage={bad}")).basic("super", "juniper123")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    assert!(s.engine().sessions().is_empty());
}

#[actix_web::test]
async fn a_session_used_every_29_minutes_lives_for_hours_and_30_idle_minutes_end_it() {
    let s = TestStand::from_spec(
        standin::Scenario::load("scenarios/junos-space-idle-expiry.toml".as_ref()).unwrap().stands.remove(0),
    );
    let login = s.call(Req::post(LOGIN).basic("super", "juniper123")).await;
    for _ in 0..10 {
        s.advance(Duration::from_secs(29 * 60));
        assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 200);
    }
    s.advance(Duration::from_secs(30 * 60));
    assert_eq!(s.call(Req::get(STATUS).cookies_from(&login)).await.status, 401);
}

#[actix_web::test]
async fn repeated_slashes_and_h2c_offers_are_ignored() {
    let s = stand();
    let r = s
        .call(
            Req::post("//api/space//user-management/login")
                .basic("super", "juniper123")
                .header("Connection", "Upgrade, HTTP2-Settings")
                .header("Upgrade", "h2c")
                .header("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn wrong_methods_get_405() {
    let r = stand().call(Req::get(LOGIN)).await;
    assert_eq!(r.status, 405);
}
