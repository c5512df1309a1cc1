//! The listeners as the console shows them, in dnsdist's words and
//! layout: `showBinds()`, `getBindCount()`, `getBind(n)`,
//! `showDOHFrontends()` and `showDOHResponseCodes()`. They read the
//! counts the sockets' threads keep in the runtime
//! ([`shield::frontend`]); before the sockets are bound (a config being
//! checked) there are none.

use std::sync::Arc;

use mlua::{Lua, UserData, UserDataMethods};
use shield::frontend::{FrontendCounts, StreamKind, STATUS_COLUMNS};
use shield::Runtime;

/// One of dnsdist's frontends: a listener's UDP side or its stream side.
#[derive(Clone)]
struct Bind {
    counts: Arc<FrontendCounts>,
    udp: bool,
}

impl Bind {
    fn kind(&self) -> &'static str {
        if self.udp {
            "UDP"
        } else {
            self.counts.stream_type()
        }
    }

    fn queries(&self) -> u64 {
        if self.udp {
            self.counts.udp_queries.get()
        } else {
            self.counts.tcp_queries.get()
        }
    }
}

impl UserData for Bind {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("toString", |_, b, ()| Ok(b.counts.addr.to_string()));
        m.add_meta_method("__tostring", |_, b, ()| Ok(b.counts.addr.to_string()));
        m.add_method("getType", |_, b, ()| Ok(b.kind()));
        // The library doing the TLS, which is rustls whatever `provider`
        // asked for; empty for plain DNS, as dnsdist's.
        m.add_method("getEffectiveTLSProvider", |_, b, ()| {
            Ok(if !b.udp && b.counts.encrypted() {
                "rustls"
            } else {
                ""
            })
        });
    }
}

/// dnsdist's frontend order: each listener's UDP side, then its stream
/// side.
fn binds(frontends: &[Arc<FrontendCounts>]) -> Vec<Bind> {
    let mut out = Vec::new();
    for f in frontends {
        for (on, udp) in [(f.udp, true), (f.streams, false)] {
            if on {
                out.push(Bind {
                    counts: f.clone(),
                    udp,
                });
            }
        }
    }
    out
}

/// `showBinds()`: number, address, protocol and queries, with dnsdist's
/// column stops (35 and 57).
fn show_binds(frontends: &[Arc<FrontendCounts>]) -> String {
    let line = |n: &str, addr: &str, kind: &str, queries: &str| {
        let mut l = format!("{n:<3} {addr:<20.20} ");
        l = format!("{l:<34} {kind:<20.20} ");
        format!("{l:<56} {queries}\n")
    };
    let mut out = line("#", "Address", "Protocol", "Queries");
    for (i, b) in binds(frontends).iter().enumerate() {
        let addr = b.counts.addr.to_string();
        out += &line(&i.to_string(), &addr, b.kind(), &b.queries().to_string());
    }
    out
}

fn doh_frontends(frontends: &[Arc<FrontendCounts>]) -> impl Iterator<Item = &FrontendCounts> {
    frontends
        .iter()
        .filter(|f| f.stream_kind == StreamKind::Doh)
        .map(|f| &**f)
}

/// `showDOHFrontends()`: dnsdist's columns up to "Valid" (rustls keeps
/// and rotates its own ticket keys: there is no rotation schedule to
/// show).
fn show_doh_frontends(frontends: &[Arc<FrontendCounts>]) -> String {
    let row = |cells: &[String]| {
        let mut l = format!("{:<3} {:<20.20}", cells[0], cells[1]);
        for c in &cells[2..] {
            l += &format!(" {c:<15}");
        }
        l.trim_end().to_string() + "\n"
    };
    let header = [
        "#",
        "Address",
        "HTTP",
        "HTTP/1",
        "HTTP/2",
        "GET",
        "POST",
        "Bad",
        "Errors",
        "Redirects",
        "Valid",
    ];
    let mut out = row(&header.map(String::from));
    for (i, f) in doh_frontends(frontends).enumerate() {
        let d = &f.doh;
        let cells = [
            i.to_string(),
            f.addr.to_string(),
            f.tcp_connections.get().to_string(),
            d.versions[0].queries.get().to_string(),
            d.versions[1].queries.get().to_string(),
            d.get.get().to_string(),
            d.post.get().to_string(),
            d.bad_requests.get().to_string(),
            d.errors.get().to_string(),
            d.redirects.get().to_string(),
            d.valid.get().to_string(),
        ];
        out += &row(&cells);
    }
    out
}

