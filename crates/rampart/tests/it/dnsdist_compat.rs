//! dnsdist actions and settings that change what a backend is asked or
//! what a client gets, checked against the real binary on loopback with
//! a backend that echoes the query it received.

use crate::common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;
use domain::base::iana::Rtype;

const RD: u8 = 0x01; // in header byte 2
const CD: u8 = 0x10; // in header byte 3

/// Starts rampart with `rules` in front of one echo backend; the probe
/// name is forwarded, so the backend answers it. It has a console, for
/// [`counter`].
fn behind(tag: &str, rules: &str) -> (Server, EchoBackend) {
    let dir = scratch_dir(tag);
    let port = free_port();
    let backend = echo_backend();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{}\"}}\n{rules}\n{}",
        backend.port,
        console_config()
    );
    (rampart_in(&dir, port, &conf, "probe.test"), backend)
}

/// Asserts (waiting a little) that counter `name` of `s`, a server
/// started by [`rampart_in`] (its config and logs share a directory),
/// reads `want`.
fn counter(s: &Server, name: &str, want: u64) {
    assert_stat(s.log.parent().expect("log dir"), name, want);
}

/// The query the backend last saw for a name containing `label`.
fn seen(backend: &EchoBackend, label: &str) -> Vec<u8> {
    backend
        .seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|q| q.windows(label.len()).any(|w| w == label.as_bytes()))
        .cloned()
        .unwrap_or_else(|| panic!("the backend never saw {label}"))
}

fn ask(s: &Server, q: &QuerySpec, id: u16, tcp: bool) -> Vec<u8> {
    let wire = q.to_wire(id);
    let answer = if tcp {
        tcp_exchange(s.addr, &wire, Duration::from_secs(2))
    } else {
        udp_exchange(s.addr, &wire, Duration::from_secs(2))
    };
    answer.unwrap_or_else(|| panic!("no answer for {} (tcp={tcp})", q.name))
}

/// NoRecurseAction used to set a flag nothing read: the backend got RD
/// as the client sent it. Now the backend gets RD=0 and the client its
/// own RD=1 back, over UDP and TCP, for all three spellings
/// (SetNoRecurseAction, addNoRecurseRule, and the old NoRecurseAction).
#[test]
fn no_recurse_clears_rd_for_the_backend_only() {
    let (s, backend) = behind(
        "norecurse",
        "addAction(\"clearrd.test.\", SetNoRecurseAction())\n\
         addNoRecurseRule(\"oldname.test.\")\n\
         addAction(\"norec.test.\", NoRecurseAction())",
    );
    let names = ["a.clearrd.test", "b.oldname.test", "c.norec.test"];
    for (i, name) in names.iter().enumerate() {
        for tcp in [false, true] {
            let label = if tcp {
                format!("t{i}")
            } else {
                format!("u{i}")
            };
            let mut q = QuerySpec::new(&format!("{label}.{name}"), Rtype::A);
            q.rd = true;
            let answer = ask(&s, &q, 7, tcp);
            assert_eq!(seen(&backend, &label)[2] & RD, 0, "{name} tcp={tcp}");
            assert_eq!(answer[2] & RD, RD, "client's RD back: {name} tcp={tcp}");
        }
    }
    // A name no rule matches keeps RD.
    let mut q = QuerySpec::new("keep.other.test", Rtype::A);
    q.rd = true;
    ask(&s, &q, 8, false);
    assert_eq!(seen(&backend, "keep")[2] & RD, RD);
}

/// A dynamic block with DNSAction.NoRecurse clears RD towards the backend
/// and counts as a block, as dnsdist's does (it used to do nothing).
#[test]
fn a_no_recurse_dynamic_block_clears_rd() {
    let (s, backend) = behind(
        "dynnorecurse",
        "addDynBlockSMT({\"dynrd.test.\"}, \"no recursion\", 60, DNSAction.NoRecurse)",
    );
    for tcp in [false, true] {
        let label = if tcp { "tcprd" } else { "udprd" };
        let mut q = QuerySpec::new(&format!("{label}.dynrd.test"), Rtype::A);
        q.rd = true;
        let answer = ask(&s, &q, 10, tcp);
        assert_eq!(seen(&backend, label)[2] & RD, 0, "tcp={tcp}");
        assert_eq!(answer[2] & RD, RD, "client's RD back: tcp={tcp}");
    }
    counter(&s, "dyn-blocked", 2);
}

/// SetDisableValidationAction sets CD towards the backend; the client
/// gets the CD it sent.
#[test]
fn disable_validation_sets_cd_for_the_backend_only() {
    let (s, backend) = behind(
        "setcd",
        "addAction(\"setcd.test.\", SetDisableValidationAction())",
    );
    for tcp in [false, true] {
        let label = if tcp { "tcpcd" } else { "udpcd" };
        let answer = ask(
            &s,
            &QuerySpec::new(&format!("{label}.setcd.test"), Rtype::A),
            9,
            tcp,
        );
        assert_eq!(seen(&backend, label)[3] & CD, CD, "tcp={tcp}");
        assert_eq!(answer[3] & CD, 0, "tcp={tcp}");
    }
}

