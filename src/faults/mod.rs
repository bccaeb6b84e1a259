//! Fault rules: a trigger (`when`) and an action (`then`), evaluated per request, vendor-blind.
//!
//! Semantic actions are rendered by the stand's profile (`Handler::render`); HTTP and connection
//! actions are carried out by `server.rs` on the bytes. The serde types here are the rule schema,
//! shared by scenario files and the control API (`POST /__standin/faults`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Timestamp;
use crate::profiles::Operation;
use crate::published::Published;
use crate::scenario::parse_span;
use crate::wire::Request;

/// A rule as written in a scenario or sent to the control API.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
pub struct Rule {
    spec: RuleSpec,
    calls: Option<(u64, u64)>,
    window: (Option<Timestamp>, Option<Timestamp>),
    path: Option<Pattern>,
    delay: Option<Delay>,
}

/// The rule's text form.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Name in the journal and the control API; default `fault-<n>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The trigger.
    #[serde(default)]
    pub when: When,
    /// The action.
    pub then: Then,
}

/// When a rule fires. Every given condition must hold; counts are of requests that match the
/// request conditions (op, method, path, user), from 1.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Vendor operation: `login`, `logout`, `check`, `resource`, `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Operation>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern: `{name}` matches one segment, a final `*` matches the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The login name in the request's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Only the nth matching call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    /// Every nth matching call (n, 2n, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Calls `a..b` (inclusive), e.g. `"2..4"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<String>,
    /// The first N matching calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<u64>,
    /// Stand-clock instant from which the rule applies (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Stand-clock instant until which the rule applies (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Fires with this probability, drawn from the stand's (seeded) random stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// What a rule does.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Then {
    /// The action; with only `delay`, the request is answered normally after the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// `status`: the status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `status`: headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// `status`: body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `busy`: seconds for `Retry-After` (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Delay before answering: `"2s"`, or `{min = "100ms", max = "2s"}` drawn from the stand's stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DelaySpec>,
    /// `truncate`: bytes of the body sent before the connection closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<usize>,
    /// `slow-body`: bytes per chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
    /// `slow-body`: time between chunks, e.g. `"200ms"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

/// The actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Semantic: the login is refused in the vendor's format.
    RejectLogin,
    /// Semantic: the request's session is expired now; the vendor then answers as it would.
    ExpireSession,
    /// Semantic: 503 with `Retry-After`, in the vendor's format.
    Busy,
    /// Semantic: the vendor's "not authorized" answer.
    Unauthorized,
    /// Semantic: the request's user is locked now; the vendor then answers as it would.
    LockAccount,
    /// HTTP: a raw status, headers and body.
    Status,
    /// HTTP: the body trickles out `chunk` bytes every `interval`.
    SlowBody,
    /// Connection: reset (RST) with no response.
    Reset,
    /// Connection: the headers, then the connection closes.
    CloseAfterHeaders,
    /// Connection: the body is cut after `at` bytes and the connection closes.
    Truncate,
    /// Connection: bytes that are not HTTP, then close.
    Garbage,
}

/// A delay: fixed, or uniform between two bounds.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum DelaySpec {
    /// `"2s"`.
    Fixed(String),
    /// `{min = "100ms", max = "2s"}`.
    Range {
        /// Lower bound.
        min: String,
        /// Upper bound.
        max: String,
    },
}

#[derive(Clone, Copy, Debug)]
enum Delay {
    Fixed(Duration),
    Range(Duration, Duration),
}

impl schemars::JsonSchema for Rule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fault".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RuleSpec::json_schema(generator)
    }
}

impl TryFrom<RuleSpec> for Rule {
    type Error = String;

