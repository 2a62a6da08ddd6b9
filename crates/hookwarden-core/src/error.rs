//! The two error types: [`VerifyError`] for a rejected delivery, [`BuildError`]
//! for a scheme or secret that cannot be used, plus [`SignError`].

use std::fmt;

use http::StatusCode;

/// Why a delivery was rejected.
///
/// Each variant has a stable machine-readable [`code`](Self::code) and the
/// HTTP [`status`](Self::status) an adapter answers with. A mismatch is opaque:
/// it never says which secret, candidate or byte was compared.
///
/// ```
/// use hookwarden_core::VerifyError;
///
/// let err = VerifyError::SignatureMismatch;
/// assert_eq!(err.code(), "signature_mismatch");
/// assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature header is absent.
    MissingSignature,
    /// A header the scheme requires is absent: its timestamp header, or a
    /// header it signs (a signed delivery-ID header such as `webhook-id`).
    /// An ID header the scheme does not sign is optional.
    MissingHeader {
        /// The header's name, lowercase.
        name: String,
    },
    /// A header the scheme reads arrived on more than one line.
    DuplicateHeader {
        /// The header's name, lowercase.
        name: String,
    },
    /// A header the scheme reads holds bytes other than visible ASCII.
    InvalidHeader {
        /// The header's name, lowercase.
        name: String,
    },
    /// The signature header does not follow the scheme's syntax, or a
    /// signature in it is empty, of the wrong length or not canonically encoded.
    MalformedSignature,
    /// The signature header is well formed but holds no signature of the
    /// version the scheme checks (only `v0`, say, where `v1` is expected).
    UnsupportedSignatureVersion,
    /// No signature in the header matches any of the secrets.
    SignatureMismatch,
    /// The timestamp is not in the scheme's format.
    MalformedTimestamp,
    /// The timestamp is older than the tolerance allows.
    StaleTimestamp,
    /// The timestamp is further in the future than the tolerance allows.
    FutureTimestamp,
}

impl VerifyError {
    /// A stable, machine-readable code, used in rejection bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MissingHeader { .. } => "missing_header",
            Self::DuplicateHeader { .. } => "duplicate_header",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::MalformedSignature => "malformed_signature",
            Self::UnsupportedSignatureVersion => "unsupported_signature_version",
            Self::SignatureMismatch => "signature_mismatch",
            Self::MalformedTimestamp => "malformed_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::FutureTimestamp => "future_timestamp",
        }
    }

    /// The HTTP status an adapter answers with: 401 when the delivery is not
    /// authenticated (missing or wrong signature, timestamp outside the
    /// window), 400 when the request is malformed.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSignature
            | Self::UnsupportedSignatureVersion
            | Self::SignatureMismatch
            | Self::StaleTimestamp
            | Self::FutureTimestamp => StatusCode::UNAUTHORIZED,
            Self::MissingHeader { .. }
            | Self::DuplicateHeader { .. }
            | Self::InvalidHeader { .. }
            | Self::MalformedSignature
            | Self::MalformedTimestamp => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSignature => f.write_str("the signature header is missing"),
            Self::MissingHeader { name } => write!(f, "required header `{name}` is missing"),
            Self::DuplicateHeader { name } => write!(f, "header `{name}` appears more than once"),
            Self::InvalidHeader { name } => {
                write!(f, "header `{name}` holds bytes other than visible ASCII")
            }
            Self::MalformedSignature => f.write_str("the signature header is malformed"),
            Self::UnsupportedSignatureVersion => {
                f.write_str("the signature header holds no signature of a supported version")
            }
            Self::SignatureMismatch => f.write_str("the signature does not match"),
            Self::MalformedTimestamp => f.write_str("the timestamp is malformed"),
            Self::StaleTimestamp => f.write_str("the timestamp is older than the tolerance"),
            Self::FutureTimestamp => {
                f.write_str("the timestamp is further in the future than the tolerance")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// Why a [`Scheme`](crate::Scheme) or a secret cannot be used to build a
/// [`Verifier`](crate::Verifier) or a [`Signer`](crate::Signer).
///
/// The message never contains the secret.
///
/// ```
/// use hookwarden_core::{presets, BuildError, Verifier};
///
/// let err = Verifier::new(presets::github(), "").unwrap_err();
/// assert_eq!(err, BuildError::EmptySecret);
/// assert_eq!(err.code(), "empty_secret");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The secret is empty (or only the `whsec_` prefix).
    EmptySecret,
    /// The secret is outside the length the provider issues.
    SecretLength {
        /// The secret's length in bytes.
        len: usize,
        /// The shortest the provider issues.
        min: usize,
        /// The longest the provider issues.
        max: usize,
    },
    /// A `whsec_` + base64 secret whose base64 does not decode.
    SecretEncoding,
    /// No secret was given.
    NoSecret,
    /// A JSON pointer that does not follow RFC 6901.
    InvalidJsonPointer {
        /// The pointer as given.
        pointer: String,
    },
    /// The scheme contradicts itself; the text says how.
    InvalidScheme {
        /// What is wrong with the scheme.
        reason: &'static str,
    },
}

impl BuildError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptySecret => "empty_secret",
            Self::SecretLength { .. } => "secret_length",
            Self::SecretEncoding => "secret_encoding",
            Self::NoSecret => "no_secret",
            Self::InvalidJsonPointer { .. } => "invalid_json_pointer",
            Self::InvalidScheme { .. } => "invalid_scheme",
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptySecret => f.write_str("the secret is empty"),
            Self::SecretLength { len, min, max } => write!(
                f,
                "the secret is {len} bytes long; this provider issues secrets of {min} to {max}"
            ),
            Self::SecretEncoding => {
                f.write_str("the secret is not `whsec_` followed by valid base64")
            }
            Self::NoSecret => f.write_str("no secret was given"),
            Self::InvalidJsonPointer { pointer } => {
                write!(f, "`{pointer}` is not a JSON pointer (RFC 6901)")
            }
            Self::InvalidScheme { reason } => write!(f, "invalid scheme: {reason}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Why a [`Signer`](crate::Signer) could not produce a delivery's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// A delivery ID was given, but the scheme reads it from the body.
    IdNotAHeader,
    /// The scheme signs a header that was not given.
    MissingHeader {
        /// The header's name, lowercase.
        name: String,
    },
    /// A given value cannot be sent as an HTTP header value.
    InvalidHeaderValue {
        /// The header's name, lowercase.
        name: String,
    },
    /// The timestamp cannot be written in the scheme's format.
    TimestampOutOfRange,
}

impl SignError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IdNotAHeader => "id_not_a_header",
            Self::MissingHeader { .. } => "missing_header",
            Self::InvalidHeaderValue { .. } => "invalid_header_value",
            Self::TimestampOutOfRange => "timestamp_out_of_range",
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IdNotAHeader => {
                f.write_str("this scheme does not send the delivery ID in a header")
            }
            Self::MissingHeader { name } => {
                write!(f, "the scheme signs header `{name}`, which was not given")
            }
            Self::InvalidHeaderValue { name } => {
                write!(
                    f,
                    "the value for header `{name}` is not a valid header value"
                )
            }
            Self::TimestampOutOfRange => {
                f.write_str("the timestamp cannot be written in the scheme's format")
            }
        }
    }
}

impl std::error::Error for SignError {}
