//! TSIG: shared-key signatures on DNS messages (RFC 8945).
//!
//! Interoperable with BIND (`nsupdate -k`, `dig -y`), Knot and NSD. Both
//! roles are here:
//!
//! - server: [`check_request`] checks a received request against a
//!   [`KeyRing`]; a valid one yields a [`Signer`] for the answer(s), a
//!   refused one an [`ErrorReply`] for the NOTAUTH answer.
//! - client: [`sign_request`] signs our own NOTIFY, SOA, AXFR or IXFR
//!   request and returns a [`Verifier`] for the answer(s).
//!
//! What a MAC covers (RFC 8945 §4.3): the request MAC (answers only), the
//! message as it was before the TSIG RR was added — ARCOUNT one less, the
//! ID put back to the TSIG's Original ID, so a forwarder may change the
//! ID — and the TSIG variables (key name and algorithm in canonical
//! lowercase wire form, class ANY, TTL 0, time signed, fudge, error, other
//! data). Later messages of one TCP answer (AXFR, IXFR) chain from the
//! prior MAC and cover only the timers (§5.3.1).
//!
//! The Original ID we write is the header ID of the message being signed,
//! as BIND, Knot and dnspython do: set a response's ID before signing it.
//! A received TSIG's Original ID is what its MAC is checked against, so a
//! proxy may rewrite header IDs in between.
//!
//! Policy choices:
//! - Truncated MACs (§5.2.2.1): a MAC longer than the hash, or shorter
//!   than max(10, half the hash) bytes, is FORMERR. A MAC in between that
//!   verifies is still refused with BADTRUNC, since no key here is
//!   configured for truncation (BIND's default too). Answers to our own
//!   requests must carry full MACs.
//! - No replay cache of the last Time Signed per key (§5.2.3, a SHOULD).
//! - The key name written in our TSIG RRs is never compressed (some
//!   Windows servers refuse compressed ones, so BIND does not compress);
//!   received ones may be.

// `Err(())` in this module means "malformed message" (FORMERR for a
// request): there is nothing more to say, so no error type.
#![allow(clippy::result_unit_err)]

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use wire::edit::walk;
use wire::types::{class, rtype};

/// TSIG error: the MAC does not verify.
pub const BADSIG: u16 = 16;
/// TSIG error: unknown key, or the algorithm is not the key's.
pub const BADKEY: u16 = 17;
/// TSIG error: time signed outside the fudge window.
pub const BADTIME: u16 = 18;
/// TSIG error: MAC truncated more than local policy allows.
pub const BADTRUNC: u16 = 22;
/// The fudge we put in our TSIGs: five minutes, as BIND, Knot and NSD.
pub const DEFAULT_FUDGE: u16 = 300;

/// At most this many answers in a row may come without TSIG (§5.3.1:
/// every 100th message must be signed).
const MAX_UNSIGNED_RUN: usize = 99;

/// The mnemonic of a TSIG error code, for logs and error messages.
pub fn error_name(code: u16) -> &'static str {
    match code {
        0 => "NOERROR",
        BADSIG => "BADSIG",
        BADKEY => "BADKEY",
        BADTIME => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        BADTRUNC => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => "unknown TSIG error",
    }
}

/// The HMAC algorithms of the IANA TSIG registry that are still in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    HmacMd5,
    HmacSha1,
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// Every algorithm, strongest first (the order error messages list).
    pub const ALL: [Algorithm; 6] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
        Algorithm::HmacSha224,
        Algorithm::HmacSha1,
        Algorithm::HmacMd5,
    ];

    /// Accepts "hmac-sha256", "HMAC-SHA256.", "hmac-md5",
    /// "hmac-md5.sig-alg.reg.int" etc, case-insensitive.
    pub fn from_name(text: &str) -> Option<Algorithm> {
        let text = text.trim();
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.eq_ignore_ascii_case("hmac-md5.sig-alg.reg.int") {
            return Some(Algorithm::HmacMd5);
        }
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text))
    }

    /// Lowercase wire name (hmac-md5 is "hmac-md5.sig-alg.reg.int.", the
    /// name RFC 2845 gave it and every implementation still sends).
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Algorithm::HmacMd5 => b"\x08hmac-md5\x07sig-alg\x03reg\x03int\x00",
            Algorithm::HmacSha1 => b"\x09hmac-sha1\x00",
            Algorithm::HmacSha224 => b"\x0bhmac-sha224\x00",
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha384 => b"\x0bhmac-sha384\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// "hmac-sha256" etc: the name in named.conf and `nsupdate -y`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5",
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha224 => "hmac-sha224",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm of a wire name, ignoring case. Only the registered
    /// names: the name is part of the MAC, so an alias would not verify.
    pub fn from_wire(name: &[u8]) -> Option<Algorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.wire_name().eq_ignore_ascii_case(name))
    }

    /// Length of the untruncated MAC in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha224 => 28,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }

    /// The shortest truncated MAC RFC 8945 §5.2.2.1 allows: max(10, half
    /// the hash, rounded up) bytes.
    fn min_mac_len(self) -> usize {
        self.mac_len().div_ceil(2).max(10)
    }
}

/// A TSIG key: name, algorithm and shared secret.
#[derive(Clone)]
pub struct Key {
    /// Lowercase wire form.
    pub name: Box<[u8]>,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

impl Key {
    /// A key from its configuration: name in presentation form (trailing
    /// dot optional), algorithm name, base64 secret.
    pub fn new(name: &str, algorithm: &str, secret_b64: &str) -> Result<Key, String> {
        let wire_name =
            zone::parse_name(name).map_err(|e| format!("bad TSIG key name '{name}': {e}"))?;
        let algorithm = Algorithm::from_name(algorithm).ok_or_else(|| {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            format!(
                "unknown TSIG algorithm '{algorithm}': expected {}",
                known.join(", ")
            )
        })?;
        let secret = base64::decode(secret_b64)
            .map_err(|e| format!("bad base64 secret for key '{name}': {e}"))?;
        if secret.is_empty() {
            return Err(format!("bad base64 secret for key '{name}': empty"));
        }
        Ok(Key {
            name: wire_name.into_boxed_slice(),
            algorithm,
            secret,
        })
    }

    /// "name." (presentation form).
    pub fn name_text(&self) -> String {
        wire::name::to_text(&self.name)
    }
}

/// Never prints the secret: keys end up in `{:?}` of configs and logs.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name_text())
            .field("algorithm", &self.algorithm)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// The keys the server knows, found by name.
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: Vec<Arc<Key>>,
}

impl KeyRing {
    /// Adds `k`, replacing a key of the same name (names ignore case).
    pub fn add(&mut self, k: Key) {
        let k = Arc::new(k);
        match self
            .keys
            .iter_mut()
            .find(|o| o.name.eq_ignore_ascii_case(&k.name))
        {
            Some(slot) => *slot = k,
            None => self.keys.push(k),
        }
    }

    /// The key named `name_wire` (uncompressed wire form, any case).
    pub fn get(&self, name_wire: &[u8]) -> Option<&Arc<Key>> {
        self.keys
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(name_wire))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Key names in presentation form, in the order they were added.
    pub fn names(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.name_text()).collect()
    }
}

/// What checking a request found.
#[derive(Debug)]
pub enum Checked {
    /// No TSIG record in the message.
    Unsigned,
    /// Valid signature; `ctx` signs the response(s).
    Valid { key: Arc<Key>, ctx: Signer },
    /// Signed but refused: answer NOTAUTH (rcode 9) with a TSIG carrying
    /// `error`. For BADTIME and BADTRUNC the response is signed (the MAC
    /// verified, RFC 8945 §5.3.2); for BADKEY/BADSIG it is unsigned (MAC
    /// empty): the request did not prove it holds a key we could use.
    Refused { error: u16, reply: ErrorReply },
}

