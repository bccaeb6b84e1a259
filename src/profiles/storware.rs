//! `storware`: Storware Backup & Recovery (formerly vProtect) SessionController (spec/storware.md).
//!
//! Every operation lives under `/api/session`. A login (password, API token or node) answers 201
//! with a SessionInfoResponse and sets the `JSESSIONID` cookie (the engine's session token, path
//! `/api`); everything else is guarded by that cookie. Errors are the JSON envelope
//! `{"error":{"code":…,"message":…},"message":…}`.
//!
//! `lastSuccessfulLogin` / `lastFailedLogin` / `lastFailedLoginIp` are the engine's record of the
//! account's activity as of the request, so the login response shows *this* login as the last
//! successful one, and the failure (time and client IP) that preceded it.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Handler, Operation, Principal, Profile, Semantic};
use crate::engine::{Account, Credential, Engine, Invalid, Login, LoginError, Minted, Policy, SessionView, token};
use crate::wire::{self, Method, Request, Response};

/// The registry entry.
pub struct Storware;

const SESSION: &str = "/api/session";

/// The [DEFAULT]s a scenario can override under `options`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Name of the session cookie.
    pub cookie_name: String,
    /// `Path` attribute of the session cookie.
    pub cookie_path: String,
    /// Field of the login-with-token body that carries the API token.
    pub token_field: String,
    /// Field of the node login body that names the node.
    pub node_login_field: String,
    /// Field of the node login body that carries the node's password.
    pub node_password_field: String,
    /// Accounts that are nodes: only they may use `node/login`, and they may not use `login`.
    pub node_accounts: Vec<String>,
    /// Status of every failed session check (ping, user, logout, guarded resources).
    pub unauthorized_status: u16,
    /// SessionInfoResponse `language`.
    pub language: String,
    /// SessionInfoResponse and AppUserDetails `uiTimeZone`.
    pub ui_time_zone: String,
    /// SessionInfoResponse `appUserSettings.pageSize`.
    pub page_size: u32,
    /// SessionInfoResponse `appUserSettings.timeFormat` (12 or 24).
    pub time_format: u32,
    /// SessionInfoResponse `infoTourEnabled`.
    pub info_tour_enabled: bool,
    /// SessionInfoResponse `uiConsoleMode`.
    pub ui_console_mode: String,
    /// SessionInfoResponse `endpointsTokens` (each `null` unless set).
    pub endpoints_tokens: EndpointsTokens,
    /// The `message` of each error envelope.
    pub messages: Messages,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cookie_name: "JSESSIONID".into(),
            cookie_path: "/api".into(),
            token_field: "token".into(),
            node_login_field: "login".into(),
            node_password_field: "password".into(),
            node_accounts: Vec::new(),
            unauthorized_status: 401,
            language: "EN".into(),
            ui_time_zone: "UTC".into(),
            page_size: 20,
            time_format: 24,
            info_tour_enabled: true,
            ui_console_mode: "WORKFLOW".into(),
            endpoints_tokens: EndpointsTokens::default(),
            messages: Messages::default(),
        }
    }
}

/// SessionInfoResponse `endpointsTokens`: tokens for the Endpoints (desktop backup) console.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct EndpointsTokens {
    /// `endpointsServerManagerToken`.
    pub endpoints_server_manager_token: Option<String>,
    /// `endpointsServerManagerWarning`.
    pub endpoints_server_manager_warning: Option<String>,
    /// `endpointsOrganizationAdminToken`.
    pub endpoints_organization_admin_token: Option<String>,
    /// `endpointsOrganizationAdminWarning`.
    pub endpoints_organization_admin_warning: Option<String>,
}

/// The messages of the error envelope.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Messages {
    /// A refused login (wrong password, unknown user or token, no credentials).
    pub login_failed: String,
    /// A request without a valid session.
    pub unauthorized: String,
    /// A login of a locked account.
    pub locked: String,
    /// A body that is not the JSON the operation takes.
    pub malformed: String,
    /// The server is busy (503).
    pub busy: String,
    /// No such path.
    pub not_found: String,
    /// A known path with another method.
    pub method_not_allowed: String,
    /// A body over the stand's size limit (413).
    pub too_large: String,
}

