//! Response Rate Limiting, as BIND 9.18 does it (`rate-limit { … }`).
//!
//! Each UDP response is put in a bucket keyed by the client's prefix
//! (/24 and /56 by default), the kind of response and one name: the
//! question for answers and NODATA, the delegation point for referrals,
//! the zone for NXDOMAIN and errors (so a random-subdomain flood is one
//! bucket). A bucket holds a balance: it starts at `rate`, each second
//! credits `rate` (capped at `rate`), each response debits one and is
//! sent while the balance stays at or above zero; the floor is
//! `-window × rate`, so a flood is remembered for up to `window` seconds.
//! A limited response is dropped, except that every `slip`th one (the
//! first of each cycle, as BIND) is "slipped": sent truncated, so a real
//! resolver behind a spoofed flood retries over TCP, where no limit holds.
//!
//! The table is a fixed array of packed 64-bit buckets, updated with a
//! compare-and-swap: no lock, no allocation per response, and a size set
//! once by `max-table-size`. A bucket is chosen from two neighbouring
//! slots; a key that finds neither replaces the older one (an attacker
//! who thrashes the table gets fresh buckets, as with BIND's recycling of
//! its oldest entries). The key is hashed with foldhash under a
//! per-process random seed, so crafted names cannot aim at another
//! client's bucket; SipHash (std's `RandomState`) cost a third of an
//! answer's instructions.
//!
//! Only the start and end of limiting are logged, and at most
//! [`LOG_LINES_PER_SECOND`] lines a second overall.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::netmask::{mask, NetmaskGroup};
use crate::ShieldError;

/// What a response is, for accounting (BIND's categories).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A non-empty answer: keyed by name and type.
    Answer,
    /// A delegation: keyed by the delegation point.
    Referral,
    /// NOERROR with no answer: keyed by name.
    Nodata,
    /// Keyed by the zone.
    Nxdomain,
    /// Any other rcode: keyed by the zone (or the root outside ours).
    Error,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Answer => "responses",
            Kind::Referral => "referrals",
            Kind::Nodata => "nodata",
            Kind::Nxdomain => "nxdomains",
            Kind::Error => "errors",
        }
    }
}

/// BIND's `DNS_RRL_MAX_RATE`.
pub const MAX_RATE: u32 = 1000;
/// Log lines about limiting, at most, per second (the rest are counted).
pub const LOG_LINES_PER_SECOND: u32 = 10;
/// Log lines kept for the control thread to print, at most.
const LOG_QUEUE: usize = 256;
/// Buckets remembered for logging and `showRRL()`, at most.
const ACTIVE_MAX: usize = 1024;
/// Prefixes `showRRL()` lists, at most.
const SHOW_MAX: usize = 64;

/// The settings, with BIND 9.18's names (in `set`) and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub responses_per_second: u32,
    /// `None`: as `responses_per_second`.
    pub referrals_per_second: Option<u32>,
    pub nodata_per_second: Option<u32>,
    pub nxdomains_per_second: Option<u32>,
    pub errors_per_second: Option<u32>,
    /// All responses to a prefix; limited ones are dropped, never slipped.
    pub all_per_second: u32,
    pub window: u32,
    pub slip: u32,
    pub ipv4_prefix_length: u8,
    pub ipv6_prefix_length: u8,
    pub qps_scale: u32,
    pub exempt_clients: NetmaskGroup,
    /// Account and log, but send everything (a dry run).
    pub log_only: bool,
    pub max_table_size: u32,
    /// Accepted for BIND configs; the table is made at its full size.
    pub min_table_size: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            responses_per_second: 0,
            referrals_per_second: None,
            nodata_per_second: None,
            nxdomains_per_second: None,
            errors_per_second: None,
            all_per_second: 0,
            window: 15,
            slip: 2,
            ipv4_prefix_length: 24,
            ipv6_prefix_length: 56,
            qps_scale: 0,
            exempt_clients: NetmaskGroup::new(),
            log_only: false,
            max_table_size: 20_000,
            min_table_size: 500,
        }
    }
}

/// The option names [`Settings::set`] takes (BIND's spelling), for
/// messages and for the Lua binding's camelCase translation.
pub const OPTION_NAMES: &[&str] = &[
    "responses-per-second",
    "referrals-per-second",
    "nodata-per-second",
    "nxdomains-per-second",
    "errors-per-second",
    "all-per-second",
    "window",
    "slip",
    "ipv4-prefix-length",
    "ipv6-prefix-length",
    "qps-scale",
    "log-only",
    "max-table-size",
    "min-table-size",
    "exempt-clients",
];

