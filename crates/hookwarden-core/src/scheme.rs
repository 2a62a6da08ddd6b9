//! The declarative description of one provider's signature format.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::{BuildError, Secret, SecretEncoding};

/// The MAC's hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA256, what almost every provider uses.
    Sha256,
    /// HMAC-SHA512 (4pay's `api-notification-sign`).
    Sha512,
    /// HMAC-SHA1, for legacy formats only.
    Sha1,
}

impl Algorithm {
    /// The MAC's length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// How the signature's bytes are written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Hex, lowercase or uppercase (either case is accepted; the signer
    /// writes lowercase).
    Hex,
    /// Standard base64 alphabet, with padding.
    Base64,
    /// URL-safe base64 alphabet, padding optional.
    Base64Url,
}

/// The syntax of the signature header's value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureSyntax {
    /// The whole value is the signature (NTX Pay, 4pay, Shopify).
    Bare,
    /// A fixed prefix, then the signature: `sha256=…` (GitHub), `v0=…` (Slack).
    Prefixed(Cow<'static, str>),
    /// A comma-separated `key=value` list in which every entry under
    /// `signature_key` is a candidate signature: Stripe's `t=…,v1=…,v1=…`.
    /// Other keys are ignored unless they are the timestamp
    /// ([`TimestampSource::SignatureParam`]).
    KeyValueList {
        /// The key whose values are signatures (`v1`).
        signature_key: Cow<'static, str>,
    },
    /// A space-separated list of `version,signature` entries in which every
    /// entry of `version` is a candidate: Standard Webhooks' `v1,… v1,…`.
    VersionedList {
        /// The version checked (`v1`); entries of other versions are ignored.
        version: Cow<'static, str>,
    },
}

/// One piece of the signed content. The MAC is fed the pieces in order,
/// without concatenating them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// Fixed bytes, such as the `.` between Stripe's timestamp and body.
    Literal(Cow<'static, [u8]>),
    /// A header's value, exactly as received.
    Header(HeaderName),
    /// The timestamp, exactly as received.
    Timestamp,
    /// The raw request body.
    Body,
}

impl Part {
    /// A literal part from static bytes.
    pub const fn literal(bytes: &'static [u8]) -> Self {
        Self::Literal(Cow::Borrowed(bytes))
    }
}

/// Where the timestamp is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampSource {
    /// A header of its own (`webhook-timestamp`, `X-Slack-Request-Timestamp`).
    Header(HeaderName),
    /// An entry of a [`SignatureSyntax::KeyValueList`] signature header
    /// (Stripe's `t=`).
    SignatureParam(Cow<'static, str>),
}

/// How the timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampFormat {
    /// Decimal seconds since the Unix epoch, digits only, no leading zero.
    UnixSeconds,
    /// Decimal milliseconds since the Unix epoch, digits only, no leading
    /// zero.
    UnixMillis,
    /// RFC 3339 (the ISO 8601 profile): `2024-05-01T12:00:00Z`, fractions and
    /// offsets allowed.
    Rfc3339,
}

/// Where a delivery's ID, the dedupe key, comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryIdSource {
    /// The scheme has no delivery ID.
    None,
    /// A header (`X-GitHub-Delivery`, `webhook-id`). When it is absent the
    /// delivery has no ID; when repeated or not ASCII the delivery is rejected.
    Header(HeaderName),
    /// A non-empty string or an integer in the JSON body, read only after the
    /// signature passed, and only as far as the member: what follows it is
    /// not read, so a large body costs no second pass. When the member is
    /// absent, empty or of another type, or the quotes and brackets before
    /// it cannot be followed, the delivery has no ID. Values before it are
    /// skipped by their quotes and brackets, not validated (the signature
    /// has passed): `{"a":tru,"id":"x"}` has the ID `x`.
    JsonPointer(JsonPointer),
    /// The hex SHA-256 of the body: for providers with no ID, a retry carries
    /// the same body.
    BodyDigest,
}

