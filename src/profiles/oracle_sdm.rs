//! `oracle-sdm`: Oracle Communications Session Delivery Manager REST API (spec/oracle-sdm.md).
//!
//! Login posts a `Session` document (XML or JSON, as `Content-Type` says) to
//! `/rest/{versionId}/admin/login`; the answer is a `Session` document (in the `Accept` format) whose
//! `sessionId` is also the `JSESSIONID` cookie (`<32 uppercase hex>.<node>`, the engine's token).
//! Every later call carries the cookie. Unsupported versions are 404 before anything else is read.

use std::borrow::Cow;
use std::time::Duration;

use quick_xml::events::Event;
use serde::Deserialize;
use serde_json::json;

use super::{Handler, Operation, Principal, Profile, Semantic, escape, xml_declaration};
use crate::engine::{Account, Engine, Invalid, Login, Minted, Policy, SessionView, Timestamp, token};
use crate::wire::{Media, Method, Request, Response, has_media_suffix, is_media_type, json};

/// The registry entry.
pub struct OracleSdm;

const USER_INPUT_INVALID: &str = "The user input is invalid.";
const CREDENTIALS_INVALID: &str = "The user ID or password is invalid.";
const NOT_AUTHORIZED: &str = "The request is not authorized.";
const VERSION_NOT_FOUND: &str = "The REST API version of your input request cannot be found.";
const OBJECT_NOT_FOUND: &str = "The object (resource URI, device, and so on) of your input request cannot be found.";
const UNAVAILABLE: &str = "The service is temporarily unavailable.";
const TOO_LARGE: &str = "The request entity is too large.";

/// The [DEFAULT]s a scenario can override under `options`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Supported `versionId` path segments; any other is 404 on every operation.
    pub versions: Vec<String>,
    /// The node (Tomcat jvmRoute) name: the session id's suffix after the dot.
    pub node: String,
    /// The `serverInfo` element of the Session body.
    pub server_info: String,
    /// `false`: the Session body says `idleTimeout` 0 and "valid until logout", as the documented
    /// example does, although the session still idles out by the stand's policy. `true`: it shows
    /// the session's real idle timeout in seconds and its expiry time.
    pub show_idle_timeout: bool,
    /// The `Set-Cookie` value of a successful logout; empty: no `Set-Cookie` header.
    pub logout_set_cookie: String,
    /// Scheme of the `WWW-Authenticate` challenge on 401.
    pub auth_scheme: String,
    /// Realm of the `WWW-Authenticate` challenge on 401.
    pub realm: String,
    /// How error responses carry the documented sentence.
    pub error_body: ErrorBody,
    /// Layout of XML bodies.
    pub xml_layout: XmlLayout,
    /// The address (and name) of the one cluster member `serverInfo` lists.
    pub server_address: String,
    /// That member's `status`.
    pub server_status: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            versions: ["v1.0", "v1.1", "v1.2", "v1.3"].map(String::from).to_vec(),
            node: "tomcat1".into(),
            server_info: "NNC76B40".into(),
            show_idle_timeout: false,
            logout_set_cookie: "JSESSIONID=; Path=/rest; Max-Age=0".into(),
            auth_scheme: "Basic".into(),
            realm: "SDM".into(),
            error_body: ErrorBody::Text,
            xml_layout: XmlLayout::Compact,
            server_address: "10.0.0.3".into(),
            server_status: "Online".into(),
        }
    }
}

/// How error responses are shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorBody {
    /// The documented sentence as `text/plain`.
    Text,
    /// `<error><code>…</code><message>…</message></error>` or `{"code":…,"message":…}`, in the
    /// `Accept` format.
    Envelope,
}

/// How XML bodies are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum XmlLayout {
    /// As the documentation prints them: one element a line, two spaces per level.
    Indented,
    /// JAXB's unformatted output: everything on one line after the declaration.
    Compact,
}

