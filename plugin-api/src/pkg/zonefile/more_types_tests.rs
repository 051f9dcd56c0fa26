use super::loc::precision;
use super::*;
use crate::pkg::zonefile::reader::absolute;

fn read(code: u16, text: &str) -> Result<Vec<u8>, String> {
    let origin = Name::from_ascii("example.org.").unwrap();
    // Split as the lexer splits: a quoted string is one field.
    let line = format!("x {text}\n");
    let entry = crate::pkg::zonefile::lexer::Entries::new(&line).next().unwrap().unwrap();
    let fields: Vec<&str> = entry.fields[1..].iter().map(|f| f.raw).collect();
    wire(code, &fields, &|f| absolute(f, &origin)).expect("a type read here")
}

/// A name in uncompressed wire form.
fn name(text: &str) -> Vec<u8> {
    hickory_proto::serialize::binary::BinEncodable::to_bytes(&Name::from_ascii(text).unwrap())
        .unwrap()
}

#[test]
fn mnemonics_hickory_lacks_are_named_here() {
    assert_eq!(type_code("MINFO"), Some(14));
    assert_eq!(type_code("URI"), Some(256));
    assert_eq!(type_code("A"), None, "hickory's own");
    assert_eq!(any_type("rrsig"), Ok(46));
    assert_eq!(any_type("TYPE1234"), Ok(1234));
    assert!(any_type("BOGUS").is_err());
}

#[test]
fn names_are_written_out_absolute_and_lower_case() {
    let minfo = read(14, "Admin errors.mail.example.org.").unwrap();
    assert_eq!(minfo, [name("admin.example.org."), name("errors.mail.example.org.")].concat());
    let afsdb = read(18, "1 afs-db").unwrap();
    assert_eq!(afsdb, [vec![0, 1], name("afs-db.example.org.")].concat());
    let px = read(26, "10 map822 mapx400").unwrap();
    assert_eq!(
        px,
        [vec![0, 10], name("map822.example.org."), name("mapx400.example.org.")].concat()
    );
    assert_eq!(read(7, "mail").unwrap(), name("mail.example.org."));
}

