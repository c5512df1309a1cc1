//! Each phase of answering on its own, from one small zone file per
//! concern (`tests/data/answer-*.zone`).
//!
//! Phase 2 is tested by calling [`lookup`] on a loaded zone; the later
//! phases by calling [`answer_in`] with a response whose question is
//! written, then reading the message back with `wire::message::parse` and
//! comparing whole sections as zone-file lines.

use std::path::Path;
use std::sync::Arc;

use wire::message::{parse, Message};
use wire::name::{to_lowercase, MAX_NAME_LEN};
use wire::types::{class, flags, rcode, rtype};
use wire::{Response, Section};

use super::{answer_in, lookup, Facts, Lookup};
use crate::records::Record;
use crate::test_util::name;
use crate::{Catalog, Zone, ZoneState};

const LOOKUP: &str = include_str!("../../tests/data/answer-lookup.zone");
const CNAME: &str = include_str!("../../tests/data/answer-cname.zone");
const OTHER: &str = include_str!("../../tests/data/answer-other.zone");
const DNAME: &str = include_str!("../../tests/data/answer-dname.zone");
const REFERRAL: &str = include_str!("../../tests/data/answer-referral.zone");
const NEGATIVE: &str = include_str!("../../tests/data/answer-negative.zone");
const ADDITIONAL: &str = include_str!("../../tests/data/answer-additional.zone");
const TRUNCATION: &str = include_str!("../../tests/data/answer-truncation.zone");

fn load(apex: &str, text: &str) -> Zone {
    crate::load_zone_bytes(apex, text.as_bytes(), Path::new(apex))
        .unwrap()
        .zone
}

/// A catalog serving each (apex, zone file text).
fn catalog(zones: &[(&str, &str)]) -> Catalog {
    let mut c = Catalog::new();
    for (apex, text) in zones {
        c.insert(&name(apex), ZoneState::Ready(Arc::new(load(apex, text))));
    }
    c
}

