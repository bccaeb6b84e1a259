//! `sensnet`: SensNet sign-on ticket service, System-to-User REST API (spec/sensnet.md).
//!
//! Login (form POST or the GET path form) issues a ticket, a UUID v4 carried in the URL path of
//! check and logout, and answered as a `LoginSession` object (JSON, or XML when asked). Validity
//! slides with every check (3 h idle) up to an absolute cap (24 h); both are the engine's policy,
//! and `validUntil` is the engine's `expires_at` printed in the stand's fixed time zone. A dead
//! ticket checks as 204 No Content, as the vendor documents.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::Deserialize;

use super::{Handler, Operation, Principal, Profile, Semantic, partial_escape, xml_declaration};
use crate::engine::{Account, Engine, Invalid, Login, Minted, Policy, SessionView, Timestamp, token};
use crate::wire::{Method, Request, Response, form_decode, form_name, form_pairs_raw, json};

/// The registry entry.
pub struct SensNet;

const API: &str = "/sn/rest/api";

/// The [DEFAULT]s a scenario can override under `options`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The stand's time zone as a fixed UTC offset, `+hh:mm` or `-hh:mm` (`Z` = `+00:00`); the
    /// docs' server printed `+02:00`.
    pub time_zone: String,
    /// How a zero offset prints: `Z` (JAXB's xsd:dateTime printer, which printed the docs'
    /// `+02:00` form) or `+00:00`.
    pub zero_offset: ZeroOffset,
    /// Status of a refused login (body empty).
    pub login_failure_status: u16,
    /// Status of a scenario-defined protected resource called without a live ticket (body empty).
    pub unauthorized_status: u16,
    /// Body of a successful logout (the vendor's Java client returns a boolean).
    pub logout_body: String,
    /// Content type of a successful logout.
    pub logout_content_type: String,
    /// Whether `GET check/{token}` and `DELETE logout/{token}` work besides the documented
    /// `GET {token}` and `DELETE {token}`.
    pub aliases: bool,
    /// Whether `Accept: application/xml` gets the `LoginSession` as XML (else always JSON).
    pub xml: bool,
    /// Query parameter carrying the ticket to protected resources (`""`: not accepted there).
    pub token_param: String,
    /// Header carrying the ticket to protected resources (`""`: not accepted there).
    pub token_header: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            time_zone: "+02:00".into(),
            zero_offset: ZeroOffset::Z,
            login_failure_status: 401,
            unauthorized_status: 401,
            logout_body: "true".into(),
            logout_content_type: "application/json".into(),
            aliases: true,
            xml: true,
            token_param: "token".into(),
            token_header: "X-Auth-Token".into(),
        }
    }
}

/// How a zero UTC offset prints in dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum ZeroOffset {
    /// `2026-01-01T00:00:00.000Z`.
    #[serde(rename = "Z")]
    Z,
    /// `2026-01-01T00:00:00.000+00:00`.
    #[serde(rename = "+00:00")]
    Numeric,
}

impl Profile for SensNet {
    fn id(&self) -> &'static str {
        "sensnet"
    }

    fn default_port(&self) -> u16 {
        7404
    }

    fn summary(&self) -> &'static str {
        "SensNet sign-on: UUID ticket in the URL path, 3-h sliding validity capped at 24 h"
    }

    fn default_policy(&self) -> Policy {
        Policy {
            idle_timeout: Some(Duration::from_secs(3 * 3600)),
            absolute_lifetime: Some(Duration::from_secs(24 * 3600)),
            ..Policy::default()
        }
    }

    fn default_accounts(&self) -> Vec<Account> {
        vec![Account { name: "test1@test.domain".into(), password: "password".into(), id: 3, ..Account::default() }]
    }

    fn options_schema(&self) -> schemars::Schema {
        schemars::schema_for!(Options)
    }

    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String> {
        Ok(Box::new(Stand::new(super::options(options)?)?))
    }
}

