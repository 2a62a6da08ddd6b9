//! Why the Redis store could not connect or answer.

use std::fmt;

/// Why a [`RedisStore`](crate::RedisStore) call did not get an answer.
///
/// Adapters answer any of these with 503 (`store_unavailable`) and log its
/// `Display` text, so the texts are stable and hold neither the Redis URL,
/// nor its password, nor any key or value.
///
/// ```
/// use hookwarden_redis::StoreError;
///
/// let err = StoreError::Timeout;
/// assert_eq!(err.code(), "redis_timeout");
/// assert_eq!(err.to_string(), "Redis did not answer in time");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// Redis did not answer within the store's timeout (hung, overloaded,
    /// or reconnecting).
    Timeout,
    /// The connection to Redis failed or was lost; it is re-established in
    /// the background.
    Connection,
    /// Redis refused the credentials (`NOAUTH`, `WRONGPASS`, `NOPERM`).
    Auth,
    /// Redis answered with an error, such as `OOM`, `READONLY` or `ERR`
    /// (a server older than 7.0 rejects `SET … NX GET`).
    Server {
        /// The error code Redis gave: its first word, upper case.
        code: String,
    },
    /// Redis answered something this store never writes or asks for.
    UnexpectedReply,
    /// The call was not made on a Tokio runtime. (On a runtime without its
    /// timer, a call panics as `tokio::time` does: the timer bounds it.)
    NoRuntime,
}

impl StoreError {
    /// A stable, machine-readable code.
    ///
    /// ```
    /// use hookwarden_redis::StoreError;
    ///
    /// assert_eq!(StoreError::Connection.code(), "redis_connection");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "redis_timeout",
            Self::Connection => "redis_connection",
            Self::Auth => "redis_auth",
            Self::Server { .. } => "redis_server_error",
            Self::UnexpectedReply => "redis_unexpected_reply",
            Self::NoRuntime => "no_tokio_runtime",
        }
    }

    /// Whether the same call may succeed if tried again soon: Redis did
    /// not answer, the connection was lost, or the server said it is busy,
    /// loading, read-only (a failover) or out of memory.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Connection => true,
            Self::Server { code } => matches!(
                code.as_str(),
                "LOADING" | "READONLY" | "TRYAGAIN" | "BUSY" | "MASTERDOWN" | "CLUSTERDOWN" | "OOM"
            ),
            Self::Auth | Self::UnexpectedReply | Self::NoRuntime => false,
        }
    }

    /// Sorts a `redis` error into a variant, keeping no text from it but a
    /// server's error code.
    pub(crate) fn from_redis(err: &redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        if err.is_timeout() {
            return Self::Timeout;
        }
        match err.kind() {
            ErrorKind::Io => Self::Connection,
            ErrorKind::AuthenticationFailed | ErrorKind::Server(ServerErrorKind::NoPerm) => {
                Self::Auth
            }
            ErrorKind::Server(_) | ErrorKind::Extension => {
                let code = err.code().and_then(clean_code).unwrap_or("ERR");
                match code {
                    "NOAUTH" | "WRONGPASS" | "NOPERM" => Self::Auth,
                    _ => Self::Server {
                        code: code.to_owned(),
                    },
                }
            }
            _ => Self::UnexpectedReply,
        }
    }
}

/// A server error code as Redis writes them (`OOM`, `READONLY`, …), or
/// `None` for anything else: nothing free-form reaches a log.
fn clean_code(code: &str) -> Option<&str> {
    let plain = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    plain.then_some(code)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("Redis did not answer in time"),
            Self::Connection => f.write_str("the connection to Redis failed"),
            Self::Auth => f.write_str("Redis refused the credentials"),
            Self::Server { code } => write!(f, "Redis answered with an error ({code})"),
            Self::UnexpectedReply => f.write_str("Redis gave an unexpected reply"),
            Self::NoRuntime => f.write_str("the Redis store was called outside a Tokio runtime"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Why [`RedisStore::connect`](crate::RedisStore::connect) failed.
///
/// Like [`StoreError`], its text holds neither the URL nor its password.
///
/// ```
/// use hookwarden_redis::{ConnectError, StoreError};
///
/// let err = ConnectError::Unavailable(StoreError::Connection);
/// assert_eq!(err.to_string(), "Redis is unavailable: the connection to Redis failed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `redis://` (or `unix://`) URL this build can use.
    /// TLS (`rediss://`) is not built in.
    InvalidUrl,
    /// The first connection could not be made.
    Unavailable(StoreError),
}

impl ConnectError {
    /// A stable, machine-readable code.
    ///
    /// ```
    /// use hookwarden_redis::ConnectError;
    ///
    /// assert_eq!(ConnectError::InvalidUrl.code(), "redis_invalid_url");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl => "redis_invalid_url",
            Self::Unavailable(err) => err.code(),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl => f.write_str("the Redis URL is not valid (or needs TLS)"),
            Self::Unavailable(err) => write!(f, "Redis is unavailable: {err}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidUrl => None,
            Self::Unavailable(err) => Some(err),
        }
    }
}

impl From<StoreError> for ConnectError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_are_kept_only_when_plain() {
        assert_eq!(clean_code("READONLY"), Some("READONLY"));
        assert_eq!(clean_code("ERR"), Some("ERR"));
        assert_eq!(clean_code("hookwarden:ntxpay:evt_1"), None);
        assert_eq!(clean_code(""), None);
        assert_eq!(clean_code(&"A".repeat(33)), None);
    }

    #[test]
    fn server_errors_become_their_code() {
        let err = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        ));
        assert_eq!(
            StoreError::from_redis(&err),
            StoreError::Server {
                code: "READONLY".into()
            }
        );
        assert_eq!(
            StoreError::from_redis(&err).to_string(),
            "Redis answered with an error (READONLY)"
        );
    }

    #[test]
    fn io_errors_are_connection_or_timeout() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(StoreError::from_redis(&refused), StoreError::Connection);
        let slow = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(StoreError::from_redis(&slow), StoreError::Timeout);
    }

    #[test]
    fn only_what_may_pass_is_tried_again() {
        let server = |code: &str| StoreError::Server { code: code.into() };
        for transient in [
            StoreError::Timeout,
            StoreError::Connection,
            server("READONLY"),
        ] {
            assert!(transient.is_transient(), "{transient:?}");
        }
        for lasting in [
            StoreError::Auth,
            StoreError::UnexpectedReply,
            StoreError::NoRuntime,
            server("ERR"),
            server("NOSCRIPT"),
        ] {
            assert!(!lasting.is_transient(), "{lasting:?}");
        }
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            StoreError::Timeout,
            StoreError::Connection,
            StoreError::Auth,
            StoreError::Server { code: "OOM".into() },
            StoreError::UnexpectedReply,
            StoreError::NoRuntime,
        ];
        let mut codes: Vec<_> = all.iter().map(StoreError::code).collect();
        codes.push(ConnectError::InvalidUrl.code());
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len() + 1);
    }
}
