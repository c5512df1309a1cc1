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

/// How a configuration opens its log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Serving: `append=false` empties a file no earlier configuration of
    /// this process has open (dnsdist's behaviour at start).
    Serve,
    /// Checking a configuration: the file is opened for appending, never
    /// emptied (`--check-config` must not wipe a live log).
    Check,
}

/// The log at `path`, shared with an earlier configuration of this
/// process that opened it: a reload keeps appending to the file the old
/// rules are still writing, instead of emptying it under them.
pub fn open_shared(
    path: &Path,
    binary: bool,
    append: bool,
    buffered: bool,
    timestamps: bool,
    mode: OpenMode,
) -> std::io::Result<std::sync::Arc<QueryLog>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Weak};
    static OPEN: Mutex<Option<HashMap<PathBuf, Weak<QueryLog>>>> = Mutex::new(None);
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    let open = open.get_or_insert_with(HashMap::new);
    open.retain(|_, w| w.strong_count() > 0);
    let live = open.get(path).and_then(Weak::upgrade);
    if let Some(log) = live
        .as_ref()
        .filter(|l| l.binary == binary && l.timestamps == timestamps)
    {
        return Ok(log.clone());
    }
    let append = append || live.is_some() || mode == OpenMode::Check;
    let log = Arc::new(QueryLog::open(path, binary, append, buffered, timestamps)?);
    if mode == OpenMode::Serve {
        open.insert(path.to_path_buf(), Arc::downgrade(&log));
    }
    Ok(log)
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
        self.write_record(|record| {
            if self.binary {
                if self.timestamps {
                    let now = unix_now();
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
                self.text_stamp(record);
                let _ = writeln!(
                    record,
                    "Packet from {} for {} {} with id {}",
                    q.client,
                    wire::name::Text(q.query.qname),
                    wire::types::rtype_name(q.query.qtype),
                    q.query.id
                );
            }
        });
    }

    /// Writes an answer's line (`LogResponseAction`): `Answer to <ip:port>
    /// for <qname> <TYPE> (<rcode>) with id <id>`.
    pub fn log_response(&self, q: &QueryInfo) {
        self.write_record(|line| {
            self.text_stamp(line);
            let _ = writeln!(
                line,
                "Answer to {} for {} {} ({}) with id {}",
                q.client,
                wire::name::Text(q.query.qname),
                wire::types::rtype_name(q.query.qtype),
                crate::stats::rcode_name(q.rcode.unwrap_or(0)),
                q.query.id
            );
        });
    }

    /// A text line's `[seconds.nanoseconds] ` prefix, when asked for (the
    /// clock is read only then).
    fn text_stamp(&self, line: &mut Vec<u8>) {
        if self.timestamps {
            let now = unix_now();
            let _ = write!(line, "[{}.{:09}] ", now.as_secs(), now.subsec_nanos());
        }
    }

    /// Builds one record with `fill` in this thread's buffer (kept from
    /// record to record: a log line per query allocated four times) and
    /// writes it whole, so an unbuffered log still makes one write(2)
    /// per record and records from several threads never interleave.
    fn write_record(&self, fill: impl FnOnce(&mut Vec<u8>)) {
        thread_local! {
            static RECORD: std::cell::RefCell<Vec<u8>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        RECORD.with(|r| {
            let Ok(mut record) = r.try_borrow_mut() else {
                return;
            };
            record.clear();
            fill(&mut record);
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = out.write_all(&record);
        });
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

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Address family numbers as Linux's `sa_family` (the binary format's).
mod libc_af {
    pub const INET: u16 = 2;
    pub const INET6: u16 = 10;
}

#[cfg(test)]
mod tests {
    use super::{open_shared, OpenMode};

    /// Neither checking a config nor reloading one empties a log that is
    /// being written; the first serving open with append=false does.
    #[test]
    fn only_the_first_serving_open_empties_the_file() {
        let dir = std::env::temp_dir().join(format!("rampart-qlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("query.log");
        std::fs::write(&path, "old line\n").unwrap();
        let checked = open_shared(&path, false, false, false, false, OpenMode::Check).unwrap();
        drop(checked);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old line\n");
        let served = open_shared(&path, false, false, false, false, OpenMode::Serve).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::write(&path, "written by the first config\n").unwrap();
        let reloaded = open_shared(&path, false, false, false, false, OpenMode::Serve).unwrap();
        assert!(std::sync::Arc::ptr_eq(&served, &reloaded));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "written by the first config\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
