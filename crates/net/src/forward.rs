//! Forwarding to backends (dnsdist's UDP path): one socket per backend,
//! query IDs rewritten into a table of in-flight queries, one responder
//! thread per backend that restores the ID and answers the client from the
//! socket the query came in on. A health-check thread per backend marks it
//! up and down. Both threads end when the backend is no longer in use
//! (their handle is the last one holding it).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pool::Backend;
use shield::Runtime;

use crate::datagrams::ANSWER_BATCH;

/// An in-flight query.
struct Slot {
    client: SocketAddr,
    /// The client's ID, and the one the backend was sent.
    id: u16,
    backend_id: u16,
    frontend: Arc<UdpSocket>,
    /// The address the client sent its query to: the answer's source.
    from: crate::reply_from::ReplyFrom,
    qtype: u16,
    /// The flags the client sent: its answer gets its RD and CD back.
    client_flags: u16,
    /// Hold the answer this long (DelayAction).
    delay_ms: Option<u32>,
    name_len: u8,
    /// The query name as the client wrote it (fixupCase puts it back).
    name: [u8; 255],
    /// Where to keep the answer, with the rest of its cache key.
    cache: Option<CacheSlot>,
    /// The ECS option added to the query, to take out of the answer.
    ecs: wire::ecs::Added,
}

impl Slot {
    /// What the answer to `sent` (the query as it goes to the backend)
    /// needs: whom to answer, from where, and how to put it back.
    fn new(
        client: SocketAddr,
        (sent, backend_id): (&[u8], u16),
        (frontend, from): (&Arc<UdpSocket>, &crate::reply_from::ReplyFrom),
        asked: Question,
        cache: Option<CacheSlot>,
        ecs: wire::ecs::Added,
    ) -> Slot {
        let name_len = asked.qname.len().min(255);
        let mut slot = Slot {
            client,
            id: u16::from_be_bytes([sent[0], sent[1]]),
            backend_id,
            frontend: frontend.clone(),
            from: *from,
            qtype: asked.qtype,
            client_flags: asked.client_flags,
            delay_ms: asked.delay_ms,
            name_len: name_len as u8,
            name: [0; 255],
            cache,
            ecs,
        };
        slot.name[..name_len].copy_from_slice(&asked.qname[..name_len]);
        slot
    }
}

/// The cache an answer goes into, and the parts of its key the slot
/// lacks ([`pool::CacheKey`]).
pub struct CacheSlot {
    pub cache: Arc<pool::PacketCache>,
    pub qclass: u16,
    pub flags: u16,
    pub edns: bool,
    pub dnssec_ok: bool,
    pub options: u64,
    /// The options digest to keep an answer of ECS scope 0 under, when
    /// it may be kept for every client ([`crate::ecs_plan`]).
    pub zero_scope: Option<u64>,
    /// A rule's TTL for a SERVFAIL/REFUSED answer.
    pub temp_failure_ttl: Option<u32>,
}

impl CacheSlot {
    /// The options digest `answer` (as the backend sent it, its ECS
    /// option still in) is kept under.
    pub fn options_for(&self, answer: &[u8]) -> u64 {
        match self.zero_scope {
            Some(every) if wire::ecs::scope(answer) == Some(0) => every,
            _ => self.options,
        }
    }
}

/// What a forwarded query asked, as the answer needs it.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The query name as the client wrote it.
    pub qname: &'a [u8],
    pub qtype: u16,
    /// The header flags the client sent (rules may have changed the
    /// query's): its answer gets its RD and CD back.
    pub client_flags: u16,
    /// Hold the answer this long (DelayAction).
    pub delay_ms: Option<u32>,
    /// When the query came in ([`shield::qps::now_ns`]): the backend's
    /// latency is counted from here (no second clock read per query).
    pub started_ns: u64,
}

/// The UDP forwarder of one backend.
pub struct UdpForwarder {
    pub backend: Arc<Backend>,
    socket: UdpSocket,
    slots: crate::inflight::Table<Slot>,
    next: AtomicU16,
}

impl std::fmt::Debug for UdpForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpForwarder({})", self.backend.addr)
    }
}

/// How long a forwarded query waits for its answer (`setUDPTimeout`).
pub const DEFAULT_UDP_TIMEOUT: Duration = Duration::from_secs(2);

