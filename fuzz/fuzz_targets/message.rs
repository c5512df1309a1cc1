//! Any bytes through the whole-message reader that zone transfers,
//! NOTIFY and UPDATE go through (`wire::message::parse`). Checks that
//! nothing panics; that a message it accepts is one the record walker of
//! the forwarding path and TSIG (`wire::edit::walk`) sees the same records
//! in; and that a message it accepts, written again with the response
//! writer (names compressed anew), reads back with the same header, the
//! same questions and records in the same sections, names equal but for
//! case (the writer compresses case-insensitively).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::message::{self, Message};
use wire::response::Layout;
use wire::types::flags;
use wire::Response;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = message::parse(data) else {
        return;
    };
    assert_eq!(usize::from(msg.header.qdcount), msg.questions.len());
    let total = usize::from(msg.header.ancount)
        + usize::from(msg.header.nscount)
        + usize::from(msg.header.arcount);
    assert_eq!(total, msg.records.len());

    // The lenient walker agrees on where every record is.
    let (_, walked) = wire::edit::walk(data).expect("walk accepts what parse accepts");
    assert_eq!(walked.len(), msg.records.len());
    for (w, r) in walked.iter().zip(&msg.records) {
        assert_eq!(
            (w.start, w.end, w.rtype, w.section),
            (r.start, r.end, r.rtype, r.section)
        );
    }
    let mut end = 12;
    for r in &msg.records {
        assert!(r.start >= end && r.end <= data.len() && r.start < r.end);
        end = r.end;
        assert!(r.owner.len() <= wire::name::MAX_NAME_LEN);
        assert_eq!(wire::name::uncompressed_len(&r.owner), Some(r.owner.len()));
        let _ = wire::name::to_text(&r.owner);
    }
    if !msg.records.is_empty() {
        assert_eq!(end, data.len(), "the last record ends the message");
    }

    // The response writer takes one question; write the rest again.
    if msg.questions.len() > 1 {
        return;
    }
    let mut buf = vec![0u8; 65535];
    let Some(len) = write(&msg, &mut buf) else {
        return;
    };
    let again = message::parse(&buf[..len]).expect("a written message parses");
    let h = (msg.header, again.header);
    assert_eq!(h.0.id, h.1.id);
    assert_eq!(
        h.0.flags | flags::QR,
        h.1.flags,
        "flags (the writer sets QR)"
    );
    assert_eq!(
        (h.0.qdcount, h.0.ancount, h.0.nscount, h.0.arcount),
        (h.1.qdcount, h.1.ancount, h.1.nscount, h.1.arcount),
        "section counts"
    );
    for (a, b) in msg.questions.iter().zip(&again.questions) {
        assert!(a.name.eq_ignore_ascii_case(&b.name));
        assert_eq!((a.qtype, a.qclass), (b.qtype, b.qclass));
    }
    for (a, b) in msg.records.iter().zip(&again.records) {
        assert!(a.owner.eq_ignore_ascii_case(&b.owner), "owner");
        assert_eq!(
            (a.rtype, a.class, a.ttl, a.section),
            (b.rtype, b.class, b.ttl, b.section)
        );
        if Layout::of(a.rtype) == Layout::Opaque {
            assert_eq!(a.rdata, b.rdata, "RDATA of type {}", a.rtype);
        } else {
            assert!(
                a.rdata.eq_ignore_ascii_case(&b.rdata),
                "RDATA of type {}",
                a.rtype
            );
        }
    }
});

/// Writes `msg` with [`Response`]; `None` if it does not fit.
fn write(msg: &Message, buf: &mut [u8]) -> Option<usize> {
    let limit = buf.len();
    let mut r = Response::new(buf, limit);
    r.set_header(msg.header.id, msg.header.flags);
    for q in &msg.questions {
        r.push_question(&q.name, q.qtype, q.qclass).ok()?;
    }
    for rr in &msg.records {
        r.push_record(rr.section, &rr.owner, rr.rtype, rr.class, rr.ttl, &rr.rdata)
            .ok()?;
    }
    let len = r.finish().len();
    assert!(len <= limit);
    Some(len)
}
