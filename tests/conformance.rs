//! One table of cases, run against the axum app and the actix-web app over
//! real HTTP on 127.0.0.1. Every case states the status, the error code and
//! the number of handler calls it expects; both adapters must meet them, and
//! their transcripts must be identical, so a case added once runs on both
//! and any difference between the adapters fails.

mod adapters;
mod redis_harness;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use adapters::*;
use hookwarden::redis::RedisStore;
use hookwarden::{TimestampFormat, TimestampSource, DUPLICATE_BODY};
use hookwarden_testkit::{raw_exchange, raw_send, raw_trickle, wait_until, RawResponse, Req};
use redis_harness::RedisServer;

/// What one request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The handler ran and answered this status, with the exact body echoed.
    Handled(u16),
    /// The adapter answered this status and `{"error":"<code>"}`.
    Rejected(u16, &'static str),
    /// 200 `{"status":"duplicate"}`, without the handler.
    Duplicate,
    /// The connection closed without an answer (the handler panicked).
    Closed,
    /// The router's own 405, with no body: the route does not take the
    /// method, and neither the adapter nor the handler ran.
    MethodNotAllowed,
}

impl Expect {
    fn outcome(self) -> String {
        match self {
            Self::Handled(status) => format!("{status} handled"),
            Self::Rejected(status, code) => format!("{status} {code}"),
            Self::Duplicate => "200 duplicate".to_owned(),
            Self::Closed => "closed".to_owned(),
            Self::MethodNotAllowed => "405 method not allowed".to_owned(),
        }
    }
}

enum Step {
    Send(Req, Expect),
    /// Sends in the background and waits until the handler holds it
    /// (the case's body must say `hold-first`).
    Start(Req),
    /// Lets the held call answer; it must get this.
    Finish(Expect),
    /// This many copies at once: exactly one handled with 200, every other
    /// answered as a duplicate or 409.
    Burst(Req, usize),
    /// These bytes written on a connection (then its writing half closed).
    Raw(Vec<u8>, Expect),
    /// The head at once, then the body one byte per interval; the answer
    /// must come before the whole body was sent.
    Trickle(Req, Duration, Expect),
}

struct Case {
    name: String,
    route: Route,
    steps: Vec<Step>,
    /// Handler calls the case must cause in all.
    calls: usize,
}

const BURST_OUTCOME: &str = "one handled, the rest refused";

// ---------------------------------------------------------------- the table

/// A delivery body: JSON naming the case and what the handler should do.
fn body(case: &str, reply: &str) -> Vec<u8> {
    format!(r#"{{"id":"evt_{case}","case":"{case}","reply":"{reply}"}}"#).into_bytes()
}

/// A body of exactly `len` bytes for `case`, padded inside the JSON.
fn body_of_len(case: &str, len: usize) -> Vec<u8> {
    let mut body = body(case, "ok");
    body.truncate(body.len() - 1);
    body.extend_from_slice(br#","pad":""#);
    let pad = len - body.len() - 2;
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), len);
    body
}

fn other_secret(route: &Route) -> &'static str {
    if secret(&route.scheme()).starts_with("whsec_conformance") {
        "whsec_another_plain_secret"
    } else {
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    }
}

struct Builder<'a> {
    route: &'a Route,
    prefix: &'a str,
}

impl Builder<'_> {
    fn name(&self, case: &str) -> String {
        format!("{}/{case}", self.prefix)
    }

    /// A valid delivery of `body`.
    fn signed(&self, case: &str, body: &[u8]) -> Req {
        signed_with(
            self.route,
            secret(&self.route.scheme()),
            body,
            &format!("dlv_{case}"),
            None,
        )
    }

    fn at(&self, case: &str, at: SystemTime) -> Req {
        let body = body(case, "ok");
        signed_with(
            self.route,
            secret(&self.route.scheme()),
            &body,
            &format!("dlv_{case}"),
            Some(at),
        )
    }

    fn case(&self, case: &str, calls: usize, steps: impl FnOnce(&str) -> Vec<Step>) -> Case {
        let name = self.name(case);
        Case {
            steps: steps(&name),
            name,
            route: self.route.clone(),
            calls,
        }
    }
}

