//! The load harness of issue 8: the same webhook route on axum and on
//! actix-web, bare, behind a naive verifying middleware, and behind
//! hookwarden, each served on 127.0.0.1 and driven by one generator with the
//! same load; prints requests per second, p50/p99 latency and the ratios.
//!
//! Run with: `bash scripts/bench.sh` (builds in release, installs what is
//! missing), or `cargo run --release -p hookwarden-bench -- load [options]`:
//!
//! - `--seconds N` measured seconds per server (default 8), after
//!   `--warmup N` seconds (default 2);
//! - `--rounds N` (default 3): every server is measured once per round, in
//!   turn, so that a change in the machine's load touches all of them;
//! - `--connections N` (default 64);
//! - `--only a,b` to run only the servers named;
//! - `--together`: each round runs every server at once, all on core 0,
//!   with the connections shared out among them, instead of one after the
//!   other. On a shared machine whose speed changes from second to second
//!   the servers then see the same machine, and their CPU per request can
//!   be compared; their req/s depend on how the core was shared and say
//!   little.
//!
//! Each server runs in a process of its own on core 0 and the generator in
//! one on core 1 (`taskset`), when the machine has two cores and `taskset`.
//! Beside req/s and latency it reports the server process's CPU time per
//! answered request (the scheduler's count, `/proc/<pid>/task/*/schedstat`)
//! and how busy its core was: a server whose core is not near 100% busy is
//! waiting for the generator, and its req/s says less than its CPU per
//! request.
//! The servers run one thread (a current-thread Tokio runtime; one actix-web
//! worker). Every request is a Standard Webhooks delivery of a 1 KiB body
//! with a new `webhook-id`, signed by the generator as it goes.
//!
//! The servers, all answering 200 `ok`:
//! - `axum-baseline`, `actix-baseline`: the handler takes the body
//!   (`Bytes`) and checks nothing;
//! - `axum-mac`, `actix-mac`: the baseline plus the bare MAC: the handler
//!   feeds a pre-keyed HMAC the signed parts and checks the signature with
//!   `verify_slice`; no other check, no dedupe. What it costs beyond the
//!   baseline is the MAC's cost in a server, the unit of the issue's budget
//!   (hookwarden may add at most 1.3 times it, column `extra / MAC`);
//! - `axum-buffer`: a middleware that only buffers the body and hands it
//!   on: what any buffering middleware costs in axum before it checks
//!   anything (not in the default set; `--only` runs it);
//! - `axum-naive`, `actix-naive`: a middleware buffering the body, keying
//!   HMAC anew per request over `format!("{id}.{ts}.{body}")`, comparing
//!   base64 text with `==`, deduplicating in a `Mutex<HashMap>`: what a
//!   hand-written verifier usually does. Its map starts with as many IDs
//!   as the hookwarden servers' full store (it never forgets one, so a
//!   while in production leaves it at least that many);
//! - `axum-hookwarden`, `actix-hookwarden`: hookwarden's `WebhookLayer` /
//!   `Webhook` middleware with the default `MemoryStore`, filled before the
//!   server starts (as after a while in production: each delivery takes an
//!   old one's place);
//! - `axum-hookwarden-small`: the same with a `MemoryStore` of 1,024
//!   entries instead of the default 100,000: a store that stays in the
//!   CPU's caches, to show what the default store's cache misses cost
//!   (not in the default set either);
//! - `axum-hookwarden-redis`: the layer with a `RedisStore` on a local
//!   `redis-server` (pinned with the server, on core 0).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::{presets, DedupeStore, Gate, MemoryStore, Verifier, DEFAULT_CAPACITY};
use sha2::Sha256;

/// The Standard Webhooks secret every server and the generator share.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The request body's size.
const BODY_LEN: usize = 1024;

/// Servers that explain a figure rather than answer a target: run only
/// when `--only` names them.
const DIAGNOSTIC: &[&str] = &["axum-buffer", "axum-hookwarden-small"];

