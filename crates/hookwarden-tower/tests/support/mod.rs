//! Shared test helpers: signing, a raw HTTP/1.1 client, a scripted handler,
//! app builders and a counting (or failing) dedupe store.
#![allow(dead_code)] // every test binary uses a different part

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hookwarden_core::{
    presets, DedupeStore, Gate, MemoryStore, Reservation, SignOptions, Signer, Token, Verified,
    Verifier,
};
use http::HeaderMap;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The NTX Pay secret the apps verify with.
pub(crate) const SECRET: &str = "whsec_hookwarden_test_secret";
/// A Standard Webhooks secret (`whsec_` + base64).
pub(crate) const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The body limit of the fixture's routes.
pub(crate) const LIMIT: usize = 1024;
/// How long any single exchange may take before a test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- signing

pub(crate) fn verifier() -> Verifier {
    Verifier::new(presets::ntxpay(), SECRET).expect("ntxpay verifier")
}

pub(crate) fn sw_verifier() -> Verifier {
    Verifier::new(presets::standard_webhooks(), SW_SECRET).expect("standard webhooks verifier")
}

/// NTX Pay headers for `body`, delivery `id`, signed with `secret`.
pub(crate) fn ntxpay_headers(secret: &str, body: &[u8], id: &str) -> HeaderMap {
    Signer::new(presets::ntxpay(), secret)
        .expect("ntxpay signer")
        .sign(body, &SignOptions::new().with_id(id))
        .expect("sign")
}

/// Standard Webhooks headers for `body`, delivery `id`, timestamp `at`.
pub(crate) fn sw_headers(body: &[u8], id: &str, at: SystemTime) -> HeaderMap {
    Signer::new(presets::standard_webhooks(), SW_SECRET)
        .expect("standard webhooks signer")
        .sign(body, &SignOptions::new().with_id(id).with_timestamp(at))
        .expect("sign")
}

// ---------------------------------------------------------------- requests

/// A request, sendable both with `oneshot` and over a raw TCP connection,
/// byte for byte as written here.
#[derive(Clone)]
pub(crate) struct Req {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    /// A declared `Content-Length` other than the body's length.
    content_length: Option<u64>,
    /// Send the body chunked, in chunks of this size, with no `Content-Length`.
    chunked: Option<usize>,
    /// Send what there is, then keep the connection open without ending the body.
    stall: bool,
    /// Send what there is, then close the writing half.
    half_close: bool,
    /// Leave out `Connection: close`.
    keep_alive: bool,
}

