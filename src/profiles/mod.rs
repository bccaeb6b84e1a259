//! The vendor profiles: one file per vendor, all listed once in [`ALL`].
//!
//! A profile is a mask over the engine: it turns vendor HTTP into engine calls and engine results
//! into vendor bytes. It never decides expiry and never knows another profile. Adding a vendor is:
//! copy a neighbour's file, rename, list it in `ALL`, add it to the default scenario and the
//! contract table.

pub mod infinite_blue;
pub mod junos_space;
pub mod oracle_sdm;
pub mod sensnet;
pub mod storware;
mod xml;

use std::fmt;

use crate::engine::{Account, AccountId, Engine, Policy, SessionView};
use crate::wire::{Request, Response};

pub use xml::{escape, partial_escape, xml_declaration};

/// One vendor's wire protocol: a stateless description, configured per stand.
pub trait Profile: Sync {
    /// The id scenarios name it by, e.g. `junos-space`.
    fn id(&self) -> &'static str;
    /// The port of this profile's stand in the embedded default scenario.
    fn default_port(&self) -> u16;
    /// One line for `standin profiles`.
    fn summary(&self) -> &'static str;
    /// The session policy a stand of this profile starts from.
    fn default_policy(&self) -> Policy;
    /// The accounts a stand of this profile has when its scenario lists none (from the vendor's
    /// own examples, so that following the vendor documentation literally works).
    fn default_accounts(&self) -> Vec<Account>;
    /// Builds the stand's handler from the scenario's `options` (this profile's [DEFAULT]
    /// overrides; `null` when absent). The error names the offending option.
    fn configure(&self, options: &serde_json::Value) -> Result<Box<dyn Handler>, String>;
    /// JSON Schema of this profile's `options` (for the scenario format reference).
    fn options_schema(&self) -> schemars::Schema;
}

/// A profile configured for one stand.
pub trait Handler: Send + Sync {
    /// Answers a request to one of the vendor's own paths.
    fn handle(&self, engine: &Engine, req: &Request) -> Response;
    /// The vendor's session check, for scenario-defined protected resources: who is calling, or
    /// the vendor's own refusal.
    fn guard(&self, engine: &Engine, req: &Request) -> Result<Principal, Response>;
    /// [`Handler::guard`] for a caller that does not need the principal: the same check and
    /// the same refusal, where a profile can make it without building the session's view.
    fn admit(&self, engine: &Engine, req: &Request) -> Result<(), Response> {
        self.guard(engine, req).map(drop)
    }
    /// Which vendor operation a request is, for fault triggers (`when.op`) and the journal.
    fn operation(&self, req: &Request) -> Operation;
    /// The session token the request carries, if any (so a fault can expire it).
    fn session_token(&self, req: &Request) -> Option<String>;
    /// The login name the request names in its credentials, if any (for `when.user`).
    fn user(&self, req: &Request) -> Option<String>;
    /// A vendor-semantic event rendered in the vendor's own format, as the real server would
    /// answer it for this request.
    fn render(&self, engine: &Engine, req: &Request, event: &Semantic) -> Response;
    /// Secrets in the request's path or query (a password in a path segment) that the journal
    /// must mask; the session token is masked without being listed here.
    fn redact(&self, _req: &Request) -> Vec<String> {
        Vec::new()
    }
}

/// The vendor operations fault rules and the journal speak of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// Creates a session (every login variant: password, token, node, GET form).
    Login,
    /// Ends a session.
    Logout,
    /// Validates or renews a session without other effect (login-status, ping, check).
    Check,
    /// Any other protected resource.
    Resource,
    /// Not a vendor path.
    Other,
}

impl Operation {
    /// The name used in scenarios and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Login => "login",
            Operation::Logout => "logout",
            Operation::Check => "check",
            Operation::Resource => "resource",
            Operation::Other => "other",
        }
    }
}

/// A vendor-semantic event that a fault rule asks a profile to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Semantic {
    /// The login is refused as if the credentials were wrong.
    LoginRejected,
    /// The request's session is not (or no longer) valid.
    Unauthorized,
    /// The account is locked.
    Locked,
    /// The server is busy: 503 with `Retry-After` (seconds).
    Busy {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// The request body is over the stand's limit (413); the body was not read.
    TooLarge,
}

/// Who passed a profile's session check.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A live session.
    Session(Box<SessionView>),
    /// Credentials on the request itself, without a session (Junos Space's Basic auth).
    Account(AccountId),
}

/// Every profile, in default-port order.
pub static ALL: &[&dyn Profile] = &[
    &junos_space::JunosSpace,
    &oracle_sdm::OracleSdm,
    &storware::Storware,
    &sensnet::SensNet,
    &infinite_blue::InfiniteBlue,
];

/// The profile called `id`.
pub fn find(id: &str) -> Option<&'static dyn Profile> {
    ALL.iter().copied().find(|p| p.id() == id)
}

/// The ids of every profile, for error messages.
pub fn ids() -> String {
    ALL.iter().map(|p| format!("`{}`", p.id())).collect::<Vec<_>>().join(", ")
}

