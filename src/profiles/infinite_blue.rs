//! `infinite-blue`: Infinite Blue Platform (formerly Progress Rollbase) REST API v1 (spec/infinite-blue.md).
//!
//! Login by headers, query or form parameters issues a `sessionId` of the shape
//! `<32 lowercase hex>@<custId>` (the engine's session token, whole), which clients pass back as a
//! query parameter or form field on every call. One session per user: a new login ends the user's
//! earlier sessions, atomically, in the engine. Answers are XML (default) or JSON per `output`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{Handler, Operation, Principal, Profile, Semantic, escape};
use crate::engine::{Account, Credential, Engine, Invalid, Login, Minted, Policy, token};
use crate::scenario::parse_span;
use crate::wire::{Method, Request, Response, form_decode, form_name, form_pairs_raw, json};

/// The registry entry.
pub struct InfiniteBlue;

const API: &str = "/rest/api/";
const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8" ?>"#;
const XML: &str = "text/xml;charset=utf-8";
const JSON: &str = "application/json;charset=utf-8";
/// The one message of every `status="login"` error, as clients compare it.
const LOGIN_MESSAGE: &str = "Session expired or invalid login credentials";

/// The [DEFAULT]s a scenario can override under `options`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// HTTP status of the `status="login"` error (bad credentials, ended or unknown session).
    pub login_error_status: u16,
    /// Where a parameter is looked for, first match wins; a source not listed is ignored.
    pub precedence: Vec<Source>,
    /// Header whose API key, on a logout without `sessionId`, ends every session of its user.
    pub api_key_header: String,
    /// The customer id of accounts that declare no `tenant` (the digits after `@`).
    pub default_cust_id: String,
    /// When set, every sessionId ends `@<this>` instead of `@<custId>`.
    pub session_suffix: Option<String>,
    /// Idle timeout per customer id, instead of the stand policy's (`"none"`: never idles out).
    pub customer_idle_timeouts: BTreeMap<String, Idle>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            login_error_status: 401,
            precedence: vec![Source::Header, Source::Form, Source::Query],
            api_key_header: "apiKey".into(),
            default_cust_id: "5857".into(),
            session_suffix: None,
            customer_idle_timeouts: BTreeMap::new(),
        }
    }
}

/// Where a request parameter can come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An HTTP header of the parameter's name (any case).
    Header,
    /// A field of a POST form body.
    Form,
    /// A query-string parameter.
    Query,
}

/// An idle timeout: `"30m"`, a number of seconds, or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idle(pub Option<Duration>);

impl schemars::JsonSchema for Idle {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::scenario::duration_schema(generator)
    }
}

impl<'de> Deserialize<'de> for Idle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Idle(Some(Duration::from_secs(s)))),
            Raw::Text(t) => parse_span(&t).map(Idle).map_err(serde::de::Error::custom),
        }
    }
}

impl Profile for InfiniteBlue {
    fn id(&self) -> &'static str {
        "infinite-blue"
    }

    fn default_port(&self) -> u16 {
        7405
    }

    fn summary(&self) -> &'static str {
        "Infinite Blue Platform REST v1: sessionId parameter, one session per user, 60-min idle"
    }

    fn default_policy(&self) -> Policy {
        Policy { idle_timeout: Some(Duration::from_secs(60 * 60)), single_session_per_user: true, ..Policy::default() }
    }

    fn default_accounts(&self) -> Vec<Account> {
        vec![Account {
            name: "admin".into(),
            password: "password".into(),
            id: 1,
            tenant: Some("5857".into()),
            ..Account::default()
        }]
    }

    fn options_schema(&self) -> schemars::Schema {
        schemars::schema_for!(Options)
    }

    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String> {
        let options: Options = super::options(options)?;
        if !(100..=599).contains(&options.login_error_status) {
            return Err(format!("options.login_error_status: {} is not an HTTP status", options.login_error_status));
        }
        if options.precedence.is_empty() {
            return Err("options.precedence: name at least one of \"header\", \"form\", \"query\"".into());
        }
        if options.api_key_header.is_empty() || !options.api_key_header.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("options.api_key_header: `{}` is not a header name", options.api_key_header));
        }
        Ok(Box::new(Stand { options }))
    }
}