#[test]
fn strings_addresses_and_digests() {
    assert_eq!(read(99, r#""v=spf1 -all" x\065"#).unwrap(), b"\x0bv=spf1 -all\x02xA");
    assert_eq!(read(256, r#"10 1 "https://e/""#).unwrap(), b"\x00\x0a\x00\x01https://e/");
    assert_eq!(read(108, "00-00-5e-00-53-2a").unwrap(), [0, 0, 0x5e, 0, 0x53, 0x2a]);
    assert_eq!(read(109, "00-00-5e-ef-10-00-00-2a").unwrap().len(), 8);
    assert_eq!(read(49, "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=").unwrap().len(), 35);
    let zonemd = read(63, "2018031900 1 1 FEBE3D4C E6ACAA").unwrap();
    assert_eq!(zonemd[..4], 2018031900u32.to_be_bytes());
    assert_eq!(zonemd[4..], [1, 1, 0xfe, 0xbe, 0x3d, 0x4c, 0xe6, 0xac, 0xaa]);
}

#[test]
fn dnssec_records_read_as_rfc_4034_and_5155_write_them() {
    // RFC 4034 §4.3's NSEC example.
    let nsec = read(47, "host.example.com. A MX RRSIG NSEC TYPE1234").unwrap();
    let mut bitmap = vec![0, 6, 0x40, 0x01, 0, 0, 0, 0x03, 4, 27];
    bitmap.extend([0; 26]);
    bitmap.push(0x20);
    assert_eq!(nsec, [name("host.example.com."), bitmap].concat());
    // RFC 4034 §3.3's RRSIG example, its times written both ways.
    let rrsig = read(
        46,
        "A 5 3 86400 20030322173103 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr PYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6o B9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3t GNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkG J5D6fwFm8nN+6pBzeDQfsS3Ap3o=",
    )
    .unwrap();
    assert_eq!(&rrsig[..4], [0, 1, 5, 3]);
    assert_eq!(&rrsig[4..8], 86400u32.to_be_bytes());
    assert_eq!(&rrsig[8..12], 1048354263u32.to_be_bytes(), "2003-03-22 17:31:03 UTC");
    assert_eq!(&rrsig[12..16], 1045762263u32.to_be_bytes());
    assert_eq!(&rrsig[16..18], 2642u16.to_be_bytes());
    assert_eq!(&rrsig[18..31], name("example.com."));
    assert_eq!(rrsig.len(), 31 + 128, "a 1024-bit RSA signature");
    let seconds = read(46, "A 5 3 86400 1048354263 1045762263 2642 example.com. AAAA").unwrap();
    assert_eq!(&seconds[..31], &rrsig[..31]);
    // RFC 5155 Appendix A's NSEC3 and NSEC3PARAM.
    let nsec3 = read(
        50,
        "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
    )
    .unwrap();
    assert_eq!(&nsec3[..10], [1, 1, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd, 20]);
    assert_eq!(nsec3.len(), 10 + 20 + 2 + 7);
    assert_eq!(read(51, "1 0 12 aabbccdd").unwrap(), [1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd]);
    assert_eq!(read(51, "1 0 0 -").unwrap(), [1, 0, 0, 0, 0]);
}

#[test]
fn bad_data_is_an_error_that_says_what() {
    for (code, text, says) in [
        (14, "one", "too few fields"),
        (7, "a b", "1 fields more"),
        (108, "00-00-5e-00-53", "bad address"),
        (256, "10 1 unquoted", "not quoted"),
        (46, "A 5 3 86400 20031322173103 20030220173103 2642 example.com. AAAA", "signature time"),
        (46, "BOGUS 5 3 86400 1 1 2642 example.com. AAAA", "unknown type"),
        (47, "next. A NOPE", "unknown type"),
        (50, "1 1 12 zz 2t7b4g4vsa5smi47k61mv5bv1a22bojr A", "bad salt"),
        (49, "not base64!", "not base64"),
        (18, "70000 afs", "bad number"),
    ] {
        let e = read(code, text).unwrap_err();
        assert!(e.contains(says), "{code} {text:?}: {e}");
    }
}

#[test]
fn loc_reads_as_rfc_1876_encodes_it() {
    let loc = read(29, "42 21 54 N 71 06 18 W -24m 30m").unwrap();
    // Version 0; size 30 m = 3e3 cm; the default precisions 10 km and 10 m.
    assert_eq!(loc[..4], [0, 0x33, 0x16, 0x13]);
    let north = (42 * 3600 + 21 * 60 + 54) * 1000;
    assert_eq!(loc[4..8], ((1u32 << 31) + north).to_be_bytes());
    let west = (71 * 3600 + 6 * 60 + 18) * 1000;
    assert_eq!(loc[8..12], ((1u32 << 31) - west).to_be_bytes());
    assert_eq!(loc[12..16], (10_000_000u32 - 2400).to_be_bytes());
    assert_eq!(precision("0.5m"), Ok(0x51), "50 cm");
    assert_eq!(precision(".01"), Ok(0x10), "1 cm");
    assert_eq!(precision("90000000m"), Ok(0x99));
    for bad in ["91 N 0 E 0m", "0 0 60 N 0 E 0m", "0 X 0 E 0m", "0 N 0 E high", "0 N 181 E 0m"] {
        assert!(read(29, bad).is_err(), "{bad}");
    }
    assert!(read(29, "0 N 0 E 0m 1.234m").unwrap_err().contains("precision"));
}

#[test]
fn the_other_rarer_types() {
    assert_eq!(read(27, r#""-32.6882" "116.8652" "10.0""#).unwrap()[..9], *b"\x08-32.6882");
    assert!(read(27, r#""1" "2""#).unwrap_err().contains("want 3"));
    assert_eq!(read(20, r#""150862028003217" "004""#).unwrap().len(), 1 + 15 + 1 + 3);
    assert_eq!(
        read(104, "10 0014:4fff:ff20:ee64").unwrap(),
        [0, 10, 0, 0x14, 0x4f, 0xff, 0xff, 0x20, 0xee, 0x64]
    );
    assert!(read(106, "10 2001:0DB8:1140").is_err());
    assert_eq!(read(105, "10 10.1.2.0").unwrap(), [0, 10, 10, 1, 2, 0]);
    let ta = read(32768, "12345 13 2 0123456789ABCDEF").unwrap();
    assert_eq!(ta, [0x30, 0x39, 13, 2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
}

/// UINFO, UID and GID, which neither BIND nor NSD reads (tests/it/zone_types.rs compares the
/// others with BIND): as miekg/dns writes them, UINFO keeping only its first string.
#[test]
fn uinfo_uid_and_gid_are_read_as_miekg_reads_them() {
    assert_eq!(type_code("UINFO"), Some(100));
    assert_eq!(read(100, "\"user info\" dropped").unwrap(), b"\x09user info");
    assert_eq!(read(101, "42").unwrap(), [0, 0, 0, 42]);
    assert_eq!(read(102, "4294967295").unwrap(), [255; 4]);
    assert!(read(101, "-1").is_err());
}

#[test]
fn gateways_address_lists_and_hits_that_do_not_read_are_errors() {
    for (code, text) in [
        (45, "10 1 2 2001:db8::1 AQID"), // IPSECKEY: an IPv6 gateway for type 1
        (45, "10 0 2 gw.example.org. AQID"), // a gateway for type 0, which has none
        (45, "10 4 2 . AQID"),           // no gateway type 4
        (260, "10 2 1 192.0.2.1"),       // AMTRELAY: the D bit is 0 or 1
        (260, "10 0 200 ."),             // the relay type has seven bits
        (42, "1:192.0.2.0/33"),          // APL: a prefix longer than the address
        (42, "3:192.0.2.0/24"),          // no family 3
        (42, "1:2001:db8::/32"),         // an IPv6 address under family 1
        (42, "1:192.0.2.0"),             // no prefix
        (55, "2 XYZ AwEAAQ=="),          // HIP: a HIT that is not hex
        (55, "2 20010010 not-base64!"),  // a key that is not base64
    ] {
        assert!(read(code, text).is_err(), "{code} {text}");
    }
    // An empty APL is a record with no items (RFC 3123 §4).
    assert_eq!(read(42, "").unwrap(), Vec::<u8>::new());
}

/// DS and its kin (CDS, TA, DLV) in one layout, and DNSKEY with its kin (CDNSKEY, KEY), read
/// as miekg/dns reads them: a DS algorithm may be a mnemonic, and the digest or key may be
/// absent.
#[test]
fn ds_and_dnskey_layouts_read_as_miekg_reads_them() {
    let digest = "2BB183AF5F22588179A53B0A98631FAD1A292118";
    let numeric = read(43, &format!("60485 5 1 {digest}")).unwrap();
    assert_eq!(numeric[..4], [0xec, 0x45, 5, 1]);
    for code in [43, 59, 32768, 32769] {
        assert_eq!(read(code, &format!("60485 RSASHA1 1 {digest}")).unwrap(), numeric, "{code}");
        assert_eq!(read(code, "60485 ecdsap256sha256 2").unwrap(), [0xec, 0x45, 13, 2], "{code}");
        assert!(
            read(code, &format!("60485 SHA1 1 {digest}")).is_err(),
            "{code}: no such algorithm"
        );
        assert!(read(code, "60485 5 1 XYZ").is_err(), "{code}: not hex");
    }
    for code in [48, 60, 25] {
        assert_eq!(read(code, "256 3 13 AQID").unwrap(), [1, 0, 3, 13, 1, 2, 3], "{code}");
        assert_eq!(read(code, "256 3 13").unwrap(), [1, 0, 3, 13], "{code}");
        assert!(read(code, "256 3 ECDSAP256SHA256 AQID").is_err(), "{code}: numbers only");
        assert!(read(code, "256 3 13 not-base64!").is_err(), "{code}");
    }
}
