//! Dynamic blocks: short-lived blocks by client netmask or query-name
//! suffix, inserted by the once-a-second maintenance pass from what the
//! rings show (dnsdist's `addDynBlocks`, `exceed*`, `dynBlockRulesGroup`).
//!
//! The block table is copy-on-write behind an atomic pointer: workers load
//! it and look up, the maintenance pass builds the next table and swaps it.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::counter::Counter;
use crate::netmask::{mask, unmap, NetmaskGroup};
use crate::qps::now_ns;
use crate::rings::Rings;
use crate::suffix::NameSet;

const SECOND: u64 = 1_000_000_000;

/// What a dynamic block does (dnsdist's `DNSAction` values for blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockAction {
    Drop,
    Refused,
    Nxdomain,
    /// TC over UDP; over TCP the block does not apply.
    Truncate,
    /// Log only (a warning).
    NoOp,
    NoRecurse,
}

impl BlockAction {
    /// The name `showDynBlocks` prints.
    pub fn name(self) -> &'static str {
        match self {
            BlockAction::Drop => "Drop",
            BlockAction::Refused => "Send Refused",
            BlockAction::Nxdomain => "Send NXDomain",
            BlockAction::Truncate => "Truncate",
            BlockAction::NoOp => "No Op",
            BlockAction::NoRecurse => "Set rd=0",
        }
    }
}

/// One block.
#[derive(Debug)]
pub struct Block {
    /// Until when (on the shield's monotonic clock, ns).
    pub until: u64,
    pub action: BlockAction,
    pub reason: String,
    pub warning: bool,
    /// Only names not answered positively lately are blocked (the
    /// random-subdomain guard); known names pass.
    pub unknown_only: bool,
    /// Queries it stopped.
    pub blocks: Counter,
}

/// A block to insert.
#[derive(Clone, Debug)]
pub struct NewBlock {
    pub target: Target,
    pub seconds: u32,
    pub action: BlockAction,
    pub reason: String,
    pub warning: bool,
    pub unknown_only: bool,
}

impl NewBlock {
    /// A plain block (not a warning, not unknown-only).
    pub fn new(target: Target, seconds: u32, action: BlockAction, reason: &str) -> NewBlock {
        NewBlock {
            target,
            seconds,
            action,
            reason: reason.to_string(),
            warning: false,
            unknown_only: false,
        }
    }
}

/// The table workers read.
#[derive(Clone, Debug, Default)]
pub struct Table {
    // Fx, not SipHash: looked up on every query once any block exists.
    by_addr: FxHashMap<(IpAddr, u8), Arc<Block>>,
    /// Prefix lengths in use, so a lookup masks only by those.
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
    /// Blocks of one IPv4 address's port range (`setMasks(32, 128,
    /// bits)`): address, first port, bits of the port that count.
    by_port: FxHashMap<(IpAddr, u16, u8), Arc<Block>>,
    /// Port bit counts in use, most first.
    port_bits: Vec<u8>,
    by_suffix: FxHashMap<Box<[u8]>, Arc<Block>>,
}

/// The first port of the range of `bits` leading bits `port` is in.
fn port_range(port: u16, bits: u8) -> u16 {
    match bits {
        0 => 0,
        b if b >= 16 => port,
        b => port & !(u16::MAX >> b),
    }
}

impl Table {
    /// The block that applies to `client` (from `port`), if one is in
    /// force at `now` ([`now_ns`]: the query's own clock reading).
    pub fn for_client(&self, client: IpAddr, port: u16, now: u64) -> Option<&Arc<Block>> {
        let client = unmap(client);
        if !self.by_port.is_empty() && client.is_ipv4() {
            let by_port = self
                .port_bits
                .iter()
                .filter_map(|&b| self.by_port.get(&(client, port_range(port, b), b)))
                .find(|b| b.until > now);
            if by_port.is_some() {
                return by_port;
            }
        }
        if self.by_addr.is_empty() {
            return None;
        }
        let prefixes = if client.is_ipv4() {
            &self.v4_prefixes
        } else {
            &self.v6_prefixes
        };
        // Longest prefix first: the most specific block wins.
        prefixes
            .iter()
            .filter_map(|&p| self.by_addr.get(&(mask(client, p), p)))
            .find(|b| b.until > now)
    }

