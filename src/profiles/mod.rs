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
}
