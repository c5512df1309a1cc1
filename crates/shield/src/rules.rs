//! The rule chain: rules run in order, the first terminal action wins
//! (dnsdist's `processRulesResult`).
//!
//! Before the first query a chain is planned ([`Step`]): a run of three or
//! more consecutive rules with the same terminal action whose selectors
//! are plain membership tests (names, suffixes, types, netmasks: what a
//! list of `addDomainBlock` lines makes) is checked as one union, and
//! only on a hit are its rules tested in order, so the counters and the
//! first-match order stay dnsdist's. A stateless rule configured again
//! right after itself with the same terminal action cannot decide anything
//! the first did not, and is skipped (a rate rule is never skipped: the
//! second bucket sees only what the first let through).

use std::sync::{Arc, OnceLock};

use crate::netmask::NetmaskGroup;
use crate::suffix::NameSet;

use crate::action::Action;
use crate::edits::QueryEdits;
use crate::selector::{Kind, QueryInfo, Selector};

/// A rule: a selector and the action taken when it matches.
#[derive(Clone, Debug)]
pub struct Rule {
    pub selector: Arc<Selector>,
    pub action: Arc<Action>,
    pub name: String,
    pub uuid: String,
}

/// What the rules decided for a query.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'r> {
    /// No terminal rule matched: answer normally.
    Continue,
    /// AllowAction: answer normally.
    Allow,
    /// Send nothing; over TCP close the connection.
    Drop,
    /// Answer with TC=1 (UDP only; TCP never gets this outcome).
    Truncate,
    /// Answer with this rcode.
    RCode(u16),
    /// Answer from a Spoof* action.
    Spoof(&'r Action),
    /// Send to this pool.
    Pool(&'r str),
    /// Answer as `Verdict::hook_answer` says (a Spoof* action a hook
    /// made for this query).
    HookAnswer,
    /// Answer a DNS over HTTPS query with this HTTPStatusAction's HTTP
    /// status and body.
    Http(&'r Action),
}

/// The outcome plus what non-terminal actions asked for.
#[derive(Clone, Debug)]
pub struct Verdict<'r> {
    pub outcome: Outcome<'r>,
    /// Delay the UDP answer by this many milliseconds (last one wins).
    pub delay_ms: Option<u32>,
    /// What to change in the query before it is answered or sent on.
    pub edits: QueryEdits,
    /// An EDNS option to set in the query (the last matching
    /// SetEDNSOptionAction's).
    pub edns_option: Option<(u16, &'r [u8])>,
    /// With [`Outcome::HookAnswer`]: the action that makes the answer.
    pub hook_answer: Option<Arc<Action>>,
    /// The rcode answer comes from a hook: dnsdist sends the query back
    /// with QR and the rcode, RA as the client sent it (where an
    /// RCodeAction's answer gets RA = RD).
    pub echo_header: bool,
}

/// The query rules, in order.
#[derive(Debug, Default)]
pub struct RuleChain {
    rules: Vec<Rule>,
    /// How the rules are evaluated: made by [`RuleChain::prepare`] (or
    /// the first query), kept by clones (the rules are the same) and
    /// dropped by every change ([`RuleChain::rules_mut`]).
    plan: OnceLock<Arc<[Step]>>,
}

impl Clone for RuleChain {
    fn clone(&self) -> Self {
        let plan = OnceLock::new();
        if let Some(p) = self.plan.get() {
            let _ = plan.set(p.clone());
        }
        RuleChain {
            rules: self.rules.clone(),
            plan,
        }
    }
}

/// One step of a planned chain.
#[derive(Debug)]
enum Step {
    /// This rule, as it is.
    One(usize),
    /// This rule repeats the one before it with TCAction: over UDP the
    /// first ended evaluation or did not match, so this one is tested
    /// over TCP only (where TC does not end it).
    OverTcp(usize),
    /// Rules `start..end`, same terminal action, checked as one union.
    Run {
        start: usize,
        end: usize,
        union: Box<Union>,
    },
}

/// The union of a run's membership tests.
#[derive(Debug, Default)]
struct Union {
    names: NameSet,
    suffixes: NameSet,
    qtypes: Vec<u16>,
    nets: NetmaskGroup,
}

impl Union {
    /// Adds `kind` if it is a membership test.
    fn add(&mut self, kind: &Kind) -> bool {
        match kind {
            Kind::QName(set) => self.names.extend_from(set),
            Kind::QNameSuffix(set) => self.suffixes.extend_from(set),
            Kind::QType(t) => self.qtypes.push(*t),
            Kind::Netmask(g) => {
                for m in g.masks() {
                    self.nets.add(*m);
                }
            }
            _ => return false,
        }
        true
    }

    fn matches(&self, q: &QueryInfo) -> bool {
        self.qtypes.contains(&q.query.qtype)
            || (!self.names.is_empty() && self.names.contains_exact(q.lname))
            || (!self.suffixes.is_empty() && self.suffixes.contains_suffix_of(q.lname))
            || (!self.nets.is_empty() && self.nets.contains(q.client.ip()))
    }
}

/// Whether `kind` is a plain membership test (a run may merge it).
fn mergeable(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::QName(_) | Kind::QNameSuffix(_) | Kind::QType(_) | Kind::Netmask(_)
    )
}

/// Whether two actions end evaluation the same way whichever matched.
fn same_terminal(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (Action::Drop, Action::Drop) | (Action::Allow, Action::Allow) => true,
        (Action::RCode(x), Action::RCode(y)) => x == y,
        _ => false,
    }
}

