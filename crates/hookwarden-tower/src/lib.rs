//! A tower [`Layer`](tower_layer::Layer) that puts hookwarden in front of
//! webhook routes: bounded buffering, signature and timestamp verification,
//! deduplication, and the exact raw body handed on.
//!
//! ```
//! use axum::{routing::post, Router};
//! use hookwarden_core::{presets, Gate, Verifier};
//! use hookwarden_tower::{Delivery, WebhookLayer};
//!
//! async fn on_ntxpay(delivery: Delivery, body: bytes::Bytes) -> &'static str {
//!     // Only verified, first-time deliveries reach this point.
//!     let _ = (delivery.delivery_id(), body);
//!     "ok"
//! }
//!
//! # fn main() -> Result<(), hookwarden_core::BuildError> {
//! let verifier = Verifier::new(presets::ntxpay(), "whsec_development_only")?;
//! let gate = Gate::new(verifier).with_body_limit(256 * 1024);
//! // On the method router: other methods still get axum's 405.
//! let app: Router = Router::new().route(
//!     "/webhooks/ntxpay",
//!     post(on_ntxpay).route_layer(WebhookLayer::new(gate)),
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Rejections are answered with `{"error":"<code>"}` and the status of
//! [`Rejection::status`](hookwarden_core::Rejection::status), and logged with
//! `tracing` (code, scheme, delivery ID; never a secret or a signature).
#![forbid(unsafe_code)]

mod body;
mod service;

#[cfg(feature = "axum")]
mod extract;

pub use body::{BufferedBody, ResponseBody};
#[cfg(feature = "axum")]
pub use extract::{Delivery, MissingLayer, VerifiedWebhook, WebhookRejection};
pub use service::{ResponseFuture, Webhook, WebhookLayer};
