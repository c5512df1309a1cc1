//! Threshold ranges in the Monitoring Plugins syntax, `[@][start:][end]`.
//!
//! A missing start is 0, a missing end is +∞ and `~` as the start is −∞.
//! The range alerts when the value lies outside `[start, end]`
//! (inclusive), or inside it when the range starts with `@`. `10` alerts
//! below 0 or above 10, `10:` below 10, `~:10` above 10, `10:20` outside
//! 10–20, `@10:20` inside 10–20. A start above the end, an empty range and
//! anything that is not a number are refused.

use std::fmt;

/// A parsed range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// `None` for −∞ (`~`).
    pub start: Option<f64>,
    /// `None` for +∞ (nothing after the colon).
    pub end: Option<f64>,
    /// `@`: alert inside the range instead of outside.
    pub inside: bool,
}

impl Range {
    /// Parses plain numbers (`0.5`, `-3`, `1e3`).
    pub fn parse(text: &str) -> Result<Range, String> {
        Range::parse_with(text, plain_number)
    }

    /// Parses durations: numbers of seconds, or with a unit `s`, `m`,
    /// `h`, `d` or `w` (`7d`), as seconds.
    pub fn parse_duration(text: &str) -> Result<Range, String> {
        Range::parse_with(text, duration)
    }

    /// Parses with `number` reading each bound.
    pub fn parse_with(text: &str, number: fn(&str) -> Option<f64>) -> Result<Range, String> {
        let bad = |why: &str| format!("bad range '{text}': {why}");
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(bad("empty"));
        }
        let (start, end) = match body.split_once(':') {
            None => (Some(0.0), body),
            Some(("~", end)) => (None, end),
            Some(("", end)) => (Some(0.0), end),
            Some((start, end)) => (
                Some(number(start).ok_or_else(|| bad(&format!("'{start}' is not a number")))?),
                end,
            ),
        };
        let end = if end.is_empty() {
            None
        } else {
            Some(number(end).ok_or_else(|| bad(&format!("'{end}' is not a number")))?)
        };
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(bad("the start is above the end"));
            }
        }
        Ok(Range { start, end, inside })
    }

    /// Whether `value` raises the alert this range stands for.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start.is_none_or(|s| value >= s) && self.end.is_none_or(|e| value <= e);
        within == self.inside
    }
}

/// The range in canonical form, for perfdata: `10`, `10:`, `~:10`,
/// `@10:20`.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match self.start {
            None => f.write_str("~:")?,
            Some(s) if s == 0.0 && self.end.is_some() => {}
            Some(s) => write!(f, "{}:", number_text(s))?,
        }
        if let Some(e) = self.end {
            f.write_str(&number_text(e))?;
        }
        Ok(())
    }
}

/// A number as perfdata wants it: `[-0-9.]`, no exponent, no trailing
/// zeros.
pub fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn plain_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Seconds in `s`: a number, optionally followed by `s`, `m`, `h`, `d`
/// or `w`.
pub fn duration(s: &str) -> Option<f64> {
    let (digits, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        'w' => 7.0 * 86400.0,
        _ => return None,
    };
    plain_number(digits).map(|v| v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_when_they_alert() {
        // (range, values that alert, values that do not)
        let table: &[(&str, &[f64], &[f64])] = &[
            ("10", &[-1.0, 10.5, 11.0], &[0.0, 5.0, 10.0]),
            ("10:", &[9.9, -5.0], &[10.0, 1e9]),
            ("~:10", &[10.1, 1e9], &[10.0, -1e9]),
            ("10:20", &[9.0, 21.0], &[10.0, 15.0, 20.0]),
            ("@10:20", &[10.0, 15.0, 20.0], &[9.0, 21.0]),
            ("@~:20", &[-1e9, 0.0, 20.0], &[20.5]),
            ("~:", &[], &[-1e9, 0.0, 1e9]),
            ("-10:", &[-11.0], &[-10.0, 0.0, 5.0]),
            ("0.5", &[0.51, -0.1], &[0.0, 0.5]),
            (":5", &[6.0, -1.0], &[0.0, 5.0]),
        ];
        for (text, alert, quiet) in table {
            let r = Range::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            for v in *alert {
                assert!(r.alerts(*v), "{text} should alert at {v}");
            }
            for v in *quiet {
                assert!(!r.alerts(*v), "{text} should not alert at {v}");
            }
        }
    }

    #[test]
    fn invalid_ranges_are_refused() {
        // `-10` is 0..-10: the start above the end.
        for text in ["", "@", "-10", "20:10", "abc", "1:2:3", "~", "10:x", "nan"] {
            assert!(Range::parse(text).is_err(), "'{text}' should be refused");
        }
    }

    #[test]
    fn canonical_text_reads_back() {
        for (text, shown) in [
            ("10", "10"),
            ("0:10", "10"),
            ("10:", "10:"),
            ("~:10", "~:10"),
            ("@10:20", "@10:20"),
            ("0.5", "0.5"),
            ("~:", "~:"),
        ] {
            let r = Range::parse(text).unwrap();
            assert_eq!(r.to_string(), shown);
            assert_eq!(Range::parse(shown).unwrap(), r);
        }
    }

    #[test]
    fn durations_take_units() {
        let r = Range::parse_duration("7d:").unwrap();
        assert_eq!(r.start, Some(7.0 * 86400.0));
        assert_eq!(duration("90"), Some(90.0));
        assert_eq!(duration("2h"), Some(7200.0));
        assert_eq!(duration("1w"), Some(604800.0));
        assert_eq!(duration("3y"), None);
        assert_eq!(duration("d"), None);
    }
}