    /// The block that applies to `lname` (lowercase wire) by suffix, in
    /// force at `now`.
    pub fn for_name(&self, lname: &[u8], now: u64) -> Option<&Arc<Block>> {
        if self.by_suffix.is_empty() {
            return None;
        }
        let mut pos = 0;
        loop {
            let suffix = lname.get(pos..)?;
            if let Some(b) = self.by_suffix.get(suffix).filter(|b| b.until > now) {
                return Some(b);
            }
            let len = *lname.get(pos)? as usize;
            if len == 0 {
                return None;
            }
            pos += 1 + len;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty() && self.by_suffix.is_empty()
    }
}

/// What a block is on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Net(IpAddr, u8),
    /// An IPv4 address's port range: its first port, and how many
    /// leading bits of the port count (16: that port only).
    NetPort(IpAddr, u16, u8),
    /// Lowercase wire name.
    Suffix(Box<[u8]>),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Net(a, p) => write!(f, "{a}/{p}"),
            Target::NetPort(a, port, bits) => write_port_range(f, *a, *port, *bits),
            Target::Suffix(n) => f.write_str(&wire::name::to_text(n)),
        }
    }
}

/// One block in force, as `showDynBlocks()` and the API show it.
#[derive(Clone, Debug)]
pub struct BlockInfo {
    pub target: Target,
    pub seconds_left: u64,
    pub blocks: u64,
    pub warning: bool,
    pub action: &'static str,
    pub reason: String,
}

/// `192.0.2.1:5300` for one port, `192.0.2.1:49152/2` for a range.
fn write_port_range(f: &mut impl fmt::Write, a: IpAddr, port: u16, bits: u8) -> fmt::Result {
    if bits >= 16 {
        write!(f, "{a}:{port}")
    } else {
        write!(f, "{a}:{port}/{bits}")
    }
}

/// The dynamic blocks: the live table plus what the log should say.
#[derive(Debug, Default)]
pub struct DynBlocks {
    table: ArcSwap<Table>,
    /// Some block is in the table: without one the query path does not
    /// even load it.
    any: std::sync::atomic::AtomicBool,
    /// Log lines waiting to be written by the control thread.
    pending_log: Mutex<Vec<String>>,
    /// This second's lines: (second, written, held back).
    log_budget: Mutex<(u64, u32, u64)>,
}

/// Block lines written a second at most: a flood from many sources may
/// block thousands at once (the list is in showDynBlocks() and the API).
const LOG_LINES_PER_SECOND: u32 = 20;