impl Profile for OracleSdm {
    fn id(&self) -> &'static str {
        "oracle-sdm"
    }

    fn default_port(&self) -> u16 {
        7402
    }

    fn summary(&self) -> &'static str {
        "Oracle Communications SDM: XML/JSON login, JSESSIONID cookie (Path=/rest), 30-min idle"
    }

    fn default_policy(&self) -> Policy {
        // The servlet session behind the "valid until logout" body idles out after 30 minutes.
        Policy { idle_timeout: Some(Duration::from_secs(30 * 60)), ..Policy::default() }
    }

    fn default_accounts(&self) -> Vec<Account> {
        vec![Account {
            name: "admin".into(),
            password: "password".into(),
            id: 1,
            group: Some("administrators".into()),
            ..Account::default()
        }]
    }

    fn options_schema(&self) -> schemars::Schema {
        schemars::schema_for!(Options)
    }

    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String> {
        let options: Options = super::options(options)?;
        if options.node.is_empty() || options.node.contains([';', ',', ' ', '"', '=']) {
            return Err(format!("options.node: `{}` cannot be part of a cookie value", options.node));
        }
        if let Some(v) = options.versions.iter().find(|v| v.is_empty() || v.contains('/')) {
            return Err(format!("options.versions: `{v}` is not a path segment"));
        }
        if options.auth_scheme.is_empty()
            || !options.auth_scheme.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!("options.auth_scheme: `{}` is not an HTTP auth scheme", options.auth_scheme));
        }
        if options.logout_set_cookie.chars().any(char::is_control) {
            return Err("options.logout_set_cookie: not a valid header value".into());
        }
        if options.realm.contains(['"', '\\']) || options.realm.chars().any(char::is_control) {
            return Err(format!("options.realm: `{}` cannot be quoted in a header", options.realm));
        }
        Ok(Box::new(Stand { options, server_info_cache: Default::default() }))
    }
}

struct Stand {
    options: Options,
    /// The last serverInfo body per format, keyed by the stand-clock second it describes: the
    /// body only changes once a second, and rendering it is most of a serverInfo request.
    server_info_cache: parking_lot::Mutex<[Option<(i64, bytes::Bytes)>; 2]>,
}

/// Where a request is going, once the version is known to be supported.
enum Route<'a> {
    /// Not under `/rest/{versionId}`.
    Outside,
    /// Under `/rest/{versionId}` with a version the stand does not support.
    BadVersion,
    /// Under a supported version: the rest of the path, e.g. `/admin/login`.
    Api(&'a str),
}

impl Handler for Stand {
    fn handle(&self, engine: &Engine, req: &Request) -> Response {
        let rest = match self.route(req) {
            Route::Outside => return self.error(req, 404, OBJECT_NOT_FOUND),
            Route::BadVersion => return self.error(req, 404, VERSION_NOT_FOUND),
            Route::Api(rest) => rest,
        };
        match (rest, &req.method) {
            ("/admin/login", &Method::POST) => self.login(engine, req),
            ("/admin/logout", &Method::POST) => self.logout(engine, req),
            ("/admin/serverInfo", &Method::GET) => match self.admit(engine, req) {
                Ok(_) => self.server_info(engine, req),
                Err(r) => r,
            },
            ("/admin/login" | "/admin/logout", _) => self.vendor(Response::new(405).header("Allow", "POST")),
            ("/admin/serverInfo", _) => self.vendor(Response::new(405).header("Allow", "GET")),
            _ => match self.admit(engine, req) {
                Ok(()) => self.error(req, 404, OBJECT_NOT_FOUND),
                Err(r) => r,
            },
        }
    }

    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response> {
        self.check(req, |id| engine.authenticate(id).map(|s| Principal::Session(Box::new(s))))
    }

    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.check(req, |id| engine.admit(id))
    }

    fn operation(&self, req: &Request) -> Operation {
        match self.route(req) {
            Route::Api("/admin/login") => Operation::Login,
            Route::Api("/admin/logout") => Operation::Logout,
            Route::Api(_) | Route::BadVersion => Operation::Resource,
            Route::Outside => Operation::Other,
        }
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        carried_token(req).map(str::to_owned)
    }

    fn user(&self, req: &Request) -> Option<String> {
        match self.operation(req) {
            Operation::Login => credentials(req).as_ref().as_ref().ok().map(|c| c.user.clone()),
            _ => None,
        }
    }

    fn render(&self, _engine: &Engine, req: &Request, event: &Semantic) -> Response {
        match event {
            Semantic::LoginRejected | Semantic::Locked => self.unauthorized(req, CREDENTIALS_INVALID),
            Semantic::Unauthorized => match self.operation(req) {
                Operation::Login => self.unauthorized(req, CREDENTIALS_INVALID),
                _ => self.unauthorized(req, NOT_AUTHORIZED),
            },
            Semantic::Busy { retry_after } => {
                self.error(req, 503, UNAVAILABLE).header("Retry-After", retry_after.to_string())
            }
            Semantic::TooLarge => self.error(req, 413, TOO_LARGE),
        }
    }
}

