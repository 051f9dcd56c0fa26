//! Runs a parsed template over a value, as Go's text/template executes: dot and variables,
//! pipelines passing their value on as the last argument, `if`/`with`/`range` with `else`,
//! `break` and `continue`. Every failure is an error value, never a panic; the output is
//! capped, so no query can make a template write without bound.

use std::fmt::Write as _;

use super::funcs;
use super::parse::{Arg, Branch, Cmd, Func, Node, Pipe};
use super::value::Value;

/// The most a template may write: far more than any resource record's text.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// An execution error; `located` once it names the command it happened in, as Go's do
/// (`answer:1:26: executing "answer" at <index .Match 2>: ...`).
pub struct Error {
    pub message: String,
    pub located: bool,
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self { message, located: false }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self { message: message.to_owned(), located: false }
    }
}

type R<T> = Result<T, Error>;

/// How a list of nodes ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec<'a> {
    /// The template's name and text, for locating errors.
    name: &'a str,
    text: &'a str,
    out: &'a mut String,
    /// Variables in scope, innermost last; `$` (the empty name) is the data.
    vars: Vec<(String, Value)>,
}

impl<'a> Exec<'a> {
    pub fn new(name: &'a str, text: &'a str, out: &'a mut String, data: &Value) -> Self {
        Self { name, text, out, vars: vec![(String::new(), data.clone())] }
    }