impl DynBlocks {
    /// Whether any block is in force (or waiting to expire).
    #[inline]
    pub fn any(&self) -> bool {
        self.any.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn install(&self, table: Table) {
        let any =
            !(table.by_addr.is_empty() && table.by_suffix.is_empty() && table.by_port.is_empty());
        self.table.store(Arc::new(table));
        self.any.store(any, std::sync::atomic::Ordering::Relaxed);
    }

    /// The table in force (for the query path).
    pub fn table(&self) -> arc_swap::Guard<Arc<Table>> {
        self.table.load()
    }

    /// Inserts or refreshes blocks: `(target, seconds, action, reason,
    /// warning)`. A longer block in force is not shortened; a warning is
    /// upgraded to a block, and never replaces one (as dnsdist); the block
    /// counter carries over.
    pub fn insert(&self, new: &[NewBlock]) {
        if new.is_empty() {
            return;
        }
        let mut table = Table::clone(&self.table.load());
        let now = now_ns();
        let mut log = Vec::new();
        for NewBlock {
            target,
            seconds,
            action,
            reason,
            warning,
            unknown_only,
        } in new
        {
            let until = now + u64::from(*seconds) * SECOND;
            let existing = match target {
                Target::Net(a, p) => table.by_addr.get(&(*a, *p)),
                Target::NetPort(a, port, bits) => table.by_port.get(&(*a, *port, *bits)),
                Target::Suffix(n) => table.by_suffix.get(n),
            };
            let mut carried = 0;
            if let Some(old) = existing.filter(|b| b.until > now) {
                // A client whose rate fell from the block's level to the
                // warning's is still blocked, until the block ends.
                if *warning && !old.warning {
                    continue;
                }
                let upgrade = old.warning && !warning;
                if old.until >= until && !upgrade {
                    continue;
                }
                carried = old.blocks.get();
            } else {
                log.push(format!(
                    "Inserting {}dynamic block for {target} for {seconds} seconds: {reason}{}",
                    if *warning { "warning " } else { "" },
                    if *unknown_only {
                        " (names not answered lately only; known names keep flowing)"
                    } else {
                        ""
                    }
                ));
            }
            let block = Arc::new(Block {
                until,
                action: *action,
                reason: reason.clone(),
                warning: *warning,
                unknown_only: *unknown_only,
                blocks: Counter::default(),
            });
            block.blocks.add(carried);
            match target {
                Target::Net(a, p) => {
                    table.by_addr.insert((*a, *p), block);
                    let list = if a.is_ipv4() {
                        &mut table.v4_prefixes
                    } else {
                        &mut table.v6_prefixes
                    };
                    if !list.contains(p) {
                        list.push(*p);
                        list.sort_unstable_by(|x, y| y.cmp(x));
                    }
                }
                Target::NetPort(a, port, bits) => {
                    table.by_port.insert((*a, *port, *bits), block);
                    if !table.port_bits.contains(bits) {
                        table.port_bits.push(*bits);
                        table.port_bits.sort_unstable_by(|x, y| y.cmp(x));
                    }
                }
                Target::Suffix(n) => {
                    table.by_suffix.insert(n.clone(), block);
                }
            }
        }
        self.install(table);
        self.pending_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(log);
    }

    /// Drops expired blocks (logging that they ended); run once a second.
    pub fn expire(&self) {
        let current = self.table.load();
        let now = now_ns();
        let expired = current
            .by_addr
            .values()
            .chain(current.by_suffix.values())
            .chain(current.by_port.values())
            .any(|b| b.until <= now);
        if !expired {
            return;
        }
        let mut table = Table::clone(&current);
        let mut log = Vec::new();
        table.by_addr.retain(|(a, p), b| {
            let keep = b.until > now;
            if !keep {
                log.push(format!(
                    "Dynamic block for {a}/{p} ended: {} ({} queries blocked)",
                    b.reason,
                    b.blocks.get()
                ));
            }
            keep
        });
        table.by_port.retain(|(a, port, bits), b| {
            let keep = b.until > now;
            if !keep {
                let mut what = String::new();
                let _ = write_port_range(&mut what, *a, *port, *bits);
                log.push(format!(
                    "Dynamic block for {what} ended: {} ({} queries blocked)",
                    b.reason,
                    b.blocks.get()
                ));
            }
            keep
        });
        table.by_suffix.retain(|n, b| {
            let keep = b.until > now;
            if !keep {
                log.push(format!(
                    "Dynamic block for {} ended: {} ({} queries blocked)",
                    wire::name::to_text(n),
                    b.reason,
                    b.blocks.get()
                ));
            }
            keep
        });
        self.install(table);
        self.pending_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(log);
    }

    /// Removes every block.
    pub fn clear(&self) {
        self.install(Table::default());
        self.pending_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push("Dynamic blocks cleared".into());
    }

    /// Writes the lines queued since the last call to the log (blocks
    /// start and end on the query path and in the maintenance pass; the
    /// control loop writes them, every 50 ms).
    /// At most [`LOG_LINES_PER_SECOND`] lines a second; how many were
    /// held back is said in the next second.
    pub fn write_log(&self) {
        let lines = self.take_log();
        let second = now_ns() / SECOND;
        let mut budget = self.log_budget.lock().unwrap_or_else(|p| p.into_inner());
        if budget.0 != second {
            if budget.2 > 0 {
                log::warn!(
                    "{} more dynamic block lines suppressed (at most {LOG_LINES_PER_SECOND} a second; showDynBlocks() lists the blocks)",
                    budget.2
                );
            }
            *budget = (second, 0, 0);
        }
        for line in lines {
            if budget.1 < LOG_LINES_PER_SECOND {
                budget.1 += 1;
                log::warn!("{line}");
            } else {
                budget.2 += 1;
            }
        }
    }

    /// Takes the log lines written since the last call.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.pending_log.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The blocks in force, sorted by what they block.
    pub fn list(&self) -> Vec<BlockInfo> {
        let table = self.table.load();
        let now = now_ns();
        let mut rows: Vec<BlockInfo> = table
            .by_addr
            .iter()
            .map(|((a, p), b)| (Target::Net(*a, *p), b))
            .chain(
                table
                    .by_port
                    .iter()
                    .map(|((a, port, bits), b)| (Target::NetPort(*a, *port, *bits), b)),
            )
            .chain(
                table
                    .by_suffix
                    .iter()
                    .map(|(n, b)| (Target::Suffix(n.clone()), b)),
            )
            .filter(|(_, b)| b.until > now)
            .map(|(target, b)| BlockInfo {
                target,
                seconds_left: (b.until - now) / SECOND,
                blocks: b.blocks.get(),
                warning: b.warning,
                action: b.action.name(),
                reason: b.reason.clone(),
            })
            .collect();
        rows.sort_by_cached_key(|r| r.target.to_string());
        rows
    }

    /// `showDynBlocks()` output, in dnsdist's layout.
    pub fn show(&self) -> String {
        let mut out = format!(
            "{:<24} {:>8} {:>8} {:<10} {:<20} {}\n",
            "What", "Seconds", "Blocks", "Warning", "Action", "Reason"
        );
        for b in self.list() {
            out.push_str(&format!(
                "{:<24} {:>8} {:>8} {:<10} {:<20} {}\n",
                b.target.to_string(),
                b.seconds_left,
                b.blocks,
                b.warning,
                b.action,
                b.reason
            ));
        }
        out
    }
}

//------------ Rules over the rings ------------------------------------------

/// What a rate rule counts.
#[derive(Clone, Debug)]
pub enum Measure {
    /// Queries per client.
    Queries,
    /// Queries of one type per client.
    QType(u16),
    /// Responses with this rcode per client.
    RCode(u16),
    /// Share of a client's responses with this rcode.
    RCodeRatio { rcode: u16, min_responses: u64 },
    /// Response bytes per client.
    ResponseBytes,
}

/// One rule of a `dynBlockRulesGroup()`.
#[derive(Clone, Debug)]
pub struct RateRule {
    pub measure: Measure,
    /// Per second (or the ratio, for `RCodeRatio`).
    pub rate: f64,
    pub seconds: u32,
    pub reason: String,
    pub block_seconds: u32,
    /// `None`: the action `setDynBlocksAction` names when the rule fires
    /// (as dnsdist, whatever it was when the rule was made).
    pub action: Option<BlockAction>,
    /// Above this a NoOp warning block is inserted.
    pub warning_rate: Option<f64>,
}

/// dnsdist's `dynBlockRulesGroup()`.
#[derive(Clone, Debug)]
pub struct RulesGroup {
    pub rules: Vec<RateRule>,
    pub v4_mask: u8,
    pub v6_mask: u8,
    /// Leading bits of the client's port that tell clients apart too
    /// (IPv4 with a /32 mask only: CGNAT users share an address).
    pub port_bits: u8,
    pub excluded: NetmaskGroup,
    pub included: NetmaskGroup,
    pub excluded_domains: NameSet,
    pub suffix_guards: Vec<SuffixGuard>,
}

impl Default for RulesGroup {
    fn default() -> Self {
        RulesGroup {
            rules: Vec::new(),
            v4_mask: 32,
            v6_mask: 128,
            port_bits: 0,
            excluded: NetmaskGroup::new(),
            included: NetmaskGroup::new(),
            excluded_domains: NameSet::new(),
            suffix_guards: Vec::new(),
        }
    }
}

impl RulesGroup {
    /// Who a ring entry counts for.
    fn key(&self, e: &crate::rings::Entry) -> Target {
        let ip = e.client;
        if ip.is_ipv4() && self.v4_mask >= 32 && self.port_bits > 0 {
            let bits = self.port_bits.min(16);
            return Target::NetPort(ip, port_range(e.port, bits), bits);
        }
        let p = if ip.is_ipv4() {
            self.v4_mask
        } else {
            self.v6_mask
        };
        Target::Net(mask(ip, p), p)
    }

