//! Helpers over uncompressed wire-format names.
//!
//! A wire name is a sequence of `[len][bytes]` labels ending in the zero
//! root label. Label lengths are at most 63, so they never collide with the
//! ASCII letters: comparing two wire names byte by byte while ignoring
//! ASCII case is a correct case-insensitive name comparison.

/// The longest name in wire form (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// The most labels a name can have, counting the root.
pub const MAX_LABELS: usize = 128;

/// Offsets of the labels of `name`, root excluded, from the leftmost.
///
/// Returns the number of labels written into `out` (at most its length). `name` must be a valid
/// uncompressed wire name (as produced by [`crate::Query::parse`] or the
/// zone loader).
pub fn label_offsets(name: &[u8], out: &mut [u8]) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos < name.len() && name[pos] != 0 && count < out.len() {
        out[count] = pos as u8;
        count += 1;
        pos += 1 + name[pos] as usize;
    }
    count
}

/// The suffix of `name` made of its last `n` labels (None when it has
/// fewer, or `n` is 0).
pub fn last_labels(name: &[u8], n: usize) -> Option<&[u8]> {
    let mut offsets = [0u8; MAX_LABELS];
    let count = label_offsets(name, &mut offsets);
    if count < n || n == 0 {
        return None;
    }
    Some(&name[offsets[count - n] as usize..])
}

/// Number of labels in `name`, root excluded.
pub fn label_count(name: &[u8]) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos < name.len() && name[pos] != 0 {
        count += 1;
        pos += 1 + name[pos] as usize;
    }
    count
}

/// Whether `a` and `b` are the same name, ignoring ASCII case.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `name` is `ancestor` or below it (both lowercase or compared
/// ignoring case).
pub fn is_subdomain(name: &[u8], ancestor: &[u8]) -> bool {
    if ancestor.len() > name.len() {
        return false;
    }
    let start = name.len() - ancestor.len();
    if !name[start..].eq_ignore_ascii_case(ancestor) {
        return false;
    }
    // The suffix must begin on a label boundary.
    starts_label(name, start)
}

/// Whether `at` is where a label starts in `name` (or its end).
pub fn starts_label(name: &[u8], at: usize) -> bool {
    let mut pos = 0;
    while pos < at {
        pos += 1 + name[pos] as usize;
    }
    pos == at
}

/// Copies `name` into `out` with ASCII letters folded to lowercase.
///
/// Eight bytes at a time (every query's name goes through here, and byte
/// by byte it was ~65 instructions of a ~2,700-instruction answer): in
/// each byte below 0x80, bit 5 is set where the byte is in `A..=Z`.
/// Length bytes (at most 63) are below `A` and stay as they are.
#[inline]
pub fn to_lowercase<'o>(name: &[u8], out: &'o mut [u8; MAX_NAME_LEN]) -> &'o [u8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let len = name.len().min(MAX_NAME_LEN);
    let (name, out) = (&name[..len], &mut out[..len]);
    let mut at = 0;
    while let (Some(i), Some(o)) = (name.get(at..at + 8), out.get_mut(at..at + 8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(i);
        let w = u64::from_le_bytes(word);
        let low7 = w & !HIGH;
        // High bit of each byte: above 'Z', and at least 'A'.
        let above_z = low7.wrapping_add(ONES * (0x7f - u64::from(b'Z')));
        let at_least_a = low7.wrapping_add(ONES * (0x80 - u64::from(b'A')));
        let upper = (at_least_a ^ above_z) & !w & HIGH;
        o.copy_from_slice(&(w | upper >> 2).to_le_bytes());
        at += 8;
    }
    for (o, i) in out[at..].iter_mut().zip(&name[at..]) {
        *o = i.to_ascii_lowercase();
    }
    out
}

/// Reads an uncompressed name at the start of `data`, returning its length.
///
/// Used on record data from the zone store, where names are never
/// compressed; `None` when the bytes are not a well-formed name.
pub fn uncompressed_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let len = *data.get(pos)? as usize;
        if len == 0 {
            return if pos < MAX_NAME_LEN {
                Some(pos + 1)
            } else {
                None
            };
        }
        if len > 63 {
            return None;
        }
        pos += 1 + len;
        if pos >= MAX_NAME_LEN {
            return None;
        }
    }
}

/// The name one label up (the root for a single label); `None` for the
/// root itself or a cut-off name.
pub fn parent(name: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*name.first().filter(|&&l| l != 0)?);
    name.get(1 + len..).filter(|rest| !rest.is_empty())
}

