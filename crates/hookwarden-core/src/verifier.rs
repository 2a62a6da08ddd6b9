//! The verifier: a scheme plus keyed MACs, checking deliveries.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use http::HeaderName;

use crate::headers::{self, HeaderLookup};
use crate::mac::{KeyedMac, Tag};
use crate::{
    json, signature, timestamp, BuildError, DeliveryId, DeliveryIdSource, Part, Scheme, Secret,
    TimestampSource, VerifyError,
};

/// Checks deliveries against one scheme and one or more secrets.
///
/// Built once at start-up; cheap to clone (an `Arc` inside) and `Send + Sync`.
/// Each secret's HMAC state is keyed at build time and cloned per delivery.
/// A delivery signed with any of the secrets passes (rotation).
///
/// Verification runs the cheap checks first (headers present and single,
/// signature syntax and encoding, timestamp window) and only then the MACs. It
/// feeds the signed parts to the MAC piece by piece, compares in constant time
/// and, on success, does not allocate (except for a delivery ID over 64 bytes,
/// or a JSON body whose ID, or a key before it, is written with escapes).
///
/// ```
/// use hookwarden_core::{presets, Verifier, VerifyError};
/// use http::HeaderMap;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Rotating secrets: deliveries signed with either pass.
/// let verifier = Verifier::new(presets::github(), "old-secret")?
///     .with_secret("It's a Secret to Everybody")?;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(
///     "x-hub-signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse()?,
/// );
/// let verified = verifier.verify(&headers, b"Hello, World!")?;
/// assert_eq!(verified.secret_index(), 1);
///
/// let err = verifier.verify(&headers, b"Hello, World?").unwrap_err();
/// assert_eq!(err, VerifyError::SignatureMismatch);
/// assert_eq!(err.status(), 401);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    scheme: Scheme,
    keys: Vec<KeyedMac>,
    /// Whether the signature covers the delivery ID; fixed by the scheme.
    id_signed: bool,
    /// Whether the signature decoder reads every byte of an accepted
    /// signature header; fixed by the scheme.
    decoder_reads_signature: bool,
}

impl Verifier {
    /// A verifier for `scheme` with one secret, written as the provider writes it.
    ///
    /// # Errors
    /// [`BuildError`] when the scheme contradicts itself or the secret is
    /// empty, badly encoded or of a length the provider does not issue.
    pub fn new(scheme: Scheme, secret: impl AsRef<str>) -> Result<Self, BuildError> {
        scheme.validate()?;
        let secret = scheme.parse_secret(secret.as_ref())?;
        Self::from_secrets(scheme, [secret])
    }

