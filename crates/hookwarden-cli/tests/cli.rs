//! Drives the built `hookwarden` binary: the published vectors through
//! `verify` and `sign`, a `sign | verify` round trip for every scheme, and
//! the exit statuses for rejections (1) and usage errors (2).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use hookwarden_core::presets;
use serde_json::{json, Value};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_SIGNATURE: &str =
    "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

const SW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SW_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

const STRIPE_BODY: &str = r#"{"account":"acct_123","api_version":"2017-05-25","created":1533204620,"data":{"object":{"amount":1000,"currency":"usd","customer":"cus_123","date":1533204620,"description":"Test Invoice Item","discountable":false,"id":"ii_123","invoice":"in_123","livemode":false,"metadata":{},"object":"invoiceitem","period":{"end":1533204620,"start":1533204620},"proration":false,"quantity":3,"quantity_decimal":"0"}},"id":"evt_123","livemode":false,"object":"event","pending_webhooks":1,"request":{"id":"req_123","idempotency_key":"idempotency-key-123"},"type":"invoiceitem.created"}"#;
const STRIPE_SIGNATURE: &str = "Stripe-Signature: t=1533204620,v1=d7373bc68f4bd320b253cd7461f87af6e1cdf1b4d7db1614d8d1d746972d2d0a";

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIGNATURE: &str =
    "X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

