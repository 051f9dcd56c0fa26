//! The Corefile parser: tokens in, [`ServerBlock`]s out.
//!
//! It follows the Caddy v1 parser that CoreDNS uses, rule for rule, so that every Corefile that
//! CoreDNS accepts means the same here and every one it rejects is rejected with the same words:
//!
//! * A server block is a line of keys (addresses), separated by spaces or by a trailing comma that
//!   lets the list go on to the next line, then a `{ }` block of directives. A file holding a
//!   single block may leave the braces out.
//! * A directive runs to the end of its line, unless it opens a `{` block, which may nest.
//!   Directive names must be known ([`Unknown directive 'x'`](ParseOptions::is_directive)).
//! * `(name) { … }` defines a snippet; `import NAME` splices a snippet, or else the files a path or
//!   glob names, relative to the file holding the `import`. `import` works in place of a server
//!   block, of a directive, or of a line inside a directive's block.
//! * `{$VAR}` and `{%VAR%}` are replaced by the environment variable's value in keys, directive
//!   names and arguments. Unlike Caddy, a value is not itself scanned again for references, so a
//!   variable that refers to itself cannot make the parser loop.

use std::path::{Path, PathBuf};

use super::dispenser::{parse_error, syntax_error};
use super::{Token, tokenize};
use crate::ConfigError;

/// At most this many snippet imports are expanded in one parse (Caddy's limit).
pub const MAX_SNIPPET_EXPANSIONS: usize = 10_000;
/// At most this many file imports are expanded in one parse (Caddy's limit).
pub const MAX_FILE_EXPANSIONS: usize = 100_000;
/// The largest file `import` reads.
pub const MAX_IMPORT_BYTES: u64 = 16 << 20;
/// At most this many tokens after imports. Caddy has no such cap; without it a file that imports
/// itself grows until the file-expansion limit, which can take gigabytes.
pub const MAX_TOKENS: usize = 1_000_000;

/// One server block: its keys and the tokens of each directive it enables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBlock {
    /// The keys (addresses) as written, after environment substitution, with their positions.
    pub keys: Vec<Token>,
    /// Each directive used in the block, in order of first use, with the tokens of all its
    /// occurrences in file order (each occurrence starts with the directive's own token).
    pub directives: Vec<(String, Vec<Token>)>,
}

impl ServerBlock {
    /// The tokens of `directive` in this block, if it is used.
    pub fn tokens(&self, directive: &str) -> Option<&[Token]> {
        self.directives.iter().find(|(d, _)| d == directive).map(|(_, t)| t.as_slice())
    }
}

/// What the parser needs to know from its caller.
pub struct ParseOptions<'a> {
    /// True if the name is a directive. Anything else in directive position is
    /// `Unknown directive 'x'`.
    pub is_directive: &'a dyn Fn(&str) -> bool,
    /// Reads the environment variable a `{$NAME}` refers to.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Called with each warning the parser has (an import glob that matched nothing).
    pub warn: &'a dyn Fn(&str),
}

/// Parses `input`, read from `filename`, into server blocks.
pub fn parse(
    filename: &str,
    input: &str,
    opts: &ParseOptions<'_>,
) -> Result<Vec<ServerBlock>, ConfigError> {
    let mut pending = tokenize(filename, input);
    pending.reverse();
    let mut p = Parser {
        filename: filename.to_string(),
        done: Vec::new(),
        pending,
        opts,
        block: new_block(),
        eof: false,
        snippets: Vec::new(),
        snippet_expansions: 0,
        file_expansions: 0,
    };
    if p.pending.len() > MAX_TOKENS {
        return Err(p.err(format!("more than {MAX_TOKENS} tokens")));
    }
    let mut blocks = Vec::new();
    while p.next() {
        p.block = new_block();
        p.begin()?;
        if !p.block.keys.is_empty() {
            blocks.push(std::mem::replace(&mut p.block, new_block()));
        }
    }
    Ok(blocks)
}

fn new_block() -> ServerBlock {
    ServerBlock { keys: Vec::new(), directives: Vec::new() }
}

