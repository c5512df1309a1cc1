//! Selectors: what a rule matches (dnsdist's `*Rule` objects).
//!
//! A [`Selector`] is shared (`Arc`) between the rules that use it and
//! counts its matches, as dnsdist's do (`showRules` shows per-selector
//! counts, shared when one object is reused).

use std::net::SocketAddr;
use std::sync::Arc;

use wire::types::rtype_name;

use crate::counter::Counter;
use crate::netmask::NetmaskGroup;
use crate::qps::{ClientLimiter, GlobalLimiter};
use crate::suffix::NameSet;

/// What the shield knows of a query.
#[derive(Clone, Copy, Debug)]
pub struct QueryInfo<'a> {
    pub client: SocketAddr,
    /// The address and port the query arrived on (the listener's
    /// address when it is not known more exactly).
    pub local: SocketAddr,
    pub tcp: bool,
    /// The parsed query.
    pub query: &'a wire::Query<'a>,
    /// The query name, lowercase wire form.
    pub lname: &'a [u8],
    /// The response's full rcode, when response rules run.
    pub rcode: Option<u16>,
    /// Tags set by earlier rules for this query.
    pub tags: &'a Tags,
    /// Trailing data an earlier rule put in place of the query's own.
    pub trailing: &'a Trailing,
    /// The backends, for `PoolAvailableRule`.
    pub pools: Option<&'a pool::Pools>,
    /// The query's time, for the rate rules.
    pub clock: &'a crate::qps::QueryClock,
    /// TLS server name and HTTP request, for DoT and DoH queries.
    pub stream: Option<&'a crate::stream_info::StreamInfo<'a>>,
}

/// Tags a query picked up (`SetTagAction`), read by `TagRule`. Empty, it
/// costs nothing: nothing is allocated until a tag is set.
#[derive(Debug, Default)]
pub struct Tags {
    /// Dropped by hand ([`Drop`] below): every query makes a `Tags`, and
    /// the drop glue of a plain `Vec` of `Arc`s was an out-of-line call
    /// even when empty (27 instructions an answer under callgrind).
    entries: std::cell::RefCell<std::mem::ManuallyDrop<Vec<Tag>>>,
}

/// A tag's name and value.
type Tag = (Arc<str>, Arc<str>);

impl Drop for Tags {
    #[inline]
    fn drop(&mut self) {
        let entries = &mut **self.entries.get_mut();
        // An empty Vec owns no memory: nothing to give back.
        if entries.capacity() != 0 {
            drop(std::mem::take(entries));
        }
    }
}

impl Tags {
    pub fn set(&self, name: &Arc<str>, value: &Arc<str>) {
        let mut e = self.entries.borrow_mut();
        match e.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => e.push((name.clone(), value.clone())),
        }
    }

    /// Every tag, in the order set.
    pub fn all(&self) -> Vec<(Arc<str>, Arc<str>)> {
        Vec::clone(&self.entries.borrow())
    }

    pub fn get(&self, name: &str) -> Option<Arc<str>> {
        self.entries
            .borrow()
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.clone())
    }
}

/// Trailing data a rule put in place of what followed the query's
/// message (dnsdist's `dq:setTrailingData`): later rules read it, and the
/// query goes on with it. Untouched, it costs nothing.
#[derive(Debug, Default)]
pub struct Trailing {
    replaced: std::cell::RefCell<Option<Vec<u8>>>,
}

impl Trailing {
    pub fn replace(&self, data: Vec<u8>) {
        *self.replaced.borrow_mut() = Some(data);
    }

    /// The replacement, if a rule made one.
    pub fn replaced(&self) -> Option<Vec<u8>> {
        self.replaced.borrow().clone()
    }

    pub fn is_replaced(&self) -> bool {
        self.replaced.borrow().is_some()
    }
}

impl QueryInfo<'_> {
    /// The bytes after the query's message, as the rules left them.
    pub fn trailing_data(&self) -> std::borrow::Cow<'_, [u8]> {
        match self.trailing.replaced() {
            Some(data) => data.into(),
            None => self
                .query
                .packet
                .get(self.query.end..)
                .unwrap_or_default()
                .into(),
        }
    }
}

/// How `PayloadSizeRule` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Equal,
    Greater,
    GreaterOrEqual,
    Smaller,
    SmallerOrEqual,
}

impl Compare {
    pub fn parse(s: &str) -> Option<Compare> {
        Some(match s {
            "equal" => Compare::Equal,
            "greater" => Compare::Greater,
            "greaterOrEqual" => Compare::GreaterOrEqual,
            "smaller" => Compare::Smaller,
            "smallerOrEqual" => Compare::SmallerOrEqual,
            _ => return None,
        })
    }