    /// One pass over the rings: inserts the blocks the rules call for.
    /// `default` is the action of rules that name none.
    pub fn apply(&self, rings: &Rings, blocks: &DynBlocks, default: BlockAction) {
        let mut new = Vec::new();
        for rule in &self.rules {
            let window = u64::from(rule.seconds.max(1)) * SECOND;
            let mut counts: HashMap<Target, (f64, f64)> = HashMap::new();
            let excluded_domain =
                |e: &crate::rings::Entry| self.excluded_domains.contains_suffix_of(e.name());
            match &rule.measure {
                Measure::Queries | Measure::QType(_) => rings.queries.for_each(window, |e| {
                    let counted = match rule.measure {
                        Measure::QType(t) => e.qtype == t,
                        _ => true,
                    };
                    if counted && !excluded_domain(e) {
                        counts.entry(self.key(e)).or_default().0 += 1.0;
                    }
                }),
                Measure::RCode(rc) => rings.responses.for_each(window, |e| {
                    if e.rcode == *rc && !excluded_domain(e) {
                        counts.entry(self.key(e)).or_default().0 += 1.0;
                    }
                }),
                Measure::RCodeRatio { rcode, .. } => rings.responses.for_each(window, |e| {
                    if !excluded_domain(e) {
                        let c = counts.entry(self.key(e)).or_default();
                        c.1 += 1.0;
                        if e.rcode == *rcode {
                            c.0 += 1.0;
                        }
                    }
                }),
                Measure::ResponseBytes => rings.responses.for_each(window, |e| {
                    if !excluded_domain(e) {
                        counts.entry(self.key(e)).or_default().0 += f64::from(e.size);
                    }
                }),
            }
            let secs = f64::from(rule.seconds.max(1));
            for (target, (count, total)) in counts {
                let addr = match target {
                    Target::Net(a, _) | Target::NetPort(a, ..) => a,
                    Target::Suffix(_) => continue,
                };
                if self.excluded.contains(addr) && !self.included.contains(addr) {
                    continue;
                }
                let (over, warn) = match rule.measure {
                    Measure::RCodeRatio { min_responses, .. } => {
                        if total < min_responses as f64 {
                            continue;
                        }
                        (
                            count > rule.rate * total,
                            rule.warning_rate.is_some_and(|w| count > w * total),
                        )
                    }
                    _ => (
                        count > rule.rate * secs,
                        rule.warning_rate.is_some_and(|w| count > w * secs),
                    ),
                };
                if over {
                    new.push(NewBlock::new(
                        target.clone(),
                        rule.block_seconds,
                        rule.action.unwrap_or(default),
                        &rule.reason,
                    ));
                } else if warn {
                    new.push(NewBlock {
                        warning: true,
                        ..NewBlock::new(target, rule.block_seconds, BlockAction::NoOp, &rule.reason)
                    });
                }
            }
        }
        self.apply_suffix_guards(rings, &mut new, default);
        blocks.insert(&new);
    }