/// `text` in wire form with its case kept (the question as a client
/// sends it).
fn wire_name(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in text.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// What [`answer_in`] wrote, read back.
struct Reply {
    msg: Message,
    bytes: Vec<u8>,
    facts: Facts,
}

impl Reply {
    fn rcode(&self) -> u16 {
        u16::from(self.msg.header.rcode())
    }

    fn flag(&self, bit: u16) -> bool {
        self.msg.header.flags & bit != 0
    }

    /// The section as zone-file lines (`owner. TTL IN TYPE rdata`), in
    /// message order, owners in the case they have in the message.
    fn lines(&self, section: Section) -> Vec<String> {
        self.msg
            .section(section)
            .map(|r| {
                crate::text::record_line(&Record {
                    owner: r.owner.clone().into(),
                    rtype: r.rtype,
                    ttl: r.ttl,
                    rdata: r.rdata.clone().into(),
                })
            })
            .collect()
    }

    fn answer(&self) -> Vec<String> {
        self.lines(Section::Answer)
    }

    fn authority(&self) -> Vec<String> {
        self.lines(Section::Authority)
    }

    fn additional(&self) -> Vec<String> {
        self.lines(Section::Additional)
    }
}

/// Asks `qname` (any case) / `qtype`, class IN, without DO, in a response
/// of at most `limit` octets.
fn ask_limited(c: &Catalog, qname: &str, qtype: u16, dnssec_ok: bool, limit: usize) -> Reply {
    let qwire = wire_name(qname);
    let mut lower = [0u8; MAX_NAME_LEN];
    let lname = to_lowercase(&qwire, &mut lower);
    let mut buf = vec![0u8; 65535];
    let mut resp = Response::new(&mut buf, limit);
    resp.set_header(0x1234, 0);
    resp.push_question(&qwire, qtype, class::IN).unwrap();
    let facts = answer_in(c, lname, qtype, dnssec_ok, &mut resp);
    let bytes = resp.finish().to_vec();
    let msg = parse(&bytes).unwrap();
    assert_eq!(msg.header.id, 0x1234);
    assert!(msg.header.is_response());
    Reply { msg, bytes, facts }
}

fn ask(c: &Catalog, qname: &str, qtype: u16) -> Reply {
    ask_limited(c, qname, qtype, false, 65535)
}

/// The SOA line of example.test's negative answers in the fixtures whose
/// SOA is `ns1 hostmaster 1 7200 3600 1209600 300`.
const SOA_300: &str =
    "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300";

// ---------------------------------------------------------------------
// Phase 2: lookup

fn lookup_zone() -> Zone {
    load("example.test", LOOKUP)
}

/// What a lookup found, as text: the variant, and the owner for cuts and
/// DNAMEs.
fn found(zone: &Zone, qname: &str, qtype: u16) -> String {
    match lookup(zone, &name(qname), qtype) {
        Lookup::Exact(n) if n.is_empty() => "exact, empty".into(),
        Lookup::Exact(_) => "exact".into(),
        Lookup::Wildcard(_) => "wildcard".into(),
        Lookup::Delegation { cut, .. } => format!("cut at {}", wire::name::to_text(cut)),
        Lookup::Dname { owner, .. } => format!("dname at {}", wire::name::to_text(owner)),
        Lookup::NxDomain => "nxdomain".into(),
    }
}

#[test]
fn lookup_finds_existing_names_and_their_rrsets() {
    // RFC 1034 §4.3.2 step 3a: the whole name matched.
    let z = lookup_zone();
    let Lookup::Exact(www) = lookup(&z, &name("www.example.test"), rtype::A) else {
        panic!("www is in the zone");
    };
    assert_eq!(www.get(rtype::A).unwrap().first(), [192, 0, 2, 10]);
    assert!(www.get(rtype::AAAA).is_some());
    // A type the name lacks is still an exact match: NODATA is decided
    // by the answer phase, not here.
    let Lookup::Exact(www) = lookup(&z, &name("www.example.test"), rtype::TXT) else {
        panic!("www is in the zone");
    };
    assert!(www.get(rtype::TXT).is_none());
    // The apex, though it holds NS, is no cut.
    assert_eq!(found(&z, "example.test", rtype::NS), "exact");
}

#[test]
fn lookup_says_nxdomain_when_nothing_matches() {
    // RFC 1034 §4.3.2 step 3c: no match and no wildcard at the closest
    // encloser (the apex has none).
    let z = lookup_zone();
    assert_eq!(found(&z, "nx.example.test", rtype::A), "nxdomain");
    assert_eq!(found(&z, "a.b.nx.example.test", rtype::A), "nxdomain");
}

#[test]
fn lookup_finds_empty_non_terminals() {
    // RFC 4592 §2.2.2: b.ent and ent exist (as ancestors of a.b.ent)
    // though they own nothing, so they match exactly, and a wildcard
    // does not answer for them.
    let z = lookup_zone();
    assert_eq!(found(&z, "b.ent.example.test", rtype::A), "exact, empty");
    assert_eq!(found(&z, "ent.example.test", rtype::TXT), "exact, empty");
    assert_eq!(found(&z, "a.b.ent.example.test", rtype::TXT), "exact");
}

#[test]
fn lookup_uses_the_wildcard_at_the_closest_encloser_only() {
    // RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`.
    let z = lookup_zone();
    // wild is the closest encloser of these, one label down or two.
    assert_eq!(found(&z, "x.wild.example.test", rtype::TXT), "wildcard");
    assert_eq!(found(&z, "a.b.wild.example.test", rtype::TXT), "wildcard");
    // A wildcard for a type it lacks is still a match (wildcard NODATA).
    let Lookup::Wildcard(node) = lookup(&z, &name("x.wild.example.test"), rtype::A) else {
        panic!("x.wild matches *.wild");
    };
    assert!(node.get(rtype::A).is_none() && node.get(rtype::TXT).is_some());
    // host.wild exists: it is the closest encloser of x.host.wild, and
    // `*.host.wild` does not exist, so *.wild must not answer.
    assert_eq!(found(&z, "x.host.wild.example.test", rtype::A), "nxdomain");
    // Likewise b.ent (an empty non-terminal) blocks *.ent below itself,
    // while a sibling of b under ent gets *.ent.
    assert_eq!(found(&z, "x.b.ent.example.test", rtype::TXT), "nxdomain");
    assert_eq!(found(&z, "y.ent.example.test", rtype::TXT), "wildcard");
    // The wildcard's own name is matched literally (RFC 4592 §2.1.1).
    assert_eq!(found(&z, "*.wild.example.test", rtype::TXT), "exact");
}

#[test]
fn lookup_stops_at_a_zone_cut_above_or_at_the_name() {
    // RFC 1034 §4.3.2 step 3b: a cut on the way down is a referral, for
    // the cut's own name, names below it, and the glue below it.
    let z = lookup_zone();
    assert_eq!(
        found(&z, "deleg.example.test", rtype::A),
        "cut at deleg.example.test."
    );
    assert_eq!(
        found(&z, "deleg.example.test", rtype::NS),
        "cut at deleg.example.test."
    );
    assert_eq!(
        found(&z, "a.b.deleg.example.test", rtype::A),
        "cut at deleg.example.test."
    );
    assert_eq!(
        found(&z, "ns.deleg.example.test", rtype::A),
        "cut at deleg.example.test."
    );
    // RFC 4035 §3.1.4.1: DS at the cut is the parent's to answer...
    assert_eq!(found(&z, "deleg.example.test", rtype::DS), "exact");
    // ...but DS below the cut is the child's.
    assert_eq!(
        found(&z, "x.deleg.example.test", rtype::DS),
        "cut at deleg.example.test."
    );
}

#[test]
fn lookup_stops_at_a_dname_above_the_name_only() {
    // RFC 6672 §2.3: a DNAME redirects the names below its owner, not
    // the owner itself.
    let z = lookup_zone();
    assert_eq!(
        found(&z, "x.dn.example.test", rtype::A),
        "dname at dn.example.test."
    );
    assert_eq!(
        found(&z, "a.b.dn.example.test", rtype::A),
        "dname at dn.example.test."
    );
    assert_eq!(found(&z, "dn.example.test", rtype::DNAME), "exact");
    assert_eq!(found(&z, "dn.example.test", rtype::A), "exact");
}

#[test]
fn lookup_finds_owners_written_in_any_case() {
    // RFC 4343: names compare without case; the zone keeps its owners
    // lowercase and `lookup` is given lowercase names.
    let z = lookup_zone();
    let Lookup::Exact(n) = lookup(&z, &name("MIXED.example.test"), rtype::A) else {
        panic!("MiXeD is in the zone");
    };
    assert_eq!(n.get(rtype::A).unwrap().first(), [192, 0, 2, 30]);
    assert!(z.node(b"\x05MiXeD\x07example\x04test\x00").is_none());
}

// ---------------------------------------------------------------------
// Phase 1 and 3: the zone, the answer, and the question's case

#[test]
fn names_outside_every_zone_are_refused_and_broken_zones_fail() {
    // Phase 1: no enclosing zone is REFUSED (as Knot and NSD answer),
    // a zone whose file was refused SERVFAIL; neither is authoritative.
    let mut c = catalog(&[("example.test", LOOKUP)]);
    c.insert(&name("broken.test"), ZoneState::Broken("bad file".into()));
    let r = ask(&c, "www.example.org", rtype::A);
    assert_eq!(r.rcode(), rcode::REFUSED);
    assert!(!r.flag(flags::AA));
    assert_eq!(r.msg.records.len(), 0);
    let r = ask(&c, "www.broken.test", rtype::A);
    assert_eq!(r.rcode(), rcode::SERVFAIL);
    assert!(!r.flag(flags::AA));
    assert_eq!(r.msg.records.len(), 0);
}

#[test]
fn an_existing_rrset_is_the_whole_answer() {
    // RFC 1034 §4.3.2 step 3a: the RRset, AA set, nothing else.
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "www.example.test", rtype::AAAA);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA) && !r.flag(flags::TC));
    assert_eq!(r.answer(), ["www.example.test. 3600 IN AAAA 2001:db8::10"]);
    assert!(r.authority().is_empty() && r.additional().is_empty());
    assert!(!r.facts.wildcard);
}

