//! Record types the `domain` scanner does not know by name: LOC
//! (RFC 1876) and URI (RFC 7553). They are encoded here and handed on in
//! RFC 3597 form (`\# len hex`). SPF has TXT's format and is scanned as TXT.
//!
//! The LOC and URI helpers say what is wrong as text, which
//! [`loc_rdata`] and [`uri_rdata`] give as a [`SourceErrorKind::BadLoc`]
//! or [`SourceErrorKind::BadUri`].

use super::SourceErrorKind;

/// Encodes LOC presentation tokens to RDATA (RFC 1876 §3 and appendix A):
/// `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]`.
pub fn loc_rdata(tokens: &[&str]) -> Result<Vec<u8>, SourceErrorKind> {
    loc(tokens).map_err(SourceErrorKind::BadLoc)
}

fn loc(tokens: &[&str]) -> Result<Vec<u8>, String> {
    let mut it = tokens.iter().copied().peekable();
    let lat = coordinate(&mut it, ('N', 'S'), 90)?;
    let lon = coordinate(&mut it, ('E', 'W'), 180)?;
    let alt = it
        .next()
        .ok_or("LOC needs an altitude after the longitude")?;
    let alt_cm = metres_to_cm(alt, -100_000.0, 42_849_672.95)?;
    let size = precision(it.next(), 100)?; // 1 m
    let hp = precision(it.next(), 1_000_000)?; // 10 km
    let vp = precision(it.next(), 1_000)?; // 10 m
    if let Some(extra) = it.next() {
        return Err(format!(
            "unexpected '{extra}' after the LOC precision fields"
        ));
    }
    let mut out = vec![0u8, size, hp, vp];
    out.extend_from_slice(&lat.to_be_bytes());
    out.extend_from_slice(&lon.to_be_bytes());
    out.extend_from_slice(&((alt_cm + 10_000_000) as u32).to_be_bytes());
    Ok(out)
}

/// Reads `deg [min [sec]] HEMI` into the RFC 1876 32-bit form.
fn coordinate<'a>(
    it: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    hemis: (char, char),
    max_deg: u64,
) -> Result<u32, String> {
    let mut parts = Vec::new();
    let hemi = loop {
        let tok = it.next().ok_or_else(|| {
            format!(
                "LOC coordinate ended before its '{}' or '{}'",
                hemis.0, hemis.1
            )
        })?;
        let upper = tok.to_ascii_uppercase();
        if upper.len() == 1 && (upper.starts_with(hemis.0) || upper.starts_with(hemis.1)) {
            break upper.starts_with(hemis.0);
        }
        if parts.len() == 3 {
            return Err(format!(
                "expected '{}' or '{}' in LOC, found '{tok}'",
                hemis.0, hemis.1
            ));
        }
        parts.push(tok);
    };
    if parts.is_empty() {
        return Err("LOC coordinate needs degrees".into());
    }
    let deg: u64 = parts[0]
        .parse()
        .map_err(|_| format!("expected LOC degrees, found '{}'", parts[0]))?;
    let min: u64 = match parts.get(1) {
        Some(m) => m
            .parse()
            .map_err(|_| format!("expected LOC minutes, found '{m}'"))?,
        None => 0,
    };
    let ms: u64 = match parts.get(2) {
        Some(s) => {
            decimal_thousandths(s).ok_or_else(|| format!("expected LOC seconds, found '{s}'"))?
        }
        None => 0,
    };
    if deg > max_deg || min >= 60 || ms >= 60_000 {
        return Err(format!("LOC coordinate {} out of range", parts.join(" ")));
    }
    let total = deg * 3_600_000 + min * 60_000 + ms;
    if total > max_deg * 3_600_000 {
        return Err(format!("LOC coordinate {} out of range", parts.join(" ")));
    }
    let base = 1u64 << 31;
    let v = if hemi { base + total } else { base - total };
    Ok(v as u32)
}

/// Parses `12.345` as 12345 (thousandths); at most three decimals.
fn decimal_thousandths(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u64 = int.parse().ok()?;
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..3 {
        f *= 10;
    }
    int.checked_mul(1000)?.checked_add(f)
}

/// Parses a length in metres (`-10.5m`) to centimetres within bounds.
fn metres_to_cm(s: &str, min: f64, max: f64) -> Result<i64, String> {
    let num = s.strip_suffix(['m', 'M']).unwrap_or(s);
    let (neg, digits) = match num.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, num),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(format!("expected a length in metres, found '{s}'"));
    }
    let int: i64 = int
        .parse()
        .map_err(|_| format!("length '{s}' is too large"))?;
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().unwrap_or(0)
    };
    if frac.len() == 1 {
        f *= 10;
    }
    let cm = int
        .checked_mul(100)
        .and_then(|v| v.checked_add(f))
        .ok_or("length too large")?;
    let cm = if neg { -cm } else { cm };
    if (cm as f64) < min * 100.0 || (cm as f64) > max * 100.0 {
        return Err(format!("length '{s}' is out of range"));
    }
    Ok(cm)
}