/// ContinueAction(PoolAction(...)) picks the pool and lets later rules
/// run: the query reaches the pool's server with CD set by the next rule.
#[test]
fn continue_action_keeps_the_pool_and_runs_later_rules() {
    let dir = scratch_dir("continue");
    let port = free_port();
    let (default, other) = (echo_backend(), echo_backend());
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{}\"}}\n\
         newServer{{address=\"127.0.0.1:{}\", pool=\"mypool\"}}\n\
         addAction(\"continue.test.\", ContinueAction(PoolAction(\"mypool\")))\n\
         addAction(AllRule(), SetDisableValidationAction())\n",
        default.port, other.port
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    ask(&s, &QuerySpec::new("x.continue.test", Rtype::A), 3, false);
    assert_eq!(seen(&other, "continue")[3] & CD, CD);
    assert!(
        !default
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|q| q.windows(8).any(|w| w == b"continue")),
        "the default pool got the query"
    );
}

/// NegativeAndSOAAction answers itself: NXDOMAIN or NODATA, the SOA in
/// the additional section (dnsdist 1.7's default) or, when asked, the
/// authority section.
#[test]
fn negative_and_soa_answers_with_the_soa() {
    let (s, _backend) = behind(
        "negsoa",
        "addAction(\"nxd.test.\", NegativeAndSOAAction(true, \"auth.\", 42, \"mname\", \"rname\", 5, 4, 3, 2, 1))\n\
         addAction(\"nodata.test.\", NegativeAndSOAAction(false, \"auth.\", 42, \"mname\", \"rname\", 5, 4, 3, 2, 1, {soaInAuthoritySection=true}))",
    );
    for tcp in [false, true] {
        let a = ask(&s, &QuerySpec::new("x.nxd.test", Rtype::A), 1, tcp);
        assert_eq!(a[3] & 0xf, 3, "NXDOMAIN");
        let n = normalize(&a).unwrap();
        assert!(n.answer.is_empty() && n.authority.is_empty(), "{n:?}");
        assert_eq!(n.additional, ["auth. 42 in soa mname. rname. 5 4 3 2 1"]);
        let a = ask(&s, &QuerySpec::new("x.nodata.test", Rtype::A), 2, tcp);
        assert_eq!(a[3] & 0xf, 0, "NOERROR");
        let n = normalize(&a).unwrap();
        assert_eq!(n.authority, ["auth. 42 in soa mname. rname. 5 4 3 2 1"]);
    }
}

/// SetSkipCacheAction (the pool's cache neither answers nor keeps the
/// query) and SetSkipCacheResponseAction (the answer is not kept): the
/// backend sees every repeat; other names are cached.
#[test]
fn skip_cache_sends_every_repeat_to_the_backend() {
    let seen = std::sync::Arc::default();
    let bport = record_backend_counting(false, std::sync::Arc::clone(&seen));
    let dir = scratch_dir("skipcache");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\n\
         pc = newPacketCache(100)\ngetPool(\"\"):setCache(pc)\n\
         addAction(\"nocache.test.\", SetSkipCacheAction())\n\
         addResponseAction(\"nokeep.test.\", SetSkipCacheResponseAction())\n"
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    let count = |label: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|q: &&Vec<u8>| q.windows(label.len()).any(|w| w == label.as_bytes()))
            .count()
    };
    for i in 0..3 {
        ask(&s, &QuerySpec::new("a.nocache.test", Rtype::A), i, false);
        ask(&s, &QuerySpec::new("a.cached.test", Rtype::A), i, false);
        ask(&s, &QuerySpec::new("a.nokeep.test", Rtype::A), i, false);
    }
    assert_eq!(count("nocache"), 3);
    assert_eq!(count("nokeep"), 3);
    assert_eq!(count("cached"), 1);
}

/// truncateTC(true) cuts a backend's TC answer over UDP down to header
/// and question; without it the records pass.
#[test]
fn truncate_tc_strips_records_from_truncated_answers() {
    let bport = record_backend(true);
    for (on, records) in [(true, 0), (false, 1)] {
        let dir = scratch_dir("truncatetc");
        let port = free_port();
        let conf = format!(
            "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\ntruncateTC({on})\n"
        );
        let s = rampart_in(&dir, port, &conf, "probe.test");
        let mut q = QuerySpec::new("big.test", Rtype::A);
        q.edns = None;
        let a = ask(&s, &q, 5, false);
        assert_eq!(a[2] & 0x02, 0x02, "TC kept");
        assert_eq!(a[6..8], [0, records], "truncateTC({on})");
    }
}

/// A UDP backend answering every query with one A record (TTL 3600),
/// with TC set if `tc`; returns its port.
fn record_backend(tc: bool) -> u16 {
    record_backend_counting(tc, std::sync::Arc::default())
}

/// As [`record_backend`], pushing every query it gets into `seen`.
fn record_backend_counting(tc: bool, seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 17 {
                continue;
            }
            seen.lock().unwrap().push(buf[..n].to_vec());
            // Header and question only (any OPT dropped), then the record.
            let Some(zero) = buf[12..n].iter().position(|&b| b == 0) else {
                continue;
            };
            let mut a = buf[..12 + zero + 5].to_vec();
            a[2] |= if tc { 0x82 } else { 0x80 };
            a[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
            a.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
            let _ = sock.send_to(&a, from);
        }
    });
    port
}

