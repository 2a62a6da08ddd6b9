//! The embedded dedupe store: bounded, sharded, expiring lazily.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hashbrown::HashTable;

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
/// Each call hashes its key once, with a randomly keyed SipHash (keys come
/// from deliveries, so they must not be able to pick their buckets).
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
    /// The entries, found by the hash the store computed for their key.
    slots: HashTable<Entry>,
    /// Keys in insertion order, with their hash; an entry whose key was
    /// since removed or inserted anew is stale and skipped.
    order: VecDeque<(u64, Arc<str>)>,
}

struct Entry {
    key: Arc<str>,
    slot: Slot,
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

    /// The key's hash, computed once per call, and its shard, locked.
    fn shard(&self, key: &str) -> (u64, MutexGuard<'_, Shard>) {
        let hash = self.hash(key);
        (hash, lock(&self.inner.shards[shard_index(hash)]))
    }

    fn hash(&self, key: &str) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    fn reserve_now(&self, key: &str, lease: Duration) -> Reservation {
        let now = self.now();
        let (hash, mut shard) = self.shard(key);
        let fresh = || Slot {
            token: self.inner.next_token.fetch_add(1, Ordering::Relaxed),
            expires: now.saturating_add(millis(lease)),
        };
        let token = match shard.get_mut(hash, key) {
            Some(slot) if slot.expires > now && slot.token == DONE => return Reservation::Done,
            Some(slot) if slot.expires > now => return Reservation::InFlight,
            Some(slot) => {
                // Expired: the key is free again and keeps its place in line.
                *slot = fresh();
                slot.token
            }
            None => {
                let slot = fresh();
                self.insert(&mut shard, hash, key, slot, now);
                slot.token
            }
        };
        Reservation::Acquired(Token::new(u128::from(token)))
    }

    /// Inserts a new key, making room first.
    fn insert(&self, shard: &mut Shard, hash: u64, key: &str, slot: Slot, now: u64) {
        let evicted = shard.make_room(self.inner.per_shard, now);
        self.inner.evictions.fetch_add(evicted, Ordering::Relaxed);
        let key: Arc<str> = key.into();
        shard.order.push_back((hash, Arc::clone(&key)));
        // Growing the table rehashes the entries, with the same hasher.
        let hasher = &self.inner.hasher;
        shard
            .slots
            .insert_unique(hash, Entry { key, slot }, |entry| {
                hasher.hash_one(&*entry.key)
            });
    }

    fn complete_now(&self, key: &str, token: Token, retention: Duration) {
        let now = self.now();
        let done = Slot {
            token: DONE,
            expires: now.saturating_add(millis(retention)),
        };
        let (hash, mut shard) = self.shard(key);
        match shard.get_mut(hash, key) {
            // Still ours, even past the lease: nobody else took the key.
            Some(slot) if slot.token != DONE && u128::from(slot.token) == token.get() => {
                *slot = done;
            }
            // Another attempt's reservation, or a handled delivery, still live.
            Some(slot) if slot.expires > now => {}
            // Absent or expired, whoever held it: nobody holds it now.
            _ => {
                shard.remove(hash, key);
                self.insert(&mut shard, hash, key, done, now);
            }
        }
    }

    fn release_now(&self, key: &str, token: Token) {
        let (hash, mut shard) = self.shard(key);
        let held = shard
            .get_mut(hash, key)
            .is_some_and(|slot| slot.token != DONE && u128::from(slot.token) == token.get());
        if held {
            shard.remove(hash, key);
        }
    }
}

/// The shard of a key's hash: bits 32 to 36, which the table inside the
/// shard leaves alone (it takes the bucket from the low bits and a tag
/// from the top seven), so a shard's keys still spread over its buckets.
fn shard_index(hash: u64) -> usize {
    // The remainder is below SHARDS, so the cast cannot truncate.
    ((hash >> 32) % SHARDS as u64) as usize
}

impl Shard {
    fn get_mut(&mut self, hash: u64, key: &str) -> Option<&mut Slot> {
        self.slots
            .find_mut(hash, |entry| *entry.key == *key)
            .map(|entry| &mut entry.slot)
    }

    fn remove(&mut self, hash: u64, key: &str) {
        if let Ok(entry) = self.slots.find_entry(hash, |entry| *entry.key == *key) {
            entry.remove();
        }
    }

    /// The entry stored under this very key (not a stale copy of its name).
    fn current(&self, hash: u64, key: &Arc<str>) -> Option<&Entry> {
        self.slots.find(hash, |entry| Arc::ptr_eq(&entry.key, key))
    }

    /// Drops expired entries from the front of the line (a couple per
    /// insertion, amortised cleanup), and then the oldest ones while the
    /// shard is full. Returns how many unexpired entries went.
    ///
    /// The oldest entry is looked up once per step and removed through that
    /// lookup: with a full store this runs on every insertion, and each
    /// lookup of a cold entry is a cache miss.
    fn make_room(&mut self, capacity: usize, now: u64) -> u64 {
        let mut evicted = 0;
        let mut cleanup = 2;
        loop {
            let full = self.slots.len() >= capacity;
            let Some((hash, key)) = self.order.front() else {
                break;
            };
            let Ok(entry) = self
                .slots
                .find_entry(*hash, |entry| Arc::ptr_eq(&entry.key, key))
            else {
                // Stale: its key was since removed or inserted anew.
                self.order.pop_front();
                continue;
            };
            let expired = entry.get().slot.expires <= now;
            if cleanup > 0 && expired {
                cleanup -= 1;
            } else {
                cleanup = 0;
                if !full {
                    break;
                }
                evicted += u64::from(!expired);
            }
            entry.remove();
            self.order.pop_front();
        }
        if self.order.len() > 2 * capacity + 16 {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|(hash, key)| self.current(*hash, key).is_some());
            self.order = order;
        }
        evicted
    }
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
            if shard_index(store.hash(&key)) == shard_index(store.hash(&first)) {
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
        let hasher = RandomState::new();
        let mut shard = Shard::default();
        for (name, expires) in [("old", 5), ("live", 1_000)] {
            let key: Arc<str> = name.into();
            let hash = hasher.hash_one(name);
            shard.order.push_back((hash, Arc::clone(&key)));
            let slot = Slot {
                token: DONE,
                expires,
            };
            shard
                .slots
                .insert_unique(hash, Entry { key, slot }, |e| hasher.hash_one(&*e.key));
        }
        assert_eq!(shard.make_room(2, 10), 0);
        assert!(shard.get_mut(hasher.hash_one("old"), "old").is_none());
        assert!(shard.get_mut(hasher.hash_one("live"), "live").is_some());
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
