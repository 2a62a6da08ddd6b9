//! Differential, model-based test of the two dedupe stores: the same random
//! sequence of calls runs against a fresh `MemoryStore` (large enough never
//! to evict) and a fresh `RedisStore` (a real `redis-server` from the
//! harness, a key prefix of its own per case), and after every call both
//! must answer alike, and as the state machine of DESIGN.md / the
//! `DedupeStore` docs says:
//!
//! ```text
//! ABSENT --reserve(lease)--> IN_FLIGHT --complete(retention)--> DONE
//! IN_FLIGHT --release(holder's token) / lease ends--> ABSENT
//! complete: DONE whoever holds the key; a live DONE keeps its first retention
//! release: only the holder's token frees; on DONE it changes nothing
//! ```
//!
//! Durations are either tiny (1–5 ms, and the test then sleeps past them at
//! once, so their effect has ended before the next call) or an hour, so
//! that expiry is deterministic. Tokens differ between the stores: each
//! reservation gets an abstract number that maps to the token each store
//! handed out.
//!
//! `Duration::ZERO` is left out: `MemoryStore` takes it as over at once and
//! Redis cannot keep a key for less than a millisecond, which is why a gate
//! never sets less than `MIN_HOLD`.

mod redis_harness;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hookwarden::redis::RedisStore;
use hookwarden::{DedupeStore, MemoryStore, Reservation, Token};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use redis_harness::RedisServer;

/// Never ends during a test.
const LONG: Duration = Duration::from_secs(3600);
/// Comfortably past any tiny duration (5 ms at most; Redis keeps a `PX 5`
/// key for up to 6 ms).
const PAST_TINY: Duration = Duration::from_millis(9);
/// A short duration that is still live for the next few calls (scenarios
/// only): long enough for a busy CI machine to make them.
const WINDOW: Duration = Duration::from_millis(1000);
const PAST_WINDOW: Duration = Duration::from_millis(1300);
/// Far more than the few keys used: the memory store never evicts here.
const CAPACITY: usize = 1 << 20;