impl Stand {
    /// The session check of every protected path: the request's API version, then its
    /// JSESSIONID cookie, checked by `session` (with or without building the session's view).
    fn check<T>(&self, req: &Request, session: impl FnOnce(&str) -> Result<T, Invalid>) -> Result<T, Response> {
        if let Route::BadVersion = self.route(req) {
            return Err(self.error(req, 404, VERSION_NOT_FOUND));
        }
        match carried_token(req).map(session) {
            Some(Ok(v)) => Ok(v),
            _ => Err(self.unauthorized(req, NOT_AUTHORIZED)),
        }
    }

    fn route<'a>(&self, req: &'a Request) -> Route<'a> {
        let Some(after) = req.path.strip_prefix("/rest/") else { return Route::Outside };
        let (version, rest) = match memchr::memchr(b'/', after.as_bytes()) {
            Some(i) => after.split_at(i),
            None => (after, ""),
        };
        if version.is_empty() {
            Route::Outside
        } else if self.options.versions.iter().any(|v| v == version) {
            Route::Api(rest)
        } else {
            Route::BadVersion
        }
    }

    fn login(&self, engine: &Engine, req: &Request) -> Response {
        let parsed = credentials(req);
        let c = match parsed.as_ref() {
            Ok(c) => c,
            Err(BadInput) => return self.error(req, 400, USER_INPUT_INVALID),
        };
        let node = &self.options.node;
        let attempt = Login::password(&c.user, &c.password).from_peer(req.peer);
        match engine.login(attempt, |rng| Minted::token(token::hex_upper_then(rng, 16, &[".", node]))) {
            Ok(s) => self
                .vendor(Response::new(200))
                .header("Set-Cookie", ["JSESSIONID=", &s.token, "; Path=/rest; HttpOnly"].concat())
                .header("Content-Type", accepted(req).content_type())
                .body(self.session_body(req, &s)),
            Err(_) => self.unauthorized(req, CREDENTIALS_INVALID),
        }
    }

    fn logout(&self, engine: &Engine, req: &Request) -> Response {
        match carried_token(req).map(|id| engine.logout(id)) {
            Some(Ok(_)) => match self.options.logout_set_cookie.as_str() {
                "" => self.vendor(Response::new(204)),
                cleared => self.vendor(Response::new(204)).header("Set-Cookie", cleared.to_owned()),
            },
            _ => self.unauthorized(req, NOT_AUTHORIZED),
        }
    }

    fn session_body(&self, req: &Request, s: &SessionView) -> Vec<u8> {
        let (idle, valid_until) = match (self.options.show_idle_timeout, s.expires_at) {
            (true, Some(at)) => (s.idle.map_or(0, |d| d.as_secs()), sdm_time(at)),
            _ => (0, "valid until logout".to_owned()),
        };
        let group = s.account.group.as_deref();
        match accepted(req) {
            Media::Json => {
                // Written piece by piece in the documented key order (every login).
                let mut b = Vec::with_capacity(160 + self.options.server_info.len() + s.token.len());
                json::raw(&mut b, &[r#"{"idleTimeout":"#, itoa::Buffer::new().format(idle), r#","serverInfo":"#]);
                json::string(&mut b, &self.options.server_info);
                json::raw(&mut b, &[r#","sessionId":"#]);
                json::string(&mut b, &s.token);
                if let Some(g) = group {
                    json::raw(&mut b, &[r#","userGroup":"#]);
                    json::string(&mut b, g);
                }
                json::raw(&mut b, &[r#","userName":"#]);
                json::string(&mut b, &s.account.name);
                json::raw(&mut b, &[r#","validUntil":"#]);
                json::string(&mut b, &valid_until);
                json::raw(&mut b, &["}"]);
                b
            }
            Media::Xml => {
                let mut number = itoa::Buffer::new();
                let fields = [
                    Some(("idleTimeout", number.format(idle))),
                    Some(("serverInfo", self.options.server_info.as_str())),
                    Some(("sessionId", &s.token)),
                    group.map(|g| ("userGroup", g)),
                    Some(("userName", &s.account.name)),
                    Some(("validUntil", &valid_until)),
                ];
                self.flat_document("session", fields.into_iter().flatten()).into_bytes()
            }
        }
    }

    fn server_info(&self, engine: &Engine, req: &Request) -> Response {
        let now = engine.clock().now();
        let media = accepted(req);
        let second = now.as_millis().div_euclid(1000);
        let slot = usize::from(media == Media::Json);
        let cached = self.server_info_cache.lock()[slot].as_ref().filter(|(s, _)| *s == second).map(|(_, b)| b.clone());
        let body = match cached {
            Some(body) => body,
            None => {
                let body = bytes::Bytes::from(self.render_server_info(now, media));
                self.server_info_cache.lock()[slot] = Some((second, body.clone()));
                body
            }
        };
        self.vendor(Response::new(200)).header("Content-Type", media.content_type()).body(body)
    }

    fn render_server_info(&self, now: crate::engine::Timestamp, media: Media) -> String {
        let address = &self.options.server_address;
        let heartbeats: u64 = 22058;
        // Heartbeats every 10 seconds since the member came up.
        let up = now.minus(Duration::from_secs(heartbeats * 10));
        let member: Vec<(&str, String)> = vec![
            ("downTime", "NA".into()),
            ("failureHeartBeatCount", "0".into()),
            ("heartBeatCount", heartbeats.to_string()),
            ("inactivityHeartBeatCount", "0".into()),
            ("ipAddress", address.clone()),
            ("lastHeartBeatTime", sdm_time(now)),
            ("maxFailureHeartBeatCount", "1".into()),
            ("missedHeartBeatCount", "0".into()),
            ("name", address.clone()),
            ("resetCount", "0".into()),
            ("status", self.options.server_status.clone()),
            ("upTime", sdm_time(up)),
        ];
        match media {
            Media::Json => {
                let mut m = serde_json::Map::new();
                for (k, v) in &member {
                    let numeric = k.ends_with("Count");
                    let value = match v.parse::<u64>() {
                        Ok(n) if numeric => json!(n),
                        _ => json!(v),
                    };
                    m.insert((*k).into(), value);
                }
                json!({"clusterMembers": [m]}).to_string()
            }
            Media::Xml => {
                let fields = member.iter().map(|(k, v)| (*k, escape(v))).collect();
                let node =
                    Node::Element("clusterMembers", vec![Node::Element("clusterMember", vec![Node::Fields(fields)])]);
                self.document("serverInfo", &[node])
            }
        }
    }

    /// A JAXB-style document: the standalone declaration, then `root` with `children`.
    fn document(&self, root: &str, children: &[Node<'_>]) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(xml_declaration());
        let indented = self.options.xml_layout == XmlLayout::Indented;
        if indented {
            out.push('\n');
        }
        Node::write_element(&mut out, root, children, 0, indented);
        out
    }

    /// What `document(root, &[Node::Fields(..)])` writes for these fields (texts escaped here),
    /// without building the tree: every login answers with one.
    fn flat_document<'a>(&self, root: &str, fields: impl Iterator<Item = (&'a str, &'a str)>) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(xml_declaration());
        let indented = self.options.xml_layout == XmlLayout::Indented;
        newline(&mut out, indented);
        for part in ["<", root, ">"] {
            out.push_str(part);
        }
        newline(&mut out, indented);
        for (name, text) in fields {
            pad(&mut out, 1, indented);
            for part in ["<", name, ">", &escape(text), "</", name, ">"] {
                out.push_str(part);
            }
            newline(&mut out, indented);
        }
        for part in ["</", root, ">"] {
            out.push_str(part);
        }
        newline(&mut out, indented);
        out
    }

    /// The response headers every SDM answer carries, on `r`.
    fn vendor(&self, r: Response) -> Response {
        r.header("Server", "Apache").header("X-Frame-Options", "SAMEORIGIN").header("Vary", "Accept-Encoding")
    }

    /// An error with the documented sentence, as text or in an envelope.
    fn error(&self, req: &Request, status: u16, sentence: &'static str) -> Response {
        let r = self.vendor(Response::new(status));
        match self.options.error_body {
            ErrorBody::Text => r.header("Content-Type", "text/plain").body(sentence),
            ErrorBody::Envelope => {
                let media = accepted(req);
                let body = match media {
                    Media::Json => json!({"code": status, "message": sentence}).to_string(),
                    Media::Xml => self.document(
                        "error",
                        &[Node::Fields(vec![
                            ("code", Cow::Owned(status.to_string())),
                            ("message", Cow::Borrowed(sentence)),
                        ])],
                    ),
                };
                r.header("Content-Type", media.content_type()).body(body)
            }
        }
    }

    fn unauthorized(&self, req: &Request, sentence: &'static str) -> Response {
        let challenge = format!("{} realm=\"{}\"", self.options.auth_scheme, self.options.realm);
        self.error(req, 401, sentence).header("WWW-Authenticate", challenge)
    }
}

/// A piece of an XML document.
#[derive(Clone)]
enum Node<'a> {
    /// Leaf elements with (already escaped) text.
    Fields(Vec<(&'a str, Cow<'a, str>)>),
    /// An element with children.
    Element(&'a str, Vec<Node<'a>>),
}

impl Node<'_> {
    fn write(&self, out: &mut String, depth: usize, indented: bool) {
        match self {
            Node::Fields(fields) => {
                for (name, text) in fields {
                    pad(out, depth, indented);
                    for part in ["<", name, ">", text, "</", name, ">"] {
                        out.push_str(part);
                    }
                    newline(out, indented);
                }
            }
            Node::Element(name, children) => Node::write_element(out, name, children, depth, indented),
        }
    }

    fn write_element(out: &mut String, name: &str, children: &[Node<'_>], depth: usize, indented: bool) {
        pad(out, depth, indented);
        for part in ["<", name, ">"] {
            out.push_str(part);
        }
        newline(out, indented);
        for c in children {
            c.write(out, depth + 1, indented);
        }
        pad(out, depth, indented);
        for part in ["</", name, ">"] {
            out.push_str(part);
        }
        newline(out, indented);
    }
}

fn pad(out: &mut String, depth: usize, indented: bool) {
    if indented {
        out.extend(std::iter::repeat_n("  ", depth));
    }
}

fn newline(out: &mut String, indented: bool) {
    if indented {
        out.push('\n');
    }
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::Xml => "application/xml",
            Media::Json => "application/json",
        }
    }
}

/// The response format the `Accept` header asks for: JSON only when a JSON range outranks every
/// XML range (by quality, then by position); XML otherwise, as JAX-RS picks the resource's first
/// `@Produces` type for `*/*`, an absent header or one naming neither.
fn accepted(req: &Request) -> Media {
    let Some(accept) = req.header("accept") else { return Media::Xml };
    let mut best: Option<(f32, Media)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>().unwrap_or(0.0)))
            .next()
            .unwrap_or(1.0);
        let media = if ty.ends_with("/json") || ty.ends_with("+json") {
            Media::Json
        } else if ty.ends_with("/xml") || ty.ends_with("+xml") {
            Media::Xml
        } else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, media));
        }
    }
    best.map_or(Media::Xml, |(_, m)| m)
}

