//! Rules whose decision is code from the config (dnsdist's `LuaAction`,
//! `LuaRule`): the shield calls a [`QueryHook`] and knows nothing of the
//! language behind it. A chain without hook rules never calls one.

use std::fmt;

use crate::selector::QueryInfo;

/// What a hook decided for a query.
#[derive(Clone, Debug, Default)]
pub struct HookDecision {
    pub verdict: HookVerdict,
    /// With [`HookVerdict::Answer`]: the Spoof* action that makes the
    /// answer (`DNSAction.Spoof`, `SpoofRaw`, `dq:spoof(...)`).
    pub answer: Option<std::sync::Arc<crate::Action>>,
    /// Bypass the pool's packet cache (`dq.skipCache = true`).
    pub skip_cache: bool,
    /// A cache TTL for a SERVFAIL/REFUSED answer (`dq.tempFailureTTL`).
    pub temp_failure_ttl: Option<u32>,
    /// For a response hook: new TTLs, each at the offset of a record's
    /// TTL field in the answer it was given (`dr:editTTLs`).
    pub ttls: Vec<(usize, u32)>,
    /// The header's flags word as the hook left it, if it changed it
    /// (`dq.dh:setCD(true)`): a query goes on with it, and one turned
    /// into a response (QR set) is answered as it stands (dnsdist's
    /// "something turned it into a response"); a response is sent with
    /// it.
    pub flags: Option<u16>,
}

/// The action part of a hook's decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HookVerdict {
    /// Keep going (`DNSAction.None`, `NoOp`).
    #[default]
    Continue,
    Allow,
    Drop,
    /// Answer with this rcode (Nxdomain, Refused, ServFail).
    RCode(u16),
    /// TC over UDP; keep going over TCP.
    Truncate,
    /// Hold the UDP answer this many milliseconds; keep going.
    Delay(u32),
    /// Clear RD; keep going.
    NoRecurse,
    /// Answer with [`HookDecision::answer`].
    Answer,
}

/// Code called for each query a hook rule sees.
pub trait QueryHook: Send + Sync + fmt::Debug {
    /// For `LuaAction`: what to do with the query.
    fn decide(&self, q: &QueryInfo) -> HookDecision;
    /// For `LuaResponseAction`: what to do with `answer` (the message
    /// the client is about to get).
    fn respond(&self, q: &QueryInfo, answer: &[u8]) -> HookDecision {
        let _ = answer;
        self.decide(q)
    }
    /// For `LuaRule`: whether the query matches.
    fn matches(&self, q: &QueryInfo) -> bool;
    /// How `showRules` shows it.
    fn describe(&self) -> String;
}
