//! The zone reader's errors and RFC 1034's lookup, on a zone written to exercise each rule.
//! Over sockets, beside NSD answering the same file: tests/it/file.rs.

use crate::proto::op::ResponseCode;
use crate::proto::rr::RecordType;

use super::zone::{Answer, Zone};
use super::{Problem, load_text};

/// A record from its presentation form (`owner TTL IN TYPE DATA`), built with hickory's own
/// record-data parser, independently of the zone reader under test.
fn rr(text: &str) -> crate::proto::rr::Record {
    use crate::proto::rr::{Name, RData, Record};
    let mut parts = text.split_whitespace();
    let owner = Name::from_ascii(parts.next().expect("owner")).expect("owner name");
    let ttl: u32 = parts.next().expect("ttl").parse().expect("ttl");
    assert_eq!(parts.next(), Some("IN"));
    let rtype: RecordType = parts.next().expect("type").parse().expect("type");
    let rest: Vec<&str> = parts.collect();
    let rdata = RData::try_from_str(rtype, &rest.join(" ")).expect("record data");
    Record::from_rdata(owner, ttl, rdata)
}

const ZONE: &str = r#"$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )
        IN NS  ns1
        IN NS  ns2.example.net.
        IN MX  10 mail
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
        IN AAAA 2001:db8::25
www     300 IN A 192.0.2.80
alias   IN CNAME www
chain   IN CNAME alias
out     IN CNAME www.example.net.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
*.wild  IN A   192.0.2.99
host.wild IN TXT "explicit"
a.b.c   IN A   192.0.2.1
_sip._tcp IN SRV 0 5 5060 mail
sub     IN NS  ns.sub
        IN DS  12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE
ns.sub  IN A   192.0.2.54
dn      IN DNAME target.example.org.
x.target IN A  192.0.2.7
"#;

pub(crate) fn zone() -> Zone {
    match load_text(ZONE, "db.example.org", "example.org.") {
        Ok(z) => z,
        Err(e) => panic!("{e:?}"),
    }
}

