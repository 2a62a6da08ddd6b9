//! The dedupe store contract (`hookwarden_core::DedupeStore`), one suite run
//! against every store: `MemoryStore` and `RedisStore` (on a real
//! `redis-server` started by the harness). Then what only the Redis store
//! can get wrong: its key layout, a Redis that restarts, one that hangs.

mod redis_harness;

use std::time::Duration;

use hookwarden::redis::{ConnectError, RedisStore, StoreError};
use hookwarden::{DedupeStore, MemoryStore, Reservation, Token};
use redis_harness::{Proxy, RedisServer};

/// Long enough never to end during a test.
const LONG: Duration = Duration::from_secs(60);
/// Short enough to end during a test.
const SHORT: Duration = Duration::from_millis(40);
/// Comfortably past [`SHORT`].
const PAST_SHORT: Duration = Duration::from_millis(200);

#[track_caller]
fn acquired(reservation: Reservation) -> Token {
    match reservation {
        Reservation::Acquired(token) => token,
        other => panic!("expected Acquired, got {other:?}"),
    }
}

/// Reserves `key` until the store answers `Acquired`, for `within` at most;
/// every failure before then must be `allowed`.
async fn reserve_until_acquired(
    store: &RedisStore,
    key: &str,
    within: Duration,
    allowed: impl Fn(&StoreError) -> bool,
) -> Token {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match store.reserve(key, LONG).await {
            Ok(reservation) => return acquired(reservation),
            Err(err) => {
                assert!(allowed(&err), "{key}: {err:?}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{key}: still {err:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits until `key` holds DONE in Redis, for `within` at most.
async fn until_done(server: &RedisServer, key: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while server.command(&["GET", key]) != "$4\r\ndone\r\n" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key}: the outcome was lost"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shared suite: each case takes a fresh store.
mod contract {
    use super::*;

    async fn reserve<St: DedupeStore>(store: &St, key: &str, lease: Duration) -> Reservation {
        store.reserve(key, lease).await.expect("reserve")
    }

    async fn complete<St: DedupeStore>(store: &St, key: &str, token: Token, keep: Duration) {
        store.complete(key, token, keep).await.expect("complete");
    }

    async fn release<St: DedupeStore>(store: &St, key: &str, token: Token) {
        store.release(key, token).await.expect("release");
    }

    pub(crate) async fn a_fresh_key_is_acquired<St: DedupeStore>(store: St) {
        acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
    }

    pub(crate) async fn a_held_key_is_in_flight<St: DedupeStore>(store: St) {
        acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::InFlight
        );
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::InFlight
        );
    }

    pub(crate) async fn complete_makes_it_done<St: DedupeStore>(store: St) {
        let token = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        complete(&store, "ntxpay:evt_1", token, LONG).await;
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
    }

    pub(crate) async fn release_frees_it_for_a_new_token<St: DedupeStore>(store: St) {
        let first = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        release(&store, "ntxpay:evt_1", first).await;
        let second = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        assert_ne!(first, second);
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::InFlight
        );
    }

    pub(crate) async fn a_stale_token_changes_nothing<St: DedupeStore>(store: St) {
        let stale = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        release(&store, "ntxpay:evt_1", stale).await;
        let holder = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);

        release(&store, "ntxpay:evt_1", stale).await;
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::InFlight,
            "a stale release must not free the holder's key"
        );

        // The holder's token still works.
        complete(&store, "ntxpay:evt_1", holder, LONG).await;
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
        // And no token undoes DONE.
        release(&store, "ntxpay:evt_1", holder).await;
        release(&store, "ntxpay:evt_1", stale).await;
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
    }

    pub(crate) async fn complete_after_the_lease_ended_still_records_done<St: DedupeStore>(
        store: St,
    ) {
        let token = acquired(reserve(&store, "ntxpay:slow", SHORT).await);
        tokio::time::sleep(PAST_SHORT).await;
        // A slow handler answered 2xx and nobody took the key meanwhile.
        complete(&store, "ntxpay:slow", token, LONG).await;
        assert_eq!(
            reserve(&store, "ntxpay:slow", LONG).await,
            Reservation::Done
        );
    }

    pub(crate) async fn a_success_after_the_lease_is_final<St: DedupeStore>(store: St) {
        // The first attempt outlived its lease and a retry took the key;
        // then the first answered 2xx. The delivery is handled: whatever the
        // retry does next, no later copy runs the handler.
        for retry_succeeds in [false, true] {
            let key = format!("ntxpay:slow-{retry_succeeds}");
            let late = acquired(reserve(&store, &key, SHORT).await);
            tokio::time::sleep(PAST_SHORT).await;
            let retry = acquired(reserve(&store, &key, LONG).await);
            assert_ne!(late, retry);

            complete(&store, &key, late, LONG).await;
            assert_eq!(reserve(&store, &key, LONG).await, Reservation::Done);
            if retry_succeeds {
                complete(&store, &key, retry, LONG).await;
            } else {
                release(&store, &key, retry).await;
            }
            assert_eq!(
                reserve(&store, &key, LONG).await,
                Reservation::Done,
                "the retry succeeded: {retry_succeeds}"
            );
        }
    }

    pub(crate) async fn complete_after_every_lease_ended_records_done<St: DedupeStore>(store: St) {
        // A retry took the key after the first lease and died too: nobody
        // holds it now, and the first attempt's 2xx is what counts.
        let late = acquired(reserve(&store, "ntxpay:slow", SHORT).await);
        tokio::time::sleep(PAST_SHORT).await;
        acquired(reserve(&store, "ntxpay:slow", SHORT).await);
        tokio::time::sleep(PAST_SHORT).await;
        complete(&store, "ntxpay:slow", late, LONG).await;
        assert_eq!(
            reserve(&store, "ntxpay:slow", LONG).await,
            Reservation::Done
        );
    }

    pub(crate) async fn the_lease_ending_frees_the_key<St: DedupeStore>(store: St) {
        let dead = acquired(reserve(&store, "ntxpay:dead", SHORT).await);
        acquired(reserve(&store, "ntxpay:alive", LONG).await);
        tokio::time::sleep(PAST_SHORT).await;
        let retry = acquired(reserve(&store, "ntxpay:dead", LONG).await);
        assert_ne!(dead, retry);
        // The long lease, slept through as well, still holds.
        assert_eq!(
            reserve(&store, "ntxpay:alive", LONG).await,
            Reservation::InFlight
        );
    }

    pub(crate) async fn the_retention_ending_frees_the_key<St: DedupeStore>(store: St) {
        let token = acquired(reserve(&store, "ntxpay:old", LONG).await);
        complete(&store, "ntxpay:old", token, SHORT).await;
        let kept = acquired(reserve(&store, "ntxpay:kept", LONG).await);
        complete(&store, "ntxpay:kept", kept, LONG).await;
        tokio::time::sleep(PAST_SHORT).await;
        acquired(reserve(&store, "ntxpay:old", LONG).await);
        assert_eq!(
            reserve(&store, "ntxpay:kept", LONG).await,
            Reservation::Done
        );
    }

    pub(crate) async fn concurrent_reserves_have_one_winner<St>(store: St)
    where
        St: DedupeStore + Clone + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let store = store.clone();
            tasks.spawn(async move { store.reserve("ntxpay:race", LONG).await.expect("reserve") });
        }
        let outcomes = tasks.join_all().await;
        let winners = outcomes
            .iter()
            .filter(|r| matches!(r, Reservation::Acquired(_)))
            .count();
        let in_flight = outcomes
            .iter()
            .filter(|r| **r == Reservation::InFlight)
            .count();
        assert_eq!((winners, in_flight), (1, 49), "{outcomes:?}");
    }

    pub(crate) async fn namespaces_are_independent<St: DedupeStore>(store: St) {
        let ntxpay = acquired(reserve(&store, "ntxpay:evt_1", LONG).await);
        complete(&store, "ntxpay:evt_1", ntxpay, LONG).await;

        let github = acquired(reserve(&store, "github:evt_1", LONG).await);
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
        // Releasing one namespace's key with its token leaves the other alone.
        release(&store, "github:evt_1", github).await;
        release(&store, "ntxpay:evt_1", github).await;
        assert_eq!(
            reserve(&store, "ntxpay:evt_1", LONG).await,
            Reservation::Done
        );
        acquired(reserve(&store, "github:evt_1", LONG).await);
    }
}