/// The parser reads tokens through a cursor like Caddy's, kept as two stacks so that an
/// `import` splices its tokens in at the cursor in time proportional to what it imports: `done`
/// holds the tokens read so far (the last is the current one), `pending` the rest, reversed.
struct Parser<'a> {
    filename: String,
    done: Vec<Token>,
    pending: Vec<Token>,
    opts: &'a ParseOptions<'a>,
    /// The server block being parsed.
    block: ServerBlock,
    /// Set when the input ends right after a line of keys.
    eof: bool,
    snippets: Vec<(String, Vec<Token>)>,
    snippet_expansions: usize,
    file_expansions: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> bool {
        match self.pending.pop() {
            Some(t) => {
                self.done.push(t);
                true
            }
            None => false,
        }
    }

    /// Steps the cursor back one token, so that the next `next` reads the current one again.
    fn back(&mut self) {
        if let Some(t) = self.done.pop() {
            self.pending.push(t);
        }
    }

    fn current(&self) -> Option<&Token> {
        self.done.last()
    }

    fn val(&self) -> &str {
        self.current().map_or("", |t| t.text.as_str())
    }

    fn file(&self) -> &str {
        self.current().map_or(self.filename.as_str(), |t| &t.file)
    }

    fn line(&self) -> usize {
        self.current().map_or(0, |t| t.line)
    }

    fn err(&self, msg: impl AsRef<str>) -> ConfigError {
        parse_error(self.file(), self.line(), msg.as_ref())
    }

    fn syntax_err(&self, expected: &str) -> ConfigError {
        syntax_error(self.file(), self.line(), self.val(), expected)
    }

    fn arg_err(&self) -> ConfigError {
        if self.val() == "{" {
            return self.err("Unexpected token '{', expecting argument");
        }
        self.err(format!("Wrong argument count or unexpected line ending after '{}'", self.val()))
    }

    fn eof_err(&self) -> ConfigError {
        self.err("Unexpected EOF")
    }

    /// True if `b` starts on a later line (or in another file) than `a` ends on.
    fn on_new_line(a: &Token, b: &Token) -> bool {
        a.file != b.file || a.line + a.line_breaks() < b.line
    }

    fn is_new_line(&self) -> bool {
        match self.done.as_slice() {
            [.., a, b] => Self::on_new_line(a, b),
            _ => true,
        }
    }

    fn next_arg(&mut self) -> bool {
        match (self.current(), self.pending.last()) {
            (Some(a), Some(b)) if !Self::on_new_line(a, b) => self.next(),
            (None, Some(_)) => self.next(),
            _ => false,
        }
    }

    fn current_token(&self) -> Token {
        self.current().cloned().unwrap_or_else(|| Token {
            file: self.filename.as_str().into(),
            line: 0,
            text: String::new(),
        })
    }

    fn env(&self, s: &str) -> String {
        replace_env_vars(s, self.opts.env)
    }

    fn begin(&mut self) -> Result<(), ConfigError> {
        self.addresses()?;
        if self.eof {
            // The Corefile is only a line of keys.
            return Ok(());
        }
        if let Some(name) = self.snippet_name() {
            if self.snippets.iter().any(|(n, _)| *n == name) {
                return Err(
                    self.err(format!("redeclaration of previously declared snippet {name}"))
                );
            }
            let tokens = self.snippet_tokens()?;
            // A snippet that imports itself on a line of its own would expand forever.
            for (i, t) in tokens.iter().enumerate() {
                let Some(arg) = tokens.get(i + 1) else { break };
                let line_start = i == 0 || {
                    let prev = &tokens[i - 1];
                    prev.file != t.file || prev.line != t.line
                };
                if t.text == "import" && line_start && self.env(&arg.text) == name {
                    return Err(self.err(format!(
                        "maximum snippet import depth ({MAX_SNIPPET_EXPANSIONS}) exceeded"
                    )));
                }
            }
            self.snippets.push((name, tokens));
            self.block.keys.clear();
            return Ok(());
        }
        self.block_contents()
    }

    fn addresses(&mut self) -> Result<(), ConfigError> {
        let mut expecting_another = false;
        loop {
            let mut key = self.env(self.val());
            if key == "import" && self.is_new_line() {
                self.do_import()?;
                // do_import leaves the cursor just before the first imported token.
                if !self.next() {
                    self.eof = true;
                    return Ok(());
                }
                continue;
            }
            if key == "{" {
                if expecting_another {
                    return Err(self.err(format!(
                        "Expected another address but had '{key}' - check for extra comma"
                    )));
                }
                break;
            }
            if !key.is_empty() {
                // A trailing comma says another key follows, perhaps on the next line.
                expecting_another = key.ends_with(',');
                if expecting_another {
                    key.pop();
                }
                let mut token = self.current_token();
                token.text = key;
                self.block.keys.push(token);
            }
            let has_next = self.next();
            if expecting_another && !has_next {
                return Err(self.eof_err());
            }
            if !has_next {
                self.eof = true;
                break;
            }
            if !expecting_another && self.is_new_line() {
                break;
            }
        }
        Ok(())
    }

    fn snippet_name(&self) -> Option<String> {
        match self.block.keys.as_slice() {
            [k] if k.text.starts_with('(') && k.text.ends_with(')') && k.text.len() >= 2 => {
                Some(k.text[1..k.text.len() - 1].to_string())
            }
            _ => None,
        }
    }

    fn snippet_tokens(&mut self) -> Result<Vec<Token>, ConfigError> {
        if self.val() != "{" {
            return Err(self.syntax_err("{"));
        }
        let mut depth = 1;
        let mut tokens = Vec::new();
        while self.next() {
            match self.val() {
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "{" => depth += 1,
                _ => {}
            }
            tokens.push(self.current_token());
        }
        if depth != 0 {
            return Err(self.syntax_err("}"));
        }
        Ok(tokens)
    }

    fn block_contents(&mut self) -> Result<(), ConfigError> {
        let braced = self.val() == "{";
        if !braced {
            // A single server block may leave out its braces: the directives start here.
            self.back();
        }
        self.directives()?;
        if braced && self.val() != "}" {
            return Err(self.syntax_err("}"));
        }
        Ok(())
    }

    fn directives(&mut self) -> Result<(), ConfigError> {
        while self.next() {
            if self.val() == "}" {
                break;
            }
            if self.val() == "import" {
                self.do_import()?;
                continue;
            }
            self.directive()?;
        }
        Ok(())
    }

    fn directive(&mut self) -> Result<(), ConfigError> {
        let name = self.env(self.val());
        if !(self.opts.is_directive)(&name) {
            return Err(self.err(format!("Unknown directive '{name}'")));
        }
        let mut first = self.current_token();
        first.text.clone_from(&name);
        let mut collected = vec![first];
        let mut nesting = 0usize;
        while self.next() {
            let val = self.val();
            if val == "{" {
                nesting += 1;
            } else if self.is_new_line() && nesting == 0 {
                self.back(); // read too far
                break;
            } else if val == "}" && nesting > 0 {
                nesting -= 1;
            } else if val == "}" {
                return Err(self.err("Unexpected '}' because no matching opening brace"));
            } else if val == "import" && self.is_new_line() {
                self.do_import()?;
                continue;
            }
            let mut token = self.current_token();
            token.text = self.env(&token.text);
            collected.push(token);
        }
        if nesting > 0 {
            return Err(self.eof_err());
        }
        match self.block.directives.iter_mut().find(|(d, _)| *d == name) {
            Some((_, tokens)) => tokens.extend(collected),
            None => self.block.directives.push((name, collected)),
        }
        Ok(())
    }

    /// Replaces `import ARG` (the cursor is on `import`) with the tokens it names and leaves the
    /// cursor just before the first of them.
    fn do_import(&mut self) -> Result<(), ConfigError> {
        if !self.next_arg() {
            return Err(self.arg_err());
        }
        let pattern = self.env(self.val());
        if pattern.is_empty() {
            return Err(self.err("Import requires a non-empty filepath"));
        }
        if self.next_arg() {
            return Err(self.err("Import takes only one argument (glob pattern or file)"));
        }

        let imported = if let Some((_, tokens)) = self.snippets.iter().find(|(n, _)| *n == pattern)
        {
            if self.snippet_expansions >= MAX_SNIPPET_EXPANSIONS {
                return Err(self.err(format!(
                    "maximum snippet import depth ({MAX_SNIPPET_EXPANSIONS}) exceeded"
                )));
            }
            self.snippet_expansions += 1;
            tokens.clone()
        } else {
            if self.file_expansions >= MAX_FILE_EXPANSIONS {
                // Caddy names the snippet limit in this message; keep its words.
                return Err(self.err(format!(
                    "maximum file import depth ({MAX_SNIPPET_EXPANSIONS}) exceeded"
                )));
            }
            self.file_expansions += 1;
            self.import_files(&pattern)?
        };
        if self.done.len() + self.pending.len() + imported.len() > MAX_TOKENS {
            return Err(self.err(format!("more than {MAX_TOKENS} tokens after imports")));
        }

        // Drop `import ARG` and put the imported tokens where they stood.
        self.done.pop();
        self.done.pop();
        self.pending.extend(imported.into_iter().rev());
        Ok(())
    }

    fn import_files(&self, pattern: &str) -> Result<Vec<Token>, ConfigError> {
        let importing = absolute(Path::new(self.file()));
        let glob_pattern: PathBuf = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            importing.parent().unwrap_or(Path::new("/")).join(pattern)
        };
        let glob_str = glob_pattern.to_string_lossy().into_owned();
        // Many wildcards can make a glob take very long (coredns/coredns#2096).
        if glob_str.matches('*').count() > 1
            || glob_str.matches('?').count() > 1
            || (glob_str.contains('[') && glob_str.contains(']'))
        {
            return Err(self.err(format!(
                "Glob pattern may only contain one wildcard (*), but has others: {glob_str}"
            )));
        }
        let is_glob = glob_str.contains(['*', '?', '[', ']']);
        let matches: Vec<PathBuf> = if is_glob {
            let paths = glob::glob(&glob_str)
                .map_err(|e| self.err(format!("Failed to use import pattern {pattern}: {e}")))?;
            let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            found.sort();
            found
        } else if glob_pattern.symlink_metadata().is_ok() {
            vec![glob_pattern.clone()]
        } else {
            Vec::new()
        };
        if matches.is_empty() {
            if is_glob {
                (self.opts.warn)(&format!(
                    "[WARNING] No files matching import glob pattern: {pattern}"
                ));
            } else {
                return Err(self.err(format!("File to import not found: {pattern}")));
            }
        }
        let mut tokens = Vec::new();
        for file in matches {
            let shown = file.display();
            let meta = std::fs::metadata(&file)
                .map_err(|e| self.err(format!("Could not import {shown}: {e}")))?;
            if meta.is_dir() {
                return Err(self.err(format!("Could not import {shown}: is a directory")));
            }
            // A device or pipe (`import /dev/zero`) could be read forever.
            if !meta.is_file() {
                return Err(self.err(format!("Could not import {shown}: not a regular file")));
            }
            if meta.len() > MAX_IMPORT_BYTES {
                return Err(self.err(format!(
                    "Could not import {shown}: larger than {MAX_IMPORT_BYTES} bytes"
                )));
            }
            let bytes = std::fs::read(&file)
                .map_err(|e| self.err(format!("Could not import {shown}: {e}")))?;
            let text = String::from_utf8_lossy(&bytes);
            let name = absolute(&file);
            tokens.extend(tokenize(&name.to_string_lossy(), &text));
        }
        Ok(tokens)
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Replaces `{%NAME%}` and then `{$NAME}` references in `s` by the variables' values (empty when
/// unset). As in Caddy, an empty reference (`{$}`) stops the substitution of that kind.
pub fn replace_env_vars(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    if !s.contains('{') {
        return s.to_string();
    }
    let s = replace_refs(s, "{%", "%}", env);
    replace_refs(&s, "{$", "}", env)
}

fn replace_refs(s: &str, start: &str, end: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(start) {
        let after = &rest[at + start.len()..];
        let Some(len) = after.find(end) else { break };
        if len == 0 {
            break;
        }
        out.push_str(&rest[..at]);
        out.push_str(&env(&after[..len]).unwrap_or_default());
        rest = &after[len + end.len()..];
    }
    out.push_str(rest);
    out
}
