//! Splitting master-file text into logical entries (RFC 1035 §5.1).
//!
//! An entry is one line, or several joined by parentheses. Comments are
//! dropped, quoted strings kept whole (with their escapes, which the
//! `domain` scanner resolves later). Each entry remembers the line it
//! starts on so every later error can name it.

use super::SourceErrorKind;

/// A token: a byte range of the source, quoted or not.
#[derive(Clone, Copy, Debug)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    /// The token was a quoted string (quotes not included in the range).
    pub quoted: bool,
    /// No whitespace separated this token from the previous one
    /// (`key="value"` in SVCB parameters).
    pub glued: bool,
}

/// One logical entry.
#[derive(Debug, Default)]
pub struct Entry {
    /// Line the entry starts on, from 1.
    pub line: u32,
    /// The entry began with whitespace: its owner is the previous one.
    pub indented: bool,
    pub tokens: Vec<Token>,
}

/// Reads entries from `src` one at a time.
pub struct Tokenizer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
}

impl<'a> Tokenizer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Tokenizer {
            src,
            pos: 0,
            line: 1,
        }
    }

    /// Fills `entry` with the next non-empty entry; `Ok(false)` at the end.
    /// Errors carry the line they were found on; the broken entry is
    /// skipped, so the next call reads the entry after it.
    pub fn next_entry(&mut self, entry: &mut Entry) -> Result<bool, (u32, SourceErrorKind)> {
        loop {
            if self.pos >= self.src.len() {
                return Ok(false);
            }
            entry.tokens.clear();
            entry.line = self.line;
            entry.indented = matches!(self.src[self.pos], b' ' | b'\t');
            self.read_entry(entry)?;
            if !entry.tokens.is_empty() {
                return Ok(true);
            }
        }
    }

    fn read_entry(&mut self, entry: &mut Entry) -> Result<(), (u32, SourceErrorKind)> {
        let mut parens = 0u32;
        let mut paren_line = 0;
        let mut glued = false;
        while self.pos < self.src.len() {
            let c = self.src[self.pos];
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    glued = false;
                    if parens == 0 {
                        return Ok(());
                    }
                }
                b' ' | b'\t' | b'\r' => {
                    self.pos += 1;
                    glued = false;
                }
                b';' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if parens == 0 {
                        paren_line = self.line;
                    }
                    parens += 1;
                    self.pos += 1;
                    glued = false;
                }
                b')' => {
                    if parens == 0 {
                        let e = (self.line, SourceErrorKind::UnopenedParen);
                        self.skip_broken_entry(0);
                        return Err(e);
                    }
                    parens -= 1;
                    self.pos += 1;
                    glued = false;
                }
                b'"' => {
                    let start = self.pos + 1;
                    let end = match self.quoted_end(start) {
                        Ok(end) => end,
                        Err(e) => {
                            self.skip_broken_entry(parens);
                            return Err(e);
                        }
                    };
                    entry.tokens.push(Token {
                        start,
                        end,
                        quoted: true,
                        glued: glued && !entry.tokens.is_empty(),
                    });
                    self.pos = end + 1;
                    glued = true;
                }
                _ => {
                    let start = self.pos;
                    while self.pos < self.src.len() {
                        match self.src[self.pos] {
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                            b'\\' => {
                                // An escaped newline is still a new line.
                                if self.src.get(self.pos + 1) == Some(&b'\n') {
                                    self.line += 1;
                                }
                                self.pos += 2;
                            }
                            _ => self.pos += 1,
                        }
                    }
                    self.pos = self.pos.min(self.src.len());
                    entry.tokens.push(Token {
                        start,
                        end: self.pos,
                        quoted: false,
                        glued: glued && !entry.tokens.is_empty(),
                    });
                    glued = true;
                }
            }
        }
        if parens > 0 {
            return Err((paren_line, SourceErrorKind::UnclosedParen));
        }
        Ok(())
    }

    /// Skips the rest of an entry with an error, `parens` parentheses
    /// open: to the end of the line, or of the line that closes them. A
    /// quote in it runs to its end or the line's.
    fn skip_broken_entry(&mut self, mut parens: u32) {
        let mut quoted = false;
        while self.pos < self.src.len() {
            let c = self.src[self.pos];
            self.pos += 1;
            match c {
                b'\n' => {
                    self.line += 1;
                    quoted = false;
                    if parens == 0 {
                        return;
                    }
                }
                b'\\' => {
                    if self.src.get(self.pos) == Some(&b'\n') {
                        self.line += 1;
                    }
                    self.pos += 1;
                }
                b'"' => quoted = !quoted,
                _ if quoted => {}
                b';' => {
                    while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'(' => parens += 1,
                b')' => parens = parens.saturating_sub(1),
                _ => {}
            }
        }
        self.pos = self.src.len();
    }

    /// The position of the closing quote of a string starting at `start`.
    fn quoted_end(&mut self, start: usize) -> Result<usize, (u32, SourceErrorKind)> {
        let mut pos = start;
        while pos < self.src.len() {
            match self.src[pos] {
                b'"' => return Ok(pos),
                b'\\' => pos += 2,
                b'\n' => return Err((self.line, SourceErrorKind::QuoteOpenAtLineEnd)),
                _ => pos += 1,
            }
        }
        Err((self.line, SourceErrorKind::QuoteOpenAtFileEnd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(src: &'a [u8], e: &Entry) -> Vec<&'a str> {
        e.tokens
            .iter()
            .map(|t| std::str::from_utf8(&src[t.start..t.end]).unwrap())
            .collect()
    }

    #[test]
    fn joins_parenthesised_lines_and_drops_comments() {
        let src = b"@ IN SOA ns. host. ( 1 ; serial\n 2 3\n 4 5 ) ; end\n\n  www A 1.2.3.4\n";
        let mut t = Tokenizer::new(src);
        let mut e = Entry::default();
        assert!(t.next_entry(&mut e).unwrap());
        assert_eq!(e.line, 1);
        assert!(!e.indented);
        assert_eq!(
            texts(src, &e),
            ["@", "IN", "SOA", "ns.", "host.", "1", "2", "3", "4", "5"]
        );
        assert!(t.next_entry(&mut e).unwrap());
        assert_eq!(e.line, 5);
        assert!(e.indented);
        assert!(!t.next_entry(&mut e).unwrap());
    }

    #[test]
    fn keeps_quotes_escapes_and_glue() {
        let src = b"x TXT \"a \\\" b\" c\\ d\nsvc HTTPS 1 . alpn=\"h2,h3\"\n";
        let mut t = Tokenizer::new(src);
        let mut e = Entry::default();
        t.next_entry(&mut e).unwrap();
        assert_eq!(texts(src, &e), ["x", "TXT", "a \\\" b", "c\\ d"]);
        assert!(e.tokens[2].quoted);
        t.next_entry(&mut e).unwrap();
        assert_eq!(texts(src, &e)[4..], ["alpn=", "h2,h3"]);
        assert!(e.tokens[5].glued && !e.tokens[4].glued);
    }

    #[test]
    fn reports_unbalanced_and_unterminated() {
        let mut e = Entry::default();
        let err = Tokenizer::new(b"a A (\n1.2.3.4\n")
            .next_entry(&mut e)
            .unwrap_err();
        assert_eq!(err.0, 1);
        assert!(matches!(err.1, SourceErrorKind::UnclosedParen), "{err:?}");
        let err = Tokenizer::new(b"\na A 1.2.3.4 )\n")
            .next_entry(&mut e)
            .unwrap_err();
        assert_eq!(err.0, 2);
        assert!(matches!(err.1, SourceErrorKind::UnopenedParen), "{err:?}");
        let err = Tokenizer::new(b"a TXT \"abc\n")
            .next_entry(&mut e)
            .unwrap_err();
        assert_eq!(err.0, 1);
        assert!(
            matches!(err.1, SourceErrorKind::QuoteOpenAtLineEnd),
            "{err:?}"
        );
        assert_eq!(
            err.1.to_string(),
            "quoted string not closed before the end of the line"
        );
    }

    #[test]
    fn skips_a_broken_entry_whole() {
        // The rest of the line, or of the parentheses open in it.
        let src = b"a A 1 ) x\nb TXT ( \"open\n more ) \"q\nc A 3\n";
        let mut t = Tokenizer::new(src);
        let mut e = Entry::default();
        assert_eq!(t.next_entry(&mut e).unwrap_err().0, 1);
        assert_eq!(t.next_entry(&mut e).unwrap_err().0, 2);
        assert!(t.next_entry(&mut e).unwrap());
        assert_eq!((e.line, texts(src, &e)), (4, vec!["c", "A", "3"]));
        assert!(!t.next_entry(&mut e).unwrap());
    }
}