    fn try_from(spec: RuleSpec) -> Result<Rule, String> {
        let w = &spec.when;
        let calls = match &w.calls {
            None => None,
            Some(c) => {
                let (a, b) = c
                    .split_once("..")
                    .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
                    .filter(|(a, b)| *a >= 1 && a <= b)
                    .ok_or_else(|| format!("when.calls: `{c}` is not a range such as \"2..4\" (from 1)"))?;
                Some((a, b))
            }
        };
        for (name, v) in [("nth", w.nth), ("every", w.every)] {
            if v == Some(0) {
                return Err(format!("when.{name}: counts start at 1"));
            }
        }
        if let Some(p) = w.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("when.probability: {p} is not between 0 and 1"));
        }
        if let Some(m) = &w.method
            && actix_web::http::Method::from_bytes(m.as_bytes()).is_err()
        {
            return Err(format!("when.method: `{m}` is not an HTTP method"));
        }
        let instant = |field: &str, v: &Option<String>| -> Result<Option<Timestamp>, String> {
            v.as_deref().map(|t| Timestamp::parse_rfc3339(t).map_err(|e| format!("when.{field}: {e}"))).transpose()
        };
        let window = (instant("after", &w.after)?, instant("before", &w.before)?);
        let path = w.path.as_deref().map(Pattern::parse).transpose().map_err(|e| format!("when.path: {e}"))?;
        let t = &spec.then;
        let span = |field: &str, v: &str| -> Result<Duration, String> {
            parse_span(v).map(Option::unwrap_or_default).map_err(|e| format!("then.{field}: {e}"))
        };
        let delay = match &t.delay {
            None => None,
            Some(DelaySpec::Fixed(d)) => Some(Delay::Fixed(span("delay", d)?)),
            Some(DelaySpec::Range { min, max }) => {
                let (a, b) = (span("delay.min", min)?, span("delay.max", max)?);
                if a > b {
                    return Err("then.delay: min is larger than max".into());
                }
                Some(Delay::Range(a, b))
            }
        };
        match t.action {
            None if delay.is_none() => return Err("then: give an `action`, a `delay`, or both".into()),
            Some(Action::Status) => match t.status {
                Some(s) if (100..=599).contains(&s) => {}
                Some(s) => return Err(format!("then.status: {s} is not an HTTP status")),
                None => return Err("then.status: the `status` action needs a status".into()),
            },
            Some(Action::Truncate) if t.at.is_none() => return Err("then.at: `truncate` needs `at` (bytes)".into()),
            Some(Action::SlowBody) => {
                if t.chunk.is_none_or(|c| c == 0) || t.interval.is_none() {
                    return Err("then: `slow-body` needs `chunk` (bytes, > 0) and `interval`".into());
                }
                span("interval", t.interval.as_deref().unwrap_or_default())?;
            }
            _ => {}
        }
        if let Some(headers) = &t.headers {
            for (k, v) in headers {
                actix_web::http::header::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| format!("then.headers: `{k}` is not a header name"))?;
                actix_web::http::header::HeaderValue::from_str(v)
                    .map_err(|_| format!("then.headers.{k}: not a valid header value"))?;
            }
        }
        Ok(Rule { spec, calls, window, path, delay })
    }
}

impl From<Rule> for RuleSpec {
    fn from(r: Rule) -> RuleSpec {
        r.spec
    }
}

/// What the stand must do for a request, decided by the rules.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Ids of the rules that fired.
    pub fired: Vec<String>,
    /// The action to take, from the first firing rule that has one.
    pub action: Option<(Action, Then)>,
    /// Total delay before answering.
    pub delay: Duration,
    /// Random draws made while deciding (journal).
    pub draws: Vec<f64>,
}

/// A stand's rules behind their lock, with whether there are any readable without it: a stand
/// with no rule (most of them, and every benchmarked one) answers without taking the lock.
pub(crate) struct SharedRules {
    rules: parking_lot::Mutex<Rules>,
    empty: AtomicBool,
}

impl SharedRules {
    /// `rules`, shared.
    pub(crate) fn new(rules: Rules) -> SharedRules {
        let empty = AtomicBool::new(rules.is_empty());
        SharedRules { rules: parking_lot::Mutex::new(rules), empty }
    }