    fn test(self, a: usize, b: usize) -> bool {
        match self {
            Compare::Equal => a == b,
            Compare::Greater => a > b,
            Compare::GreaterOrEqual => a >= b,
            Compare::Smaller => a < b,
            Compare::SmallerOrEqual => a <= b,
        }
    }
}

/// The kinds of selector.
#[derive(Debug)]
pub enum Kind {
    All,
    /// Exact query name.
    QName(NameSet),
    /// Query name at or below one of the names.
    QNameSuffix(NameSet),
    /// Source address (or, with `source` false, nothing else we know).
    Netmask(NetmaskGroup),
    QType(u16),
    QClass(u16),
    Opcode(u8),
    /// RD set.
    RecursionDesired,
    /// DO set.
    Dnssec,
    /// Over TCP (true) or UDP (false).
    Tcp(bool),
    /// Label count outside [min, max].
    LabelsCount {
        min: usize,
        max: usize,
    },
    /// Wire length outside [min, max].
    WireLength {
        min: usize,
        max: usize,
    },
    PayloadSize(Compare, usize),
    /// EDNS version greater than this.
    EdnsVersion(u8),
    EdnsOption(u16),
    DstPort(u16),
    Probability(f64),
    /// Client over its per-address rate.
    MaxQpsIp(ClientLimiter),
    /// Global rate *not* exceeded (dnsdist's inverted semantics).
    MaxQps(GlobalLimiter),
    /// POSIX-style, case-insensitive, on the name without its final dot.
    Regex(crate::name_regex::NameRegex),
    /// The response's rcode (low 4 bits); never matches a query.
    RCode(u16),
    /// The response's full extended rcode; never matches a query.
    ERCode(u16),
    /// A tag is set (and has this value).
    Tag(Arc<str>, Option<Arc<str>>),
    /// The pool has a server up.
    PoolAvailable(String),
    /// Code from the config decides (`LuaRule`).
    Hook(Arc<dyn crate::hook::QueryHook>),
    /// Bytes follow the message (`TrailingDataRule`).
    TrailingData,
    /// The TLS server name is this (lowercase, no final dot) (`SNIRule`).
    Sni(String),
    /// A DoH request's header (lowercase name) matches (`HTTPHeaderRule`).
    HttpHeader(String, regex_lite::Regex),
    /// A DoH request's path is this (`HTTPPathRule`).
    HttpPath(String),
    /// A DoH request's path matches (`HTTPPathRegexRule`).
    HttpPathRegex(regex_lite::Regex),
    And(Vec<Arc<Selector>>),
    Or(Vec<Arc<Selector>>),
    Not(Arc<Selector>),
}

/// A selector with its match counter.
#[derive(Debug)]
pub struct Selector {
    pub kind: Kind,
    matches: Counter,
}

impl Selector {
    pub fn new(kind: Kind) -> Arc<Selector> {
        Arc::new(Selector {
            kind,
            matches: Counter::default(),
        })
    }

    /// Times it matched.
    pub fn matches(&self) -> u64 {
        self.matches.get()
    }