struct Stand {
    options: Options,
    /// The time zone's offset from UTC, in minutes.
    offset: i32,
    /// How dates end: `Z` or `+hh:mm` / `-hh:mm`.
    offset_suffix: String,
    /// `options.token_header`, lowercase for lookup.
    token_header: String,
}

thread_local! {
    /// The last four local seconds printed on this thread (`2026-01-01T02:00:00`), the newest
    /// first: a login or check prints two times, and their seconds repeat from one request to the
    /// next. Four, not two: a login prints now and now + 3 h, a check of an older ticket its
    /// creation and now + 3 h, and with two kept a flow of logins and checks printed one of the
    /// three in full on every change of request kind. The text of a local second does not depend
    /// on the stand, so stands share it; per thread, so that reading it takes no lock (two locked
    /// instructions a date).
    static SECONDS: std::cell::RefCell<[(i64, [u8; 19]); SECONDS_KEPT]> =
        const { std::cell::RefCell::new([(i64::MIN, [0; 19]); SECONDS_KEPT]) };
}

/// What a request to the vendor's paths asks for.
enum Route<'a> {
    LoginForm,
    LoginPath { user: &'a str, password: &'a str, note: Option<&'a str> },
    Check(&'a str),
    Logout(&'a str),
    NotAllowed(&'static str),
    NotFound,
}

impl Handler for Stand {
    fn handle(&self, engine: &Engine, req: &Request) -> Response {
        match self.route(req) {
            Route::LoginForm => {
                let form = LoginForm::from_body(req);
                self.login(engine, req, &form.user, &form.password, &form.note)
            }
            Route::LoginPath { user, password, note } => {
                let note = note.map(decode).unwrap_or_default();
                self.login(engine, req, &decode(user), &decode(password), &note)
            }
            Route::Check(ticket) => match engine.authenticate(&decode(ticket)) {
                Ok(s) => self.login_session(req, &s),
                Err(_) => Response::new(204),
            },
            Route::Logout(ticket) => match engine.logout(&decode(ticket)) {
                Ok(_) => {
                    Response::with(200, self.options.logout_content_type.clone(), self.options.logout_body.clone())
                }
                Err(_) => Response::new(204),
            },
            Route::NotAllowed(allow) => Response::new(405).header("Allow", allow),
            Route::NotFound => Response::new(404),
        }
    }

    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response> {
        self.check(req, |t| engine.authenticate(t).map(|s| Principal::Session(Box::new(s))))
    }

    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.check(req, |t| engine.admit(t))
    }

    fn operation(&self, req: &Request) -> Operation {
        match self.route(req) {
            Route::LoginForm | Route::LoginPath { .. } => Operation::Login,
            Route::Check(_) => Operation::Check,
            Route::Logout(_) => Operation::Logout,
            Route::NotAllowed(_) | Route::NotFound if req.path.starts_with("/sn/") => Operation::Resource,
            Route::NotAllowed(_) | Route::NotFound => Operation::Other,
        }
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        match self.route(req) {
            Route::Check(ticket) | Route::Logout(ticket) => Some(decode(ticket).into_owned()),
            Route::LoginForm | Route::LoginPath { .. } => None,
            Route::NotAllowed(_) | Route::NotFound => self.carried_ticket(req),
        }
    }

    fn user(&self, req: &Request) -> Option<String> {
        match self.route(req) {
            Route::LoginForm => Some(LoginForm::from_body(req).user.clone()),
            Route::LoginPath { user, .. } => Some(decode(user).into_owned()),
            _ => None,
        }
    }

    fn redact(&self, req: &Request) -> Vec<String> {
        // The GET login carries the password as a path segment: mask it as sent and as decoded.
        match self.route(req) {
            Route::LoginPath { password, .. } => vec![password.to_owned(), decode(password).into_owned()],
            _ => Vec::new(),
        }
    }

    fn render(&self, _engine: &Engine, req: &Request, event: &Semantic) -> Response {
        match event {
            Semantic::LoginRejected | Semantic::Locked => Response::new(self.options.login_failure_status),
            Semantic::Unauthorized => match self.operation(req) {
                // A dead ticket "just returns HTTP 204 No content".
                Operation::Check | Operation::Logout => Response::new(204),
                Operation::Login => Response::new(self.options.login_failure_status),
                Operation::Resource | Operation::Other => Response::new(self.options.unauthorized_status),
            },
            Semantic::Busy { retry_after } => Response::new(503).header("Retry-After", retry_after.to_string()),
            // Every SensNet error is a bare status with an empty body.
            Semantic::TooLarge => Response::new(413),
        }
    }
}

impl Stand {
    /// The session check of a protected path: the ticket the request carries, checked by
    /// `session` (with or without building the session's view).
    fn check<T>(&self, req: &Request, session: impl FnOnce(&str) -> Result<T, Invalid>) -> Result<T, Response> {
        match self.carried_ticket(req).map(|t| session(&t)) {
            Some(Ok(v)) => Ok(v),
            _ => Err(Response::new(self.options.unauthorized_status)),
        }
    }

    fn new(options: Options) -> Result<Stand, String> {
        let offset = parse_offset(&options.time_zone)
            .ok_or_else(|| format!("options.time_zone: `{}` is not an offset such as `+02:00`", options.time_zone))?;
        for (name, status) in [
            ("login_failure_status", options.login_failure_status),
            ("unauthorized_status", options.unauthorized_status),
        ] {
            if !(100..=599).contains(&status) {
                return Err(format!("options.{name}: {status} is not an HTTP status"));
            }
        }
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if !options.token_header.bytes().all(tchar) {
            return Err(format!("options.token_header: `{}` is not a header name", options.token_header));
        }
        if options.logout_content_type.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(format!(
                "options.logout_content_type: `{}` is not a header value",
                options.logout_content_type
            ));
        }
        let token_header = options.token_header.to_ascii_lowercase();
        let offset_suffix = if offset == 0 && options.zero_offset == ZeroOffset::Z {
            "Z".to_owned()
        } else {
            let m = offset.unsigned_abs();
            format!("{}{:02}:{:02}", if offset < 0 { '-' } else { '+' }, m / 60, m % 60)
        };
        // i64::MIN is not a second that is kept (only the years 0-9999 are).
        Ok(Stand { options, offset, offset_suffix, token_header })
    }

    fn route<'a>(&self, req: &'a Request) -> Route<'a> {
        let Some((segments, n)) = segments_after_api(&req.path) else { return Route::NotFound };
        let get = req.method == Method::GET;
        let delete = req.method == Method::DELETE;
        match &segments[..n] {
            ["login"] if req.method == Method::POST => Route::LoginForm,
            ["login"] => Route::NotAllowed("POST"),
            ["login", user, password] if get => Route::LoginPath { user, password, note: None },
            ["login", user, password, note] if get => Route::LoginPath { user, password, note: Some(note) },
            ["login", _, _] | ["login", _, _, _] => Route::NotAllowed("GET"),
            ["check", ticket] if self.options.aliases && get => Route::Check(ticket),
            ["check", _] if self.options.aliases => Route::NotAllowed("GET"),
            ["logout", ticket] if self.options.aliases && delete => Route::Logout(ticket),
            ["logout", _] if self.options.aliases => Route::NotAllowed("DELETE"),
            [ticket] if !ticket.is_empty() && get => Route::Check(ticket),
            [ticket] if !ticket.is_empty() && delete => Route::Logout(ticket),
            [ticket] if !ticket.is_empty() => Route::NotAllowed("DELETE, GET"),
            _ => Route::NotFound,
        }
    }

    fn login(&self, engine: &Engine, req: &Request, user: &str, password: &str, note: &str) -> Response {
        let mut note_text = String::with_capacity(24 + note.len());
        note_text.push('[');
        push_java_host_address(&mut note_text, req.peer);
        for part in [" ", req.method.as_str(), "] ", note] {
            note_text.push_str(part);
        }
        let note = note_text;
        let attempt = Login::password(user, password).from_peer(req.peer);
        let minted = engine.login(attempt, |rng| Minted { token: token::uuid_v4(rng), note: Some(note.clone()) });
        match minted {
            Ok(s) => self.login_session(req, &s),
            Err(_) => Response::new(self.options.login_failure_status),
        }
    }

    /// The ticket a protected resource call carries: query parameter first, then the header.
    fn carried_ticket(&self, req: &Request) -> Option<String> {
        let from_query = || (!self.options.token_param.is_empty()).then(|| req.query_param(&self.options.token_param));
        let from_header =
            || (!self.token_header.is_empty()).then(|| req.header(&self.token_header).map(str::to_owned)).flatten();
        from_query().flatten().or_else(from_header)
    }

    /// The `LoginSession` object, keys in the documented (alphabetical) order.
    fn login_session(&self, req: &Request, s: &SessionView) -> Response {
        let created = self.date(s.created);
        let valid_until = s.expires_at.map(|t| self.date(t));
        let note = s.note.as_deref().unwrap_or_default();
        let roles = &s.account.roles;
        if self.options.xml && prefers_xml(req.header("accept")) {
            let mut body = format!(
                "{}<loginSession><created>{created}</created><id>{}</id><idUser>{}</idUser><note>{}</note>",
                xml_declaration(),
                s.serial,
                s.account.id,
                partial_escape(note)
            );
            for role in roles {
                body += &format!("<roleArray>{}</roleArray>", partial_escape(role));
            }
            body += &format!(
                "<token>{}</token><username>{}</username>",
                partial_escape(&s.token),
                partial_escape(&s.account.name)
            );
            if let Some(v) = &valid_until {
                body += &format!("<validUntil>{v}</validUntil>");
            }
            body += "</loginSession>";
            return Response::with(200, "application/xml", body);
        }
        // The keys in their documented (alphabetical) order, written without a map or value
        // tree (this is on every login and check).
        let mut b = Vec::with_capacity(256 + s.token.len() + note.len());
        json::raw(&mut b, &[r#"{"loginSession":{"created":"#]);
        json::plain_string(&mut b, created.as_bytes());
        json::raw(&mut b, &[r#","id":"#, itoa::Buffer::new().format(s.serial), r#","idUser":"#]);
        json::raw(&mut b, &[itoa::Buffer::new().format(s.account.id), r#","note":"#]);
        json::string(&mut b, note);
        json::raw(&mut b, &[r#","roleArray":"#]);
        json::strings(&mut b, roles);
        json::raw(&mut b, &[r#","token":"#]);
        json::string(&mut b, &s.token);
        json::raw(&mut b, &[r#","username":"#]);
        json::string(&mut b, &s.account.name);
        if let Some(v) = &valid_until {
            json::raw(&mut b, &[r#","validUntil":"#]);
            json::plain_string(&mut b, v.as_bytes());
        }
        json::raw(&mut b, &["}}"]);
        Response::with(200, "application/json", b)
    }

    /// ISO-8601 with milliseconds in the stand's time zone: `2015-07-14T15:40:52.738+02:00`.
    fn date(&self, t: Timestamp) -> DateText {
        let local = t.as_millis().saturating_add(i64::from(self.offset) * 60_000);
        let (second, milli) = (local.div_euclid(1000), local.rem_euclid(1000));
        let suffix = self.offset_suffix.as_bytes();
        // The seconds of the years 0000-9999, which print as `yyyy-mm-ddThh:mm:ss.mmmZ`; others
        // (clamped, see `Timestamp::to_utc`) are printed in full each time.
        // `yyyy-mm-ddThh:mm:ss.mmm` is 23 bytes, then the zone.
        if !(-62_167_219_200..253_402_300_800).contains(&second) || 23 + suffix.len() > DATE_ROOM {
            return DateText::Long(self.uncached_date(local));
        }
        let mut out = [0u8; DATE_ROOM];
        {
            let prefix = SECONDS.with_borrow_mut(|seen| match seen.iter().find(|(s, _)| *s == second) {
                Some((_, prefix)) => *prefix,
                None => {
                    let full = Timestamp::from_millis(second * 1000).to_rfc3339();
                    let prefix = <[u8; 19]>::try_from(&full.as_bytes()[..19]).expect("yyyy-mm-ddThh:mm:ss");
                    seen.rotate_right(1);
                    seen[0] = (second, prefix);
                    prefix
                }
            });
            out[..19].copy_from_slice(&prefix);
        }
        out[19] = b'.';
        for (i, d) in [milli / 100, milli / 10 % 10, milli % 10].into_iter().enumerate() {
            out[20 + i] = b'0' + d as u8;
        }
        out[23..23 + suffix.len()].copy_from_slice(suffix);
        DateText::Short(out, (23 + suffix.len()) as u8)
    }

    /// `local` (milliseconds, already shifted to the stand's zone) printed in full.
    fn uncached_date(&self, local: i64) -> String {
        let mut out = Timestamp::from_millis(local).to_rfc3339();
        if out.ends_with('Z') {
            out.pop();
        }
        out.push_str(&self.offset_suffix);
        out
    }
}

/// How many local seconds' text each thread keeps (see `SECONDS`).
const SECONDS_KEPT: usize = 4;

/// Room for a date of the years 0000-9999 on the stack (`yyyy-mm-ddThh:mm:ss.mmm+hh:mm` is 29).
const DATE_ROOM: usize = 32;

/// A date as [`Stand::date`] prints it: on the stack when it fits (a login prints two), else a
/// string.
enum DateText {
    Short([u8; DATE_ROOM], u8),
    Long(String),
}

impl DateText {
    /// The date's ASCII bytes (JSON writes them as they are: a date has nothing to escape).
    fn as_bytes(&self) -> &[u8] {
        match self {
            DateText::Short(bytes, len) => &bytes[..usize::from(*len)],
            DateText::Long(s) => s.as_bytes(),
        }
    }
}

impl std::fmt::Display for DateText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(self.as_bytes()).expect("a date is ASCII"))
    }
}

/// The login form's fields; absent ones are empty (and so refused, or an empty note).
#[derive(Clone)]
struct LoginForm {
    user: String,
    password: String,
    note: String,
}

impl LoginForm {
    /// Read from the body whatever its declared content type (lenient: some clients send the
    /// pairs as `text/plain` or with no content type at all).
    fn from_body(req: &Request) -> std::borrow::Cow<'_, Self> {
        req.parsed(LoginForm::read)
    }

    fn read(req: &Request) -> Self {
        let (mut user, mut password, mut note) = (None, None, None);
        // Names compared undecoded where that is the same; only the values kept are decoded.
        for (k, v) in form_pairs_raw(&req.body) {
            let slot = match &*form_name(k) {
                b"u" => &mut user,
                b"p" => &mut password,
                b"n" => &mut note,
                _ => continue,
            };
            slot.get_or_insert_with(|| form_decode(v).into_owned());
        }
        LoginForm {
            user: user.unwrap_or_default(),
            password: password.unwrap_or_default(),
            note: note.unwrap_or_default(),
        }
    }
}

/// The path's segments after the API prefix, still percent-encoded, without allocating (the
/// route is asked for several times a request); `None` for another path or over four segments,
/// which no route has.
fn segments_after_api(path: &str) -> Option<([&str; 4], usize)> {
    let rest = path.strip_prefix(API)?;
    let mut segments = [""; 4];
    if rest.is_empty() {
        return Some((segments, 0));
    }
    let mut n = 0;
    for part in crate::wire::segments(rest.strip_prefix('/')?) {
        *segments.get_mut(n)? = part;
        n += 1;
    }
    Some((segments, n))
}

/// A percent-decoded path segment. `+` stays `+`; bytes that are not UTF-8 become U+FFFD (as
/// Java's decoder does), so a garbled name or password is simply a refused login. Borrowed when
/// nothing is escaped (a ticket as issued).
fn decode(segment: &str) -> Cow<'_, str> {
    if memchr::memchr(b'%', segment.as_bytes()).is_none() {
        return Cow::Borrowed(segment);
    }
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
}

/// `true` if `Accept` ranks an XML type above JSON (ties and no Accept: JSON, the vendor's first).
fn prefers_xml(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut xml, mut json) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        if ty == "application/xml" || ty == "text/xml" || ty.ends_with("+xml") {
            xml = xml.max(q);
        } else if ty == "application/json" || ty.ends_with("+json") {
            json = json.max(q);
        }
    }
    xml > json
}

/// The client address as Java's `InetAddress.getHostAddress()` prints it: IPv4 dotted, IPv6 in
/// the full, uncompressed form (`0:0:0:0:0:0:0:1`), IPv4-mapped IPv6 as IPv4.
/// Appended to `out` (on every login: digits by `itoa`, not `Display`'s formatter).
fn push_java_host_address(out: &mut String, peer: Option<IpAddr>) {
    let v4 = match peer {
        Some(IpAddr::V4(v4)) => v4,
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                out.push_str(&groups.join(":"));
                return;
            }
        },
        // Only requests built in-process have no peer.
        None => Ipv4Addr::LOCALHOST,
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(itoa::Buffer::new().format(octet));
    }
}

/// Minutes east of UTC from `+hh:mm`, `-hh:mm` or `Z`, within Java's ±18:00.
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 18 * 60).then_some(sign * minutes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::prop_oneof;
    use serde_json::json;
    use std::net::Ipv6Addr;

    use super::*;
    use crate::engine::{Clock, Setup};

    fn stand(options: serde_json::Value) -> (Box<dyn Handler>, Engine) {
        let handler = SensNet.configure(&options).expect("options are valid");
        let setup = Setup {
            stand_id: "sensnet".into(),
            accounts: SensNet.default_accounts(),
            policy: SensNet.default_policy(),
            seed: Some(1),
            clock_start: None,
        };
        let start = Timestamp::parse_rfc3339("2015-07-14T15:40:52.738+02:00").expect("instant");
        (handler, Engine::new(setup, Clock::manual(start)))
    }

    #[test]
    fn ipv6_prints_in_java_long_form_and_mapped_ipv4_as_dotted() {
        let java_host_address = |peer| {
            let mut out = String::new();
            push_java_host_address(&mut out, peer);
            out
        };
        assert_eq!(java_host_address(None), "127.0.0.1");
        assert_eq!(java_host_address(Some(IpAddr::V6(Ipv6Addr::LOCALHOST))), "0:0:0:0:0:0:0:1");
        assert_eq!(java_host_address(Some("fe80::1:abcd".parse().unwrap())), "fe80:0:0:0:0:0:1:abcd");
        assert_eq!(java_host_address(Some("::ffff:10.0.0.7".parse().unwrap())), "10.0.0.7");
        assert_eq!(java_host_address(Some("192.168.1.20".parse().unwrap())), "192.168.1.20");
    }

    #[test]
    fn the_documented_get_login_from_ipv6_loopback_has_the_documented_note_and_dates() {
        let (h, engine) = stand(serde_json::Value::Null);
        let mut req = Request::new(Method::GET, "/sn/rest/api/login/test1@test.domain/password/Java-client");
        req.peer = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let r = h.handle(&engine, &req);
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let s = &body["loginSession"];
        assert_eq!(s["note"], "[0:0:0:0:0:0:0:1 GET] Java-client");
        assert_eq!(s["created"], "2015-07-14T15:40:52.738+02:00");
        assert_eq!(s["validUntil"], "2015-07-14T18:40:52.738+02:00");
        assert_eq!(engine.sessions()[0].note.as_deref(), Some("[0:0:0:0:0:0:0:1 GET] Java-client"));
    }

    fn logged_in(h: &dyn Handler, engine: &Engine) -> String {
        let req = Request::new(Method::GET, "/sn/rest/api/login/test1%40test.domain/password/x");
        let r = h.handle(engine, &req);
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        body["loginSession"]["token"].as_str().expect("token").to_owned()
    }

    #[test]
    fn guard_takes_the_ticket_as_token_parameter_or_x_auth_token_header_and_renews_it() {
        let (h, engine) = stand(serde_json::Value::Null);
        let t = logged_in(&*h, &engine);
        engine.clock().advance(Duration::from_secs(3600));
        let by_query = Request::new(Method::GET, &format!("/sn/rest/data?token={t}"));
        let Ok(Principal::Session(s)) = h.guard(&engine, &by_query) else { panic!("query ticket accepted") };
        assert_eq!(s.last_used, engine.clock().now(), "a use renews validity");
        let by_header = Request::new(Method::GET, "/sn/rest/data").with_header("X-Auth-Token", &t);
        assert!(h.guard(&engine, &by_header).is_ok());
        assert_eq!(h.session_token(&by_header).as_deref(), Some(t.as_str()));
        for bad in [
            Request::new(Method::GET, "/sn/rest/data"),
            Request::new(Method::GET, "/sn/rest/data?token=nope"),
            Request::new(Method::GET, "/sn/rest/data").with_header("x-auth-token", "nope"),
        ] {
            let r = h.guard(&engine, &bad).expect_err("refused");
            assert_eq!((r.status, r.body.len(), r.headers.len()), (401, 0, 0));
        }
        engine.logout(&t).expect("live");
        assert!(h.guard(&engine, &by_header).is_err(), "a logged-out ticket is refused");
    }

    #[test]
    fn guard_carriers_are_configurable() {
        let (h, engine) = stand(json!({"token_param": "", "token_header": "X-Ticket", "unauthorized_status": 403}));
        let t = logged_in(&*h, &engine);
        let by_query = Request::new(Method::GET, &format!("/sn/rest/data?token={t}"));
        assert_eq!(h.guard(&engine, &by_query).err().map(|r| r.status), Some(403));
        let by_header = Request::new(Method::GET, "/sn/rest/data").with_header("X-Ticket", &t);
        assert!(h.guard(&engine, &by_header).is_ok());
    }

    #[test]
    fn semantic_events_render_as_the_vendor_would() {
        let (h, engine) = stand(serde_json::Value::Null);
        let login = Request::new(Method::POST, "/sn/rest/api/login").with_body("u=test1%40test.domain&p=x");
        let check = Request::new(Method::GET, "/sn/rest/api/5a1e4c2e-0000-4000-8000-000000000000");
        let logout = Request::new(Method::DELETE, "/sn/rest/api/logout/abc");
        let resource = Request::new(Method::GET, "/sn/rest/data");
        let render = |req: &Request, e: Semantic| h.render(&engine, req, &e);
        assert_eq!(render(&login, Semantic::LoginRejected), Response::new(401));
        assert_eq!(render(&login, Semantic::Locked), Response::new(401));
        assert_eq!(render(&login, Semantic::Unauthorized), Response::new(401));
        assert_eq!(render(&check, Semantic::Unauthorized), Response::new(204));
        assert_eq!(render(&logout, Semantic::Unauthorized), Response::new(204));
        assert_eq!(render(&resource, Semantic::Unauthorized), Response::new(401));
        assert_eq!(render(&check, Semantic::Busy { retry_after: 30 }), Response::new(503).header("Retry-After", "30"));
    }

    #[test]
    fn operations_tokens_and_users_are_read_from_the_request() {
        let (h, _) = stand(serde_json::Value::Null);
        let form = Request::new(Method::POST, "/sn/rest/api/login")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("u=a%40b&p=x&u=ignored");
        assert_eq!((h.operation(&form), h.user(&form).as_deref()), (Operation::Login, Some("a@b")));
        let path = Request::new(Method::GET, "/sn/rest/api/login/a%40b/x/");
        assert_eq!((h.operation(&path), h.user(&path).as_deref()), (Operation::Login, Some("a@b")));
        let check = Request::new(Method::GET, "/sn/rest/api/check/t%2D1");
        assert_eq!((h.operation(&check), h.session_token(&check).as_deref()), (Operation::Check, Some("t-1")));
        let logout = Request::new(Method::DELETE, "/sn/rest/api/t1");
        assert_eq!((h.operation(&logout), h.session_token(&logout).as_deref()), (Operation::Logout, Some("t1")));
        assert_eq!(h.operation(&Request::new(Method::GET, "/sn/rest/data")), Operation::Resource);
        assert_eq!(h.operation(&Request::new(Method::GET, "/favicon.ico")), Operation::Other);
    }

    #[test]
    fn offsets_parse_within_java_range() {
        assert_eq!(parse_offset("+02:00"), Some(120));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("+18:00"), Some(1080));
        for bad in ["+18:01", "02:00", "+2:00", "+02:60", "+0200", "", "+", "+ü:00", "Europe/Prague"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    /// What `segments_after_api` was: the segments by `split('/')`.
    fn segments_by_split(path: &str) -> Option<([&str; 4], usize)> {
        let rest = path.strip_prefix(API)?;
        let mut segments = [""; 4];
        if rest.is_empty() {
            return Some((segments, 0));
        }
        let mut n = 0;
        for part in rest.strip_prefix('/')?.split('/') {
            *segments.get_mut(n)? = part;
            n += 1;
        }
        Some((segments, n))
    }

    proptest::proptest! {
        #[test]
        fn segments_are_cut_as_split_cuts_them(rest in "[/a/é%]{0,10}", prefixed: bool) {
            let path = if prefixed { format!("{API}{rest}") } else { rest };
            proptest::prop_assert_eq!(segments_after_api(&path), segments_by_split(&path));
        }
    }

    proptest::proptest! {
        /// Dates printed through the seconds kept are the dates printed in full, in any order.
        #[test]
        fn kept_seconds_print_as_full_dates(
            zone in proptest::sample::select(vec!["+02:00", "-05:30", "+00:00", "Z"]),
            times in proptest::collection::vec(prop_oneof![
                -62_167_219_200_000i64..253_402_300_800_000, // years 0-9999
                0i64..5_000,                                 // a few seconds, often repeated
                proptest::prelude::any::<i64>(),             // out of range: clamped, printed in full
            ], 1..12),
        ) {
            let stand = Stand::new(crate::profiles::options(&json!({"time_zone": zone})).expect("options")).expect("valid");
            for t in times {
                let local = t.saturating_add(i64::from(stand.offset) * 60_000);
                proptest::prop_assert_eq!(stand.date(Timestamp::from_millis(t)).to_string(), stand.uncached_date(local));
            }
        }
    }

    #[test]
    fn dates_print_in_the_stand_time_zone() {
        let t = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let date = |o: serde_json::Value| {
            Stand::new(crate::profiles::options(&o).expect("options")).expect("valid").date(t).to_string()
        };
        assert_eq!(date(serde_json::Value::Null), "2026-01-01T02:00:00.000+02:00");
        assert_eq!(date(json!({"time_zone": "-05:30"})), "2025-12-31T18:30:00.000-05:30");
        assert_eq!(date(json!({"time_zone": "+00:00"})), "2026-01-01T00:00:00.000Z");
        assert_eq!(date(json!({"time_zone": "Z", "zero_offset": "+00:00"})), "2026-01-01T00:00:00.000+00:00");
    }

    #[test]
    fn bad_options_are_named() {
        let err = |o| SensNet.configure(&o).err().expect("rejected");
        assert!(err(json!({"time_zone": "CEST"})).contains("options.time_zone"));
        assert!(err(json!({"login_failure_status": 42})).contains("options.login_failure_status"));
        assert!(err(json!({"token_header": "X Auth"})).contains("options.token_header"));
        assert!(err(json!({"zero_offset": "z"})).contains("options"));
        assert!(err(json!({"colour": 1})).contains("unknown field"));
    }

    #[test]
    fn accept_ranking() {
        assert!(!prefers_xml(None));
        assert!(prefers_xml(Some("application/xml")));
        assert!(prefers_xml(Some("text/xml;charset=UTF-8")));
        assert!(!prefers_xml(Some("application/json, application/xml")));
        assert!(prefers_xml(Some("application/json;q=0.5, application/xml")));
        assert!(!prefers_xml(Some("application/xml;q=0")));
        assert!(!prefers_xml(Some("*/*")));
    }
}
