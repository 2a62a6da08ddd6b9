//! The embedded dedupe store: bounded, sharded, expiring lazily.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future};
use std::hash::{BuildHasher, Hash, Hasher};
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
///
/// # Keys are kept as 128-bit fingerprints
/// The store does not keep the keys themselves: each key is hashed once per
/// call with std's `RandomState`, randomly keyed per store (SipHash-1-3
/// today, the keyed hash of `std::collections::HashMap`), and two 64-bit
/// values taken from that one pass are the entry's identity: the hash of the
/// key, and the hash of the key followed by one more byte (which costs one
/// more finalisation, not a second pass over the key). One picks the shard
/// and the bucket, the other is compared on lookup. So an entry is a fixed
/// 40 bytes inside the table: no allocation per key, and a lookup touches
/// the table's own memory only (no pointer to a separately allocated key).
///
/// Two different keys would be taken for one only if both values collided:
/// SipHash is a pseudorandom function of its secret key, so for senders who
/// cannot see that key this is a chance of about 2⁻¹²⁸ per pair, below 2⁻⁸⁰
/// for a billion deliveries checked against a full store of 100,000
/// entries. Keys come from deliveries, so the hash stays a keyed one
/// (SipHash, not a faster unkeyed or weakly keyed hash): a sender must not
/// be able to pick the buckets its keys land in (hash flooding) nor craft a
/// collision.
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
    hashers: Hashers,
    epoch: Instant,
    next_token: AtomicU64,
    evictions: AtomicU64,
}

/// The randomly keyed hasher a key's [`Fingerprint`] comes from.
struct Hashers(RandomState);

impl Hashers {
    fn new() -> Self {
        Self(RandomState::new())
    }

    /// The keyed hash of `key`, and of `key` followed by a byte: two values
    /// of the same pseudorandom function on distinct inputs, from one pass.
    fn fingerprint(&self, key: &str) -> Fingerprint {
        let mut hasher = self.0.build_hasher();
        key.hash(&mut hasher);
        let hash = hasher.finish();
        hasher.write_u8(1);
        Fingerprint {
            hash,
            check: hasher.finish(),
        }
    }
}

/// What the store keeps of a key: two keyed 64-bit hashes. `hash` places
/// the entry (shard and bucket), `check` tells apart keys whose `hash`
/// collided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fingerprint {
    hash: u64,
    check: u64,
}

#[derive(Default)]
struct Shard {
    /// The entries, found by their fingerprint's hash.
    slots: HashTable<Entry>,
    /// Keys in insertion order, with the insertion's number; an entry whose
    /// key was since removed or inserted anew is stale and skipped.
    order: VecDeque<(Fingerprint, u64)>,
    /// The number of the next insertion into this shard.
    inserted: u64,
}

struct Entry {
    fingerprint: Fingerprint,
    /// Which insertion put the key here, matched against the line.
    insertion: u64,
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
                hashers: Hashers::new(),
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

    /// The key's fingerprint, computed once per call, and its shard, locked.
    fn shard(&self, key: &str) -> (Fingerprint, MutexGuard<'_, Shard>) {
        let fingerprint = self.inner.hashers.fingerprint(key);
        let shard = lock(&self.inner.shards[shard_index(fingerprint.hash)]);
        (fingerprint, shard)
    }

    fn reserve_now(&self, key: &str, lease: Duration) -> Reservation {
        let now = self.now();
        let (fingerprint, mut shard) = self.shard(key);
        let fresh = || Slot {
            token: self.inner.next_token.fetch_add(1, Ordering::Relaxed),
            expires: now.saturating_add(millis(lease)),
        };
        let token = match shard.get_mut(fingerprint) {
            Some(slot) if slot.expires > now && slot.token == DONE => return Reservation::Done,
            Some(slot) if slot.expires > now => return Reservation::InFlight,
            Some(slot) => {
                // Expired: the key is free again and keeps its place in line.
                *slot = fresh();
                slot.token
            }
            None => {
                let slot = fresh();
                self.insert(&mut shard, fingerprint, slot, now);
                slot.token
            }
        };
        Reservation::Acquired(Token::new(u128::from(token)))
    }

    /// Inserts a new key, making room first.
    fn insert(&self, shard: &mut Shard, fingerprint: Fingerprint, slot: Slot, now: u64) {
        let evicted = shard.make_room(self.inner.per_shard, now);
        self.inner.evictions.fetch_add(evicted, Ordering::Relaxed);
        shard.insert(fingerprint, slot);
    }

    fn complete_now(&self, key: &str, token: Token, retention: Duration) {
        let now = self.now();
        let done = Slot {
            token: DONE,
            expires: now.saturating_add(millis(retention)),
        };
        let (fingerprint, mut shard) = self.shard(key);
        match shard.get_mut(fingerprint) {
            // Still ours, even past the lease: nobody else took the key.
            Some(slot) if slot.token != DONE && u128::from(slot.token) == token.get() => {
                *slot = done;
            }
            // Another attempt's reservation, or a handled delivery, still live.
            Some(slot) if slot.expires > now => {}
            // Absent or expired, whoever held it: nobody holds it now.
            _ => {
                shard.remove(fingerprint);
                self.insert(&mut shard, fingerprint, done, now);
            }
        }
    }

