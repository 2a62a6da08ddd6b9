//! axum extractors: the layer's record, and a layer-free verifying extractor.

use std::fmt;
use std::ops::Deref;

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hookwarden_core::{Rejection, Verified, Verifier, DEFAULT_READ_TIMEOUT};
use http::request::Parts;
use http::StatusCode;

use crate::service::answer;

/// The [`Verified`] record that [`WebhookLayer`](crate::WebhookLayer) put in
/// the request, as a handler argument.
///
/// ```
/// use hookwarden_tower::Delivery;
///
/// async fn handler(delivery: Delivery) -> String {
///     format!("{} {:?}", delivery.scheme(), delivery.delivery_id())
/// }
/// # let _ = axum::routing::post::<_, _, ()>(handler);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery(pub Verified);

impl Deref for Delivery {
    type Target = Verified;

    fn deref(&self) -> &Verified {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Delivery {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, MissingLayer> {
        parts
            .extensions
            .get::<Verified>()
            .cloned()
            .map(Delivery)
            .ok_or(MissingLayer)
    }
}

/// The route has no [`WebhookLayer`](crate::WebhookLayer): a server bug,
/// answered 500 `{"error":"webhook_layer_missing"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingLayer;

impl MissingLayer {
    /// The status answered: 500.
    pub fn status(&self) -> StatusCode {
        Rejection::MissingLayer.status()
    }

    /// The body answered.
    pub fn body_text(&self) -> String {
        Rejection::MissingLayer.body()
    }
}

impl fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the route has no WebhookLayer, so no delivery was verified")
    }
}

impl std::error::Error for MissingLayer {}

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        let rejection = Rejection::MissingLayer;
        rejection.log("", None);
        answer::<Body>(&rejection).map(Body::new)
    }
}

/// A verified delivery taken as one extractor, for apps that prefer
/// extractors to layers: the [`Verifier`] comes from the router's state.
///
/// It verifies only; it does not deduplicate (an extractor cannot see the
/// handler's answer). Use [`WebhookLayer`](crate::WebhookLayer) for dedupe.
/// The body is read with axum's `Bytes` extractor, so `DefaultBodyLimit`
/// applies, within [`DEFAULT_READ_TIMEOUT`] for the whole body (408
/// `body_read_timeout` past it).
///
/// ```
/// use axum::{routing::post, Router};
/// use hookwarden_core::{presets, Verifier};
/// use hookwarden_tower::VerifiedWebhook;
///
/// async fn on_github(webhook: VerifiedWebhook) -> String {
///     format!("{} bytes from {}", webhook.body.len(), webhook.verified.scheme())
/// }
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let verifier = Verifier::new(presets::github(), "s3cret")?;
/// let app: Router = Router::new().route("/webhooks/github", post(on_github)).with_state(verifier);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    /// What passed.
    pub verified: Verified,
    /// The exact bytes that were signed.
    pub body: Bytes,
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebhookRejection> {
        let verifier = Verifier::from_ref(state);
        let scheme = verifier.scheme().name().to_owned();
        let headers = req.headers().clone();
        let read = tokio::time::timeout(DEFAULT_READ_TIMEOUT, Bytes::from_request(req, state));
        let body = match read.await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(err)) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Rejection::BodyTooLarge)
            }
            Ok(Err(_)) => Err(Rejection::BodyRead),
            Err(_elapsed) => Err(Rejection::BodyReadTimeout),
        }
        .map_err(|rejection| WebhookRejection {
            scheme: scheme.clone(),
            rejection,
        })?;
        match verifier.verify(&headers, &body) {
            Ok(verified) => Ok(Self { verified, body }),
            Err(err) => Err(WebhookRejection {
                scheme,
                rejection: err.into(),
            }),
        }
    }
}

/// Why [`VerifiedWebhook`] refused a request; answered like the layer's
/// rejections: the same status and `{"error":"<code>"}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRejection {
    scheme: String,
    rejection: Rejection,
}

impl WebhookRejection {
    /// The underlying rejection.
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.rejection.status()
    }

    /// The body answered.
    pub fn body_text(&self) -> String {
        self.rejection.body()
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rejection.fmt(f)
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.rejection)
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        self.rejection.log(&self.scheme, None);
        answer::<Body>(&self.rejection).map(Body::new)
    }
}