/// Formats a wire name in presentation form (for logs and errors).
pub fn to_text(name: &[u8]) -> String {
    Text(name).to_string()
}

/// A wire name shown as presentation text (as [`to_text`]), written
/// straight into a formatter: for log lines, without a `String` each.
#[derive(Clone, Copy, Debug)]
pub struct Text<'a>(pub &'a [u8]);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.0;
        let mut pos = 0;
        while pos < name.len() && name[pos] != 0 {
            let len = name[pos] as usize;
            let end = (pos + 1 + len).min(name.len());
            let label = &name[pos + 1..end];
            // Runs of plain characters go out whole.
            let mut plain = 0;
            for (i, &b) in label.iter().enumerate() {
                let escaped = match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => true,
                    0x21..=0x7e => false,
                    _ => true,
                };
                if !escaped {
                    continue;
                }
                f.write_str(std::str::from_utf8(&label[plain..i]).unwrap_or_default())?;
                if (0x21..=0x7e).contains(&b) {
                    write!(f, "\\{}", b as char)?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
                plain = i + 1;
            }
            f.write_str(std::str::from_utf8(&label[plain..]).unwrap_or_default())?;
            f.write_str(".")?;
            pos = end;
        }
        if pos == 0 {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// The end of the (possibly compressed) name at `pos` in a message,
/// without following pointers; `None` if the name is cut off or holds a
/// label type that is neither a length nor a pointer.
pub fn skip_compressed(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + len as usize,
            0xc0..=0xff => return (pos + 2 <= msg.len()).then_some(pos + 2),
            _ => return None,
        }
    }
}

/// Why a name in presentation form did not parse ([`parse`]). `text` is
/// the name as given (trimmed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing (or only blanks) to parse.
    #[error("empty domain name")]
    Empty,
    /// A label is empty (`a..b`, a leading dot) or longer than 63 octets.
    #[error("bad domain name '{text}': labels must be 1 to 63 octets")]
    LabelLength { text: String },
    /// A `\DDD` escape above 255.
    #[error("bad escape in '{text}'")]
    BadEscape { text: String },
    /// The name ends in a lone `\`.
    #[error("bad domain name '{text}': ends in '\\'")]
    TrailingBackslash { text: String },
    /// The wire form is longer than 255 octets.
    #[error("bad domain name '{text}': longer than 255 octets")]
    TooLong { text: String },
}

