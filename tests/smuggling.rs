//! Request smuggling through framing, against both adapters over real HTTP:
//! a signed delivery hidden where one HTTP parser could read a request and
//! another a body. Whatever the framework makes of the framing (actix-web
//! refuses conflicting framing with 400; hyper lets `Transfer-Encoding` win
//! and closes the connection, as RFC 9112 §6.3 allows), the hidden delivery
//! must never reach a handler, and a handler that runs must get exactly the
//! bytes that were verified.

mod adapters;

use std::sync::Arc;

use adapters::*;
use hookwarden_testkit::{chunk_frame, parse_response, Req, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUTE: &str = "/hooks/ntxpay";

fn body(case: &str) -> Vec<u8> {
    format!(r#"{{"id":"evt_{case}","case":"{case}","reply":"ok"}}"#).into_bytes()
}

fn signed(case: &str) -> Req {
    let route = route(ROUTE);
    signed_with(&route, secret(&route.scheme()), &body(case), case, None)
}

/// Writes `wire` on one connection, reads until the server closes it, and
/// returns every response read, in order.
async fn exchange(addr: std::net::SocketAddr, wire: &[u8]) -> Vec<hookwarden_testkit::RawResponse> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may stop reading early: what it answered is what counts.
    let _ = stream.write_all(wire).await;
    let mut read = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut read))
        .await
        .expect("the server closes the connection");
    let mut responses = Vec::new();
    let mut rest = &read[..];
    while let Some(response) = parse_response(rest, false) {
        let len = response_len(rest);
        responses.push(response);
        rest = &rest[len..];
    }
    responses
}

/// The length of the first response in `buf` (its head and its
/// `Content-Length` body; every answer here has one).
fn response_len(buf: &[u8]) -> usize {
    let head = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    head + len
}

/// The request head of `req` with `extra` header lines added.
fn head_with(req: &Req, extra: &str) -> Vec<u8> {
    let mut head = req.head();
    let at = head.len() - 2;
    head.splice(at..at, extra.bytes());
    head
}

fn chunked_body(body: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = body.chunks(8).flat_map(chunk_frame).collect();
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The ways to hide the delivery `hidden` (then `next`, a genuine delivery
/// closing the connection) behind an `outer` delivery.
/// Each attempt: what it tries, the outer delivery's case, the bytes.
fn attempts() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let hidden = signed("hidden").keep_alive().wire();
    let next = signed("next").wire();
    let mut attempts = Vec::new();

    // CL.TE: the chunked body ends where the hidden request begins; the
    // Content-Length covers both.
    let outer = signed("outer-cl-te").keep_alive().chunked(8);
    let chunked = chunked_body(&outer.body);
    let mut wire = head_with(
        &outer,
        &format!("content-length: {}\r\n", chunked.len() + hidden.len()),
    );
    wire.extend_from_slice(&chunked);
    wire.extend_from_slice(&hidden);
    wire.extend_from_slice(&next);
    attempts.push(("content-length and chunked", "outer-cl-te", wire));

    // Two different Content-Lengths: the shorter leaves the hidden request.
    let outer = signed("outer-two-lengths").keep_alive();
    let mut body = outer.body.clone();
    body.extend_from_slice(&hidden);
    let mut wire = head_with(&outer, &format!("content-length: {}\r\n", body.len()));
    wire.extend_from_slice(&body);
    wire.extend_from_slice(&next);
    attempts.push(("two content-lengths", "outer-two-lengths", wire));

    // The hidden request inside a body over the limit that is not read.
    let mut padded = hidden.clone();
    padded.resize(LIMIT + 1, b' ');
    let outer = signed("outer-oversized").keep_alive().body(&padded);
    let mut wire = outer.wire();
    wire.extend_from_slice(&next);
    attempts.push(("inside an unread oversized body", "outer-oversized", wire));
    attempts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_hidden_in_the_framing_never_reaches_the_handler() {
    let mut failures = Vec::new();
    for adapter in ADAPTERS {
        for (what, outer, wire) in attempts() {
            let recorder = Arc::new(Recorder::default());
            let addr = serve(adapter, &Backend::Memory, Arc::clone(&recorder)).await;
            let responses = exchange(addr, &wire).await;
            let mut seen = Vec::new();
            for response in &responses {
                let handled = response.header(SCHEME_HEADER).is_some();
                // Whatever ran got exactly the bytes of one signed delivery.
                if handled && ![body("next"), body(outer)].contains(&response.body) {
                    failures.push(format!(
                        "{adapter:?} {what}: handler got {:?}",
                        response.text()
                    ));
                }
                seen.push(format!(
                    "{} {}",
                    response.status,
                    if handled { "handled" } else { "answered" }
                ));
            }
            if recorder.calls("hidden") != 0 {
                failures.push(format!(
                    "{adapter:?} {what}: the hidden delivery was handled ({seen:?})"
                ));
            }
            if responses.is_empty() {
                failures.push(format!("{adapter:?} {what}: no answer at all"));
            } else if !matches!(responses[0].status, 200 | 400 | 413) {
                failures.push(format!("{adapter:?} {what}: first answer {seen:?}"));
            }
            println!("{adapter:?} {what}: {seen:?}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