    /// The random-subdomain guards: NXDOMAINs per suffix over the window.
    fn apply_suffix_guards(&self, rings: &Rings, new: &mut Vec<NewBlock>, default: BlockAction) {
        for guard in &self.suffix_guards {
            let window = u64::from(guard.seconds.max(1)) * SECOND;
            let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
            rings.responses.for_each(window, |e| {
                if e.rcode == 3 {
                    if let Some(suffix) = wire::name::last_labels(e.name(), guard.labels) {
                        if !self.excluded_domains.contains_suffix_of(suffix) {
                            *counts.entry(suffix.to_vec()).or_default() += 1;
                        }
                    }
                }
            });
            let limit = guard.rate * f64::from(guard.seconds.max(1));
            for (suffix, count) in counts {
                if count as f64 > limit {
                    new.push(NewBlock {
                        unknown_only: true,
                        ..NewBlock::new(
                            Target::Suffix(suffix.into()),
                            guard.block_seconds,
                            guard.action.unwrap_or(default),
                            &format!("{} ({count} NXDOMAIN in {} s)", guard.reason, guard.seconds),
                        )
                    });
                }
            }
        }
    }
}

/// `setSuffixGuard`: once NXDOMAINs under one suffix (its last `labels`
/// labels) pass `rate` per second over `seconds`, names under it not
/// answered positively lately get `action` for `block_seconds`.
#[derive(Clone, Debug)]
pub struct SuffixGuard {
    pub rate: f64,
    pub seconds: u32,
    pub labels: usize,
    pub reason: String,
    pub block_seconds: u32,
    /// `None`: `setDynBlocksAction`'s when the guard fires.
    pub action: Option<BlockAction>,
}

/// The legacy `exceed*` scans: full client addresses whose count in the
/// last `seconds` is over `rate * seconds`.
pub fn exceeding(rings: &Rings, measure: &Measure, rate: f64, seconds: u32) -> Vec<(IpAddr, u64)> {
    let window = u64::from(seconds.max(1)) * SECOND;
    let mut counts: HashMap<IpAddr, f64> = HashMap::new();
    let mut add = |ip: IpAddr, n: f64| *counts.entry(ip).or_default() += n;
    match measure {
        Measure::Queries => rings.queries.for_each(window, |e| add(e.client, 1.0)),
        Measure::QType(t) => rings.queries.for_each(window, |e| {
            if e.qtype == *t {
                add(e.client, 1.0)
            }
        }),
        Measure::RCode(rc) | Measure::RCodeRatio { rcode: rc, .. } => {
            rings.responses.for_each(window, |e| {
                if e.rcode == *rc {
                    add(e.client, 1.0)
                }
            })
        }
        Measure::ResponseBytes => rings
            .responses
            .for_each(window, |e| add(e.client, f64::from(e.size))),
    }
    let limit = rate * f64::from(seconds.max(1));
    let mut out: Vec<(IpAddr, u64)> = counts
        .into_iter()
        .filter(|(_, c)| *c > limit)
        .map(|(a, c)| (a, c as u64))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rings::Record;

    #[test]
    fn rate_rule_blocks_the_masked_client_and_expires() {
        let rings = Rings::new(1000, 2);
        let flood: IpAddr = "192.0.2.7".parse().unwrap();
        let calm: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..50 {
            rings.queries.record(&Record::query(flood, b"\x01x\x00", 1));
            rings.responses.record(&Record {
                rcode: 3,
                size: 40,
                ..Record::query(flood, b"\x01x\x00", 1)
            });
        }
        for _ in 0..5 {
            rings.queries.record(&Record::query(calm, b"\x01y\x00", 1));
        }
        let mut group = RulesGroup {
            v4_mask: 24,
            ..RulesGroup::default()
        };
        group.rules.push(RateRule {
            measure: Measure::RCode(3),
            rate: 10.0,
            seconds: 1,
            reason: "NXDOMAIN flood".into(),
            block_seconds: 60,
            action: Some(BlockAction::Refused),
            warning_rate: None,
        });
        let blocks = DynBlocks::default();
        group.apply(&rings, &blocks, BlockAction::Drop);
        let table = blocks.table();
        let b = table
            .for_client("192.0.2.200".parse().unwrap(), 53, now_ns())
            .expect("the /24 is blocked");
        assert_eq!(b.action, BlockAction::Refused);
        assert!(table.for_client(calm, 53, now_ns()).is_none());
        assert_eq!(
            blocks.take_log(),
            ["Inserting dynamic block for 192.0.2.0/24 for 60 seconds: NXDOMAIN flood"]
        );
        assert!(blocks.show().contains("192.0.2.0/24"));
        assert_eq!(exceeding(&rings, &Measure::Queries, 10.0, 1), [(flood, 50)]);
        // A rule naming no action takes the default in force when it
        // fires (setDynBlocksAction may come after the rule).
        group.rules[0].action = None;
        let blocks = DynBlocks::default();
        group.apply(&rings, &blocks, BlockAction::Nxdomain);
        let b = blocks
            .table()
            .for_client(flood, 53, now_ns())
            .map(|b| b.action);
        assert_eq!(b, Some(BlockAction::Nxdomain));
    }

    #[test]
    fn port_masks_block_one_port_range_of_an_address() {
        let rings = Rings::new(1000, 1);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..50 {
            rings.queries.record(&Record {
                port: 40001,
                ..Record::query(ip, b"\x01x\x00", 1)
            });
        }
        rings.queries.record(&Record {
            port: 50000,
            ..Record::query(ip, b"\x01x\x00", 1)
        });
        let mut group = RulesGroup {
            port_bits: 16,
            ..RulesGroup::default()
        };
        group.rules.push(RateRule {
            measure: Measure::Queries,
            rate: 10.0,
            seconds: 1,
            reason: "flood".into(),
            block_seconds: 60,
            action: None,
            warning_rate: None,
        });
        let blocks = DynBlocks::default();
        group.apply(&rings, &blocks, BlockAction::Drop);
        let table = blocks.table();
        assert!(table.for_client(ip, 40001, now_ns()).is_some());
        assert!(
            table.for_client(ip, 50000, now_ns()).is_none(),
            "another port"
        );
        assert!(
            blocks.show().contains("192.0.2.7:40001"),
            "{}",
            blocks.show()
        );
        // Two bits: a quarter of the ports.
        assert_eq!(port_range(40001, 2), 32768);
        assert_eq!(port_range(40001, 0), 0);
    }

    #[test]
    fn block_lines_are_written_twenty_a_second_at_most() {
        let blocks = DynBlocks::default();
        blocks
            .pending_log
            .lock()
            .unwrap()
            .extend((0..30).map(|i| format!("line {i}")));
        blocks.write_log();
        let (_, written, held) = *blocks.log_budget.lock().unwrap();
        assert_eq!((written, held), (LOG_LINES_PER_SECOND, 10));
        assert!(blocks.take_log().is_empty());
    }

    #[test]
    fn a_warning_never_replaces_a_block_in_force() {
        let blocks = DynBlocks::default();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let target = Target::Net(client, 32);
        let warning = |seconds| NewBlock {
            warning: true,
            ..NewBlock::new(target.clone(), seconds, BlockAction::NoOp, "rate")
        };
        // Warned, then over the block's rate: the warning is upgraded.
        blocks.insert(&[warning(5)]);
        blocks.insert(&[NewBlock::new(target.clone(), 5, BlockAction::Drop, "rate")]);
        // The next pass sees the rate at the warning's level only: the
        // block stays, though the warning would end later.
        blocks.insert(&[warning(10)]);
        let t = blocks.table();
        let b = t.for_client(client, 53, now_ns()).expect("still blocked");
        assert_eq!(b.action, BlockAction::Drop);
        assert!(!b.warning);
    }

    #[test]
    fn suffix_blocks_match_below() {
        let blocks = DynBlocks::default();
        blocks.insert(&[NewBlock::new(
            Target::Suffix(b"\x04rate\x04test\x00".to_vec().into()),
            10,
            BlockAction::Drop,
            "PRSD",
        )]);
        let t = blocks.table();
        assert!(t
            .for_name(b"\x03zzz\x04rate\x04test\x00", now_ns())
            .is_some());
        assert!(t.for_name(b"\x04rate\x04test\x00", now_ns()).is_some());
        assert!(t.for_name(b"\x05other\x04test\x00", now_ns()).is_none());
    }
}

//------------ Suffix statistics (setSuffixMatchRule) -------------------------

/// Counts for a name or the names below it (dnsdist's StatNode stats).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeStats {
    pub queries: u64,
    pub noerrors: u64,
    pub nxdomains: u64,
    pub servfails: u64,
    pub bytes: u64,
}

