//! `infinite-blue`: Infinite Blue Platform (formerly Progress Rollbase) REST API v1 (spec/infinite-blue.md).
//!
//! Login by headers, query or form parameters issues a `sessionId` of the shape
//! `<32 lowercase hex>@<custId>` (the engine's session token, whole), which clients pass back as a
//! query parameter or form field on every call. One session per user: a new login ends the user's
//! earlier sessions, atomically, in the engine. Answers are XML (default) or JSON per `output`.

use std::collections::BTreeMap;
use std::time::Duration;

use rand_chacha::rand_core::RngCore;
use serde::Deserialize;
use serde_json::json;

use super::{Handler, Operation, Principal, Profile, Semantic, escape};
use crate::engine::{Account, Credential, Engine, Login, Minted, Policy, token};
use crate::scenario::parse_span;
use crate::wire::{Method, Request, Response, form_pairs};

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
        let output = self.output_or_xml(req);
        let Some(id) = self.session_id(req) else {
            return Err(fail(output, 400, "Missing parameter: sessionId"));
        };
        match engine.authenticate(&id) {
            Ok(s) => Ok(Principal::Session(Box::new(s))),
            Err(_) => Err(self.login_error(output)),
        }
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
        self.param(req, "loginName")
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
    fn login(&self, engine: &Engine, req: &Request) -> Response {
        let output = match self.output(req) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let (Some(user), Some(password)) = (self.param(req, "loginName"), self.param(req, "password")) else {
            let missing = if self.param(req, "loginName").is_none() { "loginName" } else { "password" };
            return fail(output, 400, &format!("Missing parameter: {missing}"));
        };
        let cust_id = self.param(req, "custId").map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        let admin_fallback = self.param(req, "adminFallback").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        // The customer is the one named, else the one the login name belongs to; accounts are
        // immutable while the stand runs, so this agrees with the engine's own lookup.
        let customer = engine
            .find_account(&user, cust_id.as_deref())
            .and_then(|id| engine.account(id))
            .and_then(|a| a.tenant.clone())
            .unwrap_or_else(|| self.options.default_cust_id.clone());
        let suffix = self.options.session_suffix.clone().unwrap_or_else(|| customer.clone());
        let attempt = Login {
            tenant: cust_id.as_deref(),
            admin_fallback,
            idle: self.options.customer_idle_timeouts.get(&customer).map(|i| i.0),
            ..Login::password(&user, &password).from_peer(req.peer)
        };
        let mint = |rng: &mut dyn RngCore| {
            let mut t = String::with_capacity(33 + suffix.len());
            token::push_hex_lower(&mut t, rng, 16);
            t.push('@');
            t.push_str(&suffix);
            Minted::token(t)
        };
        match engine.login(attempt, mint) {
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
        if let Err(r) = self.guard(engine, req) {
            return r;
        }
        match self.output(req) {
            Ok(output) => fail(output, 400, &format!("{method}: not emulated (define it as a scenario resource)")),
            Err(r) => r,
        }
    }

    /// The first value of parameter `name` in the configured precedence of sources.
    fn param(&self, req: &Request, name: &str) -> Option<String> {
        let pairs = Pairs::of(req);
        let find = |list: &[(String, String)]| list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        self.options.precedence.iter().find_map(|source| match source {
            Source::Header => req
                .headers
                .iter()
                .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
                .and_then(|(_, v)| std::str::from_utf8(v.as_bytes()).ok())
                .map(str::to_owned),
            Source::Form => find(&pairs.form),
            Source::Query => find(&pairs.query),
        })
    }

    /// The `sessionId` the request carries, with the documented leading space (or any other
    /// surrounding whitespace, `+` in a query included) trimmed.
    fn session_id(&self, req: &Request) -> Option<String> {
        self.param(req, "sessionId").map(|s| s.trim().to_owned())
    }

    /// The requested output format, or the `status="fail"` answer to a bad one (in XML).
    fn output(&self, req: &Request) -> Result<Output, Response> {
        match self.param(req, "output") {
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

/// The query's and the form body's pairs, decoded once per request (a request asks for several
/// parameters, each from every source in turn).
#[derive(Clone)]
struct Pairs {
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl Pairs {
    fn of(req: &Request) -> std::borrow::Cow<'_, Pairs> {
        req.parsed(|req| Pairs {
            query: owned_pairs(req.query.as_bytes()),
            form: form_body(req).map(owned_pairs).unwrap_or_default(),
        })
    }
}

fn owned_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_pairs(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
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
        Output::Xml => Response::with(
            200,
            XML,
            format!("{DECLARATION}\n<resp status=\"ok\">\n<sessionId> {}</sessionId>\n</resp>", escape(id)),
        ),
        Output::Json => Response::with(200, JSON, format!(r#"{{"status":"ok", "sessionId":{} }}"#, json!(id))),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
