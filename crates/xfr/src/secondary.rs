//! The secondary role: a thread per zone that follows its primaries.
//!
//! It asks a primary for the SOA every REFRESH seconds (or at once on a
//! NOTIFY from one), pulls the difference by IXFR over TCP when the
//! serial moved (AXFR when the primary sends the whole zone instead),
//! checks the result as a zone file would be checked, and only then
//! swaps it in: a half-received or broken transfer never replaces what is
//! served. The new version is journaled and written to the zone's file,
//! so a restart serves it at once. When no primary answers for EXPIRE
//! seconds, the zone answers SERVFAIL until one does.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use wire::client::AskError;
use wire::types::{class, flags, rtype};
use wire::{Response, Section};
use zone::records::{normalize, serial_gt, soa_serial, Record, RecordSet, SerialPolicy};
use zone::ZoneState;

use crate::service::{lock as lock_entry, unix_now, Entry, Role, Service, ZoneInfo};
use crate::tsig::{self, Key};

/// How long one read of a transfer may stall.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole transfer may take (a primary trickling bytes must
/// not keep the zone from expiring).
const TRANSFER_DEADLINE: Duration = Duration::from_secs(600);
/// The most records one transfer may bring (a primary gone wrong must
/// not exhaust memory; 10 million is ten times the largest zones served).
const MAX_TRANSFER_RECORDS: usize = 10_000_000;
/// How long the SOA query over UDP waits for the primary's answer.
const SOA_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Until a zone has an SOA of its own, it retries this often.
const FIRST_RETRY: Duration = Duration::from_secs(5);

/// Talks to a zone's refresh thread.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: Sender<Wake>,
}

enum Wake {
    Refresh,
    Stop,
}

impl Handle {
    /// Refresh now (a NOTIFY came, or serving just started).
    pub fn wake(&self) {
        let _ = self.tx.send(Wake::Refresh);
    }

    /// The zone left the configuration.
    pub fn stop(&self) {
        let _ = self.tx.send(Wake::Stop);
    }
}

/// REFRESH, RETRY and EXPIRE from an SOA RDATA.
fn soa_timers(rdata: &[u8]) -> Option<(u32, u32, u32)> {
    wire::soa::parse(rdata).map(|s| (s.refresh, s.retry, s.expire))
}

impl Service {
    /// A secondary zone of the configuration: what to serve now. The first
    /// time, the copy saved in its file is loaded (served at once) and
    /// its refresh thread starts; later calls (reloads) return the
    /// current version.
    pub fn secondary(self: &Arc<Self>, info: &ZoneInfo) -> ZoneState {
        if let Some(entry) = self.entry(&info.apex) {
            let mut e = lock_entry(&entry);
            if matches!(e.role, Role::Secondary(_)) {
                e.file = info.file.clone();
                return match &e.zone {
                    Some(z) => ZoneState::Ready(z.clone()),
                    None => ZoneState::Broken(e.status.clone().into()),
                };
            }
        }
        let (tx, rx) = channel();
        let handle = Handle { tx };
        let mut settings = self.settings().zone(&info.apex);
        // A secondary serves its primary's serials, never its own.
        settings.serial_policy = SerialPolicy::Keep;
        let name = wire::name::to_text(&info.apex);
        let mut entry = Entry {
            name: name.clone(),
            apex: info.apex.clone(),
            file: info.file.clone(),
            role: Role::Secondary(handle),
            records: Arc::new(RecordSet::new()),
            zone: None,
            serial: 0,
            file_state: Arc::new(RecordSet::new()),
            history: Vec::new(),
            journal: None,
            journal_error: None,
            dirty_since: None,
            settings,
            status: "waiting for the first transfer".into(),
            notify_round: Arc::default(),
            signing: Default::default(),
        };
        let mut saved_at = None;
        if let Some(file) = info.file.as_ref().filter(|f| f.exists()) {
            match zone::load_zone(&info.name, file) {
                Ok(loaded) => {
                    let set = RecordSet::from_zone(&loaded.zone);
                    entry.serial = loaded.zone.serial;
                    entry.records = Arc::new(set.clone());
                    entry.file_state = Arc::new(set);
                    entry.zone = Some(Arc::new(loaded.zone));
                    entry.status = format!("loaded from {}", file.display());
                    saved_at = std::fs::metadata(file).and_then(|m| m.modified()).ok();
                    self.attach_journal(&mut entry, &format!("saved copy {}", file.display()));
                }
                Err(err) => log::warn!(
                    "secondary zone {name}: saved copy unusable, waiting for a transfer: {err}"
                ),
            }
        }
        let state = match &entry.zone {
            Some(z) => ZoneState::Ready(z.clone()),
            None => ZoneState::Broken("secondary zone not transferred yet".into()),
        };
        self.insert_entry(entry);
        let weak = Arc::downgrade(self);
        let apex = info.apex.clone();
        let spawned = std::thread::Builder::new()
            .name("secondary".into())
            .spawn(move || run(weak, apex, rx, saved_at));
        if let Err(err) = spawned {
            log::error!("secondary zone {name}: cannot start its refresh thread: {err}");
        }
        state
    }
}

