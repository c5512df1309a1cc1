//! Any bytes as a backend's answer, through what the forwarding path does
//! with one: take out the ECS option (`wire::ecs::undo`) that was put in
//! the query (`wire::ecs::add`), put the client's flags and name case
//! back, run response rules (TTL limits, record removal, truncation),
//! cut a TC answer down to its question (`wire::edit::truncate_to_question`),
//! age and clamp TTLs, rebuild without some records, set an EDNS option,
//! and keep it in the packet cache (`pool::PacketCache`) to be served again.
//!
//! The input is four control bytes (what the query looked like, the
//! client's ID, the ECS prefix, TTL numbers) and the answer. The query
//! asks the answer's own question when it has one, so answers get past
//! the question check as a real backend's would.
//!
//! Checks that nothing panics; that every edit keeps the message inside
//! its buffer and a walkable message walkable; that the query with ECS
//! still parses and carries the option; that TTLs come out aged and
//! clamped as asked; and that a cached answer comes back for a query of
//! another ID and name case as it went in, but with that ID and case.
#![no_main]

use std::net::IpAddr;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pool::{CacheKey, CacheOptions, PacketCache};
use shield::response::{ResponseAction, ResponseChain, ResponseRule};
use shield::selector::Kind;
use shield::{QueryInfo, Selector};
use wire::ecs::{self, Added};
use wire::edit;
use wire::types::rtype;

fuzz_target!(|data: &[u8]| {
    let [ctl, id_hi, prefix, ttl_ctl, ref answer @ ..] = *data else {
        return;
    };
    if answer.len() < 12 {
        return;
    }
    // The question: the answer's own, or a.example/A.
    let (qname, qtype) = match answer_question(answer) {
        Some(q) if ctl & 0x80 == 0 => q,
        _ => (&b"\x01A\x07Example\x00"[..], rtype::A),
    };
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(qname, &mut lower).to_vec();

    // The query as the client sent it, and with ECS for the backend.
    let edns = ctl & 1 != 0;
    let client_has_ecs = ctl & 2 != 0;
    let query = query(qname, qtype, edns, client_has_ecs);
    let parsed = wire::Query::parse(&query).expect("the query we build parses");
    let client: IpAddr = if ctl & 4 != 0 {
        "2001:db8::1".parse().unwrap()
    } else {
        "192.0.2.1".parse().unwrap()
    };
    let mut sent = Vec::new();
    let added = ecs::add(&query, client, prefix, ctl & 8 != 0, &mut sent).expect("query takes ECS");
    let q2 = wire::Query::parse(&sent).expect("the query with ECS parses");
    assert!(
        ecs::in_options(q2.edns_options),
        "ECS option in the query sent"
    );
    assert_eq!((q2.qname, q2.qtype), (qname, qtype));
    assert_eq!(
        added,
        match (edns, client_has_ecs) {
            (false, _) => Added::Opt,
            (true, false) => Added::Option,
            (true, true) => Added::Nothing,
        }
    );

    // What a backend may answer: its question must be ours (or none,
    // with an error rcode or TC, as forward.rs's `answers`).
    let header_only = answer[4..6] == [0, 0];
    let relayed = if header_only {
        answer[2] & 0x02 != 0 || !matches!(answer[3] & 0xf, 0 | 3)
    } else {
        wire::query::has_question(answer, &lname, qtype, None)
    };
    let walkable = edit::records(answer).is_some();
    let scope = ecs::scope(answer);
    assert!(scope.is_none() || walkable);

    // ECS out, in a buffer just the answer's size.
    let mut buf = answer.to_vec();
    let client_id = u16::from_be_bytes([id_hi, ctl]);
    buf[..2].copy_from_slice(&client_id.to_be_bytes());
    let mut len = ecs::undo(&mut buf, answer.len(), added);
    assert!(len <= answer.len());
    if added == Added::Nothing {
        assert_eq!(len, answer.len());
    }
    if walkable {
        assert!(
            edit::records(&buf[..len]).is_some(),
            "ECS undo broke a walkable answer"
        );
    }
    if added == Added::Option && len != answer.len() {
        assert_eq!(ecs_options(&buf[..len]), 0, "ECS left in the answer");
    }
    shield::edits::restore_flags(&mut buf[..len], parsed.flags);
    let fix = ResponseChain {
        fix_case: true,
        ..Default::default()
    };
    fix.fix_case(&mut buf[..len], qname);
    if relayed && !header_only {
        assert_eq!(&buf[12..12 + qname.len()], qname, "the client's case");
    }

    // Response rules.
    let (min, max) = (
        u32::from(ttl_ctl & 0x0f) * 60,
        u32::from(ttl_ctl >> 4) * 600 + 900,
    );
    response_rules(
        &parsed,
        &lname,
        &mut buf,
        &mut len,
        min,
        max,
        ctl & 0x10 != 0,
    );
    assert!(len <= buf.len());
    let answer = &buf[..len];

    ttls(answer, min, max);
    truncated(answer, ctl & 0x20 != 0);
    rebuilt(answer, ttl_ctl);
    edns_option(answer, ttl_ctl);
    if relayed {
        cached(
            answer,
            qname,
            &lname,
            qtype,
            edns,
            client_id,
            ctl & 0x40 != 0,
        );
    }
});

