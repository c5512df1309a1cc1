//! Loading one zone file: normalize, scan, check and build.
//!
//! Each step reads on past an error it can step over and leaves it in
//! the [`Normalized`](crate::source::Normalized) text for the next, so a
//! failed load reports every error found, each with its `file:line` (see
//! [`SourceError`] for the bound, and the errors that stop it at once).
//! A zone with any error is not loaded at all.

use std::path::Path;

use crate::source::{
    normalize_file_reading_on, normalize_reading_on, Normalized, SourceError, SourceErrorKind,
};
use crate::tree::Zone;

/// A zone loaded from its file, with the warnings its checks raised.
#[derive(Debug)]
pub struct Loaded {
    pub zone: Zone,
    pub warnings: Vec<String>,
}

/// Loads the zone `name` (presentation form, trailing dot optional, any
/// case) from the master file at `path`. `Err` holds every error found,
/// the first first (its `Display` prints one per line).
pub fn load_zone(name: &str, path: &Path) -> Result<Loaded, SourceError> {
    let apex = zone_apex(name, path)?;
    let mut text = normalize_file_reading_on(path, &wire::name::to_text(&apex))?;
    let records = crate::scan::scan_reading_on(&mut text)?;
    stop_here(&mut text)?;
    let (zone, warnings) = crate::build::build(&apex, records, &text)?;
    Ok(Loaded { zone, warnings })
}

/// Loads a zone from bytes already in memory (tests and fuzzing); `path`
/// names it in errors and anchors `$INCLUDE`.
pub fn load_zone_bytes(name: &str, src: &[u8], path: &Path) -> Result<Loaded, SourceError> {
    let apex = zone_apex(name, path)?;
    let mut text = normalize_reading_on(src, path, &wire::name::to_text(&apex))?;
    let records = crate::scan::scan_reading_on(&mut text)?;
    stop_here(&mut text)?;
    let (zone, warnings) = crate::build::build(&apex, records, &text)?;
    Ok(Loaded { zone, warnings })
}

/// `Err` with every error if reading stopped before the end: the text
/// read before was checked, the zone is not built.
fn stop_here(text: &mut Normalized) -> Result<(), SourceError> {
    match text.stop.take() {
        Some((file, e)) => {
            text.report(file, e);
            Err(text.take_reported())
        }
        None => Ok(()),
    }
}