/// Runs every case of [`contract`] against the store that `$make` (an
/// `async` block giving `Option<(store, guard)>`) builds afresh per case.
macro_rules! conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            conformance!(@cases $make;
                a_fresh_key_is_acquired,
                a_held_key_is_in_flight,
                complete_makes_it_done,
                release_frees_it_for_a_new_token,
                a_stale_token_changes_nothing,
                complete_after_the_lease_ended_still_records_done,
                a_success_after_the_lease_is_final,
            complete_after_every_lease_ended_records_done,
                the_lease_ending_frees_the_key,
                the_retention_ending_frees_the_key,
                concurrent_reserves_have_one_winner,
                namespaces_are_independent,
            );
        }
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                // `None`: the harness printed why it skipped.
                let Some((store, _guard)) = $make.await else {
                    return;
                };
                contract::$case(store).await;
            }
        )+
    };
}

conformance!(memory, async { Some((MemoryStore::new(), ())) });

conformance!(redis, async {
    let server = RedisServer::start()?;
    let store = server.store().await;
    Some((store, server))
});

// ---------------------------------------------------------------- Redis only

/// The store under test, as the other replicas see it: the same server,
/// the same prefix, another connection.
async fn replica(server: &RedisServer, store: &RedisStore) -> RedisStore {
    RedisStore::connect(&server.url())
        .await
        .expect("connect")
        .with_prefix(store.prefix())
}

