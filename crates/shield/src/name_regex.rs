//! `RegexRule`: a regular expression over the query name in presentation
//! form, case-insensitive, linear time (regex-lite).
//!
//! Operators' rules are mostly anchored at a literal ("^x[0-9]+\\.foo"),
//! and most queries fail that literal at its first bytes. Checking it on the
//! wire name first spares the text conversion and the regex engine for
//! those queries: with 20 such rules it was a sixth of the query's cost.

/// A compiled `RegexRule`.
#[derive(Debug)]
pub struct NameRegex {
    re: regex_lite::Regex,
    /// The pattern as written, for `showRules`.
    pub text: String,
    /// What the first label must start with for any match (lowercase).
    prefix: Option<Vec<u8>>,
}

impl NameRegex {
    pub fn new(pattern: &str) -> Result<NameRegex, regex_lite::Error> {
        let re = regex_lite::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()?;
        Ok(NameRegex {
            re,
            text: pattern.to_string(),
            prefix: literal_prefix(pattern),
        })
    }

    /// Whether the lowercase wire name `lname` matches.
    pub fn is_match(&self, lname: &[u8]) -> bool {
        if let Some(p) = &self.prefix {
            let label = usize::from(lname.first().copied().unwrap_or(0));
            // The first label's bytes are its presentation as long as they
            // are in the prefix's alphabet, which needs no escaping; a label
            // shorter than the prefix puts a '.' (or the end) where the
            // prefix has a letter.
            if p.len() > label || lname.get(1..1 + p.len()) != Some(&p[..]) {
                return false;
            }
        }
        let mut buf = [0u8; 1024];
        self.re.is_match(presentation(lname, &mut buf))
    }
}

/// The literal a pattern anchored with `^` starts with, lowercase, up to
/// the first character that is not a plain letter, digit, '-' or '_'; a
/// character made optional by a quantifier is left out. None when there is
/// no such literal or the pattern has alternatives (`|`).
fn literal_prefix(pattern: &str) -> Option<Vec<u8>> {
    if pattern.contains('|') {
        return None;
    }
    let rest = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let mut chars = rest.strip_prefix('^')?.chars().peekable();
    let mut out = Vec::new();
    while let Some(c) = chars.next() {
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            break;
        }
        match chars.peek() {
            Some('*' | '?' | '{') => break,
            Some('+') => {
                out.push(c.to_ascii_lowercase() as u8);
                break;
            }
            _ => out.push(c.to_ascii_lowercase() as u8),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The name in presentation form without its final dot, written into
/// `buf` (no allocation); escapes keep it ASCII.
fn presentation<'b>(lname: &[u8], buf: &'b mut [u8; 1024]) -> &'b str {
    let mut len = 0;
    let mut pos = 0;
    while pos < lname.len() && lname[pos] != 0 {
        let l = lname[pos] as usize;
        if len > 0 {
            buf[len] = b'.';
            len += 1;
        }
        for &b in lname.get(pos + 1..pos + 1 + l).unwrap_or(&[]) {
            if len + 4 >= buf.len() {
                break;
            }
            if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                buf[len] = b;
                len += 1;
            } else {
                let esc = [b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10];
                buf[len..len + 4].copy_from_slice(&esc);
                len += 4;
            }
        }
        pos += 1 + l;
    }
    // Only ASCII was written.
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.to_ascii_lowercase().as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn prefixes_are_only_what_every_match_starts_with() {
        let p = |s: &str| literal_prefix(s).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(p("^x12[0-9]+\\.foo\\."), Some("x12".into()));
        assert_eq!(p("(?i)^ABC"), Some("abc".into()));
        assert_eq!(p("^ab*c"), Some("a".into()));
        assert_eq!(p("^ab+c"), Some("ab".into()));
        assert_eq!(p("^a?b"), None);
        assert_eq!(p("^abc|^def"), None);
        assert_eq!(p("abc"), None);
        assert_eq!(p("^[a-z]"), None);
    }

    #[test]
    fn the_prefilter_never_changes_the_answer() {
        let patterns = [
            "^x1[0-9]+\\.foo\\.",
            "^ab+c",
            "^ab*c",
            "^www\\.",
            "^xn--",
            "^a_b",
            "example",
            "^longer-than-the-label",
        ];
        let names = [
            "x123.foo.test",
            "X19.FOO.test",
            "x2.foo.test",
            "abbbc.test",
            "ac.test",
            "abc.test",
            "www.example.org",
            "xn--bcher-kva.example",
            "a_b.test",
            "a\\.b.test",
            "ab.test",
            "longer.test",
            "x1.foo",
        ];
        for pat in patterns {
            let r = NameRegex::new(pat).unwrap();
            let plain = regex_lite::RegexBuilder::new(pat)
                .case_insensitive(true)
                .build()
                .unwrap();
            for name in names {
                let w = wire(name);
                let mut buf = [0u8; 1024];
                let text = presentation(&w, &mut buf).to_string();
                assert_eq!(r.is_match(&w), plain.is_match(&text), "{pat} on {name}");
            }
        }
    }
}
