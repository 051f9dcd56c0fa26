//! Reading a zone file into records, with `file:line` in every error.
//!
//! The entries come from [`super::lexer`]; `$ORIGIN`, `$TTL` and `$INCLUDE` (with its optional
//! origin, nested at most [`MAX_INCLUDE_DEPTH`] deep) are followed here; owner names may be
//! relative, `@`, or left blank for the previous owner; TTL and class come in either order;
//! a record without a TTL takes `$TTL`, else the previous record's (RFC 2308 §4). Record data
//! is read by hickory-proto's presentation-form parsers, which cover the common types, with
//! relative names in it made absolute here; DNAME, the character-strings of TXT and NAPTR
//! (escapes resolved and long strings cut as miekg/dns does) and RFC 3597's `\# LEN HEX` form
//! are read here, and the types hickory does not read in this build (DS, DNSKEY and their kin,
//! which need its DNSSEC feature, RRSIG, NSEC, MINFO, RP, SPF, ...) by [`more_types`].
//! hickory's own zone parser is not used: its errors carry no line, and it refuses an
//! `$INCLUDE` with an origin.

use std::path::{Path, PathBuf};

use crate::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV};
use crate::proto::rr::rdata::{NULL, TXT, naptr::NAPTR};
use crate::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::lexer::{self, Field};
use super::more_types;

/// How deep `$INCLUDE`s may nest.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// The TTL of a record when nothing gives one.
const DEFAULT_TTL: u32 = 3600;

/// An error in a zone file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    /// The file as named.
    pub file: String,
    /// Its line, from 1 (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.message),
            line => write!(f, "{}:{line}: {}", self.file, self.message),
        }
    }
}

