//! Splits a template into text and the tokens of its `{{ }}` actions, as Go's text/template
//! lexer does: trim markers (`{{- ` and ` -}}`) eat the white space next to them, comments
//! (`{{/* */}}`) vanish, and strings may hold `}}`.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Text(String),
    /// `{{`, and whether it trimmed the text before it.
    Open,
    Close,
    /// `.Name`: one field name (a chain `.A.B` is two of these, unspaced).
    Field(String),
    /// `.` alone.
    Dot,
    /// `$` or `$name` (the name without the `$`; empty for `$`).
    Var(String),
    /// A function name or keyword.
    Ident(String),
    /// A string literal, unquoted, with the source text for printing.
    Str(String, String),
    /// A number, as written.
    Number(String),
    /// A character constant such as `'a'`, as its code point, with the source text.
    Char(u32, String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A token and whether white space came before it inside its action (so `$x.F` is a chain and
/// `$x .F` two arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub spaced: bool,
    /// The byte offset in the template where the token starts.
    pub pos: usize,
}

/// Splits `src` into tokens; the error is Go's wording where it has one.
pub fn lex(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next_text = false;
    loop {
        let (text, after) = match rest.find("{{") {
            Some(at) => (&rest[..at], Some(&rest[at + 2..])),
            None => (rest, None),
        };
        let mut text = if trim_next_text { text.trim_start_matches(is_space) } else { text };
        let Some(after) = after else {
            push_text(&mut out, text, src.len() - rest.len());
            return Ok(out);
        };
        // `{{- ` trims the text before it; the dash must be followed by white space.
        let (trim_before, body) = match after.strip_prefix('-') {
            Some(b) if b.starts_with(is_space) => (true, b),
            _ => (false, after),
        };
        if trim_before {
            text = text.trim_end_matches(is_space);
        }
        push_text(&mut out, text, src.len() - rest.len());
        // A comment is the whole action: `{{/* ... */}}`, or with trim markers
        // `{{- /* ... */ -}}`.
        let inner = if trim_before { body.trim_start_matches(is_space) } else { body };
        if let Some(comment) = inner.strip_prefix("/*") {
            let end = comment.find("*/").ok_or("unclosed comment")?;
            let after_comment = &comment[end + 2..];
            let spaced = after_comment.trim_start_matches(is_space);
            let (trim_after, tail) = match after_comment.strip_prefix("}}") {
                Some(tail) => (false, tail),
                None => match spaced.strip_prefix("-}}") {
                    Some(tail) if spaced.len() != after_comment.len() => (true, tail),
                    _ => return Err("comment ends before closing delimiter".into()),
                },
            };
            trim_next_text = trim_after;
            rest = tail;
            continue;
        }
        out.push(Token { tok: Tok::Open, spaced: false, pos: src.len() - after.len() - 2 });
        let (tail, trim_after) = lex_action(src, body, &mut out)?;
        trim_next_text = trim_after;
        rest = tail;
    }
}

fn push_text(out: &mut Vec<Token>, text: &str, pos: usize) {
    if !text.is_empty() {
        out.push(Token { tok: Tok::Text(text.to_owned()), spaced: false, pos });
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Lexes one action's tokens up to its `}}`; returns what follows and whether `-}}` trims it.
fn lex_action<'a>(
    src: &str,
    mut s: &'a str,
    out: &mut Vec<Token>,
) -> Result<(&'a str, bool), String> {
    let mut depth = 0usize;
    loop {
        let trimmed = s.trim_start_matches(is_space);
        let spaced = trimmed.len() != s.len();
        s = trimmed;
        // ` -}}` needs the space before the dash; `}}` closes anywhere outside parentheses.
        if spaced && let Some(tail) = s.strip_prefix("-}}") {
            if depth > 0 {
                return Err("unclosed left paren".into());
            }
            out.push(Token { tok: Tok::Close, spaced, pos: src.len() - s.len() });
            return Ok((tail, true));
        }
        if let Some(tail) = s.strip_prefix("}}") {
            if depth > 0 {
                return Err("unclosed left paren".into());
            }
            out.push(Token { tok: Tok::Close, spaced, pos: src.len() - s.len() });
            return Ok((tail, false));
        }
        let Some(c) = s.chars().next() else {
            return Err("unclosed action".into());
        };
        let (tok, len) = match c {
            '|' => (Tok::Pipe, 1),
            ',' => (Tok::Comma, 1),
            '(' => {
                depth += 1;
                (Tok::LParen, 1)
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or("unexpected right paren")?;
                (Tok::RParen, 1)
            }
            ':' if s.starts_with(":=") => (Tok::Declare, 2),
            '=' => (Tok::Assign, 1),
            '"' => {
                let (value, len) = interpreted_string(s)?;
                (Tok::Str(value, s[..len].to_owned()), len)
            }
            '`' => {
                let end = s[1..].find('`').ok_or("unterminated raw quoted string")?;
                (Tok::Str(s[1..1 + end].to_owned(), s[..end + 2].to_owned()), end + 2)
            }
            '\'' => {
                let (value, len) = interpreted_string(s)?;
                let mut chars = value.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) => (Tok::Char(ch as u32, s[..len].to_owned()), len),
                    _ => return Err(format!("malformed character constant: {}", &s[..len])),
                }
            }
            '$' => {
                let len = 1 + ident_len(&s[1..]);
                (Tok::Var(s[1..len].to_owned()), len)
            }
            '.' => {
                let name_len = ident_len(&s[1..]);
                if name_len == 0 {
                    if s[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        let len = number_len(s);
                        (Tok::Number(s[..len].to_owned()), len)
                    } else {
                        (Tok::Dot, 1)
                    }
                } else {
                    (Tok::Field(s[1..1 + name_len].to_owned()), 1 + name_len)
                }
            }
            '+' | '-' | '0'..='9' => {
                let len = number_len(s);
                if len == 0 || (len == 1 && !c.is_ascii_digit()) {
                    return Err(format!("bad character {c:?}"));
                }
                (Tok::Number(s[..len].to_owned()), len)
            }
            c if c == '_' || c.is_alphabetic() => {
                let len = ident_len(s);
                (Tok::Ident(s[..len].to_owned()), len)
            }
            c => return Err(format!("unexpected {c:?} in command")),
        };
        out.push(Token { tok, spaced, pos: src.len() - s.len() });
        s = &s[len..];
    }
}

