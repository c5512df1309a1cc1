//! Calendar dates of Unix time (UTC, proleptic Gregorian), for the
//! `YYYYMMDDHHMMSS` stamps of RRSIGs (RFC 4034 §3.2) and BIND's key
//! files, date serials, and log and report timestamps: one copy of
//! Howard Hinnant's algorithms.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The date (year, month, day) and the seconds into it of Unix time.
pub fn civil(unix: i64) -> ((i64, u32, u32), u32) {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    ((y, m, d), unix.rem_euclid(86_400) as u32)
}

/// `YYYYMMDDHHMMSS` of Unix seconds.
pub fn format(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Unix seconds of `YYYYMMDDHHMMSS`; `None` if it is not one.
pub fn parse(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_matches_known_dates() {
        assert_eq!(super::format(0), "19700101000000");
        assert_eq!(super::parse("20261206104500"), Some(1_796_553_900));
        assert_eq!(super::format(1_796_553_900), "20261206104500");
        assert_eq!(
            super::parse("20240229235959").map(super::format).as_deref(),
            Some("20240229235959")
        );
        assert_eq!(super::parse("2024022923595"), None);
        assert_eq!(super::parse("20241329000000"), None);
    }
}
