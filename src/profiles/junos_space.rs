//! `junos-space`: Juniper Junos Space user-management REST API (spec/junos-space.md).
//!
//! Login by Basic credentials issues two cookies: JSESSIONIDSSO (the engine's session token, valid
//! for every Space API) and JSESSIONID (the user-management application's own, kept as the
//! session's note). Every protected resource also accepts Basic credentials without a session.
//! Over HTTPS a verified client certificate does the same as Basic credentials, on login and on
//! every protected resource, when it matches an account's certificate identity (complete
//! certificate or subject fields, see `crate::tls::identify`); Basic wins when both are sent.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{Handler, Operation, Principal, Profile, Semantic, escape, xml_declaration};
use crate::engine::{Account, AccountId, Credential, Engine, Invalid, Login, Minted, Policy, SessionView, token};
use crate::wire::{Method, Request, Response, basic_credentials, form_pairs, wants};

/// The registry entry.
pub struct JunosSpace;

const UM: &str = "/api/space/user-management";
const MEDIA: &str = "application/vnd.net.juniper.space.user-management";

/// The [DEFAULT]s a scenario can override under `options`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// `separate` (two Set-Cookie headers) or `documented` (the docs' one-line form).
    pub cookie_style: CookieStyle,
    /// Space node name, the JSESSIONID suffix after the dot.
    pub node: String,
    /// Realm of the `WWW-Authenticate` challenge.
    pub realm: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cookie_style: CookieStyle::Separate,
            node: "space-000c2980f778:0".into(),
            realm: "Junos Space".into(),
        }
    }
}

/// How the login response sets the two cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CookieStyle {
    /// `JSESSIONIDSSO=<v>; Path=/; HttpOnly` and `JSESSIONID=<v>; Path=/api/space/user-management; HttpOnly`.
    Separate,
    /// `JSESSIONIDSSO=<v>;Version=1, JSESSIONID=<v>;Version=1; Path=/api/space/user-management`.
    Documented,
}

impl Profile for JunosSpace {
    fn id(&self) -> &'static str {
        "junos-space"
    }

    fn default_port(&self) -> u16 {
        7401
    }

    fn summary(&self) -> &'static str {
        "Juniper Junos Space: Basic login, JSESSIONID + JSESSIONIDSSO cookies, 30-min idle"
    }

    fn default_policy(&self) -> Policy {
        Policy { idle_timeout: Some(Duration::from_secs(30 * 60)), ..Policy::default() }
    }

    fn default_accounts(&self) -> Vec<Account> {
        vec![
            Account {
                name: "super".into(),
                password: "juniper123".into(),
                id: 131074,
                roles: vec!["Super Administrator".into()],
                ..Account::default()
            },
            Account {
                name: "operator".into(),
                password: "operator123".into(),
                id: 131075,
                roles: vec!["Device Manager".into()],
                ..Account::default()
            },
        ]
    }

    fn options_schema(&self) -> schemars::Schema {
        schemars::schema_for!(Options)
    }

    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String> {
        let options: Options = super::options(options)?;
        if options.node.is_empty() || options.node.contains([';', ',', ' ']) {
            return Err(format!("options.node: `{}` cannot be part of a cookie value", options.node));
        }
        Ok(Box::new(Stand { options }))
    }
}

struct Stand {
    options: Options,
}