/// Applies one matching rule's `action`: the outcome if it ends rule
/// processing, `None` to keep going (after noting its effect in
/// `verdict`, or the pool it picked in `pool`).
fn apply<'r>(
    action: &'r Action,
    q: &QueryInfo,
    verdict: &mut Verdict<'r>,
    pool: &mut Option<&'r str>,
) -> Option<Outcome<'r>> {
    Some(match action {
        Action::Allow => Outcome::Allow,
        Action::Drop => Outcome::Drop,
        Action::None => return None,
        Action::Delay(ms) => {
            verdict.delay_ms = Some(*ms);
            return None;
        }
        // Over TCP, TC would make no sense: keep going.
        Action::Truncate if q.tcp => return None,
        Action::Truncate => Outcome::Truncate,
        Action::RCode(rc) => Outcome::RCode(*rc),
        Action::NoRecurse => {
            verdict.edits.clear_rd = true;
            return None;
        }
        Action::DisableValidation => {
            verdict.edits.set_cd = true;
            return None;
        }
        Action::SkipCache => {
            verdict.edits.skip_cache = true;
            return None;
        }
        Action::TempFailureCacheTtl(ttl) => {
            verdict.edits.temp_failure_ttl = Some(*ttl);
            return None;
        }
        Action::Hook(hook) => {
            use crate::hook::HookVerdict;
            let d = hook.decide(q);
            verdict.edits.skip_cache |= d.skip_cache;
            if d.temp_failure_ttl.is_some() {
                verdict.edits.temp_failure_ttl = d.temp_failure_ttl;
            }
            match d.flags {
                // Turned into a response: answered as it stands.
                Some(f)
                    if f & wire::types::flags::QR != 0 && d.verdict == HookVerdict::Continue =>
                {
                    verdict.echo_header = true;
                    return Some(Outcome::RCode(f & 0xf));
                }
                Some(f) if d.verdict != HookVerdict::Answer => verdict.edits.flags = Some(f),
                _ => {}
            }
            match d.verdict {
                HookVerdict::Continue => return None,
                HookVerdict::Allow => Outcome::Allow,
                HookVerdict::Drop => Outcome::Drop,
                HookVerdict::RCode(rc) => {
                    verdict.echo_header = true;
                    Outcome::RCode(rc)
                }
                HookVerdict::Truncate if q.tcp => return None,
                HookVerdict::Truncate => Outcome::Truncate,
                HookVerdict::Delay(ms) => {
                    verdict.delay_ms = Some(ms);
                    return None;
                }
                HookVerdict::NoRecurse => {
                    verdict.edits.clear_rd = true;
                    return None;
                }
                HookVerdict::Answer => {
                    verdict.hook_answer = d.answer;
                    Outcome::HookAnswer
                }
            }
        }
        Action::SetEdnsOption(code, data) => {
            verdict.edns_option = Some((*code, data));
            return None;
        }
        Action::Continue(inner) => {
            // Whatever the inner action decides is dropped, but a pool it
            // picks is kept (dnsdist's ContinueAction).
            if let Some(Outcome::Pool(p)) = apply(inner, q, verdict, pool) {
                *pool = Some(p);
            }
            return None;
        }
        Action::Log(log) => {
            log.log(q);
            return None;
        }
        Action::Spoof(addrs, _) => {
            // Only for the types the addresses answer.
            let answers = addrs.iter().any(|a| match q.query.qtype {
                wire::types::rtype::A => a.is_ipv4(),
                wire::types::rtype::AAAA => a.is_ipv6(),
                wire::types::rtype::ANY => true,
                _ => false,
            });
            if !answers {
                return None;
            }
            Outcome::Spoof(action)
        }
        Action::SpoofCname(..) | Action::SpoofRaw(..) | Action::NegativeSoa(_) => {
            Outcome::Spoof(action)
        }
        Action::Pool(p) => Outcome::Pool(p),
        Action::Qps(limit) => {
            if limit.check_at(q.clock.now_ns()) {
                return None;
            }
            Outcome::Drop
        }
        Action::QpsPool(limit, p) => {
            if !limit.check_at(q.clock.now_ns()) {
                return None;
            }
            Outcome::Pool(p)
        }
        Action::SetTag(name, value) => {
            q.tags.set(name, value);
            return None;
        }
        Action::HttpStatus { .. } if q.stream.is_some_and(|s| s.http.is_some()) => {
            Outcome::Http(action)
        }
        Action::HttpStatus { .. } => return None,
        Action::SetEcs(v4, v6) => {
            let net = match v6 {
                Some(v6) if crate::netmask::unmap(q.client.ip()).is_ipv6() => v6,
                _ => v4,
            };
            verdict.edits.ecs.source = Some((net.addr(), net.prefix()));
            return None;
        }
        Action::SetEcsPrefix(v4, v6) => {
            verdict.edits.ecs.prefix = Some((*v4, *v6));
            return None;
        }
        Action::DisableEcs => {
            verdict.edits.ecs.disabled = true;
            return None;
        }
        Action::SetEcsOverride(on) => {
            verdict.edits.ecs.replace = Some(*on);
            return None;
        }
    })
}

