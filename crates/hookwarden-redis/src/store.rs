//! `RedisStore`: the dedupe contract as one Redis round trip per operation.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use hookwarden_core::{DedupeStore, Reservation, Token};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisError, Script, ScriptInvocation, ServerErrorKind};

use crate::error::{ConnectError, StoreError};

/// The key prefix used unless [`RedisStore::with_prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "hookwarden:";

/// How long one call may wait for Redis unless [`RedisStore::with_timeout`]
/// says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The value of a handled delivery's key. Tokens are 32 hex digits, so no
/// token is ever equal to it.
const DONE: &str = "done";

/// Redis refuses `PX 0` and expiries past its clock's range: a lease or a
/// retention is kept within these bounds (1 ms to about 146 000 years).
const MIN_TTL_MS: u64 = 1;
const MAX_TTL_MS: u64 = 1 << 52;

/// How long the first connection (and each reconnection attempt) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long `complete` and `release` keep trying to record an outcome that
/// Redis did not take at once: the default lease, past which a retry may
/// run the handler anyway. (With a longer lease, an outcome that keeps
/// failing is given up before the lease ends, which then frees the key.)
const OUTCOME_WINDOW: Duration = Duration::from_secs(60);

/// How long a connection may leave a request unanswered before it is taken
/// for dead and replaced: twice Redis's default `busy-reply-threshold`
/// (5 s), after which even a Redis busy in a script answers (`BUSY`).
const SILENCE_LIMIT: Duration = Duration::from_secs(10);

/// The first pause before an outcome is tried again, and the longest.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// `complete`: DONE for the retention, whoever holds the key (a success is
/// final); a DONE key keeps its first retention. Returns 1 if it wrote.
const COMPLETE_LUA: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
";

/// `release`: deletes the key only if it still holds the token. Returns the
/// number of keys deleted.
const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
";

/// Compiled once per process: `Script` hashes its source for `EVALSHA`.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| Script::new(COMPLETE_LUA));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_LUA));