/// A query without a question is answered NOTIMP, itself sent back
/// with QR set, as dnsdist does; setDropEmptyQueries(true) drops it.
#[test]
fn empty_queries_get_notimp_or_are_dropped_when_asked() {
    let empty = [0x12u8, 0x34, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for drop in [false, true] {
        let (s, _backend) = behind("emptyq", &format!("setDropEmptyQueries({drop})"));
        let a = udp_exchange(s.addr, &empty, Duration::from_millis(500));
        if drop {
            assert!(a.is_none(), "dropped");
        } else {
            assert_eq!(a, Some(vec![0x12, 0x34, 0x81, 4, 0, 0, 0, 0, 0, 0, 0, 0]));
        }
        // Seen as an empty query either way (the counter that says why
        // it was dropped), and the server answers the next one.
        counter(&s, "empty-queries", 1);
        counter(&s, "rule-drop", 0);
        ask(&s, &QuerySpec::new("after.test", Rtype::A), 2, false);
    }
}

/// A backend's header-only NOERROR answer reaches the client only with
/// setAllowEmptyResponse(true); a header-only REFUSED always does.
#[test]
fn header_only_answers_pass_when_allowed() {
    // Answers every query with its header only: NOERROR, or REFUSED for
    // names starting with "r".
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let bport = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 14 {
                continue;
            }
            let refused = buf[13] == b'r';
            let mut a = buf[..12].to_vec();
            a[2] |= 0x80;
            a[3] = if refused { 5 } else { 0 };
            a[4..12].fill(0);
            let _ = sock.send_to(&a, from);
        }
    });
    for allow in [false, true] {
        let dir = scratch_dir("emptyresp");
        let port = free_port();
        let conf = format!(
            "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\n\
             setAllowEmptyResponse({allow})\n{}",
            console_config()
        );
        // The probe is answered by REFUSED (its name starts with "r").
        let s = rampart_in(&dir, port, &conf, "rprobe.test");
        let wire = QuerySpec::new("noerror.test", Rtype::A).to_wire(3);
        let a = udp_exchange(s.addr, &wire, Duration::from_millis(700));
        assert_eq!(a.is_some(), allow, "allow={allow}");
        // Not allowed, the header-only answer is no answer: the query
        // times out as one the backend dropped.
        let backend = format!("127.0.0.1:{bport}");
        let drops = u64::from(!allow);
        assert!(
            eventually(Duration::from_secs(10), || backend_counter(
                &dir, &backend, "Drops"
            ) == drops),
            "allow={allow}: {}",
            console(&dir, "showServers()")
        );
        let wire = QuerySpec::new("refused.test", Rtype::A).to_wire(4);
        let a = udp_exchange(s.addr, &wire, Duration::from_millis(700))
            .unwrap_or_else(|| panic!("header-only REFUSED relayed (allow={allow})"));
        assert_eq!(a[3] & 0xf, 5);
    }
}

/// `wire` (a query ending in an empty OPT) with one EDNS option added.
fn with_option(mut wire: Vec<u8>, code: u16, data: &[u8]) -> Vec<u8> {
    let n = wire.len();
    wire[n - 2..].copy_from_slice(&(4 + data.len() as u16).to_be_bytes());
    wire.extend(code.to_be_bytes());
    wire.extend((data.len() as u16).to_be_bytes());
    wire.extend(data);
    wire
}

/// The cache tells queries apart by their EDNS options as dnsdist's
/// does: a client's own ECS counts, its cookie only with cookieHashing.
#[test]
fn cached_answers_follow_the_query_options() {
    for hashing in [false, true] {
        let seen = std::sync::Arc::default();
        let bport = record_backend_counting(false, std::sync::Arc::clone(&seen));
        let dir = scratch_dir("cacheopts");
        let port = free_port();
        let conf = format!(
            "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\n\
             pc = newPacketCache(100, {{cookieHashing={hashing}}})\ngetPool(\"\"):setCache(pc)\n"
        );
        let s = rampart_in(&dir, port, &conf, "probe.test");
        let count = |label: &str| {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|q: &&Vec<u8>| q.windows(label.len()).any(|w| w == label.as_bytes()))
                .count()
        };
        let base = QuerySpec::new("opts.test", Rtype::A).to_wire(1);
        for (i, (code, data)) in [
            (8u16, &[0u8, 1, 24, 0, 192, 0, 2][..]),
            (8, &[0, 1, 24, 0, 198, 51, 100][..]),
            (10, &[1, 2, 3, 4, 5, 6, 7, 8][..]),
            (10, &[8, 7, 6, 5, 4, 3, 2, 1][..]),
        ]
        .into_iter()
        .enumerate()
        {
            let q = with_option(base.clone(), code, data);
            udp_exchange(s.addr, &q, Duration::from_secs(2))
                .unwrap_or_else(|| panic!("no answer to query {i}"));
        }
        // Two ECS subnets: two entries. Two cookies: one entry, or two
        // with cookieHashing.
        assert_eq!(
            count("opts"),
            if hashing { 4 } else { 3 },
            "cookieHashing={hashing}"
        );
    }
}

