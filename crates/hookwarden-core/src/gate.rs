//! The gate: what every delivery goes through before its handler, in one
//! place, so that every adapter behaves alike.
//!
//! An adapter (the tower layer, the actix-web middleware) does only what is
//! specific to its framework: it reads the body, answers with a
//! [`Rejection`], and runs the handler. The decisions are the gate's:
//!
//! 1. [`Gate::precheck`]: a `Content-Length` over the limit, or repeated, is
//!    refused before anything is read;
//! 2. the adapter reads the body into a [`Gate::body_buffer`], which refuses
//!    it past [`Gate::body_limit`], within [`Gate::read_timeout`] for the
//!    whole body (refusing with [`Gate::refuse`] past either);
//! 3. [`Gate::admit`] verifies the delivery and reserves it in the dedupe
//!    store, or says what to answer instead (logging why);
//! 4. [`Admitted::run`] runs the handler and records its outcome: a
//!    successful answer marks the delivery handled, anything else (an error,
//!    a panic, a dropped request) frees it for a retry.
//!
//! ```
//! use hookwarden_core::{presets, Admitted, Gate, SignOptions, Signer, Verifier};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = "whsec_development_only";
//! let gate = Gate::new(Verifier::new(presets::ntxpay(), secret)?).with_body_limit(64 * 1024);
//!
//! let body = br#"{"event":"cash_in","amount":100}"#;
//! let headers = Signer::new(presets::ntxpay(), secret)?.sign(body, &SignOptions::new())?;
//! gate.precheck(&headers)?;
//! let admitted: Admitted<'_, _> = gate.admit(&headers, body).await?;
//! let status = admitted
//!     .run(|| async { 200 }, |status| (200..300).contains(status))
//!     .await;
//! assert_eq!(status, 200);
//!
//! // The same delivery again is a duplicate: answered 200 without the handler.
//! let answer = gate.admit(&headers, body).await.unwrap_err();
//! assert_eq!((answer.status().as_u16(), answer.code()), (200, "duplicate"));
//! # Ok(())
//! # }
//! # // The memory store and this handler never wait: one poll finishes.
//! # use std::future::Future;
//! # let mut demo = std::pin::pin!(demo());
//! # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! # assert!(matches!(demo.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(()))));
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::header::CONTENT_LENGTH;
use pin_project_lite::pin_project;

use crate::dedupe::{dedupe_key, DedupeStore, Rejection, Reservation, Token};
use crate::headers::{HeaderLookup, Lookup};
use crate::{
    BodyBuffer, MemoryStore, Verified, Verifier, VerifyError, DEFAULT_LEASE, DEFAULT_RETENTION,
};

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default time the whole body may take to arrive: 10 seconds.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest lease or retention a gate sets: a millisecond, the least
/// Redis keeps a key for. `MemoryStore` takes zero as already over and
/// Redis cannot, so a zero would mean different things to the two stores.
///
/// ```
/// use std::time::Duration;
/// use hookwarden_core::{presets, Gate, Verifier, MIN_HOLD};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let gate = Gate::new(Verifier::new(presets::ntxpay(), "ntxpay-secret")?)
///     .with_lease(Duration::ZERO)
///     .with_retention(Duration::from_micros(10));
/// assert_eq!((gate.lease(), gate.retention()), (MIN_HOLD, MIN_HOLD));
/// # Ok(())
/// # }
/// ```
pub const MIN_HOLD: Duration = Duration::from_millis(1);

/// A verifier, a dedupe store and the limits of one webhook route: the
/// configuration both adapters take, and the checks they run.
///
/// Built with [`Gate::new`] and consuming `with_*` setters; adapters accept
/// a bare [`Verifier`] too, meaning all defaults.
///
/// ```
/// use std::time::Duration;
/// use hookwarden_core::{presets, Gate, MemoryStore, Verifier};
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let store = MemoryStore::with_capacity(10_000); // shared by two routes
/// let gate = Gate::new(Verifier::new(presets::ntxpay(), "whsec_development_only")?)
///     .with_store(store.clone())
///     .with_namespace("ntxpay-eu")
///     .with_body_limit(256 * 1024)
///     .with_lease(Duration::from_secs(30))
///     .with_read_timeout(Duration::from_secs(5));
/// assert_eq!(gate.body_limit(), 256 * 1024);
/// assert_eq!(gate.read_timeout(), Duration::from_secs(5));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Gate<St = MemoryStore> {
    verifier: Verifier,
    store: St,
    namespace: Arc<str>,
    body_limit: usize,
    read_timeout: Duration,
    lease: Duration,
    retention: Duration,
    fail_open: bool,
}

