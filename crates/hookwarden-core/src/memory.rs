//! The embedded dedupe store: bounded, sharded, expiring lazily.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::dedupe::{DedupeStore, Reservation, Token};

/// Entries kept by default before the oldest are evicted.
pub const DEFAULT_CAPACITY: usize = 100_000;

const SHARDS: usize = 32;

/// The token value that marks a slot DONE; live tokens start at 1.
const DONE: u64 = 0;

/// A [`DedupeStore`] in the process's memory: for apps that run one replica.
///
/// Bounded: past its capacity it drops expired entries first, then the
/// oldest. Sharded behind 32 locks, held only for a map lookup. Entries expire
/// lazily (no background thread). Cheap to clone: clones share the entries.
///
/// ```
/// use hookwarden_core::MemoryStore;
///
/// let store = MemoryStore::with_capacity(10_000);
/// let shared = store.clone();
/// assert_eq!(shared.len(), 0);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    epoch: Instant,
    next_token: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Default)]
struct Shard {
    slots: HashMap<Arc<str>, Slot>,
    /// Keys in insertion order; an entry whose key was since removed or
    /// inserted anew is stale and skipped.
    order: VecDeque<Arc<str>>,
}

#[derive(Clone, Copy)]
struct Slot {
    /// The holder's token, or [`DONE`].
    token: u64,
    /// Milliseconds after the store's epoch.
    expires: u64,
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to about `capacity` entries (at least one per shard).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
                per_shard: capacity.div_ceil(SHARDS).max(1),
                hasher: RandomState::new(),
                epoch: Instant::now(),
                next_token: AtomicU64::new(DONE + 1),
                evictions: AtomicU64::new(0),
            }),
        }
    }

    /// Entries held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).slots.len()).sum()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unexpired entries dropped to make room since the store was built: a
    /// non-zero count means the capacity is too small for the retention.
    pub fn evictions(&self) -> u64 {
        self.inner.evictions.load(Ordering::Relaxed)
    }

    fn now(&self) -> u64 {
        millis(self.inner.epoch.elapsed())
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        lock(&self.inner.shards[self.shard_index(key)])
    }

    fn shard_index(&self, key: &str) -> usize {
        let hash = self.inner.hasher.hash_one(key);
        // The remainder is below SHARDS, so the cast cannot truncate.
        (hash % SHARDS as u64) as usize
    }

    fn reserve_now(&self, key: &str, lease: Duration) -> Reservation {
        let now = self.now();
        let mut shard = self.shard(key);
        let fresh = || Slot {
            token: self.inner.next_token.fetch_add(1, Ordering::Relaxed),
            expires: now.saturating_add(millis(lease)),
        };
        let token = match shard.slots.get_mut(key) {
            Some(slot) if slot.expires > now && slot.token == DONE => return Reservation::Done,
            Some(slot) if slot.expires > now => return Reservation::InFlight,
            Some(slot) => {
                // Expired: the key is free again and keeps its place in line.
                *slot = fresh();
                slot.token
            }
            None => {
                let slot = fresh();
                self.insert(&mut shard, key, slot, now);
                slot.token
            }
        };
        Reservation::Acquired(Token::new(u128::from(token)))
    }

    /// Inserts a new key, making room first.
    fn insert(&self, shard: &mut Shard, key: &str, slot: Slot, now: u64) {
        let evicted = shard.make_room(self.inner.per_shard, now);
        self.inner.evictions.fetch_add(evicted, Ordering::Relaxed);
        let key: Arc<str> = key.into();
        shard.order.push_back(Arc::clone(&key));
        shard.slots.insert(key, slot);
    }

    fn complete_now(&self, key: &str, token: Token, retention: Duration) {
        let now = self.now();
        let done = Slot {
            token: DONE,
            expires: now.saturating_add(millis(retention)),
        };
        let mut shard = self.shard(key);
        match shard.slots.get_mut(key) {
            // Still ours, even past the lease: nobody else took the key.
            Some(slot) if slot.token != DONE && u128::from(slot.token) == token.get() => {
                *slot = done;
            }
            // Another attempt's reservation, or a handled delivery, still live.
            Some(slot) if slot.expires > now => {}
            // Absent or expired, whoever held it: nobody holds it now.
            _ => {
                shard.slots.remove(key);
                self.insert(&mut shard, key, done, now);
            }
        }
    }

    fn release_now(&self, key: &str, token: Token) {
        let mut shard = self.shard(key);
        let held = shard
            .slots
            .get(key)
            .is_some_and(|slot| slot.token != DONE && u128::from(slot.token) == token.get());
        if held {
            shard.slots.remove(key);
        }
    }
}