impl Req {
    pub(crate) fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            content_length: None,
            chunked: None,
            stall: false,
            half_close: false,
            keep_alive: false,
        }
    }

    pub(crate) fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    /// A POST of `body` with valid NTX Pay headers for delivery `id`.
    pub(crate) fn signed(path: &str, body: &[u8], id: &str) -> Self {
        Self::post(path)
            .headers(&ntxpay_headers(SECRET, body, id))
            .body(body)
    }

    /// A POST of `body` with Standard Webhooks headers signed at `at`.
    pub(crate) fn sw(path: &str, body: &[u8], id: &str, at: SystemTime) -> Self {
        Self::post(path)
            .headers(&sw_headers(body, id, at))
            .body(body)
    }

    pub(crate) fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    /// Appends every line of `map`.
    pub(crate) fn headers(mut self, map: &HeaderMap) -> Self {
        for (name, value) in map {
            self.headers
                .push((name.as_str().to_owned(), value.as_bytes().to_vec()));
        }
        self
    }

    /// Appends one header line, bytes as given.
    pub(crate) fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Drops every line of header `name`.
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces header `name` by one line holding `value`.
    pub(crate) fn replace(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.without(name).header(name, value)
    }

    /// The value of the first line of header `name`.
    pub(crate) fn value(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub(crate) fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Declares `len` as the `Content-Length`, whatever the body holds.
    pub(crate) fn content_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self
    }

    pub(crate) fn chunked(mut self, chunk: usize) -> Self {
        self.chunked = Some(chunk.max(1));
        self
    }

    pub(crate) fn stall(mut self) -> Self {
        self.stall = true;
        self
    }

    pub(crate) fn half_close(mut self) -> Self {
        self.half_close = true;
        self
    }

    pub(crate) fn keep_alive(mut self) -> Self {
        self.keep_alive = true;
        self
    }

    /// The request line and headers, up to and including the blank line.
    pub(crate) fn head(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nhost: 127.0.0.1\r\n",
            self.method, self.path
        )
        .into_bytes();
        if !self.keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if self.chunked.is_some() {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        } else {
            let len = self.content_length.unwrap_or(self.body.len() as u64);
            out.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The exact bytes written to the connection.
    pub(crate) fn wire(&self) -> Vec<u8> {
        let mut out = self.head();
        match self.chunked {
            None => out.extend_from_slice(&self.body),
            Some(size) => {
                for chunk in self.body.chunks(size) {
                    out.extend_from_slice(&chunk_frame(chunk));
                }
                if !self.stall {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
            }
        }
        out
    }

    /// The same request as an `http::Request` for `oneshot`.
    pub(crate) fn to_http(&self) -> http::Request<axum::body::Body> {
        let mut builder = http::Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header("host", "127.0.0.1");
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        let chunk = self.chunked.unwrap_or(usize::MAX);
        if self.chunked.is_none() {
            let len = self.content_length.unwrap_or(self.body.len() as u64);
            builder = builder.header("content-length", len);
        }
        let mut body = Chunks::new(self.body.chunks(chunk.min(self.body.len().max(1))));
        if self.stall {
            body = body.stalled();
        }
        builder
            .body(axum::body::Body::new(body))
            .expect("valid request")
    }
}

pub(crate) fn chunk_frame(chunk: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", chunk.len()).into_bytes();
    out.extend_from_slice(chunk);
    out.extend_from_slice(b"\r\n");
    out
}

/// A request body yielding the given chunks (then nothing, forever the same
/// chunk, or `Pending` forever), counting how often it was polled.
#[derive(Debug)]
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    endless: Option<Bytes>,
    stall: bool,
    polls: Arc<AtomicUsize>,
}

impl Chunks {
    pub(crate) fn new<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Self {
            chunks: chunks.into_iter().map(Bytes::copy_from_slice).collect(),
            endless: None,
            stall: false,
            polls: Arc::default(),
        }
    }

    /// `chunk` again and again, never ending.
    pub(crate) fn endless(chunk: Bytes) -> Self {
        Self {
            endless: Some(chunk),
            ..Self::new([])
        }
    }

    /// After the chunks, `Pending` forever instead of the end.
    pub(crate) fn stalled(mut self) -> Self {
        self.stall = true;
        self
    }

    /// How many times the body was polled, shared with the test.
    pub(crate) fn polls(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.polls)
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        this.polls.fetch_add(1, SeqCst);
        if let Some(chunk) = this.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match (&this.endless, this.stall) {
            (Some(chunk), _) => Poll::Ready(Some(Ok(Frame::data(chunk.clone())))),
            (None, true) => Poll::Pending,
            (None, false) => Poll::Ready(None),
        }
    }
}

// ---------------------------------------------------------------- responses

/// A response as read off the wire (or collected from `oneshot`).
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
                    .collect::<Vec<_>>(),
            )
            .field("body", &self.text())
            .finish()
    }
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a rejection by the layer: `status`, JSON content type and
    /// exactly `{"error":"<code>"}`.
    #[track_caller]
    pub(crate) fn assert_rejected(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some(&b"application/json"[..]),
            "{self:?}"
        );
        assert_eq!(self.text(), format!(r#"{{"error":"{code}"}}"#), "{self:?}");
    }

    /// Asserts the 200 answered for a duplicate of a handled delivery.
    #[track_caller]
    pub(crate) fn assert_duplicate(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.text(), hookwarden_core::DUPLICATE_BODY, "{self:?}");
    }

    /// Asserts the handler's own answer for delivery `id`.
    #[track_caller]
    pub(crate) fn assert_handled(&self, status: u16, id: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.text(), format!("handled {id}"), "{self:?}");
    }
}

