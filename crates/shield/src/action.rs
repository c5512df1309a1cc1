//! Actions: what a rule does when its selector matches (dnsdist's
//! `*Action` objects). Terminal ones end rule processing.

use std::net::IpAddr;
use std::sync::Arc;

use crate::qps::GlobalLimiter;
use crate::querylog::QueryLog;

/// An action.
#[derive(Debug)]
pub enum Action {
    /// Stop processing rules; answer normally.
    Allow,
    /// Send nothing (UDP); close the connection (TCP).
    Drop,
    /// Do nothing (keep going).
    None,
    /// Hold the UDP answer this many milliseconds; keep going.
    Delay(u32),
    /// Answer with TC set over UDP; over TCP, keep going.
    Truncate,
    /// Answer with this rcode (4 bits, or extended with OPT).
    RCode(u16),
    /// Clear RD in the query; keep going.
    NoRecurse,
    /// Set CD in the query; keep going.
    DisableValidation,
    /// Bypass the pool's packet cache for this query; keep going.
    SkipCache,
    /// Cache a SERVFAIL/REFUSED answer this long; keep going.
    TempFailureCacheTtl(u32),
    /// Code from the config decides (`LuaAction`).
    Hook(Arc<dyn crate::hook::QueryHook>),
    /// Set this EDNS option in the query (replacing one of the same
    /// code, adding an OPT if needed); keep going (`SetEDNSOptionAction`).
    SetEdnsOption(u16, Vec<u8>),
    /// Run the inner action for its effect (a pool it picks is kept),
    /// then keep going (`ContinueAction`).
    Continue(Arc<Action>),
    /// Answer NXDOMAIN or NODATA with this SOA (`NegativeAndSOAAction`).
    NegativeSoa(Box<NegativeSoa>),
    /// Under the global rate: send to the pool; over it: keep going
    /// (`QPSPoolAction`).
    QpsPool(GlobalLimiter, Arc<str>),
    /// Log the query; keep going.
    Log(Arc<QueryLog>),
    /// Answer A/AAAA with these addresses (other types keep going).
    Spoof(Vec<IpAddr>, SpoofSettings),
    /// Answer with a CNAME to this name (lowercase wire form, as given).
    SpoofCname(Vec<u8>, String, SpoofSettings),
    /// Answer with these RDATAs, of the query's type.
    SpoofRaw(Vec<Vec<u8>>, SpoofSettings),
    /// Send to a pool of backends.
    Pool(Arc<str>),
    /// Over the global rate: drop; under it: keep going (`QPSAction`).
    Qps(GlobalLimiter),
    /// Tag the query; keep going.
    SetTag(Arc<str>, Arc<str>),
    /// Over DNS over HTTPS: answer with this HTTP status and body (a
    /// 3xx's body is the `Location`) instead of DNS; other queries keep
    /// going (`HTTPStatusAction`).
    HttpStatus {
        status: u16,
        body: Vec<u8>,
        content_type: String,
    },
    /// Tell a `useClientSubnet` backend this network (the IPv6 one, if
    /// given, for IPv6 clients); keep going (`SetECSAction`).
    SetEcs(crate::Netmask, Option<crate::Netmask>),
    /// Cut the client's address to these prefixes (IPv4, IPv6) for the
    /// ECS option; keep going (`SetECSPrefixLengthAction`).
    SetEcsPrefix(u8, u8),
    /// Send no ECS option; keep going (`SetDisableECSAction`).
    DisableEcs,
    /// Replace (or keep) the client's own ECS option; keep going
    /// (`SetECSOverrideAction`).
    SetEcsOverride(bool),
}

impl Action {
    /// The description `showRules` prints, as dnsdist words it.
    pub fn describe(&self) -> String {
        match self {
            Action::HttpStatus { status, .. } => format!("return an HTTP status of {status}"),
            Action::Allow => "allow".into(),
            Action::Drop => "drop".into(),
            Action::None => "no op".into(),
            Action::Delay(ms) => format!("delay by {ms} ms"),
            Action::Truncate => "tc=1 answer".into(),
            Action::RCode(rc) => format!("set rcode {rc}"),
            Action::NoRecurse => "set rd=0".into(),
            Action::DisableValidation => "set cd=1".into(),
            Action::SkipCache => "skip cache".into(),
            Action::Hook(h) => h.describe(),
            Action::TempFailureCacheTtl(t) => format!("set tempfailure cache ttl to {t}"),
            Action::SetEdnsOption(code, _) => format!("add EDNS Option (code={code})"),
            Action::Continue(inner) => format!("continue after: {}", inner.describe()),
            Action::NegativeSoa(n) => {
                let kind = if n.nxdomain { "NXD" } else { "NODATA" };
                format!("{kind} with SOA {}", n.zone_text)
            }
            Action::QpsPool(l, p) => format!("max {} to pool {p}", l.qps),
            Action::Log(log) => log.describe(),
            Action::Spoof(addrs, _) => {
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                format!("spoof in {}", list.join(", "))
            }
            Action::SpoofCname(_, text, _) => format!("spoof in {text}"),
            Action::SpoofRaw(..) => "spoof in raw".into(),
            Action::Pool(p) => format!("to pool {p}"),
            Action::Qps(l) => format!("qps limit to {}", l.qps),
            Action::SetTag(n, v) => format!("set tag '{n}' to '{v}'"),
            Action::SetEcs(v4, v6) => match v6 {
                Some(v6) => format!("set ECS to {v4} / {v6}"),
                None => format!("set ECS to {v4}"),
            },
            Action::SetEcsPrefix(v4, v6) => {
                format!("set ECS prefix length to {v4}/{v6}")
            }
            Action::DisableEcs => "disable ECS".into(),
            Action::SetEcsOverride(on) => format!("set ECS override to {on}"),
        }
    }

    /// Whether matching it ends rule processing (for the `--check-config`
    /// shadowing check; the query path decides per query).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Action::Allow
                | Action::Drop
                | Action::RCode(_)
                | Action::SpoofCname(..)
                | Action::SpoofRaw(..)
                | Action::NegativeSoa(_)
                | Action::Pool(_)
        )
    }
}

/// The options of the Spoof* actions (dnsdist's `{aa=, ad=, ra=, ttl=}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpoofSettings {
    /// AA as given; unset: clear.
    pub aa: Option<bool>,
    /// AD as given; unset: clear.
    pub ad: Option<bool>,
    /// RA as given; unset: as RD.
    pub ra: Option<bool>,
    /// TTL of the records made.
    pub ttl: u32,
}

impl Default for SpoofSettings {
    fn default() -> Self {
        // dnsdist's TTL for spoofed records.
        SpoofSettings {
            aa: None,
            ad: None,
            ra: None,
            ttl: 60,
        }
    }
}

/// A negative answer made up by a rule (`NegativeAndSOAAction`).
#[derive(Debug)]
pub struct NegativeSoa {
    /// NXDOMAIN, or NOERROR with no data.
    pub nxdomain: bool,
    /// The SOA's owner, wire form.
    pub zone: Vec<u8>,
    /// The zone as configured, for `showRules`.
    pub zone_text: String,
    pub ttl: u32,
    /// The SOA's RDATA: mname, rname (uncompressed), serial, refresh,
    /// retry, expire, minimum.
    pub rdata: Vec<u8>,
    /// In the authority section (`soaInAuthoritySection=true`); dnsdist
    /// 1.7 puts it in the additional section by default.
    pub in_authority: bool,
}
