//! UDP UPDATEs answered off the UDP workers. An update is written to
//! its zone's journal and fsynced before it is answered (about a
//! millisecond); on a worker, that would hold up the whole batch of
//! queries it is answering. One thread takes them in turn from a bounded
//! queue (updates to one zone are serialized by its lock anyway); when
//! the queue is full the update is dropped, and the client retries, as
//! it does for a lost datagram. TCP updates go to the blocking pool.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::reply_from::ReplyFrom;

/// Updates waiting for the thread, at most.
const QUEUE: usize = 64;

/// One UPDATE and where its answer goes.
pub struct Job {
    pub xfr: Arc<xfr::Service>,
    pub runtime: Arc<shield::Runtime>,
    pub packet: Vec<u8>,
    pub client: SocketAddr,
    pub socket: Arc<UdpSocket>,
    pub from: ReplyFrom,
}

/// Queues `job`; false when the queue is full or the thread could not
/// start (the update is then dropped).
pub fn submit(job: Job) -> bool {
    static SENDER: OnceLock<Option<Mutex<SyncSender<Job>>>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("udp-update".into())
            .spawn(move || {
                for job in rx {
                    answer(&job);
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let Some(sender) = sender else {
        return false;
    };
    let tx = sender.lock().unwrap_or_else(|p| p.into_inner());
    tx.try_send(job).is_ok()
}

fn answer(job: &Job) {
    let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        job.xfr.update(&job.packet, job.client)
    }));
    if let Ok(Some(msg)) = answered {
        if msg.len() >= 4 && job.from.send(&job.socket, &msg, job.client).is_ok() {
            job.runtime.stats.answered(u16::from(msg[3] & 0xf));
        }
    }
}