/// Parses a complete response out of `buf`, or `None` when more is needed.
/// At `eof`, a response without framing ends where the data ends.
pub(crate) fn parse_response(buf: &[u8], eof: bool) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, Vec<u8>)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().as_bytes().to_vec()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
    };
    let rest = &buf[end + 4..];
    let body = if find("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = pos + rest[pos..].windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[pos..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                // No trailers are expected: the final CRLF ends the body.
                if rest.len() < pos + 2 {
                    return None;
                }
                break body;
            }
            if rest.len() < pos + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if eof || status == 204 || status == 304 || (100..200).contains(&status) {
        rest.to_vec()
    } else {
        return None;
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Reads one response; a read error after a complete response is ignored.
pub(crate) async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
) -> io::Result<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        if let Some(response) = parse_response(&buf, false) {
            return Ok(response);
        }
        match stream.read(&mut chunk).await {
            Ok(0) => {
                return parse_response(&buf, true).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection closed after {} bytes, no response", buf.len()),
                    )
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(err) => return parse_response(&buf, true).ok_or(err),
        }
    }
}

/// Sends `req` over a new connection and reads the answer.
pub(crate) async fn raw_send(addr: SocketAddr, req: &Req) -> io::Result<RawResponse> {
    raw_exchange(addr, &req.wire(), req.half_close).await
}

/// Writes `bytes` on a new connection (then closes the writing half if
/// `half_close`) and reads the answer.
pub(crate) async fn raw_exchange(
    addr: SocketAddr,
    bytes: &[u8],
    half_close: bool,
) -> io::Result<RawResponse> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        // The server may answer (and close) before reading everything: a
        // failed write is not the end, the answer may be waiting.
        let _ = stream.write_all(bytes).await;
        if half_close {
            let _ = stream.shutdown().await;
        }
        read_response(&mut stream).await
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))?
}

/// What [`stream_chunked`] saw.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub(crate) response: io::Result<RawResponse>,
    /// Body bytes written when the answer had arrived.
    pub(crate) sent_at_answer: u64,
    /// Body bytes written in all.
    pub(crate) sent: u64,
    /// How the writer ended.
    pub(crate) write_result: io::Result<()>,
}

/// Sends `req`'s head, then `total` body bytes in `chunk`-sized chunks,
/// while reading the answer at the same time.
pub(crate) async fn stream_chunked(
    addr: SocketAddr,
    req: &Req,
    chunk: usize,
    total: u64,
) -> Streamed {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let head = req.clone().chunked(chunk).head();
    let counter = Arc::clone(&sent);
    let write = tokio::spawn(async move {
        writer.write_all(&head).await?;
        let frame = chunk_frame(&vec![b'x'; chunk]);
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk as u64);
            if n == chunk as u64 {
                writer.write_all(&frame).await?;
            } else {
                writer
                    .write_all(&chunk_frame(&vec![b'x'; n as usize]))
                    .await?;
            }
            left -= n;
            counter.fetch_add(n, SeqCst);
        }
        writer.write_all(b"0\r\n\r\n").await?;
        writer.flush().await
    });
    let response = tokio::time::timeout(PATIENCE, read_response(&mut reader))
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")));
    let sent_at_answer = sent.load(SeqCst);
    // The server closed (or will): the writer ends with an error or has
    // written everything.
    let write_result = match tokio::time::timeout(PATIENCE, write).await {
        Ok(joined) => joined.expect("writer task"),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "writer still writing",
        )),
    };
    drop(reader);
    Streamed {
        response,
        sent_at_answer,
        sent: sent.load(SeqCst),
        write_result,
    }
}