struct Stand {
    options: Options,
}

/// The body format a request asks for with `output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Xml,
    Json,
}

impl Handler for Stand {
    fn handle(&self, engine: &Engine, req: &Request) -> Response {
        let Some(method) = req.path.strip_prefix(API) else {
            return fail(self.output_or_xml(req), 404, &format!("Not found: {}", req.path));
        };
        match method {
            "login" | "logout" if !matches!(req.method, Method::GET | Method::POST) => {
                fail(self.output_or_xml(req), 405, &format!("{method}: use GET or POST"))
            }
            "login" => self.login(engine, req),
            "logout" => self.logout(engine, req),
            _ => self.resource(engine, req, method),
        }
    }

    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response> {
        self.check(req, |id| engine.authenticate(id).map(|s| Principal::Session(Box::new(s))))
    }

    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.check(req, |id| engine.admit(id))
    }

    fn operation(&self, req: &Request) -> Operation {
        match req.path.strip_prefix(API) {
            Some("login") => Operation::Login,
            Some("logout") => Operation::Logout,
            Some(_) => Operation::Resource,
            None => Operation::Other,
        }
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        self.session_id(req)
    }

    fn user(&self, req: &Request) -> Option<String> {
        self.params(req).get(req, Param::LoginName).map(str::to_owned)
    }

    fn render(&self, _engine: &Engine, req: &Request, event: &Semantic) -> Response {
        let output = self.output_or_xml(req);
        match event {
            Semantic::LoginRejected | Semantic::Unauthorized | Semantic::Locked => self.login_error(output),
            Semantic::Busy { retry_after } => fail(output, 503, "Server is busy, please try again later")
                .header("Retry-After", retry_after.to_string()),
            Semantic::TooLarge => fail(output, 413, "Request too large"),
        }
    }
}

impl Stand {
    /// The session check of every protected method: the `sessionId` parameter, checked by
    /// `session` (with or without building the session's view).
    fn check<T>(&self, req: &Request, session: impl FnOnce(&str) -> Result<T, Invalid>) -> Result<T, Response> {
        let output = self.output_or_xml(req);
        let params = self.params(req);
        let Some(id) = session_id_in(&params, req) else {
            return Err(fail(output, 400, "Missing parameter: sessionId"));
        };
        session(id).map_err(|_| self.login_error(output))
    }

    fn login(&self, engine: &Engine, req: &Request) -> Response {
        let output = match self.output(req) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let params = self.params(req);
        let (Some(user), Some(password)) = (params.get(req, Param::LoginName), params.get(req, Param::Password)) else {
            let missing = if params.get(req, Param::LoginName).is_none() { "loginName" } else { "password" };
            return fail(output, 400, &format!("Missing parameter: {missing}"));
        };
        let cust_id = params.get(req, Param::CustId).map(str::trim).filter(|c| !c.is_empty());
        let admin_fallback =
            params.get(req, Param::AdminFallback).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        // The customer is the one named, else the one the login name belongs to; accounts are
        // immutable while the stand runs, so this agrees with the engine's own lookup.
        let account = engine.find_account(user, cust_id).and_then(|id| engine.account(id));
        let customer = account.and_then(|a| a.tenant.as_deref()).unwrap_or(&self.options.default_cust_id);
        let suffix = self.options.session_suffix.as_deref().unwrap_or(customer);
        let attempt = Login {
            tenant: cust_id,
            admin_fallback,
            idle: self.options.customer_idle_timeouts.get(customer).map(|i| i.0),
            ..Login::password(user, password).from_peer(req.peer)
        };
        match engine.login(attempt, |rng| Minted::token(token::hex_lower_then(rng, 16, &["@", suffix]))) {
            Ok(s) => logged_in(output, &s.token),
            Err(_) => self.login_error(output),
        }
    }