    /// Whether `other` matches exactly the queries this one matches, with
    /// no state of its own (no rate, no randomness, no tags set by earlier
    /// rules): a rule planner may then skip it after this one.
    pub fn same_stateless(&self, other: &Selector) -> bool {
        use Kind::*;
        let all_same = |a: &[Arc<Selector>], b: &[Arc<Selector>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_stateless(y))
        };
        match (&self.kind, &other.kind) {
            (All, All) | (RecursionDesired, RecursionDesired) | (Dnssec, Dnssec) => true,
            (QName(a), QName(b)) | (QNameSuffix(a), QNameSuffix(b)) => a.same_names(b),
            (Netmask(a), Netmask(b)) => a == b,
            (QType(a), QType(b)) | (QClass(a), QClass(b)) | (DstPort(a), DstPort(b)) => a == b,
            (Opcode(a), Opcode(b)) | (EdnsVersion(a), EdnsVersion(b)) => a == b,
            (Tcp(a), Tcp(b)) => a == b,
            (EdnsOption(a), EdnsOption(b)) => a == b,
            (LabelsCount { min: a, max: b }, LabelsCount { min: c, max: d })
            | (WireLength { min: a, max: b }, WireLength { min: c, max: d }) => a == c && b == d,
            (PayloadSize(a, x), PayloadSize(b, y)) => a == b && x == y,
            (And(a), And(b)) | (Or(a), Or(b)) => all_same(a, b),
            (Not(a), Not(b)) => a.same_stateless(b),
            _ => false,
        }
    }

    /// Whether `q` matches (and counts it).
    pub fn test(&self, q: &QueryInfo) -> bool {
        let hit = self.eval(q);
        if hit {
            self.matches.add(1);
        }
        hit
    }

    fn eval(&self, q: &QueryInfo) -> bool {
        let query = q.query;
        match &self.kind {
            Kind::All => true,
            Kind::QName(set) => set.contains_exact(q.lname),
            Kind::QNameSuffix(set) => set.contains_suffix_of(q.lname),
            Kind::Netmask(g) => g.contains(q.client.ip()),
            Kind::QType(t) => query.qtype == *t,
            Kind::QClass(c) => query.qclass == *c,
            Kind::Opcode(o) => query.opcode == *o,
            Kind::RecursionDesired => query.recursion_desired(),
            Kind::Dnssec => query.edns.is_some_and(|e| e.dnssec_ok),
            Kind::Tcp(tcp) => q.tcp == *tcp,
            Kind::LabelsCount { min, max } => {
                let n = wire::name::label_count(q.lname);
                n < *min || n > *max
            }
            Kind::WireLength { min, max } => q.lname.len() < *min || q.lname.len() > *max,
            Kind::PayloadSize(cmp, size) => cmp.test(query.packet.len(), *size),
            Kind::EdnsVersion(v) => query.edns.is_some_and(|e| e.version > *v),
            Kind::EdnsOption(code) => query.has_edns_option(*code),
            Kind::DstPort(p) => q.local.port() == *p,
            Kind::Probability(p) => wire::random::unit() < *p,
            Kind::MaxQpsIp(l) => !l.check_at(q.client.ip(), q.clock.now_ns()),
            Kind::MaxQps(l) => l.check_at(q.clock.now_ns()),
            Kind::Regex(re) => re.is_match(q.lname),
            Kind::RCode(rc) => q.rcode.is_some_and(|r| r & 0xf == *rc),
            Kind::ERCode(rc) => q.rcode == Some(*rc),
            Kind::Tag(name, value) => match (q.tags.get(name), value) {
                (Some(v), Some(want)) => v == *want,
                (Some(_), None) => true,
                (None, _) => false,
            },
            Kind::PoolAvailable(name) => {
                q.pools.is_some_and(|p| p.members(name).any(|b| b.is_up()))
            }
            Kind::Hook(h) => h.matches(q),
            Kind::TrailingData => !q.trailing_data().is_empty(),
            Kind::Sni(name) => q
                .stream
                .and_then(|s| s.sni)
                .is_some_and(|sni| sni.trim_end_matches('.').eq_ignore_ascii_case(name)),
            Kind::HttpHeader(name, re) => q
                .stream
                .and_then(|s| s.http.as_ref())
                .and_then(|h| h.header(name))
                .is_some_and(|v| re.is_match(v)),
            Kind::HttpPath(path) => http_path(q).is_some_and(|p| p == path),
            Kind::HttpPathRegex(re) => http_path(q).is_some_and(|p| re.is_match(p)),
            // Only the rule's own selector counts a match (as dnsdist):
            // the parts of a compound one are evaluated, not counted.
            Kind::And(all) => all.iter().all(|s| s.eval(q)),
            Kind::Or(any) => any.iter().any(|s| s.eval(q)),
            Kind::Not(s) => !s.eval(q),
        }
    }

    /// The description `showRules` prints, as dnsdist words it.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::All => "All".into(),
            Kind::QName(set) => format!("qname=={}", set.describe()),
            Kind::QNameSuffix(set) => format!("qname in {}", set.describe()),
            Kind::Netmask(g) => {
                let masks: Vec<String> = g.masks().iter().map(ToString::to_string).collect();
                format!("Src: {}", masks.join(", "))
            }
            Kind::QType(t) => format!("qtype=={}", rtype_name(*t)),
            Kind::QClass(c) => format!("qclass=={c}"),
            Kind::Opcode(o) => format!("opcode=={o}"),
            Kind::RecursionDesired => "rd==1".into(),
            Kind::Dnssec => "DNSSEC".into(),
            Kind::Tcp(tcp) => (if *tcp { "TCP" } else { "UDP" }).to_string(),
            Kind::LabelsCount { min, max } => {
                format!("labels count < {min} || labels count > {max}")
            }
            Kind::WireLength { min, max } => format!("wire length < {min} || wire length > {max}"),
            Kind::PayloadSize(cmp, size) => format!("payload size is {cmp:?} to {size}"),
            Kind::EdnsVersion(v) => format!("EDNS version > {v}"),
            Kind::EdnsOption(c) => format!("EDNS option {c}"),
            Kind::DstPort(p) => format!("dst port=={p}"),
            Kind::Probability(p) => format!("match with prob. {p:.2}"),
            Kind::MaxQpsIp(l) => format!(
                "IP (/{}, /{}) match for QPS over {} burst {}",
                l.v4_mask,
                l.v6_mask,
                trim_float(l.qps),
                l.burst
            ),
            Kind::MaxQps(l) => format!("Max {} qps", trim_float(l.qps)),
            Kind::Regex(re) => format!("Regex: {}", re.text),
            Kind::RCode(rc) => format!("rcode=={rc}"),
            Kind::ERCode(rc) => format!("ercode=={rc}"),
            Kind::Tag(n, Some(v)) => format!("tag '{n}' is '{v}'"),
            Kind::Tag(n, None) => format!("tag '{n}' is set"),
            Kind::Hook(h) => h.describe(),
            Kind::TrailingData => "trailing data".into(),
            Kind::Sni(name) => format!("TLS SNI == {name}"),
            Kind::HttpHeader(name, re) => format!("HTTP header {name} matches {}", re.as_str()),
            Kind::HttpPath(p) => format!("HTTP path == {p}"),
            Kind::HttpPathRegex(re) => format!("HTTP path matches {}", re.as_str()),
            Kind::PoolAvailable(p) => format!("pool '{p}' is available"),
            Kind::And(all) => format!("({})", join(all, " && ")),
            Kind::Or(any) => format!("({})", join(any, " || ")),
            Kind::Not(s) => format!("!({})", s.describe()),
        }
    }
}