/// Waits (up to [`PATIENCE`]) until `condition` holds: for state changed
/// by another task that offers nothing to await.
pub(crate) async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------- the handler

/// What the handler does on one call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reply {
    /// Answers with this status.
    Status(u16),
    /// Waits for [`Probe::release`], then answers 200.
    Hold,
    /// Sleeps, then answers 200.
    Sleep(Duration),
    /// Panics.
    Panic,
}

/// One call of the handler, as it saw the request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) body: Bytes,
    /// From the `Delivery` extractor (axum) or the extensions (hyper).
    pub(crate) delivery: Option<Verified>,
    /// From `Extension<Verified>`.
    pub(crate) extension: Option<Verified>,
}

/// The handler's recorder and remote control.
#[derive(Default)]
pub(crate) struct Probe {
    calls: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    /// Notified when a call starts.
    pub(crate) entered: Notify,
    /// Lets a held call answer.
    pub(crate) release: Notify,
    /// Notified when a call's future is dropped before it answered.
    pub(crate) cancelled: Notify,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// A handler answering 200 to every call.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A handler doing `replies` in turn, then answering 200.
    pub(crate) fn scripted(replies: impl IntoIterator<Item = Reply>) -> Arc<Self> {
        let probe = Self::default();
        probe.script.lock().unwrap().extend(replies);
        Arc::new(probe)
    }

    /// A handler doing `reply` on every call.
    pub(crate) fn always(reply: Reply) -> Arc<Self> {
        let probe = Self::default();
        *probe.default.lock().unwrap() = Some(reply);
        Arc::new(probe)
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn last(&self) -> Seen {
        self.seen().pop().expect("the handler ran")
    }

    /// Records a call.
    pub(crate) fn record(
        &self,
        body: Bytes,
        delivery: Option<Verified>,
        extension: Option<Verified>,
    ) {
        self.calls.fetch_add(1, SeqCst);
        self.seen.lock().unwrap().push(Seen {
            body,
            delivery,
            extension,
        });
    }

    /// Does this call's reply: returns the status and `handled <id>`.
    pub(crate) async fn run(&self, id: &str) -> (u16, String) {
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .or(*self.default.lock().unwrap())
            .unwrap_or(Reply::Status(200));
        let mut guard = CancelGuard {
            probe: self,
            armed: true,
        };
        self.entered.notify_one();
        let status = match reply {
            Reply::Status(status) => status,
            Reply::Hold => {
                self.release.notified().await;
                200
            }
            Reply::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                200
            }
            Reply::Panic => panic!("the handler panics on purpose"),
        };
        guard.armed = false;
        (status, format!("handled {id}"))
    }
}

struct CancelGuard<'a> {
    probe: &'a Probe,
    armed: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            self.probe.cancelled.notify_one();
        }
    }
}

// ---------------------------------------------------------------- the store

/// Counts of store calls: (reserve, complete, release).
pub(crate) type Counts = (usize, usize, usize);

/// A [`DedupeStore`] over a [`MemoryStore`] that counts calls, and can be
/// down (`reserve` fails) or release lazily (not at the first poll).
#[derive(Clone, Default)]
pub(crate) struct CountingStore {
    memory: MemoryStore,
    state: Arc<StoreState>,
}