/// Keys that a prefix, a cluster hash tag or an escape could confuse, and a
/// long one.
fn keys() -> Vec<String> {
    vec![
        "ntxpay:evt_1".to_owned(),
        "shop%3Aeu:{evt}:%25:}{é".to_owned(),
        format!("github:sha256:{}", "ab".repeat(2048)),
        "{x}:%:".to_owned(),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dur {
    /// An hour.
    Long,
    /// 1–5 ms, slept past right after the call.
    Tiny(u8),
    /// [`WINDOW`], live until an [`Op::SleepWindow`] (scenarios only).
    Window,
}

impl Dur {
    fn duration(self) -> Duration {
        match self {
            Self::Long => LONG,
            Self::Tiny(ms) => Duration::from_millis(u64::from(ms)),
            Self::Window => WINDOW,
        }
    }

    /// How long the effect lives in the model; `None`: over at once.
    fn life(self) -> Option<Life> {
        match self {
            Self::Long => Some(Life::Long),
            Self::Window => Some(Life::Window),
            // Slept past before the next call.
            Self::Tiny(_) => None,
        }
    }
}

/// Which token a `complete` or `release` passes.
#[derive(Debug, Clone)]
enum Tok {
    /// The latest token issued for this key (the holder's, or a stale one).
    Latest,
    /// Any token issued so far, for any key (stale, current, another key's).
    Issued(Index),
    /// The `n`th token issued (scenarios).
    Nth(usize),
    /// One no reservation ever returned: 0, u64::MAX (MemoryStore's
    /// internal markers) or u128::MAX.
    Forged(u8),
}

#[derive(Debug, Clone)]
enum Op {
    Reserve(usize, Dur),
    Complete(usize, Tok, Dur),
    Release(usize, Tok),
    /// Sleep past tiny durations.
    Sleep,
    /// Sleep past [`Dur::Window`].
    SleepWindow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Life {
    Long,
    Window,
}

/// The model's view of one key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Absent,
    /// Held by the abstract token with this number.
    Held(usize, Life),
    Done(Life),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Acquired,
    InFlight,
    Done,
}

fn answer(reservation: Reservation) -> Answer {
    match reservation {
        Reservation::Acquired(_) => Answer::Acquired,
        Reservation::InFlight => Answer::InFlight,
        Reservation::Done => Answer::Done,
    }
}

/// One token as each store issued it.
struct Issued {
    key: usize,
    memory: Token,
    redis: Token,
}

/// Both stores, the model, and the tokens issued so far, for one case.
struct Pair {
    memory: MemoryStore,
    redis: RedisStore,
    keys: Vec<String>,
    issued: Vec<Issued>,
    model: Vec<State>,
    /// The calls so far with both answers, for failure messages.
    trace: Vec<String>,
}

fn next_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("diff{}:", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Pair {
    fn new(base: &RedisStore) -> Self {
        let keys = keys();
        Self {
            memory: MemoryStore::with_capacity(CAPACITY),
            redis: base.clone().with_prefix(next_prefix()),
            model: vec![State::Absent; keys.len()],
            keys,
            issued: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// The abstract token number (if one) and both stores' tokens.
    fn token(&self, key: usize, tok: &Tok) -> (Option<usize>, Token, Token) {
        let forged = |n: u8| {
            let value = [0, u128::from(u64::MAX), u128::MAX][usize::from(n % 3)];
            (None, Token::new(value), Token::new(value))
        };
        let pick = |i: usize| {
            let issued = &self.issued[i];
            (Some(i), issued.memory, issued.redis)
        };
        match tok {
            Tok::Latest => match self.issued.iter().rposition(|t| t.key == key) {
                Some(i) => pick(i),
                None => forged(2),
            },
            Tok::Issued(index) if !self.issued.is_empty() => pick(index.index(self.issued.len())),
            Tok::Issued(_) => forged(2),
            Tok::Nth(n) => pick(*n),
            Tok::Forged(n) => forged(*n),
        }
    }

    fn fail(&self, what: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "{what}\nprefix {:?}; calls so far (memory | redis):\n  {}",
            self.redis.prefix(),
            self.trace.join("\n  ")
        ))
    }

    /// Sleeps after a call whose duration is tiny.
    async fn settle(dur: Dur) {
        if let Dur::Tiny(_) = dur {
            tokio::time::sleep(PAST_TINY).await;
        }
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Reserve(k, dur) => {
                let key = &self.keys[k];
                let m = self.memory.reserve(key, dur.duration()).await.unwrap();
                let r = self.redis.reserve(key, dur.duration()).await;
                Self::settle(dur).await;
                let r = r.map_err(|err| self.fail(format!("redis reserve failed: {err}")))?;
                self.trace
                    .push(format!("{op:?} -> {:?} | {:?}", answer(m), answer(r)));
                if answer(m) != answer(r) {
                    return Err(self.fail(format!(
                        "stores disagree on {op:?}: memory {:?}, redis {:?}",
                        answer(m),
                        answer(r)
                    )));
                }
                let expected = match self.model[k] {
                    State::Absent => Answer::Acquired,
                    State::Held(..) => Answer::InFlight,
                    State::Done(_) => Answer::Done,
                };
                if answer(m) != expected {
                    return Err(self.fail(format!(
                        "both stores answer {:?} to {op:?}, the model {expected:?}",
                        answer(m)
                    )));
                }
                if let (Reservation::Acquired(memory), Reservation::Acquired(redis)) = (m, r) {
                    self.issued.push(Issued {
                        key: k,
                        memory,
                        redis,
                    });
                    self.model[k] = match dur.life() {
                        Some(life) => State::Held(self.issued.len() - 1, life),
                        None => State::Absent,
                    };
                }
            }
            Op::Complete(k, ref tok, dur) => {
                let (_, mt, rt) = self.token(k, tok);
                let key = &self.keys[k];
                self.memory.complete(key, mt, dur.duration()).await.unwrap();
                let r = self.redis.complete(key, rt, dur.duration()).await;
                Self::settle(dur).await;
                self.trace.push(format!("{op:?} -> Ok | {r:?}"));
                r.map_err(|err| self.fail(format!("redis complete failed: {err}")))?;
                // A success is final whoever holds the key; a live DONE
                // keeps its first retention.
                if !matches!(self.model[k], State::Done(_)) {
                    self.model[k] = match dur.life() {
                        Some(life) => State::Done(life),
                        None => State::Absent,
                    };
                }
            }
            Op::Release(k, ref tok) => {
                let (id, mt, rt) = self.token(k, tok);
                let key = &self.keys[k];
                self.memory.release(key, mt).await.unwrap();
                let r = self.redis.release(key, rt).await;
                self.trace.push(format!("{op:?} -> Ok | {r:?}"));
                r.map_err(|err| self.fail(format!("redis release failed: {err}")))?;
                if let State::Held(holder, _) = self.model[k] {
                    if id == Some(holder) {
                        self.model[k] = State::Absent;
                    }
                }
            }
            Op::Sleep => {
                tokio::time::sleep(PAST_TINY).await;
                self.trace.push("Sleep".to_owned());
            }
            Op::SleepWindow => {
                tokio::time::sleep(PAST_WINDOW).await;
                self.trace.push("SleepWindow".to_owned());
                for state in &mut self.model {
                    if matches!(
                        state,
                        State::Held(_, Life::Window) | State::Done(Life::Window)
                    ) {
                        *state = State::Absent;
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `ops`, then probes every key (after every short duration ended).
    async fn run(mut self, ops: &[Op]) -> Result<(), TestCaseError> {
        for op in ops {
            self.step(op).await?;
        }
        if ops.iter().any(|op| {
            matches!(
                op,
                Op::Reserve(_, Dur::Window) | Op::Complete(_, _, Dur::Window)
            )
        }) {
            self.step(&Op::SleepWindow).await?;
        } else {
            self.step(&Op::Sleep).await?;
        }
        for k in 0..self.keys.len() {
            self.step(&Op::Reserve(k, Dur::Long)).await?;
        }
        if self.memory.evictions() != 0 {
            return Err(self.fail("the memory store evicted: raise CAPACITY".to_owned()));
        }
        Ok(())
    }
}

// ------------------------------------------------------------- strategies

fn key() -> impl Strategy<Value = usize> {
    0..keys().len()
}

fn dur() -> impl Strategy<Value = Dur> {
    prop_oneof![3 => Just(Dur::Long), 1 => (1u8..=5).prop_map(Dur::Tiny)]
}

fn tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        3 => Just(Tok::Latest),
        3 => any::<Index>().prop_map(Tok::Issued),
        1 => (0u8..3).prop_map(Tok::Forged),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), dur()).prop_map(|(k, d)| Op::Reserve(k, d)),
        2 => (key(), tok(), dur()).prop_map(|(k, t, d)| Op::Complete(k, t, d)),
        3 => (key(), tok()).prop_map(|(k, t)| Op::Release(k, t)),
    ]
}

// ------------------------------------------------------------- harness

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A Redis server and a connected store (whose clones get a prefix per case).
fn setup(runtime: &tokio::runtime::Runtime) -> Option<(RedisServer, RedisStore)> {
    let server = RedisServer::start()?;
    let base = runtime.block_on(server.store());
    Some((server, base))
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The main property: random calls, tiny or long durations, both stores
/// and the model agree after every call.
#[test]
fn memory_and_redis_agree_on_random_calls() {
    let runtime = runtime();
    let Some((_server, base)) = setup(&runtime) else {
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: cases(128),
        failure_persistence: None,
        ..Config::default()
    });
    let started = Instant::now();
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        runtime.block_on(Pair::new(&base).run(&ops))
    });
    eprintln!("the property took {:?}", started.elapsed());
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, ops)) => {
            panic!("minimal failing sequence:\n{ops:#?}\n{why}")
        }
        Err(err) => panic!("{err}"),
    }
}

