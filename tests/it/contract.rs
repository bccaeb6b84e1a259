//! The contract table: the same session lifecycle cases over every profile.
//!
//! A profile joins by adding a `Vendor` (how its client logs in, carries the session, logs out)
//! and one `#[case]` line to the `vendors` template.

use std::time::Duration;

use rstest::rstest;
use rstest_reuse::{apply, template};

use crate::support::{Reply, Req, TestStand};

/// How a profile's client performs the lifecycle.
pub struct Vendor {
    pub profile: &'static str,
    pub user: &'static str,
    pub password: &'static str,
    /// A login request with these credentials.
    pub login: fn(&str, &str) -> Req,
    pub login_ok: u16,
    pub login_rejected: u16,
    /// A login request with no credentials at all.
    pub no_credentials: fn() -> Req,
    pub no_credentials_status: u16,
    /// A login request whose body is malformed, and the status it gets.
    pub malformed: Option<(fn() -> Req, u16)>,
    /// A request that uses the session issued by `login` (from its reply).
    pub use_session: fn(&Reply) -> Req,
    pub use_ok: u16,
    /// What using an ended (expired, logged out) session gets.
    pub use_rejected: u16,
    /// A logout of the session issued by `login`.
    pub logout: fn(&Reply) -> Req,
    pub logout_ok: u16,
    /// What a second logout of the same session gets.
    pub logout_again: u16,
    /// The profile's default idle timeout.
    pub idle: Duration,
}

pub fn junos_space() -> Vendor {
    const UM: &str = "/api/space/user-management";
    Vendor {
        profile: "junos-space",
        user: "super",
        password: "juniper123",
        login: |u, p| Req::post(&format!("{UM}/login")).basic(u, p),
        login_ok: 200,
        login_rejected: 401,
        no_credentials: || Req::post(&format!("{UM}/login")),
        no_credentials_status: 401,
        malformed: Some((|| Req::post(&format!("{UM}/login?maxage=soon")).basic("super", "juniper123"), 400)),
        use_session: |r| Req::get(&format!("{UM}/login-status")).cookies_from(r),
        use_ok: 200,
        use_rejected: 401,
        logout: |r| Req::post(&format!("{UM}/logout")).cookies_from(r),
        logout_ok: 200,
        logout_again: 401,
        idle: Duration::from_secs(30 * 60),
    }
}

pub fn infinite_blue() -> Vendor {
    /// The sessionId of an XML login answer (the documented leading space trimmed).
    fn id(r: &Reply) -> String {
        r.body.split("<sessionId>").nth(1).and_then(|s| s.split('<').next()).unwrap_or_default().trim().to_owned()
    }
    Vendor {
        profile: "infinite-blue",
        user: "admin",
        password: "password",
        login: |u, p| Req::get("/rest/api/login").header("loginName", u).header("password", p),
        login_ok: 200,
        login_rejected: 401,
        // A missing parameter is `status="fail"` 400, not the login error.
        no_credentials: || Req::get("/rest/api/login"),
        no_credentials_status: 400,
        malformed: Some((|| Req::get("/rest/api/login?loginName=admin&password=password&output=yaml"), 400)),
        // selectQuery without a scenario resource: past the session check, `status="fail"` 400
        // "not emulated"; an ended session gets the 401 login error instead.
        use_session: |r| Req::get(&format!("/rest/api/selectQuery?sessionId={}&query=SELECT%201", id(r))),
        use_ok: 400,
        use_rejected: 401,
        logout: |r| Req::get(&format!("/rest/api/logout?sessionId={}", id(r))),
        logout_ok: 200,
        logout_again: 401,
        idle: Duration::from_secs(60 * 60),
    }
}

pub fn sensnet() -> Vendor {
    fn ticket(r: &Reply) -> String {
        r.json()["loginSession"]["token"].as_str().expect("a ticket").to_owned()
    }
    Vendor {
        profile: "sensnet",
        user: "test1@test.domain",
        password: "password",
        login: |u, p| Req::post("/sn/rest/api/login").form(&[("u", u), ("p", p), ("n", "contract")]),
        login_ok: 200,
        login_rejected: 401,
        no_credentials: || Req::post("/sn/rest/api/login"),
        no_credentials_status: 401,
        // A form body cannot be malformed: whatever it holds is read leniently.
        malformed: None,
        use_session: |r| Req::get(&format!("/sn/rest/api/{}", ticket(r))),
        use_ok: 200,
        use_rejected: 204,
        logout: |r| Req::delete(&format!("/sn/rest/api/{}", ticket(r))),
        logout_ok: 200,
        logout_again: 204,
        idle: Duration::from_secs(3 * 3600),
    }
}

pub fn oracle_sdm() -> Vendor {
    const API: &str = "/rest/v1.1/admin";
    Vendor {
        profile: "oracle-sdm",
        user: "admin",
        password: "password",
        login: |u, p| {
            Req::post(&format!("{API}/login"))
                .header("Content-Type", "application/xml")
                .body(format!("<session><userName>{u}</userName><password>{p}</password></session>"))
        },
        login_ok: 200,
        login_rejected: 401,
        no_credentials: || Req::post(&format!("{API}/login")),
        no_credentials_status: 400,
        malformed: Some((
            || Req::post(&format!("{API}/login")).header("Content-Type", "application/xml").body("<session><userName>"),
            400,
        )),
        use_session: |r| Req::get(&format!("{API}/serverInfo")).cookies_from(r),
        use_ok: 200,
        use_rejected: 401,
        logout: |r| Req::post(&format!("{API}/logout")).cookies_from(r),
        logout_ok: 204,
        logout_again: 401,
        idle: Duration::from_secs(30 * 60),
    }
}