/// SDM's own time format (as in `lastHeartBeatTime`): `2017-02-24 14:39:16`, UTC.
fn sdm_time(t: Timestamp) -> String {
    let t = t.to_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The user name and password of a login body.
#[derive(Clone)]
struct Credentials {
    user: String,
    password: String,
}

/// `Some(true)` for `userName`, `Some(false)` for `password`, `None` for any other element.
fn field_of(local_name: &[u8]) -> Option<bool> {
    match local_name {
        b"userName" => Some(true),
        b"password" => Some(false),
        _ => None,
    }
}

/// A login body that cannot be read: 400 "The user input is invalid.".
#[derive(Clone)]
struct BadInput;

/// The credentials of a login request, from an XML or JSON `Session` body as its `Content-Type`
/// says (parameters such as `;charset=UTF-8` ignored).
fn credentials(req: &Request) -> Cow<'_, Result<Credentials, BadInput>> {
    req.parsed(read_credentials)
}

fn read_credentials(req: &Request) -> Result<Credentials, BadInput> {
    let ty = req.header("content-type").ok_or(BadInput)?;
    let body = std::str::from_utf8(&req.body).map_err(|_| BadInput)?;
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let is = |media: &str| is_media_type(ty, media);
    if is("application/xml") || is("text/xml") || has_media_suffix(ty, "+xml") {
        xml_credentials(body)
    } else if is("application/json") || has_media_suffix(ty, "+json") {
        json_credentials(body)
    } else {
        Err(BadInput)
    }
}

