//! RFC 1035 §5.1 master-file entries, each with the line it starts on: the file split into
//! logical lines (parentheses continue one over line ends, `;` starts a comment, quotes keep
//! spaces, `\` escapes), each a list of raw fields and whether it began with a blank (an owner
//! taken from the entry before).

/// One field of an entry as written: quotes and escapes kept, so that the record data can be
/// handed to a parser that reads presentation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The text as written.
    pub raw: &'a str,
    /// Written in double quotes.
    pub quoted: bool,
}

/// One logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The line (from 1) it starts on.
    pub line: usize,
    /// It starts with a space or tab: the owner is the previous entry's.
    pub blank_owner: bool,
    /// Its fields.
    pub fields: Vec<Field<'a>>,
}

/// Splits `text` into entries; an unbalanced parenthesis or quote is an error naming the line it
/// opened on.
pub fn entries(text: &str) -> Result<Vec<Entry<'_>>, (usize, String)> {
    Entries::new(text).collect()
}

/// The entries of a text one at a time, so that a reader can stop early (at the SOA, to learn
/// the serial) and a large file is never held as entries all at once. After an error it ends.
pub struct Entries<'a> {
    text: &'a str,
    i: usize,
    line: usize,
    failed: bool,
}

impl<'a> Entries<'a> {
    /// The entries of `text`, from its start.
    pub fn new(text: &'a str) -> Self {
        Entries { text, i: 0, line: 1, failed: false }
    }

    /// The next entry, if any is left.
    fn entry(&mut self) -> Result<Option<Entry<'a>>, (usize, String)> {
        let (text, bytes) = (self.text, self.text.as_bytes());
        let (mut i, mut line) = (self.i, self.line);
        let mut current: Option<Entry<'a>> = None;
        let mut open_paren: Option<usize> = None;
        let done = loop {
            let Some(&b) = bytes.get(i) else { break None };
            match b {
                b'\n' => {
                    line += 1;
                    i += 1;
                    if open_paren.is_none()
                        && let Some(e) = current.take()
                        && !e.fields.is_empty()
                    {
                        break Some(e);
                    }
                }
                b' ' | b'\t' | b'\r' => {
                    if current.is_none() && (i == 0 || bytes[i - 1] == b'\n') {
                        current = Some(Entry { line, blank_owner: true, fields: Vec::new() });
                    }
                    i += 1;
                }
                b';' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'(' => {
                    if open_paren.is_some() {
                        return Err((line, "nested parentheses".into()));
                    }
                    current.get_or_insert(Entry { line, blank_owner: false, fields: Vec::new() });
                    open_paren = Some(line);
                    i += 1;
                }
                b')' => {
                    if open_paren.take().is_none() {
                        return Err((line, "extra closing parenthesis".into()));
                    }
                    i += 1;
                }
                b'"' => {
                    let start = i;
                    i += 1;
                    let opened = line;
                    loop {
                        match bytes.get(i) {
                            None => return Err((opened, "unterminated quoted string".into())),
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(b'\n') => {
                                line += 1;
                                i += 1;
                            }
                            Some(_) => i += 1,
                        }
                    }
                    i += 1;
                    let e = current.get_or_insert(Entry {
                        line: opened,
                        blank_owner: false,
                        fields: Vec::new(),
                    });
                    e.fields.push(Field { raw: &text[start..i.min(text.len())], quoted: true });
                }
                _ => {
                    let start = i;
                    while i < bytes.len() {
                        match bytes[i] {
                            b'\\' => i += 2,
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                            _ => i += 1,
                        }
                    }
                    let end = i.min(text.len());
                    let e = current.get_or_insert(Entry {
                        line,
                        blank_owner: false,
                        fields: Vec::new(),
                    });
                    e.fields.push(Field { raw: &text[start..end], quoted: false });
                }
            }
        };
        (self.i, self.line) = (i, line);
        if done.is_some() {
            return Ok(done);
        }
        // The end of the text.
        if let Some(opened) = open_paren {
            return Err((opened, "unclosed parenthesis".into()));
        }
        Ok(current.filter(|e| !e.fields.is_empty()))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.entry().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws<'a>(e: &'a Entry<'a>) -> Vec<&'a str> {
        e.fields.iter().map(|f| f.raw).collect()
    }

    #[test]
    fn parentheses_comments_quotes_and_blank_owners() {
        let text = "$ORIGIN example.org.\n@ IN SOA ns1 admin ( 1 ; serial\n  7200 3600\n  1209600 300 )\n  IN NS ns1\nwww A 1.2.3.4 ; web\ntxt TXT \"a b;c\" \"d\\\"e\"\n\n";
        let e = entries(text).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(raws(&e[0]), ["$ORIGIN", "example.org."]);
        assert_eq!((e[1].line, e[1].blank_owner), (2, false));
        assert_eq!(
            raws(&e[1]),
            ["@", "IN", "SOA", "ns1", "admin", "1", "7200", "3600", "1209600", "300"]
        );
        assert_eq!((e[2].line, e[2].blank_owner), (5, true));
        assert_eq!(raws(&e[2]), ["IN", "NS", "ns1"]);
        assert_eq!(e[3].line, 6);
        assert_eq!(raws(&e[4]), ["txt", "TXT", "\"a b;c\"", "\"d\\\"e\""]);
        assert!(e[4].fields[2].quoted);
    }

    #[test]
    fn unbalanced_input_is_an_error_at_its_line() {
        assert_eq!(entries("a A 1.2.3.4\nb SOA ( 1 2\n").unwrap_err().0, 2);
        assert_eq!(entries("a A 1.2.3.4 )\n").unwrap_err().0, 1);
        assert_eq!(entries("a TXT \"open\n\n").unwrap_err().0, 1);
        assert_eq!(entries("a ( ( b )\n").unwrap_err().0, 1);
    }
}
