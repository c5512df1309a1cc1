//! `require("ffi")` for configs written for dnsdist's LuaJIT FFI
//! interface (`LuaFFIAction`, `LuaFFIRule`, `LuaFFIResponseAction` and
//! their PerThread forms).
//!
//! rampart runs Lua 5.4, which has no FFI. What such a config calls is
//! dnsdist's C API (`ffi.C.dnsdist_ffi_*`) on the `dq` it is given, with
//! a few FFI helpers around it: this module gives it exactly that, the
//! C functions implemented natively over the same `dq` the plain Lua
//! rules get, and the helpers over plain Lua values:
//!
//! - `ffi.cdef` accepts declarations and does nothing (the functions are
//!   known);
//! - `ffi.new("T[n]")` / `ffi.new("T[?]", n)` makes a 0-based array: of
//!   numbers (`size_t`, `int`, …), of records (`dnsdist_ffi_raw_value_t`
//!   and the other dnsdist structs, fields set and read by name), of
//!   pointers (set by the C functions, as `ptr[0]`), or a `char` buffer
//!   for `ffi.copy`;
//! - `ffi.cast` returns its value (an array and a pointer to its first
//!   element are the same thing here), `ffi.string` reads a string or a
//!   buffer up to its NUL or length, `tonumber` works on what the C
//!   functions return.
//!
//! Anything else (other C types, pointer arithmetic, `ffi.C` functions
//! not listed in [`FUNCTIONS`]) fails with an error naming it, when the
//! config is loaded or when the function is first called.

use mlua::{AnyUserData, Lua, Table, Value};

use crate::dq_lua::LuaDq;

/// The helpers, in Lua; called with the table of C functions.
const PRELUDE: &str = r#"
local C = ...
local ffi = { C = C }
local buffer_mt = { __name = "rampart ffi char buffer" }
local array_mt = { __name = "rampart ffi array" }
local numbers = {
  ["char"] = false, ["int"] = true, ["unsigned int"] = true, ["unsigned"] = true,
  ["long"] = true, ["unsigned long"] = true, ["size_t"] = true, ["ssize_t"] = true,
  ["bool"] = true, ["double"] = true, ["float"] = true,
  ["int8_t"] = true, ["int16_t"] = true, ["int32_t"] = true, ["int64_t"] = true,
  ["uint16_t"] = true, ["uint32_t"] = true, ["uint64_t"] = true,
}
local records = {
  dnsdist_ffi_raw_value_t = true,
  dnsdist_ffi_ednsoption_t = true,
  dnsdist_ffi_tag_t = true,
  dnsdist_ffi_http_header_t = true,
  dnsdist_ffi_proxy_protocol_value_t = true,
}
setmetatable(C, { __index = function(_, name)
  error("ffi.C." .. tostring(name) .. " is not one of the dnsdist FFI functions rampart provides", 2)
end })

function ffi.cdef(_) end

function ffi.new(ctype, n)
  local base, count = tostring(ctype):match("^(.-)%[%s*([%d%?]*)%s*%]%s*$")
  if not base then
    error("ffi.new('" .. tostring(ctype) .. "'): rampart's ffi makes arrays only, such as 'size_t[1]' or 'char[?]'", 2)
  end
  if count == "?" then count = tonumber(n) else count = tonumber(count) end
  if not count or count < 0 then
    error("ffi.new('" .. ctype .. "'): the array needs a size", 2)
  end
  base = base:gsub("^%s*const%s+", ""):gsub("%s+$", "")
  if base == "char" or base == "unsigned char" or base == "uint8_t" then
    return setmetatable({ size = count, data = "" }, buffer_mt)
  end
  local array = {}
  if base:find("%*$") then
    -- pointers: the C functions set them
  elseif numbers[base] then
    for i = 0, count - 1 do array[i] = 0 end
  elseif records[base] then
    for i = 0, count - 1 do array[i] = {} end
  else
    error("ffi.new('" .. ctype .. "'): rampart's ffi does not know the type '" .. base .. "'", 2)
  end
  return setmetatable(array, array_mt)
end

function ffi.cast(_, value)
  return value
end

function ffi.string(p, len)
  if getmetatable(p) == buffer_mt then p = p.data end
  if type(p) ~= "string" then
    error("ffi.string: expected a string or a char buffer, got " .. type(p), 2)
  end
  if len then return p:sub(1, tonumber(len)) end
  local nul = p:find("\0", 1, true)
  if nul then return p:sub(1, nul - 1) end
  return p
end