/// The answer's first question, when it is uncompressed.
fn answer_question(answer: &[u8]) -> Option<(&[u8], u16)> {
    if answer[4..6] == [0, 0] {
        return None;
    }
    let n = wire::name::uncompressed_len(&answer[12..])?;
    let t = answer.get(12 + n..12 + n + 2)?;
    Some((&answer[12..12 + n], u16::from_be_bytes([t[0], t[1]])))
}

fn query(qname: &[u8], qtype: u16, edns: bool, ecs: bool) -> Vec<u8> {
    let mut q = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    q.extend_from_slice(qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if edns {
        let mut options = vec![0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]; // a cookie
        if ecs {
            ecs::option("198.51.100.7".parse().unwrap(), 24, &mut options);
        }
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0]);
        q.extend_from_slice(&(options.len() as u16).to_be_bytes());
        q.extend_from_slice(&options);
    }
    q
}

/// How many ECS options the OPT of the message's additional section
/// holds (an OPT elsewhere is not one ECS looks at).
fn ecs_options(answer: &[u8]) -> usize {
    let Some(opt) = edit::find_additional(answer, rtype::OPT) else {
        return 0;
    };
    let mut rest = &answer[opt.fixed + 10..opt.end];
    let mut n = 0;
    while let [c0, c1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        n += usize::from(u16::from_be_bytes([*c0, *c1]) == ecs::OPTION_CODE);
        rest = &tail[len..];
    }
    n
}

fn response_rules(
    query: &wire::Query,
    lname: &[u8],
    buf: &mut Vec<u8>,
    len: &mut usize,
    min: u32,
    max: u32,
    tcp: bool,
) {
    let rule = |kind, action| ResponseRule {
        selector: Selector::new(kind),
        action: Arc::new(action),
        name: String::new(),
        uuid: String::new(),
    };
    let chain = ResponseChain {
        rules: vec![
            rule(
                Kind::All,
                ResponseAction::LimitTtl {
                    min,
                    max,
                    types: vec![],
                },
            ),
            rule(
                Kind::RCode(0),
                ResponseAction::ClearRecordTypes(vec![rtype::RRSIG, rtype::AAAA]),
            ),
            rule(Kind::RCode(3), ResponseAction::Truncate),
        ],
        ..Default::default()
    };
    let tags = shield::Tags::default();
    let trailing = shield::Trailing::default();
    let clock = shield::qps::QueryClock::at(1);
    let rcode = buf.get(3).map(|b| u16::from(b & 0xf));
    let info = QueryInfo {
        client: "192.0.2.1:5353".parse().unwrap(),
        local: "192.0.2.53:53".parse().unwrap(),
        tcp,
        query,
        lname,
        rcode,
        tags: &tags,
        trailing: &trailing,
        pools: None,
        clock: &clock,
        stream: None,
    };
    // The client takes less than the buffer holds: rebuilt answers that
    // grow past it are cut to the question.
    let limit = (*len).max(512);
    buf.resize(limit.max(*len), 0);
    let before = edit::records(&buf[..*len]).is_some();
    chain.apply(&info, buf, len, limit);
    assert!(*len <= limit);
    if before {
        assert!(
            edit::records(&buf[..*len]).is_some(),
            "response rules broke the answer"
        );
    }
}

/// Aging and clamping TTLs: the smallest TTL moves as asked.
fn ttls(answer: &[u8], min: u32, max: u32) {
    let Some(low) = edit::min_ttl(answer) else {
        return;
    };
    let mut p = answer.to_vec();
    edit::age_ttls(&mut p, 100);
    assert_eq!(edit::min_ttl(&p), Some(low.saturating_sub(100)));
    edit::clamp_ttls(&mut p, min, max, &[]).unwrap();
    let clamped = edit::min_ttl(&p).unwrap();
    assert!(
        (min..=max).contains(&clamped),
        "{clamped} outside [{min}, {max}]"
    );
    assert_eq!(p.len(), answer.len());
}

