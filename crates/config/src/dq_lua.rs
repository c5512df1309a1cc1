//! The `dq` (and `dr`) a Lua rule is given: a copy of what the query
//! path knows about the query (or the answer), and what the function
//! changed on it ([`DqResult`]), which [`crate::hook_lua`] hands back to
//! the rules. The FFI functions ([`crate::ffi_lua`]) work on it too.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use mlua::{Function, Table, UserData, UserDataFields, UserDataMethods};
use shield::QueryInfo;

use crate::lua_util::LuaDnsName;

/// What the Lua function changed on its `dq`.
#[derive(Clone, Debug, Default)]
pub(crate) struct DqResult {
    pub(crate) skip_cache: bool,
    pub(crate) temp_failure_ttl: Option<u32>,
    pub(crate) tags: Vec<(String, String)>,
    /// `dq:spoof(...)`: the addresses or raw records to answer with, for
    /// a HeaderModify result.
    pub(crate) spoof: Option<(Vec<IpAddr>, Vec<Vec<u8>>)>,
    /// `dq:setTrailingData(...)`: what now follows the message.
    pub(crate) trailing: Option<Vec<u8>>,
    /// `dr:editTTLs(...)`: new TTLs by the offset of their field.
    pub(crate) ttls: Vec<(usize, u32)>,
    /// `dnsdist_ffi_dnsquestion_set_result` (FFI): the text a
    /// `DNSAction.Spoof` (or Delay) result goes with.
    pub(crate) ffi_result: Option<Vec<u8>>,
    /// `dq:setHTTPResponse(status, body, type)` on a DoH query: the HTTP
    /// answer a HeaderModify result sends instead of a DNS one.
    pub(crate) http_response: Option<(u16, Vec<u8>, String)>,
    /// `dq.dh:set...(...)`: the header's new flags word.
    pub(crate) flags: Option<u16>,
}

/// `dq`/`dr`: a copy of what the query path knows about the query.
pub(crate) struct LuaDq {
    pub(crate) qname: Vec<u8>,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    /// The header's flags word; `dq.dh` shares it to change it.
    pub(crate) flags: Rc<Cell<u16>>,
    pub(crate) dnssec_ok: bool,
    pub(crate) tcp: bool,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) content: Vec<u8>,
    pub(crate) rcode: Option<u16>,
    pub(crate) tags: Vec<(String, String)>,
    /// The OPT record's options, as `[code][len][data]…`.
    pub(crate) options: Vec<u8>,
    /// Where the message ends in `content` (trailing data follows).
    pub(crate) end: usize,
    /// A response's `dr` (the content is the answer).
    pub(crate) response: bool,
    /// dnsdist's name of the transport (`dq:getProtocol()`).
    pub(crate) protocol: &'static str,
    /// The DoH request (`dq:getHTTPPath()` and the others).
    pub(crate) http: Option<DqHttp>,
    pub(crate) result: DqResult,
}

/// A copy of the DoH request a query came in.
pub(crate) struct DqHttp {
    pub(crate) scheme: &'static str,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl DqHttp {
    fn new(h: &shield::stream_info::HttpInfo) -> DqHttp {
        let mut headers = Vec::new();
        h.headers
            .each(&mut |n, v| headers.push((n.to_string(), v.to_string())));
        DqHttp {
            scheme: h.scheme,
            host: h.host.to_string(),
            path: h.path.to_string(),
            query: h.query.to_string(),
            headers,
        }
    }
}

/// The DoH request's parts a Lua rule reads, by the `dq` method and the
/// FFI function that give them (empty strings over other transports, as
/// dnsdist gives): one list for both forms.
pub(crate) type HttpPart = fn(&DqHttp) -> String;
pub(crate) const HTTP_PARTS: [(&str, &str, HttpPart); 4] = [
    (
        "getHTTPScheme",
        "dnsdist_ffi_dnsquestion_get_http_scheme",
        |h| h.scheme.to_string(),
    ),
    (
        "getHTTPHost",
        "dnsdist_ffi_dnsquestion_get_http_host",
        |h| h.host.clone(),
    ),
    (
        "getHTTPPath",
        "dnsdist_ffi_dnsquestion_get_http_path",
        |h| h.path.clone(),
    ),
    (
        "getHTTPQueryString",
        "dnsdist_ffi_dnsquestion_get_http_query_string",
        |h| h.query.clone(),
    ),
];