fn ident_len(s: &str) -> usize {
    s.char_indices().find(|&(_, c)| !(c == '_' || c.is_alphanumeric())).map_or(s.len(), |(i, _)| i)
}

/// The length of the number at the start of `s`: a sign, digits, `_`, a base prefix, a point,
/// an exponent. Whether it is a valid number is the parser's question.
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    while i < b.len() {
        let c = b[i];
        let exponent_sign =
            (c == b'+' || c == b'-') && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// A double- or single-quoted literal with Go's escapes: its value and length in `s`.
fn interpreted_string(s: &str) -> Result<(String, usize), String> {
    let quote = s.as_bytes()[0] as char;
    let mut value = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((value, i + 1)),
            '\n' => break,
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                let simple = match e {
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\x0b'),
                    '\\' => Some('\\'),
                    '\'' | '"' => Some(e),
                    _ => None,
                };
                if let Some(ch) = simple {
                    value.push(ch);
                    continue;
                }
                let (digits, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return Err(format!("invalid escape \\{e} in quoted string")),
                };
                let mut code = if radix == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
                for _ in 0..digits {
                    let (_, d) = chars.next().ok_or("unterminated quoted string")?;
                    let d = d.to_digit(radix).ok_or("invalid escape in quoted string")?;
                    code =
                        code.checked_mul(radix).and_then(|c| c.checked_add(d)).unwrap_or(u32::MAX);
                }
                let ch = char::from_u32(code).ok_or("invalid escape in quoted string")?;
                value.push(ch);
            }
            c => value.push(c),
        }
    }
    Err("unterminated quoted string".into())
}
