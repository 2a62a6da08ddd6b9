//! Test fixtures shared by the workspace's test suites (not published):
//! signing, a raw HTTP/1.1 client that writes requests byte for byte, a
//! scripted handler probe, and a counting (or failing) dedupe store.
//!
//! Framework-neutral on purpose: the axum and actix-web suites drive the
//! same requests and the same probe.
#![forbid(unsafe_code)]
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::missing_panics_doc
)]

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
    presets, DedupeStore, MemoryStore, Reservation, SignOptions, Signer, Token, Verified, Verifier,
};
use http::HeaderMap;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The NTX Pay secret the apps verify with.
pub const SECRET: &str = "whsec_hookwarden_test_secret";
/// A Standard Webhooks secret (`whsec_` + base64).
pub const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The body limit of the fixture's routes.
pub const LIMIT: usize = 1024;
/// How long any single exchange may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- signing

pub fn verifier() -> Verifier {
    Verifier::new(presets::ntxpay(), SECRET).expect("ntxpay verifier")
}

pub fn sw_verifier() -> Verifier {
    Verifier::new(presets::standard_webhooks(), SW_SECRET).expect("standard webhooks verifier")
}

/// NTX Pay headers for `body`, delivery `id`, signed with `secret`.
pub fn ntxpay_headers(secret: &str, body: &[u8], id: &str) -> HeaderMap {
    Signer::new(presets::ntxpay(), secret)
        .expect("ntxpay signer")
        .sign(body, &SignOptions::new().with_id(id))
        .expect("sign")
}

/// Standard Webhooks headers for `body`, delivery `id`, timestamp `at`.
pub fn sw_headers(body: &[u8], id: &str, at: SystemTime) -> HeaderMap {
    Signer::new(presets::standard_webhooks(), SW_SECRET)
        .expect("standard webhooks signer")
        .sign(body, &SignOptions::new().with_id(id).with_timestamp(at))
        .expect("sign")
}

// ---------------------------------------------------------------- requests

