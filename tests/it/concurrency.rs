//! Many clients on one stand over a real socket, several workers: mixed logins, uses, logouts and
//! clock advances, then the invariants: no lost or duplicated session, one session per user where
//! the policy says so, and the journal counts every vendor request.
//!
//! Each user is driven by one client at a time in the mixed phase, so the expected set of live
//! sessions is exact; the same-user phase then races many logins of one user.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use standin::Stand;

const USERS: usize = 16;
const ROUNDS: usize = 60;
const WORKERS: usize = 4;
const SAME_USER_LOGINS: usize = 40;

/// How one profile's client logs in, uses and ends a session.
#[derive(Clone, Copy)]
enum Profile {
    Storware,
    InfiniteBlue,
}

impl Profile {
    fn id(self) -> &'static str {
        match self {
            Profile::Storware => "storware",
            Profile::InfiniteBlue => "infinite-blue",
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    profile: Profile,
    /// Vendor requests sent (the journal must count exactly these).
    sent: Arc<AtomicU64>,
}

impl Client {
    async fn send(&self, r: reqwest::RequestBuilder) -> reqwest::Response {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let r = r.send().await.expect("the stand answers every request");
        assert!(r.status().as_u16() < 500, "no 5xx: {}", r.status());
        r
    }

    /// A new session's token, or `None` if the login was refused.
    async fn login(&self, user: &str) -> Option<String> {
        let password = format!("pw-{user}");
        match self.profile {
            Profile::Storware => {
                let body = serde_json::json!({"login": user, "password": password});
                let r = self.send(self.http.post(format!("{}/api/session/login", self.base)).json(&body)).await;
                if r.status() != 201 {
                    return None;
                }
                let cookie = r.headers().get("set-cookie")?.to_str().ok()?.to_owned();
                let value = cookie.split(';').next()?.strip_prefix("JSESSIONID=")?;
                Some(value.to_owned())
            }
            Profile::InfiniteBlue => {
                let url = format!("{}/rest/api/login?output=json", self.base);
                let r = self.send(self.http.get(url).header("loginName", user).header("password", password)).await;
                if r.status() != 200 {
                    return None;
                }
                let body: Value = r.json().await.ok()?;
                body["sessionId"].as_str().map(str::to_owned)
            }
        }
    }

    /// `true` if the session is live (and renewed by this use).
    async fn use_session(&self, token: &str) -> bool {
        let r = match self.profile {
            Profile::Storware => {
                self.send(
                    self.http.get(format!("{}/api/session", self.base)).header("Cookie", format!("JSESSIONID={token}")),
                )
                .await
            }
            Profile::InfiniteBlue => {
                let url = format!("{}/rest/api/selectQuery?sessionId={}&output=json", self.base, encode(token));
                self.send(self.http.get(url)).await
            }
        };
        match self.profile {
            Profile::Storware => r.status() == 204,
            // A live session gets past the session check to "not emulated" (400).
            Profile::InfiniteBlue => r.status() == 400,
        }
    }

    async fn logout(&self, token: &str) -> bool {
        let r = match self.profile {
            Profile::Storware => {
                let url = format!("{}/api/session/logout", self.base);
                self.send(self.http.post(url).header("Cookie", format!("JSESSIONID={token}"))).await
            }
            Profile::InfiniteBlue => {
                let url = format!("{}/rest/api/logout?sessionId={}&output=json", self.base, encode(token));
                self.send(self.http.get(url)).await
            }
        };
        r.status() == if matches!(self.profile, Profile::Storware) { 201 } else { 200 }
    }
}

fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A small deterministic generator per client, so each run mixes the operations the same way
/// (the interleaving between clients is what varies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn stand(profile: Profile) -> Stand {
    let mut text = format!(
        "seed = 3\n[clock]\nmode = \"manual\"\n[[stands]]\nprofile = \"{}\"\nport = 0\n[stands.policy]\nidle_timeout = \"1h\"\n",
        profile.id()
    );
    for u in 0..USERS {
        text += &format!("[[stands.accounts]]\nname = \"u{u}\"\npassword = \"pw-u{u}\"\n");
    }
    Stand::builder(profile.id()).scenario_str(&text).expect("scenario").workers(WORKERS).start().await.expect("start")
}

fn client(stand: &Stand, profile: Profile, sent: &Arc<AtomicU64>) -> Client {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    Client { http, base: stand.url(), profile, sent: sent.clone() }
}

/// The live sessions the control API lists: token -> (user, serial).
async fn live(stand: &Stand) -> BTreeMap<String, (String, u64)> {
    let list: Value = reqwest::get(format!("{}/__standin/sessions", stand.url()))
        .await
        .expect("sessions")
        .json()
        .await
        .expect("json");
    let mut out = BTreeMap::new();
    for s in list.as_array().expect("array") {
        let token = s["token"].as_str().expect("token").to_owned();
        let entry = (s["user"].as_str().expect("user").to_owned(), s["serial"].as_u64().expect("serial"));
        assert!(out.insert(token, entry).is_none(), "a token is listed once");
    }
    out
}

