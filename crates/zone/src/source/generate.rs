//! `$GENERATE` (BIND syntax), which the `domain` scanner lacks.
//!
//! `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs…` makes one
//! record per value. In `lhs` and `rhs`, `$` is the value, `${offset}`,
//! `${offset,width}` and `${offset,width,base}` format it (base `d`, `o`,
//! `x`, `X`, or `n`/`N` for reversed nibbles as in ip6.arpa), and `\$` is a
//! literal dollar sign.

/// The most records one `$GENERATE` may produce: a typo in a range should
/// be an error, not a memory spike.
pub const MAX_GENERATED: u64 = 1_000_000;

/// What is wrong with a `$GENERATE` directive.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// Too few fields for a range, a left-hand side, a type and a
    /// right-hand side.
    #[error("expected '$GENERATE range lhs [ttl] [class] type rhs'")]
    Syntax,
    /// The type is the last field.
    #[error("$GENERATE needs a right-hand side after the type")]
    NoRhs,
    /// The range is not `start-stop[/step]` with start ≤ stop < 2³² and
    /// a step above 0.
    #[error("expected a $GENERATE range 'start-stop[/step]', found '{found}'")]
    BadRange { found: String },
    /// The range makes more than [`MAX_GENERATED`] records.
    #[error("$GENERATE range '{range}' makes more than {MAX_GENERATED} records")]
    TooMany { range: String },
    /// A `${` in a template with no `}` after it.
    #[error("'${{' without a closing '}}' in '{template}'")]
    UnclosedModifier { template: String },
    /// A `${…}` that is not `offset[,width[,base]]`.
    #[error("expected '${{offset[,width[,base]]}}', found '${{{spec}}}'")]
    BadModifier { spec: String },
    /// A modifier whose offset makes the value negative.
    #[error("${{{spec}}} makes the negative value {value}")]
    Negative { spec: String, value: i64 },
}

/// A parsed `start-stop[/step]` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub stop: u64,
    pub step: u64,
}

impl Range {
    pub fn parse(s: &str) -> Result<Range, GenerateError> {
        let bad = || GenerateError::BadRange {
            found: s.to_string(),
        };
        let (range, step) = match s.split_once('/') {
            Some((r, st)) => (r, st.parse::<u64>().map_err(|_| bad())?),
            None => (s, 1),
        };
        let (start, stop) = range.split_once('-').ok_or_else(bad)?;
        let start: u64 = start.parse().map_err(|_| bad())?;
        let stop: u64 = stop.parse().map_err(|_| bad())?;
        if step == 0 || start > stop || stop > u64::from(u32::MAX) {
            return Err(bad());
        }
        if (stop - start) / step + 1 > MAX_GENERATED {
            return Err(GenerateError::TooMany {
                range: s.to_string(),
            });
        }
        Ok(Range { start, stop, step })
    }

    /// The values of the range.
    pub fn values(self) -> impl Iterator<Item = u64> {
        (self.start..=self.stop).step_by(self.step as usize)
    }
}

/// Expands a `$GENERATE` template for `value`, appending to `out`.
pub fn substitute(template: &str, value: u64, out: &mut String) -> Result<(), GenerateError> {
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '$')) => out.push('$'),
                // Keep other escapes for the scanner.
                Some((_, next)) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '$' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                let close =
                    template[i..]
                        .find('}')
                        .ok_or_else(|| GenerateError::UnclosedModifier {
                            template: template.to_string(),
                        })?;
                format_modifier(&template[i + 2..i + close], value, out)?;
                // Skip to just past the '}'.
                while chars.next_if(|&(j, _)| j <= i + close).is_some() {}
            }
            '$' => out.push_str(&value.to_string()),
            _ => out.push(c),
        }
    }
    Ok(())
}