/// Checks the TSIG of a request message `msg`; `now` is unix seconds.
///
/// The checks run in RFC 8945 §5.2 order — key (BADKEY), MAC (BADSIG),
/// time (BADTIME), then truncation (BADTRUNC) — so BADTIME and BADTRUNC
/// are only said to clients that proved they hold the key.
///
/// `Err(())` means FORMERR: the message does not parse, a TSIG RR is not
/// the last record of the additional section or appears twice, its RDATA
/// is malformed, or its MAC size is out of the §5.2.2.1 bounds.
pub fn check_request(msg: &[u8], keys: &KeyRing, now: u64) -> Result<Checked, ()> {
    let Some(t) = find_tsig(msg)? else {
        return Ok(Checked::Unsigned);
    };
    let refuse = |error: u16, signed: Option<(Arc<Key>, Box<[u8]>)>| {
        Ok(Checked::Refused {
            error,
            reply: ErrorReply {
                key_name: t.key_name.clone().into_boxed_slice(),
                algorithm: t.algorithm.clone().into_boxed_slice(),
                error,
                request_time: t.time_signed,
                signed,
            },
        })
    };
    let key = match keys.get(&t.key_name) {
        Some(k) if Algorithm::from_wire(&t.algorithm) == Some(k.algorithm) => k,
        _ => return refuse(BADKEY, None),
    };
    let full = key.algorithm.mac_len();
    if t.mac.len() > full {
        return Err(());
    }
    if t.mac.is_empty() {
        return refuse(BADSIG, None);
    }
    if t.mac.len() < key.algorithm.min_mac_len() {
        return Err(());
    }
    let mut ctx = Ctx::new(key).ok_or(())?;
    feed_message(&mut ctx, msg, t.start, t.orig_id, true)?;
    feed_variables(
        &mut ctx,
        &Variables {
            key: key.as_ref(),
            time_signed: t.time_signed,
            fudge: t.fudge,
            error: t.error,
            other: t.other,
        },
    );
    if !ctx.verify(t.mac) {
        return refuse(BADSIG, None);
    }
    let signed = Some((key.clone(), Box::<[u8]>::from(t.mac)));
    if now.abs_diff(t.time_signed) > u64::from(t.fudge) {
        return refuse(BADTIME, signed);
    }
    if t.mac.len() < full {
        return refuse(BADTRUNC, signed);
    }
    Ok(Checked::Valid {
        key: key.clone(),
        ctx: Signer {
            key: key.clone(),
            prior_mac: t.mac.to_vec(),
            first: true,
            pending: None,
        },
    })
}

/// State for signing responses to one signed request (also the chain of a
/// multi-message TCP answer: AXFR/IXFR, RFC 8945 §5.3.1).
#[derive(Debug, Clone)]
pub struct Signer {
    key: Arc<Key>,
    /// The request MAC, then the MAC of the last signed answer.
    prior_mac: Vec<u8>,
    /// No answer signed yet: the next one covers all TSIG variables.
    first: bool,
    /// Digest of the unsigned answers passed since the last signed one
    /// (boxed: an HMAC state is a few hundred bytes).
    pending: Option<Box<Ctx>>,
}

impl Signer {
    /// The most a TSIG RR from this signer adds to a message: owner (the
    /// key name), type, class, TTL, RDLENGTH, then the algorithm name,
    /// time, fudge, MAC size and MAC, original ID, error, and other data
    /// (six bytes, in a BADTIME answer).
    pub fn room(&self) -> usize {
        self.key.name.len()
            + 10
            + self.key.algorithm.wire_name().len()
            + 6
            + 2
            + 2
            + self.key.algorithm.mac_len()
            + 6
            + 6
    }

    /// Appends a TSIG RR to `msg` (a full DNS message, header counts
    /// correct, no TSIG yet) and bumps ARCOUNT.
    ///
    /// The first call covers request MAC + message + all TSIG variables;
    /// following calls (later messages of the same TCP stream) cover prior
    /// MAC + unsigned messages passed with [`Signer::pass_unsigned`] +
    /// message + timers only. Err if `msg` is malformed (left unchanged).
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) -> Result<(), ()> {
        whole(msg)?;
        let id = header_id(msg);
        let mut ctx = match self.pending.take() {
            Some(ctx) => *ctx,
            None => Ctx::chained(&self.key, &self.prior_mac).ok_or(())?,
        };
        feed_message(&mut ctx, msg, msg.len(), id, false)?;
        if self.first {
            feed_variables(
                &mut ctx,
                &Variables {
                    key: &self.key,
                    time_signed: now,
                    fudge: DEFAULT_FUDGE,
                    error: 0,
                    other: &[],
                },
            );
        } else {
            feed_timers(&mut ctx, now, DEFAULT_FUDGE);
        }
        let mac = ctx.finalize();
        append_rr(
            msg,
            &Rr {
                key_name: &self.key.name,
                algorithm: self.key.algorithm.wire_name(),
                time_signed: now,
                fudge: DEFAULT_FUDGE,
                mac: &mac,
                orig_id: id,
                error: 0,
                other: &[],
            },
        )?;
        self.prior_mac = mac;
        self.first = false;
        Ok(())
    }

    /// Sends `msg` unsigned inside a TCP answer: it is folded into the next
    /// signature. RFC 8945 §5.3.1 lets a server sign only every few
    /// messages (the first and last must be signed, at least every 100th);
    /// Err before the first message was signed.
    pub fn pass_unsigned(&mut self, msg: &[u8]) -> Result<(), ()> {
        if self.first || msg.len() < 12 {
            return Err(());
        }
        let mut ctx = match self.pending.take() {
            Some(ctx) => ctx,
            None => Box::new(Ctx::chained(&self.key, &self.prior_mac).ok_or(())?),
        };
        ctx.update(msg);
        self.pending = Some(ctx);
        Ok(())
    }

    /// The key the request was signed with.
    pub fn key(&self) -> &Arc<Key> {
        &self.key
    }
}

/// What an error answer carries: key name, algorithm and time signed of
/// the request, and — for BADTIME/BADTRUNC — the key and request MAC to
/// sign with.
#[derive(Debug, Clone)]
pub struct ErrorReply {
    /// As received, lowercased, uncompressed: the key may be unknown.
    key_name: Box<[u8]>,
    /// As received, lowercased: the algorithm may be unknown.
    algorithm: Box<[u8]>,
    error: u16,
    request_time: u64,
    signed: Option<(Arc<Key>, Box<[u8]>)>,
}

