//! `WebhookLayer`, the `Webhook` service and its response future.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hookwarden_core::{
    dedupe_key, DedupeStore, MemoryStore, Rejection, Reservation, Token, Verified, Verifier,
    DEFAULT_LEASE, DEFAULT_RETENTION, DUPLICATE_BODY,
};
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{BufferedBody, ResponseBody};

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A [`Layer`] that verifies and deduplicates webhook deliveries before the
/// inner service (the handler) sees them.
///
/// Per request: a `Content-Length` over the limit is answered 413 before
/// anything is read; the body is buffered up to the limit (413 past it); the
/// delivery is verified (400/401); its delivery ID is reserved in the dedupe
/// store (a handled duplicate is answered 200, one being handled 409, a store
/// failure 503); then the inner service gets the exact bytes and the
/// [`Verified`] record in the request extensions. A 2xx answer marks the
/// delivery handled; any other answer, an error or a panic frees it for a
/// retry.
///
/// ```
/// use axum::{routing::post, Extension, Router};
/// use hookwarden_core::{presets, Verified, Verifier};
/// use hookwarden_tower::WebhookLayer;
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let verifier = Verifier::new(presets::ntxpay(), "whsec_development_only")?;
/// let app: Router = Router::new()
///     .route("/webhooks/ntxpay", post(|Extension(v): Extension<Verified>, body: bytes::Bytes| async move {
///         format!("{} bytes, delivery {:?}", body.len(), v.delivery_id())
///     }))
///     .route_layer(WebhookLayer::new(verifier));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WebhookLayer<St = MemoryStore> {
    config: Config<St>,
}

#[derive(Clone)]
struct Config<St> {
    verifier: Verifier,
    store: St,
    namespace: Arc<str>,
    body_limit: usize,
    lease: Duration,
    retention: Duration,
    fail_open: bool,
}

impl WebhookLayer<MemoryStore> {
    /// A layer checking deliveries with `verifier`, deduplicating them in a
    /// new [`MemoryStore`] under the scheme's name.
    pub fn new(verifier: Verifier) -> Self {
        let namespace = Arc::from(verifier.scheme().name());
        Self {
            config: Config {
                verifier,
                store: MemoryStore::new(),
                namespace,
                body_limit: DEFAULT_BODY_LIMIT,
                lease: DEFAULT_LEASE,
                retention: DEFAULT_RETENTION,
                fail_open: false,
            },
        }
    }
}

impl<St> WebhookLayer<St> {
    /// Deduplicates in `store` instead (a shared one, or Redis for several replicas).
    #[must_use]
    pub fn with_store<T>(self, store: T) -> WebhookLayer<T> {
        let Config {
            verifier,
            namespace,
            body_limit,
            lease,
            retention,
            fail_open,
            ..
        } = self.config;
        WebhookLayer {
            config: Config {
                verifier,
                store,
                namespace,
                body_limit,
                lease,
                retention,
                fail_open,
            },
        }
    }

    /// The largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// How long a delivery being handled holds its ID (default
    /// [`DEFAULT_LEASE`]); if the handler dies, a retry runs after this at most.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// How long a handled delivery is remembered (default [`DEFAULT_RETENTION`]).
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.config.retention = retention;
        self
    }

    /// The prefix of this route's dedupe keys (default: the scheme's name).
    /// Give routes sharing a store and a scheme different namespaces.
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<Arc<str>>) -> Self {
        self.config.namespace = namespace.into();
        self
    }

    /// When the store fails, run the handler anyway (risking a duplicate)
    /// instead of answering 503. Off by default.
    #[must_use]
    pub fn with_fail_open(mut self, fail_open: bool) -> Self {
        self.config.fail_open = fail_open;
        self
    }
}

impl<St> fmt::Debug for WebhookLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl<St> fmt::Debug for Config<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("scheme", &self.verifier.scheme().name())
            .field("namespace", &self.namespace)
            .field("body_limit", &self.body_limit)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl<S, St: Clone> Layer<S> for WebhookLayer<St> {
    type Service = Webhook<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        Webhook {
            inner,
            config: Arc::new(self.config.clone()),
        }
    }
}

/// The service [`WebhookLayer`] wraps around a handler.
pub struct Webhook<S, St = MemoryStore> {
    inner: S,
    config: Arc<Config<St>>,
}

impl<S: Clone, St> Clone for Webhook<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for Webhook<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, St, B, ResBody> Service<Request<B>> for Webhook<S, St>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: BufferedBody + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
    ResBody: Send + 'static,
    St: DedupeStore + Clone + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let config = Arc::clone(&self.config);
        if content_length(&req).is_some_and(|len| len > config.body_limit as u64) {
            let response = reject(&config, &Rejection::BodyTooLarge, None);
            return ResponseFuture {
                kind: FutureKind::Ready {
                    response: Some(response),
                },
            };
        }
        // The service that was polled ready handles this request; a fresh
        // clone takes its place (tower's rule for services moved into futures).
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        ResponseFuture {
            kind: FutureKind::Running {
                future: Box::pin(handle(config, inner, req)),
            },
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The future [`Webhook`] returns.
pub struct ResponseFuture<ResBody, E> {
    kind: FutureKind<ResBody, E>,
}

enum FutureKind<ResBody, E> {
    Ready {
        response: Option<Response<ResponseBody<ResBody>>>,
    },
    Running {
        future: BoxFuture<Result<Response<ResponseBody<ResBody>>, E>>,
    },
}

// Nothing inside is pinned: the response is moved out whole and the running
// future is boxed.
impl<ResBody, E> Unpin for ResponseFuture<ResBody, E> {}

impl<ResBody, E> Future for ResponseFuture<ResBody, E> {
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().kind {
            FutureKind::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("ResponseFuture polled after completion"),
            },
            FutureKind::Running { future } => future.as_mut().poll(cx),
        }
    }
}