    fn logout(&self, engine: &Engine, req: &Request) -> Response {
        let output = match self.output(req) {
            Ok(o) => o,
            Err(r) => return r,
        };
        if let Some(id) = self.session_id(req) {
            return match engine.logout(&id) {
                Ok(_) => ok(output),
                Err(_) => self.login_error(output),
            };
        }
        let Some(key) = req.header(&self.options.api_key_header.to_ascii_lowercase()) else {
            return fail(output, 400, "Missing parameter: sessionId");
        };
        match engine.verify(Credential::Token(key.trim()), None, false) {
            Ok(account) => {
                engine.logout_account(account);
                ok(output)
            }
            Err(_) => self.login_error(output),
        }
    }

    /// A built-in protected method (`selectQuery`, `getRecord`, `create2`, any other): the session
    /// check first, then the answer a scenario resource would have given.
    fn resource(&self, engine: &Engine, req: &Request, method: &str) -> Response {
        if let Err(r) = self.admit(engine, req) {
            return r;
        }
        match self.output(req) {
            Ok(output) => fail(output, 400, &format!("{method}: not emulated (define it as a scenario resource)")),
            Err(r) => r,
        }
    }

    /// The parameters of this request, read once.
    fn params<'r>(&self, req: &'r Request) -> Cow<'r, Params> {
        req.parsed(|req| Params::read(req, &self.options.precedence))
    }

    /// The `sessionId` the request carries, with the documented leading space (or any other
    /// surrounding whitespace, `+` in a query included) trimmed.
    fn session_id(&self, req: &Request) -> Option<String> {
        session_id_in(&self.params(req), req).map(str::to_owned)
    }

    /// The requested output format, or the `status="fail"` answer to a bad one (in XML).
    fn output(&self, req: &Request) -> Result<Output, Response> {
        match self.params(req).get(req, Param::Output) {
            None => Ok(Output::Xml),
            Some(v) if v.trim().eq_ignore_ascii_case("xml") => Ok(Output::Xml),
            Some(v) if v.trim().eq_ignore_ascii_case("json") => Ok(Output::Json),
            Some(v) => Err(fail(Output::Xml, 400, &format!("Invalid output format: {v} (use xml or json)"))),
        }
    }

    fn output_or_xml(&self, req: &Request) -> Output {
        self.output(req).unwrap_or(Output::Xml)
    }

    fn login_error(&self, output: Output) -> Response {
        let status = self.options.login_error_status;
        match output {
            Output::Xml => Response::with(
                status,
                XML,
                format!(r#"{DECLARATION}<resp status="login"><err>{LOGIN_MESSAGE}</err></resp>"#),
            ),
            Output::Json => {
                Response::with(status, JSON, json!({"status": "login", "message": LOGIN_MESSAGE}).to_string())
            }
        }
    }
}

/// The parameters the profile reads, each the first value of its name in the configured
/// precedence of sources (a header of that name in any case, a form field, a query parameter),
/// read once per request: a login asks for five of them, and the journal and fault rules ask
/// again. A query value with nothing to decode is kept as its place in the query, not copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Params([Option<Value>; 6]);

/// One parameter's value: a piece of the request's query as it is, or a decoded copy.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Query(std::ops::Range<usize>),
    Owned(String),
}

/// The parameters, in the order of [`NAMES`].
#[derive(Clone, Copy)]
enum Param {
    LoginName,
    Password,
    SessionId,
    Output,
    CustId,
    AdminFallback,
}

/// The parameter names, in the order of [`Param`].
const NAMES: [&str; 6] = ["loginName", "password", "sessionId", "output", "custId", "adminFallback"];