/// A [`DedupeStore`] in Redis, shared by every replica of an app.
///
/// Built once with [`connect`](Self::connect); cheap to clone (clones share
/// one multiplexed connection that reconnects by itself). Every call is
/// bounded by the [timeout](Self::with_timeout), so a hung Redis makes the
/// adapters answer 503 quickly instead of holding requests; so calls need
/// a Tokio runtime with its timer, as `tokio::time` does. `complete` and
/// `release` run in a task of their own on the current runtime, so that a
/// cancelled request still records its delivery's outcome, and that task
/// tries again (for up to a minute) when Redis does not take the outcome
/// at once: a lost connection, a failover, a stall. A `reserve` cancelled
/// after it reached Redis leaves the key held until its lease ends, as a
/// crashed replica would.
///
/// ```no_run
/// use std::time::Duration;
/// use hookwarden_redis::RedisStore;
///
/// # async fn demo() -> Result<(), hookwarden_redis::ConnectError> {
/// let store = RedisStore::connect("redis://:password@redis.internal:6379/0")
///     .await?
///     .with_prefix("payments:hooks:")
///     .with_timeout(Duration::from_millis(250));
/// // `Debug` shows the prefix and the timeout, never the URL.
/// println!("{store:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    link: Arc<Link>,
    prefix: Arc<str>,
    timeout: Duration,
    tokens: Arc<Tokens>,
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`
    /// or `unix:///path/to/redis.sock`), with the default prefix
    /// ([`DEFAULT_PREFIX`]) and timeout ([`DEFAULT_TIMEOUT`]).
    ///
    /// Waits for the first connection, retrying for a few seconds at most.
    /// Later losses of the connection are repaired in the background.
    ///
    /// Must be called on a Tokio runtime with its I/O and timer enabled
    /// (`#[tokio::main]` is).
    ///
    /// # Errors
    /// [`ConnectError::InvalidUrl`] when `url` cannot be used;
    /// [`ConnectError::Unavailable`] when Redis cannot be reached, refuses
    /// the credentials, or requires a password the URL does not give.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), hookwarden_redis::ConnectError> {
    /// let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    /// let store = hookwarden_redis::RedisStore::connect(&url).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let client = Client::open(url).map_err(|err| match err.kind() {
            ErrorKind::InvalidClientConfig => ConnectError::InvalidUrl,
            _ => ConnectError::Unavailable(StoreError::from_redis(&err)),
        })?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::NoRuntime.into());
        }
        // Short, capped back-off: once Redis is back, the next reconnection
        // attempt is at most a second away. Responses are bounded by the
        // store itself: a call by its timeout, which can change after the
        // connection exists, a connection's liveness by `SILENCE_LIMIT`.
        let config = ConnectionManagerConfig::new()
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(5)
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let connection = ConnectionManager::new_with_config(client.clone(), config.clone())
            .await
            .map_err(|err| StoreError::from_redis(&err))?;
        check_credentials(connection.clone()).await?;
        Ok(Self {
            link: Arc::new(Link::new(client, config, connection)),
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
            tokens: Arc::new(Tokens::new()),
        })
    }

    /// Puts `prefix` before every key (default [`DEFAULT_PREFIX`]), so that
    /// apps or environments sharing one Redis keep apart.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Bounds each call, waiting for a reconnection included (default
    /// [`DEFAULT_TIMEOUT`]). Past it the call fails with
    /// [`StoreError::Timeout`]: the adapter answers a `reserve` with 503,
    /// and a `complete` or `release` goes on trying in the background.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bound on each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The Redis key of a dedupe key.
    fn redis_key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    /// Runs one Redis exchange within the timeout.
    async fn bounded<T>(
        &self,
        generation: u64,
        exchange: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        // `timeout` panics off a runtime; say so as an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::NoRuntime);
        }
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => self.link.settle(generation, answer),
            Err(_elapsed) => {
                self.link.probe(generation);
                Err(StoreError::Timeout)
            }
        }
    }

    async fn reserve_key(&self, key: &str, lease: Duration) -> Result<Reservation, StoreError> {
        let token = self.tokens.next();
        let (generation, mut connection) = self.link.connection();
        let previous: Option<Vec<u8>> = self
            .bounded(
                generation,
                redis::cmd("SET")
                    .arg(self.redis_key(key))
                    .arg(token_text(token))
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(lease))
                    .arg("GET")
                    .query_async(&mut connection),
            )
            .await?;
        Ok(match previous {
            None => Reservation::Acquired(token),
            Some(value) if value == DONE.as_bytes() => Reservation::Done,
            Some(value) if is_token_text(&value) => Reservation::InFlight,
            Some(_) => return Err(StoreError::UnexpectedReply),
        })
    }

    /// Records an outcome (`complete`, `release`) in a task of its own on
    /// the current Tokio runtime, from the first poll on, so that it is
    /// recorded even if the request is cancelled. The task runs `exchange`
    /// until Redis takes it: an answer that is only late is waited for
    /// ([`Link::wait`]), and the outcome is sent again after a lost
    /// connection, a transient server error, a refused reconnection or a
    /// connection that went silent (then replaced), for [`OUTCOME_WINDOW`]
    /// at most; the caller waits
    /// for it for the store's timeout, and past that gets
    /// [`StoreError::Timeout`] while the task goes on. A handled delivery
    /// whose `complete` Redis missed once (a reconnection, a failover, a
    /// stall during which its script was flushed) is then still recorded,
    /// rather than run again when its lease ends.
    fn outcome<F, Fut>(&self, exchange: F) -> impl Future<Output = Result<(), StoreError>> + Send
    where
        F: Fn(ConnectionManager) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<i64, RedisError>> + Send,
    {
        let (link, timeout) = (Arc::clone(&self.link), self.timeout);
        async move {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return Err(StoreError::NoRuntime);
            };
            let task = runtime.spawn(async move {
                let attempts = async {
                    let mut pause = RETRY_PAUSE;
                    loop {
                        let (generation, connection) = link.connection();
                        let answer = link.wait(generation, timeout, exchange(connection)).await;
                        match answer.and_then(expect_count) {
                            Err(err) if err.is_transient() => {}
                            // Refused while reconnecting: the connection was
                            // replaced, and the next one may be let in.
                            Err(StoreError::Auth) => {}
                            done => return done,
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_RETRY_PAUSE);
                    }
                };
                tokio::time::timeout(OUTCOME_WINDOW, attempts)
                    .await
                    .unwrap_or(Err(StoreError::Timeout))
            });
            match tokio::time::timeout(timeout, task).await {
                Ok(Ok(result)) => result,
                Ok(Err(err)) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                // The runtime is shutting down.
                Ok(Err(_cancelled)) => Err(StoreError::NoRuntime),
                // Still trying, in the background.
                Err(_elapsed) => Err(StoreError::Timeout),
            }
        }
    }
}

/// Runs a script that answers a count, as one exchange of [`RedisStore::outcome`].
async fn run_script(
    mut connection: ConnectionManager,
    invocation: ScriptInvocation<'static>,
) -> Result<i64, RedisError> {
    invocation.invoke_async(&mut connection).await
}