pub fn storware() -> Vendor {
    const LOGIN: &str = "/api/session/login";
    Vendor {
        profile: "storware",
        user: "admin",
        password: "vPr0tect",
        login: |u, p| Req::post(LOGIN).json(serde_json::json!({"login": u, "password": p})),
        login_ok: 201,
        login_rejected: 401,
        no_credentials: || Req::post(LOGIN).json(serde_json::json!({})),
        no_credentials_status: 401,
        malformed: Some((|| Req::post(LOGIN).header("Content-Type", "application/json").body("{\"login\":"), 400)),
        use_session: |r| Req::get("/api/session").cookies_from(r),
        use_ok: 204,
        use_rejected: 401,
        logout: |r| Req::post("/api/session/logout").cookies_from(r),
        logout_ok: 201,
        logout_again: 401,
        idle: Duration::from_secs(30 * 60),
    }
}

/// The contract entry of a profile, by id.
pub fn vendor(profile: &str) -> Vendor {
    match profile {
        "junos-space" => junos_space(),
        "oracle-sdm" => oracle_sdm(),
        "storware" => storware(),
        "sensnet" => sensnet(),
        "infinite-blue" => infinite_blue(),
        other => panic!("no contract entry for profile `{other}`"),
    }
}

#[template]
#[rstest]
#[case::junos_space(junos_space())]
#[case::oracle_sdm(oracle_sdm())]
#[case::storware(storware())]
#[case::sensnet(sensnet())]
#[case::infinite_blue(infinite_blue())]
fn vendors(#[case] v: Vendor) {}

async fn logged_in(v: &Vendor) -> (TestStand, Reply) {
    let s = TestStand::new(v.profile);
    let r = s.call((v.login)(v.user, v.password)).await;
    assert_eq!(r.status, v.login_ok, "{}: login: {}", v.profile, r.body);
    (s, r)
}

#[apply(vendors)]
#[actix_web::test]
async fn login_ok(#[case] v: Vendor) {
    let (s, _) = logged_in(&v).await;
    assert_eq!(s.engine().sessions().len(), 1);
}

#[apply(vendors)]
#[actix_web::test]
async fn wrong_password(#[case] v: Vendor) {
    let s = TestStand::new(v.profile);
    let r = s.call((v.login)(v.user, "not-the-password")).await;
    assert_eq!(r.status, v.login_rejected, "{}", r.body);
    assert!(s.engine().sessions().is_empty());
}

#[apply(vendors)]
#[actix_web::test]
async fn unknown_user(#[case] v: Vendor) {
    let s = TestStand::new(v.profile);
    let r = s.call((v.login)("nobody-here", v.password)).await;
    assert_eq!(r.status, v.login_rejected, "{}", r.body);
    assert!(s.engine().sessions().is_empty());
}

#[apply(vendors)]
#[actix_web::test]
async fn no_credentials(#[case] v: Vendor) {
    let s = TestStand::new(v.profile);
    let r = s.call((v.no_credentials)()).await;
    assert_eq!(r.status, v.no_credentials_status, "{}", r.body);
    assert!(s.engine().sessions().is_empty());
}

#[apply(vendors)]
#[actix_web::test]
async fn malformed_body(#[case] v: Vendor) {
    let Some((req, status)) = v.malformed else { return };
    let s = TestStand::new(v.profile);
    let r = s.call(req()).await;
    assert_eq!(r.status, status, "{}", r.body);
    assert!(s.engine().sessions().is_empty());
}

#[apply(vendors)]
#[actix_web::test]
async fn use_of_the_session(#[case] v: Vendor) {
    let (s, login) = logged_in(&v).await;
    let r = s.call((v.use_session)(&login)).await;
    assert_eq!(r.status, v.use_ok, "{}", r.body);
}

#[apply(vendors)]
#[actix_web::test]
async fn idle_expiry_on_the_manual_clock(#[case] v: Vendor) {
    let (s, login) = logged_in(&v).await;
    s.advance(v.idle - Duration::from_millis(1));
    assert_eq!(s.call((v.use_session)(&login)).await.status, v.use_ok, "just before the deadline");
    s.advance(v.idle);
    assert_eq!(s.call((v.use_session)(&login)).await.status, v.use_rejected, "a full idle period later");
    assert!(s.engine().sessions().is_empty());
}

#[apply(vendors)]
#[actix_web::test]
async fn logout_then_use(#[case] v: Vendor) {
    let (s, login) = logged_in(&v).await;
    let r = s.call((v.logout)(&login)).await;
    assert_eq!(r.status, v.logout_ok, "{}", r.body);
    assert_eq!(s.call((v.use_session)(&login)).await.status, v.use_rejected);
}

#[apply(vendors)]
#[actix_web::test]
async fn logout_twice(#[case] v: Vendor) {
    let (s, login) = logged_in(&v).await;
    assert_eq!(s.call((v.logout)(&login)).await.status, v.logout_ok);
    let r = s.call((v.logout)(&login)).await;
    assert_eq!(r.status, v.logout_again, "{}", r.body);
}

#[apply(vendors)]
#[actix_web::test]
async fn same_seed_same_bytes(#[case] v: Vendor) {
    let run = || async {
        let (s, login) = logged_in(&v).await;
        s.advance(Duration::from_secs(61));
        let used = s.call((v.use_session)(&login)).await;
        let out = s.call((v.logout)(&login)).await;
        [login.snapshot(), used.snapshot(), out.snapshot()]
    };
    assert_eq!(run().await, run().await);
}