function ffi.copy(dst, src, len)
  if getmetatable(dst) ~= buffer_mt then
    error("ffi.copy: the destination must be a char buffer made by ffi.new", 2)
  end
  local data = ffi.string(src, len)
  if #data > dst.size then
    error("ffi.copy: " .. #data .. " bytes do not fit a buffer of " .. dst.size, 2)
  end
  dst.data = data
end

return ffi
"#;

/// The `dnsdist_ffi_*` functions rampart provides.
pub const FUNCTIONS: &[&str] = &[
    "dnsdist_ffi_dnsquestion_get_qtype",
    "dnsdist_ffi_dnsquestion_get_qclass",
    "dnsdist_ffi_dnsquestion_get_qname_raw",
    "dnsdist_ffi_dnsquestion_get_id",
    "dnsdist_ffi_dnsquestion_get_is_tcp",
    "dnsdist_ffi_dnsquestion_get_len",
    "dnsdist_ffi_dnsquestion_get_do",
    "dnsdist_ffi_dnsquestion_get_edns_options",
    "dnsdist_ffi_dnsquestion_set_result",
    "dnsdist_ffi_dnsquestion_spoof_raw",
    "dnsdist_ffi_dnsquestion_set_skip_cache",
    "dnsdist_ffi_dnsquestion_set_tag",
    "dnsdist_ffi_dnsquestion_get_http_scheme",
    "dnsdist_ffi_dnsquestion_get_http_host",
    "dnsdist_ffi_dnsquestion_get_http_path",
    "dnsdist_ffi_dnsquestion_get_http_query_string",
    "dnsdist_ffi_dnsquestion_get_http_headers",
    "dnsdist_ffi_dnsquestion_set_http_response",
];

/// Makes `require("ffi")` give the module.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let c = lua.create_table()?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_qtype",
        lua.create_function(|_, dq: AnyUserData| Ok(dq.borrow::<LuaDq>()?.qtype))?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_qclass",
        lua.create_function(|_, dq: AnyUserData| Ok(dq.borrow::<LuaDq>()?.qclass))?,
    )?;
    // The name as it is on the wire; ptr[0] and size[0] are set.
    c.set(
        "dnsdist_ffi_dnsquestion_get_qname_raw",
        lua.create_function(|lua, (dq, ptr, size): (AnyUserData, Table, Table)| {
            let dq = dq.borrow::<LuaDq>()?;
            ptr.raw_set(0, lua.create_string(&dq.qname)?)?;
            size.raw_set(0, dq.qname.len())?;
            Ok(())
        })?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_id",
        lua.create_function(|_, dq: AnyUserData| {
            let dq = dq.borrow::<LuaDq>()?;
            Ok(dq
                .content
                .get(..2)
                .map_or(0, |id| u16::from_be_bytes([id[0], id[1]])))
        })?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_is_tcp",
        lua.create_function(|_, dq: AnyUserData| Ok(dq.borrow::<LuaDq>()?.tcp))?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_len",
        lua.create_function(|_, dq: AnyUserData| Ok(dq.borrow::<LuaDq>()?.content.len()))?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_get_do",
        lua.create_function(|_, dq: AnyUserData| Ok(dq.borrow::<LuaDq>()?.dnssec_ok))?,
    )?;
    // out[0] = {[0] = {optionCode=, len=, data=}, ...}; the count.
    c.set(
        "dnsdist_ffi_dnsquestion_get_edns_options",
        lua.create_function(|lua, (dq, out): (AnyUserData, Table)| {
            let dq = dq.borrow::<LuaDq>()?;
            let list = lua.create_table()?;
            let mut count = 0;
            let mut rest = &dq.options[..];
            while let [c0, c1, l0, l1, tail @ ..] = rest {
                let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
                let option = lua.create_table()?;
                option.set("optionCode", u16::from_be_bytes([*c0, *c1]))?;
                option.set("len", len)?;
                option.set("data", lua.create_string(&tail[..len])?)?;
                list.raw_set(count, option)?;
                count += 1;
                rest = &tail[len..];
            }
            out.raw_set(0, list)?;
            Ok(count)
        })?,
    )?;
    // The text a DNSAction.Spoof result goes with.
    c.set(
        "dnsdist_ffi_dnsquestion_set_result",
        lua.create_function(|lua, (dq, buf, len): (AnyUserData, Value, usize)| {
            let bytes = buffer_bytes(lua, &buf, "dnsdist_ffi_dnsquestion_set_result")?;
            let mut dq = dq.borrow_mut::<LuaDq>()?;
            dq.result.ffi_result = Some(bytes[..len.min(bytes.len())].to_vec());
            Ok(())
        })?,
    )?;
    // records[0 .. count-1] = {value=, size=}: answered with a
    // DNSAction.HeaderModify result, as dq:spoof({raw, ...}).
    c.set(
        "dnsdist_ffi_dnsquestion_spoof_raw",
        lua.create_function(|lua, (dq, records, count): (AnyUserData, Table, usize)| {
            let mut raws = Vec::with_capacity(count);
            for i in 0..count {
                let record: Table = records.raw_get(i)?;
                let value: Value = record.get("value")?;
                let bytes = buffer_bytes(lua, &value, "dnsdist_ffi_dnsquestion_spoof_raw")?;
                let size = record.get::<Option<usize>>("size")?.unwrap_or(bytes.len());
                raws.push(bytes[..size.min(bytes.len())].to_vec());
            }
            dq.borrow_mut::<LuaDq>()?.result.spoof = Some((Vec::new(), raws));
            Ok(())
        })?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_set_skip_cache",
        lua.create_function(|_, (dq, on): (AnyUserData, bool)| {
            dq.borrow_mut::<LuaDq>()?.result.skip_cache = on;
            Ok(())
        })?,
    )?;
    c.set(
        "dnsdist_ffi_dnsquestion_set_tag",
        lua.create_function(|_, (dq, name, value): (AnyUserData, String, String)| {
            dq.borrow_mut::<LuaDq>()?.result.tags.push((name, value));
            Ok(())
        })?,
    )?;
    // The DoH request's parts, as the dq methods give them.
    for (_, name, part) in crate::dq_lua::HTTP_PARTS {
        c.set(
            name,
            lua.create_function(move |_, dq: AnyUserData| {
                Ok(dq.borrow::<LuaDq>()?.http_part(part))
            })?,
        )?;
    }
    // out[0] = {[0] = {name=, value=}, ...}; the count.
    c.set(
        "dnsdist_ffi_dnsquestion_get_http_headers",
        lua.create_function(|lua, (dq, out): (AnyUserData, Table)| {
            let dq = dq.borrow::<LuaDq>()?;
            let list = lua.create_table()?;
            let mut count = 0;
            for (n, v) in dq.http_headers() {
                let header = lua.create_table()?;
                header.set("name", n)?;
                header.set("value", v)?;
                list.raw_set(count, header)?;
                count += 1;
            }
            out.raw_set(0, list)?;
            Ok(count)
        })?,
    )?;
    // (dq, status, body, bodyLen, contentType): answered over HTTP with
    // a DNSAction.HeaderModify result, as dq:setHTTPResponse(...).
    c.set(
        "dnsdist_ffi_dnsquestion_set_http_response",
        lua.create_function(
            |lua,
             (dq, status, body, len, content_type): (
                AnyUserData,
                u16,
                Value,
                usize,
                Option<String>,
            )| {
                let what = "dnsdist_ffi_dnsquestion_set_http_response";
                let mut bytes = buffer_bytes(lua, &body, what)?;
                bytes.truncate(len);
                let mut dq = dq.borrow_mut::<LuaDq>()?;
                dq.set_http_response(lua, what, (status, bytes, content_type))
            },
        )?,
    )?;
    debug_assert!(FUNCTIONS
        .iter()
        .all(|f| c.contains_key(*f).unwrap_or(false)));
    let ffi: Table = lua.load(PRELUDE).set_name("rampart ffi").call(c)?;
    let preload: Table = lua.globals().get::<Table>("package")?.get("preload")?;
    preload.set(
        "ffi",
        lua.create_function(move |_, _: mlua::MultiValue| Ok(ffi.clone()))?,
    )?;
    Ok(())
}