const JEFE_BODY: &str = "what do ya want for nothing?";
const JEFE_SIGNATURE: &str = "api-notification-sign: 164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hookwarden-cli-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `body` to a file in the directory and returns its path.
    fn body(&self, body: impl AsRef<[u8]>) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = self
            .0
            .join(format!("body-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary with `args`, feeding `stdin` when given.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with_secret_env(args, stdin, None)
}

/// [`run`] with `HOOKWARDEN_SECRET` set to `secret`, or unset (whatever the
/// shell running the tests has) for `None`.
fn run_with_secret_env(args: &[&str], stdin: Option<&[u8]>, secret: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookwarden"));
    match secret {
        Some(secret) => command.env("HOOKWARDEN_SECRET", secret),
        None => command.env_remove("HOOKWARDEN_SECRET"),
    };
    let mut child = command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "args {args:?}\nstatus {:?}\nstdout {}\nstderr {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Stdout as exactly one JSON line.
fn json_line(args: &[&str], output: &Output) -> Value {
    let stdout = std::str::from_utf8(&output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{}", describe(args, output));
    serde_json::from_str(stdout).unwrap_or_else(|err| panic!("{err}: {}", describe(args, output)))
}

/// Expects exit 0 and returns the `Verified` JSON.
fn verified(args: &[&str]) -> Value {
    verified_with_stdin(args, None)
}

fn verified_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Value {
    let output = run(args, stdin);
    assert_eq!(output.status.code(), Some(0), "{}", describe(args, &output));
    json_line(args, &output)
}

/// Expects exit 1 and returns the error code.
fn rejected(args: &[&str]) -> String {
    let output = run(args, None);
    assert_eq!(output.status.code(), Some(1), "{}", describe(args, &output));
    let value = json_line(args, &output);
    assert_eq!(value.as_object().unwrap().len(), 1, "{value}");
    value["error"].as_str().unwrap().to_owned()
}

/// Expects exit 2, nothing on stdout and a message on stderr.
fn usage_error(args: &[&str]) -> String {
    let output = run(args, None);
    assert_eq!(output.status.code(), Some(2), "{}", describe(args, &output));
    assert!(output.stdout.is_empty(), "{}", describe(args, &output));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.trim().is_empty(), "empty stderr for {args:?}");
    stderr
}

/// Expects exit 0 and returns sign's output lines.
fn signed(args: &[&str]) -> Vec<String> {
    let output = run(args, None);
    assert_eq!(output.status.code(), Some(0), "{}", describe(args, &output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `verify` arguments: scheme, secret, the headers, the body file, then `extra`.
fn verify_args<'a>(
    scheme: &'a str,
    secret: &'a str,
    headers: &'a [&'a str],
    body_file: &'a str,
    extra: &'a [&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["verify", "--scheme", scheme, "--secret", secret];
    for header in headers {
        args.extend(["--header", header]);
    }
    args.extend(["--body-file", body_file]);
    args.extend(extra);
    args
}

fn sign_args<'a>(
    scheme: &'a str,
    secret: &'a str,
    body_file: &'a str,
    extra: &'a [&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["sign", "--scheme", scheme, "--secret", secret];
    args.extend(["--body-file", body_file]);
    args.extend(extra);
    args
}

/// The record `verify` prints; `signed` says whether the signature covers
/// the delivery ID (not GitHub's or Shopify's ID headers).
fn record(
    scheme: &str,
    (delivery_id, signed): (Value, bool),
    timestamp: Value,
    secret_index: usize,
) -> Value {
    json!({
        "scheme": scheme,
        "delivery_id": delivery_id,
        "delivery_id_signed": signed,
        "timestamp": timestamp,
        "secret_index": secret_index,
    })
}

// ---- The published vectors through `verify`.

#[test]
fn github_vectors_verify() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let got = verified(&verify_args(
        "github",
        GITHUB_SECRET,
        &[GITHUB_SIGNATURE],
        &body,
        &[],
    ));
    assert_eq!(got, record("github", (Value::Null, false), Value::Null, 0));

    let body = dir.body(r#"{"foo":"bar"}"#);
    let headers = [
        "X-Hub-Signature-256: sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3",
        "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958",
    ];
    let got = verified(&verify_args("github", "mysecret", &headers, &body, &[]));
    assert_eq!(
        got,
        record(
            "github",
            (json!("72d3162e-cc78-11e3-81ab-4c9367dc0958"), false),
            Value::Null,
            0
        )
    );
}

#[test]
fn standard_webhooks_vectors_verify_and_reject() {
    let dir = TempDir::new();
    let body = dir.body(SW_BODY);
    let id = "webhook-id: msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    let ts = "webhook-timestamp: 1649367553";
    let now = ["--now", "1649367553"];

    let good = "webhook-signature: v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    let got = verified(&verify_args(
        "standard-webhooks",
        SW_SECRET,
        &[id, ts, good],
        &body,
        &now,
    ));
    assert_eq!(
        got,
        record(
            "standard-webhooks",
            (json!("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"), true),
            json!(1649367553),
            0
        )
    );

    let bad = "webhook-signature: v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
    let code = rejected(&verify_args(
        "standard-webhooks",
        SW_SECRET,
        &[id, ts, bad],
        &body,
        &now,
    ));
    assert_eq!(code, "signature_mismatch");
}

#[test]
fn stripe_vector_verifies() {
    let dir = TempDir::new();
    let body = dir.body(STRIPE_BODY);
    let got = verified(&verify_args(
        "stripe",
        "secret",
        &[STRIPE_SIGNATURE],
        &body,
        &["--now", "1533204620"],
    ));
    assert_eq!(
        got,
        record("stripe", (json!("evt_123"), true), json!(1533204620), 0)
    );
}

