//! The defences an authoritative server applies around its answer: DNS
//! Cookies (RFC 7873) before it, Response Rate Limiting after it. Each is
//! one phase of [`crate::pipeline::handle`], with its own tests.

use std::net::IpAddr;

use shield::cookie::{self, Presented};
use shield::rrl::{self, Verdict};
use shield::Outcome;
use wire::Query;

use crate::State;

/// What the cookie phase decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieCheck {
    /// Go on; `Presented` says what the client sent (and whether a
    /// cookie option is to be added to the answer).
    Answer(Presented),
    /// Answer FORMERR: a COOKIE option of a bad length.
    FormErr,
    /// Answer BADCOOKIE (`require-server-cookie`, over UDP).
    BadCookie(Presented),
}

impl CookieCheck {
    /// What the client sent, for the answer and for RRL (nothing usable
    /// when the option was malformed).
    pub fn presented(&self) -> Presented {
        match self {
            CookieCheck::Answer(p) | CookieCheck::BadCookie(p) => *p,
            CookieCheck::FormErr => Presented::None,
        }
    }

    /// Whether an answer from our zones must be a refusal instead.
    pub fn refuses(&self) -> bool {
        !matches!(self, CookieCheck::Answer(_))
    }
}

/// Reads the query's COOKIE option. Queries without EDNS options, and
/// servers with `answer-cookie no`, skip every cookie computation.
/// (Inlined: the skip is a few instructions, a call costs more; the work
/// is in [`cookie_check`].)
#[inline]
pub fn cookie_phase(state: &State, query: &Query, ip: IpAddr, tcp: bool) -> CookieCheck {
    if query.edns_options.is_empty() || !state.shield.cookies.answer {
        return CookieCheck::Answer(Presented::None);
    }
    cookie_check(state, query, ip, tcp)
}

fn cookie_check(state: &State, query: &Query, ip: IpAddr, tcp: bool) -> CookieCheck {
    let settings = &state.shield.cookies;
    let stats = &state.runtime.stats;
    let presented = settings.inspect(query.edns_options, ip, cookie::unix_now());
    match presented {
        Presented::None => {}
        Presented::Malformed => {
            stats.cookie_in.add(1);
            stats.cookie_malformed.add(1);
            return CookieCheck::FormErr;
        }
        Presented::Valid(_) => {
            stats.cookie_in.add(1);
            stats.cookie_valid.add(1);
        }
        Presented::ClientOnly(_) => {
            stats.cookie_in.add(1);
            // Over TCP the address is proven by the handshake (RFC 7873
            // §5.2.3: answer normally).
            if settings.require_server_cookie && !tcp {
                return CookieCheck::BadCookie(presented);
            }
        }
    }
    CookieCheck::Answer(presented)
}

/// A query the cookie phase refused, and what its answer needs.
pub struct CookieRefusal<'a> {
    pub check: &'a CookieCheck,
    /// The query name in lowercase, the client, the transport and the
    /// query clock: the answer is rate limited as any error answer is.
    pub lname: &'a [u8],
    pub ip: IpAddr,
    pub tcp: bool,
    pub now_ns: u64,
}

impl CookieRefusal<'_> {
    /// FORMERR for a bad COOKIE option (counted as non-compliant), or
    /// BADCOOKIE with a cookie to retry with; over UDP through RRL as an
    /// error (BIND limits these too: they are answers a spoofed flood
    /// can reflect). `limit` is the transport's size limit.
    pub fn answer(
        &self,
        state: &State,
        query: &Query,
        limit: usize,
        out: &mut [u8],
    ) -> Option<usize> {
        let max = state.zones.max_udp_payload;
        let (outcome, presented) = match self.check {
            CookieCheck::Answer(_) => return None,
            CookieCheck::FormErr => {
                state.runtime.stats.noncompliant_queries.add(1);
                (Outcome::RCode(wire::types::rcode::FORMERR), Presented::None)
            }
            CookieCheck::BadCookie(p) => {
                state.runtime.stats.cookie_bad.add(1);
                (Outcome::RCode(cookie::BADCOOKIE), *p)
            }
        };
        let reserve = cookie_reserve(&presented);
        let mut len = shield::answer::self_answer(&outcome, query, out, limit - reserve, max)?;
        if !self.tcp {
            let now = self.now_ns;
            len = rrl_phase(
                state, query, self.lname, self.ip, &presented, false, now, out, len, limit,
            )?;
        }
        Some(add_options(state, &presented, None, self.ip, out, len))
    }
}

/// Bytes to keep free in an answer for the cookie option.
pub fn cookie_reserve(presented: &Presented) -> usize {
    if presented.client().is_some() {
        cookie::OPTION_LEN
    } else {
        0
    }
}

