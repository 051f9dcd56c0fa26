//! The Corefile lexer: text in, [`Token`]s with file and line out.
//!
//! A token is a word, and words are separated by whitespace. A word that starts with `"` runs to
//! the next unescaped `"` and may contain whitespace and newlines; inside quotes only `\"` is an
//! escape (any other backslash is kept as written). `#` starts a comment that runs to the end of
//! the line, anywhere outside quotes, even in the middle of a word (`abc#x` is the token `abc`).
//! `\r` is ignored and a leading byte-order mark is dropped. These are the rules of the Caddy v1
//! lexer that CoreDNS uses, so a Corefile splits into the same tokens on the same lines.

use std::sync::Arc;

/// One word of a Corefile and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// The file the token came from: the Corefile's path, or an imported file's absolute path.
    pub file: Arc<str>,
    /// The 1-based line the token starts on.
    pub line: usize,
    /// The word itself, without surrounding quotes.
    pub text: String,
}

impl Token {
    /// The number of line breaks inside the token (only quoted tokens have any). The dispenser
    /// needs it to tell whether the next token is on the same line as the end of this one.
    pub fn line_breaks(&self) -> usize {
        self.text.bytes().filter(|&b| b == b'\n').count()
    }
}

/// Splits `input` into tokens, each tagged with `file`.
///
/// Lexing never fails: an unterminated quote simply runs to the end of the input, as in Caddy.
pub fn tokenize(file: &str, input: &str) -> Vec<Token> {
    let file: Arc<str> = Arc::from(file);
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);

    let mut tokens = Vec::new();
    let mut line = 1;
    let mut word = String::new();
    let mut word_line = 1;
    let mut in_word = false;
    let mut quoted = false;
    let mut escaped = false;
    let mut comment = false;

    let mut push = |text: &mut String, at: usize| {
        tokens.push(Token { file: file.clone(), line: at, text: std::mem::take(text) });
    };

    for ch in input.chars() {
        if quoted {
            if !escaped {
                if ch == '\\' {
                    escaped = true;
                    continue;
                }
                if ch == '"' {
                    quoted = false;
                    in_word = false;
                    push(&mut word, word_line);
                    continue;
                }
            }
            if ch == '\n' {
                line += 1;
            }
            if escaped && ch != '"' {
                // Only a quote can be escaped; the backslash before anything else stays.
                word.push('\\');
            }
            word.push(ch);
            escaped = false;
            continue;
        }

        if ch.is_whitespace() {
            if ch == '\r' {
                continue;
            }
            if ch == '\n' {
                line += 1;
                comment = false;
            }
            if in_word {
                in_word = false;
                push(&mut word, word_line);
            }
            continue;
        }

        if ch == '#' {
            comment = true;
        }
        if comment {
            continue;
        }

        if !in_word {
            in_word = true;
            word_line = line;
            if ch == '"' {
                quoted = true;
                continue;
            }
        }
        word.push(ch);
    }
    // End of input inside a word or an unterminated quote: Caddy emits what it has read, and
    // nothing for an empty unterminated quote.
    if in_word && !word.is_empty() {
        push(&mut word, word_line);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(input: &str) -> Vec<(usize, String)> {
        tokenize("Testfile", input).into_iter().map(|t| (t.line, t.text)).collect()
    }

    fn expect(input: &str, want: &[(usize, &str)]) {
        let want: Vec<(usize, String)> = want.iter().map(|(l, t)| (*l, t.to_string())).collect();
        assert_eq!(lex(input), want, "input: {input:?}");
    }

    #[test]
    fn table() {
        expect("", &[]);
        expect("   \n\t  ", &[]);
        expect("host:123", &[(1, "host:123")]);
        expect("host:123\ndirective", &[(1, "host:123"), (2, "directive")]);
        expect(
            "host:123 {\n\tdirective\n}",
            &[(1, "host:123"), (1, "{"), (2, "directive"), (3, "}")],
        );
        expect(
            "host:123 {\n\tdirective a b\n}\n",
            &[(1, "host:123"), (1, "{"), (2, "directive"), (2, "a"), (2, "b"), (3, "}")],
        );
        // Comments anywhere outside quotes, including in the middle of a word.
        expect("a # comment\nb", &[(1, "a"), (2, "b")]);
        expect("abc#x y\nz", &[(1, "abc"), (2, "z")]);
        expect("#only a comment", &[]);
        // Quotes keep whitespace and newlines; the line is where the token starts.
        expect("\"hello world\" next", &[(1, "hello world"), (1, "next")]);
        expect("\"a\nb\" c", &[(1, "a\nb"), (2, "c")]);
        expect("\"# not a comment\"", &[(1, "# not a comment")]);
        // Only \" is an escape inside quotes.
        expect(r#""say \"hi\"""#, &[(1, r#"say "hi""#)]);
        expect(r#""a\b""#, &[(1, r"a\b")]);
        // A quote in the middle of a word is an ordinary character.
        expect(r#"a"b c"#, &[(1, r#"a"b"#), (1, "c")]);
        // An empty quoted token is a token.
        expect(r#"a "" b"#, &[(1, "a"), (1, ""), (1, "b")]);
        // Carriage returns are ignored, a BOM is dropped.
        expect("a\r\nb\r\n", &[(1, "a"), (2, "b")]);
        expect("\u{feff}a", &[(1, "a")]);
        // Unicode whitespace separates words.
        expect("a\u{00a0}b", &[(1, "a"), (1, "b")]);
        // Unterminated quote runs to the end.
        expect("\"abc", &[(1, "abc")]);
        expect("x \"", &[(1, "x")]);
    }
}
