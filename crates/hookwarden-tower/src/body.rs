//! Request bodies the layer can rebuild, and its own response body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt, Full};
use pin_project_lite::pin_project;

/// A request body type the layer can rebuild from the bytes it buffered, so
/// that the inner service receives the same request type, holding exactly the
/// bytes that were verified.
///
/// Implemented for [`Full<Bytes>`], http-body-util's boxed bodies and, with
/// the `axum` feature, `axum::body::Body`. With plain hyper, box `Incoming`
/// first (`req.map(BodyExt::boxed)`):
///
/// ```
/// use bytes::Bytes;
/// use hookwarden_core::{presets, Verified, Verifier};
/// use hookwarden_tower::WebhookLayer;
/// use http::{Request, Response};
/// use http_body_util::{combinators::BoxBody, BodyExt, Full};
/// use hyper::body::Incoming;
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let verifier = Verifier::new(presets::ntxpay(), "whsec_development_only")?;
/// let service = tower::ServiceBuilder::new()
///     .map_request(|req: Request<Incoming>| req.map(BodyExt::boxed))
///     .layer(WebhookLayer::new(verifier))
///     .service_fn(|req: Request<BoxBody<Bytes, hyper::Error>>| async move {
///         let verified = req.extensions().get::<Verified>().cloned(); // set by the layer
///         let body = req.into_body().collect().await?.to_bytes(); // the exact signed bytes
///         let _ = (verified, body);
///         Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
///     });
/// // Serve it with `hyper_util::service::TowerToHyperService::new(service)`.
/// # fn takes_incoming<S: tower::Service<Request<Incoming>>>(_: &S) {}
/// # takes_incoming(&service);
/// # Ok(())
/// # }
/// ```
pub trait BufferedBody: Body + Sized {
    /// A body that yields `bytes` and ends.
    fn from_bytes(bytes: Bytes) -> Self;
}

impl BufferedBody for Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
    }
}

impl<E: 'static> BufferedBody for BoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes).map_err(|never| match never {}).boxed()
    }
}

impl<E: 'static> BufferedBody for UnsyncBoxBody<Bytes, E> {
    fn from_bytes(bytes: Bytes) -> Self {
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }
}

#[cfg(feature = "axum")]
impl BufferedBody for axum::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        axum::body::Body::from(bytes)
    }
}

pin_project! {
    /// The response body of [`Webhook`](crate::Webhook): the inner service's
    /// body, or a short JSON body the layer answered with.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Answer { body: Full<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn answer(text: impl Into<Bytes>) -> Self {
        Self {
            kind: Kind::Answer {
                body: Full::new(text.into()),
            },
        }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Answer { .. } => "Answer",
        };
        f.debug_tuple("ResponseBody").field(&kind).finish()
    }
}

impl<B: Body<Data = Bytes>> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Answer { body } => Pin::new(body)
                .poll_frame(cx)
                .map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Answer { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Answer { body } => body.size_hint(),
        }
    }
}