impl Params {
    fn read(req: &Request, precedence: &[Source]) -> Params {
        let mut p = Params::default();
        for source in precedence {
            match source {
                Source::Header => {
                    for (name, slot) in NAMES.iter().zip(&mut p.0).filter(|(_, slot)| slot.is_none()) {
                        // The first header of the name; one that is not UTF-8 is as good as absent.
                        let value = req.headers.iter().find(|(n, _)| n.as_str().eq_ignore_ascii_case(name));
                        *slot = value
                            .and_then(|(_, v)| std::str::from_utf8(v.as_bytes()).ok())
                            .map(|v| Value::Owned(v.to_owned()));
                    }
                }
                Source::Form => p.fill(form_body(req).unwrap_or_default(), None),
                Source::Query => p.fill(req.query.as_bytes(), Some(&req.query)),
            }
        }
        p
    }

    /// The value of `param`, for the request these were read from.
    fn get<'a>(&'a self, req: &'a Request, param: Param) -> Option<&'a str> {
        match self.0[param as usize].as_ref()? {
            // Cut at `&` and `=` (ASCII) in a `String`: always on character boundaries.
            Value::Query(range) => req.query.get(range.clone()),
            Value::Owned(s) => Some(s),
        }
    }

    /// Takes the first value of each name still missing from these pairs (an earlier source's
    /// value, or an earlier pair's, stays). `query`: `pairs` is the request's query, whose plain
    /// values are kept as places in it.
    fn fill(&mut self, pairs: &[u8], query: Option<&str>) {
        if pairs.is_empty() {
            return;
        }
        // Only the values kept are decoded; names are compared undecoded where that is the same.
        for (k, v) in form_pairs_raw(pairs) {
            let k = form_name(k);
            let slot = NAMES.iter().zip(&mut self.0).find_map(|(name, slot)| (name.as_bytes() == &*k).then_some(slot));
            if let Some(slot) = slot
                && slot.is_none()
            {
                *slot = Some(match (form_decode(v), query) {
                    // Borrowed: nothing was decoded, so `v` is this piece of the query itself.
                    (Cow::Borrowed(_), Some(q)) => {
                        let at = v.as_ptr() as usize - q.as_ptr() as usize;
                        Value::Query(at..at + v.len())
                    }
                    (value, _) => Value::Owned(value.into_owned()),
                });
            }
        }
    }
}

/// The form body of a POST (a missing `Content-Type` is taken as a form, as servlet clients
/// that build the body by hand often omit it).
fn form_body(req: &Request) -> Option<&[u8]> {
    (req.method == Method::POST && (req.is_form() || req.header("content-type").is_none())).then_some(&req.body[..])
}

