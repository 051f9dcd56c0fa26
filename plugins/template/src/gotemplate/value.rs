//! The values a template works on: what Go's `reflect.Value` is to text/template, cut down to
//! the kinds CoreDNS's template data holds.

use std::fmt;
use std::sync::Arc;

/// A method taking arguments, such as CoreDNS's `.Meta "name"`.
pub type Method = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// A template value.
#[derive(Clone)]
pub enum Value {
    /// Go's missing value: a map's absent key, printed `<no value>`.
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    List(Vec<Self>),
    /// A `map[string]string`, sorted by key (Go ranges over maps in key order).
    Map(Vec<(String, String)>),
    /// A struct: its fields by name, in declaration order. A missing field is an error, not nil.
    Struct(&'static str, Vec<(&'static str, Self)>),
    Method(Method),
}

impl Value {
    /// Go's truth: false, zero, nil and empty are false.
    pub fn truth(&self) -> bool {
        match self {
            Self::Nil => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Uint(u) => *u != 0,
            Self::Float(f) => *f != 0.0,
            Self::Str(s) => !s.is_empty(),
            Self::List(l) => !l.is_empty(),
            Self::Map(m) => !m.is_empty(),
            Self::Struct(..) | Self::Method(_) => true,
        }
    }

    /// The name of the value's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Nil => "nil",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Uint(_) => "uint64",
            Self::Float(_) => "float64",
            Self::Str(_) => "string",
            Self::List(_) => "[]string",
            Self::Map(_) => "map[string]string",
            Self::Struct(name, _) => name,
            Self::Method(_) => "func",
        }
    }

    /// A map's value for `key`, `None` when absent.
    pub fn map_get<'a>(entries: &'a [(String, String)], key: &str) -> Option<&'a str> {
        entries.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| entries[i].1.as_str())
    }
}

/// A map value from entries in any order; a later duplicate key wins, as a Go map assignment.
pub fn map(entries: impl IntoIterator<Item = (String, String)>) -> Value {
    let mut entries: Vec<(String, String)> = entries.into_iter().collect();
    // Stable, so that among equal keys the last assigned stays last and survives the dedup.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut deduped: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match deduped.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => deduped.push((k, v)),
        }
    }
    Value::Map(deduped)
}

/// How Go's `fmt` prints a value with `%v` (and text/template prints an action's result).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nil => f.write_str("<no value>"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Uint(u) => write!(f, "{u}"),
            Self::Float(x) => f.write_str(&go_float(*x)),
            Self::Str(s) => f.write_str(s),
            Self::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Self::Map(entries) => {
                f.write_str("map[")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Self::Struct(_, fields) => {
                f.write_str("{")?;
                for (i, (_, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("}")
            }
            Self::Method(_) => f.write_str("<func>"),
        }
    }
}

/// `strconv.FormatFloat(x, 'g', -1, 64)`: the shortest form that reads back, with an exponent
/// below 1e-4 or from 1e21 on.
pub fn go_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let abs = x.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        // Rust writes `1e21`, `1.5e-5`; Go writes `1e+21`, `1.5e-05`.
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    format!("{x}")
}
