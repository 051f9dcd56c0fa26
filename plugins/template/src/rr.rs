//! Reading a rendered template as one resource record, as miekg/dns's `NewRR` reads it: zone
//! file syntax, names relative to the root, TTL 3600 and class IN when the text gives none.
//!
//! The zone file reader *file* uses does the reading (`plugin_api::pkg::zonefile::reader`), so
//! a templated record reads as the same line in a zone file would: every type that reader
//! knows, escapes resolved, long strings cut as miekg/dns cuts them. The text is partly the
//! client's (the query name), so directives are refused before it sees them: `$INCLUDE` would
//! read a file, and miekg/dns refuses it in `NewRR` too.

use plugin_api::pkg::zonefile::reader;
use plugin_api::proto::rr::{Name, Record};

/// miekg/dns's default TTL for a record that names none (the reader's too).
pub const DEFAULT_TTL: u32 = 3600;

/// The first record in `text`.
pub fn parse(text: &str) -> Result<Record, String> {
    if text.lines().any(|line| line.trim_start().starts_with('$')) {
        return Err("$ directives are not allowed in a templated record".into());
    }
    let records =
        reader::parse(text, "templated record", &Name::root()).map_err(|e| e.to_string())?;
    records.into_iter().next().ok_or_else(|| format!("no resource record in {text:?}"))
}

#[cfg(test)]
mod tests {
    use plugin_api::proto::rr::{DNSClass, RData, RecordType};

    use super::*;

    #[test]
    fn reads_records_as_new_rr_does() {
        let a = parse("example. 60 IN A 192.0.2.1").unwrap();
        assert_eq!(
            (a.name.to_string().as_str(), a.ttl, a.record_type()),
            ("example.", 60, RecordType::A)
        );
        // No TTL, no class: 3600 and IN; a relative name is under the root.
        let txt = parse("host.example TXT \"a b\"").unwrap();
        assert_eq!(
            (txt.name.to_string().as_str(), txt.ttl, txt.dns_class),
            ("host.example.", 3600, DNSClass::IN)
        );
        let soa =
            parse("example. 60 IN SOA ns.example hostmaster.example (1 60 60 60 60)").unwrap();
        let RData::SOA(soa) = &soa.data else { panic!("{soa:?}") };
        assert_eq!(
            (soa.mname.to_string().as_str(), soa.serial, soa.minimum),
            ("ns.example.", 1, 60)
        );
    }

    /// What hickory's own parser, used before, got wrong: `\DDD` escapes (it read `\195\169` as
    /// two characters of four octets), strings over 255 octets (an error), types it cannot read.
    #[test]
    fn reads_escapes_long_strings_and_rarer_types_as_new_rr_does() {
        let long = "k".repeat(300);
        let txt = parse(&format!("x.example. TXT \"caf\\195\\169\" \"{long}\"")).unwrap();
        let RData::TXT(txt) = &txt.data else { panic!("{txt:?}") };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(
            strings,
            [&b"caf\xc3\xa9"[..], &long.as_bytes()[..255], &long.as_bytes()[255..]]
        );
        let minfo = parse("x.example. 60 IN MINFO admin.example. errors.example.").unwrap();
        assert_eq!(minfo.record_type(), RecordType::from(14));
    }

    #[test]
    fn refuses_what_is_not_one_record() {
        for text in [
            "",
            "   ",
            "example. 60 IN A 300.1.1.1",
            "example. 60 IN BOGUS x",
            "$INCLUDE /etc/passwd",
            " $TTL 5\nx A 1.1.1.1",
            "example. 60 IN A",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