/// The refresh loop of one zone.
fn run(service: Weak<Service>, apex: Box<[u8]>, rx: Receiver<Wake>, saved_at: Option<SystemTime>) {
    // The last time a primary confirmed our version: the saved copy's
    // time when we start from one.
    let mut confirmed: Option<Instant> = saved_at.map(|t| {
        let age = SystemTime::now().duration_since(t).unwrap_or_default();
        Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
    });
    let mut next = Instant::now();
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Wake::Refresh) | Err(RecvTimeoutError::Timeout) => {}
        }
        // A burst of NOTIFYs is one refresh.
        while let Ok(w) = rx.try_recv() {
            if matches!(w, Wake::Stop) {
                return;
            }
        }
        let Some(service) = service.upgrade() else {
            return;
        };
        if !service.is_started() {
            next = Instant::now() + Duration::from_millis(200);
            continue;
        }
        let Some(entry) = service.entry(&apex) else {
            return;
        };
        let outcome = refresh(&service, &entry);
        let mut e = lock_entry(&entry);
        let (refresh_s, retry_s, expire_s) = e
            .soa()
            .and_then(|s| soa_timers(&s.rdata))
            .unwrap_or((0, 0, u32::MAX));
        match outcome {
            Ok(what) => {
                confirmed = Some(Instant::now());
                e.status = format!("{what} at unix time {}", unix_now());
                next = Instant::now() + Duration::from_secs(u64::from(refresh_s.max(1)));
            }
            Err(err) => {
                log::warn!("secondary zone {}: refresh failed: {err}", e.name);
                e.status = format!("refresh failed: {err}");
                next = Instant::now()
                    + if e.zone.is_some() {
                        Duration::from_secs(u64::from(retry_s.max(1)))
                    } else {
                        FIRST_RETRY
                    };
            }
        }
        // Expired: no primary confirmed the data for EXPIRE seconds.
        if let (Some(at), Some(_)) = (confirmed, &e.zone) {
            let expire = Duration::from_secs(u64::from(expire_s));
            if at.elapsed() >= expire {
                log::error!(
                    "secondary zone {}: expired ({expire_s} s without a primary): SERVFAIL until one answers",
                    e.name
                );
                e.zone = None;
                e.status = format!("expired after {expire_s} s without a primary");
                service.publish(&apex, ZoneState::Broken(e.status.clone().into()));
            } else {
                next = next.min(at + expire);
            }
        }
    }
}

/// Asks the primaries in turn; returns what happened.
fn refresh(service: &Service, entry: &Arc<Mutex<Entry>>) -> Result<String, String> {
    let (primaries, key_name, ours, apex, name) = {
        let e = lock_entry(entry);
        let ours = if e.zone.is_some() { e.soa() } else { None };
        (
            e.settings.primaries.clone(),
            e.settings.primary_key.clone(),
            ours,
            e.apex.clone(),
            e.name.clone(),
        )
    };
    let key: Option<Arc<Key>> = match &key_name {
        Some(k) => Some(
            service
                .settings()
                .keys
                .get(k)
                .cloned()
                .ok_or_else(|| format!("key {} is not defined", wire::name::to_text(k)))?,
        ),
        None => None,
    };
    if primaries.is_empty() {
        return Err("no primaries configured".into());
    }
    let mut errors = Vec::new();
    for primary in primaries {
        let tls = lock_entry(entry).settings.tls_for(primary).cloned();
        let to = Primary {
            addr: primary,
            tls: tls.as_ref(),
        };
        match refresh_from(
            service,
            entry,
            to,
            &apex,
            &name,
            key.as_ref(),
            ours.as_ref(),
        ) {
            Ok(what) => return Ok(what),
            Err(e) => errors.push(format!("{primary}: {e}")),
        }
    }
    Err(errors.join("; "))
}