#[tokio::test]
async fn redis_keys_are_prefixed_tokens_then_done() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await.with_prefix("app1:");
    let token = acquired(store.reserve("ntxpay:evt_1", LONG).await.unwrap());

    let held = server.command(&["GET", "app1:ntxpay:evt_1"]);
    assert_eq!(held, format!("$32\r\n{:032x}\r\n", token.get()));
    let ttl: u64 = server.command(&["PTTL", "app1:ntxpay:evt_1"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!((50_000..=60_000).contains(&ttl), "lease PTTL {ttl}");

    store
        .complete("ntxpay:evt_1", token, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        server.command(&["GET", "app1:ntxpay:evt_1"]),
        "$4\r\ndone\r\n"
    );
    let ttl: u64 = server.command(&["PTTL", "app1:ntxpay:evt_1"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!(
        (3_500_000..=3_600_000).contains(&ttl),
        "retention PTTL {ttl}"
    );
    // Nothing outside the prefix.
    assert_eq!(server.command(&["DBSIZE"]), ":1\r\n");
}

/// The gate drops the store's future when a request is cancelled (the
/// client left, an outer timeout fired) while the outcome is being
/// recorded: polled once and dropped, `complete` and `release` still reach
/// Redis, so a handled delivery is not run again and a failed one is freed
/// at once rather than when its lease ends. On one thread, so that the
/// task a first poll starts cannot run, and answer, before that poll ends.
#[tokio::test(flavor = "current_thread")]
async fn redis_an_outcome_is_recorded_when_its_caller_stops_waiting() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await;
    let poll_once_and_drop = |future: std::pin::Pin<&mut dyn std::future::Future<Output = _>>| {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let polled: std::task::Poll<Result<(), StoreError>> = future.poll(&mut context);
        assert!(polled.is_pending(), "a round trip cannot be done at once");
    };
    let handled = acquired(store.reserve("ntxpay:evt_handled", LONG).await.unwrap());
    poll_once_and_drop(std::pin::pin!(store.complete(
        "ntxpay:evt_handled",
        handled,
        LONG
    )));
    let failed = acquired(store.reserve("ntxpay:evt_failed", LONG).await.unwrap());
    poll_once_and_drop(std::pin::pin!(store.release("ntxpay:evt_failed", failed)));

    let (handled_key, failed_key) = (
        format!("{}ntxpay:evt_handled", store.prefix()),
        format!("{}ntxpay:evt_failed", store.prefix()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut outcomes = Vec::new();
    while tokio::time::Instant::now() < deadline {
        outcomes = vec![
            server.command(&["GET", &handled_key]),
            server.command(&["EXISTS", &failed_key]),
        ];
        if outcomes == ["$4\r\ndone\r\n", ":0\r\n"] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("handled: DONE, failed: freed; Redis has {outcomes:?}");
}

/// Calls run on the caller's runtime, not the one `connect` ran on: a store
/// connected on a set-up runtime that has since ended reconnects and works.
#[test]
fn redis_a_store_outlives_the_runtime_it_was_connected_on() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = {
        let setup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        setup.block_on(server.store())
    };
    let app = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    app.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        loop {
            match store.reserve("ntxpay:evt_late", LONG).await {
                Ok(reservation) => return acquired(reservation),
                Err(err) => seen.push(err),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never recovered: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// The timeout bounds every call, on the caller's runtime, even when the
/// runtime the store was connected on is not running.
#[test]
fn redis_a_call_is_bounded_while_the_connecting_runtime_is_idle() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let home = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = home.block_on(server.store());
    let other = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let outcome = other.block_on(async {
        tokio::time::timeout(store.timeout() * 6, store.reserve("ntxpay:evt_1", LONG)).await
    });
    assert!(
        outcome.is_ok(),
        "reserve still pending after six timeouts of {:?}",
        store.timeout()
    );
}

/// A `reserve` does nothing until it is polled: a request dropped before
/// that holds no key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_reserve_never_polled_reserves_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await;
    drop(store.reserve("ntxpay:evt_never_polled", LONG));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let key = format!("{}ntxpay:evt_never_polled", store.prefix());
    assert_eq!(server.command(&["EXISTS", &key]), ":0\r\n");
}

#[tokio::test]
async fn redis_prefixes_keep_apps_apart_and_replicas_together() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let shop = server.store().await.with_prefix("shop:");
    let blog = server.store().await.with_prefix("blog:");
    let token = acquired(shop.reserve("ntxpay:evt_1", LONG).await.unwrap());
    shop.complete("ntxpay:evt_1", token, LONG).await.unwrap();

    acquired(blog.reserve("ntxpay:evt_1", LONG).await.unwrap());
    let other_replica = replica(&server, &shop).await;
    assert_eq!(
        other_replica.reserve("ntxpay:evt_1", LONG).await.unwrap(),
        Reservation::Done
    );
}

#[tokio::test]
async fn redis_a_value_it_never_wrote_is_an_error_not_a_guess() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await.with_prefix("p:");
    server.command(&["SET", "p:ntxpay:evt_1", "something else"]);
    assert_eq!(
        store.reserve("ntxpay:evt_1", LONG).await,
        Err(StoreError::UnexpectedReply)
    );
    server.command(&["HSET", "p:ntxpay:evt_2", "field", "value"]);
    let err = store.reserve("ntxpay:evt_2", LONG).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Server {
            code: "WRONGTYPE".into()
        }
    );
    assert!(!err.to_string().contains("p:ntxpay"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_an_error_and_a_restart_needs_no_new_store() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await;
    let token = acquired(store.reserve("ntxpay:before", LONG).await.unwrap());

    server.stop();
    for _ in 0..3 {
        let err = store.reserve("ntxpay:evt_1", LONG).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Connection | StoreError::Timeout),
            "{err:?}"
        );
        assert!(!err.to_string().contains(&server.port().to_string()));
    }
    assert!(store.complete("ntxpay:before", token, LONG).await.is_err());

    // The restarted server is empty and has no scripts loaded: the store
    // reconnects by itself and loads them again.
    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let token = loop {
        match store.reserve("ntxpay:evt_1", LONG).await {
            Ok(reservation) => break acquired(reservation),
            Err(err) => {
                assert!(tokio::time::Instant::now() < deadline, "still {err:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    store.complete("ntxpay:evt_1", token, LONG).await.unwrap();
    assert_eq!(
        store.reserve("ntxpay:evt_1", LONG).await.unwrap(),
        Reservation::Done
    );
    let other = acquired(store.reserve("ntxpay:evt_2", LONG).await.unwrap());
    store.release("ntxpay:evt_2", other).await.unwrap();
    acquired(store.reserve("ntxpay:evt_2", LONG).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_hung_is_a_timeout_and_then_it_answers_again() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(200);
    let store = server.store().await.with_timeout(timeout);
    let token = acquired(store.reserve("ntxpay:evt_1", LONG).await.unwrap());

    server.pause();
    let started = tokio::time::Instant::now();
    assert_eq!(
        store.reserve("ntxpay:evt_2", LONG).await,
        Err(StoreError::Timeout)
    );
    assert_eq!(
        store.complete("ntxpay:evt_1", token, LONG).await,
        Err(StoreError::Timeout)
    );
    assert_eq!(
        store.release("ntxpay:evt_1", token).await,
        Err(StoreError::Timeout)
    );
    let took = started.elapsed();
    assert!(took >= timeout * 3, "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    server.resume();
    // The same store answers again, without reconnecting.
    let fresh = acquired(store.reserve("ntxpay:evt_3", LONG).await.unwrap());
    store.complete("ntxpay:evt_3", fresh, LONG).await.unwrap();
    assert_eq!(
        store.reserve("ntxpay:evt_3", LONG).await.unwrap(),
        Reservation::Done
    );
}

/// A handled delivery's `complete` that Redis missed once is tried again
/// rather than left for the lease to undo (then the next copy would run
/// the handler again): here the connection is reset just before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_complete_is_tried_again_after_a_connection_reset() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await;
    let token = acquired(store.reserve("ntxpay:reset", LONG).await.unwrap());
    let killed = server.command(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    assert!(killed.starts_with(':'), "{killed}");
    assert_eq!(store.complete("ntxpay:reset", token, LONG).await, Ok(()));
    let key = format!("{}ntxpay:reset", store.prefix());
    assert_eq!(server.command(&["GET", &key]), "$4\r\ndone\r\n");
}

/// A `complete` sent while Redis hangs, on a server that has not loaded its
/// script yet (just started, restarted, or failed over): the caller gets a
/// timeout, and the outcome still lands once Redis answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_complete_lands_after_a_stall_before_its_script_is_loaded() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = server
        .store()
        .await
        .with_timeout(Duration::from_millis(200));
    let token = acquired(store.reserve("ntxpay:stalled", LONG).await.unwrap());
    server.pause();
    let answer = store.complete("ntxpay:stalled", token, LONG).await;
    server.resume();
    assert_eq!(answer, Err(StoreError::Timeout));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match store.reserve("ntxpay:stalled", LONG).await {
            Ok(Reservation::Done) => break,
            other => {
                assert!(tokio::time::Instant::now() < deadline, "still {other:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A connection that goes silent without closing (a failover that moved
/// the address, a dropped route) is replaced: TCP alone would keep it for
/// many minutes, every call timing out. A `complete` sent on it still lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_silent_connection_is_replaced() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(&server, Duration::ZERO).await;
    let store = proxy.store("silent:", Duration::from_millis(200)).await;
    let token = acquired(store.reserve("ntxpay:handled", LONG).await.unwrap());

    proxy.silence();
    assert_eq!(
        store.complete("ntxpay:handled", token, LONG).await,
        Err(StoreError::Timeout)
    );
    // Replaced once it has been silent for 10 s.
    let timed_out = |err: &StoreError| *err == StoreError::Timeout;
    reserve_until_acquired(&store, "ntxpay:later", Duration::from_secs(30), timed_out).await;
    until_done(&server, "silent:ntxpay:handled", Duration::from_secs(30)).await;
}

/// A Redis that answers every call, only later than the store waits, keeps
/// its connection, and gets each outcome once: the late answer is waited
/// for rather than the outcome sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_slow_redis_keeps_its_connection_and_gets_each_outcome_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // The scripts loaded first, so that each outcome is one EVALSHA.
    let direct = server.store().await;
    let token = acquired(direct.reserve("warm", LONG).await.unwrap());
    direct.complete("warm", token, LONG).await.unwrap();
    direct.release("warm", token).await.unwrap();

    let proxy = Proxy::start(&server, Duration::from_millis(300)).await;
    let store = proxy.store("slow:", Duration::from_millis(200)).await;
    let evalsha = || {
        let stats = server.command(&["INFO", "commandstats"]);
        let line = stats.lines().find(|l| l.starts_with("cmdstat_evalsha:"));
        let calls = line.and_then(|l| l.split("calls=").nth(1)?.split(',').next());
        calls.map_or(0, |n| n.parse::<u64>().expect("a count"))
    };
    let before = evalsha();
    let token = Token::new(7);
    assert_eq!(
        store.complete("ntxpay:handled", token, LONG).await,
        Err(StoreError::Timeout),
        "answered in 300 ms, past the 200 ms the caller waits"
    );
    // Longer than the silence limit (10 s), with calls timing out all along.
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(12) {
        assert_eq!(
            store.reserve("ntxpay:busy", LONG).await.err(),
            Some(StoreError::Timeout)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        server.command(&["GET", "slow:ntxpay:handled"]),
        "$4\r\ndone\r\n"
    );
    assert_eq!(evalsha() - before, 1, "the outcome was sent again");
    assert_eq!(proxy.connections(), 1, "the connection was replaced");
}

/// An outcome whose exchange takes several round trips, each answered in
/// time but together longer than the silence limit (its script flushed:
/// EVALSHA, NOSCRIPT, then the script again, 6 s each), is waited for: the
/// connection is kept, not replaced, and the outcome lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_outcome_slower_than_the_silence_limit_keeps_its_connection() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(&server, Duration::ZERO).await;
    let store = proxy.store("slow:", Duration::from_millis(500)).await;
    let token = acquired(store.reserve("ntxpay:handled", LONG).await.unwrap());
    server.command(&["SCRIPT", "FLUSH"]);
    proxy.set_delay(Duration::from_secs(6));
    assert_eq!(
        store.complete("ntxpay:handled", token, LONG).await,
        Err(StoreError::Timeout)
    );
    until_done(&server, "slow:ntxpay:handled", Duration::from_secs(40)).await;
    assert_eq!(proxy.connections(), 1, "the connection was replaced");
}

/// A `complete` started while Redis refuses the reconnection's credentials
/// is tried again, and lands once they are let in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_complete_during_refused_credentials_lands_later() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let acl = [">pw-hooks-71d0", "~*", "+@all"];
    server.command(&[&["ACL", "SETUSER", "hooks", "on"][..], &acl].concat());
    let url = format!("redis://hooks:pw-hooks-71d0@127.0.0.1:{}", server.port());
    let store = RedisStore::connect(&url).await.expect("connect");
    let store = store
        .with_prefix("auth:")
        .with_timeout(Duration::from_secs(10));
    let token = acquired(store.reserve("ntxpay:handled", LONG).await.unwrap());

    server.command(&["ACL", "SETUSER", "hooks", "off"]);
    server.command(&["CLIENT", "KILL", "USER", "hooks"]);
    let complete = tokio::spawn({
        let store = store.clone();
        async move { store.complete("ntxpay:handled", token, LONG).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.command(&["ACL", "SETUSER", "hooks", "on"]);
    let _ = complete.await.unwrap();
    until_done(&server, "auth:ntxpay:handled", Duration::from_secs(30)).await;
}

/// A probe of a connection whose task ends with its runtime (a store
/// shared by several runtimes, as actix-web's workers have) does not stop
/// later probes: a connection that then goes silent is still replaced.
#[test]
fn redis_a_probe_dropped_with_its_runtime_lets_the_next_one_start() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    };
    let lasting = runtime();
    let proxy = lasting.block_on(Proxy::start(&server, Duration::ZERO));
    let store = lasting.block_on(proxy.store("probe:", Duration::from_millis(200)));

    // A call times out on a short-lived runtime, which starts a probe there.
    proxy.set_delay(Duration::from_secs(1));
    let short = runtime();
    let timed_out = short.block_on(store.reserve("ntxpay:evt_1", LONG));
    assert_eq!(timed_out.err(), Some(StoreError::Timeout));
    drop(short);
    proxy.set_delay(Duration::ZERO);

    lasting.block_on(async {
        tokio::time::sleep(Duration::from_secs(2)).await; // the late answers come
        proxy.silence();
        let timed_out = |err: &StoreError| *err == StoreError::Timeout;
        reserve_until_acquired(&store, "ntxpay:evt_2", Duration::from_secs(30), timed_out).await
    });
    assert_eq!(proxy.connections(), 2);
}

/// A reconnection that Redis refuses (the credentials refused for a while:
/// an ACL change, a rotation in the wrong order) is tried again on later
/// calls: the store works again once Redis accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_refused_reconnection_is_tried_again() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let password = "pw-not-shown-8f3a";
    server.command(&[
        "ACL",
        "SETUSER",
        "hooks",
        "on",
        &format!(">{password}"),
        "~*",
        "+@all",
    ]);
    let url = format!("redis://hooks:{password}@127.0.0.1:{}", server.port());
    let store = RedisStore::connect(&url).await.expect("connect");
    acquired(store.reserve("ntxpay:evt_1", LONG).await.unwrap());

    server.command(&["ACL", "SETUSER", "hooks", "off"]);
    server.command(&["CLIENT", "KILL", "USER", "hooks"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let err = store.reserve("ntxpay:evt_2", LONG).await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains(password), "{err:?}");
        if err == StoreError::Auth {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {err:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.command(&["ACL", "SETUSER", "hooks", "on"]);
    reserve_until_acquired(&store, "ntxpay:evt_2", Duration::from_secs(20), |_| true).await;
}

/// A URL without the password the server requires is refused at connect,
/// not at the first delivery. An ACL user allowed no `PING` still connects.
#[tokio::test]
async fn redis_a_missing_password_is_refused_at_connect() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let password = "pw-hooks-4c1e";
    let acl = [&format!(">{password}"), "~*", "+@all", "-ping"];
    server.command(&[&["ACL", "SETUSER", "hooks", "on"][..], &acl].concat());
    let url = format!("redis://hooks:{password}@127.0.0.1:{}", server.port());
    let store = RedisStore::connect(&url)
        .await
        .expect("an ACL user allowed no PING connects");
    acquired(store.reserve("ntxpay:evt_1", LONG).await.unwrap());

    server.command(&["CONFIG", "SET", "requirepass", "pw-default-9d2b"]);
    assert_eq!(
        RedisStore::connect(&server.url()).await.err(),
        Some(ConnectError::Unavailable(StoreError::Auth))
    );
    let url = format!("redis://:pw-default-9d2b@127.0.0.1:{}", server.port());
    let store = RedisStore::connect(&url).await.expect("the password given");
    acquired(store.reserve("ntxpay:evt_2", LONG).await.unwrap());
}

/// Only refused credentials fail `connect`: a Redis busy in a script
/// answers the `PING` with `BUSY`, and will serve the store once it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_busy_at_connect_still_connects() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    server.command(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let port = server.port();
    let script = std::thread::spawn(move || {
        // Answers once the script is killed below.
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let spin = "while true do end";
        let command = format!(
            "*3\r\n$4\r\nEVAL\r\n${}\r\n{spin}\r\n$1\r\n0\r\n",
            spin.len()
        );
        std::io::Write::write_all(&mut stream, command.as_bytes()).unwrap();
        let mut answer = [0; 256];
        std::io::Read::read(&mut stream, &mut answer).unwrap()
    });
    // Until the script runs, PING answers PONG; then BUSY.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server.command(&["PING"]).starts_with("-BUSY") {
        assert!(std::time::Instant::now() < deadline, "the script never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    let connected = RedisStore::connect(&server.url()).await;
    server.command(&["SCRIPT", "KILL"]);
    script.join().unwrap();
    let store = connected.expect("a busy Redis still connects");
    acquired(store.reserve("ntxpay:evt_1", LONG).await.unwrap());
}

#[tokio::test]
async fn redis_store_debug_shows_no_url() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store().await;
    let shown = format!("{store:?}");
    assert!(shown.contains("RedisStore"), "{shown}");
    assert!(!shown.contains(&server.port().to_string()), "{shown}");
    assert!(!shown.contains("127.0.0.1"), "{shown}");
}
