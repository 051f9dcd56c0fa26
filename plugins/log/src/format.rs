//! Log formats: a format string is cut once, at setup, into literal text and placeholders, so
//! writing a line is a walk over the pieces.
//!
//! The cutting follows CoreDNS's replacer: each `}` closes the placeholder opened by the last
//! `{` before it; a known `{label}` or a `{/metadata}` reference becomes a placeholder, anything
//! else stays literal text.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use plugin_api::Request;
use plugin_api::pkg::names::{class_name, rcode_name, type_name, write_flags};
use plugin_api::proto::op;

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
    /// `{/name}`: the query's metadata label `name` (*metadata*), or `-` if unset.
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
    /// Whether the pieces are one of CoreDNS's two built-in formats, which nearly every
    /// Corefile uses: those are written by straight-line code ([`write_common`]) rather than a
    /// walk over the pieces, which spent its time on dispatch and on copying one-byte separators
    /// (bench/README.md).
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Common,
    Combined,
    Other,
}

/// What a line reports about the reply.
pub struct Outcome {
    /// The header of the reply as written (its flags and rcode), if one was.
    pub reply: Option<op::Metadata>,
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
        let shape = if format == COMMON || format == "{common}" {
            Shape::Common
        } else if format == COMBINED || format == "{combined}" {
            Shape::Combined
        } else {
            Shape::Other
        };
        Self { pieces, shape }
    }

    /// The line for `req` and its outcome.
    pub fn render(&self, req: &Request, out: &Outcome) -> String {
        let mut line = Vec::with_capacity(128);
        self.render_into(req, out, &mut line);
        // Every piece is text; nothing else is written.
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Appends the line for `req` and its outcome to `line`.
    pub fn render_into(&self, req: &Request, out: &Outcome, line: &mut Vec<u8>) {
        match self.shape {
            Shape::Common => write_common(line, req, out),
            Shape::Combined => {
                write_common(line, req, out);
                line.extend_from_slice(b" \"");
                write_label(line, Label::Opcode, req, out);
                line.push(b'"');
            }
            Shape::Other => self.walk_pieces(req, out, line),
        }
    }

    /// [`Format::render_into`] for any format: piece by piece.
    fn walk_pieces(&self, req: &Request, out: &Outcome, line: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                // Most literals are one space or quote: pushed, not copied with a call.
                Piece::Literal(text) => match text.as_bytes() {
                    [byte] => line.push(*byte),
                    bytes => line.extend_from_slice(bytes),
                },
                // A label no plugin set prints `-`; one set to "" prints nothing (CoreDNS's
                // replacer).
                Piece::Metadata(label) => text(line, req.meta().get(label).unwrap_or(EMPTY)),
                Piece::Label(label) => write_label(line, *label, req, out),
            }
        }
    }
}

/// Appends a number: a line has half a dozen, and `itoa` writes them without the formatting
/// machinery.
fn num(line: &mut Vec<u8>, n: impl itoa::Integer) {
    line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends text.
fn text(line: &mut Vec<u8>, s: &str) {
    line.extend_from_slice(s.as_bytes());
}

/// [`COMMON`], written in order: the separators are constants the compiler stores in place, and
/// each label's `match` folds away.
fn write_common(line: &mut Vec<u8>, req: &Request, out: &Outcome) {
    use Label::*;
    // Each label with the separator after it, spelled out (not a loop over pairs, not a
    // closure the compiler may keep) so that every `write_label` sees its label as a constant.
    macro_rules! put {
        ($label:expr, $separator:expr) => {
            write_label(line, $label, req, out);
            line.extend_from_slice($separator);
        };
    }
    put!(Remote, b":");
    put!(Port, b" - ");
    put!(Id, b" \"");
    put!(Type, b" ");
    put!(Class, b" ");
    put!(Name, b" ");
    put!(Proto, b" ");
    put!(Size, b" ");
    put!(Do, b" ");
    put!(Bufsize, b"\" ");
    put!(Rcode, b" ");
    put!(Rflags, b" ");
    put!(Rsize, b" ");
    write_label(line, Duration, req, out);
}

#[inline(always)]
fn write_label(line: &mut Vec<u8>, label: Label, req: &Request, out: &Outcome) {
    match label {
        Label::Type => text(line, &type_name(req.qtype())),
        Label::Name => text(line, req.name()),
        Label::Class => text(line, &class_name(req.qclass())),
        Label::Proto => text(line, req.proto().as_str()),
        Label::Size => num(line, req.len()),
        Label::Remote => write_addr(line, req.ip()),
        Label::Port => num(line, req.port()),
        Label::Local => write_addr(line, req.local().ip().to_canonical()),
        Label::Id => num(line, req.id()),
        Label::Opcode => num(line, u8::from(req.metadata().op_code)),
        Label::Do => text(line, if req.dnssec_ok() { "true" } else { "false" }),
        Label::Bufsize => num(line, req.size()),
        Label::Rcode => match &out.reply {
            None => text(line, EMPTY),
            Some(m) => match rcode_name(m.response_code) {
                Some(name) => text(line, name),
                None => num(line, u16::from(m.response_code)),
            },
        },
        Label::Rsize => num(line, out.size),
        Label::Duration => write_seconds(line, out.duration),
        Label::Rflags => match &out.reply {
            None => text(line, EMPTY),
            Some(m) => write_flags(line, m),
        },
    }
}

/// A duration as Go's `strconv.FormatFloat(d.Seconds(), 'f', -1, 64)` and an `s` print it:
/// plain decimal, no trailing zeros (`0.000123s`, `1.5s`, `2s`). Written from the integer
/// nanoseconds: the shortest decimal that reads back as the float is those nine digits
/// trimmed, and integer digits cost a fraction of float formatting.
fn write_seconds(line: &mut Vec<u8>, d: Duration) {
    num(line, d.as_secs());
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        // The nine digits with their leading zeros (10^9 + nanos has ten), trailing ones cut.
        let mut digits = itoa::Buffer::new();
        let digits = &digits.format(1_000_000_000 + nanos)[1..];
        line.push(b'.');
        text(line, digits.trim_end_matches('0'));
    }
    line.push(b's');
}

