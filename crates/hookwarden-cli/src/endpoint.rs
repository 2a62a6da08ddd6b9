//! What `send` and `check` share: where deliveries go, how they are signed,
//! and the one HTTP exchange that sends them.
//!
//! Each delivery is one HTTP/1.1 request on a connection of its own, made
//! directly to the URL's host (no proxy), with TLS for `https`. Writes the
//! endpoint no longer reads are dropped (see [`Forgiving`]), so an answer
//! sent before it hung up mid-body, such as an early 413, is still read.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use bytes::Bytes;
use hookwarden_core::http;
use hookwarden_core::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT,
};
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use hookwarden_core::{
    DeliveryIdSource, Scheme, SignOptions, Signer, TimestampSource, DEFAULT_BODY_LIMIT,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use rustls::pki_types::ServerName;
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use url::Url;

use crate::send::MAX_ANSWER;
use crate::Error;

/// How long a delivery may take by default: providers such as NTX Pay and
/// 4pay give up after 10 s.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The URL, method, extra headers and signer of an endpoint, with the TLS
/// configuration. Its `Debug` shows the origin only: the URL's credentials,
/// path and query may hold a token.
#[derive(Clone)]
pub(crate) struct Endpoint {
    tls: Arc<rustls::ClientConfig>,
    url: Url,
    /// `scheme://host:port`, for messages: the path and query may hold a token.
    origin: String,
    /// The request target: the URL's path and query.
    target: Uri,
    /// What every request carries unless given: `Host`, `User-Agent`,
    /// `Accept` and, for a URL with a `user:password@`, basic auth.
    defaults: HeaderMap,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) signer: Signer,
    pub(crate) timeout: Duration,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("origin", &self.origin)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("signer", &self.signer)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What an endpoint answered.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) latency: Duration,
    pub(crate) body: Vec<u8>,
    pub(crate) truncated: bool,
}