/// Formats `value` by a `offset[,width[,base]]` modifier.
fn format_modifier(spec: &str, value: u64, out: &mut String) -> Result<(), GenerateError> {
    let bad = || GenerateError::BadModifier {
        spec: spec.to_string(),
    };
    let mut parts = spec.split(',');
    let offset: i64 = parts
        .next()
        .unwrap_or("0")
        .trim()
        .parse()
        .map_err(|_| bad())?;
    let width: usize = match parts.next() {
        Some(w) => w.trim().parse().map_err(|_| bad())?,
        None => 0,
    };
    let base = parts.next().map(str::trim).unwrap_or("d");
    if parts.next().is_some() || width > 255 {
        return Err(bad());
    }
    let v = i64::try_from(value)
        .map_err(|_| bad())?
        .checked_add(offset)
        .ok_or_else(bad)?;
    if v < 0 {
        return Err(GenerateError::Negative {
            spec: spec.to_string(),
            value: v,
        });
    }
    let v = v as u64;
    match base {
        "d" => out.push_str(&format!("{v:0width$}")),
        "o" => out.push_str(&format!("{v:0width$o}")),
        "x" => out.push_str(&format!("{v:0width$x}")),
        "X" => out.push_str(&format!("{v:0width$X}")),
        "n" | "N" => {
            let hex = if base == "n" {
                format!("{v:0width$x}")
            } else {
                format!("{v:0width$X}")
            };
            let nibbles: Vec<String> = hex.chars().rev().map(String::from).collect();
            out.push_str(&nibbles.join("."));
        }
        _ => return Err(bad()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(t: &str, v: u64) -> String {
        let mut s = String::new();
        substitute(t, v, &mut s).unwrap();
        s
    }

    #[test]
    fn ranges() {
        assert_eq!(Range::parse("1-10").unwrap().values().count(), 10);
        assert_eq!(
            Range::parse("0-10/5").unwrap().values().collect::<Vec<_>>(),
            [0, 5, 10]
        );
        assert!(Range::parse("10-1").is_err());
        assert!(Range::parse("1-10/0").is_err());
        let e = Range::parse("a-b").unwrap_err();
        assert_eq!(
            e,
            GenerateError::BadRange {
                found: "a-b".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "expected a $GENERATE range 'start-stop[/step]', found 'a-b'"
        );
        let e = Range::parse("0-99999999").unwrap_err();
        assert!(matches!(e, GenerateError::TooMany { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "$GENERATE range '0-99999999' makes more than 1000000 records"
        );
    }

    #[test]
    fn substitutions() {
        assert_eq!(sub("host-$", 7), "host-7");
        assert_eq!(sub("${10}", 7), "17");
        assert_eq!(sub("${0,3}", 7), "007");
        assert_eq!(sub("${0,4,x}", 255), "00ff");
        assert_eq!(sub("${0,2,X}", 255), "FF");
        assert_eq!(sub("${0,3,o}", 8), "010");
        assert_eq!(sub("${0,3,n}", 0x12a), "a.2.1");
        assert_eq!(sub("${-1}", 7), "6");
        assert_eq!(sub("cost\\$-$", 3), "cost$-3");
        assert_eq!(sub("a\\.b$", 1), "a\\.b1");
        let mut s = String::new();
        let e = substitute("${-9}", 1, &mut s).unwrap_err();
        assert!(
            matches!(e, GenerateError::Negative { value: -8, .. }),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "${-9} makes the negative value -8");
        let e = substitute("${0,2,q}", 1, &mut s).unwrap_err();
        assert!(matches!(e, GenerateError::BadModifier { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "expected '${offset[,width[,base]]}', found '${0,2,q}'"
        );
        let e = substitute("${0", 1, &mut s).unwrap_err();
        assert!(matches!(e, GenerateError::UnclosedModifier { .. }), "{e:?}");
        assert_eq!(e.to_string(), "'${' without a closing '}' in '${0'");
        assert!(substitute("${9223372036854775807}", 2, &mut s).is_err());
        // A backslash before a multi-byte character (found by fuzzing).
        assert_eq!(sub("a\\é$", 2), "a\\é2");
    }
}