/// addSelfAnsweredResponseAction's rules see the answers the query rules
/// made; the plain response rules do not.
#[test]
fn self_answered_rules_see_self_made_answers() {
    let (s, _backend) = behind(
        "selfanswered",
        "addAction(\"spoofed.test.\", SpoofAction(\"192.0.2.1\"))\n\
         addAction(\"refused.test.\", RCodeAction(DNSRCode.REFUSED))\n\
         addSelfAnsweredResponseAction(\"spoofed.test.\", DropResponseAction())\n\
         addResponseAction(\"refused.test.\", DropResponseAction())",
    );
    let wire = QuerySpec::new("a.spoofed.test", Rtype::A).to_wire(1);
    assert!(udp_exchange(s.addr, &wire, Duration::from_millis(500)).is_none());
    counter(&s, "rule-drop", 1);
    let a = ask(&s, &QuerySpec::new("a.refused.test", Rtype::A), 2, false);
    assert_eq!(
        a[3] & 0xf,
        5,
        "plain response rules leave self-made answers alone"
    );
}

/// DelayAction and DelayResponseAction hold a forwarded answer over UDP
/// (they used to apply only to answers rampart made itself); TCP answers
/// are never held.
#[test]
fn delays_hold_forwarded_udp_answers() {
    let (s, _backend) = behind(
        "fwddelay",
        "addAction(\"slow.test.\", DelayAction(500))\n\
         addResponseAction(\"slowresp.test.\", DelayResponseAction(500))",
    );
    for name in ["a.slow.test", "a.slowresp.test"] {
        for tcp in [false, true] {
            let started = std::time::Instant::now();
            ask(&s, &QuerySpec::new(name, Rtype::A), 4, tcp);
            let took = started.elapsed();
            if tcp {
                assert!(
                    took < Duration::from_millis(400),
                    "{name} over TCP: {took:?}"
                );
            } else {
                assert!(
                    took >= Duration::from_millis(450),
                    "{name} over UDP: {took:?}"
                );
            }
        }
    }
    let started = std::time::Instant::now();
    ask(&s, &QuerySpec::new("fast.test", Rtype::A), 5, false);
    assert!(started.elapsed() < Duration::from_millis(400));
}

/// fixupCase(true) gives the client its own spelling of the name back
/// when a backend answers in lowercase; without it the backend's passes.
#[test]
fn fixup_case_restores_the_clients_spelling() {
    // Answers with the question lowercased, header only after it.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let bport = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Some(zero) = buf[12..n].iter().position(|&b| b == 0) else {
                continue;
            };
            let mut a = buf[..12 + zero + 5].to_vec();
            a[12..12 + zero].make_ascii_lowercase();
            a[2] |= 0x80;
            a[6..12].fill(0);
            a[3] = 3; // NXDOMAIN
            let _ = sock.send_to(&a, from);
        }
    });
    for fix in [true, false] {
        let dir = scratch_dir("fixupcase");
        let port = free_port();
        let conf = format!(
            "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\nfixupCase({fix})\n"
        );
        let s = rampart_in(&dir, port, &conf, "probe.test");
        let a = ask(&s, &QuerySpec::new("MiXeD.Test", Rtype::A), 6, false);
        let want: &[u8] = if fix {
            b"\x05MiXeD\x04Test"
        } else {
            b"\x05mixed\x04test"
        };
        assert_eq!(&a[12..23], want, "fixupCase({fix})");
    }
}

/// SetEDNSOptionAction puts its option in the query the backend gets,
/// over UDP and TCP, replacing one of the same code the client sent.
#[test]
fn set_edns_option_reaches_the_backend() {
    let (s, backend) = behind(
        "ednsopt",
        "addAction(\"ednsopt.test.\", SetEDNSOptionAction(10, \"deadbeefdeadc0de\"))",
    );
    let option = b"\x00\x0a\x00\x10deadbeefdeadc0de";
    for tcp in [false, true] {
        let label = if tcp { "tcpopt" } else { "udpopt" };
        let q = QuerySpec::new(&format!("{label}.ednsopt.test"), Rtype::A);
        let wire = with_option(q.to_wire(3), 10, b"clientcookie");
        let answered = if tcp {
            tcp_exchange(s.addr, &wire, Duration::from_secs(2))
        } else {
            udp_exchange(s.addr, &wire, Duration::from_secs(2))
        };
        assert!(answered.is_some(), "tcp={tcp}");
        let got = seen(&backend, label);
        assert!(got.ends_with(option), "tcp={tcp}: {got:?}");
        assert!(
            !got.windows(12).any(|w| w == b"clientcookie"),
            "the client's option of that code was replaced"
        );
    }
}

/// setServFailWhenNoServer answers as dnsdist does: the query's header
/// turned around, so RA stays clear however RD was set.
#[test]
fn no_server_servfail_keeps_the_clients_ra() {
    let (s, _backend) = behind(
        "noserver",
        "newServer{address=\"127.0.0.1:9\", pool=\"real\"}\nsetServFailWhenNoServer(true)\n\
         getServer(0):setDown()\naddAction(AllRule(), PoolAction(\"real\"))",
    );
    let mut q = QuerySpec::new("noserver.test", Rtype::A);
    q.rd = true;
    for tcp in [false, true] {
        let a = ask(&s, &q, 9, tcp);
        assert_eq!(a[3] & 0xf, 2, "SERVFAIL");
        assert_eq!(a[2] & RD, RD);
        assert_eq!(a[3] & 0x80, 0, "RA as the client sent it (tcp={tcp})");
    }
}

