//! The query path allocates nothing on its forwarding branch either: a
//! counting global allocator watches `pipeline::handle` forward queries
//! to a backend (as a UDP worker does, batched) and the backend's
//! responder relay the answers to the client. `zone/tests/no_alloc.rs`
//! covers the zone branch.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use net::pipeline::{handle, Handled};
use net::reply_from::ReplyFrom;
use zone::Transport;

struct Counting;

/// Allocations by every thread while `COUNTING` is on: the responder
/// thread relays answers on its own thread, and the other threads of this
/// test (the backend below, the health check, which is switched off) do
/// not allocate.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A query for www.example.org A, with its ID (no allocation: the test
/// counts its own).
fn query(id: u16) -> [u8; 33] {
    let mut q = [0u8; 33];
    q[..2].copy_from_slice(&id.to_be_bytes());
    q[2..12].copy_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q[12..].copy_from_slice(b"\x03www\x07example\x03org\x00\x00\x01\x00\x01");
    q
}

/// A backend that answers every query with its question, QR set; it
/// stops when nothing comes for a second.
fn backend() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            buf[2] |= 0x80;
            let _ = s.send_to(&buf[..n], from);
        }
    });
    addr
}

/// Without response rules, then with one that matches every answer (it
/// makes the responder read the answer as a query, and edit its TTLs).
/// One test, the cases in turn: the counter is the whole process's.
#[test]
fn forwarding_a_query_and_relaying_its_answer_allocate_nothing() {
    for response_rule in [false, true] {
        ALLOCS.store(0, Ordering::SeqCst);
        forward_and_count(response_rule);
    }
}

fn forward_and_count(response_rule: bool) {
    let b = Arc::new(pool::Backend::new(
        "b".into(),
        backend(),
        vec![String::new()],
        1,
        0,
        pool::HealthCheck::default(),
    ));
    // No health checks: their thread would allocate while we count.
    b.set_admin(pool::Admin::Up);
    let pools = pool::Pools {
        backends: vec![b],
        ..Default::default()
    };
    let runtime = Arc::new(shield::Runtime::default());
    if response_rule {
        use shield::response::{ResponseAction, ResponseChain, ResponseRule};
        use shield::selector::{Kind, Selector};
        runtime.response_rules.store(Arc::new(ResponseChain {
            rules: vec![ResponseRule {
                selector: Selector::new(Kind::QType(1)),
                action: Arc::new(ResponseAction::LimitTtl {
                    min: 0,
                    max: 300,
                    types: Vec::new(),
                }),
                name: "ttl".into(),
                uuid: "1".into(),
            }],
            ..Default::default()
        }));
    }
    let upstream =
        net::Upstream::new(pools, None, &runtime, (Duration::from_secs(2), 1024)).unwrap();
    let state = net::State::new(
        Arc::default(),
        shield::Shield::default(),
        runtime,
        upstream,
        xfr::Service::new(),
    );
    let frontend = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let local = frontend.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client_addr = client.local_addr().unwrap();
    net::forward::queue_on_this_thread();

    let mut out = vec![0u8; 65535];
    let mut answer = [0u8; 512];
    let mut ask = |id: u16| {
        let q = query(id);
        let handled = handle(
            &state,
            &q,
            client_addr,
            local,
            (Transport::Udp, 0),
            Some((&frontend, &ReplyFrom::NONE)),
            None,
            &mut out,
        );
        assert!(matches!(handled, Handled::Forwarded), "query {id}");
        net::forward::send_queued();
        let n = client.recv(&mut answer).expect("the relayed answer");
        assert_eq!(&answer[..2], &id.to_be_bytes(), "the client's ID back");
        assert_eq!(answer[2] & 0x80, 0x80);
        assert_eq!(n, q.len());
    };
    // Warm up: the worker's send queue and the backend's first answers
    // size their buffers once.
    for id in 0..200 {
        ask(id);
    }
    COUNTING.store(true, Ordering::SeqCst);
    for id in 200..1200 {
        ask(id);
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "allocations in 1000 queries"
    );
}