/// `showDOHResponseCodes()`: the statuses sent, per HTTP version.
fn show_doh_response_codes(frontends: &[Arc<FrontendCounts>]) -> String {
    let row = |n: &str, addr: &str, counts: &[String]| {
        let mut l = format!("{n:<3} {addr:<20.20}");
        for c in counts {
            l += &format!(" {c:<15}");
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = String::new();
    for (version, title) in ["HTTP/1", "HTTP/2"].iter().enumerate() {
        out += &format!("\n- {title}:\n\n");
        out += &row("#", "Address", &STATUS_COLUMNS.map(String::from));
        for (i, f) in doh_frontends(frontends).enumerate() {
            let statuses = &f.doh.versions[version].statuses;
            let counts: Vec<String> = statuses.iter().map(|c| c.get().to_string()).collect();
            out += &row(&i.to_string(), &f.addr.to_string(), &counts);
        }
    }
    out
}

/// Registers the functions over `runtime`'s frontends.
pub fn register(lua: &Lua, runtime: &Arc<Runtime>) -> mlua::Result<()> {
    let g = lua.globals();
    let rt = runtime.clone();
    g.set(
        "showBinds",
        lua.create_function(move |_, ()| {
            crate::output::emit(&show_binds(&rt.frontends.load()));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "getBindCount",
        lua.create_function(move |_, ()| Ok(binds(&rt.frontends.load()).len()))?,
    )?;
    let rt = runtime.clone();
    g.set(
        "getBind",
        lua.create_function(move |_, n: usize| Ok(binds(&rt.frontends.load()).get(n).cloned()))?,
    )?;
    let rt = runtime.clone();
    g.set(
        "showDOHFrontends",
        lua.create_function(move |_, ()| {
            crate::output::emit(&show_doh_frontends(&rt.frontends.load()));
            Ok(())
        })?,
    )?;
    let rt = runtime.clone();
    g.set(
        "showDOHResponseCodes",
        lua.create_function(move |_, ()| {
            crate::output::emit(&show_doh_response_codes(&rt.frontends.load()));
            Ok(())
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Arc<Runtime> {
        let rt = Arc::new(Runtime::default());
        let plain = FrontendCounts::new(
            "127.0.0.1:53".parse().unwrap(),
            (true, true),
            StreamKind::Tcp,
        );
        plain.udp_queries.add(7);
        plain.tcp_queries.add(2);
        let dot = FrontendCounts::new(
            "127.0.0.1:853".parse().unwrap(),
            (false, true),
            StreamKind::Dot,
        );
        let doh = FrontendCounts::new("[::1]:443".parse().unwrap(), (false, true), StreamKind::Doh);
        doh.tcp_connections.add(3);
        doh.doh.answered(true, Some(true), 200);
        doh.doh.answered(true, Some(false), 200);
        doh.doh.answered(false, Some(false), 400);
        rt.frontends.store(Arc::new(vec![
            Arc::new(plain),
            Arc::new(dot),
            Arc::new(doh),
        ]));
        rt
    }

    fn run(rt: &Arc<Runtime>, code: &str) -> String {
        let lua = Lua::new();
        register(&lua, rt).unwrap();
        let (r, out) = crate::output::capture(|| lua.load(code).exec());
        r.unwrap();
        out
    }

    #[test]
    fn show_binds_lists_each_side_of_each_listener_in_dnsdists_columns() {
        let out = run(&runtime(), "showBinds()");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(lines[0].starts_with("#   Address"), "{out}");
        assert_eq!(lines[0].find("Protocol"), Some(35), "{out}");
        assert_eq!(lines[0].find("Queries"), Some(57), "{out}");
        assert!(lines[1].starts_with("0   127.0.0.1:53"), "{out}");
        assert!(
            lines[1].ends_with(" 7") && lines[1].contains("UDP"),
            "{out}"
        );
        assert!(
            lines[2].ends_with(" 2") && lines[2].contains("TCP"),
            "{out}"
        );
        assert!(lines[3].contains("TCP (DNS over TLS)"), "{out}");
        assert!(lines[4].contains("TCP (DNS over HTTPS)"), "{out}");
    }

    #[test]
    fn get_bind_gives_the_address_the_type_and_the_tls_library() {
        let lua = Lua::new();
        register(&lua, &runtime()).unwrap();
        let out: String = lua
            .load(
                "return table.concat({getBindCount(), getBind(0):toString(), getBind(0):getType(),
                   getBind(2):getType(), getBind(2):getEffectiveTLSProvider(),
                   tostring(getBind(0):getEffectiveTLSProvider() == ''), tostring(getBind(3)),
                   tostring(getBind(9) == nil)}, '\t')",
            )
            .eval()
            .unwrap();
        assert_eq!(
            out, "4\t127.0.0.1:53\tUDP\tTCP (DNS over TLS)\trustls\ttrue\t[::1]:443\ttrue",
            "{out}"
        );
    }

    #[test]
    fn the_doh_tables_show_the_counts_by_column() {
        let rt = runtime();
        let out = run(&rt, "showDOHFrontends()");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        // #, address, connects, HTTP/1, HTTP/2, GET, POST, bad, errors,
        // redirects, valid
        assert_eq!(
            cells,
            [
                "0",
                "[::1]:443",
                "3",
                "1",
                "2",
                "2",
                "1",
                "1",
                "1",
                "0",
                "2"
            ],
            "{out}"
        );
        let out = run(&rt, "showDOHResponseCodes()");
        let rows: Vec<Vec<&str>> = out
            .lines()
            .filter(|l| l.starts_with("0 "))
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["0", "[::1]:443", "0", "1", "0", "0", "0", "0"],
            "{out}"
        );
        assert_eq!(
            rows[1],
            ["0", "[::1]:443", "2", "0", "0", "0", "0", "0"],
            "{out}"
        );
        assert!(
            out.contains("- HTTP/1:") && out.contains("- HTTP/2:"),
            "{out}"
        );
    }
}
