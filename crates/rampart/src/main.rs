//! rampart: a DoS-aware authoritative DNS server and DNS load balancer.
//!
//! The binary stays thin: [`args`] turns the command line into a command,
//! [`snapshot`] builds what is served from a config, and the libraries do
//! the rest (`config` runs the Lua, `zone` loads and answers, `net` owns
//! the sockets, `xfr` replication, `web` the webserver). `main` runs the
//! commands and, when serving, the control loop: signals (the `signals`
//! module), reloads, the once-a-second maintenance, console commands, and
//! dropping privileges (`privileges`) once the sockets are bound.
//!
//! Modules:
//! - [`args`]: raw words to a validated [`args::Command`] (serve,
//!   `--check-config`, `-c`, `check-zone`, `sign-zone`, `journal`,
//!   `check`);
//! - [`snapshot`]: the served snapshot from a config, each zone loaded on
//!   its own; [`zones`]: the replication service joined to that snapshot
//!   and to the console (`showZones`, `reloadZone`, `flushZones`);
//! - [`encrypted`]: the DoT/DoH listeners' TLS contexts and their
//!   certificate reloads; [`webserver`]: starting the webserver and
//!   answering its calls on the control thread;
//! - [`logging`]: the logger behind the `log` facade (plain, logfmt,
//!   JSON; syslog);
//! - [`systemd`]: `Type=notify` readiness, reload and watchdog messages;
//! - [`line_editor`]: line editing and history for `rampart -c`;
//! - [`sign_zone`]: `rampart sign-zone`, offline signing;
//! - [`check`]: `rampart check`, the Nagios/NRPE monitoring plugin (dig,
//!   soa-sync, time, rrsig, stats).

mod args;
mod check;
mod encrypted;
mod line_editor;
mod logging;
mod sign_zone;
mod snapshot;
mod systemd;
mod webserver;
mod zones;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use arc_swap::ArcSwap;
use args::{Command, ServeArgs};

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&raw) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rampart: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    // Lines from the libraries go through the `log` facade to this
    // logger; serving also logs to syslog unless told not to.
    match &command {
        Command::Serve(a) => logging::init(a.log_format, !a.disable_syslog),
        Command::CheckConfig(a) => logging::init(a.log_format, false),
        _ => logging::init(logging::Format::Plain, false),
    }
    match command {
        Command::Help => {
            print!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("rampart {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::CheckZone { name, file, quiet } => check_zone(&name, &file, quiet),
        Command::SignZone(a) => sign_zone::run(&a),
        Command::Journal { show, zone, dir } => journal(show, &zone, &dir),
        Command::CheckConfig(a) => check_config(&a),
        Command::Serve(a) => serve(&a),
        Command::Client(a) => client(&a),
        Command::Check(words) => check::run(&words),
    }
}

/// Loads the config named by `a` and applies the command-line overrides.
fn load_config(a: &ServeArgs) -> Result<config::Config, String> {
    let c = config::load_with_acl(&a.config, initial_acl(a).as_ref()).map_err(|e| e.to_string())?;
    Ok(apply_overrides(a, c))
}

/// Loads the config for serving: its dynamic-block functions work on
/// `runtime`, and its Lua state is kept for `maintenance()`.
fn load_for_serving(
    a: &ServeArgs,
    runtime: &Arc<shield::Runtime>,
) -> Result<(config::Config, config::Serving), String> {
    let (c, serving) = config::load_for_serving(&a.config, runtime, initial_acl(a).as_ref())
        .map_err(|e| e.to_string())?;
    Ok((apply_overrides(a, c), serving))
}

/// `-a` netmasks as the ACL the config starts from.
fn initial_acl(a: &ServeArgs) -> Option<shield::NetmaskGroup> {
    if a.acl.is_empty() {
        return None;
    }
    let mut g = shield::NetmaskGroup::new();
    for m in &a.acl {
        // Checked when the arguments were parsed.
        if let Ok(n) = shield::Netmask::parse(m) {
            g.add(n);
        }
    }
    Some(g)
}

fn apply_overrides(a: &ServeArgs, mut c: config::Config) -> config::Config {
    if !a.listen.is_empty() {
        c.listeners = a
            .listen
            .iter()
            .map(|addr| config::Listener::new(*addr))
            .collect();
    }
    if a.udp_workers.is_some() {
        c.udp_workers = a.udp_workers;
    }
    c
}

fn check_zone(name: &str, file: &Path, quiet: bool) -> ExitCode {
    match zone::load_zone(name, file) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            if !quiet {
                println!("zone {name}/IN: loaded serial {}", loaded.zone.serial);
                println!("OK");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            if !quiet {
                println!("zone {name}/IN: not loaded due to errors.");
            }
            ExitCode::FAILURE
        }
    }
}

