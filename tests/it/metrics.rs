//! `/metrics`: CoreDNS's names, labels and buckets, read back through a parser of the text
//! format and compared as deltas.

use hickory_proto::rr::RecordType;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn query_counters_move_by_what_was_asked() {
    let s = TestServer::start("metrics-a.test:0 {\n prometheus localhost:0\n whoami\n}").await;
    let zone = ("zone", "metrics-a.test.");
    let before = scrape(&s).await;
    let get = |samples: &[Sample], name: &str, labels: &[(&str, &str)]| {
        let mut all = vec![zone];
        all.extend_from_slice(labels);
        metric(samples, name, &all).unwrap_or(0.0)
    };

    for _ in 0..3 {
        s.udp("x.metrics-a.test.", RecordType::A).await;
    }
    s.udp("x.metrics-a.test.", RecordType::AAAA).await;
    s.udp("x.metrics-a.test.", RecordType::CAA).await;
    s.tcp("x.metrics-a.test.", RecordType::A).await;

    let after = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        get(&after, name, labels) - get(&before, name, labels)
    };
    let req = "coredns_dns_requests_total";
    let udp = [("server", "dns://:0"), ("view", ""), ("proto", "udp"), ("family", "1")];
    assert_eq!(delta(req, &[udp.as_slice(), &[("type", "A")]].concat()), 3.0);
    assert_eq!(delta(req, &[udp.as_slice(), &[("type", "AAAA")]].concat()), 1.0);
    assert_eq!(delta(req, &[udp.as_slice(), &[("type", "other")]].concat()), 1.0);
    assert_eq!(delta(req, &[("proto", "tcp"), ("type", "A")]), 1.0);
    let resp = [("rcode", "NOERROR"), ("plugin", "whoami")];
    assert_eq!(delta("coredns_dns_responses_total", &resp), 6.0);
    assert_eq!(delta("coredns_dns_request_duration_seconds_count", &[]), 6.0);
    assert_eq!(delta("coredns_dns_request_size_bytes_count", &[("proto", "udp")]), 5.0);
    assert_eq!(delta("coredns_dns_response_size_bytes_count", &[("proto", "tcp")]), 1.0);
    // CoreDNS's buckets.
    assert!(
        metric(&after, "coredns_dns_request_duration_seconds_bucket", &[zone, ("le", "0.00025")])
            .is_some()
    );
    assert!(
        metric(&after, "coredns_dns_request_duration_seconds_bucket", &[zone, ("le", "8.192")])
            .is_some()
    );
    assert!(
        metric(&after, "coredns_dns_response_size_bytes_bucket", &[zone, ("le", "511")]).is_some()
    );
    assert!(
        metric(&after, "coredns_dns_response_size_bytes_bucket", &[zone, ("le", "64000")])
            .is_some()
    );
    // The block's plugins, the build, the process.
    for name in ["prometheus", "whoami"] {
        assert_eq!(metric(&after, "coredns_plugin_enabled", &[zone, ("name", name)]), Some(1.0));
    }
    assert_eq!(metric(&after, "coredns_build_info", &[("version", "1.14.7")]), Some(1.0));
    assert!(metric(&after, "coredns_panics_total", &[]).is_some());
    assert!(metric(&after, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_queries_count_as_dropped() {
    let s = TestServer::start("metrics-b.test:0 {\n prometheus localhost:0\n whoami\n}").await;
    let labels = [("server", "dns://:0"), ("zone", "dropped"), ("type", "MX")];
    let before = metric(&scrape(&s).await, "coredns_dns_requests_total", &labels).unwrap_or(0.0);
    s.udp("elsewhere.example.", RecordType::MX).await;
    s.udp("elsewhere.example.", RecordType::MX).await;
    let after = scrape(&s).await;
    assert_eq!(metric(&after, "coredns_dns_requests_total", &labels).unwrap() - before, 2.0);
    assert!(
        metric(
            &after,
            "coredns_dns_responses_total",
            &[("zone", "dropped"), ("rcode", "REFUSED"), ("plugin", "")]
        )
        .is_some()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_are_404_and_blocks_share_an_address() {
    let s = TestServer::start(
        "metrics-c.test:0 {\n prometheus localhost:0\n whoami\n}\nmetrics-d.test:0 {\n prometheus localhost:0\n whoami\n}",
    )
    .await;
    let addr = s.instance.http_addr("localhost:0").unwrap();
    assert_eq!(http_get(addr, "/nope").await.0, 404);
    s.udp("x.metrics-d.test.", RecordType::A).await;
    let after = scrape(&s).await;
    assert_eq!(
        metric(&after, "coredns_dns_requests_total", &[("zone", "metrics-d.test."), ("type", "A")]),
        Some(1.0)
    );
    s.stop().await;
}