/// Lua in the query path: LuaAction's DNSAction results, LuaRule with a
/// tag set by an earlier rule, LuaResponseAction on a backend's answer,
/// and a failing script answered SERVFAIL.
#[test]
fn lua_rules_decide_in_the_query_path() {
    let (s, _backend) = behind(
        "luarules",
        r#"
function decide(dq)
  if dq.qname:toString() == "refuse.lua.test." then return DNSAction.Refused end
  if dq.qname:toString() == "opts.lua.test." then
    local o = dq:getEDNSOptions()[EDNSOptionCode.COOKIE]
    if o ~= nil and o:count() == 1 and o:getValues()[1]:len() == 8 then return DNSAction.Refused end
    return DNSAction.Nxdomain
  end
  if dq:getDO() then return DNSAction.Nxdomain, "" end
  if dq.qname:toString() == "tc.lua.test." and not dq.tcp then return DNSAction.Truncate end
  if dq.qname:toString() == "broken.lua.test." then return nil + 1 end
  if dq.qname:toString() == "spoof.lua.test." then return DNSAction.Spoof, "192.0.2.7" end
  if dq.qname:toString() == "cname.lua.test." then return DNSAction.Spoof, "target.example." end
  if dq.qname:toString() == "multi.lua.test." then
    dq:spoof({newCA("192.0.2.8"), newCA("192.0.2.9")})
    return DNSAction.HeaderModify
  end
  return DNSAction.None
end
addAction(AllRule(), SetTagAction("a-tag", "a-value"))
addAction(LuaRule(function(dq) return dq:getTag("a-tag") == "a-value" and dq.qtype == DNSQType.MX end),
          RCodeAction(DNSRCode.NOTIMP))
addAction("lua.test.", LuaAction(decide))
addResponseAction("dropped.test.", LuaResponseAction(function(dr) return DNSResponseAction.Drop end))
"#,
    );
    let rcode = |name: &str, qtype: Rtype, dnssec: bool, tcp: bool| {
        let mut q = QuerySpec::new(name, qtype);
        if dnssec {
            q.edns = Some((1232, 0, true));
        }
        let a = ask(&s, &q, 1, tcp);
        (a[3] & 0xf, a[2] & 0x02 != 0)
    };
    assert_eq!(rcode("refuse.lua.test", Rtype::A, false, false), (5, false));
    let opts = QuerySpec::new("opts.lua.test", Rtype::A).to_wire(4);
    let cookie = with_option(opts.clone(), 10, b"12345678");
    for (wire, want) in [(opts, 3), (cookie, 5)] {
        let a = udp_exchange(s.addr, &wire, Duration::from_secs(2)).expect("answer");
        assert_eq!(a[3] & 0xf, want, "getEDNSOptions");
    }
    // An rcode from Lua is the query sent back: RA as the client sent it.
    let mut rd = QuerySpec::new("refuse.lua.test", Rtype::A);
    rd.rd = true;
    assert_eq!(ask(&s, &rd, 1, false)[3] & 0x80, 0, "RA");
    assert_eq!(
        rcode("x.lua.test", Rtype::A, true, false),
        (3, false),
        "getDO"
    );
    assert_eq!(
        rcode("tc.lua.test", Rtype::A, false, false),
        (0, true),
        "TC over UDP"
    );
    assert_eq!(
        rcode("tc.lua.test", Rtype::A, false, true),
        (0, false),
        "not over TCP"
    );
    assert_eq!(
        rcode("x.other.test", Rtype::MX, false, false),
        (4, false),
        "LuaRule"
    );
    assert_eq!(
        rcode("broken.lua.test", Rtype::A, false, false),
        (2, false),
        "script error"
    );
    let answer = |name: &str| {
        normalize(&ask(&s, &QuerySpec::new(name, Rtype::A), 3, false))
            .unwrap()
            .answer
    };
    assert_eq!(
        answer("spoof.lua.test"),
        ["spoof.lua.test. 60 in a 192.0.2.7"]
    );
    assert_eq!(
        answer("cname.lua.test"),
        ["cname.lua.test. 60 in cname target.example."]
    );
    assert_eq!(
        answer("multi.lua.test"),
        [
            "multi.lua.test. 60 in a 192.0.2.8",
            "multi.lua.test. 60 in a 192.0.2.9"
        ]
    );
    let wire = QuerySpec::new("a.dropped.test", Rtype::A).to_wire(2);
    assert!(udp_exchange(s.addr, &wire, Duration::from_millis(500)).is_none());
    // LuaResponseAction dropped the backend's answer.
    counter(&s, "rule-drop", 1);
    assert_eq!(answer("spoof.lua.test").len(), 1, "still answering");
    assert!(
        s.log_text().contains("LuaAction #2: ") && s.log_text().contains("logged once"),
        "{}",
        s.log_text()
    );
}

