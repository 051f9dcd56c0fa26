//! RFC 9432 catalog zones, read as CoreDNS 1.14.7's `plugin/pkg/catalog` reads them: schema
//! version 2, members as `ID.zones.CATALOG PTR MEMBER`, the `group` and `coo` properties below a
//! member. Anything else in the zone is passed over. The error words are CoreDNS's.

use std::collections::{BTreeMap, HashMap};

use plugin_api::pkg::zone::normalize;
use plugin_api::proto::rr::{DNSClass, RData, Record};

/// The catalog schema version read here (RFC 9432 §4.2.1).
pub const VERSION: &str = "2";

/// A catalog zone's members, by member ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The catalog zone, lower-case and fully qualified.
    pub origin: String,
    /// Sorted by ID.
    pub members: Vec<Member>,
}

/// One member zone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    /// The unique label that names the member in the catalog.
    pub id: String,
    /// The member zone, lower-case and fully qualified.
    pub zone: String,
    /// `group` property values, sorted.
    pub groups: Vec<String>,
    /// The `coo` (change of ownership) property: the catalog this member moves to.
    pub coo: Option<String>,
}

impl Catalog {
    /// The member entry for `zone`, if the catalog lists it.
    pub fn member(&self, zone: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.zone == zone)
    }
}

/// The labels of a lower-case, fully qualified name, leftmost first.
fn labels(name: &str) -> Vec<&str> {
    name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()).collect()
}

