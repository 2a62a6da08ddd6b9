//! The `hookwarden` command: sign, verify, send and check webhook deliveries
//! from a shell.
//!
//! `hookwarden sign` prints the headers a provider would send with a body;
//! `hookwarden verify` checks a delivery's headers and body and prints the
//! verified record, or the rejection code, as one JSON line;
//! `hookwarden send` signs a body and sends it to a URL;
//! `hookwarden check` runs the endpoint conformance checks against a URL.
//! `send` and `check` are thin over the `hookwarden_cli` library.
//!
//! Exit status: 0 when signed, verified, answered 2xx or every check
//! passed; 1 when a delivery is rejected, answered non-2xx or a check
//! failed; 2 on a usage, configuration or connection error (message on
//! stderr). No secret or signature is ever printed in an error.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};
use hookwarden_cli::check::{Check, Progress, MAX_OVERSIZE};
use hookwarden_cli::send::{Delivery, MAX_ANSWER};
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue, Method};
use hookwarden_core::{
    presets, BuildError, Scheme, SignError, SignOptions, Signer, Verified, Verifier,
};
use url::Url;

/// Where a secret is read when `--secret` is not given: an argument shows
/// in the process list and the shell's history, the environment does not.
const SECRET_ENV: &str = "HOOKWARDEN_SECRET";

// The argument types hold `--secret` as given, so none of them derives
// `Debug`: nothing can print a secret by formatting its arguments.

/// Sign and verify webhook deliveries (HMAC signatures, timestamps, delivery IDs).
#[derive(Parser)]
#[command(name = "hookwarden", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the headers a provider would send with a body, one `Name: value` per line.
    Sign(SignArgs),
    /// Check a delivery; print the verified record (exit 0) or `{"error":"<code>"}` (exit 1) as JSON.
    Verify(VerifyArgs),
    /// Sign a body and send it to URL; print the status, latency and answer (exit 0 on 2xx, 1 on another status, 2 with no answer).
    Send(SendArgs),
    /// Check that the endpoint at URL verifies, deduplicates and limits deliveries (exit 0 if all pass).
    Check(CheckArgs),
}

/// Arguments of `hookwarden sign`.
#[derive(clap::Args)]
struct SignArgs {
    /// The provider's scheme.
    #[arg(long, value_name = "NAME", value_parser = scheme_names())]
    scheme: String,
    /// The signing secret, written as the provider issues it.
    #[arg(long, value_name = "S", allow_hyphen_values = true, env = SECRET_ENV, hide_env_values = true)]
    secret: String,
    /// The delivery ID, for schemes that send it in a header (default: derived from the body).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The timestamp to sign with, in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECS")]
    timestamp: Option<u64>,
    /// The file holding the body, or `-` for stdin.
    #[arg(long, value_name = "PATH|-")]
    body_file: PathBuf,
}

/// Arguments of `hookwarden verify`.
#[derive(clap::Args)]
struct VerifyArgs {
    /// The provider's scheme.
    #[arg(long, value_name = "NAME", value_parser = scheme_names())]
    scheme: String,
    /// A secret, written as the provider issues it; repeat to accept several (rotation).
    #[arg(
        long = "secret",
        value_name = "S",
        required = true,
        allow_hyphen_values = true,
        env = SECRET_ENV,
        hide_env_values = true
    )]
    secrets: Vec<String>,
    /// Check the timestamp as if the clock read this, in Unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// How far the timestamp may lie behind or ahead of the clock, in seconds (default: 300).
    #[arg(long, value_name = "SECS")]
    tolerance: Option<u64>,
    /// A request header as `Name: value`; repeat for each header (a repeated name is sent twice).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<OsString>,
    /// The file holding the body, or `-` for stdin.
    #[arg(long, value_name = "PATH|-")]
    body_file: PathBuf,
}