/// `{"userName":…,"password":…}`, also wrapped as `{"session":{…}}`. Other keys are ignored.
fn json_credentials(body: &str) -> Result<Credentials, BadInput> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|_| BadInput)?;
    let object = match value.get("session") {
        Some(inner) if value.get("userName").is_none() => inner,
        _ => &value,
    };
    let field = |k: &str| object.get(k).and_then(|v| v.as_str()).map(str::to_owned).ok_or(BadInput);
    Ok(Credentials { user: field("userName")?, password: field("password")? })
}

/// `<session><userName>…</userName><password>…</password></session>`, as JAXB reads it: one
/// `session` root (any namespace), other child elements ignored, the last of a repeated field
/// wins, text taken exactly (entities and CDATA resolved). No DTDs.
fn xml_credentials(body: &str) -> Result<Credentials, BadInput> {
    if let Some(c) = compact_credentials(body) {
        return Ok(c);
    }
    let mut reader = quick_xml::Reader::from_str(body);
    // How deep the reader is (quick-xml itself checks that end tags match their start tags).
    let mut depth = 0usize;
    let mut seen_root = false;
    let (mut user, mut password) = (None::<String>, None::<String>);
    // The field whose text is being read, while the reader is inside session > field.
    let mut current: Option<(bool, String)> = None;
    loop {
        let event = reader.read_event().map_err(|_| BadInput)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if depth == 0 => {
                if seen_root || e.local_name().as_ref() != b"session" {
                    return Err(BadInput);
                }
                seen_root = true;
                if let Event::Start(_) = event {
                    depth += 1;
                }
            }
            Event::Start(e) => {
                if depth == 1 {
                    current = field_of(e.local_name().as_ref()).map(|is_user| (is_user, String::new()));
                }
                depth += 1;
            }
            Event::Empty(e) => {
                if depth == 1
                    && let Some(is_user) = field_of(e.local_name().as_ref())
                {
                    *if is_user { &mut user } else { &mut password } = Some(String::new());
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1
                    && let Some((is_user, text)) = current.take()
                {
                    *if is_user { &mut user } else { &mut password } = Some(text);
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content().map_err(|_| BadInput)?;
                if depth == 0 && !text.trim().is_empty() {
                    return Err(BadInput);
                }
                if depth == 2
                    && let Some((_, buf)) = current.as_mut()
                {
                    buf.push_str(&text);
                }
            }
            Event::CData(t) => {
                if depth == 0 {
                    return Err(BadInput);
                }
                let text = t.decode().map_err(|_| BadInput)?;
                if depth == 2
                    && let Some((_, buf)) = current.as_mut()
                {
                    buf.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(BadInput);
                }
                let c = match r.resolve_char_ref().map_err(|_| BadInput)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|_| BadInput)?;
                        quick_xml::escape::resolve_xml_entity(&name).ok_or(BadInput)?.to_owned()
                    }
                };
                if depth == 2
                    && let Some((_, buf)) = current.as_mut()
                {
                    buf.push_str(&c);
                }
            }
            Event::DocType(_) => return Err(BadInput),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !seen_root || depth != 0 {
        return Err(BadInput);
    }
    match (user, password) {
        (Some(user), Some(password)) => Ok(Credentials { user, password }),
        _ => Err(BadInput),
    }
}