/// Extended DNS Error (RFC 8914) 20, Not Authoritative: what Knot and
/// NSD add to REFUSED for a name outside their zones.
pub const EDE_NOT_AUTHORITATIVE: u16 = 20;
/// EDNS option code of an Extended DNS Error.
const EDE_OPTION: u16 = 15;

/// Adds the client's cookie with a fresh server cookie, and an Extended
/// DNS Error `ede` if given, to the answer in `out[..len]` (whose OPT,
/// if any, was written without options); the new length. An answer
/// without an OPT gets neither (RFC 7873, RFC 8914: only with EDNS).
#[inline]
pub fn add_options(
    state: &State,
    presented: &Presented,
    ede: Option<u16>,
    ip: IpAddr,
    out: &mut [u8],
    len: usize,
) -> usize {
    // Most answers carry neither: nothing to build (inlined, as the
    // other phases' skips).
    if presented.client().is_none() && ede.is_none() {
        return len;
    }
    append_options(state, presented, ede, ip, out, len)
}

fn append_options(
    state: &State,
    presented: &Presented,
    ede: Option<u16>,
    ip: IpAddr,
    out: &mut [u8],
    len: usize,
) -> usize {
    let mut options = [0u8; cookie::OPTION_LEN + 6];
    let mut used = 0;
    if let Some(cc) = presented.client() {
        let option = state.shield.cookies.option(cc, ip, cookie::unix_now());
        options[..option.len()].copy_from_slice(&option);
        used = option.len();
    }
    if let Some(code) = ede {
        options[used..used + 2].copy_from_slice(&EDE_OPTION.to_be_bytes());
        options[used + 2..used + 4].copy_from_slice(&2u16.to_be_bytes());
        options[used + 4..used + 6].copy_from_slice(&code.to_be_bytes());
        used += 6;
    }
    wire::response::append_opt_options(out, len, &options[..used]).unwrap_or(len)
}

/// Response Rate Limiting of a UDP answer in `out[..len]` to `query`
/// (whose lowercase name is `lname`; `wildcard` when the zones answered
/// it from a wildcard): `Some(len)` of what to send (the
/// answer, or the slipped stand-in written over it), `None` to drop it.
/// Clients that proved their address with a server cookie, and TCP, are
/// never limited.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn rrl_phase(
    state: &State,
    query: &Query,
    lname: &[u8],
    ip: IpAddr,
    presented: &Presented,
    wildcard: bool,
    now_ns: u64,
    out: &mut [u8],
    len: usize,
    limit: usize,
) -> Option<usize> {
    // Off: skipped inline, as the other phases.
    if state.shield.rrl.is_none() {
        return Some(len);
    }
    rrl_check(
        state, query, lname, ip, presented, wildcard, now_ns, out, len, limit,
    )
}

#[allow(clippy::too_many_arguments)]
fn rrl_check(
    state: &State,
    query: &Query,
    lname: &[u8],
    ip: IpAddr,
    presented: &Presented,
    wildcard: bool,
    now_ns: u64,
    out: &mut [u8],
    len: usize,
    limit: usize,
) -> Option<usize> {
    let Some(rrl) = &state.shield.rrl else {
        return Some(len);
    };
    if matches!(presented, Presented::Valid(_)) {
        return Some(len);
    }
    let zone = || state.zones.catalog.find(lname, false).map(|(apex, _)| apex);
    let (kind, name) = rrl::classify(&out[..len], lname, wildcard, zone);
    let stats = &state.runtime.stats;
    match rrl.check(ip, kind, name, query.qtype, now_ns) {
        Verdict::Send => Some(len),
        Verdict::Drop => {
            stats.rrl_dropped.add(1);
            None
        }
        Verdict::Slip => {
            stats.rrl_slipped.add(1);
            slip(state, query, presented, out, limit)
        }
    }
}

/// The stand-in for a slipped answer: BADCOOKIE to a client that sent a
/// cookie (it retries with the server cookie it now has), otherwise an
/// empty truncated answer (it retries over TCP). NXDOMAIN stays NXDOMAIN,
/// as in BIND.
fn slip(
    state: &State,
    query: &Query,
    presented: &Presented,
    out: &mut [u8],
    limit: usize,
) -> Option<usize> {
    let rcode = out[3] & 0xf;
    let max = state.zones.max_udp_payload;
    let reserve = cookie_reserve(presented);
    let cookie = presented.client().is_some();
    let outcome = if cookie {
        Outcome::RCode(cookie::BADCOOKIE)
    } else {
        Outcome::Truncate
    };
    let len =
        shield::answer::self_answer(&outcome, query, out, limit.saturating_sub(reserve), max)?;
    if !cookie && rcode == wire::types::rcode::NXDOMAIN as u8 {
        out[3] = (out[3] & 0xf0) | rcode;
    }
    Some(len)
}
