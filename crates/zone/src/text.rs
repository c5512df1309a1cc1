//! Records in presentation form, and zone files written from record sets.
//!
//! [`record_line`] formats one record as a zone-file line with the `domain`
//! crate's presentation code; [`write_zone_file`] writes a whole zone
//! atomically in a form [`crate::load_zone`] reads back into the same
//! records. Whatever the `domain` formatting might not read back the same
//! (a type with free-form values, or any RDATA holding a quote, a
//! parenthesis or a semicolon, which a name's presentation does not
//! escape) is checked by reading the line back, and written in RFC 3597
//! generic form (`TYPEnnn \# len hex`) when that does not give the same
//! bytes. Unknown types and RDATA the `domain` parser refuses are written
//! in generic form too.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::rdata::ComposeRecordData;
use domain::base::zonefile_fmt::{DisplayKind, ZonefileFmt};
use domain::base::ParseRecordData;
use domain::dep::octseq::Parser;
use domain::rdata::ZoneRecordData;
use wire::types::rtype;

use crate::records::{Record, RecordSet};

/// The record as one zone-file line (no line feed):
/// `owner. TTL IN TYPE rdata`, names absolute.
pub fn record_line(r: &Record) -> String {
    let mut line = format!("{} {} IN ", wire::name::to_text(&r.owner), r.ttl);
    let head = line.len();
    // SPF has TXT's format (RFC 7208 §3.1); the loader scans it as TXT.
    if r.rtype == rtype::RRSIG && rrsig(&mut line, &r.rdata) {
        return line;
    }
    let (shown_type, mnemonic) = match r.rtype {
        rtype::SPF => (rtype::TXT, Some("SPF")),
        t => (t, None),
    };
    if let Some((known, data)) = presentation(shown_type, &r.rdata) {
        let mnemonic = mnemonic.unwrap_or(known);
        let _ = write!(line, "{mnemonic} {data}");
        if trusted(r.rtype, &r.rdata) || reads_back(&line, r) {
            return line;
        }
        line.truncate(head);
    }
    let _ = write!(line, "TYPE{} {}", r.rtype, generic(&r.rdata));
    line
}

/// Appends `RRSIG` and its RDATA to `line` with the times as
/// `YYYYMMDDHHmmSS` (RFC 4034 §3.2), the form every zone-file reader
/// takes: NSD refuses the plain seconds `domain` writes. False, with
/// `line` as it was, when the RDATA is not a well-formed RRSIG whose
/// signer name is safe to print bare.
fn rrsig(line: &mut String, rdata: &[u8]) -> bool {
    let (Some(fixed), Some(rest)) = (rdata.get(..18), rdata.get(18..)) else {
        return false;
    };
    let Some(name_len) = wire::name::uncompressed_len(rest) else {
        return false;
    };
    let (signer, signature) = rest.split_at(name_len);
    if signature.is_empty()
        || signer
            .iter()
            .any(|b| matches!(b, b'"' | b'(' | b')' | b';'))
    {
        return false;
    }
    let u16_at = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
    let u32_at =
        |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
    let _ = write!(
        line,
        "RRSIG {} {} {} {} {} {} {} {} ",
        Rtype::from_int(u16_at(0)),
        fixed[2],
        fixed[3],
        u32_at(4),
        DateTime(u32_at(8)),
        DateTime(u32_at(12)),
        u16_at(16),
        wire::name::to_text(signer),
    );
    line.push_str(&domain::utils::base64::encode_string(signature));
    true
}

/// Seconds since 1970 (an RRSIG time) shown as `YYYYMMDDHHmmSS`, UTC.
struct DateTime(u32);

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&wire::time::format(u64::from(self.0)))
    }
}