    /// A verifier for `scheme` with already-parsed secrets.
    ///
    /// # Errors
    /// [`BuildError::NoSecret`] when `secrets` is empty, and as [`Verifier::new`].
    pub fn from_secrets(
        scheme: Scheme,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, BuildError> {
        scheme.validate()?;
        let keys = secrets
            .into_iter()
            .map(|secret| {
                scheme.check_secret(&secret)?;
                KeyedMac::new(scheme.algorithm, &secret)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(BuildError::NoSecret);
        }
        let id_signed = scheme.signs_delivery_id();
        let decoder_reads_signature = scheme.decoder_reads_signature();
        Ok(Self {
            inner: Arc::new(Inner {
                scheme,
                keys,
                id_signed,
                decoder_reads_signature,
            }),
        })
    }

    /// Adds another secret; deliveries signed with any secret pass.
    ///
    /// # Errors
    /// As [`Verifier::new`].
    pub fn with_secret(mut self, secret: impl AsRef<str>) -> Result<Self, BuildError> {
        let inner = Arc::make_mut(&mut self.inner);
        let secret = inner.scheme.parse_secret(secret.as_ref())?;
        inner
            .keys
            .push(KeyedMac::new(inner.scheme.algorithm, &secret)?);
        Ok(self)
    }

    /// The scheme this verifier checks.
    pub fn scheme(&self) -> &Scheme {
        &self.inner.scheme
    }

    /// How many secrets the verifier holds.
    pub fn secret_count(&self) -> usize {
        self.inner.keys.len()
    }

    /// Verifies a delivery against the system clock.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the delivery was rejected.
    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<Verified, VerifyError> {
        self.verify_with(headers, body, SystemTime::now)
    }

    /// Verifies a delivery as if the clock read `now`.
    ///
    /// # Errors
    /// [`VerifyError`] saying why the delivery was rejected.
    pub fn verify_at<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.verify_with(headers, body, || now)
    }

    /// [`Verifier::verify_at`], reading the clock only for a scheme with a
    /// timestamp.
    fn verify_with<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: impl FnOnce() -> SystemTime,
    ) -> Result<Verified, VerifyError> {
        let scheme = &self.inner.scheme;

        // Cheap checks, before any MAC. The signature header is checked as
        // `headers::single` would, with the same errors in the same order,
        // but where the decoder reads every byte of it (a bare or prefixed
        // signature) an accepted value is visible ASCII already: only a
        // rejected one is checked again, to tell an invalid header from a
        // malformed signature.
        let name = &scheme.signature_header;
        let signature =
            headers::single_unchecked(headers, name)?.ok_or(VerifyError::MissingSignature)?;
        let scanned = match signature::scan(scheme, signature) {
            Ok(scanned) if self.inner.decoder_reads_signature => scanned,
            _ if !headers::is_visible_ascii(signature) => return Err(headers::invalid(name)),
            scanned => scanned?,
        };
        let timestamp = match &scheme.timestamp {
            None => None,
            Some((source, format)) => {
                let (text, millis) = match source {
                    TimestampSource::Header(name) => {
                        let text = headers::single_unchecked(headers, name)?
                            .ok_or_else(|| headers::missing(name))?;
                        // As `headers::required` then `parse`, with the
                        // same errors: a timestamp that parses is visible
                        // ASCII already, so only one that does not is
                        // checked, to tell an invalid header from a
                        // malformed timestamp.
                        match timestamp::parse(text, *format) {
                            Ok(millis) => (text, millis),
                            Err(_) if !headers::is_visible_ascii(text) => {
                                return Err(headers::invalid(name))
                            }
                            Err(err) => return Err(err),
                        }
                    }
                    TimestampSource::SignatureParam(_) => {
                        let text = scanned.timestamp.ok_or(VerifyError::MalformedSignature)?;
                        (text, timestamp::parse(text, *format)?)
                    }
                };
                check_window(scheme, seconds(millis), unix_seconds(now()))?;
                // Inside a window of centuries, a time no clock here can
                // hold is still refused, never passed without a timestamp.
                let time = system_time(millis).ok_or(if millis > 0 {
                    VerifyError::FutureTimestamp
                } else {
                    VerifyError::StaleTimestamp
                })?;
                Some((text, time))
            }
        };
        // Each header read once: Standard Webhooks signs its ID header and
        // takes its delivery ID from it too.
        let mut read = ReadHeaders::new(headers);
        let header_id = match &scheme.delivery_id {
            DeliveryIdSource::Header(name) => read.single(name)?,
            _ => None,
        };
        for part in &scheme.signed_content {
            if let Part::Header(name) = part {
                read.required(name)?;
            }
        }

        // The MACs, one per secret, until one matches.
        let mut matched = None;
        for (index, key) in self.inner.keys.iter().enumerate() {
            let feed = |sink: &mut dyn FnMut(&[u8])| {
                let timestamp = timestamp.map(|(text, _)| text);
                feed_with(sink, scheme, |name| read.required(name), timestamp, body)
            };
            let check = |tag: &Tag<'_>| signature::any_matches(scheme, signature, &scanned, tag);
            if key.run(feed, check)? {
                matched = Some(index);
                break;
            }
        }
        let secret_index = matched.ok_or(VerifyError::SignatureMismatch)?;

        // Only now is anything read from the body.
        let delivery_id = match &scheme.delivery_id {
            DeliveryIdSource::None => None,
            DeliveryIdSource::Header(_) => header_id
                .filter(|id| !id.is_empty())
                .map(DeliveryId::from_ascii),
            DeliveryIdSource::JsonPointer(pointer) => json::read_id(body, pointer.segments()),
            DeliveryIdSource::BodyDigest => Some(DeliveryId::hex(&Sha256::digest(body))),
        };
        Ok(Verified {
            scheme: Arc::clone(&scheme.name),
            delivery_id,
            id_signed: self.inner.id_signed,
            timestamp: timestamp.map(|(_, time)| time),
            secret_index,
        })
    }
}

/// Feeds the scheme's signed content to a MAC's `sink`, part by part.
/// Shared by the verifier and the signer so that both read the same bytes.
pub(crate) fn feed<H: HeaderLookup + ?Sized>(
    sink: &mut dyn FnMut(&[u8]),
    scheme: &Scheme,
    headers: &H,
    timestamp: Option<&[u8]>,
    body: &[u8],
) -> Result<(), VerifyError> {
    feed_with(
        sink,
        scheme,
        |name| headers::required(headers, name),
        timestamp,
        body,
    )
}