/// Encodes a size or precision (default `default_cm`) as RFC 1876's
/// mantissa/exponent byte.
fn precision(tok: Option<&str>, default_cm: i64) -> Result<u8, String> {
    let cm = match tok {
        Some(t) => metres_to_cm(t, 0.0, 90_000_000.0)?,
        None => default_cm,
    };
    let mut exp = 0u8;
    let mut v = cm;
    while v >= 10 && exp < 9 {
        v /= 10;
        exp += 1;
    }
    Ok(((v.min(9) as u8) << 4) | exp)
}

/// Encodes URI presentation tokens: `priority weight "target"`.
pub fn uri_rdata(tokens: &[(&[u8], bool)]) -> Result<Vec<u8>, SourceErrorKind> {
    if tokens.len() != 3 {
        return Err(SourceErrorKind::BadUri(format!(
            "URI needs priority, weight and a quoted target; found {} fields",
            tokens.len()
        )));
    }
    let num = |t: &[u8], what: &str| -> Result<u16, SourceErrorKind> {
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                SourceErrorKind::BadUri(format!(
                    "expected a URI {what} (0-65535), found '{}'",
                    String::from_utf8_lossy(t)
                ))
            })
    };
    let mut out = Vec::new();
    out.extend_from_slice(&num(tokens[0].0, "priority")?.to_be_bytes());
    out.extend_from_slice(&num(tokens[1].0, "weight")?.to_be_bytes());
    // An empty target is odd but legal; Knot and NSD load it.
    out.extend_from_slice(&unescape(tokens[2].0)?);
    Ok(out)
}

/// Resolves `\X` and `\DDD` escapes of a presentation string.
pub fn unescape(s: &[u8]) -> Result<Vec<u8>, SourceErrorKind> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            if i + 3 < s.len() && s[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                let v = (s[i + 1] - b'0') as u32 * 100
                    + (s[i + 2] - b'0') as u32 * 10
                    + (s[i + 3] - b'0') as u32;
                if v > 255 {
                    return Err(SourceErrorKind::EscapeOver255 { value: v });
                }
                out.push(v as u8);
                i += 4;
            } else if let Some(&c) = s.get(i + 1) {
                out.push(c);
                i += 2;
            } else {
                return Err(SourceErrorKind::LoneBackslash);
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Formats RDATA in RFC 3597 generic form: `\# len hex`.
pub fn generic(rdata: &[u8]) -> String {
    let mut s = format!("\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        for b in rdata {
            s.push_str(&format!("{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loc_matches_rfc_example() {
        // RFC 1876 appendix: cambridge-net.kei.com LOC.
        let r = loc_rdata(&["42", "21", "54", "N", "71", "06", "18", "W", "-24m", "30m"]).unwrap();
        assert_eq!(r[0], 0);
        assert_eq!(r[1], 0x33); // 30 m = 3e3 cm
        assert_eq!(r[2], 0x16); // default 10 km
        assert_eq!(r[3], 0x13); // default 10 m
        assert_eq!(
            u32::from_be_bytes([r[4], r[5], r[6], r[7]]),
            (1u32 << 31) + 152_514_000
        );
        assert_eq!(
            u32::from_be_bytes([r[8], r[9], r[10], r[11]]),
            (1u32 << 31) - 255_978_000
        );
        assert_eq!(
            u32::from_be_bytes([r[12], r[13], r[14], r[15]]),
            10_000_000 - 2400
        );
    }

    #[test]
    fn loc_short_forms_and_errors() {
        assert!(loc_rdata(&["52", "N", "4", "E", "0m"]).is_ok());
        assert!(loc_rdata(&[
            "52", "22", "23.5", "N", "4", "53", "32.123", "E", "-2.5m", "1m", "10000m", "10m"
        ])
        .is_ok());
        let e = loc_rdata(&["91", "N", "4", "E", "0"]).unwrap_err();
        assert!(matches!(e, SourceErrorKind::BadLoc(_)), "{e:?}");
        assert_eq!(e.to_string(), "LOC coordinate 91 out of range");
        assert!(loc_rdata(&["52", "X", "4", "E", "0"]).is_err());
        assert!(loc_rdata(&["52", "N", "4", "E"]).is_err());
        assert!(loc_rdata(&["52", "1", "99999999999999999", "N", "4", "E", "0"]).is_err());
    }

    #[test]
    fn uri_encodes() {
        let r = uri_rdata(&[
            (b"10", false),
            (b"1", false),
            (b"ftp://ftp1.example.com/public", true),
        ])
        .unwrap();
        assert_eq!(&r[..4], &[0, 10, 0, 1]);
        assert_eq!(&r[4..], b"ftp://ftp1.example.com/public");
        let e = uri_rdata(&[(b"10", false), (b"1", false)]).unwrap_err();
        assert!(matches!(e, SourceErrorKind::BadUri(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "URI needs priority, weight and a quoted target; found 2 fields"
        );
        assert!(uri_rdata(&[(b"x", false), (b"1", false), (b"a", true)]).is_err());
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape(b"a\\\"b\\065").unwrap(), b"a\"bA");
        let e = unescape(b"\\999").unwrap_err();
        assert!(matches!(e, SourceErrorKind::EscapeOver255 { value: 999 }));
        assert_eq!(e.to_string(), "escape \\999 is over 255");
        let e = unescape(b"x\\").unwrap_err();
        assert!(matches!(e, SourceErrorKind::LoneBackslash));
        assert_eq!(e.to_string(), "a lone '\\' ends the string");
    }
}
