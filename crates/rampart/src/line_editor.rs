//! Line editing and history for the interactive console (`rampart -c`).
//!
//! dnsdist's client uses libedit; pulling a readline crate in for one
//! prompt is more compile time than it is worth, so this is the small
//! subset operators reach for under attack: arrows, Home/End, the usual
//! Emacs control keys, and a history kept in `~/.rampart_history` across
//! sessions. The key handling is a pure state machine (`Line::key`) so it
//! is tested without a terminal; only `read_line` touches the tty.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// How many history lines are kept in memory and loaded from the file.
const HISTORY_MAX: usize = 1000;

/// A decoded key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-C: abandon the line.
    Interrupt,
    /// Ctrl-D: end of input on an empty line, delete otherwise.
    EndOfInput,
    /// Ctrl-U: delete to the start of the line.
    KillStart,
    /// Ctrl-K: delete to the end of the line.
    KillEnd,
    /// Ctrl-W: delete the word before the cursor.
    KillWord,
    /// Ctrl-L: clear the screen.
    Clear,
    /// Anything else: ignored.
    Ignored,
}

/// Turns terminal bytes into keys, escape sequences included.
#[derive(Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    /// Feeds one byte; returns a key once a whole one has arrived.
    pub fn feed(&mut self, b: u8) -> Option<Key> {
        self.pending.push(b);
        let p = &self.pending[..];
        let key = match p {
            [0x1b] | [0x1b, b'[' | b'O'] => return None,
            [0x1b, b'[', rest @ ..] if !rest.is_empty() => {
                let last = rest[rest.len() - 1];
                // CSI sequences end with a byte in 0x40..=0x7e.
                if !(0x40..=0x7e).contains(&last) {
                    if rest.len() > 8 {
                        Key::Ignored
                    } else {
                        return None;
                    }
                } else {
                    match rest {
                        [b'A'] => Key::Up,
                        [b'B'] => Key::Down,
                        [b'C'] => Key::Right,
                        [b'D'] => Key::Left,
                        [b'H'] | [b'1', b'~'] | [b'7', b'~'] => Key::Home,
                        [b'F'] | [b'4', b'~'] | [b'8', b'~'] => Key::End,
                        [b'3', b'~'] => Key::Delete,
                        _ => Key::Ignored,
                    }
                }
            }
            [0x1b, b'O', k] => match k {
                b'A' => Key::Up,
                b'B' => Key::Down,
                b'C' => Key::Right,
                b'D' => Key::Left,
                b'H' => Key::Home,
                b'F' => Key::End,
                _ => Key::Ignored,
            },
            [0x1b, _] => Key::Ignored,
            [b] if *b < 0x80 => match b {
                b'\r' | b'\n' => Key::Enter,
                0x7f | 0x08 => Key::Backspace,
                0x01 => Key::Home,
                0x02 => Key::Left,
                0x03 => Key::Interrupt,
                0x04 => Key::EndOfInput,
                0x05 => Key::End,
                0x06 => Key::Right,
                0x0b => Key::KillEnd,
                0x0c => Key::Clear,
                0x0e => Key::Down,
                0x10 => Key::Up,
                0x15 => Key::KillStart,
                0x17 => Key::KillWord,
                0x20..=0x7e => Key::Char(*b as char),
                _ => Key::Ignored,
            },
            _ => {
                // UTF-8: wait for the whole character.
                let need = match p[0] {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => 1,
                };
                if p.len() < need {
                    return None;
                }
                match std::str::from_utf8(p).ok().and_then(|s| s.chars().next()) {
                    Some(c) => Key::Char(c),
                    None => Key::Ignored,
                }
            }
        };
        self.pending.clear();
        Some(key)
    }
}

/// What a key press did to the line.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Keep reading; redraw.
    Edit,
    /// The line is finished.
    Done(String),
    /// Ctrl-C: the line is dropped, a fresh prompt follows.
    Interrupted,
    /// Ctrl-D on an empty line.
    Eof,
    /// Ctrl-L: clear the screen, then redraw.
    ClearScreen,
}

/// The line being edited, with a cursor and a place in the history.
pub struct Line<'h> {
    chars: Vec<char>,
    cursor: usize,
    history: &'h [String],
    /// Index into `history`; `history.len()` means the line being typed.
    place: usize,
    /// The line being typed, kept while browsing the history.
    draft: Vec<char>,
}