fn http_path<'a>(q: &QueryInfo<'a>) -> Option<&'a str> {
    q.stream.and_then(|s| s.http).map(|h| h.path)
}

fn join(list: &[Arc<Selector>], sep: &str) -> String {
    list.iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(sep)
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend(crate::suffix::parse_name(name).unwrap());
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        p
    }

    fn test(sel: &Selector, name: &str, qtype: u16, client: &str) -> bool {
        let packet = query(name, qtype);
        let q = wire::Query::parse(&packet).unwrap();
        let lname = crate::suffix::parse_name(name).unwrap();
        let tags = Tags::default();
        let info = QueryInfo {
            client: client.parse().unwrap(),
            local: "192.0.2.53:53".parse().unwrap(),
            tcp: false,
            query: &q,
            lname: &lname,
            rcode: None,
            tags: &tags,
            trailing: &Default::default(),
            pools: None,
            clock: &Default::default(),
            stream: None,
        };
        sel.test(&info)
    }

    #[test]
    fn basic_selectors() {
        let mut set = NameSet::new();
        set.add("example.org").unwrap();
        let suffix = Selector::new(Kind::QNameSuffix(set));
        assert!(test(&suffix, "www.Example.org", 1, "192.0.2.1:53"));
        assert!(!test(&suffix, "example.com", 1, "192.0.2.1:53"));
        assert_eq!(suffix.matches(), 1);
        assert_eq!(suffix.describe(), "qname in example.org.");
        let any = Selector::new(Kind::QType(255));
        assert!(test(&any, "x.test", 255, "192.0.2.1:53"));
        assert_eq!(any.describe(), "qtype==ANY");
        let labels = Selector::new(Kind::LabelsCount { min: 1, max: 3 });
        assert!(test(&labels, "a.b.c.d.test", 1, "192.0.2.1:53"));
        assert!(!test(&labels, "b.test", 1, "192.0.2.1:53"));
        let re = Selector::new(Kind::Regex(
            crate::name_regex::NameRegex::new("^x[0-9]+\\.").unwrap(),
        ));
        assert!(test(&re, "X42.example.org", 1, "192.0.2.1:53"));
        assert!(!test(&re, "www.example.org", 1, "192.0.2.1:53"));
        let not = Selector::new(Kind::Not(any.clone()));
        assert!(test(&not, "x.test", 1, "192.0.2.1:53"));
    }

    #[test]
    fn max_qps_ip_matches_when_over() {
        let sel = Selector::new(Kind::MaxQpsIp(ClientLimiter::new(5.0, 5, 24, 64)));
        let hits: Vec<bool> = (0..6)
            .map(|_| test(&sel, "a.test", 1, "127.0.0.5:1000"))
            .collect();
        assert_eq!(hits, [false, false, false, false, false, true]);
        assert!(!test(&sel, "a.test", 1, "127.0.1.5:1000"));
        assert_eq!(sel.describe(), "IP (/24, /64) match for QPS over 5 burst 5");
    }
}
