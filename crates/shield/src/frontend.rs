//! What each listener received (dnsdist's per-frontend counters), kept
//! in the [`crate::Runtime`] so that the console (`showBinds`,
//! `showDOHFrontends`) and the web server read the same figures the
//! sockets' threads count.

use std::net::SocketAddr;

use crate::counter::Counter;

/// One listener's counts: UDP counted per received batch, streams per
/// query.
#[derive(Debug)]
pub struct FrontendCounts {
    pub addr: SocketAddr,
    pub udp: bool,
    /// Whether it has a side for streams: TCP, DoT, DoH, and DoQ (whose
    /// QUIC streams come over its own UDP socket).
    pub streams: bool,
    /// What the stream side speaks.
    pub stream_kind: StreamKind,
    /// A DoH listener without a certificate speaks cleartext HTTP/2.
    pub cleartext_http: bool,
    pub udp_queries: Counter,
    pub tcp_queries: Counter,
    pub tcp_connections: Counter,
    /// TLS handshakes that failed or never finished.
    pub tls_handshake_failures: Counter,
    /// DoH listeners only: their requests and answers.
    pub doh: DohCounts,
}

impl FrontendCounts {
    pub fn new(addr: SocketAddr, (udp, streams): (bool, bool), stream_kind: StreamKind) -> Self {
        FrontendCounts {
            addr,
            udp,
            streams,
            stream_kind,
            cleartext_http: false,
            udp_queries: Counter::default(),
            tcp_queries: Counter::default(),
            tcp_connections: Counter::default(),
            tls_handshake_failures: Counter::default(),
            doh: DohCounts::default(),
        }
    }

    /// dnsdist's name of the stream side (`ClientState::getType()`).
    pub fn stream_type(&self) -> &'static str {
        match self.stream_kind {
            StreamKind::Dot => "TCP (DNS over TLS)",
            StreamKind::Doq => "UDP (DNS over QUIC)",
            StreamKind::Doh if self.cleartext_http => "TCP (DNS over plain HTTP)",
            StreamKind::Doh => "TCP (DNS over HTTPS)",
            StreamKind::Tcp => "TCP",
        }
    }

    /// Whether its streams are encrypted (DoT, DoQ, DoH with a
    /// certificate): rustls does the TLS.
    pub fn encrypted(&self) -> bool {
        match self.stream_kind {
            StreamKind::Tcp => false,
            StreamKind::Doh => !self.cleartext_http,
            StreamKind::Dot | StreamKind::Doq => true,
        }
    }
}

/// What a listener's stream side speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Tcp,
    Dot,
    Doh,
    Doq,
}

impl StreamKind {
    /// The short name the API and /metrics label it with.
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Tcp => "TCP",
            StreamKind::Dot => "DoT",
            StreamKind::Doh => "DoH",
            StreamKind::Doq => "DoQ",
        }
    }
}

/// A DoH listener's requests, as dnsdist counts them: by method, by HTTP
/// version, and the answers by kind and by status.
#[derive(Debug, Default)]
pub struct DohCounts {
    pub get: Counter,
    pub post: Counter,
    /// Requests that held no DNS query (HTTP 400).
    pub bad_requests: Counter,
    /// Answers with HTTP 200.
    pub valid: Counter,
    /// Redirects (3xx, from the response map or a rule).
    pub redirects: Counter,
    /// Every other status.
    pub errors: Counter,
    /// HTTP/1 at 0, HTTP/2 at 1.
    pub versions: [VersionCounts; 2],
}

/// The requests of one HTTP version and its answers' statuses.
#[derive(Debug, Default)]
pub struct VersionCounts {
    pub queries: Counter,
    /// 200, 400, 403, 500, 502 and any other, in that order
    /// ([`STATUS_COLUMNS`]).
    pub statuses: [Counter; 6],
}

/// The statuses dnsdist counts apart, in [`VersionCounts::statuses`]'
/// order.
pub const STATUS_COLUMNS: [&str; 6] = ["200", "400", "403", "500", "502", "Others"];

impl DohCounts {
    /// Counts one request (`http2`: its version; `post`: POST, GET or
    /// neither) and the status it was answered with.
    pub fn answered(&self, http2: bool, post: Option<bool>, status: u16) {
        let version = &self.versions[usize::from(http2)];
        version.queries.add(1);
        let column = match status {
            200 => 0,
            400 => 1,
            403 => 2,
            500 => 3,
            502 => 4,
            _ => 5,
        };
        version.statuses[column].add(1);
        match post {
            Some(true) => self.post.add(1),
            Some(false) => self.get.add(1),
            None => {}
        }
        match status {
            200 => self.valid.add(1),
            300..=399 => self.redirects.add(1),
            400 => {
                self.bad_requests.add(1);
                self.errors.add(1)
            }
            _ => self.errors.add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doh_answer_is_counted_by_version_method_kind_and_status() {
        let d = DohCounts::default();
        d.answered(true, Some(false), 200);
        d.answered(true, Some(true), 307);
        d.answered(false, Some(true), 400);
        d.answered(true, Some(true), 418);
        d.answered(true, None, 400);
        assert_eq!(d.versions[1].queries.get(), 4);
        assert_eq!(d.versions[0].queries.get(), 1);
        assert_eq!(d.versions[1].statuses[0].get(), 1);
        assert_eq!(d.versions[1].statuses[5].get(), 2, "307 and 418");
        assert_eq!(d.versions[0].statuses[1].get(), 1);
        assert_eq!(d.versions[1].statuses[1].get(), 1, "a PUT's 400");
        assert_eq!((d.get.get(), d.post.get()), (1, 3));
        assert_eq!(d.valid.get(), 1);
        assert_eq!(d.redirects.get(), 1);
        assert_eq!(d.bad_requests.get(), 2);
        assert_eq!(d.errors.get(), 3, "two 400s and a 418");
    }
}
