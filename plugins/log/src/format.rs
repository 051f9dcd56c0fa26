//! Log formats: a format string is cut once, at setup, into literal text and placeholders, so
//! writing a line is a walk over the pieces.
//!
//! The cutting follows CoreDNS's replacer: each `}` closes the placeholder opened by the last
//! `{` before it; a known `{label}` or a `{/metadata}` reference becomes a placeholder, anything
//! else stays literal text.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use plugin_api::Request;
use plugin_api::names::{class_name, rcode_name, type_name, write_flags};
use plugin_api::response::Facts;

/// `{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode}
/// {>rflags} {rsize} {duration}`: CoreDNS's default.
pub const COMMON: &str = "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize} {duration}";

/// The common format followed by ` "{>opcode}"`.
pub const COMBINED: &str = "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize} {duration} \"{>opcode}\"";

/// What stands for a value that is not there.
const EMPTY: &str = "-";

/// One piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Label(Label),
    /// `{/name}`: metadata, which ferrodns does not collect yet, so it prints `-`.
    Metadata(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Type,
    Name,
    Class,
    Proto,
    Size,
    Remote,
    Port,
    Local,
    Id,
    Opcode,
    Do,
    Bufsize,
    Rcode,
    Rsize,
    Duration,
    Rflags,
}

impl Label {
    fn from_text(s: &str) -> Option<Self> {
        Some(match s {
            "{type}" => Self::Type,
            "{name}" => Self::Name,
            "{class}" => Self::Class,
            "{proto}" => Self::Proto,
            "{size}" => Self::Size,
            "{remote}" => Self::Remote,
            "{port}" => Self::Port,
            "{local}" => Self::Local,
            "{>id}" => Self::Id,
            "{>opcode}" => Self::Opcode,
            "{>do}" => Self::Do,
            "{>bufsize}" => Self::Bufsize,
            "{rcode}" => Self::Rcode,
            "{rsize}" => Self::Rsize,
            "{duration}" => Self::Duration,
            "{>rflags}" => Self::Rflags,
            _ => return None,
        })
    }
}

/// A parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// What a line reports about the reply.
pub struct Outcome {
    /// The reply as written, if one was.
    pub reply: Option<Facts>,
    /// Its size in octets.
    pub size: usize,
    /// Time from the server reading the query to the reply coming back to the plugin.
    pub duration: Duration,
}

impl Format {
    /// Cuts `format` into pieces; `{common}` and `{combined}` expand first.
    pub fn parse(format: &str) -> Self {
        let expanded = format.replace("{common}", COMMON).replace("{combined}", COMBINED);
        let mut s = expanded.as_str();
        let mut pieces = Vec::new();
        while let Some(close) = s.find('}') {
            let Some(open) = s[..close].rfind('{') else {
                pieces.push(Piece::Literal(s[..=close].to_string()));
                s = &s[close + 1..];
                continue;
            };
            let text = &s[open..=close];
            let piece = if let Some(label) = Label::from_text(text) {
                Piece::Label(label)
            } else if let Some(name) = text.strip_prefix("{/") {
                Piece::Metadata(name[..name.len() - 1].to_string())
            } else {
                Piece::Literal(s[..=close].to_string())
            };
            if !matches!(piece, Piece::Literal(_)) && open > 0 {
                pieces.push(Piece::Literal(s[..open].to_string()));
            }
            pieces.push(piece);
            s = &s[close + 1..];
        }
        if !s.is_empty() {
            pieces.push(Piece::Literal(s.to_string()));
        }
        Self { pieces }
    }

    /// The line for `req` and its outcome.
    pub fn render(&self, req: &Request, out: &Outcome) -> String {
        let mut line = String::with_capacity(128);
        self.render_into(req, out, &mut line);
        line
    }

    /// Appends the line for `req` and its outcome to `line`.
    pub fn render_into(&self, req: &Request, out: &Outcome, line: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => line.push_str(text),
                Piece::Metadata(_) => line.push_str(EMPTY),
                Piece::Label(label) => write_label(line, *label, req, out),
            }
        }
    }
}

/// Appends a number: a line has half a dozen, and `itoa` writes them without the formatting
/// machinery.
fn num(line: &mut String, n: impl itoa::Integer) -> std::fmt::Result {
    line.push_str(itoa::Buffer::new().format(n));
    Ok(())
}