async fn journal_total(stand: &Stand) -> u64 {
    let j: Value = reqwest::get(format!("{}/__standin/journal?limit=0", stand.url()))
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    j["total"].as_u64().expect("total")
}

async fn run(profile: Profile) {
    let single = matches!(profile, Profile::InfiniteBlue);
    let stand = stand(profile).await;
    let sent = Arc::new(AtomicU64::new(0));

    // Mixed phase: one client per user, all at once, plus a clock mover.
    let mut tasks = Vec::new();
    for u in 0..USERS {
        let c = client(&stand, profile, &sent);
        tasks.push(tokio::spawn(async move {
            let user = format!("u{u}");
            let mut rng = Lcg(u as u64 + 1);
            let mut issued: Vec<String> = Vec::new();
            let mut mine: Vec<String> = Vec::new();
            for _ in 0..ROUNDS {
                match rng.next(6) {
                    0 | 1 => {
                        let t = c.login(&user).await.expect("a valid login succeeds");
                        issued.push(t.clone());
                        if single {
                            mine.clear();
                        }
                        mine.push(t);
                    }
                    2 | 3 if !mine.is_empty() => {
                        let t = &mine[rng.next(mine.len() as u64) as usize];
                        assert!(c.use_session(t).await, "{user}: a live session is accepted");
                    }
                    4 if !mine.is_empty() => {
                        let t = mine.remove(rng.next(mine.len() as u64) as usize);
                        assert!(c.logout(&t).await, "{user}: logout of a live session");
                        assert!(!c.use_session(&t).await, "{user}: a logged-out session is refused");
                    }
                    _ => {
                        // A wrong password: refused, and nothing else changes.
                        let r = c.login(&format!("{user}-nobody")).await;
                        assert!(r.is_none());
                    }
                }
            }
            (user, issued, mine)
        }));
    }
    let mover = {
        let url = format!("{}/__standin/clock", stand.url());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..20 {
                let r = http.post(&url).body(r#"{"advance":"1s"}"#).send().await.expect("clock");
                assert_eq!(r.status(), 200);
                tokio::task::yield_now().await;
            }
        })
    };
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut all_issued = Vec::new();
    for t in tasks {
        let (user, issued, mine) = t.await.expect("client task");
        all_issued.extend(issued);
        for token in mine {
            expected.insert(token, user.clone());
        }
    }
    mover.await.expect("clock mover");

    let unique: BTreeSet<_> = all_issued.iter().collect();
    assert_eq!(unique.len(), all_issued.len(), "no token issued twice");
    let now = live(&stand).await;
    let got: BTreeMap<String, String> = now.iter().map(|(t, (u, _))| (t.clone(), u.clone())).collect();
    assert_eq!(got, expected, "exactly the sessions the clients hold are live: none lost, none extra");
    let serials: BTreeSet<u64> = now.values().map(|(_, s)| *s).collect();
    assert_eq!(serials.len(), now.len(), "serials are unique");
    assert_eq!(journal_total(&stand).await, sent.load(Ordering::SeqCst), "the journal counts every request");

    // Same-user phase: many simultaneous logins of one user.
    let logins: Vec<_> = (0..SAME_USER_LOGINS)
        .map(|_| {
            let c = client(&stand, profile, &sent);
            tokio::spawn(async move { c.login("u0").await.expect("login") })
        })
        .collect();
    let mut raced = Vec::new();
    for l in logins {
        raced.push(l.await.expect("login task"));
    }
    let now = live(&stand).await;
    let u0: Vec<(&String, u64)> = now.iter().filter(|(_, (u, _))| u == "u0").map(|(t, (_, s))| (t, *s)).collect();
    if single {
        assert_eq!(u0.len(), 1, "one session per user: {u0:?}");
        let (survivor, serial) = u0[0];
        assert!(raced.contains(survivor), "the survivor is one of the raced logins");
        assert!(now.values().all(|(_, s)| *s <= serial), "the survivor's login took the lock last");
        let c = client(&stand, profile, &sent);
        for t in &raced {
            assert_eq!(c.use_session(t).await, t == survivor, "only the survivor is accepted");
        }
    } else {
        let before = expected.keys().filter(|t| expected[*t] == "u0").count();
        assert_eq!(u0.len(), before + SAME_USER_LOGINS, "every raced login is a session of its own");
        assert!(raced.iter().all(|t| now.contains_key(t)));
    }
    assert_eq!(journal_total(&stand).await, sent.load(Ordering::SeqCst), "the journal counts every request");
    stand.stop().await;
}

#[actix_web::test]
async fn mixed_clients_on_one_storware_stand() {
    run(Profile::Storware).await;
}

#[actix_web::test]
async fn mixed_clients_on_one_single_session_infinite_blue_stand() {
    run(Profile::InfiniteBlue).await;
}