/// Asks Redis for a `PING`: a URL without the password a server requires
/// connects, and would only fail at the first delivery. Only a refusal of
/// the credentials fails here: an ACL user allowed no `PING` has logged in
/// all the same (`NOPERM`), and a Redis still loading its data (`LOADING`)
/// or busy in a script will serve the store once it is ready.
async fn check_credentials(connection: ConnectionManager) -> Result<(), StoreError> {
    match ping(connection, CONNECT_TIMEOUT).await {
        Some(Err(err)) if refused_credentials(&err) => Err(StoreError::Auth),
        _ => Ok(()),
    }
}

/// One `PING` on `connection`: its answer, or `None` if none came `within`.
async fn ping(
    mut connection: ConnectionManager,
    within: Duration,
) -> Option<Result<redis::Value, RedisError>> {
    let ping = redis::cmd("PING");
    tokio::time::timeout(within, ping.query_async(&mut connection))
        .await
        .ok()
}

/// `NOAUTH`, `WRONGPASS` or a refused `AUTH`; not `NOPERM`, which a user
/// that logged in gets for a command it may not run.
fn refused_credentials(err: &RedisError) -> bool {
    let denied =
        err.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) || err.code() == Some("NOPERM");
    StoreError::from_redis(err) == StoreError::Auth && !denied
}

/// The connection to Redis, and what it takes to make a new one.
/// `ConnectionManager` reconnects by itself only after an I/O error: once a
/// reconnection is refused (Redis refused the credentials for a while), it
/// answers that refusal to every later call, for good; and a connection
/// that goes silent without closing (a failover that moved the address, a
/// dropped route) stalls every call until TCP gives up, many minutes
/// later. Such connections are replaced here.
struct Link {
    client: Client,
    config: ConnectionManagerConfig,
    current: Mutex<Current>,
}

/// The connection in use.
struct Current {
    /// Counted from 0, one up per replacement.
    generation: u64,
    connection: ConnectionManager,
    /// Whether a [`Link::probe`] of this connection is waiting for its answer.
    probing: bool,
}

