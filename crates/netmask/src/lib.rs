//! Client networks, below the rule engine: netmasks and netmask groups
//! (dnsdist's `newNMG`, ACLs), and log lines anyone can cause, throttled
//! per source network ([`logthrottle`]). Its own crate so that `xfr`
//! (transfer and update ACLs, throttled refusals) and `control` (the
//! console's ACL) use them without depending on `shield`, which
//! re-exports both as `shield::netmask` and `shield::logthrottle`.

pub mod logthrottle;

use std::fmt;
use std::net::IpAddr;

/// Why a netmask's text did not parse ([`Netmask::parse`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetmaskError {
    /// The part before the `/` is no IPv4 or IPv6 address.
    #[error("bad netmask '{text}': expected ADDRESS[/PREFIX]")]
    BadAddress { text: String },
    /// The prefix length is no number from 0 to `max` (32 or 128).
    #[error("bad netmask '{text}': prefix must be 0 to {max}")]
    BadPrefix { text: String, max: u8 },
}

/// An address with a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Netmask {
    addr: IpAddr,
    prefix: u8,
}

impl Netmask {
    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address (/32,
    /// /128). The address is truncated to its prefix.
    pub fn parse(s: &str) -> Result<Netmask, NetmaskError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| NetmaskError::BadAddress {
                text: s.to_string(),
            })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                NetmaskError::BadPrefix {
                    text: s.to_string(),
                    max,
                }
            })?,
            None => max,
        };
        Ok(Netmask {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network's address (truncated to the prefix).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `ip` truncated to `prefix` bits.
pub fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4; others unchanged.
pub fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A set of netmasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetmaskGroup {
    masks: Vec<Netmask>,
    /// The same masks as integer (network, mask) pairs per family: the
    /// ACL is checked for every query.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetmaskGroup {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, m: Netmask) {
        if !self.masks.contains(&m) {
            self.index_one(&m);
            self.masks.push(m);
        }
    }

    /// Removes an exact netmask; whether it was there.
    pub fn remove(&mut self, m: &Netmask) -> bool {
        let before = self.masks.len();
        self.masks.retain(|x| x != m);
        self.index();
        before != self.masks.len()
    }

    /// Rebuilds the per-family integer pairs from `masks`.
    fn index(&mut self) {
        self.v4.clear();
        self.v6.clear();
        for m in std::mem::take(&mut self.masks) {
            self.index_one(&m);
            self.masks.push(m);
        }
    }

    /// Adds the integer pair of `m` (a group of thousands is built
    /// mask by mask, not reindexed at every one).
    fn index_one(&mut self, m: &Netmask) {
        match m.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(m.prefix)).unwrap_or(0);
                self.v4.push((u32::from(a), mask));
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(m.prefix))
                    .unwrap_or(0);
                self.v6.push((u128::from(a), mask));
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match unmap(ip) {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }

    pub fn masks(&self) -> &[Netmask] {
        &self.masks
    }

    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }
}

/// dnsdist's default ACL: loopback, RFC 1918, CGNAT, link-local, ULA.
pub fn default_acl() -> NetmaskGroup {
    let mut g = NetmaskGroup::new();
    for m in [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "192.168.0.0/16",
        "172.16.0.0/12",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ] {
        if let Ok(n) = Netmask::parse(m) {
            g.add(n);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_contain() {
        let m = Netmask::parse("192.0.2.77/24").unwrap();
        assert_eq!(m.to_string(), "192.0.2.0/24");
        assert!(m.contains(ip("192.0.2.1")));
        assert!(m.contains(ip("::ffff:192.0.2.9")));
        assert!(!m.contains(ip("192.0.3.1")));
        assert!(!m.contains(ip("2001:db8::1")));
        assert!(Netmask::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Netmask::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert_eq!(Netmask::parse("2001:db8::1").unwrap().prefix(), 128);
        let e = Netmask::parse("1.2.3.4/33").unwrap_err();
        assert!(matches!(e, NetmaskError::BadPrefix { max: 32, .. }));
        assert_eq!(
            e.to_string(),
            "bad netmask '1.2.3.4/33': prefix must be 0 to 32"
        );
        let e = Netmask::parse("example.org").unwrap_err();
        assert!(matches!(e, NetmaskError::BadAddress { .. }));
        assert_eq!(
            e.to_string(),
            "bad netmask 'example.org': expected ADDRESS[/PREFIX]"
        );
    }

    #[test]
    fn default_acl_is_private_only() {
        let acl = default_acl();
        assert!(acl.contains(ip("127.0.0.1")));
        assert!(acl.contains(ip("10.1.2.3")));
        assert!(acl.contains(ip("fd00::1")));
        assert!(!acl.contains(ip("8.8.8.8")));
        assert!(!acl.contains(ip("2001:db8::1")));
    }
}
