//! Asking a server as a client does: one question over UDP, answered
//! before a deadline, and the two-byte length framing of DNS over TCP
//! (RFC 1035 4.2.2, RFC 7766 8).
//!
//! Several parts of rampart ask other servers something: the secondary
//! its primary's SOA, NOTIFY a secondary, the health check a backend.
//! Each needs the same care: a datagram from another address, or with
//! another ID, is not the answer (a stray or spoofed one must be skipped,
//! not taken, and must not stretch the wait), and the wait ends at a
//! deadline however many datagrams arrive. What else an answer must be
//! (a response bit, a question) differs, so the caller says it.
//!
//! Blocking `std::net` only: the callers are threads of their own.
//! Async code frames with [`frame`] and does its own I/O.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Instant;

/// Why [`ask_udp`] came back without an answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The query could not be sent.
    #[error("send: {0}")]
    Send(io::Error),
    /// Receiving failed before the deadline. On a socket connected to
    /// the server, an ICMP port unreachable shows here as a refused
    /// connection, at once rather than at the deadline.
    #[error("{0}")]
    Receive(io::Error),
    /// The deadline passed with no answer.
    #[error("no answer before the deadline")]
    Deadline,
}

/// A UDP socket to ask `server` from: the unspecified address of its
/// family, a port the kernel chooses (a fresh port per question makes a
/// spoofed answer harder to land).
pub fn udp_socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(local)
}

/// Sends `query` to `server` from `sock` and waits until `deadline` for
/// its answer, received into `buf`; the answer's length.
///
/// A datagram is the answer when it comes from `server`, is at least a
/// header (12 bytes) long, carries the query's ID, and `accept` takes it
/// (the caller's own test: a response bit, the question…). Anything
/// else is skipped and the wait goes on, but never past `deadline`:
/// each receive waits only for what is left of it. A datagram longer
/// than `buf` is cut to `buf`'s length, as the kernel cuts it.
///
/// `sock` may be connected to `server` (the kernel then drops other
/// sources, and reports a closed port as [`AskError::Receive`]).
pub fn ask_udp(
    sock: &UdpSocket,
    server: SocketAddr,
    query: &[u8],
    deadline: Instant,
    buf: &mut [u8],
    mut accept: impl FnMut(&[u8]) -> bool,
) -> Result<usize, AskError> {
    let id = query.get(..2).ok_or_else(|| {
        AskError::Send(io::Error::new(
            io::ErrorKind::InvalidInput,
            "query shorter than its ID",
        ))
    })?;
    sock.send_to(query, server).map_err(AskError::Send)?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AskError::Deadline);
        }
        sock.set_read_timeout(Some(left))
            .map_err(AskError::Receive)?;
        match sock.recv_from(buf) {
            Ok((n, from)) => {
                let answer = &buf[..n];
                if from == server && n >= 12 && answer[..2] == *id && accept(answer) {
                    return Ok(n);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(AskError::Deadline)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AskError::Receive(e)),
        }
    }
}

/// `msg` with its two-byte length before it, as it goes on a stream
/// (TCP, TLS). Refused (`InvalidInput`) when longer than a length can
/// say (65,535 bytes): cut, it would put the stream out of step.
pub fn frame(msg: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(msg.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("message of {} bytes too long to frame", msg.len()),
        )
    })?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    Ok(framed)
}

/// Writes `msg` framed (one write, so length and message leave in one
/// segment) and flushes, which a TLS stream needs to send it at all.
pub fn write_framed(w: &mut impl Write, msg: &[u8]) -> io::Result<()> {
    w.write_all(&frame(msg)?)?;
    w.flush()
}

