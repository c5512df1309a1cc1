//! Figures about the process and the host that dnsdist's statistics
//! include, read from the kernel when asked (never on the query path).

use std::collections::HashMap;

/// Process and host figures by dnsdist's names.
pub(crate) fn figures() -> Vec<(&'static str, u64)> {
    let mut v = vec![
        ("real-memory-usage", resident_bytes()),
        ("fd-usage", open_fds()),
    ];
    let (user_ms, sys_ms) = cpu_ms();
    v.push(("cpu-user-msec", user_ms));
    v.push(("cpu-sys-msec", sys_ms));
    let (iowait, steal) = host_cpu();
    v.push(("cpu-iowait", iowait));
    v.push(("cpu-steal", steal));
    let snmp = table("/proc/net/snmp", "Udp:");
    let udp = |k: &str| snmp.get(k).copied().unwrap_or(0);
    v.extend([
        ("udp-in-errors", udp("InErrors")),
        ("udp-noport-errors", udp("NoPorts")),
        ("udp-recvbuf-errors", udp("RcvbufErrors")),
        ("udp-sndbuf-errors", udp("SndbufErrors")),
        ("udp-in-csum-errors", udp("InCsumErrors")),
    ]);
    let snmp6 = flat("/proc/net/snmp6");
    let udp6 = |k: &str| snmp6.get(k).copied().unwrap_or(0);
    v.extend([
        ("udp6-in-errors", udp6("Udp6InErrors")),
        ("udp6-noport-errors", udp6("Udp6NoPorts")),
        ("udp6-recvbuf-errors", udp6("Udp6RcvbufErrors")),
        ("udp6-sndbuf-errors", udp6("Udp6SndbufErrors")),
        ("udp6-in-csum-errors", udp6("Udp6InCsumErrors")),
    ]);
    let netstat = table("/proc/net/netstat", "TcpExt:");
    v.push((
        "tcp-listen-overflows",
        netstat.get("ListenOverflows").copied().unwrap_or(0),
    ));
    v
}

fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system setting.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// User and system CPU time of the process, ms.
fn cpu_ms() -> (u64, u64) {
    // SAFETY: getrusage fills the struct it is given; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0, 0);
    }
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    (ms(ru.ru_utime), ms(ru.ru_stime))
}

/// The host's iowait and steal time, in clock ticks (`/proc/stat`).
fn host_cpu() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = s.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        f.get(4).copied().unwrap_or(0),
        f.get(7).copied().unwrap_or(0),
    )
}

/// A `/proc/net/snmp`-style table: a header line and a value line, both
/// starting with `prefix`.
fn table(path: &str, prefix: &str) -> HashMap<String, u64> {
    let Ok(s) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let mut lines = s.lines().filter(|l| l.starts_with(prefix));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return HashMap::new();
    };
    names
        .split_whitespace()
        .skip(1)
        .zip(values.split_whitespace().skip(1))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// A `name value` per line file (`/proc/net/snmp6`).
fn flat(path: &str) -> HashMap<String, u64> {
    let Ok(s) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_figures_are_read() {
        let f: std::collections::HashMap<_, _> = super::figures().into_iter().collect();
        assert!(f["real-memory-usage"] > 1 << 20);
        // stdin, stdout, stderr at least.
        assert!(f["fd-usage"] >= 3);
        assert_eq!(f.len(), 17);
    }
}
