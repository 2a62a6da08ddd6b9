//! A [`DedupeStore`](hookwarden_core::DedupeStore) on Redis: every replica of
//! an app sees the same delivery IDs, so a provider's retry that lands on
//! another machine is still answered as a duplicate.
//!
//! ```no_run
//! use std::time::Duration;
//! use hookwarden_core::{DedupeStore, Reservation};
//! use hookwarden_redis::RedisStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379")
//!     .await?
//!     .with_prefix("shop:hookwarden:")
//!     .with_timeout(Duration::from_millis(300));
//!
//! // What an adapter does for each verified delivery:
//! match store.reserve("ntxpay:evt_1", Duration::from_secs(60)).await? {
//!     Reservation::Acquired(token) => {
//!         // ... run the handler; on success:
//!         store.complete("ntxpay:evt_1", token, Duration::from_secs(72 * 3600)).await?;
//!     }
//!     Reservation::InFlight => { /* 409: another replica is handling it */ }
//!     Reservation::Done => { /* 200: already handled */ }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! In front of a route, the store replaces the default `MemoryStore` in the
//! route's `Gate`: `WebhookLayer::new(Gate::new(verifier).with_store(store))`.
//!
//! # How it maps the contract
//!
//! Every operation is one round trip, bounded by the store's timeout:
//!
//! | operation | Redis |
//! |---|---|
//! | `reserve` | `SET <prefix><key> <token> NX PX <lease> GET`: nil → acquired, the DONE marker → done, a token → in flight |
//! | `complete` | a Lua script: unless the key already holds the DONE marker, `SET` it to that marker `PX <retention>` (a success is final, whoever holds the key) |
//! | `release` | a Lua script: when the key holds the token, `DEL` it |
//!
//! Scripts are sent by their SHA1 (`EVALSHA`) and loaded on a `NOSCRIPT`
//! answer, as after a Redis restart. Tokens are 128-bit values from a random
//! base drawn at [`RedisStore::connect`] plus a counter: unique across
//! processes. `SET … NX GET` needs Redis 7.0 or later (or a compatible
//! server such as Valkey).
//!
//! # Failures
//!
//! A Redis that is down, hung or answering errors yields a [`StoreError`]
//! within the timeout (500 ms by default), and the adapters answer 503 so
//! the provider retries later. The connection reconnects by itself: no
//! restart of the app is needed once Redis is back. Errors never carry the
//! Redis URL, its password or a key's value.
//!
//! A call that timed out may still reach a Redis that was only slow: a
//! reservation made that way holds its key until the lease ends, so a retry
//! meanwhile gets 409 (never a second run of the handler). Keep the lease
//! as short as the handlers allow. A `complete` or `release` that Redis did
//! not take (a lost connection, a stall, a failover) is tried again in the
//! background for up to a minute, past the caller's timeout: a handled
//! delivery is still recorded, rather than run again when its lease ends.
#![forbid(unsafe_code)]

mod error;
mod store;

pub use error::{ConnectError, StoreError};
pub use store::{RedisStore, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
