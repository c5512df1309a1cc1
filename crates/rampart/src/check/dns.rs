//! The small DNS client the checks share: one question out, the matching
//! answer back (UDP, then TCP when the answer is truncated), parsed with
//! `wire::message`. Nothing received is trusted: a datagram with another
//! ID or question is skipped, a malformed answer is an error.

use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use wire::client::AskError;
use wire::message::Message;
use wire::types::{class, flags};

/// Which address family `-4`/`-6` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Any,
    V4,
    V6,
}

/// The address of `host` (an IP address, `[v6]`, `host:port`, `[v6]:port`
/// or a name to resolve), with `port` when it names none.
pub fn resolve(host: &str, port: u16, family: Family) -> Result<SocketAddr, String> {
    let fits = |a: &SocketAddr| match family {
        Family::Any => true,
        Family::V4 => a.is_ipv4(),
        Family::V6 => a.is_ipv6(),
    };
    let found = if let Ok(a) = host.parse::<SocketAddr>() {
        vec![a]
    } else if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        vec![SocketAddr::new(ip, port)]
    } else {
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.contains(':') => (
                n,
                p.parse()
                    .map_err(|_| format!("bad port '{p}' in '{host}'"))?,
            ),
            _ => (host, port),
        };
        if name.is_empty() {
            return Err("empty host name".into());
        }
        (name, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve '{name}': {e}"))?
            .collect()
    };
    found.into_iter().find(fits).ok_or_else(|| {
        format!(
            "'{host}' has no {} address",
            if family == Family::V6 { "IPv6" } else { "IPv4" }
        )
    })
}

/// What to ask.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// Wire form.
    pub name: &'a [u8],
    pub qtype: u16,
    /// DO: ask for the RRSIGs too.
    pub dnssec_ok: bool,
    /// RD, as `dig` sets it (`check dig` may be pointed at a resolver).
    pub recursion: bool,
}

impl<'a> Question<'a> {
    /// `name` `qtype`, without DO or RD.
    pub fn new(name: &'a [u8], qtype: u16) -> Question<'a> {
        Question {
            name,
            qtype,
            dnssec_ok: false,
            recursion: false,
        }
    }
}

/// The query for `q`, class IN, with an OPT record (4096-octet payload).
pub fn query(id: u16, q: &Question) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; 512];
    let mut w = wire::Response::new(&mut buf, 512);
    w.set_header(id, if q.recursion { flags::RD } else { 0 });
    w.push_question(q.name, q.qtype, class::IN)
        .and_then(|()| w.push_opt(4096, 0, q.dnssec_ok))
        .map_err(|_| "query does not fit in 512 octets".to_string())?;
    let mut msg = w.finish().to_vec();
    msg[2] &= !((flags::QR >> 8) as u8);
    Ok(msg)
}

/// A message ID nobody off the path can guess cheaply: the clock's
/// nanoseconds mixed with the process ID.
pub fn fresh_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = nanos.wrapping_mul(0x9e37_79b9) ^ std::process::id().rotate_left(16);
    (mixed >> 16) as u16 ^ mixed as u16
}

/// An answer, parsed, with the time it took.
pub struct Answer {
    pub message: Message,
    pub elapsed: Duration,
}

/// Sends `msg` to `addr` and returns the first answer whose ID and
/// question match (UDP), or the answer (TCP), with the round-trip time.
pub fn exchange(
    addr: SocketAddr,
    msg: &[u8],
    tcp: bool,
    timeout: Duration,
) -> Result<(Vec<u8>, Duration), String> {
    let started = Instant::now();
    let answer = if tcp {
        exchange_tcp(addr, msg, timeout)?
    } else {
        exchange_udp(addr, msg, timeout)?
    };
    Ok((answer, started.elapsed()))
}

fn exchange_udp(addr: SocketAddr, msg: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let sock =
        wire::client::udp_socket_for(addr).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    // Connected, so an ICMP port unreachable says the port is closed.
    sock.connect(addr)
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    let asked = wire::client::ask_udp(&sock, addr, msg, deadline, &mut buf, |a| answers(msg, a));
    match asked {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(AskError::Send(e)) => Err(format!("cannot send to {addr}: {e}")),
        Err(AskError::Deadline) => Err(format!(
            "no answer from {addr} within {:.1} s",
            timeout.as_secs_f64()
        )),
        // ICMP port unreachable shows as a refused connection.
        Err(AskError::Receive(e)) => Err(format!("no answer from {addr}: {e}")),
    }
}

