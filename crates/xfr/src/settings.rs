//! What the configuration says about replication: keys, who may transfer
//! and update each zone, whom to notify, where secondaries pull from.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use netmask::Netmask;
use zone::records::SerialPolicy;

use crate::tsig::KeyRing;

/// Replication settings of the whole configuration.
#[derive(Clone, Debug, Default)]
pub struct Replication {
    pub keys: KeyRing,
    /// `setJournalDir`: where journals live; unset, each journal sits
    /// beside its zone file.
    pub journal_dir: Option<PathBuf>,
    /// Per zone, by lowercase wire apex.
    pub zones: BTreeMap<Box<[u8]>, ZoneSettings>,
    /// How often a zone changed by updates is written back to its file.
    pub flush_interval_secs: u64,
}

impl Replication {
    /// The settings of `apex`, created empty if absent.
    pub fn zone_mut(&mut self, apex: &[u8]) -> &mut ZoneSettings {
        self.zones.entry(apex.into()).or_default()
    }

    /// The settings of `apex` (defaults when none were given).
    pub fn zone(&self, apex: &[u8]) -> ZoneSettings {
        self.zones.get(apex).cloned().unwrap_or_default()
    }
}

/// Replication settings of one zone.
#[derive(Clone, Debug, Default)]
pub struct ZoneSettings {
    /// Who may AXFR/IXFR the zone; nobody by default (as Knot and NSD).
    pub transfer: Access,
    /// Sent NOTIFY after every change, beside the zone's NS addresses.
    pub also_notify: Vec<SocketAddr>,
    /// RFC 2136 updates allowed; none by default.
    pub update: Vec<UpdateGrant>,
    pub serial_policy: SerialPolicy,
    /// For a secondary: where to pull from, and the key to sign with.
    pub primaries: Vec<SocketAddr>,
    pub primary_key: Option<Box<[u8]>>,
    /// Primaries reached over TLS (XoT, RFC 9103), with how: the SOA
    /// query and the transfer go over TLS to them.
    pub primary_tls: Vec<(SocketAddr, pool::tls_client::TlsClient)>,
    /// Signed here with this policy and key directory (`dnssec-policy`
    /// with `inline-signing`, or `setDNSSECPolicy`).
    pub dnssec: Option<dnssec::ZoneSigning>,
}

impl ZoneSettings {
    /// How `primary` is reached over TLS, if it is.
    pub fn tls_for(&self, primary: SocketAddr) -> Option<&pool::tls_client::TlsClient> {
        self.primary_tls
            .iter()
            .find(|(a, _)| *a == primary)
            .map(|(_, t)| t)
    }
}

/// A list of netmasks and TSIG key names.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub netmasks: Vec<Netmask>,
    /// Lowercase wire key names.
    pub keys: Vec<Box<[u8]>>,
    /// Both a listed netmask and a listed key are needed (the Lua form
    /// with both given); otherwise either is enough (named.conf's list).
    pub require_both: bool,
}

impl Access {
    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.netmasks.is_empty() && self.keys.is_empty()
    }

    /// Whether a request from `ip`, signed by `key` (a verified TSIG key
    /// name) if any, is let in.
    pub fn allows(&self, ip: IpAddr, key: Option<&[u8]>) -> bool {
        let by_net = self.netmasks.iter().any(|m| m.contains(ip));
        let by_key =
            key.is_some_and(|k| self.keys.iter().any(|a| wire::name::eq_ignore_case(a, k)));
        if self.require_both {
            (self.netmasks.is_empty() || by_net)
                && (self.keys.is_empty() || by_key)
                && !self.is_empty()
        } else {
            by_net || by_key
        }
    }
}

/// Which names an update grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameMatch {
    /// Exactly this name (lowercase wire).
    Exact(Box<[u8]>),
    /// This name and every name below it.
    Subdomain(Box<[u8]>),
    /// Names whose first label is this one, anywhere in the zone
    /// (`_acme-challenge` covers `_acme-challenge.www.example.org.`).
    FirstLabel(Box<[u8]>),
}

impl NameMatch {
    /// Whether `name` (lowercase wire) is covered.
    pub fn covers(&self, name: &[u8]) -> bool {
        match self {
            NameMatch::Exact(n) => **n == *name,
            NameMatch::Subdomain(n) => wire::name::is_subdomain(name, n),
            NameMatch::FirstLabel(label) => name
                .first()
                .is_some_and(|&len| name.get(1..=usize::from(len)) == Some(&label[..])),
        }
    }
}

/// Who may update which names and types.
#[derive(Clone, Debug, Default)]
pub struct UpdateGrant {
    /// The TSIG key required (lowercase wire); `None`: any source in
    /// `netmasks`, unsigned allowed.
    pub key: Option<Box<[u8]>>,
    pub netmasks: Vec<Netmask>,
    /// Empty: every name of the zone.
    pub names: Vec<NameMatch>,
    /// Empty: every type but SOA.
    pub types: Vec<u16>,
}

impl UpdateGrant {
    /// Whether a request from `ip` signed by `key` may use this grant.
    pub fn admits(&self, ip: IpAddr, key: Option<&[u8]>) -> bool {
        let key_ok = match (&self.key, key) {
            (Some(want), Some(k)) => wire::name::eq_ignore_case(want, k),
            (Some(_), None) => false,
            (None, _) => true,
        };
        let net_ok = self.netmasks.is_empty() || self.netmasks.iter().any(|m| m.contains(ip));
        key_ok && net_ok && (self.key.is_some() || !self.netmasks.is_empty())
    }

    /// Whether this grant lets `name` of type `rtype` change.
    pub fn covers(&self, name: &[u8], rtype: u16) -> bool {
        let name_ok = self.names.is_empty() || self.names.iter().any(|m| m.covers(name));
        let type_ok = if self.types.is_empty() {
            rtype != wire::types::rtype::SOA
        } else {
            self.types.contains(&rtype)
        };
        name_ok && type_ok
    }
}