/// Fixed sequences, run through the same checker.
fn scenario(name: &str, ops: Vec<Op>) {
    let runtime = runtime();
    let Some((_server, base)) = setup(&runtime) else {
        return;
    };
    if let Err(err) = runtime.block_on(Pair::new(&base).run(&ops)) {
        panic!("scenario {name}: {err}");
    }
}

use Dur::{Long, Tiny, Window};
use Op::{Complete, Release, Reserve, Sleep, SleepWindow};

#[test]
fn scenario_late_success_after_another_holder_took_the_key() {
    for k in 0..keys().len() {
        scenario(
            "late success",
            vec![
                Reserve(k, Tiny(2)),            // token #0, its lease ends
                Reserve(k, Long),               // token #1: a retry holds it
                Complete(k, Tok::Nth(0), Long), // #0's 2xx
                Reserve(k, Long),               // Done
                Release(k, Tok::Latest),        // the retry fails: nothing changes
                Reserve(k, Long),
                Complete(k, Tok::Latest, Tiny(1)), // the retry succeeds too
                Reserve(k, Long),
            ],
        );
    }
}

#[test]
fn scenario_complete_with_a_token_that_never_held_the_key() {
    scenario(
        "foreign complete",
        vec![
            Reserve(1, Long),                  // #0 on key 1
            Complete(0, Tok::Latest, Long),    // key 0 absent, no token of its own
            Reserve(0, Long),                  // Done
            Reserve(2, Long),                  // #1 holds key 2
            Complete(2, Tok::Forged(2), Long), // forged token: still final
            Reserve(2, Long),                  // Done
            Release(2, Tok::Latest),           // the holder's release: no effect
            Reserve(2, Long),
            Complete(3, Tok::Nth(0), Tiny(3)), // absent, short retention
            Reserve(3, Long),                  // its retention ended: Acquired
        ],
    );
}

