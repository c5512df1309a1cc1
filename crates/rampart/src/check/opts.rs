//! The plugins' option style: `-H host`, `--hostname host`,
//! `--hostname=host`, flags without values, repeatable options, and
//! positional words (a zone name) anywhere.

use std::time::Duration;

use super::dns::Family;
use super::range::Range;

/// One option a check takes: short form, long form, whether a value
/// follows.
pub type Spec = (&'static str, &'static str, bool);

/// Options every check takes besides its own.
const COMMON: &[Spec] = &[
    ("-t", "--timeout", true),
    ("-4", "--ipv4", false),
    ("-6", "--ipv6", false),
];

/// The words of one check, read.
#[derive(Debug, Default)]
pub struct Opts {
    /// (short form, value) in command-line order.
    given: Vec<(&'static str, Option<String>)>,
    pub positional: Vec<String>,
}

impl Opts {
    /// Reads `words` against `specs` (and the common options).
    pub fn parse(words: &[String], specs: &[Spec]) -> Result<Opts, String> {
        let mut out = Opts::default();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            if !w.starts_with('-') || w == "-" {
                out.positional.push(w.clone());
                continue;
            }
            let (flag, inline) = match w.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (w.as_str(), None),
            };
            let Some(&(short, _, takes)) = specs
                .iter()
                .chain(COMMON)
                .find(|(s, l, _)| *s == flag || *l == flag)
            else {
                return Err(format!("unknown option '{flag}'"));
            };
            let value = match (takes, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => Some(
                    it.next()
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a value"))?,
                ),
                (false, Some(_)) => return Err(format!("{flag} takes no value")),
                (false, None) => None,
            };
            out.given.push((short, value));
        }
        Ok(out)
    }

    /// The last value given for `short`.
    pub fn get(&self, short: &str) -> Option<&str> {
        self.given
            .iter()
            .rev()
            .find(|(s, _)| *s == short)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value given for `short`, in order.
    pub fn all(&self, short: &str) -> Vec<&str> {
        self.given
            .iter()
            .filter(|(s, _)| *s == short)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    pub fn has(&self, short: &str) -> bool {
        self.given.iter().any(|(s, _)| *s == short)
    }

    /// The value of `short`, required.
    pub fn need(&self, short: &str, what: &str) -> Result<&str, String> {
        self.get(short)
            .ok_or_else(|| format!("{short} {what} is required"))
    }

    /// The range given with `short`, read by `parse`.
    pub fn range(
        &self,
        short: &str,
        parse: fn(&str) -> Result<Range, String>,
    ) -> Result<Option<Range>, String> {
        self.get(short)
            .map(|v| parse(v).map_err(|e| format!("{short}: {e}")))
            .transpose()
    }

    /// `-p`, or `default`.
    pub fn port(&self, default: u16) -> Result<u16, String> {
        match self.get("-p") {
            None => Ok(default),
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("-p: bad port '{p}'")),
        }
    }

    /// `-t` seconds (default 10, as the stock plugins).
    pub fn timeout(&self) -> Result<Duration, String> {
        match self.get("-t") {
            None => Ok(Duration::from_secs(10)),
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|t| *t > 0.0 && *t <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("-t: bad timeout '{t}' (seconds, up to 3600)")),
        }
    }

    /// `-4`/`-6`.
    pub fn family(&self) -> Result<Family, String> {
        match (self.has("-4"), self.has("-6")) {
            (true, true) => Err("-4 and -6 exclude each other".into()),
            (true, false) => Ok(Family::V4),
            (false, true) => Ok(Family::V6),
            (false, false) => Ok(Family::Any),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn short_long_inline_repeated() {
        let specs = [
            ("-H", "--hostname", true),
            ("-S", "--secondary", true),
            ("-x", "--tcp", false),
        ];
        let o = Opts::parse(
            &words("zone.test -H a --secondary b --secondary=c -x -t 3"),
            &specs,
        )
        .unwrap();
        assert_eq!(o.positional, ["zone.test"]);
        assert_eq!(o.get("-H"), Some("a"));
        assert_eq!(o.all("-S"), ["b", "c"]);
        assert!(o.has("-x"));
        assert_eq!(o.timeout().unwrap(), Duration::from_secs(3));
        assert!(Opts::parse(&words("-q"), &specs).is_err());
        assert!(Opts::parse(&words("-H"), &specs).is_err());
        assert!(Opts::parse(&words("--tcp=1"), &specs).is_err());
        let o = Opts::parse(&words("-t 0"), &specs).unwrap();
        assert!(o.timeout().is_err());
    }
}