/// TrailingDataRule matches a query with bytes after its last record,
/// and a Lua rule reads them with dq:getTrailingData().
#[test]
fn trailing_data_is_seen_by_rules() {
    let (s, _backend) = behind(
        "trailing",
        r#"
addAction(AndRule({QNameRule("dropped.trailing.test."), TrailingDataRule()}), DropAction())
addAction("lua.trailing.test.", LuaAction(function(dq)
  if dq:getTrailingData() == "xyz" then return DNSAction.Refused end
  return DNSAction.None
end))
"#,
    );
    let plain = QuerySpec::new("dropped.trailing.test", Rtype::A).to_wire(1);
    let mut trailing = plain.clone();
    trailing.extend(b"xyz");
    let t = Duration::from_millis(500);
    assert!(
        udp_exchange(s.addr, &plain, t).is_some(),
        "no trailing data"
    );
    assert!(udp_exchange(s.addr, &trailing, t).is_none(), "dropped");
    counter(&s, "rule-drop", 1);
    let mut lua = QuerySpec::new("lua.trailing.test", Rtype::A).to_wire(2);
    lua.extend(b"xyz");
    let a = udp_exchange(s.addr, &lua, t).expect("answered");
    assert_eq!(a[3] & 0xf, 5);
}

/// dq:setTrailingData replaces what follows the message: the backend gets
/// the new bytes, a later rule reads them, and data that would make the
/// query outgrow its buffer is refused (the function says false).
#[test]
fn lua_rules_replace_trailing_data() {
    let (s, backend) = behind(
        "settrailing",
        r#"
addAction("set.trailing.test.", LuaAction(function(dq)
  if not dq:setTrailingData("ABC") then return DNSAction.ServFail end
  return DNSAction.None
end))
addAction(AndRule({QNameRule("set.trailing.test."), LuaRule(function(dq)
  return dq:getTrailingData() == "ABC"
end)}), SetTagAction("seen", "yes"))
addAction(AndRule({QNameRule("set.trailing.test."), NotRule(TagRule("seen"))}), RCodeAction(DNSRCode.REFUSED))
addAction("big.trailing.test.", LuaAction(function(dq)
  local room = 4096 - dq.len
  if dq.tcp then room = 65535 - dq.len end
  if not dq:setTrailingData(string.rep("A", room + 1)) then return DNSAction.ServFail end
  return DNSAction.None
end))
"#,
    );
    for tcp in [false, true] {
        let mut wire = QuerySpec::new("set.trailing.test", Rtype::A).to_wire(3);
        wire.extend(b"old trailing bytes");
        let t = Duration::from_secs(2);
        let a = if tcp {
            tcp_exchange(s.addr, &wire, t)
        } else {
            udp_exchange(s.addr, &wire, t)
        }
        .expect("answered");
        assert_eq!(a[3] & 0xf, 0, "tcp={tcp}");
        let got = seen(&backend, "set");
        assert!(got.ends_with(b"ABC"), "tcp={tcp}: {got:?}");
        let a = ask(&s, &QuerySpec::new("big.trailing.test", Rtype::A), 4, tcp);
        assert_eq!(a[3] & 0xf, 2, "too big: SERVFAIL, tcp={tcp}");
    }
}