/// A primary as it is reached: its address, and TLS for XoT.
#[derive(Clone, Copy)]
struct Primary<'a> {
    addr: SocketAddr,
    tls: Option<&'a pool::tls_client::TlsClient>,
}

impl std::fmt::Display for Primary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tls {
            Some(_) => write!(f, "{} (TLS)", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

fn refresh_from(
    service: &Service,
    entry: &Arc<Mutex<Entry>>,
    primary: Primary,
    apex: &[u8],
    name: &str,
    key: Option<&Arc<Key>>,
    ours: Option<&Record>,
) -> Result<String, String> {
    let our_serial = ours.and_then(|s| soa_serial(&s.rdata));
    let theirs = soa_query(primary, apex, key)?;
    if let Some(mine) = our_serial {
        if !serial_gt(theirs, mine) {
            touch_saved_copy(entry);
            return Ok(format!("serial {mine} confirmed by {primary}"));
        }
    }
    let qtype = if ours.is_some() {
        rtype::IXFR
    } else {
        rtype::AXFR
    };
    let started = Instant::now();
    let progress = |records: usize, bytes: usize| {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "transfer from {primary}: {records} records, {bytes} bytes in {secs:.1} s, {:.0} records/s",
            records as f64 / secs
        );
        lock_entry(entry).status = line.clone();
        log::info!("secondary zone {name}: {line}");
    };
    let incoming = transfer(primary, apex, qtype, ours, key, progress)?;
    let via = format!(
        "{} from {primary}",
        if qtype == rtype::IXFR { "IXFR" } else { "AXFR" }
    );
    let mut e = lock_entry(entry);
    let next = match incoming {
        Incoming::UpToDate => {
            drop(e);
            touch_saved_copy(entry);
            return Ok(format!("serial {theirs} confirmed by {primary}"));
        }
        Incoming::Full(records) => records.into_iter().collect(),
        Incoming::Diffs(diffs) => {
            let mut set = (*e.records).clone();
            for (removed, added) in diffs {
                set.apply(&removed, &added).map_err(|r| {
                    format!(
                        "IXFR removes {} {} which we do not hold",
                        wire::name::to_text(&r.owner),
                        wire::types::rtype_name(r.rtype)
                    )
                })?;
            }
            set
        }
    };
    let new_serial = next.soa(apex).and_then(|s| soa_serial(&s.rdata));
    if new_serial != Some(theirs)
        && new_serial.is_none_or(|s| !serial_gt(s, our_serial.unwrap_or(0)))
    {
        return Err(format!(
            "transfer ended with serial {new_serial:?}, expected {theirs}"
        ));
    }
    // The very first version (no data ever, not an expired zone coming
    // back: that one continues its journal like any other change).
    let first = e.records.is_empty();
    if first {
        // The first version: checked, then made the journal's genesis (or
        // reconciled with an older journal of this zone).
        let (zone, warnings) = next
            .to_zone(apex, &via)
            .map_err(|err| format!("zone from {via} refused: {err}"))?;
        for w in &warnings {
            log::warn!("{w}");
        }
        e.serial = zone.serial;
        e.records = Arc::new(next);
        let zone = Arc::new(zone);
        e.zone = Some(zone.clone());
        // Served at once, before the journal's genesis and the file copy
        // are written (a fifth of a 1M-record transfer's time, perf): a
        // crash before they are down costs a new transfer, not data
        // anyone was told was kept. A zone to be signed waits for its
        // signed version.
        let unsigned = e.settings.dnssec.is_none();
        if unsigned {
            service.publish(apex, ZoneState::Ready(zone.clone()));
        }
        if e.journal.is_none() && e.journal_error.is_none() {
            service.attach_journal(&mut e, &via);
        }
        // Signed, or an older journal of this zone made a version of its
        // own: that one is served.
        if let Some(z) = e
            .zone
            .as_ref()
            .filter(|z| !unsigned || !Arc::ptr_eq(z, &zone))
        {
            service.publish(apex, ZoneState::Ready(z.clone()));
        }
        log::info!("secondary zone {name}: serial {} from {via}", e.serial);
    } else {
        service
            .commit(&mut e, next, &via)
            .map_err(|err| err.to_string())?;
        if e.zone.is_none() {
            // Expired, and the primary still has the version we hold.
            let (zone, _) = e
                .records
                .to_zone(apex, &via)
                .map_err(|err| format!("zone from {via} refused: {err}"))?;
            let zone = Arc::new(zone);
            e.zone = Some(zone.clone());
            service.publish(apex, ZoneState::Ready(zone));
        }
    }
    persist(&mut e);
    Ok(format!(
        "serial {} by {via} in {:.1} s",
        e.serial,
        started.elapsed().as_secs_f64()
    ))
}

/// Marks the saved copy as confirmed now: after a restart, EXPIRE counts
/// from the last confirmation, not the last change (as BIND does).
fn touch_saved_copy(entry: &Arc<Mutex<Entry>>) {
    let file = lock_entry(entry).file.clone();
    if let Some(f) = file.and_then(|f| std::fs::File::options().append(true).open(f).ok()) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Writes the secondary's copy to its file now (a restart serves it).
fn persist(e: &mut Entry) {
    let Some(file) = e.file.clone() else { return };
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let header = format!(
        "secondary zone {} serial {}, transferred by rampart",
        e.name, e.serial
    );
    match zone::text::write_zone_file(&file, &e.apex, &e.records, &header) {
        Ok(()) => {
            e.file_state = e.records.clone();
            e.dirty_since = None;
        }
        Err(err) => log::error!(
            "secondary zone {}: cannot save to {}: {err}",
            e.name,
            file.display()
        ),
    }
}

/// A query for the zone's SOA (or a transfer request), signed if `key`.
fn request(
    apex: &[u8],
    qtype: u16,
    ours: Option<&Record>,
    key: Option<&Arc<Key>>,
) -> Result<(u16, Vec<u8>, Option<tsig::Verifier>), String> {
    let id = crate::random_id();
    let mut buf = vec![0u8; 1024];
    let mut resp = Response::new(&mut buf, 1024);
    resp.set_header(id, 0);
    resp.push_question(apex, qtype, class::IN)
        .map_err(|_| "name too long")?;
    if let Some(soa) = ours.filter(|_| qtype == rtype::IXFR) {
        resp.push_record(
            Section::Authority,
            &soa.owner,
            rtype::SOA,
            class::IN,
            soa.ttl,
            &soa.rdata,
        )
        .map_err(|_| "SOA too long")?;
    }
    let mut msg = resp.finish().to_vec();
    msg[2] &= !((flags::QR >> 8) as u8);
    let verifier = match key {
        Some(k) => Some(tsig::sign_request(&mut msg, k, unix_now()).map_err(|_| "cannot sign")?),
        None => None,
    };
    Ok((id, msg, verifier))
}

/// The primary's SOA serial, over UDP (TCP when truncated); over TLS
/// for a primary reached by XoT.
fn soa_query(primary: Primary, apex: &[u8], key: Option<&Arc<Key>>) -> Result<u32, String> {
    let (id, msg, verifier) = request(apex, rtype::SOA, None, key)?;
    if primary.tls.is_some() {
        let mut stream = connect(primary)?;
        send(&mut stream, &msg)?;
        let answer = read_message(&mut stream)?;
        return soa_serial_of(&answer, id, verifier);
    }
    let primary_tls = primary;
    let primary = primary.addr;
    let sock = wire::client::udp_socket_for(primary)
        .map_err(|e| format!("SOA query: local socket: {e}"))?;
    let mut buf = vec![0u8; 65_535];
    let deadline = Instant::now() + SOA_QUERY_TIMEOUT;
    // The answer: from the primary, with our ID (its TSIG and rcode are
    // checked below, once it is taken).
    let n = wire::client::ask_udp(&sock, primary, &msg, deadline, &mut buf, |_| true)
        .map_err(soa_query_failed)?;
    let answer = &buf[..n];
    if answer[2] & 0x02 != 0 {
        // Truncated: ask again over TCP.
        let (id, msg, verifier) = request(apex, rtype::SOA, None, key)?;
        let mut stream = connect(primary_tls)?;
        send(&mut stream, &msg)?;
        let answer = read_message(&mut stream)?;
        return soa_serial_of(&answer, id, verifier);
    }
    soa_serial_of(answer, id, verifier)
}

/// Why the SOA query over UDP got no answer, as the refresh reports it.
fn soa_query_failed(e: AskError) -> String {
    match e {
        AskError::Send(e) => format!("SOA query: send: {e}"),
        AskError::Receive(e) => format!("SOA query: {e}"),
        AskError::Deadline => format!("SOA query: no answer in {} s", SOA_QUERY_TIMEOUT.as_secs()),
    }
}

/// The DS RDATAs a parental agent holds for `apex`, asked over TCP: a
/// key-signing key rollover moves on once the parent has the new key's
/// DS and no longer the old one's.
pub(crate) fn ds_query(agent: SocketAddr, apex: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (id, msg, _) = request(apex, rtype::DS, None, None)?;
    let mut stream = connect(Primary {
        addr: agent,
        tls: None,
    })?;
    send(&mut stream, &msg)?;
    let answer = read_message(&mut stream)?;
    let m = wire::message::parse(&answer).map_err(|e| e.to_string())?;
    if m.header.id != id {
        return Err("answer with the wrong ID".into());
    }
    if m.header.rcode() != 0 {
        return Err(format!("DS query answered with rcode {}", m.header.rcode()));
    }
    Ok(m.section(Section::Answer)
        .filter(|r| r.rtype == rtype::DS && wire::name::eq_ignore_case(&r.owner, apex))
        .map(|r| r.rdata.clone())
        .collect())
}

fn soa_serial_of(answer: &[u8], id: u16, verifier: Option<tsig::Verifier>) -> Result<u32, String> {
    if let Some(mut v) = verifier {
        v.check(answer, unix_now())?;
        v.finish()?;
    }
    let msg = wire::message::parse(answer).map_err(|e| e.to_string())?;
    if msg.header.id != id {
        return Err("answer with the wrong ID".into());
    }
    if msg.header.rcode() != 0 {
        return Err(format!(
            "SOA query answered with rcode {}",
            msg.header.rcode()
        ));
    }
    msg.records
        .iter()
        .find(|r| r.section == Section::Answer && r.rtype == rtype::SOA)
        .and_then(|r| soa_serial(&r.rdata))
        .ok_or_else(|| "no SOA in the answer".to_string())
}

/// A connection to a primary: TCP, or TLS over it.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn connect(primary: Primary) -> Result<Conn, String> {
    let mut stream = TcpStream::connect_timeout(&primary.addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| format!("connect: read timeout: {e}"))?;
    stream
        .set_write_timeout(Some(READ_TIMEOUT))
        .map_err(|e| format!("connect: write timeout: {e}"))?;
    let Some(tls) = primary.tls else {
        return Ok(Conn::Tcp(stream));
    };
    let mut conn =
        rustls::ClientConnection::new(tls.config.clone(), tls.server_name_for(primary.addr.ip()))
            .map_err(|e| format!("TLS: {e}"))?;
    // The handshake now, so a certificate refused says so (not as a
    // failed write of the query).
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, stream))))
}