const SERVERS: &[&str] = &[
    "axum-baseline",
    "axum-mac",
    "axum-buffer",
    "axum-naive",
    "axum-hookwarden",
    "axum-hookwarden-small",
    "actix-baseline",
    "actix-mac",
    "actix-naive",
    "actix-hookwarden",
    "axum-hookwarden-redis",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("load") => load(&args[1..]),
        // Internal: the orchestrator starts each server and generator with these.
        Some("serve") if args.len() >= 3 => {
            serve(&args[1], &args[2], args.get(3).map(String::as_str))
        }
        Some("drive") => drive(&args[1..]),
        Some("--help" | "-h") => usage(0),
        _ => usage(2),
    }
}

/// Prints how to call the harness and exits with `code`.
fn usage(code: i32) -> ! {
    eprintln!("usage: hookwarden-load load [--seconds N] [--warmup N] [--rounds N] [--connections N] [--only a,b] [--together]");
    std::process::exit(code);
}

fn key() -> Vec<u8> {
    STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("the secret is base64")
}

/// The body every request carries: 1 KiB of JSON.
fn body() -> Vec<u8> {
    let mut out = br#"{"type":"payment.completed","data":""#.to_vec();
    out.resize(BODY_LEN - 2, b'x');
    out.extend_from_slice(br#""}"#);
    out
}

// ------------------------------------------------------------------ servers

fn serve(name: &str, port: &str, redis: Option<&str>) {
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port.parse().expect("a port")).into();
    if name.starts_with("actix") {
        actix_web::rt::System::new().block_on(actix(name, addr));
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(axum_server(name, addr, redis));
    }
}

async fn axum_server(name: &str, addr: SocketAddr, redis: Option<&str>) {
    use axum::routing::post;
    use axum::Router;
    use hookwarden_tower::WebhookLayer;

    async fn ok(_body: axum::body::Bytes) -> &'static str {
        "ok"
    }
    let route = Router::new().route("/hook", post(ok));
    let app = match name {
        "axum-baseline" => route,
        "axum-mac" => {
            let floor = Arc::new(Floor::new());
            // The baseline's `Bytes` extraction and answer, with the MAC
            // checked first; the headers are read in place, not copied.
            Router::new().route(
                "/hook",
                post(move |req: axum::extract::Request| async move {
                    let (parts, body) = req.into_parts();
                    let Ok(body) = axum::body::to_bytes(body, 2 * 1024 * 1024).await else {
                        return Err(axum::http::StatusCode::BAD_REQUEST);
                    };
                    if floor.check(|name| parts.headers.get(name).map(|v| v.as_bytes()), &body) {
                        Ok(ok(body).await)
                    } else {
                        Err(axum::http::StatusCode::UNAUTHORIZED)
                    }
                }),
            )
        }
        "axum-buffer" => route.route_layer(axum::middleware::from_fn(buffer_axum)),
        "axum-naive" => {
            let state = Naive::new(DEFAULT_CAPACITY);
            route.layer(axum::middleware::from_fn(move |req, next| {
                naive_axum(state.clone(), req, next)
            }))
        }
        "axum-hookwarden" => route.route_layer(WebhookLayer::new(gate(DEFAULT_CAPACITY))),
        "axum-hookwarden-small" => route.route_layer(WebhookLayer::new(gate(1024))),
        "axum-hookwarden-redis" => {
            let url = redis.expect("a Redis URL");
            let store = hookwarden_redis::RedisStore::connect(url)
                .await
                .expect("Redis answers")
                .with_prefix(format!("bench{}:", addr.port()));
            route.route_layer(WebhookLayer::new(Gate::new(verifier()).with_store(store)))
        }
        other => panic!("no server {other}"),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}

