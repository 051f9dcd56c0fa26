//! The record types a zone file may hold that hickory-proto does not read from presentation
//! form in this build, read here into wire form (names uncompressed, as RFC 3597 keeps
//! unknown types): RFC 1035's mail types (MD, MF, MB, MG, MR, MINFO), RP, AFSDB, X25, ISDN, RT,
//! NSAP-PTR, PX, GPOS, EID, NIMLOC, KX, NINFO, TALINK, NID, L32, L64, LP, SPF, UINFO, UID, GID,
//! URI, AVC, RESINFO, EUI48, EUI64, DHCID, ZONEMD, KEY, SIG, the DNSSEC records a signed zone
//! carries (DS, CDS, DNSKEY, CDNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, TA, DLV); in `gateways.rs`
//! IPSECKEY, AMTRELAY, APL and HIP; in `loc.rs` LOC. miekg/dns reads all of them, so a zone
//! file CoreDNS's *file* serves loads here too.
//!
//! [`type_code`] names the types hickory's `RecordType` does not; [`wire`] reads the data of
//! a type listed here, or says it is not one.

use crate::proto::rr::{Name, RecordType};

use super::reader::{character_strings, name_wire, unescape};

/// The mnemonics hickory's `RecordType` does not parse, and their codes.
const NAMED_HERE: [(&str, u16); 41] = [
    ("MD", 3),
    ("MF", 4),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("MINFO", 14),
    ("RP", 17),
    ("AFSDB", 18),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP-PTR", 23),
    ("PX", 26),
    ("GPOS", 27),
    ("LOC", 29),
    ("EID", 31),
    ("NIMLOC", 32),
    ("KX", 36),
    ("APL", 42),
    ("IPSECKEY", 45),
    ("DHCID", 49),
    ("HIP", 55),
    ("NINFO", 56),
    ("TALINK", 58),
    ("ZONEMD", 63),
    ("SPF", 99),
    ("UINFO", 100),
    ("UID", 101),
    ("GID", 102),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("URI", 256),
    ("AVC", 258),
    ("AMTRELAY", 260),
    ("RESINFO", 261),
    ("TA", 32768),
    ("DLV", 32769),
];

/// DNSSEC algorithm mnemonics, as miekg/dns's `StringToAlgorithm` has them.
const ALGORITHMS: [(&str, u8); 16] = [
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// The code of a type hickory does not name, by its mnemonic in upper case.
pub fn type_code(upper: &str) -> Option<u16> {
    NAMED_HERE.iter().find(|(m, _)| *m == upper).map(|&(_, code)| code)
}

/// A type by its mnemonic (any case) or `TYPEnnn`, as the data of RRSIG and NSEC names them.
fn any_type(text: &str) -> Result<u16, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("TYPE") {
        return code.parse::<u16>().map_err(|_| format!("bad type {text:?}"));
    }
    if let Some(code) = type_code(&upper) {
        return Ok(code);
    }
    match upper.parse::<RecordType>() {
        Ok(RecordType::Unknown(_)) | Err(_) => Err(format!("unknown type {text:?}")),
        Ok(t) => Ok(u16::from(t)),
    }
}

/// The data of a record of type `code` in wire form, from its presentation fields; `None` if
/// the type is not one read here. `name` makes a field an absolute name.
pub fn wire(
    code: u16,
    fields: &[&str],
    name: &dyn Fn(&str) -> Result<Name, String>,
) -> Option<Result<Vec<u8>, String>> {
    let mut out = Data { fields, next: 0, wire: Vec::new(), name };
    let read = match code {
        3 | 4 | 7 | 8 | 9 | 23 => out.name(),
        14 | 17 | 58 => out.name().and_then(|()| out.name()),
        18 | 21 | 36 | 107 => out.u16().and_then(|()| out.name()),
        26 => out.u16().and_then(|()| out.name()).and_then(|()| out.name()),
        49 => out.base64_rest(),
        63 => {
            out.u32().and_then(|()| out.u8()).and_then(|()| out.u8()).and_then(|()| out.hex_rest())
        }
        56 | 99 | 258 | 261 => out.strings_rest(),
        // miekg/dns keeps the first string and drops the rest without a word.
        100 => out.strings_rest().map(|()| out.wire.truncate(1 + usize::from(out.wire[0]))),
        101 | 102 => out.u32(),
        31 | 32 => out.hex_rest(),
        42 => out.apl(),
        45 => out.ipseckey(),
        55 => out.hip(),
        260 => out.amtrelay(),
        108 => out.eui(6),
        109 => out.eui(8),
        256 => out.u16().and_then(|()| out.u16()).and_then(|()| out.uri_target()),
        // SIG (RFC 2535) has RRSIG's layout; hickory takes it for SIG(0) and refuses it.
        24 | 46 => out.rrsig(),
        47 => out.name().and_then(|()| out.types_rest()),
        50 => out.nsec3(),
        51 => out.u8().and_then(|()| out.u8()).and_then(|()| out.u16()).and_then(|()| out.salt()),
        19 => out.strings(1, 1),
        20 => out.strings(1, 2),
        27 => out.strings(3, 3),
        29 => out.loc(),
        104 | 106 => out.u16().and_then(|()| out.locator64()),
        105 => out.u16().and_then(|()| out.ipv4()),
        // DS, CDS, TA, DLV: key tag, algorithm, digest type, digest (hex, may be absent).
        43 | 59 | 32768 | 32769 => out
            .u16()
            .and_then(|()| out.algorithm())
            .and_then(|()| out.u8())
            .and_then(|()| out.hex_rest()),
        // DNSKEY, CDNSKEY and KEY (which hickory takes for SIG(0) and refuses): flags,
        // protocol, algorithm, key (base64, may be absent).
        48 | 60 | 25 => out
            .u16()
            .and_then(|()| out.u8())
            .and_then(|()| out.u8())
            .and_then(|()| out.base64_rest()),
        _ => return None,
    };
    Some(read.and_then(|()| out.finish()))
}