fn zone_apex(name: &str, path: &Path) -> Result<Vec<u8>, SourceError> {
    crate::parse_name(name).map_err(|source| {
        let name = name.to_string();
        SourceError::new(path, None, SourceErrorKind::BadZoneName { name, source })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MAX_LISTED_ERRORS;

    /// A zone with errors of each kind on known lines. `named-checkzone
    /// example.org` (BIND 9.18) on it reports lines 5, 6, 7, 8, 10 and 12
    /// and fails:
    ///
    /// ```text
    /// z:5: unknown RR type '1x'
    /// z:6: unknown RR type 'FOOBAR'
    /// dns_rdata_fromtext: z:7: near '192.0.2': bad dotted quad
    /// dns_master_load: z:8: empty label
    /// dns_master_load: z:10: www.example.org: CNAME and other data
    /// z:12: SOA record not at top of zone (sub.example.org)
    /// zone example.org/IN: not loaded due to errors.
    /// ```
    const BAD: &str = "$TTL 3600
@       IN SOA ns1 host 1 7200 900 1209600 300
        NS ns1
ns1     A 192.0.2.1
bad1    1x A 192.0.2.2
bad2    FOOBAR 1 2 3
bad3    A 192.0.2
bad..4  A 192.0.2.4
www     CNAME ns1
www     A 192.0.2.5
ok      MX 10 ns1
sub     SOA ns1 host 1 2 3 4 5
";
    const BAD_LINES: [u32; 6] = [5, 6, 7, 8, 10, 12];

    fn load_err(src: &str) -> SourceError {
        load_zone_bytes("example.org", src.as_bytes(), Path::new("z")).unwrap_err()
    }

    fn lines(e: &SourceError) -> Vec<Option<u32>> {
        e.all().map(|e| e.line).collect()
    }

    #[test]
    fn every_error_of_a_file_in_file_order() {
        let e = load_err(BAD);
        let want: Vec<_> = BAD_LINES.iter().map(|&l| Some(l)).collect();
        assert_eq!(lines(&e), want, "{e}");
        assert_eq!(e.count(), BAD_LINES.len());
        let text = e.to_string();
        assert_eq!(text.lines().count(), BAD_LINES.len(), "{text}");
        for (shown, line) in text.lines().zip(BAD_LINES) {
            assert!(shown.starts_with(&format!("z:{line}: ")), "{text}");
        }
        // Each error reads as it does alone: with the other bad lines
        // made comments, the zone fails with that one error.
        for (n, one) in e.all().enumerate() {
            let alone: String = BAD
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    let i = i as u32 + 1;
                    let other = BAD_LINES.iter().any(|&b| b == i && b != BAD_LINES[n]);
                    // Line 9 is half of the CNAME clash on line 10.
                    if other || (i == 9 && BAD_LINES[n] != 10) {
                        format!(";{l}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let single = load_err(&alone);
            assert_eq!(single.count(), 1, "{single}");
            assert_eq!(
                (single.line, single.kind.to_string()),
                (one.line, one.kind.to_string())
            );
            assert_eq!(
                std::mem::discriminant(&*single.kind),
                std::mem::discriminant(&*one.kind)
            );
        }
    }

    #[test]
    fn reads_on_with_the_owner_in_force() {
        // After a bad record, entries without an owner keep the bad
        // entry's owner (the scanner starts again with it): the TXT on
        // line 7 clashes with b's CNAME, the others are fine.
        let src = "@ SOA ns host 1 2 3 4 5
@ NS ns
a A 192.0.2
  TXT \"owner a\"
  HINFO x y
b CNAME a
  TXT \"owner b\"
c..d A 192.0.2.1
  TXT \"owner unknown: skipped\"
c LOC 1 Q
  CNAME x
e TYPE1 1 2
";
        let e = load_err(src);
        assert_eq!(
            lines(&e),
            [Some(3), Some(7), Some(8), Some(10), Some(12)],
            "{e}"
        );
        assert!(
            e.further[0]
                .kind
                .to_string()
                .contains("CNAME and TXT at b.example.org."),
            "{e}"
        );
    }

    #[test]
    fn broken_entries_are_skipped_whole() {
        // An unbalanced ')' and a quote left open inside parentheses: the
        // rest of the entry goes, the next entries are read.
        let src = "@ SOA ns host 1 2 3 4 5
@ NS ns
a A 192.0.2.1 )
b TXT ( \"open
  more ) 
c A 192.0.2
d A 192.0.2.4
";
        let e = load_err(src);
        assert_eq!(lines(&e), [Some(3), Some(4), Some(6)], "{e}");
    }

    #[test]
    fn lists_a_bounded_number() {
        // Errors found while normalizing are all counted.
        let mut src = String::from("@ SOA ns host 1 2 3 4 5\n@ NS ns\n");
        for n in 0..MAX_LISTED_ERRORS + 50 {
            src.push_str(&format!("x..{n} A 192.0.2.1\n"));
        }
        let e = load_err(&src);
        assert_eq!(e.further.len(), MAX_LISTED_ERRORS - 1);
        assert_eq!((e.more, e.stopped), (50, false));
        let text = e.to_string();
        assert_eq!(text.lines().count(), MAX_LISTED_ERRORS + 1);
        assert!(text.ends_with("\n… and 50 more errors"), "{text}");
        let listed: Vec<_> = lines(&e);
        let want: Vec<_> = (3..3 + MAX_LISTED_ERRORS as u32).map(Some).collect();
        assert_eq!(listed, want);

        // The scanner is started again after each bad record it finds;
        // after the bound, reading stops.
        let mut src = String::from("@ SOA ns host 1 2 3 4 5\n@ NS ns\n");
        for n in 0..MAX_LISTED_ERRORS + 50 {
            src.push_str(&format!("x{n} A 192.0.2\n"));
        }
        let e = load_err(&src);
        assert_eq!(e.further.len(), MAX_LISTED_ERRORS - 1);
        assert_eq!((e.more, e.stopped), (1, true));
        assert!(
            e.to_string()
                .ends_with("\n… and at least 1 more error (reading stopped after 100 bad records)"),
            "{e}"
        );
    }

    #[test]
    fn some_errors_stop_the_load() {
        // A broken $ORIGIN: the errors before it (the scanner's too),
        // and it.
        let e = load_err("x..y A 1\nb A 1\n$ORIGIN a b\nc..d A 2\n");
        assert_eq!(lines(&e), [Some(1), Some(2), Some(3)], "{e}");
        assert!(e.further[1].kind.to_string().contains("$ORIGIN"), "{e}");
        assert!(
            matches!(*e.further[1].kind, SourceErrorKind::OriginSyntax),
            "{e:?}"
        );
        let e = load_err("b A 1\n$ORIGIN a..b\nc..d A 2\n");
        assert_eq!(lines(&e), [Some(1), Some(2)], "{e}");
        assert!(
            e.further[0]
                .kind
                .to_string()
                .starts_with("empty label in 'a..b'"),
            "{e}"
        );
        assert!(
            matches!(&*e.further[0].kind, SourceErrorKind::EmptyLabel { token } if token == "a..b"),
            "{e:?}"
        );
        // A missing $INCLUDE file likewise.
        let e = load_err("x..y A 1\n$INCLUDE /nonexistent/zone\nc..d A 2\n");
        assert_eq!(lines(&e), [Some(1), Some(2)], "{e}");
        assert!(
            e.further[0]
                .kind
                .to_string()
                .starts_with("cannot read $INCLUDE"),
            "{e}"
        );
        assert!(
            matches!(&*e.further[0].kind, SourceErrorKind::ReadInclude { path, .. }
                if path == Path::new("/nonexistent/zone")),
            "{e:?}"
        );
        // Without SOA after bad records, the bad records alone (the SOA
        // may be among them).
        let e = load_err("@ SOA ns host 1 2 3 4\n");
        assert_eq!(lines(&e), [Some(1)], "{e}");
        // A zone with no error but that is still refused whole.
        let e = load_err("a A 192.0.2.1\n");
        assert_eq!(lines(&e), [None], "{e}");
    }

    #[test]
    fn errors_in_included_files_in_their_place() {
        let dir = std::env::temp_dir().join(format!("zone-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc"), "in1 A 192.0.2\nin2 FOO 1\n").unwrap();
        let src = "@ SOA ns host 1 2 3 4 5\n@ NS ns\na A 1\n$INCLUDE inc\nb A 2\nc CNAME a\nc A 192.0.2.1\n";
        std::fs::write(dir.join("main"), src).unwrap();
        let e = load_zone("example.org", &dir.join("main")).unwrap_err();
        let places: Vec<_> = e
            .all()
            .map(|e| {
                (
                    e.file.file_name().unwrap().to_str().unwrap().to_string(),
                    e.line,
                )
            })
            .collect();
        let want = [
            ("main", 3),
            ("inc", 1),
            ("inc", 2),
            ("main", 5),
            ("main", 7),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(f, l)| (f.to_string(), Some(*l)))
            .collect();
        assert_eq!(places, want, "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