impl Settings {
    /// Sets option `name` (BIND's spelling, or NSD's/Knot's where they
    /// mean the same) from its written value. Errors say what was
    /// expected; the caller adds where.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ShieldError> {
        let rate = |v: &str| number(name, v, 0, MAX_RATE);
        match name {
            "responses-per-second" | "rrl-ratelimit" | "rate-limit" => {
                self.responses_per_second = rate(value)?
            }
            "referrals-per-second" => self.referrals_per_second = Some(rate(value)?),
            "nodata-per-second" => self.nodata_per_second = Some(rate(value)?),
            "nxdomains-per-second" => self.nxdomains_per_second = Some(rate(value)?),
            "errors-per-second" => self.errors_per_second = Some(rate(value)?),
            "all-per-second" => self.all_per_second = rate(value)?,
            "window" => self.window = number(name, value, 1, 3600)?,
            "slip" | "rrl-slip" => self.slip = number(name, value, 0, 10)?,
            "ipv4-prefix-length" | "rrl-ipv4-prefix-length" => {
                self.ipv4_prefix_length = number(name, value, 8, 32)? as u8
            }
            "ipv6-prefix-length" | "rrl-ipv6-prefix-length" => {
                self.ipv6_prefix_length = number(name, value, 16, 128)? as u8
            }
            "qps-scale" => self.qps_scale = number(name, value, 0, u32::MAX)?,
            "log-only" | "dry-run" => self.log_only = boolean(name, value)?,
            "max-table-size" | "rrl-size" | "table-size" => {
                self.max_table_size = number(name, value, 1, 100_000_000)?
            }
            "min-table-size" => self.min_table_size = number(name, value, 1, 100_000_000)?,
            "exempt-clients" | "whitelist" => {
                for item in value.split([',', ' ']).filter(|s| !s.is_empty()) {
                    let m =
                        crate::Netmask::parse(item).map_err(|source| ShieldError::NotNetmask {
                            name: name.to_string(),
                            item: item.to_string(),
                            source,
                        })?;
                    self.exempt_clients.add(m);
                }
            }
            _ => {
                return Err(ShieldError::UnknownOption {
                    name: name.to_string(),
                })
            }
        }
        Ok(())
    }

    /// The configured rate for `kind` (0: not limited).
    pub fn rate(&self, kind: Kind) -> u32 {
        let or = |r: Option<u32>| r.unwrap_or(self.responses_per_second);
        match kind {
            Kind::Answer => self.responses_per_second,
            Kind::Referral => or(self.referrals_per_second),
            Kind::Nodata => or(self.nodata_per_second),
            Kind::Nxdomain => or(self.nxdomains_per_second),
            Kind::Error => or(self.errors_per_second),
        }
    }

    /// Whether any response would ever be limited.
    pub fn limits_anything(&self) -> bool {
        self.all_per_second > 0
            || [
                Kind::Answer,
                Kind::Referral,
                Kind::Nodata,
                Kind::Nxdomain,
                Kind::Error,
            ]
            .iter()
            .any(|&k| self.rate(k) > 0)
    }
}

fn number(name: &str, value: &str, min: u32, max: u32) -> Result<u32, ShieldError> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ShieldError::OutOfRange {
            name: name.to_string(),
            min,
            max,
            found: value.to_string(),
        }),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, ShieldError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(ShieldError::NotBoolean {
            name: name.to_string(),
            found: value.to_string(),
        }),
    }
}

/// What to do with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Drop,
    /// Send a truncated stand-in (or BADCOOKIE to a cookie client).
    Slip,
}

// A bucket packed in 64 bits: tag (21) | second (13) | balance (24,
// offset binary) | slip position (4) | limited (1).
const TAG_BITS: u32 = 21;
const TIME_BITS: u32 = 13;
const BAL_BITS: u32 = 24;
const SLIP_BITS: u32 = 4;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const BAL_MASK: u64 = (1 << BAL_BITS) - 1;
const BAL_OFFSET: i64 = 1 << (BAL_BITS - 1);
const SLIP_MASK: u64 = (1 << SLIP_BITS) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    tag: u64,
    second: u64,
    balance: i64,
    slip_pos: u64,
    limited: bool,
}

impl Bucket {
    fn unpack(v: u64) -> Bucket {
        Bucket {
            tag: v & TAG_MASK,
            second: (v >> TAG_BITS) & TIME_MASK,
            balance: ((v >> (TAG_BITS + TIME_BITS)) & BAL_MASK) as i64 - BAL_OFFSET,
            slip_pos: (v >> (TAG_BITS + TIME_BITS + BAL_BITS)) & SLIP_MASK,
            limited: v >> 62 & 1 == 1,
        }
    }

    fn pack(self) -> u64 {
        let balance = (self.balance.clamp(1 - BAL_OFFSET, BAL_OFFSET - 1) + BAL_OFFSET) as u64;
        (self.tag & TAG_MASK)
            | (self.second & TIME_MASK) << TAG_BITS
            | (balance & BAL_MASK) << (TAG_BITS + TIME_BITS)
            | (self.slip_pos & SLIP_MASK) << (TAG_BITS + TIME_BITS + BAL_BITS)
            | u64::from(self.limited) << 62
    }
}

/// A change in a bucket worth a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Started,
    Stopped,
}

/// A bucket that was limited lately: for `showRRL()`, and so that one
/// flapping around its rate logs at most a line a window.
#[derive(Clone, Debug)]
struct Active {
    text: String,
    /// Limited now (not stopped since).
    limited: bool,
    /// What the log said last: limited or not.
    reported: bool,
    /// When it last changed (query-clock seconds), and when it was last
    /// logged.
    changed: u64,
    logged: u64,
}

