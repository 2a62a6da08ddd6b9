//! hookwarden: verify signed webhook deliveries before your handler sees them.
//!
//! This facade re-exports [`hookwarden_core`] at its root and the rest behind
//! features: [`tower`] (features `tower`, and `axum` for the axum extractors,
//! on by default), `actix` (the actix-web middleware, as `hookwarden::actix`)
//! and `redis` (the Redis dedupe store, as `hookwarden::redis`, for apps with
//! several replicas). Both adapters take a [`Gate`]: the same checks, the
//! same answers.
//!
//! ```
//! use hookwarden::{presets, Verifier};
//! use http::HeaderMap;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::new(presets::github(), "It's a Secret to Everybody")?;
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "x-hub-signature-256",
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
//! );
//! headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse()?);
//! let verified = verifier.verify(&headers, b"Hello, World!")?;
//! assert_eq!(verified.scheme(), "github");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub use hookwarden_core::*;

/// The tower layer and, with the `axum` feature, the axum extractors.
#[cfg(feature = "tower")]
pub mod tower {
    pub use hookwarden_tower::*;
}

#[cfg(feature = "tower")]
pub use hookwarden_tower::WebhookLayer;

/// The actix-web middleware (`Webhook`) and its `Delivery` extractor.
#[cfg(feature = "actix")]
pub mod actix {
    pub use hookwarden_actix::*;
}

/// The Redis dedupe store: one view of handled deliveries for every replica.
/// Give it to the layer in place of the default in-memory store.
///
/// ```no_run
/// use std::time::Duration;
/// use hookwarden::redis::RedisStore;
///
/// # async fn demo() -> Result<(), hookwarden::redis::ConnectError> {
/// let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
/// let store = RedisStore::connect(&url)
///     .await?
///     .with_timeout(Duration::from_millis(300));
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "redis")]
pub mod redis {
    pub use hookwarden_redis::*;
}

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
