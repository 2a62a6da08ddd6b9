//! `RedisStore` makes exactly one round trip to Redis per store operation:
//! counted with `MONITOR` on a real `redis-server` (the harness's), which
//! shows every command a client sends. Commands a Lua script runs inside
//! Redis are shown as coming from `lua`: they cost no round trip and are
//! not counted.

mod redis_harness;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use hookwarden::redis::RedisStore;
use hookwarden::{DedupeStore, Reservation};
use redis_harness::RedisServer;

const LONG: Duration = Duration::from_secs(60);

/// A `MONITOR` connection: the commands clients send, one line each.
struct Monitor {
    lines: BufReader<TcpStream>,
}

impl Monitor {
    fn start(port: u16) -> Self {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to monitor");
        stream.write_all(b"MONITOR\r\n").expect("send MONITOR");
        let mut lines = BufReader::new(stream);
        let mut ok = String::new();
        lines.read_line(&mut ok).expect("MONITOR's answer");
        assert_eq!(ok, "+OK\r\n");
        Self { lines }
    }

    /// The commands clients sent since the last call (Lua's excluded),
    /// waiting until none has come for a quarter of a second.
    fn sent(&mut self) -> Vec<String> {
        self.lines
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(250)))
            .expect("set a read timeout");
        let mut sent = Vec::new();
        loop {
            let mut line = String::new();
            match self.lines.read_line(&mut line) {
                Ok(0) => panic!("the monitor connection closed"),
                Ok(_) => {
                    // `+1700000000.123456 [0 127.0.0.1:40000] "SET" "key" …`,
                    // or `[0 lua]` for a command a script ran.
                    if !line.contains(" lua] ") {
                        sent.push(line.trim_end().to_owned());
                    }
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return sent;
                }
                Err(err) => panic!("reading the monitor: {err}"),
            }
        }
    }
}

/// The command name of a `MONITOR` line.
fn command(line: &str) -> String {
    line.split('"').nth(1).unwrap_or_default().to_uppercase()
}

#[track_caller]
fn one_round_trip(monitor: &mut Monitor, operation: &str, expected: &str) {
    let sent = monitor.sent();
    assert_eq!(
        sent.len(),
        1,
        "{operation}: expected one command, Redis saw {sent:#?}"
    );
    assert_eq!(command(&sent[0]), expected, "{operation}: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_operation_is_one_round_trip() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store: RedisStore = server.store().await;
    // Redis caches a script once it has seen it. The first call of each
    // script on a fresh server is answered NOSCRIPT and sent again with its
    // source (two round trips, once per script per server lifetime), so
    // each operation runs once before counting starts.
    let Reservation::Acquired(token) = store.reserve("warm", LONG).await.unwrap() else {
        panic!("a fresh key is free");
    };
    store.complete("warm", token, LONG).await.unwrap();
    let Reservation::Acquired(token) = store.reserve("warm-2", LONG).await.unwrap() else {
        panic!("a fresh key is free");
    };
    store.release("warm-2", token).await.unwrap();

    let mut monitor = Monitor::start(server.port());
    assert_eq!(
        monitor.sent(),
        Vec::<String>::new(),
        "nothing before the calls"
    );

    // Every path of every operation.
    let Reservation::Acquired(token) = store.reserve("k1", LONG).await.unwrap() else {
        panic!("a fresh key is free");
    };
    one_round_trip(&mut monitor, "reserve, acquired", "SET");
    assert_eq!(
        store.reserve("k1", LONG).await.unwrap(),
        Reservation::InFlight
    );
    one_round_trip(&mut monitor, "reserve, in flight", "SET");
    store.complete("k1", token, LONG).await.unwrap();
    one_round_trip(&mut monitor, "complete", "EVALSHA");
    assert_eq!(store.reserve("k1", LONG).await.unwrap(), Reservation::Done);
    one_round_trip(&mut monitor, "reserve, done", "SET");
    store.complete("k1", token, LONG).await.unwrap();
    one_round_trip(&mut monitor, "complete, already done", "EVALSHA");

    let Reservation::Acquired(token) = store.reserve("k2", LONG).await.unwrap() else {
        panic!("a fresh key is free");
    };
    one_round_trip(&mut monitor, "reserve, acquired", "SET");
    store.release("k2", token).await.unwrap();
    one_round_trip(&mut monitor, "release", "EVALSHA");
    store.release("k2", token).await.unwrap();
    one_round_trip(&mut monitor, "release, no longer held", "EVALSHA");
}
