//! Any datagram through the shield's rule path: a `RuleChain` of varied
//! rules (names exact and by suffix, a run of domain blocks the planner
//! merges, regexes, types, opcodes, classes, a rate limit, And/Or/Not,
//! spoofs of addresses, CNAME, raw RDATA and negative SOA answers, rcode
//! and TC answers, SetEDNSOption and other non-terminal actions), built
//! once, then evaluated for every query that parses. The client address
//! and transport come from the query's ID.
//!
//! Checks that nothing panics; that the answers the shield makes itself
//! (rcode, TC, spoofs) fit the transport, and read back as a response to
//! the same ID and question with the rcode asked and records owned by
//! the query name; that a query changed by the rules (RD, CD, an EDNS
//! option) still parses with the option in; that a chain the planner
//! merges into unions decides as the rules one by one do; and that a
//! regex with a literal prefix (which the rule checks first on the wire
//! name) matches as the same regex without the shortcut.
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use shield::action::{Action, NegativeSoa, SpoofSettings};
use shield::name_regex::NameRegex;
use shield::qps::{ClientLimiter, QueryClock};
use shield::selector::Kind;
use shield::suffix::NameSet;
use shield::{Netmask, NetmaskGroup, Outcome, QueryInfo, Rule, RuleChain, Selector};
use wire::types::{flags, rtype};
use wire::Query;

struct Chains {
    /// The varied chain.
    rules: RuleChain,
    /// Membership tests and plain terminal actions only: the planner
    /// merges its runs.
    planned: RuleChain,
    /// Regexes with a literal prefix, and the same without the shortcut.
    regexes: Vec<(NameRegex, NameRegex)>,
}

fn rule(kind: Kind, action: Action) -> Rule {
    Rule {
        selector: Selector::new(kind),
        action: Arc::new(action),
        name: String::new(),
        uuid: String::new(),
    }
}

fn names(list: &[&str]) -> NameSet {
    let mut s = NameSet::new();
    for n in list {
        s.add(n).unwrap();
    }
    s
}

fn nets(list: &[&str]) -> NetmaskGroup {
    let mut g = NetmaskGroup::new();
    for n in list {
        g.add(Netmask::parse(n).unwrap());
    }
    g
}

fn sel(kind: Kind) -> Arc<Selector> {
    Selector::new(kind)
}

