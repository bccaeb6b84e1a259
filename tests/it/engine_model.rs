//! proptest: random operation sequences on a manual clock, checked against a simple model.
//!
//! Model: a session is valid iff it was not logged out or replaced, its idle time is below its
//! timeout and its age below the cap; with single-session, a login ends the user's others;
//! tokens are unique.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use standin::engine::{Account, Clock, Engine, Login, Minted, Policy, Setup, Timestamp, Which, token};

#[derive(Clone, Debug)]
enum Op {
    Login {
        user: usize,
    },
    BadLogin {
        user: usize,
    },
    Use {
        nth: usize,
    },
    /// A use through `admit` (no view built): the model cannot tell it from `Use`.
    Admit {
        nth: usize,
    },
    Peek {
        nth: usize,
    },
    Logout {
        nth: usize,
    },
    Advance {
        secs: u64,
    },
    ExpireUser {
        user: usize,
    },
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize).prop_map(|user| Op::Login { user }),
        1 => (0..3usize).prop_map(|user| Op::BadLogin { user }),
        3 => (0..16usize).prop_map(|nth| Op::Use { nth }),
        2 => (0..16usize).prop_map(|nth| Op::Admit { nth }),
        1 => (0..16usize).prop_map(|nth| Op::Peek { nth }),
        1 => (0..16usize).prop_map(|nth| Op::Logout { nth }),
        3 => (0..2000u64).prop_map(|secs| Op::Advance { secs }),
        1 => (0..3usize).prop_map(|user| Op::ExpireUser { user }),
        1 => Just(Op::Purge),
    ]
}

#[derive(Clone, Debug)]
struct ModelSession {
    user: usize,
    created: i64,
    last_used: i64,
    ended: bool,
}

fn policy() -> impl Strategy<Value = Policy> {
    (prop::option::of(60..3600u64), prop::option::of(600..7200u64), any::<bool>(), any::<bool>()).prop_map(
        |(idle, cap, single, renew)| Policy {
            idle_timeout: idle.map(Duration::from_secs),
            absolute_lifetime: cap.map(Duration::from_secs),
            single_session_per_user: single,
            renew_on_use: renew,
            ..Policy::default()
        },
    )
}

fn valid(m: &ModelSession, p: &Policy, now: i64) -> bool {
    let idle_ok = p.idle_timeout.is_none_or(|d| now < m.last_used + d.as_millis() as i64);
    let cap_ok = p.absolute_lifetime.is_none_or(|d| now < m.created + d.as_millis() as i64);
    !m.ended && idle_ok && cap_ok
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(policy in policy(), ops in prop::collection::vec(op(), 1..80)) {
        let users = ["ann", "bob", "cy"];
        let accounts = users.iter().map(|u| Account { name: (*u).into(), password: "pw".into(), ..Account::default() }).collect();
        let start = Timestamp::from_millis(1_700_000_000_000);
        let clock = Clock::manual(start);
        let engine = Engine::new(Setup { stand_id: "t".into(), accounts, policy: policy.clone(), seed: Some(1), clock_start: Some(start) }, clock.clone());
        let mut tokens: Vec<String> = Vec::new();
        let mut model: HashMap<String, ModelSession> = HashMap::new();

        for op in ops {
            let now = clock.now().as_millis();
            // The journal's promise: while the change count holds, every token's state at an
            // instant holds (it reads a request's session state after from the state before).
            let changes = engine.changes();
            let states = |engine: &Engine, tokens: &[String]| -> Vec<_> {
                tokens.iter().map(|t| engine.status_at(t, Timestamp::from_millis(now))).collect()
            };
            let before = states(&engine, &tokens);
            match op {
                Op::Login { user } => {
                    let s = engine.login(Login::password(users[user], "pw"), |rng| Minted::token(token::hex_lower(rng, 16))).expect("login");
                    let t = s.token.to_string();
                    prop_assert!(!model.contains_key(&t), "token reused");
                    if policy.single_session_per_user {
                        for m in model.values_mut().filter(|m| m.user == user) { m.ended = true; }
                    }
                    model.insert(t.clone(), ModelSession { user, created: now, last_used: now, ended: false });
                    tokens.push(t);
                }
                Op::BadLogin { user } => {
                    prop_assert!(engine.login(Login::password(users[user], "nope"), |rng| Minted::token(token::hex_lower(rng, 16))).is_err());
                }
                Op::Use { nth } | Op::Admit { nth } | Op::Peek { nth } => {
                    let Some(t) = tokens.get(nth) else { continue };
                    let touch = !matches!(op, Op::Peek { .. });
                    let got = match op {
                        Op::Use { .. } => engine.authenticate(t).map(drop),
                        Op::Admit { .. } => engine.admit(t),
                        _ => engine.peek(t).map(drop),
                    };
                    let m = model.get_mut(t).expect("issued");
                    let expect = valid(m, &policy, now);
                    prop_assert_eq!(got.is_ok(), expect, "use of {} at {}", t, now);
                    if expect { if touch && policy.renew_on_use { m.last_used = now; } } else { m.ended = true; }
                }
                Op::Logout { nth } => {
                    let Some(t) = tokens.get(nth) else { continue };
                    let m = model.get_mut(t).expect("issued");
                    prop_assert_eq!(engine.logout(t).is_ok(), valid(m, &policy, now));
                    m.ended = true;
                }
                Op::Advance { secs } => clock.advance(Duration::from_secs(secs)),
                Op::ExpireUser { user } => {
                    let live = model.values().filter(|m| m.user == user && valid(m, &policy, now)).count();
                    prop_assert_eq!(engine.expire(Which::User(users[user])), live);
                    for m in model.values_mut().filter(|m| m.user == user) { m.ended = true; }
                }
                Op::Purge => { engine.purge(3); }
            }
            if engine.changes() == changes {
                let after = states(&engine, &tokens[..before.len()]);
                prop_assert_eq!(after, before, "unchanged count, changed states");
            }
            // After every step: the live set is exactly the model's.
            let now = clock.now().as_millis();
            let mut live: Vec<String> = engine.sessions().iter().map(|s| s.token.to_string()).collect();
            let mut expected: Vec<String> = model.iter().filter(|(_, m)| valid(m, &policy, now)).map(|(t, _)| t.clone()).collect();
            live.sort();
            expected.sort();
            prop_assert_eq!(&live, &expected);
            if policy.single_session_per_user {
                for u in users {
                    prop_assert!(engine.sessions().iter().filter(|s| s.account.name == u).count() <= 1);
                }
            }
            prop_assert!(engine.stored() >= live.len());
        }
    }
}

