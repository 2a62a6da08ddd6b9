#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod body;
mod dedupe;
mod delivery;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gate;
mod headers;
mod json;
mod mac;
mod memory;
pub mod presets;
mod scheme;
mod secret;
mod signature;
mod signer;
mod timestamp;
mod verifier;

pub use body::BodyBuffer;
pub use dedupe::{
    dedupe_key, DedupeStore, Rejection, Reservation, Token, DEFAULT_LEASE, DEFAULT_RETENTION,
    DUPLICATE_BODY,
};
pub use delivery::DeliveryId;
pub use error::{BuildError, SignError, VerifyError};
pub use gate::{Admitted, Gate, DEFAULT_BODY_LIMIT, DEFAULT_READ_TIMEOUT, MIN_HOLD};
pub use headers::{HeaderLookup, Lookup};
pub use memory::{MemoryStore, DEFAULT_CAPACITY};
pub use scheme::{
    Algorithm, DeliveryIdSource, Encoding, JsonPointer, Part, Scheme, SignatureSyntax,
    TimestampFormat, TimestampSource, DEFAULT_TOLERANCE,
};
pub use secret::{Secret, SecretEncoding};
pub use signer::{SignOptions, Signer};
pub use verifier::{Verified, Verifier};

/// Re-exported so that users name the same `bytes` type [`BodyBuffer`] takes.
pub use bytes;
/// Re-exported so that users name the same `http` types the API takes.
pub use http;
