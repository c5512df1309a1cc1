//! TTLs and timer values with BIND's unit suffixes (`1h30m`, `2d`, `1W`).

/// Parses a plain number of seconds or a BIND unit form. `None` when `s`
/// is neither, or overflows 32 bits.
pub fn parse_ttl(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s[0].is_ascii_digit() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num: u64 = 0;
    let mut have_digits = false;
    let mut had_unit = false;
    for &c in s {
        if c.is_ascii_digit() {
            num = num * 10 + u64::from(c - b'0');
            if num > u64::from(u32::MAX) {
                return None;
            }
            have_digits = true;
        } else {
            let mult = match c.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86_400,
                b'w' => 604_800,
                _ => return None,
            };
            if !have_digits {
                return None;
            }
            total += num * mult;
            if total > u64::from(u32::MAX) {
                return None;
            }
            num = 0;
            have_digits = false;
            had_unit = true;
        }
    }
    if have_digits {
        // A trailing bare number after units counts as seconds.
        total += num;
    } else if !had_unit {
        return None;
    }
    u32::try_from(total).ok()
}

/// Whether `s` is written with units (and so needs rewriting for a
/// scanner that takes plain numbers).
pub fn has_units(s: &[u8]) -> bool {
    s.iter().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn plain_and_units() {
        assert_eq!(parse_ttl(b"3600"), Some(3600));
        assert_eq!(parse_ttl(b"1h"), Some(3600));
        assert_eq!(parse_ttl(b"1H30m"), Some(5400));
        assert_eq!(
            parse_ttl(b"1w2d3h4m5s"),
            Some(604_800 + 172_800 + 10_800 + 240 + 5)
        );
        assert_eq!(parse_ttl(b"1d10"), Some(86_410));
        assert_eq!(parse_ttl(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_ttl(b"4294967296"), None);
        assert_eq!(parse_ttl(b"h"), None);
        assert_eq!(parse_ttl(b"1x"), None);
        assert_eq!(parse_ttl(b"IN"), None);
        assert_eq!(parse_ttl(b""), None);
        assert_eq!(parse_ttl(&b"4294967295w".repeat(8000)), None);
    }
}
