//! The peer ratios measured side by side: hookwarden's `verify` and each
//! peer's on the same Standard Webhooks delivery, in alternating batches
//! of about 250 µs, 201 rounds; the ratio of the fastest batches is the
//! headline (other processes only ever add time), the median of the
//! per-round ratios shows the spread. Run with `cargo bench --bench peer_ratios`.

use std::hint::black_box;
use std::time::{Instant, SystemTime};

use hookwarden_core::{presets, SignOptions, Signer, Verifier};

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn paired(a: &dyn Fn() -> bool, b: &dyn Fn() -> bool, rounds: usize) -> (f64, f64, f64, f64) {
    // Both sides must succeed: a failing side would time a quick refusal.
    assert!(a(), "side a failed");
    let start = Instant::now();
    let mut batch = 0usize;
    while start.elapsed().as_micros() < 250 {
        assert!(b());
        batch += 1;
    }
    let time = |f: &dyn Fn() -> bool| {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        start.elapsed().as_nanos() as f64 / batch as f64
    };
    let (mut ratios, mut best) = (Vec::new(), [f64::MAX; 2]);
    for round in 0..rounds {
        let (ta, tb) = if round % 2 == 0 {
            let ta = time(a);
            (ta, time(b))
        } else {
            let tb = time(b);
            (time(a), tb)
        };
        ratios.push(ta / tb);
        best = [best[0].min(ta), best[1].min(tb)];
    }
    ratios.sort_by(f64::total_cmp);
    (
        best[0] / best[1],
        ratios[ratios.len() / 2],
        best[0],
        best[1],
    )
}

fn main() {
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_default();
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load().trim());
    println!(
        "{:<44} {:>6} {:>7} {:>7} {:>11} {:>11}",
        "pair (a / b), Standard Webhooks delivery",
        "body",
        "best",
        "median",
        "best a ns",
        "best b ns"
    );
    let sw = Verifier::new(presets::standard_webhooks(), SW_SECRET).expect("verifier");
    let svix = svix::webhooks::Webhook::new(SW_SECRET).expect("svix");
    let standard = standardwebhooks::Webhook::new(SW_SECRET).expect("standardwebhooks");
    let wv_secret = webhook_verify::Secret::new(SW_SECRET);
    for (len, label) in [
        (64, "64B"),
        (1024, "1KiB"),
        (64 * 1024, "64KiB"),
        (1 << 20, "1MiB"),
    ] {
        let mut body = br#"{"id":"evt_1","data":""#.to_vec();
        body.resize(len - 2, b'x');
        body.extend_from_slice(br#""}"#);
        let headers = Signer::new(presets::standard_webhooks(), SW_SECRET)
            .expect("signer")
            .sign(
                &body,
                &SignOptions::new()
                    .with_id("msg_2YH5bSGv9pHiKQUjcRyN1W3sUNk")
                    .with_timestamp(SystemTime::now()),
            )
            .expect("signed");
        let ours = || sw.verify(black_box(&headers), black_box(&body)).is_ok();
        let peers: [(&str, &dyn Fn() -> bool); 3] = [
            ("svix", &|| {
                svix.verify(black_box(&body), black_box(&headers)).is_ok()
            }),
            ("standardwebhooks", &|| {
                standard
                    .verify(black_box(&body), black_box(&headers))
                    .is_ok()
            }),
            ("webhook-verify", &|| {
                webhook_verify::verify(
                    webhook_verify::Provider::StandardWebhooks,
                    black_box(&headers),
                    black_box(&body),
                    &wv_secret,
                    Default::default(),
                )
                .is_ok()
            }),
        ];
        for (name, peer) in peers {
            let what = format!("hookwarden / {name}");
            if !what.contains(&filter) {
                continue;
            }
            assert!(peer(), "{name} accepts the delivery");
            let (best, median, a, b) = paired(&ours, peer, 201);
            println!("{what:<44} {label:>6} {best:>7.3} {median:>7.3} {a:>11.1} {b:>11.1}");
        }
    }
    println!("load average after: {}", load().trim());
}