#[test]
fn plain_hmac_sha256_vectors_verify_as_4pay() {
    let dir = TempDir::new();
    for (body, hex, digest) in [
        (
            "",
            "f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd",
            // SHA-256 of the empty body, 4pay's stand-in delivery ID.
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        (
            r#"{"obj1":"hello","obj2":"world"}"#,
            "bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363",
            None,
        ),
    ] {
        let file = dir.body(body);
        let header = format!("X-Webhook-Signature: {hex}");
        let got = verified(&verify_args("4pay", "test_secret", &[&header], &file, &[]));
        assert_eq!(got["scheme"], "4pay");
        assert_eq!(got["timestamp"], Value::Null);
        assert_eq!(got["secret_index"], 0);
        let id = got["delivery_id"].as_str().unwrap();
        assert_eq!(id.len(), 64, "{got}");
        if let Some(digest) = digest {
            assert_eq!(id, digest);
        }
    }
}

#[test]
fn hmac_sha512_vector_verifies_as_4pay_sha512() {
    let dir = TempDir::new();
    let body = dir.body(JEFE_BODY);
    let got = verified(&verify_args(
        "4pay-sha512",
        "Jefe",
        &[JEFE_SIGNATURE],
        &body,
        &[],
    ));
    assert_eq!(got["scheme"], "4pay-sha512");
    assert_eq!(got["delivery_id"].as_str().unwrap().len(), 64);
}

#[test]
fn shopify_vector_verifies() {
    let dir = TempDir::new();
    let body = dir.body(r#"{"foo": "bar"}"#);
    let headers = [
        "X-Shopify-Webhook-Id: 123456789",
        "X-Shopify-Hmac-Sha256: B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
    ];
    let got = verified(&verify_args(
        "shopify",
        "test_secret_key",
        &headers,
        &body,
        &[],
    ));
    assert_eq!(
        got,
        record("shopify", (json!("123456789"), false), Value::Null, 0)
    );
}

#[test]
fn slack_vector_verifies() {
    let dir = TempDir::new();
    let body = dir.body(SLACK_BODY);
    let headers = ["X-Slack-Request-Timestamp: 1531420618", SLACK_SIGNATURE];
    let got = verified(&verify_args(
        "slack",
        SLACK_SECRET,
        &headers,
        &body,
        &["--now", "1531420618"],
    ));
    assert_eq!(got["scheme"], "slack");
    assert_eq!(got["timestamp"], 1531420618);
    assert_eq!(got["delivery_id"].as_str().unwrap().len(), 64);
}

// ---- `sign` reproduces the vectors.

fn assert_signs(args: &[&str], expected: &[&str]) {
    let lines: Vec<String> = signed(args)
        .iter()
        .map(|line| line.to_ascii_lowercase())
        .collect();
    for want in expected {
        let want = want.to_ascii_lowercase();
        assert!(lines.contains(&want), "{want:?} not in {lines:?}");
    }
}

#[test]
fn sign_reproduces_the_vectors() {
    let dir = TempDir::new();

    let body = dir.body("Hello, World!");
    let args = sign_args("github", GITHUB_SECRET, &body, &["--id", "d-1"]);
    let lines = signed(&args);
    assert_eq!(
        lines,
        [
            "x-github-delivery: d-1",
            "x-hub-signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ]
    );

    let body = dir.body(SW_BODY);
    let mut lines = signed(&sign_args(
        "standard-webhooks",
        SW_SECRET,
        &body,
        &[
            "--id",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "--timestamp",
            "1649367553",
        ],
    ));
    lines.sort();
    assert_eq!(
        lines,
        [
            "webhook-id: msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "webhook-signature: v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            "webhook-timestamp: 1649367553",
        ]
    );

    let body = dir.body(STRIPE_BODY);
    let args = sign_args("stripe", "secret", &body, &["--timestamp", "1533204620"]);
    assert_signs(&args, &[STRIPE_SIGNATURE]);

    let body = dir.body("");
    assert_signs(
        &sign_args("4pay", "test_secret", &body, &[]),
        &["x-webhook-signature: f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd"],
    );
    let body = dir.body(r#"{"obj1":"hello","obj2":"world"}"#);
    assert_signs(
        &sign_args("4pay", "test_secret", &body, &[]),
        &["x-webhook-signature: bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363"],
    );

    let body = dir.body(JEFE_BODY);
    assert_signs(
        &sign_args("4pay-sha512", "Jefe", &body, &[]),
        &[JEFE_SIGNATURE],
    );

    let body = dir.body(r#"{"foo": "bar"}"#);
    let args = sign_args("shopify", "test_secret_key", &body, &["--id", "123456789"]);
    assert_signs(
        &args,
        &[
            "X-Shopify-Webhook-Id: 123456789",
            "X-Shopify-Hmac-Sha256: B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
        ],
    );

    let body = dir.body(SLACK_BODY);
    let args = sign_args("slack", SLACK_SECRET, &body, &["--timestamp", "1531420618"]);
    assert_signs(
        &args,
        &["X-Slack-Request-Timestamp: 1531420618", SLACK_SIGNATURE],
    );
}

// ---- Round trips and inputs.

#[test]
fn sign_then_verify_round_trips_for_every_scheme() {
    let dir = TempDir::new();
    let body = dir.body(r#"{"id":"evt_42","type":"payment.completed","amount":1000}"#);
    for &scheme in presets::NAMES {
        let secret = match scheme {
            "standard-webhooks" | "svix" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "a-development-secret",
        };
        let lines = signed(&sign_args(scheme, secret, &body, &[]));
        assert!(!lines.is_empty(), "{scheme}: no headers");
        let headers: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = verified(&verify_args(scheme, secret, &headers, &body, &[]));
        assert_eq!(got["scheme"], scheme);
        assert_eq!(got["secret_index"], 0);
        if scheme == "stripe" || scheme == "paynetworx" {
            assert_eq!(got["delivery_id"], "evt_42", "{scheme}");
        }
        let has_timestamp = presets::by_name(scheme).unwrap().timestamp().is_some();
        assert_eq!(got["timestamp"].is_i64(), has_timestamp, "{scheme}: {got}");
    }
}

#[test]
fn body_is_read_from_stdin() {
    let args = [
        "verify",
        "--scheme",
        "github",
        "--secret",
        GITHUB_SECRET,
        "--header",
        GITHUB_SIGNATURE,
        "--body-file",
        "-",
    ];
    let got = verified_with_stdin(&args, Some(b"Hello, World!"));
    assert_eq!(got["scheme"], "github");

    let output = run(
        &sign_args("github", GITHUB_SECRET, "-", &[]),
        Some(b"Hello, World!"),
    );
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|line| line.eq_ignore_ascii_case(GITHUB_SIGNATURE)),
        "{stdout}"
    );
}

#[test]
fn tampered_body_is_a_mismatch() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World?");
    let code = rejected(&verify_args(
        "github",
        GITHUB_SECRET,
        &[GITHUB_SIGNATURE],
        &body,
        &[],
    ));
    assert_eq!(code, "signature_mismatch");
}

#[test]
fn second_secret_matching_reports_its_index() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let args = verify_args(
        "github",
        "the-old-secret",
        &[GITHUB_SIGNATURE],
        &body,
        &["--secret", GITHUB_SECRET],
    );
    assert_eq!(verified(&args)["secret_index"], 1);
}

/// `HOOKWARDEN_SECRET` stands in for `--secret`, which shows in the
/// process list; a `--secret` given wins, and `--help` names the variable
/// without showing its value.
#[test]
fn the_secret_may_come_from_the_environment() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let verify = [
        "verify",
        "--scheme",
        "github",
        "--header",
        GITHUB_SIGNATURE,
        "--body-file",
        &body,
    ];
    let from_env = |args: &[&str], secret| {
        let output = run_with_secret_env(args, None, Some(secret));
        let code = output.status.code();
        (code, json_line(args, &output))
    };
    let (code, record) = from_env(&verify, GITHUB_SECRET);
    assert_eq!(code, Some(0), "{record}");
    assert_eq!(record["secret_index"], 0);
    let (code, rejected) = from_env(&verify, "not-the-secret");
    assert_eq!(code, Some(1));
    assert_eq!(rejected["error"], "signature_mismatch");
    let mut given = verify.to_vec();
    given.extend(["--secret", GITHUB_SECRET]);
    assert_eq!(from_env(&given, "not-the-secret").0, Some(0));

    let sign = ["sign", "--scheme", "ntxpay", "--body-file", &body];
    let output = run_with_secret_env(&sign, None, Some("an-ntxpay-secret"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&sign, &output)
    );
    let flagged = signed(&sign_args("ntxpay", "an-ntxpay-secret", &body, &[]));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), flagged);

    for command in ["sign", "verify", "send", "check"] {
        let output = run_with_secret_env(&[command, "--help"], None, Some("an-ntxpay-secret"));
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("HOOKWARDEN_SECRET"), "{command}: {help}");
        assert!(!help.contains("an-ntxpay-secret"), "{command}: {help}");
    }
}

