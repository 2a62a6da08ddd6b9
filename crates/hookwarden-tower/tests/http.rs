//! `WebhookLayer` behind `axum::serve` on 127.0.0.1, fed exact bytes by a raw
//! HTTP/1.1 client: lying lengths, chunked uploads far over the limit,
//! framing errors, header case and line quirks.
#![cfg(feature = "axum")]

mod support;

use hookwarden_core::Gate;
use hookwarden_tower::WebhookLayer;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BODY: &[u8] = br#"{"event":"refund_in","amount":250}"#;

async fn served() -> (Fixture, std::net::SocketAddr) {
    let fx = fixture(Probe::new());
    let addr = serve(fx.app.clone()).await;
    (fx, addr)
}

#[track_caller]
fn assert_untouched(fx: &Fixture) {
    assert_eq!(fx.probe.calls(), 0, "the handler ran");
    assert_eq!(fx.store.counts(), (0, 0, 0), "the store was touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_over_the_limit_is_answered_before_any_body_is_sent() {
    let (fx, addr) = served().await;
    // Only the head is sent; the connection stays open. An answer can only
    // come from a server that did not wait for the body.
    let req = Req::signed("/ntxpay", b"", "evt-lying")
        .content_length(10_000_000)
        .stall();
    raw_send(addr, &req)
        .await
        .unwrap()
        .assert_rejected(413, "body_too_large");
    assert_untouched(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_over_the_limit_gets_413_and_no_100() {
    let (fx, addr) = served().await;
    let req = Req::signed("/ntxpay", b"", "evt-expect")
        .header("expect", "100-continue")
        .content_length(10_000_000)
        .stall();
    // The first answer is the 413: the client is never invited to upload.
    raw_send(addr, &req)
        .await
        .unwrap()
        .assert_rejected(413, "body_too_large");
    assert_untouched(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_shorter_than_the_body_verifies_only_what_it_declares() {
    let (fx, addr) = served().await;
    let req = Req::signed("/ntxpay", BODY, "evt-short").content_length(BODY.len() as u64 - 5);
    raw_send(addr, &req)
        .await
        .unwrap()
        .assert_rejected(401, "signature_mismatch");
    assert_untouched(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_by_the_client_is_a_read_error() {
    let (fx, addr) = served().await;
    let req = Req::signed("/ntxpay", BODY, "evt-cut")
        .content_length(BODY.len() as u64 + 100)
        .half_close();
    raw_send(addr, &req)
        .await
        .unwrap()
        .assert_rejected(400, "body_read_failed");
    assert_untouched(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chunk_framing_is_a_read_error() {
    let (fx, addr) = served().await;
    let mut wire = Req::signed("/ntxpay", b"", "evt-bad-chunk")
        .chunked(8)
        .head();
    wire.extend_from_slice(b"zz\r\nabc\r\n0\r\n\r\n");
    raw_exchange(addr, &wire, false)
        .await
        .unwrap()
        .assert_rejected(400, "body_read_failed");
    assert_untouched(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_far_over_the_limit_is_cut_early() {
    let probe = Probe::new();
    let store = CountingStore::new();
    let app = app(
        &probe,
        WebhookLayer::new(
            Gate::new(verifier())
                .with_body_limit(64 * 1024)
                .with_store(store.clone()),
        ),
    );
    let addr = serve(app).await;
    let total: u64 = 16 * 1024 * 1024;
    // Headers signed for an empty body; the server must stop before any MAC.
    let req = Req::signed(HOOK, b"", "evt-flood");

    let streamed = stream_chunked(addr, &req, 16 * 1024, total).await;
    let response = streamed.response.as_ref().expect("an answer");
    response.assert_rejected(413, "body_too_large");
    assert!(
        streamed.sent_at_answer < total,
        "answered only after the whole upload: {streamed:?}"
    );
    // The server closed the connection instead of swallowing the rest.
    assert!(streamed.write_result.is_err(), "{streamed:?}");
    assert!(streamed.sent < total, "{streamed:?}");
    assert_eq!(probe.calls(), 0);
    assert_eq!(store.counts(), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unread_body_of_a_rejected_request_is_not_read_as_a_request() {
    let (fx, addr) = served().await;
    // A valid delivery hidden in the body of one that is too large.
    let mut hidden = Req::signed("/ntxpay", BODY, "evt-hidden").wire();
    hidden.resize(LIMIT + 1, b' ');
    let outer = Req::signed("/ntxpay", &hidden, "evt-outer").keep_alive();

    // Then, on the same connection, a genuine next request.
    let next = Req::signed("/ntxpay", BODY, "evt-next");

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&outer.wire()).await.unwrap();
    stream.write_all(&next.wire()).await.unwrap();
    let mut answers = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answers))
        .await
        .expect("the server closes after `next`")
        .unwrap();
    let text = String::from_utf8_lossy(&answers);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text}");
    parse_response(&answers, false)
        .expect("an answer")
        .assert_rejected(413, "body_too_large");
    assert!(text.ends_with("handled evt-next"), "{text}");
    assert!(!text.contains("evt-hidden"), "{text}");
    assert_eq!(fx.probe.calls(), 1);
    assert_eq!(fx.probe.last().body, BODY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_names_match_in_any_case() {
    let (fx, addr) = served().await;
    let mut req = Req::post("/ntxpay").body(BODY);
    for (name, value) in ntxpay_headers(SECRET, BODY, "evt-case").iter() {
        req.headers.push((
            name.as_str().to_ascii_uppercase(),
            value.as_bytes().to_vec(),
        ));
    }
    assert!(req.wire().windows(18).any(|w| w == b"X-NTXPAY-SIGNATURE"));
    raw_send(addr, &req)
        .await
        .unwrap()
        .assert_handled(200, "evt-case");
    assert_eq!(fx.probe.calls(), 1);

    // Two lines of the signature header, spelled differently, are still two.
    let signed = Req::signed("/ntxpay", BODY, "evt-case-2");
    let value = signed.value("x-ntxpay-signature").unwrap().to_vec();
    let mut twice = signed;
    twice.headers.push(("X-NTXPay-Signature".to_owned(), value));
    raw_send(addr, &twice)
        .await
        .unwrap()
        .assert_rejected(400, "duplicate_header");
    assert_eq!(fx.probe.calls(), 1);
}
