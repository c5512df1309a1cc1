//! Response rules (`addResponseAction`): run over each answer before it
//! is sent, with the query's selectors plus `RCodeRule`/`ERCodeRule`.
//! As in dnsdist, answers the query rules made themselves (RCode, TC,
//! spoofs) skip these rules and go through the self-answered ones.

use std::sync::Arc;

use wire::edit::{clamp_ttls, rebuild};
use wire::types::rtype;
use wire::Section;

use crate::querylog::QueryLog;
use crate::selector::{QueryInfo, Selector};

/// A response action.
#[derive(Debug)]
pub enum ResponseAction {
    /// Stop processing response rules; send.
    Allow,
    /// Send nothing (TCP: close).
    Drop,
    /// Hold the UDP answer; keep going.
    Delay(u32),
    /// Log the answer; keep going.
    Log(Arc<QueryLog>),
    /// UDP: send TC=1 with the records stripped; stop. TCP: keep going.
    Truncate,
    /// Clamp TTLs (of `types`, or all) into [min, max]; keep going.
    LimitTtl { min: u32, max: u32, types: Vec<u16> },
    /// Remove records of these types; keep going.
    ClearRecordTypes(Vec<u16>),
    /// Keep the answer out of the packet cache; keep going.
    SkipCache,
    /// Code from the config decides (`LuaResponseAction`).
    Hook(Arc<dyn crate::hook::QueryHook>),
    /// Do nothing.
    None,
}

impl ResponseAction {
    pub fn describe(&self) -> String {
        match self {
            ResponseAction::Allow => "allow".into(),
            ResponseAction::Drop => "drop".into(),
            ResponseAction::Delay(ms) => format!("delay by {ms} ms"),
            ResponseAction::Log(l) => l.describe(),
            ResponseAction::Truncate => "tc=1 answer".into(),
            ResponseAction::LimitTtl { min, max, .. } => {
                format!("limit ttl ({min} <= ttl <= {max})")
            }
            ResponseAction::ClearRecordTypes(t) => {
                let names: Vec<String> = t
                    .iter()
                    .map(|t| wire::types::rtype_name(*t).into_owned())
                    .collect();
                format!("clear record types {}", names.join(", "))
            }
            ResponseAction::SkipCache => "skip cache".into(),
            ResponseAction::Hook(h) => h.describe(),
            ResponseAction::None => "no op".into(),
        }
    }
}

/// A response rule.
#[derive(Clone, Debug)]
pub struct ResponseRule {
    pub selector: Arc<Selector>,
    pub action: Arc<ResponseAction>,
    pub name: String,
    pub uuid: String,
}

/// What the response rules decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseVerdict {
    pub drop: bool,
    pub delay_ms: Option<u32>,
    /// Keep the answer out of the packet cache.
    pub skip_cache: bool,
}

/// The response rules, in order.
#[derive(Clone, Debug, Default)]
pub struct ResponseChain {
    pub rules: Vec<ResponseRule>,
    /// Cut a backend's TC answer over UDP down to header and question
    /// before the rules run (dnsdist's `truncateTC`, off by default).
    pub truncate_tc: bool,
    /// Relay a backend's NOERROR or NXDOMAIN answer that carries no
    /// question (dnsdist's `setAllowEmptyResponse`, off by default; other
    /// rcodes without a question always pass).
    pub allow_empty_response: bool,
    /// Put the client's spelling of the name back into the question of a
    /// backend's answer (dnsdist's `fixupCase`, off by default).
    pub fix_case: bool,
}

impl ResponseChain {
    /// With `fix_case`, writes `qname` (the client's spelling) over the
    /// question name of `answer`, which must carry the same name in any
    /// case (checked when the answer was matched to its query).
    pub fn fix_case(&self, answer: &mut [u8], qname: &[u8]) {
        if let Some(name) = answer
            .get_mut(12..12 + qname.len())
            .filter(|_| self.fix_case)
        {
            if name.eq_ignore_ascii_case(qname) {
                name.copy_from_slice(qname);
            }
        }
    }
}