/// Reads the catalog in `records`, the whole of zone `origin`.
pub fn parse(origin: &str, records: &[Record]) -> Result<Catalog, String> {
    let origin = normalize(origin);
    let zones_suffix = format!("zones.{origin}");
    let version_owner = format!("version.{origin}");
    // An owner ID.zones.ORIGIN (a member) or PROPERTY.ID.zones.ORIGIN.
    let below_zones = |owner: &str| -> Option<Vec<String>> {
        let rest = owner.strip_suffix(zones_suffix.as_str())?.strip_suffix('.')?;
        Some(labels(rest).into_iter().map(str::to_owned).collect())
    };
    let (mut has_soa, mut has_ns) = (false, false);
    let mut versions = Vec::new();
    let mut ptrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    let mut coo: HashMap<String, Vec<String>> = HashMap::new();
    for r in records {
        if r.dns_class != DNSClass::IN {
            return Err(format!("catalog zone {origin} contains non-IN record {r}"));
        }
        let owner = normalize(&r.name.to_ascii());
        match &r.data {
            RData::SOA(_) if owner == origin => has_soa = true,
            RData::NS(_) if owner == origin => has_ns = true,
            RData::TXT(txt) => {
                let value: String =
                    txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect();
                if owner == version_owner {
                    versions.push(value);
                } else if let Some(l) = below_zones(&owner)
                    && l.len() == 2
                    && l[0] == "group"
                {
                    groups.entry(l[1].clone()).or_default().push(value);
                }
            }
            RData::PTR(ptr) => {
                let target = normalize(&ptr.0.to_ascii());
                match below_zones(&owner) {
                    Some(l) if l.len() == 1 => {
                        ptrs.entry(l[0].clone()).or_default().push(target);
                    }
                    Some(l) if l.len() == 2 && l[0] == "coo" => {
                        coo.entry(l[1].clone()).or_default().push(target);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !has_soa {
        return Err(format!("catalog zone {origin} has no SOA record"));
    }
    if !has_ns {
        return Err(format!("catalog zone {origin} has no NS record"));
    }
    if versions.len() != 1 {
        return Err(format!("catalog zone {origin} must have exactly one version TXT record"));
    }
    if versions[0] != VERSION {
        return Err(format!("catalog zone {origin} has unsupported version {:?}", versions[0]));
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut members = Vec::with_capacity(ptrs.len());
    for (id, zones) in ptrs {
        let [zone] = zones.as_slice() else {
            return Err(format!(
                "catalog member {id}.{zones_suffix} must have exactly one PTR record"
            ));
        };
        if let Some(previous) = seen.insert(zone.clone(), id.clone()) {
            return Err(format!(
                "catalog member zone {zone} is listed by both {previous} and {id}"
            ));
        }
        let mut member_groups = groups.remove(&id).unwrap_or_default();
        member_groups.sort();
        let coo = match coo.remove(&id).unwrap_or_default().as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => return Err(format!("catalog member {id} has more than one coo PTR record")),
        };
        members.push(Member { id, zone: zone.clone(), groups: member_groups, coo });
    }
    Ok(Catalog { origin, members })
}

#[cfg(test)]
mod tests {
    //! CoreDNS's `plugin/pkg/catalog` tests, ported.
    use plugin_api::pkg::zonefile::reader;
    use plugin_api::proto::rr::Name;

    use super::*;

    const HEAD: &str = "$ORIGIN catalog.example.\n@ 0 IN SOA invalid. hostmaster.invalid. 1 3600 600 604800 0\n@ 0 IN NS invalid.\n";

    fn read(text: &str) -> Result<Catalog, String> {
        let origin = Name::from_ascii("catalog.example.").unwrap();
        let records = reader::parse(text, "catalog", &origin).unwrap();
        parse("catalog.example.", &records)
    }

    #[test]
    fn members_groups_and_coo() {
        let cat = read(&format!(
            "{HEAD}version 0 IN TXT \"2\"\nb.zones 0 IN PTR Example.NET.\na.zones 0 IN PTR example.com.\ngroup.a.zones 0 IN TXT \"operator-default\"\ngroup.a.zones 0 IN TXT \"unsigned\"\ncoo.b.zones 0 IN PTR other-catalog.example.\nignored 0 IN TXT \"value\"\n"
        ))
        .unwrap();
        assert_eq!(cat.origin, "catalog.example.");
        assert_eq!(
            cat.members,
            [
                Member {
                    id: "a".into(),
                    zone: "example.com.".into(),
                    groups: vec!["operator-default".into(), "unsigned".into()],
                    coo: None,
                },
                Member {
                    id: "b".into(),
                    zone: "example.net.".into(),
                    groups: vec![],
                    coo: Some("other-catalog.example.".into()),
                },
            ]
        );
    }

    #[test]
    fn broken_catalogs_are_refused() {
        let soa = "$ORIGIN catalog.example.\n@ 0 IN SOA invalid. hostmaster.invalid. 1 3600 600 604800 0\n";
        let ns = "$ORIGIN catalog.example.\n@ 0 IN NS invalid.\n";
        let v2 = "version 0 IN TXT \"2\"\n";
        let cases = [
            (format!("{ns}{v2}a.zones 0 IN PTR example.com.\n"), "no SOA"),
            (format!("{soa}{v2}a.zones 0 IN PTR example.com.\n"), "no NS"),
            (format!("{HEAD}a.zones 0 IN PTR example.com.\n"), "exactly one version"),
            (format!("{HEAD}{v2}{v2}a.zones 0 IN PTR example.com.\n"), "exactly one version"),
            (
                format!("{HEAD}version 0 IN TXT \"1\"\na.zones 0 IN PTR example.com.\n"),
                "unsupported version \"1\"",
            ),
            (
                format!("{HEAD}{v2}a.zones 0 IN PTR example.com.\na.zones 0 IN PTR example.net.\n"),
                "catalog member a.zones.catalog.example. must have exactly one PTR record",
            ),
            (
                format!("{HEAD}{v2}a.zones 0 IN PTR example.com.\nb.zones 0 IN PTR example.com.\n"),
                "catalog member zone example.com. is listed by both a and b",
            ),
            (
                format!(
                    "{HEAD}{v2}a.zones 0 IN PTR example.com.\ncoo.a.zones 0 IN PTR new-a.example.\ncoo.a.zones 0 IN PTR new-b.example.\n"
                ),
                "more than one coo",
            ),
        ];
        for (text, part) in cases {
            let e = read(&text).expect_err(&text);
            assert!(e.contains(part), "{text}: {e}");
        }
    }

    #[test]
    fn a_record_of_another_class_is_refused() {
        // Zone files of class IN cannot hold it; a transfer can.
        let origin = Name::from_ascii("catalog.example.").unwrap();
        let text = format!("{HEAD}version 0 IN TXT \"2\"\na.zones 0 IN PTR example.com.\n");
        let mut records = reader::parse(&text, "catalog", &origin).unwrap();
        records.last_mut().unwrap().dns_class = DNSClass::CH;
        let e = parse("catalog.example.", &records).unwrap_err();
        assert!(e.starts_with("catalog zone catalog.example. contains non-IN record"), "{e}");
    }

    #[test]
    fn an_empty_catalog_has_no_members() {
        assert!(read(&format!("{HEAD}version 0 IN TXT \"2\"\n")).unwrap().members.is_empty());
    }
}