/// The limiter: settings and the bucket table.
#[derive(Debug)]
pub struct Rrl {
    settings: Settings,
    table: Box<[AtomicU64]>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Responses in the current second (`second << 32 | count`) and the
    /// count of the last whole second, for `qps-scale`.
    qps_now: AtomicU64,
    qps_last: AtomicU64,
    /// The log budget of this second (`second << 32 | lines`).
    log_budget: AtomicU64,
    log_suppressed: AtomicU64,
    log: Mutex<VecDeque<String>>,
    active: Mutex<std::collections::HashMap<u64, Active>>,
}

impl Rrl {
    pub fn new(settings: Settings) -> Rrl {
        // Two slots a key, and room for every entry BIND would keep.
        let slots = (settings.max_table_size as usize)
            .next_power_of_two()
            .max(64);
        Rrl {
            table: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            settings,
            hasher: hashbrown::DefaultHashBuilder::default(),
            qps_now: AtomicU64::new(0),
            qps_last: AtomicU64::new(0),
            log_budget: AtomicU64::new(0),
            log_suppressed: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
            active: Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The verdict on one UDP response of `kind` to `client`, whose
    /// bucket name is `name` (lowercase wire form) and, for answers,
    /// `qtype`. `now_ns` is the query clock ([`crate::qps::now_ns`]).
    /// Inlined into the query path: a call's register saving was a tenth
    /// of its cost.
    #[inline]
    pub fn check(
        &self,
        client: IpAddr,
        kind: Kind,
        name: &[u8],
        qtype: u16,
        now_ns: u64,
    ) -> Verdict {
        let s = &self.settings;
        if !s.exempt_clients.is_empty() && s.exempt_clients.contains(client) {
            return Verdict::Send;
        }
        let second = now_ns / 1_000_000_000;
        let scale = self.scale(second);
        let (prefix, v6) = match client {
            IpAddr::V4(_) => (mask(client, s.ipv4_prefix_length), false),
            // BIND keys at most 64 bits of an IPv6 address.
            IpAddr::V6(_) => (mask(client, s.ipv6_prefix_length.min(64)), true),
        };
        let addr = match prefix {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        // The key as three words and the name: few writes into the hash.
        let key = |kind: u64, qtype: u16| {
            let meta = kind << 32 | u64::from(v6) << 16 | u64::from(qtype);
            ((addr >> 64) as u64, addr as u64, meta)
        };
        if s.all_per_second > 0 {
            let h = self.hasher.hash_one(key(0xff, 0));
            let rate = scale(s.all_per_second);
            // Limited by the all-responses rate: dropped, never slipped.
            if self.debit(h, rate, 0, second, || self.describe(prefix, None, name)) != Verdict::Send
            {
                return if s.log_only {
                    Verdict::Send
                } else {
                    Verdict::Drop
                };
            }
        }
        let rate = s.rate(kind);
        if rate == 0 {
            return Verdict::Send;
        }
        let qtype = if kind == Kind::Answer { qtype } else { 0 };
        let h = self.hasher.hash_one((key(kind as u64, qtype), name));
        let v = self.debit(h, scale(rate), s.slip, second, || {
            self.describe(prefix, Some(kind), name)
        });
        if s.log_only {
            Verdict::Send
        } else {
            v
        }
    }

    /// The rate scaling `qps-scale` asks for at this moment.
    fn scale(&self, second: u64) -> impl Fn(u32) -> u32 {
        let (limit, qps) = match self.settings.qps_scale {
            0 => (0, 0),
            limit => (u64::from(limit), self.count_qps(second)),
        };
        move |rate: u32| {
            if limit == 0 || qps <= limit {
                rate
            } else {
                ((u64::from(rate) * limit / qps).max(1)) as u32
            }
        }
    }

    /// Counts one response; the responses of the last whole second.
    fn count_qps(&self, second: u64) -> u64 {
        let now = self.qps_now.load(Ordering::Relaxed);
        // A worker still in an earlier second counts into the current one
        // rather than turning the clock back.
        if now >> 32 >= second & 0xffff_ffff {
            self.qps_now.fetch_add(1, Ordering::Relaxed);
        } else if self
            .qps_now
            .compare_exchange(
                now,
                (second << 32) | 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            // The first response of a new second closes the last one (a
            // gap of more than a second counts as a quiet one).
            let last = if (now >> 32) + 1 == second & 0xffff_ffff {
                now & 0xffff_ffff
            } else {
                0
            };
            self.qps_last.store(last, Ordering::Relaxed);
        }
        self.qps_last.load(Ordering::Relaxed)
    }

    /// Debits bucket `hash`: BIND's `debit_rrl_entry`, on a packed slot.
    fn debit(
        &self,
        hash: u64,
        rate: u32,
        slip: u32,
        second: u64,
        describe: impl FnOnce() -> String,
    ) -> Verdict {
        let rate = i64::from(rate);
        let window = i64::from(self.settings.window);
        let slots = self.table.len();
        let first = (hash >> 32) as usize & (slots - 1);
        let tag = (hash & TAG_MASK).max(1);
        let now = second & TIME_MASK;
        let mut outcome = (Verdict::Send, None);
        // A bounded number of tries: under heavy contention on one bucket
        // the verdict still stands, only the debit may be lost.
        for _ in 0..4 {
            let pair = [first, first ^ 1];
            let values = pair.map(|i| self.table[i].load(Ordering::Relaxed));
            // Tags and times read straight from the packed words: only the
            // bucket used is unpacked.
            let age = |v: u64| (now.wrapping_sub(v >> TAG_BITS)) & TIME_MASK;
            let (at, found) = match values.map(|v| v & TAG_MASK == tag) {
                [true, _] => (0, true),
                [_, true] => (1, true),
                // Replace an empty slot, else the one used longer ago.
                _ => match values {
                    [0, _] => (0, false),
                    [_, 0] => (1, false),
                    [a, b] => (usize::from(age(b) > age(a)), false),
                },
            };
            let old = Bucket::unpack(values[at]);
            // Workers stamp a query when it arrives: one may write a
            // second another has not reached yet. A bucket from "the
            // future" is treated as now (BIND: time jumps into the recent
            // past are no time), and keeps its newer second.
            let (elapsed, stamp) = match age(values[at]) {
                a if found && a > TIME_MASK / 2 => (0, old.second),
                a => (a as i64, now),
            };
            let mut balance = if !found || elapsed > window {
                rate
            } else {
                (old.balance + elapsed * rate).min(rate)
            };
            balance = (balance - 1).max(-window * rate);
            let limited = balance < 0;
            // A new episode of limiting starts its slip cycle afresh.
            let mut slip_pos = if found && old.limited {
                old.slip_pos
            } else {
                0
            };
            let verdict = if !limited {
                Verdict::Send
            } else if slip == 0 {
                Verdict::Drop
            } else {
                let v = if slip_pos == 0 {
                    Verdict::Slip
                } else {
                    Verdict::Drop
                };
                slip_pos = (slip_pos + 1) % u64::from(slip);
                v
            };
            let was_limited = found && old.limited;
            let new = Bucket {
                tag,
                second: stamp,
                balance,
                slip_pos,
                limited,
            };
            let event = match (was_limited, limited) {
                (false, true) => Some(Event::Started),
                (true, false) => Some(Event::Stopped),
                _ => None,
            };
            outcome = (verdict, event);
            if self.table[pair[at]]
                .compare_exchange_weak(values[at], new.pack(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                break;
            }
        }
        if let Some(event) = outcome.1 {
            self.note(event, hash, second, describe);
        }
        outcome.0
    }

    /// What a bucket is, in words (only on the rare path of an event).
    fn describe(&self, prefix: IpAddr, kind: Option<Kind>, name: &[u8]) -> String {
        let len = match prefix {
            IpAddr::V4(_) => self.settings.ipv4_prefix_length,
            IpAddr::V6(_) => self.settings.ipv6_prefix_length.min(64),
        };
        match kind {
            Some(k) => format!(
                "{prefix}/{len} {} for {}",
                k.name(),
                wire::name::to_text(name)
            ),
            None => format!("{prefix}/{len} all responses"),
        }
    }

    /// Logs a start or end of limiting and keeps the list of buckets
    /// limited lately. A start is logged when the log last said the
    /// bucket was not limited; an end only a window after the bucket's
    /// last line: one flapping around its rate says at most two lines a
    /// window and never leaves a limit in force unsaid. All buckets
    /// together say at most [`LOG_LINES_PER_SECOND`] lines a second.
    fn note(&self, event: Event, hash: u64, second: u64, describe: impl FnOnce() -> String) {
        let window = u64::from(self.settings.window);
        let limited = event == Event::Started;
        let text = {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            match active.get_mut(&hash) {
                Some(a) => {
                    a.limited = limited;
                    a.changed = second;
                    let quiet = !limited && second.saturating_sub(a.logged) < window;
                    if a.reported == limited || quiet {
                        return;
                    }
                    if !self.log_allowed() {
                        self.log_suppressed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    a.reported = limited;
                    a.logged = second;
                    a.text.clone()
                }
                None if !limited => return,
                None => {
                    // Described (an allocation) only when it is logged:
                    // a flood of new buckets costs a count, not a string.
                    if !self.log_allowed() {
                        self.log_suppressed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    if active.len() >= ACTIVE_MAX {
                        // At most one sweep per ACTIVE_MAX/2 new entries.
                        self.forget_ended(&mut active, second);
                    }
                    let text = describe();
                    if active.len() < ACTIVE_MAX {
                        let entry = Active {
                            text: text.clone(),
                            limited,
                            reported: limited,
                            changed: second,
                            logged: second,
                        };
                        active.insert(hash, entry);
                    }
                    text
                }
            }
        };
        let dry = if self.settings.log_only {
            " (log-only: nothing dropped)"
        } else {
            ""
        };
        let line = match event {
            Event::Started => format!("rate-limit: limiting {text}{dry}"),
            Event::Stopped => format!("rate-limit: stopped limiting {text}"),
        };
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= LOG_QUEUE {
            log.pop_front();
            self.log_suppressed.fetch_add(1, Ordering::Relaxed);
        }
        log.push_back(line);
    }

    /// Whether the bucket of `hash` is limited and was used within the
    /// window of `second` (query-clock seconds).
    fn still_limited(&self, hash: u64, second: u64) -> bool {
        let slots = self.table.len();
        let first = (hash >> 32) as usize & (slots - 1);
        let tag = (hash & TAG_MASK).max(1);
        let now = second & TIME_MASK;
        [first, first ^ 1].iter().any(|&i| {
            let b = Bucket::unpack(self.table[i].load(Ordering::Relaxed));
            b.tag == tag
                && b.limited
                && (now.wrapping_sub(b.second) & TIME_MASK) <= u64::from(self.settings.window)
        })
    }

    /// Forgets remembered buckets no longer limited (their flood moved on
    /// or their slot was taken), keeping half the room free at most.
    fn forget_ended(&self, active: &mut std::collections::HashMap<u64, Active>, second: u64) {
        let window = u64::from(self.settings.window);
        active.retain(|h, a| {
            if a.limited {
                self.still_limited(*h, second)
            } else {
                second.saturating_sub(a.changed) <= window
            }
        });
        if active.len() > ACTIVE_MAX / 2 {
            // Still crowded: keep the most recently changed half.
            let mut changes: Vec<u64> = active.values().map(|a| a.changed).collect();
            changes.sort_unstable();
            let cut = changes[changes.len() - ACTIVE_MAX / 2];
            active.retain(|_, a| a.changed >= cut);
        }
    }

    /// Takes one line of this second's log budget.
    fn log_allowed(&self) -> bool {
        let second = crate::qps::now_ns() / 1_000_000_000;
        let budget = self.log_budget.load(Ordering::Relaxed);
        if budget >> 32 != second {
            return self
                .log_budget
                .compare_exchange(
                    budget,
                    (second << 32) | 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        }
        if budget & 0xffff_ffff >= u64::from(LOG_LINES_PER_SECOND) {
            return false;
        }
        self.log_budget.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff
            < u64::from(LOG_LINES_PER_SECOND)
    }

    /// Writes the lines waiting (queued on the query path, throttled) to
    /// the log; the control loop calls it.
    pub fn write_log(&self) {
        for line in self.take_log() {
            log::warn!("{line}");
        }
    }

    /// The log lines waiting to be printed (with a count of those the
    /// throttle held back, if any).
    pub fn take_log(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        let suppressed = self.log_suppressed.swap(0, Ordering::Relaxed);
        if suppressed > 0 {
            lines.push(format!(
                "rate-limit: {suppressed} more log lines suppressed (at most {LOG_LINES_PER_SECOND} a second)"
            ));
        }
        lines
    }

    /// The buckets still limited, and recently so.
    fn limited_now(&self, now_ns: u64) -> Vec<String> {
        let second = now_ns / 1_000_000_000;
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let mut texts: Vec<String> = active
            .iter()
            .filter(|(h, a)| a.limited && self.still_limited(**h, second))
            .map(|(_, a)| a.text.clone())
            .collect();
        texts.sort();
        texts
    }

    /// `showRRL()`: the settings, the table, who is limited at `now_ns`
    /// (the query clock, [`crate::qps::now_ns`]).
    pub fn show(&self, now_ns: u64, dropped: u64, slipped: u64) -> String {
        let s = &self.settings;
        let used = self
            .table
            .iter()
            .filter(|b| b.load(Ordering::Relaxed) != 0)
            .count();
        let mut out = format!(
            "responses-per-second {} referrals {} nodata {} nxdomains {} errors {} all {}\n\
             window {} slip {} ipv4-prefix-length {} ipv6-prefix-length {} qps-scale {}{}\n\
             table: {} of {} buckets in use\n\
             dropped {dropped} slipped {slipped}\n",
            s.responses_per_second,
            s.rate(Kind::Referral),
            s.rate(Kind::Nodata),
            s.rate(Kind::Nxdomain),
            s.rate(Kind::Error),
            s.all_per_second,
            s.window,
            s.slip,
            s.ipv4_prefix_length,
            s.ipv6_prefix_length,
            s.qps_scale,
            if s.log_only { " log-only" } else { "" },
            used,
            self.table.len(),
        );
        let limited = self.limited_now(now_ns);
        if limited.is_empty() {
            out.push_str("limited now: none\n");
        } else {
            out.push_str("limited now:\n");
            for l in limited.iter().take(SHOW_MAX) {
                out.push_str(&format!("  {l}\n"));
            }
            if limited.len() > SHOW_MAX {
                out.push_str(&format!("  … and {} more\n", limited.len() - SHOW_MAX));
            }
        }
        out
    }
}

/// What kind of response `resp` (a finished response to a query for
/// `lname`) is, and the name its bucket is keyed by. `zone` is the apex
/// of the zone the name is in, if we serve one. Answers made from a
/// wildcard are keyed by the zone, as BIND keys them by the wildcard:
/// random names under a wildcard are one bucket, not one each.
#[inline]
pub fn classify<'a>(
    resp: &[u8],
    lname: &'a [u8],
    wildcard: bool,
    zone: impl Fn() -> Option<&'a [u8]>,
) -> (Kind, &'a [u8]) {
    const ROOT: &[u8] = b"\0";
    if resp.len() < 12 {
        return (Kind::Error, zone().unwrap_or(ROOT));
    }
    let rcode = resp[3] & 0xf;
    let answers = u16::from_be_bytes([resp[6], resp[7]]);
    let authority = u16::from_be_bytes([resp[8], resp[9]]);
    let aa = resp[2] & 0x04 != 0;
    // The zone is looked up only for the answers keyed by it.
    let by_name = |zone: &dyn Fn() -> Option<&'a [u8]>| match wildcard {
        true => zone().unwrap_or(lname),
        false => lname,
    };
    match rcode {
        0 if answers > 0 => (Kind::Answer, by_name(&zone)),
        0 if !aa && authority > 0 => (Kind::Referral, referral_point(resp, lname)),
        0 => (Kind::Nodata, by_name(&zone)),
        3 => (Kind::Nxdomain, zone().unwrap_or(lname)),
        // REFUSED outside our zones: one bucket for all such names (BIND
        // counts them as referrals to the root).
        _ => (Kind::Error, zone().unwrap_or(ROOT)),
    }
}

/// The delegation point of a referral: the owner of its first authority
/// record, which the writer compresses as a pointer into the question
/// name (a suffix of `lname`). Anything else keys by the question name.
fn referral_point<'a>(resp: &[u8], lname: &'a [u8]) -> &'a [u8] {
    let start = 12 + lname.len() + 4;
    if resp.len() < start + 2 || u16::from_be_bytes([resp[6], resp[7]]) != 0 {
        return lname;
    }
    match (resp[start], resp[start + 1]) {
        (hi, lo) if hi & 0xc0 == 0xc0 => {
            let at = (usize::from(hi & 0x3f) << 8 | usize::from(lo)).wrapping_sub(12);
            if at < lname.len() && wire::name::starts_label(lname, at) {
                &lname[at..]
            } else {
                lname
            }
        }
        (0, _) => b"\0",
        _ => lname,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrl(f: impl FnOnce(&mut Settings)) -> Rrl {
        let mut s = Settings {
            responses_per_second: 5,
            ..Settings::default()
        };
        f(&mut s);
        Rrl::new(s)
    }

    const SEC: u64 = 1_000_000_000;
    const NAME: &[u8] = b"\x03www\x07example\x03org\x00";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn run(r: &Rrl, client: &str, kind: Kind, name: &[u8], n: usize, at: u64) -> Vec<Verdict> {
        (0..n)
            .map(|_| r.check(ip(client), kind, name, 1, at))
            .collect()
    }

    #[test]
    fn bucket_packs_and_unpacks() {
        for b in [
            Bucket {
                tag: 1,
                second: 8191,
                balance: -3_600_000,
                slip_pos: 9,
                limited: true,
            },
            Bucket {
                tag: TAG_MASK,
                second: 0,
                balance: 1000,
                slip_pos: 0,
                limited: false,
            },
        ] {
            assert_eq!(Bucket::unpack(b.pack()), b);
        }
    }

    #[test]
    fn rate_then_slip_drop_alternating() {
        let r = rrl(|_| {});
        let v = run(&r, "192.0.2.1", Kind::Answer, NAME, 11, 10 * SEC);
        use Verdict::*;
        assert_eq!(
            v,
            [Send, Send, Send, Send, Send, Slip, Drop, Slip, Drop, Slip, Drop]
        );
    }

    #[test]
    fn slip_zero_drops_all_and_slip_three_cycles() {
        let r = rrl(|s| s.slip = 0);
        let v = run(&r, "192.0.2.1", Kind::Answer, NAME, 8, 10 * SEC);
        assert!(v[5..].iter().all(|v| *v == Verdict::Drop));
        let r = rrl(|s| s.slip = 3);
        let v = run(&r, "192.0.2.1", Kind::Answer, NAME, 11, 10 * SEC);
        use Verdict::*;
        assert_eq!(&v[5..], [Slip, Drop, Drop, Slip, Drop, Drop]);
    }

    #[test]
    fn prefixes_and_names_have_their_own_buckets() {
        let r = rrl(|_| {});
        run(&r, "192.0.2.1", Kind::Answer, NAME, 20, 10 * SEC);
        // Same /24: limited; another /24: not.
        assert_ne!(
            r.check(ip("192.0.2.200"), Kind::Answer, NAME, 1, 10 * SEC),
            Verdict::Send
        );
        assert_eq!(
            r.check(ip("192.0.3.1"), Kind::Answer, NAME, 1, 10 * SEC),
            Verdict::Send
        );
        // Another name, or another type, from the limited /24: not limited.
        assert_eq!(
            r.check(ip("192.0.2.1"), Kind::Answer, b"\x01x\x00", 1, 10 * SEC),
            Verdict::Send
        );
        assert_eq!(
            r.check(ip("192.0.2.1"), Kind::Answer, NAME, 28, 10 * SEC),
            Verdict::Send
        );
        // IPv6 /56.
        run(&r, "2001:db8:0:1::1", Kind::Answer, NAME, 20, 10 * SEC);
        assert_ne!(
            r.check(ip("2001:db8:0:1:ff::9"), Kind::Answer, NAME, 1, 10 * SEC),
            Verdict::Send
        );
        assert_eq!(
            r.check(ip("2001:db8:0:100::1"), Kind::Answer, NAME, 1, 10 * SEC),
            Verdict::Send
        );
    }

    #[test]
    fn a_worker_a_second_behind_does_not_reset_a_bucket() {
        let r = rrl(|_| {});
        run(&r, "192.0.2.1", Kind::Answer, NAME, 30, 11 * SEC);
        // A query stamped in second 10 debited after second 11's.
        assert_ne!(
            r.check(ip("192.0.2.1"), Kind::Answer, NAME, 1, 10 * SEC),
            Verdict::Send
        );
        assert_ne!(
            r.check(ip("192.0.2.1"), Kind::Answer, NAME, 1, 11 * SEC),
            Verdict::Send
        );
    }

    #[test]
    fn credit_per_second_and_window_memory() {
        let r = rrl(|s| s.window = 3);
        // 5 + 30 responses in second 10: the balance sinks to the floor
        // (-window x rate = -15).
        run(&r, "192.0.2.1", Kind::Answer, NAME, 35, 10 * SEC);
        // One second later: -15 + 5 - 1 < 0, still limited.
        assert_ne!(
            r.check(ip("192.0.2.1"), Kind::Answer, NAME, 1, 11 * SEC),
            Verdict::Send
        );
        // After the window the bucket starts afresh.
        assert_eq!(
            r.check(ip("192.0.2.1"), Kind::Answer, NAME, 1, 15 * SEC),
            Verdict::Send
        );
    }

    #[test]
    fn kinds_use_their_rates_and_zero_means_unlimited() {
        let r = rrl(|s| {
            s.nxdomains_per_second = Some(2);
            s.errors_per_second = Some(0);
        });
        let v = run(
            &r,
            "192.0.2.1",
            Kind::Nxdomain,
            b"\x07example\x00",
            3,
            10 * SEC,
        );
        assert_eq!(v, [Verdict::Send, Verdict::Send, Verdict::Slip]);
        let v = run(&r, "192.0.2.1", Kind::Error, b"\0", 100, 10 * SEC);
        assert!(v.iter().all(|v| *v == Verdict::Send));
    }

    #[test]
    fn all_per_second_drops_without_slip() {
        let r = rrl(|s| {
            s.responses_per_second = 0;
            s.all_per_second = 3;
        });
        let v: Vec<_> = (0..6u8)
            .map(|i| {
                r.check(
                    ip("192.0.2.1"),
                    Kind::Answer,
                    &[1, b'a' + i, 0],
                    1,
                    10 * SEC,
                )
            })
            .collect();
        use Verdict::*;
        assert_eq!(v, [Send, Send, Send, Drop, Drop, Drop]);
    }

    #[test]
    fn exempt_and_log_only_send_everything_but_log() {
        let r = rrl(|s| s.set("exempt-clients", "192.0.2.0/24").unwrap());
        let v = run(&r, "192.0.2.1", Kind::Answer, NAME, 50, 10 * SEC);
        assert!(v.iter().all(|v| *v == Verdict::Send));
        let r = rrl(|s| s.log_only = true);
        let v = run(&r, "192.0.2.1", Kind::Answer, NAME, 50, 10 * SEC);
        assert!(v.iter().all(|v| *v == Verdict::Send));
        let log = r.take_log();
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].contains("192.0.2.0/24 responses for www.example.org."),
            "{log:?}"
        );
        assert!(log[0].contains("log-only"), "{log:?}");
        assert!(r
            .show(10 * SEC, 0, 0)
            .contains("192.0.2.0/24 responses for www.example.org."));
    }

    #[test]
    fn start_and_stop_are_logged_once_each() {
        let r = rrl(|_| {});
        run(&r, "192.0.2.1", Kind::Answer, NAME, 50, 10 * SEC);
        run(&r, "192.0.2.1", Kind::Answer, NAME, 1, 30 * SEC);
        let log = r.take_log();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log[0].starts_with("rate-limit: limiting 192.0.2.0/24"));
        assert!(log[1].starts_with("rate-limit: stopped limiting 192.0.2.0/24"));
        assert!(r.show(30 * SEC, 0, 0).contains("limited now: none"));
    }

    #[test]
    fn a_flapping_bucket_logs_at_most_twice_a_window() {
        let r = rrl(|s| s.window = 10);
        let limited = |at: u64| run(&r, "192.0.2.1", Kind::Answer, NAME, 20, at * SEC);
        let free = |at: u64| run(&r, "192.0.2.1", Kind::Answer, NAME, 1, at * SEC);
        limited(100); // start: logged
        free(111); // end, a window after: logged
        limited(112); // start again: logged (a limit is never unsaid)
        free(123); // end, but only 11 s after the last line… logged
        limited(124); // start: logged
        let log = r.take_log();
        assert_eq!(log.len(), 5, "{log:?}");
        // Flapping within a window: the ends are not logged, so neither
        // are the starts that follow them.
        let r = rrl(|s| s.window = 10);
        for t in 0..5u64 {
            run(
                &r,
                "192.0.2.1",
                Kind::Answer,
                NAME,
                20,
                (200 + 11 * t) * SEC,
            );
            run(&r, "192.0.2.1", Kind::Answer, NAME, 1, (205 + 11 * t) * SEC);
        }
        let log = r.take_log();
        // Logged: the start at 200, the end at 216, the start at 222,
        // the end at 238, the start at 244 (traced by hand).
        assert_eq!(log.len(), 5, "{log:?}");
        for (i, line) in log.iter().enumerate() {
            let start = line.starts_with("rate-limit: limiting");
            assert_eq!(start, i % 2 == 0, "{log:?}");
        }
    }

    #[test]
    fn log_is_throttled() {
        let r = rrl(|s| s.responses_per_second = 1);
        // 1000 prefixes start being limited in one second.
        for i in 0..1000u32 {
            let client = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)));
            for _ in 0..3 {
                r.check(client, Kind::Answer, NAME, 1, 10 * SEC);
            }
        }
        let log = r.take_log();
        assert!(
            log.len() <= LOG_LINES_PER_SECOND as usize * 2 + 1,
            "{}",
            log.len()
        );
        assert!(log.last().unwrap().contains("suppressed"), "{log:?}");
    }

    #[test]
    fn qps_scale_lowers_rates_when_busy() {
        let r = rrl(|s| {
            s.responses_per_second = 100;
            s.qps_scale = 10;
        });
        // Second 10: 1000 responses to many names (each its own bucket).
        for i in 0..1000u32 {
            let n = i.to_be_bytes();
            r.check(
                ip("192.0.2.1"),
                Kind::Answer,
                &[4, n[0], n[1], n[2], n[3], 0],
                1,
                10 * SEC,
            );
        }
        // In second 11 the rate is 100 x 10 / 1000 = 1.
        let v = run(&r, "198.51.100.1", Kind::Answer, NAME, 2, 11 * SEC);
        assert_eq!(v, [Verdict::Send, Verdict::Slip]);
    }

    #[test]
    fn options_by_name_with_ranges() {
        let mut s = Settings::default();
        s.set("responses-per-second", "10").unwrap();
        s.set("slip", "0").unwrap();
        s.set("rrl-ipv4-prefix-length", "16").unwrap();
        assert_eq!(
            (s.responses_per_second, s.slip, s.ipv4_prefix_length),
            (10, 0, 16)
        );
        assert_eq!(s.rate(Kind::Referral), 10);
        let e = s.set("slip", "11").unwrap_err();
        assert!(e.to_string().contains("0 to 10"), "{e}");
        assert_eq!(
            e,
            ShieldError::OutOfRange {
                name: "slip".into(),
                min: 0,
                max: 10,
                found: "11".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "slip: expected a number from 0 to 10, found '11'"
        );
        assert!(s.set("window", "0").is_err());
        assert!(s.set("responses-per-second", "1001").is_err());
        let e = s.set("log-only", "maybe").unwrap_err();
        assert!(matches!(e, ShieldError::NotBoolean { .. }), "{e:?}");
        let e = s.set("bogus", "1").unwrap_err();
        assert!(
            e.to_string().contains("unknown rate-limit option 'bogus'"),
            "{e}"
        );
        assert!(matches!(e, ShieldError::UnknownOption { .. }), "{e:?}");
        let e = s.set("exempt-clients", "not-a-net").unwrap_err();
        assert!(matches!(e, ShieldError::NotNetmask { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "exempt-clients: 'not-a-net' is not a netmask: bad netmask 'not-a-net': expected \
             ADDRESS[/PREFIX]"
        );
    }

    #[test]
    fn classify_by_rcode_and_sections() {
        let lname = b"\x01a\x07example\x03org\x00";
        let zone: &[u8] = b"\x07example\x03org\x00";
        let mut resp = vec![0u8; 12];
        resp.extend_from_slice(lname);
        resp.extend_from_slice(&[0, 1, 0, 1]);
        let with = |rcode: u8, aa: bool, an: u16, ns: u16| {
            let mut r = resp.clone();
            r[2] = 0x80 | if aa { 4 } else { 0 };
            r[3] = rcode;
            r[6..8].copy_from_slice(&an.to_be_bytes());
            r[8..10].copy_from_slice(&ns.to_be_bytes());
            r
        };
        assert_eq!(
            classify(&with(0, true, 1, 0), lname, false, || Some(zone)),
            (Kind::Answer, &lname[..])
        );
        assert_eq!(
            classify(&with(0, true, 0, 1), lname, false, || Some(zone)),
            (Kind::Nodata, &lname[..])
        );
        assert_eq!(
            classify(&with(3, true, 0, 1), lname, false, || Some(zone)),
            (Kind::Nxdomain, zone)
        );
        assert_eq!(
            classify(&with(5, false, 0, 0), lname, false, || None),
            (Kind::Error, &b"\0"[..])
        );
        // A referral whose NS owner points at "example.org" in the question.
        let mut r = with(0, false, 0, 1);
        r.extend_from_slice(&[0xc0, 12 + 2]);
        assert_eq!(
            classify(&r, lname, false, || Some(zone)),
            (Kind::Referral, zone)
        );
        // From a wildcard: keyed by the zone.
        assert_eq!(
            classify(&with(0, true, 1, 0), lname, true, || Some(zone)),
            (Kind::Answer, zone)
        );
    }
}