/// The cases every preset's route must pass.
fn preset_cases(route: &Route) -> Vec<Case> {
    let b = Builder {
        route,
        prefix: route.preset,
    };
    let scheme = route.scheme();
    let sig = scheme.signature_header().as_str().to_owned();
    let ok = |name: &str| b.signed(name, &body(name, "ok"));
    let mut cases = vec![
        b.case("valid", 1, |n| {
            vec![Step::Send(ok(n), Expect::Handled(200))]
        }),
        b.case("put", 1, |n| {
            vec![Step::Send(ok(n).method("PUT"), Expect::Handled(200))]
        }),
        // A method the route does not take never reaches the adapter: the
        // router answers it, signed or not, and the delivery stays fresh.
        b.case("other-method", 1, |n| {
            vec![
                Step::Send(ok(n).method("GET").without(&sig), Expect::MethodNotAllowed),
                Step::Send(ok(n).method("DELETE"), Expect::MethodNotAllowed),
                Step::Send(ok(n), Expect::Handled(200)),
            ]
        }),
        b.case("duplicate", 1, |n| {
            vec![
                Step::Send(ok(n), Expect::Handled(200)),
                Step::Send(ok(n), Expect::Duplicate),
            ]
        }),
        b.case("tampered", 0, |n| {
            vec![Step::Send(
                ok(n).body(body(n, "ok!")),
                Expect::Rejected(401, "signature_mismatch"),
            )]
        }),
        b.case("wrong-secret", 0, |n| {
            let req = signed_with(route, other_secret(route), &body(n, "ok"), n, None);
            vec![Step::Send(req, Expect::Rejected(401, "signature_mismatch"))]
        }),
        b.case("no-signature", 0, |n| {
            vec![Step::Send(
                ok(n).without(&sig),
                Expect::Rejected(401, "missing_signature"),
            )]
        }),
        b.case("repeated-signature", 0, |n| {
            let req = ok(n);
            let value = req.value(&sig).unwrap().to_vec();
            vec![Step::Send(
                req.header(&sig, value),
                Expect::Rejected(400, "duplicate_header"),
            )]
        }),
        b.case("non-ascii-signature", 0, |n| {
            let req = ok(n);
            let mut value = req.value(&sig).unwrap().to_vec();
            value[3] = 0xE9;
            vec![Step::Send(
                req.replace(&sig, value),
                Expect::Rejected(400, "invalid_header"),
            )]
        }),
        b.case("at-limit", 1, |n| {
            vec![Step::Send(
                b.signed(n, &body_of_len(n, LIMIT)),
                Expect::Handled(200),
            )]
        }),
        b.case("over-limit", 0, |n| {
            vec![Step::Send(
                b.signed(n, &body_of_len(n, LIMIT + 1)),
                Expect::Rejected(413, "body_too_large"),
            )]
        }),
        b.case("over-limit-chunked", 0, |n| {
            vec![Step::Send(
                b.signed(n, &body_of_len(n, LIMIT + 1)).chunked(512),
                Expect::Rejected(413, "body_too_large"),
            )]
        }),
        b.case("chunked", 1, |n| {
            vec![Step::Send(ok(n).chunked(7), Expect::Handled(200))]
        }),
    ];
    if let Some((source, format)) = scheme.timestamp() {
        let hour = Duration::from_secs(3600);
        cases.push(b.case("stale", 0, |n| {
            vec![Step::Send(
                b.at(n, SystemTime::now() - hour),
                Expect::Rejected(401, "stale_timestamp"),
            )]
        }));
        cases.push(b.case("future", 0, |n| {
            vec![Step::Send(
                b.at(n, SystemTime::now() + hour),
                Expect::Rejected(401, "future_timestamp"),
            )]
        }));
        if let TimestampSource::Header(name) = source {
            cases.push(b.case("bad-timestamp", 0, |n| {
                vec![Step::Send(
                    ok(n).replace(name.as_str(), "yesterday"),
                    Expect::Rejected(400, "malformed_timestamp"),
                )]
            }));
            // The same instant with a zero in front: a second spelling,
            // refused before any MAC.
            if format != TimestampFormat::Rfc3339 {
                cases.push(b.case("leading-zero-timestamp", 0, |n| {
                    let req = ok(n);
                    let sent = req.value(name.as_str()).expect("a timestamp").to_vec();
                    vec![Step::Send(
                        req.replace(name.as_str(), [&b"0"[..], &sent].concat()),
                        Expect::Rejected(400, "malformed_timestamp"),
                    )]
                }));
            }
        }
    }
    cases
}