async fn actix(name: &str, addr: SocketAddr) {
    use actix_web::{web, App, HttpServer};
    use hookwarden_actix::Webhook;

    async fn ok(_body: web::Bytes) -> &'static str {
        "ok"
    }
    let name = name.to_owned();
    // Only the hookwarden and naive servers pay for filling their stores.
    let webhook = (name == "actix-hookwarden").then(|| Webhook::new(gate(DEFAULT_CAPACITY)));
    let naive = Naive::new(if name == "actix-naive" {
        DEFAULT_CAPACITY
    } else {
        0
    });
    let floor = web::Data::new(Floor::new());
    HttpServer::new(move || {
        let (name, webhook, naive) = (name.clone(), webhook.clone(), naive.clone());
        let floor = floor.clone();
        App::new().configure(move |config| {
            let resource = web::resource("/hook");
            match name.as_str() {
                "actix-baseline" => config.service(resource.route(web::post().to(ok))),
                "actix-mac" => config
                    .app_data(floor)
                    .service(resource.route(web::post().to(mac_actix))),
                "actix-naive" => config.service(resource.route(web::post().to(ok).wrap(
                    actix_web::middleware::from_fn(move |req, next| {
                        naive_actix(naive.clone(), req, next)
                    }),
                ))),
                "actix-hookwarden" => {
                    let webhook = webhook.expect("built for this server");
                    config.service(resource.route(web::post().to(ok).wrap(webhook)))
                }
                other => panic!("no server {other}"),
            };
        })
    })
    .workers(1)
    .bind(addr)
    .expect("bind")
    .run()
    .await
    .expect("serve");
}

async fn mac_actix(
    floor: actix_web::web::Data<Floor>,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
) -> actix_web::Result<&'static str> {
    // The baseline's answer (`&str`: text/plain "ok").
    if floor.check(|name| req.headers().get(name).map(|v| v.as_bytes()), &body) {
        Ok("ok")
    } else {
        Err(actix_web::error::ErrorUnauthorized(""))
    }
}

/// The bare MAC of a Standard Webhooks delivery: a pre-keyed HMAC cloned,
/// fed `id.ts.body`, and checked against the header's one `v1,` signature
/// with `verify_slice` (constant time). Nothing else is checked.
struct Floor {
    mac: Hmac<Sha256>,
}

impl Floor {
    fn new() -> Self {
        Self {
            mac: Hmac::new_from_slice(&key()).expect("any key"),
        }
    }

    fn check<'a>(&self, header: impl Fn(&str) -> Option<&'a [u8]>, body: &[u8]) -> bool {
        let (Some(id), Some(ts), Some(signature)) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        ) else {
            return false;
        };
        let mut tag = [0u8; 48];
        let decoded = signature
            .strip_prefix(b"v1,")
            .and_then(|b64| STANDARD.decode_slice(b64, &mut tag).ok());
        let mut mac = self.mac.clone();
        for part in [id, b".", ts, b".", body] {
            mac.update(part);
        }
        decoded.is_some_and(|len| mac.verify_slice(&tag[..len]).is_ok())
    }
}

fn verifier() -> Verifier {
    Verifier::new(presets::standard_webhooks(), SECRET).expect("a valid secret")
}

/// The gate of the hookwarden servers: the defaults, with a memory store of
/// `capacity` entries filled beforehand, as in a server that has run for a
/// while, so that every delivery measured takes the place of an old one.
fn gate(capacity: usize) -> Gate<MemoryStore> {
    let store = MemoryStore::with_capacity(capacity);
    let lease = hookwarden_core::DEFAULT_LEASE;
    let retention = hookwarden_core::DEFAULT_RETENTION;
    // Keys land in the shards at random: twice the capacity fills them all.
    for n in 0..2 * capacity {
        let key = format!("standard-webhooks:warm_{n}");
        let reserved = ready(store.reserve(&key, lease)).expect("infallible");
        if let hookwarden_core::Reservation::Acquired(token) = reserved {
            ready(store.complete(&key, token, retention)).expect("infallible");
        }
    }
    Gate::new(verifier()).with_store(store)
}

/// The output of a future that is ready at its first poll (the memory
/// store's are).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the memory store never waits"),
    }
}

/// What a hand-written verifier keeps: the key and every ID it has seen.
#[derive(Clone)]
struct Naive {
    key: Arc<Vec<u8>>,
    seen: Arc<Mutex<HashMap<String, ()>>>,
}

impl Naive {
    /// A verifier that has already seen `seen` IDs. It never forgets one,
    /// so after a while in production it holds at least as many as the
    /// hookwarden servers' full store: the two start from the same count.
    /// With room for as many again, so that no resize lands inside a
    /// measured round (over a map's life, growing costs about one move per
    /// insert; one resize in a round of ~25,000 inserts would count ~4).
    fn new(seen: usize) -> Self {
        let mut ids = HashMap::with_capacity(2 * seen);
        ids.extend((0..seen).map(|n| (format!("warm_{n}"), ())));
        Self {
            key: Arc::new(key()),
            seen: Arc::new(Mutex::new(ids)),
        }
    }