/// An RFC 6901 JSON pointer, such as `/data/id`.
///
/// ```
/// use hookwarden_core::JsonPointer;
///
/// let pointer = JsonPointer::parse("/data/id")?;
/// assert_eq!(pointer, JsonPointer::from_segments(["data", "id"]));
/// assert!(JsonPointer::parse("data/id").is_err());
/// # Ok::<(), hookwarden_core::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPointer {
    segments: Vec<String>,
}

impl JsonPointer {
    /// Parses `/a/b/0`, with `~0` for `~` and `~1` for `/`.
    ///
    /// # Errors
    /// [`BuildError::InvalidJsonPointer`] when the text is empty (a delivery ID
    /// cannot be the whole document), does not start with `/`, or has a `~`
    /// not followed by `0` or `1`.
    pub fn parse(pointer: &str) -> Result<Self, BuildError> {
        let invalid = || BuildError::InvalidJsonPointer {
            pointer: pointer.to_owned(),
        };
        let rest = pointer.strip_prefix('/').ok_or_else(invalid)?;
        let segments = rest
            .split('/')
            .map(|segment| unescape_segment(segment).ok_or_else(invalid))
            .collect::<Result<_, _>>()?;
        Ok(Self { segments })
    }

    /// A pointer from unescaped segments: `["data", "id"]` is `/data/id`.
    pub fn from_segments<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }
}

