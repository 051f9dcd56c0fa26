//! Reading the directive into its rules: `log [NAMES...] [FORMAT] { class CLASSES... }`.

use plugin_api::pkg::response::Class;
use plugin_api::pkg::zone::normalize;
use plugin_api::{ConfigError, Controller};

use crate::format::Format;

/// One `log` line's rule for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Queries under this name (lower-case, fully qualified) are logged by this rule.
    pub name: String,
    /// The classes logged; empty means all.
    pub classes: Vec<Class>,
    /// The line format.
    pub format: Format,
}

/// Parses `log [NAMES...] [FORMAT] { class CLASSES... }` (several lines allowed).
pub fn parse(c: &mut Controller) -> Result<Vec<Rule>, ConfigError> {
    let mut rules = Vec::new();
    while c.next() {
        let mut args = c.remaining_args();
        // A last argument with a `{` is the format. CoreDNS only looks for it when there are
        // two or more arguments, so `log {combined}` silently logs nothing there; here it is
        // the format for all names.
        let format = match args.last() {
            Some(last) if last.contains('{') => {
                let f = Format::parse(last);
                args.pop();
                f
            }
            _ => Format::parse(crate::format::COMMON),
        };
        if args.is_empty() {
            args.push(".".into());
        }
        let mut classes = Vec::new();
        while c.next_block() {
            match c.val() {
                "class" => {
                    let names = c.remaining_args();
                    if names.is_empty() {
                        return Err(c.arg_err());
                    }
                    for name in names {
                        let class = Class::from_name(&name)
                            .ok_or_else(|| c.err(format!("invalid Class: {name}")))?;
                        classes.push(class);
                    }
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
        if classes.contains(&Class::All) {
            classes.clear();
        }
        for name in args {
            rules.push(Rule {
                name: normalize(&name),
                classes: classes.clone(),
                format: format.clone(),
            });
        }
    }
    Ok(rules)
}