/// The shortest run worth a union.
const MIN_RUN: usize = 3;

/// Plans `rules` (see the module documentation).
fn plan(rules: &[Rule]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < rules.len() {
        let r = &rules[i];
        // The same rule again: only the first can decide. Only selectors
        // without state qualify (a second rate rule sees just what the
        // first let through; a random one draws again).
        if i > 0 {
            let p = &rules[i - 1];
            let same_rule = || p.selector.same_stateless(&r.selector);
            if same_terminal(&p.action, &r.action) && same_rule() {
                i += 1;
                continue;
            }
            if matches!(
                (&*p.action, &*r.action),
                (Action::Truncate, Action::Truncate)
            ) && same_rule()
            {
                steps.push(Step::OverTcp(i));
                i += 1;
                continue;
            }
        }
        let mut end = i;
        while end < rules.len()
            && mergeable(&rules[end].selector.kind)
            && same_terminal(&r.action, &rules[end].action)
        {
            end += 1;
        }
        if end - i >= MIN_RUN {
            let mut union = Box::<Union>::default();
            for rule in &rules[i..end] {
                union.add(&rule.selector.kind);
            }
            steps.push(Step::Run {
                start: i,
                end,
                union,
            });
            i = end;
        } else {
            steps.push(Step::One(i));
            i += 1;
        }
    }
    steps
}

