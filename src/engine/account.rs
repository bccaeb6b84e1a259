//! Accounts: who may log in, with what, and what the stand remembers about their logins.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::Timestamp;

/// Index of an account within its stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u32);

/// An account as the scenario declares it. Immutable while the stand runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Password (compared in constant time; never logged or returned by the control API).
    pub password: String,
    /// The vendor's numeric user id (Junos Space `key`, SensNet `idUser`).
    pub id: u64,
    /// A stable GUID (Storware `requester.guid`).
    pub guid: String,
    /// Roles or privileges (SensNet `roleArray`, Storware `privileges`).
    pub roles: Vec<String>,
    /// User group (Oracle SDM `userGroup`).
    pub group: Option<String>,
    /// Tenant / customer id (Infinite Blue `custId`).
    pub tenant: Option<String>,
    /// API tokens or keys that log in, or act, without the password.
    pub api_tokens: Vec<String>,
    /// Refuses every login.
    pub disabled: bool,
    /// Locked at start (a lockout rule can also lock it at run time).
    pub locked: bool,
    /// Password logins are refused unless the client asks for the admin fallback.
    pub sso_only: bool,
    /// Certificate identity for X.509 logins, where the profile supports them.
    pub certificate: Option<CertificateIdentity>,
}

/// How an account is matched to a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateIdentity {
    /// The presented certificate (DER) must equal this one.
    Complete(Vec<u8>),
    /// These subject fields (name, value) must all match.
    Fields(Vec<(String, String)>),
}

impl Account {
    /// Constant-time password check.
    pub fn password_matches(&self, candidate: &str) -> bool {
        self.password.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// Constant-time API token check against every token of the account.
    pub fn token_matches(&self, candidate: &str) -> bool {
        self.api_tokens.iter().fold(false, |hit, t| hit | bool::from(t.as_bytes().ct_eq(candidate.as_bytes())))
    }
}

/// What the stand remembers about an account's logins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Last successful login: when, from where.
    pub last_success: Option<(Timestamp, Option<IpAddr>)>,
    /// Last failed login: when, from where.
    pub last_failure: Option<(Timestamp, Option<IpAddr>)>,
    /// Failed logins since the last success.
    pub failures_in_a_row: u32,
    /// Locked at run time (by a lockout rule or the control API).
    pub locked: bool,
}