/// The documented login answer, byte for byte: the space before the id in XML, and the spaces
/// after the comma and before the closing brace in JSON.
fn logged_in(output: Output, id: &str) -> Response {
    match output {
        Output::Xml => {
            let parts = [DECLARATION, "\n<resp status=\"ok\">\n<sessionId> ", &escape(id), "</sessionId>\n</resp>"];
            Response::with(200, XML, parts.concat())
        }
        Output::Json => {
            let mut b = Vec::with_capacity(40 + id.len());
            json::raw(&mut b, &[r#"{"status":"ok", "sessionId":"#]);
            json::string(&mut b, id);
            json::raw(&mut b, &[" }"]);
            Response::with(200, JSON, b)
        }
    }
}

fn ok(output: Output) -> Response {
    match output {
        Output::Xml => Response::with(200, XML, format!("{DECLARATION}\n<resp status=\"ok\"></resp>")),
        Output::Json => Response::with(200, JSON, r#"{"status":"ok"}"#),
    }
}

/// A `status="fail"` answer with a message.
fn fail(output: Output, status: u16, message: &str) -> Response {
    match output {
        Output::Xml => Response::with(
            status,
            XML,
            format!(r#"{DECLARATION}<resp status="fail"><err>{}</err></resp>"#, escape(message)),
        ),
        Output::Json => Response::with(status, JSON, json!({"status": "fail", "message": message}).to_string()),
    }
}

/// The `sessionId` among a request's parameters, trimmed (see `Stand::session_id`): the one place
/// that says where the token is, for the checks, logout and the journal.
fn session_id_in<'a>(params: &'a Params, req: &'a Request) -> Option<&'a str> {
    params.get(req, Param::SessionId).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::form_pairs;
    use proptest::prelude::*;

    #[test]
    fn options_reject_a_bad_status_and_an_empty_precedence() {
        let p = InfiniteBlue;
        assert!(p.configure(&json!({"login_error_status": 99})).is_err());
        assert!(p.configure(&json!({"precedence": []})).is_err());
        assert!(p.configure(&json!({"api_key_header": "a b"})).is_err());
        assert!(p.configure(&json!({"customer_idle_timeouts": {"1": "soon"}})).is_err());
        assert!(p.configure(&json!({"customer_idle_timeouts": {"1": "10m", "2": 30, "3": "none"}})).is_ok());
        assert!(p.configure(&json!({"colour": "blue"})).is_err());
    }

    #[test]
    fn the_login_answers_are_the_documented_bytes() {
        let id = "ecc701d2442e4f6b9fe2a7cc7b52078a@5857";
        assert_eq!(
            logged_in(Output::Xml, id).text_body(),
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<resp status=\"ok\">\n<sessionId> ecc701d2442e4f6b9fe2a7cc7b52078a@5857</sessionId>\n</resp>"
        );
        assert_eq!(
            logged_in(Output::Json, id).text_body(),
            r#"{"status":"ok", "sessionId":"ecc701d2442e4f6b9fe2a7cc7b52078a@5857" }"#
        );
    }

    /// What each parameter read was before `Params`: one search per name, in precedence order.
    fn param_by_search(req: &Request, precedence: &[Source], name: &str) -> Option<String> {
        let pairs = |input: &[u8]| -> Vec<(String, String)> {
            form_pairs(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        };
        let (query, form) = (pairs(req.query.as_bytes()), form_body(req).map(pairs).unwrap_or_default());
        let find = |list: &[(String, String)]| list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        precedence.iter().find_map(|source| match source {
            Source::Header => req
                .headers
                .iter()
                .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
                .and_then(|(_, v)| std::str::from_utf8(v.as_bytes()).ok())
                .map(str::to_owned),
            Source::Form => find(&form),
            Source::Query => find(&query),
        })
    }

    proptest! {
        /// Reading every parameter in one pass finds what one search per name found.
        #[test]
        fn params_are_read_as_one_search_per_name_reads_them(
            headers in proptest::collection::vec(("(loginname|LOGINNAME|password|sessionid|output|x-other)", proptest::collection::vec(any::<u8>().prop_filter("visible", |b| *b >= 0x20 && *b != 0x7f), 0..4)), 0..4),
            query in proptest::collection::vec(("(loginName|password|sessionId|output|custId|adminFallback|other)", "[a %+=&]{0,3}"), 0..5),
            form in proptest::collection::vec(("(loginName|password|sessionId|custId)", "[a %+]{0,3}"), 0..4),
            post: bool,
            precedence in proptest::sample::subsequence(vec![Source::Header, Source::Form, Source::Query], 1..=3).prop_shuffle(),
        ) {
            let join = |pairs: &[(String, String)]| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            let method = if post { Method::POST } else { Method::GET };
            let mut req = Request::new(method, &format!("/rest/api/login?{}", join(&query))).with_body(join(&form));
            for (name, value) in &headers {
                req.headers.push((name.parse().unwrap(), crate::wire::HeaderValue::from_bytes(value).unwrap()));
            }
            let p = Params::read(&req, &precedence);
            let params = [Param::LoginName, Param::Password, Param::SessionId, Param::Output, Param::CustId, Param::AdminFallback];
            for (name, param) in NAMES.iter().zip(params) {
                prop_assert_eq!(p.get(&req, param).map(str::to_owned), param_by_search(&req, &precedence, name), "{}", name);
            }
        }
    }
}