#[test]
fn the_answer_echoes_the_question_case() {
    // RFC 4343 §4.1: any case matches, and the owner in the answer is
    // the question's name as it was asked.
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "wWw.ExAmPlE.tEsT", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(r.answer(), ["wWw.ExAmPlE.tEsT. 3600 IN A 192.0.2.10"]);
    let r = ask(&c, "MIXED.example.test", rtype::A);
    assert_eq!(r.answer(), ["MIXED.example.test. 3600 IN A 192.0.2.30"]);
}

#[test]
fn an_empty_non_terminal_is_nodata() {
    // RFC 4592 §2.2.2 and RFC 2308 §2.2: the name exists, so NOERROR
    // with no answer and the SOA, not NXDOMAIN and not the wildcard.
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "b.ent.example.test", rtype::TXT);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert!(r.answer().is_empty());
    assert_eq!(r.authority(), [SOA_300]);
    assert!(!r.facts.wildcard);
}

#[test]
fn a_wildcard_answers_with_the_question_as_owner() {
    // RFC 4592 §3.4.3: the synthesised RRset's owner is the query name,
    // never the `*` name.
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "a.b.wild.example.test", rtype::TXT);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        ["a.b.wild.example.test. 3600 IN TXT \"from the wildcard\""]
    );
    assert!(r.authority().is_empty());
    assert!(r.facts.wildcard, "the answer came from a wildcard");
}

#[test]
fn a_wildcard_without_the_type_is_nodata() {
    // RFC 4592 §3.3.1 and RFC 2308 §2.2: the wildcard matches, so the
    // name is answered as existing, without the type: NODATA.
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "x.wild.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.answer().is_empty());
    assert_eq!(r.authority().len(), 1);
    assert!(r.authority()[0].starts_with("example.test. 300 IN SOA "));
    assert!(r.facts.wildcard);
}

#[test]
fn any_is_answered_with_one_rrset() {
    // RFC 8482 §4.2: one RRset answers ANY; the code picks the lowest
    // type, as Knot does (A before AAAA).
    let c = catalog(&[("example.test", LOOKUP)]);
    let r = ask(&c, "www.example.test", rtype::ANY);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(r.answer(), ["www.example.test. 3600 IN A 192.0.2.10"]);
}

// ---------------------------------------------------------------------
// Phase 3: CNAME chains

fn cname_catalog() -> Catalog {
    catalog(&[("example.test", CNAME), ("example.net", OTHER)])
}

#[test]
fn an_in_zone_cname_chain_is_followed_to_the_answer() {
    // RFC 1034 §4.3.2 step 3a: restart at the CNAME's target, and put
    // each CNAME before the records it leads to.
    let r = ask(&cname_catalog(), "www.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        [
            "www.example.test. 300 IN CNAME alias.example.test.",
            "alias.example.test. 300 IN CNAME host.example.test.",
            "host.example.test. 300 IN A 192.0.2.80",
        ]
    );
    assert!(r.authority().is_empty() && r.additional().is_empty());
}