/// Parses a domain name in presentation form (trailing dot optional, any
/// case, `\.` and `\DDD` escapes) into lowercase wire form: the one
/// parser for config, zone names, keys and rules.
pub fn parse(text: &str) -> Result<Vec<u8>, NameError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(NameError::Empty);
    }
    if text == "." {
        return Ok(vec![0]);
    }
    let mut out = Vec::with_capacity(text.len() + 2);
    let bytes = text.as_bytes();
    let mut label = Vec::new();
    let mut i = 0;
    let finish = |label: &mut Vec<u8>, out: &mut Vec<u8>| -> Result<(), NameError> {
        if label.is_empty() || label.len() > 63 {
            return Err(NameError::LabelLength {
                text: text.to_string(),
            });
        }
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
        label.clear();
        Ok(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let digits = bytes
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = digits {
                    let v = u32::from(d[0] - b'0') * 100
                        + u32::from(d[1] - b'0') * 10
                        + u32::from(d[2] - b'0');
                    label.push(u8::try_from(v).map_err(|_| NameError::BadEscape {
                        text: text.to_string(),
                    })?);
                    i += 4;
                } else if let Some(&c) = bytes.get(i + 1) {
                    label.push(c);
                    i += 2;
                } else {
                    return Err(NameError::TrailingBackslash {
                        text: text.to_string(),
                    });
                }
            }
            b'.' => {
                finish(&mut label, &mut out)?;
                i += 1;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        finish(&mut label, &mut out)?;
    }
    out.push(0);
    if out.len() > 255 {
        return Err(NameError::TooLong {
            text: text.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_says_why_a_name_is_bad() {
        assert_eq!(
            parse("Www.Example.ORG.").unwrap(),
            b"\x03www\x07example\x03org\x00"
        );
        assert_eq!(parse(" . ").unwrap(), b"\x00");
        let e = parse("  ").unwrap_err();
        assert_eq!(e, NameError::Empty);
        assert_eq!(e.to_string(), "empty domain name");
        let e = parse("a..b").unwrap_err();
        assert!(matches!(e, NameError::LabelLength { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "bad domain name 'a..b': labels must be 1 to 63 octets"
        );
        let e = parse("a\\300b").unwrap_err();
        assert!(matches!(e, NameError::BadEscape { .. }), "{e:?}");
        assert_eq!(e.to_string(), "bad escape in 'a\\300b'");
        let e = parse("ab\\").unwrap_err();
        assert!(matches!(e, NameError::TrailingBackslash { .. }), "{e:?}");
        assert_eq!(e.to_string(), "bad domain name 'ab\\': ends in '\\'");
        let long = vec!["a".repeat(63); 5].join(".");
        let e = parse(&long).unwrap_err();
        assert!(matches!(e, NameError::TooLong { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("bad domain name '{long}': longer than 255 octets")
        );
    }

    #[test]
    fn lowercase_folds_exactly_ascii_letters_at_every_position() {
        // Every byte value at every offset of a name of every length up
        // to 20: the word-at-a-time fold equals the byte-at-a-time one.
        let mut out = [0u8; MAX_NAME_LEN];
        for len in 1..=20usize {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut name: Vec<u8> = (0..len).map(|i| b'A' + (i as u8 % 26)).collect();
                    name[at] = b;
                    let want: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
                    assert_eq!(to_lowercase(&name, &mut out), &want[..], "{name:?}");
                }
            }
        }
        let long = [b'Q'; 300];
        assert_eq!(to_lowercase(&long, &mut out), &[b'q'; MAX_NAME_LEN][..]);
    }

    const WWW: &[u8] = b"\x03www\x07Example\x03org\x00";

    #[test]
    fn offsets_and_counts() {
        let mut offs = [0u8; MAX_LABELS];
        assert_eq!(label_offsets(WWW, &mut offs), 3);
        assert_eq!(&offs[..3], &[0, 4, 12]);
        assert_eq!(label_count(WWW), 3);
        assert_eq!(label_count(b"\x00"), 0);
    }

    #[test]
    fn parent_is_one_label_up() {
        assert_eq!(parent(b"\x01a\x03org\x00"), Some(&b"\x03org\x00"[..]));
        assert_eq!(parent(b"\x03org\x00"), Some(&b"\x00"[..]));
        assert_eq!(parent(b"\x00"), None);
        assert_eq!(parent(b"\x05ab"), None, "cut off");
    }

    #[test]
    fn subdomain_on_label_boundary_only() {
        assert!(is_subdomain(WWW, b"\x07example\x03org\x00"));
        assert!(is_subdomain(WWW, b"\x00"));
        assert!(is_subdomain(WWW, WWW));
        // "ample.org" is a byte suffix of "example.org" but not a label suffix.
        assert!(!is_subdomain(
            b"\x07example\x03org\x00",
            b"\x05ample\x03org\x00"
        ));
    }

    #[test]
    fn text_form_escapes() {
        assert_eq!(to_text(WWW), "www.Example.org.");
        assert_eq!(to_text(b"\x00"), ".");
        assert_eq!(to_text(b"\x03a.b\x00"), "a\\.b.");
        assert_eq!(to_text(b"\x01\x07\x00"), "\\007.");
        // Every byte value, alone and between plain characters, as the
        // byte-at-a-time form (the one this replaced) writes it.
        let reference = |name: &[u8]| {
            let mut s = String::new();
            let mut pos = 0;
            while pos < name.len() && name[pos] != 0 {
                let end = (pos + 1 + name[pos] as usize).min(name.len());
                for &b in &name[pos + 1..end] {
                    match b {
                        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                            s.push('\\');
                            s.push(b as char);
                        }
                        0x21..=0x7e => s.push(b as char),
                        _ => s.push_str(&format!("\\{b:03}")),
                    }
                }
                s.push('.');
                pos = end;
            }
            if s.is_empty() {
                s.push('.');
            }
            s
        };
        for b in 0..=255u8 {
            for name in [
                vec![1, b, 0],
                vec![3, b'a', b, b'z', 2, b, b, 0],
                vec![2, b'x', b],
            ] {
                assert_eq!(to_text(&name), reference(&name), "{name:?}");
            }
        }
        assert_eq!(to_text(b""), ".");
    }

    #[test]
    fn uncompressed_len_rejects_pointers() {
        assert_eq!(uncompressed_len(WWW), Some(WWW.len()));
        assert_eq!(uncompressed_len(b"\xc0\x0c"), None);
        assert_eq!(uncompressed_len(b"\x03ww"), None);
    }
}