/// A TC answer cut to its question: smaller, walkable, no records but a
/// bare OPT.
fn truncated(answer: &[u8], with_slack: bool) {
    let mut p = answer.to_vec();
    if with_slack {
        p.resize(answer.len() + 64, 0xaa);
    }
    let len = edit::truncate_to_question(&mut p, answer.len());
    assert!(len <= answer.len());
    if edit::records(answer).is_some() {
        let (_, mut c) = edit::records(&p[..len]).expect("a truncated answer walks");
        let rest: Vec<_> = std::iter::from_fn(|| c.next(&p[..len])).collect();
        assert!(rest.len() <= 1 && rest.iter().all(|r| r.rtype == rtype::OPT));
        assert_eq!(p[6..10], [0, 0, 0, 0]);
    } else {
        assert_eq!(len, answer.len());
    }
}

/// Rebuilt without one type: a message the strict reader takes, with
/// every other record.
fn rebuilt(answer: &[u8], drop: u8) {
    let drop = [rtype::A, rtype::AAAA, rtype::OPT, rtype::CNAME][usize::from(drop) % 4];
    let mut out = Vec::new();
    let Some(question_len) = edit::rebuild(answer, |t, _| t != drop, &mut out) else {
        return;
    };
    assert!(question_len <= out.len());
    let m = wire::message::parse(&out).expect("a rebuilt answer parses");
    let (_, all) = edit::walk(answer).unwrap();
    let kept = all.iter().filter(|r| r.rtype != drop).count();
    assert_eq!(m.records.len(), kept);
    assert!(m.records.iter().all(|r| r.rtype != drop));
}

/// An EDNS option set in the message read as a query (what
/// SetEDNSOptionAction does to one that parsed, with no bytes after its
/// last record): it still parses, with the option.
fn edns_option(answer: &[u8], code: u8) {
    let mut query = answer.to_vec();
    query[2] &= 0x7f;
    match wire::Query::parse(&query) {
        Ok(q) if q.end == query.len() => {}
        _ => return,
    }
    let code = u16::from(code) + 65000;
    let out = edit::set_edns_option(&query, code, b"fuzz").expect("a query takes an option");
    let q = wire::Query::parse(&out).expect("the query with the option parses");
    assert!(q.has_edns_option(code), "the option set");
    assert_eq!(q.end, out.len());
}

/// Into the cache and out again for another ID and name case.
fn cached(answer: &[u8], qname: &[u8], lname: &[u8], qtype: u16, edns: bool, id: u16, tcp: bool) {
    let cache = PacketCache::new(CacheOptions {
        shards: 1,
        ..Default::default()
    });
    let key = CacheKey {
        lname,
        qtype,
        qclass: 1,
        flags: 0x0100,
        edns,
        dnssec_ok: false,
        tcp,
        options: cache.options_digest(edns.then_some((1232, &b""[..]))),
    };
    cache.insert_with(&key, answer, if id & 1 == 0 { Some(30) } else { None });
    let kept = cache.len() == 1;
    let asked_id = id ^ 0xffff;
    let asked: Vec<u8> = qname
        .iter()
        .map(|b| b ^ if b.is_ascii_alphabetic() { 0x20 } else { 0 })
        .collect();
    let mut out = vec![0u8; 65535];
    let got = cache.get(&key, asked_id, &asked, &mut out, 0);
    assert_eq!(got.is_some(), kept, "what was kept is found");
    let Some(len) = got else {
        return;
    };
    assert_eq!(len, answer.len());
    let hit = &out[..len];
    assert_eq!(hit[..2], asked_id.to_be_bytes(), "the asked ID");
    if hit[4..6] == [0, 0] {
        assert_eq!(hit[2..], answer[2..]);
    } else {
        let end = 12 + asked.len();
        assert_eq!(hit[12..end], asked[..], "the asked name");
        assert_eq!(hit[2..12], answer[2..12]);
        assert_eq!(hit[end..], answer[end..]);
    }
    // Not into a buffer too small for it.
    assert!(cache
        .get(&key, asked_id, &asked, &mut out[..len - 1], 0)
        .is_none());
    // Another type is another key.
    let other = CacheKey {
        qtype: qtype ^ 1,
        ..key
    };
    assert!(cache.get(&other, asked_id, &asked, &mut out, 0).is_none());
    assert_eq!(cache.expunge_name(lname, Some(qtype), false), 1);
    assert!(cache.is_empty());
}
