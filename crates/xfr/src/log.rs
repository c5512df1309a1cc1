//! Log lines on stderr, in the binary's format (`rampart[level]: …`):
//! replication runs on its own threads and logs as it goes.

use std::io::Write;

/// Writes one log line.
pub fn line(level: &str, msg: &str) {
    let stderr = std::io::stderr();
    let mut w = stderr.lock();
    let _ = writeln!(w, "rampart[{level}]: {msg}");
}

pub fn info(msg: &str) {
    line("info", msg);
}

pub fn warn(msg: &str) {
    line("warning", msg);
}

pub fn error(msg: &str) {
    line("error", msg);
}