/// The type mnemonic and RDATA in `domain`'s presentation form, when it
/// parses the RDATA as a type it knows, wholly.
fn presentation(rr_type: u16, rdata: &[u8]) -> Option<(&'static str, String)> {
    let mut parser = Parser::from_ref(rdata);
    let data = ZoneRecordData::<&[u8], ParsedName<&[u8]>>::parse_rdata(
        Rtype::from_int(rr_type),
        &mut parser,
    )
    .ok()??;
    if matches!(data, ZoneRecordData::Unknown(_)) || parser.remaining() != 0 {
        return None;
    }
    // What is shown must be these bytes: a compression pointer inside a
    // name (copied as received for a type that must not compress) would
    // be shown decompressed.
    let mut again = Vec::with_capacity(rdata.len());
    if data.compose_rdata(&mut again).is_err() || again != rdata {
        return None;
    }
    let mnemonic = Rtype::from_int(rr_type).to_mnemonic_str()?;
    let mut text = String::new();
    write!(text, "{}", data.display_zonefile(DisplayKind::Simple)).ok()?;
    Some((mnemonic, text))
}

/// Whether the `domain` presentation of this record is known to read back
/// the same: types made of numbers, addresses, base64/hex, quoted strings
/// and names, as long as no name can hold a byte that the zone-file
/// tokenizer takes for syntax (`domain` escapes neither `"` nor `(`, `)`,
/// `;` in names).
fn trusted(rr_type: u16, rdata: &[u8]) -> bool {
    use rtype::*;
    let plain = |bytes: &[u8]| !bytes.iter().any(|b| matches!(b, b'"' | b'(' | b')' | b';'));
    // The one name of an RRSIG (the signer, after 18 bytes of fixed
    // fields) or an NSEC (the next owner, first): the rest is shown as
    // numbers, base64 or type names, so only the name's bytes matter. A
    // signature holds one of those bytes more often than not, and reading
    // every such line back was most of the time a signed zone took to
    // write.
    let name_at = |at: usize| {
        rdata
            .get(at..)
            .and_then(|n| n.get(..wire::name::uncompressed_len(n)?))
            .is_some_and(plain)
    };
    match rr_type {
        A | AAAA | TXT | DS | CDS | DNSKEY | CDNSKEY | NSEC3 | NSEC3PARAM | TLSA | SSHFP => true,
        RRSIG => name_at(18),
        NSEC => name_at(0),
        NS | MD | MF | CNAME | SOA | MB | MG | MR | PTR | MINFO | MX | RP | SRV | DNAME => {
            plain(rdata)
        }
        _ => false,
    }
}

/// Whether `line` reads back, through the zone-file path, as `r`.
fn reads_back(line: &str, r: &Record) -> bool {
    let Ok(mut text) = crate::source::normalize(line.as_bytes(), Path::new("-"), ".") else {
        return false;
    };
    let Ok(scanned) = crate::scan::scan(&mut text) else {
        return false;
    };
    let [back] = scanned.recs() else {
        return false;
    };
    let mut want = r.rdata.to_vec();
    crate::scan::lowercase_names(r.rtype, &mut want);
    back.rtype == r.rtype
        && back.ttl == r.ttl
        && *scanned.owner(back) == *r.owner.to_ascii_lowercase()
        && *scanned.rdata(back) == *want
}

/// RDATA in RFC 3597 generic form: `\# len hex`.
fn generic(rdata: &[u8]) -> String {
    let mut s = String::with_capacity(8 + rdata.len() * 2);
    let _ = write!(s, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        for b in rdata {
            let _ = write!(s, "{b:02x}");
        }
    }
    s
}