#[derive(Default)]
struct StoreState {
    reserve: AtomicUsize,
    complete: AtomicUsize,
    release: AtomicUsize,
    down: AtomicBool,
    lazy_release: AtomicBool,
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl CountingStore {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A store whose `reserve` always fails.
    pub(crate) fn down() -> Self {
        let store = Self::default();
        store.state.down.store(true, SeqCst);
        store
    }

    /// A store whose `release` completes only at its second poll (as a
    /// networked store would), so a release on drop cannot happen at once.
    pub(crate) fn lazy_release() -> Self {
        let store = Self::default();
        store.state.lazy_release.store(true, SeqCst);
        store
    }

    pub(crate) fn counts(&self) -> Counts {
        (
            self.state.reserve.load(SeqCst),
            self.state.complete.load(SeqCst),
            self.state.release.load(SeqCst),
        )
    }
}

/// The error of a [`CountingStore`] that is down.
#[derive(Debug)]
pub(crate) struct StoreDown;

/// What [`StoreDown`] says: must never reach a response.
pub(crate) const STORE_ERROR_TEXT: &str = "redis://:store-password@10.0.0.1 refused";

impl fmt::Display for StoreDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE_ERROR_TEXT)
    }
}

impl std::error::Error for StoreDown {}

impl DedupeStore for CountingStore {
    type Error = StoreDown;

    async fn reserve(&self, key: &str, lease: Duration) -> Result<Reservation, StoreDown> {
        self.state.reserve.fetch_add(1, SeqCst);
        if self.state.down.load(SeqCst) {
            return Err(StoreDown);
        }
        let Ok(reservation) = self.memory.reserve(key, lease).await;
        Ok(reservation)
    }

    async fn complete(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> Result<(), StoreDown> {
        self.state.complete.fetch_add(1, SeqCst);
        let Ok(()) = self.memory.complete(key, token, retention).await;
        Ok(())
    }

    async fn release(&self, key: &str, token: Token) -> Result<(), StoreDown> {
        self.state.release.fetch_add(1, SeqCst);
        if self.state.lazy_release.load(SeqCst) {
            tokio::task::yield_now().await;
        }
        let Ok(()) = self.memory.release(key, token).await;
        Ok(())
    }
}

// ---------------------------------------------------------------- axum apps

#[cfg(feature = "axum")]
#[allow(unused_imports)] // not every test binary uses the apps
pub(crate) use apps::*;

#[cfg(feature = "axum")]
mod apps {
    use super::*;

    use std::future::Future;

    use axum::extract::State;
    use axum::routing::{post, MethodRouter};
    use axum::{Extension, Router};
    use hookwarden_tower::{Delivery, WebhookLayer};
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// The path [`app`] serves.
    pub(crate) const HOOK: &str = "/hook";

    /// The handler: records what it got, then does the probe's reply.
    pub(crate) async fn handler(
        State(probe): State<Arc<Probe>>,
        delivery: Delivery,
        Extension(extension): Extension<Verified>,
        body: Bytes,
    ) -> (StatusCode, String) {
        let id = delivery
            .delivery_id()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        probe.record(body, Some(delivery.0), Some(extension));
        let (status, text) = probe.run(&id).await;
        (StatusCode::from_u16(status).expect("status"), text)
    }

    /// `method_router` at `path`, behind `layer` (as a route layer).
    pub(crate) fn app_with<St>(
        probe: &Arc<Probe>,
        path: &str,
        method_router: MethodRouter<Arc<Probe>>,
        layer: WebhookLayer<St>,
    ) -> Router
    where
        St: DedupeStore + Clone + 'static,
    {
        Router::new()
            .route(path, method_router)
            .route_layer(layer)
            .with_state(Arc::clone(probe))
    }

    /// POST [`HOOK`] → [`handler`], behind `layer`.
    pub(crate) fn app<St>(probe: &Arc<Probe>, layer: WebhookLayer<St>) -> Router
    where
        St: DedupeStore + Clone + 'static,
    {
        app_with(probe, HOOK, post(handler), layer)
    }

    /// Several routes on one handler and one counting store:
    /// `/ntxpay` and `/sw` (limit [`LIMIT`], `store`), `/down` (a store that
    /// is down), `/fail-open` (the same, fail-open).
    pub(crate) struct Fixture {
        pub(crate) app: Router,
        pub(crate) probe: Arc<Probe>,
        pub(crate) store: CountingStore,
    }