impl Shard {
    /// Drops expired entries from the front of the line, and then the oldest
    /// ones while the shard is full. Returns how many unexpired entries went.
    fn make_room(&mut self, capacity: usize, now: u64) -> u64 {
        let mut evicted = 0;
        // Amortised cleanup: a couple of expired entries per insertion.
        for _ in 0..2 {
            match self.front_live() {
                Some(slot) if slot.expires <= now => self.pop_front_live(),
                _ => break,
            }
        }
        while self.slots.len() >= capacity {
            match self.front_live() {
                Some(slot) => {
                    evicted += u64::from(slot.expires > now);
                    self.pop_front_live();
                }
                None => break,
            }
        }
        if self.order.len() > 2 * capacity + 16 {
            let slots = &self.slots;
            self.order.retain(|key| is_current(slots, key));
        }
        evicted
    }

    /// The slot of the oldest current entry, discarding stale ones before it.
    fn front_live(&mut self) -> Option<Slot> {
        while let Some(key) = self.order.front() {
            if is_current(&self.slots, key) {
                return self.slots.get(&**key).copied();
            }
            self.order.pop_front();
        }
        None
    }

    fn pop_front_live(&mut self) {
        if let Some(key) = self.order.pop_front() {
            self.slots.remove(&*key);
        }
    }
}

/// Whether `key` is the very entry the map holds (not a stale copy of its name).
fn is_current(slots: &HashMap<Arc<str>, Slot>, key: &Arc<str>) -> bool {
    slots
        .get_key_value(&**key)
        .is_some_and(|(stored, _)| Arc::ptr_eq(stored, key))
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // No code panics while holding a shard lock; recover the data regardless.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &(self.inner.per_shard * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

impl DedupeStore for MemoryStore {
    type Error = Infallible;

    fn reserve(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Reservation, Infallible>> + Send {
        ready(Ok(self.reserve_now(key, lease)))
    }

    fn complete(
        &self,
        key: &str,
        token: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), Infallible>> + Send {
        self.complete_now(key, token, retention);
        ready(Ok(()))
    }

    fn release(
        &self,
        key: &str,
        token: Token,
    ) -> impl Future<Output = Result<(), Infallible>> + Send {
        self.release_now(key, token);
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);
    const KEEP: Duration = Duration::from_secs(3600);

    fn acquired(reservation: Reservation) -> Token {
        match reservation {
            Reservation::Acquired(token) => token,
            other => panic!("expected Acquired, got {other:?}"),
        }
    }

    #[test]
    fn eviction_drops_the_oldest_and_counts_it() {
        let store = MemoryStore::with_capacity(SHARDS); // one entry per shard
        let first = "key-0".to_owned();
        acquired(store.reserve_now(&first, LEASE));
        // Keys until one lands in the first key's shard (the hasher is
        // seeded at random, so how many that takes varies).
        for i in 1.. {
            let key = format!("key-{i}");
            if let Reservation::Acquired(token) = store.reserve_now(&key, LEASE) {
                store.complete_now(&key, token, KEEP);
            }
            if store.shard_index(&key) == store.shard_index(&first) {
                break;
            }
        }
        assert!(store.len() <= SHARDS);
        assert!(store.evictions() > 0);
        // The first key was evicted and is free again.
        acquired(store.reserve_now(&first, LEASE));
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let mut shard = Shard::default();
        for (name, expires) in [("old", 5), ("live", 1_000)] {
            let key: Arc<str> = name.into();
            shard.order.push_back(Arc::clone(&key));
            shard.slots.insert(
                key,
                Slot {
                    token: DONE,
                    expires,
                },
            );
        }
        assert_eq!(shard.make_room(2, 10), 0);
        assert!(!shard.slots.contains_key("old"));
        assert!(shard.slots.contains_key("live"));
    }

    #[test]
    fn stale_line_entries_are_compacted() {
        let store = MemoryStore::with_capacity(SHARDS);
        for _ in 0..500 {
            let token = acquired(store.reserve_now("same", LEASE));
            store.release_now("same", token);
        }
        let total: usize = store.inner.shards.iter().map(|s| lock(s).order.len()).sum();
        assert!(total <= 2 * store.inner.per_shard + 17, "{total}");
    }
}
