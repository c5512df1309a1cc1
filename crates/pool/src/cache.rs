//! The packet cache for forwarded answers (dnsdist's `newPacketCache`).
//!
//! The key is the query without its ID: the name case-folded, type,
//! class, the RD/CD/DO bits, whether EDNS was there, and the transport.
//! An entry keeps the backend's answer and when it expires (its smallest
//! TTL, capped by `maxTTL`; SERVFAIL and REFUSED get
//! `temporaryFailureTTL`). A hit is copied out with the client's ID and
//! name case, and every TTL aged by the time spent in the cache. Shards
//! each behind a mutex keep workers apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `newPacketCache` options.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    pub max_entries: usize,
    pub max_ttl: u32,
    /// Answers whose TTL is below this are not cached.
    pub min_ttl: u32,
    pub temporary_failure_ttl: u32,
    /// Longest TTL kept for NXDOMAIN and NODATA answers.
    pub max_negative_ttl: u32,
    pub dont_age: bool,
    pub shards: usize,
    /// Whether a query's DNS cookie counts in its key (dnsdist's
    /// `cookieHashing`; off: a cookie, unique per client, would defeat
    /// the cache).
    pub cookie_hashing: bool,
    /// EDNS options left out of the key (`skipOptions`).
    pub skip_options: Vec<u16>,
    /// Keep expired entries when the cache is cleaned (`keepStaleData`),
    /// for serving stale.
    pub keep_stale_data: bool,
    /// The TTL of the records of an expired answer served stale
    /// (`staleTTL`).
    pub stale_ttl: u32,
    /// Look at the ECS option of queries and answers (`parseECS`): a
    /// `useClientSubnet` answer whose scope is 0 is kept for every
    /// client, not just the client's network.
    pub parse_ecs: bool,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: 100_000,
            max_ttl: 86_400,
            min_ttl: 0,
            temporary_failure_ttl: 60,
            max_negative_ttl: 3600,
            dont_age: false,
            shards: 20,
            cookie_hashing: false,
            skip_options: Vec::new(),
            keep_stale_data: false,
            stale_ttl: 60,
            parse_ecs: false,
        }
    }
}

/// The DNS cookie option (RFC 7873).
const COOKIE: u16 = 10;

struct Entry {
    answer: Vec<u8>,
    inserted: Instant,
    ttl: u32,
    /// For an answer without a question (a backend's header-only
    /// SERVFAIL or REFUSED): the question it answers (name, type, class),
    /// checked on the way out as the others' own question is.
    question: Option<Box<[u8]>>,
}

/// Whether `answer` carries no question (header only).
fn header_only(answer: &[u8]) -> bool {
    answer.get(4..6) == Some(&[0, 0])
}

/// A packet cache.
pub struct PacketCache {
    pub options: CacheOptions,
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    too_short: AtomicU64,
    full: AtomicU64,
    /// Per shard, when it was last swept (ms since `created`).
    swept: Vec<AtomicU64>,
    created: Instant,
}

impl std::fmt::Debug for PacketCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketCache({} entries max)", self.options.max_entries)
    }
}

/// What the key is made of.
#[derive(Clone, Copy, Debug)]
pub struct CacheKey<'a> {
    /// The query name, lowercase wire form.
    pub lname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    /// The query's flags word (RD and CD count).
    pub flags: u16,
    pub edns: bool,
    pub dnssec_ok: bool,
    pub tcp: bool,
    /// The query's EDNS options as they count ([`PacketCache::options_digest`]).
    pub options: u64,
}