impl UdpForwarder {
    /// Opens the backend's socket and starts its responder and health
    /// check threads.
    pub fn start(
        backend: Arc<Backend>,
        runtime: Arc<Runtime>,
        (timeout, outstanding): (Duration, usize),
    ) -> io::Result<Arc<UdpForwarder>> {
        let local: SocketAddr = if backend.addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(io::Error::other)?;
        let socket = UdpSocket::bind(local)?;
        socket.connect(backend.addr)?;
        socket.set_read_timeout(Some(Duration::from_millis(250)))?;
        let fwd = Arc::new(UdpForwarder {
            backend: backend.clone(),
            socket,
            slots: crate::inflight::Table::new(outstanding),
            next: AtomicU16::new(wire::random::fast() as u16),
        });
        let f = fwd.clone();
        std::thread::Builder::new()
            .name(format!("fwd-{}", backend.addr))
            .spawn(move || f.respond_loop(&runtime, timeout))?;
        let b = backend.clone();
        std::thread::Builder::new()
            .name(format!("health-{}", backend.addr))
            .spawn(move || health_loop(&b))?;
        Ok(fwd)
    }

    /// Sends `query` from `client` to the backend; the answer will go out
    /// through `frontend`. False if it could not be sent.
    pub fn forward(
        &self,
        query: &[u8],
        client: SocketAddr,
        (frontend, from): (&Arc<UdpSocket>, &crate::reply_from::ReplyFrom),
        asked: Question,
        cache: Option<CacheSlot>,
        ecs: crate::ecs_plan::EcsPlan,
    ) -> bool {
        let mut with_ecs = Vec::new();
        let Some((query, ecs_added)) = ecs.apply(query, &mut with_ecs) else {
            return false;
        };
        if query.len() < 12 || query.len() > 4096 {
            return false;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let started = asked.started_ns;
        let slot = Slot::new(
            client,
            (query, id),
            (frontend, from),
            asked,
            cache,
            ecs_added,
        );
        if self.slots.put(id, slot, started) == crate::inflight::Put::Replaced {
            // The table is full (setMaxUDPOutstanding): the oldest is
            // given up.
            self.backend.timed_out();
        }
        self.backend.sent();
        let id = id.to_be_bytes();
        if queue(&self.socket, &id, &query[2..]) {
            return true;
        }
        // The backend's ID, then the query after the client's: no copy.
        let parts = [
            std::io::IoSlice::new(&id),
            std::io::IoSlice::new(&query[2..]),
        ];
        let sent = socket2::SockRef::from(&self.socket)
            .send_vectored(&parts)
            .is_ok();
        if !sent {
            self.backend.send_failed();
        }
        sent
    }

    fn respond_loop(&self, runtime: &Runtime, timeout: Duration) {
        let mut batch = AnswerBatch::new();
        let mut last_sweep = Instant::now();
        loop {
            // The forwarder and this thread are the only holders left: the
            // backend was removed; stop.
            if Arc::strong_count(&self.backend) <= 2 {
                return;
            }
            let received = batch.receive(&self.socket);
            // One clock read for the batch: every answer in it has come.
            let now = shield::qps::now_ns();
            for i in 0..received {
                let (buf, n) = batch.answer(i);
                if n < 12 {
                    continue;
                }
                // Backend bytes go through rules and the cache: a bug there
                // must cost one answer, not this backend's responder (the
                // health checks would keep it "up").
                let relayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.relay(buf, n, runtime, now)
                }));
                match relayed {
                    // Held back: the delay thread sends it when due.
                    Ok(Some(to)) => match (to.delay_ms, crate::delay::shared()) {
                        (Some(ms), Some(delayer)) => {
                            let bytes = &buf[..to.len];
                            delayer.send_later(&to.frontend, to.from, to.client, bytes, ms);
                        }
                        _ => batch.reply(i, to),
                    },
                    Ok(None) => {}
                    Err(_) => log::error!(
                        "an answer from {} could not be relayed (internal error)",
                        self.backend.addr
                    ),
                }
            }
            batch.send_replies();
            if last_sweep.elapsed() >= Duration::from_millis(500) {
                last_sweep = Instant::now();
                self.sweep(timeout);
            }
        }
    }

    /// Readies a backend answer in `buf` for its client: where it goes,
    /// or `None` if it goes nowhere.
    fn relay(&self, buf: &mut [u8], n: usize, runtime: &Runtime, now: u64) -> Option<Reply> {
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let rules = runtime.response_rules.load();
        let allow_empty = rules.allow_empty_response;
        // IDs are sequential and slots are reused: an answer that comes
        // late, or a forged one, must carry this slot's ID and question to
        // be relayed (and cached); otherwise the slot waits for its own.
        let (slot, sent) = self.slots.take_if(id, |s| {
            s.backend_id == id
                && answers(
                    &buf[..n],
                    &s.name[..usize::from(s.name_len)],
                    s.qtype,
                    allow_empty,
                )
        })?;
        let latency_us = now.saturating_sub(sent) / 1000;
        self.backend.answered(latency_us, buf[3] & 0xf);
        finish(slot, buf, n, runtime, &rules, latency_us)
    }

    /// Gives up on queries older than `timeout`.
    fn sweep(&self, timeout: Duration) {
        let cutoff = shield::qps::now_ns().saturating_sub(timeout.as_nanos() as u64);
        for _ in 0..self.slots.expire(cutoff) {
            self.backend.timed_out();
        }
    }
}