    /// The usual hand-written check; `Err(status)` to refuse.
    fn check(&self, header: impl Fn(&str) -> Option<String>, body: &[u8]) -> Result<(), u16> {
        let id = header("webhook-id").ok_or(400u16)?;
        let ts = header("webhook-timestamp").ok_or(400u16)?;
        let signatures = header("webhook-signature").ok_or(401u16)?;
        let ts_secs: u64 = ts.parse().map_err(|_| 400u16)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now.abs_diff(ts_secs) > 300 {
            return Err(401);
        }
        let payload = std::str::from_utf8(body).map_err(|_| 400u16)?;
        let to_sign = format!("{id}.{ts}.{payload}");
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).map_err(|_| 500u16)?;
        mac.update(to_sign.as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        // Deliberately naive, for this baseline only: `==` on the base64
        // text is not constant time. hookwarden never compares this way.
        if !signatures.split(' ').any(|candidate| candidate == expected) {
            return Err(401);
        }
        let mut seen = self.seen.lock().map_err(|_| 500u16)?;
        if seen.insert(id, ()).is_some() {
            return Err(409);
        }
        Ok(())
    }
}

/// Buffers the body and passes the request on, checking nothing.
async fn buffer_axum(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn naive_axum(
    naive: Naive,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match naive.check(header, &bytes) {
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(status) => axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    }
}

async fn naive_actix(
    naive: Naive,
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let bytes = req.extract::<actix_web::web::Bytes>().await?;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match naive.check(header, &bytes) {
        Ok(()) => {
            req.set_payload(actix_web::dev::Payload::from(bytes));
            next.call(req).await
        }
        Err(status) => {
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
            Ok(req.into_response(actix_web::HttpResponse::new(status)))
        }
    }
}

// ---------------------------------------------------------------- generator

/// `drive <port> <warmup s> <seconds> <connections> <id prefix>`: prints
/// `RESULT <ok> <failed> <seconds> <p50 µs> <p99 µs> <answers in all>`,
/// the last counting the warm-up too (for the server's CPU per request).
fn drive(args: &[String]) {
    let [port, warmup, seconds, connections, prefix] = args else {
        panic!("drive <port> <warmup> <seconds> <connections> <prefix>");
    };
    let port: u16 = port.parse().expect("a port");
    let warmup = Duration::from_secs_f64(warmup.parse().expect("seconds"));
    let seconds = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let connections: usize = connections.parse().expect("a count");
    let prefix = prefix.clone();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async move {
            let start = Instant::now() + warmup;
            let end = start + seconds;
            let mac = Hmac::<Sha256>::new_from_slice(&key()).expect("any key");
            let body = Arc::new(body());
            let tasks: Vec<_> = (0..connections)
                .map(|n| {
                    let (mac, body) = (mac.clone(), Arc::clone(&body));
                    let prefix = format!("{prefix}{n:03x}");
                    tokio::spawn(connection(port, mac, body, prefix, start, end))
                })
                .collect();
            let (mut ok, mut failed, mut all, mut latencies) = (0u64, 0u64, 0u64, Vec::new());
            for task in tasks {
                let (o, f, a, l) = task.await.expect("a connection task");
                ok += o;
                failed += f;
                all += a;
                latencies.extend(l);
            }
            latencies.sort_unstable();
            let pct = |p: f64| {
                latencies
                    .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
                    .copied()
                    .unwrap_or(0)
            };
            println!(
                "RESULT {ok} {failed} {:.3} {} {} {all}",
                seconds.as_secs_f64(),
                pct(0.50),
                pct(0.99)
            );
        });
}

