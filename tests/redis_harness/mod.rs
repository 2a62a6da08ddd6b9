//! A real `redis-server` per test: started on a free port in a temporary
//! folder, killed (and the folder removed) on drop; stoppable, restartable
//! on the same port, and pausable with SIGSTOP to play a hung Redis.
//!
//! When `redis-server` is not installed the test fails with a message
//! saying how to get it, except outside CI with `HOOKWARDEN_SKIP_REDIS=1`,
//! where it prints a loud skip line and [`RedisServer::start`] returns
//! `None`. Under `CI=true` a missing Redis always fails.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hookwarden::redis::RedisStore;

/// How long a starting server may take to answer PING.
const STARTUP: Duration = Duration::from_secs(10);

const INSTALL_HINT: &str = "redis-server is not installed: run the tests with \
    `bash scripts/test.sh`, which installs it (Debian: `apt-get install redis-server`)";

/// One `redis-server` process owned by a test.
#[derive(Debug)]
pub(crate) struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl RedisServer {
    /// Starts a server on a free port, or returns `None` when Redis is
    /// missing and the caller asked to skip (see the module docs).
    pub(crate) fn start() -> Option<Self> {
        if !installed() {
            skip_or_fail();
            return None;
        }
        // A port found free can be taken before Redis binds it: try again.
        let mut last_log = String::new();
        for _ in 0..5 {
            let mut server = Self {
                port: free_port(),
                dir: temp_dir(),
                child: None,
                paused: false,
            };
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(log) => last_log = log,
            }
        }
        panic!("redis-server did not start; its last log:\n{last_log}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A store on this server with its own key prefix.
    pub(crate) async fn store(&self) -> RedisStore {
        RedisStore::connect(&self.url())
            .await
            .expect("connect to the test redis-server")
            .with_prefix(format!("test{}:", next_id()))
    }

    /// Kills the server (SIGKILL): connections drop at once.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// Starts the server again on the same port (empty: nothing is saved).
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn() {
            panic!(
                "redis-server did not restart on port {}; its log:\n{log}",
                self.port
            );
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub(crate) fn pause(&mut self) {
        self.signal("STOP");
        self.paused = true;
    }

    /// Lets a paused server run again (SIGCONT).
    pub(crate) fn resume(&mut self) {
        self.signal("CONT");
        self.paused = false;
    }

    /// Sends one command and returns the reply as RESP text (`+PONG\r\n`,
    /// `$4\r\ndone\r\n`, `$-1\r\n`, …): for looking at what the store wrote.
    pub(crate) fn command(&self, args: &[&str]) -> String {
        command(self.port, args).unwrap_or_else(|err| panic!("redis {args:?}: {err}"))
    }

    /// Starts the process and waits until it answers PING; on failure
    /// returns its log.
    fn spawn(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).expect("create the redis temporary folder");
        let log = self.dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        loop {
            if command(self.port, &["PING"]).is_ok_and(|reply| reply == "+PONG\r\n") {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                self.stop();
                return Err(read_log(&log));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the redis-server is running");
        // The shell's `kill` builtin: no extra package, no unsafe code.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {}", child.id())])
            .status()
            .expect("run sh");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `redis-server` can be run.
fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Fails, or prints a loud skip line when skipping was asked for outside CI.
fn skip_or_fail() {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if ci {
        panic!("{INSTALL_HINT}. Under CI=true the Redis tests never skip.");
    }
    if std::env::var("HOOKWARDEN_SKIP_REDIS").is_ok_and(|v| v == "1") {
        // Straight to the terminal: the test harness captures `eprintln!`.
        let _ = writeln!(
            io::stderr().lock(),
            "\n!!!!! SKIPPED: a Redis test did not run ({INSTALL_HINT}; HOOKWARDEN_SKIP_REDIS=1) !!!!!\n"
        );
        return;
    }
    panic!("{INSTALL_HINT}. To skip the Redis tests instead, set HOOKWARDEN_SKIP_REDIS=1.");
}

/// Sends one command in RESP and reads one reply (simple lines and bulk
/// strings only: what the tests ask for).
fn command(port: u16, args: &[&str]) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    let mut buf = [0; 1024];
    while !complete(&reply) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        reply.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// Whether `reply` holds one whole simple or bulk reply.
fn complete(reply: &[u8]) -> bool {
    let Some(line_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    if reply[0] != b'$' {
        return true;
    }
    let len: i64 = std::str::from_utf8(&reply[1..line_end])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1);
    len < 0 || reply.len() >= line_end + 2 + len as usize + 2
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "hookwarden-redis-{}-{}-{nanos}",
        std::process::id(),
        next_id()
    ))
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| format!("(no log: {err})"))
}

/// A TCP proxy on a free port in front of a Redis, handing each answer on
/// `delay` after it came (a slow network, a Redis slow to answer).
/// [`Proxy::silence`] leaves the connections open at that moment silent:
/// what they send is swallowed, nothing comes back, nothing is closed (a
/// failover that moved the address, a dropped route). Later connections
/// go through.
pub(crate) struct Proxy {
    port: u16,
    epoch: std::sync::Arc<AtomicU64>,
    accepted: std::sync::Arc<AtomicU64>,
    /// The delay of Redis's answers, in milliseconds.
    delay: std::sync::Arc<AtomicU64>,
}

impl Proxy {
    /// Starts the proxy on the current Tokio runtime.
    pub(crate) async fn start(server: &RedisServer, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let upstream = server.port();
        let epoch = std::sync::Arc::new(AtomicU64::new(0));
        let accepted = std::sync::Arc::new(AtomicU64::new(0));
        let (shared, count) = (
            std::sync::Arc::clone(&epoch),
            std::sync::Arc::clone(&accepted),
        );
        let millis = u64::try_from(delay.as_millis()).expect("a short delay");
        let delay = std::sync::Arc::new(AtomicU64::new(millis));
        let slow = std::sync::Arc::clone(&delay);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(redis) =
                    tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)).await
                else {
                    continue;
                };
                let epoch = std::sync::Arc::clone(&shared);
                let born = epoch.load(Ordering::SeqCst);
                let delay = std::sync::Arc::clone(&slow);
                tokio::spawn(async move {
                    let (client_read, client_write) = client.into_split();
                    let (redis_read, redis_write) = redis.into_split();
                    let none = AtomicU64::new(0);
                    let _ = tokio::join!(
                        forward(client_read, redis_write, &epoch, born, &none),
                        forward(redis_read, client_write, &epoch, born, &delay),
                    );
                });
            }
        });
        Self {
            port,
            epoch,
            accepted,
            delay,
        }
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A store connected through the proxy, with its own key prefix and
    /// call timeout.
    pub(crate) async fn store(&self, prefix: &str, timeout: Duration) -> RedisStore {
        RedisStore::connect(&self.url())
            .await
            .expect("connect through the proxy")
            .with_prefix(prefix)
            .with_timeout(timeout)
    }

    /// Silences every connection open now.
    pub(crate) fn silence(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Delays Redis's answers from now on by `delay`.
    pub(crate) fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).expect("a short delay");
        self.delay.store(millis, Ordering::SeqCst);
    }

    /// How many connections the proxy has taken.
    pub(crate) fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to`, each read `delay` ms after it came, in order, until
/// the proxy silences the connection; then reads and drops what comes,
/// keeping both ends open.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    epoch: &AtomicU64,
    born: u64,
    delay: &AtomicU64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (send, mut due) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = [0; 4096];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) if epoch.load(Ordering::SeqCst) == born => {
                    let delay = Duration::from_millis(delay.load(Ordering::SeqCst));
                    let at = tokio::time::Instant::now() + delay;
                    if send.send((at, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(read, write);
}
