//! Names in presentation form, lower-cased, as every query's name is read: straight from the
//! wire for plain names (nearly all), from hickory's `Name` with miekg/dns's escaping for the
//! rest.

use hickory_proto::rr::Name;

/// The lower-cased presentation form of `name`, always ending in a dot.
///
/// Names made of letters, digits, `-` and `_` (nearly every query) are written byte by byte;
/// a name with anything that may need escaping is written as miekg/dns writes it
/// (`lower_name_escaped`).
pub fn lower_name(name: &Name) -> String {
    let mut s = String::with_capacity(64);
    lower_name_into(name, &mut s);
    s
}

/// [`lower_name`], written into `s` (which must be empty) to reuse its room.
pub(super) fn lower_name_into(name: &Name, s: &mut String) {
    // Room for the longest name once; the string is reused from query to query.
    s.reserve(256);
    for label in name.iter() {
        // One pass: a byte that may need escaping sends the whole name the reference way.
        for &b in label {
            let lower = PLAIN[usize::from(b)] as u8;
            if lower == 0 {
                s.clear();
                s.push_str(&lower_name_escaped(name));
                return;
            }
            s.push(char::from(lower));
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
}

/// For each byte: its lower-case form if it may stand unescaped in a plain name (letters,
/// digits, `-`, `_`), else 0, in the low octet; [`NOT_PLAIN`] and [`UPPER`] above it. One load
/// per byte, and one `or` to learn both facts of a whole label, in place of a dozen tests per
/// byte.
static PLAIN: [u16; 256] = {
    let mut table = [NOT_PLAIN; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            let upper = if c.is_ascii_uppercase() { UPPER } else { 0 };
            table[b] = c.to_ascii_lowercase() as u16 | upper;
        }
        b += 1;
    }
    table
};

/// In [`PLAIN`]: the byte must be escaped in presentation form.
const NOT_PLAIN: u16 = 1 << 8;
/// In [`PLAIN`]: the byte is an upper-case letter.
const UPPER: u16 = 1 << 9;

/// The length on the wire of the name at the start of `question` (a query's bytes after the
/// header) if it is uncompressed and at most 255 octets, with the question's type and class
/// after it: the question a decoder may leave out of the message for the [`Request`](super::Request) to read
/// from the bytes. Only the length octets are read, one per label.
pub(crate) fn uncompressed_question_len(question: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        match *question.get(at)? {
            0 => break,
            // 64 and above: a compression pointer or an extended label type.
            size @ 1..=63 => at += usize::from(size) + 1,
            _ => return None,
        }
    }
    let len = at + 1;
    (len <= 255 && question.len() >= len + 4).then_some(len)
}

/// A name is at most 255 octets on the wire, so at most 254 in presentation form.
pub(super) const MAX_TEXT: usize = 254;

/// `wire` (a name [`uncompressed_question_len`] measured) lower-cased in presentation form
/// into `text`, if it is plain (every label letters, digits, `-` and `_`): the length written
/// and whether it was lower-case already. Branch-free per byte, the bytes tested all at once:
/// names are read on every query.
pub(super) fn lower_plain_name(wire: &[u8], text: &mut [u8; MAX_TEXT]) -> Option<(usize, bool)> {
    let (mut at, mut len, mut seen) = (0, 0, 0);
    loop {
        let size = usize::from(*wire.get(at)?);
        if size == 0 {
            break;
        }
        let label = wire.get(at + 1..at + 1 + size)?;
        let out = text.get_mut(len..len + size + 1)?;
        for (o, &b) in out.iter_mut().zip(label) {
            let entry = PLAIN[usize::from(b)];
            seen |= entry;
            *o = entry as u8;
        }
        out[size] = b'.';
        (at, len) = (at + size + 1, len + size + 1);
    }
    if len == 0 {
        (text[0], len) = (b'.', 1);
    }
    (seen & NOT_PLAIN == 0).then_some((len, seen & UPPER == 0))
}

/// `name` lower-cased in presentation form as miekg/dns writes it, and so as CoreDNS logs and
/// matches it: `. ( ) ; space @ ' " \` behind a backslash, other printable ASCII as it is, every
/// other byte as `\DDD` in decimal. (hickory writes a space as `\040`, in octal.)
fn lower_name_escaped(name: &Name) -> String {
    let mut s = String::with_capacity(64);
    for label in name.iter() {
        for &b in label {
            match b.to_ascii_lowercase() {
                c @ (b'.' | b'(' | b')' | b';' | b' ' | b'@' | b'"' | b'\'' | b'\\') => {
                    s.push('\\');
                    s.push(char::from(c));
                }
                c @ 0x21..=0x7e => s.push(char::from(c)),
                c => {
                    use std::fmt::Write;
                    let _ = write!(s, "\\{c:03}");
                }
            }
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}