/// The body nearly every client sends, `<session><userName>…</userName><password>…</password></session>`
/// with plain text in both fields, read without the XML reader (on every login). Anything else
/// (a declaration, whitespace, namespaces, references, CDATA, a carriage return, another order)
/// is `None` and goes to the reader; a proptest holds the two to the same answer.
fn compact_credentials(body: &str) -> Option<Credentials> {
    let rest = body.strip_prefix("<session><userName>")?;
    // Each field ends at its first '<', which must be its end tag.
    let (user, rest) = rest.split_at(memchr::memchr(b'<', rest.as_bytes())?);
    let rest = rest.strip_prefix("</userName><password>")?;
    let (password, rest) = rest.split_at(memchr::memchr(b'<', rest.as_bytes())?);
    // References and line ends (which XML normalizes) are the reader's to handle.
    let plain = |s: &str| memchr::memchr2(b'&', b'\r', s.as_bytes()).is_none();
    (rest == "</password></session>" && plain(user) && plain(password))
        .then(|| Credentials { user: user.to_owned(), password: password.to_owned() })
}

/// The session token the request carries: its JSESSIONID cookie. The one place that says where
/// the token is, for the checks, logout and the journal.
fn carried_token(req: &Request) -> Option<&str> {
    req.cookie("JSESSIONID")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for the compact body answers as the XML reader does, or leaves the body to it.
        #[test]
        fn compact_bodies_read_as_the_xml_reader_reads_them(
            user in "[a<>&;#x\\]\\[\r\n\t \"'é\u{0}]{0,8}",
            password in "[a<>&;#x\\]\\[\r\n\t \"'é]{0,8}",
        ) {
            let body = format!("<session><userName>{user}</userName><password>{password}</password></session>");
            if let Some(fast) = compact_credentials(&body) {
                let Ok(slow) = read_with_reader(&body) else {
                    return Err(TestCaseError::fail(format!("the reader refuses {body:?}")));
                };
                prop_assert_eq!((fast.user, fast.password), (slow.user, slow.password));
            }
        }
    }

    proptest! {
        /// The login body written straight out is the document the element tree writes.
        #[test]
        fn flat_documents_are_tree_documents(
            fields in proptest::collection::vec(("[a-zA-Z]{1,6}", "[a<>&\"' é]{0,6}"), 0..6),
            indented: bool,
        ) {
            let xml_layout = if indented { XmlLayout::Indented } else { XmlLayout::Compact };
            let stand = Stand { options: Options { xml_layout, ..Options::default() }, server_info_cache: Default::default() };
            let tree = vec![Node::Fields(fields.iter().map(|(n, t)| (n.as_str(), escape(t))).collect())];
            prop_assert_eq!(
                stand.flat_document("session", fields.iter().map(|(n, t)| (n.as_str(), t.as_str()))),
                stand.document("session", &tree)
            );
        }
    }

    /// The XML reader alone, without the shortcut.
    fn read_with_reader(body: &str) -> Result<Credentials, BadInput> {
        // A body the shortcut does not take: the same document with a leading comment.
        xml_credentials(&format!("<!---->{body}"))
    }

    fn xml(body: &str) -> Option<(String, String)> {
        xml_credentials(body).ok().map(|c| (c.user, c.password))
    }

    fn admin() -> Option<(String, String)> {
        Some(("admin".into(), "password".into()))
    }

    #[test]
    fn the_documented_user_xml_reads_with_and_without_its_newlines() {
        let documented = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<session>\n  <userName>admin</userName>\n  <password>password</password>\n</session>\n";
        assert_eq!(xml(documented), admin());
        assert_eq!(xml(&documented.replace(['\r', '\n'], "")), admin());
        assert_eq!(xml(&documented.replace('\n', "\r\n")), admin());
    }

    #[test]
    fn xml_fields_are_read_as_jaxb_reads_them() {
        assert_eq!(
            xml("<session><password>pass&amp;&#119;ord</password><userName><![CDATA[admin]]></userName></session>"),
            Some(("admin".into(), "pass&word".into()))
        );
        assert_eq!(
            xml(
                "<s:session xmlns:s=\"urn:x\"><s:userName>admin</s:userName><s:password>password</s:password><idleTimeout>5</idleTimeout></s:session>"
            ),
            admin()
        );
        assert_eq!(xml("<session><userName/><password></password></session>"), Some((String::new(), String::new())));
        assert_eq!(
            xml("<session><userName>x</userName><userName>admin</userName><password>password</password></session>"),
            admin()
        );
    }

    #[test]
    fn malformed_or_incomplete_xml_is_bad_input() {
        for bad in [
            "",
            "   ",
            "<session><userName>admin</userName><password>password</password>",
            "<session><userName>admin</password></session>",
            "<session><userName>admin</userName></session>",
            "<session/>",
            "<user><userName>admin</userName><password>password</password></user>",
            "<session><userName>admin</userName><password>password</password></session><session/>",
            "junk<session><userName>admin</userName><password>password</password></session>",
            "<session><userName>&bogus;</userName><password>password</password></session>",
            "<!DOCTYPE session [<!ENTITY x \"admin\">]><session><userName>&x;</userName><password>p</password></session>",
            "{\"userName\":\"admin\",\"password\":\"password\"}",
        ] {
            assert!(xml(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn json_credentials_need_both_strings() {
        let ok = |b: &str| json_credentials(b).ok().map(|c| (c.user, c.password));
        assert_eq!(ok(r#"{"userName":"admin","password":"password","x":1}"#), admin());
        assert_eq!(ok(r#"{"session":{"userName":"admin","password":"password"}}"#), admin());
        for bad in ["", "{", "[]", "null", r#"{"userName":"admin"}"#, r#"{"userName":"admin","password":7}"#] {
            assert!(ok(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn accept_picks_json_only_when_it_outranks_xml() {
        let pick = |a: &str| accepted(&Request::new(Method::GET, "/").with_header("accept", a));
        assert_eq!(accepted(&Request::new(Method::GET, "/")), Media::Xml);
        assert_eq!(pick("application/json"), Media::Json);
        assert_eq!(pick("application/json;charset=UTF-8"), Media::Json);
        assert_eq!(pick("application/json, text/plain, */*"), Media::Json);
        assert_eq!(pick("application/xml, application/json"), Media::Xml);
        assert_eq!(pick("application/xml;q=0.5, application/json"), Media::Json);
        assert_eq!(pick("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"), Media::Xml);
        assert_eq!(pick("application/json;q=0"), Media::Xml);
    }

    #[test]
    fn options_that_cannot_reach_the_wire_are_refused() {
        for bad in [
            json!({"node": "a b"}),
            json!({"versions": ["v1/1"]}),
            json!({"auth_scheme": ""}),
            json!({"realm": "a\"b"}),
            json!({"logout_set_cookie": "a\nb"}),
            json!({"error_body": "html"}),
            json!({"nope": 1}),
        ] {
            assert!(OracleSdm.configure(&bad).is_err(), "{bad}");
        }
        assert!(OracleSdm.configure(&json!({"versions": ["api"], "show_idle_timeout": true})).is_ok());
    }
}