impl fmt::Debug for dyn Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Deserializes a profile's options struct from the scenario's `options` value (`null` = all
/// defaults), so every profile reports a mistyped option the same way.
pub fn options<T: serde::de::DeserializeOwned + Default>(value: &serde_json::Value) -> Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone()).map_err(|e| format!("options: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_and_ports_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.id(), b.id());
                assert_ne!(a.default_port(), b.default_port());
            }
            assert!(a.configure(&serde_json::Value::Null).is_ok(), "{} defaults configure", a.id());
            assert!(!a.default_accounts().is_empty());
        }
    }

    /// A profile's handler (default options) and two identical engines of its default accounts
    /// and policy, on manual clocks at the same instant, with the same seed.
    fn twin_engines(id: &str) -> (&'static dyn Profile, Box<dyn Handler>, Engine, Engine) {
        use crate::engine::{Clock, Setup, Timestamp};
        let profile = *ALL.iter().find(|p| p.id() == id).expect("a profile");
        let handler = profile.configure(&serde_json::Value::Null).expect("defaults configure");
        let engine = || {
            let setup = Setup {
                stand_id: id.into(),
                accounts: profile.default_accounts(),
                policy: profile.default_policy(),
                seed: Some(7),
                clock_start: None,
            };
            Engine::new(setup, Clock::manual(Timestamp::from_millis(1_700_000_000_000)))
        };
        (profile, handler, engine(), engine())
    }

    /// `admit` is `guard` without the principal: the same answer and the same recorded use, for
    /// a live, an unknown, a missing and an expired session, on two engines run side by side.
    #[rstest::rstest]
    #[case::junos_space("junos-space", "/api/space/user-management/users", Some("JSESSIONIDSSO"), true)]
    #[case::oracle_sdm("oracle-sdm", "/rest/v1.1/admin/serverInfo", Some("JSESSIONID"), true)]
    #[case::oracle_sdm_bad_version("oracle-sdm", "/rest/v9/admin/serverInfo", Some("JSESSIONID"), false)]
    #[case::storware("storware", "/api/session/ping", Some("JSESSIONID"), true)]
    #[case::sensnet("sensnet", "/sn/rest/data?token=", None, true)]
    #[case::infinite_blue("infinite-blue", "/rest/api/selectQuery?query=x&output=json&sessionId=", None, true)]
    fn admit_answers_and_records_as_guard_does(
        #[case] id: &str,
        #[case] path: &str,
        #[case] cookie: Option<&str>,
        #[case] live_admitted: bool,
    ) {
        use crate::engine::{Login, Minted, token};
        use crate::wire::{Method, Request};
        let (profile, handler, a, b) = twin_engines(id);
        let account = &profile.default_accounts()[0];
        let login = |e: &Engine| {
            let s = e.login(Login::password(&account.name, &account.password), |rng| {
                Minted::token(token::hex_lower(rng, 16))
            });
            s.expect("login").token.to_string()
        };
        let token = login(&a);
        assert_eq!(login(&b), token, "same seed, same token");
        let request = |t: Option<&str>| match (cookie, t) {
            (Some(name), Some(t)) => Request::new(Method::GET, path).with_header("Cookie", &format!("{name}={t}")),
            (None, Some(t)) => Request::new(Method::GET, &format!("{path}{t}")),
            (_, None) => Request::new(Method::GET, path.trim_end_matches("sessionId=").trim_end_matches("?token=")),
        };
        let same = |req: &Request| {
            let by_guard = handler.guard(&a, req).map(drop);
            let by_admit = handler.admit(&b, req);
            assert_eq!(by_admit, by_guard, "{id} {}?{}", req.path, req.query);
            let uses = |e: &Engine| e.sessions().iter().map(|s| (s.token.clone(), s.last_used)).collect::<Vec<_>>();
            assert_eq!(uses(&b), uses(&a), "{id}: the same use recorded");
            by_guard.is_ok()
        };
        a.clock().advance(std::time::Duration::from_secs(60));
        b.clock().advance(std::time::Duration::from_secs(60));
        assert_eq!(same(&request(Some(&token))), live_admitted, "{id}: a live session");
        assert!(!same(&request(Some("no-such-session"))));
        assert!(!same(&request(None)));
        a.clock().advance(std::time::Duration::from_secs(10 * 86_400));
        b.clock().advance(std::time::Duration::from_secs(10 * 86_400));
        assert!(!same(&request(Some(&token))));
        assert_eq!(a.stored(), b.stored());
    }

    /// Junos Space also lets Basic credentials through on any resource (after a session cookie
    /// that fails): `admit` answers as `guard` does, and neither records a login or a failure (a
    /// stateless check, as Junos Space makes it on every call).
    #[test]
    fn junos_space_admits_basic_credentials_as_it_guards_them() {
        use crate::engine::AccountId;
        use crate::wire::{Method, Request};
        use base64::Engine as _;
        let (profile, handler, a, b) = twin_engines("junos-space");
        let account = &profile.default_accounts()[0];
        let basic = |user: &str, password: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
        };
        let cases = [
            (Some(basic(&account.name, &account.password)), None, true),
            (Some(basic(&account.name, "not-the-password")), None, false),
            (Some(basic("nobody", "x")), None, false),
            (Some("Basic !!!".to_owned()), None, false),
            (Some(basic(&account.name, &account.password)), Some("JSESSIONIDSSO=gone"), true),
            (None, Some("JSESSIONIDSSO=gone"), false),
        ];
        for (authorization, cookie, admitted) in cases {
            let mut req = Request::new(Method::GET, "/api/space/user-management/users");
            if let Some(v) = &authorization {
                req = req.with_header("Authorization", v);
            }
            if let Some(c) = cookie {
                req = req.with_header("Cookie", c);
            }
            let by_guard = handler.guard(&a, &req).map(drop);
            let by_admit = handler.admit(&b, &req);
            assert_eq!(by_admit, by_guard, "{authorization:?} {cookie:?}");
            assert_eq!(by_guard.is_ok(), admitted, "{authorization:?} {cookie:?}");
            assert_eq!(b.activity(AccountId(0)), a.activity(AccountId(0)), "{authorization:?}: the same activity");
        }
        assert_eq!(a.activity(AccountId(0)), crate::engine::Activity::default(), "nothing recorded");
        assert_eq!(a.stored(), b.stored());
    }
}
