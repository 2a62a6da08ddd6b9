//! Adversarial load: 10 000 deliveries over real HTTP on 127.0.0.1 through
//! 256 concurrent connections, against the axum app and the actix-web app of
//! the conformance suite, each with its memory store and with Redis.
//!
//! Run with: cargo test --release --test adversarial -- --ignored --nocapture
//!
//! The mix: 50 % valid first deliveries, 30 % duplicates of them (sent in
//! any order, so some race their original), and 5 % each of forged (another
//! secret), stale (Standard Webhooks signed an hour ago), oversized (half by
//! `Content-Length`, half chunked) and slow bodies (stalled mid-body, or
//! trickled a byte every 25 ms) on a route whose read timeout is 400 ms.
//! Every valid delivery must be handled exactly once, nothing else at all,
//! every request must get the answer its kind calls for, nothing may panic,
//! and the process's peak RSS must stay bounded. Not in the default run:
//! it takes a while and measures throughput.

mod adapters;
mod redis_harness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use adapters::*;
use hookwarden::redis::RedisStore;
use hookwarden::DUPLICATE_BODY;
use hookwarden_testkit::{raw_send, raw_trickle, RawResponse, Req};
use redis_harness::RedisServer;

const DELIVERIES: usize = 10_000;
const CONNECTIONS: usize = 256;
/// How long one whole run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// How much the peak RSS may grow during one run.
const RSS_BOUND_KIB: u64 = 256 * 1024;

/// What one request is, and so what it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    Duplicate,
    Forged,
    Stale,
    Oversized,
    OversizedChunked,
    Stalled,
    Trickled,
}

impl Kind {
    /// The answers this kind may get.
    fn accepts(self, outcome: &str) -> bool {
        match self {
            // A duplicate may race its original: one of them is handled,
            // the other sees it in flight or done.
            Self::Valid | Self::Duplicate => {
                matches!(outcome, "200 handled" | "200 duplicate" | "409 in_flight")
            }
            Self::Forged => outcome == "401 signature_mismatch",
            Self::Stale => outcome == "401 stale_timestamp",
            Self::Oversized | Self::OversizedChunked => outcome == "413 body_too_large",
            Self::Stalled | Self::Trickled => outcome == "408 body_read_timeout",
        }
    }
}

struct Job {
    kind: Kind,
    req: Req,
}

fn body(case: &str, len: usize) -> Vec<u8> {
    let mut body =
        format!(r#"{{"id":"evt_{case}","case":"{case}","reply":"ok","pad":""#).into_bytes();
    let pad = len.saturating_sub(body.len() + 2);
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(br#""}"#);
    body
}

/// The 10 000 requests, shuffled by a fixed seed, and the cases that must
/// each be handled exactly once.
fn jobs() -> (Vec<Job>, Vec<String>) {
    let slow = route("/slow/ntxpay");
    let sw = route("/hooks/standard-webhooks");
    let secret = adapters::secret(&slow.scheme());
    let sign = |route: &Route, case: &str, body: &[u8], at: Option<SystemTime>| {
        signed_with(route, adapters::secret(&route.scheme()), body, case, at)
    };
    let share = |percent: usize| DELIVERIES * percent / 100;
    let mut jobs = Vec::with_capacity(DELIVERIES);
    let mut unique = Vec::new();
    for i in 0..share(50) {
        let case = format!("valid-{i}");
        let req = sign(&slow, &case, &body(&case, 200 + i % 1500), None);
        jobs.push(Job {
            kind: Kind::Valid,
            req,
        });
        unique.push(case);
    }
    for i in 0..share(30) {
        let original = &jobs[i * 7 % share(50)];
        jobs.push(Job {
            kind: Kind::Duplicate,
            req: original.req.clone(),
        });
    }
    for i in 0..share(5) {
        let case = format!("forged-{i}");
        let req = signed_with(
            &slow,
            "whsec_an_attackers_secret",
            &body(&case, 300),
            &case,
            None,
        );
        assert_ne!(secret, "whsec_an_attackers_secret");
        jobs.push(Job {
            kind: Kind::Forged,
            req,
        });
    }
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..share(5) {
        let case = format!("stale-{i}");
        jobs.push(Job {
            kind: Kind::Stale,
            req: sign(&sw, &case, &body(&case, 300), Some(hour_ago)),
        });
    }
    for i in 0..share(5) {
        let case = format!("oversized-{i}");
        let req = sign(&slow, &case, &body(&case, LIMIT + 1 + i), None);
        let (kind, req) = if i % 2 == 0 {
            (Kind::Oversized, req)
        } else {
            (Kind::OversizedChunked, req.chunked(1024))
        };
        jobs.push(Job { kind, req });
    }
    for i in 0..share(5) {
        let case = format!("slow-{i}");
        let req = sign(&slow, &case, &body(&case, 300), None);
        let job = if i % 5 == 0 {
            Job {
                kind: Kind::Trickled,
                req,
            }
        } else {
            let declared = req.body.len() as u64 + 50;
            Job {
                kind: Kind::Stalled,
                req: req.content_length(declared),
            }
        };
        jobs.push(job);
    }
    assert_eq!(jobs.len(), DELIVERIES);
    // Fisher-Yates with a fixed linear congruential generator.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..jobs.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        jobs.swap(i, (state >> 33) as usize % (i + 1));
    }
    (jobs, unique)
}

/// The answer in the table's terms: `200 handled`, `200 duplicate`, or the
/// status and error code.
fn outcome(response: &RawResponse) -> String {
    if response.header(SCHEME_HEADER).is_some() {
        return format!("{} handled", response.status);
    }
    let text = response.text();
    if response.status == 200 && text == DUPLICATE_BODY {
        return "200 duplicate".to_owned();
    }
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("unexpected {text:?}"));
    format!("{} {code}", response.status)
}