fn exchange_tcp(addr: SocketAddr, msg: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let fail = |e: std::io::Error| format!("TCP to {addr}: {e}");
    if u16::try_from(msg.len()).is_err() {
        return Err("query too long".to_string());
    }
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    s.set_read_timeout(Some(timeout)).map_err(fail)?;
    s.set_write_timeout(Some(timeout)).map_err(fail)?;
    wire::client::write_framed(&mut s, msg).map_err(fail)?;
    let mut answer = Vec::new();
    wire::client::read_framed(&mut s, &mut answer, usize::from(u16::MAX)).map_err(fail)?;
    if !answers(msg, &answer) {
        return Err(format!(
            "TCP to {addr}: the answer does not match the question"
        ));
    }
    Ok(answer)
}

/// Whether `answer` is a response with `query`'s ID and question.
fn answers(query: &[u8], answer: &[u8]) -> bool {
    let question_end = wire::name::uncompressed_len(query.get(12..).unwrap_or(&[]))
        .map_or(query.len(), |n| 12 + n + 4);
    answer.len() >= question_end
        && query.len() >= question_end
        && answer[..2] == query[..2]
        && answer[2] & 0x80 != 0
        && answer[4..6] == [0, 1]
        && answer[12..question_end].eq_ignore_ascii_case(&query[12..question_end])
}

/// Asks `addr` the question: UDP (unless `tcp`), again over TCP when
/// the answer comes back truncated.
pub fn ask(addr: SocketAddr, q: &Question, tcp: bool, timeout: Duration) -> Result<Answer, String> {
    let msg = query(fresh_id(), q)?;
    let (mut bytes, mut elapsed) = exchange(addr, &msg, tcp, timeout)?;
    if !tcp && bytes.get(2).is_some_and(|b| b & 0x02 != 0) {
        (bytes, elapsed) = exchange(addr, &msg, true, timeout)?;
    }
    let message =
        wire::message::parse(&bytes).map_err(|e| format!("malformed answer from {addr}: {e}"))?;
    Ok(Answer { message, elapsed })
}

/// The rcode's name (`NOERROR`, `SERVFAIL`…), with the OPT's upper bits.
pub fn rcode_name(message: &Message) -> String {
    let ext = message
        .section(wire::Section::Additional)
        .find(|r| r.rtype == wire::types::rtype::OPT)
        .map_or(0, |r| u16::from((r.ttl >> 24) as u8));
    let code = (ext << 4) | u16::from(message.header.rcode());
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        9 => "NOTAUTH".into(),
        16 => "BADVERS".into(),
        n => format!("RCODE{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_and_without_ports() {
        let r = |h: &str| resolve(h, 53, Family::Any).unwrap().to_string();
        assert_eq!(r("127.0.0.1"), "127.0.0.1:53");
        assert_eq!(r("127.0.0.1:5300"), "127.0.0.1:5300");
        assert_eq!(r("::1"), "[::1]:53");
        assert_eq!(r("[::1]"), "[::1]:53");
        assert_eq!(r("[::1]:5300"), "[::1]:5300");
        assert!(resolve("127.0.0.1", 53, Family::V6).is_err());
        assert!(resolve("localhost:x", 53, Family::Any).is_err());
    }

    #[test]
    fn an_answer_must_echo_id_and_question() {
        let mut asked = Question::new(b"\x03www\x07example\x00", 1);
        asked.recursion = true;
        let q = query(0x1234, &asked).unwrap();
        assert_eq!(q[2], 0x01, "a query with RD, not a response");
        let mut a = q.clone();
        a[2] |= 0x80;
        assert!(answers(&q, &a));
        a[13] = b'W';
        assert!(answers(&q, &a), "case does not matter");
        a[0] ^= 1;
        assert!(!answers(&q, &a));
        assert!(!answers(&q, &a[..10]));
    }
}
