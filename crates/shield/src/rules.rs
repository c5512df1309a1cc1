//! The rule chain: rules run in order, the first terminal action wins
//! (dnsdist's `processRulesResult`).

use std::sync::Arc;

use crate::action::Action;
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
}

/// The outcome plus what non-terminal actions asked for.
#[derive(Clone, Copy, Debug)]
pub struct Verdict<'r> {
    pub outcome: Outcome<'r>,
    /// Delay the UDP answer by this many milliseconds (last one wins).
    pub delay_ms: Option<u32>,
    /// NoRecurseAction: clear RD.
    pub clear_rd: bool,
}

/// The query rules, in order.
#[derive(Clone, Debug, Default)]
pub struct RuleChain {
    pub rules: Vec<Rule>,
}

impl RuleChain {
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules over `q`.
    pub fn evaluate(&self, q: &QueryInfo) -> Verdict<'_> {
        let mut verdict = Verdict {
            outcome: Outcome::Continue,
            delay_ms: None,
            clear_rd: false,
        };
        for rule in &self.rules {
            if !rule.selector.test(q) {
                continue;
            }
            let outcome = match &*rule.action {
                Action::Allow => Outcome::Allow,
                Action::Drop => Outcome::Drop,
                Action::None => continue,
                Action::Delay(ms) => {
                    verdict.delay_ms = Some(*ms);
                    continue;
                }
                // Over TCP, TC would make no sense: keep going.
                Action::Truncate if q.tcp => continue,
                Action::Truncate => Outcome::Truncate,
                Action::RCode(rc) => Outcome::RCode(*rc),
                Action::NoRecurse => {
                    verdict.clear_rd = true;
                    continue;
                }
                Action::Log(log) => {
                    log.log(q);
                    continue;
                }
                Action::Spoof(addrs) => {
                    // Only for the types the addresses answer.
                    let answers = addrs.iter().any(|a| match q.query.qtype {
                        wire::types::rtype::A => a.is_ipv4(),
                        wire::types::rtype::AAAA => a.is_ipv6(),
                        wire::types::rtype::ANY => true,
                        _ => false,
                    });
                    if !answers {
                        continue;
                    }
                    Outcome::Spoof(&rule.action)
                }
                Action::SpoofCname(..) | Action::SpoofRaw(_) => Outcome::Spoof(&rule.action),
                Action::Pool(p) => Outcome::Pool(p),
                Action::Qps(limit) => {
                    if limit.check() {
                        continue;
                    }
                    Outcome::Drop
                }
                Action::SetTag(name, value) => {
                    q.tags.set(name, value);
                    continue;
                }
            };
            verdict.outcome = outcome;
            return verdict;
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
}
