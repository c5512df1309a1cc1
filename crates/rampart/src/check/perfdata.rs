//! Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`
//! (Monitoring Plugins guidelines, "Performance data").

use std::fmt;

use super::range::{number_text, Range};

/// One perfdata item.
#[derive(Clone, Debug, PartialEq)]
pub struct Perf {
    pub label: String,
    /// `None` when the value could not be measured (written `U`).
    pub value: Option<f64>,
    /// `s`, `ms`, `%`, `B`, `c` or empty.
    pub uom: &'static str,
    pub warn: Option<Range>,
    pub crit: Option<Range>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Perf {
    pub fn new(label: &str, value: Option<f64>, uom: &'static str) -> Perf {
        Perf {
            label: label.to_string(),
            value,
            uom,
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    pub fn thresholds(mut self, warn: Option<Range>, crit: Option<Range>) -> Perf {
        self.warn = warn;
        self.crit = crit;
        self
    }

    pub fn min(mut self, min: f64) -> Perf {
        self.min = Some(min);
        self
    }
}

/// Quotes a label when it holds anything but letters, digits and `_`
/// (an address, a port); a `'` inside is doubled.
pub fn label_text(label: &str) -> String {
    let plain = label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain && !label.is_empty() {
        label.to_string()
    } else {
        format!("'{}'", label.replace('\'', "''"))
    }
}

impl fmt::Display for Perf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", label_text(&self.label))?;
        match self.value {
            Some(v) => write!(f, "{}{}", value_text(v, self.uom), self.uom)?,
            None => f.write_str("U")?,
        }
        let range = |r: &Option<Range>| r.map(|r| r.to_string()).unwrap_or_default();
        let num = |n: &Option<f64>| n.map(number_text).unwrap_or_default();
        let mut fields = [
            range(&self.warn),
            range(&self.crit),
            num(&self.min),
            num(&self.max),
        ]
        .to_vec();
        // Trailing empty fields may be dropped.
        while fields.last().is_some_and(String::is_empty) {
            fields.pop();
        }
        for field in fields {
            write!(f, ";{field}")?;
        }
        Ok(())
    }
}

/// Seconds keep six decimals (microseconds), as `check_dig` and
/// `check_ntp_time` write them; other values their shortest form.
fn value_text(v: f64, uom: &str) -> String {
    if uom == "s" && v.fract() != 0.0 {
        format!("{v:.6}")
    } else {
        number_text(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_the_guidelines_say() {
        let p = Perf::new("time", Some(0.0106812), "s")
            .thresholds(Range::parse("0.5").ok(), Range::parse("1").ok())
            .min(0.0);
        assert_eq!(p.to_string(), "time=0.010681s;0.5;1;0");
        let p = Perf::new("lag_127.0.0.1:5300", Some(2.0), "")
            .thresholds(Range::parse("0").ok(), Range::parse("3").ok());
        assert_eq!(p.to_string(), "'lag_127.0.0.1:5300'=2;0;3");
        assert_eq!(Perf::new("lag x", None, "").to_string(), "'lag x'=U");
        assert_eq!(label_text("it's"), "'it''s'");
        let p = Perf::new("expiry", Some(86400.0), "s")
            .thresholds(None, Range::parse("2:").ok())
            .min(0.0);
        assert_eq!(p.to_string(), "expiry=86400s;;2:;0");
    }
}