fn chains() -> &'static Chains {
    static CHAINS: OnceLock<Chains> = OnceLock::new();
    CHAINS.get_or_init(|| {
        let spoof = SpoofSettings::default();
        let mut rules = RuleChain::default();
        for r in [
            rule(Kind::TrailingData, Action::Drop),
            rule(Kind::EdnsOption(10), Action::SetEdnsOption(65001, b"fuzz".to_vec())),
            rule(Kind::RecursionDesired, Action::Delay(5)),
            rule(Kind::QType(rtype::ANY), Action::Truncate),
            rule(Kind::QName(names(&["exact.test", "other.exact.test"])), Action::Drop),
            // A run the planner merges.
            rule(Kind::QNameSuffix(names(&["block1.test"])), Action::RCode(5)),
            rule(Kind::QNameSuffix(names(&["block2.test", "deep.block3.test"])), Action::RCode(5)),
            rule(Kind::QType(10), Action::RCode(5)),
            rule(Kind::Netmask(nets(&["10.0.0.0/8", "2001:db8:bad::/48"])), Action::RCode(5)),
            rule(
                Kind::Regex(NameRegex::new(r"^ads?[0-9]*\.").unwrap()),
                Action::Spoof(
                    vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
                    spoof,
                ),
            ),
            rule(
                Kind::And(vec![sel(Kind::QType(rtype::TXT)), sel(Kind::QNameSuffix(names(&["spoof.test"])))]),
                Action::SpoofRaw(vec![b"\x05hello".to_vec(), b"\x00".to_vec()], SpoofSettings { aa: Some(true), ..spoof }),
            ),
            rule(
                Kind::Or(vec![sel(Kind::Opcode(5)), sel(Kind::Opcode(4))]),
                Action::RCode(4),
            ),
            rule(Kind::Not(sel(Kind::QClass(1))), Action::RCode(1)),
            rule(
                Kind::QNameSuffix(names(&["cname.test"])),
                Action::SpoofCname(
                    b"\x06target\x07example\x00".to_vec(),
                    "target.example.".into(),
                    SpoofSettings { ra: Some(false), ttl: 300, ..spoof },
                ),
            ),
            rule(
                Kind::QNameSuffix(names(&["neg.test"])),
                Action::NegativeSoa(Box::new(NegativeSoa {
                    nxdomain: true,
                    zone: b"\x03neg\x04test\x00".to_vec(),
                    zone_text: "neg.test.".into(),
                    ttl: 60,
                    rdata: b"\x02ns\x03neg\x04test\x00\x05admin\x03neg\x04test\x00\0\0\0\x01\0\0\x0e\x10\0\0\x07\x08\0\x09\x3a\x80\0\0\0\x3c".to_vec(),
                    in_authority: true,
                })),
            ),
            rule(Kind::Dnssec, Action::Continue(Arc::new(Action::Pool("dnssec".into())))),
            rule(Kind::LabelsCount { min: 1, max: 8 }, Action::RCode(2)),
            rule(Kind::WireLength { min: 1, max: 120 }, Action::RCode(3)),
            rule(Kind::EdnsVersion(0), Action::RCode(16)),
            rule(Kind::QType(rtype::MX), Action::NoRecurse),
            rule(Kind::QType(rtype::MX), Action::DisableValidation),
            rule(Kind::QNameSuffix(names(&["spoof.test"])), Action::Spoof(vec!["192.0.2.1".parse().unwrap()], spoof)),
            rule(Kind::MaxQpsIp(ClientLimiter::new(50.0, 20, 24, 64)), Action::Truncate),
            rule(Kind::QType(rtype::SRV), Action::Allow),
            rule(Kind::All, Action::Pool("default".into())),
        ] {
            rules.push(r);
        }
        rules.prepare();

        let mut planned = RuleChain::default();
        for r in [
            rule(Kind::QNameSuffix(names(&["a.test"])), Action::Drop),
            rule(Kind::QName(names(&["b.test"])), Action::Drop),
            rule(Kind::QType(rtype::TXT), Action::Drop),
            rule(Kind::Netmask(nets(&["192.0.2.128/25"])), Action::Drop),
            rule(Kind::QType(rtype::TXT), Action::Drop),
            rule(Kind::QType(rtype::ANY), Action::Truncate),
            rule(Kind::QType(rtype::ANY), Action::Truncate),
            rule(Kind::QNameSuffix(names(&["c.test", "d.c.test"])), Action::RCode(5)),
            rule(Kind::QType(rtype::MX), Action::RCode(5)),
            rule(Kind::QNameSuffix(names(&["e.test"])), Action::RCode(5)),
            rule(Kind::QNameSuffix(names(&["f.test"])), Action::RCode(3)),
            rule(Kind::QNameSuffix(names(&["f.test"])), Action::RCode(3)),
            rule(Kind::QNameSuffix(names(&["g.test"])), Action::Allow),
            rule(Kind::QType(rtype::AAAA), Action::Allow),
            rule(Kind::Netmask(nets(&["2001:db8::/32"])), Action::Allow),
            rule(Kind::QNameSuffix(names(&["test"])), Action::RCode(2)),
        ] {
            planned.push(r);
        }
        planned.prepare();

        let regexes = [r"^ads?[0-9]*\.", r"^x[0-9]+\.foo", r"^ab+c", r"^a-b_c", r"(?i)^WWW\d", r"^x{2}y"]
            .iter()
            .map(|p| (NameRegex::new(p).unwrap(), NameRegex::new(&format!("(?:{p})")).unwrap()))
            .collect();
        Chains {
            rules,
            planned,
            regexes,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = Query::parse(data) else {
        return;
    };
    let chains = chains();
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(query.qname, &mut lower);
    let id = query.id;
    let ip: IpAddr = match id >> 14 {
        0 => IpAddr::from([192, 0, 2, id as u8]),
        1 => IpAddr::from([10, 1, 2, id as u8]),
        2 => IpAddr::from([0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, id & 0xff]),
        _ => IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, id & 0xff]),
    };
    let tcp = id & 0x100 != 0;
    let tags = shield::Tags::default();
    let trailing = shield::Trailing::default();
    let clock = QueryClock::at(1_000_000_000 + u64::from(id) * 1_000_000);
    let info = QueryInfo {
        client: SocketAddr::new(ip, 5353),
        local: "192.0.2.53:53".parse().unwrap(),
        tcp,
        query: &query,
        lname,
        rcode: None,
        tags: &tags,
        trailing: &trailing,
        pools: None,
        clock: &clock,
        stream: None,
    };

    let verdict = chains.rules.evaluate(&info);
    answer(&verdict.outcome, &query, tcp);
    assert!(
        !(tcp && matches!(verdict.outcome, Outcome::Truncate)),
        "TC over TCP"
    );
    // The query as the rules changed it.
    if verdict.edits.rewrites() || verdict.edns_option.is_some() {
        let mut copy = data.to_vec();
        verdict.edits.apply(&mut copy);
        if let Some((code, option)) = verdict.edns_option {
            if query.end == data.len() {
                copy = wire::edit::set_edns_option(&copy, code, option).expect("the option is set");
                let q = Query::parse(&copy).expect("the changed query parses");
                assert!(
                    q.has_edns_option(code),
                    "the option is in the changed query"
                );
                assert_eq!(
                    (q.qname, q.qtype, q.id),
                    (query.qname, query.qtype, query.id)
                );
            }
        }
        if verdict.edits.clear_rd {
            assert_eq!(copy[2] & 0x01, 0);
        }
    }

    // The planner's unions decide as the rules in order do.
    let planned = chains.planned.evaluate(&info);
    let mut expected = Decided::Continue;
    for r in chains.planned.rules() {
        if !r.selector.test(&info) {
            continue;
        }
        expected = match *r.action {
            Action::Drop => Decided::Drop,
            Action::Allow => Decided::Allow,
            Action::RCode(rc) => Decided::RCode(rc),
            Action::Truncate if tcp => continue,
            Action::Truncate => Decided::Truncate,
            _ => unreachable!(),
        };
        break;
    }
    let got = match planned.outcome {
        Outcome::Continue => Decided::Continue,
        Outcome::Drop => Decided::Drop,
        Outcome::Allow => Decided::Allow,
        Outcome::RCode(rc) => Decided::RCode(rc),
        Outcome::Truncate => Decided::Truncate,
        other => panic!("unexpected outcome {other:?}"),
    };
    assert_eq!(got, expected, "planned chain against the rules in order");

    for (fast, plain) in &chains.regexes {
        assert_eq!(
            fast.is_match(lname),
            plain.is_match(lname),
            "regex {}",
            fast.text
        );
    }
});