impl ResponseChain {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules over the answer in `out[..*len]`; may rewrite it and
    /// change `len`, never past `limit` (what the client takes). `q.rcode`
    /// must hold the answer's rcode.
    pub fn apply(
        &self,
        q: &QueryInfo,
        out: &mut [u8],
        len: &mut usize,
        limit: usize,
    ) -> ResponseVerdict {
        let mut verdict = ResponseVerdict::default();
        for rule in &self.rules {
            if !rule.selector.test(q) {
                continue;
            }
            match &*rule.action {
                ResponseAction::Allow => return verdict,
                ResponseAction::Drop => {
                    verdict.drop = true;
                    return verdict;
                }
                ResponseAction::Delay(ms) => verdict.delay_ms = Some(*ms),
                ResponseAction::Log(log) => log.log_response(q),
                ResponseAction::Truncate if q.tcp => {}
                ResponseAction::Truncate => {
                    rewrite(out, len, limit, |t, _| t == rtype::OPT);
                    out[2] |= 0x02;
                    return verdict;
                }
                ResponseAction::LimitTtl { min, max, types } => {
                    let _ = clamp_ttls(&mut out[..*len], *min, *max, types);
                }
                ResponseAction::ClearRecordTypes(types) => {
                    rewrite(out, len, limit, |t, _| !types.contains(&t));
                }
                ResponseAction::SkipCache => verdict.skip_cache = true,
                ResponseAction::Hook(hook) => {
                    use crate::hook::HookVerdict;
                    let d = hook.respond(q, &out[..*len]);
                    verdict.skip_cache |= d.skip_cache;
                    if let (Some(f), Some(word)) = (d.flags, out.get_mut(2..4)) {
                        word.copy_from_slice(&f.to_be_bytes());
                    }
                    for (at, ttl) in &d.ttls {
                        if let Some(field) = out[..*len].get_mut(*at..*at + 4) {
                            field.copy_from_slice(&ttl.to_be_bytes());
                        }
                    }
                    match d.verdict {
                        HookVerdict::Allow => return verdict,
                        HookVerdict::Drop => {
                            verdict.drop = true;
                            return verdict;
                        }
                        HookVerdict::Delay(ms) => verdict.delay_ms = Some(ms),
                        // ServFail (or a failed script): the answer's rcode.
                        HookVerdict::RCode(rc) => {
                            out[3] = (out[3] & 0xf0) | (rc & 0xf) as u8;
                            return verdict;
                        }
                        HookVerdict::Continue
                        | HookVerdict::Truncate
                        | HookVerdict::NoRecurse
                        | HookVerdict::Answer => {}
                    }
                }
                ResponseAction::None => {}
            }
        }
        verdict
    }
}

/// Rebuilds the answer keeping the records `keep` says (if it fits).
fn rewrite(out: &mut [u8], len: &mut usize, limit: usize, keep: impl Fn(u16, Section) -> bool) {
    let mut rebuilt = Vec::with_capacity(*len);
    let Some(question_len) = rebuild(&out[..*len], keep, &mut rebuilt) else {
        return;
    };
    let room = limit.min(out.len());
    if rebuilt.len() <= room {
        out[..rebuilt.len()].copy_from_slice(&rebuilt);
        *len = rebuilt.len();
    } else if question_len <= room {
        // Uncompressed, it no longer fits what the client takes: the
        // question alone with TC sends it to TCP.
        out[..question_len].copy_from_slice(&rebuilt[..question_len]);
        out[6..12].fill(0);
        out[2] |= 0x02;
        *len = question_len;
    } else {
        // Not even the questions fit written out (many, compressed in
        // the answer): the header alone, with TC.
        out[4..12].fill(0);
        out[2] |= 0x02;
        *len = 12;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::Kind;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Found by the `backend_answer` fuzz target: an answer of 39
    /// questions, most of their names compression pointers. Removing
    /// records rebuilds it with every name written out: the question
    /// section alone came to 559 bytes, and cutting the answer to it in
    /// a 512-byte buffer panicked. (The forwarder runs response rules
    /// only on answers that parse as one question, which never grows.)
    #[test]
    fn a_question_section_too_big_rewritten_leaves_the_header_with_tc() {
        let answer = hex(concat!(
            "0800000000270000000000000000000083030000000032003b00000100000000000000000000",
            "0200000000000000000000000000000000000000000000270000000000000000000000000000",
            "0000000000000100000000000000000000020000000000008000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000005b00000000000000001e00010200010000000000000000000000",
            "0000013a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a263a3a3a3a0000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000000000000000",
            "005b00000000000000001e000102000100000000000000000000000000013a3a3a3a3a3a3a3a",
            "3a3a3a3a3a3a3a3a3a3a3a263a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a",
            "3a3a3a3a00000e8a1000100400000000620000c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0",
            "c0c0003a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a00000e8a1000100400",
            "000000620000c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c00000000000000000000000",
            "0000dcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdc00fffffc00c026ac02",
        ));
        let chain = ResponseChain {
            rules: vec![ResponseRule {
                selector: Selector::new(Kind::All),
                action: Arc::new(ResponseAction::ClearRecordTypes(vec![rtype::RRSIG])),
                name: String::new(),
                uuid: String::new(),
            }],
            ..Default::default()
        };
        let packet =
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x04test\x00\x00\x01\x00\x01";
        let query = wire::Query::parse(packet).unwrap();
        let (tags, trailing, clock) = Default::default();
        let info = QueryInfo {
            client: "192.0.2.1:5353".parse().unwrap(),
            local: "192.0.2.53:53".parse().unwrap(),
            tcp: false,
            query: &query,
            lname: b"\x01a\x04test\x00",
            rcode: Some(0),
            tags: &tags,
            trailing: &trailing,
            pools: None,
            clock: &clock,
            stream: None,
        };
        let mut out = answer.clone();
        out.resize(512, 0);
        let mut len = answer.len();
        chain.apply(&info, &mut out, &mut len, 512);
        assert_eq!(len, 12);
        assert_eq!(out[..2], answer[..2]);
        assert_eq!(out[2] & 0x02, 0x02, "TC");
        assert_eq!(out[4..12], [0; 8]);
    }
}