/// [`feed`], reading each signed header with `header`.
fn feed_with<'n, 'h>(
    sink: &mut dyn FnMut(&[u8]),
    scheme: &'n Scheme,
    mut header: impl FnMut(&'n HeaderName) -> Result<&'h [u8], VerifyError>,
    timestamp: Option<&[u8]>,
    body: &[u8],
) -> Result<(), VerifyError> {
    for part in &scheme.signed_content {
        match part {
            Part::Literal(bytes) => sink(bytes),
            Part::Header(name) => sink(header(name)?),
            // `Scheme::validate` refuses a timestamp part without a timestamp source.
            Part::Timestamp => sink(timestamp.unwrap_or_default()),
            Part::Body => sink(body),
        }
    }
    Ok(())
}

/// How many headers [`ReadHeaders`] remembers; past that it reads again.
const REMEMBERED: usize = 4;

/// A header [`ReadHeaders`] read, and what [`headers::single`] said of it.
type Seen<'n, 'h> = (&'n HeaderName, Option<&'h [u8]>);

/// A request's headers, each checked (single, visible ASCII) once and then
/// remembered: the same answers as [`headers::single`], without reading a
/// header again for each use.
struct ReadHeaders<'n, 'h, H: ?Sized> {
    headers: &'h H,
    seen: [Option<Seen<'n, 'h>>; REMEMBERED],
}

impl<'n, 'h, H: HeaderLookup + ?Sized> ReadHeaders<'n, 'h, H> {
    fn new(headers: &'h H) -> Self {
        Self {
            headers,
            seen: [None; REMEMBERED],
        }
    }

    /// As [`headers::single`].
    fn single(&mut self, name: &'n HeaderName) -> Result<Option<&'h [u8]>, VerifyError> {
        if let Some(value) = self.remembered(name) {
            return Ok(value);
        }
        let value = headers::single(self.headers, name)?;
        if let Some(free) = self.seen.iter_mut().find(|slot| slot.is_none()) {
            *free = Some((name, value));
        }
        Ok(value)
    }

    /// As [`headers::required`].
    fn required(&mut self, name: &'n HeaderName) -> Result<&'h [u8], VerifyError> {
        self.single(name)?
            .ok_or_else(|| VerifyError::MissingHeader {
                name: name.as_str().to_owned(),
            })
    }

    fn remembered(&self, name: &HeaderName) -> Option<Option<&'h [u8]>> {
        self.seen
            .iter()
            .map_while(|slot| *slot)
            .find(|(seen, _)| *seen == name)
            .map(|(_, value)| value)
    }
}

/// The tolerance window, at one-second resolution: `ts` and `now` are whole
/// seconds since the epoch.
fn check_window(scheme: &Scheme, ts: i128, now: i128) -> Result<(), VerifyError> {
    if now - ts > i128::from(scheme.tolerance_past.as_secs()) {
        Err(VerifyError::StaleTimestamp)
    } else if ts - now > i128::from(scheme.tolerance_future.as_secs()) {
        Err(VerifyError::FutureTimestamp)
    } else {
        Ok(())
    }
}

/// Whole seconds (rounded down) of a count of milliseconds: in 64-bit
/// arithmetic whenever it fits (every real timestamp), since a 128-bit
/// division is a call into a slow helper.
fn seconds(millis: i128) -> i128 {
    match i64::try_from(millis) {
        Ok(millis) => i128::from(millis.div_euclid(1000)),
        Err(_) => millis.div_euclid(1000),
    }
}

/// `seconds(unix_millis(time))`, without the 128-bit milliseconds for a
/// time after the epoch (the clock of every real server).
fn unix_seconds(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::from(after.as_secs()),
        Err(_) => seconds(unix_millis(time)),
    }
}

/// Milliseconds since the Unix epoch, negative before it.
pub(crate) fn unix_millis(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i128,
        Err(before) => -(before.duration().as_millis() as i128),
    }
}

fn system_time(millis: i128) -> Option<SystemTime> {
    let magnitude = Duration::from_millis(u64::try_from(millis.unsigned_abs()).ok()?);
    if millis >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// What passed verification: handed to the handler beside the raw body.
///
/// ```
/// use hookwarden_core::{presets, SignOptions, Signer, Verifier};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let headers = Signer::new(presets::fourpay(), "4pay-secret")?.sign(b"{}", &SignOptions::new())?;
/// let verifier = Verifier::new(presets::fourpay(), "4pay-secret")?;
/// let verified = verifier.verify(&headers, b"{}")?;
/// assert_eq!(verified.scheme(), "4pay");
/// // 4pay sends no delivery ID: the body's SHA-256 stands in for it.
/// assert_eq!(verified.delivery_id().map(|id| id.len()), Some(64));
/// assert_eq!(verified.timestamp(), None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    scheme: Arc<str>,
    delivery_id: Option<DeliveryId>,
    id_signed: bool,
    timestamp: Option<SystemTime>,
    secret_index: usize,
}

