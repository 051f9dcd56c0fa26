//! The [`Dispenser`]: a cursor over one directive's tokens that plugin setup code walks.
//!
//! The methods and their edge cases follow Caddy v1's dispenser, which every CoreDNS plugin's
//! `setup` is written against, so a plugin's parse loop reads the same here:
//!
//! ```text
//! while c.next() {                    // each occurrence of the directive in the block
//!     let args = c.remaining_args();  // the arguments on the directive's line
//!     while c.next_block() {          // each line of its { } block
//!         match c.val() { "opt" => …, other => return Err(c.err(format!("unknown property '{other}'"))) }
//!     }
//! }
//! ```

use super::Token;
use crate::ConfigError;

/// A cursor over tokens. It starts before the first token; [`Dispenser::next`] loads it.
#[derive(Debug, Clone)]
pub struct Dispenser {
    /// The file name used in errors when no token is loaded (the Corefile's path).
    filename: String,
    tokens: Vec<Token>,
    /// Index of the loaded token; -1 before the first `next`.
    cursor: isize,
    /// Depth of `{` blocks entered through `next_block`, so it knows when its block ends.
    nesting: usize,
}

impl Dispenser {
    /// A dispenser over `tokens`; `filename` names the source in errors when no token is loaded.
    pub fn new(filename: impl Into<String>, tokens: Vec<Token>) -> Self {
        Self { filename: filename.into(), tokens, cursor: -1, nesting: 0 }
    }

    /// A dispenser over the tokens of `input`, as if read from a file named `Testfile`.
    pub fn from_text(input: &str) -> Self {
        Self::new("Testfile", super::tokenize("Testfile", input))
    }

    fn at(&self, i: isize) -> Option<&Token> {
        usize::try_from(i).ok().and_then(|i| self.tokens.get(i))
    }

    fn current(&self) -> Option<&Token> {
        self.at(self.cursor)
    }

    /// True if token `i + 1` starts on the same line of the same file that token `i` ends on.
    fn same_line_as_next(&self, i: isize) -> bool {
        match (self.at(i), self.at(i + 1)) {
            (Some(a), Some(b)) => a.file == b.file && a.line + a.line_breaks() == b.line,
            _ => false,
        }
    }

