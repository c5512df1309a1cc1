//! The shield: dnsdist's rule language as plain Rust objects, and the
//! state the defences keep.
//!
//! The Lua config builds these objects at load time; the query path only
//! evaluates them (no Lua, no global lock: rate-limit buckets are sharded
//! and lock-free where global, hit counters are sharded per thread). A
//! [`Shield`] (ACL, rules, response rules, RRL, cookies) is swapped whole
//! on reload; the [`Runtime`] (rings, dynamic blocks, counters, the RRL
//! table) outlives reloads, so an attack in progress is not forgotten.
//!
//! Modules:
//! - [`netmask`]: netmasks, groups and the default ACL;
//! - [`suffix`]: name sets matched exactly or by suffix (domain blocks);
//! - [`name_regex`]: `RegexRule`, with a literal prefilter on the wire
//!   name;
//! - [`qps`]: `MaxQPSIPRule` / `MaxQPSRule` rate limits (GCRA), and the
//!   monotonic clock the query path shares;
//! - [`selector`]: what a rule matches;
//! - [`action`]: what it does; [`edits`]: the changes actions make to a
//!   query (RD, CD, skip-cache, ECS) and the flags put back in its answer;
//! - [`hook`]: rules whose decision is code from the config (`LuaAction`,
//!   `LuaRule`), behind a trait;
//! - [`stream_info`]: what TLS (SNI) and DoH (the HTTP request) say, for
//!   `SNIRule` and the `HTTP*Rule`s;
//! - [`rules`]: the rule chain, its evaluation and the check for rules an
//!   earlier one makes unreachable;
//! - [`response`]: response rules (`addResponseAction`, `RCodeRule`);
//! - [`answer`]: answers the shield makes itself (RCODE, TC, spoofs);
//! - [`querylog`]: `LogAction`'s text and binary query logs;
//! - [`rings`]: recent queries and responses, per-thread shards of
//!   seqlocked entries;
//! - [`dynblock`]: dynamic blocks and the rate rules that insert them;
//! - [`known`]: names answered positively lately, which the
//!   random-subdomain block lets through;
//! - [`stats`]: counters and the inspection commands over the rings
//!   (`topQueries`, `grepq`, `dumpStats`, …); [`statnode`]:
//!   `statNodeRespRing`'s tree of names; [`counter`]: a counter sharded
//!   across threads;
//! - [`rrl`]: Response Rate Limiting (BIND's `rate-limit`);
//! - [`cookie`]: DNS Cookies (RFC 7873, RFC 9018 server cookies);
//! - [`logthrottle`]: log lines a packet can cause, throttled per source
//!   network (used by `net` and `xfr` too);
//! - [`error`]: why a setting was refused ([`ShieldError`]).

pub mod action;
pub mod answer;
pub mod cookie;
pub mod counter;
pub mod dynblock;
pub mod edits;
pub mod error;
pub mod frontend;
pub mod hook;
pub mod known;
pub mod name_regex;
pub mod qps;
pub mod querylog;
pub mod response;
pub mod rings;
pub mod rrl;
pub mod rules;
pub mod selector;
pub mod statnode;
pub mod stats;
pub mod stream_info;
pub mod suffix;

// Netmasks and the per-source log throttle live in their own crate, below
// this one; these names keep `shield::netmask` and `shield::logthrottle`.
pub use ::netmask;
pub use netmask::logthrottle;

pub use action::Action;
pub use edits::{EcsEdits, QueryEdits};
pub use error::ShieldError;
pub use netmask::{Netmask, NetmaskError, NetmaskGroup};
pub use rules::{Outcome, Rule, RuleChain, Verdict};
pub use selector::{QueryInfo, Selector, Tags, Trailing};

/// What lives across reloads: the rings and the dynamic blocks (a reload
/// must not forget an attack in progress).
#[derive(Debug)]
pub struct Runtime {
    pub rings: arc_swap::ArcSwap<rings::Rings>,
    pub dynblocks: dynblock::DynBlocks,
    /// The action of blocks that name none (`setDynBlocksAction`).
    pub default_block_action: std::sync::Mutex<dynblock::BlockAction>,
    pub stats: stats::Stats,
    /// Names answered positively lately (for the random-subdomain guard).
    pub known: known::KnownNames,
    pub query_counts: stats::QueryCounts,
    /// The response rules in force, for threads that see only the runtime
    /// (the backend responders): the installed shield's own chain (the
    /// same `Arc`), put here by `net::State::publish` alone.
    pub response_rules: arc_swap::ArcSwap<response::ResponseChain>,
    /// The rate-limit table last made, reused while the settings stay the
    /// same: a reload must not forget a flood in progress.
    rrl: std::sync::Mutex<Option<std::sync::Arc<rrl::Rrl>>>,
    /// Every listener's counts, in dnsdist's frontend order (set when the
    /// sockets are bound; read by the console and the web server).
    pub frontends: arc_swap::ArcSwap<Vec<std::sync::Arc<frontend::FrontendCounts>>>,
}

