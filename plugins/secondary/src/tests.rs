//! CoreDNS's `secondary` setup tests, ported, and transfers from primaries that misbehave:
//! garbage, a stop halfway, silence. Against NSD over sockets: tests/it/secondary.rs.

use plugin_api::Controller;
use plugin_api::proto::rr::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Secondary, parse, xfr};

fn parsed(text: &str) -> Result<Vec<Secondary>, String> {
    parse(&mut Controller::from_text(text)).map(|(s, _)| s).map_err(|e| e.to_string())
}

#[test]
fn setup_table() {
    let s = parsed("secondary example.org {\n transfer from 10.0.0.1 10.0.0.2:5353\n}").unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].origin, "example.org.");
    assert_eq!(s[0].from, ["10.0.0.1:53".parse().unwrap(), "10.0.0.2:5353".parse().unwrap()]);
    let (_, fall) = parse(&mut Controller::from_text(
        "secondary example.org {\n transfer from 10.0.0.1\n fallthrough\n}",
    ))
    .unwrap();
    assert!(fall.through("x.example.org."));
    // `catalog` lines (CoreDNS's setup_test.go cases).
    let catalog = |text: &str| parsed(text).unwrap()[0].catalog.clone();
    let block =
        |lines: &str| format!("secondary catalog.example {{\n transfer from 10.0.0.1\n{lines}}}");
    assert_eq!(catalog(&block("")), None);
    assert_eq!(catalog(&block(" catalog\n")), Some(vec![]));
    let two = ["example.org.".to_string(), "internal.example.".to_string()];
    assert_eq!(catalog(&block(" catalog EXAMPLE.ORG internal.example\n")).unwrap(), two);
    assert_eq!(
        catalog(&block(" catalog example.org EXAMPLE.ORG\n catalog internal.example\n")).unwrap(),
        two
    );
    assert_eq!(catalog(&block(" catalog example.org\n catalog\n")), Some(vec![]));
    let failing = [
        ("secondary example.org", "secondary zones require a transfer from property"),
        ("secondary example.org {\n transfer\n}", "Wrong argument count"),
        ("secondary example.org {\n transfer from\n}", "Wrong argument count"),
        ("secondary example.org {\n transfer to 10.0.0.1\n}", "unknown property to"),
        ("secondary example.org {\n transfer from *\n}", "can't use '*' in transfer from"),
        (
            "secondary example.org {\n transfer from example.com\n}",
            "must specify an IP address: `example.com'",
        ),
        ("secondary example.org {\n bogus\n}", "unknown property 'bogus'"),
        (
            "secondary example.org {\n transfer from 10.0.0.1\n upstream\n}",
            "unknown property 'upstream'",
        ),
        (
            "secondary catalog.example {\n transfer from 127.0.0.1\n catalog :\n}",
            "invalid catalog member zone \":\"",
        ),
    ];
    for (text, part) in failing {
        let e = parsed(text).expect_err(text);
        assert!(e.contains(part), "{text}: {e}");
    }
}

/// A primary that reads the query and then does `reply` with the connection.
async fn primary(reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply).await;
            // Held open: a primary that stops writing but does not close.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_garbage_or_half_transfer_is_an_error_not_a_zone() {
    let origin = Name::from_ascii("example.org.").unwrap();
    let garbage = primary(b"\x00\x05hello").await;
    let e = xfr::axfr(garbage, &origin).await.unwrap_err();
    assert!(e.contains("does not decode") || e.contains("another id"), "{e}");
    let silent = primary(b"").await;
    let step = std::time::Duration::from_millis(200);
    let e = xfr::axfr_within(silent, &origin, step).await.unwrap_err();
    assert!(e.contains("timed out"), "{e}");
}

