//! DNS over TLS and HTTPS from the binary's side: the listeners' TLS
//! contexts made from the config, and their certificates kept current
//! (reloaded on SIGHUP, from the console, and when the files change).

use std::sync::Arc;

use config::tls_lua::{EncryptedKind, EncryptedListener, TlsRequests};
use net::tls::{TlsContext, TlsSettings};

/// The TLS contexts in use, and the console requests already acted on.
pub struct Encrypted {
    contexts: Vec<Arc<TlsContext>>,
    /// The listener address of each context, in the same order.
    addrs: Vec<std::net::SocketAddr>,
    seen: TlsRequests,
}

/// The listen specs of the config's encrypted listeners; an error names
/// the listener (`file:line`) and the file that could not be used.
pub fn specs(c: &config::Config) -> Result<(Vec<net::ListenSpec>, Encrypted), String> {
    let mut specs = Vec::new();
    let mut contexts = Vec::new();
    let mut addrs = Vec::new();
    for l in &c.encrypted {
        let tls = if l.certs.is_empty() {
            None
        } else {
            let ctx = TlsContext::new(settings(l)).map_err(|e| format!("{}: {e}", l.source))?;
            contexts.push(ctx.clone());
            addrs.push(l.addr);
            Some(ctx)
        };
        let service = match (&l.kind, tls) {
            (EncryptedKind::Dot, Some(ctx)) => net::tcp::Service::Dot(ctx),
            (EncryptedKind::Dot, None) => {
                return Err(format!("{}: DNS over TLS needs a certificate", l.source))
            }
            (
                EncryptedKind::Doq {
                    idle_timeout_secs,
                    max_in_flight,
                },
                Some(ctx),
            ) => net::tcp::Service::Doq(
                {
                    net::doq::check(&ctx).map_err(|e| format!("{}: {e}", l.source))?;
                    ctx
                },
                net::doq::DoqSettings {
                    idle_timeout: std::time::Duration::from_secs(u64::from(*idle_timeout_secs)),
                    max_in_flight: *max_in_flight,
                    per_client: c.tcp_per_client,
                    max_connections: l.max_tcp_connections,
                    recv_timeout: c.tcp_idle_timeout.max(std::time::Duration::from_secs(1)),
                },
            ),
            (EncryptedKind::Doq { .. }, None) => {
                return Err(format!("{}: DNS over QUIC needs a certificate", l.source))
            }
            (
                EncryptedKind::Doh {
                    paths,
                    exact_paths,
                    headers,
                    cache_control,
                    server_tokens,
                    trust_forwarded_for,
                    responses,
                },
                tls,
            ) => net::tcp::Service::Doh(
                tls,
                Arc::new(net::doh::Doh::new(net::doh::DohSettings {
                    paths: paths.clone(),
                    exact_paths: *exact_paths,
                    headers: headers.clone(),
                    cache_control: *cache_control,
                    server_tokens: server_tokens.clone(),
                    trust_forwarded_for: *trust_forwarded_for,
                    responses: mapped(responses).map_err(|e| format!("{}: {e}", l.source))?,
                })),
            ),
        };
        // DoQ's UDP socket is its own (net::doq), not a DNS one.
        let quic = matches!(service, net::tcp::Service::Doq(..));
        specs.push(net::ListenSpec {
            addr: l.addr,
            udp: false,
            tcp: !quic,
            max_tcp_connections: l.max_tcp_connections,
            service,
        });
    }
    Ok((
        specs,
        Encrypted {
            contexts,
            addrs,
            seen: c.tls_requests.clone(),
        },
    ))
}

/// The response map with its patterns compiled (checked when the config
/// was read; an error here would be a bug, and is reported as one).
fn mapped(
    entries: &[config::tls_lua::ResponseMapEntry],
) -> Result<Vec<net::doh::MappedResponse>, String> {
    entries
        .iter()
        .map(|e| {
            Ok(net::doh::MappedResponse {
                path: regex_lite::Regex::new(&e.regex).map_err(|err| err.to_string())?,
                status: e.status,
                content: e.content.clone(),
                headers: e.headers.clone(),
            })
        })
        .collect()
}

fn settings(l: &EncryptedListener) -> TlsSettings {
    TlsSettings {
        certs: l.certs.clone(),
        keys: l.keys.clone(),
        tls13_only: l.tls13_only,
        session_tickets: l.session_tickets,
        ticket_keys: l.ticket_keys,
        ticket_key_file: l.ticket_key_file.clone(),
        ciphers: l.ciphers.clone(),
        ciphers_tls13: l.ciphers_tls13.clone(),
        key_log_file: l.key_log_file.clone(),
        ocsp_responses: l.ocsp_responses.clone(),
        alpn: match l.kind {
            // RFC 7858 §3.2 leaves ALPN out; "dot" is what RFC 9103 and
            // Knot ask for.
            EncryptedKind::Dot => vec![b"dot".to_vec()],
            EncryptedKind::Doh { .. } => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            // RFC 9250 §4.1.1.
            EncryptedKind::Doq { .. } => vec![b"doq".to_vec()],
        },
    }
}

impl Encrypted {
    /// Reads every certificate and key again (SIGHUP).
    pub fn reload_all(&self) {
        for ctx in &self.contexts {
            report(ctx, ctx.reload());
        }
    }

    /// Once a second: files that changed on disk are read again.
    pub fn reload_changed(&self) {
        for ctx in &self.contexts {
            if let Some(result) = ctx.reload_if_changed() {
                report(ctx, result);
            }
        }
    }

    /// Acts on what the console asked since the last call.
    pub fn console_requests(&mut self, now: TlsRequests) {
        if now.reload != self.seen.reload {
            self.reload_all();
        }
        if now.rotate_tickets != self.seen.rotate_tickets {
            for ctx in &self.contexts {
                if let Err(e) = ctx.rotate_ticket_key() {
                    log::error!("cannot rotate the ticket key: {e}");
                }
            }
            log::info!("TLS session-ticket keys rotated");
        }
        if now.load_keys != self.seen.load_keys {
            if let Some((addr, file)) = &now.load_keys_from {
                let found = self.addrs.iter().position(|a| a == addr);
                match found.map(|i| self.contexts[i].load_ticket_keys(file)) {
                    Some(Ok(())) => {
                        log::info!("TLS ticket keys of {addr} loaded from {}", file.display())
                    }
                    Some(Err(e)) => log::error!("TLS ticket keys of {addr} not loaded: {e}"),
                    None => log::error!("TLS ticket keys: no TLS frontend on {addr}"),
                }
            }
        }
        self.seen = now;
    }
}

fn report(ctx: &TlsContext, result: Result<(), net::TlsError>) {
    let files: Vec<String> = ctx
        .settings
        .certs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    match result {
        Ok(()) => log::info!("TLS certificates loaded: {}", files.join(", ")),
        Err(e) => log::error!("TLS certificates not reloaded, the previous ones stay: {e}"),
    }
}
