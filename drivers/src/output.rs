//! Bounded capture of a script's output.
//!
//! In: raw byte chunks read from a child's stdout and stderr pipes, in arrival order.
//! Out: the last [`MAX_LINES`] lines (at most [`MAX_BYTES`] in all, each line cut at
//! [`MAX_LINE_BYTES`]), lossily decoded as UTF-8, with a marker line in front when
//! earlier lines were dropped. Nothing here blocks or allocates without bound, so a
//! script that prints forever cannot exhaust the daemon's memory.

use std::collections::VecDeque;

/// How many lines are kept (the last ones).
pub const MAX_LINES: usize = 200;
/// How many bytes of kept lines at most, added up.
pub const MAX_BYTES: usize = 64 * 1024;
/// A longer line is cut to this many bytes and marked.
pub const MAX_LINE_BYTES: usize = 4096;

/// Appended to a line that was cut at [`MAX_LINE_BYTES`].
pub const CUT_MARK: &str = " [line cut]";

/// The kept tail of a script's output.
#[derive(Debug, Default)]
pub struct OutputBuf {
    lines: VecDeque<String>,
    kept_bytes: usize,
    dropped_lines: u64,
}

impl OutputBuf {
    pub fn new() -> OutputBuf {
        OutputBuf::default()
    }

    /// Keeps `line`, dropping the oldest lines past the bounds.
    pub fn push(&mut self, line: String) {
        self.kept_bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > MAX_LINES || self.kept_bytes > MAX_BYTES {
            match self.lines.pop_front() {
                Some(old) => {
                    self.kept_bytes -= old.len();
                    self.dropped_lines += 1;
                }
                None => break,
            }
        }
    }

    /// The kept lines, oldest first; a first line says how many were dropped, if any.
    pub fn into_lines(self) -> Vec<String> {
        let mut v = Vec::with_capacity(self.lines.len() + 1);
        if self.dropped_lines > 0 {
            v.push(format!("[{} earlier lines not kept]", self.dropped_lines));
        }
        v.extend(self.lines);
        v
    }
}

/// Splits one stream's bytes into lines (`\n`, with a trailing `\r` removed).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    cut: bool,
}

impl LineSplitter {
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    /// Feeds a chunk; every completed line goes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut OutputBuf) {
        for piece in chunk.split_inclusive(|b| *b == b'\n') {
            let (body, ends_line) = match piece.split_last() {
                Some((b'\n', body)) => (body, true),
                Some(_) | None => (piece, false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.partial.len());
            if body.len() > room {
                self.partial.extend_from_slice(&body[..room]);
                self.cut = true;
            } else {
                self.partial.extend_from_slice(body);
            }
            if ends_line {
                self.emit(out);
            }
        }
    }

    /// Flushes an unterminated last line (at end of stream).
    pub fn finish(&mut self, out: &mut OutputBuf) {
        if !self.partial.is_empty() || self.cut {
            self.emit(out);
        }
    }

    fn emit(&mut self, out: &mut OutputBuf) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        if self.cut {
            line.push_str(CUT_MARK);
        }
        self.partial.clear();
        self.cut = false;
        out.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut out = OutputBuf::new();
        let mut s = LineSplitter::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        s.finish(&mut out);
        out.into_lines()
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(split(&[b"ab", b"c\nde\r\n", b"f"]), vec!["abc", "de", "f"]);
        assert_eq!(split(&[b"\n\n"]), vec!["", ""]);
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn long_line_is_cut() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let lines = split(&[&long, b"\nnext\n"]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES + CUT_MARK.len());
        assert!(lines[0].ends_with(CUT_MARK));
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn keeps_the_last_lines_within_bounds() {
        let mut out = OutputBuf::new();
        for i in 0..(MAX_LINES + 5) {
            out.push(format!("line {i}"));
        }
        let lines = out.into_lines();
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert_eq!(lines[0], "[5 earlier lines not kept]");
        assert_eq!(lines[1], "line 5");
        assert_eq!(lines[MAX_LINES], format!("line {}", MAX_LINES + 4));

        let mut out = OutputBuf::new();
        for _ in 0..100 {
            out.push("y".repeat(MAX_LINE_BYTES));
        }
        let lines = out.into_lines();
        let kept_bytes: usize = lines.iter().skip(1).map(String::len).sum();
        assert!(kept_bytes <= MAX_BYTES);
        assert_eq!(lines.len(), MAX_BYTES / MAX_LINE_BYTES + 1);
    }
}