impl Handler for Stand {
    fn handle(&self, engine: &Engine, req: &Request) -> Response {
        let Some(rest) = req.path.strip_prefix(UM) else {
            return self.resource(engine, req, |_| not_found());
        };
        match (rest, &req.method) {
            ("/login", &Method::POST) => self.login(engine, req),
            ("/login-status", &Method::GET) => login_status(engine, req),
            ("/logout", &Method::POST) => logout(engine, req),
            ("/users", &Method::GET) => self.resource(engine, req, |_| users(engine, req)),
            ("/active-user-sessions", &Method::GET) => self.resource(engine, req, |_| active_sessions(engine, req)),
            ("/login" | "/login-status" | "/logout" | "/users" | "/active-user-sessions", _) => jboss_error(
                405,
                "Method Not Allowed",
                "The specified HTTP method is not allowed for the requested resource.",
            ),
            _ => match rest.strip_prefix("/users/") {
                Some(key) if req.method == Method::GET => self.resource(engine, req, |_| user(engine, req, key)),
                _ => self.resource(engine, req, |_| not_found()),
            },
        }
    }

    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response> {
        self.check(engine, req, |t| engine.authenticate(t).map(|s| Principal::Session(Box::new(s))), Principal::Account)
    }

    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.check(engine, req, |t| engine.admit(t), drop)
    }

    fn operation(&self, req: &Request) -> Operation {
        match req.path.strip_prefix(UM) {
            Some("/login") => Operation::Login,
            Some("/logout") => Operation::Logout,
            Some("/login-status") => Operation::Check,
            _ if req.path.starts_with("/api/") => Operation::Resource,
            _ => Operation::Other,
        }
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        sso_cookie(req).map(str::to_owned)
    }

    fn user(&self, req: &Request) -> Option<String> {
        basic(req).as_ref().as_ref().map(|(user, _)| user.clone())
    }

    fn render(&self, _engine: &Engine, req: &Request, event: &Semantic) -> Response {
        let op = self.operation(req);
        match event {
            Semantic::LoginRejected | Semantic::Locked => not_logged_in(),
            Semantic::Unauthorized => match op {
                Operation::Login | Operation::Check => not_logged_in(),
                Operation::Logout => Response::text(401, "Incorrect headers were passed in"),
                Operation::Resource | Operation::Other => self.unauthorized(),
            },
            Semantic::Busy { retry_after } => {
                jboss_error(503, "Service Unavailable", "The requested service is not currently available.")
                    .header("Retry-After", retry_after.to_string())
            }
            Semantic::TooLarge => jboss_error(
                413,
                "Request Entity Too Large",
                "The server is refusing to process a request because the request entity is larger than the server is willing or able to process ().",
            ),
        }
    }
}

impl Stand {
    /// The session check of every protected path, in the server's order: the JSESSIONIDSSO
    /// cookie (checked by `session`, with or without building the session's view), then Basic
    /// credentials, then a client certificate (each an `account`).
    fn check<T>(
        &self,
        engine: &Engine,
        req: &Request,
        session: impl FnOnce(&str) -> Result<T, Invalid>,
        account: impl Fn(AccountId) -> T,
    ) -> Result<T, Response> {
        if let Some(sso) = sso_cookie(req)
            && let Ok(v) = session(sso)
        {
            return Ok(v);
        }
        if let Some((user, password)) = basic(req).as_ref()
            && let Ok(id) = engine.verify(Credential::Password { user, password }, None, false)
        {
            return Ok(account(id));
        }
        if let Some(id) = certificate_account(engine, req)
            && let Ok(id) = engine.verify(Credential::Account(id), None, false)
        {
            return Ok(account(id));
        }
        Err(self.unauthorized())
    }

    fn login(&self, engine: &Engine, req: &Request) -> Response {
        let idle = match maxage(req) {
            Ok(idle) => idle,
            Err(bad) => return Response::with(400, "text/plain", format!("Invalid maxage parameter: {bad}")),
        };
        let basic = basic(req);
        let credential = match basic.as_ref() {
            Some((user, password)) => Credential::Password { user, password },
            None => match certificate_account(engine, req) {
                Some(id) => Credential::Account(id),
                None => return not_logged_in(),
            },
        };
        let attempt = Login { credential, tenant: None, peer: req.peer, idle, admin_fallback: false };
        let node = &self.options.node;
        let minted = engine.login(attempt, |rng| Minted {
            token: token::base64_std(rng, 18),
            note: Some(token::base64_std_then(rng, 17, &[".", node])),
        });
        match minted {
            Ok(s) => self.logged_in(req, &s),
            Err(_) => not_logged_in(),
        }
    }