#[tokio::test]
async fn a_primary_that_stops_halfway_times_out() {
    use plugin_api::proto::op::{Message, MessageType};
    use plugin_api::proto::rr::{RData, Record, rdata::SOA};
    // Answers the query's id with the zone's opening SOA, then sends nothing more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut q).await.unwrap();
        let query = Message::from_vec(&q).unwrap();
        let mut m = Message::query();
        m.metadata.id = query.metadata.id;
        m.metadata.message_type = MessageType::Response;
        let origin = Name::from_ascii("example.org.").unwrap();
        let soa = SOA::new(origin.clone(), origin.clone(), 1, 2, 3, 4, 5);
        m.answers.push(Record::from_rdata(origin, 60, RData::SOA(soa)));
        let bytes = m.to_vec().unwrap();
        s.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    });
    let origin = Name::from_ascii("example.org.").unwrap();
    let step = std::time::Duration::from_millis(300);
    let e = xfr::axfr_within(addr, &origin, step).await.unwrap_err();
    assert!(e.contains("transfer timed out"), "{e}");
}

mod members {
    //! The member zones a catalog adds, resets, moves and removes (CoreDNS's
    //! `plugin/secondary/catalog_test.go` cases). The members' transfers go nowhere: only the
    //! table is looked at.
    use std::sync::Arc;

    use plugin_api::pkg::zonefile::ZoneChanges;

    use crate::catalog::{Catalog, Member};
    use crate::members::{Catalogs, Shared};
    use crate::{Entry, Held, Secondary};

    /// A primary nobody answers at.
    const NOWHERE: &str = "127.0.0.1:9";

    fn catalog_zone(origin: &str) -> Secondary {
        Secondary {
            origin: origin.into(),
            from: vec![NOWHERE.parse().unwrap()],
            catalog: Some(vec![]),
        }
    }

    fn listing(origin: &str, members: &[(&str, &str, Option<&str>)]) -> Catalog {
        Catalog {
            origin: origin.into(),
            members: members
                .iter()
                .map(|(id, zone, coo)| Member {
                    id: (*id).into(),
                    zone: (*zone).into(),
                    groups: vec![],
                    coo: coo.map(Into::into),
                })
                .collect(),
        }
    }

    /// A table of `configured` zones, with the given catalogs and their restrictions.
    fn shared(configured: &[&str], allowed: &[(&str, &[&str])]) -> Shared {
        let table = configured
            .iter()
            .map(|z| Entry { origin: (*z).into(), held: Arc::new(Held::new(vec![])) })
            .collect();
        let allowed = allowed
            .iter()
            .map(|(c, zones)| ((*c).to_string(), zones.iter().map(|z| z.to_string()).collect()))
            .collect();
        Shared::new(
            table,
            Catalogs::new(allowed),
            ZoneChanges::of(&plugin_api::Controller::from_text("")),
        )
    }

    fn zones(s: &Shared) -> Vec<String> {
        let mut v: Vec<String> = s.table.load().iter().map(|e| e.origin.clone()).collect();
        v.sort();
        v
    }

    fn held(s: &Shared, zone: &str) -> Arc<Held> {
        s.table.load().iter().find(|e| e.origin == zone).unwrap().held.clone()
    }

    /// A zone with one SOA, standing for transferred data.
    fn some_zone(origin: &str) -> Arc<plugin_api::pkg::zonefile::Zone> {
        let name = plugin_api::proto::rr::Name::from_ascii(origin).unwrap();
        let text = "@ 60 IN SOA ns hostmaster 1 2 3 4 5\n@ 60 IN NS ns\n";
        let records = plugin_api::pkg::zonefile::reader::parse(text, "t", &name).unwrap();
        Arc::new(plugin_api::pkg::zonefile::Zone::new(&name, records).unwrap())
    }

    #[tokio::test]
    async fn members_come_and_go_with_the_catalog() {
        let s = shared(&["catalog.example."], &[("catalog.example.", &[])]);
        let cat = catalog_zone("catalog.example.");
        s.apply(
            &cat,
            listing(
                "catalog.example.",
                &[("a", "example.com.", None), ("b", "example.net.", None)],
            ),
        );
        assert_eq!(zones(&s), ["catalog.example.", "example.com.", "example.net."]);
        // A member transfers from the catalog's primaries.
        assert_eq!(held(&s, "example.com.").from, cat.from);
        s.apply(&cat, listing("catalog.example.", &[("a", "example.com.", None)]));
        assert_eq!(zones(&s), ["catalog.example.", "example.com."]);
    }