impl<ResBody, E> fmt::Debug for ResponseFuture<ResBody, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// The whole life of one delivery after the `Content-Length` check.
async fn handle<S, St, B, ResBody>(
    config: Arc<Config<St>>,
    mut inner: S,
    req: Request<B>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    B: BufferedBody,
    B::Error: std::error::Error + Send + Sync + 'static,
    St: DedupeStore + Clone,
{
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, config.body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            let rejection = if err.is::<LengthLimitError>() {
                Rejection::BodyTooLarge
            } else {
                Rejection::BodyRead
            };
            return Ok(reject(&config, &rejection, None));
        }
    };
    let verified = match config.verifier.verify(&parts.headers, &bytes) {
        Ok(verified) => verified,
        Err(err) => return Ok(reject(&config, &err.into(), None)),
    };

    let key = dedupe_key(&config.namespace, &verified, &bytes);
    let mut held = Held {
        store: config.store.clone(),
        key,
        token: None,
    };
    match config.store.reserve(&held.key, config.lease).await {
        Ok(Reservation::Acquired(token)) => held.token = Some(token),
        Ok(Reservation::Done) => return Ok(duplicate(&config, &verified)),
        Ok(Reservation::InFlight) => {
            return Ok(reject(&config, &Rejection::InFlight, Some(&verified)))
        }
        Err(err) => {
            tracing::error!(
                scheme = %config.verifier.scheme().name(),
                delivery_id = ?verified.delivery_id().map(|id| id.as_str()),
                error = %err,
                fail_open = config.fail_open,
                "dedupe store failed"
            );
            if !config.fail_open {
                return Ok(reject(
                    &config,
                    &Rejection::StoreUnavailable,
                    Some(&verified),
                ));
            }
            // Fail-open: run the handler without dedupe.
        }
    }

    let mut req = Request::from_parts(parts, B::from_bytes(bytes));
    req.extensions_mut().insert(verified);
    let outcome = match catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
        Ok(future) => CatchUnwind { future }.await,
        Err(panic) => Err(panic),
    };
    let handled = matches!(&outcome, Ok(Ok(response)) if response.status().is_success());
    held.finish(handled, config.retention).await;
    match outcome {
        Ok(result) => result.map(|response| response.map(ResponseBody::inner)),
        Err(panic) => resume_unwind(panic),
    }
}

/// A reservation being held. Finished by [`Held::finish`]; if the request is
/// dropped first (the client went away, a timeout), it is released on drop
/// when the store can do so at once (the memory store), or else frees itself
/// when its lease ends.
struct Held<St: DedupeStore> {
    store: St,
    key: String,
    token: Option<Token>,
}

impl<St: DedupeStore> Held<St> {
    async fn finish(&mut self, handled: bool, retention: Duration) {
        let Some(token) = self.token.take() else {
            return;
        };
        let result = if handled {
            self.store.complete(&self.key, token, retention).await
        } else {
            self.store.release(&self.key, token).await
        };
        if let Err(err) = result {
            tracing::error!(
                key = %self.key,
                handled,
                error = %err,
                "dedupe store failed to record the outcome; the lease will expire"
            );
        }
    }
}

impl<St: DedupeStore> Drop for Held<St> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
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

fn content_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A JSON answer from the layer itself.
fn answer<ResBody>(status: StatusCode, body: String) -> Response<ResponseBody<ResBody>> {
    let mut response = Response::new(ResponseBody::answer(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn reject<St, ResBody>(
    config: &Config<St>,
    rejection: &Rejection,
    verified: Option<&Verified>,
) -> Response<ResponseBody<ResBody>> {
    rejection_response(config.verifier.scheme().name(), rejection, verified)
}

/// Logs a rejection and builds its answer: the one place both the layer and
/// the extractors turn a [`Rejection`] into a response.
pub(crate) fn rejection_response<ResBody>(
    scheme: &str,
    rejection: &Rejection,
    verified: Option<&Verified>,
) -> Response<ResponseBody<ResBody>> {
    let delivery_id = verified
        .and_then(Verified::delivery_id)
        .map(|id| id.as_str());
    tracing::warn!(
        code = rejection.code(),
        status = rejection.status().as_u16(),
        scheme,
        delivery_id = ?delivery_id,
        "webhook delivery rejected"
    );
    answer(rejection.status(), rejection.body())
}

fn duplicate<St, ResBody>(
    config: &Config<St>,
    verified: &Verified,
) -> Response<ResponseBody<ResBody>> {
    tracing::info!(
        scheme = %config.verifier.scheme().name(),
        delivery_id = ?verified.delivery_id().map(|id| id.as_str()),
        "duplicate webhook delivery answered without the handler"
    );
    answer(StatusCode::OK, DUPLICATE_BODY.to_owned())
}