impl ErrorReply {
    /// Appends the TSIG RR for an error response to `msg` (rcode in the
    /// header is set by the caller to NOTAUTH) and bumps ARCOUNT.
    ///
    /// BADKEY/BADSIG: MAC size 0, time signed `now`. BADTIME: signed with
    /// the key, Time Signed copied from the request (so the client's own
    /// time check passes and it sees the real complaint) and Other Data =
    /// the 6-byte server time (§5.2.3, as BIND). BADTRUNC: signed, time
    /// `now`.
    pub fn append(&self, msg: &mut Vec<u8>, now: u64) -> Result<(), ()> {
        whole(msg)?;
        let id = header_id(msg);
        let Some((key, request_mac)) = &self.signed else {
            return append_rr(
                msg,
                &Rr {
                    key_name: &self.key_name,
                    algorithm: &self.algorithm,
                    time_signed: now,
                    fudge: DEFAULT_FUDGE,
                    mac: &[],
                    orig_id: id,
                    error: self.error,
                    other: &[],
                },
            );
        };
        let server_time = time48(now);
        let (time_signed, other): (u64, &[u8]) = if self.error == BADTIME {
            (self.request_time, &server_time)
        } else {
            (now, &[])
        };
        let mut ctx = Ctx::chained(key, request_mac).ok_or(())?;
        feed_message(&mut ctx, msg, msg.len(), id, false)?;
        feed_variables(
            &mut ctx,
            &Variables {
                key,
                time_signed,
                fudge: DEFAULT_FUDGE,
                error: self.error,
                other,
            },
        );
        let mac = ctx.finalize();
        append_rr(
            msg,
            &Rr {
                key_name: &key.name,
                algorithm: key.algorithm.wire_name(),
                time_signed,
                fudge: DEFAULT_FUDGE,
                mac: &mac,
                orig_id: id,
                error: self.error,
                other,
            },
        )
    }

    /// The TSIG error code this reply carries.
    pub fn error(&self) -> u16 {
        self.error
    }

    /// The key name the request used, in presentation form (for logs).
    pub fn key_name_text(&self) -> String {
        wire::name::to_text(&self.key_name)
    }
}

/// Signs our own request (NOTIFY, SOA/IXFR/AXFR query to a primary):
/// appends a TSIG RR to `msg` and bumps ARCOUNT. The header ID becomes the
/// Original ID, so set it first. Returns the [`Verifier`] for the
/// answer(s).
pub fn sign_request(msg: &mut Vec<u8>, key: &Arc<Key>, now: u64) -> Result<Verifier, ()> {
    whole(msg)?;
    let orig_id = header_id(msg);
    let mut ctx = Ctx::new(key).ok_or(())?;
    feed_message(&mut ctx, msg, msg.len(), orig_id, false)?;
    feed_variables(
        &mut ctx,
        &Variables {
            key,
            time_signed: now,
            fudge: DEFAULT_FUDGE,
            error: 0,
            other: &[],
        },
    );
    let mac = ctx.finalize();
    append_rr(
        msg,
        &Rr {
            key_name: &key.name,
            algorithm: key.algorithm.wire_name(),
            time_signed: now,
            fudge: DEFAULT_FUDGE,
            mac: &mac,
            orig_id,
            error: 0,
            other: &[],
        },
    )?;
    Ok(Verifier::new(key.clone(), mac))
}

/// Checks the answer(s) to a request we signed.
#[derive(Debug)]
pub struct Verifier {
    key: Arc<Key>,
    /// The request MAC, then the MAC of the last signed answer.
    prior_mac: Vec<u8>,
    /// Running digest of the unsigned answers since the last signed one.
    pending: Option<Box<Ctx>>,
    /// Signed answers checked so far.
    signed: usize,
    /// Unsigned answers since the last signed one.
    unsigned_run: usize,
}

impl Verifier {
    fn new(key: Arc<Key>, request_mac: Vec<u8>) -> Verifier {
        Verifier {
            key,
            prior_mac: request_mac,
            pending: None,
            signed: 0,
            unsigned_run: 0,
        }
    }

    /// Checks the next response message of the exchange (for a TCP
    /// transfer, call once per message in order).
    ///
    /// Messages without TSIG are allowed between signed ones (up to 99,
    /// RFC 8945 §5.3.1) and are folded into the next digest; the first
    /// must be signed, and [`Verifier::finish`] checks the last was.
    /// After an error the exchange is to be abandoned.
    pub fn check(&mut self, msg: &[u8], now: u64) -> Result<(), String> {
        let Some(t) = self.verified(msg)? else {
            return Ok(());
        };
        if t.error != 0 {
            let mut reason = format!("server answered TSIG {} ({})", error_name(t.error), t.error);
            if let Some(server) = t.badtime_clock() {
                reason.push_str(&format!(
                    ": server time {server}, ours {now} (off by {} s)",
                    now.abs_diff(server)
                ));
            }
            return Err(reason);
        }
        if now.abs_diff(t.time_signed) > u64::from(t.fudge) {
            return Err(format!(
                "time off by {} s (answer signed at {}, fudge {} s)",
                now.abs_diff(t.time_signed),
                t.time_signed,
                t.fudge
            ));
        }
        self.prior_mac = t.mac.to_vec();
        self.signed += 1;
        self.unsigned_run = 0;
        Ok(())
    }

    /// The server's clock as a signed answer to a one-message exchange
    /// gives it, once its MAC verifies: the time signed, or, in a BADTIME
    /// answer (our clock is off by more than the fudge), the server's
    /// time from its other data (RFC 8945 §5.2.3). In whole seconds.
    pub fn server_time(&mut self, msg: &[u8]) -> Result<u64, String> {
        let t = self
            .verified(msg)?
            .ok_or_else(|| "answer not signed".to_string())?;
        match (t.error, t.badtime_clock()) {
            (0, _) => Ok(t.time_signed),
            (BADTIME, Some(server)) => Ok(server),
            (e, _) => Err(format!("server answered TSIG {} ({e})", error_name(e))),
        }
    }

    /// Checks the MAC of a signed answer and returns its TSIG; an
    /// unsigned one between signed ones is folded into the next digest
    /// (`None`).
    fn verified<'m>(&mut self, msg: &'m [u8]) -> Result<Option<Tsig<'m>>, String> {
        let Some(t) = find_tsig(msg).map_err(|()| "malformed answer or misplaced TSIG record")?
        else {
            if self.signed == 0 {
                // A server without TSIG (or without this key) answers
                // FORMERR or NOTAUTH unsigned: say which.
                return Err(format!(
                    "answer not signed (rcode {})",
                    msg.get(3).map_or(0, |b| b & 0x0f)
                ));
            }
            self.unsigned_run += 1;
            if self.unsigned_run > MAX_UNSIGNED_RUN {
                return Err(format!(
                    "more than {MAX_UNSIGNED_RUN} answers in a row without TSIG"
                ));
            }
            let mut ctx = match self.pending.take() {
                Some(ctx) => ctx,
                None => Box::new(self.chained()?),
            };
            ctx.update(msg);
            self.pending = Some(ctx);
            return Ok(None);
        };
        let alg = self.key.algorithm;
        if !t.key_name.eq_ignore_ascii_case(&self.key.name)
            || Algorithm::from_wire(&t.algorithm) != Some(alg)
        {
            return Err(format!(
                "wrong key: answer signed with '{}' {}, expected '{}' {}",
                wire::name::to_text(&t.key_name),
                wire::name::to_text(&t.algorithm).trim_end_matches('.'),
                self.key.name_text(),
                alg.name()
            ));
        }
        if t.mac.is_empty() {
            return Err(if t.error != 0 {
                format!(
                    "server refused our TSIG: {} ({})",
                    error_name(t.error),
                    t.error
                )
            } else {
                "answer not signed (empty MAC)".into()
            });
        }
        if t.mac.len() != alg.mac_len() {
            return Err(format!(
                "TSIG MAC of {} bytes, expected the full {} of {}",
                t.mac.len(),
                alg.mac_len(),
                alg.name()
            ));
        }
        let first = self.signed == 0;
        let mut ctx = match self.pending.take() {
            Some(ctx) => *ctx,
            None => self.chained()?,
        };
        feed_message(&mut ctx, msg, t.start, t.orig_id, true)
            .map_err(|()| "malformed answer".to_string())?;
        if first {
            feed_variables(
                &mut ctx,
                &Variables {
                    key: &self.key,
                    time_signed: t.time_signed,
                    fudge: t.fudge,
                    error: t.error,
                    other: t.other,
                },
            );
        } else {
            feed_timers(&mut ctx, t.time_signed, t.fudge);
        }
        if !ctx.verify(t.mac) {
            return Err("TSIG BADSIG: the answer's MAC does not verify".into());
        }
        Ok(Some(t))
    }

    /// Errs unless at least one answer was checked and the last one was
    /// signed (RFC 8945 §5.3.1: unsigned trailing messages could have been
    /// added by anyone).
    pub fn finish(&self) -> Result<(), String> {
        if self.signed == 0 {
            Err("no signed answer".into())
        } else if self.unsigned_run > 0 {
            Err(format!("last {} answer(s) not signed", self.unsigned_run))
        } else {
            Ok(())
        }
    }

    fn chained(&self) -> Result<Ctx, String> {
        Ctx::chained(&self.key, &self.prior_mac).ok_or_else(|| "bad TSIG key".to_string())
    }
}

