//! What `send` and `check` share: where deliveries go, how they are signed,
//! and one HTTP exchange.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hookwarden_core::http::header::CONTENT_TYPE;
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use hookwarden_core::{
    DeliveryIdSource, Scheme, SignOptions, Signer, TimestampSource, DEFAULT_BODY_LIMIT,
};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::Error;

/// How long a delivery may take by default: providers such as NTX Pay and
/// 4pay give up after 10 s.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of an answer's body is kept.
const MAX_ANSWER: usize = 64 * 1024;

/// The URL, method, extra headers and signer of an endpoint, with the client.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    url: reqwest::Url,
    /// `scheme://host:port`, for messages: the path and query may hold a token.
    origin: String,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) signer: Signer,
    pub(crate) timeout: Duration,
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
        Ok(Self {
            client: client()?,
            origin: url.origin().ascii_serialization(),
            url,
            method: Method::POST,
            headers: HeaderMap::new(),
            signer,
            timeout: DEFAULT_TIMEOUT,
        })
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

    /// Sends one request and reads the answer (at most 64 KiB of its body).
    pub(crate) async fn deliver(&self, headers: HeaderMap, body: Vec<u8>) -> Result<Answer, Error> {
        let fail = |err| Error::from_reqwest(err, &self.origin, self.timeout);
        let started = Instant::now();
        let mut response = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(headers)
            .body(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(fail)?;
        let status = response.status();
        let mut answer = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            let room = MAX_ANSWER - answer.len();
            if chunk.len() > room {
                answer.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            latency: started.elapsed(),
            body: answer,
            truncated,
        })
    }
}

/// An absolute `http` or `https` URL with a host.
fn parse_url(text: &str) -> Result<reqwest::Url, Error> {
    let invalid = |reason: String| Error::InvalidUrl { reason };
    let url = reqwest::Url::parse(text).map_err(|err| invalid(err.to_string()))?;
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

/// The HTTP client: rustls with ring and the system's trust store, no
/// redirects, no automatic retries.
fn client() -> Result<reqwest::Client, Error> {
    let setup = |reason: String| Error::Client { reason };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| setup(err.to_string()))?
        .with_platform_verifier()
        .map_err(|err| setup(err.to_string()))?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hookwarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| setup(crate::innermost_reason(&err)))
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
    fn random_hex_is_hex_of_the_length_asked_and_differs() {
        let (a, b) = (random_hex(8), random_hex(8));
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
