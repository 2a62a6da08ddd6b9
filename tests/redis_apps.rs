//! Two replicas of an axum app (hookwarden's `WebhookLayer` on a
//! `RedisStore` each) on two ports, sharing one real `redis-server`, driven
//! over HTTP on 127.0.0.1 the way a provider would: each unique delivery is
//! handled exactly once whichever replica its copies reach; a Redis that is
//! down or hung turns into 503 without a handler call, and service comes
//! back by itself once Redis does.

mod redis_harness;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use hookwarden::redis::RedisStore;
use hookwarden::{Gate, WebhookLayer, DEFAULT_LEASE, DUPLICATE_BODY};
use hookwarden_testkit::{raw_send, verifier, RawResponse, Req};
use redis_harness::RedisServer;
use tokio::sync::Semaphore;
use tokio::time::Instant;

const HOOK: &str = "/webhooks/ntxpay";
/// What the handler answers.
const HANDLED: &str = "handled";

// ---------------------------------------------------------------- the apps

/// Which replica ran the handler, per delivery (NTX Pay dedupes on the
/// body, so the body is the delivery).
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<HashMap<Bytes, Vec<usize>>>>);

impl Ledger {
    fn record(&self, body: Bytes, replica: usize) {
        self.0
            .lock()
            .unwrap()
            .entry(body)
            .or_default()
            .push(replica);
    }

    fn runs(&self, body: &[u8]) -> Vec<usize> {
        self.0
            .lock()
            .unwrap()
            .get(body)
            .cloned()
            .unwrap_or_default()
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(Vec::len).sum()
    }
}

#[derive(Clone)]
struct Replica {
    index: usize,
    ledger: Ledger,
}

async fn on_delivery(State(replica): State<Replica>, body: Bytes) -> &'static str {
    replica.ledger.record(body, replica.index);
    // Long enough for a copy of the delivery to arrive meanwhile.
    tokio::time::sleep(Duration::from_millis(5)).await;
    HANDLED
}

fn app(gate: Gate<RedisStore>, replica: Replica) -> Router {
    Router::new()
        .route(HOOK, post(on_delivery))
        .route_layer(WebhookLayer::new(gate))
        .with_state(replica)
}

/// Two replicas, each with its own connection to the shared Redis.
struct Replicas {
    addrs: [SocketAddr; 2],
    ledger: Ledger,
}

async fn replicas(server: &RedisServer, timeout: Duration, lease: Duration) -> Replicas {
    let ledger = Ledger::default();
    let mut addrs = Vec::new();
    for index in 0..2 {
        let store = RedisStore::connect(&server.url())
            .await
            .expect("connect")
            .with_timeout(timeout);
        let gate = Gate::new(verifier()).with_store(store).with_lease(lease);
        let replica = Replica {
            index,
            ledger: ledger.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addrs.push(listener.local_addr().expect("local addr"));
        let app = app(gate, replica);
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    }
    Replicas {
        addrs: [addrs[0], addrs[1]],
        ledger,
    }
}

// ---------------------------------------------------------------- a provider

fn body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"event":"cash_in","delivery":"dlv_{n:04}","amount":{}}}"#,
        100 + n
    )
    .into_bytes()
}

fn delivery(n: usize) -> Req {
    Req::signed(HOOK, &body(n), &format!("dlv_{n:04}"))
}

async fn send(addr: SocketAddr, req: &Req) -> RawResponse {
    raw_send(addr, req).await.expect("the replica answered")
}