/// A request, sendable both with `oneshot` and over a raw TCP connection,
/// byte for byte as written here.
#[derive(Clone)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
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
    pub fn new(method: &'static str, path: &str) -> Self {
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

    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    /// A POST of `body` with valid NTX Pay headers for delivery `id`.
    pub fn signed(path: &str, body: &[u8], id: &str) -> Self {
        Self::post(path)
            .headers(&ntxpay_headers(SECRET, body, id))
            .body(body)
    }

    /// A POST of `body` with Standard Webhooks headers signed at `at`.
    pub fn sw(path: &str, body: &[u8], id: &str, at: SystemTime) -> Self {
        Self::post(path)
            .headers(&sw_headers(body, id, at))
            .body(body)
    }

    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    /// Appends every line of `map`.
    pub fn headers(mut self, map: &HeaderMap) -> Self {
        for (name, value) in map {
            self.headers
                .push((name.as_str().to_owned(), value.as_bytes().to_vec()));
        }
        self
    }

    /// Appends one header line, bytes as given.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Drops every line of header `name`.
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces header `name` by one line holding `value`.
    pub fn replace(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.without(name).header(name, value)
    }

    /// The value of the first line of header `name`.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Declares `len` as the `Content-Length`, whatever the body holds.
    pub fn content_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self
    }

    pub fn chunked(mut self, chunk: usize) -> Self {
        self.chunked = Some(chunk.max(1));
        self
    }

    pub fn stall(mut self) -> Self {
        self.stall = true;
        self
    }

    pub fn half_close(mut self) -> Self {
        self.half_close = true;
        self
    }

    pub fn keep_alive(mut self) -> Self {
        self.keep_alive = true;
        self
    }

    /// The request line and headers, up to and including the blank line.
    pub fn head(&self) -> Vec<u8> {
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
    pub fn wire(&self) -> Vec<u8> {
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
    pub fn to_http(&self) -> http::Request<axum::body::Body> {
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

pub fn chunk_frame(chunk: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", chunk.len()).into_bytes();
    out.extend_from_slice(chunk);
    out.extend_from_slice(b"\r\n");
    out
}

/// A request body yielding the given chunks (then nothing, forever the same
/// chunk, or `Pending` forever), counting how often it was polled.
#[derive(Debug)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    endless: Option<Bytes>,
    stall: bool,
    polls: Arc<AtomicUsize>,
}

impl Chunks {
    pub fn new<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Self {
            chunks: chunks.into_iter().map(Bytes::copy_from_slice).collect(),
            endless: None,
            stall: false,
            polls: Arc::default(),
        }
    }

    /// These chunks as they are, not copied: slices of one buffer stay
    /// views of it.
    pub fn shared(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        Self {
            chunks: chunks.into_iter().collect(),
            ..Self::new([])
        }
    }

    /// `chunk` again and again, never ending.
    pub fn endless(chunk: Bytes) -> Self {
        Self {
            endless: Some(chunk),
            ..Self::new([])
        }
    }

    /// After the chunks, `Pending` forever instead of the end.
    pub fn stalled(mut self) -> Self {
        self.stall = true;
        self
    }

    /// How many times the body was polled, shared with the test.
    pub fn polls(&self) -> Arc<AtomicUsize> {
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
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
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
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a rejection by the layer: `status`, JSON content type and
    /// exactly `{"error":"<code>"}`.
    #[track_caller]
    pub fn assert_rejected(&self, status: u16, code: &str) {
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
    pub fn assert_duplicate(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.text(), hookwarden_core::DUPLICATE_BODY, "{self:?}");
    }

    /// Asserts the handler's own answer for delivery `id`.
    #[track_caller]
    pub fn assert_handled(&self, status: u16, id: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.text(), format!("handled {id}"), "{self:?}");
    }
}

/// Parses a complete response out of `buf`, or `None` when more is needed.
/// At `eof`, a response without framing ends where the data ends.
pub fn parse_response(buf: &[u8], eof: bool) -> Option<RawResponse> {
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
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<RawResponse> {
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
pub async fn raw_send(addr: SocketAddr, req: &Req) -> io::Result<RawResponse> {
    raw_exchange(addr, &req.wire(), req.half_close).await
}

/// Writes `bytes` on a new connection (then closes the writing half if
/// `half_close`) and reads the answer.
pub async fn raw_exchange(
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
pub struct Streamed {
    pub response: io::Result<RawResponse>,
    /// Body bytes written when the answer had arrived.
    pub sent_at_answer: u64,
    /// Body bytes written in all.
    pub sent: u64,
    /// How the writer ended.
    pub write_result: io::Result<()>,
}

/// Sends `req`'s head, then `total` body bytes in `chunk`-sized chunks,
/// while reading the answer at the same time.
pub async fn stream_chunked(addr: SocketAddr, req: &Req, chunk: usize, total: u64) -> Streamed {
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

/// What [`raw_trickle`] saw.
#[derive(Debug)]
pub struct Trickled {
    pub response: io::Result<RawResponse>,
    /// Body bytes written when the answer arrived.
    pub sent_at_answer: usize,
    /// The body's length.
    pub body_len: usize,
}

/// Sends `req`'s head at once, then its body one byte every `every`, while
/// reading the answer; stops writing when the answer arrives.
pub async fn raw_trickle(addr: SocketAddr, req: &Req, every: Duration) -> Trickled {
    let wire = req.wire();
    let head_len = req.head().len();
    let body_len = wire.len() - head_len;
    let sent = Arc::new(AtomicUsize::new(0));
    let stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(err) => {
            return Trickled {
                response: Err(err),
                sent_at_answer: 0,
                body_len,
            }
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let counter = Arc::clone(&sent);
    let write = tokio::spawn(async move {
        writer.write_all(&wire[..head_len]).await?;
        for byte in &wire[head_len..] {
            tokio::time::sleep(every).await;
            writer.write_all(std::slice::from_ref(byte)).await?;
            counter.fetch_add(1, SeqCst);
        }
        writer.flush().await?;
        // Keep the writing half open: the body is complete, the client waits.
        Ok::<_, io::Error>(writer)
    });
    let response = tokio::time::timeout(PATIENCE, read_response(&mut reader))
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")));
    let sent_at_answer = sent.load(SeqCst);
    write.abort();
    Trickled {
        response,
        sent_at_answer,
        body_len,
    }
}

/// Waits (up to [`PATIENCE`]) until `condition` holds: for state changed
/// by another task that offers nothing to await.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
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
pub enum Reply {
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
pub struct Seen {
    pub body: Bytes,
    /// From the `Delivery` extractor (axum) or the extensions (hyper).
    pub delivery: Option<Verified>,
    /// From `Extension<Verified>`.
    pub extension: Option<Verified>,
}

/// The handler's recorder and remote control.
#[derive(Default)]
pub struct Probe {
    calls: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    /// Notified when a call starts.
    pub entered: Notify,
    /// Lets a held call answer.
    pub release: Notify,
    /// Notified when a call's future is dropped before it answered.
    pub cancelled: Notify,
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
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A handler doing `replies` in turn, then answering 200.
    pub fn scripted(replies: impl IntoIterator<Item = Reply>) -> Arc<Self> {
        let probe = Self::default();
        probe.script.lock().unwrap().extend(replies);
        Arc::new(probe)
    }

    /// A handler doing `reply` on every call.
    pub fn always(reply: Reply) -> Arc<Self> {
        let probe = Self::default();
        *probe.default.lock().unwrap() = Some(reply);
        Arc::new(probe)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the handler ran")
    }

    /// Records a call.
    pub fn record(&self, body: Bytes, delivery: Option<Verified>, extension: Option<Verified>) {
        self.calls.fetch_add(1, SeqCst);
        self.seen.lock().unwrap().push(Seen {
            body,
            delivery,
            extension,
        });
    }

    /// Does this call's reply: returns the status and `handled <id>`.
    pub async fn run(&self, id: &str) -> (u16, String) {
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
pub type Counts = (usize, usize, usize);

/// A [`DedupeStore`] over a [`MemoryStore`] that counts calls, and can be
/// down (`reserve` fails) or release lazily (not at the first poll).
#[derive(Clone, Default)]
pub struct CountingStore {
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
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose `reserve` always fails.
    pub fn down() -> Self {
        let store = Self::default();
        store.state.down.store(true, SeqCst);
        store
    }

    /// A store whose `release` completes only at its second poll (as a
    /// networked store would), so a release on drop cannot happen at once.
    pub fn lazy_release() -> Self {
        let store = Self::default();
        store.state.lazy_release.store(true, SeqCst);
        store
    }

    pub fn counts(&self) -> Counts {
        (
            self.state.reserve.load(SeqCst),
            self.state.complete.load(SeqCst),
            self.state.release.load(SeqCst),
        )
    }
}

/// The error of a [`CountingStore`] that is down.
#[derive(Debug)]
pub struct StoreDown;

/// What [`StoreDown`] says: must never reach a response.
pub const STORE_ERROR_TEXT: &str = "redis://:store-password@10.0.0.1 refused";

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