/// Base64 (RFC 4648 §4, standard alphabet) for TSIG secrets in configs:
/// the `base64` crate, read as key files are written (whitespace and
/// line breaks ignored, padding optional but right where present), with
/// errors an operator can act on.
pub mod base64 {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine as _;

    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    /// Encodes with `=` padding.
    pub fn encode(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    /// Decodes, ignoring whitespace (key files may wrap secrets).
    pub fn decode(text: &str) -> Result<Vec<u8>, String> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        ENGINE.decode(&compact).map_err(|e| match e {
            base64::DecodeError::InvalidByte(at, b'=') => {
                format!("wrong '=' padding at offset {at}")
            }
            base64::DecodeError::InvalidByte(at, _) => {
                let c = compact
                    .get(at..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                format!("invalid character '{c}' at offset {at} (whitespace not counted)")
            }
            base64::DecodeError::InvalidLength(_) => {
                "truncated: one character too many or missing".into()
            }
            base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("the last character (offset {at}) carries bits a secret cannot have")
            }
            base64::DecodeError::InvalidPadding => "wrong '=' padding".into(),
        })
    }
}

/// An HMAC in progress, one variant per algorithm.
#[derive(Clone)]
enum Ctx {
    Md5(Hmac<md5::Md5>),
    Sha1(Hmac<sha1::Sha1>),
    Sha224(Hmac<sha2::Sha224>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

macro_rules! each_ctx {
    ($ctx:expr, $m:ident => $e:expr) => {
        match $ctx {
            Ctx::Md5($m) => $e,
            Ctx::Sha1($m) => $e,
            Ctx::Sha224($m) => $e,
            Ctx::Sha256($m) => $e,
            Ctx::Sha384($m) => $e,
            Ctx::Sha512($m) => $e,
        }
    };
}

impl Ctx {
    /// None never happens for HMAC (any key length is valid); it is
    /// passed on rather than unwrapped.
    fn new(key: &Key) -> Option<Ctx> {
        let s = key.secret.as_slice();
        Some(match key.algorithm {
            Algorithm::HmacMd5 => Ctx::Md5(Mac::new_from_slice(s).ok()?),
            Algorithm::HmacSha1 => Ctx::Sha1(Mac::new_from_slice(s).ok()?),
            Algorithm::HmacSha224 => Ctx::Sha224(Mac::new_from_slice(s).ok()?),
            Algorithm::HmacSha256 => Ctx::Sha256(Mac::new_from_slice(s).ok()?),
            Algorithm::HmacSha384 => Ctx::Sha384(Mac::new_from_slice(s).ok()?),
            Algorithm::HmacSha512 => Ctx::Sha512(Mac::new_from_slice(s).ok()?),
        })
    }

    /// A context that starts with a prior MAC, length first (§4.3.1).
    fn chained(key: &Key, prior_mac: &[u8]) -> Option<Ctx> {
        let mut ctx = Ctx::new(key)?;
        ctx.update(&u16::try_from(prior_mac.len()).ok()?.to_be_bytes());
        ctx.update(prior_mac);
        Some(ctx)
    }

    fn update(&mut self, data: &[u8]) {
        each_ctx!(self, m => m.update(data))
    }

    fn finalize(self) -> Vec<u8> {
        each_ctx!(self, m => m.finalize().into_bytes().to_vec())
    }

    /// Constant-time comparison; `mac` may be truncated (leftmost bytes).
    fn verify(self, mac: &[u8]) -> bool {
        let full = mac.len() == self.algorithm().mac_len();
        each_ctx!(self, m => {
            if full {
                m.verify_slice(mac).is_ok()
            } else {
                m.verify_truncated_left(mac).is_ok()
            }
        })
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Ctx::Md5(_) => Algorithm::HmacMd5,
            Ctx::Sha1(_) => Algorithm::HmacSha1,
            Ctx::Sha224(_) => Algorithm::HmacSha224,
            Ctx::Sha256(_) => Algorithm::HmacSha256,
            Ctx::Sha384(_) => Algorithm::HmacSha384,
            Ctx::Sha512(_) => Algorithm::HmacSha512,
        }
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ctx({})", self.algorithm().name())
    }
}

/// The TSIG variables of a first message (§4.3.3), with the key's own
/// canonical name and algorithm.
struct Variables<'a> {
    key: &'a Key,
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &'a [u8],
}

/// Err unless `msg` is a message to sign: it walks, and its last record
/// (or its question section, without records) ends it. After bytes
/// past the last record the TSIG would not be the record the counts
/// make last, and nobody could check the signature.
fn whole(msg: &[u8]) -> Result<(), ()> {
    let (question_end, records) = walk(msg).ok_or(())?;
    let end = records.last().map_or(question_end, |r| r.end);
    if end == msg.len() {
        Ok(())
    } else {
        Err(())
    }
}

/// The ID of a message `walk` accepted (so at least 12 bytes long).
fn header_id(msg: &[u8]) -> u16 {
    msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

fn time48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Feeds `msg[..end]` with the header ID replaced by `orig_id`, and
/// ARCOUNT one less when `drop_tsig` (the TSIG RR starts at `end`).
fn feed_message(
    ctx: &mut Ctx,
    msg: &[u8],
    end: usize,
    orig_id: u16,
    drop_tsig: bool,
) -> Result<(), ()> {
    if end < 12 || end > msg.len() {
        return Err(());
    }
    let mut arcount = u16::from_be_bytes([msg[10], msg[11]]);
    if drop_tsig {
        arcount = arcount.checked_sub(1).ok_or(())?;
    }
    ctx.update(&orig_id.to_be_bytes());
    ctx.update(&msg[2..10]);
    ctx.update(&arcount.to_be_bytes());
    ctx.update(&msg[12..end]);
    Ok(())
}

fn feed_variables(ctx: &mut Ctx, v: &Variables<'_>) {
    ctx.update(&v.key.name);
    ctx.update(&class::ANY.to_be_bytes());
    ctx.update(&0u32.to_be_bytes());
    ctx.update(v.key.algorithm.wire_name());
    feed_timers(ctx, v.time_signed, v.fudge);
    ctx.update(&v.error.to_be_bytes());
    // Other Data is at most 65535 bytes: it came from a u16 length or
    // is our 6-byte time.
    ctx.update(&(v.other.len() as u16).to_be_bytes());
    ctx.update(v.other);
}

fn feed_timers(ctx: &mut Ctx, time_signed: u64, fudge: u16) {
    ctx.update(&time48(time_signed));
    ctx.update(&fudge.to_be_bytes());
}

/// The fields of a TSIG RR to write.
struct Rr<'a> {
    key_name: &'a [u8],
    algorithm: &'a [u8],
    time_signed: u64,
    fudge: u16,
    mac: &'a [u8],
    orig_id: u16,
    error: u16,
    other: &'a [u8],
}