/// One keep-alive connection sending deliveries back to back; counts the
/// answers that arrive between `start` and `end`.
async fn connection(
    port: u16,
    mac: Hmac<Sha256>,
    body: Arc<Vec<u8>>,
    prefix: String,
    start: Instant,
    end: Instant,
) -> (u64, u64, u64, Vec<u32>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("nodelay");
    let (mut ok, mut failed, mut all, mut latencies) = (0, 0, 0, Vec::with_capacity(1 << 16));
    let mut request = Vec::with_capacity(BODY_LEN + 512);
    let mut response = vec![0u8; 4096];
    let mut counter = 0u64;
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        counter += 1;
        let id = format!("msg_{prefix}{counter:012x}");
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let mut signer = mac.clone();
        for part in [id.as_bytes(), b".", ts.as_bytes(), b".", &body[..]] {
            signer.update(part);
        }
        let signature = STANDARD.encode(signer.finalize().into_bytes());
        request.clear();
        request.extend_from_slice(
            format!(
                "POST /hook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nwebhook-id: {id}\r\nwebhook-timestamp: {ts}\r\n\
                 webhook-signature: v1,{signature}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(&body);
        if stream.write_all(&request).await.is_err() {
            break;
        }
        // Read one response: the head, then `content-length` bytes of body.
        let mut filled = 0;
        let (status, total) = loop {
            match stream.read(&mut response[filled..]).await {
                Ok(0) | Err(_) => return (ok, failed + 1, all, latencies),
                Ok(n) => filled += n,
            }
            if let Some(head) = parse_head(&response[..filled]) {
                break head;
            }
        };
        while filled < total {
            match stream.read(&mut response[filled..total]).await {
                Ok(0) | Err(_) => return (ok, failed + 1, all, latencies),
                Ok(n) => filled += n,
            }
        }
        all += 1;
        let done = Instant::now();
        if sent >= start && done <= end {
            if status == 200 {
                ok += 1;
                latencies
                    .push(u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX));
            } else {
                failed += 1;
            }
        }
    }
    (ok, failed, all, latencies)
}

/// The status and the whole response's length, once the head has arrived.
fn parse_head(buf: &[u8]) -> Option<(u16, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    Some((status, end + length))
}

// ------------------------------------------------------------- orchestrator

struct Options {
    seconds: f64,
    warmup: f64,
    rounds: usize,
    connections: usize,
    only: Vec<String>,
    together: bool,
}

fn options(args: &[String]) -> Options {
    let mut options = Options {
        seconds: 8.0,
        warmup: 2.0,
        rounds: 3,
        connections: 64,
        only: SERVERS
            .iter()
            .filter(|s| !DIAGNOSTIC.contains(s))
            .map(|s| s.to_string())
            .collect(),
        together: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--together" => options.together = true,
            "--help" | "-h" => usage(0),
            "--seconds" => options.seconds = value(flag, args.next()),
            "--warmup" => options.warmup = value(flag, args.next()),
            "--rounds" => options.rounds = value(flag, args.next()),
            "--connections" => options.connections = value(flag, args.next()),
            "--only" => {
                let list: String = value(flag, args.next());
                options.only = list.split(',').map(str::to_owned).collect();
            }
            other => {
                eprintln!("unknown option {other}");
                usage(2)
            }
        }
    }
    options
}

/// The value after `flag`, parsed; a missing or bad one ends the harness
/// with the usage.
fn value<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> T {
    let Some(text) = value else {
        eprintln!("{flag} takes a value");
        usage(2)
    };
    text.parse().unwrap_or_else(|_| {
        eprintln!("{flag}: not a valid value: {text}");
        usage(2)
    })
}

/// The command prefix that pins a process to `core`, where that works.
fn pinned(core: usize, pin: bool) -> Command {
    if pin {
        let mut command = Command::new("taskset");
        command.args(["-c", &core.to_string()]);
        command
    } else {
        Command::new(std::env::current_exe().expect("own path"))
    }
}

fn run(pin: bool, core: usize, args: &[&str]) -> Command {
    let mut command = pinned(core, pin);
    if pin {
        command.arg(std::env::current_exe().expect("own path"));
    }
    command.args(args);
    command
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A child process killed (and reaped) when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Clone, Copy)]
struct Measured {
    rps: f64,
    p50: u32,
    p99: u32,
    failed: u64,
    /// The server process's CPU time per answered request, in µs.
    cpu_us: f64,
    /// How busy the server's core was while the generator ran (1 = fully).
    busy: f64,
}

