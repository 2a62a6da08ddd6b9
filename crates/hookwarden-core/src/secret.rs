//! Secrets: key bytes that never show in `Debug`, logs or errors, and are
//! zeroized when dropped.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use zeroize::Zeroizing;

use crate::BuildError;

/// How a provider writes its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretEncoding {
    /// The text is the key, byte for byte, `whsec_` prefix and all
    /// (Stripe, NTX Pay, GitHub, Shopify, Slack).
    Raw,
    /// `whsec_` followed by the base64 of the key (Standard Webhooks, Svix).
    /// The prefix may be left out.
    WhsecBase64,
}

/// An HMAC key.
///
/// `Debug` prints `Secret(<redacted>)`; there is no `Display`; the bytes are
/// zeroized on drop. An empty secret cannot be built.
///
/// ```
/// use hookwarden_core::{Secret, SecretEncoding};
///
/// # fn main() -> Result<(), hookwarden_core::BuildError> {
/// let raw = Secret::parse("whsec_used_as_is", SecretEncoding::Raw)?;
/// assert_eq!(format!("{raw:?}"), "Secret(<redacted>)");
///
/// let decoded = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SecretEncoding::WhsecBase64)?;
/// assert!(Secret::parse("whsec_", SecretEncoding::WhsecBase64).is_err());
/// # let _ = decoded;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

/// Standard alphabet; secrets are accepted with or without padding.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Secret {
    /// A secret from raw key bytes.
    ///
    /// # Errors
    /// [`BuildError::EmptySecret`] when `bytes` is empty.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, BuildError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(BuildError::EmptySecret);
        }
        Ok(Self { bytes })
    }

    /// A secret from its text, as the provider writes it.
    ///
    /// # Errors
    /// [`BuildError::EmptySecret`] for `""` (or a bare `whsec_` with
    /// [`SecretEncoding::WhsecBase64`]); [`BuildError::SecretEncoding`] when the
    /// base64 does not decode.
    pub fn parse(text: &str, encoding: SecretEncoding) -> Result<Self, BuildError> {
        match encoding {
            SecretEncoding::Raw => Self::from_bytes(text.as_bytes()),
            SecretEncoding::WhsecBase64 => {
                let b64 = text.strip_prefix("whsec_").unwrap_or(text);
                if b64.is_empty() {
                    return Err(BuildError::EmptySecret);
                }
                let bytes = SECRET_BASE64
                    .decode(b64)
                    .map_err(|_| BuildError::SecretEncoding)?;
                Self::from_bytes(bytes)
            }
        }
    }

    /// The key bytes; crate-private so they cannot leak through the API.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// The key's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always `false`: an empty secret cannot be built.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_prefix_only_are_refused() {
        assert_eq!(
            Secret::parse("", SecretEncoding::Raw).unwrap_err(),
            BuildError::EmptySecret
        );
        assert_eq!(
            Secret::parse("", SecretEncoding::WhsecBase64).unwrap_err(),
            BuildError::EmptySecret
        );
        assert_eq!(
            Secret::parse("whsec_", SecretEncoding::WhsecBase64).unwrap_err(),
            BuildError::EmptySecret
        );
        assert_eq!(
            Secret::from_bytes(Vec::new()).unwrap_err(),
            BuildError::EmptySecret
        );
    }

    #[test]
    fn bad_base64_is_refused() {
        for bad in ["whsec_not base64!", "whsec_@@@@", "whsec_abc=d"] {
            assert_eq!(
                Secret::parse(bad, SecretEncoding::WhsecBase64).unwrap_err(),
                BuildError::SecretEncoding,
                "{bad}"
            );
        }
    }

    #[test]
    fn raw_keeps_the_prefix_and_base64_strips_it() {
        let raw = Secret::parse("whsec_abcd", SecretEncoding::Raw).unwrap();
        assert_eq!(raw.expose(), b"whsec_abcd");
        let decoded = Secret::parse("whsec_aGVsbG8=", SecretEncoding::WhsecBase64).unwrap();
        assert_eq!(decoded.expose(), b"hello");
        let unprefixed = Secret::parse("aGVsbG8", SecretEncoding::WhsecBase64).unwrap();
        assert_eq!(unprefixed.expose(), b"hello");
    }

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::parse("super-secret-value", SecretEncoding::Raw).unwrap();
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("super"), "{shown}");
    }
}