/// Record data being read: the fields, how many are used, and the wire form so far.
struct Data<'a> {
    fields: &'a [&'a str],
    next: usize,
    wire: Vec<u8>,
    name: &'a dyn Fn(&str) -> Result<Name, String>,
}

impl<'a> Data<'a> {
    fn field(&mut self) -> Result<&'a str, String> {
        let f: &'a str = self.fields.get(self.next).ok_or("too few fields")?;
        self.next += 1;
        Ok(f)
    }

    /// The fields not read yet, joined (base64 and hex may be split by spaces).
    fn rest(&mut self) -> String {
        let rest = self.fields[self.next.min(self.fields.len())..].concat();
        self.next = self.fields.len();
        rest
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, String> {
        let f = self.field()?;
        f.parse().map_err(|_| format!("bad number {f:?}"))
    }

    fn u8(&mut self) -> Result<(), String> {
        let n: u8 = self.number()?;
        self.wire.push(n);
        Ok(())
    }

    fn u16(&mut self) -> Result<(), String> {
        let n: u16 = self.number()?;
        self.wire.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }

    fn u32(&mut self) -> Result<(), String> {
        let n: u32 = self.number()?;
        self.wire.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }

    /// A DS-style algorithm: a number, or a mnemonic as miekg/dns reads one there.
    fn algorithm(&mut self) -> Result<(), String> {
        let f = self.field()?;
        let number = f.parse::<u8>().ok().or_else(|| {
            let upper = f.to_ascii_uppercase();
            ALGORITHMS.iter().find(|(name, _)| *name == upper).map(|&(_, n)| n)
        });
        self.wire.push(number.ok_or_else(|| format!("bad algorithm {f:?}"))?);
        Ok(())
    }

    /// A name, uncompressed, lower case (RFC 4034 §6.2 writes signed names so).
    fn name(&mut self) -> Result<(), String> {
        let text = self.field()?;
        let name = (self.name)(text)?;
        self.wire.extend_from_slice(&name_wire(&name));
        Ok(())
    }

    /// Every remaining field as a character-string (TXT's form).
    fn strings_rest(&mut self) -> Result<(), String> {
        for text in character_strings(&self.fields[self.next..])? {
            self.wire.push(text.len() as u8);
            self.wire.extend_from_slice(&text);
        }
        self.next = self.fields.len();
        Ok(())
    }

    /// Between `min` and `max` character-strings, to the end of the data (X25, ISDN, GPOS).
    fn strings(&mut self, min: usize, max: usize) -> Result<(), String> {
        let left = self.fields.len().saturating_sub(self.next);
        if !(min..=max).contains(&left) {
            return Err(format!("{left} strings, want {min} to {max}"));
        }
        self.strings_rest()
    }

    fn ipv4(&mut self) -> Result<(), String> {
        let f = self.field()?;
        let ip: std::net::Ipv4Addr = f.parse().map_err(|_| format!("bad address {f:?}"))?;
        self.wire.extend_from_slice(&ip.octets());
        Ok(())
    }

    /// NID's and L64's 64 bits: four groups of four hex digits joined by `:` (RFC 6742).
    fn locator64(&mut self) -> Result<(), String> {
        let f = self.field()?;
        let groups: Vec<&str> = f.split(':').collect();
        let bad = || format!("bad locator {f:?}");
        if groups.len() != 4 {
            return Err(bad());
        }
        for g in groups {
            if g.len() != 4 {
                return Err(bad());
            }
            let n = u16::from_str_radix(g, 16).map_err(|_| bad())?;
            self.wire.extend_from_slice(&n.to_be_bytes());
        }
        Ok(())
    }

    /// URI's target: a quoted string, its octets to the end of the data (RFC 7553).
    fn uri_target(&mut self) -> Result<(), String> {
        let f = self.field()?;
        if !(f.len() >= 2 && f.starts_with('"') && f.ends_with('"')) {
            return Err(format!("the target {f:?} is not quoted"));
        }
        let text = unescape(f)?;
        if text.is_empty() {
            return Err("an empty target".into());
        }
        self.wire.extend_from_slice(&text);
        Ok(())
    }

    /// An EUI48 or EUI64: `len` hex octets joined by `-`.
    fn eui(&mut self, len: usize) -> Result<(), String> {
        let f = self.field()?;
        let octets: Option<Vec<u8>> = f
            .split('-')
            .map(|h| (h.len() == 2).then(|| u8::from_str_radix(h, 16).ok()).flatten())
            .collect();
        match octets {
            Some(o) if o.len() == len => {
                self.wire.extend_from_slice(&o);
                Ok(())
            }
            _ => Err(format!("bad address {f:?}")),
        }
    }

    fn base64_rest(&mut self) -> Result<(), String> {
        let rest = self.rest();
        let data = data_encoding::BASE64.decode(rest.as_bytes()).map_err(|_| "not base64")?;
        self.wire.extend_from_slice(&data);
        Ok(())
    }

    fn hex_rest(&mut self) -> Result<(), String> {
        let rest = self.rest();
        let data = data_encoding::HEXUPPER_PERMISSIVE
            .decode(rest.as_bytes())
            .map_err(|_| format!("not hex: {rest:?}"))?;
        self.wire.extend_from_slice(&data);
        Ok(())
    }

    /// NSEC3's and NSEC3PARAM's salt: `-` for none, else hex, after its length.
    fn salt(&mut self) -> Result<(), String> {
        let f = self.field()?;
        let salt = if f == "-" {
            Vec::new()
        } else {
            data_encoding::HEXUPPER_PERMISSIVE
                .decode(f.as_bytes())
                .map_err(|_| format!("bad salt {f:?}"))?
        };
        self.wire.push(u8::try_from(salt.len()).map_err(|_| "a salt over 255 octets")?);
        self.wire.extend_from_slice(&salt);
        Ok(())
    }

    /// RRSIG (RFC 4034 §3.2): the type covered, algorithm, labels, original TTL, expiration,
    /// inception, key tag, signer and signature.
    fn rrsig(&mut self) -> Result<(), String> {
        let covered = any_type(self.field()?)?;
        self.wire.extend_from_slice(&covered.to_be_bytes());
        self.u8()?;
        self.u8()?;
        self.u32()?;
        for _ in 0..2 {
            let time = signature_time(self.field()?)?;
            self.wire.extend_from_slice(&time.to_be_bytes());
        }
        self.u16()?;
        self.name()?;
        self.base64_rest()
    }

    /// NSEC3 (RFC 5155 §3.3): algorithm, flags, iterations, salt, the next hashed owner in
    /// base32hex, and the types.
    fn nsec3(&mut self) -> Result<(), String> {
        self.u8()?;
        self.u8()?;
        self.u16()?;
        self.salt()?;
        let f = self.field()?;
        let next = data_encoding::BASE32HEX_NOPAD
            .decode(f.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("bad next hashed owner {f:?}"))?;
        self.wire.push(u8::try_from(next.len()).map_err(|_| "a hash over 255 octets")?);
        self.wire.extend_from_slice(&next);
        self.types_rest()
    }

    /// The remaining fields as types, in RFC 4034 §4.1.2's window bitmaps.
    fn types_rest(&mut self) -> Result<(), String> {
        let mut codes = Vec::new();
        while self.next < self.fields.len() {
            codes.push(any_type(self.field()?)?);
        }
        codes.sort_unstable();
        codes.dedup();
        let mut at = 0;
        while at < codes.len() {
            let window = codes[at] >> 8;
            let mut bits = [0u8; 32];
            let mut len = 0;
            while at < codes.len() && codes[at] >> 8 == window {
                let low = usize::from(codes[at] & 0xff);
                bits[low / 8] |= 0x80 >> (low % 8);
                len = low / 8 + 1;
                at += 1;
            }
            self.wire.extend_from_slice(&[window as u8, len as u8]);
            self.wire.extend_from_slice(&bits[..len]);
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, String> {
        if self.next < self.fields.len() {
            return Err(format!("{} fields more than the type has", self.fields.len() - self.next));
        }
        Ok(self.wire)
    }
}

/// An RRSIG time: `YYYYMMDDHHmmSS` in UTC, or seconds since 1970 (RFC 4034 §3.2), as a serial
/// number modulo 2^32.
fn signature_time(text: &str) -> Result<u32, String> {
    let bad = || format!("bad signature time {text:?}");
    if text.len() != 14 {
        return text.parse::<u32>().map_err(|_| bad());
    }
    let part = |from: usize, to: usize| text.get(from..to).and_then(|p| p.parse::<i64>().ok());
    let (y, mo, d) =
        (part(0, 4).ok_or_else(bad)?, part(4, 6).ok_or_else(bad)?, part(6, 8).ok_or_else(bad)?);
    let (h, mi, s) = (
        part(8, 10).ok_or_else(bad)?,
        part(10, 12).ok_or_else(bad)?,
        part(12, 14).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let seconds = days_since_epoch(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    // Times past 2106 wrap, as the field is serial arithmetic (RFC 4034 §3.1.5).
    Ok(seconds.rem_euclid(1 << 32) as u32)
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

mod gateways;
mod loc;

#[cfg(test)]
#[path = "more_types_tests.rs"]
mod tests;