/// CPU time of process `pid` so far, in seconds (Linux): the scheduler's
/// nanosecond count summed over its threads, or, where the kernel keeps no
/// such count, user + system time in 10 ms ticks (too coarse for a few
/// thousand requests a round).
fn cpu_seconds(pid: u32) -> f64 {
    let nanos: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split(' ').next()?.parse::<u64>().ok())
        .sum();
    if nanos > 0 {
        return nanos as f64 / 1e9;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(&b""[..], |(_, rest)| rest.as_bytes())
        .split(|&b| b == b' ')
        .filter_map(|f| std::str::from_utf8(f).ok())
        .filter(|f| !f.is_empty())
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn load(args: &[String]) {
    let options = options(args);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cores >= 2
        && Command::new("taskset")
            .args(["-c", "0", "true"])
            .status()
            .is_ok_and(|s| s.success());
    println!(
        "hookwarden load harness: {} connections, {} s (+{} s warm-up) per server, {} rounds{}; {}",
        options.connections,
        options.seconds,
        options.warmup,
        options.rounds,
        if options.together {
            ", all servers of a round at once"
        } else {
            ""
        },
        if pin {
            "servers (and Redis) on core 0, generator on core 1".to_owned()
        } else {
            format!("NOT pinned ({cores} cores or no taskset): figures share cores")
        }
    );

    let redis_port = free_port();
    let redis_dir = std::env::temp_dir().join(format!("hookwarden-load-redis-{redis_port}"));
    let _redis = options.only.iter().any(|s| s.ends_with("redis")).then(|| {
        std::fs::create_dir_all(&redis_dir).expect("a folder for Redis");
        let mut command = pinned(0, pin);
        if pin {
            command.arg("redis-server");
        } else {
            command = Command::new("redis-server");
        }
        let child = command
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&redis_dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (bash scripts/bench.sh installs it)");
        wait_for(redis_port);
        Owned(child)
    });
    let redis_url = format!("redis://127.0.0.1:{redis_port}");

    let servers: Vec<&str> = SERVERS
        .iter()
        .copied()
        .filter(|s| options.only.iter().any(|o| o == s))
        .collect();
    let mut results: HashMap<&str, Vec<Measured>> = HashMap::new();
    for round in 0..options.rounds {
        println!(
            "round {} of {}: load average {}",
            round + 1,
            options.rounds,
            loadavg()
        );
        // In turn, one server at a time with every connection; or
        // together, every server at once on the same core, the connections
        // shared out, so that all of them see the same machine.
        let batches: Vec<&[&str]> = if options.together {
            vec![&servers[..]]
        } else {
            servers.chunks(1).collect()
        };
        let connections = if options.together {
            (options.connections / servers.len()).max(1)
        } else {
            options.connections
        };
        for batch in batches {
            let started: Vec<(Owned, String)> = batch
                .iter()
                .map(|&server| {
                    let port = free_port().to_string();
                    let mut serve_args = vec!["serve", server, &port];
                    if server.ends_with("redis") {
                        serve_args.push(&redis_url);
                    }
                    let process = run(pin, 0, &serve_args)
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("start a server");
                    (Owned(process), port)
                })
                .collect();
            for (_, port) in &started {
                wait_for(port.parse().expect("a port"));
            }
            let before: Vec<f64> = started.iter().map(|(p, _)| cpu_seconds(p.0.id())).collect();
            let wall_before = Instant::now();
            let drivers: Vec<Child> = batch
                .iter()
                .zip(&started)
                .map(|(&server, (_, port))| {
                    let index = servers.iter().position(|s| *s == server).unwrap_or(0);
                    let prefix = format!("{round:x}{index:x}");
                    run(
                        pin,
                        1,
                        &[
                            "drive",
                            port,
                            &options.warmup.to_string(),
                            &options.seconds.to_string(),
                            &connections.to_string(),
                            &prefix,
                        ],
                    )
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("run the generator")
                })
                .collect();
            let outputs: Vec<_> = drivers
                .into_iter()
                .map(|driver| driver.wait_with_output().expect("the generator's output"))
                .collect();
            let wall = wall_before.elapsed().as_secs_f64();
            for (((&server, (process, _)), output), before) in
                batch.iter().zip(&started).zip(outputs).zip(before)
            {
                let cpu = cpu_seconds(process.0.id()) - before;
                let text = String::from_utf8_lossy(&output.stdout);
                let fields: Vec<&str> = text
                    .lines()
                    .find_map(|l| l.strip_prefix("RESULT "))
                    .unwrap_or_else(|| panic!("{server}: the generator printed {text}"))
                    .split_whitespace()
                    .collect();
                let ok: f64 = fields[0].parse().expect("a count");
                let measured = Measured {
                    rps: ok / fields[2].parse::<f64>().expect("seconds"),
                    p50: fields[3].parse().expect("µs"),
                    p99: fields[4].parse().expect("µs"),
                    failed: fields[1].parse().expect("a count"),
                    cpu_us: cpu * 1e6 / fields[5].parse::<f64>().expect("a count").max(1.0),
                    busy: cpu / wall,
                };
                println!(
                    "  {server:<24} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  server CPU {:>5.1} µs/req, core {:>3.0}% busy  failed {}",
                    measured.rps,
                    measured.p50,
                    measured.p99,
                    measured.cpu_us,
                    measured.busy * 100.0,
                    measured.failed
                );
                results.entry(server).or_default().push(measured);
            }
        }
    }
    println!("load average at the end: {}", loadavg());
    report(&servers, &results);
    let _ = std::fs::remove_dir_all(&redis_dir);
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Per server: req/s min/median/max over the rounds, median p50/p99, and
/// the median over rounds of the ratios to the same round's baseline and
/// naive server.
fn report(servers: &[&str], results: &HashMap<&str, Vec<Measured>>) {
    println!();
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>8} {:>8} {:>11} {:>9} {:>9} {:>9} {:>12}",
        "server",
        "min r/s",
        "median",
        "max",
        "p50 µs",
        "p99 µs",
        "/ baseline",
        "/ naive",
        "CPU µs/r",
        "CPU / bl",
        "extra / MAC"
    );
    for &server in servers {
        let runs = &results[server];
        let framework = if server.starts_with("actix") {
            "actix"
        } else {
            "axum"
        };
        let ratio_to = |other: String| {
            results
                .get(other.as_str())
                .map(|base| median(runs.iter().zip(base).map(|(a, b)| a.rps / b.rps).collect()))
        };
        let fmt = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.3}"));
        let rps: Vec<f64> = runs.iter().map(|m| m.rps).collect();
        let cpu_ratio = results
            .get(format!("{framework}-baseline").as_str())
            .map(|base| {
                median(
                    runs.iter()
                        .zip(base)
                        .map(|(a, b)| a.cpu_us / b.cpu_us)
                        .collect(),
                )
            });
        // CPU per request beyond the baseline, in units of the bare MAC's
        // (the `-mac` server's CPU beyond the baseline), per round.
        let extra_per_mac = results
            .get(format!("{framework}-baseline").as_str())
            .zip(results.get(format!("{framework}-mac").as_str()))
            .map(|(base, mac)| {
                median(
                    runs.iter()
                        .zip(base.iter().zip(mac))
                        .map(|(a, (b, m))| (a.cpu_us - b.cpu_us) / (m.cpu_us - b.cpu_us))
                        .collect(),
                )
            });
        println!(
            "{server:<24} {:>9.0} {:>9.0} {:>9.0} {:>8.0} {:>8.0} {:>11} {:>9} {:>9.1} {:>9} {:>12}",
            rps.iter().copied().fold(f64::MAX, f64::min),
            median(rps.clone()),
            rps.iter().copied().fold(0.0, f64::max),
            median(runs.iter().map(|m| f64::from(m.p50)).collect()),
            median(runs.iter().map(|m| f64::from(m.p99)).collect()),
            fmt(ratio_to(format!("{framework}-baseline"))),
            fmt(ratio_to(format!("{framework}-naive"))),
            median(runs.iter().map(|m| m.cpu_us).collect()),
            fmt(cpu_ratio),
            fmt(extra_per_mac),
        );
        let failed: u64 = runs.iter().map(|m| m.failed).sum();
        if failed > 0 {
            println!("  ({failed} requests answered other than 200)");
        }
    }
}
