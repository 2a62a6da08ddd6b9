//! An endpoint conformance checker: does the endpoint answer a provider's
//! deliveries as it should? `hookwarden check`.
//!
//! [`Check::run`] sends, one after the other, each with a fresh delivery ID:
//!
//! | check | sends | passes on |
//! |---|---|---|
//! | [`Kind::Valid`] | a validly signed JSON delivery | 2xx within 10 s, not [`DUPLICATE_BODY`] |
//! | [`Kind::Duplicate`] | the same delivery again, byte for byte | 2xx with hookwarden's [`DUPLICATE_BODY`] (any 2xx with [`Check::with_silent_dedupe`]) |
//! | [`Kind::ForgedSignature`] | a delivery signed with another secret | 401 |
//! | [`Kind::MissingSignature`] | a delivery without its signature header | 401 |
//! | [`Kind::StaleTimestamp`] | a delivery signed an hour ago, where the scheme has a timestamp | 401 |
//! | [`Kind::OversizedBody`] | a validly signed 2 MiB body | 413 |
//!
//! The valid body is JSON that a receiver re-serializing it would change
//! (spaces, unsorted keys, `1.50`, `\u00e9` escapes): a receiver that
//! verifies `serde_json::to_vec(&parsed)` instead of the raw bytes fails the
//! first check. It has a top-level `"id"`, where PayNetworx and Stripe
//! deliveries carry their event ID.
//!
//! Every delivery goes as [`Delivery`](crate::send::Delivery) sends one:
//! directly to the URL's host (no proxy), and a 413 the endpoint sends
//! before hanging up mid-body, refusing the oversized body, is still read.
//!
//! An endpoint's duplicate answer shows whether it ran its handler again
//! only if it says so: hookwarden answers 200 `{"status":"duplicate"}`. A
//! 2xx without that marker fails, since it may well mean the delivery was
//! processed twice, unless [`Check::with_silent_dedupe`] says the endpoint
//! dedupes without saying so.
//!
//! ```no_run
//! use hookwarden_cli::check::{Check, Kind, Verdict};
//! use hookwarden_core::http::Method;
//! use hookwarden_core::presets;
//!
//! # async fn demo() -> Result<(), hookwarden_cli::Error> {
//! let report = Check::new("http://127.0.0.1:3000/webhooks/pnx", presets::paynetworx(), "whsec_dev")?
//!     .with_method(Method::PUT)
//!     .run(|progress| eprintln!("{progress}"))
//!     .await?;
//! println!("{report}");
//! assert_eq!(report.get(Kind::StaleTimestamp).map(|o| o.verdict()), Some(Verdict::NotApplicable));
//! # Ok(())
//! # }
//! ```
//!
//! [`DUPLICATE_BODY`]: hookwarden_core::DUPLICATE_BODY

use std::fmt;
use std::time::{Duration, SystemTime};

use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use hookwarden_core::{Scheme, Signer, DUPLICATE_BODY};

use crate::endpoint::{random_hex, Answer, Endpoint, DEFAULT_OVERSIZE};
use crate::Error;

/// How long a provider waits for an answer: NTX Pay and 4pay give up after 10 s.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How old the stale delivery's timestamp is, by default: an hour, far
/// beyond the usual five-minute tolerance.
pub const DEFAULT_STALE_BY: Duration = Duration::from_secs(3600);

/// The largest oversized body the check builds: 1 GiB, far beyond any
/// webhook endpoint's limit (the body is built in memory).
pub const MAX_OVERSIZE: usize = 1 << 30;

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A validly signed delivery: 2xx within [`DEADLINE`], not answered as a duplicate.
    Valid,
    /// The same delivery again: 2xx, and not processed a second time.
    Duplicate,
    /// A delivery signed with another secret: 401.
    ForgedSignature,
    /// A delivery without the signature header: 401.
    MissingSignature,
    /// A delivery whose timestamp is too old, for schemes with one: 401.
    StaleTimestamp,
    /// A validly signed body over the size limit: 413.
    OversizedBody,
}