impl LuaDq {
    /// `part` of the DoH request, empty over other transports.
    pub(crate) fn http_part(&self, part: HttpPart) -> String {
        self.http.as_ref().map(part).unwrap_or_default()
    }

    /// The DoH request's headers, name and value (none over other
    /// transports).
    pub(crate) fn http_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.http
            .iter()
            .flat_map(|h| &h.headers)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// `setHTTPResponse` (and its FFI form, `what`): the HTTP answer a
    /// HeaderModify result sends, on a DoH query (elsewhere nothing). A
    /// status HTTP has not is an error naming the calling line.
    pub(crate) fn set_http_response(
        &mut self,
        lua: &mlua::Lua,
        what: &str,
        (status, body, content_type): (u16, Vec<u8>, Option<String>),
    ) -> mlua::Result<()> {
        if !(100..=599).contains(&status) {
            return Err(crate::fail(
                lua,
                format!("{what}: HTTP status {status}: expected 100 to 599"),
            ));
        }
        if self.http.is_some() {
            self.result.http_response = Some((status, body, content_type.unwrap_or_default()));
        }
        Ok(())
    }
}

/// dnsdist's names of the transports (`dnsdist::Protocol`).
fn protocol(q: &QueryInfo) -> &'static str {
    match q.stream {
        Some(s) if s.http.is_some() => "DNS over HTTPS",
        Some(s) if s.quic => "DNS over QUIC",
        Some(_) => "DNS over TLS",
        None if q.tcp => "Do53 TCP",
        None => "Do53 UDP",
    }
}

impl LuaDq {
    pub(crate) fn new(q: &QueryInfo) -> LuaDq {
        let end = q.query.end.min(q.query.packet.len());
        let content = match q.trailing.replaced() {
            Some(data) => [&q.query.packet[..end], &data].concat(),
            None => q.query.packet.to_vec(),
        };
        LuaDq {
            qname: q.query.qname.to_vec(),
            qtype: q.query.qtype,
            qclass: q.query.qclass,
            flags: Rc::new(Cell::new(q.query.flags)),
            dnssec_ok: q.query.edns.is_some_and(|e| e.dnssec_ok),
            tcp: q.tcp,
            remote: q.client,
            local: q.local,
            content,
            options: q.query.edns_options.to_vec(),
            end,
            response: false,
            protocol: protocol(q),
            http: q.stream.and_then(|s| s.http.as_ref()).map(DqHttp::new),
            rcode: q.rcode,
            tags: q
                .tags
                .all()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            result: DqResult::default(),
        }
    }
}