#[test]
fn header_names_are_case_insensitive_and_values_trimmed() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let header = "x-HUB-signature-256:\t sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17  ";
    verified(&verify_args("github", GITHUB_SECRET, &[header], &body, &[]));
}

// ---- Rejections: exit 1.

#[test]
fn no_headers_at_all_is_a_missing_signature() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let code = rejected(&verify_args("github", GITHUB_SECRET, &[], &body, &[]));
    assert_eq!(code, "missing_signature");
}

#[test]
fn duplicated_signature_header_is_rejected() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let headers = [GITHUB_SIGNATURE, GITHUB_SIGNATURE];
    let code = rejected(&verify_args("github", GITHUB_SECRET, &headers, &body, &[]));
    assert_eq!(code, "duplicate_header");
}

#[test]
fn non_ascii_header_value_is_rejected_by_the_library() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let code = rejected(&verify_args(
        "github",
        GITHUB_SECRET,
        &["X-Hub-Signature-256: sha256=café"],
        &body,
        &[],
    ));
    assert_eq!(code, "invalid_header");
}

#[test]
fn timestamp_window_and_tolerance() {
    let dir = TempDir::new();
    let body = dir.body(STRIPE_BODY);
    let check = |extra: &[&str]| {
        let args = verify_args("stripe", "secret", &[STRIPE_SIGNATURE], &body, extra);
        let output = run(&args, None);
        (output.status.code(), json_line(&args, &output))
    };
    let late = ["--now", "1533208220"]; // an hour after the signature
    let early = ["--now", "1533201020"]; // an hour before it
    let error = |code: &str| (Some(1), json!({ "error": code }));

    assert_eq!(check(&late), error("stale_timestamp"));
    assert_eq!(check(&early), error("future_timestamp"));
    assert_eq!(
        check(&[&late[..], &["--tolerance", "3599"]].concat()),
        error("stale_timestamp")
    );
    let passed = (
        Some(0),
        record("stripe", (json!("evt_123"), true), json!(1533204620), 0),
    );
    assert_eq!(
        check(&[&late[..], &["--tolerance", "3600"]].concat()),
        passed
    );
    assert_eq!(
        check(&[&early[..], &["--tolerance", "3600"]].concat()),
        passed
    );
}