impl Kind {
    /// Every check, in the order they run.
    pub const ALL: [Kind; 6] = [
        Kind::Valid,
        Kind::Duplicate,
        Kind::ForgedSignature,
        Kind::MissingSignature,
        Kind::StaleTimestamp,
        Kind::OversizedBody,
    ];

    /// The check's name as reports print it, such as `forged signature`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Valid => "valid delivery",
            Kind::Duplicate => "duplicate delivery",
            Kind::ForgedSignature => "forged signature",
            Kind::MissingSignature => "missing signature",
            Kind::StaleTimestamp => "stale timestamp",
            Kind::OversizedBody => "oversized body",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The endpoint answered as it should.
    Pass,
    /// It did not, or the check could not be made.
    Fail,
    /// The check does not apply to the scheme (a stale timestamp where the
    /// scheme signs none); it does not count against the endpoint.
    NotApplicable,
}

impl Verdict {
    /// `PASS`, `FAIL` or `SKIP`, as reports print it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotApplicable => "SKIP",
        }
    }
}

/// What one check found.
#[derive(Debug, Clone)]
pub struct Outcome {
    kind: Kind,
    verdict: Verdict,
    status: Option<StatusCode>,
    latency: Option<Duration>,
    reason: String,
}

impl Outcome {
    /// Which check.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its result.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The status the endpoint answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// How long the answer took, if there was one.
    pub fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// Why it passed or failed, in words: what was answered and what was expected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Outcome {
    /// One line: `PASS  forged signature     401 Unauthorized in 2 ms …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {:<18}  {}",
            self.verdict.label(),
            self.kind.name(),
            self.reason
        )
    }
}

/// Every check's outcome.
#[derive(Debug, Clone)]
pub struct Report {
    outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.verdict != Verdict::Fail)
    }

    /// The outcomes, in the order the checks ran.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The outcome of one check.
    pub fn get(&self, kind: Kind) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.kind == kind)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = Kind> + '_ {
        self.outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Fail)
            .map(|o| o.kind)
    }

    /// `N passed, N failed, N not applicable`.
    pub fn summary(&self) -> String {
        let count = |v| self.outcomes.iter().filter(|o| o.verdict == v).count();
        format!(
            "{} passed, {} failed, {} not applicable",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::NotApplicable)
        )
    }
}

impl fmt::Display for Report {
    /// One line per check, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in &self.outcomes {
            writeln!(f, "{outcome}")?;
        }
        f.write_str(&self.summary())
    }
}

/// What [`Check::run`] reports while it runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A check is about to send its delivery.
    Sending {
        /// Which check.
        kind: Kind,
        /// Its place, from 1.
        index: usize,
        /// How many checks there are.
        total: usize,
    },
    /// A check is done.
    Done(&'a Outcome),
}

impl fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Sending { kind, index, total } => write!(f, "[{index}/{total}] {kind}…"),
            Progress::Done(outcome) => write!(f, "{outcome}"),
        }
    }
}

/// An endpoint to check, and how.
///
/// Built with [`Check::new`] and `with_*` setters; [`run`](Self::run) sends
/// the deliveries.
#[derive(Debug, Clone)]
pub struct Check {
    endpoint: Endpoint,
    forger: Signer,
    oversize: usize,
    stale_by: Duration,
    silent_dedupe: bool,
}

impl Check {
    /// Checks the endpoint at `url`, which receives `scheme` deliveries
    /// signed with `secret` (written as the provider issues it), by `POST`.
    ///
    /// # Errors
    /// As [`Delivery::new`](crate::send::Delivery::new).
    pub fn new(url: &str, scheme: Scheme, secret: &str) -> Result<Self, Error> {
        let forger = forger(scheme.clone())?;
        Ok(Self {
            endpoint: Endpoint::new(url, scheme, secret)?,
            forger,
            oversize: DEFAULT_OVERSIZE,
            stale_by: DEFAULT_STALE_BY,
            silent_dedupe: false,
        })
    }