#[test]
fn a_client_that_logs_in_forever_leaves_the_store_bounded() {
    let accounts = vec![Account { name: "poller".into(), password: "pw".into(), ..Account::default() }];
    let start = Timestamp::from_millis(0);
    let clock = Clock::manual(start);
    let engine = Engine::new(
        Setup { stand_id: "t".into(), accounts, policy: Policy::default(), seed: Some(1), clock_start: Some(start) },
        clock.clone(),
    );
    // One login every 10 s for 100,000 logins (about 11.5 days), never logging out.
    let mut high = 0;
    for _ in 0..100_000 {
        engine.login(Login::password("poller", "pw"), |rng| Minted::token(token::hex_lower(rng, 16))).unwrap();
        clock.advance(Duration::from_secs(10));
        high = high.max(engine.stored());
    }
    // 30 idle minutes hold 180 logins; amortized purge on login keeps the store near that.
    assert!(high <= 200, "store grew to {high}");
    clock.advance(Duration::from_secs(31 * 60));
    engine.purge(4096);
    assert_eq!(engine.stored(), 0);
}

#[test]
fn a_taken_token_is_minted_again_with_its_own_note() {
    let accounts = vec![Account { name: "ann".into(), password: "pw".into(), ..Account::default() }];
    let start = Timestamp::from_millis(0);
    let engine = Engine::new(
        Setup { stand_id: "t".into(), accounts, policy: Policy::default(), seed: Some(1), clock_start: Some(start) },
        Clock::manual(start),
    );
    let fixed = |token: &str, note: &str| Minted { token: token.into(), note: Some(note.into()) };
    let first = engine.login(Login::password("ann", "pw"), |_| fixed("taken", "first")).unwrap();
    // The second login's first mint collides with the stored token; its second does not.
    let mints = std::cell::Cell::new(0);
    let second = engine
        .login(Login::password("ann", "pw"), |_| {
            mints.set(mints.get() + 1);
            if mints.get() == 1 { fixed("taken", "collided") } else { fixed("fresh", "second") }
        })
        .unwrap();
    assert_eq!(mints.get(), 2);
    assert_eq!((&*second.token, second.note.as_deref()), ("fresh", Some("second")));
    assert_eq!(engine.stored(), 2);
    let still = engine.authenticate("taken").unwrap();
    assert_eq!((still.serial, still.note.as_deref()), (first.serial, Some("first")));
    assert_eq!(engine.authenticate("fresh").unwrap().note.as_deref(), Some("second"));
}
