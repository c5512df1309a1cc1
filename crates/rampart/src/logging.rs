//! The logger behind the `log` facade every crate writes through.
//!
//! Lines go to stderr (journald and supervisors add time stamps) in one
//! of three forms:
//! - `plain` (the default), dnsdist's: `rampart[warning]: message`;
//! - `logfmt`: `time=… level=warning msg="message" client=192.0.2.1`;
//! - `json`: `{"time":"…","level":"warning","msg":"message",…}`;
//!
//! the structured forms carry the fields a log call gives (`kind`,
//! `client`, `suppressed` for the throttled lines). Unless
//! `--disable-syslog`, every line also goes to syslog (facility daemon),
//! as dnsdist does. Info and above are written; `-v` or the config's
//! `setVerbose(true)` add debug, `setVerboseHealthChecks(true)` the
//! health checks' own lines.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// How lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Plain,
    Logfmt,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "plain" | "text" => Ok(Format::Plain),
            "logfmt" => Ok(Format::Logfmt),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "--log-format: expected plain, logfmt or json, found '{other}'"
            )),
        }
    }
}

/// The target of the health checks' lines (`setVerboseHealthChecks`).
pub const HEALTH_TARGET: &str = "health";

struct Logger {
    format: Format,
    syslog: bool,
    /// The level written (a LevelFilter as a number).
    level: AtomicU8,
    health_checks: AtomicBool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Installs the logger (once; later calls change nothing): info and
/// above until [`set_verbosity`] says otherwise.
pub fn init(format: Format, syslog: bool) {
    let mut installed = false;
    let logger = LOGGER.get_or_init(|| {
        installed = true;
        Logger {
            format,
            syslog,
            level: AtomicU8::new(LevelFilter::Info as u8),
            health_checks: AtomicBool::new(false),
        }
    });
    if !installed {
        return;
    }
    if syslog {
        // SAFETY: the identity is a static C string, as openlog keeps the
        // pointer; no other argument is a pointer.
        unsafe { libc::openlog(c"rampart".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    }
    if log::set_logger(logger).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Debug lines on or off (`-v`, `setVerbose`), and the health checks'
/// lines (`setVerboseHealthChecks`).
pub fn set_verbosity(verbose: bool, health_checks: bool) {
    let Some(logger) = LOGGER.get() else { return };
    let level = if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    logger.level.store(level as u8, Ordering::Relaxed);
    logger.health_checks.store(health_checks, Ordering::Relaxed);
    log::set_max_level(if health_checks {
        LevelFilter::Debug.max(level)
    } else {
        level
    });
}

fn level_filter(n: u8) -> LevelFilter {
    match n {
        0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// dnsdist's level words.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= level_filter(self.level.load(Ordering::Relaxed))
            || (m.target() == HEALTH_TARGET && self.health_checks.load(Ordering::Relaxed))
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        let line = format_line(self.format, record.level(), &msg, &fields(record), now());
        // One write per line: lines of several threads do not mix.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        if self.syslog {
            syslog(record.level(), &msg);
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// A field's value: numbers stay numbers in JSON.
#[derive(Debug, PartialEq)]
enum FieldValue {
    Number(u64),
    Text(String),
}

/// The key-value fields of a record, empty ones left out.
fn fields(record: &Record) -> Vec<(String, FieldValue)> {
    struct Collect(Vec<(String, FieldValue)>);
    impl<'kvs> log::kv::VisitSource<'kvs> for Collect {
        fn visit_pair(
            &mut self,
            key: log::kv::Key<'kvs>,
            value: log::kv::Value<'kvs>,
        ) -> Result<(), log::kv::Error> {
            let v = match value.to_u64() {
                Some(n) => FieldValue::Number(n),
                None => FieldValue::Text(value.to_string()),
            };
            if v != FieldValue::Text(String::new()) {
                self.0.push((key.as_str().to_string(), v));
            }
            Ok(())
        }
    }
    let mut c = Collect(Vec::new());
    let _ = record.key_values().visit(&mut c);
    c.0
}

/// Seconds and milliseconds since the epoch.
fn now() -> (u64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_millis())
}

/// One line, newline included.
fn format_line(
    format: Format,
    level: Level,
    msg: &str,
    fields: &[(String, FieldValue)],
    (secs, millis): (u64, u32),
) -> String {
    let level = level_name(level);
    let mut out = String::with_capacity(msg.len() + 64);
    match format {
        Format::Plain => {
            let _ = writeln!(out, "rampart[{level}]: {msg}");
        }
        Format::Logfmt => {
            let _ = write!(
                out,
                "time={} level={level} msg={}",
                rfc3339(secs, millis),
                logfmt_value(msg)
            );
            for (k, v) in fields {
                let v = match v {
                    FieldValue::Number(n) => n.to_string(),
                    FieldValue::Text(t) => logfmt_value(t),
                };
                let _ = write!(out, " {k}={v}");
            }
            out.push('\n');
        }
        Format::Json => {
            let _ = write!(
                out,
                "{{\"time\":\"{}\",\"level\":\"{level}\",\"msg\":{}",
                rfc3339(secs, millis),
                json_string(msg)
            );
            for (k, v) in fields {
                let v = match v {
                    FieldValue::Number(n) => n.to_string(),
                    FieldValue::Text(t) => json_string(t),
                };
                let _ = write!(out, ",{}:{v}", json_string(k));
            }
            out.push_str("}\n");
        }
    }
    out
}

/// A logfmt value: bare when it can be, else quoted with `"` and `\`
/// escaped and control characters written as escapes.
fn logfmt_value(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c > ' ' && c != '"' && c != '=' && c != '\\' && !c.is_control());
    if bare {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(&mut out, s);
    out.push('"');
    out
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(&mut out, s);
    out.push('"');
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `2026-12-06T08:24:42.123Z`.
fn rfc3339(secs: u64, millis: u32) -> String {
    let ((year, month, day), rem) = wire::time::civil(i64::try_from(secs).unwrap_or(i64::MAX));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn syslog(level: Level, msg: &str) {
    let priority = match level {
        Level::Error => libc::LOG_ERR,
        Level::Warn => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
        Level::Debug | Level::Trace => libc::LOG_DEBUG,
    };
    let Ok(text) = std::ffi::CString::new(msg.replace('\0', "\\0")) else {
        return;
    };
    // SAFETY: a constant format taking one NUL-terminated string.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<(String, FieldValue)> {
        vec![
            ("kind".into(), FieldValue::Text("refused transfer".into())),
            ("client".into(), FieldValue::Text("127.0.0.1".into())),
            ("suppressed".into(), FieldValue::Number(37)),
        ]
    }

    #[test]
    fn plain_is_dnsdist_s() {
        let t = (1_796_545_482, 123);
        assert_eq!(
            format_line(Format::Plain, Level::Warn, "a \"b\"", &fields(), t),
            "rampart[warning]: a \"b\"\n"
        );
        assert_eq!(
            format_line(Format::Plain, Level::Info, "x", &[], t),
            "rampart[info]: x\n"
        );
        assert_eq!(
            format_line(Format::Plain, Level::Error, "x", &[], t),
            "rampart[error]: x\n"
        );
    }

    #[test]
    fn logfmt_and_json() {
        let t = (1_796_545_482, 7);
        assert_eq!(
            format_line(Format::Logfmt, Level::Warn, "refused \"x\"", &fields(), t),
            "time=2026-12-06T08:24:42.007Z level=warning msg=\"refused \\\"x\\\"\" \
             kind=\"refused transfer\" client=127.0.0.1 suppressed=37\n"
        );
        assert_eq!(
            format_line(Format::Logfmt, Level::Info, "done", &[], t),
            "time=2026-12-06T08:24:42.007Z level=info msg=done\n"
        );
        assert_eq!(
            format_line(Format::Json, Level::Error, "a\nb\u{1}", &fields(), t),
            "{\"time\":\"2026-12-06T08:24:42.007Z\",\"level\":\"error\",\"msg\":\"a\\nb\\u0001\",\
             \"kind\":\"refused transfer\",\"client\":\"127.0.0.1\",\"suppressed\":37}\n"
        );
    }

    #[test]
    fn time_stamps() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("json"), Ok(Format::Json));
        assert_eq!(Format::parse("logfmt"), Ok(Format::Logfmt));
        assert_eq!(Format::parse("plain"), Ok(Format::Plain));
        assert!(Format::parse("xml").is_err());
    }
}