    #[tokio::test]
    async fn member_zones_outside_the_restriction_are_skipped() {
        let s = shared(&["catalog.example."], &[("catalog.example.", &["example.com."])]);
        s.apply(
            &catalog_zone("catalog.example."),
            listing(
                "catalog.example.",
                &[
                    ("a", "example.com.", None),
                    ("b", "sub.example.com.", None),
                    ("c", "example.net.", None),
                ],
            ),
        );
        assert_eq!(zones(&s), ["catalog.example.", "example.com.", "sub.example.com."]);
    }

    #[tokio::test]
    async fn a_configured_zone_is_never_taken_over() {
        let s = shared(&["catalog.example.", "example.com."], &[("catalog.example.", &[])]);
        let before = held(&s, "example.com.");
        s.apply(
            &catalog_zone("catalog.example."),
            listing("catalog.example.", &[("a", "example.com.", None)]),
        );
        assert!(Arc::ptr_eq(&before, &held(&s, "example.com.")));
        // And a catalog that no longer lists it does not remove it.
        s.apply(&catalog_zone("catalog.example."), listing("catalog.example.", &[]));
        assert_eq!(zones(&s), ["catalog.example.", "example.com."]);
    }

    #[tokio::test]
    async fn a_new_member_id_resets_the_zone() {
        let s = shared(&["catalog.example."], &[("catalog.example.", &[])]);
        let cat = catalog_zone("catalog.example.");
        s.apply(&cat, listing("catalog.example.", &[("a", "example.com.", None)]));
        held(&s, "example.com.").zone.store(Some(some_zone("example.com.")));
        // The same ID again keeps the zone and its data.
        let first = held(&s, "example.com.");
        s.apply(&cat, listing("catalog.example.", &[("a", "example.com.", None)]));
        assert!(Arc::ptr_eq(&first, &held(&s, "example.com.")));
        s.apply(&cat, listing("catalog.example.", &[("b", "example.com.", None)]));
        let reset = held(&s, "example.com.");
        assert!(!Arc::ptr_eq(&first, &reset));
        assert!(reset.zone.load().is_none(), "a reset member is transferred afresh");
    }

    #[tokio::test]
    async fn ownership_moves_only_when_the_old_catalog_says_so() {
        let s = shared(
            &["old.example.", "new.example."],
            &[("old.example.", &[]), ("new.example.", &[])],
        );
        let (old, new) = (catalog_zone("old.example."), catalog_zone("new.example."));
        s.apply(&old, listing("old.example.", &[("a", "example.com.", None)]));
        held(&s, "example.com.").zone.store(Some(some_zone("example.com.")));
        let owned = held(&s, "example.com.");
        // Without coo the new catalog is refused the zone.
        s.apply(&new, listing("new.example.", &[("a", "example.com.", None)]));
        assert!(Arc::ptr_eq(&owned, &held(&s, "example.com.")));
        // With coo pointing at it, and the same ID, the zone moves with its data.
        s.apply(&old, listing("old.example.", &[("a", "example.com.", Some("new.example."))]));
        s.apply(&new, listing("new.example.", &[("a", "example.com.", None)]));
        let moved = held(&s, "example.com.");
        assert!(!Arc::ptr_eq(&owned, &moved));
        assert!(moved.zone.load().is_some(), "same ID: the data is kept");
        // The old catalog dropping the member no longer removes it: the new one owns it.
        s.apply(&old, listing("old.example.", &[]));
        assert!(zones(&s).contains(&"example.com.".to_string()));
    }

    #[tokio::test]
    async fn a_move_with_another_id_resets_the_zone() {
        let s = shared(
            &["old.example.", "new.example."],
            &[("old.example.", &[]), ("new.example.", &[])],
        );
        let (old, new) = (catalog_zone("old.example."), catalog_zone("new.example."));
        s.apply(&old, listing("old.example.", &[("a", "example.com.", Some("new.example."))]));
        held(&s, "example.com.").zone.store(Some(some_zone("example.com.")));
        s.apply(&new, listing("new.example.", &[("b", "example.com.", None)]));
        assert!(held(&s, "example.com.").zone.load().is_none());
    }
}