fn unescape_segment(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The default tolerance either side of the receiver's clock: five minutes,
/// as Stripe, Slack and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A provider's signature format, described as data.
///
/// Presets in [`presets`](crate::presets) return ready schemes; a custom one
/// is built from the same parts. A scheme is only checked for consistency
/// when a [`Verifier`](crate::Verifier) or [`Signer`](crate::Signer) is built
/// from it.
///
/// ```
/// use std::time::Duration;
/// use http::HeaderName;
/// use hookwarden_core::{
///     Algorithm, DeliveryIdSource, Encoding, Part, Scheme, SignatureSyntax, TimestampFormat,
///     TimestampSource,
/// };
///
/// // `X-Acme-Signature: v2=<base64 HMAC-SHA512 of "<ts>:<body>">`, `X-Acme-Time: <unix ms>`.
/// let acme = Scheme::new("acme", HeaderName::from_static("x-acme-signature"))
///     .with_algorithm(Algorithm::Sha512)
///     .with_encoding(Encoding::Base64)
///     .with_syntax(SignatureSyntax::Prefixed("v2=".into()))
///     .with_timestamp(
///         TimestampSource::Header(HeaderName::from_static("x-acme-time")),
///         TimestampFormat::UnixMillis,
///     )
///     .with_tolerance(Duration::from_secs(60))
///     .with_signed_content([Part::Timestamp, Part::literal(b":"), Part::Body])
///     .with_delivery_id(DeliveryIdSource::BodyDigest);
/// assert_eq!(acme.name(), "acme");
/// ```
#[derive(Debug, Clone)]
pub struct Scheme {
    pub(crate) name: Arc<str>,
    pub(crate) algorithm: Algorithm,
    pub(crate) encoding: Encoding,
    pub(crate) signature_header: HeaderName,
    pub(crate) syntax: SignatureSyntax,
    pub(crate) signed_content: Vec<Part>,
    pub(crate) timestamp: Option<(TimestampSource, TimestampFormat)>,
    pub(crate) tolerance_past: Duration,
    pub(crate) tolerance_future: Duration,
    pub(crate) delivery_id: DeliveryIdSource,
    pub(crate) secret_encoding: SecretEncoding,
    pub(crate) secret_length: Option<(usize, usize)>,
}

impl Scheme {
    /// A scheme named `name` with its signature in `signature_header`:
    /// HMAC-SHA256, hex, the whole header value, over the raw body, no
    /// timestamp, no delivery ID, raw secrets.
    pub fn new(name: impl Into<Arc<str>>, signature_header: HeaderName) -> Self {
        Self {
            name: name.into(),
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Hex,
            signature_header,
            syntax: SignatureSyntax::Bare,
            signed_content: vec![Part::Body],
            timestamp: None,
            tolerance_past: DEFAULT_TOLERANCE,
            tolerance_future: DEFAULT_TOLERANCE,
            delivery_id: DeliveryIdSource::None,
            secret_encoding: SecretEncoding::Raw,
            secret_length: None,
        }
    }

    /// Sets the MAC's hash function.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets how the signature bytes are written.
    #[must_use]
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets the header holding the signature.
    #[must_use]
    pub fn with_signature_header(mut self, header: HeaderName) -> Self {
        self.signature_header = header;
        self
    }

    /// Sets the signature header's syntax.
    #[must_use]
    pub fn with_syntax(mut self, syntax: SignatureSyntax) -> Self {
        self.syntax = syntax;
        self
    }

    /// Sets the signed content. It must contain [`Part::Body`] exactly once.
    /// The MAC sees the parts run together, so two parts that vary (headers,
    /// the body, a unix timestamp) need a literal between them: without one,
    /// bytes could move from one to the other and keep the signature. An
    /// RFC 3339 timestamp marks its own ends, but needs a literal or an end
    /// of the content on one side, or it could slide to another timestamp in
    /// the body: Twitch's `id + timestamp + body` is refused for that reason.
    /// A separator a header's values can contain (`.` in a domain, say)
    /// leaves the same ambiguity; only the provider's format can rule that
    /// out.
    #[must_use]
    pub fn with_signed_content(mut self, parts: impl IntoIterator<Item = Part>) -> Self {
        self.signed_content = parts.into_iter().collect();
        self
    }

    /// Reads a timestamp from `source` in `format` and checks it against the
    /// tolerance window. The signed content must cover it ([`Part::Timestamp`],
    /// or the timestamp's header as [`Part::Header`]): a timestamp outside the
    /// signature could be rewritten by anyone replaying a delivery, so a
    /// verifier or signer refuses to build with one.
    #[must_use]
    pub fn with_timestamp(mut self, source: TimestampSource, format: TimestampFormat) -> Self {
        self.timestamp = Some((source, format));
        self
    }

    /// Sets how far the timestamp may lie behind and ahead of the clock
    /// (default [`DEFAULT_TOLERANCE`] each way). Checked at one-second resolution.
    #[must_use]
    pub fn with_tolerance(self, tolerance: Duration) -> Self {
        self.with_tolerance_past(tolerance)
            .with_tolerance_future(tolerance)
    }

    /// Sets how far the timestamp may lie behind the clock.
    #[must_use]
    pub fn with_tolerance_past(mut self, tolerance: Duration) -> Self {
        self.tolerance_past = tolerance;
        self
    }

    /// Sets how far the timestamp may lie ahead of the clock.
    #[must_use]
    pub fn with_tolerance_future(mut self, tolerance: Duration) -> Self {
        self.tolerance_future = tolerance;
        self
    }

    /// Sets where the delivery ID comes from.
    #[must_use]
    pub fn with_delivery_id(mut self, source: DeliveryIdSource) -> Self {
        self.delivery_id = source;
        self
    }

    /// Sets how secrets are written.
    #[must_use]
    pub fn with_secret_encoding(mut self, encoding: SecretEncoding) -> Self {
        self.secret_encoding = encoding;
        self
    }

    /// Refuses secrets shorter than `min` or longer than `max` bytes, for
    /// providers that document their secrets' length.
    #[must_use]
    pub fn with_secret_length(mut self, min: usize, max: usize) -> Self {
        self.secret_length = Some((min, max));
        self
    }

    /// The scheme's name, as reported in [`Verified`](crate::Verified) and logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MAC's hash function.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The header holding the signature.
    pub fn signature_header(&self) -> &HeaderName {
        &self.signature_header
    }

    /// Where the timestamp is read from and how it is written, if the scheme has one.
    pub fn timestamp(&self) -> Option<(&TimestampSource, TimestampFormat)> {
        self.timestamp
            .as_ref()
            .map(|(source, format)| (source, *format))
    }

    /// Where the delivery ID comes from.
    pub fn delivery_id(&self) -> &DeliveryIdSource {
        &self.delivery_id
    }

    /// Parses a secret as this provider writes it, checking its length where
    /// the provider documents one.
    ///
    /// # Errors
    /// As [`Secret::parse`], and [`BuildError::SecretLength`].
    pub fn parse_secret(&self, text: &str) -> Result<Secret, BuildError> {
        let secret = Secret::parse(text, self.secret_encoding)?;
        self.check_secret(&secret)?;
        Ok(secret)
    }

    /// Whether the signature covers the delivery ID. An ID header outside the
    /// signed content could be rewritten by whoever replays a captured
    /// delivery: it is reported, but not trusted for dedupe.
    pub(crate) fn signs_delivery_id(&self) -> bool {
        match &self.delivery_id {
            DeliveryIdSource::Header(name) => self
                .signed_content
                .iter()
                .any(|part| matches!(part, Part::Header(signed) if signed == name)),
            _ => true,
        }
    }

    /// Whether a signature header this scheme accepts is visible ASCII by
    /// construction: the whole value is one encoded signature, after at most
    /// a visible-ASCII prefix (`validate` refuses any other), and the hex and
    /// base64 decoders accept nothing but visible ASCII. The list syntaxes
    /// hold entries no decoder reads.
    pub(crate) fn decoder_reads_signature(&self) -> bool {
        matches!(
            self.syntax,
            SignatureSyntax::Bare | SignatureSyntax::Prefixed(_)
        )
    }

    pub(crate) fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        match self.secret_length {
            Some((min, max)) if !(min..=max).contains(&secret.len()) => {
                Err(BuildError::SecretLength {
                    len: secret.len(),
                    min,
                    max,
                })
            }
            _ => Ok(()),
        }
    }

    /// Checks that the scheme is consistent; run when a verifier or signer is built.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let invalid = |reason| Err(BuildError::InvalidScheme { reason });
        if self.name.is_empty() {
            return invalid("the name is empty");
        }
        let bodies = self
            .signed_content
            .iter()
            .filter(|part| matches!(part, Part::Body))
            .count();
        if bodies != 1 {
            return invalid("the signed content must contain the body exactly once");
        }
        if self
            .signed_content
            .contains(&Part::Header(self.signature_header.clone()))
        {
            return invalid("the signed content cannot hold the signature header itself");
        }
        let timestamp_header = match &self.timestamp {
            Some((TimestampSource::Header(name), _)) => Some(name),
            _ => None,
        };
        // The timestamp as signed: the part, or its own header's value.
        let is_timestamp = |part: &Part| match part {
            Part::Timestamp => true,
            Part::Header(name) => Some(name) == timestamp_header,
            _ => false,
        };
        if self.timestamp.is_none() && self.signed_content.contains(&Part::Timestamp) {
            return invalid("the signed content has a timestamp but the scheme reads none");
        }
        if self.timestamp.is_some() && !self.signed_content.iter().any(is_timestamp) {
            return invalid("the signed content does not cover the timestamp it reads");
        }
        // One header, one meaning: a header read as two things is always
        // the wrong one for one of them (the signer writes only one).
        let id_header = match &self.delivery_id {
            DeliveryIdSource::Header(name) => Some(name),
            _ => None,
        };
        if timestamp_header == Some(&self.signature_header) {
            return invalid("the timestamp header cannot be the signature header");
        }
        if id_header == Some(&self.signature_header) {
            return invalid("the delivery ID header cannot be the signature header");
        }
        if id_header.is_some() && id_header == timestamp_header {
            return invalid("the delivery ID header cannot be the timestamp header");
        }
        // The MAC sees the parts run together, so where one part that
        // varies meets the next is fixed only by a literal between them, or
        // by a part whose own bytes mark its ends. Without one, bytes move
        // across and keep the signature: an ID `evt_1` and a tenant `23` sign
        // as `evt_12` and `3`. Headers and the body mark nothing; a unix
        // timestamp neither (a digit moved is ten times off, which only a
        // narrow window catches). An RFC 3339 timestamp marks both ends, but
        // between two parts that vary it can slide as a whole to another
        // timestamp text further on (one in the body): one of its sides
        // needs a literal or an end of the content. Timestamps side by side
        // slide together, so they count as one.
        let rfc3339 = matches!(&self.timestamp, Some((_, TimestampFormat::Rfc3339)));
        let varies = |part: &Part| match part {
            Part::Literal(_) => false,
            part if is_timestamp(part) => !rfc3339,
            _ => true,
        };
        let mut parts: Vec<&Part> = self
            .signed_content
            .iter()
            .filter(|part| !matches!(part, Part::Literal(bytes) if bytes.is_empty()))
            .collect();
        parts.dedup_by(|next, previous| is_timestamp(next) && is_timestamp(previous));
        if parts
            .windows(2)
            .any(|pair| varies(pair[0]) && varies(pair[1]))
        {
            return invalid(
                "parts of the signed content that vary (headers, the body, a unix timestamp) need a literal between them",
            );
        }
        if parts
            .windows(3)
            .any(|run| is_timestamp(run[1]) && varies(run[0]) && varies(run[2]))
        {
            return invalid(
                "an RFC 3339 timestamp between two parts that vary needs a literal on one side",
            );
        }
        match &self.syntax {
            SignatureSyntax::Bare => {}
            SignatureSyntax::Prefixed(prefix) if prefix.is_empty() => {
                return invalid("the signature prefix is empty (use SignatureSyntax::Bare)")
            }
            SignatureSyntax::Prefixed(prefix) if !is_prefix(prefix) => {
                return invalid(
                    "the signature prefix must be visible ASCII, not starting with a space",
                )
            }
            SignatureSyntax::KeyValueList { signature_key } if !is_list_token(signature_key) => {
                return invalid(
                    "the signature key must be non-empty visible ASCII, without `,` `=` or spaces",
                )
            }
            SignatureSyntax::VersionedList { version } if !is_list_token(version) => {
                return invalid(
                    "the signature version must be non-empty visible ASCII, without `,` `=` or spaces",
                )
            }
            _ => {}
        }
        if let Some((TimestampSource::SignatureParam(key), _)) = &self.timestamp {
            match &self.syntax {
                SignatureSyntax::KeyValueList { signature_key } => {
                    if !is_list_token(key) || key == signature_key {
                        return invalid(
                            "the timestamp key must be a non-empty key other than the signature key",
                        );
                    }
                }
                _ => {
                    return invalid(
                        "a timestamp in the signature header needs the key=value list syntax",
                    )
                }
            }
        }
        if let Some((min, max)) = self.secret_length {
            if min == 0 || min > max {
                return invalid("the secret length range must be 1 ≤ min ≤ max");
            }
        }
        if let DeliveryIdSource::JsonPointer(pointer) = &self.delivery_id {
            if pointer.segments().is_empty() {
                return invalid("the delivery ID pointer must name a member, not the document");
            }
        }
        Ok(())
    }
}

