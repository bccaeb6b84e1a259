//! Session policy and the pure decisions made from it: is a session valid now, when does it expire.
//!
//! Every decision here is a function of a session record, the policy and the clock's `now`, so a
//! shared store (several processes, one Redis) can make the same decisions as the in-memory one.

use std::time::Duration;

use super::Timestamp;
use super::store::Session;

/// The session rules of one stand. Profiles supply defaults; scenarios override them field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Sliding idle timeout: a session unused this long is expired. `None`: never idles out.
    pub idle_timeout: Option<Duration>,
    /// Absolute cap after creation, however often the session is used. `None`: no cap.
    pub absolute_lifetime: Option<Duration>,
    /// A new login of a user ends every earlier session of that user, atomically.
    pub single_session_per_user: bool,
    /// More live sessions than this for one user: the login is refused.
    pub max_sessions_per_user: Option<u32>,
    /// More live sessions than this on the stand: the login is refused.
    pub max_sessions: Option<u32>,
    /// Whether a successful use of a session renews its idle timeout.
    pub renew_on_use: bool,
    /// This many wrong passwords in a row lock the account (`None`: never).
    pub lockout_after: Option<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            absolute_lifetime: None,
            single_session_per_user: false,
            max_sessions_per_user: None,
            max_sessions: None,
            renew_on_use: true,
            lockout_after: None,
        }
    }
}

/// Why a session is no longer valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Unused for longer than its idle timeout.
    Idle,
    /// Older than the absolute lifetime.
    Absolute,
}

/// The instant a session stops being valid, if it ever does: the earlier of its idle deadline and
/// its absolute cap.
pub fn expires_at(s: &Session, p: &Policy) -> Option<Timestamp> {
    let idle = s.idle().map(|d| s.last_used.plus(d));
    let cap = p.absolute_lifetime.map(|d| s.created.plus(d));
    match (idle, cap) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `Ok` if the session is valid at `now`, else why not. A session is valid strictly before its
/// deadline: at the deadline it is expired (Tomcat's `timeIdle >= maxInactiveInterval`).
pub fn check(s: &Session, p: &Policy, now: Timestamp) -> Result<(), Expiry> {
    if let Some(cap) = p.absolute_lifetime
        && now >= s.created.plus(cap)
    {
        return Err(Expiry::Absolute);
    }
    if let Some(idle) = s.idle()
        && now >= s.last_used.plus(idle)
    {
        return Err(Expiry::Idle);
    }
    Ok(())
}

/// The session's `last_used` after a successful use at `now`: moved on only if the policy
/// renews on use.
pub fn used_at(s: &Session, p: &Policy, now: Timestamp) -> Timestamp {
    if p.renew_on_use && now > s.last_used { now } else { s.last_used }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::AccountId;

    fn session(idle: Option<Duration>) -> Session {
        Session::new(AccountId(0), 1, Timestamp::from_millis(0), idle, None)
    }

    #[test]
    fn idle_deadline_is_exclusive() {
        let p = Policy::default();
        let s = session(p.idle_timeout);
        let deadline = Timestamp::from_millis(30 * 60 * 1000);
        assert_eq!(check(&s, &p, deadline.minus(Duration::from_millis(1))), Ok(()));
        assert_eq!(check(&s, &p, deadline), Err(Expiry::Idle));
        assert_eq!(expires_at(&s, &p), Some(deadline));
    }

    #[test]
    fn absolute_cap_wins_over_sliding_idle() {
        let p = Policy {
            idle_timeout: Some(Duration::from_secs(3 * 3600)),
            absolute_lifetime: Some(Duration::from_secs(24 * 3600)),
            ..Policy::default()
        };
        let mut s = session(p.idle_timeout);
        s.last_used = Timestamp::from_millis(23 * 3600 * 1000);
        assert_eq!(expires_at(&s, &p), Some(Timestamp::from_millis(24 * 3600 * 1000)));
        assert_eq!(check(&s, &p, Timestamp::from_millis(24 * 3600 * 1000)), Err(Expiry::Absolute));
    }

    #[test]
    fn no_renewal_when_policy_says_so() {
        let p = Policy { renew_on_use: false, ..Policy::default() };
        let s = session(p.idle_timeout);
        assert_eq!(used_at(&s, &p, Timestamp::from_millis(5_000)), s.last_used);
    }
}