impl Default for Messages {
    fn default() -> Self {
        Messages {
            login_failed: "Invalid login or password".into(),
            unauthorized: "Unauthorized".into(),
            locked: "User account is locked".into(),
            malformed: "Malformed JSON request".into(),
            busy: "Service Unavailable".into(),
            not_found: "Not Found".into(),
            method_not_allowed: "Method Not Allowed".into(),
            too_large: "Payload Too Large".into(),
        }
    }
}

impl Profile for Storware {
    fn id(&self) -> &'static str {
        "storware"
    }

    fn default_port(&self) -> u16 {
        7403
    }

    fn summary(&self) -> &'static str {
        "Storware Backup & Recovery: JSON login under /api/session, JSESSIONID cookie, 30-min idle"
    }

    fn default_policy(&self) -> Policy {
        Policy { idle_timeout: Some(Duration::from_secs(30 * 60)), ..Policy::default() }
    }

    fn default_accounts(&self) -> Vec<Account> {
        vec![Account {
            name: "admin".into(),
            password: "vPr0tect".into(),
            id: 1,
            guid: "f8f73bf9-2445-4bce-a7dd-753be3b40a67".into(),
            roles: vec!["APP_INSTANCE_EXPORT_TASK_REGISTER".into(), "APP_CMD_EXEC_CONFIG_WRITE".into()],
            ..Account::default()
        }]
    }

    fn options_schema(&self) -> schemars::Schema {
        schemars::schema_for!(Options)
    }

    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String> {
        let options: Options = super::options(options)?;
        let cookie_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        if options.cookie_name.is_empty() || !options.cookie_name.chars().all(cookie_char) {
            return Err(format!("options.cookie_name: `{}` is not a cookie name", options.cookie_name));
        }
        if !options.cookie_path.starts_with('/') || options.cookie_path.contains([';', ',', ' ']) {
            return Err(format!("options.cookie_path: `{}` must be a path starting with `/`", options.cookie_path));
        }
        if !(400..=599).contains(&options.unauthorized_status) {
            return Err(format!("options.unauthorized_status: {} is not an error status", options.unauthorized_status));
        }
        Ok(Box::new(Stand { fixed: Fixed::new(&options), options }))
    }
}

struct Stand {
    options: Options,
    fixed: Fixed,
}

/// The SessionInfoResponse members that come from options, serialized once per stand: a client
/// that logs in on every poll gets this body on every request.
struct Fixed {
    info_tour_enabled: String,
    language: String,
    app_user_settings: String,
    endpoints_tokens: String,
    ui_console_mode: String,
    ui_time_zone: String,
}

impl Fixed {
    fn new(o: &Options) -> Fixed {
        Fixed {
            info_tour_enabled: json(&o.info_tour_enabled),
            language: json(&o.language),
            app_user_settings: json(&AppUserSettings { page_size: o.page_size, time_format: o.time_format }),
            endpoints_tokens: json(&o.endpoints_tokens),
            ui_console_mode: json(&o.ui_console_mode),
            ui_time_zone: json(&o.ui_time_zone),
        }
    }
}

/// The SessionController operations, by path and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Ping,
    Login,
    LoginWithToken,
    Logout,
    NodeLogin,
    User,
    UserDetails,
    /// A SessionController path with another method than the one it takes (named here).
    WrongMethod(&'static str),
    Elsewhere,
}

fn route(req: &Request) -> Route {
    // Spring MVC matches a trailing slash too.
    let path = req.path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(&req.path);
    let Some(rest) = path.strip_prefix(SESSION) else { return Route::Elsewhere };
    let (route, method) = match rest {
        "" => (Route::Ping, Method::GET),
        "/login" => (Route::Login, Method::POST),
        "/login-with-token" => (Route::LoginWithToken, Method::POST),
        "/logout" => (Route::Logout, Method::POST),
        "/node/login" => (Route::NodeLogin, Method::POST),
        "/user" => (Route::User, Method::GET),
        "/user/details" => (Route::UserDetails, Method::GET),
        _ => return Route::Elsewhere,
    };
    match method {
        m if req.method == m => route,
        Method::GET => Route::WrongMethod("GET"),
        _ => Route::WrongMethod("POST"),
    }
}