// ---- Usage and configuration errors: exit 2.

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let missing = dir.0.join("no-such-body").to_str().unwrap().to_owned();

    let stderr = usage_error(&verify_args("github", "", &[GITHUB_SIGNATURE], &body, &[]));
    assert!(stderr.contains("empty"), "{stderr}");
    usage_error(&verify_args(
        "github",
        GITHUB_SECRET,
        &[GITHUB_SIGNATURE],
        &body,
        &["--secret", ""],
    ));
    usage_error(&verify_args(
        "standard-webhooks",
        "whsec_",
        &[GITHUB_SIGNATURE],
        &body,
        &[],
    ));
    usage_error(&sign_args("standard-webhooks", "whsec_", &body, &[]));

    let stderr = usage_error(&verify_args(
        "nope",
        GITHUB_SECRET,
        &[GITHUB_SIGNATURE],
        &body,
        &[],
    ));
    assert!(
        stderr.contains("standard-webhooks"),
        "names not listed: {stderr}"
    );

    let stderr = usage_error(&verify_args(
        "github",
        GITHUB_SECRET,
        &[GITHUB_SIGNATURE],
        &missing,
        &[],
    ));
    assert!(stderr.contains("no-such-body"), "{stderr}");

    let no_colon = "X-Hub-Signature-256 sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let stderr = usage_error(&verify_args(
        "github",
        GITHUB_SECRET,
        &[no_colon],
        &body,
        &[],
    ));
    assert!(!stderr.contains("757107ea"), "signature echoed: {stderr}");
    // No `:` after the name, but one further on: still nothing echoed.
    let late_colon = format!("{no_colon} (copied 12:00)");
    let stderr = usage_error(&verify_args(
        "github",
        GITHUB_SECRET,
        &[&late_colon],
        &body,
        &[],
    ));
    assert!(stderr.contains("--header #1"), "{stderr}");
    assert!(!stderr.contains("757107ea"), "signature echoed: {stderr}");
    usage_error(&verify_args(
        "github",
        GITHUB_SECRET,
        &["Bad Name: x"],
        &body,
        &[],
    ));

    // An ID for a scheme that reads it from the body.
    usage_error(&sign_args("stripe", "s", &body, &["--id", "x"]));
    // Clap's own errors.
    usage_error(&["verify", "--scheme", "github", "--body-file", &body]);
    // A zero timeout would time every delivery out before it is sent.
    let target = [
        "http://127.0.0.1:9/hook",
        "--scheme",
        "ntxpay",
        "--secret",
        "whsec_testsecret",
        "--timeout",
        "0",
    ];
    let send = [&["send"], &target[..], &["--body-file", &body]].concat();
    let check = [&["check"], &target[..]].concat();
    for args in [send, check] {
        let stderr = usage_error(&args);
        assert!(stderr.contains("--timeout"), "{args:?}: {stderr}");
    }
    usage_error(&["frobnicate"]);
    // An oversized body larger than the check builds (1 GiB), refused
    // before anything is sent (nothing listens on port 9).
    let stderr = usage_error(&[
        "check",
        "http://127.0.0.1:9/hook",
        "--scheme",
        "ntxpay",
        "--secret",
        "whsec_testsecret",
        "--oversize",
        "18446744073709551615",
    ]);
    assert!(stderr.contains("at most 1073741824 bytes"), "{stderr}");
}

