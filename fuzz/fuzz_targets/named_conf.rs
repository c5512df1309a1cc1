//! Any text as a named.conf: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = zone::named_conf::parse(text, std::path::Path::new("/nonexistent/named.conf"));
    }
});