impl Handler for Stand {
    fn handle(&self, engine: &Engine, req: &Request) -> Response {
        match route(req) {
            Route::Ping => match self.admit(engine, req) {
                Ok(()) => Response::new(204),
                Err(r) => r,
            },
            Route::Login => self.login(engine, req),
            Route::LoginWithToken => self.login_with_token(engine, req),
            Route::NodeLogin => self.node_login(engine, req),
            Route::Logout => self.logout(engine, req),
            Route::User => match self.session(engine, req) {
                Ok(s) => self.session_info(200, &s),
                Err(r) => r,
            },
            Route::UserDetails => match self.session(engine, req) {
                Ok(s) => self.user_details(&s),
                Err(r) => r,
            },
            Route::WrongMethod(allow) => {
                self.error(405, &self.options.messages.method_not_allowed).header("Allow", allow)
            }
            Route::Elsewhere => match self.admit(engine, req) {
                Ok(()) => self.error(404, &self.options.messages.not_found),
                Err(r) => r,
            },
        }
    }

    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response> {
        self.session(engine, req).map(|s| Principal::Session(Box::new(s)))
    }

    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.check(req, |t| engine.admit(t))
    }

    fn operation(&self, req: &Request) -> Operation {
        match route(req) {
            Route::Login | Route::LoginWithToken | Route::NodeLogin => Operation::Login,
            Route::Logout => Operation::Logout,
            Route::Ping => Operation::Check,
            Route::User | Route::UserDetails => Operation::Resource,
            Route::WrongMethod(_) | Route::Elsewhere if req.path.starts_with("/api/") => Operation::Resource,
            Route::WrongMethod(_) | Route::Elsewhere => Operation::Other,
        }
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        self.carried_token(req).map(str::to_owned)
    }

    fn user(&self, req: &Request) -> Option<String> {
        let field = match route(req) {
            Route::Login => "login",
            Route::NodeLogin => &self.options.node_login_field,
            _ => return None,
        };
        match body_fields(req).as_ref().as_ref().ok()?.get(&req.body, field)? {
            Value::Text(text) => Some(text.to_owned()),
            Value::Null | Value::Other => None,
        }
    }

    fn render(&self, _engine: &Engine, req: &Request, event: &Semantic) -> Response {
        let m = &self.options.messages;
        match event {
            Semantic::LoginRejected => self.error(401, &m.login_failed),
            Semantic::Locked => self.error(401, &m.locked),
            Semantic::Unauthorized if self.operation(req) == Operation::Login => self.error(401, &m.login_failed),
            Semantic::Unauthorized => self.unauthorized(),
            Semantic::Busy { retry_after } => self.error(503, &m.busy).header("Retry-After", retry_after.to_string()),
            Semantic::TooLarge => self.error(413, &m.too_large),
        }
    }
}

/// Why a login body gives no credential.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Refusal {
    /// Not JSON, not an object, or a field of the wrong type: 400.
    Malformed,
    /// A field is missing (or `null`), or the account may not log in this way: 401.
    Rejected,
}

impl Stand {
    fn login(&self, engine: &Engine, req: &Request) -> Response {
        // Through a JSON object rather than a derived struct: Jackson lets the last of a repeated
        // key win, where serde's derive would refuse the body as malformed.
        let (user, password) = match credentials(req, "login", "password") {
            Ok(pair) => pair,
            Err(refusal) => return self.refused(refusal),
        };
        if self.is_node(&user) {
            return self.refused(Refusal::Rejected);
        }
        self.start(engine, req, Login::password(&user, &password))
    }

    fn node_login(&self, engine: &Engine, req: &Request) -> Response {
        let o = &self.options;
        let (user, password) = match credentials(req, &o.node_login_field, &o.node_password_field) {
            Ok(pair) => pair,
            Err(refusal) => return self.refused(refusal),
        };
        if !self.is_node(&user) {
            return self.refused(Refusal::Rejected);
        }
        self.start(engine, req, Login::password(&user, &password))
    }