impl Link {
    fn new(client: Client, config: ConnectionManagerConfig, connection: ConnectionManager) -> Self {
        let current = Current {
            generation: 0,
            connection,
            probing: false,
        };
        Self {
            client,
            config,
            current: Mutex::new(current),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current connection and its generation.
    fn connection(&self) -> (u64, ConnectionManager) {
        let current = self.current();
        (current.generation, current.connection.clone())
    }

    /// Sorts the answer of an exchange on connection `generation`,
    /// replacing that connection if Redis refused its reconnection.
    fn settle<T>(&self, generation: u64, answer: Result<T, RedisError>) -> Result<T, StoreError> {
        answer.map_err(|err| {
            if err.kind() == ErrorKind::AuthenticationFailed {
                self.replace(generation);
            }
            StoreError::from_redis(&err)
        })
    }

    /// A call on connection `generation` got no answer within the store's
    /// timeout: Redis may only be slow, or the connection may be silent.
    /// Asks it for a `PING` (one at a time), given [`SILENCE_LIMIT`] to
    /// answer; an answer in that time keeps the connection, and none
    /// replaces it. Needs a Tokio runtime, as every call does.
    fn probe(self: &Arc<Self>, generation: u64) {
        let connection = {
            let mut current = self.current();
            if current.generation != generation || current.probing {
                return;
            }
            current.probing = true;
            current.connection.clone()
        };
        // Clears `probing` however the task ends, dropped with its runtime too.
        let probing = Probing {
            link: Arc::clone(self),
            generation,
        };
        tokio::spawn(async move {
            match ping(connection, SILENCE_LIMIT).await {
                Some(answer) => drop(probing.link.settle(generation, answer)),
                None => probing.link.replace(generation),
            }
        });
    }

    /// Waits for the answer of `exchange`, sent on connection `generation`,
    /// for as long as the connection lives: each `period` without it, the
    /// connection is probed, and once it has been replaced the answer will
    /// not come (a [`StoreError::Timeout`]). An answer that is only late is
    /// waited for, so that an outcome is not sent again to a slow Redis.
    async fn wait<T>(
        self: &Arc<Self>,
        generation: u64,
        period: Duration,
        exchange: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        let mut exchange = std::pin::pin!(exchange);
        let period = period.max(Duration::from_millis(100));
        loop {
            match tokio::time::timeout(period, exchange.as_mut()).await {
                Ok(answer) => return self.settle(generation, answer),
                Err(_late) if self.current().generation == generation => self.probe(generation),
                Err(_replaced) => return Err(StoreError::Timeout),
            }
        }
    }

    /// Puts a new connection, made on first use, in place of connection
    /// `generation`, unless that one was replaced already.
    fn replace(&self, generation: u64) {
        let mut current = self.current();
        if current.generation != generation {
            return;
        }
        // Fails only on a configuration that `connect` already accepted.
        if let Ok(fresh) =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
        {
            *current = Current {
                generation: generation + 1,
                connection: fresh,
                probing: false,
            };
        }
    }
}

/// A probe under way on connection `generation`; dropped, it lets the
/// next one start.
struct Probing {
    link: Arc<Link>,
    generation: u64,
}

impl Drop for Probing {
    fn drop(&mut self) {
        let mut current = self.link.current();
        if current.generation == self.generation {
            current.probing = false;
        }
    }
}

/// The scripts answer 0 (nothing changed: another attempt holds the key) or
/// 1; both keep the contract.
fn expect_count(count: i64) -> Result<(), StoreError> {
    match count {
        0 | 1 => Ok(()),
        _ => Err(StoreError::UnexpectedReply),
    }
}

/// A lease or retention in whole milliseconds, within what `PX` accepts.
fn ttl_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(MIN_TTL_MS, MAX_TTL_MS)
}

/// A token as stored: 32 lowercase hex digits.
fn token_text(token: Token) -> String {
    format!("{:032x}", token.get())
}

fn is_token_text(value: &[u8]) -> bool {
    value.len() == 32
        && value
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Reservation tokens: a random 128-bit base per store plus a counter, so
/// tokens never repeat within a store and collide across processes with
/// negligible probability.
struct Tokens {
    base: u128,
    counter: AtomicU64,
}

impl Tokens {
    fn new() -> Self {
        Self {
            base: random_u128(),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> Token {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Token::new(self.base.wrapping_add(u128::from(n)))
    }
}

/// 128 random bits from the operating system. Should it fail, std's
/// randomly keyed hasher (seeded from the same source at start-up, with its
/// own fallbacks) stands in: the bits must be unique, not secret.
fn random_u128() -> u128 {
    match (getrandom::u64(), getrandom::u64()) {
        (Ok(high), Ok(low)) => (u128::from(high) << 64) | u128::from(low),
        _ => {
            let state = RandomState::new();
            let high = state.hash_one(std::process::id());
            let low = state.hash_one(std::time::SystemTime::now());
            (u128::from(high) << 64) | u128::from(low)
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its `Debug` shows the URL's parts.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DedupeStore for RedisStore {
    type Error = StoreError;

    fn reserve(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send {
        self.reserve_key(key, lease)
    }

    fn complete(
        &self,
        key: &str,
        _: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let (key, ttl) = (self.redis_key(key), ttl_ms(retention));
        self.outcome(move |connection| {
            let mut invocation = COMPLETE.key(&key);
            invocation.arg(DONE).arg(ttl);
            run_script(connection, invocation)
        })
    }

    fn release(
        &self,
        key: &str,
        token: Token,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let (key, token) = (self.redis_key(key), token_text(token));
        self.outcome(move |connection| {
            let mut invocation = RELEASE.key(&key);
            invocation.arg(&token);
            run_script(connection, invocation)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_hex_and_never_done() {
        let tokens = Tokens::new();
        let a = tokens.next();
        let b = tokens.next();
        assert_ne!(a, b);
        assert_ne!(Tokens::new().next(), Tokens::new().next());
        for token in [a, b, Token::new(0), Token::new(u128::MAX)] {
            let text = token_text(token);
            assert!(is_token_text(text.as_bytes()), "{text}");
            assert_ne!(text, DONE);
        }
        assert!(!is_token_text(DONE.as_bytes()));
    }

    #[test]
    fn ttls_stay_within_what_redis_accepts() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(300)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(60)), 60_000);
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS);
    }

    #[test]
    fn scripts_answer_counts() {
        assert_eq!(expect_count(0), Ok(()));
        assert_eq!(expect_count(1), Ok(()));
        assert_eq!(expect_count(2), Err(StoreError::UnexpectedReply));
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_echoing_it() {
        let err = RedisStore::connect("http://user:hunter2@example.invalid")
            .await
            .unwrap_err();
        assert_eq!(err, ConnectError::InvalidUrl);
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_without_echoing_the_url() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
        let err = RedisStore::connect(&url).await.unwrap_err();
        assert_eq!(err, ConnectError::Unavailable(StoreError::Connection));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&port.to_string()), "{shown}");
    }

    #[test]
    fn connecting_off_a_runtime_is_an_error() {
        let connect = RedisStore::connect("redis://127.0.0.1:6379");
        let mut connect = std::pin::pin!(connect);
        let waker = std::task::Waker::noop();
        let polled = connect
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(matches!(
            polled,
            std::task::Poll::Ready(Err(ConnectError::Unavailable(StoreError::NoRuntime)))
        ));
    }
}