#[test]
fn scenario_release_after_complete_and_on_released_keys() {
    scenario(
        "release after complete",
        vec![
            Reserve(0, Long),
            Complete(0, Tok::Latest, Long),
            Release(0, Tok::Latest),
            Release(0, Tok::Forged(0)),
            Release(0, Tok::Forged(1)),
            Reserve(0, Long), // Done
            Reserve(1, Long), // #1
            Release(1, Tok::Latest),
            Release(1, Tok::Latest),        // twice
            Complete(1, Tok::Latest, Long), // complete on a released key
            Reserve(1, Long),               // Done
            Reserve(3, Tiny(1)),            // lease ended, key free
            Release(3, Tok::Latest),        // release after its lease
            Complete(3, Tok::Latest, Long), // complete on an expired lease
            Reserve(3, Long),
        ],
    );
}

#[test]
fn scenario_complete_twice_with_different_retentions() {
    scenario(
        "first retention stands",
        vec![
            // Long, then short: the long one stands.
            Reserve(0, Long),
            Complete(0, Tok::Latest, Long),
            Complete(0, Tok::Latest, Tiny(1)),
            Reserve(0, Long), // Done
            // Short (still live), then long: the short one stands.
            Reserve(1, Long),
            Complete(1, Tok::Latest, Window),
            Complete(1, Tok::Latest, Long),
            Reserve(1, Long), // Done while the window lasts
            SleepWindow,
            Reserve(1, Long), // Acquired: the first retention ended
            // Short and already over, then long: a new DONE.
            Reserve(2, Long),
            Complete(2, Tok::Latest, Tiny(2)),
            Complete(2, Tok::Latest, Long),
            Sleep,
            Reserve(2, Long), // Done
            // An expired DONE is free again, and completes anew.
            Complete(3, Tok::Forged(2), Tiny(1)),
            Reserve(3, Long), // Acquired
            Complete(3, Tok::Latest, Long),
            Reserve(3, Long), // Done
        ],
    );
}

#[test]
fn scenario_window_leases() {
    scenario(
        "window leases",
        vec![
            Reserve(0, Window),
            Reserve(0, Long), // InFlight
            Release(0, Tok::Forged(1)),
            Reserve(0, Tiny(1)), // InFlight
            SleepWindow,
            Reserve(0, Long),        // Acquired: #1
            Release(0, Tok::Nth(0)), // #0, stale: nothing
            Reserve(0, Long),        // InFlight
            Release(0, Tok::Latest),
            Reserve(0, Long), // Acquired
        ],
    );
}