impl CacheKey<'_> {
    fn hash(&self) -> u64 {
        let mut h = wire::hash::Fnv1a::new();
        h.bytes(self.lname);
        h.bytes(&self.qtype.to_be_bytes());
        h.bytes(&self.qclass.to_be_bytes());
        let rd = self.flags & 0x0100 != 0;
        let cd = self.flags & 0x0010 != 0;
        h.byte(u8::from(rd) | (u8::from(cd) << 1));
        h.byte(u8::from(self.edns) | u8::from(self.dnssec_ok) << 1 | u8::from(self.tcp) << 2);
        h.bytes(&self.options.to_be_bytes());
        wire::random::mix(h.finish())
    }

    /// Whether `message` has this key's question: one question, the same
    /// name ignoring case, type and class. Keys are hashes, so entries are
    /// checked on the way in and out.
    fn is_question_of(&self, message: &[u8]) -> bool {
        wire::query::has_question(message, self.lname, self.qtype, Some(self.qclass))
    }

    /// The question as a header-only entry keeps it.
    fn question(&self) -> Box<[u8]> {
        let mut q = self.lname.to_vec();
        q.extend_from_slice(&self.qtype.to_be_bytes());
        q.extend_from_slice(&self.qclass.to_be_bytes());
        q.into()
    }

    /// Whether the cached entry `e` answers this key.
    fn is_answered_by(&self, e: &Entry) -> bool {
        match &e.question {
            Some(q) => **q == *self.question(),
            None => self.is_question_of(&e.answer),
        }
    }
}

impl PacketCache {
    pub fn new(options: CacheOptions) -> PacketCache {
        let shards = options.shards.max(1);
        PacketCache {
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            swept: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            created: Instant::now(),
            options,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            too_short: AtomicU64::new(0),
            full: AtomicU64::new(0),
        }
    }

    /// What a query's OPT record adds to its key, as dnsdist hashes the
    /// query: the payload size, and the options (`[code][len][data]…`, as
    /// `wire::Query::edns_options`) in order, where a skipped one (in
    /// `skipOptions`, or the cookie unless `cookie_hashing`) counts by its
    /// code and length but not its data. `None` (no OPT): 0.
    pub fn options_digest(&self, edns: Option<(u16, &[u8])>) -> u64 {
        let Some((payload, options)) = edns else {
            return 0;
        };
        let mut h = wire::hash::Fnv1a::new();
        h.bytes(&payload.to_be_bytes());
        let mut rest = options;
        while let [c0, c1, l0, l1, tail @ ..] = rest {
            let code = u16::from_be_bytes([*c0, *c1]);
            let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
            let skipped = self.options.skip_options.contains(&code)
                || (code == COOKIE && !self.options.cookie_hashing);
            h.bytes(&rest[..if skipped { 4 } else { 4 + len }]);
            rest = &tail[len..];
        }
        h.finish()
    }

    /// `digest` ([`PacketCache::options_digest`]) with the ECS option a
    /// `useClientSubnet` backend is sent (`option`, code and length
    /// included): its answers are kept per client network.
    pub fn with_ecs(digest: u64, option: &[u8]) -> u64 {
        let mut h = wire::hash::Fnv1a::from_state(digest ^ 0x9e37_79b9_7f4a_7c15);
        h.bytes(option);
        h.finish()
    }

    fn shard(&self, h: u64) -> &Mutex<HashMap<u64, Entry>> {
        &self.shards[(h % self.shards.len() as u64) as usize]
    }