pub(crate) fn texts(records: &[crate::proto::rr::Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

fn expect(a: &Answer, rcode: ResponseCode, aa: bool, answer: &[&str], ns: &[&str], extra: &[&str]) {
    let want = |rs: &[&str]| texts(&rs.iter().map(|r| rr(r)).collect::<Vec<_>>());
    assert_eq!((a.rcode, a.authoritative), (rcode, aa), "{a:?}");
    assert_eq!(texts(&a.answers), want(answer), "answer");
    assert_eq!(texts(&a.authority), want(ns), "authority");
    assert_eq!(texts(&a.additional), want(extra), "additional");
}

const ZONE_SOA: &str = "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300";
const APEX_NS: [&str; 2] =
    ["example.org. 3600 IN NS ns1.example.org.", "example.org. 3600 IN NS ns2.example.net."];

#[test]
fn exact_answers_carry_the_apex_ns_and_additional_addresses() {
    use RecordType::*;
    let z = zone();
    expect(
        &z.lookup("www.example.org.", A),
        ResponseCode::NoError,
        true,
        &["www.example.org. 300 IN A 192.0.2.80"],
        &APEX_NS,
        &[],
    );
    expect(
        &z.lookup("example.org.", MX),
        ResponseCode::NoError,
        true,
        &["example.org. 3600 IN MX 10 mail.example.org."],
        &APEX_NS,
        &["mail.example.org. 3600 IN A 192.0.2.25", "mail.example.org. 3600 IN AAAA 2001:db8::25"],
    );
    expect(
        &z.lookup("example.org.", NS),
        ResponseCode::NoError,
        true,
        &APEX_NS,
        &[],
        &["ns1.example.org. 3600 IN A 192.0.2.53"],
    );
    expect(
        &z.lookup("_sip._tcp.example.org.", SRV),
        ResponseCode::NoError,
        true,
        &["_sip._tcp.example.org. 3600 IN SRV 0 5 5060 mail.example.org."],
        &APEX_NS,
        &["mail.example.org. 3600 IN A 192.0.2.25", "mail.example.org. 3600 IN AAAA 2001:db8::25"],
    );
}

#[test]
fn denials_carry_the_soa() {
    use RecordType::*;
    let z = zone();
    expect(&z.lookup("nope.example.org.", A), ResponseCode::NXDomain, true, &[], &[ZONE_SOA], &[]);
    expect(&z.lookup("www.example.org.", AAAA), ResponseCode::NoError, true, &[], &[ZONE_SOA], &[]);
    // b.c and c exist: they have a name below them (empty non-terminals).
    expect(&z.lookup("b.c.example.org.", A), ResponseCode::NoError, true, &[], &[ZONE_SOA], &[]);
    expect(&z.lookup("c.example.org.", A), ResponseCode::NoError, true, &[], &[ZONE_SOA], &[]);
    expect(&z.lookup("x.c.example.org.", A), ResponseCode::NXDomain, true, &[], &[ZONE_SOA], &[]);
}

#[test]
fn cname_chains_are_followed_inside_the_zone() {
    use RecordType::*;
    let z = zone();
    expect(
        &z.lookup("chain.example.org.", A),
        ResponseCode::NoError,
        true,
        &[
            "chain.example.org. 3600 IN CNAME alias.example.org.",
            "alias.example.org. 3600 IN CNAME www.example.org.",
            "www.example.org. 300 IN A 192.0.2.80",
        ],
        &APEX_NS,
        &[],
    );
    expect(
        &z.lookup("alias.example.org.", CNAME),
        ResponseCode::NoError,
        true,
        &["alias.example.org. 3600 IN CNAME www.example.org."],
        &APEX_NS,
        &[],
    );
    expect(
        &z.lookup("out.example.org.", A),
        ResponseCode::NoError,
        true,
        &["out.example.org. 3600 IN CNAME www.example.net."],
        &[],
        &[],
    );
    let looped = z.lookup("loop1.example.org.", A);
    assert_eq!(looped.answers.len(), 2, "a loop ends: {looped:?}");
}

#[test]
fn wildcards_answer_below_their_closest_encloser_only() {
    use RecordType::*;
    let z = zone();
    expect(
        &z.lookup("any.wild.example.org.", A),
        ResponseCode::NoError,
        true,
        &["any.wild.example.org. 3600 IN A 192.0.2.99"],
        &APEX_NS,
        &[],
    );
    expect(
        &z.lookup("a.b.wild.example.org.", A),
        ResponseCode::NoError,
        true,
        &["a.b.wild.example.org. 3600 IN A 192.0.2.99"],
        &APEX_NS,
        &[],
    );
    // host.wild exists: the wildcard does not cover it or what is below it (RFC 4592 §2.2).
    expect(
        &z.lookup("host.wild.example.org.", A),
        ResponseCode::NoError,
        true,
        &[],
        &[ZONE_SOA],
        &[],
    );
    expect(
        &z.lookup("x.host.wild.example.org.", A),
        ResponseCode::NXDomain,
        true,
        &[],
        &[ZONE_SOA],
        &[],
    );
    expect(
        &z.lookup("any.wild.example.org.", MX),
        ResponseCode::NoError,
        true,
        &[],
        &[ZONE_SOA],
        &[],
    );
}

#[test]
fn delegations_refer_with_glue_and_the_parent_answers_ds() {
    use RecordType::*;
    let z = zone();
    let ns = "sub.example.org. 3600 IN NS ns.sub.example.org.";
    let glue = "ns.sub.example.org. 3600 IN A 192.0.2.54";
    expect(&z.lookup("www.sub.example.org.", A), ResponseCode::NoError, false, &[], &[ns], &[glue]);
    expect(&z.lookup("sub.example.org.", NS), ResponseCode::NoError, false, &[], &[ns], &[glue]);
    expect(&z.lookup("ns.sub.example.org.", A), ResponseCode::NoError, false, &[], &[ns], &[glue]);
    let ds = z.lookup("sub.example.org.", DS);
    assert!(ds.authoritative);
    assert_eq!(ds.answers.len(), 1);
    assert_eq!(ds.answers[0].record_type(), DS);
}

#[test]
fn dname_is_synthesized() {
    let z = zone();
    let a = z.lookup("x.dn.example.org.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    let types: Vec<RecordType> = a.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::DNAME, RecordType::CNAME, RecordType::A]);
    assert_eq!(a.answers[1].to_string(), "x.dn.example.org. 3600 IN CNAME x.target.example.org.");
    assert_eq!(a.answers[2].to_string(), "x.target.example.org. 3600 IN A 192.0.2.7");
}

#[test]
fn bad_files_are_errors_with_file_and_line() {
    let soa = "@ IN SOA ns1 hostmaster 1 2 3 4 5\n";
    let cases = [
        (format!("{soa}www IN A 300.1.2.3\n"), "db:2: bad A data"),
        (format!("{soa}www IN BOGUS x\n"), "db:2: unknown record type \"BOGUS\""),
        (format!("{soa}\nwww IN MX ten mail\n"), "db:3: bad MX data"),
        (format!("{soa}www IN SOA ( 1 2\n"), "db:2: unclosed parenthesis"),
        (format!("{soa}$FOO bar\n"), "db:2: unknown directive $FOO"),
        (
            format!("{soa}$INCLUDE /no/such/file\n"),
            "db:2: $INCLUDE /no/such/file: no such file or directory",
        ),
        (format!("{soa}www CH A 1.2.3.4\n"), "db:2: class CH in a zone of class IN"),
        ("www IN A 192.0.2.1\n".to_string(), "no SOA record at the apex example.org."),
        (
            format!("{soa}www IN CNAME a\nwww IN A 192.0.2.1\n"),
            "www.example.org. has a CNAME and other data",
        ),
        (
            format!("{soa}www.example.net. IN A 192.0.2.1\n"),
            "www.example.net. is out of zone example.org.",
        ),
    ];
    for (text, want) in cases {
        match load_text(&text, "db", "example.org.") {
            Err(Problem::Parse(e)) => assert!(e.contains(want), "{text:?}: {e}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn includes_ttls_and_generic_data_are_read() {
    let dir = crate::test_util::ScratchDir::new("zonefile-include");
    dir.write("hosts.inc", "h1 A 192.0.2.11\nh2 1h A 192.0.2.12\n");
    let text = "$TTL 5m\n@ SOA ns1 hostmaster 1 2 3 4 5\n$INCLUDE hosts.inc sub\nafter A 192.0.2.13\ngen TYPE99 \\# 3 616263\nraw A \\# 4 C0000201\nempty TYPE98 \\# 0\n";
    let file = dir.join("db").display().to_string();
    let z = load_text(text, &file, "example.org.").map_err(|e| format!("{e:?}")).unwrap();
    let a = |n: &str| texts(&z.lookup(n, RecordType::A).answers);
    assert_eq!(a("h1.sub.example.org."), ["h1.sub.example.org. 300 IN A 192.0.2.11"]);
    assert_eq!(a("h2.sub.example.org."), ["h2.sub.example.org. 3600 IN A 192.0.2.12"]);
    // $TTL applies after the include; the origin the include set ends with it.
    assert_eq!(a("after.example.org."), ["after.example.org. 300 IN A 192.0.2.13"]);
    assert_eq!(a("raw.example.org."), ["raw.example.org. 300 IN A 192.0.2.1"]);
    assert_eq!(z.lookup("gen.example.org.", RecordType::from(99)).answers.len(), 1);
    // Empty data is legal in RFC 3597's form (the fuzzer's find).
    assert_eq!(z.lookup("empty.example.org.", RecordType::from(98)).answers.len(), 1);
}

#[test]
fn serials_compare_as_rfc_1982_says() {
    assert!(super::serial_newer(2, 1));
    assert!(!super::serial_newer(1, 1));
    assert!(!super::serial_newer(1, 2));
    assert!(super::serial_newer(0, u32::MAX));
}

#[test]
fn parents_end_at_the_root() {
    use super::zone::parent;
    assert_eq!(parent("a.example.org."), Some("example.org."));
    assert_eq!(parent("org."), Some("."));
    assert_eq!(parent("."), None);
    assert_eq!(parent("a\\.b.org."), Some("org."), "an escaped dot is inside a label");
}

#[test]
fn a_block_hears_only_its_own_zone_changes() {
    use crate::{Controller, Dispenser, Shared};
    let shared = Shared::default();
    let block = |i| Controller::new(Dispenser::from_text(""), vec![".".into()], i);
    let (first, second) = (block(0).with_shared(shared.clone()), block(1).with_shared(shared));
    let (ours, theirs) = (super::ZoneChanges::of(&first), super::ZoneChanges::of(&second));
    let mut heard = ours.subscribe();
    theirs.announce("example.net.", 7);
    ours.announce("example.org.", 2);
    drop((ours, theirs, first, second));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(heard.recv()), Some(("example.org.".to_string(), 2)));
    assert_eq!(rt.block_on(heard.recv()), None, "the other block's change is not heard");
}

#[test]
fn the_serial_is_read_from_the_soa_without_the_rest() {
    let dir = crate::test_util::ScratchDir::new("zonefile-serial");
    let write = |name: &str, text: &str| dir.write(name, text).display().to_string();
    let soa = "@ 3600 IN SOA ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )\n";
    // What follows the SOA is not read: a broken record there does not matter.
    let f = write("early", &format!("$ORIGIN example.org.\n{soa}www IN A not-an-address\n"));
    assert_eq!(super::serial(&f, "example.org.").unwrap(), 2_024_010_101);
    // An SOA past the first 64 KiB, and a prefix that ends inside a comment's multi-byte
    // character: the whole file is read.
    let filler = "; ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\n".repeat(1200);
    let f = write("late", &format!("$ORIGIN example.org.\n{filler}{soa}"));
    assert!(std::fs::metadata(&f).unwrap().len() > 64 * 1024);
    assert_eq!(super::serial(&f, "example.org.").unwrap(), 2_024_010_101);
    // The prefix ends in the middle of the SOA's parentheses.
    let pad = ";".repeat(64 * 1024 - 40);
    let f = write("cut", &format!("{pad}\n$ORIGIN example.org.\n{soa}"));
    assert_eq!(super::serial(&f, "example.org.").unwrap(), 2_024_010_101);
    // No SOA, or none readable before an error: an error, with the file's line.
    let f = write("none", "$ORIGIN example.org.\nwww IN A 192.0.2.1\n");
    assert!(matches!(super::serial(&f, "example.org."), Err(Problem::Parse(_))));
    let f = write("broken", "$ORIGIN example.org.\nwww IN A nope\n@ IN SOA a b 1 2 3 4 5\n");
    let Err(Problem::Parse(e)) = super::serial(&f, "example.org.") else { panic!() };
    assert!(e.contains("broken:2:"), "{e}");
    assert!(matches!(super::serial("/nonexistent/db", "example.org."), Err(Problem::Open(_))));
}

#[test]
fn character_strings_resolve_escapes_and_long_ones_are_cut_as_miekg_cuts() {
    use crate::proto::rr::RData;
    let long = "k".repeat(300);
    let text = format!(
        "@ 300 SOA ns1 hostmaster 1 2 3 4 5\n\
         dkim 300 TXT \"v=DKIM1\\059 p={long}\"\n\
         utf8 300 TXT \"caf\\195\\169\" \"\" plain\n\
         sip 300 NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info\\064example.org!\" .\n\
         over 300 TXT \"\\256\"\n"
    );
    let z = load_text(&text, "db", "example.org.");
    let Err(Problem::Parse(e)) = z else { panic!("\\256 is no octet: {z:?}") };
    assert!(e.starts_with("db:5: ") && e.contains("bad escape"), "{e}");

    let text = text.lines().take(4).collect::<Vec<_>>().join("\n");
    let z = load_text(&text, "db", "example.org.").map_err(|e| format!("{e:?}")).unwrap();
    let txt = |n: &str| -> Vec<Vec<u8>> {
        match &z.lookup(n, RecordType::TXT).answers[0].data {
            RData::TXT(t) => t.txt_data.iter().map(|s| s.to_vec()).collect(),
            other => panic!("{other:?}"),
        }
    };
    // `v=DKIM1; p=` and 300 more, 311 octets: a string of 255 and one of the 56 left.
    let dkim = txt("dkim.example.org.");
    assert_eq!(dkim.iter().map(Vec::len).collect::<Vec<_>>(), [255, 56]);
    assert!(dkim[0].starts_with(b"v=DKIM1; p=kkk"));
    assert_eq!(txt("utf8.example.org."), [b"caf\xc3\xa9".to_vec(), vec![], b"plain".to_vec()]);
    let RData::NAPTR(naptr) = &z.lookup("sip.example.org.", RecordType::NAPTR).answers[0].data
    else {
        panic!("a NAPTR")
    };
    assert_eq!(&*naptr.regexp, b"!^.*$!sip:info@example.org!");
}