    pub(crate) fn fixture(probe: Arc<Probe>) -> Fixture {
        let store = CountingStore::new();
        let route = |path: &str, layer| app_with(&probe, path, post(handler), layer);
        let app = route(
            "/ntxpay",
            WebhookLayer::new(
                Gate::new(verifier())
                    .with_body_limit(LIMIT)
                    .with_store(store.clone()),
            ),
        )
        .merge(route(
            "/sw",
            WebhookLayer::new(
                Gate::new(sw_verifier())
                    .with_body_limit(LIMIT)
                    .with_store(store.clone()),
            ),
        ))
        .merge(route(
            "/down",
            WebhookLayer::new(Gate::new(verifier()).with_store(CountingStore::down())),
        ))
        .merge(route(
            "/fail-open",
            WebhookLayer::new(
                Gate::new(verifier())
                    .with_store(CountingStore::down())
                    .with_fail_open(true),
            ),
        ));
        Fixture { app, probe, store }
    }

    /// Serves `app` on 127.0.0.1 in a spawned task.
    pub(crate) async fn serve(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        addr
    }

    /// How a test reaches the app.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Kind {
        /// `tower::ServiceExt::oneshot` on the `Router`.
        Oneshot,
        /// Real HTTP/1.1 on 127.0.0.1.
        Http,
    }

    pub(crate) const KINDS: [Kind; 2] = [Kind::Oneshot, Kind::Http];

    impl Kind {
        pub(crate) async fn client(self, app: Router) -> Client {
            match self {
                Kind::Oneshot => Client::Oneshot(app),
                Kind::Http => Client::Http(serve(app).await),
            }
        }
    }

    #[derive(Clone)]
    pub(crate) enum Client {
        Oneshot(Router),
        Http(SocketAddr),
    }

    impl Client {
        pub(crate) fn send(&self, req: &Req) -> impl Future<Output = RawResponse> + Send + 'static {
            let this = self.clone();
            let req = req.clone();
            async move {
                this.try_send(&req)
                    .await
                    .unwrap_or_else(|err| panic!("{} {}: {err}", req.method, req.path))
            }
        }

        /// The answer, or why there was none (a panic, a closed connection).
        pub(crate) async fn try_send(&self, req: &Req) -> Result<RawResponse, String> {
            match self {
                Client::Http(addr) => raw_send(*addr, req).await.map_err(|e| e.to_string()),
                Client::Oneshot(app) => {
                    let call = tokio::spawn(app.clone().oneshot(req.to_http()));
                    let response = tokio::time::timeout(PATIENCE, call)
                        .await
                        .map_err(|_| "no answer in time".to_owned())?
                        .map_err(|e| e.to_string())?
                        .unwrap_or_else(|never| match never {});
                    let status = response.status().as_u16();
                    let headers = response
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                        .collect();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?
                        .to_bytes()
                        .to_vec();
                    Ok(RawResponse {
                        status,
                        headers,
                        body,
                    })
                }
            }
        }

        /// Sends `req` and goes away once the handler started (drops the
        /// response future, or closes the connection); returns once the
        /// handler's future was dropped.
        pub(crate) async fn abandon(&self, req: &Req, probe: &Probe) {
            match self {
                Client::Oneshot(app) => {
                    let mut call = Box::pin(app.clone().oneshot(req.to_http()));
                    tokio::select! {
                        response = call.as_mut() => panic!("answered: {:?}", response.map(|r| r.status())),
                        () = probe.entered.notified() => {}
                    }
                    drop(call);
                }
                Client::Http(addr) => {
                    let mut stream = TcpStream::connect(addr).await.expect("connect");
                    stream.write_all(&req.wire()).await.expect("write");
                    tokio::time::timeout(PATIENCE, probe.entered.notified())
                        .await
                        .expect("the handler started");
                    drop(stream);
                }
            }
            tokio::time::timeout(Duration::from_secs(5), probe.cancelled.notified())
                .await
                .expect("the handler's future was dropped after the client went away");
        }
    }
}