/// Appends the TSIG RR (names uncompressed) and bumps ARCOUNT; `msg` is
/// left unchanged on error.
fn append_rr(msg: &mut Vec<u8>, rr: &Rr<'_>) -> Result<(), ()> {
    if msg.len() < 12 {
        return Err(());
    }
    let arcount = u16::from_be_bytes([msg[10], msg[11]])
        .checked_add(1)
        .ok_or(())?;
    let rdlen = rr.algorithm.len() + 16 + rr.mac.len() + rr.other.len();
    let rdlen = u16::try_from(rdlen).map_err(|_| ())?;
    msg.extend_from_slice(rr.key_name);
    msg.extend_from_slice(&rtype::TSIG.to_be_bytes());
    msg.extend_from_slice(&class::ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&rdlen.to_be_bytes());
    msg.extend_from_slice(rr.algorithm);
    msg.extend_from_slice(&time48(rr.time_signed));
    msg.extend_from_slice(&rr.fudge.to_be_bytes());
    msg.extend_from_slice(&(rr.mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(rr.mac);
    msg.extend_from_slice(&rr.orig_id.to_be_bytes());
    msg.extend_from_slice(&rr.error.to_be_bytes());
    msg.extend_from_slice(&(rr.other.len() as u16).to_be_bytes());
    msg.extend_from_slice(rr.other);
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    Ok(())
}

/// A TSIG RR found in a received message.
struct Tsig<'a> {
    /// Offset of the RR: the MAC covers the message before it.
    start: usize,
    /// Lowercase, uncompressed.
    key_name: Vec<u8>,
    /// Lowercase, uncompressed.
    algorithm: Vec<u8>,
    time_signed: u64,
    fudge: u16,
    mac: &'a [u8],
    orig_id: u16,
    error: u16,
    other: &'a [u8],
}

impl Tsig<'_> {
    /// The server's clock in a BADTIME answer's other data.
    fn badtime_clock(&self) -> Option<u64> {
        if self.error != BADTIME || self.other.len() != 6 {
            return None;
        }
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(self.other);
        Some(u64::from_be_bytes(b))
    }
}

/// The TSIG RR of `msg`: None when there is none, Err (FORMERR) when the
/// message does not parse, a TSIG RR is anywhere but last in the
/// additional section, or its record is malformed.
fn find_tsig(msg: &[u8]) -> Result<Option<Tsig<'_>>, ()> {
    let (_, records) = walk(msg).ok_or(())?;
    let Some((last, rest)) = records.split_last() else {
        return Ok(None);
    };
    if rest.iter().any(|r| r.rtype == rtype::TSIG) {
        return Err(());
    }
    if last.rtype != rtype::TSIG {
        return Ok(None);
    }
    if last.section != wire::Section::Additional || last.end != msg.len() {
        return Err(());
    }
    let mut key_name = Vec::new();
    read_name(msg, last.start, &mut key_name).ok_or(())?;
    let f = last.fixed;
    if u16::from_be_bytes([msg[f + 2], msg[f + 3]]) != class::ANY {
        return Err(());
    }
    let mut algorithm = Vec::new();
    let mut pos = read_name(msg, f + 10, &mut algorithm).ok_or(())?;
    let rdata_end = last.end;
    let fixed = msg
        .get(pos..pos + 10)
        .filter(|_| pos + 10 <= rdata_end)
        .ok_or(())?;
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&fixed[..6]);
    let time_signed = u64::from_be_bytes(b);
    let fudge = u16::from_be_bytes([fixed[6], fixed[7]]);
    let mac_len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    pos += 10;
    let mac = msg.get(pos..pos + mac_len).ok_or(())?;
    pos += mac_len;
    let tail = msg
        .get(pos..pos + 6)
        .filter(|_| pos + 6 <= rdata_end)
        .ok_or(())?;
    let orig_id = u16::from_be_bytes([tail[0], tail[1]]);
    let error = u16::from_be_bytes([tail[2], tail[3]]);
    let other_len = usize::from(u16::from_be_bytes([tail[4], tail[5]]));
    pos += 6;
    if pos + other_len != rdata_end {
        return Err(());
    }
    Ok(Some(Tsig {
        start: last.start,
        key_name,
        algorithm,
        time_signed,
        fudge,
        mac,
        orig_id,
        error,
        other: &msg[pos..rdata_end],
    }))
}