/// Where deliveries go and how: the arguments `send` and `check` share.
#[derive(clap::Args)]
struct TargetArgs {
    /// The endpoint's URL, `http://` or `https://`.
    #[arg(value_name = "URL")]
    url: String,
    /// The provider's scheme.
    #[arg(long, value_name = "NAME", value_parser = scheme_names())]
    scheme: String,
    /// The signing secret, written as the provider issues it.
    #[arg(long, value_name = "S", allow_hyphen_values = true, env = SECRET_ENV, hide_env_values = true)]
    secret: String,
    /// The HTTP method.
    #[arg(long, value_name = "METHOD", default_value = "POST", value_parser = PossibleValuesParser::new(["POST", "PUT"]), ignore_case = true)]
    method: String,
    /// A header sent as-is with every delivery, as `Name: value` (`Authorization: Bearer …`); repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<OsString>,
    /// How long to wait for each answer, in seconds (at least 1).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// Arguments of `hookwarden send`.
#[derive(clap::Args)]
struct SendArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The delivery ID, for schemes that send it in a header (default: derived from the body).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The timestamp to sign with, in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECS")]
    timestamp: Option<u64>,
    /// The file holding the body, or `-` for stdin.
    #[arg(long, value_name = "PATH|-")]
    body_file: PathBuf,
}

/// Arguments of `hookwarden check`.
#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The size of the oversized body, in bytes (at most 1 GiB); set it above the endpoint's limit.
    #[arg(long, value_name = "BYTES", default_value_t = 2 * 1024 * 1024, value_parser = oversize)]
    oversize: usize,
    /// How old the stale delivery's timestamp is, in seconds; set it beyond the endpoint's tolerance.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    stale_by: u64,
    /// Pass the duplicate check on any 2xx, for an endpoint that skips duplicates without
    /// saying so (by default it must answer `{"status":"duplicate"}`, as hookwarden does).
    #[arg(long)]
    allow_silent_dedupe: bool,
}

/// `--oversize`: a byte count up to [`MAX_OVERSIZE`].
fn oversize(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(bytes) if bytes <= MAX_OVERSIZE => Ok(bytes),
        Ok(_) => Err(format!("at most {MAX_OVERSIZE} bytes")),
        Err(err) => Err(err.to_string()),
    }
}

/// A usage or configuration error: printed on stderr, exit status 2.
#[derive(Debug)]
struct CliError(String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<BuildError> for CliError {
    fn from(err: BuildError) -> Self {
        Self(err.to_string())
    }
}

impl From<SignError> for CliError {
    fn from(err: SignError) -> Self {
        Self(err.to_string())
    }
}

impl From<hookwarden_cli::Error> for CliError {
    fn from(err: hookwarden_cli::Error) -> Self {
        Self(err.to_string())
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        Self(format!("cannot write the output: {err}"))
    }
}

/// A line on stderr, for people: one that cannot be written is no reason
/// to stop (stdout, the output, is checked).
fn note(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "{line}");
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            note(format_args!("error: {err}"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args),
        Command::Send(args) => send(args),
        Command::Check(args) => check(args),
    }
}