impl UserData for LuaDq {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("qname", |_, dq| Ok(LuaDnsName::from_wire(&dq.qname)));
        fields.add_field_method_get("qtype", |_, dq| Ok(dq.qtype));
        fields.add_field_method_get("qclass", |_, dq| Ok(dq.qclass));
        fields.add_field_method_get("tcp", |_, dq| Ok(dq.tcp));
        fields.add_field_method_get("len", |_, dq| Ok(dq.content.len()));
        fields.add_field_method_get("opcode", |_, dq| Ok((dq.flags.get() >> 11) & 0xf));
        fields.add_field_method_get("rcode", |_, dq| Ok(dq.rcode.unwrap_or(0)));
        fields.add_field_method_get("remoteaddr", |_, dq| Ok(LuaAddr(dq.remote)));
        fields.add_field_method_get("localaddr", |_, dq| Ok(LuaAddr(dq.local)));
        fields.add_field_method_get("dh", |_, dq| Ok(LuaHeader(dq.flags.clone())));
        fields.add_field_method_get("skipCache", |_, dq| Ok(dq.result.skip_cache));
        fields.add_field_method_set("skipCache", |_, dq, on: bool| {
            dq.result.skip_cache = on;
            Ok(())
        });
        fields.add_field_method_get("tempFailureTTL", |_, dq| Ok(dq.result.temp_failure_ttl));
        fields.add_field_method_set("tempFailureTTL", |_, dq, ttl: Option<u32>| {
            dq.result.temp_failure_ttl = ttl;
            Ok(())
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("getDO", |_, dq, ()| Ok(dq.dnssec_ok));
        // {[code] = view with :count() and :getValues()}, as dnsdist's.
        methods.add_method("getEDNSOptions", |lua, dq, ()| {
            let by_code = lua.create_table()?;
            let mut rest = &dq.options[..];
            while let [c0, c1, l0, l1, tail @ ..] = rest {
                let code = u16::from_be_bytes([*c0, *c1]);
                let n = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
                let view = match by_code.get::<Option<mlua::AnyUserData>>(code)? {
                    Some(v) => v,
                    None => {
                        let v = lua.create_userdata(LuaOptionView(Vec::new()))?;
                        by_code.set(code, v.clone())?;
                        v
                    }
                };
                view.borrow_mut::<LuaOptionView>()?
                    .0
                    .push(tail[..n].to_vec());
                rest = &tail[n..];
            }
            Ok(by_code)
        });
        methods.add_method("getContent", |lua, dq, ()| lua.create_string(&dq.content));
        methods.add_method("getTrailingData", |lua, dq, ()| {
            lua.create_string(dq.content.get(dq.end..).unwrap_or_default())
        });
        // Replaces what follows the message; false (nothing changed) when
        // the query would outgrow its buffer (4096 bytes over UDP, 65535
        // over TCP, as dnsdist's), and on an answer (not supported there).
        methods.add_method_mut("setTrailingData", |_, dq, data: mlua::LuaString| {
            let data = data.as_bytes().to_vec();
            let room = if dq.tcp { 65535 } else { 4096 };
            if dq.response || dq.end + data.len() > room {
                return Ok(false);
            }
            dq.content.truncate(dq.end);
            dq.content.extend_from_slice(&data);
            dq.result.trailing = Some(data);
            Ok(true)
        });
        // dr:editTTLs(function(section, qclass, qtype, ttl) ... end): the
        // function's non-zero result replaces the record's TTL; records
        // from the OPT on are left alone (dnsdist's editDNSPacketTTL).
        methods.add_method_mut("editTTLs", |_, dq, f: Function| {
            let Some((_, mut records)) = wire::edit::records(&dq.content) else {
                return Ok(());
            };
            while let Some(r) = records.next(&dq.content) {
                if r.rtype == wire::types::rtype::OPT {
                    break;
                }
                let section = r.section as u8 + 1;
                let at = r.fixed + 4;
                let field = |p: &[u8], i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
                let class = field(&dq.content, r.fixed + 2);
                let ttl = u32::from_be_bytes([
                    dq.content[at],
                    dq.content[at + 1],
                    dq.content[at + 2],
                    dq.content[at + 3],
                ]);
                let new: Option<u32> = f.call((section, class, r.rtype, ttl))?;
                if let Some(new) = new.filter(|t| *t != 0) {
                    dq.content[at..at + 4].copy_from_slice(&new.to_be_bytes());
                    dq.result.ttls.push((at, new));
                }
            }
            Ok(())
        });
        methods.add_method("getProtocol", |_, dq, ()| Ok(dq.protocol));
        // The DoH request; empty strings (and no headers) over other
        // transports, as dnsdist gives.
        for (method, _, part) in HTTP_PARTS {
            methods.add_method(method, move |_, dq, ()| Ok(dq.http_part(part)));
        }
        methods.add_method("getHTTPHeaders", |lua, dq, ()| {
            let t = lua.create_table()?;
            for (n, v) in dq.http_headers() {
                t.set(n, v)?;
            }
            Ok(t)
        });
        methods.add_method_mut(
            "setHTTPResponse",
            |lua, dq, (status, body, content_type): (u16, mlua::LuaString, Option<String>)| {
                let body = body.as_bytes().to_vec();
                dq.set_http_response(lua, "setHTTPResponse", (status, body, content_type))
            },
        );
        methods.add_method("getTag", |_, dq, name: String| {
            Ok(dq
                .result
                .tags
                .iter()
                .rev()
                .chain(dq.tags.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone()))
        });
        // dq:spoof({newCA(...), ...}) or dq:spoof({raw, ...}).
        methods.add_method_mut("spoof", |lua, dq, list: Table| {
            let mut addrs = Vec::new();
            let mut raws = Vec::new();
            for v in list.sequence_values::<mlua::Value>() {
                match v? {
                    mlua::Value::UserData(ud) if ud.is::<LuaAddr>() => {
                        addrs.push(ud.borrow::<LuaAddr>()?.0.ip())
                    }
                    mlua::Value::String(s) => raws.push(s.as_bytes().to_vec()),
                    other => {
                        return Err(crate::fail(
                            lua,
                            format!(
                                "dq:spoof takes addresses (newCA) or raw records, got {}",
                                other.type_name()
                            ),
                        ))
                    }
                }
            }
            dq.result.spoof = Some((addrs, raws));
            Ok(())
        });
        methods.add_method_mut("setTag", |_, dq, (name, value): (String, String)| {
            dq.result.tags.push((name, value));
            Ok(())
        });
    }
}

/// The values of one EDNS option code in a query.
struct LuaOptionView(Vec<Vec<u8>>);

impl UserData for LuaOptionView {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("count", |_, v, ()| Ok(v.0.len()));
        methods.add_method("getValues", |lua, v, ()| {
            let t = lua.create_table()?;
            for (i, value) in v.0.iter().enumerate() {
                t.set(i + 1, lua.create_string(value)?)?;
            }
            Ok(t)
        });
    }
}