/// Dedupe sequences, handler failures, concurrency and body errors, on
/// NTX Pay routes.
fn lifecycle_cases() -> Vec<Case> {
    let hooks = route("/hooks/ntxpay");
    let b = Builder {
        route: &hooks,
        prefix: "lifecycle",
    };
    let with = |name: &str, reply: &str| b.signed(name, &body(name, reply));
    let mut cases = vec![
        b.case("fail-then-retry", 2, |n| {
            vec![
                Step::Send(with(n, "fail-first"), Expect::Handled(500)),
                Step::Send(with(n, "fail-first"), Expect::Handled(200)),
                Step::Send(with(n, "fail-first"), Expect::Duplicate),
            ]
        }),
        b.case("panic-then-retry", 2, |n| {
            vec![
                Step::Send(with(n, "panic-first"), Expect::Closed),
                Step::Send(with(n, "panic-first"), Expect::Handled(200)),
                Step::Send(with(n, "panic-first"), Expect::Duplicate),
            ]
        }),
        b.case("in-flight", 1, |n| {
            vec![
                Step::Start(with(n, "hold-first")),
                Step::Send(with(n, "hold-first"), Expect::Rejected(409, "in_flight")),
                Step::Finish(Expect::Handled(200)),
                Step::Send(with(n, "hold-first"), Expect::Duplicate),
            ]
        }),
        b.case("replay-under-another-id", 1, |n| {
            let body = body(n, "ok");
            vec![
                Step::Send(b.signed("first-id", &body), Expect::Handled(200)),
                Step::Send(b.signed("second-id", &body), Expect::Duplicate),
                Step::Send(
                    b.signed("first-id", &body).without("x-ntxpay-delivery"),
                    Expect::Duplicate,
                ),
            ]
        }),
        b.case("burst", 1, |n| vec![Step::Burst(with(n, "ok"), 16)]),
        b.case("truncated-body", 0, |n| {
            let req = with(n, "ok");
            let declared = req.body.len() as u64 + 100;
            vec![Step::Send(
                req.content_length(declared).half_close(),
                Expect::Rejected(400, "body_read_failed"),
            )]
        }),
        b.case("bad-chunk-framing", 0, |n| {
            let mut wire = with(n, "ok").chunked(16).head();
            wire.extend_from_slice(b"zz\r\nabc\r\n0\r\n\r\n");
            vec![Step::Raw(wire, Expect::Rejected(400, "body_read_failed"))]
        }),
        b.case("content-length-over-limit-no-body", 0, |n| {
            vec![Step::Send(
                with(n, "ok")
                    .content_length(10 * 1024 * 1024)
                    .body(b"")
                    .half_close(),
                Expect::Rejected(413, "body_too_large"),
            )]
        }),
    ];
    for (path, case, calls, expect) in [
        ("/json/ntxpay", "json-extractor", 1, Expect::Handled(200)),
        (
            "/stream/ntxpay",
            "stream-extractor",
            1,
            Expect::Handled(200),
        ),
        (
            "/down/ntxpay",
            "store-down",
            0,
            Expect::Rejected(503, "store_unavailable"),
        ),
        (
            "/open/ntxpay",
            "store-down-fail-open",
            1,
            Expect::Handled(200),
        ),
        (
            "/bare/ntxpay",
            "no-layer",
            0,
            Expect::Rejected(500, "webhook_layer_missing"),
        ),
    ] {
        let route = route(path);
        let b = Builder {
            route: &route,
            prefix: "routes",
        };
        cases.push(b.case(case, calls, |n| {
            vec![Step::Send(b.signed(n, &body(n, "ok")), expect)]
        }));
    }
    let slow = route("/slow/ntxpay");
    let b = Builder {
        route: &slow,
        prefix: "slow-body",
    };
    cases.extend([
        // The short read timeout leaves a body sent at once alone.
        b.case("in-time", 1, |n| {
            vec![Step::Send(
                b.signed(n, &body(n, "ok")),
                Expect::Handled(200),
            )]
        }),
        // A body that stops short of its declared length, the connection open.
        b.case("stalled", 0, |n| {
            let req = b.signed(n, &body(n, "ok"));
            let declared = req.body.len() as u64 + 50;
            vec![Step::Send(
                req.content_length(declared),
                Expect::Rejected(408, "body_read_timeout"),
            )]
        }),
        // Chunks, then neither more chunks nor the last one.
        b.case("stalled-chunked", 0, |n| {
            vec![Step::Send(
                b.signed(n, &body(n, "ok")).chunked(8).stall(),
                Expect::Rejected(408, "body_read_timeout"),
            )]
        }),
        // A valid delivery whose every byte comes well within the timeout
        // of the one before: only a deadline for the whole body stops it.
        b.case("trickled", 0, |n| {
            vec![Step::Trickle(
                b.signed(n, &body_of_len(n, 300)),
                SLOW_READ / 20,
                Expect::Rejected(408, "body_read_timeout"),
            )]
        }),
    ]);
    let down = route("/down/ntxpay");
    let b = Builder {
        route: &down,
        prefix: "routes",
    };
    cases.push(b.case("store-down-forged", 0, |n| {
        let req = b.signed(n, &body(n, "ok")).body(body(n, "ok!"));
        vec![Step::Send(req, Expect::Rejected(401, "signature_mismatch"))]
    }));
    cases
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = routes()
        .iter()
        .filter(|route| route.path.starts_with("/hooks/"))
        .flat_map(preset_cases)
        .collect();
    cases.extend(lifecycle_cases());
    cases
}