/// The rest of relaying a backend's answer in `buf[..n]` to the UDP
/// client of `slot` (its ID back, ECS out, flags and case restored,
/// response rules, the cache): where it goes, or `None` if nowhere.
fn finish(
    slot: Slot,
    buf: &mut [u8],
    n: usize,
    runtime: &Runtime,
    rules: &shield::response::ResponseChain,
    latency_us: u64,
) -> Option<Reply> {
    buf[..2].copy_from_slice(&slot.id.to_be_bytes());
    // The name as the client wrote it, and lowercase.
    let qname = &slot.name[..usize::from(slot.name_len)];
    let mut lower = [0u8; wire::name::MAX_NAME_LEN];
    let lname = wire::name::to_lowercase(qname, &mut lower);
    let options = slot.cache.as_ref().map(|c| c.options_for(&buf[..n]));
    let mut len = wire::ecs::undo(buf, n, slot.ecs);
    shield::edits::restore_flags(&mut buf[..len], slot.client_flags);
    rules.fix_case(&mut buf[..len], qname);
    let latency_us = latency_us.min(u64::from(u32::MAX)) as u32;
    let crate::pipeline::Relay::Send { delay_ms, cache } = crate::pipeline::backend_answer(
        rules,
        runtime,
        slot.client,
        false,
        lname,
        slot.qtype,
        buf,
        &mut len,
        latency_us,
    ) else {
        return None;
    };
    if let (Some(c), Some(options)) = (slot.cache.as_ref().filter(|_| cache), options) {
        let key = pool::CacheKey {
            lname,
            qtype: slot.qtype,
            qclass: c.qclass,
            flags: c.flags,
            edns: c.edns,
            dnssec_ok: c.dnssec_ok,
            tcp: false,
            options,
        };
        c.cache.insert_with(&key, &buf[..len], c.temp_failure_ttl);
    }
    Some(Reply {
        len,
        // A response rule's delay replaces the query's (dnsdist's).
        delay_ms: delay_ms.or(slot.delay_ms),
        frontend: slot.frontend,
        from: slot.from,
        client: slot.client,
    })
}