impl Endpoint {
    pub(crate) fn new(url: &str, scheme: Scheme, secret: &str) -> Result<Self, Error> {
        let url = parse_url(url)?;
        let signer = Signer::new(scheme, secret)?;
        let (target, defaults) = request_parts(&url)?;
        Ok(Self {
            tls: Arc::new(tls_config()?),
            origin: url.origin().ascii_serialization(),
            url,
            target,
            defaults,
            method: Method::POST,
            headers: HeaderMap::new(),
            signer,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Adds an extra header, sent as-is with every delivery (a repeated
    /// name is sent repeatedly). Its value may be a token: kept out of `Debug`.
    pub(crate) fn add_header(&mut self, name: HeaderName, mut value: HeaderValue) {
        value.set_sensitive(true);
        self.headers.append(name, value);
    }

    /// Whether the scheme carries the delivery ID in a header, so that
    /// `SignOptions::with_id` applies.
    pub(crate) fn id_in_header(&self) -> bool {
        matches!(
            self.signer.scheme().delivery_id(),
            DeliveryIdSource::Header(_)
        )
    }

    /// The headers to send with `body`: the extra headers as given (a
    /// repeated name is sent repeatedly), then the ones the signer writes.
    pub(crate) fn sign(
        &self,
        signer: &Signer,
        body: &[u8],
        id: Option<&str>,
        timestamp: Option<SystemTime>,
    ) -> Result<HeaderMap, Error> {
        let mut options = SignOptions::new();
        // A custom scheme may sign one of the extra headers.
        for (name, value) in &self.headers {
            options = options.with_header(name.clone(), value.clone());
        }
        if let Some(id) = id {
            options = options.with_id(id);
        }
        if let Some(timestamp) = timestamp {
            options = options.with_timestamp(timestamp);
        }
        let signed = signer.sign(body, &options)?;

        let mut headers = self.headers.clone();
        let scheme = signer.scheme();
        for name in signed.keys() {
            if !headers.contains_key(name) || self.signer_writes(scheme, name) {
                headers.remove(name);
                for value in signed.get_all(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(headers)
    }

    /// Whether the signer sets `name` itself, overriding an extra header.
    fn signer_writes(&self, scheme: &Scheme, name: &HeaderName) -> bool {
        name == scheme.signature_header()
            || matches!(scheme.delivery_id(), DeliveryIdSource::Header(id) if id == name)
            || matches!(scheme.timestamp(), Some((TimestampSource::Header(ts), _)) if ts == name)
    }

    /// Sends one request and reads the answer (at most 64 KiB of its body),
    /// all within the timeout: no connection by then is [`Error::Connect`],
    /// no status [`Error::Timeout`]; a body still coming is kept as far as
    /// it came, marked truncated.
    pub(crate) async fn deliver(&self, headers: HeaderMap, body: Vec<u8>) -> Result<Answer, Error> {
        let started = Instant::now();
        let request = self.request(headers, body);
        let exchange = self.exchange(request, started);
        let (response, connection) = tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Error::Timeout {
                after: self.timeout,
            }))?;
        let status = response.status();
        let mut incoming = response.into_body();
        let mut answer = Vec::new();
        let left = self.timeout.saturating_sub(started.elapsed());
        let whole = tokio::time::timeout(left, read(&mut incoming, &mut answer))
            .await
            .unwrap_or(false);
        drop(connection);
        Ok(Answer {
            status,
            latency: started.elapsed(),
            body: answer,
            truncated: !whole,
        })
    }

    /// The request for `headers` and `body`, with the default headers not
    /// given and the body's length.
    fn request(&self, mut headers: HeaderMap, body: Vec<u8>) -> http::Request<Full<Bytes>> {
        for (name, value) in &self.defaults {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.target.clone();
        *request.headers_mut() = headers;
        request
    }

    /// Connects, over TLS for `https`, and sends `request`: the answer's
    /// head, and the task still driving the connection. No TCP connection
    /// within the timeout from `started` is [`Error::Connect`].
    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        started: Instant,
    ) -> Result<(http::Response<Incoming>, Driver), Error> {
        let connect = |reason: String| Error::Connect {
            origin: self.origin.clone(),
            reason,
        };
        let host = self.url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.url.port_or_known_default().unwrap_or(80);
        // Ends no later than `deliver`'s timeout, so that a host that never
        // takes the connection is told from one that never answers.
        let left = self.timeout.saturating_sub(started.elapsed());
        let tcp = tokio::time::timeout(left, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                connect(format!(
                    "no connection within {:.1} s",
                    self.timeout.as_secs_f64()
                ))
            })?
            .map_err(|err| connect(innermost(&err)))?;
        tcp.set_nodelay(true)
            .map_err(|err| connect(innermost(&err)))?;
        let io = Forgiving {
            inner: tcp,
            broken: false,
        };
        let sent = if self.url.scheme() == "https" {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| connect(format!("`{host}` is not a valid TLS server name")))?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, io)
                .await
                .map_err(|err| connect(innermost(&err)))?;
            send(TokioIo::new(tls), request).await
        } else {
            send(TokioIo::new(io), request).await
        };
        sent.map_err(|err| Error::Transport {
            reason: innermost(&err),
        })
    }
}

/// Reads `body` into `answer`, at most 64 KiB of it; whether it came whole
/// (not longer, not broken off).
async fn read(body: &mut Incoming, answer: &mut Vec<u8>) -> bool {
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Ok(data) = frame.into_data() {
            let room = MAX_ANSWER.saturating_sub(answer.len());
            if data.len() > room {
                answer.extend_from_slice(&data[..room]);
                return false;
            }
            answer.extend_from_slice(&data);
        }
    }
    true
}

/// One HTTP/1.1 request on `io`, the connection driven by a task of its own.
async fn send<T>(
    io: T,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::Response<Incoming>, Driver), hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let driver = Driver(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await?;
    Ok((response, driver))
}

/// The task driving a connection, stopped when dropped: once the answer is
/// read, on an error or on timeout.
struct Driver(JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A connection whose writes, once the peer has closed it, succeed without
/// sending anything, so that the answer the peer sent before closing can
/// still be read. A server refusing a large body answers early (413) and
/// closes; a client that gave up on the failed writes of the rest of the
/// body would lose that answer.
struct Forgiving<T> {
    inner: T,
    broken: bool,
}

impl<T> Forgiving<T> {
    fn closed_by_peer(err: &io::Error) -> bool {
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        )
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Forgiving<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Forgiving<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.broken {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Err(err)) if Self::closed_by_peer(&err) => {
                self.broken = true;
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.broken {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Err(err)) if Self::closed_by_peer(&err) => {
                self.broken = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.broken {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The message of the deepest cause of `err`.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}

/// An absolute `http` or `https` URL with a host.
fn parse_url(text: &str) -> Result<Url, Error> {
    let invalid = |reason: String| Error::InvalidUrl { reason };
    let url = Url::parse(text).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme is `{}`, not http or https",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(invalid("it has no host".into()));
    }
    Ok(url)
}

/// The request target of `url` (its path and query) and the headers every
/// request to it carries unless given: `Host`, `User-Agent`, `Accept: */*`
/// and, for a URL with a `user:password@`, basic auth.
fn request_parts(url: &Url) -> Result<(Uri, HeaderMap), Error> {
    let invalid = || Error::InvalidUrl {
        reason: "it cannot be written as an HTTP/1.1 request".into(),
    };
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let target = target.parse().map_err(|_| invalid())?;
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut defaults = HeaderMap::new();
    defaults.insert(
        HOST,
        HeaderValue::from_str(&authority).map_err(|_| invalid())?,
    );
    defaults.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    defaults.insert(ACCEPT, HeaderValue::from_static("*/*"));
    if let Some(auth) = basic_auth(url) {
        defaults.insert(AUTHORIZATION, auth);
    }
    Ok((target, defaults))
}

/// `Basic` credentials from the URL's `user:password@`, percent-decoded;
/// none without them or when the user is not UTF-8 (a password that is not
/// is left out).
fn basic_auth(url: &Url) -> Option<HeaderValue> {
    let user = percent_decode_str(url.username()).decode_utf8().ok()?;
    let password = url
        .password()
        .and_then(|password| percent_decode_str(password).decode_utf8().ok());
    if user.is_empty() && password.is_none() {
        return None;
    }
    let credentials = format!("{user}:{}", password.unwrap_or_default());
    let mut value =
        HeaderValue::from_str(&format!("Basic {}", BASE64_STANDARD.encode(credentials))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The `User-Agent` of every request.
const USER_AGENT_VALUE: &str = concat!("hookwarden/", env!("CARGO_PKG_VERSION"));

/// TLS: rustls with the ring provider and the system's trust store.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let setup = |err: rustls::Error| Error::Client {
        reason: err.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .with_platform_verifier()
        .map_err(setup)?
        .with_no_client_auth())
}

/// A body over hookwarden's default limit, for the oversized-body check: 2 MiB.
pub(crate) const DEFAULT_OVERSIZE: usize = 2 * DEFAULT_BODY_LIMIT;

/// `bytes` random bytes as lowercase hex, or, should the system have no
/// randomness to give, the clock and a counter: unique either way.
pub(crate) fn random_hex(bytes: usize) -> String {
    use std::fmt::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return format!("{nanos:x}{:x}", COUNTER.fetch_add(1, Ordering::Relaxed));
    }
    buf.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookwarden_core::presets;

    #[test]
    fn debug_shows_the_origin_but_no_credentials_path_query_or_header_value() {
        let url = "https://merchant:pa55word@shop.example:8443/hooks/t0k3n?key=s3cr3t";
        let mut endpoint = Endpoint::new(url, presets::ntxpay(), "whsec_debug_test").unwrap();
        endpoint.add_header(AUTHORIZATION, HeaderValue::from_static("Bearer b34r3r"));
        let debug = format!("{endpoint:?}");
        assert!(debug.contains("https://shop.example:8443"), "{debug}");
        for secret in [
            "pa55word",
            "merchant",
            "t0k3n",
            "s3cr3t",
            "b34r3r",
            "whsec_debug_test",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn only_http_and_https_urls_with_a_host() {
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "file:///tmp/x",
            "http://",
        ] {
            let err = parse_url(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_url", "{bad:?}");
        }
        assert!(parse_url("https://example.com/hook?token=x").is_ok());
        assert!(parse_url("http://127.0.0.1:3000/hook").is_ok());
    }

    #[test]
    fn extra_headers_are_sent_as_given_and_the_signer_wins_on_its_own() {
        let mut endpoint =
            Endpoint::new("http://127.0.0.1:1/", presets::github(), "secret").unwrap();
        for (name, value) in [
            ("authorization", "Bearer a"),
            ("x-tag", "one"),
            ("x-tag", "two"),
            ("x-hub-signature-256", "sha256=00"),
        ] {
            endpoint.headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let headers = endpoint
            .sign(&endpoint.signer, b"{}", Some("d-1"), None)
            .unwrap();
        assert_eq!(headers["authorization"], "Bearer a");
        assert_eq!(headers.get_all("x-tag").iter().count(), 2);
        assert_eq!(headers["x-github-delivery"], "d-1");
        assert_eq!(headers.get_all("x-hub-signature-256").iter().count(), 1);
        assert_ne!(headers["x-hub-signature-256"], "sha256=00");
        assert_eq!(headers["content-type"], "application/json");
    }

    #[test]
    fn requests_carry_what_a_client_adds_unless_given() {
        let endpoint = Endpoint::new(
            "http://user:p%40ss@[::1]:8080/hook?token=t#part",
            presets::ntxpay(),
            "secret12",
        )
        .unwrap();
        let request = endpoint.request(HeaderMap::new(), b"{}".to_vec());
        assert_eq!(request.uri(), "/hook?token=t");
        let headers = request.headers();
        assert_eq!(headers[HOST], "[::1]:8080");
        assert_eq!(headers[USER_AGENT], USER_AGENT_VALUE);
        assert_eq!(headers[ACCEPT], "*/*");
        assert_eq!(headers[AUTHORIZATION], "Basic dXNlcjpwQHNz");
        assert_eq!(headers[CONTENT_LENGTH], "2");
        assert_eq!(endpoint.origin, "http://[::1]:8080");

        let mut given = HeaderMap::new();
        given.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        given.insert(USER_AGENT, HeaderValue::from_static("provider/1"));
        let request = endpoint.request(given, Vec::new());
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer t");
        assert_eq!(request.headers()[USER_AGENT], "provider/1");
        assert_eq!(request.headers()[CONTENT_LENGTH], "0");

        let plain = Endpoint::new("https://example.com/", presets::ntxpay(), "secret12").unwrap();
        let request = plain.request(HeaderMap::new(), Vec::new());
        assert_eq!(request.headers()[HOST], "example.com");
        assert!(!request.headers().contains_key(AUTHORIZATION));
    }

    #[tokio::test]
    async fn the_timeout_keeps_a_status_that_came_and_cuts_its_body() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        // The first connection gets a status and part of a body, the
        // second nothing; both are then held open.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            for answer in [
                &b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart"[..],
                b"",
            ] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(answer).await.unwrap();
                held.push(socket);
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        });

        let mut endpoint =
            Endpoint::new(&format!("http://{addr}/"), presets::ntxpay(), "secret12").unwrap();
        endpoint.timeout = Duration::from_millis(300);
        let answer = endpoint
            .deliver(HeaderMap::new(), b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, b"part");
        assert!(answer.truncated);
        assert!(answer.latency >= endpoint.timeout);

        let err = endpoint
            .deliver(HeaderMap::new(), b"{}".to_vec())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "timeout");
    }

    #[tokio::test]
    async fn a_host_that_never_takes_the_connection_is_a_connect_error() {
        // A listener that never accepts, its queue filled: the kernel drops
        // further SYNs, as a firewall does, and a connect hangs.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        while let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            queued.push(stream);
            assert!(queued.len() < 64, "the listen queue never filled");
        }

        let mut endpoint =
            Endpoint::new(&format!("http://{addr}/"), presets::ntxpay(), "secret12").unwrap();
        endpoint.timeout = Duration::from_millis(300);
        let err = endpoint
            .deliver(HeaderMap::new(), b"{}".to_vec())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "connect_failed", "{err}");
        assert!(
            err.to_string().contains("no connection within 0.3 s"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_large_body_still_gets_the_answer_sent_before_the_server_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const ROUNDS: usize = 20;

        // Reads the request head and 1 MiB of the body, answers 413 and
        // closes while the client is still writing: the unread rest makes
        // the close a reset, which the client's next write runs into.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    socket.read_exact(&mut byte).await.unwrap();
                    head.push(byte[0]);
                }
                let mut body = vec![0u8; 1024 * 1024];
                socket.read_exact(&mut body).await.unwrap();
                let body = r#"{"error":"body_too_large"}"#;
                let answer = format!(
                    "HTTP/1.1 413 Payload Too Large\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });

        let endpoint = Endpoint::new(
            &format!("http://{addr}/hook"),
            presets::ntxpay(),
            "secret12",
        )
        .unwrap();
        for round in 0..ROUNDS {
            let answer = endpoint
                .deliver(HeaderMap::new(), vec![b'x'; 8 * 1024 * 1024])
                .await
                .unwrap_or_else(|err| panic!("round {round}: {err}"));
            assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(answer.body, br#"{"error":"body_too_large"}"#);
        }
    }

    #[test]
    fn random_hex_is_hex_of_the_length_asked_and_differs() {
        let (a, b) = (random_hex(8), random_hex(8));
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
