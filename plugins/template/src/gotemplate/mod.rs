//! Go's text/template, as much of it as CoreDNS's *template* users write: fields, variables,
//! pipelines, parentheses, `if`/`else if`/`else`, `with`, `range` (with `break` and
//! `continue`), comparisons, `and`/`or`/`not`, `index`, `len`, `print`, `printf`, `println`,
//! and CoreDNS's `parseInt`.
//!
//! * [`lex`] splits the text into tokens, [`parse`] builds and checks the tree (everything
//!   ferrodns does not evaluate is refused here, at start-up), [`exec`] runs it.
//! * [`value::Value`] is the data: CoreDNS's template data is a struct of strings, a list
//!   (`.Match`), a map (`.Group`) and a method (`.Meta`).
//! * [`funcs`] and [`printf`] are the functions.
//!
//! Evaluation takes time linear in the template and its data: there are no user-defined
//! templates to recurse into, `range` walks only lists and maps the data holds, and the output
//! is capped at [`exec::MAX_OUTPUT`].

pub mod exec;
pub mod funcs;
pub mod lex;
pub mod parse;
pub mod printf;
pub mod value;

pub use value::Value;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `text`; the error is `template: NAME: MESSAGE`, as Go's starts.
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let nodes =
            lex::lex(text).and_then(parse::parse).map_err(|e| format!("template: {name}: {e}"))?;
        Ok(Self { name: name.to_owned(), text: text.to_owned(), nodes })
    }

    /// Runs the template over `data` into `out` (cleared first). The error is Go's: `template:
    /// NAME:LINE:COLUMN: executing "NAME" at <COMMAND>: MESSAGE` when a command failed.
    pub fn execute(&self, data: &Value, out: &mut String) -> Result<(), String> {
        out.clear();
        let run = exec::Exec::new(&self.name, &self.text, out, data).run(&self.nodes, data);
        run.map_err(|e| match e.located {
            true => format!("template: {}", e.message),
            false => format!("template: {}: {}", self.name, e.message),
        })
    }

    /// The template as Go's `Tree.Root.String()` prints it: the text CoreDNS puts in its
    /// failure metrics' `template` label.
    pub fn source(&self) -> String {
        parse::Tree(&self.nodes).to_string()
    }
}

#[cfg(test)]
mod tests;
