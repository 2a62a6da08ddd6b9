//! The signer: a scheme run forwards, producing the headers a provider sends.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use crate::headers;
use crate::mac::{KeyedMac, Tag};
use crate::verifier::{feed, unix_millis};
use crate::{
    signature, timestamp, BuildError, DeliveryId, DeliveryIdSource, Part, Scheme, Secret,
    SignError, SignatureSyntax, TimestampSource, VerifyError,
};

/// What a signed delivery carries beside its body.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwarden_core::SignOptions;
///
/// let options = SignOptions::new()
///     .with_id("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")
///     .with_timestamp(UNIX_EPOCH + Duration::from_secs(1_649_367_553));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    id: Option<String>,
    timestamp: Option<SystemTime>,
    headers: HeaderMap,
}

impl SignOptions {
    /// No ID, the current time, no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delivery ID, for schemes that send it in a header. Without it the
    /// signer derives `hw_` + 32 hex digits of the body's SHA-256, so the same
    /// body gets the same ID.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The timestamp to sign with, for schemes that have one (default: now).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// An extra header to send, and to sign where the scheme signs it.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
}

/// Produces the headers a provider would send for a body: the same
/// [`Scheme`] as the [`Verifier`](crate::Verifier), run forwards. For tests,
/// the CLI, and users' own test suites.
///
/// ```
/// use hookwarden_core::{presets, SignOptions, Signer};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let signer = Signer::new(presets::github(), "It's a Secret to Everybody")?;
/// let headers = signer.sign(b"Hello, World!", &SignOptions::new().with_id("delivery-1"))?;
/// assert_eq!(
///     headers["x-hub-signature-256"],
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/// );
/// assert_eq!(headers["x-github-delivery"], "delivery-1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    scheme: Scheme,
    key: KeyedMac,
}

impl Signer {
    /// A signer for `scheme` with a secret written as the provider writes it.
    ///
    /// # Errors
    /// As [`Verifier::new`](crate::Verifier::new).
    pub fn new(scheme: Scheme, secret: impl AsRef<str>) -> Result<Self, BuildError> {
        scheme.validate()?;
        let secret = scheme.parse_secret(secret.as_ref())?;
        Self::from_secret(scheme, secret)
    }

    /// A signer for `scheme` with an already-parsed secret.
    ///
    /// # Errors
    /// As [`Verifier::new`](crate::Verifier::new).
    pub fn from_secret(scheme: Scheme, secret: Secret) -> Result<Self, BuildError> {
        scheme.validate()?;
        scheme.check_secret(&secret)?;
        let key = KeyedMac::new(scheme.algorithm, &secret)?;
        Ok(Self { scheme, key })
    }

    /// The scheme this signer writes.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The headers to send with `body`: the signature, and the timestamp and
    /// delivery ID headers where the scheme has them, after any extra headers
    /// from `options`.
    ///
    /// # Errors
    /// [`SignError`] when an ID is given for a scheme that reads it from the
    /// body, a signed header is not given, a value is not a valid header
    /// value, or the timestamp cannot be written in the scheme's format.
    pub fn sign(&self, body: &[u8], options: &SignOptions) -> Result<HeaderMap, SignError> {
        let scheme = &self.scheme;
        let mut out = options.headers.clone();

        match &scheme.delivery_id {
            DeliveryIdSource::Header(name) => {
                let id = match (&options.id, given(&out, name)?) {
                    (Some(id), _) => id.clone(),
                    (None, Some(id)) => id,
                    (None, None) => {
                        let digest = Sha256::digest(body);
                        format!("hw_{}", DeliveryId::hex(&digest[..16]))
                    }
                };
                out.insert(name, header_value(name, &id)?);
            }
            _ if options.id.is_some() => return Err(SignError::IdNotAHeader),
            _ => {}
        }

        let timestamp = match &scheme.timestamp {
            None => None,
            Some((source, format)) => {
                let when = options.timestamp.unwrap_or_else(SystemTime::now);
                let text = timestamp::format(unix_millis(when), *format)
                    .ok_or(SignError::TimestampOutOfRange)?;
                if let TimestampSource::Header(name) = source {
                    out.insert(name, header_value(name, &text)?);
                }
                Some(text)
            }
        };

        // Signed headers given among the extra ones must arrive as given.
        for part in &scheme.signed_content {
            if let Part::Header(name) = part {
                given(&out, name)?;
            }
        }
        let feed = |sink: &mut dyn FnMut(&[u8])| {
            feed(
                sink,
                scheme,
                &out,
                timestamp.as_ref().map(String::as_bytes),
                body,
            )
        };
        let encode = |tag: &Tag<'_>| signature::encode(scheme.encoding, tag.as_bytes());
        let sig = self.key.run(feed, encode).map_err(|err| match err {
            VerifyError::MissingHeader { name } => SignError::MissingHeader { name },
            VerifyError::DuplicateHeader { name } | VerifyError::InvalidHeader { name } => {
                SignError::InvalidHeaderValue { name }
            }
            // `feed` fails only on header lookups, matched above.
            other => SignError::InvalidHeaderValue {
                name: other.code().to_owned(),
            },
        })?;
        let value = match &scheme.syntax {
            SignatureSyntax::Bare => sig,
            SignatureSyntax::Prefixed(prefix) => format!("{prefix}{sig}"),
            SignatureSyntax::KeyValueList { signature_key } => {
                match (&scheme.timestamp, &timestamp) {
                    (Some((TimestampSource::SignatureParam(key), _)), Some(ts)) => {
                        format!("{key}={ts},{signature_key}={sig}")
                    }
                    _ => format!("{signature_key}={sig}"),
                }
            }
            SignatureSyntax::VersionedList { version } => format!("{version},{sig}"),
        };
        let name = &scheme.signature_header;
        out.insert(name, header_value(name, &value)?);
        Ok(out)
    }
}