// ---------------------------------------------------------------- the runner

/// What a response was, in the table's terms; `Err` when the handler's
/// answer does not echo the exact body or names another scheme.
fn outcome(
    route: &Route,
    sent: &Req,
    response: std::io::Result<RawResponse>,
) -> Result<String, String> {
    let Ok(response) = response else {
        return Ok("closed".to_owned());
    };
    let text = response.text();
    if response.status == 200 && text == DUPLICATE_BODY {
        return Ok("200 duplicate".to_owned());
    }
    if response.status == 405 && text.is_empty() {
        return Ok("405 method not allowed".to_owned());
    }
    if let Some(scheme) = response.header(SCHEME_HEADER) {
        if scheme != route.preset.as_bytes() {
            return Err(format!(
                "the handler saw scheme {}",
                String::from_utf8_lossy(scheme)
            ));
        }
        if response.body != echo(route.body, &sent.body) {
            return Err(format!("the handler did not get the exact body: {text}"));
        }
        return Ok(format!("{} handled", response.status));
    }
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value["error"].as_str().map(str::to_owned));
    match code {
        Some(code) if response.header("content-type") == Some(b"application/json") => {
            Ok(format!("{} {code}", response.status))
        }
        _ => Ok(format!("{} unexpected: {text}", response.status)),
    }
}

/// Runs every case against `adapter`: the transcript of outcomes, and the
/// failures (outcomes or call counts other than expected).
async fn run(adapter: Adapter, backend: &Backend, cases: &[Case]) -> (Vec<String>, Vec<String>) {
    let recorder = Arc::new(Recorder::default());
    let addr = serve(adapter, backend, Arc::clone(&recorder)).await;
    let mut transcript = Vec::new();
    let mut failures = Vec::new();
    for case in cases {
        let mut held = None;
        for (index, step) in case.steps.iter().enumerate() {
            let (got, expected) = match step {
                Step::Send(req, expect) => {
                    let response = raw_send(addr, req).await;
                    (outcome(&case.route, req, response), expect.outcome())
                }
                Step::Start(req) => {
                    let req = req.clone();
                    held = Some(tokio::spawn(async move {
                        let response = raw_send(addr, &req).await;
                        (req, response)
                    }));
                    wait_until(&format!("{} is held", case.name), || {
                        recorder.calls(&case.name) == 1
                    })
                    .await;
                    continue;
                }
                Step::Finish(expect) => {
                    recorder.release(&case.name);
                    let (req, response) = held.take().expect("a started request").await.unwrap();
                    (outcome(&case.route, &req, response), expect.outcome())
                }
                Step::Burst(req, copies) => {
                    let sends: Vec<_> = (0..*copies)
                        .map(|_| {
                            let req = req.clone();
                            tokio::spawn(async move { raw_send(addr, &req).await })
                        })
                        .collect();
                    let mut outcomes = Vec::new();
                    for send in sends {
                        outcomes.push(outcome(&case.route, req, send.await.unwrap()));
                    }
                    let handled = outcomes
                        .iter()
                        .filter(|o| matches!(o, Ok(o) if o == "200 handled"))
                        .count();
                    let refused = outcomes
                        .iter()
                        .filter(
                            |o| matches!(o, Ok(o) if o == "200 duplicate" || o == "409 in_flight"),
                        )
                        .count();
                    let got = if handled == 1 && handled + refused == *copies {
                        Ok(BURST_OUTCOME.to_owned())
                    } else {
                        Err(format!("{outcomes:?}"))
                    };
                    (got, BURST_OUTCOME.to_owned())
                }
                Step::Trickle(req, every, expect) => {
                    let trickled = raw_trickle(addr, req, *every).await;
                    let got = if trickled.sent_at_answer >= trickled.body_len {
                        Err(format!(
                            "answered only after all {} body bytes",
                            trickled.body_len
                        ))
                    } else {
                        outcome(&case.route, req, trickled.response)
                    };
                    (got, expect.outcome())
                }
                Step::Raw(bytes, expect) => {
                    let response = raw_exchange(addr, bytes, true).await;
                    (
                        outcome(&case.route, &Req::post(&case.route.path), response),
                        expect.outcome(),
                    )
                }
            };
            let got = got.unwrap_or_else(|err| format!("wrong: {err}"));
            if got != expected {
                failures.push(format!(
                    "{adapter:?} {} step {index}: got {got}, expected {expected}",
                    case.name
                ));
            }
            transcript.push(format!("{} step {index}: {got}", case.name));
        }
        let calls = recorder.calls(&case.name);
        if calls != case.calls {
            failures.push(format!(
                "{adapter:?} on {backend:?} {}: the handler ran {calls} times, expected {}",
                case.name, case.calls
            ));
        }
        transcript.push(format!("{}: {calls} calls", case.name));
    }
    (transcript, failures)
}