/// dq.localaddr is the address the query was sent to, also on a
/// listener bound to 0.0.0.0.
#[test]
fn lua_rules_see_the_local_address_on_a_wildcard_listener() {
    let dir = scratch_dir("localaddr");
    let port = free_port();
    let conf = format!(
        "setLocal(\"0.0.0.0:{port}\")\n\
         addAction(\"local.test.\", LuaAction(function(dq)\n\
           return DNSAction.Spoof, \"at-\" .. dq.localaddr:toString():gsub(\"[.]\", \"-\") .. \".local.test.\"\n\
         end))\n"
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    for tcp in [false, true] {
        let a = ask(&s, &QuerySpec::new("local.test", Rtype::A), 5, tcp);
        assert!(
            a.windows(13).any(|w| w == b"\x0cat-127-0-0-1"),
            "tcp={tcp}: {a:?}"
        );
    }
}

/// dr:editTTLs in a LuaResponseAction: the function's result replaces
/// each record's TTL (a zero keeps it), and is told the record's section,
/// class, type and TTL.
#[test]
fn lua_response_rules_edit_ttls() {
    let dir = scratch_dir("editttls");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{}\"}}\n\
         addResponseAction(\"edit.test.\", LuaResponseAction(function(dr)\n\
           assert(not dr:setTrailingData(\"x\"), \"not on answers\")\n\
           dr:editTTLs(function(section, qclass, qtype, ttl)\n\
             if section == 1 and qclass == 1 and qtype == 1 and ttl == 3600 then return 42 end\n\
             return 0\n\
           end)\n\
           return DNSResponseAction.None\n\
         end))\n\
         addResponseAction(\"none.test.\", LuaResponseAction(function(dr) return DNSAction.None end))\n\
         addResponseAction(\"sf.test.\", LuaResponseAction(function(dr) return DNSResponseAction.ServFail end))\n",
        record_backend(false)
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    for (name, ttl) in [("a.edit.test", 42u32), ("a.keep.test", 3600)] {
        let a = ask(&s, &QuerySpec::new(name, Rtype::A), 6, false);
        let at = a.len() - 10;
        assert_eq!(a[at..at + 4], ttl.to_be_bytes(), "{name}");
    }
    // DNSResponseAction has dnsdist's numbers (ServFail is 4); a number
    // that is none of them (DNSAction.None, 10) goes on, as in dnsdist.
    let a = ask(&s, &QuerySpec::new("a.none.test", Rtype::A), 7, false);
    assert_eq!((a[3] & 0xf, u16::from_be_bytes([a[6], a[7]])), (0, 1));
    let a = ask(&s, &QuerySpec::new("a.sf.test", Rtype::A), 8, false);
    assert_eq!(a[3] & 0xf, 2, "SERVFAIL");
}

/// dq.dh's setters: AA set before a spoof shows in the answer, CD set
/// reaches the backend (the client gets its own CD back), and a query
/// turned into a response (QR, an rcode) is answered as it stands.
#[test]
fn lua_rules_change_the_header() {
    let (s, backend) = behind(
        "luaheader",
        r#"
addAction("aa.dh.test.", LuaAction(function(dq)
  dq.dh:setAA(true)
  dq:spoof({"\192\000\002\001"})
  return DNSAction.HeaderModify
end))
addAction("cd.dh.test.", LuaAction(function(dq)
  dq.dh:setCD(true)
  return DNSAction.HeaderModify
end))
addAction("qr.dh.test.", LuaAction(function(dq)
  dq.dh:setQR(true)
  dq.dh:setRCode(DNSRCode.NXDOMAIN)
  return DNSAction.HeaderModify
end))
"#,
    );
    for tcp in [false, true] {
        let a = ask(&s, &QuerySpec::new("aa.dh.test", Rtype::A), 1, tcp);
        assert_eq!(a[2] & 0x04, 0x04, "AA, tcp={tcp}");
        assert_eq!(a[6..8], [0, 1], "one record, tcp={tcp}");
        let label = if tcp { "tcpcd" } else { "udpcd" };
        let q = QuerySpec::new(&format!("{label}.cd.dh.test"), Rtype::A);
        let a = ask(&s, &q, 2, tcp);
        assert_eq!(seen(&backend, label)[3] & CD, CD, "tcp={tcp}");
        assert_eq!(a[3] & CD, 0, "tcp={tcp}");
        let a = ask(&s, &QuerySpec::new("qr.dh.test", Rtype::A), 3, tcp);
        assert_eq!((a[2] & 0x80, a[3] & 0xf), (0x80, 3), "tcp={tcp}");
    }
}

/// A UDP backend answering every query with one A record and the query's
/// OPT record echoed, its ECS option's scope set to 0 for names starting
/// with "zero" and to 24 otherwise; every query it gets goes into `seen`.
fn ecs_backend(seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = buf[..n].to_vec();
            seen.lock().unwrap().push(q.clone());
            let Some(zero) = q[12..].iter().position(|&b| b == 0) else {
                continue;
            };
            let question_end = 12 + zero + 5;
            let mut a = q[..question_end].to_vec();
            a[2] |= 0x80;
            a[6..8].copy_from_slice(&[0, 1]);
            a.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
            let mut opt = q[question_end..].to_vec();
            let scope = if q[13..17] == *b"zero" { 0 } else { 24 };
            // OPT: root name, type, class, TTL, rdlength, then options.
            let mut at = 11;
            while at + 4 <= opt.len() {
                let len = usize::from(u16::from_be_bytes([opt[at + 2], opt[at + 3]]));
                if opt[at..at + 2] == [0, 8] && len >= 4 {
                    opt[at + 7] = scope;
                }
                at += 4 + len;
            }
            a.extend(opt);
            let _ = sock.send_to(&a, from);
        }
    });
    port
}

/// Answers of a useClientSubnet backend are cached per client network
/// (the ECS option sent is part of the key): a query that goes out with
/// another network (SetECSAction) is not answered from the first one's
/// entry, unless the backend said the answer fits everyone (scope 0,
/// with parseECS).
#[test]
fn ecs_answers_are_cached_per_client_network() {
    let seen = std::sync::Arc::<std::sync::Mutex<Vec<Vec<u8>>>>::default();
    let dir = scratch_dir("ecscache");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\n\
         newServer{{address=\"127.0.0.1:{}\", useClientSubnet=true}}\n\
         pc = newPacketCache(100, {{parseECS=true}})\n\
         getPool(\"\"):setCache(pc)\n\
         addAction(RDRule(), SetECSAction(\"192.0.2.1/32\"))\n\
         addAction(RDRule(), SetNoRecurseAction())\n",
        ecs_backend(seen.clone())
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    let asked = |name: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|q| q.windows(name.len()).any(|w| w == name.as_bytes()))
            .count()
    };
    for name in ["zero.ecs.test", "scoped.ecs.test"] {
        let mut q = QuerySpec::new(name, Rtype::A);
        q.edns = None;
        for _ in 0..2 {
            let a = ask(&s, &q, 7, false);
            assert_eq!(a[6..8], [0, 1], "{name}: answered");
            assert_eq!(a[10..12], [0, 0], "{name}: the added OPT is taken out");
        }
        let label = &name[..name.find('.').unwrap()];
        assert_eq!(asked(label), 1, "{name}: the repeat is a cache hit");
        // The backend was told the client's /24.
        let sent = seen.lock().unwrap().last().unwrap().clone();
        assert!(
            sent.ends_with(&[0, 8, 0, 7, 0, 1, 24, 0, 127, 0, 0]),
            "{sent:?}"
        );
        // With RD the query goes out as 192.0.2.1/32, RD cleared: the
        // same key but for the option.
        q.rd = true;
        ask(&s, &q, 8, false);
        let want = if label == "zero" { 1 } else { 2 };
        assert_eq!(asked(label), want, "{name}: another network");
    }
}