/// The bytes of a Lua string or of a char buffer from `ffi.new`.
fn buffer_bytes(lua: &Lua, v: &Value, what: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Table(t) => match t.get::<Value>("data")? {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(crate::fail(lua, format!("{what}: expected a char buffer"))),
        },
        other => Err(crate::fail(
            lua,
            format!(
                "{what}: expected a string or a char buffer, got {}",
                other.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_helpers_work_on_plain_values_and_refuse_the_rest_clearly() {
        crate::load_str(
            r#"
            local ffi = require("ffi")
            assert(require("ffi") == ffi)
            local sizes = ffi.new("size_t[2]")
            assert(sizes[0] == 0 and sizes[1] == 0 and sizes[2] == nil)
            local raws = ffi.new("dnsdist_ffi_raw_value_t [2]")
            raws[1].size = 3
            assert(raws[1].size == 3)
            local buf = ffi.new("char[?]", 4)
            ffi.copy(buf, "abc")
            assert(ffi.string(buf) == "abc" and ffi.string(buf, 2) == "ab")
            assert(ffi.string("ab\0cd") == "ab")
            assert(ffi.cast("size_t*", sizes) == sizes)
            local ok, err = pcall(ffi.new, "struct timespec")
            assert(not ok and err:find("arrays only"), err)
            ok, err = pcall(ffi.new, "struct timespec[1]")
            assert(not ok and err:find("does not know the type 'struct timespec'"), err)
            ok, err = pcall(ffi.copy, buf, "too long")
            assert(not ok and err:find("do not fit"), err)
            ok, err = pcall(function() return ffi.C.dnsdist_ffi_nope end)
            assert(not ok and err:find("dnsdist_ffi_nope"), err)
            addAction(AllRule(), LuaFFIPerThreadAction("return function(dq) return DNSAction.None end"))
        "#,
            Path::new("/etc/rampart/rampart.conf"),
        )
        .unwrap();
    }
}
