//! `WebhookLayer`, the `Webhook` service and its response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use hookwarden_core::{DedupeStore, Gate, MemoryStore, Rejection};
use http::{header, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{BufferedBody, ResponseBody};

/// A [`Layer`] that verifies and deduplicates webhook deliveries before the
/// inner service (the handler) sees them.
///
/// It runs a [`Gate`] per request: a `Content-Length` over the limit is
/// answered 413 before anything is read; the body is buffered up to the limit
/// (413 past it) within the read timeout (408 past it); the delivery is
/// verified (400/401); its delivery ID is reserved in the dedupe store (a
/// handled duplicate is answered 200, one being handled 409, a store failure
/// 503); then the inner service gets the exact bytes and the
/// [`Verified`](hookwarden_core::Verified) record in the request extensions.
/// A 2xx answer marks the delivery handled; any other answer, an error or a
/// panic frees it for a retry. With the `axum` feature, the handler's
/// `Bytes`, `String` and `Json` take bodies up to the gate's limit: the
/// layer sets axum's `DefaultBodyLimit` to it for the requests it admits.
///
/// The read timeout ([`Gate::with_read_timeout`]) runs on Tokio's timer:
/// serve the layer from a Tokio runtime with time enabled, as `axum::serve`
/// and hyper-util's servers are.
///
/// ```
/// use axum::{routing::post, Extension, Router};
/// use hookwarden_core::{presets, Gate, Verified, Verifier};
/// use hookwarden_tower::WebhookLayer;
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let verifier = Verifier::new(presets::ntxpay(), "whsec_development_only")?;
/// let handler = post(|Extension(v): Extension<Verified>, body: bytes::Bytes| async move {
///     format!("{} bytes, delivery {:?}", body.len(), v.delivery_id())
/// });
/// // All defaults: `WebhookLayer::new(verifier)`. Otherwise configure a `Gate`:
/// let layer = WebhookLayer::new(Gate::new(verifier).with_body_limit(256 * 1024));
/// // On the method router, so that other methods still get axum's 405.
/// let app: Router = Router::new().route("/webhooks/ntxpay", handler.route_layer(layer));
/// # Ok(())
/// # }
/// ```
pub struct WebhookLayer<St = MemoryStore> {
    gate: Arc<Gate<St>>,
}

impl<St> WebhookLayer<St> {
    /// A layer running `gate`, or a bare
    /// [`Verifier`](hookwarden_core::Verifier) with the defaults of [`Gate::new`].
    pub fn new(gate: impl Into<Gate<St>>) -> Self {
        Self {
            gate: Arc::new(gate.into()),
        }
    }

    /// The gate this layer runs.
    pub fn gate(&self) -> &Gate<St> {
        &self.gate
    }
}

impl<St> Clone for WebhookLayer<St> {
    fn clone(&self) -> Self {
        Self {
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<St> fmt::Debug for WebhookLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("gate", &self.gate)
            .finish()
    }
}

impl<S, St> Layer<S> for WebhookLayer<St> {
    type Service = Webhook<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        Webhook {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// The service [`WebhookLayer`] wraps around a handler.
pub struct Webhook<S, St = MemoryStore> {
    inner: S,
    gate: Arc<Gate<St>>,
}

impl<S: Clone, St> Clone for Webhook<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for Webhook<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("inner", &self.inner)
            .field("gate", &self.gate)
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
    B::Error: Into<BoxError>,
    ResBody: Send + 'static,
    St: DedupeStore + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Err(rejection) = self.gate.precheck(req.headers()) {
            return ResponseFuture {
                kind: FutureKind::Ready {
                    response: Some(answer(&rejection)),
                },
            };
        }
        let gate = Arc::clone(&self.gate);
        // The service that was polled ready handles this request; a fresh
        // clone takes its place (tower's rule for services moved into futures).
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        ResponseFuture {
            kind: FutureKind::Running {
                future: Box::pin(handle(gate, inner, req)),
            },
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The error of a request body: any error a body may have, boxed or not
/// (tower-http's bodies fail with one of these).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    gate: Arc<Gate<St>>,
    mut inner: S,
    req: Request<B>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    B: BufferedBody,
    B::Error: Into<BoxError>,
    St: DedupeStore,
{
    let (parts, body) = req.into_parts();
    // One deadline for the whole body, however it trickles in.
    let read = tokio::time::timeout(gate.read_timeout(), async {
        let mut body = std::pin::pin!(body);
        let mut buffer = gate.body_buffer();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| read_error(&*err.into()))?;
            // Trailers are not part of the signed body.
            if let Ok(mut data) = frame.into_data() {
                buffer.push(data.copy_to_bytes(data.remaining()))?;
            }
        }
        Ok(buffer.finish())
    });
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(rejection)) => return Ok(answer(&gate.refuse(rejection))),
        Err(_elapsed) => return Ok(answer(&gate.refuse(Rejection::BodyReadTimeout))),
    };
    let admitted = match gate.admit(&parts.headers, &bytes).await {
        Ok(admitted) => admitted,
        Err(rejection) => return Ok(answer(&rejection)),
    };
    let mut req = Request::from_parts(parts, B::from_bytes(bytes));
    req.extensions_mut().insert(admitted.verified().clone());
    // The handler's `Bytes`, `String` or `Json` would read the buffered body
    // again under axum's `DefaultBodyLimit` (2 MiB unless set): let them
    // take whatever the gate admitted, or an admitted delivery could never
    // reach its handler.
    #[cfg(feature = "axum")]
    axum::extract::DefaultBodyLimit::max(gate.body_limit()).apply(&mut req);
    let result = admitted
        .run(
            || inner.call(req),
            |result| matches!(result, Ok(response) if response.status().is_success()),
        )
        .await;
    result.map(|response| response.map(ResponseBody::inner))
}

/// What a body's read error means: a `Limited` body past its limit (as
/// tower-http's `RequestBodyLimitLayer` cuts one) is too large, as axum's
/// extractors answer it; anything else could not be read.
fn read_error(err: &(dyn std::error::Error + 'static)) -> Rejection {
    let mut source = Some(err);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return Rejection::BodyTooLarge;
        }
        source = err.source();
    }
    Rejection::BodyRead
}

/// The layer's own answer for `rejection` (already logged).
pub(crate) fn answer<ResBody>(rejection: &Rejection) -> Response<ResponseBody<ResBody>> {
    let mut response = Response::new(ResponseBody::answer(rejection.body()));
    *response.status_mut() = rejection.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