    /// `true` if there is no rule, as of the last time the rules were let go.
    pub(crate) fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// The rules, locked; whether any are left is noted when they are let go.
    pub(crate) fn lock(&self) -> Published<'_, Rules, impl FnMut(&Rules) + '_> {
        Published::new(self.rules.lock(), |rules: &Rules| self.empty.store(rules.is_empty(), Ordering::Release))
    }
}

/// A stand's rules with their call counters.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<(String, Rule, u64)>,
    next_id: u64,
}

/// The request facts rules are matched on.
pub struct Facts<'a> {
    /// The request.
    pub req: &'a Request,
    /// Its vendor operation.
    pub op: Operation,
    /// The login name in its credentials.
    pub user: Option<String>,
    /// Stand-clock now.
    pub now: Timestamp,
}

impl Rules {
    /// The rules of a scenario.
    pub fn new(rules: Vec<Rule>) -> Rules {
        let mut r = Rules::default();
        for rule in rules {
            r.add(rule);
        }
        r
    }

    /// Adds a rule; returns its id (a duplicate id is suffixed).
    pub fn add(&mut self, rule: Rule) -> String {
        self.next_id += 1;
        let mut id = rule.spec.id.clone().unwrap_or_else(|| format!("fault-{}", self.next_id));
        if self.rules.iter().any(|(i, _, _)| *i == id) {
            id = format!("{id}-{}", self.next_id);
        }
        self.rules.push((id.clone(), rule, 0));
        id
    }

    /// Removes a rule; `false` if there is none with that id.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|(i, _, _)| i != id);
        self.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// `true` when there is no rule (the fast path: nothing to evaluate).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule with its id and how many matching calls it has seen.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.rules
            .iter()
            .map(|(id, rule, seen)| {
                let mut v = serde_json::to_value(&rule.spec).unwrap_or_default();
                v["id"] = serde_json::Value::String(id.clone());
                v["seen"] = serde_json::Value::from(*seen);
                v
            })
            .collect()
    }

    /// Evaluates every rule against a request, counting matches; `draw` gives uniform draws from
    /// the stand's stream (only called for probability and delay ranges).
    pub fn evaluate(&mut self, facts: &Facts<'_>, mut draw: impl FnMut() -> f64) -> Verdict {
        let mut verdict = Verdict::default();
        for (id, rule, seen) in &mut self.rules {
            if !rule.matches_request(facts) {
                continue;
            }
            *seen += 1;
            if !rule.matches_count(*seen) || !rule.in_window(facts.now) {
                continue;
            }
            if let Some(p) = rule.spec.when.probability {
                let d = draw();
                verdict.draws.push(d);
                if d >= p {
                    continue;
                }
            }
            verdict.fired.push(id.clone());
            match rule.delay {
                Some(Delay::Fixed(d)) => verdict.delay += d,
                Some(Delay::Range(a, b)) => {
                    let d = draw();
                    verdict.draws.push(d);
                    verdict.delay += a + (b - a).mul_f64(d);
                }
                None => {}
            }
            if verdict.action.is_none()
                && let Some(action) = rule.spec.then.action
            {
                verdict.action = Some((action, rule.spec.then.clone()));
            }
        }
        verdict
    }
}

impl Rule {
    fn matches_request(&self, f: &Facts<'_>) -> bool {
        let w = &self.spec.when;
        w.op.is_none_or(|op| op == f.op)
            && w.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(f.req.method.as_str()))
            && self.path.as_ref().is_none_or(|p| p.matches(&f.req.path).is_some())
            && w.user.as_deref().is_none_or(|u| f.user.as_deref() == Some(u))
    }

    fn matches_count(&self, n: u64) -> bool {
        let w = &self.spec.when;
        w.nth.is_none_or(|k| n == k)
            && w.every.is_none_or(|k| n.is_multiple_of(k))
            && w.first.is_none_or(|k| n <= k)
            && self.calls.is_none_or(|(a, b)| (a..=b).contains(&n))
    }

    fn in_window(&self, now: Timestamp) -> bool {
        self.window.0.is_none_or(|a| now >= a) && self.window.1.is_none_or(|b| now < b)
    }
}