/// The one value of `name` among the headers given, if any, held to the
/// rule of [`header_value`].
fn given(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, SignError> {
    let invalid = || SignError::InvalidHeaderValue {
        name: name.as_str().to_owned(),
    };
    let Some(bytes) = headers::single_unchecked(headers, name).map_err(|_| invalid())? else {
        return Ok(None);
    };
    // `header_value` checks the text, visible ASCII included.
    let text = std::str::from_utf8(bytes).map_err(|_| invalid())?;
    header_value(name, text)?;
    Ok(Some(text.to_owned()))
}

/// A value the verifier will read back unchanged: visible ASCII, and no
/// spaces or tabs at either end (HTTP strips those in transit).
fn header_value(name: &HeaderName, value: &str) -> Result<HeaderValue, SignError> {
    let invalid = || SignError::InvalidHeaderValue {
        name: name.as_str().to_owned(),
    };
    if !headers::is_visible_ascii(value.as_bytes()) || value.trim_matches([' ', '\t']) != value {
        return Err(invalid());
    }
    HeaderValue::from_str(value).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{presets, TimestampFormat};

    #[test]
    fn values_the_verifier_would_not_read_back_are_refused() {
        let signer = Signer::new(presets::github(), "abc").unwrap();
        for id in ["café", " x", "x ", "\tx", "a\u{7f}b"] {
            let err = signer
                .sign(b"{}", &SignOptions::new().with_id(id))
                .unwrap_err();
            assert_eq!(err.code(), "invalid_header_value", "{id:?}");
        }
        assert!(signer
            .sign(b"{}", &SignOptions::new().with_id("a b"))
            .is_ok());
    }

    /// An ID given as an extra header is held to the same rule as one
    /// given with `with_id`, so that every delivery the signer writes
    /// verifies.
    #[test]
    fn an_id_given_as_a_header_is_checked_too() {
        for name in ["github", "shopify", "ntxpay"] {
            let scheme = presets::by_name(name).unwrap();
            let DeliveryIdSource::Header(id_header) = scheme.delivery_id().clone() else {
                panic!("{name} takes its ID from a header");
            };
            let signer = Signer::new(scheme.clone(), "test-secret-1234").unwrap();
            let verifier = crate::Verifier::new(scheme, "test-secret-1234").unwrap();
            let good = SignOptions::new()
                .with_header(id_header.clone(), HeaderValue::from_static("evt-1"));
            let headers = signer.sign(b"{}", &good).unwrap();
            let verified = verifier.verify(&headers, b"{}").unwrap();
            assert_eq!(verified.delivery_id().map(|id| id.as_str()), Some("evt-1"));
            for bad in [&b"caf\xe9"[..], b" evt", b"evt\t"] {
                let options = SignOptions::new()
                    .with_header(id_header.clone(), HeaderValue::from_bytes(bad).unwrap());
                let err = signer.sign(b"{}", &options).unwrap_err();
                assert_eq!(err.code(), "invalid_header_value", "{name} {bad:?}");
            }
        }
    }

    /// A signed header given with a space or tab at an end would arrive
    /// without it (HTTP strips them) and fail its signature: refused.
    #[test]
    fn a_signed_header_given_with_an_edge_space_is_refused() {
        let tenant = HeaderName::from_static("x-tenant");
        let scheme = Scheme::new("acme", HeaderName::from_static("x-sig")).with_signed_content([
            Part::Header(tenant.clone()),
            Part::literal(b"."),
            Part::Body,
        ]);
        let signer = Signer::new(scheme, "test-secret-1234").unwrap();
        let with = |value: &'static str| {
            signer.sign(
                b"{}",
                &SignOptions::new().with_header(tenant.clone(), HeaderValue::from_static(value)),
            )
        };
        assert!(with("acme").is_ok());
        for bad in ["acme ", "\tacme"] {
            assert_eq!(
                with(bad).unwrap_err().code(),
                "invalid_header_value",
                "{bad:?}"
            );
        }
    }

    /// What the verifier would refuse as malformed is not signed: a Unix
    /// time before 1970 (a far-past `--stale-by` in the CLI) is out of range
    /// for the presets that write Unix seconds (stripe, slack, standard
    /// webhooks, svix).
    #[test]
    fn a_timestamp_the_verifier_cannot_read_is_out_of_range() {
        let before = std::time::UNIX_EPOCH - std::time::Duration::from_secs(1);
        let mut checked = Vec::new();
        for &name in presets::NAMES {
            let scheme = presets::by_name(name).unwrap();
            if !matches!(scheme.timestamp(), Some((_, TimestampFormat::UnixSeconds))) {
                continue;
            }
            let secret = match name {
                "standard-webhooks" | "svix" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                _ => "test-secret-1234",
            };
            let signer = Signer::new(scheme, secret).unwrap();
            let err = signer
                .sign(b"{}", &SignOptions::new().with_timestamp(before))
                .unwrap_err();
            assert_eq!(err, SignError::TimestampOutOfRange, "{name}");
            checked.push(name);
        }
        assert_eq!(checked, ["standard-webhooks", "svix", "stripe", "slack"]);
    }
}