    fn login_with_token(&self, engine: &Engine, req: &Request) -> Response {
        let token = match body_fields(req)
            .as_ref()
            .as_ref()
            .map_err(|r| *r)
            .and_then(|f| string_field(f, &req.body, &self.options.token_field))
        {
            Ok(Some(token)) => token,
            Ok(None) => return self.refused(Refusal::Rejected),
            Err(refusal) => return self.refused(refusal),
        };
        let attempt = Login { credential: Credential::Token(&token), ..Login::password("", "") };
        self.start(engine, req, attempt)
    }

    /// Creates the session and answers 201 with the SessionInfoResponse and the cookie.
    fn start(&self, engine: &Engine, req: &Request, attempt: Login<'_>) -> Response {
        let attempt = attempt.from_peer(req.peer);
        match engine.login(attempt, |rng| Minted::token(token::hex_upper(rng, 16))) {
            Ok(s) => {
                let o = &self.options;
                self.session_info(201, &s).header(
                    "Set-Cookie",
                    [&o.cookie_name, "=", &s.token, "; Path=", &o.cookie_path, "; HttpOnly"].concat(),
                )
            }
            Err(LoginError::Locked) => self.error(401, &self.options.messages.locked),
            Err(_) => self.refused(Refusal::Rejected),
        }
    }

    fn logout(&self, engine: &Engine, req: &Request) -> Response {
        match self.carried_token(req).map(|t| engine.logout(t)) {
            Some(Ok(_)) => Response::new(201),
            _ => self.unauthorized(),
        }
    }

    /// The live session the cookie names (the use renews it), or the vendor's refusal.
    fn session(&self, engine: &Engine, req: &Request) -> Result<SessionView, Response> {
        self.check(req, |t| engine.authenticate(t))
    }

    /// The session check of every protected path: the session cookie, checked by `session`
    /// (with or without building the session's view).
    fn check<T>(&self, req: &Request, session: impl FnOnce(&str) -> Result<T, Invalid>) -> Result<T, Response> {
        self.carried_token(req).and_then(|t| session(t).ok()).ok_or_else(|| self.unauthorized())
    }