/// Runs the table on both adapters with `backend`; asserts every
/// expectation and that both transcripts are the same, and returns one.
async fn both_adapters(backend: &Backend) -> Vec<String> {
    let cases = cases();
    let mut transcripts = Vec::new();
    let mut failures = Vec::new();
    for adapter in ADAPTERS {
        let (transcript, failed) = run(adapter, backend, &cases).await;
        transcripts.push(transcript);
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        transcripts[0], transcripts[1],
        "the adapters differ on {backend:?}"
    );
    transcripts.swap_remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_adapters_answer_every_case_alike_on_memory_stores() {
    both_adapters(&Backend::Memory).await;
}

/// The same table with the dedupe state in Redis: the same transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_adapters_answer_every_case_alike_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url())
        .await
        .expect("Redis answers");
    let on_redis = both_adapters(&Backend::Redis(store)).await;
    assert_eq!(
        on_redis,
        both_adapters(&Backend::Memory).await,
        "the stores differ"
    );
}

/// After a 408 the server closes the connection, even one the client
/// asked to keep alive: a slow client keeps neither a task nor a socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_body_loses_its_connection_on_both_adapters() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let slow = route("/slow/ntxpay");
    let b = Builder {
        route: &slow,
        prefix: "close",
    };
    for adapter in ADAPTERS {
        let recorder = Arc::new(Recorder::default());
        let addr = serve(adapter, &Backend::Memory, Arc::clone(&recorder)).await;
        let req = b
            .signed("kept-alive", &body("kept-alive", "ok"))
            .keep_alive();
        let declared = req.body.len() as u64 + 50;
        let req = req.content_length(declared);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(&req.wire()).await.unwrap();
        let mut read = Vec::new();
        tokio::time::timeout(hookwarden_testkit::PATIENCE, stream.read_to_end(&mut read))
            .await
            .unwrap_or_else(|_| panic!("{adapter:?} kept the connection open"))
            .unwrap();
        hookwarden_testkit::parse_response(&read, true)
            .unwrap_or_else(|| panic!("{adapter:?}: no answer"))
            .assert_rejected(408, "body_read_timeout");
        assert_eq!(recorder.calls("kept-alive"), 0, "{adapter:?}");
    }
}

/// The table keeps covering every row of the design's request table and
/// every preset.
#[test]
fn the_table_covers_every_answer_and_every_preset() {
    let cases = cases();
    let expected: Vec<String> = cases
        .iter()
        .flat_map(|case| &case.steps)
        .filter_map(|step| match step {
            Step::Send(_, expect)
            | Step::Raw(_, expect)
            | Step::Finish(expect)
            | Step::Trickle(_, _, expect) => Some(expect.outcome()),
            Step::Burst(..) => Some(BURST_OUTCOME.to_owned()),
            Step::Start(_) => None,
        })
        .collect();
    for outcome in [
        "200 handled",
        "500 handled",
        "200 duplicate",
        "409 in_flight",
        "401 missing_signature",
        "401 signature_mismatch",
        "401 stale_timestamp",
        "401 future_timestamp",
        "400 duplicate_header",
        "400 invalid_header",
        "400 malformed_timestamp",
        "400 body_read_failed",
        "413 body_too_large",
        "408 body_read_timeout",
        "503 store_unavailable",
        "500 webhook_layer_missing",
        "closed",
        BURST_OUTCOME,
    ] {
        assert!(
            expected.iter().any(|e| e == outcome),
            "no case expects {outcome}"
        );
    }
    for name in hookwarden::presets::NAMES {
        assert!(
            cases
                .iter()
                .any(|case| case.route.preset == *name && case.name.ends_with("/valid")),
            "no cases for {name}"
        );
    }
}