    fn logged_in(&self, req: &Request, s: &SessionView) -> Response {
        let sso = &s.token;
        let jsessionid = s.note.as_deref().unwrap_or_default();
        let accept = req.header("accept");
        let (key, name) = (s.account.id, &s.account.name);
        let href = [UM, "/users/", &key.to_string()].concat();
        let mut r = if wants(accept, "user-ref+json") {
            let body = json!({"user-ref": {"@key": key.to_string(), "@href": href, "name": name}});
            Response::with(200, format!("{MEDIA}.user-ref+json;version=1"), body.to_string())
        } else if wants(accept, "user-ref+xml") {
            let body = format!(
                r#"{}<user-ref key="{key}" href="{href}"><name>{}</name></user-ref>"#,
                xml_declaration(),
                escape(name)
            );
            Response::with(200, format!("{MEDIA}.user-ref+xml;version=1"), body)
        } else {
            Response::text(200, "User logged in")
        };
        match self.options.cookie_style {
            CookieStyle::Separate => {
                r = r
                    .header("Set-Cookie", ["JSESSIONIDSSO=", sso, "; Path=/; HttpOnly"].concat())
                    .header("Set-Cookie", ["JSESSIONID=", jsessionid, "; Path=", UM, "; HttpOnly"].concat());
            }
            CookieStyle::Documented => {
                r = r.header(
                    "Set-Cookie",
                    format!("JSESSIONIDSSO={sso};Version=1, JSESSIONID={jsessionid};Version=1; Path={UM}"),
                );
            }
        }
        r
    }

    fn resource(&self, engine: &Engine, req: &Request, answer: impl FnOnce(Principal) -> Response) -> Response {
        match self.guard(engine, req) {
            Ok(p) => answer(p),
            Err(r) => r,
        }
    }

    fn unauthorized(&self) -> Response {
        jboss_error(401, "Unauthorized", "This request requires HTTP authentication ().")
            .header("WWW-Authenticate", format!("Basic realm=\"{}\"", self.options.realm))
    }
}

/// The account whose certificate identity matches the request's verified client certificate.
fn certificate_account(engine: &Engine, req: &Request) -> Option<AccountId> {
    crate::tls::identify(engine.accounts(), req.client_cert.as_deref()?)
}

/// `maxage` from the query string or a form body: `Ok(None)` when absent, `Ok(Some(None))` for 0
/// (never idles out, as a servlet session interval of 0 does), `Err` with the value when it is not
/// a non-negative number of seconds.
fn maxage(req: &Request) -> Result<Option<Option<Duration>>, String> {
    let from_form = || {
        req.is_form().then(|| form_pairs(&req.body).find(|(k, _)| k == "maxage").map(|(_, v)| v.into_owned())).flatten()
    };
    let Some(raw) = req.query_param("maxage").or_else(from_form) else { return Ok(None) };
    match raw.trim().parse::<u64>() {
        Ok(0) => Ok(Some(None)),
        Ok(secs) => Ok(Some(Some(Duration::from_secs(secs)))),
        Err(_) => Err(raw),
    }
}

/// The session named by both cookies, if they are present and belong together.
enum Pair {
    Missing,
    Unknown,
    Mismatched,
    Valid(String),
}

/// The session token the request carries: its JSESSIONIDSSO cookie. The one place that says
/// where the token is, for the checks, logout and the journal.
fn sso_cookie(req: &Request) -> Option<&str> {
    req.cookie("JSESSIONIDSSO")
}

/// The JSESSIONIDSSO and JSESSIONID cookies, if both are there.
fn cookie_pair(req: &Request) -> Option<(&str, &str)> {
    Some((sso_cookie(req)?, req.cookie("JSESSIONID")?))
}

fn pair(engine: &Engine, req: &Request) -> Pair {
    let Some((sso, jsessionid)) = cookie_pair(req) else {
        return Pair::Missing;
    };
    match engine.peek(sso) {
        Err(_) => Pair::Unknown,
        Ok(s) if s.note.as_deref() != Some(jsessionid) => Pair::Mismatched,
        Ok(_) => Pair::Valid(sso.to_owned()),
    }
}

/// The `Authorization: Basic` credentials, read once per request.
fn basic(req: &Request) -> std::borrow::Cow<'_, Option<(String, String)>> {
    req.parsed(|req| req.header("authorization").and_then(basic_credentials))
}

fn login_status(engine: &Engine, req: &Request) -> Response {
    let Some((sso, jsessionid)) = cookie_pair(req) else {
        return not_logged_in();
    };
    // The pair must match; only then is the use recorded (one engine call, as `pair` + use).
    match engine.authenticate_if(sso, |note| note == Some(jsessionid)) {
        Ok(true) => Response::text(200, "User is logged in"),
        _ => not_logged_in(),
    }
}

fn logout(engine: &Engine, req: &Request) -> Response {
    match pair(engine, req) {
        Pair::Valid(sso) if engine.logout(&sso).is_ok() => Response::text(200, "User logged out"),
        Pair::Missing | Pair::Unknown | Pair::Valid(_) => Response::text(401, "Incorrect headers were passed in"),
        Pair::Mismatched => Response::text(412, "Correct headers were passed in, but logout was still unsuccessful"),
    }
}

