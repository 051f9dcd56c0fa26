//! Builds the tree of a template from its tokens, checking at parse time what Go checks then
//! (functions defined, variables declared, `{{end}}`s matched) and refusing at start-up what
//! ferrodns does not evaluate (`define`, `template`, `block` and the functions CoreDNS users do
//! not write), so that no query ever meets an unsupported construct.
//!
//! Each node prints back as Go's `parse.Node.String()` does: CoreDNS labels its failure metrics
//! with that text.

use std::fmt;

use super::lex::{Tok, Token};

/// The deepest nesting of parentheses and control structures accepted.
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Break,
    Continue,
}

/// An `if`, `range` or `with`: its pipeline, body and `else` body.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// `$x, $y := cmd | cmd`.
#[derive(Debug, Clone)]
pub struct Pipe {
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub struct Cmd {
    pub args: Vec<Arg>,
    /// Where the command starts in the template, for error messages.
    pub pos: usize,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Int(i64, String),
    Uint(u64, String),
    Float(f64, String),
    /// The value and the literal as written.
    Str(String, String),
    /// `.A.B`, on dot.
    Field(Vec<String>),
    /// `$x.A.B` (`$` has the empty name).
    Var(String, Vec<String>),
    Func(Func),
    /// `(pipeline).A.B`.
    Pipe(Box<Pipe>, Vec<String>),
}

/// The functions a template may call: Go's builtins that CoreDNS templates use, and CoreDNS's
/// `parseInt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    And,
    Or,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Index,
    Len,
    Print,
    Printf,
    Println,
    ParseInt,
}

impl Func {
    fn by_name(name: &str) -> Option<Self> {
        Some(match name {
            "and" => Self::And,
            "or" => Self::Or,
            "not" => Self::Not,
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "lt" => Self::Lt,
            "le" => Self::Le,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "index" => Self::Index,
            "len" => Self::Len,
            "print" => Self::Print,
            "printf" => Self::Printf,
            "println" => Self::Println,
            "parseInt" => Self::ParseInt,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::And => "and",
            Self::Or => "or",
            Self::Not => "not",
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Index => "index",
            Self::Len => "len",
            Self::Print => "print",
            Self::Printf => "printf",
            Self::Println => "println",
            Self::ParseInt => "parseInt",
        }
    }
}

/// Go's builtins that ferrodns refuses at start-up rather than evaluate.
const UNSUPPORTED: &[&str] = &["call", "html", "js", "slice", "urlquery"];

/// Parses the tokens of one template.
pub fn parse(tokens: Vec<Token>) -> Result<Vec<Node>, String> {
    let mut p = Parser { tokens, at: 0, vars: vec![String::new()], depth: 0, ranges: 0 };
    let (list, end) = p.list()?;
    match end {
        Ending::Eof => Ok(list),
        Ending::End => Err("unexpected {{end}}".into()),
        Ending::Else => Err("unexpected {{else}}".into()),
    }
}

/// What ended a list of nodes.
#[derive(PartialEq)]
enum Ending {
    Eof,
    /// `{{end}}`, consumed.
    End,
    /// `{{else`, consumed up to the keyword: an `if`/`with` or the `}}` follows.
    Else,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// The variables in scope, innermost last; `$` is the empty name.
    vars: Vec<String>,
    depth: usize,
    /// How many `range`s enclose the current position (for `break` and `continue`).
    ranges: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&Token> {
        self.tokens.get(self.at + k)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).map(|t| t.tok.clone());
        self.at += 1;
        t
    }