/// Output that cannot be written (a full disk, a closed pipe) is exit 2
/// with a message, not a panic, for every subcommand that writes some.
#[test]
fn an_unwritable_stdout_is_a_usage_error_not_a_panic() {
    let dir = TempDir::new();
    let body = dir.body("Hello, World!");
    let sign = sign_args("github", GITHUB_SECRET, &body, &[]);
    let verify = verify_args("github", GITHUB_SECRET, &[GITHUB_SIGNATURE], &body, &[]);
    let other = dir.body("Hello, World?");
    let reject = verify_args("github", GITHUB_SECRET, &[GITHUB_SIGNATURE], &other, &[]);
    for args in [sign, verify, reject] {
        let output = Command::new(env!("CARGO_BIN_EXE_hookwarden"))
            .args(&args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}",
            describe(&args, &output)
        );
        assert!(
            stderr.contains("error: cannot write the output"),
            "{stderr}"
        );
    }
}

#[test]
fn errors_never_echo_the_secret() {
    let dir = TempDir::new();
    let body = dir.body("{}");
    // Too short for NTX Pay (8 to 128 characters).
    let stderr = usage_error(&sign_args("ntxpay", "s3cr3t", &body, &[]));
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    let stderr = usage_error(&verify_args(
        "standard-webhooks",
        "whsec_n0t!base64",
        &["webhook-signature: v1,x"],
        &body,
        &[],
    ));
    assert!(!stderr.contains("n0t!base64"), "{stderr}");
}