/// What the reader carries from one entry to the next.
struct State {
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

/// Reads `text` (the file `file`, whose folder relative `$INCLUDE`s are read from) with
/// `origin` as the starting `$ORIGIN`.
pub fn parse(text: &str, file: &str, origin: &Name) -> Result<Vec<Record>, ZoneError> {
    let mut state =
        State { origin: origin.clone(), default_ttl: None, last_ttl: None, last_owner: None };
    let mut out = Vec::new();
    read(
        text,
        file,
        &mut state,
        &mut |r| {
            out.push(r);
            true
        },
        0,
    )?;
    Ok(out)
}

/// The serial of the zone's SOA, reading `text` only as far as the first SOA record (as
/// CoreDNS's reload does), so that checking a large file for a change costs little. An error
/// before the SOA is an error; one after it is not seen.
pub fn soa_serial(text: &str, file: &str, origin: &Name) -> Result<u32, ZoneError> {
    let mut state =
        State { origin: origin.clone(), default_ttl: None, last_ttl: None, last_owner: None };
    let mut serial = None;
    read(
        text,
        file,
        &mut state,
        &mut |r| match &r.data {
            RData::SOA(soa) => {
                serial = Some(soa.serial);
                false
            }
            _ => true,
        },
        0,
    )?;
    serial.ok_or_else(|| ZoneError {
        file: file.to_string(),
        line: 0,
        message: "no SOA record".into(),
    })
}

/// Reads the entries of `text`, handing each record to `sink` until it says stop (`false`);
/// returns whether it did.
fn read(
    text: &str,
    file: &str,
    st: &mut State,
    sink: &mut dyn FnMut(Record) -> bool,
    depth: usize,
) -> Result<bool, ZoneError> {
    let err = |line: usize, message: String| ZoneError { file: file.to_string(), line, message };
    for entry in lexer::Entries::new(text) {
        let entry = entry.map_err(|(line, m)| err(line, m))?;
        let line = entry.line;
        let fields = &entry.fields;
        let first = fields[0].raw;
        if !entry.blank_owner && first.starts_with('$') {
            match first.to_ascii_uppercase().as_str() {
                "$ORIGIN" => {
                    let name =
                        fields.get(1).ok_or_else(|| err(line, "$ORIGIN without a name".into()))?;
                    st.origin = absolute(name.raw, &st.origin).map_err(|e| err(line, e))?;
                }
                "$TTL" => {
                    let ttl =
                        fields.get(1).ok_or_else(|| err(line, "$TTL without a value".into()))?;
                    st.default_ttl = Some(parse_ttl(ttl.raw).map_err(|e| err(line, e))?);
                }
                "$INCLUDE" => {
                    let path =
                        fields.get(1).ok_or_else(|| err(line, "$INCLUDE without a file".into()))?;
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(err(
                            line,
                            format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}"),
                        ));
                    }
                    let included = include_path(file, path.raw.trim_matches('"'));
                    let shown = included.display().to_string();
                    let body = std::fs::read_to_string(&included).map_err(|e| {
                        err(line, format!("$INCLUDE {shown}: {}", crate::pkg::os::error_words(&e)))
                    })?;
                    // The included file starts at the given origin, or the current one, and
                    // what it changes stays inside it (RFC 1035 §5.1).
                    let saved = (st.origin.clone(), st.last_owner.clone());
                    if let Some(o) = fields.get(2) {
                        st.origin = absolute(o.raw, &st.origin).map_err(|e| err(line, e))?;
                    }
                    let stopped = read(&body, &shown, st, sink, depth + 1)?;
                    (st.origin, st.last_owner) = saved;
                    if stopped {
                        return Ok(true);
                    }
                }
                other => return Err(err(line, format!("unknown directive {other}"))),
            }
            continue;
        }
        let (owner, rest) = if entry.blank_owner {
            let owner = st.last_owner.clone().ok_or_else(|| err(line, "no owner name".into()))?;
            (owner, &fields[..])
        } else {
            (absolute(first, &st.origin).map_err(|e| err(line, e))?, &fields[1..])
        };
        let record = record(owner.clone(), rest, st).map_err(|e| err(line, e))?;
        st.last_owner = Some(owner);
        if !sink(record) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A relative `$INCLUDE` is read from the including file's folder.
fn include_path(file: &str, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    Path::new(file).parent().map_or_else(|| p.to_path_buf(), |dir| dir.join(p))
}

/// `text` as a name: `@` is the origin, a name without a final dot is relative to it.
pub fn absolute(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    let name = Name::from_ascii(text).map_err(|e| format!("bad name {text:?}: {e}"))?;
    let name = if name.is_fqdn() {
        name
    } else {
        name.append_domain(origin).map_err(|e| format!("bad name {text:?}: {e}"))?
    };
    Ok(name.to_lowercase())
}

/// A TTL: seconds, or with units (`1h30m`, as BIND writes them).
pub fn parse_ttl(text: &str) -> Result<u32, String> {
    crate::proto::serialize::txt::parse_ttl(text).map_err(|_| format!("bad TTL {text:?}"))
}

/// The rest of an entry after its owner: `[TTL] [CLASS] TYPE RDATA...` (TTL and class in
/// either order).
fn record(owner: Name, fields: &[Field<'_>], st: &mut State) -> Result<Record, String> {
    let mut ttl = None;
    let mut i = 0;
    while let Some(f) = fields.get(i) {
        let upper = f.raw.to_ascii_uppercase();
        if ttl.is_none() && f.raw.starts_with(|c: char| c.is_ascii_digit()) {
            ttl = Some(parse_ttl(f.raw)?);
        } else if upper == "IN" {
        } else if matches!(upper.as_str(), "CH" | "CS" | "HS" | "NONE" | "ANY") {
            return Err(format!("class {upper} in a zone of class IN"));
        } else {
            break;
        }
        i += 1;
    }
    let type_field = fields.get(i).ok_or("no record type")?;
    let rtype = record_type(type_field.raw)?;
    let data = &fields[i + 1..];
    let ttl = ttl.or(st.default_ttl).or(st.last_ttl).unwrap_or(DEFAULT_TTL);
    st.last_ttl = Some(ttl);
    let rdata = rdata(rtype, data, &st.origin)?;
    let mut record = Record::from_rdata(owner, ttl, rdata);
    record.dns_class = DNSClass::IN;
    Ok(record)
}

fn record_type(text: &str) -> Result<RecordType, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("TYPE") {
        return code.parse::<u16>().map(RecordType::from).map_err(|_| format!("bad type {text:?}"));
    }
    match upper.parse::<RecordType>() {
        Ok(RecordType::Unknown(_)) | Err(_) => more_types::type_code(&upper)
            .map(RecordType::from)
            .ok_or_else(|| format!("unknown record type {text:?}")),
        Ok(t) => Ok(t),
    }
}

/// Record data for `rtype` from its fields, relative names made absolute against `origin`.
fn rdata(rtype: RecordType, fields: &[Field<'_>], origin: &Name) -> Result<RData, String> {
    let bad = |e: &dyn std::fmt::Display| format!("bad {rtype} data: {e}");
    if fields.first().is_some_and(|f| f.raw == "\\#") {
        return generic(rtype, &fields[1..]);
    }
    let name = |i: usize| -> Result<Name, String> {
        let f = fields.get(i).ok_or_else(|| bad(&"too few fields"))?;
        absolute(f.raw, origin)
    };
    let number = |i: usize| -> Result<u16, String> {
        let f = fields.get(i).ok_or_else(|| bad(&"too few fields"))?;
        f.raw.parse::<u16>().map_err(|e| bad(&e))
    };
    let exactly = |n: usize| -> Result<(), String> {
        if fields.len() == n {
            Ok(())
        } else {
            Err(bad(&format!("{} fields, want {n}", fields.len())))
        }
    };
    Ok(match rtype {
        // The commonest records, read directly: through hickory's text parser each took a
        // joined string and a lexer, most of a large zone's load time.
        RecordType::A => {
            exactly(1)?;
            RData::A(A(fields[0].raw.parse().map_err(|e| bad(&e))?))
        }
        RecordType::AAAA => {
            exactly(1)?;
            RData::AAAA(AAAA(fields[0].raw.parse().map_err(|e| bad(&e))?))
        }
        RecordType::NS => {
            exactly(1)?;
            RData::NS(NS(name(0)?))
        }
        RecordType::CNAME => {
            exactly(1)?;
            RData::CNAME(CNAME(name(0)?))
        }
        RecordType::PTR => {
            exactly(1)?;
            RData::PTR(PTR(name(0)?))
        }
        RecordType::MX => {
            exactly(2)?;
            RData::MX(MX::new(number(0)?, name(1)?))
        }
        RecordType::SRV => {
            exactly(4)?;
            RData::SRV(SRV::new(number(0)?, number(1)?, number(2)?, name(3)?))
        }
        RecordType::SOA => {
            exactly(7)?;
            let n =
                |i: usize| -> Result<u32, String> { parse_ttl(fields[i].raw).map_err(|e| bad(&e)) };
            let serial = fields[2].raw.parse::<u32>().map_err(|e| bad(&e))?;
            RData::SOA(SOA::new(
                name(0)?,
                name(1)?,
                serial,
                n(3)? as i32,
                n(4)? as i32,
                n(5)? as i32,
                n(6)?,
            ))
        }
        RecordType::TXT => {
            let raw: Vec<&str> = fields.iter().map(|f| f.raw).collect();
            let strings = character_strings(&raw).map_err(|e| bad(&e))?;
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        RecordType::NAPTR => {
            exactly(6)?;
            let text =
                |i: usize| unescape(fields[i].raw).map(Vec::into_boxed_slice).map_err(|e| bad(&e));
            RData::NAPTR(NAPTR::new(number(0)?, number(1)?, text(2)?, text(3)?, text(4)?, name(5)?))
        }
        RecordType::DNAME => {
            exactly(1)?;
            // Uncompressed, as RFC 6672 §2.5 wants it written.
            opaque(rtype, name_wire(&name(0)?))
        }
        _ => {
            let raw: Vec<&str> = fields.iter().map(|f| f.raw).collect();
            match more_types::wire(u16::from(rtype), &raw, &|f| absolute(f, origin)) {
                Some(wire) => opaque(rtype, wire.map_err(|e| bad(&e))?),
                None => RData::try_from_str(rtype, &raw.join(" ")).map_err(|e| bad(&e))?,
            }
        }
    })
}

/// RFC 3597's `\# LEN HEX...`.
fn generic(rtype: RecordType, fields: &[Field<'_>]) -> Result<RData, String> {
    let len: usize = fields
        .first()
        .and_then(|f| f.raw.parse().ok())
        .ok_or_else(|| format!("bad {rtype} data: \\# without a length"))?;
    let hex: String = fields[1..].iter().map(|f| f.raw).collect();
    let wire = decode_hex(&hex).ok_or_else(|| format!("bad {rtype} data: not hex"))?;
    if wire.len() != len {
        return Err(format!("bad {rtype} data: \\# {len} with {} octets", wire.len()));
    }
    // Known types are read back from their wire form, so they answer as if written out.
    let mut decoder = crate::proto::serialize::binary::BinDecoder::new(&wire);
    let length = crate::proto::serialize::binary::Restrict::new(wire.len() as u16);
    match RData::read(&mut decoder, rtype, length) {
        Ok(rdata) if !matches!(rdata, RData::Unknown { .. }) => Ok(rdata),
        _ => Ok(opaque(rtype, wire)),
    }
}

/// Data kept as its wire octets. `NULL::with` wants them non-empty (`\# 0` is legal: RFC 3597
/// §5), so empty data is made with `NULL::new`.
fn opaque(rtype: RecordType, wire: Vec<u8>) -> RData {
    let rdata = if wire.is_empty() { NULL::new() } else { NULL::with(wire) };
    RData::Unknown { code: rtype, rdata }
}

/// A name in uncompressed wire form.
pub(super) fn name_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// TXT's data (and SPF's): one or more character-strings, each cut into strings of 255 octets
/// where it is longer, as miekg/dns reads them (a DKIM key is often written as one string).
pub(super) fn character_strings(fields: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    if fields.is_empty() {
        return Err("no strings".into());
    }
    let mut strings = Vec::with_capacity(fields.len());
    for field in fields {
        let text = unescape(field)?;
        if text.is_empty() {
            strings.push(text);
        } else {
            strings.extend(text.chunks(255).map(<[u8]>::to_vec));
        }
    }
    Ok(strings)
}

/// A character-string's octets: quotes taken off, `\X` and `\DDD` resolved.
pub(super) fn unescape(raw: &str) -> Result<Vec<u8>, String> {
    let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            out.push(bytes[at]);
            at += 1;
            continue;
        }
        let digits = bytes.get(at + 1..at + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
        if let Some(d) = digits {
            let value = d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
            out.push(u8::try_from(value).map_err(|_| format!("bad escape in {raw:?}"))?);
            at += 4;
        } else {
            out.push(*bytes.get(at + 1).ok_or_else(|| format!("a lone \\ in {raw:?}"))?);
            at += 2;
        }
    }
    Ok(out)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}
