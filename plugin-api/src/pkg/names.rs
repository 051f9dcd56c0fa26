//! The names CoreDNS (through miekg/dns) prints for rcodes, types, classes and header flags.
//! Logs, metric labels and error lines all use them, so they must match byte for byte.

use std::borrow::Cow;

use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

/// The rcode's name as miekg/dns's `RcodeToString` has it (`NOERROR`, `NXDOMAIN`, …), or `None`
/// for a code it has no name for.
pub fn rcode_name(rcode: ResponseCode) -> Option<&'static str> {
    Some(match u16::from(rcode) {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return None,
    })
}

/// The rcode a name stands for, as miekg/dns's `StringToRcode` reads it: the upper-case names
/// of [`rcode_name`], and the legacy `NOTIMPL`.
pub fn rcode_by_name(name: &str) -> Option<ResponseCode> {
    if name == "NOTIMPL" {
        return Some(ResponseCode::NotImp);
    }
    (0..=23u16).map(<ResponseCode as From<u16>>::from).find(|&r| rcode_name(r) == Some(name))
}

/// The class a name stands for, as miekg/dns's `StringToClass` reads it (upper case): `IN`,
/// `CS` (class 2, which hickory has no name for), `CH`, `HS`, `NONE`, `ANY`.
pub fn class_by_name(name: &str) -> Option<DNSClass> {
    Some(match name {
        "IN" => DNSClass::IN,
        "CS" => DNSClass::Unknown(2),
        "CH" => DNSClass::CH,
        "HS" => DNSClass::HS,
        "NONE" => DNSClass::NONE,
        "ANY" => DNSClass::ANY,
        _ => return None,
    })
}

/// The type a name stands for, as miekg/dns's `StringToType` reads it: upper-case mnemonics
/// only, none for a name it does not know.
pub fn type_by_name(name: &str) -> Option<RecordType> {
    if name.bytes().any(|b| b.is_ascii_lowercase()) {
        return None;
    }
    match name.parse::<RecordType>() {
        Ok(RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

/// The rcode label of CoreDNS's metrics: the name, or `RCODE<n>` (CoreDNS's `rcode.ToString`).
pub fn rcode_label(rcode: ResponseCode) -> Cow<'static, str> {
    match rcode_name(rcode) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("RCODE{}", u16::from(rcode))),
    }
}

/// The type's mnemonic (`A`, `AAAA`, `SRV`), or `TYPE<n>` for one without a name.
pub fn type_name(rtype: RecordType) -> Cow<'static, str> {
    match rtype {
        RecordType::Unknown(n) => Cow::Owned(format!("TYPE{n}")),
        RecordType::ZERO => Cow::Borrowed("None"),
        other => {
            let s: &'static str = other.into();
            Cow::Borrowed(s)
        }
    }
}

/// The class's mnemonic (`IN`, `CH`), or `CLASS<n>`.
pub fn class_name(class: DNSClass) -> Cow<'static, str> {
    match class {
        DNSClass::IN => Cow::Borrowed("IN"),
        DNSClass::CH => Cow::Borrowed("CH"),
        DNSClass::HS => Cow::Borrowed("HS"),
        DNSClass::NONE => Cow::Borrowed("NONE"),
        DNSClass::ANY => Cow::Borrowed("ANY"),
        other => Cow::Owned(format!("CLASS{}", u16::from(other))),
    }
}

/// The header flags as CoreDNS's log writes them: `qr,aa,tc,rd,ra,z,ad,cd`, only those set.
pub fn flags_text(m: &Metadata) -> String {
    let mut out = Vec::new();
    write_flags(&mut out, m);
    // Only ASCII is written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`flags_text`] to `out`, without allocating.
pub fn write_flags(out: &mut Vec<u8>, m: &Metadata) {
    let flags = [
        (m.message_type == hickory_proto::op::MessageType::Response, b"qr"),
        (m.authoritative, b"aa"),
        (m.truncation, b"tc"),
        (m.recursion_desired, b"rd"),
        (m.recursion_available, b"ra"),
        (m.authentic_data, b"ad"),
        (m.checking_disabled, b"cd"),
    ];
    // Each set flag with a comma after it, the last comma then taken back: two-byte constant
    // stores, where an iterator with a "first" flag copied each name with a call.
    let start = out.len();
    for (on, name) in flags {
        if on {
            out.extend_from_slice(name);
            out.push(b',');
        }
    }
    if out.len() > start {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_miekg_reads_them() {
        assert_eq!(rcode_by_name("NXDOMAIN"), Some(ResponseCode::NXDomain));
        assert_eq!(rcode_by_name("NOTIMPL"), Some(ResponseCode::NotImp));
        assert_eq!(rcode_by_name("BADCOOKIE"), Some(ResponseCode::BADCOOKIE));
        assert_eq!(rcode_by_name("BADVERS"), None, "16 is BADSIG in RcodeToString");
        assert_eq!(rcode_by_name("nxdomain"), None);
        assert_eq!(class_by_name("CS"), Some(DNSClass::Unknown(2)));
        assert_eq!(class_by_name("ANY"), Some(DNSClass::ANY));
        assert_eq!(class_by_name("in"), None);
        assert_eq!(type_by_name("AAAA"), Some(RecordType::AAAA));
        assert_eq!(type_by_name("aaaa"), None);
        assert_eq!(type_by_name("BOGUS"), None);
    }

    #[test]
    fn names() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), Some("NXDOMAIN"));
        assert_eq!(rcode_label(ResponseCode::Unknown(12)), "RCODE12");
        assert_eq!(type_name(RecordType::AAAA), "AAAA");
        assert_eq!(type_name(RecordType::Unknown(65280)), "TYPE65280");
        assert_eq!(class_name(DNSClass::CH), "CH");
        let mut m =
            hickory_proto::op::Message::response(1, hickory_proto::op::OpCode::Query).metadata;
        m.authoritative = true;
        m.recursion_desired = true;
        assert_eq!(flags_text(&m), "qr,aa,rd");
        let none = hickory_proto::op::Message::query().metadata;
        assert_eq!(flags_text(&none), "");
        let mut all = m;
        (all.truncation, all.recursion_available, all.authentic_data, all.checking_disabled) =
            (true, true, true, true);
        assert_eq!(flags_text(&all), "qr,aa,tc,rd,ra,ad,cd");
    }
}