    /// The session token the request carries: its session cookie (named by the options). The
    /// one place that says where the token is, for the checks, logout and the journal.
    fn carried_token<'r>(&self, req: &'r Request) -> Option<&'r str> {
        req.cookie(&self.options.cookie_name)
    }

    fn is_node(&self, user: &str) -> bool {
        self.options.node_accounts.iter().any(|n| n == user)
    }

    /// 200 or 201 with the SessionInfoResponse of `s`, in the documented key order.
    fn session_info(&self, status: u16, s: &SessionView) -> Response {
        let f = &self.fixed;
        let (success, failure) = (s.activity.last_success, s.activity.last_failure);
        let ip = failure.and_then(|(_, ip)| ip).map(|ip| ip.to_canonical().to_string());
        // Written piece by piece (on every login and GET /api/session): the fixed parts were
        // serialized once at start-up, the rest straight into the body (see wire::json).
        let mut body = Vec::with_capacity(512);
        let b = &mut body;
        wire::json::raw(b, &[r#"{"requester":{"guid":"#]);
        wire::json::string(b, &s.account.guid);
        wire::json::raw(b, &[r#","name":"#]);
        wire::json::string(b, &s.account.name);
        wire::json::raw(b, &[r#"},"infoTourEnabled":"#, &f.info_tour_enabled, r#","lastFailedLoginIp":"#]);
        wire::json::value(b, &ip);
        wire::json::raw(b, &[r#","language":"#, &f.language, r#","appUserSettings":"#, &f.app_user_settings]);
        wire::json::raw(b, &[r#","privileges":"#]);
        wire::json::strings(b, &s.account.roles);
        wire::json::raw(
            b,
            &[r#","endpointsTokens":"#, &f.endpoints_tokens, r#","uiConsoleMode":"#, &f.ui_console_mode],
        );
        wire::json::raw(b, &[r#","lastSuccessfulLogin":"#]);
        wire::json::value(b, &success.map(|(at, _)| at.as_millis()));
        wire::json::raw(b, &[r#","lastFailedLogin":"#]);
        wire::json::value(b, &failure.map(|(at, _)| at.as_millis()));
        wire::json::raw(b, &[r#","uiTimeZone":"#, &f.ui_time_zone, "}"]);
        Response::with(status, "application/json", body)
    }

    /// 200 with the AppUserDetails of `s`.
    fn user_details(&self, s: &SessionView) -> Response {
        let (success, failure) = (s.activity.last_success, s.activity.last_failure);
        let details = AppUserDetails {
            guid: &s.account.guid,
            last_successful_login: success.map(|(at, _)| at.as_millis()),
            last_failed_login: failure.map(|(at, _)| at.as_millis()),
            ui_time_zone: &self.options.ui_time_zone,
        };
        Response::with(200, "application/json", json(&details))
    }

    fn refused(&self, refusal: Refusal) -> Response {
        match refusal {
            Refusal::Malformed => self.error(400, &self.options.messages.malformed),
            Refusal::Rejected => self.error(401, &self.options.messages.login_failed),
        }
    }

    fn unauthorized(&self) -> Response {
        self.error(self.options.unauthorized_status, &self.options.messages.unauthorized)
    }

    /// The error envelope.
    fn error(&self, code: u16, message: &str) -> Response {
        Response::json(code, &json!({"error": {"code": code, "message": message}, "message": message}))
    }
}

/// The two string fields of a login body (LoginRequest, or a node's): unknown fields are
/// ignored; a field of another type is malformed; a missing or `null` one rejects the login; the
/// last of a repeated key wins, as with Jackson.
fn credentials(req: &Request, user: &str, password: &str) -> Result<(String, String), Refusal> {
    let fields = body_fields(req);
    let fields = fields.as_ref().as_ref().map_err(|r| *r)?;
    match (string_field(fields, &req.body, user)?, string_field(fields, &req.body, password)?) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(Refusal::Rejected),
    }
}

/// The body as a JSON object. An empty body is malformed, as Spring's "Required request body is
/// missing" is. Unknown fields are ignored.
fn body_fields(req: &Request) -> Cow<'_, Result<Fields, Refusal>> {
    req.parsed(|req| match Fields::flat(&req.body) {
        Some(fields) => Ok(fields),
        None => serde_json::from_slice(&req.body).map_err(|_| Refusal::Malformed),
    })
}

/// A string field: `None` if absent or `null`, malformed if of another type.
fn string_field(fields: &Fields, body: &[u8], name: &str) -> Result<Option<String>, Refusal> {
    match fields.get(body, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Text(s)) => Ok(Some(s.to_owned())),
        Some(Value::Other) => Err(Refusal::Malformed),
    }
}

/// A login body's top-level fields, in order, repeats kept (the last wins, as with Jackson).
/// Read straight from the JSON with nested values skipped, rather than through a
/// `serde_json::Value` tree (a map, a string per key and value: this is every login).
#[derive(Clone, Debug, PartialEq)]
struct Fields(Vec<(Text, Field)>);

/// A key or a string value of the body: where it is in the body when nothing in it is escaped
/// (read by [`Fields::flat`]: nothing copied), else its decoded text.
#[derive(Clone, Debug, PartialEq)]
enum Text {
    /// Start and end byte in the body; the bytes are UTF-8 (checked when read).
    At(u32, u32),
    Decoded(String),
}

impl Text {
    fn bytes_in<'a>(&'a self, body: &'a [u8]) -> &'a [u8] {
        match self {
            Text::At(start, end) => &body[*start as usize..*end as usize],
            Text::Decoded(text) => text.as_bytes(),
        }
    }

    fn in_body<'a>(&'a self, body: &'a [u8]) -> &'a str {
        match self {
            Text::At(start, end) => std::str::from_utf8(&body[*start as usize..*end as usize])
                .expect("a field's place in the body holds the UTF-8 that was read there"),
            Text::Decoded(text) => text,
        }
    }
}

/// What a login needs to know of a field's value.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Null,
    Text(Text),
    /// A number, boolean, array or object.
    Other,
}

/// A [`Field`] with its text read from the body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value<'a> {
    Null,
    Text(&'a str),
    Other,
}

impl Fields {
    /// The last field named `name`, its text read from `body` (the body the fields were read from).
    fn get<'a>(&'a self, body: &'a [u8], name: &str) -> Option<Value<'a>> {
        let (_, field) = self.0.iter().rev().find(|(k, _)| k.bytes_in(body) == name.as_bytes())?;
        Some(match field {
            Field::Null => Value::Null,
            Field::Text(text) => Value::Text(text.in_body(body)),
            Field::Other => Value::Other,
        })
    }

    /// The fields of a flat object of strings with nothing escaped, the shape clients send
    /// (`{"login":"admin","password":"…"}`), read without serde_json and without a copy; `None`
    /// for any other body, which serde_json then reads (or refuses). On every login: serde_json
    /// took about 1.9 k instructions and four copies for the two fields.
    fn flat(body: &[u8]) -> Option<Fields> {
        // UTF-8 checked once; every place kept is between two ASCII quotes, so its bytes are too.
        if body.len() > u32::MAX as usize || std::str::from_utf8(body).is_err() {
            return None;
        }
        let skip_space = |at: &mut usize| {
            while matches!(body.get(*at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                *at += 1;
            }
        };
        let expect = |at: &mut usize, byte: u8| {
            let found = body.get(*at) == Some(&byte);
            *at += usize::from(found);
            found.then_some(())
        };
        // A string with no escape or control character in it.
        let string = |at: &mut usize| {
            expect(at, b'"')?;
            let start = *at;
            let len = body[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            let end = start + len;
            *at = end;
            expect(at, b'"')?;
            Some(Text::At(start as u32, end as u32))
        };
        let mut at = 0;
        skip_space(&mut at);
        expect(&mut at, b'{')?;
        skip_space(&mut at);
        let mut fields = Vec::with_capacity(2);
        if expect(&mut at, b'}').is_none() {
            loop {
                let key = string(&mut at)?;
                skip_space(&mut at);
                expect(&mut at, b':')?;
                skip_space(&mut at);
                let value = string(&mut at)?;
                skip_space(&mut at);
                fields.push((key, Field::Text(value)));
                if expect(&mut at, b',').is_some() {
                    skip_space(&mut at);
                    continue;
                }
                expect(&mut at, b'}')?;
                break;
            }
        }
        skip_space(&mut at);
        (at == body.len()).then_some(Fields(fields))
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(2));
                while let Some((key, value)) = map.next_entry::<String, Field>()? {
                    fields.push((Text::Decoded(key), value));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Object)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess};
        struct Any;
        impl<'de> serde::de::Visitor<'de> for Any {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Field, E> {
                Ok(Field::Text(Text::Decoded(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Field, E> {
                Ok(Field::Text(Text::Decoded(v)))
            }
            fn visit_unit<E>(self) -> Result<Field, E> {
                Ok(Field::Null)
            }
            fn visit_none<E>(self) -> Result<Field, E> {
                Ok(Field::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(Any)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppUserSettings {
    page_size: u32,
    time_format: u32,
}

/// AppUserDetails, in the documented key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppUserDetails<'a> {
    guid: &'a str,
    last_successful_login: Option<i64>,
    last_failed_login: Option<i64>,
    ui_time_zone: &'a str,
}

/// A value as JSON text. Cannot fail for these types: every map key is a string.
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value as Json};

    use super::*;

    /// The reading `Fields` replaced: a `serde_json::Value` object.
    fn through_value(body: &[u8], name: &str) -> Result<Option<Owned>, Refusal> {
        let fields: Map<String, Json> = match serde_json::from_slice(body) {
            Ok(Json::Object(fields)) => fields,
            _ => return Err(Refusal::Malformed),
        };
        Ok(fields.get(name).map(|v| match v {
            Json::Null => Owned::Null,
            Json::String(s) => Owned::Text(s.clone()),
            _ => Owned::Other,
        }))
    }

    /// A field's value, owned, for comparing.
    #[derive(Debug, PartialEq)]
    enum Owned {
        Null,
        Text(String),
        Other,
    }

    fn owned(value: Value<'_>) -> Owned {
        match value {
            Value::Null => Owned::Null,
            Value::Text(text) => Owned::Text(text.to_owned()),
            Value::Other => Owned::Other,
        }
    }

    /// How the stand reads a body: the flat reader, else serde_json.
    fn read(body: &[u8]) -> Result<Fields, Refusal> {
        let req = Request::new(Method::POST, "/api/session/login").with_body(body.to_vec());
        body_fields(&req).into_owned()
    }

    proptest! {
        #[test]
        fn fields_read_as_a_json_object_does(body in prop_oneof![
            // Token soup: mostly malformed, sometimes not.
            proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("["), Just("]"), Just(":"), Just(","), Just(" "),
                    Just("\"login\""), Just("\"password\""), Just("\"x\""), Just("\"a\\u00e9\\\"\""),
                    Just("null"), Just("true"), Just("-1.5e3"), Just("7"), Just("\"login\":\"admin\""),
                ],
                0..16,
            ).prop_map(|t| t.concat()),
            // Objects: repeated keys, every kind of value.
            proptest::collection::vec(
                (
                    prop_oneof![Just("login"), Just("password"), Just("x")],
                    prop_oneof![
                        Just("null"), Just("\"admin\""), Just("\"v\\u00e9\\n\""), Just("0"), Just("false"),
                        Just("[1,[null],{}]"), Just("{\"login\":\"inner\"}"),
                    ],
                ),
                0..5,
            ).prop_map(|kv| {
                let entries: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]) {
            let fields = read(body.as_bytes());
            let by_serde: Result<Fields, _> = serde_json::from_slice(body.as_bytes());
            for name in ["login", "password", "x"] {
                let got = fields.as_ref().map(|f| f.get(body.as_bytes(), name).map(owned)).map_err(|r| *r);
                prop_assert_eq!(&got, &through_value(body.as_bytes(), name), "{} in {}", name, body);
                // serde_json alone reads the same (the flat reader is only a shortcut).
                let serde_only = by_serde.as_ref().map(|f| f.get(body.as_bytes(), name).map(owned)).map_err(|_| Refusal::Malformed);
                prop_assert_eq!(&got, &serde_only, "{} in {}", name, body);
            }
        }
    }

    #[test]
    fn the_last_of_a_repeated_key_wins_and_nested_values_are_other() {
        let body = br#"{"login":"a","password":[1,{"x":null}],"login":"b","x":null}"#;
        let fields = read(body).unwrap();
        assert_eq!(fields.get(body, "login"), Some(Value::Text("b")));
        assert_eq!(fields.get(body, "password"), Some(Value::Other));
        assert_eq!(fields.get(body, "x"), Some(Value::Null));
        assert!(read(b"[]").is_err());
        assert!(read(b"").is_err());
    }

    #[test]
    fn flat_bodies_are_read_in_place_and_others_left_to_serde_json() {
        let body = " {\"login\" : \"admin\",\n\"password\":\"v\u{e9}\", \"login\":\"b\"} ".as_bytes();
        let fields = Fields::flat(body).expect("flat");
        assert!(fields.0.iter().all(|(k, v)| matches!((k, v), (Text::At(..), Field::Text(Text::At(..))))));
        assert_eq!(fields.get(body, "login"), Some(Value::Text("b")));
        assert_eq!(fields.get(body, "password"), Some(Value::Text("v\u{e9}")));
        assert_eq!(Fields::flat(b"{}").map(|f| f.0.len()), Some(0));
        for other in [
            &br#"{"login":"a\"b"}"#[..],
            br#"{"login":null}"#,
            br#"{"login":"a",}"#,
            br#"{"login":"a"} x"#,
            br#"{"login":"a""#,
            br#"{"login":1}"#,
            b"{\"login\":\"\xff\"}",
            b"{\"login\":\"a\tb\"}",
            b"",
        ] {
            assert_eq!(Fields::flat(other), None, "{}", String::from_utf8_lossy(other));
        }
    }
}