/// Reads the (possibly compressed) name at `pos` into `out`, lowercased
/// and uncompressed; returns where the name ends in `p`.
fn read_name(p: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<usize> {
    out.clear();
    let end = wire::message::read_name(p, pos, p.len(), out).ok()?;
    out.make_ascii_lowercase();
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A message with one question and the given answers (uncompressed).
    fn message(id: u16, flags: u16, qtype: u16, answers: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(b"\x07example\x03com\x00");
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        for (name, t, rdata) in answers {
            m.extend_from_slice(name);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    fn key(alg: Algorithm) -> Arc<Key> {
        let secret = base64::encode(b"0123456789abcdef0123456789abcdef");
        Arc::new(Key::new("Test-Key.Example.", alg.name(), &secret).unwrap())
    }

    fn ring(k: &Arc<Key>) -> KeyRing {
        let mut r = KeyRing::default();
        r.add(k.as_ref().clone());
        r
    }

    fn valid(msg: &[u8], keys: &KeyRing, now: u64) -> Signer {
        match check_request(msg, keys, now) {
            Ok(Checked::Valid { ctx, .. }) => ctx,
            other => panic!("expected Valid, got {other:?}"),
        }
    }

    fn refused(msg: &[u8], keys: &KeyRing, now: u64) -> (u16, ErrorReply) {
        match check_request(msg, keys, now) {
            Ok(Checked::Refused { error, reply }) => (error, reply),
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    /// The TSIG RR of `msg`, parsed.
    fn tsig_of(msg: &[u8]) -> Tsig<'_> {
        find_tsig(msg).unwrap().expect("a TSIG record")
    }

    const NOW: u64 = 1_700_000_000;
    const SOA: &[u8] = b"\x02ns\x07example\x03com\x00\x05admin\x07example\x03com\x00\
        \x00\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x0e\x10\x00\x12\x75\x00\x00\x00\x01\x2c";

    #[test]
    fn algorithm_names() {
        assert_eq!(
            Algorithm::from_name("HMAC-SHA256."),
            Some(Algorithm::HmacSha256)
        );
        assert_eq!(
            Algorithm::from_name("hmac-md5.sig-alg.reg.int"),
            Some(Algorithm::HmacMd5)
        );
        assert_eq!(Algorithm::from_name("hmac-md5"), Some(Algorithm::HmacMd5));
        assert_eq!(Algorithm::from_name("hmac-sha3"), None);
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
            assert_eq!(Algorithm::from_wire(a.wire_name()), Some(a));
            let upper = a.wire_name().to_ascii_uppercase();
            assert_eq!(Algorithm::from_wire(&upper), Some(a));
            assert_eq!(
                wire::name::uncompressed_len(a.wire_name()),
                Some(a.wire_name().len())
            );
        }
        assert_eq!(Algorithm::from_wire(b"\x08hmac-md5\x00"), None);
        assert_eq!(Algorithm::HmacSha256.min_mac_len(), 16);
        assert_eq!(Algorithm::HmacMd5.min_mac_len(), 10);
    }

    #[test]
    fn base64_round_trip_and_bad_input() {
        assert_eq!(base64::encode(b""), "");
        assert_eq!(base64::encode(b"f"), "Zg==");
        assert_eq!(base64::encode(b"fo"), "Zm8=");
        assert_eq!(base64::encode(b"foobar"), "Zm9vYmFy");
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..70 {
            let text = base64::encode(&data[..n]);
            assert_eq!(base64::decode(&text).unwrap(), &data[..n], "{text}");
            let unpadded = text.trim_end_matches('=');
            assert_eq!(base64::decode(unpadded).unwrap(), &data[..n]);
        }
        assert_eq!(base64::decode(" Zm9v\n YmFy ").unwrap(), b"foobar");
        assert!(base64::decode("Zm9v!mFy").unwrap_err().contains("'!'"));
        assert!(base64::decode("Zm9vY").is_err());
        assert!(base64::decode("Zg=x").is_err());
        assert!(base64::decode("Zg===").is_err());
        assert!(base64::decode("Zm8==").is_err());
        assert!(base64::decode("Zmé=").is_err());
    }

    #[test]
    fn key_config_errors_say_what_is_wrong() {
        let e = Key::new("k", "hmac-sha256", "not base64!").unwrap_err();
        assert!(e.starts_with("bad base64 secret for key 'k': "), "{e}");
        let e = Key::new("k", "hmac-sha3", "AAAA").unwrap_err();
        assert!(
            e.starts_with("unknown TSIG algorithm 'hmac-sha3': expected hmac-sha256, "),
            "{e}"
        );
        assert!(Key::new("k", "hmac-sha256", "").is_err());
        let k = Key::new("K.Example", "hmac-sha1", "AAAA").unwrap();
        assert_eq!(&*k.name, b"\x01k\x07example\x00");
        assert_eq!(k.name_text(), "k.example.");
        assert!(!format!("{k:?}").contains("AAAA"));
    }

    #[test]
    fn keyring_replaces_and_ignores_case() {
        let mut r = KeyRing::default();
        r.add(Key::new("a.example", "hmac-sha1", "AAAA").unwrap());
        r.add(Key::new("b.example", "hmac-sha1", "AAAA").unwrap());
        r.add(Key::new("A.example.", "hmac-sha256", "AQID").unwrap());
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert_eq!(r.names(), ["a.example.", "b.example."]);
        let a = r.get(b"\x01A\x07EXAMPLE\x00").unwrap();
        assert_eq!(a.algorithm, Algorithm::HmacSha256);
        assert!(r.get(b"\x01c\x07example\x00").is_none());
    }

    #[test]
    fn round_trip_every_algorithm() {
        for alg in Algorithm::ALL {
            let k = key(alg);
            let mut req = message(0xbeef, 0, rtype::SOA, &[]);
            let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
            assert_eq!(tsig_of(&req).mac.len(), alg.mac_len());
            let mut signer = valid(&req, &ring(&k), NOW + 5);
            let mut resp = message(
                0xbeef,
                0x8400,
                rtype::SOA,
                &[(b"\x07example\x03com\x00", rtype::SOA, SOA)],
            );
            let (unsigned, room) = (resp.len(), signer.room());
            signer.sign(&mut resp, NOW + 6).unwrap();
            assert_eq!(&resp[10..12], &[0, 1]);
            assert!(
                resp.len() - unsigned <= room,
                "{alg:?}: the TSIG fits its room"
            );
            verifier
                .check(&resp, NOW + 7)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            verifier.finish().unwrap();
        }
    }

    #[test]
    fn forwarded_request_keeps_original_id() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(0x1111, 0, rtype::SOA, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        // A proxy changes the ID; the MAC covers the Original ID instead.
        req[..2].copy_from_slice(&[0x22, 0x22]);
        let mut signer = valid(&req, &ring(&k), NOW);
        let mut resp = message(0x2222, 0x8400, rtype::SOA, &[]);
        signer.sign(&mut resp, NOW).unwrap();
        // The answer's Original ID is its own ID, as BIND, Knot and
        // dnspython write it.
        assert_eq!(tsig_of(&resp).orig_id, 0x2222);
        // The proxy puts the client's ID back.
        resp[..2].copy_from_slice(&[0x11, 0x11]);
        verifier.check(&resp, NOW).unwrap();
    }

    #[test]
    fn tampered_byte_is_badsig_with_unsigned_reply() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(7, 0, rtype::SOA, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        req[13] ^= 0x20; // "example" -> "Example"
        let (error, reply) = refused(&req, &ring(&k), NOW);
        assert_eq!(error, BADSIG);
        let mut resp = message(7, 0x8009, rtype::SOA, &[]);
        reply.append(&mut resp, NOW).unwrap();
        let t = tsig_of(&resp);
        assert!(t.mac.is_empty());
        assert_eq!((t.error, t.orig_id), (BADSIG, 7));
        assert_eq!(t.key_name, &*k.name);
        let e = verifier.check(&resp, NOW).unwrap_err();
        assert!(e.contains("BADSIG"), "{e}");
    }

    #[test]
    fn unknown_key_or_wrong_algorithm_is_badkey() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(7, 0, rtype::SOA, &[]);
        sign_request(&mut req, &k, NOW).unwrap();
        let other = Key::new("other.example", "hmac-sha256", "AAAA").unwrap();
        let mut keys = KeyRing::default();
        keys.add(other);
        let (error, reply) = refused(&req, &keys, NOW);
        assert_eq!(error, BADKEY);
        assert_eq!(reply.key_name_text(), "test-key.example.");
        let mut resp = message(7, 0x8009, rtype::SOA, &[]);
        reply.append(&mut resp, NOW).unwrap();
        let t = tsig_of(&resp);
        assert_eq!((t.error, t.mac.len()), (BADKEY, 0));
        assert_eq!(t.algorithm, Algorithm::HmacSha256.wire_name());
        // Same name, other algorithm.
        let mut keys = KeyRing::default();
        keys.add(Key::new("test-key.example", "hmac-sha512", "AAAA").unwrap());
        assert_eq!(refused(&req, &keys, NOW).0, BADKEY);
    }

    #[test]
    fn old_time_is_badtime_with_signed_reply() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(9, 0, rtype::SOA, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        assert!(matches!(
            check_request(&req, &ring(&k), NOW + 300),
            Ok(Checked::Valid { .. })
        ));
        let server_now = NOW + 301;
        let (error, reply) = refused(&req, &ring(&k), server_now);
        assert_eq!(error, BADTIME);
        let mut resp = message(9, 0x8009, rtype::SOA, &[]);
        reply.append(&mut resp, server_now).unwrap();
        let t = tsig_of(&resp);
        assert_eq!(t.mac.len(), 32);
        assert_eq!(t.time_signed, NOW);
        assert_eq!(t.other, &time48(server_now));
        // The client verifies the MAC, then reports the server's complaint.
        let e = verifier.check(&resp, NOW + 1).unwrap_err();
        assert!(e.contains("BADTIME") && e.contains("off by 300 s"), "{e}");
        // A forged BADTIME (bad MAC) is reported as such.
        let mut verifier = sign_request(&mut message(9, 0, rtype::SOA, &[]), &k, NOW + 1).unwrap();
        let e = verifier.check(&resp, NOW).unwrap_err();
        assert!(e.contains("BADSIG"), "{e}");
        // Future times too.
        assert_eq!(refused(&req, &ring(&k), NOW - 301).0, BADTIME);
    }

    #[test]
    fn answer_checks() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(3, 0, rtype::SOA, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        let resp = message(3, 0x8400, rtype::SOA, &[]);
        assert_eq!(
            verifier.check(&resp, NOW).unwrap_err(),
            "answer not signed (rcode 0)"
        );
        assert!(verifier.finish().is_err());
        // Signed by another key.
        let other = key(Algorithm::HmacSha512);
        let mut req2 = message(3, 0, rtype::SOA, &[]);
        sign_request(&mut req2, &other, NOW).unwrap();
        let mut resp2 = resp.clone();
        valid(&req2, &ring(&other), NOW)
            .sign(&mut resp2, NOW)
            .unwrap();
        let e = verifier.check(&resp2, NOW).unwrap_err();
        assert!(e.starts_with("wrong key"), "{e}");
        // Right key, clock far off.
        let mut resp3 = resp.clone();
        valid(&req, &ring(&k), NOW).sign(&mut resp3, NOW).unwrap();
        let e = verifier.check(&resp3, NOW + 1000).unwrap_err();
        assert!(e.starts_with("time off by 1000 s"), "{e}");
    }

    #[test]
    fn multi_message_stream() {
        let k = key(Algorithm::HmacSha384);
        let mut req = message(0x4242, 0, rtype::AXFR, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        let mut signer = valid(&req, &ring(&k), NOW);
        let apex: &[u8] = b"\x07example\x03com\x00";
        let mut m1 = message(0x4242, 0x8400, rtype::AXFR, &[(apex, rtype::SOA, SOA)]);
        let m2 = message(
            0x4242,
            0x8400,
            rtype::AXFR,
            &[(b"\x03www\x07example\x03com\x00", rtype::A, &[192, 0, 2, 1])],
        );
        let mut m3 = message(
            0x4242,
            0x8400,
            rtype::AXFR,
            &[(b"\x04mail\x07example\x03com\x00", rtype::A, &[192, 0, 2, 2])],
        );
        let mut m4 = message(0x4242, 0x8400, rtype::AXFR, &[(apex, rtype::SOA, SOA)]);
        assert!(
            signer.clone().pass_unsigned(&m2).is_err(),
            "first must be signed"
        );
        signer.sign(&mut m1, NOW).unwrap();
        signer.pass_unsigned(&m2).unwrap();
        signer.sign(&mut m3, NOW + 1).unwrap();
        let mut tampered = m2.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let unsigned_m4 = m4.clone();
        signer.sign(&mut m4, NOW + 1).unwrap();

        // The whole stream verifies.
        let mut v = Verifier::new(k.clone(), verifier.prior_mac.clone());
        for m in [&m1, &m2, &m3, &m4] {
            v.check(m, NOW + 2).unwrap();
        }
        v.finish().unwrap();

        // A changed unsigned message breaks the next signature.
        let mut v = Verifier::new(k.clone(), verifier.prior_mac.clone());
        v.check(&m1, NOW).unwrap();
        v.check(&tampered, NOW).unwrap();
        assert!(v.check(&m3, NOW).unwrap_err().contains("BADSIG"));

        // Ending on an unsigned message fails finish().
        verifier.check(&m1, NOW).unwrap();
        verifier.check(&m2, NOW).unwrap();
        verifier.check(&m3, NOW).unwrap();
        verifier.finish().unwrap();
        verifier.check(&unsigned_m4, NOW).unwrap();
        assert!(verifier.finish().unwrap_err().contains("not signed"));
    }

    #[test]
    fn too_many_unsigned_in_a_row() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(1, 0, rtype::AXFR, &[]);
        let mut verifier = sign_request(&mut req, &k, NOW).unwrap();
        let mut m1 = message(1, 0x8400, rtype::AXFR, &[]);
        valid(&req, &ring(&k), NOW).sign(&mut m1, NOW).unwrap();
        verifier.check(&m1, NOW).unwrap();
        let plain = message(1, 0x8400, rtype::AXFR, &[]);
        for _ in 0..MAX_UNSIGNED_RUN {
            verifier.check(&plain, NOW).unwrap();
        }
        assert!(verifier.check(&plain, NOW).is_err());
    }

    #[test]
    fn misplaced_or_repeated_tsig_is_formerr() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(5, 0, rtype::SOA, &[]);
        sign_request(&mut req, &k, NOW).unwrap();
        let keys = ring(&k);
        // Two TSIG records.
        let mut twice = req.clone();
        sign_request(&mut twice, &k, NOW).unwrap();
        assert!(check_request(&twice, &keys, NOW).is_err());
        // A record after the TSIG.
        let mut after = req.clone();
        after.extend_from_slice(b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\xc0\x00\x02\x01");
        after[11] += 1;
        assert!(check_request(&after, &keys, NOW).is_err());
        // A TSIG in the answer section.
        let mut answer = req.clone();
        answer[7] = 1;
        answer[11] = 0;
        assert!(check_request(&answer, &keys, NOW).is_err());
        // Trailing bytes, truncated RDATA.
        let mut trailing = req.clone();
        trailing.push(0);
        assert!(check_request(&trailing, &keys, NOW).is_err());
        for cut in 1..40 {
            assert!(check_request(&req[..req.len() - cut], &keys, NOW).is_err());
        }
        // Unsigned and garbage.
        let plain = message(5, 0, rtype::SOA, &[]);
        assert!(matches!(
            check_request(&plain, &keys, NOW),
            Ok(Checked::Unsigned)
        ));
        assert!(check_request(&[0; 5], &keys, NOW).is_err());
    }

    /// Rewrites the MAC of the request's TSIG RR to `mac`.
    fn with_mac(req: &[u8], mac: &[u8]) -> Vec<u8> {
        let t = tsig_of(req);
        let mac_at = t.mac.as_ptr() as usize - req.as_ptr() as usize;
        let old_len = t.mac.len();
        let rdlen_at = t.start + k_name_len(req, t.start) + 8;
        let mut out = req[..mac_at - 2].to_vec();
        out.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        out.extend_from_slice(mac);
        out.extend_from_slice(&req[mac_at + old_len..]);
        let rdlen =
            u16::from_be_bytes([req[rdlen_at], req[rdlen_at + 1]]) as usize - old_len + mac.len();
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        out
    }

    fn k_name_len(msg: &[u8], at: usize) -> usize {
        wire::name::uncompressed_len(&msg[at..]).unwrap()
    }

    #[test]
    fn truncated_macs() {
        let k = key(Algorithm::HmacSha256);
        let mut req = message(5, 0, rtype::SOA, &[]);
        sign_request(&mut req, &k, NOW).unwrap();
        let keys = ring(&k);
        let full = tsig_of(&req).mac.to_vec();
        assert!(matches!(
            check_request(&with_mac(&req, &full), &keys, NOW),
            Ok(Checked::Valid { .. })
        ));
        // Allowed truncation that verifies: refused by policy, signed.
        let (error, reply) = refused(&with_mac(&req, &full[..16]), &keys, NOW);
        assert_eq!(error, BADTRUNC);
        let mut resp = message(5, 0x8009, rtype::SOA, &[]);
        reply.append(&mut resp, NOW).unwrap();
        assert_eq!(tsig_of(&resp).mac.len(), 32);
        // Allowed truncation that does not verify.
        let mut wrong = full[..16].to_vec();
        wrong[0] ^= 1;
        assert_eq!(refused(&with_mac(&req, &wrong), &keys, NOW).0, BADSIG);
        // Below max(10, half) or longer than the hash: FORMERR.
        assert!(check_request(&with_mac(&req, &full[..15]), &keys, NOW).is_err());
        let mut long = full.clone();
        long.push(0);
        assert!(check_request(&with_mac(&req, &long), &keys, NOW).is_err());
        // Empty MAC: BADSIG.
        assert_eq!(refused(&with_mac(&req, &[]), &keys, NOW).0, BADSIG);
    }

    #[test]
    fn malformed_messages_are_refused_not_signed() {
        let k = key(Algorithm::HmacSha256);
        let mut short = vec![0u8; 5];
        assert!(sign_request(&mut short, &k, NOW).is_err());
        assert_eq!(short, [0u8; 5]);
        let mut broken = message(1, 0, rtype::SOA, &[]);
        broken[5] = 2; // two questions, one present
        assert!(sign_request(&mut broken, &k, NOW).is_err());
        let mut req = message(1, 0, rtype::SOA, &[]);
        sign_request(&mut req, &k, NOW).unwrap();
        let mut signer = valid(&req, &ring(&k), NOW);
        assert!(signer.sign(&mut broken, NOW).is_err());
    }

    // Interoperability vectors made once with dnspython 2.9 (offline):
    // key "test-key.example.com." hmac-sha256, secret = bytes 0..32
    // (AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=), time 1700000000.
    // dnspython compresses the key name (c00c), so these also exercise
    // the decompression of TSIG owner names.
    const PY_SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PY_TIME: u64 = 1_700_000_000;
    /// UPDATE example.com: add www 300 A 192.0.2.1; ID 0x1234.
    const PY_UPDATE: &str = "123428000001000000010001076578616d706c6503636f6d000006000103777777c00c000100010000012c0004c000020108746573742d6b6579c00c00fa00ff00000000003d0b686d61632d7368613235360000006553f100012c0020c154a531ddd3e3ffe3894904d0b5e20b554b67867f8a9d1f1cdfd8a7db8203bde8d000000000";
    /// dns.message.make_response of it, signed 2 s later.
    const PY_UPDATE_RESPONSE: &str = "1234a8000001000000000001076578616d706c6503636f6d000006000108746573742d6b6579c00c00fa00ff00000000003d0b686d61632d7368613235360000006553f102012c00207b0c21e371a9dd609a01ea6a6c052974c3ad3276d96b29ff450aa445e41f8d8e123400000000";
    /// AXFR example.com, signed at +10 s.
    const PY_AXFR: &str = "432101000001000000000001076578616d706c6503636f6d0000fc000108746573742d6b6579c00c00fa00ff00000000003d0b686d61632d7368613235360000006553f10a012c00203f1620af5565fdf96c21dc6813f2254904e0e94a77009d9f68cfddc4318afb66432100000000";
    /// Its answer at +11 s: SOA (signed), www A (unsigned), SOA (signed).
    const PY_AXFR_STREAM: [&str; 3] = [
        "432181000001000100000001076578616d706c6503636f6d0000fc0001c00c0006000100000e100021026e73c00c0561646d696ec00c0000000100001c2000000e10001275000000012c08746573742d6b6579c00c00fa00ff00000000003d0b686d61632d7368613235360000006553f10b012c00204f6fdda1ffb9888d0b1a570f549df3d566f35277c76ea0361b0b6f7fbcaf1119432100000000",
        "432181000001000100000000076578616d706c6503636f6d0000fc000103777777c00c000100010000012c0004c0000201",
        "432181000001000100000001076578616d706c6503636f6d0000fc0001c00c0006000100000e100021026e73c00c0561646d696ec00c0000000100001c2000000e10001275000000012c08746573742d6b6579c00c00fa00ff00000000003d0b686d61632d7368613235360000006553f10b012c00206e3a284b36ea1336469d2d9afb7096ee66bfc6d2f606ec1c131ac9ce9f99600c432100000000",
    ];

    fn py_key() -> Arc<Key> {
        Arc::new(Key::new("test-key.example.com", "hmac-sha256", PY_SECRET).unwrap())
    }

    #[test]
    fn dnspython_update_and_response() {
        let k = py_key();
        let update = hex(PY_UPDATE);
        // dnspython took the Original ID (0xe8d0) when the message was
        // made, before the test set the header ID to 0x1234: the MAC
        // covers the Original ID, as after a forwarder.
        assert_eq!(tsig_of(&update).orig_id, 0xe8d0);
        let signer = valid(&update, &ring(&k), PY_TIME);
        let mut verifier = Verifier::new(k.clone(), signer.prior_mac.clone());
        verifier
            .check(&hex(PY_UPDATE_RESPONSE), PY_TIME + 2)
            .unwrap();
        verifier.finish().unwrap();
        // Out of the window at the server: BADTIME.
        assert_eq!(refused(&update, &ring(&k), PY_TIME + 301).0, BADTIME);
        // Our signature over the same answer matches dnspython's bytes.
        let response = hex(PY_UPDATE_RESPONSE);
        let t = tsig_of(&response);
        let mut ours = response[..t.start].to_vec();
        ours[11] -= 1;
        let mut signer = signer;
        signer.sign(&mut ours, PY_TIME + 2).unwrap();
        assert_eq!(tsig_of(&ours).mac, t.mac);
    }

    #[test]
    fn dnspython_axfr_stream() {
        let k = py_key();
        let signer = valid(&hex(PY_AXFR), &ring(&k), PY_TIME + 10);
        let mut verifier = Verifier::new(k, signer.prior_mac.clone());
        for m in PY_AXFR_STREAM {
            verifier.check(&hex(m), PY_TIME + 12).unwrap();
        }
        verifier.finish().unwrap();
    }

    /// Found by the `tsig` fuzz target: a NOTIFY with eight bytes after
    /// its last record was signed, the TSIG going after those bytes,
    /// and the check of our own signature refused it as malformed.
    #[test]
    fn bytes_after_the_last_record_are_not_signed() {
        let k = key(Algorithm::HmacSha256);
        let keys = ring(&k);
        let notify = hex(
            "04d224000001000100000000076578616d706c65036f72670000060001c00c00060001\
             00000e100021026e000000000000000073c00c0561646d696ec00c78a3f17500000e10\
             0000038400093a800000012c",
        );
        assert_eq!(
            walk(&notify).unwrap().1.last().unwrap().end,
            notify.len() - 8
        );
        let mut m = notify.clone();
        assert!(sign_request(&mut m, &k, NOW).is_err());
        assert_eq!(m, notify, "left unchanged");
        let mut signer = valid(&signed_query(&k), &keys, NOW);
        assert!(signer.sign(&mut m, NOW).is_err());
        let (_, reply) = refused(&signed_query(&k), &ring(&key(Algorithm::HmacSha1)), NOW);
        assert!(reply.append(&mut m, NOW).is_err());
        assert_eq!(m, notify);
        // Without them it signs, and the signature checks.
        m.truncate(notify.len() - 8);
        sign_request(&mut m, &k, NOW).unwrap();
        valid(&m, &keys, NOW);
    }

    /// A SOA query signed with `k` at NOW.
    fn signed_query(k: &Arc<Key>) -> Vec<u8> {
        let mut q = message(7, 0, 6, &[]);
        sign_request(&mut q, k, NOW).unwrap();
        q
    }

    #[test]
    fn mutated_input_never_panics() {
        let k = py_key();
        let keys = ring(&k);
        let update = hex(PY_UPDATE);
        let response = hex(PY_UPDATE_RESPONSE);
        let request_mac = tsig_of(&update).mac.to_vec();
        for (base, is_request) in [(&update, true), (&response, false)] {
            for i in 0..base.len() {
                for flip in [0x01, 0x3f, 0x80, 0xff] {
                    let mut m = base.clone();
                    m[i] ^= flip;
                    for len in [m.len(), i + 1] {
                        if is_request {
                            let _ = check_request(&m[..len], &keys, PY_TIME);
                        } else {
                            let mut v = Verifier::new(k.clone(), request_mac.clone());
                            let _ = v.check(&m[..len], PY_TIME);
                        }
                    }
                }
            }
        }
    }
}
