//! Go's `fmt.Sprint`, `Sprintln` and `Sprintf` for template values: the verbs templates use
//! (`%v %s %q %d %x %X %o %b %c %t %f %e %g %%`) with flags, width and precision, and Go's
//! in-line error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`).

use std::fmt::Write as _;

use super::funcs::go_quote;
use super::value::{Value, go_float};

/// Go refuses widths and precisions above this (`%!(BADWIDTH)`).
const MAX_WIDTH: usize = 1_000_000;

/// `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        let _ = write!(out, "{a}");
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(ToString::to_string).collect();
    let mut out = parts.join(" ");
    out.push('\n');
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut bad_width = false;
        let mut number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                let v = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
                if v > MAX_WIDTH {
                    bad_width = true;
                }
                n = Some(v);
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if bad_width {
            out.push_str("%!(BADWIDTH)");
            continue;
        }
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        match format_one(verb, &spec, arg) {
            Some(text) => pad(&mut out, &text, &spec, is_number(arg) && verb != 's'),
            None => {
                let _ = write!(out, "%!{verb}({}={arg})", arg.kind());
            }
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={a}", a.kind());
        }
        out.push(')');
    }
    out
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Uint(_) | Value::Float(_))
}

/// One verb's text before padding; `None` for a verb the value's kind does not take.
fn format_one(verb: char, spec: &Spec, arg: &Value) -> Option<String> {
    let sign = |negative: bool| {
        if negative {
            "-"
        } else if spec.plus {
            "+"
        } else if spec.space {
            " "
        } else {
            ""
        }
    };
    let integer = |v: &Value| match v {
        Value::Int(i) => Some((*i < 0, i.unsigned_abs())),
        Value::Uint(u) => Some((false, *u)),
        _ => None,
    };
    Some(match (verb, arg) {
        ('v', Value::Float(x)) => format!("{}{}", sign(*x < 0.0), go_float(x.abs())),
        ('v', Value::Int(_) | Value::Uint(_)) => {
            let (neg, n) = integer(arg)?;
            format!("{}{n}", sign(neg))
        }
        ('v', v) => truncate(&v.to_string(), spec.prec),
        ('s', Value::Str(s)) => truncate(s, spec.prec),
        ('s', v @ (Value::List(_) | Value::Map(_) | Value::Struct(..))) => v.to_string(),
        ('q', Value::Str(s)) => go_quote(s),
        ('q', Value::Int(_) | Value::Uint(_)) => {
            let (_, n) = integer(arg)?;
            let c = u32::try_from(n).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            format!("'{c}'")
        }
        ('t', Value::Bool(b)) => b.to_string(),
        ('c', Value::Int(_) | Value::Uint(_)) => {
            let (_, n) = integer(arg)?;
            u32::try_from(n).ok().and_then(char::from_u32).unwrap_or('\u{fffd}').to_string()
        }
        ('d' | 'x' | 'X' | 'o' | 'b', Value::Int(_) | Value::Uint(_)) => {
            let (neg, n) = integer(arg)?;
            let (digits, prefix) = match verb {
                'd' => (n.to_string(), ""),
                'x' => (format!("{n:x}"), "0x"),
                'X' => (format!("{n:X}"), "0X"),
                'o' => (format!("{n:o}"), "0"),
                _ => (format!("{n:b}"), "0b"),
            };
            let digits = match spec.prec {
                Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
                _ => digits,
            };
            let prefix = if spec.sharp && verb != 'd' { prefix } else { "" };
            format!("{}{prefix}{digits}", sign(neg))
        }
        ('x' | 'X', Value::Str(s)) => {
            let mut hex = String::with_capacity(s.len() * 2);
            for b in s.bytes() {
                let _ = if verb == 'x' { write!(hex, "{b:02x}") } else { write!(hex, "{b:02X}") };
            }
            hex
        }
        ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Float(x)) => {
            let body = match verb {
                'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), x.abs()),
                'e' | 'E' => go_exponent(x.abs(), spec.prec.unwrap_or(6), verb == 'E'),
                _ => match spec.prec {
                    None => go_float(x.abs()),
                    Some(p) => format!("{:.*}", p, x.abs()),
                },
            };
            format!("{}{body}", sign(*x < 0.0))
        }
        _ => return None,
    })
}

/// `%e`: Go writes at least two exponent digits with a sign (`1.000000e+03`).
fn go_exponent(x: f64, prec: usize, upper: bool) -> String {
    let s = format!("{x:.prec$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{sign}{digits:0>2}")
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_owned(),
    }
}

/// Pads to the width: spaces on the left, on the right with `-`, or zeros after the sign for
/// numbers with `0`.
fn pad(out: &mut String, text: &str, spec: &Spec, numeric: bool) {
    let len = text.chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        out.push_str(text);
    } else if spec.minus {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        let sign_len = usize::from(text.starts_with(['-', '+', ' ']));
        out.push_str(&text[..sign_len]);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(&text[sign_len..]);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    }
}
