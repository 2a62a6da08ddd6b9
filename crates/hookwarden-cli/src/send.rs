//! Sign one body and send it to an endpoint, as a provider would:
//! `hookwarden send`.
//!
//! ```no_run
//! use hookwarden_cli::send::Delivery;
//! use hookwarden_core::http::{HeaderName, HeaderValue, Method};
//! use hookwarden_core::presets;
//!
//! # async fn demo() -> Result<(), hookwarden_cli::Error> {
//! // PayNetworx may PUT, with a header the merchant chose on every delivery.
//! let answer = Delivery::new(
//!     "https://shop.example/webhooks/paynetworx",
//!     presets::paynetworx(),
//!     "whsec_development_only",
//! )?
//! .with_method(Method::PUT)
//! .with_header(
//!     HeaderName::from_static("authorization"),
//!     HeaderValue::from_static("Bearer dev-token"),
//! )
//! .send(br#"{"id":"evt_1","type":"payment.completed"}"#.to_vec())
//! .await?;
//! println!("{} in {:?}", answer.status(), answer.latency());
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, SystemTime};

use hookwarden_core::http::{HeaderName, HeaderValue, Method, StatusCode};
use hookwarden_core::Scheme;

use crate::endpoint::{self, Endpoint};
use crate::Error;

/// At most this much of an answer's body is kept: 64 KiB.
pub const MAX_ANSWER: usize = 64 * 1024;

/// One delivery to send: where, how it is signed, and with what.
///
/// Built with [`Delivery::new`] and `with_*` setters, sent with
/// [`send`](Self::send) (which may be called again, for a retry).
#[derive(Debug, Clone)]
pub struct Delivery {
    endpoint: Endpoint,
    id: Option<String>,
    timestamp: Option<SystemTime>,
    removed: Vec<HeaderName>,
}

impl Delivery {
    /// A `POST` to `url`, signed for `scheme` with `secret` (written as the
    /// provider issues it), with no extra header and a 10 s timeout.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] unless `url` is an absolute `http`/`https` URL;
    /// [`Error::Build`] when the scheme refuses the secret;
    /// [`Error::Client`] when TLS cannot be set up.
    pub fn new(url: &str, scheme: Scheme, secret: &str) -> Result<Self, Error> {
        Ok(Self {
            endpoint: Endpoint::new(url, scheme, secret)?,
            id: None,
            timestamp: None,
            removed: Vec::new(),
        })
    }

    /// The HTTP method (default `POST`; PayNetworx may use `PUT`).
    #[must_use]
    pub fn with_method(mut self, method: Method) -> Self {
        self.endpoint.method = method;
        self
    }

    /// A header sent as-is with the delivery (`Authorization: Bearer …`, say);
    /// add the same name twice to send it twice. The signature, timestamp and
    /// delivery-ID headers are the signer's: an extra header of the same name
    /// is replaced. `Content-Type` is `application/json` unless given here.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.endpoint.add_header(name, value);
        self
    }

    /// The delivery ID, for schemes that send it in a header (default: the
    /// signer derives one from the body).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The timestamp to sign with, for schemes that have one (default: the
    /// time of sending).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Leaves out a header the signer writes (the signature, say), to see
    /// the endpoint refuse the incomplete delivery.
    ///
    /// ```
    /// use hookwarden_cli::send::Delivery;
    /// use hookwarden_core::presets;
    ///
    /// # fn main() -> Result<(), hookwarden_cli::Error> {
    /// let scheme = presets::ntxpay();
    /// let unsigned = Delivery::new("http://127.0.0.1:3000/webhooks/ntxpay", scheme.clone(), "whsec_dev_secret")?
    ///     .without_header(scheme.signature_header().clone());
    /// # let _ = unsigned;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn without_header(mut self, name: HeaderName) -> Self {
        self.removed.push(name);
        self
    }

    /// How long to wait for the answer (default 10 s): no connection by then
    /// is [`Error::Connect`], no status [`Error::Timeout`]; a body still
    /// coming then is cut there ([`Answer::is_truncated`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.endpoint.timeout = timeout;
        self
    }

    /// Signs `body` and sends it, on a connection of its own made directly
    /// to the URL's host (no proxy). An answer sent before the endpoint hung
    /// up mid-body, such as a 413 for a body over its limit, is still read.
    ///
    /// # Errors
    /// [`Error::Sign`] when the ID or a header cannot be signed (an ID for a
    /// scheme that reads it from the body, say); [`Error::Connect`],
    /// [`Error::Timeout`] or [`Error::Transport`] when no complete answer
    /// came. Any answer, whatever its status, is `Ok`.
    pub async fn send(&self, body: impl Into<Vec<u8>>) -> Result<Answer, Error> {
        let body = body.into();
        let endpoint = &self.endpoint;
        let mut headers =
            endpoint.sign(&endpoint.signer, &body, self.id.as_deref(), self.timestamp)?;
        for name in &self.removed {
            headers.remove(name);
        }
        Ok(Answer(endpoint.deliver(headers, body).await?))
    }
}

/// What the endpoint answered to a [`Delivery`].
#[derive(Debug, Clone)]
pub struct Answer(endpoint::Answer);

impl Answer {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// Whether the status is 2xx: the provider would consider it delivered.
    pub fn is_success(&self) -> bool {
        self.0.status.is_success()
    }

    /// From sending the request to the end of the answer.
    pub fn latency(&self) -> Duration {
        self.0.latency
    }

    /// The body of the answer, its first [`MAX_ANSWER`] bytes at most.
    pub fn body(&self) -> &[u8] {
        &self.0.body
    }

    /// Whether the body was cut: longer than [`MAX_ANSWER`], or broken off.
    pub fn is_truncated(&self) -> bool {
        self.0.truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookwarden_core::presets;

    #[test]
    fn debug_shows_neither_the_secret_nor_extra_header_values() {
        let delivery = Delivery::new(
            "https://example.com/hook",
            presets::ntxpay(),
            "whsec_do_not_print",
        )
        .unwrap()
        .with_header(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer do-not-print"),
        );
        let debug = format!("{delivery:?}");
        assert!(!debug.contains("do_not_print"), "{debug}");
        assert!(!debug.contains("do-not-print"), "{debug}");
    }
}