/// Appends text.
fn text(line: &mut String, s: &str) -> std::fmt::Result {
    line.push_str(s);
    Ok(())
}

fn write_label(line: &mut String, label: Label, req: &Request, out: &Outcome) {
    let _ = match label {
        Label::Type => text(line, &type_name(req.qtype())),
        Label::Name => text(line, req.name()),
        Label::Class => text(line, &class_name(req.qclass())),
        Label::Proto => text(line, req.proto().as_str()),
        Label::Size => num(line, req.len()),
        Label::Remote => write_addr(line, req.ip()),
        Label::Port => num(line, req.port()),
        Label::Local => write_addr(line, req.local().ip().to_canonical()),
        Label::Id => num(line, req.id()),
        Label::Opcode => num(line, u8::from(req.message().metadata.op_code)),
        Label::Do => text(line, if req.dnssec_ok() { "true" } else { "false" }),
        Label::Bufsize => num(line, req.size()),
        Label::Rcode => match &out.reply {
            None => text(line, EMPTY),
            Some(m) => match rcode_name(m.metadata.response_code) {
                Some(name) => text(line, name),
                None => num(line, u16::from(m.metadata.response_code)),
            },
        },
        Label::Rsize => num(line, out.size),
        Label::Duration => write_seconds(line, out.duration),
        Label::Rflags => match &out.reply {
            None => text(line, EMPTY),
            Some(m) => {
                write_flags(line, &m.metadata);
                Ok(())
            }
        },
    };
}

/// A duration as Go's `strconv.FormatFloat(d.Seconds(), 'f', -1, 64)` and an `s` print it:
/// plain decimal, no trailing zeros (`0.000123s`, `1.5s`, `2s`). Written from the integer
/// nanoseconds: the shortest decimal that reads back as the float is those nine digits
/// trimmed, and integer digits cost a fraction of float formatting.
fn write_seconds(line: &mut String, d: Duration) -> std::fmt::Result {
    num(line, d.as_secs())?;
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        // The nine digits with their leading zeros (10^9 + nanos has ten), trailing ones cut.
        let mut digits = itoa::Buffer::new();
        let digits = &digits.format(1_000_000_000 + nanos)[1..];
        line.push('.');
        line.push_str(digits.trim_end_matches('0'));
    }
    line.push('s');
    Ok(())
}

/// IPv6 addresses in brackets, as in a URL (RFC 3986).
fn write_addr(line: &mut String, ip: IpAddr) -> std::fmt::Result {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push('.');
                }
                num(line, octet)?;
            }
            Ok(())
        }
        IpAddr::V6(v6) => write!(line, "[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_print_as_go_prints_seconds() {
        let cases = [
            (Duration::from_nanos(123_000), "0.000123s"),
            (Duration::from_nanos(1), "0.000000001s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(2), "2s"),
            (Duration::ZERO, "0s"),
            (Duration::new(3, 40_506_000), "3.040506s"),
        ];
        for (d, want) in cases {
            let mut line = String::new();
            write_seconds(&mut line, d).unwrap();
            assert_eq!(line, want);
            // And it is the shortest decimal that reads back as the same float.
            let float: f64 = want.trim_end_matches('s').parse().unwrap();
            assert_eq!(float, d.as_secs_f64());
        }
    }

    use super::*;

    fn lit(s: &str) -> Piece {
        Piece::Literal(s.into())
    }

    #[test]
    fn cutting_follows_coredns() {
        assert_eq!(Format::parse("{type}").pieces, vec![Piece::Label(Label::Type)]);
        assert_eq!(
            Format::parse("a {name} b").pieces,
            vec![lit("a "), Piece::Label(Label::Name), lit(" b")]
        );
        // Unknown placeholders stay text, with what came before them.
        assert_eq!(Format::parse("x {nope} y").pieces, vec![lit("x {nope}"), lit(" y")]);
        assert_eq!(Format::parse("}a").pieces, vec![lit("}"), lit("a")]);
        assert_eq!(
            Format::parse("{/kubernetes/namespace}").pieces,
            vec![Piece::Metadata("kubernetes/namespace".into())]
        );
        assert_eq!(Format::parse("{{type}").pieces, vec![lit("{"), Piece::Label(Label::Type)]);
    }
}