    fn expect_close(&mut self, what: &str) -> Result<(), String> {
        match self.next() {
            Some(Tok::Close) => Ok(()),
            other => Err(format!("unexpected {} in {what}", describe(other.as_ref()))),
        }
    }

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} deep"));
        }
        Ok(())
    }

    fn list(&mut self) -> Result<(Vec<Node>, Ending), String> {
        let mut list = Vec::new();
        while let Some(tok) = self.next() {
            match tok {
                Tok::Text(t) => list.push(Node::Text(t)),
                Tok::Open => match self.peek() {
                    Some(Tok::Ident(k)) if k == "end" => {
                        self.at += 1;
                        self.expect_close("end")?;
                        return Ok((list, Ending::End));
                    }
                    Some(Tok::Ident(k)) if k == "else" => {
                        self.at += 1;
                        return Ok((list, Ending::Else));
                    }
                    _ => list.push(self.action()?),
                },
                other => return Err(format!("unexpected {}", describe(Some(&other)))),
            }
        }
        Ok((list, Ending::Eof))
    }

    /// The inside of `{{ ... }}` after the `{{`.
    fn action(&mut self) -> Result<Node, String> {
        if let Some(Tok::Ident(k)) = self.peek() {
            match k.as_str() {
                "if" | "with" | "range" => {
                    let keyword = k.clone();
                    self.at += 1;
                    return self.control(&keyword);
                }
                "break" | "continue" => {
                    let keyword = k.clone();
                    self.at += 1;
                    if self.ranges == 0 {
                        return Err(format!("{{{{{keyword}}}}} outside {{{{range}}}}"));
                    }
                    self.expect_close(&keyword)?;
                    return Ok(if keyword == "break" { Node::Break } else { Node::Continue });
                }
                "define" | "template" | "block" => {
                    return Err(format!("{{{{{k}}}}} is not supported"));
                }
                _ => {}
            }
        }
        let pipe = self.pipeline("command", true)?;
        self.expect_close("command")?;
        Ok(Node::Action(pipe))
    }

    /// `if`, `with` or `range`, after the keyword; also an `else if` / `else with`, which
    /// shares the enclosing `{{end}}`.
    fn control(&mut self, keyword: &str) -> Result<Node, String> {
        self.deeper()?;
        let mark = self.vars.len();
        let pipe = self.pipeline(keyword, true)?;
        if pipe.cmds.is_empty() {
            return Err(format!("missing value for {keyword}"));
        }
        self.expect_close(keyword)?;
        if keyword == "range" {
            self.ranges += 1;
        }
        let (list, end) = self.list()?;
        if keyword == "range" {
            self.ranges -= 1;
        }
        let else_list = match end {
            Ending::Eof => return Err(format!("unexpected EOF in {keyword}")),
            Ending::End => None,
            Ending::Else => match self.peek() {
                Some(Tok::Ident(k)) if (k == "if" || k == "with") && keyword != "range" => {
                    // `{{else if x}}` is an `if` inside the else branch, ending at our `{{end}}`.
                    let nested = k.clone();
                    self.at += 1;
                    Some(vec![self.control(&nested)?])
                }
                _ => {
                    self.expect_close("else")?;
                    let (list, end) = self.list()?;
                    match end {
                        Ending::End => Some(list),
                        Ending::Else => return Err("expected end; found {{else}}".into()),
                        Ending::Eof => return Err(format!("unexpected EOF in {keyword}")),
                    }
                }
            },
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let branch = Branch { pipe, list, else_list };
        Ok(match keyword {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    /// A pipeline up to (not including) `}}` or `)`, with a declaration if `decl_ok`.
    fn pipeline(&mut self, context: &str, decl_ok: bool) -> Result<Pipe, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        if decl_ok && let Some((names, is_assign, consumed)) = self.declaration() {
            for name in &names {
                if is_assign && !self.vars.contains(name) {
                    return Err(format!("undefined variable \"${name}\""));
                }
            }
            self.at += consumed;
            if context == "range" && names.len() > 2 {
                return Err("too many declarations in range".into());
            }
            if context != "range" && names.len() > 1 {
                return Err(format!("too many declarations in {context}"));
            }
            decl = names;
            assign = is_assign;
        }
        let mut cmds = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Close | Tok::RParen) | None => break,
                _ => {}
            }
            cmds.push(self.command()?);
            match self.peek() {
                Some(Tok::Pipe) => {
                    self.at += 1;
                }
                Some(Tok::Close | Tok::RParen) => break,
                other => return Err(format!("unexpected {} in operand", describe(other))),
            }
        }
        if cmds.is_empty() && !decl.is_empty() {
            return Err(format!("missing value for {context}"));
        }
        for (i, cmd) in cmds.iter().enumerate() {
            let first = &cmd.args[0];
            if i > 0
                && !matches!(first, Arg::Func(_) | Arg::Field(_) | Arg::Var(..) | Arg::Pipe(..))
            {
                return Err(format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe { decl, assign, cmds })
    }

    /// `$x :=`, `$x =` or `$i, $e :=` at the current position: the names, whether it assigns,
    /// and how many tokens it takes.
    fn declaration(&self) -> Option<(Vec<String>, bool, usize)> {
        let name = |k: usize| match self.peek_at(k) {
            Some(Token { tok: Tok::Var(v), .. }) if !v.is_empty() => Some(v.clone()),
            _ => None,
        };
        let first = name(0)?;
        match self.peek_at(1).map(|t| &t.tok) {
            Some(Tok::Declare) => Some((vec![first], false, 2)),
            Some(Tok::Assign) => Some((vec![first], true, 2)),
            Some(Tok::Comma) => {
                let second = name(2)?;
                match self.peek_at(3).map(|t| &t.tok) {
                    Some(Tok::Declare) => Some((vec![first, second], false, 4)),
                    Some(Tok::Assign) => Some((vec![first, second], true, 4)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn command(&mut self) -> Result<Cmd, String> {
        let pos = self.tokens.get(self.at).map_or(0, |t| t.pos);
        let mut args = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Close | Tok::RParen | Tok::Pipe) | None => break,
                _ => {}
            }
            if !args.is_empty() && !self.tokens[self.at].spaced {
                return Err(format!("missing space before {}", describe(self.peek())));
            }
            args.push(self.operand()?);
        }
        match args.first() {
            None => Err("missing value for command".into()),
            Some(Arg::Nil) => Err("nil is not a command".into()),
            Some(_) => Ok(Cmd { args, pos }),
        }
    }

    fn operand(&mut self) -> Result<Arg, String> {
        let term = match self.next() {
            Some(Tok::Dot) => Arg::Dot,
            Some(Tok::Field(f)) => Arg::Field(vec![f]),
            Some(Tok::Var(v)) => {
                if !self.vars.contains(&v) {
                    return Err(format!("undefined variable \"${v}\""));
                }
                Arg::Var(v, Vec::new())
            }
            Some(Tok::Str(value, text)) => Arg::Str(value, text),
            Some(Tok::Char(c, text)) => Arg::Int(i64::from(c), text),
            Some(Tok::Number(text)) => number(&text)?,
            Some(Tok::Ident(name)) => match name.as_str() {
                "nil" => Arg::Nil,
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                _ => match Func::by_name(&name) {
                    Some(f) => Arg::Func(f),
                    None if UNSUPPORTED.contains(&name.as_str()) => {
                        return Err(format!("function \"{name}\" is not supported"));
                    }
                    None => return Err(format!("function \"{name}\" not defined")),
                },
            },
            Some(Tok::LParen) => {
                self.deeper()?;
                let pipe = self.pipeline("parenthesized pipeline", true)?;
                if pipe.cmds.is_empty() {
                    return Err("missing value for parenthesized pipeline".into());
                }
                match self.next() {
                    Some(Tok::RParen) => {}
                    other => {
                        return Err(format!("unclosed left paren: {}", describe(other.as_ref())));
                    }
                }
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe), Vec::new())
            }
            other => return Err(format!("unexpected {} in operand", describe(other.as_ref()))),
        };
        // Unspaced fields continue the term: `.A.B`, `$x.A`, `(pipe).A`.
        let mut term = term;
        while let Some(Token { tok: Tok::Field(f), spaced: false, .. }) = self.peek_at(0) {
            let f = f.clone();
            self.at += 1;
            match &mut term {
                Arg::Field(chain) | Arg::Var(_, chain) | Arg::Pipe(_, chain) => chain.push(f),
                Arg::Dot => term = Arg::Field(vec![f]),
                other => return Err(format!("unexpected . after term {other}")),
            }
        }
        Ok(term)
    }
}

/// A number literal: an integer (with Go's base prefixes and `_`), else a float.
fn number(text: &str) -> Result<Arg, String> {
    let bad = || format!("bad number syntax: {text:?}");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let clean = digits.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b.to_owned())
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b.to_owned())
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        (8, lower[1..].to_owned())
    } else {
        (10, lower.clone())
    };
    if let Ok(u) = u64::from_str_radix(&body, radix) {
        if negative {
            let i = i64::try_from(u).ok().and_then(i64::checked_neg).ok_or_else(bad)?;
            return Ok(Arg::Int(i, text.to_owned()));
        }
        return Ok(match i64::try_from(u) {
            Ok(i) => Arg::Int(i, text.to_owned()),
            Err(_) => Arg::Uint(u, text.to_owned()),
        });
    }
    if radix == 10
        && let Ok(f) = clean.parse::<f64>()
        && f.is_finite()
    {
        return Ok(Arg::Float(if negative { -f } else { f }, text.to_owned()));
    }
    Err(bad())
}

