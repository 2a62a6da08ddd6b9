//! Deduplication by delivery ID: the store contract both adapters drive.
//!
//! Each key (`namespace:delivery-id`) moves through a small state machine,
//! touched only after the signature passed:
//!
//! ```text
//! ABSENT --reserve(lease)--> IN_FLIGHT --complete(retention)--> DONE --retention ends--> ABSENT
//!                            IN_FLIGHT --release / lease ends--> ABSENT
//! ```
//!
//! A duplicate of a DONE delivery is answered 200 without running the handler;
//! a duplicate of an IN_FLIGHT one gets 409 so that the provider retries later.
//!
//! ```
//! use std::time::Duration;
//! use hookwarden_core::{DedupeStore, MemoryStore, Reservation};
//!
//! # async fn demo() -> Result<(), std::convert::Infallible> {
//! let store = MemoryStore::new();
//! let Reservation::Acquired(token) = store.reserve("ntxpay:evt_1", Duration::from_secs(60)).await? else {
//!     unreachable!("a new key is free");
//! };
//! assert_eq!(store.reserve("ntxpay:evt_1", Duration::from_secs(60)).await?, Reservation::InFlight);
//! store.complete("ntxpay:evt_1", token, Duration::from_secs(3600)).await?;
//! assert_eq!(store.reserve("ntxpay:evt_1", Duration::from_secs(60)).await?, Reservation::Done);
//! # Ok(())
//! # }
//! # demo_on(demo());
//! # fn demo_on(f: impl std::future::Future<Output = Result<(), std::convert::Infallible>>) {
//! #     let mut f = std::pin::pin!(f);
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     assert!(matches!(f.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{DeliveryId, Verified, VerifyError};

/// How long a reservation holds a key before it frees itself, by default.
/// A handler that runs longer than this may be run again by a retry.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a completed delivery is remembered, by default: 72 hours, since
/// providers retry for up to three days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(72 * 3600);

/// The body of the 200 answered for a duplicate of a handled delivery.
pub const DUPLICATE_BODY: &str = r#"{"status":"duplicate"}"#;

/// Proof of a reservation: only its holder can release the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u128);

impl Token {
    /// A token from the store's own unique value.
    pub const fn new(value: u128) -> Self {
        Self(value)
    }

    /// The token's value, for stores that persist it.
    pub const fn get(self) -> u128 {
        self.0
    }
}

/// What [`DedupeStore::reserve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free and is now held with this token: run the handler.
    Acquired(Token),
    /// Another attempt holds the key: answer 409 so the provider retries.
    InFlight,
    /// The delivery was already handled: answer 200 without the handler.
    Done,
}

/// Where delivery IDs are remembered.
///
/// # Contract
/// - `reserve` atomically takes an absent (or expired) key for `lease` and
///   returns a fresh token; otherwise it reports `InFlight` or `Done`.
/// - `complete` records the delivery DONE for `retention`, whatever holds
///   the key now: a success is final. The gate calls it only after a 2xx,
///   so the key may be held by this attempt (even past its lease: a handler
///   slower than its lease is still recorded), by a retry that took it
///   after that lease (the retry's own outcome then changes nothing, and
///   its failure cannot undo the success), or by nobody. A live DONE keeps
///   its first retention.
/// - `release` frees the key held with `token`; with a token that no longer
///   holds the key (another attempt took it after the lease ended, or a
///   success made it DONE) it changes nothing and succeeds.
/// - An `Err` from `reserve` means the store could not answer; adapters
///   then refuse the delivery with 503 rather than risk running it twice.
///   An `Err` from `complete` is only logged (the handler has answered): a
///   network store should keep trying a failed `complete` itself, or the
///   delivery runs again once its lease ends (`RedisStore` retries in the
///   background).
/// - The gate drops a `complete` or `release` future unfinished when the
///   request is cancelled (the client left, an outer timeout fired), and
///   polls a `release` once when a request is dropped while it holds a key.
///   A store whose calls wait on a network should run them in a task of its
///   own from the first poll, so that they finish anyway (`RedisStore`
///   does); otherwise such a delivery waits for its lease to end, and a
///   retry then runs the handler again.
///
/// The futures are `Send`, so the trait serves multi-threaded runtimes; no
/// `async_trait` boxing is involved.
pub trait DedupeStore: Send + Sync {
    /// Why the store could not answer. The gate logs its `Display` text at
    /// `ERROR` (never in a response): keep credentials, such as a password
    /// in a connection URL, out of it, as `RedisStore`'s errors do.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Takes `key` for `lease` if it is free.
    fn reserve(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Reservation, Self::Error>> + Send;

    /// Marks the delivery handled, for `retention`; `token` is the
    /// reservation of the attempt whose handler succeeded.
    fn complete(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Frees the key held with `token`, so that a retry runs the handler.
    fn release(
        &self,
        key: &str,
        token: Token,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// The dedupe key of a verified delivery: `namespace:<delivery-id>` when the
/// signature covers the ID, else `namespace:sha256:<hex of the body>`.
///
/// A `:` or `%` in the namespace is written `%3A` or `%25`, so that the
/// first `:` of a key always ends its namespace: namespace `shop:eu` with
/// ID `1` and namespace `shop` with ID `eu:1` are different keys. A
/// namespace without either character (every default) is written as it
/// is. Builds before this escaping wrote every namespace as it is: where a
/// namespace holds `:` or `%`, a store shared across such an upgrade does
/// not recognise the keys written before it, and a delivery handled just
/// before the upgrade may run again if it is retried after.
///
/// An ID header the provider does not sign (GitHub, Shopify, NTX Pay) is not
/// trusted: whoever replays a captured delivery could change it and slip
/// past dedupe. For those schemes the body, which the signature does cover,
/// is the key; a provider's retry resends the same body.
///
/// ```
/// use hookwarden_core::{dedupe_key, presets, SignOptions, Signer, Verifier};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let scheme = presets::standard_webhooks();
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let headers = Signer::new(scheme.clone(), secret)?.sign(b"{}", &SignOptions::new().with_id("msg_1"))?;
/// let verified = Verifier::new(scheme, secret)?.verify(&headers, b"{}")?;
/// assert_eq!(dedupe_key("sw", &verified, b"{}"), "sw:msg_1");
/// assert_eq!(dedupe_key("sw:eu", &verified, b"{}"), "sw%3Aeu:msg_1");
///
/// // GitHub does not sign X-GitHub-Delivery: the body is the key.
/// let headers = Signer::new(presets::github(), "s3cret")?.sign(b"{}", &SignOptions::new().with_id("d-1"))?;
/// let verified = Verifier::new(presets::github(), "s3cret")?.verify(&headers, b"{}")?;
/// assert!(dedupe_key("github", &verified, b"{}").starts_with("github:sha256:44136fa3"));
/// # Ok(())
/// # }
/// ```
pub fn dedupe_key(namespace: &str, verified: &Verified, body: &[u8]) -> String {
    // Joined by hand into one allocation of the exact size: this runs for
    // every delivery, and `format!` costs more than the copy itself.
    let escaped;
    let namespace = if namespace.contains([':', '%']) {
        escaped = namespace.replace('%', "%25").replace(':', "%3A");
        &escaped
    } else {
        namespace
    };
    let join = |parts: &[&str]| {
        let mut key = String::with_capacity(parts.iter().map(|part| part.len()).sum());
        parts.iter().for_each(|part| key.push_str(part));
        key
    };
    match verified.delivery_id() {
        Some(id) if verified.delivery_id_is_signed() => join(&[namespace, ":", id]),
        _ => join(&[
            namespace,
            ":sha256:",
            &DeliveryId::hex(&Sha256::digest(body)),
        ]),
    }
}

/// Why an adapter answered instead of the handler. Both adapters map these
/// to the same status and body: `{"error":"<code>"}`, or for a duplicate of
/// a handled delivery, 200 `{"status":"duplicate"}`.
///
/// ```
/// use hookwarden_core::{Rejection, VerifyError};
///
/// let rejection = Rejection::from(VerifyError::StaleTimestamp);
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.body(), r#"{"error":"stale_timestamp"}"#);
/// assert_eq!(Rejection::InFlight.status(), 409);
/// assert_eq!(Rejection::BodyReadTimeout.status(), 408);
/// assert_eq!(Rejection::BodyReadTimeout.body(), r#"{"error":"body_read_timeout"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The delivery failed verification.
    Verify(VerifyError),
    /// The body is larger than the limit (by `Content-Length` or as read): 413.
    BodyTooLarge,
    /// The body could not be read (the client went away, a bad chunk): 400.
    BodyRead,
    /// The whole body did not arrive within the gate's read timeout
    /// ([`Gate::with_read_timeout`](crate::Gate::with_read_timeout)): 408.
    /// A deadline for the whole body, not for each chunk, so a body that
    /// trickles in cannot hold the request for longer.
    BodyReadTimeout,
    /// The same delivery is being handled right now: 409, retry later.
    InFlight,
    /// The dedupe store did not answer: 503, retry later.
    StoreUnavailable,
    /// The delivery was already handled: 200, so that the provider stops.
    Duplicate,
    /// A handler asked for the verified delivery on a route without the
    /// webhook layer or middleware: a server bug, 500.
    MissingLayer,
}

impl Rejection {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verify(err) => err.code(),
            Self::BodyTooLarge => "body_too_large",
            Self::BodyRead => "body_read_failed",
            Self::BodyReadTimeout => "body_read_timeout",
            Self::InFlight => "in_flight",
            Self::StoreUnavailable => "store_unavailable",
            Self::Duplicate => "duplicate",
            Self::MissingLayer => "webhook_layer_missing",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::Verify(err) => err.status(),
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyRead => StatusCode::BAD_REQUEST,
            Self::BodyReadTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::InFlight => StatusCode::CONFLICT,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Duplicate => StatusCode::OK,
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body, JSON: `{"error":"<code>"}` (codes need no
    /// escaping), or [`DUPLICATE_BODY`] for a duplicate.
    pub fn body(&self) -> String {
        match self {
            Self::Duplicate => DUPLICATE_BODY.to_owned(),
            _ => format!(r#"{{"error":"{}"}}"#, self.code()),
        }
    }

    /// Emits the `tracing` event every adapter logs for this answer: the
    /// code, status, scheme and delivery ID (never a secret or a signature).
    /// An ID the signature covers is `delivery_id`; one from a header the
    /// provider does not sign (GitHub, Shopify, NTX Pay) is only the
    /// sender's claim, and is `claimed_delivery_id`. A duplicate is logged at
    /// `INFO`, a missing layer at `ERROR`, every other rejection at `WARN`.
    pub fn log(&self, scheme: &str, verified: Option<&Verified>) {
        let code = self.code();
        let status = self.status().as_u16();
        let (delivery_id, claimed_delivery_id) =
            verified.map_or((None, None), Verified::logged_ids);
        match self {
            Self::Duplicate => tracing::info!(
                code,
                status,
                scheme,
                delivery_id,
                claimed_delivery_id,
                "duplicate webhook delivery answered without the handler"
            ),
            Self::MissingLayer => tracing::error!(
                code,
                status,
                "the route has no webhook layer, so no delivery was verified"
            ),
            _ => tracing::warn!(
                code,
                status,
                scheme,
                delivery_id,
                claimed_delivery_id,
                "webhook delivery rejected"
            ),
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(err: VerifyError) -> Self {
        Self::Verify(err)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(err) => err.fmt(f),
            Self::BodyTooLarge => f.write_str("the body is larger than the limit"),
            Self::BodyRead => f.write_str("the body could not be read"),
            Self::BodyReadTimeout => f.write_str("the body did not arrive within the read timeout"),
            Self::InFlight => f.write_str("the same delivery is being handled"),
            Self::StoreUnavailable => f.write_str("the dedupe store did not answer"),
            Self::Duplicate => f.write_str("the delivery was already handled"),
            Self::MissingLayer => f.write_str("the route has no webhook layer"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Verify(err) => Some(err),
            _ => None,
        }
    }
}