    /// The HTTP method (default `POST`; PayNetworx may use `PUT`).
    #[must_use]
    pub fn with_method(mut self, method: Method) -> Self {
        self.endpoint.method = method;
        self
    }

    /// A header sent as-is with every delivery (`Authorization: Bearer …`,
    /// say), as [`Delivery::with_header`](crate::send::Delivery::with_header).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.endpoint.add_header(name, value);
        self
    }

    /// The size of the oversized body, in bytes (default 2 MiB, over
    /// hookwarden's 1 MiB default limit; at most [`MAX_OVERSIZE`], which a
    /// larger value is taken as). Set it above the endpoint's limit.
    #[must_use]
    pub fn with_oversize(mut self, bytes: usize) -> Self {
        self.oversize = bytes.min(MAX_OVERSIZE);
        self
    }

    /// How old the stale delivery's timestamp is (default one hour; at most
    /// back to 1970). Set it beyond the endpoint's tolerance.
    #[must_use]
    pub fn with_stale_by(mut self, age: Duration) -> Self {
        self.stale_by = age;
        self
    }

    /// Accept any 2xx for the duplicate, for an endpoint that skips
    /// duplicates without saying so (default `false`: the duplicate must be
    /// answered with hookwarden's `{"status":"duplicate"}`). The checker
    /// cannot tell such an endpoint from one that processes the duplicate.
    #[must_use]
    pub fn with_silent_dedupe(mut self, allowed: bool) -> Self {
        self.silent_dedupe = allowed;
        self
    }

    /// How long to wait for each answer (default [`DEADLINE`]). The valid
    /// delivery fails past [`DEADLINE`] whatever this says.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.endpoint.timeout = timeout;
        self
    }

    /// Runs every check in turn, calling `progress` before and after each.
    ///
    /// # Errors
    /// [`Error::Connect`] when the first delivery finds no endpoint to talk
    /// to (nothing is checked then); [`Error::Sign`] when a delivery cannot
    /// be signed (a custom scheme signing a header not given, say). Every
    /// other failure is a failed check in the [`Report`].
    pub async fn run(&self, mut progress: impl FnMut(Progress<'_>)) -> Result<Report, Error> {
        let mut first = None;
        let mut outcomes = Vec::with_capacity(Kind::ALL.len());
        for (index, kind) in Kind::ALL.into_iter().enumerate() {
            progress(Progress::Sending {
                kind,
                index: index + 1,
                total: Kind::ALL.len(),
            });
            let outcome = match kind {
                Kind::Valid => self.valid(&mut first).await?,
                Kind::Duplicate => self.duplicate(first.as_ref()).await,
                Kind::ForgedSignature => self.forged().await?,
                Kind::MissingSignature => self.missing().await?,
                Kind::StaleTimestamp => self.stale().await?,
                Kind::OversizedBody => self.oversized().await?,
            };
            progress(Progress::Done(&outcome));
            outcomes.push(outcome);
        }
        Ok(Report { outcomes })
    }

    /// The headers of `body` signed by `signer`, with `id` as the delivery
    /// ID where the scheme sends one in a header, and `timestamp` if given.
    fn signed(
        &self,
        signer: &Signer,
        id: &str,
        body: &[u8],
        timestamp: Option<SystemTime>,
    ) -> Result<HeaderMap, Error> {
        let id = self.endpoint.id_in_header().then_some(id);
        self.endpoint.sign(signer, body, id, timestamp)
    }

    async fn valid(&self, first: &mut Option<(HeaderMap, Vec<u8>)>) -> Result<Outcome, Error> {
        let id = fresh_id();
        let body = valid_body(&id);
        let headers = self.signed(&self.endpoint.signer, &id, &body, None)?;
        let answer = match self.endpoint.deliver(headers.clone(), body.clone()).await {
            Err(err @ Error::Connect { .. }) => return Err(err),
            other => other,
        };
        let outcome = match answer {
            // Answered as already handled, a delivery no one sent before
            // was not processed: every delivery may be dropped so.
            Ok(answer) if answer.status.is_success() && says_duplicate(&answer.body) => fail(
                Kind::Valid,
                &answer,
                "; a first delivery, with a fresh ID, must be processed, not answered as a \
                 duplicate (is the dedupe key the same for every delivery?)"
                    .into(),
            ),
            Ok(answer) if answer.status.is_success() && answer.latency < DEADLINE => {
                *first = Some((headers, body));
                pass(Kind::Valid, &answer, String::new())
            }
            Ok(answer) if answer.status.is_success() => {
                *first = Some((headers, body));
                fail(
                    Kind::Valid,
                    &answer,
                    format!("; providers give up after {} s", DEADLINE.as_secs()),
                )
            }
            Ok(answer) => fail(
                Kind::Valid,
                &answer,
                "; a validly signed delivery must get 2xx (is the signature checked over \
                 the raw body bytes, with this secret?)"
                    .into(),
            ),
            Err(err) => no_answer(Kind::Valid, &err),
        };
        Ok(outcome)
    }

    async fn duplicate(&self, first: Option<&(HeaderMap, Vec<u8>)>) -> Outcome {
        let Some((headers, body)) = first else {
            return Outcome {
                kind: Kind::Duplicate,
                verdict: Verdict::Fail,
                status: None,
                latency: None,
                reason: "not sent: the valid delivery was not accepted, so there is no \
                         duplicate to check"
                    .into(),
            };
        };
        let answer = match self.endpoint.deliver(headers.clone(), body.clone()).await {
            Ok(answer) => answer,
            Err(err) => return no_answer(Kind::Duplicate, &err),
        };
        if !answer.status.is_success() {
            return fail(
                Kind::Duplicate,
                &answer,
                "; a duplicate of a handled delivery must get 2xx, or the provider retries it"
                    .into(),
            );
        }
        if says_duplicate(&answer.body) {
            pass(
                Kind::Duplicate,
                &answer,
                "; recognised, not processed again".into(),
            )
        } else if self.silent_dedupe {
            pass(
                Kind::Duplicate,
                &answer,
                "; trusted to skip duplicates silently (no duplicate marker)".into(),
            )
        } else {
            fail(
                Kind::Duplicate,
                &answer,
                format!(
                    "; no {DUPLICATE_BODY}, so the delivery may have been processed twice \
                     (if the endpoint skips duplicates without saying so, allow it with \
                     --allow-silent-dedupe or Check::with_silent_dedupe)"
                ),
            )
        }
    }

    async fn forged(&self) -> Result<Outcome, Error> {
        let id = fresh_id();
        let body = valid_body(&id);
        let headers = self.signed(&self.forger, &id, &body, None)?;
        let outcome = self
            .expect(
                Kind::ForgedSignature,
                headers,
                body,
                StatusCode::UNAUTHORIZED,
                "a delivery signed with another secret must get 401",
            )
            .await;
        Ok(outcome)
    }

    async fn missing(&self) -> Result<Outcome, Error> {
        let id = fresh_id();
        let body = valid_body(&id);
        let mut headers = self.signed(&self.endpoint.signer, &id, &body, None)?;
        let name = self.endpoint.signer.scheme().signature_header();
        headers.remove(name);
        let outcome = self
            .expect(
                Kind::MissingSignature,
                headers,
                body,
                StatusCode::UNAUTHORIZED,
                &format!("a delivery without `{name}` must get 401"),
            )
            .await;
        Ok(outcome)
    }

    async fn stale(&self) -> Result<Outcome, Error> {
        let scheme = self.endpoint.signer.scheme();
        if scheme.timestamp().is_none() {
            return Ok(Outcome {
                kind: Kind::StaleTimestamp,
                verdict: Verdict::NotApplicable,
                status: None,
                latency: None,
                reason: format!("the {} scheme signs no timestamp", scheme.name()),
            });
        }
        let id = fresh_id();
        let body = valid_body(&id);
        // No earlier than 1970: a Unix timestamp cannot go further back,
        // and that is stale enough for any tolerance.
        let now = SystemTime::now();
        let when = now
            .checked_sub(self.stale_by)
            .map_or(SystemTime::UNIX_EPOCH, |when| {
                when.max(SystemTime::UNIX_EPOCH)
            });
        let age = now.duration_since(when).unwrap_or_default();
        let headers = self.signed(&self.endpoint.signer, &id, &body, Some(when))?;
        let outcome = self
            .expect(
                Kind::StaleTimestamp,
                headers,
                body,
                StatusCode::UNAUTHORIZED,
                &format!("a delivery signed {} s ago must get 401", age.as_secs()),
            )
            .await;
        Ok(outcome)
    }

    async fn oversized(&self) -> Result<Outcome, Error> {
        let id = fresh_id();
        let body = oversized_body(&id, self.oversize);
        let headers = self.signed(&self.endpoint.signer, &id, &body, None)?;
        let expected = format!("a validly signed body of {} bytes must get 413", body.len());
        let kind = Kind::OversizedBody;
        let outcome = match self.endpoint.deliver(headers, body).await {
            Ok(answer) if answer.status == StatusCode::PAYLOAD_TOO_LARGE => {
                pass(kind, &answer, String::new())
            }
            Ok(answer) => fail(kind, &answer, format!("; {expected}")),
            Err(err) => no_answer(kind, &err),
        };
        Ok(outcome)
    }

    /// Sends one delivery that must be answered `expected`.
    async fn expect(
        &self,
        kind: Kind,
        headers: HeaderMap,
        body: Vec<u8>,
        expected: StatusCode,
        rule: &str,
    ) -> Outcome {
        match self.endpoint.deliver(headers, body).await {
            Ok(answer) if answer.status == expected => pass(kind, &answer, String::new()),
            Ok(answer) => fail(kind, &answer, format!("; {rule}")),
            Err(err) => no_answer(kind, &err),
        }
    }
}