impl Runtime {
    /// The rate-limit table for `settings`: the current one when its
    /// settings are the same, else a new one (which becomes current).
    pub fn rrl_table(&self, settings: rrl::Settings) -> std::sync::Arc<rrl::Rrl> {
        let mut current = self.rrl.lock().unwrap_or_else(|p| p.into_inner());
        match &*current {
            Some(t) if *t.settings() == settings => t.clone(),
            _ => {
                let t = std::sync::Arc::new(rrl::Rrl::new(settings));
                *current = Some(t.clone());
                t
            }
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            rings: arc_swap::ArcSwap::from_pointee(rings::Rings::default()),
            dynblocks: dynblock::DynBlocks::default(),
            default_block_action: std::sync::Mutex::new(dynblock::BlockAction::Drop),
            stats: stats::Stats::default(),
            known: known::KnownNames::default(),
            query_counts: stats::QueryCounts::default(),
            response_rules: arc_swap::ArcSwap::from_pointee(response::ResponseChain::default()),
            rrl: std::sync::Mutex::new(None),
            frontends: Default::default(),
        }
    }
}

/// Everything the shield applies to a query: swapped whole on reload.
#[derive(Debug, Clone)]
pub struct Shield {
    /// Clients allowed to query at all (dnsdist's ACL).
    pub acl: NetmaskGroup,
    pub rules: RuleChain,
    /// Shared with [`Runtime::response_rules`] once installed (one chain,
    /// not a copy); changed copy-on-write (`Arc::make_mut`).
    pub response_rules: std::sync::Arc<response::ResponseChain>,
    /// Response Rate Limiting, when configured (made by
    /// [`Runtime::rrl_table`]).
    pub rrl: Option<std::sync::Arc<rrl::Rrl>>,
    /// DNS Cookies (on by default, as BIND).
    pub cookies: std::sync::Arc<cookie::Settings>,
    /// Rules for the answers the query rules made themselves
    /// (`addSelfAnsweredResponseAction`).
    pub self_answered_rules: response::ResponseChain,
    /// Drop queries without a question instead of answering them
    /// (dnsdist's `setDropEmptyQueries`, off by default).
    pub drop_empty_queries: bool,
}

impl Shield {
    /// Whether `other` holds the very same ACL and rule objects (so a
    /// runtime change can be told from none without comparing contents).
    pub fn same_as(&self, other: &Shield) -> bool {
        let rules = |a: &RuleChain, b: &RuleChain| {
            a.rules().len() == b.rules().len()
                && a.rules().iter().zip(b.rules()).all(|(x, y)| {
                    std::sync::Arc::ptr_eq(&x.selector, &y.selector)
                        && std::sync::Arc::ptr_eq(&x.action, &y.action)
                })
        };
        let same = |a: &response::ResponseChain, b: &response::ResponseChain| {
            a.rules.len() == b.rules.len()
                && a.rules.iter().zip(&b.rules).all(|(x, y)| {
                    std::sync::Arc::ptr_eq(&x.selector, &y.selector)
                        && std::sync::Arc::ptr_eq(&x.action, &y.action)
                })
        };
        let rrl = match (&self.rrl, &other.rrl) {
            (Some(a), Some(b)) => a.settings() == b.settings(),
            (None, None) => true,
            _ => false,
        };
        let responses = same(&self.response_rules, &other.response_rules)
            && same(&self.self_answered_rules, &other.self_answered_rules);
        self.acl == other.acl
            && rules(&self.rules, &other.rules)
            && responses
            && self.response_rules.truncate_tc == other.response_rules.truncate_tc
            && self.response_rules.allow_empty_response == other.response_rules.allow_empty_response
            && self.response_rules.fix_case == other.response_rules.fix_case
            && self.drop_empty_queries == other.drop_empty_queries
            && rrl
            && self.cookies == other.cookies
    }
}

impl Default for Shield {
    fn default() -> Self {
        Shield {
            acl: netmask::default_acl(),
            rules: RuleChain::default(),
            response_rules: Default::default(),
            rrl: None,
            cookies: std::sync::Arc::new(cookie::Settings::default()),
            self_answered_rules: response::ResponseChain::default(),
            drop_empty_queries: false,
        }
    }
}