/// A UDP client's query for a TLS backend (dnsdist forwards UDP queries
/// to TCP-only backends over TCP): asked over the backend's kept TLS
/// session on the stream runtime, the answer sent back over UDP as a
/// UDP backend's would be (truncated to the question, TC set, when it
/// does not fit the client's payload size). False if it could not be
/// handed over (no stream runtime: the caller sends TC instead).
#[allow(clippy::too_many_arguments)]
pub fn forward_over_stream(
    backend: &Arc<Backend>,
    runtime: &Arc<Runtime>,
    query: &[u8],
    client: SocketAddr,
    (frontend, from): (&Arc<UdpSocket>, &crate::reply_from::ReplyFrom),
    asked: Question,
    cache: Option<CacheSlot>,
    ecs: crate::ecs_plan::EcsPlan,
    (limit, timeout): (usize, Duration),
) -> bool {
    let Some(rt) = crate::tls_forward::STREAM_RUNTIME.get() else {
        return false;
    };
    let mut with_ecs = Vec::new();
    let Some((sent, ecs_added)) = ecs.apply(query, &mut with_ecs) else {
        return true;
    };
    if sent.len() < 12 {
        return true;
    }
    let id = u16::from_be_bytes([sent[0], sent[1]]);
    let started = asked.started_ns;
    // The question the answer must carry, where it is in what is sent.
    let (qname_len, qtype) = (asked.qname.len(), asked.qtype);
    let slot = Slot::new(
        client,
        (sent, id),
        (frontend, from),
        asked,
        cache,
        ecs_added,
    );
    let (backend, runtime, sent) = (backend.clone(), runtime.clone(), sent.to_vec());
    rt.spawn(async move {
        let mut out = vec![0u8; crate::buffers::MAX_MESSAGE];
        let Some(qname) = sent.get(12..12 + qname_len) else {
            return;
        };
        let expect = Expected {
            id: [sent[0], sent[1]],
            qname,
            qtype,
            allow_empty: runtime.response_rules.load().allow_empty_response,
        };
        let origin = Origin {
            client,
            proto: "dns-over-udp",
        };
        let Some(n) = tcp_exchange(&backend, &sent, &mut out, timeout, (expect, origin)).await
        else {
            return;
        };
        let rules = runtime.response_rules.load();
        let latency_us = shield::qps::now_ns().saturating_sub(started) / 1000;
        let Some(reply) = finish(slot, &mut out, n, &runtime, &rules, latency_us) else {
            return;
        };
        let mut len = reply.len;
        if len > limit.max(512) {
            len = wire::edit::truncate_to_question(&mut out, len);
            out[2] |= 0x02;
        }
        match (reply.delay_ms, crate::delay::shared()) {
            (Some(ms), Some(delayer)) => {
                delayer.send_later(&reply.frontend, reply.from, reply.client, &out[..len], ms);
            }
            _ => {
                let _ = reply.from.send(&reply.frontend, &out[..len], reply.client);
            }
        }
    });
    true
}

thread_local! {
    /// Queries forwarded while this thread handles a batch of datagrams,
    /// if it is a UDP worker ([`queue_on_this_thread`]).
    static OUTBOX: std::cell::RefCell<Option<Outbox>> = const { std::cell::RefCell::new(None) };
}