/// A signer for `scheme` with a random secret of the scheme's format: what
/// someone without the secret can do. `whsec_` and hex digits read both as
/// a raw secret and as `whsec_` + base64.
fn forger(scheme: Scheme) -> Result<Signer, Error> {
    let mut last = None;
    for bytes in [24, 12, 4] {
        match Signer::new(scheme.clone(), format!("whsec_{}", random_hex(bytes))) {
            Ok(signer) => return Ok(signer),
            Err(err) => last = Some(err),
        }
    }
    match last {
        Some(err) => Err(err.into()),
        None => Err(Error::Client {
            reason: "no forged secret fits the scheme".into(),
        }),
    }
}

/// A delivery ID no endpoint has seen.
fn fresh_id() -> String {
    format!("evt_hwcheck_{}", random_hex(12))
}

/// Valid JSON that re-serializing changes: spaces after `:` and `,`, keys
/// out of order, `1.50`, `\u00e9` escapes and a raw non-ASCII character.
fn valid_body(id: &str) -> Vec<u8> {
    format!(
        r#"{{"id": "{id}", "type": "payment.completed", "data": {{"amount": 1.50, "currency": "EUR", "description": "caf\u00e9 cr\u00e8me \u00d7 2 — hookwarden check"}}, "livemode": false}}"#
    )
    .into_bytes()
}

