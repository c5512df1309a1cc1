//! TSIG (`xfr::tsig`) on any bytes, in both roles, with keys of fixed
//! secrets. The input is four control bytes (a position and a mask for
//! the tampering below, the key to sign with) and a message.
//!
//! Checks that nothing panics, and:
//! - a request the server check finds valid carries exactly the MAC our
//!   own signer computes for its contents (no forgery gets through), and
//!   the error TSIG of a refused one can be appended;
//! - a verifier of our own request refuses any answer the fuzzer makes;
//! - a message our signer signs is valid for the server check, still
//!   valid with another header ID (the Original ID is what counts), and
//!   refused once any one byte the MAC covers is changed;
//! - the answers the server signs for it (one, then an unsigned one and
//!   a signed one in a TCP stream) verify with the request's verifier,
//!   and a changed byte in a signed answer does not.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wire::types::rtype;
use xfr::tsig::{self, Checked, Key, KeyRing};

const NOW: u64 = 1_700_000_000;

fn keys() -> &'static (Vec<Arc<Key>>, KeyRing) {
    static KEYS: OnceLock<(Vec<Arc<Key>>, KeyRing)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let secret = tsig::base64::encode(b"rampart fuzz secret, 32 bytes!!!");
        let keys: Vec<Arc<Key>> = [("fuzz-key.", "hmac-sha256"), ("md5.fuzz.", "hmac-md5")]
            .iter()
            .map(|(name, alg)| Arc::new(Key::new(name, alg, &secret).unwrap()))
            .collect();
        let mut ring = KeyRing::default();
        for k in &keys {
            ring.add(k.as_ref().clone());
        }
        (keys, ring)
    })
}

fuzz_target!(|data: &[u8]| {
    let [p0, p1, mask, which, ref msg @ ..] = *data else {
        return;
    };
    let (keys, ring) = keys();
    let key = &keys[usize::from(which) % keys.len()];
    let pick = usize::from(u16::from_be_bytes([p0, p1]));
    let mask = mask.max(1);

    arbitrary(msg, ring, key);
    let Some(signed) = own_signature(msg, ring, key) else {
        return;
    };
    tampered(&signed, msg.len(), key, ring, pick, mask);
    answers(msg, key, ring, pick, mask);
});

/// Whatever the fuzzer sends: never valid unless it carries our MAC.
fn arbitrary(msg: &[u8], ring: &KeyRing, key: &Arc<Key>) {
    match tsig::check_request(msg, ring, NOW) {
        Ok(Checked::Valid { key: k, .. }) => {
            let t = tsig_fields(msg).expect("a valid request has a TSIG");
            assert!(k.name.eq_ignore_ascii_case(&t.key_name));
            if t.fudge == tsig::DEFAULT_FUDGE && t.error == 0 && t.other.is_empty() {
                // The message as it was before signing: ARCOUNT one less,
                // the Original ID back.
                let mut unsigned = msg[..t.start].to_vec();
                unsigned[..2].copy_from_slice(&t.orig_id.to_be_bytes());
                let ar = u16::from_be_bytes([msg[10], msg[11]]) - 1;
                unsigned[10..12].copy_from_slice(&ar.to_be_bytes());
                tsig::sign_request(&mut unsigned, &k, t.time_signed).unwrap();
                let ours = tsig_fields(&unsigned).unwrap();
                assert_eq!(ours.mac, t.mac, "a valid request without our MAC");
            }
        }
        Ok(Checked::Refused { reply, .. }) => {
            // The answer: the request without its TSIG, then the error's.
            let t = tsig_fields(msg).expect("a refused request has a TSIG");
            let mut m = msg[..t.start].to_vec();
            let ar = u16::from_be_bytes([msg[10], msg[11]]) - 1;
            m[10..12].copy_from_slice(&ar.to_be_bytes());
            if reply.append(&mut m, NOW).is_ok() {
                // Read as a request, it never passes: empty MAC, or one
                // chained from the request's.
                assert!(matches!(
                    tsig::check_request(&m, ring, NOW),
                    Ok(Checked::Refused { .. })
                ));
            }
        }
        Ok(Checked::Unsigned) | Err(()) => {}
    }
    // An answer to our own request: the fuzzer cannot make one.
    let verifier = || {
        let mut request =
            b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04fuzz\x00\x00\xfc\x00\x01"
                .to_vec();
        tsig::sign_request(&mut request, key, NOW).unwrap()
    };
    assert!(
        verifier().check(msg, NOW).is_err(),
        "an answer not signed by the server verifies"
    );
    let _ = verifier().server_time(msg);
}

