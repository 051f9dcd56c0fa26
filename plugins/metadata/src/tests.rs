//! CoreDNS 1.14.7's `plugin/metadata/setup_test.go` (`TestSetup`, `TestSetupHealth`) and
//! `metadata_test.go` (`TestMetadataServeDNS`; `TestLabelFormat` is plugin-api's
//! `metadata::is_label` test), ported.

use super::*;
use plugin_api::Meta;
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::request;

#[test]
fn setup_table() {
    let ok: &[(&str, &[&str])] = &[
        ("metadata", &["."]),
        ("metadata example.com.", &["example.com."]),
        ("metadata example.com. net.", &["example.com.", "net."]),
        ("metadata example.com net", &["example.com.", "net."]),
    ];
    for (text, want) in ok {
        let zones =
            parse(&mut Controller::from_text(text)).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(zones.0, *want, "{text}");
    }
    for text in ["metadata example.com. { some_param }", "metadata\nmetadata"] {
        let e = parse(&mut Controller::from_text(text)).expect_err(text).to_string();
        assert!(
            e.contains("plugin/metadata: ") && e.contains("Wrong argument count"),
            "{text}: {e}"
        );
        assert!(e.contains("Testfile:"), "{text}: located: {e}");
    }
}

/// A provider publishing fixed labels, and whether it was asked.
struct Provider(&'static [(&'static str, &'static str)]);

impl Plugin for Provider {
    fn name(&self) -> &'static str {
        "test"
    }
    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req)
    }
    fn provides_metadata(&self) -> bool {
        true
    }
    fn metadata(&self, _req: &Request, meta: &mut Meta) {
        for (label, value) in self.0 {
            meta.set(label, value);
        }
    }
}

/// A plugin that would publish, but does not say it provides: never asked.
struct Silent;

impl Plugin for Silent {
    fn name(&self) -> &'static str {
        "silent"
    }
    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req)
    }
    fn metadata(&self, _req: &Request, meta: &mut Meta) {
        meta.set("silent/x", "1");
    }
}

#[test]
fn every_provider_publishes_in_the_zones() {
    let chain: Vec<Arc<dyn Plugin>> = vec![
        Arc::new(Provider(&[("test/key1", "testvalue1")])),
        Arc::new(Silent),
        Arc::new(Provider(&[("test/key2", "two"), ("test/key3", "testvalue3")])),
    ];
    let collector = Collector::new(vec!["example.org.".into()], &chain).expect("providers");
    let mut req = request("www.example.org.", RecordType::A);
    collector.collect(&mut req);
    let all: Vec<_> = req.meta().iter().collect();
    assert_eq!(
        all,
        [("test/key1", "testvalue1"), ("test/key2", "two"), ("test/key3", "testvalue3")]
    );

    // Outside the zones nothing is collected.
    let mut other = request("www.example.net.", RecordType::A);
    collector.collect(&mut other);
    assert!(other.meta().is_empty());
}

#[test]
fn a_chain_without_providers_collects_nothing() {
    let chain: Vec<Arc<dyn Plugin>> = vec![Arc::new(Silent)];
    assert!(Collector::new(vec![".".into()], &chain).is_none());
}