/// IPv6 addresses in brackets, as in a URL (RFC 3986).
fn write_addr(line: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            // Dotted decimal into 15 bytes on the stack, then one copy: four `itoa` calls and
            // seven appends cost more than the rest of the address's work.
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    text[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    text[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                text[len] = b'0' + octet % 10;
                len += 1;
            }
            line.extend_from_slice(&text[..len]);
        }
        IpAddr::V6(v6) => {
            let _ = write!(line, "[{v6}]");
        }
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
            let mut line = Vec::new();
            write_seconds(&mut line, d);
            assert_eq!(line, want.as_bytes());
            // And it is the shortest decimal that reads back as the same float.
            let float: f64 = want.trim_end_matches('s').parse().unwrap();
            assert_eq!(float, d.as_secs_f64());
        }
    }

    use super::*;

    #[test]
    fn addresses_print_as_the_standard_library_prints_them() {
        let mut addrs: Vec<IpAddr> = (0..=255u8)
            .flat_map(|o| [[o, 0, 0, 1], [10, o, 99, 100], [255, 255, 9, o], [o, o, o, o]])
            .map(IpAddr::from)
            .collect();
        addrs.push("2001:db8::1".parse().unwrap());
        for ip in addrs {
            let mut line = Vec::new();
            write_addr(&mut line, ip);
            let want = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            assert_eq!(String::from_utf8(line).unwrap(), want);
        }
    }

    /// The straight-line writer of the built-in formats says what the walk over their pieces
    /// says, for every kind of value a piece can take.
    #[test]
    fn built_in_formats_write_what_their_pieces_say() {
        use plugin_api::proto::op::{Message, ResponseCode};
        use plugin_api::proto::rr::RecordType;
        use plugin_api::{Proto, test_util};

        let mut cases = Vec::new();
        for (src, proto, bufsize) in [
            ("10.240.0.1:40212", Proto::Udp, None),
            ("0.0.0.0:0", Proto::Tcp, Some(1232)),
            ("[2001:db8::1]:5300", Proto::Udp, Some(4096)),
        ] {
            for (name, qtype) in
                [("Example.ORG.", RecordType::A), ("x.y.", RecordType::SRV), (".", RecordType::NS)]
            {
                let src = src.parse().unwrap();
                cases.push(test_util::request_with(name, qtype, proto, src, bufsize));
            }
        }
        let replies = |req: &Request| {
            let mut nx = req.reply();
            nx.metadata.response_code = ResponseCode::NXDomain;
            nx.metadata.recursion_available = true;
            let mut odd = Message::query();
            odd.metadata.response_code = ResponseCode::Unknown(3841);
            [None, Some(req.reply().metadata), Some(nx.metadata), Some(odd.metadata)]
        };
        let durations = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(1500),
            Duration::new(3, 7),
        ];
        for format in [COMMON, COMBINED, "{common}", "{combined}"] {
            let fast = Format::parse(format);
            assert_ne!(fast.shape, Shape::Other, "{format}");
            let walked = Format { shape: Shape::Other, ..fast.clone() };
            for req in &cases {
                for (reply, duration) in replies(req).into_iter().zip(durations) {
                    let out = Outcome { reply, size: 99, duration };
                    assert_eq!(fast.render(req, &out), walked.render(req, &out));
                }
            }
        }
        assert_eq!(Format::parse("{common} x").shape, Shape::Other);
    }

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