/// Sends `req` like a provider: first to replica `first`, and on a
/// retryable answer (409 always, 503 when `while_recovering`) again shortly,
/// alternating replicas, until a 2xx. Returns the replica that gave it.
async fn deliver(
    addrs: [SocketAddr; 2],
    first: usize,
    req: &Req,
    while_recovering: bool,
) -> (usize, RawResponse) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        let which = (first + attempt) % 2;
        let response = send(addrs[which], req).await;
        match response.status {
            200..=299 => return (which, response),
            409 => response.assert_rejected(409, "in_flight"),
            503 if while_recovering => response.assert_rejected(503, "store_unavailable"),
            _ => panic!("unexpected answer: {response:?}"),
        }
        assert!(Instant::now() < deadline, "never a 2xx: {response:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

/// A small deterministic generator, for the mix and the order of the sends.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

// ---------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_handle_each_delivery_exactly_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cluster = replicas(&server, Duration::from_millis(500), DEFAULT_LEASE).await;

    // 500 sends: 350 unique deliveries, and 150 copies (30 %) of random
    // ones, in a shuffled order, each first sent to a random replica.
    const UNIQUE: usize = 350;
    const SENDS: usize = 500;
    let mut rng = Lcg(0x5eed);
    let mut sends: Vec<usize> = (0..UNIQUE).collect();
    sends.extend((UNIQUE..SENDS).map(|_| rng.below(UNIQUE)));
    for i in (1..sends.len()).rev() {
        sends.swap(i, rng.below(i + 1));
    }

    let limit = Arc::new(Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for n in sends {
        let first = rng.below(2);
        let addrs = cluster.addrs;
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore");
            let (which, response) = deliver(addrs, first, &delivery(n), false).await;
            (n, which, response)
        });
    }
    let answers = tasks.join_all().await;
    assert_eq!(answers.len(), SENDS);

    // Every unique delivery ran its handler exactly once, on either replica.
    for n in 0..UNIQUE {
        assert_eq!(cluster.ledger.runs(&body(n)).len(), 1, "delivery {n}");
    }
    assert_eq!(cluster.ledger.total(), UNIQUE);
    let on_each: Vec<usize> = (0..2)
        .map(|r| {
            (0..UNIQUE)
                .filter(|&n| cluster.ledger.runs(&body(n)) == [r])
                .count()
        })
        .collect();
    assert!(on_each.iter().all(|&count| count > 0), "{on_each:?}");

    // One handler answer per delivery; every other send was a duplicate.
    let mut handled = 0;
    let mut duplicates = 0;
    let mut across = 0;
    for (n, which, response) in &answers {
        assert_eq!(response.status, 200, "{response:?}");
        match response.text().as_str() {
            HANDLED => handled += 1,
            DUPLICATE_BODY => {
                duplicates += 1;
                across += usize::from(cluster.ledger.runs(&body(*n)) != [*which]);
            }
            other => panic!("unexpected body {other:?}"),
        }
    }
    assert_eq!((handled, duplicates), (UNIQUE, SENDS - UNIQUE));
    // Redis, not a replica's memory, found those: the copy reached the
    // replica that had not handled the delivery.
    assert!(across > 0, "no duplicate was answered across replicas");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_without_the_handler_and_a_restart_brings_it_back() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let cluster = replicas(&server, Duration::from_millis(300), DEFAULT_LEASE).await;

    for n in 0..20 {
        let (_, response) = deliver(cluster.addrs, n % 2, &delivery(n), false).await;
        assert_eq!(response.text(), HANDLED);
    }
    assert_eq!(cluster.ledger.total(), 20);

    server.stop();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 20..40 {
        let addr = cluster.addrs[n % 2];
        tasks.spawn(async move { send(addr, &delivery(n)).await });
    }
    for response in tasks.join_all().await {
        response.assert_rejected(503, "store_unavailable");
    }
    assert_eq!(
        cluster.ledger.total(),
        20,
        "a handler ran without the store"
    );

    // Same port, same apps: the stores reconnect by themselves.
    server.restart();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 20..40 {
        let addrs = cluster.addrs;
        tasks.spawn(async move { deliver(addrs, n % 2, &delivery(n), true).await });
    }
    for (_, response) in tasks.join_all().await {
        assert_eq!(response.text(), HANDLED, "{response:?}");
    }
    for n in 20..40 {
        assert_eq!(cluster.ledger.runs(&body(n)).len(), 1, "delivery {n}");
    }
    // And dedupe works again, across replicas.
    for n in 20..40 {
        send(cluster.addrs[(n + 1) % 2], &delivery(n))
            .await
            .assert_duplicate();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_hung_is_503_within_the_timeout() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(300);
    // A short lease: reservations sent while Redis was frozen still reach
    // it when it thaws, and hold their keys until the lease ends.
    let lease = Duration::from_secs(1);
    let cluster = replicas(&server, timeout, lease).await;
    let (_, warm) = deliver(cluster.addrs, 0, &delivery(0), false).await;
    assert_eq!(warm.text(), HANDLED);

    server.pause();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..11 {
        let addr = cluster.addrs[n % 2];
        tasks.spawn(async move {
            let started = Instant::now();
            let response = send(addr, &delivery(n)).await;
            (started.elapsed(), response)
        });
    }
    for (took, response) in tasks.join_all().await {
        response.assert_rejected(503, "store_unavailable");
        assert!(took >= timeout, "answered before the timeout: {took:?}");
        // Generous for a loaded 2-core machine; a hung request would be
        // answered only by the client's own 10 s patience.
        assert!(took < Duration::from_secs(5), "503 took {took:?}");
    }
    // A duplicate of a handled delivery cannot be told apart either: 503.
    send(cluster.addrs[1], &delivery(0))
        .await
        .assert_rejected(503, "store_unavailable");
    assert_eq!(cluster.ledger.total(), 1, "a handler ran without the store");

    server.resume();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..11 {
        let addrs = cluster.addrs;
        tasks.spawn(async move { deliver(addrs, n % 2, &delivery(n), false).await });
    }
    for (_, response) in tasks.join_all().await {
        assert_eq!(response.text(), HANDLED, "{response:?}");
    }
    for n in 0..11 {
        assert_eq!(cluster.ledger.runs(&body(n)).len(), 1, "delivery {n}");
    }
}