impl Gate<MemoryStore> {
    /// A gate checking deliveries with `verifier`, deduplicating them in a
    /// new [`MemoryStore`] under the scheme's name, with a 1 MiB body limit
    /// and a 10 s read timeout.
    pub fn new(verifier: Verifier) -> Self {
        let namespace = Arc::from(verifier.scheme().name());
        Self {
            verifier,
            store: MemoryStore::new(),
            namespace,
            body_limit: DEFAULT_BODY_LIMIT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
            fail_open: false,
        }
    }
}

impl From<Verifier> for Gate<MemoryStore> {
    fn from(verifier: Verifier) -> Self {
        Self::new(verifier)
    }
}

impl<St> Gate<St> {
    /// Deduplicates in `store` instead (one shared by several routes, or
    /// Redis for an app with several replicas).
    #[must_use]
    pub fn with_store<T>(self, store: T) -> Gate<T> {
        Gate {
            verifier: self.verifier,
            store,
            namespace: self.namespace,
            body_limit: self.body_limit,
            read_timeout: self.read_timeout,
            lease: self.lease,
            retention: self.retention,
            fail_open: self.fail_open,
        }
    }

    /// The largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long the whole body may take to arrive once reading starts
    /// (default [`DEFAULT_READ_TIMEOUT`]); past it the adapter answers 408
    /// [`Rejection::BodyReadTimeout`] without running the handler.
    ///
    /// It is a deadline for the whole body, not an idle timeout: a body
    /// trickling in one byte at a time holds the request for this long at
    /// most. Providers send their bodies at once; the default matches the
    /// 10 s in which NTX Pay and 4pay expect an answer, past which a body
    /// still arriving could not be answered in time anyway.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How long a delivery being handled holds its ID (default
    /// [`DEFAULT_LEASE`]); if the handler dies, a retry runs after this at most.
    /// At least [`MIN_HOLD`], so that every store holds it alike.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(MIN_HOLD);
        self
    }

    /// How long a handled delivery is remembered (default
    /// [`DEFAULT_RETENTION`]). At least [`MIN_HOLD`], so that every store
    /// remembers it alike.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(MIN_HOLD);
        self
    }

    /// The prefix of this route's dedupe keys (default: the scheme's name).
    /// Give routes sharing a store and a scheme different namespaces; any
    /// two different namespaces keep apart, `:` in them included (see
    /// [`dedupe_key`](crate::dedupe_key)).
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<Arc<str>>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// When the store fails, run the handler anyway (risking a duplicate)
    /// instead of answering 503. Off by default.
    #[must_use]
    pub fn with_fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The dedupe store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// The largest body accepted, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// An empty body to read a delivery into, refused past
    /// [`Gate::body_limit`].
    ///
    /// ```
    /// use hookwarden_core::{presets, Gate, Verifier};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let gate = Gate::new(Verifier::new(presets::ntxpay(), "ntxpay-secret")?).with_body_limit(2);
    /// let mut body = gate.body_buffer();
    /// body.push(hookwarden_core::bytes::Bytes::from_static(b"{}"))?;
    /// assert!(body.push(hookwarden_core::bytes::Bytes::from_static(b" ")).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn body_buffer(&self) -> BodyBuffer {
        BodyBuffer::new(self.body_limit)
    }

    /// How long the whole body may take to arrive.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// How long a delivery being handled holds its ID.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How long a handled delivery is remembered.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Refuses a delivery whose `Content-Length` is over the limit, or
    /// repeated, before anything is read. A missing or unreadable
    /// `Content-Length` passes: the limit is then enforced while reading.
    ///
    /// A repeated `Content-Length` reaches the gate only where the server let
    /// it through (HTTP/2 servers pass equal values on), and its values
    /// cannot all be read through [`HeaderLookup`]: refused, as HTTP allows,
    /// rather than read up to the limit or the read timeout.
    ///
    /// # Errors
    /// [`Rejection::BodyTooLarge`], or for a repeated `Content-Length` a
    /// [`Rejection::Verify`] of [`VerifyError::DuplicateHeader`] (400);
    /// logged.
    pub fn precheck<H: HeaderLookup + ?Sized>(&self, headers: &H) -> Result<(), Rejection> {
        let length = match headers.lookup(&CONTENT_LENGTH) {
            Lookup::One(value) => std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse::<u64>().ok()),
            Lookup::Missing => None,
            Lookup::Repeated => {
                let repeated = VerifyError::DuplicateHeader {
                    name: CONTENT_LENGTH.as_str().to_owned(),
                };
                return Err(self.refuse(repeated.into()));
            }
        };
        match length {
            Some(length) if length > self.body_limit as u64 => {
                Err(self.refuse(Rejection::BodyTooLarge))
            }
            _ => Ok(()),
        }
    }

    /// Logs `rejection` for this gate's scheme and hands it back, for the
    /// refusals an adapter finds itself (a body over the limit while reading,
    /// a body that could not be read or did not arrive within the read timeout).
    pub fn refuse(&self, rejection: Rejection) -> Rejection {
        rejection.log(self.verifier.scheme().name(), None);
        rejection
    }
}

