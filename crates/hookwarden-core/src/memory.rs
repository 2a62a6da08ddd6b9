//! The embedded dedupe store: bounded, sharded, expiring lazily.

use std::collections::hash_map::RandomState;
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

/// The token value of a key released by its holder: free, like an expired
/// key, and not counted as held, but still in its place for its retry.
/// Tokens count up from 1 and never get near it.
const RELEASED: u64 = u64::MAX;

/// Whether a slot with `token` is a reservation's (not DONE or RELEASED).
fn reserved(token: u64) -> bool {
    token != DONE && token < RELEASED
}

/// Whether a slot with `token` counts as held: a reservation or DONE.
fn counted(token: u64) -> bool {
    token < RELEASED
}

/// A [`DedupeStore`] in the process's memory: for apps that run one replica.
///
/// Bounded: each of its 32 shards keeps its latest keys in a ring of a
/// 32nd of the capacity. A new key takes the place of the shard's oldest
/// (an unexpired one counts as an eviction, even one still in flight). A
/// key keeps the place its delivery's first copy took, through releases,
/// expiries, retries and its success: the retries of one delivery take one
/// place, and a delivery is remembered until a shard's capacity of newer
/// keys came after its first copy (providers count their retry horizons
/// from the first attempt too). A released key is free, and no longer
/// counted by [`MemoryStore::len`]. Sharded behind 32 locks, held
/// for a lookup (and, once per a shard's capacity of insertions or more,
/// to rebuild its index). Entries expire lazily (no background thread).
/// Cheap to clone: clones share the entries.
///
/// # Keys are kept as 128-bit fingerprints
/// The store does not keep the keys themselves: each key is hashed once per
/// call with std's `RandomState`, randomly keyed per store (SipHash-1-3
/// today, the keyed hash of `std::collections::HashMap`), and two 64-bit
/// values taken from that one pass are the entry's identity: the hash of the
/// key, and the hash of the key followed by one more byte (which costs one
/// more finalisation, not a second pass over the key). One picks the shard
/// and the bucket, the other is compared on lookup. So an entry is a fixed
/// 32 bytes in its shard's ring plus a 4-byte position in the shard's index
/// (about 12 bytes with the index's spare room): no allocation per key, and
/// no pointer to a separately allocated key.
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

/// One shard's entries, in the order their keys came: appended until the
/// shard holds its capacity, then a ring in which a new key overwrites the
/// oldest. A delivery touches one index bucket and its own ring position;
/// making room costs nothing more, since the oldest entry is simply the next
/// position of the ring and its index bucket is left as it is (see `index`).
#[derive(Default)]
struct Shard {
    ring: Vec<Entry>,
    /// The next position to overwrite, once `ring` is full.
    head: usize,
    /// Ring positions by their entry's hash. It may also hold stale
    /// positions, whose entry was since overwritten by another key's: a
    /// lookup checks the entry a position leads to, and the index is
    /// rebuilt from the ring when stale positions pile up.
    index: HashTable<u32>,
    /// Positions of the ring that hold a key held or handled (not
    /// [`RELEASED`]).
    live: usize,
}