/// A key or version of a list syntax: visible ASCII, without the list's
/// separators.
fn is_list_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b'=')
}

/// A prefix a header value can start with: visible ASCII (spaces inside),
/// not starting with a space, which HTTP strips.
fn is_prefix(prefix: &str) -> bool {
    prefix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && !prefix.starts_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Scheme {
        Scheme::new("t", HeaderName::from_static("x-sig"))
    }

    #[test]
    fn json_pointer_parsing() {
        assert_eq!(
            JsonPointer::parse("/a~1b/c~0d/0").unwrap(),
            JsonPointer::from_segments(["a/b", "c~d", "0"])
        );
        for bad in ["", "id", "/a~2", "/a~"] {
            assert_eq!(
                JsonPointer::parse(bad).unwrap_err().code(),
                "invalid_json_pointer",
                "{bad}"
            );
        }
    }

    #[test]
    fn inconsistent_schemes_are_refused() {
        let cases = [
            base().with_signed_content([Part::literal(b"x")]),
            base().with_signed_content([Part::Body, Part::Body]),
            base().with_signed_content([Part::Timestamp, Part::Body]),
            base().with_syntax(SignatureSyntax::Prefixed("".into())),
            base().with_syntax(SignatureSyntax::VersionedList {
                version: "v 1".into(),
            }),
            base()
                .with_signed_content([Part::Timestamp, Part::Body])
                .with_timestamp(
                    TimestampSource::SignatureParam("t".into()),
                    TimestampFormat::UnixSeconds,
                ),
            base()
                .with_signed_content([Part::Timestamp, Part::Body])
                .with_syntax(SignatureSyntax::KeyValueList {
                    signature_key: "v1".into(),
                })
                .with_timestamp(
                    TimestampSource::SignatureParam("v1".into()),
                    TimestampFormat::UnixSeconds,
                ),
            base().with_secret_length(5, 2),
            base()
                .with_signed_content([Part::Header(HeaderName::from_static("x-sig")), Part::Body]),
            base().with_delivery_id(DeliveryIdSource::JsonPointer(JsonPointer::from_segments(
                Vec::<String>::new(),
            ))),
            Scheme::new("", HeaderName::from_static("x-sig")),
        ];
        for scheme in cases {
            assert_eq!(
                scheme.validate().unwrap_err().code(),
                "invalid_scheme",
                "{scheme:?}"
            );
        }
        assert!(base().validate().is_ok());
    }

    /// A timestamp the signature does not cover would let a replay through
    /// the window with a fresh one: refused, from a header or from the
    /// signature header's list alike.
    #[test]
    fn a_timestamp_must_be_signed() {
        let ts = HeaderName::from_static("x-ts");
        let from_header = || {
            base().with_timestamp(
                TimestampSource::Header(ts.clone()),
                TimestampFormat::UnixSeconds,
            )
        };
        let from_list = || {
            base()
                .with_syntax(SignatureSyntax::KeyValueList {
                    signature_key: "v1".into(),
                })
                .with_timestamp(
                    TimestampSource::SignatureParam("t".into()),
                    TimestampFormat::UnixSeconds,
                )
        };
        let unsigned = [
            from_header(),
            from_header().with_signed_content([
                Part::Header(HeaderName::from_static("x-other")),
                Part::literal(b"."),
                Part::Body,
            ]),
            from_list(),
        ];
        for scheme in unsigned {
            let err = scheme.validate().unwrap_err();
            assert!(
                matches!(
                    err,
                    BuildError::InvalidScheme {
                        reason: "the signed content does not cover the timestamp it reads"
                    }
                ),
                "{scheme:?}: {err}"
            );
        }
        let signed = [
            from_header().with_signed_content([Part::Timestamp, Part::literal(b"."), Part::Body]),
            from_header().with_signed_content([
                Part::Header(ts.clone()),
                Part::literal(b"."),
                Part::Body,
            ]),
            from_list().with_signed_content([Part::Timestamp, Part::literal(b"."), Part::Body]),
        ];
        for scheme in signed {
            assert!(scheme.validate().is_ok(), "{scheme:?}");
        }
    }

    /// A header read for two things, a header run together with another part
    /// that varies, and list or prefix text no header can carry: each
    /// refused with its own reason.
    #[test]
    fn ambiguous_schemes_are_refused() {
        let name = HeaderName::from_static;
        let stamped = |header, format| {
            base()
                .with_timestamp(TimestampSource::Header(name(header)), format)
                .with_signed_content([Part::Timestamp, Part::literal(b"."), Part::Body])
        };
        let unix = |header| stamped(header, TimestampFormat::UnixSeconds);
        let rfc3339 = |header| stamped(header, TimestampFormat::Rfc3339);
        let id = |header| DeliveryIdSource::Header(name(header));
        let run_together =
            "parts of the signed content that vary (headers, the body, a unix timestamp) need a literal between them";
        let sliding =
            "an RFC 3339 timestamp between two parts that vary needs a literal on one side";
        // Twitch signs `message-id + message-timestamp + body`: a replay can
        // move the split to a timestamp inside the body.
        let twitch = Scheme::new("twitch", name("twitch-eventsub-message-signature"))
            .with_syntax(SignatureSyntax::Prefixed("sha256=".into()))
            .with_timestamp(
                TimestampSource::Header(name("twitch-eventsub-message-timestamp")),
                TimestampFormat::Rfc3339,
            )
            .with_signed_content([
                Part::Header(name("twitch-eventsub-message-id")),
                Part::Timestamp,
                Part::Body,
            ])
            .with_delivery_id(id("twitch-eventsub-message-id"));
        let cases = [
            (
                unix("x-sig"),
                "the timestamp header cannot be the signature header",
            ),
            (
                base().with_delivery_id(id("x-sig")),
                "the delivery ID header cannot be the signature header",
            ),
            (
                unix("x-ts").with_delivery_id(id("x-ts")),
                "the delivery ID header cannot be the timestamp header",
            ),
            (
                base().with_signed_content([
                    Part::Header(name("x-id")),
                    Part::Header(name("x-tenant")),
                    Part::literal(b"."),
                    Part::Body,
                ]),
                run_together,
            ),
            (
                base().with_signed_content([Part::Header(name("x-account")), Part::Body]),
                run_together,
            ),
            (
                unix("x-ts").with_signed_content([
                    Part::Header(name("x-id")),
                    Part::literal(b""),
                    Part::Timestamp,
                    Part::literal(b"."),
                    Part::Body,
                ]),
                run_together,
            ),
            (
                unix("x-ts").with_signed_content([
                    Part::Timestamp,
                    Part::Header(name("x-id")),
                    Part::literal(b"."),
                    Part::Body,
                ]),
                run_together,
            ),
            (
                unix("x-ts").with_signed_content([Part::Header(name("x-ts")), Part::Body]),
                run_together,
            ),
            (twitch, sliding),
            (
                rfc3339("x-ts").with_signed_content([
                    Part::Header(name("x-id")),
                    Part::Header(name("x-ts")),
                    Part::Body,
                ]),
                sliding,
            ),
            // Two timestamps side by side slide together, to a doubled
            // timestamp text in the body.
            (
                rfc3339("x-ts").with_signed_content([
                    Part::Header(name("x-id")),
                    Part::Timestamp,
                    Part::Header(name("x-ts")),
                    Part::Body,
                ]),
                sliding,
            ),
            (
                rfc3339("x-ts").with_signed_content([
                    Part::Header(name("x-id")),
                    Part::Timestamp,
                    Part::Timestamp,
                    Part::Body,
                ]),
                sliding,
            ),
            (
                base().with_syntax(SignatureSyntax::Prefixed("é=".into())),
                "the signature prefix must be visible ASCII, not starting with a space",
            ),
            (
                base().with_syntax(SignatureSyntax::Prefixed(" v1=".into())),
                "the signature prefix must be visible ASCII, not starting with a space",
            ),
            (
                base().with_syntax(SignatureSyntax::KeyValueList {
                    signature_key: "é".into(),
                }),
                "the signature key must be non-empty visible ASCII, without `,` `=` or spaces",
            ),
            (
                base().with_syntax(SignatureSyntax::VersionedList {
                    version: "v\u{7f}".into(),
                }),
                "the signature version must be non-empty visible ASCII, without `,` `=` or spaces",
            ),
        ];
        for (scheme, reason) in cases {
            let err = scheme.validate().unwrap_err();
            assert!(
                matches!(err, BuildError::InvalidScheme { reason: r } if r == reason),
                "{scheme:?}: {err}"
            );
        }
        // Literals between; an RFC 3339 timestamp with a literal or an end
        // on one side (the terminal preset's layout, also with its
        // timestamp named as a header); a prefix with a space inside.
        let fine = [
            crate::presets::terminal()
                .with_signed_content([Part::Header(name("x-timestamp")), Part::Body]),
            rfc3339("x-ts").with_signed_content([
                Part::Header(name("x-id")),
                Part::Timestamp,
                Part::literal(b"."),
                Part::Body,
            ]),
            unix("x-ts").with_signed_content([
                Part::Header(name("x-id")),
                Part::literal(b"."),
                Part::Timestamp,
                Part::literal(b"."),
                Part::Body,
            ]),
            base().with_syntax(SignatureSyntax::Prefixed("sha256 =".into())),
            base().with_signed_content([
                Part::Body,
                Part::literal(b"|"),
                Part::Header(name("x-a")),
            ]),
        ];
        for scheme in fine {
            assert!(scheme.validate().is_ok(), "{scheme:?}");
        }
    }

    #[test]
    fn secret_length_is_checked() {
        let scheme = base().with_secret_length(8, 10);
        assert!(scheme.parse_secret("12345678").is_ok());
        assert_eq!(
            scheme.parse_secret("1234567").unwrap_err(),
            BuildError::SecretLength {
                len: 7,
                min: 8,
                max: 10
            }
        );
        assert!(scheme.parse_secret("12345678901").is_err());
    }
}