impl<St: DedupeStore> Gate<St> {
    /// Verifies the buffered delivery and reserves it in the store.
    ///
    /// # Errors
    /// The [`Rejection`] to answer instead of running the handler, already
    /// logged: a failed verification, a duplicate of a handled delivery
    /// ([`Rejection::Duplicate`], answered 200), one being handled right now,
    /// or a failing store (unless the gate fails open).
    pub async fn admit<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<Admitted<'_, St>, Rejection> {
        let scheme = self.verifier.scheme().name();
        let verified = self
            .verifier
            .verify(headers, body)
            .map_err(|err| self.refuse(err.into()))?;
        let key = dedupe_key(&self.namespace, &verified, body);
        let refusal = match self.store.reserve(&key, self.lease).await {
            Ok(Reservation::Acquired(token)) => return Ok(self.hold(verified, key, Some(token))),
            Ok(Reservation::Done) => Rejection::Duplicate,
            Ok(Reservation::InFlight) => Rejection::InFlight,
            Err(err) => {
                let (delivery_id, claimed_delivery_id) = verified.logged_ids();
                tracing::error!(
                    scheme,
                    delivery_id,
                    claimed_delivery_id,
                    error = %err,
                    fail_open = self.fail_open,
                    "dedupe store failed"
                );
                if self.fail_open {
                    return Ok(self.hold(verified, key, None));
                }
                Rejection::StoreUnavailable
            }
        };
        refusal.log(scheme, Some(&verified));
        Err(refusal)
    }

    fn hold(&self, verified: Verified, key: String, token: Option<Token>) -> Admitted<'_, St> {
        Admitted {
            verified,
            held: Held {
                store: &self.store,
                key,
                token,
                retention: self.retention,
            },
        }
    }
}

impl<St> fmt::Debug for Gate<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("scheme", &self.verifier.scheme().name())
            .field("namespace", &self.namespace)
            .field("body_limit", &self.body_limit)
            .field("read_timeout", &self.read_timeout)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// A delivery that passed the gate: verified, and reserved in the store.
///
/// Run the handler with [`Admitted::run`], which records its outcome. If an
/// `Admitted` is dropped instead (the request was cancelled), its release
/// is polled once: the memory store frees the key at once, `RedisStore`
/// sends the release in a task of its own, and a store that does neither
/// lets the lease end. A request cancelled while the outcome is being
/// recorded leaves that to the store the same way (see [`DedupeStore`]).
#[must_use = "run the handler with `Admitted::run`, which records the outcome"]
pub struct Admitted<'g, St: DedupeStore> {
    verified: Verified,
    held: Held<'g, St>,
}

impl<St: DedupeStore> Admitted<'_, St> {
    /// What passed; adapters hand it to the handler.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// Runs the handler and records the outcome: `handled(&output)` true
    /// marks the delivery handled for the retention; false, or a panic in
    /// `handler` (resumed after the reservation is released), frees it.
    pub async fn run<F, Fut>(
        mut self,
        handler: F,
        handled: impl FnOnce(&Fut::Output) -> bool,
    ) -> Fut::Output
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let outcome = match catch_unwind(AssertUnwindSafe(handler)) {
            Ok(future) => CatchUnwind { future }.await,
            Err(panic) => Err(panic),
        };
        let success = matches!(&outcome, Ok(output) if handled(output));
        self.held.finish(success).await;
        match outcome {
            Ok(output) => output,
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl<St: DedupeStore> fmt::Debug for Admitted<'_, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("verified", &self.verified)
            .field("key", &self.held.key)
            .field("reserved", &self.held.token.is_some())
            .finish()
    }
}

/// A reservation being held.
struct Held<'g, St: DedupeStore> {
    store: &'g St,
    key: String,
    /// `None` once finished, or when a failing store was bypassed (fail-open).
    token: Option<Token>,
    retention: Duration,
}

impl<St: DedupeStore> Held<'_, St> {
    async fn finish(&mut self, handled: bool) {
        let Some(token) = self.token.take() else {
            return;
        };
        let result = if handled {
            self.store.complete(&self.key, token, self.retention).await
        } else {
            self.store.release(&self.key, token).await
        };
        if let Err(err) = result {
            tracing::error!(
                key = %self.key,
                handled,
                error = %err,
                "dedupe store did not confirm the outcome; if it never records it, the lease frees the key"
            );
        }
    }
}

impl<St: DedupeStore> Drop for Held<'_, St> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            // One poll: a store that answers at once releases now; any other
            // lets the lease run out.
            let mut release = pin!(self.store.release(&self.key, token));
            let _ = release
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
        }
    }
}

pin_project! {
    /// Turns a panic while polling `future` into an `Err`.
    struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