#[test]
fn a_cname_query_gets_the_cname_unfollowed() {
    // RFC 1034 §3.6.2: a query for the CNAME type is not restarted.
    let r = ask(&cname_catalog(), "www.example.test", rtype::CNAME);
    assert_eq!(
        r.answer(),
        ["www.example.test. 300 IN CNAME alias.example.test."]
    );
}

#[test]
fn a_cname_loop_ends_when_a_cname_comes_again() {
    // RFC 1034 §3.6.2: a server must not loop. Each CNAME of the loop
    // goes in once, then the answer ends, NOERROR with no SOA.
    let r = ask(&cname_catalog(), "loop1.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(
        r.answer(),
        [
            "loop1.example.test. 300 IN CNAME loop2.example.test.",
            "loop2.example.test. 300 IN CNAME loop1.example.test.",
        ]
    );
    assert!(r.authority().is_empty());
}

#[test]
fn a_long_chain_stops_after_five_cnames() {
    // As Knot: at most five CNAMEs; the resolver asks again from the
    // last target for the rest.
    let r = ask(&cname_catalog(), "c1.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    let owners: Vec<String> = r
        .msg
        .section(Section::Answer)
        .map(|rr| wire::name::to_text(&rr.owner))
        .collect();
    assert_eq!(
        owners,
        [
            "c1.example.test.",
            "c2.example.test.",
            "c3.example.test.",
            "c4.example.test.",
            "c5.example.test.",
        ]
    );
    assert!(r.msg.records.iter().all(|rr| rr.rtype == rtype::CNAME));
    assert!(r.authority().is_empty());
}

#[test]
fn a_chain_leaving_our_zones_ends_at_the_last_cname() {
    // RFC 1034 §4.3.2 step 3a / RFC 2181 §10.1.1: we give what we are
    // authoritative for; the resolver follows the target elsewhere.
    let r = ask(&cname_catalog(), "out.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        ["out.example.test. 300 IN CNAME www.example.org."]
    );
    assert!(r.authority().is_empty() && r.additional().is_empty());
}

#[test]
fn a_chain_into_another_zone_we_serve_is_followed() {
    // RFC 1034 §4.3.2: the search restarts at the target, in whichever
    // of our zones holds it.
    let r = ask(&cname_catalog(), "net.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(
        r.answer(),
        [
            "net.example.test. 300 IN CNAME www.example.net.",
            "www.example.net. 600 IN A 198.51.100.80",
        ]
    );
}

#[test]
fn a_chain_to_a_missing_name_is_nxdomain_with_the_cname() {
    // RFC 6604 §3 and RFC 2308 §2.1: the rcode is the last name's, the
    // CNAME stays in the answer, the SOA is the target zone's.
    let r = ask(&cname_catalog(), "dangling.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        ["dangling.example.test. 300 IN CNAME nx.example.test."]
    );
    assert_eq!(r.authority(), [SOA_300]);

    // Into the other zone: its SOA, with its own negative TTL.
    let r = ask(&cname_catalog(), "netnx.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert_eq!(
        r.answer(),
        ["netnx.example.test. 300 IN CNAME nx.example.net."]
    );
    assert_eq!(
        r.authority(),
        ["example.net. 60 IN SOA ns.example.net. hostmaster.example.net. 7 7200 3600 1209600 600"]
    );
}

#[test]
fn a_wildcard_cname_is_synthesised_at_the_question_and_followed() {
    // RFC 4592 §4.3: a wildcard CNAME is answered as a CNAME owned by the
    // question's name, then followed.
    let r = ask(&cname_catalog(), "x.wc.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(
        r.answer(),
        [
            "x.wc.example.test. 300 IN CNAME host.example.test.",
            "host.example.test. 300 IN A 192.0.2.80",
        ]
    );
    assert!(r.facts.wildcard);
}

// ---------------------------------------------------------------------
// Phase 3: DNAME

fn dname_catalog() -> Catalog {
    catalog(&[("example.test", DNAME), ("example.net", OTHER)])
}

#[test]
fn a_dname_gives_itself_a_synthesised_cname_and_the_target() {
    // RFC 6672 §3.3/§3.4: the DNAME, then a CNAME from the question to
    // the name with the DNAME's owner replaced by its target, with the
    // DNAME's TTL, then the answer at that name.
    let r = ask(&dname_catalog(), "a.b.dn.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        [
            "dn.example.test. 600 IN DNAME example.net.",
            "a.b.dn.example.test. 600 IN CNAME a.b.example.net.",
            "a.b.example.net. 600 IN A 198.51.100.81",
        ]
    );
}

