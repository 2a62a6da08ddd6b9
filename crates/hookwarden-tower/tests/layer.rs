//! `WebhookLayer` on an axum `Router`, each test run both through
//! `tower::ServiceExt::oneshot` and over real HTTP/1.1 on 127.0.0.1.
#![cfg(feature = "axum")]

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, SystemTime};

use axum::routing::{any, post, put};
use axum::Router;
use bytes::Bytes;
use hookwarden_core::{Gate, MemoryStore, DEFAULT_READ_TIMEOUT};
use hookwarden_tower::WebhookLayer;
use support::*;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;

const BODY: &[u8] = br#"{"event":"cash_in","amount":1000}"#;

/// One row of DESIGN.md's "What a request gets" table.
struct Case {
    name: &'static str,
    req: Req,
    status: u16,
    /// The rejection code, or `None` for the handler's answer.
    code: Option<&'static str>,
    /// The delivery ID the handler answers with, when it runs.
    id: &'static str,
    /// Calls to the fixture's shared store: (reserve, complete, release).
    store: Counts,
}

fn table() -> Vec<Case> {
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let sig = |req: &Req, name| req.value(name).expect("signed").to_vec();
    let mut cases = Vec::new();
    let mut row = |name, req, status, code, id, store| {
        cases.push(Case {
            name,
            req,
            status,
            code,
            id,
            store,
        });
    };

    // valid, first time: the handler's answer
    row(
        "valid ntxpay",
        Req::signed("/ntxpay", BODY, "evt-valid"),
        200,
        None,
        "evt-valid",
        (1, 1, 0),
    );
    row(
        "valid standard webhooks",
        Req::sw("/sw", BODY, "msg-valid", now),
        200,
        None,
        "msg-valid",
        (1, 1, 0),
    );
    row(
        "valid, body exactly at the limit",
        Req::signed("/ntxpay", &[b'a'; LIMIT], "evt-at-limit"),
        200,
        None,
        "evt-at-limit",
        (1, 1, 0),
    );
    row(
        "valid, store down, fail-open",
        Req::signed("/fail-open", BODY, "evt-fail-open"),
        200,
        None,
        "evt-fail-open",
        (0, 0, 0),
    );

    // signature missing / mismatch / stale or future timestamp: 401
    row(
        "signature missing",
        Req::signed("/ntxpay", BODY, "evt-1").without("x-ntxpay-signature"),
        401,
        Some("missing_signature"),
        "",
        (0, 0, 0),
    );
    row(
        "signature mismatch: body changed",
        Req::signed("/ntxpay", BODY, "evt-1").body(br#"{"event":"cash_in","amount":9000}"#),
        401,
        Some("signature_mismatch"),
        "",
        (0, 0, 0),
    );
    row(
        "signature mismatch: another secret",
        Req::post("/ntxpay")
            .headers(&ntxpay_headers("whsec_an_attackers_secret", BODY, "evt-1"))
            .body(BODY),
        401,
        Some("signature_mismatch"),
        "",
        (0, 0, 0),
    );
    row(
        "stale timestamp",
        Req::sw("/sw", BODY, "msg-1", now - hour),
        401,
        Some("stale_timestamp"),
        "",
        (0, 0, 0),
    );
    row(
        "future timestamp",
        Req::sw("/sw", BODY, "msg-1", now + hour),
        401,
        Some("future_timestamp"),
        "",
        (0, 0, 0),
    );
    let sw = Req::sw("/sw", BODY, "msg-1", now);
    let mut v2 = sig(&sw, "webhook-signature");
    assert_eq!(&v2[..3], b"v1,");
    v2[1] = b'2';
    row(
        "only an unsupported signature version",
        sw.clone().replace("webhook-signature", v2),
        401,
        Some("unsupported_signature_version"),
        "",
        (0, 0, 0),
    );

    // malformed header, duplicate lines, non-ASCII, bad timestamp syntax: 400
    row(
        "malformed signature",
        Req::signed("/ntxpay", BODY, "evt-1").replace("x-ntxpay-signature", "not-hex!"),
        400,
        Some("malformed_signature"),
        "",
        (0, 0, 0),
    );
    let signed = Req::signed("/ntxpay", BODY, "evt-1");
    let good = sig(&signed, "x-ntxpay-signature");
    row(
        "signature header on two lines",
        signed.clone().header("x-ntxpay-signature", &good),
        400,
        Some("duplicate_header"),
        "",
        (0, 0, 0),
    );
    row(
        "delivery ID header on two lines",
        signed.clone().header("x-ntxpay-delivery", "evt-2"),
        400,
        Some("duplicate_header"),
        "",
        (0, 0, 0),
    );
    let mut non_ascii = good.clone();
    non_ascii[0] = 0xE9;
    row(
        "byte 0xE9 in the signature header",
        signed.clone().replace("x-ntxpay-signature", non_ascii),
        400,
        Some("invalid_header"),
        "",
        (0, 0, 0),
    );
    row(
        "byte 0xE9 in the delivery ID header",
        signed.clone().replace("x-ntxpay-delivery", b"evt-caf\xe9"),
        400,
        Some("invalid_header"),
        "",
        (0, 0, 0),
    );
    row(
        "timestamp not in unix seconds",
        sw.clone()
            .replace("webhook-timestamp", "2024-05-01T12:00:00Z"),
        400,
        Some("malformed_timestamp"),
        "",
        (0, 0, 0),
    );
    row(
        "timestamp header missing",
        sw.clone().without("webhook-timestamp"),
        400,
        Some("missing_header"),
        "",
        (0, 0, 0),
    );
    row(
        "signed ID header missing",
        sw.clone().without("webhook-id"),
        400,
        Some("missing_header"),
        "",
        (0, 0, 0),
    );

    // body over the limit: 413
    row(
        "over the limit by Content-Length",
        Req::signed("/ntxpay", &[b'a'; LIMIT + 1], "evt-big"),
        413,
        Some("body_too_large"),
        "",
        (0, 0, 0),
    );
    row(
        "over the limit, chunked, no Content-Length",
        Req::signed("/ntxpay", &[b'a'; 4 * LIMIT], "evt-big").chunked(100),
        413,
        Some("body_too_large"),
        "",
        (0, 0, 0),
    );

    // dedupe store down: 503
    row(
        "store down",
        Req::signed("/down", BODY, "evt-down"),
        503,
        Some("store_unavailable"),
        "",
        (0, 0, 0),
    );
    cases
}

fn sub(after: Counts, before: Counts) -> Counts {
    (after.0 - before.0, after.1 - before.1, after.2 - before.2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_table() {
    for kind in KINDS {
        let fx = fixture(Probe::new());
        let client = kind.client(fx.app.clone()).await;
        for case in table() {
            let what = format!("{kind:?} / {}", case.name);
            let (calls, store) = (fx.probe.calls(), fx.store.counts());
            let response = client.send(&case.req).await;

            assert_eq!(response.status, case.status, "{what}: {response:?}");
            assert_eq!(
                sub(fx.store.counts(), store),
                case.store,
                "{what}: store calls"
            );
            match case.code {
                Some(code) => {
                    response.assert_rejected(case.status, code);
                    assert_eq!(fx.probe.calls(), calls, "{what}: the handler ran");
                    // Never a secret, a signature or a store error in the answer.
                    let text = response.text();
                    for (name, value) in &case.req.headers {
                        if name.contains("signature") {
                            let value = String::from_utf8_lossy(value);
                            assert!(!text.contains(&*value), "{what}: {text}");
                        }
                    }
                    for secret in [SECRET, SW_SECRET, STORE_ERROR_TEXT] {
                        assert!(!text.contains(secret), "{what}: {text}");
                    }
                }
                None => {
                    response.assert_handled(case.status, case.id);
                    assert_eq!(fx.probe.calls(), calls + 1, "{what}: the handler ran once");
                    let seen = fx.probe.last();
                    assert_eq!(seen.body, case.req.body, "{what}: exact body");
                    let verified = seen.delivery.expect("Delivery");
                    assert_eq!(Some(&verified), seen.extension.as_ref(), "{what}");
                    assert_eq!(
                        verified.delivery_id().map(|id| id.as_str()),
                        Some(case.id),
                        "{what}"
                    );
                    let scheme = if case.req.path == "/sw" {
                        "standard-webhooks"
                    } else {
                        "ntxpay"
                    };
                    assert_eq!(verified.scheme(), scheme, "{what}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_delivery_is_answered_as_a_duplicate() {
    for kind in KINDS {
        let fx = fixture(Probe::new());
        let client = kind.client(fx.app.clone()).await;
        let req = Req::signed("/ntxpay", BODY, "evt-twice");

        client.send(&req).await.assert_handled(200, "evt-twice");
        client.send(&req).await.assert_duplicate();

        assert_eq!(fx.probe.calls(), 1, "{kind:?}");
        assert_eq!(fx.store.counts(), (2, 1, 0), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_gets_409() {
    for kind in KINDS {
        let fx = fixture(Probe::scripted([Reply::Hold]));
        let client = kind.client(fx.app.clone()).await;
        let req = Req::signed("/ntxpay", BODY, "evt-held");

        let first = tokio::spawn(client.send(&req));
        fx.probe.entered.notified().await;
        let second = client.send(&req).await;
        second.assert_rejected(409, "in_flight");
        assert_eq!(fx.probe.calls(), 1, "{kind:?}");

        fx.probe.release.notify_one();
        first.await.unwrap().assert_handled(200, "evt-held");
        client.send(&req).await.assert_duplicate();
        assert_eq!(fx.probe.calls(), 1, "{kind:?}");
        assert_eq!(fx.store.counts(), (3, 1, 0), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_answer_frees_the_delivery_for_the_retry() {
    for failure in [500, 503, 400, 404] {
        for kind in KINDS {
            let fx = fixture(Probe::scripted([Reply::Status(failure)]));
            let client = kind.client(fx.app.clone()).await;
            let req = Req::signed("/ntxpay", BODY, "evt-retry");

            client.send(&req).await.assert_handled(failure, "evt-retry");
            assert_eq!(fx.store.counts(), (1, 0, 1), "{kind:?} {failure}");
            client.send(&req).await.assert_handled(200, "evt-retry");
            assert_eq!(fx.store.counts(), (2, 1, 1), "{kind:?} {failure}");
            client.send(&req).await.assert_duplicate();
            assert_eq!(fx.probe.calls(), 2, "{kind:?} {failure}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_frees_the_delivery_at_once() {
    for lease in [None, Some(Duration::from_millis(300))] {
        for kind in KINDS {
            let probe = Probe::scripted([Reply::Panic]);
            let store = CountingStore::new();
            let mut gate = Gate::new(verifier()).with_store(store.clone());
            if let Some(lease) = lease {
                gate = gate.with_lease(lease);
            }
            let client = kind.client(app(&probe, WebhookLayer::new(gate))).await;
            let req = Req::signed(HOOK, BODY, "evt-panic");

            // oneshot: the panic reaches the caller; HTTP: the connection
            // closes without an answer.
            let first = client.try_send(&req).await;
            assert!(first.is_err(), "{kind:?}: {first:?}");
            assert_eq!(store.counts(), (1, 0, 1), "{kind:?} {lease:?}");

            // Right away, well within any lease.
            client.send(&req).await.assert_handled(200, "evt-panic");
            client.send(&req).await.assert_duplicate();
            assert_eq!(probe.calls(), 2, "{kind:?} {lease:?}");
        }
    }
}

/// `Held`'s doc: a dropped request releases its reservation on drop when the
/// store can do so at once (the memory store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_handler_frees_the_memory_store_at_once() {
    for kind in KINDS {
        let probe = Probe::scripted([Reply::Hold]);
        let store = MemoryStore::new();
        let layer = WebhookLayer::new(
            Gate::new(verifier())
                .with_store(store.clone())
                .with_lease(Duration::from_secs(60)),
        );
        let client = kind.client(app(&probe, layer)).await;
        let req = Req::signed(HOOK, BODY, "evt-cancel");

        client.abandon(&req, &probe).await;
        // Over HTTP the server drops the request on its own task: wait for
        // that drop to finish (well within the 60 s lease).
        wait_until("the reservation is released", || store.is_empty()).await;
        client.send(&req).await.assert_handled(200, "evt-cancel");
        client.send(&req).await.assert_duplicate();
        assert_eq!(probe.calls(), 2, "{kind:?}");
    }
}

/// `Held`'s doc: ... or else it frees itself when its lease ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_handler_frees_a_slow_store_after_the_lease() {
    let lease = Duration::from_millis(300);
    for kind in KINDS {
        let probe = Probe::scripted([Reply::Hold]);
        let store = CountingStore::lazy_release();
        let layer = WebhookLayer::new(
            Gate::new(verifier())
                .with_store(store.clone())
                .with_lease(lease),
        );
        let client = kind.client(app(&probe, layer)).await;
        let req = Req::signed(HOOK, BODY, "evt-cancel");

        client.abandon(&req, &probe).await;
        // The release was tried on drop but could not finish at once.
        wait_until("release was tried", || store.counts() == (1, 0, 1)).await;
        client.send(&req).await.assert_rejected(409, "in_flight");
        assert_eq!(probe.calls(), 1, "{kind:?}");

        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        client.send(&req).await.assert_handled(200, "evt-cancel");
        assert_eq!(probe.calls(), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_copies_run_the_handler_once() {
    for kind in KINDS {
        let probe = Probe::always(Reply::Sleep(Duration::from_millis(50)));
        let client = kind
            .client(app(&probe, WebhookLayer::new(verifier())))
            .await;
        let req = Req::signed(HOOK, BODY, "evt-storm");

        let copies: Vec<_> = (0..50).map(|_| tokio::spawn(client.send(&req))).collect();
        let (mut handled, mut duplicates, mut in_flight) = (0, 0, 0);
        for copy in copies {
            let response = copy.await.unwrap();
            match response.status {
                200 if response.text() == "handled evt-storm" => handled += 1,
                200 => {
                    response.assert_duplicate();
                    duplicates += 1;
                }
                _ => {
                    response.assert_rejected(409, "in_flight");
                    in_flight += 1;
                }
            }
        }
        assert_eq!(handled, 1, "{kind:?}");
        assert_eq!(handled + duplicates + in_flight, 50, "{kind:?}");
        assert_eq!(probe.calls(), 1, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_gets_the_exact_bytes() {
    let bodies: [&[u8]; 5] = [
        b"{ \"z\" : 1,\n\t\"a\":[ 2 ,3 ],  \"m\":{}}\r\n  ",
        b"{\"b\":2,\"a\":1,\"b\":3}",
        b"\xff\xfe\x00\x80 not \xc3\x28 utf-8 \x00\r\n\r\n",
        b"",
        b"0\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
    ];
    for kind in KINDS {
        let probe = Probe::new();
        for chunked in [None, Some(3)] {
            // A store per framing: NTX Pay deliveries are told apart by body.
            let client = kind
                .client(app(&probe, WebhookLayer::new(verifier())))
                .await;
            for (i, body) in bodies.iter().enumerate() {
                let id = format!("evt-bytes-{i}-{chunked:?}");
                let mut req = Req::signed(HOOK, body, &id);
                if let Some(size) = chunked {
                    req = req.chunked(size);
                }
                client.send(&req).await.assert_handled(200, &id);
                let seen = probe.last();
                assert_eq!(seen.body, Bytes::copy_from_slice(body), "{kind:?} {id}");
            }
        }
        assert_eq!(probe.calls(), 2 * bodies.len(), "{kind:?}");
    }
}

/// axum's `Bytes` extractor refuses bodies over 2 MiB by default
/// (`DefaultBodyLimit`): a delivery the gate admitted under a larger limit
/// must still reach the handler, not be refused after it was reserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_axums_default_limit_but_within_the_gates_reaches_the_handler() {
    let body = vec![b'x'; 3 * 1024 * 1024];
    for kind in KINDS {
        let probe = Probe::new();
        let layer = WebhookLayer::new(Gate::new(verifier()).with_body_limit(4 * 1024 * 1024));
        let client = kind.client(app(&probe, layer)).await;
        client
            .send(&Req::signed(HOOK, &body, "evt-3mib"))
            .await
            .assert_handled(200, "evt-3mib");
        assert_eq!(probe.last().body.len(), body.len(), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_any_are_accepted() {
    for kind in KINDS {
        let probe = Probe::new();
        let app = Router::new()
            .route("/put", put(handler))
            .route("/any", any(handler))
            .route_layer(WebhookLayer::new(verifier()))
            .with_state(probe.clone());
        let client = kind.client(app).await;

        let sent = [
            ("PUT", "/put", "evt-put"),
            ("PUT", "/any", "evt-any-put"),
            ("POST", "/any", "evt-any-post"),
        ];
        for (method, path, id) in sent {
            // Distinct deliveries have distinct bodies (NTX Pay's ID is unsigned).
            let body = [BODY, id.as_bytes()].concat();
            let req = Req::signed(path, &body, id).method(method);
            client.send(&req).await.assert_handled(200, id);
            client.send(&req).await.assert_duplicate();
            let forged = req.clone().replace("x-ntxpay-signature", "00".repeat(32));
            client
                .send(&forged)
                .await
                .assert_rejected(401, "signature_mismatch");
        }
        assert_eq!(probe.calls(), sent.len(), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_with_layer_and_route_layer() {
    for kind in KINDS {
        for use_route_layer in [false, true] {
            let probe = Probe::new();
            let router = Router::new().route("/hook", post(handler));
            let router = if use_route_layer {
                router.route_layer(WebhookLayer::new(verifier()))
            } else {
                router.layer(WebhookLayer::new(verifier()))
            };
            let client = kind.client(router.with_state(probe.clone())).await;
            let what = format!("{kind:?} route_layer={use_route_layer}");

            let req = Req::signed("/hook", BODY, "evt-layer");
            client.send(&req).await.assert_handled(200, "evt-layer");
            client.send(&req).await.assert_duplicate();
            client
                .send(&req.clone().without("x-ntxpay-signature"))
                .await
                .assert_rejected(401, "missing_signature");
            assert_eq!(probe.calls(), 1, "{what}");
            assert_eq!(
                probe
                    .last()
                    .delivery
                    .unwrap()
                    .delivery_id()
                    .unwrap()
                    .as_str(),
                "evt-layer",
                "{what}"
            );

            // Unrouted paths: `route_layer` leaves them alone (404), `layer`
            // checks them first.
            let other = client.send(&Req::post("/elsewhere")).await;
            if use_route_layer {
                assert_eq!(other.status, 404, "{what}: {other:?}");
            } else {
                other.assert_rejected(401, "missing_signature");
            }
        }
    }
}

/// A `Content-Length` on two lines (an HTTP/2 server passes equal ones on)
/// is refused at once, without reading the body.
#[tokio::test]
async fn a_repeated_content_length_is_answered_without_reading_the_body() {
    let probe = Probe::new();
    let app = app(&probe, WebhookLayer::new(verifier()));
    let body = Chunks::new([]).stalled();
    let polls = body.polls();
    let mut req = Req::signed(HOOK, BODY, "evt-twice")
        .content_length(10_000_000)
        .to_http();
    req.headers_mut()
        .append("content-length", "10000000".parse().unwrap());
    *req.body_mut() = axum::body::Body::new(body);

    let response = tokio::time::timeout(PATIENCE, app.oneshot(req))
        .await
        .expect("answered without reading")
        .unwrap();
    assert_eq!(response.status(), 400);
    let text = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&text[..], br#"{"error":"duplicate_header"}"#);
    assert_eq!(polls.load(SeqCst), 0, "the body was polled");
    assert_eq!(probe.calls(), 0);
}

#[tokio::test]
async fn content_length_over_the_limit_is_answered_without_reading_the_body() {
    let probe = Probe::new();
    let app = app(
        &probe,
        WebhookLayer::new(Gate::new(verifier()).with_body_limit(LIMIT)),
    );
    // A body that never ends and never yields: only an answer that does not
    // read it can come back.
    let body = Chunks::new([]).stalled();
    let polls = body.polls();
    let mut req = Req::signed(HOOK, BODY, "evt-big")
        .content_length(10_000_000)
        .to_http();
    *req.body_mut() = axum::body::Body::new(body);

    let response = tokio::time::timeout(PATIENCE, app.oneshot(req))
        .await
        .expect("answered without reading")
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(polls.load(SeqCst), 0, "the body was polled");
    assert_eq!(probe.calls(), 0);
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_limit() {
    let probe = Probe::new();
    let limit = 64 * 1024;
    let chunk = 8 * 1024;
    let app = app(
        &probe,
        WebhookLayer::new(Gate::new(verifier()).with_body_limit(limit)),
    );
    let body = Chunks::endless(Bytes::from(vec![b'x'; chunk]));
    let polls = body.polls();
    let mut req = Req::signed(HOOK, BODY, "evt-endless").to_http();
    req.headers_mut().remove("content-length");
    *req.body_mut() = axum::body::Body::new(body);

    let response = tokio::time::timeout(PATIENCE, app.oneshot(req))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(response.status(), 413);
    // Reading stops at the first chunk past the limit.
    let polls = polls.load(SeqCst);
    assert!(polls <= limit / chunk + 1, "{polls} chunks read");
    assert_eq!(probe.calls(), 0);
}

/// tower-http's `RequestBodyLimitLayer` in front of the layer cuts a body
/// without `Content-Length` at its own limit with a `LengthLimitError`:
/// that body is too large (413, as axum's extractors answer it), not one
/// that could not be read (it was answered 400 `body_read_failed`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_an_outer_request_body_limit_is_too_large() {
    for kind in KINDS {
        let probe = Probe::new();
        let store = CountingStore::new();
        let layer = WebhookLayer::new(Gate::new(verifier()).with_store(store.clone()));
        let app = app(&probe, layer).layer(RequestBodyLimitLayer::new(BODY.len() - 1));
        let client = kind.client(app).await;
        client
            .send(&Req::signed(HOOK, BODY, "evt-outer-limit").chunked(4))
            .await
            .assert_rejected(413, "body_too_large");
        assert_eq!(probe.calls(), 0, "{kind:?}");
        assert_eq!(store.counts(), (0, 0, 0), "{kind:?}");
    }
}

/// A body in one-byte pieces cut from a large read buffer, as a server
/// hands on tiny HTTP/2 DATA frames or HTTP/1.1 chunks: while the layer
/// waits for the rest, it keeps no piece, and so none of that buffer. (It
/// kept every piece until the end, so a padded frame per byte held
/// hundreds of times the body in memory.)
#[tokio::test(start_paused = true)]
async fn a_body_in_tiny_pieces_keeps_none_of_their_read_buffer() {
    let probe = Probe::new();
    let app = app(&probe, WebhookLayer::new(verifier()));
    let mut read_buffer = vec![0u8; 1 << 20];
    read_buffer[..BODY.len()].copy_from_slice(BODY);
    let read_buffer = Bytes::from(read_buffer);
    let pieces = (0..BODY.len()).map(|at| read_buffer.slice(at..at + 1));
    let body = Chunks::shared(pieces).stalled();
    let polls = body.polls();
    let mut req = Req::signed(HOOK, BODY, "evt-pieces").to_http();
    *req.body_mut() = axum::body::Body::new(body);

    let answer = tokio::spawn(app.oneshot(req));
    // Every piece handed over, the body now waits for more.
    while polls.load(SeqCst) <= BODY.len() {
        tokio::task::yield_now().await;
    }
    assert!(read_buffer.is_unique(), "a piece is still held");
    assert_eq!(answer.await.unwrap().unwrap().status(), 408);
    assert_eq!(probe.calls(), 0);
}

/// NTX Pay signs the body only: `X-NTXPay-Delivery` is not covered by the
/// signature, and the scheme has no timestamp, so dedupe is the only replay
/// defence (as the preset's doc says). Keyed on an unsigned header, it
/// stops nothing: whoever captured one delivery can replay it under any ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_under_another_delivery_id_is_a_duplicate() {
    for kind in KINDS {
        let probe = Probe::new();
        let client = kind
            .client(app(&probe, WebhookLayer::new(verifier())))
            .await;
        let req = Req::signed(HOOK, BODY, "evt-original");
        client.send(&req).await.assert_handled(200, "evt-original");
        let replays = [
            req.clone().replace("x-ntxpay-delivery", "evt-replayed"),
            req.clone().without("x-ntxpay-delivery"),
        ];
        for replay in &replays {
            client.send(replay).await.assert_duplicate();
        }
        assert_eq!(probe.calls(), 1, "{kind:?}");
    }
}

/// DESIGN.md: IN_FLIGHT --handler 2xx--> DONE. A handler slower than its
/// lease answers 2xx, but `complete` with the expired token is ignored, so
/// the delivery is forgotten and runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_its_lease_is_still_remembered() {
    for kind in KINDS {
        let probe = Probe::scripted([Reply::Sleep(Duration::from_millis(300))]);
        let layer = WebhookLayer::new(Gate::new(verifier()).with_lease(Duration::from_millis(100)));
        let client = kind.client(app(&probe, layer)).await;
        let req = Req::signed(HOOK, BODY, "evt-slow");
        client.send(&req).await.assert_handled(200, "evt-slow");
        client.send(&req).await.assert_duplicate();
        assert_eq!(probe.calls(), 1, "{kind:?}");
    }
}

/// On tokio's paused clock, which jumps to the next timer when every task
/// waits: a body that stops after five bytes is answered 408 exactly when
/// the default read timeout ends, without the handler.
#[tokio::test(start_paused = true)]
async fn a_stalled_body_gets_408_at_the_default_read_timeout() {
    let probe = Probe::new();
    let app = app(&probe, WebhookLayer::new(verifier()));
    let body = Chunks::new([&BODY[..5]]).stalled();
    let polls = body.polls();
    let mut req = Req::signed(HOOK, BODY, "evt-stalled").to_http();
    *req.body_mut() = axum::body::Body::new(body);

    let started = tokio::time::Instant::now();
    let response = app.oneshot(req).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), 408);
    assert!(
        (DEFAULT_READ_TIMEOUT..DEFAULT_READ_TIMEOUT + Duration::from_millis(10)).contains(&waited),
        "answered after {waited:?}"
    );
    let text = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&text[..], br#"{"error":"body_read_timeout"}"#);
    assert!(polls.load(SeqCst) >= 2, "the body was read");
    assert_eq!(probe.calls(), 0);
}

/// A gate's own read timeout replaces the default.
#[tokio::test(start_paused = true)]
async fn a_gate_read_timeout_replaces_the_default() {
    let probe = Probe::new();
    let timeout = Duration::from_millis(1500);
    let app = app(
        &probe,
        WebhookLayer::new(Gate::new(verifier()).with_read_timeout(timeout)),
    );
    let mut req = Req::signed(HOOK, BODY, "evt-stalled").to_http();
    *req.body_mut() = axum::body::Body::new(Chunks::new([]).stalled());

    let started = tokio::time::Instant::now();
    let response = app.oneshot(req).await.unwrap();
    assert_eq!(response.status(), 408);
    assert_eq!(started.elapsed().as_millis(), timeout.as_millis());
    assert_eq!(probe.calls(), 0);
}