/// Queries waiting to be sent together: their bytes back to back, and
/// each one's backend socket and place. A UDP worker keeps one per
/// thread ([`queue_on_this_thread`], [`send_queued`]); each DoH/DoQ
/// asker keeps one for its backend ([`crate::udp_ask`]).
#[derive(Default)]
pub(crate) struct Outbox {
    bytes: Vec<u8>,
    queued: Vec<(std::os::fd::RawFd, std::ops::Range<usize>)>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the headers point into `iovs` and the iovecs into `bytes`,
// set just before the `sendmmsg` that uses them; between sends they are
// stale and never read.
unsafe impl Send for Outbox {}

impl Outbox {
    /// Queues `id` + `rest` for the socket `fd`.
    pub(crate) fn push(&mut self, fd: std::os::fd::RawFd, id: &[u8], rest: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(id);
        self.bytes.extend_from_slice(rest);
        self.queued.push((fd, start..self.bytes.len()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Sends what is queued, one `sendmmsg` per run for the same socket,
    /// and empties the box (keeping its room); each query the kernel did
    /// not take goes to `failed`. Each socket must still be open: the
    /// caller holds what owns it.
    pub(crate) fn send(&mut self, failed: &mut dyn FnMut(&[u8])) {
        if self.queued.is_empty() {
            return;
        }
        let Outbox {
            bytes,
            queued,
            iovs,
            msgs,
        } = self;
        // One run per backend socket, each keeping its queries' order
        // (round robin alternates between backends query by query).
        queued.sort_by_key(|(fd, _)| *fd);
        // The byte buffer no longer grows: point into it now.
        iovs.clear();
        for (_, range) in queued.iter() {
            iovs.push(libc::iovec {
                iov_base: bytes[range.clone()].as_mut_ptr().cast(),
                iov_len: range.len(),
            });
        }
        let mut first = 0;
        while first < queued.len() {
            let fd = queued[first].0;
            let count = queued[first..].iter().take_while(|(f, _)| *f == fd).count();
            msgs.clear();
            for iov in &mut iovs[first..first + count] {
                // SAFETY: all-zero is a valid mmsghdr; the iovec it points
                // at lives in `iovs` until after the call.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                msgs.push(m);
            }
            // SAFETY: the headers point at iovecs (in `iovs`, over
            // `bytes`), all alive and unmoved for the call; the socket is
            // connected.
            let run = &queued[first..first + count];
            unsafe { crate::udp::send_all(fd, msgs, &mut |i| failed(&bytes[run[i].1.clone()])) };
            first += count;
        }
        bytes.clear();
        queued.clear();
    }
}

/// Makes this thread keep the queries it forwards until [`send_queued`]:
/// a UDP worker sends a batch's worth to a backend with one `sendmmsg`
/// instead of one `send` each.
pub fn queue_on_this_thread() {
    OUTBOX.with(|o| *o.borrow_mut() = Some(Outbox::default()));
}

/// Queues `id` + `rest` for `socket` if this thread queues; false if not.
fn queue(socket: &UdpSocket, id: &[u8], rest: &[u8]) -> bool {
    use std::os::fd::AsRawFd;
    OUTBOX.with(|o| match o.borrow_mut().as_mut() {
        Some(out) => {
            out.push(socket.as_raw_fd(), id, rest);
            true
        }
        None => false,
    })
}

/// Sends the queries this thread queued, one `sendmmsg` per run for the
/// same backend. The caller must still hold the snapshot whose
/// forwarders own the sockets, so none has been closed.
pub fn send_queued() {
    OUTBOX.with(|o| {
        if let Some(out) = o.borrow_mut().as_mut() {
            // A query that cannot be sent waits out its timeout, as one
            // lost on the way would (the UDP path counts it there).
            out.send(&mut |_| {});
        }
    });
}

/// Where a relayed answer goes: its length in its buffer, the socket
/// the query came in on, the source address to use and the client.
struct Reply {
    len: usize,
    delay_ms: Option<u32>,
    frontend: Arc<UdpSocket>,
    from: crate::reply_from::ReplyFrom,
    client: SocketAddr,
}

/// Answers read from a backend socket together, and relayed together: one
/// `recvmmsg` takes what has queued up while the last ones were relayed,
/// and one `sendmmsg` per frontend socket sends them on (a datagram costs
/// its system calls more than its copy).
struct AnswerBatch {
    received: crate::datagrams::Received,
    /// Per buffer, the reply readied from it, with its client's address.
    replies: Vec<Option<(Reply, socket2::SockAddr)>>,
    /// The headers of one `sendmmsg`.
    out: Vec<libc::mmsghdr>,
}

impl AnswerBatch {
    fn new() -> AnswerBatch {
        AnswerBatch {
            received: crate::datagrams::Received::new(ANSWER_BATCH),
            replies: (0..ANSWER_BATCH).map(|_| None).collect(),
            out: Vec::with_capacity(ANSWER_BATCH),
        }
    }

    /// Waits (up to the socket's read timeout) for at least one answer
    /// and takes every one queued behind it; how many.
    fn receive(&mut self, socket: &UdpSocket) -> usize {
        use std::os::fd::AsRawFd;
        self.received
            .receive(socket.as_raw_fd(), libc::MSG_WAITFORONE)
            .unwrap_or(0)
    }

    /// Answer `i` of the last `receive`: its buffer and length.
    fn answer(&mut self, i: usize) -> (&mut [u8], usize) {
        self.received.get_mut(i)
    }

    /// Queues buffer `i`, readied as `reply` says, for `send_replies`.
    fn reply(&mut self, i: usize, reply: Reply) {
        let addr = socket2::SockAddr::from(reply.client);
        self.replies[i] = Some((reply, addr));
    }

    /// Sends the queued replies: one `sendmmsg` per frontend socket.
    fn send_replies(&mut self) {
        let mut order = [0usize; ANSWER_BATCH];
        let mut queued = 0;
        for i in 0..ANSWER_BATCH {
            if self.replies[i].is_some() {
                order[queued] = i;
                queued += 1;
            }
        }
        let frontend = |r: &Option<(Reply, socket2::SockAddr)>| {
            r.as_ref()
                .map_or(0, |(r, _)| Arc::as_ptr(&r.frontend) as usize)
        };
        // Workers have a socket each: group by socket, keeping order.
        order[..queued].sort_by_key(|&i| frontend(&self.replies[i]));
        let mut first = 0;
        while first < queued {
            let socket = frontend(&self.replies[order[first]]);
            let count = order[first..queued]
                .iter()
                .take_while(|&&i| frontend(&self.replies[i]) == socket)
                .count();
            self.out.clear();
            for &i in &order[first..first + count] {
                let Some(len) = self.replies[i].as_ref().map(|(r, _)| r.len) else {
                    continue;
                };
                self.received.point(i, len);
                let mut h = self.received.header(i);
                if let Some((reply, addr)) = &self.replies[i] {
                    h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
                    h.msg_hdr.msg_namelen = addr.len();
                    if let Some((control, clen)) = reply.from.control() {
                        h.msg_hdr.msg_control = control;
                        h.msg_hdr.msg_controllen = clen as _;
                    }
                }
                self.out.push(h);
            }
            if let Some((reply, _)) = &self.replies[order[first]] {
                use std::os::fd::AsRawFd;
                // SAFETY: each header points at a buffer in `bufs`, an
                // address and a control message in `replies`, none of
                // which moves or is dropped before the call returns.
                unsafe {
                    crate::udp::send_all(reply.frontend.as_raw_fd(), &mut self.out, &mut |_| {})
                };
            }
            first += count;
        }
        for r in &mut self.replies {
            *r = None;
        }
    }
}

/// Health checks, as dnsdist does them: a query every interval, down
/// after `max_failures` misses in a row, up after `rise` answers. In lazy
/// mode only while real queries are failing, and every
/// `lazyHealthCheckFailedInterval` while down.
fn health_loop(b: &Arc<Backend>) {
    let mut failures = 0u32;
    let mut successes = 0u32;
    let interval = Duration::from_millis(b.check.interval_ms.max(50));
    loop {
        if Arc::strong_count(b) <= 2 {
            return;
        }
        if !b.wants_check() {
            failures = 0;
            successes = 0;
            std::thread::sleep(interval);
            continue;
        }
        let started = Instant::now();
        let ok = check_once(b);
        // setVerboseHealthChecks (or -v) shows every result.
        log::debug!(
            target: "health",
            "Health check of downstream {} ({}): {}",
            b.name,
            b.addr,
            if ok { "succeeded" } else { "failed" }
        );
        if ok {
            // Health checks keep the latency current for a server that
            // gets no traffic (one kept out of rotation for being slow).
            b.observe_latency(started.elapsed().as_micros() as u64);
        }
        if ok {
            successes += 1;
            failures = 0;
            if !b.healthy() && successes >= b.check.rise && b.set_healthy(true).is_some() {
                log::info!("Marking downstream {} ({}) as 'up'", b.name, b.addr);
            }
            if b.healthy() && successes >= b.check.rise {
                b.lazy_recovered();
            }
        } else {
            b.conns
                .health_check_failures
                .fetch_add(1, Ordering::Relaxed);
            failures += 1;
            successes = 0;
            if b.healthy() && failures >= b.check.max_failures && b.set_healthy(false).is_some() {
                log::warn!("Marking downstream {} ({}) as 'down'", b.name, b.addr);
            }
        }
        let pause = match &b.check.lazy {
            Some(lazy) if !b.healthy() => {
                Duration::from_millis(lazy.down_interval_ms(failures).max(50))
            }
            _ => interval,
        };
        std::thread::sleep(pause);
    }
}

/// One health-check query; whether the backend answered acceptably.
pub fn check_once(b: &Backend) -> bool {
    if let Some(tls) = &b.tls {
        let q = check_query(b, wire::random::fast() as u16);
        let timeout = Duration::from_millis(b.check.timeout_ms.max(1));
        return crate::tls_forward::check(b, tls, &q, timeout)
            .is_some_and(|a| a.len() >= 12 && a[2] & 0x80 != 0 && check_rcode_ok(b, a[3] & 0xf));
    }
    let Ok(sock) = wire::client::udp_socket_for(b.addr) else {
        return false;
    };
    // Connected: the kernel drops datagrams from elsewhere, and a closed
    // port fails the check at once instead of at its timeout.
    if sock.connect(b.addr).is_err() {
        return false;
    }
    let id = wire::random::fast() as u16;
    let q = check_query(b, id);
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(b.check.timeout_ms.max(1));
    // The answer: with our ID and the response bit (ask_udp takes only
    // datagrams of a header's length, so byte 2 is there).
    let answered =
        wire::client::ask_udp(&sock, b.addr, &q, deadline, &mut buf, |a| a[2] & 0x80 != 0);
    answered.is_ok_and(|_| check_rcode_ok(b, buf[3] & 0xf))
}

/// The health-check query of `b`, with ID `id`.
fn check_query(b: &Backend, id: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&b.check.flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&b.check.name);
    q.extend_from_slice(&b.check.qtype.to_be_bytes());
    q.extend_from_slice(&b.check.qclass.to_be_bytes());
    q
}

/// Whether a check answer's rcode passes (`mustResolve`: not SERVFAIL,
/// NXDOMAIN or REFUSED).
fn check_rcode_ok(b: &Backend, rcode: u8) -> bool {
    !b.check.must_resolve || !matches!(rcode, 2 | 3 | 5)
}

/// A TCP exchange with a backend for a TCP client: send the framed query
/// on an idle connection to the backend if there is one, else on a new
/// one; read the framed answer into `out`. The answer's length.
pub async fn tcp_exchange(
    b: &Backend,
    query: &[u8],
    out: &mut [u8],
    timeout: Duration,
    (expect, origin): (Expected<'_>, Origin),
) -> Option<usize> {
    let started = Instant::now();
    b.sent();
    let framed = wire::client::frame(query).ok()?;
    let result = tokio::time::timeout(timeout, async {
        if let Some(tls) = &b.tls {
            // Boxed: a TLS or HTTP/2 exchange's state is some 8 KB, and
            // inline it would be in every stream query's future (copied
            // and allocated per DoH request) whatever its backend.
            return Box::pin(crate::tls_forward::exchange(
                b,
                tls,
                &framed,
                out,
                (expect, origin),
            ))
            .await;
        }
        // A kept connection may have been closed by the backend since
        // (idle timeout): then it fails at once and a new one is tried.
        if let Some(mut s) = crate::kept_tcp::take(b.addr) {
            b.conns.reused.fetch_add(1, Ordering::Relaxed);
            if let Some(len) = stream_ask(&mut s, &framed, out, expect).await {
                crate::kept_tcp::keep(b.addr, s);
                return Some(len);
            }
        }
        let mut s = tokio::net::TcpStream::connect(b.addr).await.ok()?;
        b.conns.new.fetch_add(1, Ordering::Relaxed);
        let _ = s.set_nodelay(true);
        let len = stream_ask(&mut s, &framed, out, expect).await?;
        crate::kept_tcp::keep(b.addr, s);
        Some(len)
    })
    .await
    .ok()
    .flatten();
    match result {
        Some(len) => {
            b.answered(started.elapsed().as_micros() as u64, out[3] & 0xf);
            Some(len)
        }
        None => {
            b.timed_out();
            None
        }
    }
}

/// Who asked a query that goes to a backend over a stream, for a DoH
/// backend that is told (`addXForwardedHeaders`).
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub client: SocketAddr,
    /// How the client asked, in dnsdist's X-Forwarded-Proto words.
    pub proto: &'static str,
}

impl Origin {
    /// A query that came over a stream: TCP, DoT, or DoH (cleartext or
    /// not).
    pub fn of_stream(
        client: SocketAddr,
        stream: Option<&shield::stream_info::StreamInfo>,
    ) -> Origin {
        let proto = match stream {
            None => "dns-over-tcp",
            Some(s) => match &s.http {
                None => "dns-over-tls",
                Some(h) if h.scheme == "https" => "dns-over-https",
                Some(_) => "dns-over-http",
            },
        };
        Origin { client, proto }
    }
}

/// Whether `answer` answers the question (`lname`, `qtype`): it carries
/// that question, or none at all with an error rcode (other than
/// NXDOMAIN) or TC, as a backend's FORMERR or NOTIMP may, which dnsdist
/// relays too.
pub(crate) fn answers(answer: &[u8], lname: &[u8], qtype: u16, allow_empty: bool) -> bool {
    if answer.len() >= 12 && answer[4..6] == [0, 0] {
        let rcode = answer[3] & 0x0f;
        let truncated = answer[2] & 0x02 != 0;
        return allow_empty || truncated || !matches!(rcode, 0 | 3);
    }
    wire::query::has_question(answer, lname, qtype, None)
}

/// What a backend's answer must carry to be the answer to a query: the
/// query's ID and question. Made from what the query path parsed, so an
/// answer is checked without parsing the query again.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'q> {
    pub id: [u8; 2],
    /// The query name as sent (compared ignoring case).
    pub qname: &'q [u8],
    pub qtype: u16,
    /// An answer with no question may do ([`answers`]).
    pub allow_empty: bool,
}

impl<'q> Expected<'q> {
    /// What answers `query` (parsed here: for queries no path parsed
    /// before, such as a health check's); `None` if it is no query.
    pub fn of(query: &'q [u8], allow_empty: bool) -> Option<Self> {
        let q = wire::Query::parse(query).ok()?;
        Some(Expected {
            id: [query[0], query[1]],
            qname: q.qname,
            qtype: q.qtype,
            allow_empty,
        })
    }