impl Verified {
    /// The name of the scheme that verified the delivery.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The delivery's ID, where the scheme has one and the delivery carries it
    /// (an empty header or JSON string is no ID).
    pub fn delivery_id(&self) -> Option<&DeliveryId> {
        self.delivery_id.as_ref()
    }

    /// Whether the signature covers the delivery ID: true when the ID comes
    /// from the body or from a signed header (Standard Webhooks' `webhook-id`),
    /// false for an ID header the provider does not sign (GitHub, Shopify, NTX Pay).
    pub fn delivery_id_is_signed(&self) -> bool {
        self.id_signed && self.delivery_id.is_some()
    }

    /// The delivery ID as the gate logs it, `(signed, claimed)`: at most one
    /// is set. An ID from a header the provider does not sign is only what
    /// the sender claims, so it goes in a field of its own.
    pub(crate) fn logged_ids(&self) -> (Option<&str>, Option<&str>) {
        let id = self.delivery_id.as_ref().map(DeliveryId::as_str);
        if self.id_signed {
            (id, None)
        } else {
            (None, id)
        }
    }

    /// The delivery's timestamp, where the scheme has one.
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.timestamp
    }

    /// Which secret matched: its position in the order the secrets were given.
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }
}

#[cfg(test)]
mod tests {
    use super::{seconds, unix_millis, unix_seconds};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signature_headers_the_decoder_reads_keep_their_errors() {
        use crate::{presets, Verifier, VerifyError};
        use http::{HeaderMap, HeaderValue};

        // Bare and prefixed (the decoder reads every byte of an accepted
        // header; a prefix is visible ASCII).
        let schemes = [(presets::ntxpay(), ""), (presets::github(), "sha256=")];
        let hex = "ab".repeat(32);
        let hex = hex.as_bytes();
        for (scheme, prefix) in schemes {
            let prefix = prefix.as_bytes();
            let invalid = VerifyError::InvalidHeader {
                name: scheme.signature_header().as_str().to_owned(),
            };
            let cases: [(Vec<u8>, VerifyError); 5] = [
                ([prefix, hex].concat(), VerifyError::SignatureMismatch),
                ([prefix, &hex[..63], b"\xe9"].concat(), invalid.clone()),
                ([prefix, b"\xe9", &hex[1..]].concat(), invalid.clone()),
                ([b"\xe9", prefix, hex].concat(), invalid.clone()),
                (
                    [prefix, b"\t", &hex[1..]].concat(),
                    VerifyError::MalformedSignature,
                ),
            ];
            let verifier = Verifier::new(scheme.clone(), "secret-0123").unwrap();
            for (value, expected) in cases {
                let mut headers = HeaderMap::new();
                headers.insert(
                    scheme.signature_header(),
                    HeaderValue::from_bytes(&value).unwrap(),
                );
                let err = verifier.verify(&headers, b"{}").unwrap_err();
                assert_eq!(err, expected, "{}: {value:?}", scheme.name());
            }
        }
    }