/// `hookwarden send`: exit 0 on a 2xx answer, 1 on any other, 2 (an
/// error) when no answer came.
fn send(args: SendArgs) -> Result<ExitCode, CliError> {
    let target = &args.target;
    let mut delivery = Delivery::new(&target.url, scheme(&target.scheme)?, &target.secret)?
        .with_method(method(&target.method)?)
        .with_timeout(Duration::from_secs(target.timeout));
    for (name, value) in &parse_headers(&target.headers)? {
        delivery = delivery.with_header(name.clone(), value.clone());
    }
    if let Some(id) = args.id {
        delivery = delivery.with_id(id);
    }
    if let Some(secs) = args.timestamp {
        delivery = delivery.with_timestamp(unix_time(secs, "--timestamp")?);
    }
    let body = read_body(&args.body_file)?;
    let answer = runtime()?.block_on(delivery.send(body))?;

    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} in {} ms",
        answer.status(),
        answer.latency().as_millis()
    )?;
    out.write_all(answer.body())?;
    if !answer.body().is_empty() && !answer.body().ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    if answer.is_truncated() {
        // `Answer::body` keeps `MAX_ANSWER` at most: a shorter cut body broke off.
        let why = if answer.body().len() >= MAX_ANSWER {
            "cut at 64 KiB"
        } else {
            "broken off"
        };
        writeln!(out, "[answer {why}]")?;
    }
    out.flush()?;
    Ok(if answer.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `hookwarden check`: a line per check on stdout, progress on stderr;
/// exit 0 when every check passed, 1 otherwise.
fn check(args: CheckArgs) -> Result<ExitCode, CliError> {
    let target = &args.target;
    let method = method(&target.method)?;
    let mut check = Check::new(&target.url, scheme(&target.scheme)?, &target.secret)?
        .with_method(method.clone())
        .with_timeout(Duration::from_secs(target.timeout))
        .with_oversize(args.oversize)
        .with_stale_by(Duration::from_secs(args.stale_by))
        .with_silent_dedupe(args.allow_silent_dedupe);
    for (name, value) in &parse_headers(&target.headers)? {
        check = check.with_header(name.clone(), value.clone());
    }
    note(format_args!(
        "checking {method} {} as {}",
        shown_url(&target.url),
        target.scheme
    ));
    let mut out = io::stdout().lock();
    let mut written = Ok(());
    let report = runtime()?.block_on(check.run(|progress| match progress {
        Progress::Sending { .. } => note(format_args!("{progress}")),
        // The result lines are the output: stdout.
        _ => {
            if written.is_ok() {
                written = writeln!(out, "{progress}");
            }
        }
    }))?;
    written?;
    writeln!(out, "{}", report.summary())?;
    out.flush()?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `url` without what may hold a credential: a `user:password@` and the
/// query. Parsed as the client parses it, so that no spelling the parser
/// accepts (`https:user:pass@host`, backslashes) shows a password.
fn shown_url(url: &str) -> String {
    let Ok(mut url) = Url::parse(url) else {
        return "(not a valid URL)".to_owned();
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

/// A single-threaded Tokio runtime: one delivery at a time.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError(format!("cannot start the async runtime: {err}")))
}

/// `--method`, which clap has limited to POST and PUT in any case.
fn method(text: &str) -> Result<Method, CliError> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError(format!("--method `{text}` is not an HTTP method")))
}

/// `hookwarden sign`: prints each header `Signer::sign` returns.
fn sign(args: SignArgs) -> Result<ExitCode, CliError> {
    let signer = Signer::new(scheme(&args.scheme)?, &args.secret)?;
    let body = read_body(&args.body_file)?;
    let mut options = SignOptions::new();
    if let Some(id) = args.id {
        options = options.with_id(id);
    }
    if let Some(secs) = args.timestamp {
        options = options.with_timestamp(unix_time(secs, "--timestamp")?);
    }
    let headers = signer.sign(&body, &options)?;

    let mut out = io::stdout().lock();
    for (name, value) in &headers {
        out.write_all(name.as_str().as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `hookwarden verify`: exit 0 with the `Verified` record, or 1 with the rejection code.
fn verify(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let mut scheme = scheme(&args.scheme)?;
    if let Some(secs) = args.tolerance {
        scheme = scheme.with_tolerance(Duration::from_secs(secs));
    }
    let (first, rest) = args
        .secrets
        .split_first()
        .ok_or_else(|| CliError("no --secret given".into()))?;
    let mut verifier = Verifier::new(scheme, first)?;
    for secret in rest {
        verifier = verifier.with_secret(secret)?;
    }
    let headers = parse_headers(&args.headers)?;
    let body = read_body(&args.body_file)?;

    let outcome = match args.now {
        Some(secs) => verifier.verify_at(&headers, &body, unix_time(secs, "--now")?),
        None => verifier.verify(&headers, &body),
    };
    let mut out = io::stdout().lock();
    let code = match outcome {
        Ok(verified) => {
            writeln!(out, "{}", verified_json(&verified))?;
            ExitCode::SUCCESS
        }
        Err(err) => {
            writeln!(out, "{}", serde_json::json!({ "error": err.code() }))?;
            note(format_args!("rejected: {err}"));
            ExitCode::from(1)
        }
    };
    out.flush()?;
    Ok(code)
}

/// The possible values of `--scheme`: the preset names.
fn scheme_names() -> PossibleValuesParser {
    PossibleValuesParser::new(presets::NAMES.iter().copied())
}

/// The preset called `name`.
fn scheme(name: &str) -> Result<Scheme, CliError> {
    presets::by_name(name).ok_or_else(|| {
        CliError(format!(
            "unknown scheme `{name}`; known schemes: {}",
            presets::NAMES.join(", ")
        ))
    })
}

/// `secs` after the Unix epoch.
fn unix_time(secs: u64, flag: &str) -> Result<SystemTime, CliError> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .ok_or_else(|| CliError(format!("{flag} {secs} is out of range")))
}

/// The body from `path`, or from stdin for `-`.
fn read_body(path: &Path) -> Result<Vec<u8>, CliError> {
    let read = if path == Path::new("-") {
        let mut body = Vec::new();
        io::stdin().lock().read_to_end(&mut body).map(|_| body)
    } else {
        std::fs::read(path)
    };
    read.map_err(|err| CliError(format!("cannot read body file `{}`: {err}", path.display())))
}

/// Parses each `--header 'Name: value'`, appending repeated names. The value
/// keeps its raw bytes so that the library, not the CLI, judges them; the
/// error messages never echo a value, which may be a signature.
fn parse_headers(args: &[OsString]) -> Result<HeaderMap, CliError> {
    let mut headers = HeaderMap::new();
    for (index, arg) in args.iter().enumerate() {
        let position = index + 1;
        let bytes = arg.as_encoded_bytes();
        let colon = bytes.iter().position(|&b| b == b':').ok_or_else(|| {
            CliError(format!(
                "--header #{position} is not `Name: value` (it has no `:`)"
            ))
        })?;
        let (name, value) = (&bytes[..colon], &bytes[colon + 1..]);
        // Not echoed either: a `Name value` with a `:` further on would
        // show the value.
        let name = HeaderName::from_bytes(name).map_err(|_| {
            CliError(format!(
                "--header #{position}: what comes before its first `:` is not a valid header name"
            ))
        })?;
        let value = HeaderValue::from_bytes(trim_spaces(value)).map_err(|_| {
            CliError(format!(
                "--header `{name}`: the value holds a control character"
            ))
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// `bytes` without the spaces and tabs around it, as HTTP trims a header value.
fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Whole seconds since the Unix epoch, rounded towards the past.
fn unix_secs(time: SystemTime) -> i64 {
    let saturate = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => saturate(after.as_secs()),
        Err(before) => {
            let before = before.duration();
            -saturate(before.as_secs() + u64::from(before.subsec_nanos() > 0))
        }
    }
}

/// The `Verified` record as one JSON line, fields in a fixed order.
/// `delivery_id_signed` is false for an ID from a header the provider does
/// not sign: what the sender claims, which anyone could have rewritten.
fn verified_json(verified: &Verified) -> String {
    format!(
        r#"{{"scheme":{},"delivery_id":{},"delivery_id_signed":{},"timestamp":{},"secret_index":{}}}"#,
        serde_json::json!(verified.scheme()),
        serde_json::json!(verified.delivery_id().map(|id| id.as_str())),
        verified.delivery_id_is_signed(),
        serde_json::json!(verified.timestamp().map(unix_secs)),
        verified.secret_index(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_lose_credentials_and_queries() {
        for (url, shown) in [
            (
                "https://u:p@example.com/hook?token=t#x",
                "https://example.com/hook",
            ),
            (
                "http://127.0.0.1:3000/webhooks/ntxpay",
                "http://127.0.0.1:3000/webhooks/ntxpay",
            ),
            ("https://tok@example.com", "https://example.com/"),
            // Spellings the URL parser takes without `//`.
            (
                "https:u:hunter2@example.com/hook",
                "https://example.com/hook",
            ),
            (
                "https:\\\\u:hunter2@example.com\\hook",
                "https://example.com/hook",
            ),
            ("not a url?q", "(not a valid URL)"),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}
