//! The library behind the `hookwarden` command: send signed webhook
//! deliveries to an endpoint over HTTP or HTTPS, and check that an endpoint
//! verifies, deduplicates and limits them as a provider expects.
//!
//! - [`send::Delivery`] signs one body with the core [`Signer`](hookwarden_core::Signer)
//!   (as `hookwarden sign` does) and sends it: `hookwarden send`.
//! - [`check::Check`] sends a valid delivery, the same one again, a forged
//!   one, one without signature, a stale one and an oversized one, and
//!   reports what the endpoint answered to each: `hookwarden check`.
//!
//! Both are async and need a Tokio runtime, so an app's own test suite can
//! run the checker against the app served on `127.0.0.1:0`, from
//! `#[tokio::test]` or `#[actix_web::test]`:
//!
//! ```no_run
//! use hookwarden_cli::check::Check;
//! use hookwarden_core::presets;
//!
//! # async fn demo(addr: std::net::SocketAddr) -> Result<(), hookwarden_cli::Error> {
//! let url = format!("http://{addr}/webhooks/ntxpay");
//! let report = Check::new(&url, presets::ntxpay(), "whsec_hookwarden_dev_ntxpay")?
//!     .run(|_progress| {})
//!     .await?;
//! assert!(report.passed(), "{report}");
//! # Ok(())
//! # }
//! ```
//!
//! Each delivery is one HTTP/1.1 request on a connection of its own, made
//! directly to the URL's host: there is no proxy support (`HTTPS_PROXY` and
//! the like are ignored). HTTPS uses rustls with the ring provider and the
//! operating system's trust store. Redirects are not followed: a provider
//! does not follow them either. No secret or signature is ever part of an
//! [`Error`] or a report.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod check;
mod endpoint;
pub mod send;

use std::fmt;
use std::time::Duration;

use hookwarden_core::{BuildError, SignError};

/// Why a delivery could not be prepared or sent.
///
/// ```
/// use hookwarden_cli::send::Delivery;
/// use hookwarden_core::presets;
///
/// let err = Delivery::new("ftp://example.com/", presets::github(), "s3cret").unwrap_err();
/// assert_eq!(err.code(), "invalid_url");
/// assert!(!err.to_string().contains("s3cret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The scheme or the secret cannot be used.
    Build(BuildError),
    /// The delivery cannot be signed (an invalid ID, say).
    Sign(SignError),
    /// The HTTP client could not be set up (TLS configuration).
    Client {
        /// What failed.
        reason: String,
    },
    /// No connection could be made to the endpoint.
    Connect {
        /// The endpoint, as `scheme://host:port`.
        origin: String,
        /// What failed (refused, no such host, a TLS error…).
        reason: String,
    },
    /// The endpoint did not answer in time.
    Timeout {
        /// The time allowed.
        after: Duration,
    },
    /// The request or the answer broke off.
    Transport {
        /// What failed.
        reason: String,
    },
}

impl Error {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "invalid_url",
            Self::Build(err) => err.code(),
            Self::Sign(err) => err.code(),
            Self::Client { .. } => "client_setup_failed",
            Self::Connect { .. } => "connect_failed",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport_failed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { reason } => write!(f, "invalid URL: {reason}"),
            Self::Build(err) => write!(f, "{err}"),
            Self::Sign(err) => write!(f, "cannot sign the delivery: {err}"),
            Self::Client { reason } => write!(f, "cannot set up the HTTP client: {reason}"),
            Self::Connect { origin, reason } => write!(f, "cannot connect to {origin}: {reason}"),
            Self::Timeout { after } => {
                write!(f, "no answer within {:.1} s", after.as_secs_f64())
            }
            Self::Transport { reason } => write!(f, "the request failed: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Build(err) => Some(err),
            Self::Sign(err) => Some(err),
            _ => None,
        }
    }
}

impl From<BuildError> for Error {
    fn from(err: BuildError) -> Self {
        Self::Build(err)
    }
}

impl From<SignError> for Error {
    fn from(err: SignError) -> Self {
        Self::Sign(err)
    }
}