    /// Whether `answer` is the answer (same ID, same question).
    pub fn answered_by(&self, answer: &[u8]) -> bool {
        answer.len() >= 12
            && answer[..2] == self.id
            && answers(answer, self.qname, self.qtype, self.allow_empty)
    }
}

/// One framed query and its framed answer on a connection (TCP or TLS).
pub(crate) async fn stream_ask<S>(
    s: &mut S,
    framed: &[u8],
    out: &mut [u8],
    expect: Expected<'_>,
) -> Option<usize>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(framed).await.ok()?;
    // The length and the answer come in one read as a rule: read both
    // into `out`, then move the answer over the length (one system call
    // per answer where two reads took two).
    let mut have = 0;
    while have < 2 {
        match s.read(out.get_mut(have..)?).await.ok()? {
            0 => return None,
            n => have += n,
        }
    }
    let len = usize::from(u16::from_be_bytes([out[0], out[1]]));
    // More than the answer: the connection is out of step.
    if have > 2 + len {
        return None;
    }
    out.copy_within(2..have, 0);
    s.read_exact(out.get_mut(have - 2..len)?).await.ok()?;
    // Not the answer to this query: the connection is out of step.
    expect.answered_by(&out[..len]).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::{answers, stream_ask, Expected};

    /// A backend's framed answer is read whole however its bytes arrive
    /// (here the length split across writes), and one followed by more
    /// bytes (the connection out of step) is refused.
    #[test]
    fn a_streamed_answer_is_read_whole_and_one_out_of_step_refused() {
        use tokio::io::AsyncWriteExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        let mut answer = query.clone();
        answer[2] = 0x81;
        let framed = wire::client::frame(&answer).unwrap();
        let expect = Expected::of(&query, false).unwrap();
        let framed_query = wire::client::frame(&query).unwrap();
        rt.block_on(async {
            let (mut ours, mut backend) = tokio::io::duplex(65536);
            let chunks = [&framed[..1], &framed[1..5], &framed[5..]].map(<[u8]>::to_vec);
            let writer = tokio::spawn(async move {
                for c in chunks {
                    backend.write_all(&c).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                backend
            });
            let mut out = vec![0u8; 65535];
            let len = stream_ask(&mut ours, &framed_query, &mut out, expect).await;
            assert_eq!(len, Some(answer.len()));
            assert_eq!(out[..answer.len()], answer[..]);
            let mut backend = writer.await.unwrap();

            // The answer and three bytes more, there before the read.
            backend.write_all(&framed).await.unwrap();
            backend.write_all(&[1, 2, 3]).await.unwrap();
            let len = stream_ask(&mut ours, &framed_query, &mut out, expect).await;
            assert_eq!(len, None, "bytes past the answer: out of step");
        });
    }

    #[test]
    fn an_answer_must_carry_the_question_it_claims_to_answer() {
        let mut a = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        a.extend_from_slice(b"\x03WWW\x07example\x00\x00\x01\x00\x01");
        let name = b"\x03www\x07example\x00";
        assert!(answers(&a, name, 1, false), "case does not matter");
        assert!(!answers(&a, name, 28, false), "another type");
        assert!(
            !answers(&a, b"\x03ftp\x07example\x00", 1, false),
            "another name"
        );
        assert!(!answers(&a[..20], name, 1, false), "cut short");
        a[5] = 0;
        assert!(!answers(&a, name, 1, false), "no question");
        assert!(
            answers(&a[..12], name, 1, true),
            "no question, NOERROR: only with setAllowEmptyResponse"
        );
        a[3] = 0x81; // FORMERR
        assert!(
            answers(&a[..12], name, 1, false),
            "an error without the question"
        );
    }
}