/// `dq.remoteaddr`, `dq.localaddr` (dnsdist's ComboAddress).
pub(crate) struct LuaAddr(pub(crate) SocketAddr);

impl UserData for LuaAddr {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("toString", |_, a, ()| Ok(a.0.ip().to_string()));
        methods.add_method("toStringWithPort", |_, a, ()| Ok(a.0.to_string()));
        methods.add_method("getPort", |_, a, ()| Ok(a.0.port()));
        methods.add_method("isIPv4", |_, a, ()| Ok(a.0.is_ipv4()));
        methods.add_method("isIPv6", |_, a, ()| Ok(a.0.is_ipv6()));
        methods.add_meta_method(mlua::MetaMethod::ToString, |_, a, ()| {
            Ok(a.0.ip().to_string())
        });
    }
}

/// `dq.dh`: the query's header flags, to read and change (what the
/// query path makes of a change: [`shield::hook::HookDecision::flags`]).
struct LuaHeader(Rc<Cell<u16>>);

impl UserData for LuaHeader {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        use wire::types::flags;
        for (name, bit) in [
            ("RD", flags::RD),
            ("CD", flags::CD),
            ("AA", flags::AA),
            ("AD", flags::AD),
            ("TC", flags::TC),
            ("RA", flags::RA),
            ("QR", flags::QR),
        ] {
            methods.add_method(format!("get{name}"), move |_, h, ()| {
                Ok(h.0.get() & bit != 0)
            });
            methods.add_method(format!("set{name}"), move |_, h, on: bool| {
                let f = h.0.get();
                h.0.set(if on { f | bit } else { f & !bit });
                Ok(())
            });
        }
        methods.add_method("getRCode", |_, h, ()| Ok(h.0.get() & 0xf));
        methods.add_method("setRCode", |_, h, rcode: u16| {
            h.0.set((h.0.get() & !0xf) | (rcode & 0xf));
            Ok(())
        });
    }
}