/// One kilobyte figure from `/proc/self/status` (`VmHWM`, `VmRSS`).
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux 4.0+); false
/// when the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[derive(Debug, Default)]
struct Tally {
    /// Answers per kind.
    outcomes: BTreeMap<(Kind, String), usize>,
    /// Connections that failed (retried for valid deliveries).
    io_errors: usize,
    failures: Vec<String>,
}

/// One run: `adapter` with `backend`, all 10 000 requests.
async fn run(adapter: Adapter, backend: &Backend, label: &str) -> Vec<String> {
    let (jobs, unique) = jobs();
    let recorder = Arc::new(Recorder::default());
    let addr = serve(adapter, backend, Arc::clone(&recorder)).await;
    let reset = reset_peak_rss();
    let rss_before = proc_status_kib("VmHWM:").unwrap_or(0);

    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (jobs, next, tally) = (Arc::clone(&jobs), Arc::clone(&next), Arc::clone(&tally));
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, SeqCst);
                    let Some(job) = jobs.get(index) else {
                        return;
                    };
                    // A provider retries a delivery that got no answer; three tries at most.
                    let mut answer = None;
                    for _ in 0..3 {
                        let response = match job.kind {
                            Kind::Trickled => {
                                raw_trickle(addr, &job.req, Duration::from_millis(25))
                                    .await
                                    .response
                            }
                            _ => raw_send(addr, &job.req).await,
                        };
                        match response {
                            Ok(response) => {
                                answer = Some(outcome(&response));
                                break;
                            }
                            Err(_) => tally.lock().unwrap().io_errors += 1,
                        }
                        if !matches!(job.kind, Kind::Valid | Kind::Duplicate) {
                            break;
                        }
                    }
                    let answer = answer.unwrap_or_else(|| "no answer".to_owned());
                    let mut tally = tally.lock().unwrap();
                    if !job.kind.accepts(&answer) {
                        tally
                            .failures
                            .push(format!("{:?} request {index}: got {answer}", job.kind));
                    }
                    *tally.outcomes.entry((job.kind, answer)).or_default() += 1;
                }
            })
        })
        .collect();
    let all = async {
        for worker in workers {
            worker.await.expect("a client task");
        }
    };
    let finished = tokio::time::timeout(RUN_LIMIT, all).await.is_ok();
    let elapsed = started.elapsed();
    let rss_peak = proc_status_kib("VmHWM:").unwrap_or(0);
    let rss_now = proc_status_kib("VmRSS:").unwrap_or(0);

    let mut tally = Arc::try_unwrap(tally)
        .map(|tally| tally.into_inner().unwrap())
        .unwrap_or_default();
    if !finished {
        tally
            .failures
            .push(format!("not finished within {RUN_LIMIT:?}"));
    }
    let mut handled_twice = 0;
    let mut never_handled = 0;
    for case in &unique {
        match recorder.calls(case) {
            1 => {}
            0 => never_handled += 1,
            _ => handled_twice += 1,
        }
    }
    if handled_twice + never_handled > 0 {
        tally.failures.push(format!(
            "{handled_twice} valid deliveries handled more than once, {never_handled} never"
        ));
    }
    let mut others = 0;
    for prefix in ["forged", "stale", "oversized", "slow"] {
        for i in 0..DELIVERIES {
            others += recorder.calls(&format!("{prefix}-{i}"));
        }
    }
    if others > 0 {
        tally.failures.push(format!(
            "{others} forged, stale, oversized or slow deliveries handled"
        ));
    }
    let growth = rss_peak.saturating_sub(rss_before);
    if growth > RSS_BOUND_KIB {
        tally.failures.push(format!(
            "peak RSS grew by {growth} KiB, over {RSS_BOUND_KIB} KiB"
        ));
    }

    let seconds = elapsed.as_secs_f64();
    println!(
        "== {label}: {DELIVERIES} deliveries over {CONNECTIONS} connections in {seconds:.2} s = {:.0} deliveries/s",
        DELIVERIES as f64 / seconds
    );
    println!(
        "   valid unique handled exactly once: {}/{}; connection errors retried or failed: {}",
        unique.len() - handled_twice - never_handled,
        unique.len(),
        tally.io_errors
    );
    println!(
        "   peak RSS {} MiB (was {} MiB at the start{}), RSS now {} MiB",
        rss_peak / 1024,
        rss_before / 1024,
        if reset {
            ", peak reset"
        } else {
            "; peak not resettable"
        },
        rss_now / 1024
    );
    for ((kind, answer), count) in &tally.outcomes {
        println!("   {kind:?}: {answer} x{count}");
    }
    tally
        .failures
        .into_iter()
        .map(|failure| format!("{label}: {failure}"))
        .collect()
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: cargo test --release --test adversarial -- --ignored --nocapture"]
async fn adversarial_load_on_both_adapters_and_both_stores() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, SeqCst);
        default_hook(info);
    }));

    let mut failures = Vec::new();
    for adapter in ADAPTERS {
        let label = format!("{adapter:?} + MemoryStore");
        failures.extend(run(adapter, &Backend::Memory, &label).await);
    }
    let server = RedisServer::start();
    if let Some(server) = &server {
        let store = RedisStore::connect(&server.url())
            .await
            .expect("Redis answers");
        for adapter in ADAPTERS {
            let label = format!("{adapter:?} + RedisStore");
            failures.extend(run(adapter, &Backend::Redis(store.clone()), &label).await);
        }
    }
    let panics = PANICS.load(SeqCst);
    if panics > 0 {
        failures.push(format!("{panics} panics"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