impl<'h> Line<'h> {
    pub fn new(history: &'h [String]) -> Line<'h> {
        Line {
            chars: Vec::new(),
            cursor: 0,
            history,
            place: history.len(),
            draft: Vec::new(),
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor's position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn key(&mut self, key: Key) -> Outcome {
        match key {
            Key::Char(c) => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Enter => return Outcome::Done(self.text()),
            Key::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.chars.remove(self.cursor);
                }
            }
            Key::Delete => {
                if self.cursor < self.chars.len() {
                    self.chars.remove(self.cursor);
                }
            }
            Key::EndOfInput if self.chars.is_empty() => return Outcome::Eof,
            Key::EndOfInput => return self.key(Key::Delete),
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.chars.len(),
            Key::Up => {
                if self.place > 0 {
                    if self.place == self.history.len() {
                        self.draft = self.chars.clone();
                    }
                    self.place -= 1;
                    self.show(self.history[self.place].chars().collect());
                }
            }
            Key::Down => {
                if self.place < self.history.len() {
                    self.place += 1;
                    let next = match self.history.get(self.place) {
                        Some(h) => h.chars().collect(),
                        None => std::mem::take(&mut self.draft),
                    };
                    self.show(next);
                }
            }
            Key::Interrupt => return Outcome::Interrupted,
            Key::KillStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::KillEnd => self.chars.truncate(self.cursor),
            Key::KillWord => {
                let mut start = self.cursor;
                while start > 0 && self.chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.chars[start - 1] != ' ' {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::Clear => return Outcome::ClearScreen,
            Key::Ignored => {}
        }
        Outcome::Edit
    }

    fn show(&mut self, chars: Vec<char>) {
        self.chars = chars;
        self.cursor = self.chars.len();
    }
}

/// The history: in memory, and appended to a file as lines are entered.
pub struct History {
    lines: Vec<String>,
    file: Option<PathBuf>,
}

impl History {
    /// Loads `~/.rampart_history` if there is a home; a missing or
    /// unreadable file just means an empty history.
    pub fn load_default() -> History {
        let file = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".rampart_history"));
        let mut lines: Vec<String> = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|s| {
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let excess = lines.len().saturating_sub(HISTORY_MAX);
        lines.drain(..excess);
        History { lines, file }
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Remembers a line, unless it is blank or repeats the last one.
    pub fn add(&mut self, line: &str) {
        if line.trim().is_empty() || self.lines.last().map(String::as_str) == Some(line) {
            return;
        }
        self.lines.push(line.to_string());
        if self.lines.len() > HISTORY_MAX {
            self.lines.remove(0);
        }
        if let Some(f) = &self.file {
            // Losing a history line is not worth interrupting the operator.
            // Owner-only: console lines can hold keys (setKey("…")).
            use std::os::unix::fs::OpenOptionsExt;
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(f);
            if let Ok(mut out) = opened {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// Puts the terminal on stdin into raw mode until dropped.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enter() -> io::Result<RawMode> {
        // SAFETY: tcgetattr/tcsetattr only read and write the termios
        // struct we own; fd 0 is stdin.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
            raw.c_iflag &= !(libc::IXON | libc::ICRNL | libc::INLCR | libc::ISTRIP);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSADRAIN, &raw) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe {
            libc::tcsetattr(0, libc::TCSADRAIN, &self.saved);
        }
    }
}

/// Reads one edited line from the terminal. `Ok(None)` is end of input
/// (Ctrl-D on an empty line, or the terminal went away).
pub fn read_line(prompt: &str, history: &[String]) -> io::Result<Option<String>> {
    let mut out = io::stdout().lock();
    let _raw = RawMode::enter()?;
    let mut decoder = Decoder::default();
    let mut line = Line::new(history);
    redraw(&mut out, prompt, &line)?;
    let mut stdin = io::stdin().lock();
    let mut byte = [0u8; 1];
    loop {
        if stdin.read(&mut byte)? == 0 {
            write!(out, "\r\n")?;
            return Ok(None);
        }
        let Some(key) = decoder.feed(byte[0]) else {
            continue;
        };
        match line.key(key) {
            Outcome::Edit => redraw(&mut out, prompt, &line)?,
            Outcome::Done(text) => {
                write!(out, "\r\n")?;
                out.flush()?;
                return Ok(Some(text));
            }
            Outcome::Interrupted => {
                write!(out, "^C\r\n")?;
                line = Line::new(history);
                redraw(&mut out, prompt, &line)?;
            }
            Outcome::Eof => {
                write!(out, "\r\n")?;
                out.flush()?;
                return Ok(None);
            }
            Outcome::ClearScreen => {
                write!(out, "\x1b[H\x1b[2J")?;
                redraw(&mut out, prompt, &line)?;
            }
        }
    }
}

/// Rewrites the prompt and line, then puts the cursor back in place.
fn redraw(out: &mut impl Write, prompt: &str, line: &Line) -> io::Result<()> {
    write!(out, "\r{prompt}{}\x1b[K", line.text())?;
    let column = prompt.chars().count() + line.cursor();
    write!(out, "\r")?;
    if column > 0 {
        write!(out, "\x1b[{column}C")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut d = Decoder::default();
        bytes.iter().filter_map(|b| d.feed(*b)).collect()
    }

    fn type_in<'h>(history: &'h [String], bytes: &[u8]) -> (Line<'h>, Vec<Outcome>) {
        let mut line = Line::new(history);
        let outcomes = keys(bytes).into_iter().map(|k| line.key(k)).collect();
        (line, outcomes)
    }

    #[test]
    fn decodes_arrows_home_end_delete_and_utf8() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH\x1b[F\x1b[3~\x1b[1~\x1b[4~"),
            vec![
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Home,
                Key::End,
                Key::Delete,
                Key::Home,
                Key::End
            ]
        );
        assert_eq!(keys("é".as_bytes()), vec![Key::Char('é')]);
        // An unknown sequence (Ctrl-Right) is swallowed whole.
        assert_eq!(keys(b"\x1b[1;5Cx"), vec![Key::Ignored, Key::Char('x')]);
    }

    #[test]
    fn edits_in_the_middle_of_the_line() {
        // "showServrs()", left 4, type "e", Home, type "x", left, Delete.
        let (line, _) = type_in(
            &[],
            b"showServrs()\x1b[D\x1b[D\x1b[D\x1b[De\x01x\x02\x1b[3~",
        );
        assert_eq!(line.text(), "showServers()");
        assert_eq!(line.cursor(), 0);
        let (line, _) = type_in(&[], b"topQueries(10) extra\x17\x08");
        assert_eq!(line.text(), "topQueries(10)");
        let (line, _) = type_in(&[], b"abc def\x01\x06\x0b");
        assert_eq!(line.text(), "a");
        let (line, _) = type_in(&[], b"abc def\x02\x02\x15");
        assert_eq!(line.text(), "ef");
    }

    #[test]
    fn browses_history_and_keeps_the_draft() {
        let history = vec!["showServers()".to_string(), "topQueries(5)".to_string()];
        let (line, _) = type_in(&history, b"dr\x1b[A");
        assert_eq!(line.text(), "topQueries(5)");
        let (line, _) = type_in(&history, b"dr\x1b[A\x1b[A\x1b[A");
        assert_eq!(line.text(), "showServers()");
        let (line, _) = type_in(&history, b"dr\x1b[A\x1b[A\x1b[B\x1b[B");
        assert_eq!(line.text(), "dr");
        // A recalled line can be edited before it is run.
        let (_, outcomes) = type_in(&history, b"\x1b[A\x08\x083)\r");
        assert_eq!(
            outcomes.last(),
            Some(&Outcome::Done("topQueries(3)".into()))
        );
    }

    #[test]
    fn control_c_and_d() {
        let (_, outcomes) = type_in(&[], b"abc\x03");
        assert_eq!(outcomes.last(), Some(&Outcome::Interrupted));
        let (_, outcomes) = type_in(&[], b"\x04");
        assert_eq!(outcomes, vec![Outcome::Eof]);
        // Ctrl-D on a non-empty line deletes under the cursor instead.
        let (line, _) = type_in(&[], b"ab\x01\x04");
        assert_eq!(line.text(), "b");
    }

    #[test]
    fn history_skips_blanks_and_repeats_and_persists() {
        let dir = std::env::temp_dir().join(format!("rampart-hist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("h");
        let _ = std::fs::remove_file(&file);
        let mut h = History {
            lines: Vec::new(),
            file: Some(file.clone()),
        };
        for l in ["a", "a", " ", "b"] {
            h.add(l);
        }
        assert_eq!(h.lines(), ["a", "b"]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\nb\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