#[test]
fn a_dname_does_not_redirect_its_own_name() {
    // RFC 6672 §2.3: the owner itself is answered as it is.
    let r = ask(&dname_catalog(), "dn.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.answer().is_empty());
    assert_eq!(r.authority(), [SOA_300]);
    let r = ask(&dname_catalog(), "dn.example.test", rtype::DNAME);
    assert_eq!(r.answer(), ["dn.example.test. 600 IN DNAME example.net."]);
}

#[test]
fn a_cname_query_below_a_dname_ends_at_the_synthesised_cname() {
    // RFC 6672 §3.3 with RFC 1034 §3.6.2: the synthesised CNAME answers
    // a CNAME query; its target is not followed.
    let r = ask(&dname_catalog(), "x.dn.example.test", rtype::CNAME);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(
        r.answer(),
        [
            "dn.example.test. 600 IN DNAME example.net.",
            "x.dn.example.test. 600 IN CNAME x.example.net.",
        ]
    );
    assert!(r.authority().is_empty());
}

#[test]
fn a_dname_then_a_missing_name_is_nxdomain() {
    // RFC 6672 §3.2 with RFC 6604: the synthesised name does not exist
    // in example.net: NXDOMAIN with that zone's SOA.
    let r = ask(&dname_catalog(), "nx.dn.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert_eq!(r.answer().len(), 2);
    assert_eq!(
        r.answer()[1],
        "nx.dn.example.test. 600 IN CNAME nx.example.net."
    );
    assert_eq!(r.authority().len(), 1);
    assert!(r.authority()[0].starts_with("example.net. 60 IN SOA"));
}

#[test]
fn a_dname_leading_back_into_itself_is_bounded() {
    // `self DNAME x.self`: every hop makes a longer name under self. The
    // DNAME goes in once, then five synthesised CNAMEs, then the chain
    // ends (RFC 6672 §3.3's loop concern; Knot's bound).
    let r = ask(&dname_catalog(), "a.self.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(
        r.answer(),
        [
            "self.example.test. 300 IN DNAME x.self.example.test.",
            "a.self.example.test. 300 IN CNAME a.x.self.example.test.",
            "a.x.self.example.test. 300 IN CNAME a.x.x.self.example.test.",
            "a.x.x.self.example.test. 300 IN CNAME a.x.x.x.self.example.test.",
            "a.x.x.x.self.example.test. 300 IN CNAME a.x.x.x.x.self.example.test.",
            "a.x.x.x.x.self.example.test. 300 IN CNAME a.x.x.x.x.x.self.example.test.",
        ]
    );
}

#[test]
fn a_dname_making_too_long_a_name_is_yxdomain() {
    // RFC 6672 §2.2: if the substituted name would exceed 255 octets,
    // YXDOMAIN; the code keeps the DNAME and synthesises no CNAME.
    let label = "q".repeat(63);
    let r = ask(
        &dname_catalog(),
        &format!("{label}.long.example.test"),
        rtype::A,
    );
    assert_eq!(r.rcode(), rcode::YXDOMAIN);
    assert_eq!(r.msg.records.len(), 1);
    assert_eq!(r.msg.records[0].rtype, rtype::DNAME);
    // The bound is exact: a 62-octet label makes 1 + 62 + 193 = 256
    // octets, still too long; a 61-octet one makes 255, which fits.
    let r = ask(
        &dname_catalog(),
        &format!("{}.long.example.test", "q".repeat(62)),
        rtype::A,
    );
    assert_eq!(r.rcode(), rcode::YXDOMAIN);
    let r = ask(
        &dname_catalog(),
        &format!("{}.long.example.test", "q".repeat(61)),
        rtype::A,
    );
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(r.msg.section(Section::Answer).count(), 2);
    let cname = r.msg.section(Section::Answer).nth(1).unwrap();
    assert_eq!(cname.rtype, rtype::CNAME);
    assert_eq!(cname.rdata.len(), 255);
}

// ---------------------------------------------------------------------
// Phase 4: referrals

fn referral_catalog() -> Catalog {
    catalog(&[("example.test", REFERRAL)])
}

#[test]
fn a_name_below_a_cut_gets_a_referral_with_glue() {
    // RFC 1034 §4.3.2 step 3b: AA off, no answer, the cut's NS set in
    // authority; RFC 9471 §3: the glue inside the delegation first, then
    // addresses of other in-zone servers; none for servers elsewhere.
    let r = ask(&referral_catalog(), "www.deleg.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(!r.flag(flags::AA) && !r.flag(flags::TC));
    assert!(r.answer().is_empty());
    assert_eq!(
        r.authority(),
        [
            "deleg.example.test. 300 IN NS ns.deleg.example.test.",
            "deleg.example.test. 300 IN NS ns1.example.test.",
            "deleg.example.test. 300 IN NS ns.example.org.",
        ]
    );
    assert_eq!(
        r.additional(),
        [
            "ns.deleg.example.test. 300 IN A 192.0.2.53",
            "ns.deleg.example.test. 300 IN AAAA 2001:db8::53",
            "ns1.example.test. 300 IN A 192.0.2.1",
        ]
    );
}

#[test]
fn the_cut_itself_and_its_glue_are_referred_too() {
    // RFC 1034 §4.3.2 step 3b: NS at the cut is the child's data, and
    // glue is not authoritative (RFC 2181 §6.1): both are referrals.
    let c = referral_catalog();
    for (qname, qtype) in [
        ("deleg.example.test", rtype::NS),
        ("deleg.example.test", rtype::A),
        ("ns.deleg.example.test", rtype::A),
    ] {
        let r = ask(&c, qname, qtype);
        assert_eq!(r.rcode(), rcode::NOERROR, "{qname}");
        assert!(!r.flag(flags::AA), "{qname}");
        assert!(r.answer().is_empty(), "{qname}");
        assert_eq!(r.authority().len(), 3, "{qname}");
        assert_eq!(r.additional().len(), 3, "{qname}");
    }
}

#[test]
fn ds_at_the_cut_is_answered_by_the_parent() {
    // RFC 4035 §3.1.4.1: DS lives on the parent side: an authoritative
    // answer, not a referral.
    let r = ask(&referral_catalog(), "deleg.example.test", rtype::DS);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        ["deleg.example.test. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"]
    );
    // A cut without DS: NODATA from the parent.
    let r = ask(&referral_catalog(), "sib.example.test", rtype::DS);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert!(r.answer().is_empty());
    assert_eq!(r.authority(), [SOA_300]);
}

#[test]
fn an_unsigned_zone_refers_without_ds_even_to_do_queries() {
    // RFC 4035 §3.1.4: DS goes in referrals from signed zones; this zone
    // is unsigned (no DNSKEY), so its DS record stays out.
    let r = ask_limited(
        &referral_catalog(),
        "www.deleg.example.test",
        rtype::A,
        true,
        65535,
    );
    assert!(!r.flag(flags::AA));
    assert!(r
        .msg
        .section(Section::Authority)
        .all(|rr| rr.rtype == rtype::NS));
    assert_eq!(r.authority().len(), 3);
}

#[test]
fn sibling_glue_is_given_with_a_referral() {
    // RFC 9471 §2.2: sib's server lies under another cut of this zone;
    // its addresses (glue of deleg) go in.
    let r = ask(&referral_catalog(), "x.sib.example.test", rtype::A);
    assert!(!r.flag(flags::AA));
    assert_eq!(
        r.authority(),
        ["sib.example.test. 300 IN NS ns.deleg.example.test."]
    );
    assert_eq!(
        r.additional(),
        [
            "ns.deleg.example.test. 300 IN A 192.0.2.53",
            "ns.deleg.example.test. 300 IN AAAA 2001:db8::53",
        ]
    );
}

#[test]
fn a_cname_into_a_delegation_keeps_aa_and_refers() {
    // RFC 1035 §4.1.1: AA speaks for the first owner in the answer, the
    // CNAME we hold; the chain then meets a cut: a referral follows it.
    let z = format!("{REFERRAL}www CNAME x.deleg\n");
    let r = ask(
        &catalog(&[("example.test", &z)]),
        "www.example.test",
        rtype::A,
    );
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        ["www.example.test. 300 IN CNAME x.deleg.example.test."]
    );
    assert_eq!(r.authority().len(), 3);
    assert!(r
        .msg
        .section(Section::Authority)
        .all(|rr| rr.rtype == rtype::NS));
    assert_eq!(r.additional().len(), 3);
}

#[test]
fn a_referral_gives_no_addresses_from_below_a_dname() {
    // RFC 6672 §2.4: no data may exist below a DNAME, and the name
    // ns.dn.example.test is redirected to ns.example.net; build.rs warns
    // "its records are never served": not as glue either.
    let z = format!("{REFERRAL}dn DNAME example.net.\nns.dn A 192.0.2.66\nhid NS ns.dn\n");
    let r = ask(
        &catalog(&[("example.test", &z)]),
        "x.hid.example.test",
        rtype::A,
    );
    assert_eq!(
        r.authority(),
        ["hid.example.test. 300 IN NS ns.dn.example.test."]
    );
    assert!(r.additional().is_empty(), "{:?}", r.additional());
}

// ---------------------------------------------------------------------
// Phase 4: negative answers

#[test]
fn nxdomain_carries_the_soa_with_the_negative_ttl() {
    // RFC 2308 §3: NXDOMAIN with the SOA in authority, its TTL
    // min(SOA TTL, SOA MINIMUM); the MINIMUM field is left as it is.
    // Here the TTL is 3600 and MINIMUM 300: 300.
    let c = catalog(&[("example.test", NEGATIVE)]);
    let z = load("example.test", NEGATIVE);
    assert_eq!(z.negative_ttl, 300);
    let r = ask(&c, "nx.example.test", rtype::A);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert!(r.flag(flags::AA) && !r.flag(flags::TC));
    assert!(r.answer().is_empty() && r.additional().is_empty());
    assert_eq!(
        r.authority(),
        ["example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"]
    );
}

#[test]
fn nodata_carries_the_same_soa() {
    // RFC 2308 §2.2 (NODATA) with §3's TTL.
    let c = catalog(&[("example.test", NEGATIVE)]);
    let r = ask(&c, "www.example.test", rtype::TXT);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert!(r.flag(flags::AA));
    assert!(r.answer().is_empty() && r.additional().is_empty());
    assert_eq!(
        r.authority(),
        ["example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"]
    );
    // The SOA asked for is positive data: its own TTL.
    let r = ask(&c, "example.test", rtype::SOA);
    assert_eq!(r.answer().len(), 1);
    assert!(r.answer()[0].starts_with("example.test. 3600 IN SOA "));
}

#[test]
fn the_negative_ttl_is_the_soa_ttl_when_that_is_lower() {
    // RFC 2308 §3, the other way round: TTL 60, MINIMUM 600: 60.
    let c = catalog(&[("example.net", OTHER)]);
    let r = ask(&c, "nx.example.net", rtype::A);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert_eq!(
        r.authority(),
        ["example.net. 60 IN SOA ns.example.net. hostmaster.example.net. 7 7200 3600 1209600 600"]
    );
}

// ---------------------------------------------------------------------
// Phase 5: additional-section addresses

fn additional_catalog() -> Catalog {
    catalog(&[("example.test", ADDITIONAL)])
}

#[test]
fn mx_targets_get_their_addresses_once() {
    // RFC 1035 §3.3.9: A (and AAAA, RFC 3596 §3) of the exchange in
    // additional; two MX to one host give its addresses once.
    let r = ask(&additional_catalog(), "example.test", rtype::MX);
    assert_eq!(
        r.answer(),
        [
            "example.test. 300 IN MX 10 mail.example.test.",
            "example.test. 300 IN MX 20 mail.example.test.",
        ]
    );
    assert_eq!(
        r.additional(),
        [
            "mail.example.test. 300 IN A 192.0.2.25",
            "mail.example.test. 300 IN AAAA 2001:db8::25",
        ]
    );
    assert!(r.authority().is_empty());
}

#[test]
fn srv_targets_get_their_addresses() {
    // RFC 2782: the target's addresses in additional.
    let r = ask(&additional_catalog(), "_sip._tcp.example.test", rtype::SRV);
    assert_eq!(
        r.answer(),
        ["_sip._tcp.example.test. 300 IN SRV 0 5 5060 sip.example.test."]
    );
    assert_eq!(r.additional(), ["sip.example.test. 300 IN A 192.0.2.50"]);
}

#[test]
fn ns_targets_in_the_zone_get_addresses_and_others_none() {
    // RFC 1035 §3.3.11: addresses of the servers we hold; the one in
    // example.org is not ours to give.
    let r = ask(&additional_catalog(), "example.test", rtype::NS);
    assert!(r.flag(flags::AA));
    assert_eq!(
        r.answer(),
        [
            "example.test. 300 IN NS ns1.example.test.",
            "example.test. 300 IN NS ns.example.org.",
        ]
    );
    assert_eq!(r.additional(), ["ns1.example.test. 300 IN A 192.0.2.1"]);
}

#[test]
fn targets_that_are_aliases_or_below_a_cut_get_nothing() {
    // RFC 2181 §10.3: an MX target must not be an alias, and nothing is
    // chased for it. RFC 2181 §6.1: glue below a cut is not data we may
    // give as an answer's additional.
    let c = additional_catalog();
    let r = ask(&c, "alias-mx.example.test", rtype::MX);
    assert_eq!(r.answer().len(), 1);
    assert!(r.additional().is_empty());
    let r = ask(&c, "below-mx.example.test", rtype::MX);
    assert_eq!(r.answer().len(), 1);
    assert!(r.additional().is_empty());
}

#[test]
fn a_target_covered_by_a_wildcard_gets_synthesised_addresses() {
    // RFC 4592 §3.3: the target's address is synthesised from *.wild,
    // owned by the target's name.
    let r = ask(&additional_catalog(), "wild-mx.example.test", rtype::MX);
    assert_eq!(r.additional(), ["x.wild.example.test. 300 IN A 192.0.2.77"]);
}

#[test]
fn address_answers_get_no_additional_records() {
    let r = ask(&additional_catalog(), "mail.example.test", rtype::A);
    assert_eq!(r.answer(), ["mail.example.test. 300 IN A 192.0.2.25"]);
    assert!(r.additional().is_empty() && r.authority().is_empty());
}

// ---------------------------------------------------------------------
// Truncation

fn truncation_catalog() -> Catalog {
    catalog(&[("example.test", TRUNCATION)])
}

#[test]
fn an_answer_rrset_that_does_not_fit_is_left_out_whole_with_tc() {
    // RFC 2181 §9: never part of an RRset; TC tells the client to retry
    // over TCP. 664 octets of TXT do not fit in 512.
    let c = truncation_catalog();
    let r = ask_limited(&c, "big.example.test", rtype::TXT, false, 512);
    assert!(r.flag(flags::TC));
    assert!(r.flag(flags::AA));
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(r.msg.header.ancount, 0);
    assert!(r.msg.records.is_empty());
    assert!(r.bytes.len() <= 512);
    // Room enough: all eight, no TC.
    let r = ask_limited(&c, "big.example.test", rtype::TXT, false, 4096);
    assert!(!r.flag(flags::TC));
    assert_eq!(r.answer().len(), 8);
}

#[test]
fn a_chain_whose_end_does_not_fit_keeps_the_cname_and_sets_tc() {
    // RFC 2181 §9: what fits whole stays; TC says there is more.
    let r = ask_limited(
        &truncation_catalog(),
        "tobig.example.test",
        rtype::TXT,
        false,
        512,
    );
    assert!(r.flag(flags::TC));
    assert_eq!(
        r.answer(),
        ["tobig.example.test. 300 IN CNAME big.example.test."]
    );
    assert!(r.authority().is_empty() && r.additional().is_empty());
}

#[test]
fn additional_addresses_that_do_not_fit_are_dropped_without_tc() {
    // RFC 2181 §9: leaving out additional data needs no TC. m1's address
    // fits; m2's twenty AAAA (560 octets) are left out whole.
    let c = truncation_catalog();
    let r = ask_limited(&c, "mx.example.test", rtype::MX, false, 512);
    assert!(!r.flag(flags::TC));
    assert_eq!(r.answer().len(), 2);
    assert_eq!(r.additional(), ["m1.example.test. 300 IN A 192.0.2.25"]);
    let r = ask_limited(&c, "mx.example.test", rtype::MX, false, 4096);
    assert_eq!(r.additional().len(), 21);
}

#[test]
fn glue_a_referral_needs_sets_tc_when_it_does_not_fit() {
    // RFC 9471 §3: glue for servers inside the delegation is required;
    // if it does not fit, TC. The NS set stays, the glue RRset goes whole.
    let c = truncation_catalog();
    let r = ask_limited(&c, "www.fat.example.test", rtype::A, false, 512);
    assert!(r.flag(flags::TC));
    assert!(!r.flag(flags::AA));
    assert_eq!(
        r.authority(),
        ["fat.example.test. 300 IN NS ns.fat.example.test."]
    );
    assert!(r.additional().is_empty());
    let r = ask_limited(&c, "www.fat.example.test", rtype::A, false, 4096);
    assert!(!r.flag(flags::TC));
    assert_eq!(r.additional().len(), 30);
}

#[test]
fn a_negative_answer_whose_soa_does_not_fit_sets_tc() {
    // RFC 2308 §3 wants the SOA; RFC 2181 §9: if it cannot go in, TC.
    let c = truncation_catalog();
    let qname = "nx.example.test";
    let question_end = 12 + wire_name(qname).len() + 4;
    let r = ask_limited(&c, qname, rtype::A, false, question_end + 20);
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert!(r.flag(flags::TC));
    assert!(r.msg.records.is_empty());
}

// ---------------------------------------------------------------------
// Name compression

#[test]
fn names_in_the_answer_point_at_the_question() {
    // RFC 1035 §4.1.4: the answer's owner is a pointer to the question
    // name at offset 12; the MX exchange's apex suffix points into the
    // question; the additional owner points at the exchange in the MX.
    let r = ask(&additional_catalog(), "example.test", rtype::MX);
    let b = &r.bytes;
    // Header 12, question \x07example\x04test\x00 (14) + type/class (4).
    let first = 12 + 14 + 4;
    assert_eq!(&b[first..first + 2], [0xc0, 0x0c], "owner -> question");
    let rdlen = u16::from_be_bytes([b[first + 10], b[first + 11]]) as usize;
    let rdata = first + 12;
    assert_eq!(
        &b[rdata..rdata + rdlen],
        [0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 0x0c],
        "preference, then mail + pointer to example.test in the question"
    );
    let mail_at = (rdata + 2) as u16;
    let additional = r.msg.section(Section::Additional).next().unwrap();
    assert_eq!(
        &b[additional.start..additional.start + 2],
        (0xc000 | mail_at).to_be_bytes(),
        "the additional owner points at the MX's exchange"
    );
}

#[test]
fn the_negative_soa_points_at_the_apex_in_the_question() {
    // RFC 1035 §4.1.4: the SOA's owner and the names under the apex in
    // its RDATA compress to the apex as a suffix of the question.
    let c = catalog(&[("example.test", NEGATIVE)]);
    let r = ask(&c, "nx.example.test", rtype::A);
    let b = &r.bytes;
    let apex_at = 12 + 3; // past \x02nx
    let pointer = (0xc000u16 | apex_at).to_be_bytes();
    let soa = r.msg.section(Section::Authority).next().unwrap();
    assert_eq!(&b[soa.start..soa.start + 2], pointer, "owner");
    let rdata = soa.start + 12;
    assert_eq!(&b[rdata..rdata + 4], b"\x03ns1");
    assert_eq!(&b[rdata + 4..rdata + 6], pointer, "MNAME");
    assert_eq!(&b[rdata + 6..rdata + 17], b"\x0ahostmaster");
    assert_eq!(&b[rdata + 17..rdata + 19], pointer, "RNAME");
    assert_eq!(soa.end, rdata + 19 + 20);
}
