//! The functions: Go's builtins as text/template defines them, and CoreDNS's `parseInt`
//! (`strconv.ParseUint`). Errors use Go's words.

use std::cmp::Ordering;

use super::parse::Func;
use super::printf::{sprint, sprintf, sprintln};
use super::value::Value;

pub use plugin_api::pkg::strconv::{go_quote, parse_uint};

pub fn call(f: Func, args: &[Value]) -> Result<Value, String> {
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("wrong number of args for {}: want {n} got {}", f.name(), args.len()))
        }
    };
    match f {
        Func::Not => {
            want(1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        // Only reached with a value piped in and no other arguments.
        Func::And | Func::Or => args
            .last()
            .cloned()
            .ok_or_else(|| format!("wrong number of args for {}: want at least 1 got 0", f.name())),
        Func::Eq => {
            let (first, rest) = args.split_first().ok_or("missing argument for comparison")?;
            if rest.is_empty() {
                return Err("missing argument for comparison".into());
            }
            for other in rest {
                if compare(first, other)? == Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Func::Ne => {
            want(2)?;
            Ok(Value::Bool(compare(&args[0], &args[1])? != Ordering::Equal))
        }
        Func::Lt | Func::Le | Func::Gt | Func::Ge => {
            want(2)?;
            ordered(&args[0])?;
            ordered(&args[1])?;
            let o = compare(&args[0], &args[1])?;
            Ok(Value::Bool(match f {
                Func::Lt => o == Ordering::Less,
                Func::Le => o != Ordering::Greater,
                Func::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        Func::Index => {
            let (item, indices) = args.split_first().ok_or("wrong number of args for index")?;
            let mut item = item.clone();
            for index in indices {
                item = index_one(&item, index)?;
            }
            Ok(item)
        }
        Func::Len => {
            want(1)?;
            let n = match &args[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                other => return Err(format!("len of type {}", other.kind())),
            };
            Ok(Value::Int(n as i64))
        }
        Func::Print => Ok(Value::Str(sprint(args))),
        Func::Println => Ok(Value::Str(sprintln(args))),
        Func::Printf => {
            let (format, rest) = args.split_first().ok_or("wrong number of args for printf")?;
            let Value::Str(format) = format else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    format.kind()
                ));
            };
            Ok(Value::Str(sprintf(format, rest)))
        }
        Func::ParseInt => {
            want(3)?;
            let Value::Str(s) = &args[0] else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    args[0].kind()
                ));
            };
            let base = int_arg(&args[1])?;
            let bits = int_arg(&args[2])?;
            parse_uint(s, base, bits).map(Value::Uint)
        }
    }
}

fn int_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| "integer overflow".to_string()),
        other => Err(format!("wrong type for value; expected int; got {}", other.kind())),
    }
}

fn ordered(v: &Value) -> Result<(), String> {
    match v {
        Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::Str(_) => Ok(()),
        _ => Err("invalid type for comparison".into()),
    }
}

/// Go's basic-kind comparison: integers of either sign compare by value; otherwise the kinds
/// must match.
fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    use Value::*;
    Ok(match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Uint(x), Uint(y)) => x.cmp(y),
        (Int(x), Uint(y)) => u64::try_from(*x).map_or(Ordering::Less, |x| x.cmp(y)),
        (Uint(x), Int(y)) => u64::try_from(*y).map_or(Ordering::Greater, |y| x.cmp(&y)),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Less),
        (Str(x), Str(y)) => x.cmp(y),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Nil, Nil) => Ordering::Equal,
        (List(_) | Map(_) | Struct(..) | Method(_), _)
        | (_, List(_) | Map(_) | Struct(..) | Method(_)) => {
            return Err("non-comparable type".into());
        }
        _ => return Err("incompatible types for comparison".into()),
    })
}

fn index_one(item: &Value, index: &Value) -> Result<Value, String> {
    match item {
        Value::List(items) => {
            let i = int_arg(index)
                .map_err(|_| format!("cannot index slice/array with type {}", index.kind()))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Value::Str(s) => {
            let i = int_arg(index)
                .map_err(|_| format!("cannot index string with type {}", index.kind()))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Value::Uint(u64::from(*b)))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Value::Map(entries) => {
            let Value::Str(key) = index else {
                return Err(format!("value has type {}; should be string", index.kind()));
            };
            // A missing key gives the element type's zero value.
            Ok(Value::Str(Value::map_get(entries, key).unwrap_or_default().to_owned()))
        }
        Value::Nil => Err("index of untyped nil".into()),
        other => Err(format!("can't index item of type {}", other.kind())),
    }
}