    /// Copies a cached answer for `key` into `out`, with `id` and the
    /// question name exactly as `qname` (the client's case). An entry up
    /// to `stale` seconds past expiry will do (0: fresh ones only). Its
    /// length.
    pub fn get(
        &self,
        key: &CacheKey,
        id: u16,
        qname: &[u8],
        out: &mut [u8],
        stale: u32,
    ) -> Option<usize> {
        let h = key.hash();
        let shard = self.shard(h).lock().unwrap_or_else(|p| p.into_inner());
        let hit = shard.get(&h).and_then(|e| {
            let age = e.inserted.elapsed().as_secs().min(u64::from(u32::MAX)) as u32;
            let fresh = age < e.ttl;
            let usable = fresh || age < e.ttl.saturating_add(stale);
            (usable && e.answer.len() <= out.len() && key.is_answered_by(e)).then_some((e, age))
        });
        let Some((e, age)) = hit else {
            // A stale look comes after a fresh one missed: one miss.
            if stale == 0 {
                self.misses.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        };
        let expired = age >= e.ttl;
        let len = e.answer.len();
        out[..len].copy_from_slice(&e.answer);
        drop(shard);
        out[..2].copy_from_slice(&id.to_be_bytes());
        if !header_only(&out[..len]) {
            out[12..12 + qname.len()].copy_from_slice(qname);
        }
        if expired {
            let ttl = self.options.stale_ttl;
            let _ = wire::edit::clamp_ttls(&mut out[..len], ttl, ttl, &[]);
        } else if !self.options.dont_age && age > 0 {
            wire::edit::age_ttls(&mut out[..len], age);
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(len)
    }

    /// Stores a backend's answer for `key`.
    pub fn insert(&self, key: &CacheKey, answer: &[u8]) {
        self.insert_with(key, answer, None);
    }

    /// As [`PacketCache::insert`], a SERVFAIL or REFUSED answer kept for
    /// `temp_failure_ttl` seconds when given (a rule's choice) rather
    /// than the cache's `temporary_failure_ttl`.
    pub fn insert_with(&self, key: &CacheKey, answer: &[u8], temp_failure_ttl: Option<u32>) {
        let rcode = answer.get(3).map_or(0, |b| b & 0xf);
        // A temporary failure may come without a question (the forwarder
        // matched it to its query by ID); it is kept with the key's.
        let bare = header_only(answer) && matches!(rcode, 2 | 5);
        if answer.len() < 12 || answer[2] & 0x02 != 0 || !(bare || key.is_question_of(answer)) {
            return; // truncated answers, or not this key's, are never cached
        }
        // NXDOMAIN, or NOERROR without answers: negative.
        let negative = rcode == 3 || (rcode == 0 && answer[6..8] == [0, 0]);
        let ttl = match rcode {
            2 | 5 => temp_failure_ttl.unwrap_or(self.options.temporary_failure_ttl),
            0 | 3 => match wire::edit::min_ttl(answer) {
                Some(t) if negative => {
                    t.min(self.options.max_ttl.min(self.options.max_negative_ttl))
                }
                Some(t) => t.min(self.options.max_ttl),
                None => return,
            },
            _ => return,
        };
        if ttl == 0 || ttl < self.options.min_ttl {
            self.too_short.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let h = key.hash();
        let per_shard = self.options.max_entries.div_ceil(self.shards.len()).max(1);
        let mut shard = self.shard(h).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= per_shard && !shard.contains_key(&h) {
            // A full shard is swept for expired entries at most once a
            // second: under a flood of new names every miss would
            // otherwise scan the whole shard with its lock held.
            let now = Instant::now();
            let swept = &self.swept[(h % self.shards.len() as u64) as usize];
            let now_ms = now.duration_since(self.created).as_millis() as u64;
            if now_ms.saturating_sub(swept.load(Ordering::Relaxed)) >= 1000 {
                swept.store(now_ms, Ordering::Relaxed);
                shard.retain(|_, e| {
                    now.duration_since(e.inserted) < Duration::from_secs(u64::from(e.ttl))
                });
            }
            if shard.len() >= per_shard {
                self.full.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        shard.insert(
            h,
            Entry {
                answer: answer.to_vec(),
                inserted: Instant::now(),
                ttl,
                question: bare.then(|| key.question()),
            },
        );
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes entries until at most `keep` remain (expired ones first).
    pub fn expunge(&self, keep: usize) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            let before = s.len();
            s.retain(|_, e| e.inserted.elapsed() < Duration::from_secs(u64::from(e.ttl)));
            removed += before - s.len();
        }
        let mut excess = self.len().saturating_sub(keep);
        for shard in &self.shards {
            if excess == 0 {
                break;
            }
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            let drop_keys: Vec<u64> = s.keys().take(excess).copied().collect();
            for k in drop_keys {
                s.remove(&k);
                excess -= 1;
                removed += 1;
            }
        }
        removed
    }

    /// Removes the entries for `lname` (lowercase wire), of type `qtype`
    /// (`None`: any), and with `suffix` those for names below it too.
    pub fn expunge_name(&self, lname: &[u8], qtype: Option<u16>, suffix: bool) -> usize {
        // The question: the entry's own for a header-only answer.
        let matches = |e: &Entry| {
            let question = match &e.question {
                Some(q) => &q[..],
                None => e.answer.get(12..).unwrap_or_default(),
            };
            let Some(len) = wire::name::uncompressed_len(question) else {
                return false;
            };
            let (name, rest) = question.split_at(len);
            let name_ok = if suffix {
                wire::name::is_subdomain(name, lname)
            } else {
                name.eq_ignore_ascii_case(lname)
            };
            let type_ok = qtype.is_none_or(|t| rest.get(..2) == Some(&t.to_be_bytes()[..]));
            name_ok && type_ok
        };
        let mut removed = 0;
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            let before = s.len();
            s.retain(|_, e| !matches(e));
            removed += before - s.len();
        }
        removed
    }

    /// Removes expired entries until at most `up_to` remain (dnsdist's
    /// cache cleaning); none with `keep_stale_data`. How many it removed.
    pub fn purge_expired(&self, up_to: usize) -> usize {
        if self.options.keep_stale_data {
            return 0;
        }
        let mut left = self.len();
        let mut removed = 0;
        for shard in &self.shards {
            if left <= up_to {
                break;
            }
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            s.retain(|_, e| {
                let expired = e.inserted.elapsed() >= Duration::from_secs(u64::from(e.ttl));
                if expired && left > up_to {
                    left -= 1;
                    removed += 1;
                    return false;
                }
                true
            });
        }
        removed
    }

    /// The counters dnsdist's `getStats()` gives, by its names.
    pub fn counters(&self) -> [(&'static str, u64); 6] {
        [
            ("entries", self.len() as u64),
            ("maxEntries", self.options.max_entries as u64),
            ("hits", self.hits.load(Ordering::Relaxed)),
            ("misses", self.misses.load(Ordering::Relaxed)),
            ("insertCollisions", self.full.load(Ordering::Relaxed)),
            ("ttlTooShorts", self.too_short.load(Ordering::Relaxed)),
        ]
    }

    /// `pc:printStats()`, as dnsdist's.
    pub fn stats(&self) -> String {
        format!(
            "Entries: {}/{}\nHits: {}\nMisses: {}\nDeferred inserts: 0\nDeferred lookups: 0\nLookup Collisions: 0\nInsert Collisions: {}\nTTL Too Shorts: {}\n",
            self.len(),
            self.options.max_entries,
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.full.load(Ordering::Relaxed),
            self.too_short.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// www.example.org A, answered with TTL 300.
    fn answer(id: u16, case: &[u8]) -> Vec<u8> {
        let mut p = id.to_be_bytes().to_vec();
        p.extend_from_slice(&[0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
        p.extend_from_slice(case);
        p.extend_from_slice(&[
            0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
        ]);
        p
    }

    const NAME: &[u8] = b"\x03www\x07example\x03org\x00";

    fn key(lname: &[u8]) -> CacheKey<'_> {
        CacheKey {
            lname,
            qtype: 1,
            qclass: 1,
            flags: 0x0100,
            edns: false,
            dnssec_ok: false,
            tcp: false,
            options: 0,
        }
    }

    #[test]
    fn hit_with_client_id_and_case() {
        let c = PacketCache::new(CacheOptions::default());
        c.insert(&key(NAME), &answer(1, NAME));
        let mut out = [0u8; 512];
        let client_case = b"\x03WwW\x07Example\x03org\x00";
        let n = c
            .get(&key(NAME), 77, client_case, &mut out, 0)
            .expect("hit");
        assert_eq!(&out[..2], &[0, 77]);
        assert_eq!(&out[12..12 + client_case.len()], client_case);
        assert_eq!(wire::edit::min_ttl(&out[..n]), Some(300));
        assert!(c
            .get(&key(b"\x01x\x00"), 1, b"\x01x\x00", &mut out, 0)
            .is_none());
        assert!(c
            .stats()
            .starts_with("Entries: 1/100000\nHits: 1\nMisses: 1\n"));
        assert_eq!(c.expunge_name(NAME, Some(28), false), 0, "another type");
        assert_eq!(c.expunge_name(b"\x07example\x03org\x00", None, false), 0);
        assert_eq!(c.expunge_name(b"\x07example\x03org\x00", Some(1), true), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn header_only_failures_are_kept_with_their_question() {
        let c = PacketCache::new(CacheOptions::default());
        // REFUSED, no question, as some backends answer.
        let refused = [0u8, 1, 0x81, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];
        c.insert(&key(NAME), &refused);
        let mut nodata = refused;
        nodata[3] = 0x80;
        c.insert(&key(b"\x01x\x00"), &nodata);
        assert_eq!(
            c.len(),
            1,
            "only temporary failures come without a question"
        );
        let mut out = [0u8; 512];
        let n = c.get(&key(NAME), 9, NAME, &mut out, 0).expect("hit");
        assert_eq!(out[..n], [0, 9, 0x81, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(c
            .get(&key(b"\x01x\x00"), 9, b"\x01x\x00", &mut out, 0)
            .is_none());
        assert_eq!(c.expunge_name(NAME, Some(1), false), 1);
    }

    #[test]
    fn ttls_age_and_short_ttls_are_not_kept() {
        let mut p = answer(1, NAME);
        wire::edit::age_ttls(&mut p, 100);
        assert_eq!(wire::edit::min_ttl(&p), Some(200));
        let c = PacketCache::new(CacheOptions {
            min_ttl: 500,
            ..CacheOptions::default()
        });
        c.insert(&key(NAME), &answer(1, NAME));
        assert!(c.is_empty());
    }

    #[test]
    fn answers_to_another_question_are_not_kept_and_big_ones_not_given() {
        let c = PacketCache::new(CacheOptions::default());
        c.insert(&key(NAME), &answer(1, b"\x05other\x07example\x03org\x00"));
        assert!(c.is_empty(), "another name");
        let mut wrong_type = answer(1, NAME);
        wrong_type[12 + NAME.len() + 1] = 28;
        c.insert(&key(NAME), &wrong_type);
        assert!(c.is_empty(), "another type");
        c.insert(&key(NAME), &answer(1, NAME));
        let mut small = [0u8; 20];
        assert!(c.get(&key(NAME), 1, NAME, &mut small, 0).is_none());
    }

    #[test]
    fn cookies_count_only_with_cookie_hashing_and_skipped_options_never() {
        let ecs = [0u8, 8, 0, 4, 0, 1, 24, 0];
        let other_ecs = [0u8, 8, 0, 4, 0, 1, 16, 0];
        let cookie = [0u8, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        let other_cookie = [0u8, 10, 0, 8, 9, 9, 9, 9, 9, 9, 9, 9];
        let both = |e: &[u8], c: &[u8]| [e, c].concat();
        let d = |c: &PacketCache, o: &[u8]| c.options_digest(Some((1232, o)));
        let plain = PacketCache::new(CacheOptions::default());
        assert_eq!(d(&plain, &cookie), d(&plain, &other_cookie));
        assert_ne!(d(&plain, &cookie), d(&plain, &[]), "a cookie or none");
        assert_ne!(d(&plain, &both(&ecs, &cookie)), d(&plain, &cookie));
        assert_ne!(
            d(&plain, &both(&ecs, &cookie)),
            d(&plain, &both(&other_ecs, &cookie)),
            "a client's ECS counts"
        );
        assert_ne!(
            plain.options_digest(Some((512, &[]))),
            plain.options_digest(Some((4096, &[]))),
            "the payload size counts"
        );
        assert_eq!(plain.options_digest(None), 0);
        let hashing = PacketCache::new(CacheOptions {
            cookie_hashing: true,
            skip_options: vec![8],
            ..CacheOptions::default()
        });
        assert_ne!(d(&hashing, &cookie), d(&hashing, &other_cookie));
        assert_eq!(
            d(&hashing, &both(&ecs, &cookie)),
            d(&hashing, &both(&other_ecs, &cookie)),
            "a skipped option's data does not count"
        );
        // A cut-short option list ends the walk, never panics.
        let _ = d(&hashing, &[0, 8, 0, 40, 1]);
    }

    #[test]
    fn negative_answers_keep_at_most_max_negative_ttl() {
        let c = PacketCache::new(CacheOptions {
            max_negative_ttl: 10,
            ..CacheOptions::default()
        });
        // NXDOMAIN with an SOA of TTL 300 in the authority section.
        let mut nx = answer(1, NAME);
        nx[3] = 0x03;
        nx[6..10].copy_from_slice(&[0, 0, 0, 1]);
        c.insert(&key(NAME), &nx);
        let entry_ttl = c
            .shards
            .iter()
            .find_map(|s| s.lock().unwrap().values().next().map(|e| e.ttl));
        assert_eq!(entry_ttl, Some(10));
    }

    #[test]
    fn purging_removes_only_expired_entries_unless_stale_data_is_kept() {
        for keep in [false, true] {
            let c = PacketCache::new(CacheOptions {
                keep_stale_data: keep,
                ..CacheOptions::default()
            });
            c.insert(&key(NAME), &answer(1, NAME));
            assert_eq!(c.purge_expired(0), 0, "fresh");
            for s in &c.shards {
                for e in s.lock().unwrap().values_mut() {
                    e.ttl = 0;
                }
            }
            assert_eq!(c.purge_expired(0), usize::from(!keep));
        }
    }

    #[test]
    fn a_rule_sets_how_long_a_temporary_failure_is_kept() {
        let mut servfail = answer(1, NAME);
        servfail[3] = 0x02;
        let ttl_of = |c: &PacketCache| {
            c.shards
                .iter()
                .find_map(|s| s.lock().unwrap().values().next().map(|e| e.ttl))
        };
        let c = PacketCache::new(CacheOptions::default());
        c.insert(&key(NAME), &servfail);
        assert_eq!(ttl_of(&c), Some(60), "temporaryFailureTTL");
        let c = PacketCache::new(CacheOptions::default());
        c.insert_with(&key(NAME), &servfail, Some(1));
        assert_eq!(ttl_of(&c), Some(1), "SetTempFailureCacheTTLAction");
    }

    #[test]
    fn a_stale_answer_gets_the_stale_ttl_and_one_miss_is_counted() {
        let c = PacketCache::new(CacheOptions {
            stale_ttl: 30,
            ..CacheOptions::default()
        });
        c.insert(&key(NAME), &answer(1, NAME));
        for s in &c.shards {
            for e in s.lock().unwrap().values_mut() {
                e.ttl = 0;
            }
        }
        let mut out = [0u8; 512];
        assert!(c.get(&key(NAME), 1, NAME, &mut out, 0).is_none(), "expired");
        let n = c.get(&key(NAME), 1, NAME, &mut out, 100).expect("stale");
        assert_eq!(wire::edit::min_ttl(&out[..n]), Some(30));
        assert!(c.stats().contains("Hits: 1\nMisses: 1\n"), "{}", c.stats());
    }
}