/// A cached answer is served as the backend sent it, whatever its size:
/// a 1000-byte answer to a query without EDNS comes from the cache on
/// the repeat, whole, as it was relayed the first time.
#[test]
fn large_answers_come_from_the_cache_whole() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let bport = sock.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut a = buf[..n].to_vec();
            a[2] |= 0x80;
            a[6..8].copy_from_slice(&[0, 1]);
            // TXT, TTL 3600, four 250-byte strings.
            a.extend([0xc0, 12, 0, 16, 0, 1, 0, 0, 0x0e, 0x10, 0x03, 0xec]);
            for _ in 0..4 {
                a.push(250);
                a.extend([b'x'; 250]);
            }
            let _ = sock.send_to(&a, from);
        }
    });
    let dir = scratch_dir("bigcache");
    let port = free_port();
    let conf = format!(
        "setLocal(\"127.0.0.1:{port}\")\nnewServer{{address=\"127.0.0.1:{bport}\"}}\n\
         getPool(\"\"):setCache(newPacketCache(100))\n"
    );
    let s = rampart_in(&dir, port, &conf, "probe.test");
    let before = asked.load(std::sync::atomic::Ordering::SeqCst);
    let mut q = QuerySpec::new("big.cache.test", Rtype::TXT);
    q.edns = None;
    let first = ask(&s, &q, 1, false);
    let again = ask(&s, &q, 1, false);
    assert!(first.len() > 1000, "{}", first.len());
    assert_eq!(first, again);
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst) - before, 1);
}

/// A config written for dnsdist's LuaJIT FFI runs as it is: require("ffi"),
/// ffi.new/cast/string/copy and the ffi.C.dnsdist_ffi_* functions over
/// the query, the result text of set_result with DNSAction.Spoof, raw
/// records with spoof_raw and DNSAction.HeaderModify.
#[test]
fn lua_ffi_rules_run_on_lua_5_4() {
    let (s, _backend) = behind(
        "luaffi",
        r#"
local ffi = require("ffi")
ffi.cdef[[ typedef struct dnsdist_ffi_dnsquestion_t dnsdist_ffi_dnsquestion_t; ]]
local C = ffi.C
addAction("ffi.test.", LuaFFIAction(function(dq)
  local name_ptr = ffi.new("const char *[1]")
  local name_size = ffi.new("size_t[1]")
  C.dnsdist_ffi_dnsquestion_get_qname_raw(dq, ffi.cast("const char **", name_ptr), ffi.cast("size_t*", name_size))
  local qname = ffi.string(name_ptr[0], name_size[0])
  local options = ffi.new("const dnsdist_ffi_ednsoption_t *[1]")
  local count = tonumber(C.dnsdist_ffi_dnsquestion_get_edns_options(dq, options))
  local answer = "192.0.2." .. count
  if string.match(qname, "cookie") and count == 1 and options[0][0].optionCode == 10 then
    answer = "192.0.2.10"
  end
  if C.dnsdist_ffi_dnsquestion_get_qtype(dq) == DNSQType.TXT then
    local records = ffi.new("dnsdist_ffi_raw_value_t [1]")
    local txt = "\003abc"
    records[0].value = txt
    records[0].size = #txt
    C.dnsdist_ffi_dnsquestion_spoof_raw(dq, records, 1)
    return DNSAction.HeaderModify
  end
  local buf = ffi.new("char[?]", #answer + 1)
  ffi.copy(buf, answer)
  C.dnsdist_ffi_dnsquestion_set_result(dq, buf, #answer)
  return DNSAction.Spoof
end))
addAction("missing.test.", LuaFFIAction(function(dq)
  ffi.C.dnsdist_ffi_dnsquestion_no_such_function(dq)
  return DNSAction.None
end))
"#,
    );
    let answer = |q: QuerySpec| normalize(&ask(&s, &q, 3, false)).unwrap().answer;
    let mut plain = QuerySpec::new("a.ffi.test", Rtype::A);
    plain.edns = None;
    assert_eq!(answer(plain), ["a.ffi.test. 60 in a 192.0.2.0"]);
    let cookie = with_option(
        QuerySpec::new("cookie.ffi.test", Rtype::A).to_wire(5),
        10,
        b"12345678",
    );
    let a = udp_exchange(s.addr, &cookie, Duration::from_secs(2)).expect("answered");
    assert_eq!(
        normalize(&a).unwrap().answer,
        ["cookie.ffi.test. 60 in a 192.0.2.10"]
    );
    assert_eq!(
        answer(QuerySpec::new("txt.ffi.test", Rtype::TXT)),
        ["txt.ffi.test. 60 in txt \"abc\""]
    );
    // A function rampart does not provide: SERVFAIL, and the log names it.
    let a = ask(&s, &QuerySpec::new("x.missing.test", Rtype::A), 4, false);
    assert_eq!(a[3] & 0xf, 2);
    assert!(
        s.log_text()
            .contains("dnsdist_ffi_dnsquestion_no_such_function"),
        "{}",
        s.log_text()
    );
}