    /// A signed timestamp inside a window of centuries but past what the
    /// clock can hold is refused, not passed with no timestamp.
    #[test]
    fn a_timestamp_past_any_clock_is_refused() {
        use crate::{presets, Encoding, Verifier, VerifyError};
        use hmac::{Hmac, KeyInit, Mac};
        use http::{HeaderMap, HeaderValue};

        let scheme = presets::slack().with_tolerance(Duration::MAX);
        let verifier = Verifier::new(scheme, "slack-secret").unwrap();
        let ts = "9999999999999999999"; // 19 digits: the most unix seconds parse
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"slack-secret").unwrap();
        mac.update(format!("v0:{ts}:{{}}").as_bytes());
        let tag = crate::signature::encode(Encoding::Hex, &mac.finalize().into_bytes());
        let mut headers = HeaderMap::new();
        headers.insert("x-slack-request-timestamp", HeaderValue::from_static(ts));
        headers.insert(
            "x-slack-signature",
            HeaderValue::from_str(&format!("v0={tag}")).unwrap(),
        );
        assert_eq!(
            verifier.verify(&headers, b"{}"),
            Err(VerifyError::FutureTimestamp)
        );
    }

    /// An ID run into an RFC 3339 timestamp, with a literal after it: the
    /// timestamp's format fixes where the ID ends, so moving a byte between
    /// the two breaks the timestamp, whichever way it goes. (Without the
    /// literal, as Twitch signs, the scheme is refused: the timestamp could
    /// slide into the body.)
    #[test]
    fn an_id_run_into_a_timestamp_keeps_its_bytes() {
        use crate::{
            DeliveryIdSource, Part, Scheme, SignOptions, SignatureSyntax, Signer, TimestampFormat,
            TimestampSource, Verifier,
        };
        use http::{HeaderName, HeaderValue};

        let name = HeaderName::from_static;
        let scheme = Scheme::new("seam", name("x-sig"))
            .with_syntax(SignatureSyntax::Prefixed("sha256=".into()))
            .with_timestamp(
                TimestampSource::Header(name("x-ts")),
                TimestampFormat::Rfc3339,
            )
            .with_signed_content([
                Part::Header(name("x-id")),
                Part::Timestamp,
                Part::literal(b"."),
                Part::Body,
            ])
            .with_delivery_id(DeliveryIdSource::Header(name("x-id")));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let options = SignOptions::new().with_id("evt_10").with_timestamp(now);
        let signer = Signer::new(scheme.clone(), "seam-secret").unwrap();
        let headers = signer.sign(b"{}", &options).unwrap();
        let verifier = Verifier::new(scheme, "seam-secret").unwrap();
        let verified = verifier.verify_at(&headers, b"{}", now).unwrap();
        assert!(verified.delivery_id_is_signed());
        let ts = headers["x-ts"].to_str().unwrap().to_owned();
        // The ID's last byte into the timestamp, and the timestamp's
        // first byte into the ID.
        for (id, ts) in [
            ("evt_1".to_owned(), format!("0{ts}")),
            (format!("evt_10{}", &ts[..1]), ts[1..].to_owned()),
        ] {
            let mut replay = headers.clone();
            replay.insert("x-id", HeaderValue::from_str(&id).unwrap());
            replay.insert("x-ts", HeaderValue::from_str(&ts).unwrap());
            assert!(
                verifier.verify_at(&replay, b"{}", now).is_err(),
                "{id} {ts}"
            );
        }
    }

    /// An ID the signature covers is logged as the delivery ID; one from a
    /// header nobody signs only as what the sender claims.
    #[test]
    fn only_a_signed_delivery_id_is_logged_as_one() {
        use crate::{presets, DeliveryIdSource, SignOptions, Signer, Verifier};

        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        // Standard Webhooks signs its ID header, 4pay's ID is the body's
        // digest, GitHub does not sign its ID header.
        for (scheme, signed) in [
            (presets::standard_webhooks(), true),
            (presets::fourpay(), true),
            (presets::github(), false),
        ] {
            let mut options = SignOptions::new();
            if matches!(scheme.delivery_id(), DeliveryIdSource::Header(_)) {
                options = options.with_id("msg_1");
            }
            let signer = Signer::new(scheme.clone(), secret).unwrap();
            let headers = signer.sign(b"{}", &options).unwrap();
            let verified = Verifier::new(scheme, secret)
                .unwrap()
                .verify(&headers, b"{}")
                .unwrap();
            let id = verified.delivery_id().map(|id| id.as_str());
            assert!(id.is_some());
            let expected = if signed { (id, None) } else { (None, id) };
            assert_eq!(verified.logged_ids(), expected, "{}", verified.scheme());
        }
    }

    #[test]
    fn unix_seconds_are_the_whole_seconds_of_unix_millis() {
        for millis in [0u64, 1, 999, 1000, 1001, 1_700_000_000_999] {
            let duration = Duration::from_millis(millis);
            for time in [UNIX_EPOCH + duration, UNIX_EPOCH - duration] {
                assert_eq!(unix_seconds(time), seconds(unix_millis(time)), "{time:?}");
            }
        }
        for odd in [Duration::new(5, 1), Duration::new(5, 999_999_999)] {
            for time in [UNIX_EPOCH + odd, UNIX_EPOCH - odd] {
                assert_eq!(unix_seconds(time), seconds(unix_millis(time)), "{time:?}");
            }
        }
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::new(5, 999_999_999)), 5);
    }

    #[test]
    fn seconds_round_down_in_both_widths() {
        for millis in [0i128, 999, 1000, 1999, -1, -1000, -1001, 1_700_000_000_123] {
            assert_eq!(seconds(millis), millis.div_euclid(1000), "{millis}");
        }
        for millis in [
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(seconds(millis), millis.div_euclid(1000), "{millis}");
        }
    }
}