fn describe(tok: Option<&Tok>) -> String {
    match tok {
        None => "EOF".into(),
        Some(Tok::Text(_)) => "text".into(),
        Some(Tok::Open) => "\"{{\"".into(),
        Some(Tok::Close) => "\"}}\"".into(),
        Some(Tok::Field(f)) => format!("<.{f}>"),
        Some(Tok::Dot) => "<.>".into(),
        Some(Tok::Var(v)) => format!("<${v}>"),
        Some(Tok::Ident(i)) => format!("<{i}>"),
        Some(Tok::Str(_, text) | Tok::Char(_, text) | Tok::Number(text)) => format!("<{text}>"),
        Some(Tok::LParen) => "\"(\"".into(),
        Some(Tok::RParen) => "\")\"".into(),
        Some(Tok::Pipe) => "\"|\"".into(),
        Some(Tok::Declare) => "\":=\"".into(),
        Some(Tok::Assign) => "\"=\"".into(),
        Some(Tok::Comma) => "\",\"".into(),
    }
}

// Printing, as Go's parse.Node.String().

pub struct Tree<'a>(pub &'a [Node]);

impl fmt::Display for Tree<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|n| write!(f, "{n}"))
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, name: &str, b: &Branch| {
            write!(f, "{{{{{name} {}}}}}{}", b.pipe, Tree(&b.list))?;
            if let Some(e) = &b.else_list {
                write!(f, "{{{{else}}}}{}", Tree(e))?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Self::Text(t) => f.write_str(t),
            Self::Action(p) => write!(f, "{{{{{p}}}}}"),
            Self::If(b) => branch(f, "if", b),
            Self::Range(b) => branch(f, "range", b),
            Self::With(b) => branch(f, "with", b),
            Self::Break => f.write_str("{{break}}"),
            Self::Continue => f.write_str("{{continue}}"),
        }
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            let names: Vec<String> = self.decl.iter().map(|d| format!("${d}")).collect();
            write!(f, "{} {} ", names.join(", "), if self.assign { "=" } else { ":=" })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{arg}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = |f: &mut fmt::Formatter<'_>, chain: &[String]| {
            chain.iter().try_for_each(|c| write!(f, ".{c}"))
        };
        match self {
            Self::Dot => f.write_str("."),
            Self::Nil => f.write_str("nil"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(_, text)
            | Self::Uint(_, text)
            | Self::Float(_, text)
            | Self::Str(_, text) => f.write_str(text),
            Self::Field(chain) => fields(f, chain),
            Self::Var(name, chain) => {
                write!(f, "${name}")?;
                fields(f, chain)
            }
            Self::Func(func) => f.write_str(func.name()),
            Self::Pipe(pipe, chain) => {
                write!(f, "({pipe})")?;
                fields(f, chain)
            }
        }
    }
}