impl RuleChain {
    pub fn push(&mut self, rule: Rule) {
        self.rules_mut().push(rule);
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules to change; the plan is made again on the next query.
    /// Plans the chain now, before it is put in force: building the
    /// unions of a big block list must not fall on a query (with the
    /// other workers waiting for it).
    pub fn prepare(&self) {
        self.steps();
    }

    fn steps(&self) -> &[Step] {
        self.plan.get_or_init(|| plan(&self.rules).into())
    }

    pub fn rules_mut(&mut self) -> &mut Vec<Rule> {
        self.plan = OnceLock::new();
        &mut self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules over `q`.
    pub fn evaluate(&self, q: &QueryInfo) -> Verdict<'_> {
        let mut verdict = Verdict {
            outcome: Outcome::Continue,
            delay_ms: None,
            edits: QueryEdits::default(),
            edns_option: None,
            hook_answer: None,
            echo_header: false,
        };
        // A pool chosen by a rule that let evaluation go on
        // (ContinueAction(PoolAction(...))): where the query goes unless
        // a later rule decides otherwise (dnsdist's `dq->poolname`).
        let mut pool = None;
        for step in self.steps() {
            let rule = match step {
                Step::One(i) => &self.rules[*i],
                Step::OverTcp(_) if !q.tcp => continue,
                Step::OverTcp(i) => &self.rules[*i],
                Step::Run { start, end, union } => {
                    if !union.matches(q) {
                        continue;
                    }
                    // A hit: the first rule of the run that matches
                    // decides (and is the one counted).
                    match self.rules[*start..*end].iter().find(|r| r.selector.test(q)) {
                        Some(r) => r,
                        None => continue,
                    }
                }
            };
            if matches!(step, Step::One(_) | Step::OverTcp(_)) && !rule.selector.test(q) {
                continue;
            }
            if let Some(outcome) = apply(&rule.action, q, &mut verdict, &mut pool) {
                verdict.outcome = outcome;
                break;
            }
        }
        if let (Outcome::Continue | Outcome::Allow, Some(p)) = (verdict.outcome, pool) {
            verdict.outcome = Outcome::Pool(p);
        }
        verdict
    }

    /// Rules that can never fire because of one before them, each as a
    /// sentence for `--check-config`.
    pub fn unreachable(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (j, later) in self.rules.iter().enumerate() {
            for (i, earlier) in self.rules[..j].iter().enumerate() {
                if !earlier.action.is_terminal() {
                    continue;
                }
                if matches!(earlier.selector.kind, Kind::All) {
                    out.push(format!(
                        "rule {j} ({} → {}) is never reached: rule {i} matches every query and its action ({}) ends rule processing",
                        later.selector.describe(),
                        later.action.describe(),
                        earlier.action.describe()
                    ));
                    break;
                }
                if let (Kind::MaxQpsIp(a), Kind::MaxQpsIp(b)) =
                    (&earlier.selector.kind, &later.selector.kind)
                {
                    // Every query reaching the later rule took a token from
                    // the earlier bucket, which covers at least as many
                    // clients and refills no faster: it runs dry first.
                    if a.qps <= b.qps
                        && a.burst <= b.burst
                        && a.v4_mask <= b.v4_mask
                        && a.v6_mask <= b.v6_mask
                    {
                        out.push(format!(
                            "rule {j} ({} → {}) never fires: rule {i} ({} → {}) has the same or a lower rate on the same or a coarser mask, so it always fires first",
                            later.selector.describe(),
                            later.action.describe(),
                            earlier.selector.describe(),
                            earlier.action.describe()
                        ));
                        break;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qps::ClientLimiter;

    fn rule(kind: Kind, action: Action) -> Rule {
        Rule {
            selector: Selector::new(kind),
            action: Arc::new(action),
            name: String::new(),
            uuid: String::new(),
        }
    }

    fn info<'a>(
        query: &'a wire::Query<'a>,
        lname: &'a [u8],
        tags: &'a crate::Tags,
        clock: &'a crate::qps::QueryClock,
    ) -> QueryInfo<'a> {
        QueryInfo {
            client: "192.0.2.1:5353".parse().unwrap(),
            local: "192.0.2.53:53".parse().unwrap(),
            tcp: false,
            query,
            lname,
            rcode: None,
            tags,
            trailing: Box::leak(Box::default()),
            pools: None,
            clock,
            stream: None,
        }
    }

    fn suffix(name: &str) -> Kind {
        let mut s = NameSet::new();
        s.add(name).unwrap();
        Kind::QNameSuffix(s)
    }

    /// A run of domain blocks is one union check, yet the rule that
    /// matches first is the one counted, and what follows the run still
    /// runs in order.
    #[test]
    fn a_run_of_blocks_checks_one_union_and_counts_the_first_match() {
        let mut chain = RuleChain::default();
        for n in ["a.test", "b.test", "c.test", "b.test"] {
            chain.push(rule(suffix(n), Action::Drop));
        }
        chain.push(rule(Kind::QType(16), Action::Allow));
        chain.push(rule(Kind::QType(16), Action::Allow));
        chain.push(rule(Kind::All, Action::RCode(5)));
        let steps = plan(&chain.rules);
        assert_eq!(steps.len(), 3, "{steps:?}");
        let packet = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x01b\x04test\x00\x00\x01\x00\x01";
        let q = wire::Query::parse(packet).unwrap();
        let (tags, clock) = (crate::Tags::default(), Default::default());
        let lname = b"\x01x\x01b\x04test\x00";
        let v = chain.evaluate(&info(&q, lname, &tags, &clock));
        assert!(matches!(v.outcome, Outcome::Drop));
        let counts: Vec<u64> = chain.rules.iter().map(|r| r.selector.matches()).collect();
        assert_eq!(counts, [0, 1, 0, 0, 0, 0, 0]);
        let other = b"\x01y\x04test\x00";
        let v = chain.evaluate(&info(&q, other, &tags, &clock));
        assert!(matches!(v.outcome, Outcome::RCode(5)));
        // Changed through rules_mut: planned again, not run from the old plan.
        chain.rules_mut().insert(0, rule(Kind::All, Action::Allow));
        let v = chain.evaluate(&info(&q, lname, &tags, &clock));
        assert!(matches!(v.outcome, Outcome::Allow));
    }

    /// A prepared plan survives the clones a publish makes; a change
    /// drops it.
    #[test]
    fn clones_keep_the_plan_and_changes_drop_it() {
        let mut chain = RuleChain::default();
        chain.push(rule(suffix("a.test"), Action::Drop));
        chain.prepare();
        let copy = chain.clone();
        let (a, b) = (chain.plan.get().unwrap(), copy.plan.get().unwrap());
        assert!(Arc::ptr_eq(a, b));
        chain.rules_mut().clear();
        assert!(chain.plan.get().is_none());
    }

    /// Two MaxQPSRule allow rules in a row are two buckets: the second sees
    /// only the first's overflow, so neither may be skipped.
    #[test]
    fn repeated_rate_rules_are_not_skipped() {
        use crate::qps::GlobalLimiter;
        let mut chain = RuleChain::default();
        chain.push(rule(
            Kind::MaxQps(GlobalLimiter::new(100.0, 100)),
            Action::Allow,
        ));
        chain.push(rule(
            Kind::MaxQps(GlobalLimiter::new(100.0, 100)),
            Action::Allow,
        ));
        chain.push(rule(Kind::LabelsCount { min: 1, max: 9 }, Action::Drop));
        chain.push(rule(Kind::LabelsCount { min: 1, max: 9 }, Action::Drop));
        assert_eq!(plan(&chain.rules).len(), 3, "{:?}", plan(&chain.rules));
    }

    /// A repeated TCAction rule is tested over TCP only, where TC does not
    /// end evaluation: the counters come out as without the plan.
    #[test]
    fn a_repeated_truncate_rule_still_counts_over_tcp() {
        let mut chain = RuleChain::default();
        chain.push(rule(Kind::QType(255), Action::Truncate));
        chain.push(rule(Kind::QType(255), Action::Truncate));
        assert_eq!(plan(&chain.rules).len(), 2);
        let packet = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\xff\x00\x01";
        let q = wire::Query::parse(packet).unwrap();
        let (tags, clock) = (crate::Tags::default(), Default::default());
        let mut i = info(&q, b"\x01x\x00", &tags, &clock);
        assert!(matches!(chain.evaluate(&i).outcome, Outcome::Truncate));
        i.tcp = true;
        assert!(matches!(chain.evaluate(&i).outcome, Outcome::Continue));
        let counts: Vec<u64> = chain.rules.iter().map(|r| r.selector.matches()).collect();
        assert_eq!(counts, [2, 1]);
    }

    #[test]
    fn finds_the_blog_configs_dead_delay_rule() {
        let mut chain = RuleChain::default();
        chain.push(rule(Kind::All, Action::None));
        chain.push(rule(
            Kind::MaxQpsIp(ClientLimiter::new(5.0, 5, 24, 64)),
            Action::Drop,
        ));
        chain.push(rule(
            Kind::MaxQpsIp(ClientLimiter::new(5.0, 5, 32, 64)),
            Action::Delay(1000),
        ));
        chain.push(rule(Kind::QType(255), Action::Drop));
        chain.push(rule(Kind::All, Action::Drop));
        chain.push(rule(Kind::QType(1), Action::Allow));
        let w = chain.unreachable();
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(w[0].starts_with("rule 2 (IP (/32, /64) match for QPS over 5 burst 5 → delay by 1000 ms) never fires: rule 1"), "{}", w[0]);
        assert!(
            w[1].starts_with("rule 5 (qtype==A → allow) is never reached: rule 4"),
            "{}",
            w[1]
        );
        // A finer or slower earlier rule shadows nothing.
        let mut chain = RuleChain::default();
        chain.push(rule(
            Kind::MaxQpsIp(ClientLimiter::new(5.0, 5, 32, 128)),
            Action::Drop,
        ));
        chain.push(rule(
            Kind::MaxQpsIp(ClientLimiter::new(5.0, 5, 24, 64)),
            Action::Delay(1000),
        ));
        assert!(chain.unreachable().is_empty());
    }

    /// ContinueAction(PoolAction): the pool is kept, later rules still
    /// run and their edits count; a later terminal rule still wins.
    #[test]
    fn continue_keeps_the_pool_and_lets_later_rules_run() {
        let mut chain = RuleChain::default();
        chain.push(rule(
            Kind::QType(1),
            Action::Continue(Arc::new(Action::Pool("mypool".into()))),
        ));
        chain.push(rule(Kind::All, Action::DisableValidation));
        chain.push(rule(Kind::All, Action::NoRecurse));
        chain.push(rule(Kind::QType(28), Action::Drop));
        let a = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01";
        let q = wire::Query::parse(a).unwrap();
        let (tags, clock) = (crate::Tags::default(), Default::default());
        let v = chain.evaluate(&info(&q, b"\x01x\x00", &tags, &clock));
        assert!(matches!(v.outcome, Outcome::Pool("mypool")), "{v:?}");
        assert!(v.edits.set_cd && v.edits.clear_rd && !v.edits.skip_cache);
        let aaaa = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x1c\x00\x01";
        let q = wire::Query::parse(aaaa).unwrap();
        let v = chain.evaluate(&info(&q, b"\x01x\x00", &tags, &clock));
        assert!(matches!(v.outcome, Outcome::Drop), "{v:?}");
    }

    /// QPSPoolAction routes to its pool under the rate and lets the rest
    /// go on to the next rules.
    #[test]
    fn qps_pool_routes_only_under_the_rate() {
        use crate::qps::GlobalLimiter;
        let mut chain = RuleChain::default();
        chain.push(rule(
            Kind::All,
            Action::QpsPool(GlobalLimiter::new(1.0, 2), "slow".into()),
        ));
        let a = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01";
        let q = wire::Query::parse(a).unwrap();
        let (tags, clock) = (crate::Tags::default(), Default::default());
        let outcomes: Vec<bool> = (0..3)
            .map(|_| {
                matches!(
                    chain
                        .evaluate(&info(&q, b"\x01x\x00", &tags, &clock))
                        .outcome,
                    Outcome::Pool("slow")
                )
            })
            .collect();
        assert_eq!(outcomes, [true, true, false]);
    }
}