/// A path pattern: literal segments, `{name}` for one segment, a final `*` for the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Segment>,
    /// The whole pattern when every segment is literal: such a pattern matches exactly that path.
    literal: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest,
}

impl Pattern {
    /// Parses `/api/vms/{id}` or `/rest/*`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("`{text}` must start with `/`"));
        };
        let parts: Vec<&str> = if rest.is_empty() { vec![] } else { rest.split('/').collect() };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = if *p == "*" {
                if i + 1 != parts.len() {
                    return Err(format!("`{text}`: `*` may only end a pattern"));
                }
                Segment::Rest
            } else if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.is_empty() {
                    return Err(format!("`{text}`: empty parameter name"));
                }
                Segment::Param(name.to_owned())
            } else {
                Segment::Literal((*p).to_owned())
            };
            segments.push(seg);
        }
        let literal = segments.iter().all(|s| matches!(s, Segment::Literal(_))).then(|| text.into());
        Ok(Pattern { segments, literal })
    }

    /// The parameters if `path` matches.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        if let Some(literal) = &self.literal {
            // Literal segments split as the path's do: the same text matches, and only it.
            return (**literal == *path).then(Vec::new);
        }
        let rest = path.strip_prefix('/')?;
        // Segment by segment, without collecting the path's (this runs for every resource on
        // every request); `/` alone has no segments.
        let mut parts = (!rest.is_empty()).then(|| crate::wire::segments(rest)).into_iter().flatten();
        let mut params = Vec::new();
        for seg in &self.segments {
            match seg {
                Segment::Rest => return Some(params),
                Segment::Literal(l) => {
                    if parts.next()? != l {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let v = parts.next().filter(|v| !v.is_empty())?;
                    params.push((name.clone(), crate::wire::percent_decode(v).unwrap_or_else(|| v.to_owned())));
                }
            }
        }
        parts.next().is_none().then_some(params)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::Method;

    /// `Pattern::matches` as first written, over the collected segments: the reference.
    fn matches_by_collect(p: &Pattern, path: &str) -> Option<Vec<(String, String)>> {
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = if rest.is_empty() { vec![] } else { rest.split('/').collect() };
        let mut params = Vec::new();
        for (i, seg) in p.segments.iter().enumerate() {
            match seg {
                Segment::Rest => return Some(params),
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let v = parts.get(i).filter(|v| !v.is_empty())?;
                    params.push((name.clone(), crate::wire::percent_decode(v).unwrap_or_else(|| (*v).to_owned())));
                }
            }
        }
        (parts.len() == p.segments.len()).then_some(params)
    }

    proptest! {
        #[test]
        fn patterns_match_as_collecting_does(
            pattern in prop_oneof![Just("/"), Just("/a"), Just("/a/b"), Just("/a//b"), Just("/a/"), Just("/a/{id}"), Just("/{x}/b/*"), Just("/*"), Just("/a/*")],
            path in proptest::collection::vec(prop_oneof![Just("/"), Just("a"), Just("b"), Just("%41"), Just("")], 0..6),
        ) {
            let p = Pattern::parse(pattern).unwrap();
            let path = path.concat();
            prop_assert_eq!(p.matches(&path), matches_by_collect(&p, &path));
        }
    }

    fn rule(toml_text: &str) -> Result<Rule, String> {
        toml::from_str::<Rule>(toml_text).map_err(|e| e.message().to_owned())
    }

    fn facts(req: &Request, op: Operation) -> Facts<'_> {
        Facts { req, op, user: Some("admin".into()), now: Timestamp::from_millis(0) }
    }

    #[test]
    fn shared_rules_say_whether_any_are_left_as_they_are_added_and_removed() {
        let shared = SharedRules::new(Rules::new(Vec::new()));
        assert!(shared.is_empty());
        let id = shared.lock().add(rule("then = {action = \"busy\"}").unwrap());
        assert!(!shared.is_empty());
        assert!(shared.lock().remove(&id));
        assert!(shared.is_empty());
        *shared.lock() = Rules::new(vec![rule("then = {action = \"busy\"}").unwrap()]);
        assert!(!shared.is_empty());
        shared.lock().clear();
        assert!(shared.is_empty());
        assert!(!SharedRules::new(Rules::new(vec![rule("then = {action = \"busy\"}").unwrap()])).is_empty());
    }

    #[test]
    fn counts_select_calls() {
        let mut rules =
            Rules::new(vec![rule("when = {op = \"login\", first = 2}\nthen = {action = \"busy\"}").unwrap()]);
        let req = Request::new(Method::POST, "/login");
        let fired: Vec<bool> =
            (0..4).map(|_| rules.evaluate(&facts(&req, Operation::Login), || 0.0).action.is_some()).collect();
        assert_eq!(fired, [true, true, false, false]);
        // Other operations neither fire nor count.
        assert!(rules.evaluate(&facts(&req, Operation::Check), || 0.0).action.is_none());

        let mut rules =
            Rules::new(vec![rule("when = {every = 2, calls = \"2..6\"}\nthen = {action = \"reset\"}").unwrap()]);
        let fired: Vec<bool> =
            (0..8).map(|_| rules.evaluate(&facts(&req, Operation::Login), || 0.0).action.is_some()).collect();
        assert_eq!(fired, [false, true, false, true, false, true, false, false]);
    }

    #[test]
    fn probability_and_delay_use_the_draws() {
        let mut rules = Rules::new(vec![
            rule("when = {probability = 0.5}\nthen = {delay = {min = \"1s\", max = \"3s\"}}").unwrap(),
        ]);
        let req = Request::new(Method::GET, "/x");
        let mut draws = [0.7, 0.25, 0.5].into_iter();
        assert_eq!(rules.evaluate(&facts(&req, Operation::Other), || draws.next().unwrap()).delay, Duration::ZERO);
        let v = rules.evaluate(&facts(&req, Operation::Other), || draws.next().unwrap());
        assert_eq!((v.delay, v.draws), (Duration::from_secs(2), vec![0.25, 0.5]));
    }

    #[test]
    fn bad_rules_name_the_field() {
        assert!(rule("when = {calls = \"4..2\"}\nthen = {action = \"reset\"}").unwrap_err().contains("when.calls"));
        assert!(rule("then = {action = \"status\"}").unwrap_err().contains("then.status"));
        assert!(rule("then = {action = \"truncate\"}").unwrap_err().contains("then.at"));
        assert!(rule("then = {}").unwrap_err().contains("then:"));
        assert!(rule("when = {probability = 2.0}\nthen = {action = \"busy\"}").unwrap_err().contains("probability"));
        assert!(rule("when = {path = \"api\"}\nthen = {action = \"busy\"}").unwrap_err().contains("when.path"));
        assert!(rule("then = {action = \"explode\"}").unwrap_err().contains("unknown variant"));
    }

    #[test]
    fn patterns_match_params_and_rest() {
        let p = Pattern::parse("/api/vms/{id}").unwrap();
        assert_eq!(p.matches("/api/vms/a%20b"), Some(vec![("id".into(), "a b".into())]));
        assert_eq!(p.matches("/api/vms"), None);
        assert_eq!(p.matches("/api/vms/1/x"), None);
        assert!(Pattern::parse("/rest/*").unwrap().matches("/rest/v1.1/admin/login").is_some());
        assert!(Pattern::parse("/a/*/b").is_err());
    }
}
