//! The console channel: keys, nonces, sealed messages.
//!
//! After the client sends its 24-byte nonce and the server its own, each
//! side reads with `ours[..12] ‖ theirs[12..]` and writes with
//! `theirs[..12] ‖ ours[12..]` (so one side's writing nonce is the
//! other's reading nonce). After every message the first four bytes of
//! the nonce used count up as a big-endian number. Messages are
//! `crypto_secretbox_easy`: XSalsa20-Poly1305 with the 16-byte tag first.

use std::io::{self, Read, Write};

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};

/// A 32-byte console key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

/// Why a console key was refused ([`parse_key`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the console key is not valid base64")]
    NotBase64,
    /// It decodes to `len` bytes, not 32.
    #[error("the console key must be 32 bytes, this one is {len}")]
    WrongLength { len: usize },
}

/// Parses a key as `setKey` takes it: base64 of 32 bytes.
pub fn parse_key(b64: &str) -> Result<Key, KeyError> {
    let bytes = base64_decode(b64.trim()).ok_or(KeyError::NotBase64)?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| KeyError::WrongLength { len: v.len() })?;
    Ok(Key(key))
}

/// A new random key, base64, as `makeKey()` prints it.
pub fn make_key() -> io::Result<String> {
    let mut k = [0u8; 32];
    random(&mut k)?;
    Ok(base64_encode(&k))
}

use wire::random::fill as random;

/// One end of an established console channel.
pub struct Channel {
    cipher: XSalsa20Poly1305,
    reading: [u8; 24],
    writing: [u8; 24],
}

/// Largest message accepted (dnsdist's default output limit, 10 MB).
pub const MAX_MESSAGE: usize = 10_000_000;

impl Channel {
    /// The nonce exchange, client side: send ours, read theirs.
    pub fn client<S: Read + Write>(stream: &mut S, key: &Key) -> io::Result<Channel> {
        let mut ours = [0u8; 24];
        random(&mut ours)?;
        stream.write_all(&ours)?;
        let mut theirs = [0u8; 24];
        stream.read_exact(&mut theirs)?;
        Ok(Channel::new(key, &ours, &theirs))
    }

    /// The nonce exchange, server side: read theirs, send ours.
    pub fn server<S: Read + Write>(stream: &mut S, key: &Key) -> io::Result<Channel> {
        let mut theirs = [0u8; 24];
        stream.read_exact(&mut theirs)?;
        let mut ours = [0u8; 24];
        random(&mut ours)?;
        stream.write_all(&ours)?;
        Ok(Channel::new(key, &ours, &theirs))
    }

    fn new(key: &Key, ours: &[u8; 24], theirs: &[u8; 24]) -> Channel {
        let mut reading = [0u8; 24];
        reading[..12].copy_from_slice(&ours[..12]);
        reading[12..].copy_from_slice(&theirs[12..]);
        let mut writing = [0u8; 24];
        writing[..12].copy_from_slice(&theirs[..12]);
        writing[12..].copy_from_slice(&ours[12..]);
        Channel {
            cipher: XSalsa20Poly1305::new((&key.0).into()),
            reading,
            writing,
        }
    }

    /// Seals and sends one message.
    pub fn send<W: Write>(&mut self, stream: &mut W, plaintext: &[u8]) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&self.writing), plaintext)
            .map_err(|_| io::Error::other("cannot seal console message"))?;
        increment(&mut self.writing);
        let len = u32::try_from(sealed.len())
            .map_err(|_| io::Error::other("console message too large"))?;
        stream.write_all(&len.to_be_bytes())?;
        stream.write_all(&sealed)?;
        stream.flush()
    }

    /// Receives and opens one message. `Ok(None)` for a zero-length
    /// frame (dnsdist's keep-alive); an error when the message does not
    /// open (wrong key, replay, tampering) or the peer closed.
    pub fn receive<R: Read>(&mut self, stream: &mut R) -> io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return Ok(None);
        }
        if len > MAX_MESSAGE {
            return Err(io::Error::other(format!(
                "console message of {len} bytes is too large"
            )));
        }
        // Grown as bytes arrive, not to the announced size: a peer that
        // has not shown it holds the key must not make us hold 10 MB.
        let mut sealed = Vec::new();
        stream.take(len as u64).read_to_end(&mut sealed)?;
        if sealed.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "console peer closed in the middle of a message",
            ));
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&self.reading), sealed.as_slice())
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "console message does not open: wrong key or replay",
                )
            })?;
        increment(&mut self.reading);
        Ok(Some(plain))
    }
}

/// Counts the first four bytes up, big-endian.
fn increment(nonce: &mut [u8; 24]) {
    let n = u32::from_be_bytes([nonce[0], nonce[1], nonce[2], nonce[3]]).wrapping_add(1);
    nonce[..4].copy_from_slice(&n.to_be_bytes());
}

/// Standard base64 with padding, as dnsdist's keys are written (the
/// `base64` crate the webserver uses too).
fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert!(base64_decode("Zm9=YmFy").is_none());
        let k = make_key().unwrap();
        assert!(parse_key(&k).is_ok());
        let e = parse_key("Zm9vYmFy").unwrap_err();
        assert_eq!(e, KeyError::WrongLength { len: 6 });
        assert_eq!(
            e.to_string(),
            "the console key must be 32 bytes, this one is 6"
        );
        let e = parse_key("Zm9=YmFy").unwrap_err();
        assert_eq!(e, KeyError::NotBase64);
        assert_eq!(e.to_string(), "the console key is not valid base64");
    }

    #[test]
    fn channel_round_trip_and_replay_fails() {
        use std::net::{TcpListener, TcpStream};
        let key = parse_key(&make_key().unwrap()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let k2 = key.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut ch = Channel::server(&mut s, &k2).unwrap();
            let got = ch.receive(&mut s).unwrap().unwrap();
            ch.send(&mut s, &[b"echo: ", &got[..]].concat()).unwrap();
            // The same sealed bytes again must not open (the nonce moved).
            ch.receive(&mut s).is_err()
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut ch = Channel::client(&mut c, &key).unwrap();
        // Keep a copy of what goes on the wire to replay it.
        let writing = ch.writing;
        ch.send(&mut c, b"showRules()").unwrap();
        assert_eq!(ch.receive(&mut c).unwrap().unwrap(), b"echo: showRules()");
        let sealed = ch
            .cipher
            .encrypt(Nonce::from_slice(&writing), &b"showRules()"[..])
            .unwrap();
        c.write_all(&(sealed.len() as u32).to_be_bytes()).unwrap();
        c.write_all(&sealed).unwrap();
        assert!(server.join().unwrap(), "a replayed message was accepted");
    }
}