#[derive(Debug, PartialEq, Eq)]
enum Decided {
    Continue,
    Drop,
    Allow,
    RCode(u16),
    Truncate,
}

/// The answer the shield makes itself for `outcome`, read back.
fn answer(outcome: &Outcome, query: &Query, tcp: bool) {
    let limit = if tcp {
        65535
    } else {
        query
            .edns
            .map_or(512, |e| usize::from(e.udp_payload.min(1232)))
    };
    let mut out = vec![0u8; 65535];
    let Some(len) = shield::answer::self_answer(outcome, query, &mut out, limit, 1232) else {
        assert!(!matches!(
            outcome,
            Outcome::Spoof(_) | Outcome::RCode(_) | Outcome::Truncate
        ));
        return;
    };
    assert!(len <= limit, "{len} bytes over the limit {limit}");
    let m = wire::message::parse(&out[..len]).expect("a self answer parses");
    assert_eq!(m.header.id, query.id);
    assert!(m.header.is_response());
    assert_eq!(m.header.opcode(), query.opcode);
    assert_eq!(m.questions.len(), 1);
    let q = &m.questions[0];
    assert_eq!(
        (&q.name[..], q.qtype, q.qclass),
        (query.qname, query.qtype, query.qclass)
    );
    assert_eq!(m.header.flags & flags::RD, query.flags & flags::RD);
    match outcome {
        Outcome::RCode(rc) => {
            assert_eq!(u16::from(m.header.rcode()), rc & 0xf);
            assert!(m.records.iter().all(|r| r.rtype == rtype::OPT));
        }
        Outcome::Truncate => assert!(m.header.flags & flags::TC != 0),
        _ => {}
    }
    for r in m
        .records
        .iter()
        .filter(|r| r.section == wire::Section::Answer)
    {
        assert!(
            r.owner.eq_ignore_ascii_case(query.qname),
            "answer owned by the query name"
        );
    }
    let opts = m.records.iter().filter(|r| r.rtype == rtype::OPT).count();
    assert_eq!(
        opts,
        usize::from(query.edns.is_some()),
        "an OPT when the query had one"
    );
}
