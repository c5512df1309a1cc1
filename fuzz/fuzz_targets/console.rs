//! The console channel (`control::channel`, dnsdist's secretbox protocol)
//! on any bytes from the peer: a client nonce and frames (length, sealed
//! message) as a connecting peer without the key sends them, then the
//! same frames to a channel established with a real client.
//!
//! Checks that nothing panics; that a frame not sealed with the key never
//! opens (only keep-alives, zero-length frames, come through); that a
//! frame announcing more than the rest holds is an error, not a wait;
//! and that messages (the fuzzer's bytes as plaintext) sealed by one end
//! open at the other, both ways, in order, and fail when replayed or
//! with any byte changed.
#![no_main]

use std::io::{self, Read, Write};
use std::sync::OnceLock;

use control::{Channel, Key};
use libfuzzer_sys::fuzz_target;

fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    // 32 bytes: "rampart console fuzz key 32 byte", base64.
    KEY.get_or_init(|| control::parse_key("cmFtcGFydCBjb25zb2xlIGZ1enoga2V5IDMyIGJ5dGU=").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    // A peer that sends its nonce and then whatever it likes.
    let mut peer = Peer::new(data);
    if let Ok(mut server) = Channel::server(&mut peer, key) {
        assert_eq!(peer.sent.len(), 24, "the server's nonce");
        receive_all(&mut server, &mut peer.input);
    }

    // An established pair; the fuzzer's frames to the server first.
    let (_client, mut server) = pair(key);
    receive_all(&mut server, &mut &data[..]);

    // Its bytes as messages, both ways.
    let (mut client2, mut server2) = pair(key);
    for chunk in data.chunks(data.len().div_ceil(3).max(1)) {
        let mut wire = Vec::new();
        client2.send(&mut wire, chunk).unwrap();
        assert_eq!(wire.len(), 4 + 16 + chunk.len(), "length, tag, message");
        // Tampered copy: refused, and the nonce does not move.
        if !chunk.is_empty() {
            let mut bad = wire.clone();
            let at = 4 + usize::from(chunk[0]) % (wire.len() - 4);
            bad[at] ^= 0x01;
            assert!(
                server2.receive(&mut &bad[..]).is_err(),
                "a changed byte {at} opens"
            );
        }
        let got = server2.receive(&mut &wire[..]).unwrap();
        assert_eq!(got.as_deref(), Some(chunk));
        // The same frame again is a replay.
        assert!(server2.receive(&mut &wire[..]).is_err(), "a replay opens");
        let mut back = Vec::new();
        server2.send(&mut back, chunk).unwrap();
        assert_eq!(
            client2.receive(&mut &back[..]).unwrap().as_deref(),
            Some(chunk)
        );
    }
});

/// Reads frames until the bytes run out or one does not open: only
/// keep-alives may come through.
fn receive_all(ch: &mut Channel, input: &mut &[u8]) {
    loop {
        let before = input.len();
        match ch.receive(input) {
            Ok(None) => assert_eq!(before - input.len(), 4, "a keep-alive is a zero length"),
            Ok(Some(m)) => panic!("a frame not sealed with the key opened: {m:?}"),
            Err(_) => return,
        }
    }
}

/// A client and a server channel with the same key, nonces exchanged.
fn pair(key: &Key) -> (Channel, Channel) {
    let mut link = Link {
        key,
        to_server: Vec::new(),
        from_server: Vec::new(),
        server: None,
    };
    let client = Channel::client(&mut link, key).unwrap();
    (client, link.server.expect("the server answered"))
}

/// What a client talks to during the nonce exchange: the server side is
/// run when the client first reads, on what the client wrote.
struct Link<'k> {
    key: &'k Key,
    to_server: Vec<u8>,
    from_server: Vec<u8>,
    server: Option<Channel>,
}

impl Write for Link<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.to_server.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Link<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.server.is_none() {
            let mut peer = Peer::new(&self.to_server);
            self.server = Some(Channel::server(&mut peer, self.key)?);
            self.from_server = peer.sent;
        }
        let n = buf.len().min(self.from_server.len());
        buf[..n].copy_from_slice(&self.from_server[..n]);
        self.from_server.drain(..n);
        Ok(n)
    }
}

/// A peer whose bytes are given, and what we send it.
struct Peer<'a> {
    input: &'a [u8],
    sent: Vec<u8>,
}

impl<'a> Peer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Peer {
            input,
            sent: Vec::new(),
        }
    }
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Peer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