fn not_logged_in() -> Response {
    Response::text(401, "User is not logged in")
}

fn not_found() -> Response {
    jboss_error(404, "Not Found", "The requested resource () is not available.")
}

/// The short HTML error page JBoss Web prints.
fn jboss_error(status: u16, _reason: &str, description: &str) -> Response {
    let body = format!(
        "<html><head><title>JBoss Web/2.0.1.GA - Error report</title></head><body>\
<h1>HTTP Status {status} - </h1><HR size=\"1\" noshade=\"noshade\"><p><b>type</b> Status report</p>\
<p><b>message</b> <u></u></p><p><b>description</b> <u>{description}</u></p>\
<HR size=\"1\" noshade=\"noshade\"><h3>JBoss Web/2.0.1.GA</h3></body></html>"
    );
    Response::with(status, "text/html;charset=utf-8", body)
}

fn wants_json(req: &Request, resource: &str) -> bool {
    wants(req.header("accept"), &format!("{resource}+json"))
}

fn users(engine: &Engine, req: &Request) -> Response {
    let accounts = engine.accounts();
    let uri = format!("{UM}/users");
    if wants_json(req, "users") {
        let list: Vec<_> = accounts
            .iter()
            .map(|a| json!({"@key": a.id.to_string(), "@uri": format!("{uri}/{}", a.id), "name": a.name}))
            .collect();
        let body = json!({"users": {"@size": accounts.len().to_string(), "@uri": uri, "user": list}});
        return Response::with(200, format!("{MEDIA}.users+json;version=1"), body.to_string());
    }
    let mut body = format!(r#"{}<users size="{}" uri="{uri}">"#, xml_declaration(), accounts.len());
    for a in accounts {
        body += &format!(r#"<user key="{0}" uri="{uri}/{0}"><name>{1}</name></user>"#, a.id, escape(&a.name));
    }
    body += "</users>";
    Response::with(200, format!("{MEDIA}.users+xml;version=1"), body)
}

fn user(engine: &Engine, req: &Request, key: &str) -> Response {
    let Some(a) = engine.accounts().iter().find(|a| a.id.to_string() == key) else {
        return not_found();
    };
    let uri = format!("{UM}/users/{}", a.id);
    if wants_json(req, "user") {
        let body = json!({"user": {"@key": a.id.to_string(), "@uri": uri, "name": a.name}});
        return Response::with(200, format!("{MEDIA}.user+json;version=1"), body.to_string());
    }
    let body =
        format!(r#"{}<user key="{}" uri="{uri}"><name>{}</name></user>"#, xml_declaration(), a.id, escape(&a.name));
    Response::with(200, format!("{MEDIA}.user+xml;version=1"), body)
}

fn active_sessions(engine: &Engine, req: &Request) -> Response {
    let sessions = engine.sessions();
    let uri = format!("{UM}/active-user-sessions");
    if wants_json(req, "active-user-sessions") {
        let list: Vec<_> = sessions
            .iter()
            .map(|s| {
                json!({
                    "@key": s.serial.to_string(),
                    "@uri": format!("{uri}/{}", s.serial),
                    "userName": s.account.name,
                    "loginTime": s.created.to_rfc3339(),
                    "lastAccessTime": s.last_used.to_rfc3339(),
                })
            })
            .collect();
        let body = json!({"active-user-sessions": {"@size": sessions.len().to_string(), "@uri": uri, "active-user-session": list}});
        return Response::with(200, format!("{MEDIA}.active-user-sessions+json;version=1"), body.to_string());
    }
    let mut body = format!(r#"{}<active-user-sessions size="{}" uri="{uri}">"#, xml_declaration(), sessions.len());
    for s in &sessions {
        body += &format!(
            r#"<active-user-session key="{0}" uri="{uri}/{0}"><userName>{1}</userName><loginTime>{2}</loginTime><lastAccessTime>{3}</lastAccessTime></active-user-session>"#,
            s.serial,
            escape(&s.account.name),
            s.created.to_rfc3339(),
            s.last_used.to_rfc3339()
        );
    }
    body += "</active-user-sessions>";
    Response::with(200, format!("{MEDIA}.active-user-sessions+xml;version=1"), body)
}