/// Writes `records` as the zone file at `path` for the zone `apex`
/// (lowercase wire form), atomically: a temporary file in the same
/// directory is written and synced, then renamed over `path`, and the
/// directory is synced. `header_comment` (any number of lines) opens the
/// file as `;` comments. The file starts with `$ORIGIN` and the SOA; the
/// rest follows sorted by owner and type, every name absolute.
///
/// Fails without touching `path` when the set holds no SOA at `apex`.
pub fn write_zone_file(
    path: &Path,
    apex: &[u8],
    records: &RecordSet,
    header_comment: &str,
) -> std::io::Result<()> {
    let soa = records.soa(apex).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "no SOA record at {}: not writing a zone file that cannot load",
                wire::name::to_text(apex)
            ),
        )
    })?;

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));

    let result = write_to(&tmp, path, apex, &soa, records, header_comment)
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_dir(&dir));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Tells concurrent writers in one process apart.
static TMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn write_to(
    tmp: &Path,
    target: &Path,
    apex: &[u8],
    soa: &Record,
    records: &RecordSet,
    header_comment: &str,
) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)?;
    // Keep the permissions of the file being replaced.
    if let Ok(meta) = std::fs::metadata(target) {
        file.set_permissions(meta.permissions())?;
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    for line in header_comment.lines() {
        if line.is_empty() {
            writeln!(out, ";")?;
        } else {
            writeln!(out, "; {line}")?;
        }
    }
    writeln!(out, "$ORIGIN {}", wire::name::to_text(apex))?;
    writeln!(out, "{}", record_line(soa))?;
    for r in records.iter() {
        if r.rtype == rtype::SOA && *r.owner == *apex {
            continue;
        }
        writeln!(out, "{}", record_line(&r))?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::{name, rec};

    /// A zone with many types, loaded from text (so the RDATA is what the
    /// scanner makes).
    const ZONE: &str = r#"$TTL 3600
@ SOA ns1 hostmaster 2024010101 3600 600 86400 60
@ NS ns1
@ NS ns2.Example.NET.
@ MX 10 mail
@ A 192.0.2.1
@ AAAA 2001:db8::1
@ TXT "v=spf1 -all"
@ TXT "with \"quotes\" and \\backslash" "second; string (parens)"
@ TXT "caf\195\169 \000\255 tab\009end" ""
@ CAA 0 issue "letsencrypt.org"
@ CAA 128 iodef "mailto:security@example.org"
@ HINFO "PC (x86)" "Linux"
ns1 A 192.0.2.53
mail A 192.0.2.25
www CNAME @
_sip._tcp SRV 10 60 5060 sip.example.org.
_443._tcp.www TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
svc SVCB 1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.7,192.0.2.8 ech=AEn+DQBF
svc HTTPS 0 www.example.org.
svc2 HTTPS 1 . alpn="h3" ipv6hint=2001:db8::7 mandatory=alpn
1.2.0.192.in-addr PTR host.example.org.
naptr NAPTR 100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.org!" _sip._udp.example.org.
naptr NAPTR 100 20 "u" "E2U+sip" "" .
unknown TYPE65000 \# 3 abcdef
unknown TYPE65001 \# 0
sshfp SSHFP 1 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ds DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ds NS ns.ds
ns.ds A 192.0.2.99
*.wild 120 A 192.0.2.100
spf SPF "v=spf1 ip4:192.0.2.0/24 -all"
loc LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
rp RP admin.example.org. txt.example.org.
"#;

    fn zone_set() -> RecordSet {
        let z = crate::load_zone_bytes("example.org", ZONE.as_bytes(), Path::new("t.zone"))
            .unwrap()
            .zone;
        RecordSet::from_zone(&z)
    }

    #[test]
    fn lines_are_presentation_form() {
        let set = zone_set();
        let line = |owner: &str, t: u16| record_line(&set.rrset(&name(owner), t)[0]);
        assert_eq!(
            line("example.org", rtype::MX),
            "example.org. 3600 IN MX 10 mail.example.org."
        );
        assert_eq!(
            line("www.example.org", rtype::CNAME),
            "www.example.org. 3600 IN CNAME example.org."
        );
        assert_eq!(
            line("unknown.example.org", 65000),
            "unknown.example.org. 3600 IN TYPE65000 \\# 3 abcdef"
        );
        assert_eq!(
            line("unknown.example.org", 65001),
            "unknown.example.org. 3600 IN TYPE65001 \\# 0"
        );
        assert_eq!(
            line("*.wild.example.org", rtype::A),
            "*.wild.example.org. 120 IN A 192.0.2.100"
        );
        assert!(
            line("svc.example.org", rtype::SVCB).starts_with("svc.example.org. 3600 IN SVCB 1 . "),
            "{}",
            line("svc.example.org", rtype::SVCB)
        );
        assert!(line("example.org", 257).contains("CAA 0 issue \"letsencrypt.org\""));
        assert_eq!(
            line("spf.example.org", rtype::SPF),
            "spf.example.org. 3600 IN SPF \"v=spf1 ip4:192.0.2.0/24 -all\""
        );
        let txt: Vec<String> = set
            .rrset(&name("example.org"), rtype::TXT)
            .iter()
            .map(record_line)
            .collect();
        assert!(
            txt.contains(
                &"example.org. 3600 IN TXT \"caf\\195\\169 \\000\\255 tab\\009end\" \"\"".into()
            ),
            "{txt:?}"
        );
        // Bad RDATA for a known type falls back to the generic form.
        let bad = rec("x.example.org", rtype::A, 5, &[1, 2, 3]);
        assert_eq!(record_line(&bad), "x.example.org. 5 IN TYPE1 \\# 3 010203");
        let bad = rec("x.example.org", rtype::MX, 5, b"\x00\x01\x02mx\x00extra");
        assert!(record_line(&bad).contains("TYPE15 \\# "));
        // A compression pointer left in a name is not shown decompressed.
        // (Priority 0x0161 and weight 0x0000 spell "a." for the pointer.)
        let bad = rec(
            "x.example.org",
            rtype::SRV,
            5,
            b"\x01a\x00\x00\x00\x01\xc0\x00",
        );
        assert_eq!(
            record_line(&bad),
            "x.example.org. 5 IN TYPE33 \\# 8 016100000001c000"
        );
    }

    #[test]
    fn rrsig_times_are_dates() {
        // RFC 4034 §3.2's form, which NSD insists on; the largest 32-bit
        // time is in 2106.
        let mut rdata = vec![0, 1, 13, 2, 0, 0, 0x0e, 0x10];
        rdata.extend_from_slice(&1_893_456_000u32.to_be_bytes()); // 2030-01-01
        rdata.extend_from_slice(&1_577_836_800u32.to_be_bytes()); // 2020-01-01
        rdata.extend_from_slice(&12345u16.to_be_bytes());
        rdata.extend_from_slice(&name("example.org"));
        rdata.extend_from_slice(&[1, 2, 3, 4]);
        let sig = rec("example.org", rtype::RRSIG, 3600, &rdata);
        let line = record_line(&sig);
        assert_eq!(
            line,
            "example.org. 3600 IN RRSIG A 13 2 3600 20300101000000 20200101000000 12345 \
             example.org. AQIDBA=="
        );
        assert!(reads_back(&line, &sig), "{line}");
        rdata[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        rdata[12..16].copy_from_slice(&1_709_251_199u32.to_be_bytes()); // 2024-02-29 23:59:59
        rdata[0..2].copy_from_slice(&65000u16.to_be_bytes());
        let sig = rec("example.org", rtype::RRSIG, 3600, &rdata);
        let line = record_line(&sig);
        assert!(
            line.contains("RRSIG TYPE65000 13 2 3600 21060207062815 20240229235959 12345 "),
            "{line}"
        );
        assert!(reads_back(&line, &sig), "{line}");
    }

    #[test]
    fn names_with_syntax_characters_survive() {
        // A name whose labels hold a quote, parentheses and a semicolon,
        // which `domain` would print bare.
        let odd = b"\x05a\"(;)\x07example\x03org\x00";
        let mut set = zone_set();
        let mut mx = b"\x00\x05".to_vec();
        mx.extend_from_slice(odd);
        set.insert(Record {
            owner: odd[..].into(),
            rtype: rtype::MX,
            ttl: 60,
            rdata: mx.clone().into(),
        });
        let mut cname = odd.to_vec();
        cname.splice(0..2, *b"\x05b");
        set.insert(Record {
            owner: cname.clone().into(),
            rtype: rtype::CNAME,
            ttl: 60,
            rdata: odd[..].into(),
        });
        // An RRSIG signed by that name, and one by a plain name whose
        // signature holds the same bytes (shown as base64, so safe); an
        // NSEC pointing at the name.
        let sig = |signer: &[u8]| {
            let mut r = vec![
                0, 1, 13, 3, 0, 0, 0, 60, 0x70, 0, 0, 0, 0x60, 0, 0, 0, 0x12, 0x34,
            ];
            r.extend_from_slice(signer);
            r.extend_from_slice(b"\"(;)signature\"(;)");
            r
        };
        for (owner, rdata) in [
            (&odd[..], sig(odd)),
            (&*name("www.example.org"), sig(&name("example.org"))),
        ] {
            set.insert(Record {
                owner: owner.into(),
                rtype: rtype::RRSIG,
                ttl: 60,
                rdata: rdata.into(),
            });
        }
        let mut nsec = odd.to_vec();
        nsec.extend_from_slice(&[0, 1, 0x40]);
        set.insert(Record {
            owner: name("www.example.org"),
            rtype: rtype::NSEC,
            ttl: 60,
            rdata: nsec.into(),
        });
        // TTLs with the top bit set (RFC 2181 §8 says to read them as 0,
        // but they are kept as sent).
        set.insert(rec("big.example.org", rtype::A, u32::MAX, &[192, 0, 2, 1]));
        set.insert(rec("big.example.org", rtype::TXT, 1 << 31, b"\x01x"));
        let dir = test_dir("odd");
        let path = dir.join("example.org.zone");
        write_zone_file(&path, &name("example.org"), &set, "odd names").unwrap();
        let back = crate::load_zone("example.org", &path).unwrap();
        assert_eq!(RecordSet::from_zone(&back.zone), set);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn test_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rampart-text-{tag}-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn zone_file_round_trip() {
        let set = zone_set();
        assert!(set.len() > 30, "{}", set.len());
        let dir = test_dir("rt");
        let path = dir.join("example.org.zone");
        std::fs::write(&path, "old contents").unwrap();
        write_zone_file(
            &path,
            &name("example.org"),
            &set,
            "written by rampart\n\nafter an update",
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("; written by rampart"));
        assert_eq!(lines.next(), Some(";"));
        assert_eq!(lines.next(), Some("; after an update"));
        assert_eq!(lines.next(), Some("$ORIGIN example.org."));
        assert!(lines.next().unwrap().starts_with(
            "example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 "
        ));
        assert_eq!(text.matches(" SOA ").count(), 1, "{text}");
        let back = crate::load_zone("example.org", &path).unwrap();
        assert_eq!(RecordSet::from_zone(&back.zone), set, "{text}");
        // Nothing left behind but the zone file.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("example.org.zone")]);

        // No SOA: refused, the old file stays.
        let mut no_soa = set.clone();
        no_soa.remove_rrset(&name("example.org"), rtype::SOA);
        assert!(write_zone_file(&path, &name("example.org"), &no_soa, "").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_domain_type_reads_back() {
        // Types with DNSSEC data and others not in the zone above.
        let extra = r#"
@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@ CDNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@ CDS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
@ RRSIG A 13 2 3600 20300101000000 20200101000000 12345 example.org. AQIDBA==
@ NSEC www.example.org. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY
@ NSEC3PARAM 1 0 10 abcd
x NSEC3 1 1 10 - 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG
y NSEC3 1 0 0 aabb 2vptu5timamqttgl4luu9kg21e0aor3s
@ ZONEMD 2024010101 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
@ OPENPGPKEY AQIDBAUG
@ IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
@ IPSECKEY 10 3 2 gw.example.org. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
@ MINFO rm.example.org. em.example.org.
@ MB mb.example.org.
@ MG mg.example.org.
@ MR mr.example.org.
d DNAME example.net.
"#;
        let src = format!("{ZONE}{extra}");
        let z = crate::load_zone_bytes("example.org", src.as_bytes(), Path::new("t.zone"))
            .unwrap()
            .zone;
        let set = RecordSet::from_zone(&z);
        for r in set.iter() {
            let line = record_line(&r);
            assert!(reads_back(&line, &r), "{line}");
            if !matches!(r.rtype, 29 | 65000 | 65001) {
                assert!(!line.contains("\\#"), "{line}");
            }
        }
        let dir = test_dir("all");
        let path = dir.join("z");
        write_zone_file(&path, &name("example.org"), &set, "").unwrap();
        let back = crate::load_zone("example.org.", &path).unwrap();
        assert_eq!(RecordSet::from_zone(&back.zone), set);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
