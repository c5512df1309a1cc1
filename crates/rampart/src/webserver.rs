//! The webserver from the binary's side: starting it when the config
//! asks (`webserver(addr)`), keeping its view of the config current, and
//! answering on the control thread what needs the config's Lua state.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// A running webserver, as the control loop sees it.
pub struct Web {
    calls: Receiver<web::Call>,
    config: Arc<ArcSwap<config::Config>>,
}

/// Starts the webserver if the config has `webserver(addr)`.
pub fn start(
    c: &config::Config,
    shared: &net::SharedSnapshot,
    frontends: &[Arc<net::FrontendCounts>],
) -> Option<Web> {
    let addr = c.web.addr?;
    let (tx, rx) = std::sync::mpsc::channel();
    let config = Arc::new(ArcSwap::from_pointee(c.clone()));
    let ctx = web::Context {
        shared: shared.clone(),
        config: config.clone(),
        frontends: frontends.to_vec(),
        calls: tx,
        started: std::time::Instant::now(),
    };
    match web::start(addr, ctx) {
        Ok(bound) => {
            log::info!("webserver listening on {bound}");
            if c.web.password.is_none() && c.web.api_key.is_none() {
                log::warn!("webserver: no password and no API key set: only what needs no authentication is served");
            }
            Some(Web { calls: rx, config })
        }
        Err(e) => {
            log::error!("{e}");
            None
        }
    }
}

impl Web {
    /// The config changed (console line, reload): the webserver serves
    /// with the new settings from its next request.
    pub fn update(&self, serving: &config::Serving) {
        self.config.store(Arc::new(serving.config()));
    }

    /// Answers the calls waiting. When the ACL changed, `publish` puts it
    /// in force before the API's caller hears back: a client told "done"
    /// must find the next query under the new ACL.
    pub fn answer(&self, serving: &config::Serving, publish: impl FnOnce()) {
        let mut acl_replies = Vec::new();
        while let Ok(call) = self.calls.try_recv() {
            match call {
                web::Call::Handler(req, reply) => {
                    let _ = reply.send(serving.web_handler(&req));
                }
                web::Call::SetAcl(masks, reply) => {
                    let result = serving.set_acl(&masks);
                    if result.is_ok() {
                        log::info!("ACL set by the web API: {}", masks.join(", "));
                    }
                    acl_replies.push((reply, result));
                }
            }
        }
        if acl_replies.iter().any(|(_, r)| r.is_ok()) {
            publish();
        }
        for (reply, result) in acl_replies {
            let _ = reply.send(result);
        }
    }
}