impl NodeStats {
    fn add(&mut self, e: &crate::rings::Entry) {
        self.queries += 1;
        match e.rcode {
            0 => self.noerrors += 1,
            2 => self.servfails += 1,
            3 => self.nxdomains += 1,
            _ => {}
        }
        self.bytes += u64::from(e.size);
    }
}

/// One name in the answered-names tree.
#[derive(Clone, Debug)]
pub struct SuffixNode {
    /// Lowercase wire name.
    pub name: Vec<u8>,
    pub labels: usize,
    pub children: usize,
    /// Answers for exactly this name.
    pub own: NodeStats,
    /// Answers for names below it.
    pub below: NodeStats,
}

/// The tree of names answered in the last `seconds`, every suffix a node.
pub fn suffix_stats(rings: &Rings, seconds: u32) -> Vec<SuffixNode> {
    let window = u64::from(seconds.max(1)) * SECOND;
    let mut nodes: HashMap<Vec<u8>, SuffixNode> = HashMap::new();
    let mut kids: HashMap<Vec<u8>, std::collections::HashSet<Vec<u8>>> = HashMap::new();
    rings.responses.for_each(window, |e| {
        let name = e.name();
        let mut offsets = [0u8; wire::name::MAX_LABELS];
        let count = wire::name::label_offsets(name, &mut offsets);
        for i in 0..count {
            let suffix = &name[offsets[i] as usize..];
            let node = nodes.entry(suffix.to_vec()).or_insert_with(|| SuffixNode {
                name: suffix.to_vec(),
                labels: count - i,
                children: 0,
                own: NodeStats::default(),
                below: NodeStats::default(),
            });
            if i == 0 {
                node.own.add(e);
            } else {
                node.below.add(e);
                let child = &name[offsets[i - 1] as usize..];
                kids.entry(suffix.to_vec())
                    .or_default()
                    .insert(child.to_vec());
            }
        }
    });
    let mut out: Vec<SuffixNode> = nodes
        .into_values()
        .map(|mut n| {
            n.children = kids.get(&n.name).map_or(0, |k| k.len());
            n
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels).then(a.name.cmp(&b.name)));
    out
}