    /// Loads the next token, wherever it is. Returns false at the end.
    #[allow(clippy::should_implement_trait)] // Caddy's name; a Dispenser is not an Iterator.
    pub fn next(&mut self) -> bool {
        if self.cursor + 1 < self.tokens.len() as isize {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    /// Loads the next token only if it is on the same line as the current one (an argument).
    pub fn next_arg(&mut self) -> bool {
        if self.cursor < 0 {
            self.cursor += 1;
            return !self.tokens.is_empty();
        }
        if self.same_line_as_next(self.cursor) {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    /// Loads the next token only if it starts a new line.
    pub fn next_line(&mut self) -> bool {
        if self.cursor < 0 {
            self.cursor += 1;
            return !self.tokens.is_empty();
        }
        if self.at(self.cursor + 1).is_some() && !self.same_line_as_next(self.cursor) {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    /// Steps through a `{ }` block that opens on the current line. The first call enters the
    /// block (it must open on the same line) and loads its first token; each call after loads the
    /// next token, until the closing `}`, where it returns false. Use it in a loop directly inside
    /// a `next` loop, and use `next_arg`/`remaining_args` in the body to read a line's arguments.
    pub fn next_block(&mut self) -> bool {
        if self.nesting > 0 {
            if !self.next() {
                return false;
            }
            if self.val() == "}" {
                self.nesting -= 1;
                return false;
            }
            return true;
        }
        if !self.next_arg() {
            return false;
        }
        if self.val() != "{" {
            self.cursor -= 1; // not a block: put the token back
            return false;
        }
        if !self.next() || self.val() == "}" {
            return false;
        }
        self.nesting += 1;
        true
    }

    /// The text of the loaded token, or "" if none is loaded.
    pub fn val(&self) -> &str {
        self.current().map_or("", |t| t.text.as_str())
    }

    /// The line of the loaded token, or 0 if none is loaded.
    pub fn line(&self) -> usize {
        self.current().map_or(0, |t| t.line)
    }

    /// The file of the loaded token, or the dispenser's file name if none is loaded.
    pub fn file(&self) -> &str {
        match self.current() {
            Some(t) if !t.file.is_empty() => &t.file,
            _ => &self.filename,
        }
    }

    /// Reads the next `n` arguments on this line. `None` if there are fewer.
    pub fn args(&mut self, n: usize) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.next_arg() {
                return None;
            }
            out.push(self.val().to_string());
        }
        Some(out)
    }

    /// Reads every remaining argument on this line, stopping before a `{` that opens a block.
    pub fn remaining_args(&mut self) -> Vec<String> {
        let mut args = Vec::new();
        while self.next_arg() {
            if self.val() == "{" {
                self.cursor -= 1;
                break;
            }
            args.push(self.val().to_string());
        }
        args
    }

    /// The error for a wrong number of arguments, in Caddy's words.
    pub fn arg_err(&self) -> ConfigError {
        if self.val() == "{" {
            return self.err("Unexpected token '{', expecting argument");
        }
        self.err(format!("Wrong argument count or unexpected line ending after '{}'", self.val()))
    }

    /// The error for an unexpected token where `expected` was wanted.
    pub fn syntax_err(&self, expected: &str) -> ConfigError {
        syntax_error(self.file(), self.line(), self.val(), expected)
    }

    /// The error for input that ends too early.
    pub fn eof_err(&self) -> ConfigError {
        self.err("Unexpected EOF")
    }

    /// An error at the loaded token: `FILE:LINE - Error during parsing: MSG`.
    pub fn err(&self, msg: impl AsRef<str>) -> ConfigError {
        parse_error(self.file(), self.line(), msg.as_ref())
    }

    /// True if the loaded token is the first on its line (or no token is loaded yet).
    pub fn is_new_line(&self) -> bool {
        if self.cursor < 1 {
            return true;
        }
        if self.current().is_none() {
            return false;
        }
        !self.same_line_as_next(self.cursor - 1)
    }

    /// The tokens this dispenser walks.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }
}

/// `FILE:LINE - Error during parsing: MSG`, the shape of every Corefile error.
pub fn parse_error(file: &str, line: usize, msg: &str) -> ConfigError {
    ConfigError::new(format!("{file}:{line} - Error during parsing: {msg}"))
}

/// `FILE:LINE - Syntax error: Unexpected token 'GOT', expecting 'EXPECTED'`.
pub fn syntax_error(file: &str, line: usize, got: &str, expected: &str) -> ConfigError {
    ConfigError::new(format!(
        "{file}:{line} - Syntax error: Unexpected token '{got}', expecting '{expected}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_arg_stays_on_line() {
        let mut d = Dispenser::from_text("dir1 arg1\ndir2 arg2 arg3\ndir3");
        assert!(d.next_arg());
        assert_eq!(d.val(), "dir1");
        assert!(d.next_arg());
        assert_eq!(d.val(), "arg1");
        assert!(!d.next_arg());
        assert!(d.next());
        assert_eq!(d.val(), "dir2");
        assert_eq!(d.remaining_args(), vec!["arg2", "arg3"]);
        assert!(d.next_line());
        assert_eq!(d.val(), "dir3");
        assert!(!d.next());
    }

    #[test]
    fn next_block_walks_one_block() {
        let mut d = Dispenser::from_text("foo bar {\n  a b\n  c\n}\nnext");
        assert!(d.next());
        assert_eq!(d.remaining_args(), vec!["bar"]);
        let mut seen = Vec::new();
        while d.next_block() {
            seen.push((d.val().to_string(), d.remaining_args()));
        }
        assert_eq!(seen, vec![("a".to_string(), vec!["b".to_string()]), ("c".to_string(), vec![])]);
        assert!(d.next());
        assert_eq!(d.val(), "next");
    }

    #[test]
    fn next_block_without_block() {
        let mut d = Dispenser::from_text("foo bar\nbaz");
        assert!(d.next());
        assert!(d.next_arg());
        assert!(!d.next_block());
        assert_eq!(d.val(), "bar");
        let mut d = Dispenser::from_text("foo {\n}");
        assert!(d.next());
        assert!(!d.next_block());
    }

    #[test]
    fn quoted_newlines_count_as_same_line() {
        let mut d = Dispenser::from_text("a \"x\ny\" b\nc");
        assert!(d.next());
        assert!(d.next_arg());
        assert_eq!(d.val(), "x\ny");
        assert!(d.next_arg(), "b starts on the line the quoted token ends on");
        assert_eq!(d.val(), "b");
        assert!(!d.next_arg());
    }

    #[test]
    fn errors_name_file_and_line() {
        let mut d = Dispenser::from_text("a\nb c");
        assert!(d.next());
        assert!(d.next());
        assert_eq!(
            d.arg_err().to_string(),
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'b'"
        );
        assert_eq!(
            d.syntax_err("{").to_string(),
            "Testfile:2 - Syntax error: Unexpected token 'b', expecting '{'"
        );
        assert_eq!(d.eof_err().to_string(), "Testfile:2 - Error during parsing: Unexpected EOF");
        let d = Dispenser::from_text("x");
        assert_eq!(d.err("m").to_string(), "Testfile:0 - Error during parsing: m");
        let mut d = Dispenser::from_text("x {");
        d.next();
        d.next();
        assert_eq!(
            d.arg_err().to_string(),
            "Testfile:1 - Error during parsing: Unexpected token '{', expecting argument"
        );
    }

    #[test]
    fn args_counts() {
        let mut d = Dispenser::from_text("dir a b\nc");
        d.next();
        assert_eq!(d.args(2), Some(vec!["a".into(), "b".into()]));
        let mut d = Dispenser::from_text("dir a\nc");
        d.next();
        assert_eq!(d.args(2), None);
    }
}