/// A JSON body of `size` bytes (or the least that holds the ID).
fn oversized_body(id: &str, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"id": "{id}", "type": "hookwarden.check.oversized", "padding": ""#);
    let tail = "\"}";
    let padding = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(head.len() + padding + tail.len());
    body.extend_from_slice(head.as_bytes());
    body.resize(head.len() + padding, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Whether an answer says it skipped a duplicate, as hookwarden does.
fn says_duplicate(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|value| value.get("status").and_then(|s| s.as_str()) == Some("duplicate"))
}

/// `200 OK in 3 ms (answer: {"status":"duplicate"})`, the body cut short
/// and with control characters dropped.
fn describe(answer: &Answer) -> String {
    let mut text = format!("{} in {}", answer.status, millis(answer.latency));
    let body: String = String::from_utf8_lossy(&answer.body)
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if !body.is_empty() {
        text.push_str(&format!(" (answer: {body})"));
    }
    text
}

fn millis(latency: Duration) -> String {
    if latency < Duration::from_secs(1) {
        format!("{} ms", latency.as_millis())
    } else {
        format!("{:.1} s", latency.as_secs_f64())
    }
}

fn pass(kind: Kind, answer: &Answer, note: String) -> Outcome {
    verdict(kind, Verdict::Pass, answer, note)
}

fn fail(kind: Kind, answer: &Answer, note: String) -> Outcome {
    verdict(kind, Verdict::Fail, answer, note)
}

fn verdict(kind: Kind, verdict: Verdict, answer: &Answer, note: String) -> Outcome {
    Outcome {
        kind,
        verdict,
        status: Some(answer.status),
        latency: Some(answer.latency),
        reason: format!("{}{note}", describe(answer)),
    }
}

fn no_answer(kind: Kind, err: &Error) -> Outcome {
    Outcome {
        kind,
        verdict: Verdict::Fail,
        status: None,
        latency: None,
        reason: format!("no answer: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookwarden_core::presets;

    #[test]
    fn the_valid_body_is_json_that_reserializing_changes() {
        let body = valid_body("evt_1");
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["id"], "evt_1");
        assert_eq!(
            parsed["data"]["description"],
            "café crème × 2 — hookwarden check"
        );
        assert_ne!(serde_json::to_vec(&parsed).unwrap(), body);
    }

    #[test]
    fn the_oversized_body_has_the_size_asked_and_its_id() {
        let body = oversized_body("evt_2", 4096);
        assert_eq!(body.len(), 4096);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["id"], "evt_2");
        assert!(oversized_body("evt_3", 1).len() > 1);
        assert_eq!(DEFAULT_OVERSIZE, 2 * 1024 * 1024);
    }

    #[test]
    fn only_a_status_duplicate_body_says_duplicate() {
        assert!(says_duplicate(DUPLICATE_BODY.as_bytes()));
        assert!(says_duplicate(br#"{ "status": "duplicate", "id": 1 }"#));
        for body in [&b""[..], b"ok", br#"{"status":"ok"}"#, b"duplicate"] {
            assert!(!says_duplicate(body), "{body:?}");
        }
    }

    #[test]
    fn a_forger_exists_for_every_preset_and_is_not_the_real_signer() {
        for name in presets::NAMES {
            let scheme = presets::by_name(name).unwrap();
            let forger = forger(scheme.clone()).unwrap();
            let real =
                Signer::new(scheme.clone(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
            let options = hookwarden_core::SignOptions::new();
            let header = scheme.signature_header();
            let body = valid_body("evt_4");
            let (Ok(a), Ok(b)) = (forger.sign(&body, &options), real.sign(&body, &options)) else {
                panic!("{name}: cannot sign");
            };
            assert_ne!(a[header], b[header], "{name}");
        }
    }

    #[test]
    fn report_passes_unless_a_check_failed() {
        let outcome = |kind, verdict| Outcome {
            kind,
            verdict,
            status: None,
            latency: None,
            reason: String::new(),
        };
        let mut report = Report {
            outcomes: vec![
                outcome(Kind::Valid, Verdict::Pass),
                outcome(Kind::StaleTimestamp, Verdict::NotApplicable),
            ],
        };
        assert!(report.passed());
        assert_eq!(report.summary(), "1 passed, 0 failed, 1 not applicable");
        report
            .outcomes
            .push(outcome(Kind::OversizedBody, Verdict::Fail));
        assert!(!report.passed());
        assert_eq!(report.failed().collect::<Vec<_>>(), [Kind::OversizedBody]);
        assert!(report.to_string().starts_with("PASS  valid delivery"));
    }
}