    fn release_now(&self, key: &str, token: Token) {
        let (fingerprint, mut shard) = self.shard(key);
        let held = shard
            .get_mut(fingerprint)
            .is_some_and(|slot| slot.token != DONE && u128::from(slot.token) == token.get());
        if held {
            shard.remove(fingerprint);
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
    fn get_mut(&mut self, fingerprint: Fingerprint) -> Option<&mut Slot> {
        self.slots
            .find_mut(fingerprint.hash, |entry| entry.fingerprint == fingerprint)
            .map(|entry| &mut entry.slot)
    }

    fn remove(&mut self, fingerprint: Fingerprint) {
        if let Ok(entry) = self
            .slots
            .find_entry(fingerprint.hash, |entry| entry.fingerprint == fingerprint)
        {
            entry.remove();
        }
    }

    /// Adds a key that is not in the table, at the back of the line.
    fn insert(&mut self, fingerprint: Fingerprint, slot: Slot) {
        let insertion = self.inserted;
        self.inserted += 1;
        self.order.push_back((fingerprint, insertion));
        let entry = Entry {
            fingerprint,
            insertion,
            slot,
        };
        // Growing the table moves entries by their stored hash: no key is hashed again.
        self.slots
            .insert_unique(fingerprint.hash, entry, |entry| entry.fingerprint.hash);
    }

    /// Whether the line's `(fingerprint, insertion)` is the entry in the table.
    fn is_current(&self, fingerprint: Fingerprint, insertion: u64) -> bool {
        self.slots
            .find(fingerprint.hash, |entry| {
                entry.fingerprint == fingerprint && entry.insertion == insertion
            })
            .is_some()
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
            let Some(&(fingerprint, insertion)) = self.order.front() else {
                break;
            };
            let Ok(entry) = self.slots.find_entry(fingerprint.hash, |entry| {
                entry.fingerprint == fingerprint && entry.insertion == insertion
            }) else {
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
            order.retain(|&(fingerprint, insertion)| self.is_current(fingerprint, insertion));
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
        let shard_of = |key: &str| shard_index(store.inner.hashers.fingerprint(key).hash);
        acquired(store.reserve_now(&first, LEASE));
        // Keys until one lands in the first key's shard (the hasher is
        // seeded at random, so how many that takes varies).
        for i in 1.. {
            let key = format!("key-{i}");
            if let Reservation::Acquired(token) = store.reserve_now(&key, LEASE) {
                store.complete_now(&key, token, KEEP);
            }
            if shard_of(&key) == shard_of(&first) {
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
        let hashers = Hashers::new();
        let mut shard = Shard::default();
        for (name, expires) in [("old", 5), ("live", 1_000)] {
            let slot = Slot {
                token: DONE,
                expires,
            };
            shard.insert(hashers.fingerprint(name), slot);
        }
        assert_eq!(shard.make_room(2, 10), 0);
        assert!(shard.get_mut(hashers.fingerprint("old")).is_none());
        assert!(shard.get_mut(hashers.fingerprint("live")).is_some());
    }

    /// A key removed and inserted anew takes a new place at the back of the
    /// line: its old place is stale and does not evict it early.
    #[test]
    fn a_key_inserted_anew_keeps_its_new_place() {
        let hashers = Hashers::new();
        let mut shard = Shard::default();
        let live = Slot {
            token: DONE,
            expires: 1_000,
        };
        let (a, b) = (hashers.fingerprint("a"), hashers.fingerprint("b"));
        shard.insert(a, live);
        shard.insert(b, live);
        shard.remove(a);
        shard.insert(a, live); // the line is now: a (stale), b, a
        assert_eq!(shard.make_room(2, 10), 1);
        assert!(shard.get_mut(b).is_none(), "b was the oldest live entry");
        assert!(shard.get_mut(a).is_some());
    }

    /// The fingerprint's first half is the store's plain keyed hash of the
    /// key; the second is another value of it, and both depend on the key.
    #[test]
    fn fingerprints_come_from_one_keyed_hash() {
        let hashers = Hashers::new();
        let one = hashers.fingerprint("sw:msg_1");
        assert_eq!(one.hash, hashers.0.hash_one("sw:msg_1"));
        assert_ne!(one.hash, one.check);
        assert_eq!(one, hashers.fingerprint("sw:msg_1"));
        let two = hashers.fingerprint("sw:msg_2");
        assert!(one.hash != two.hash && one.check != two.check);
        // Another store, another random key.
        assert_ne!(one, Hashers::new().fingerprint("sw:msg_1"));
    }

    /// Keys are told apart by their whole fingerprint, not only by the hash
    /// that places them.
    #[test]
    fn keys_whose_hashes_collide_stay_apart() {
        let mut shard = Shard::default();
        let one = Fingerprint { hash: 7, check: 1 };
        let two = Fingerprint { hash: 7, check: 2 };
        shard.insert(
            one,
            Slot {
                token: 5,
                expires: 1_000,
            },
        );
        assert!(shard.get_mut(two).is_none());
        shard.insert(
            two,
            Slot {
                token: 6,
                expires: 1_000,
            },
        );
        shard.remove(one);
        assert_eq!(shard.get_mut(two).map(|slot| slot.token), Some(6));
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
