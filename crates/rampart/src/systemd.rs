//! systemd's service notifications (`Type=notify`), without libsystemd:
//! one datagram per state to the socket named by `$NOTIFY_SOCKET` (a
//! path, or an abstract name written with a leading '@'). `READY=1` once
//! the listeners are bound and the zones loaded, `RELOADING=1` and
//! `READY=1` around a SIGHUP reload, `STOPPING=1` when draining, and
//! `WATCHDOG=1` every half `$WATCHDOG_USEC` from the control loop, so a
//! control loop that hangs stops the pings and systemd restarts the
//! service. Without `$NOTIFY_SOCKET` nothing is sent.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// Where notifications go, and the watchdog's pace.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    last_ping: Instant,
}

impl Notifier {
    /// From the environment systemd gives the service.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.into_string().ok()?;
            let addr = match parse_address(&path) {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("NOTIFY_SOCKET={path}: {e}; no notifications to systemd");
                    return None;
                }
            };
            match UnixDatagram::unbound() {
                Ok(sock) => Some((sock, addr)),
                Err(e) => {
                    log::warn!("NOTIFY_SOCKET: cannot make a socket: {e}");
                    None
                }
            }
        });
        // The watchdog is meant for this process only when WATCHDOG_PID
        // names it (or is not set).
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&us| us > 0 && for_us && target.is_some())
            .map(|us| Duration::from_micros(us / 2));
        Notifier {
            target,
            watchdog,
            last_ping: Instant::now(),
        }
    }

    /// Sends one notification (`READY=1`, …).
    pub fn send(&self, state: &str) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        log::debug!("sd_notify: {}", state.replace('\n', " "));
        if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
            log::warn!("sd_notify {}: {e}", state.replace('\n', " "));
        }
    }

    pub fn ready(&self) {
        self.send(&format!(
            "READY=1\nSTATUS=serving\nMAINPID={}",
            std::process::id()
        ));
    }

    /// Before a reload; systemd's `Type=notify-reload` also wants the
    /// monotonic clock.
    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// Pings the watchdog if half its timeout passed since the last ping;
    /// called by the control loop on every turn.
    pub fn watchdog(&mut self) {
        let Some(every) = self.watchdog else { return };
        if self.last_ping.elapsed() >= every {
            self.last_ping = Instant::now();
            self.send("WATCHDOG=1");
        }
    }
}

/// A `$NOTIFY_SOCKET` value as a socket address.
fn parse_address(path: &str) -> Result<SocketAddr, String> {
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        return SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| format!("bad abstract socket name: {e}"));
    }
    if !path.starts_with('/') {
        return Err("neither an absolute path nor an abstract name ('@…')".into());
    }
    SocketAddr::from_pathname(path).map_err(|e| format!("bad socket path: {e}"))
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(parse_address("/run/systemd/notify").is_ok());
        let a = parse_address("@abstract-name").unwrap();
        use std::os::linux::net::SocketAddrExt;
        assert_eq!(a.as_abstract_name(), Some(&b"abstract-name"[..]));
        assert!(parse_address("relative").is_err());
    }

    #[test]
    fn sends_to_a_path_and_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("rampart-sdnotify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                parse_address(path.to_str().unwrap()).unwrap(),
            )),
            watchdog: None,
            last_ping: Instant::now(),
        };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        let name = format!("rampart-test-{}", std::process::id());
        let abs = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        use std::os::linux::net::SocketAddrExt;
        let listener = UnixDatagram::bind_addr(&abs).unwrap();
        let mut n = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                parse_address(&format!("@{name}")).unwrap(),
            )),
            watchdog: Some(Duration::ZERO),
            last_ping: Instant::now(),
        };
        n.watchdog();
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