struct Entry {
    fingerprint: Fingerprint,
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
                // Ring positions are u32s.
                per_shard: capacity.div_ceil(SHARDS).clamp(1, u32::MAX as usize),
                hashers: Hashers::new(),
                epoch: Instant::now(),
                next_token: AtomicU64::new(DONE + 1),
                evictions: AtomicU64::new(0),
            }),
        }
    }

    /// Keys reserved or handled now, expired ones not yet overwritten
    /// included; released ones are not counted.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).live).sum()
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
            expires: now.saturating_add(ttl(lease)),
        };
        let token = match shard.find(fingerprint) {
            Some((_, slot)) if slot.expires > now && slot.token == DONE => {
                return Reservation::Done
            }
            Some((_, slot)) if slot.expires > now => return Reservation::InFlight,
            Some((at, _)) => {
                // Expired or released: the key is free again and keeps its
                // place in line.
                let slot = fresh();
                shard.set(at, slot);
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

    /// Inserts a new key, in place of the shard's oldest if it is full.
    fn insert(&self, shard: &mut Shard, fingerprint: Fingerprint, slot: Slot, now: u64) {
        if shard.insert(fingerprint, slot, self.inner.per_shard, now) {
            self.inner.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn complete_now(&self, key: &str, retention: Duration) {
        let now = self.now();
        let done = Slot {
            token: DONE,
            expires: now.saturating_add(ttl(retention)),
        };
        let (fingerprint, mut shard) = self.shard(key);
        // A success is final, whoever holds the key now: this attempt, even
        // past its lease, or a retry that took the key after that lease
        // (whose own outcome then changes nothing).
        match shard.find(fingerprint) {
            // Handled already: the first success's retention stands.
            Some((_, slot)) if slot.token == DONE && slot.expires > now => {}
            // Held, released, or remembered no longer: DONE in its place,
            // which frees no other key's.
            Some((at, _)) => shard.set(at, done),
            // Evicted while in flight, or never reserved here: a new key.
            None => self.insert(&mut shard, fingerprint, done, now),
        }
    }

    fn release_now(&self, key: &str, token: Token) {
        let (fingerprint, mut shard) = self.shard(key);
        if let Some((at, slot)) = shard.find(fingerprint) {
            if reserved(slot.token) && u128::from(slot.token) == token.get() {
                // Free, and no longer counted, but the key keeps its place:
                // the delivery's retry takes it again where it is.
                let released = Slot {
                    token: RELEASED,
                    expires: 0,
                };
                shard.set(at, released);
            }
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
    /// The ring position and slot of the key with `fingerprint`, if the
    /// shard has it (released or expired included).
    fn find(&self, fingerprint: Fingerprint) -> Option<(usize, Slot)> {
        let ring = &self.ring;
        let &at = self.index.find(fingerprint.hash, |&at| {
            ring[at as usize].fingerprint == fingerprint
        })?;
        Some((at as usize, ring[at as usize].slot))
    }

    /// Puts `slot` at ring position `at`, keeping `live` right.
    fn set(&mut self, at: usize, slot: Slot) {
        let old = std::mem::replace(&mut self.ring[at].slot, slot);
        self.live = self.live + usize::from(counted(slot.token)) - usize::from(counted(old.token));
    }

    /// Adds a key that is not held, at the back of the line: appended while
    /// the shard holds fewer than `capacity` positions, else in place of the
    /// oldest. Returns whether that oldest entry was an unexpired one.
    fn insert(&mut self, fingerprint: Fingerprint, slot: Slot, capacity: usize, now: u64) -> bool {
        let entry = Entry { fingerprint, slot };
        let (at, evicted) = if self.ring.len() < capacity {
            if self.ring.len() == self.ring.capacity() {
                // Grow by doubling, never past the capacity.
                let more = self.ring.len().max(16).min(capacity - self.ring.len());
                self.ring.reserve_exact(more);
            }
            self.ring.push(entry);
            (self.ring.len() - 1, false)
        } else {
            let at = self.head;
            self.head = if at + 1 == capacity { 0 } else { at + 1 };
            let old = std::mem::replace(&mut self.ring[at], entry);
            let held = counted(old.slot.token);
            self.live -= usize::from(held);
            (at, held && old.slot.expires > now)
        };
        self.live += 1;
        if self.index.len() >= 2 * capacity + 16 {
            self.rebuild_index();
        } else {
            add_position(&mut self.index, &self.ring, fingerprint.hash, at);
        }
        evicted
    }

    /// The index anew from the ring, without stale positions. Runs once per
    /// `capacity` insertions or more, so it costs O(1) per insertion.
    fn rebuild_index(&mut self) {
        self.index.clear();
        for (at, entry) in self.ring.iter().enumerate() {
            add_position(&mut self.index, &self.ring, entry.fingerprint.hash, at);
        }
    }
}

/// Records in `index` that position `at` of `ring` holds a key with `hash`.
/// A grown index places each position by the hash of the entry now there.
fn add_position(index: &mut HashTable<u32>, ring: &[Entry], hash: u64, at: usize) {
    // Positions are below the capacity, which fits in a u32.
    index.insert_unique(hash, at as u32, |&at| ring[at as usize].fingerprint.hash);
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // No code panics while holding a shard lock; recover the data regardless.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A lease or retention in whole milliseconds, rounded up: a lease of
/// 900 µs holds its key until the store's millisecond clock next ticks over
/// (up to a millisecond), not for none. Zero stays zero: over at once.
fn ttl(duration: Duration) -> u64 {
    // Not `as_nanos().div_ceil(..)`: a 128-bit division on every call.
    millis(duration).saturating_add(u64::from(duration.subsec_nanos() % 1_000_000 != 0))
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
        _: Token,
        retention: Duration,
    ) -> impl Future<Output = Result<(), Infallible>> + Send {
        self.complete_now(key, retention);
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
            if let Reservation::Acquired(_) = store.reserve_now(&key, LEASE) {
                store.complete_now(&key, KEEP);
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

    fn slot(expires: u64) -> Slot {
        Slot {
            token: DONE,
            expires,
        }
    }

    /// A full shard's new key takes the oldest's place; only an unexpired
    /// one counts as evicted.
    #[test]
    fn a_full_shard_overwrites_its_oldest_entry() {
        let hashers = Hashers::new();
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|key| hashers.fingerprint(key));
        let mut shard = Shard::default();
        assert!(!shard.insert(a, slot(5), 2, 10));
        assert!(!shard.insert(b, slot(1_000), 2, 10));
        assert!(!shard.insert(c, slot(1_000), 2, 10), "a had expired");
        assert!(shard.find(a).is_none());
        assert!(shard.insert(d, slot(1_000), 2, 10), "b had not");
        assert!(shard.find(b).is_none());
        assert!(shard.find(c).is_some() && shard.find(d).is_some());
        assert_eq!(shard.live, 2);
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
        let slot = |token| Slot {
            token,
            expires: 1_000,
        };
        shard.insert(one, slot(5), 4, 10);
        assert!(shard.find(two).is_none());
        shard.insert(two, slot(6), 4, 10);
        assert_eq!(shard.find(one).map(|(_, slot)| slot.token), Some(5));
        assert_eq!(shard.find(two).map(|(_, slot)| slot.token), Some(6));
    }

    /// Stale index positions (left by overwrites) are dropped before they
    /// outnumber the ring twice over, and the latest keys stay found.
    #[test]
    fn stale_index_positions_are_dropped() {
        let store = MemoryStore::with_capacity(4 * SHARDS);
        for i in 0..5_000 {
            let key = format!("key-{i}");
            acquired(store.reserve_now(&key, LEASE));
            store.complete_now(&key, KEEP);
        }
        for shard in store.inner.shards.iter() {
            let shard = lock(shard);
            assert!(shard.index.len() <= 2 * store.inner.per_shard + 16);
            assert!(shard.ring.len() <= store.inner.per_shard);
            assert_eq!(shard.live, shard.ring.len());
        }
        assert_eq!(store.reserve_now("key-4999", LEASE), Reservation::Done);
    }

    /// The retries of a delivery whose handler keeps failing take one
    /// place: they neither push handled deliveries out nor pile up index
    /// positions behind one hash.
    #[test]
    fn retries_of_a_released_key_keep_one_place() {
        let store = MemoryStore::with_capacity(4 * SHARDS);
        acquired(store.reserve_now("handled", LEASE));
        store.complete_now("handled", KEEP);
        for _ in 0..1_000 {
            let token = acquired(store.reserve_now("failing", LEASE));
            store.release_now("failing", token);
        }
        assert_eq!(store.len(), 1, "released keys are not counted");
        // A token that is not the holder's frees nothing, and counts nothing
        // twice: not even one equal to the store's own marker.
        store.release_now("failing", Token::new(u128::from(RELEASED)));
        assert_eq!(store.len(), 1);
        assert_eq!(store.reserve_now("handled", LEASE), Reservation::Done);
        assert_eq!(store.evictions(), 0);
        let (places, indexed) = store.inner.shards.iter().fold((0, 0), |(p, i), shard| {
            let shard = lock(shard);
            (p + shard.ring.len(), i + shard.index.len())
        });
        assert_eq!((places, indexed), (2, 2));
    }

    /// `n` keys that land in one shard, the `shard`th.
    fn keys_in_shard(store: &MemoryStore, n: usize, shard: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("key-{i}"))
            .filter(|key| shard_index(store.inner.hashers.fingerprint(key).hash) == shard)
            .take(n)
            .collect()
    }

    /// A success after the lease, once a retry took the key and failed:
    /// the key becomes DONE where it stands, and the full shard's other
    /// handled key keeps its place.
    #[test]
    fn a_late_success_takes_no_other_key_s_place() {
        let store = MemoryStore::with_capacity(2 * SHARDS);
        let [handled, late] = <[String; 2]>::try_from(keys_in_shard(&store, 2, 0)).unwrap();
        acquired(store.reserve_now(&handled, LEASE));
        store.complete_now(&handled, KEEP);
        acquired(store.reserve_now(&late, Duration::ZERO)); // over at once
        let retry = acquired(store.reserve_now(&late, LEASE));
        store.release_now(&late, retry);
        store.complete_now(&late, KEEP); // the first attempt's 2xx
        assert_eq!(store.reserve_now(&late, LEASE), Reservation::Done);
        assert_eq!(store.reserve_now(&handled, LEASE), Reservation::Done);
        assert_eq!((store.evictions(), store.len()), (0, 2));
    }

    /// Completing a key whose retention is over renews it in place; the
    /// full shard's delivery in flight stays held.
    #[test]
    fn renewing_a_handled_key_leaves_a_reservation_held() {
        let store = MemoryStore::with_capacity(2 * SHARDS);
        let [held, handled] = <[String; 2]>::try_from(keys_in_shard(&store, 2, 3)).unwrap();
        acquired(store.reserve_now(&held, LEASE));
        store.complete_now(&handled, Duration::ZERO); // remembered no longer
        store.complete_now(&handled, KEEP);
        assert_eq!(store.reserve_now(&held, LEASE), Reservation::InFlight);
        assert_eq!(store.reserve_now(&handled, LEASE), Reservation::Done);
        assert_eq!(store.evictions(), 0);
    }

    /// Leases and retentions below a millisecond still hold their key.
    #[test]
    fn a_lease_under_a_millisecond_holds_its_key() {
        let store = MemoryStore::new();
        let short = Duration::from_micros(900);
        let token = acquired(store.reserve_now("key", short));
        // Unless a millisecond passed since, the key is still held.
        let again = store.reserve_now("key", short);
        assert!(
            again == Reservation::InFlight || store.now() > 0,
            "{again:?}"
        );
        store.release_now("key", token);
        assert_eq!(ttl(short), 1);
        assert_eq!(ttl(Duration::ZERO), 0);
        assert_eq!(ttl(Duration::from_millis(7)), 7);
        assert_eq!(ttl(Duration::MAX), u64::MAX);
    }

    proptest::proptest! {
        /// Whatever the calls, on keys crowding one small shard: a call
        /// on a key the store has changes no other key; a call that adds
        /// a key takes at most the oldest's place, and counts an eviction
        /// exactly when that key was held or handled and unexpired; a
        /// reservation answers as the key's slot before it says.
        #[test]
        fn a_call_touches_only_its_key_and_the_oldest(
            per_shard in 1usize..4,
            calls in proptest::collection::vec((0u8..3, 0usize..6, proptest::bool::ANY), 0..200),
        ) {
            let store = MemoryStore::with_capacity(per_shard * SHARDS);
            let keys = keys_in_shard(&store, 6, 0);
            // Each key's raw slot, and whether it is unexpired.
            let look = |key: &str| {
                let now = store.now();
                let (fingerprint, shard) = store.shard(key);
                shard.find(fingerprint).map(|(_, slot)| (slot.token, slot.expires > now))
            };
            let mut tokens: Vec<Option<Token>> = vec![None; keys.len()];
            for (call, k, long) in calls {
                let time = if long { KEEP } else { Duration::ZERO };
                let before: Vec<_> = keys.iter().map(|key| look(key)).collect();
                let evictions = store.evictions();
                match call {
                    0 => {
                        let answer = store.reserve_now(&keys[k], time);
                        let expected = match before[k] {
                            Some((DONE, true)) => Some(Reservation::Done),
                            Some((token, true)) if reserved(token) => Some(Reservation::InFlight),
                            _ => None,
                        };
                        match (expected, answer) {
                            (None, Reservation::Acquired(token)) => tokens[k] = Some(token),
                            (expected, answer) => proptest::prop_assert_eq!(expected, Some(answer)),
                        }
                    }
                    1 => store.complete_now(&keys[k], time),
                    _ => {
                        if let Some(token) = tokens[k] {
                            store.release_now(&keys[k], token);
                        }
                    }
                }
                let after: Vec<_> = keys.iter().map(|key| look(key)).collect();
                let gone: Vec<usize> = (0..keys.len())
                    .filter(|&j| j != k && before[j].is_some() && after[j].is_none())
                    .collect();
                for j in (0..keys.len()).filter(|&j| j != k && !gone.contains(&j)) {
                    proptest::prop_assert_eq!(before[j], after[j], "key {} changed", j);
                }
                if before[k].is_some() {
                    proptest::prop_assert!(gone.is_empty(), "{:?} went", gone);
                }
                proptest::prop_assert!(gone.len() <= 1);
                let evicted = gone
                    .iter()
                    .any(|&j| before[j].is_some_and(|(token, live)| live && counted(token)));
                proptest::prop_assert_eq!(store.evictions() - evictions, u64::from(evicted));
            }
        }

        /// A shard holds exactly the keys of its last `capacity` insertions,
        /// and an insertion says it evicted exactly when it overwrote a
        /// held, unexpired key: checked against a plain ring of keys, with
        /// few keys and a small ring so that stale index positions,
        /// overwrites and index rebuilds all happen.
        #[test]
        fn a_shard_holds_its_last_insertions(
            capacity in 1usize..6,
            ops in proptest::collection::vec((0u8..8, proptest::bool::ANY), 0..400),
        ) {
            let hashers = Hashers::new();
            let keys: Vec<Fingerprint> =
                (0..8).map(|k| hashers.fingerprint(&format!("k{k}"))).collect();
            let mut shard = Shard::default();
            // The model: the last `capacity` insertions, oldest first, as
            // (key, expired).
            let mut model: std::collections::VecDeque<(u8, bool)> = Default::default();
            for (key, expired) in ops {
                if model.iter().any(|&(k, _)| k == key) {
                    continue; // the store inserts only keys it does not have
                }
                let expires = if expired { 5 } else { 1_000 };
                let evicted = shard.insert(keys[usize::from(key)], slot(expires), capacity, 10);
                let overwritten = if model.len() == capacity { model.pop_front() } else { None };
                proptest::prop_assert_eq!(
                    evicted,
                    overwritten.is_some_and(|(_, expired)| !expired)
                );
                model.push_back((key, expired));
                for k in 0..8u8 {
                    proptest::prop_assert_eq!(
                        shard.find(keys[usize::from(k)]).is_some(),
                        model.iter().any(|&(held, _)| held == k)
                    );
                }
                proptest::prop_assert_eq!(shard.live, model.len());
                proptest::prop_assert!(shard.index.len() <= 2 * capacity + 16);
            }
        }
    }
}