    pub fn run(&mut self, nodes: &[Node], dot: &Value) -> R<()> {
        self.list(nodes, dot).map(|_| ())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(format!("output longer than {MAX_OUTPUT} bytes").into());
        }
        self.out.push_str(s);
        Ok(())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        for node in nodes {
            match node {
                Node::Text(t) => self.write(t)?,
                Node::Action(pipe) => {
                    let value = self.pipe(pipe, dot)?;
                    if pipe.decl.is_empty() {
                        let text = printable(&value)?;
                        self.write(&text)?;
                    }
                }
                Node::If(b) => {
                    let flow = self.scoped(|e| {
                        let cond = e.pipe(&b.pipe, dot)?;
                        let chosen =
                            if cond.truth() { Some(&b.list) } else { b.else_list.as_ref() };
                        chosen.map_or(Ok(Flow::Normal), |l| e.list(l, dot))
                    })?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::With(b) => {
                    let flow = self.scoped(|e| {
                        let value = e.pipe(&b.pipe, dot)?;
                        if value.truth() {
                            e.list(&b.list, &value)
                        } else {
                            b.else_list.as_ref().map_or(Ok(Flow::Normal), |l| e.list(l, dot))
                        }
                    })?;
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => self.scoped(|e| e.range(b, dot))?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    /// Runs `f` with the variables it declares dropped after it.
    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let mark = self.vars.len();
        let result = f(self);
        self.vars.truncate(mark);
        result
    }

    fn range(&mut self, b: &Branch, dot: &Value) -> R<()> {
        // The pipeline's declarations name the index and element, not the pipeline's value.
        let value = self.cmds(&b.pipe.cmds, dot)?;
        let items: Vec<(Value, Value)> = match value {
            Value::List(items) => {
                items.into_iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v)).collect()
            }
            Value::Map(entries) => {
                entries.into_iter().map(|(k, v)| (Value::Str(k), Value::Str(v))).collect()
            }
            Value::Nil => Vec::new(),
            other => return Err(format!("range can't iterate over {other}").into()),
        };
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                self.list(e, dot)?;
            }
            return Ok(());
        }
        let mark = self.vars.len();
        for (key, elem) in items {
            self.vars.truncate(mark);
            match b.pipe.decl.as_slice() {
                [e] => self.declare(e, elem.clone()),
                [k, e] => {
                    self.declare(k, key);
                    self.declare(e, elem.clone());
                }
                _ => {}
            }
            if let Flow::Break = self.list(&b.list, &elem)? {
                break;
            }
        }
        Ok(())
    }

    fn declare(&mut self, name: &str, value: Value) {
        self.vars.push((name.to_owned(), value));
    }

    /// A pipeline's commands, each one's value passed to the next as its last argument.
    fn cmds(&mut self, cmds: &[Cmd], dot: &Value) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in cmds {
            value = Some(self.cmd(cmd, dot, value)?);
        }
        Ok(value.unwrap_or(Value::Nil))
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Value) -> R<Value> {
        let value = self.cmds(&pipe.cmds, dot)?;
        for name in &pipe.decl {
            if pipe.assign {
                let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                let (_, v) = slot.ok_or_else(|| format!("undefined variable: ${name}"))?;
                *v = value.clone();
            } else {
                self.declare(name, value.clone());
            }
        }
        Ok(value)
    }

    /// Runs a command; an error from it names it, as Go's do.
    fn cmd(&mut self, cmd: &Cmd, dot: &Value, last: Option<Value>) -> R<Value> {
        self.cmd_unlocated(cmd, dot, last).map_err(|e| {
            if e.located {
                return e;
            }
            let before = &self.text[..cmd.pos.min(self.text.len())];
            let line = 1 + before.matches('\n').count();
            let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1);
            let message = format!(
                "{}:{line}:{column}: executing \"{}\" at <{cmd}>: {}",
                self.name, self.name, e.message
            );
            Error { message, located: true }
        })
    }

    fn cmd_unlocated(&mut self, cmd: &Cmd, dot: &Value, last: Option<Value>) -> R<Value> {
        let (first, rest) = cmd.args.split_first().ok_or("empty command")?;
        match first {
            Arg::Func(Func::And | Func::Or) => self.and_or(first, rest, dot, last),
            Arg::Func(f) => {
                let mut args = self.args(rest, dot)?;
                args.extend(last);
                Ok(funcs::call(*f, &args)
                    .map_err(|e| format!("error calling {}: {e}", f.name()))?)
            }
            Arg::Field(chain) => self.chain(dot.clone(), chain, rest, dot, last),
            Arg::Var(name, chain) => {
                let value = self.var(name)?;
                self.chain(value, chain, rest, dot, last)
            }
            Arg::Pipe(pipe, chain) => {
                let value = self.scoped(|e| e.pipe(pipe, dot))?;
                self.chain(value, chain, rest, dot, last)
            }
            literal => {
                if !rest.is_empty() || last.is_some() {
                    return Err(format!("can't give argument to non-function {literal}").into());
                }
                self.arg(literal, dot)
            }
        }
    }

    /// `and`/`or`, which stop at the first argument that decides (Go 1.18 and later).
    fn and_or(&mut self, func: &Arg, rest: &[Arg], dot: &Value, last: Option<Value>) -> R<Value> {
        let is_and = matches!(func, Arg::Func(Func::And));
        let count = rest.len() + usize::from(last.is_some());
        if count == 0 {
            return Err(format!("wrong number of args for {func}: want at least 1 got 0").into());
        }
        let mut value = Value::Nil;
        for arg in rest {
            value = self.arg(arg, dot)?;
            if value.truth() != is_and {
                return Ok(value);
            }
        }
        Ok(last.unwrap_or(value))
    }

    fn args(&mut self, args: &[Arg], dot: &Value) -> R<Vec<Value>> {
        args.iter().map(|a| self.arg(a, dot)).collect()
    }

    /// An argument's value (a field or method without arguments of its own).
    fn arg(&mut self, arg: &Arg, dot: &Value) -> R<Value> {
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i, _) => Value::Int(*i),
            Arg::Uint(u, _) => Value::Uint(*u),
            Arg::Float(x, _) => Value::Float(*x),
            Arg::Str(s, _) => Value::Str(s.clone()),
            Arg::Field(chain) => self.chain(dot.clone(), chain, &[], dot, None)?,
            Arg::Var(name, chain) => {
                let value = self.var(name)?;
                self.chain(value, chain, &[], dot, None)?
            }
            Arg::Pipe(pipe, chain) => {
                let value = self.scoped(|e| e.pipe(pipe, dot))?;
                self.chain(value, chain, &[], dot, None)?
            }
            Arg::Func(f) => {
                // A function name as an argument is a call without arguments.
                funcs::call(*f, &[]).map_err(|e| format!("error calling {}: {e}", f.name()))?
            }
        })
    }

    fn var(&self, name: &str) -> R<Value> {
        let found = self.vars.iter().rev().find(|(n, _)| n == name);
        let value = found.map(|(_, v)| v.clone());
        Ok(value.ok_or_else(|| format!("undefined variable: ${name}"))?)
    }

    /// Walks `.A.B` from `value`; the last field, if a method, gets `args` and `last`.
    fn chain(
        &mut self,
        mut value: Value,
        chain: &[String],
        args: &[Arg],
        dot: &Value,
        last: Option<Value>,
    ) -> R<Value> {
        for (i, name) in chain.iter().enumerate() {
            value = match &value {
                Value::Struct(kind, fields) => {
                    let field = fields.iter().find(|(n, _)| n == name);
                    let (_, v) = field
                        .ok_or_else(|| format!("can't evaluate field {name} in type {kind}"))?;
                    v.clone()
                }
                Value::Map(entries) => {
                    Value::map_get(entries, name).map_or(Value::Nil, |v| Value::Str(v.to_owned()))
                }
                Value::Nil => return Err(format!("nil pointer evaluating .{name}").into()),
                other => {
                    let kind = other.kind();
                    return Err(format!("can't evaluate field {name} in type {kind}").into());
                }
            };
            if let Value::Method(method) = &value {
                let calling = |e: String| format!("error calling {name}: {e}");
                if i + 1 == chain.len() {
                    let mut values = self.args(args, dot)?;
                    values.extend(last);
                    return Ok(method(&values).map_err(calling)?);
                }
                value = method(&[]).map_err(calling)?;
            }
        }
        if !args.is_empty() || last.is_some() {
            let name = chain.last().map_or(String::new(), |n| format!(".{n}"));
            return Err(format!("{name} is not a method but has arguments").into());
        }
        Ok(value)
    }
}

/// An action's value as text.
fn printable(value: &Value) -> R<String> {
    if let Value::Method(_) = value {
        return Err("can't print a method".into());
    }
    let mut s = String::new();
    let _ = write!(s, "{value}");
    Ok(s)
}