/// Reads one framed message into `buf` (replacing what it held). A
/// length over `max` is refused (`InvalidData`) before its body is read:
/// the caller says how much it will hold.
pub fn read_framed(r: &mut impl Read, buf: &mut Vec<u8>, max: usize) -> io::Result<()> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len)?;
    let len = usize::from(u16::from_be_bytes(len));
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("framed message of {len} bytes, more than {max}"),
        ));
    }
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// A query with ID 0x1234 for `a.example. A`.
    const QUERY: &[u8] =
        b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x01\x00\x01";

    fn answer(id: [u8; 2], qname: &[u8]) -> Vec<u8> {
        let mut a = id.to_vec();
        a.extend_from_slice(b"\x84\x00\x00\x01\x00\x00\x00\x00\x00\x00");
        a.extend_from_slice(qname);
        a.extend_from_slice(b"\x00\x01\x00\x01");
        a
    }

    fn loopback() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1")
    }

    /// Where `sock` (bound to the unspecified address) is reached on
    /// loopback.
    fn on_loopback(sock: &UdpSocket) -> SocketAddr {
        let port = sock.local_addr().expect("local address").port();
        (Ipv4Addr::LOCALHOST, port).into()
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn strays_are_skipped_and_the_answer_taken() {
        let server = loopback();
        let stranger = loopback();
        let client = udp_socket_for(server.local_addr().unwrap()).unwrap();
        let to = on_loopback(&client);
        let real = answer([0x12, 0x34], b"\x01a\x07example\x00");
        // Queued before the question is even sent, in the order a racing
        // attacker would like: the right ID from the wrong address, a
        // wrong ID, a runt, the right ID with another question, then the
        // answer.
        stranger.send_to(&real, to).unwrap();
        server
            .send_to(&answer([0x43, 0x21], b"\x01a\x07example\x00"), to)
            .unwrap();
        server.send_to(&real[..11], to).unwrap();
        server
            .send_to(&answer([0x12, 0x34], b"\x01b\x07example\x00"), to)
            .unwrap();
        server.send_to(&real, to).unwrap();
        let same_question = |a: &[u8]| a.get(12..) == QUERY.get(12..);
        let mut buf = [0u8; 512];
        let n = ask_udp(
            &client,
            server.local_addr().unwrap(),
            QUERY,
            soon(),
            &mut buf,
            same_question,
        )
        .expect("the answer");
        assert_eq!(&buf[..n], &real[..]);
        // The question did reach the server.
        let mut got = [0u8; 512];
        let (n, from) = server.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], QUERY);
        assert_eq!(from.port(), to.port());
    }

    #[test]
    fn a_connected_socket_is_asked_the_same_way() {
        let server = loopback();
        let client = udp_socket_for(server.local_addr().unwrap()).unwrap();
        client.connect(server.local_addr().unwrap()).unwrap();
        let to = on_loopback(&client);
        let real = answer([0x12, 0x34], b"\x01a\x07example\x00");
        server.send_to(&real, to).unwrap();
        let mut buf = [0u8; 512];
        let n = ask_udp(
            &client,
            server.local_addr().unwrap(),
            QUERY,
            soon(),
            &mut buf,
            |_| true,
        )
        .expect("the answer");
        assert_eq!(&buf[..n], &real[..]);
    }

    #[test]
    fn no_answer_by_the_deadline_is_a_deadline_error() {
        let server = loopback();
        let client = udp_socket_for(server.local_addr().unwrap()).unwrap();
        let to = on_loopback(&client);
        // Strays keep coming: they must not stretch the wait.
        server.send_to(&answer([0x43, 0x21], b"\x00"), to).unwrap();
        server.send_to(&answer([0x43, 0x22], b"\x00"), to).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 512];
        let asked = ask_udp(
            &client,
            server.local_addr().unwrap(),
            QUERY,
            Instant::now() + Duration::from_millis(100),
            &mut buf,
            |_| true,
        );
        assert!(matches!(asked, Err(AskError::Deadline)), "{asked:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // A deadline already past: sent, then given up at once.
        let asked = ask_udp(
            &client,
            server.local_addr().unwrap(),
            QUERY,
            Instant::now(),
            &mut buf,
            |_| true,
        );
        assert!(matches!(asked, Err(AskError::Deadline)), "{asked:?}");
    }

    #[test]
    fn a_query_without_an_id_is_not_sent() {
        let server = loopback();
        let client = loopback();
        let asked = ask_udp(
            &client,
            server.local_addr().unwrap(),
            b"\x12",
            soon(),
            &mut [0u8; 512],
            |_| true,
        );
        assert!(matches!(asked, Err(AskError::Send(_))), "{asked:?}");
    }

    /// Both ends of a loopback TCP connection.
    fn tcp_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for s in [&client, &server] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        (client, server)
    }

    #[test]
    fn framed_messages_cross_a_connection_in_order() {
        let (mut client, mut server) = tcp_pair();
        write_framed(&mut client, QUERY).unwrap();
        write_framed(&mut client, b"").unwrap();
        write_framed(&mut client, &[7u8; 300]).unwrap();
        let mut buf = vec![1, 2, 3];
        read_framed(&mut server, &mut buf, 512).unwrap();
        assert_eq!(buf, QUERY);
        read_framed(&mut server, &mut buf, 512).unwrap();
        assert!(buf.is_empty());
        read_framed(&mut server, &mut buf, 512).unwrap();
        assert_eq!(buf, [7u8; 300]);
        assert_eq!(frame(b"ab").unwrap(), b"\x00\x02ab");
    }

    #[test]
    fn oversize_frames_are_refused() {
        let (mut client, mut server) = tcp_pair();
        // Too long to frame: nothing is written.
        let too_long = vec![0u8; 65_536];
        let err = write_framed(&mut client, &too_long).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            frame(&too_long).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(frame(&too_long[1..]).is_ok(), "65,535 bytes still frame");
        // More than the reader will hold: refused from the length.
        write_framed(&mut client, &[0u8; 1000]).unwrap();
        let mut buf = Vec::new();
        let err = read_framed(&mut server, &mut buf, 512).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_frame_cut_short_is_an_error() {
        let (mut client, mut server) = tcp_pair();
        client.write_all(b"\x00\x10abc").unwrap();
        drop(client);
        let err = read_framed(&mut server, &mut Vec::new(), 512).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