/// Signs `msg` with `key`: if our signer takes it, the server check must
/// accept it. The signed message.
fn own_signature(msg: &[u8], ring: &KeyRing, key: &Arc<Key>) -> Option<Vec<u8>> {
    let (_, records) = wire::edit::walk(msg)?;
    if records.iter().any(|r| r.rtype == rtype::TSIG) {
        return None; // a second TSIG is a malformed message
    }
    let mut signed = msg.to_vec();
    tsig::sign_request(&mut signed, key, NOW).ok()?;
    match tsig::check_request(&signed, ring, NOW) {
        Ok(Checked::Valid { key: k, .. }) => assert!(Arc::ptr_eq(&k, ring.get(&key.name).unwrap())),
        other => panic!("our own signature refused: {other:?}"),
    }
    // A proxy may change the header ID.
    let mut other_id = signed.clone();
    other_id[0] ^= 0x5a;
    assert!(matches!(
        tsig::check_request(&other_id, ring, NOW),
        Ok(Checked::Valid { .. })
    ));
    // Signed with a time outside the fudge: BADTIME, never valid.
    assert!(matches!(
        tsig::check_request(&signed, ring, NOW + 301),
        Ok(Checked::Refused {
            error: tsig::BADTIME,
            ..
        })
    ));
    Some(signed)
}

/// Where the MAC-covered bytes of a message we signed are: the message
/// after the ID (up to `tsig_start`), and the TSIG RDATA after the
/// algorithm name. The `pick`th of them.
fn covered_byte(signed: &[u8], tsig_start: usize, key: &Key, pick: usize) -> usize {
    let alg_end = tsig_start + key.name.len() + 10 + key.algorithm.wire_name().len();
    let head = tsig_start - 2;
    let n = head + (signed.len() - alg_end);
    let i = pick % n;
    if i < head {
        2 + i
    } else {
        alg_end + (i - head)
    }
}

/// Any one covered byte changed: refused.
fn tampered(
    signed: &[u8],
    tsig_start: usize,
    key: &Arc<Key>,
    ring: &KeyRing,
    pick: usize,
    mask: u8,
) {
    let at = covered_byte(signed, tsig_start, key, pick);
    let mut bad = signed.to_vec();
    bad[at] ^= mask;
    let result = tsig::check_request(&bad, ring, NOW);
    assert!(
        !matches!(result, Ok(Checked::Valid { .. })),
        "byte {at} of {} changed (^{mask:#x}) and still valid",
        signed.len()
    );
}

/// The server's signed answers verify with the client's verifier; a
/// changed byte in one does not.
fn answers(msg: &[u8], key: &Arc<Key>, ring: &KeyRing, pick: usize, mask: u8) {
    let request = |msg: &[u8]| {
        let mut signed = msg.to_vec();
        let verifier = tsig::sign_request(&mut signed, key, NOW).unwrap();
        let Ok(Checked::Valid { ctx, .. }) = tsig::check_request(&signed, ring, NOW) else {
            panic!("checked above");
        };
        (verifier, ctx)
    };
    let mut response = msg.to_vec();
    response[2] |= 0x80;

    // One answer.
    let (mut verifier, mut signer) = request(msg);
    let mut one = response.clone();
    signer
        .sign(&mut one, NOW)
        .expect("a message that could be signed as a request");
    verifier
        .check(&one, NOW)
        .expect("the server's answer verifies");
    verifier.finish().unwrap();
    assert_eq!(request(msg).0.server_time(&one), Ok(NOW));
    let at = covered_byte(&one, response.len(), key, pick);
    let mut bad = one.clone();
    bad[at] ^= mask;
    assert!(
        request(msg).0.check(&bad, NOW).is_err(),
        "changed answer byte {at} verifies"
    );

    // A stream: signed, unsigned, signed.
    let (mut verifier, mut signer) = request(msg);
    let mut first = response.clone();
    signer.sign(&mut first, NOW).unwrap();
    signer.pass_unsigned(&response).unwrap();
    let mut last = response.clone();
    signer.sign(&mut last, NOW + 1).unwrap();
    verifier.check(&first, NOW).unwrap();
    verifier.check(&response, NOW).unwrap();
    assert!(verifier.finish().is_err(), "an unsigned last message");
    verifier
        .check(&last, NOW + 1)
        .expect("the stream's last answer verifies");
    verifier.finish().unwrap();
}

/// The fields of the last record of `msg`, a TSIG.
struct Fields<'a> {
    start: usize,
    key_name: Vec<u8>,
    time_signed: u64,
    fudge: u16,
    mac: &'a [u8],
    orig_id: u16,
    error: u16,
    other: &'a [u8],
}

fn tsig_fields(msg: &[u8]) -> Option<Fields<'_>> {
    let (_, records) = wire::edit::walk(msg)?;
    let r = records.last().filter(|r| r.rtype == rtype::TSIG)?;
    let mut key_name = Vec::new();
    wire::message::read_name(msg, r.start, msg.len(), &mut key_name).ok()?;
    let mut alg = Vec::new();
    let mut pos = wire::message::read_name(msg, r.fixed + 10, msg.len(), &mut alg).ok()?;
    let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let mut t = [0u8; 8];
    t[2..].copy_from_slice(msg.get(pos..pos + 6)?);
    let fudge = be16(pos + 6);
    let mac_len = usize::from(be16(pos + 8));
    pos += 10;
    let mac = msg.get(pos..pos + mac_len)?;
    pos += mac_len;
    let (orig_id, error, other_len) = (be16(pos), be16(pos + 2), usize::from(be16(pos + 4)));
    pos += 6;
    Some(Fields {
        start: r.start,
        key_name,
        time_signed: u64::from_be_bytes(t),
        fudge,
        mac,
        orig_id,
        error,
        other: msg.get(pos..pos + other_len)?,
    })
}
