//! `LogAction`: one line (or binary record) per query, as dnsdist writes.
//!
//! Text: `Packet from <ip:port> for <qname> <TYPE> with id <id>`, with
//! `[<sec>.<nsec>] ` in front when timestamps are asked for. Binary:
//! optional u64 seconds + u32 nanoseconds, u16 ID (raw header bytes), the
//! name in wire form, u16 type (host order), u16 address family, the
//! address, u16 port (network order).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::selector::QueryInfo;

/// Where and how to log.
#[derive(Debug)]
pub struct QueryLog {
    path: PathBuf,
    binary: bool,
    timestamps: bool,
    /// The open file; buffered unless asked otherwise. A lock, but only
    /// for queries a Log rule selects, and only around one write.
    out: Mutex<Writer>,
}

#[derive(Debug)]
enum Writer {
    Buffered(BufWriter<File>),
    Direct(File),
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Writer::Buffered(w) => w.write(buf),
            Writer::Direct(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Writer::Buffered(w) => w.flush(),
            Writer::Direct(f) => f.flush(),
        }
    }
}

impl QueryLog {
    /// Opens `path` now (a config that names a file it cannot open fails).
    pub fn open(
        path: &Path,
        binary: bool,
        append: bool,
        buffered: bool,
        timestamps: bool,
    ) -> std::io::Result<QueryLog> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)?;
        let out = if buffered {
            Writer::Buffered(BufWriter::new(file))
        } else {
            Writer::Direct(file)
        };
        Ok(QueryLog {
            path: path.to_path_buf(),
            binary,
            timestamps,
            out: Mutex::new(out),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{}log to {}",
            if self.binary { "binary " } else { "" },
            self.path.display()
        )
    }

    /// Writes the query's record; a failed write is not the query's
    /// problem and is ignored.
    pub fn log(&self, q: &QueryInfo) {
        let mut record = Vec::with_capacity(96);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if self.binary {
            if self.timestamps {
                record.extend_from_slice(&now.as_secs().to_ne_bytes());
                record.extend_from_slice(&now.subsec_nanos().to_ne_bytes());
            }
            record.extend_from_slice(&q.query.packet[..2]);
            record.extend_from_slice(q.query.qname);
            record.extend_from_slice(&q.query.qtype.to_ne_bytes());
            match q.client {
                SocketAddr::V4(a) => {
                    record.extend_from_slice(&(libc_af::INET).to_ne_bytes());
                    record.extend_from_slice(&a.ip().octets());
                }
                SocketAddr::V6(a) => {
                    record.extend_from_slice(&(libc_af::INET6).to_ne_bytes());
                    record.extend_from_slice(&a.ip().octets());
                }
            }
            record.extend_from_slice(&q.client.port().to_be_bytes());
        } else {
            if self.timestamps {
                record.extend_from_slice(
                    format!("[{}.{:09}] ", now.as_secs(), now.subsec_nanos()).as_bytes(),
                );
            }
            record.extend_from_slice(
                format!(
                    "Packet from {} for {} {} with id {}\n",
                    q.client,
                    wire::name::to_text(q.query.qname),
                    wire::types::rtype_name(q.query.qtype),
                    q.query.id
                )
                .as_bytes(),
            );
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(&record);
    }

    /// Writes an answer's line (`LogResponseAction`): `Answer to <ip:port>
    /// for <qname> <TYPE> (<rcode>) with id <id>`.
    pub fn log_response(&self, q: &QueryInfo) {
        let mut line = String::with_capacity(96);
        if self.timestamps {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            line.push_str(&format!("[{}.{:09}] ", now.as_secs(), now.subsec_nanos()));
        }
        line.push_str(&format!(
            "Answer to {} for {} {} ({}) with id {}\n",
            q.client,
            wire::name::to_text(q.query.qname),
            wire::types::rtype_name(q.query.qtype),
            crate::stats::rcode_name(q.rcode.unwrap_or(0)),
            q.query.id
        ));
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(line.as_bytes());
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&self) {
        let _ = self.out.lock().map(|mut o| o.flush());
    }
}

impl Drop for QueryLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Address family numbers as Linux's `sa_family` (the binary format's).
mod libc_af {
    pub const INET: u16 = 2;
    pub const INET6: u16 = 10;
}