fn send(stream: &mut Conn, msg: &[u8]) -> Result<(), String> {
    wire::client::write_framed(stream, msg).map_err(|e| format!("send: {e}"))
}

/// One framed message of the primary's: any length a frame can say (a
/// transfer's messages may fill all 64 KB).
fn read_message(stream: &mut Conn) -> Result<Vec<u8>, String> {
    let mut msg = Vec::new();
    wire::client::read_framed(stream, &mut msg, usize::from(u16::MAX))
        .map_err(|e| format!("read: {e}"))?;
    Ok(msg)
}

/// What a transfer brought.
enum Incoming {
    UpToDate,
    /// A whole zone (AXFR, or IXFR answered in AXFR form).
    Full(Vec<Record>),
    /// Difference sequences (removed, added), each with its SOAs.
    Diffs(Vec<(Vec<Record>, Vec<Record>)>),
}

/// Where an IXFR/AXFR stream stands.
enum Stream {
    Start,
    /// Only the first SOA so far.
    First,
    Full,
    Deleting,
    Adding,
    Done,
}

/// Runs one AXFR or IXFR over TCP and reads the stream to its closing SOA.
fn transfer(
    primary: Primary,
    apex: &[u8],
    qtype: u16,
    ours: Option<&Record>,
    key: Option<&Arc<Key>>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Incoming, String> {
    let (id, msg, mut verifier) = request(apex, qtype, ours, key)?;
    let our_serial = ours.and_then(|s| soa_serial(&s.rdata));
    let mut stream = connect(primary)?;
    send(&mut stream, &msg)?;
    let mut state = Stream::Start;
    let mut serial = 0u32;
    let mut full = Vec::new();
    let mut diffs: Vec<(Vec<Record>, Vec<Record>)> = Vec::new();
    let mut first_soa = None;
    let (mut records, mut bytes) = (0usize, 0usize);
    let mut last_report = Instant::now();
    let mut messages = 0usize;
    let deadline = Instant::now() + TRANSFER_DEADLINE;
    while !matches!(state, Stream::Done) {
        if Instant::now() >= deadline {
            return Err(format!(
                "transfer not finished after {} s ({records} records so far)",
                TRANSFER_DEADLINE.as_secs()
            ));
        }
        let raw = read_message(&mut stream)?;
        bytes += raw.len() + 2;
        messages += 1;
        if let Some(v) = verifier.as_mut() {
            v.check(&raw, unix_now())?;
        }
        let msg = wire::message::parse(&raw).map_err(|e| e.to_string())?;
        if msg.header.id != id {
            return Err("message with the wrong ID".into());
        }
        if msg.header.rcode() != 0 {
            return Err(format!(
                "{} refused with rcode {}",
                if qtype == rtype::IXFR { "IXFR" } else { "AXFR" },
                msg.header.rcode()
            ));
        }
        let answers: Vec<_> = msg
            .records
            .into_iter()
            .filter(|r| r.section == Section::Answer)
            .collect();
        let in_message = answers.len();
        for rr in answers {
            if rr.class != class::IN {
                return Err(format!("record of class {} in the transfer", rr.class));
            }
            let mut r = Record {
                owner: rr.owner.into_boxed_slice(),
                rtype: rr.rtype,
                ttl: rr.ttl,
                rdata: rr.rdata.into_boxed_slice(),
            };
            normalize(&mut r);
            if !wire::name::is_subdomain(&r.owner, apex) {
                return Err(format!(
                    "record {} outside the zone",
                    wire::name::to_text(&r.owner)
                ));
            }
            records += 1;
            if records > MAX_TRANSFER_RECORDS {
                return Err(format!(
                    "transfer stopped after {MAX_TRANSFER_RECORDS} records ({bytes} bytes): \
                     more than a zone should hold"
                ));
            }
            let is_soa = r.rtype == rtype::SOA && *r.owner == *apex;
            let this_serial = if is_soa { soa_serial(&r.rdata) } else { None };
            state = match state {
                Stream::Start => {
                    let s = this_serial.ok_or("the transfer does not start with the SOA")?;
                    serial = s;
                    first_soa = Some(r);
                    Stream::First
                }
                Stream::First if is_soa && qtype == rtype::IXFR => {
                    diffs.push((vec![r], Vec::new()));
                    Stream::Deleting
                }
                Stream::First => {
                    full.extend(first_soa.take());
                    if is_soa {
                        Stream::Done
                    } else {
                        full.push(r);
                        Stream::Full
                    }
                }
                Stream::Full if is_soa => Stream::Done,
                Stream::Full => {
                    full.push(r);
                    Stream::Full
                }
                Stream::Deleting if is_soa => {
                    if let Some(d) = diffs.last_mut() {
                        d.1.push(r);
                    }
                    Stream::Adding
                }
                Stream::Deleting => {
                    if let Some(d) = diffs.last_mut() {
                        d.0.push(r);
                    }
                    Stream::Deleting
                }
                Stream::Adding if this_serial == Some(serial) => Stream::Done,
                Stream::Adding if is_soa => {
                    diffs.push((vec![r], Vec::new()));
                    Stream::Deleting
                }
                Stream::Adding => {
                    if let Some(d) = diffs.last_mut() {
                        d.1.push(r);
                    }
                    Stream::Adding
                }
                Stream::Done => return Err("records after the closing SOA".into()),
            };
        }
        // An IXFR answered with the SOA alone: nothing newer (a newer
        // serial alone in the first message is a one-record-per-message
        // stream that goes on).
        if matches!(state, Stream::First)
            && messages == 1
            && in_message == 1
            && qtype == rtype::IXFR
            && our_serial.is_some_and(|o| !serial_gt(serial, o))
        {
            if let Some(v) = &verifier {
                v.finish()?;
            }
            return Ok(Incoming::UpToDate);
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            progress(records, bytes);
            last_report = Instant::now();
        }
    }
    if let Some(v) = &verifier {
        v.finish()?;
    }
    progress(records, bytes);
    if diffs.is_empty() {
        Ok(Incoming::Full(full))
    } else {
        Ok(Incoming::Diffs(diffs))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn soa_timers_read_refresh_retry_expire() {
        let mut rdata = b"\x02ns\x00\x01h\x00".to_vec();
        for v in [7u32, 3600, 600, 86400, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(super::soa_timers(&rdata), Some((3600, 600, 86400)));
        assert_eq!(super::soa_timers(&rdata[..10]), None);
    }
}