/// `rampart journal verify|show ZONE --dir DIR`.
fn journal(show: bool, zone_name: &str, dir: &Path) -> ExitCode {
    let apex = match zone::parse_name(zone_name) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bad zone name '{zone_name}': {e}");
            return ExitCode::from(2);
        }
    };
    let path = xfr::journal::path_for(dir, &apex);
    if !path.exists() {
        eprintln!("{}: no journal for zone {zone_name}", path.display());
        return ExitCode::FAILURE;
    }
    if !show {
        return match xfr::journal::verify(&path) {
            Ok(n) => {
                println!("{}: {n} blocks, chain intact", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let blocks = match xfr::journal::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for b in &blocks {
        let c = &b.change;
        let hash: String = b.hash.iter().take(8).map(|x| format!("{x:02x}")).collect();
        let _ = writeln!(
            out,
            "block {} serial {} -> {} at {} by {} (-{} +{}) hash {hash}…",
            b.seq,
            c.serial_before,
            c.serial_after,
            c.time,
            c.source,
            c.removed.len(),
            c.added.len()
        );
        for r in &c.removed {
            let _ = writeln!(out, "  - {}", zone::text::record_line(r));
        }
        for r in &c.added {
            let _ = writeln!(out, "  + {}", zone::text::record_line(r));
        }
    }
    ExitCode::SUCCESS
}

fn check_config(a: &ServeArgs) -> ExitCode {
    let c = match load_config(a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (_, report) = snapshot::build(&c, None, None);
    for n in &c.notes {
        eprintln!("note: {n}");
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for w in c.shield.rules.unreachable() {
        eprintln!("warning: {w}");
    }
    for e in &report.errors {
        eprintln!("{e}");
    }
    if report.errors.is_empty() {
        println!("Configuration '{}' OK!", a.config.display());
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn log_report(c: &config::Config, report: &snapshot::Report) {
    for n in &c.notes {
        log::info!("{n}");
    }
    for w in c.shield.rules.unreachable() {
        log::warn!("{w}");
    }
    if c.shield.acl == shield::netmask::default_acl() {
        log::info!(
            "{}",
            "ACL is dnsdist's default (loopback and private ranges only); \
             setACL({\"0.0.0.0/0\", \"::/0\"}) answers everyone",
        );
    }
    for l in &report.loaded {
        log::info!("{l}");
    }
    for w in &report.warnings {
        log::warn!("{w}");
    }
    for e in &report.errors {
        log::error!("{e}");
    }
}

fn serve(a: &ServeArgs) -> ExitCode {
    // Signals are taken by sigwait in this thread only: block them before
    // any other thread exists (the forwarders and health checks start while
    // the config loads) so every thread inherits the mask.
    let signals = match signals::block() {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot set up signal handling: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Rings and dynamic blocks outlive reloads.
    let runtime = Arc::new(shield::Runtime::default());
    let (c, mut serving) = match load_for_serving(a, &runtime) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    logging::set_verbosity(a.verbose || c.verbose, c.verbose_health_checks);
    let mut notifier = systemd::Notifier::from_env();
    let service = xfr::Service::new();
    service.configure(&c.replication);
    let (snap, report) = snapshot::build(&c, None, Some(&service));
    log_report(&c, &report);
    let upstream = match net::Upstream::new(
        c.pools.clone(),
        None,
        &runtime,
        (c.udp_timeout, c.udp_outstanding),
    ) {
        Ok(u) => u,
        Err(e) => {
            log::error!("cannot start forwarding to the backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = net::State::new(
        Arc::new(snap),
        c.shield.clone(),
        runtime.clone(),
        upstream,
        service.clone(),
    );
    state.publish();
    let shared = Arc::new(ArcSwap::from_pointee(state));

    let workers = c
        .udp_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let specs: Vec<net::ListenSpec> = c
        .listeners
        .iter()
        .map(|l| net::ListenSpec {
            addr: l.addr,
            udp: true,
            tcp: l.tcp,
            max_tcp_connections: l.max_tcp_connections,
            service: net::tcp::Service::Dns,
        })
        .collect();
    let (encrypted_specs, mut encrypted) = match encrypted::specs(&c) {
        Ok(x) => x,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // dnsdist's frontend order (getBind(n), showBinds, the API): the
    // config's listeners as written, plain ones first here; listeners
    // given with -l replace the plain ones and come after the config's
    // encrypted ones, as dnsdist adds its command line's last.
    let specs: Vec<net::ListenSpec> = if a.listen.is_empty() {
        specs.into_iter().chain(encrypted_specs).collect()
    } else {
        encrypted_specs.into_iter().chain(specs).collect()
    };
    let opts = net::ServeOptions {
        udp_workers: workers,
        tcp: net::tcp::TcpOptions {
            recv_timeout: c.tcp_idle_timeout,
            send_timeout: c.tcp_send_timeout,
            per_client: c.tcp_per_client,
            queries_per_connection: c.tcp_queries_per_connection,
            max_duration: (!c.tcp_max_duration.is_zero()).then_some(c.tcp_max_duration),
            max_read_ios_per_query: c.tcp_max_read_ios,
            read_ios_ban: c.tcp_read_ios_ban,
            max_connection_rate: c.tcp_connection_rate,
            max_tls_new_session_rate: c.tls_new_session_rate,
            max_tls_resumed_session_rate: c.tls_resumed_session_rate,
            rate_ban: c.tcp_rate_ban,
        },
        tcp_backlog: c.tcp_backlog.min(i32::MAX as u32) as i32,
    };
    raise_fd_limit(&c, workers);
    let server = match net::start(&specs, &opts, shared.clone()) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Before privileges are dropped: the webserver may use a low port.
    let web = webserver::start(&c, &shared, &server.frontends);
    if let Err(e) = privileges::drop_to(a.user.as_deref(), a.group.as_deref()) {
        log::error!("{e}");
        return ExitCode::FAILURE;
    }
    for l in &c.listeners {
        log::info!(
            "listening on {} (UDP, {workers} workers{})",
            l.addr,
            if l.tcp { ", TCP" } else { "" }
        );
    }
    for l in &c.encrypted {
        let what = match &l.kind {
            config::tls_lua::EncryptedKind::Dot => "DNS over TLS".to_string(),
            config::tls_lua::EncryptedKind::Doh { paths, .. } if l.certs.is_empty() => {
                format!("DNS over HTTP, cleartext, {}", paths.join(" "))
            }
            config::tls_lua::EncryptedKind::Doh { paths, .. } => {
                format!("DNS over HTTPS, {}", paths.join(" "))
            }
            config::tls_lua::EncryptedKind::Doq { .. } => "DNS over QUIC, UDP".to_string(),
        };
        log::info!("listening on {} ({what})", l.addr);
    }

    // Changes made by updates and transfers reach the query path from now.
    service.start(Box::new(zones::Publisher {
        shared: shared.clone(),
    }));
    zones::attach_console(&serving, &service, &c);

    let console = start_console(&c);
    // Listeners bound, zones loaded, the webserver up: systemd may go on
    // with what waits for this service.
    notifier.ready();

    let mut listeners = c.listeners.clone();
    // The control loop owns the config's Lua state: it takes signals,
    // runs console lines as they come, and once a second the maintenance
    // pass (the config's maintenance() and expiring dynamic blocks).
    let tick = std::time::Duration::from_secs(1);
    let mut last_tick = std::time::Instant::now();
    let mut last_clean = last_tick;
    loop {
        notifier.watchdog();
        match signals::wait(&signals, std::time::Duration::from_millis(50)) {
            Some(libc::SIGHUP) => {
                notifier.reloading();
                encrypted.reload_all();
                let reloaded = reload(a, &shared, &mut listeners);
                notifier.ready();
                if let Some(new) = reloaded {
                    serving = new;
                    if let Some(w) = &web {
                        w.update(&serving);
                    }
                }
                zones::republish(&service, &shared);
            }
            Some(sig) => {
                log::info!("signal {sig} received: draining");
                notifier.stopping();
                // Zones changed by updates are written back before leaving.
                service.flush(true);
                let clean = net::drain::drain(std::time::Duration::from_secs(2));
                log::info!(
                    "{}",
                    if clean {
                        "drained, exiting"
                    } else {
                        "exiting with answers still under way after 2 s"
                    }
                );
                return ExitCode::SUCCESS;
            }
            None => {}
        }
        while let Some(cmd) = console.as_ref().and_then(|rx| rx.try_recv().ok()) {
            if !cmd.line.trim().is_empty() {
                log::info!("console {}: {}", cmd.from, cmd.line);
            }
            let out = serving.console(&cmd.line);
            // In force before the console answers (as in dnsdist): a
            // script that adds a rule and then queries sees it apply.
            publish_shield_changes(&shared, &serving);
            let _ = cmd.reply.send(out);
            encrypted.console_requests(serving.config().tls_requests);
            if let Some(w) = &web {
                w.update(&serving);
            }
        }
        if let Some(w) = &web {
            w.answer(&serving, || {
                publish_shield_changes(&shared, &serving);
                w.update(&serving);
            });
        }
        if last_tick.elapsed() >= tick {
            last_tick = std::time::Instant::now();
            if let Err(e) = serving.maintenance() {
                log::error!("maintenance(): {e}");
            }
            publish_shield_changes(&shared, &serving);
            runtime.dynblocks.expire();
            encrypted.reload_changed();
            shield::logthrottle::flush();
            service.flush(false);
            service.resign_due();
            let snap = shared.load();
            snap.upstream.pools.check_slow();
            let every = u64::from(snap.upstream.pools.cache_cleaning_delay.max(1));
            if last_clean.elapsed().as_secs() >= every {
                last_clean = std::time::Instant::now();
                snap.upstream.pools.clean_caches();
            }
        }
        runtime.dynblocks.write_log();
        if let Some(rrl) = &shared.load().shield.rrl {
            rrl.write_log();
        }
    }
}

/// Starts the console if the config asks for one; its commands arrive
/// on the returned channel.
fn start_console(
    c: &config::Config,
) -> Option<std::sync::mpsc::Receiver<control::server::Command>> {
    let addr = c.console.addr?;
    let Some(key) = &c.console.key else {
        log::warn!("controlSocket({addr}) without setKey: the console stays closed");
        return None;
    };
    let key = match control::parse_key(key) {
        Ok(k) => k,
        Err(e) => {
            log::error!("console key: {e}");
            return None;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let limits = (c.console.acl.clone(), c.console.max_connections);
    match control::server::start(addr, key, limits, tx) {
        Ok(()) => {
            log::info!("console listening on {addr}");
            Some(rx)
        }
        Err(e) => {
            log::error!("{e}");
            None
        }
    }
}

/// `rampart -c`: the console client.
fn client(a: &args::ClientArgs) -> ExitCode {
    let settings = match config::console_lua::client_settings(&a.config) {
        Ok(s) => s,
        Err(e) if a.key.is_some() => {
            log::warn!("{e}; using the command line's key");
            config::console_lua::ConsoleConfig::default()
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = a.addr.or(settings.addr).unwrap_or_else(|| {
        std::net::SocketAddr::from(([127, 0, 0, 1], config::console_lua::CONSOLE_PORT))
    });
    let Some(key) = a.key.clone().or(settings.key) else {
        eprintln!(
            "no console key: give setKey(...) in {} or -k KEY",
            a.config.display()
        );
        return ExitCode::FAILURE;
    };
    let key = match control::parse_key(&key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut console = match control::client::Client::connect(addr, &key) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(cmd) = &a.exec {
        return match console.command(cmd) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    // Interactive with line editing and history, or commands piped in:
    // one line at a time.
    use std::io::{BufRead, IsTerminal, Write};
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut history = line_editor::History::load_default();
    let mut next_line = || -> std::io::Result<Option<String>> {
        if interactive {
            let line = line_editor::read_line("> ", history.lines())?;
            if let Some(l) = &line {
                history.add(l);
            }
            return Ok(line);
        }
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
    };
    loop {
        let line = match next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let line = line.as_str();
        if line.trim() == "quit" || line.trim() == "exit" {
            return ExitCode::SUCCESS;
        }
        match console.command(line) {
            Ok(out) => {
                print!("{out}");
                let _ = std::io::stdout().flush();
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Re-reads the config and zones; swaps the new snapshot in only if the
/// config itself loaded. Zones that fail keep their previous version.
fn reload(
    a: &ServeArgs,
    shared: &net::SharedSnapshot,
    listeners: &mut Vec<config::Listener>,
) -> Option<config::Serving> {
    log::info!("SIGHUP: reloading {}", a.config.display());
    let runtime = shared.load().runtime.clone();
    let (c, serving) = match load_for_serving(a, &runtime) {
        Ok(c) => c,
        Err(e) => {
            log::error!("reload refused, still serving the previous configuration: {e}");
            return None;
        }
    };
    if c.listeners != *listeners {
        log::warn!("listener changes take effect on restart; the current sockets stay");
    }
    let previous = shared.load_full();
    // Everything that can refuse the reload comes before the replication
    // service takes the new settings: a refused reload changes nothing.
    let upstream = match net::Upstream::new(
        c.pools.clone(),
        Some(&previous.upstream),
        &previous.runtime,
        (c.udp_timeout, c.udp_outstanding),
    ) {
        Ok(u) => u,
        Err(e) => {
            log::error!("reload refused: cannot start forwarding to the backends: {e}");
            return None;
        }
    };
    logging::set_verbosity(a.verbose || c.verbose, c.verbose_health_checks);
    previous.xfr.configure(&c.replication);
    let (snap, report) = snapshot::build(&c, Some(&previous.zones), Some(&previous.xfr));
    previous.xfr.retain(&zones::declared(&c));
    log_report(&c, &report);
    install(
        shared,
        net::State::new(
            Arc::new(snap),
            c.shield.clone(),
            previous.runtime.clone(),
            upstream,
            previous.xfr.clone(),
        ),
    );
    zones::attach_console(&serving, &previous.xfr, &c);
    *listeners = c.listeners;
    log::info!("reload done");
    Some(serving)
}

/// Raises the soft limit on open files to the hard one, and warns (as
/// dnsdist does) when even that is below what the listeners, their TCP
/// connection limits and the backends may need: out of descriptors, new
/// TCP connections are refused (UDP goes on).
fn raise_fd_limit(c: &config::Config, workers: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    let need: u64 = c
        .listeners
        .iter()
        .map(|l| (workers + 1 + if l.tcp { l.max_tcp_connections } else { 0 }) as u64)
        .sum::<u64>()
        + 2 * c.pools.backends.len() as u64
        + 64;
    if lim.rlim_cur < need {
        log::warn!(
            "open files limit is {}, below the {need} the listeners, TCP connection limits and              backends may need: raise it (LimitNOFILE= in systemd, ulimit -n)",
            lim.rlim_cur
        );
    }
}

/// Rules or ACL changed from Lua at runtime (in maintenance(), or later
/// from the console): serve them from the next query on.
fn publish_shield_changes(shared: &net::SharedSnapshot, serving: &config::Serving) {
    let current = shared.load();
    let shield = serving.shield();
    let pools = serving.pools();
    let same_shield = shield.same_as(&current.shield);
    let same_backends = current.upstream.same_backends(&pools);
    // setRingBuffersSize replaced the runtime's rings.
    let same_rings = Arc::ptr_eq(&current.rings, &current.runtime.rings.load());
    if same_shield && same_backends && same_rings {
        return;
    }
    if !same_shield {
        log::info!(
            "rules changed at runtime: {} query rules, {} response rules, {} ACL entries",
            shield.rules.rules().len(),
            shield.response_rules.rules.len(),
            shield.acl.masks().len()
        );
    }
    let upstream = if same_backends {
        current.upstream.clone()
    } else {
        log::info!(
            "backends changed at runtime: {} servers, policy {}",
            pools.backends.len(),
            pools.policy.name()
        );
        let timeout = current
            .upstream
            .udp_timeout
            .max(std::time::Duration::from_secs(1));
        let udp = (timeout, current.upstream.udp_outstanding);
        match net::Upstream::new(pools, Some(&current.upstream), &current.runtime, udp) {
            Ok(u) => u,
            Err(e) => {
                log::error!("cannot forward to the new backends: {e}");
                current.upstream.clone()
            }
        }
    };
    install(
        shared,
        net::State::new(
            current.zones.clone(),
            shield,
            current.runtime.clone(),
            upstream,
            current.xfr.clone(),
        ),
    );
}

/// Puts `state` in force ([`net::State::publish`]).
fn install(shared: &net::SharedSnapshot, state: net::State) {
    state.publish();
    shared.store(Arc::new(state));
}

/// `-u`/`-g`: giving up root once the sockets are bound.
mod privileges {
    use std::ffi::CString;

    /// Switches to `group`, then `user` (names or numbers).
    pub fn drop_to(user: Option<&str>, group: Option<&str>) -> Result<(), String> {
        let user = user
            .map(|u| lookup_user(u).map(|ids| (u, ids)))
            .transpose()?;
        // Without -g, the user's own group: keeping gid 0 and root's
        // supplementary groups would leave most of root's file access.
        let gid = match (group, &user) {
            (Some(g), _) => Some((lookup_group(g)?, format!("-g {g}"))),
            (None, Some((u, (_, gid)))) => Some((*gid, format!("-u {u} (its group)"))),
            (None, None) => None,
        };
        if let Some((gid, what)) = gid {
            // SAFETY: plain libc calls; failure is reported below.
            if unsafe { libc::setgroups(0, std::ptr::null()) } != 0
                || unsafe { libc::setgid(gid) } != 0
            {
                return Err(format!(
                    "{what}: cannot switch group: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if let Some((u, (uid, _))) = user {
            // SAFETY: plain libc call; glibc applies it to every thread.
            if unsafe { libc::setuid(uid) } != 0 {
                return Err(format!(
                    "-u {u}: cannot switch user: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(())
    }

    /// A user's uid and primary gid, by name or number.
    fn lookup_user(u: &str) -> Result<(libc::uid_t, libc::gid_t), String> {
        let entry = match u.parse::<libc::uid_t>() {
            // SAFETY: getpwuid returns null or an entry read at once, on
            // this thread.
            Ok(n) => unsafe { libc::getpwuid(n) },
            Err(_) => {
                let name = CString::new(u).map_err(|_| format!("bad user name '{u}'"))?;
                // SAFETY: as above, with a NUL-terminated name.
                unsafe { libc::getpwnam(name.as_ptr()) }
            }
        };
        if entry.is_null() {
            return Err(format!("-u: no user '{u}' (give a user the system knows)"));
        }
        // SAFETY: non-null, returned just now.
        Ok(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
    }

    /// A group's gid, by name or number.
    fn lookup_group(g: &str) -> Result<libc::gid_t, String> {
        if let Ok(n) = g.parse::<libc::gid_t>() {
            return Ok(n);
        }
        let name = CString::new(g).map_err(|_| format!("bad group name '{g}'"))?;
        // SAFETY: getgrnam takes a NUL-terminated name; the result is read
        // at once, on this thread.
        let entry = unsafe { libc::getgrnam(name.as_ptr()) };
        if entry.is_null() {
            return Err(format!("-g: no group '{g}'"));
        }
        // SAFETY: non-null, returned by getgrnam just now.
        Ok(unsafe { (*entry).gr_gid })
    }
}

/// Synchronous signal handling with `sigwait`.
mod signals {
    use std::io;

    /// Blocks SIGHUP, SIGTERM and SIGINT for this and future threads.
    pub fn block() -> io::Result<libc::sigset_t> {
        // SAFETY: plain libc calls on a local sigset_t.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGHUP);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if r != 0 {
                return Err(io::Error::from_raw_os_error(r));
            }
            Ok(set)
        }
    }

    /// Waits for one of the blocked signals.
    /// Waits up to `timeout` for one of the blocked signals.
    pub fn wait(set: &libc::sigset_t, timeout: std::time::Duration) -> Option<libc::c_int> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: `set` was initialised by `block`; a null siginfo is allowed.
        let r = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
        (r > 0).then_some(r)
    }
}
