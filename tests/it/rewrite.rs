//! *rewrite* over sockets, in front of *cache*, *kubernetes* (manifests) and *forward* to a real
//! upstream: a company name served as a cluster Service, a suffix exchanged and mapped back in
//! the answers, the cache keyed by the rewritten question, and queries no rule matches passing
//! untouched.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::Scratch;
use crate::harness::*;
use crate::upstream::{Behaviour, Upstream};

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.21, ports: [{name: http, port: 80, protocol: TCP}]}
";

#[tokio::test(flavor = "multi_thread")]
async fn rewritten_names_are_served_and_mapped_back() {
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.45".parse().unwrap(), 60)).await;
    let dir = Scratch::new("rewrite-chain");
    dir.write("svc.yaml", SERVICE);
    let s = TestServer::start(&format!(
        ".:0 {{
 rewrite continue name exact web.corp.example web.default.svc.cluster.local
 rewrite name suffix .outside.example .far.test answer auto
 cache 60
 kubernetes cluster.local {{
  manifests {}
 }}
 forward . {}
}}",
        dir.path().display(),
        upstream.addr
    ))
    .await;

    // A company name served as the Service, the answer owned by the name asked, over UDP and
    // TCP, and the question the client sent (letter case included).
    for reply in [
        s.udp("web.corp.example.", RecordType::A).await,
        s.tcp("Web.Corp.Example.", RecordType::A).await,
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        let asked = reply.queries[0].name().to_string();
        assert_eq!(answer_lines(&reply), [format!("{} A 10.96.0.21", asked.to_lowercase())]);
        assert!(asked == "web.corp.example." || asked == "Web.Corp.Example.", "{asked}");
    }

    // A suffix exchanged on the way out and back: the upstream is asked the new name once; the
    // second query is a cache hit on the rewritten question, mapped back the same way.
    for _ in 0..2 {
        let reply = s.udp("app.outside.example.", RecordType::A).await;
        assert_eq!(answer_lines(&reply), ["app.outside.example. A 192.0.2.45"]);
        assert_eq!(reply.queries[0].name().to_string(), "app.outside.example.");
    }
    let names = |up: &Upstream| -> Vec<String> {
        up.asked().into_iter().map(|(name, _, _)| name).filter(|n| n != ".").collect()
    };
    assert_eq!(names(&upstream), ["app.far.test."], "asked once, under the rewritten name");

    // No rule matches: untouched, and the upstream sees the name as asked.
    let reply = s.udp("plain.example.", RecordType::A).await;
    assert_eq!(answer_lines(&reply), ["plain.example. A 192.0.2.45"]);
    assert_eq!(names(&upstream).last().map(String::as_str), Some("plain.example."));
    s.stop().await;
}

const EXTERNAL: &str = "\
apiVersion: v1
kind: Service
metadata: {name: my-database, namespace: default}
spec: {type: ExternalName, externalName: db.example.com}
";

#[tokio::test(flavor = "multi_thread")]
async fn a_cname_rule_points_a_cname_elsewhere_and_resolves_the_new_target() {
    // kubernetes answers the ExternalName with a CNAME to db.example.com (whose address comes
    // from the upstream); the cname rule points it at db.corp.test, which hosts answers, and the
    // upstream's record gives way to hosts'.
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.46".parse().unwrap(), 60)).await;
    let dir = Scratch::new("rewrite-cname");
    dir.write("svc.yaml", EXTERNAL);
    let s = TestServer::start(&format!(
        ".:0 {{
 rewrite cname exact db.example.com db.corp.test
 hosts {{
  10.1.1.9 db.corp.test
  fallthrough
 }}
 kubernetes cluster.local {{
  manifests {}
 }}
 forward . {}
}}",
        dir.path().display(),
        upstream.addr
    ))
    .await;
    for reply in [
        s.udp("my-database.default.svc.cluster.local.", RecordType::A).await,
        s.tcp("my-database.default.svc.cluster.local.", RecordType::A).await,
    ] {
        assert_eq!(
            answer_lines(&reply),
            [
                "my-database.default.svc.cluster.local. CNAME db.corp.test.",
                "db.corp.test. A 10.1.1.9"
            ]
        );
    }
    // A CNAME the rule does not match is left alone.
    let plain = s.udp("nothing.example.", RecordType::A).await;
    assert_eq!(answer_lines(&plain), ["nothing.example. A 192.0.2.46"]);
    s.stop().await;
}

/// The 0xffee option of a reply's OPT, if it has one.
fn local_option(reply: &hickory_proto::op::Message) -> Option<Vec<u8>> {
    let edns = reply.edns.as_ref()?;
    edns.options().options.iter().find_map(|(code, option)| {
        use hickory_proto::serialize::binary::BinEncodable;
        (u16::from(*code) == 0xffee).then(|| option.to_bytes().unwrap())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn edns0_rules_tag_the_forwarded_query_and_revert_hides_the_tag() {
    // The upstream sees the client's address in a local option and its /24 as a client subnet;
    // without `revert` the client's reply echoes the tag (its code is supported now, as in
    // CoreDNS), with `revert` it does not.
    let upstream = Upstream::start(Behaviour::Answer("192.0.2.46".parse().unwrap(), 60)).await;
    let corefile = |revert: &str| {
        format!(
            ".:0 {{
 rewrite continue edns0 local set 0xffee {{client_ip}} {revert}
 rewrite edns0 subnet set 24 56
 forward . {}
}}",
            upstream.addr
        )
    };
    for revert in ["", "revert"] {
        let s = TestServer::start(&corefile(revert)).await;
        let before = upstream.options_asked().len();
        let asked = with_edns(query("tagged.example.", RecordType::A), 1232, 0);
        let reply = udp_exchange(s.addr, &asked).await.expect("a reply");
        assert_eq!(answer_lines(&reply), ["tagged.example. A 192.0.2.46"]);
        let seen = upstream.options_asked();
        let seen: Vec<_> = seen[before..].iter().flatten().collect();
        assert_eq!(
            seen.last().expect("the upstream was asked with an OPT").as_slice(),
            [(0xffee, vec![127, 0, 0, 1]), (8, vec![0, 1, 24, 0, 127, 0, 0])],
            "revert={revert:?}"
        );
        let echoed = local_option(&reply);
        if revert.is_empty() {
            assert_eq!(echoed, Some(vec![127, 0, 0, 1]));
        } else {
            assert_eq!(echoed, None);
        }
        assert_eq!(reply.edns.as_ref().map(|e| e.max_payload()), Some(1232));
        // A client without EDNS gets no OPT back, though the upstream was asked with one.
        let reply = s.udp("plain-tagged.example.", RecordType::A).await;
        assert!(reply.edns.is_none(), "{reply:?}");
        let last = upstream.options_asked().last().cloned().flatten();
        assert_eq!(last.map(|o| o.len()), Some(2));
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_length_rewrite_is_mapped_back_in_place_and_in_full_where_it_must_be() {
    // `.mycorpx.local.` and `.cluster.local.` take the same octets: kubernetes's address answer
    // points at the question and is patched in place; the SRV target, written in full, and the
    // NXDOMAIN's SOA, which the rule does not map back, take the decoding path.
    let dir = Scratch::new("rewrite-same-length");
    dir.write("svc.yaml", SERVICE);
    let s = TestServer::start(&format!(
        ".:0 {{
 rewrite name suffix .mycorpx.local .cluster.local answer auto
 kubernetes cluster.local {{
  manifests {}
 }}
}}",
        dir.path().display()
    ))
    .await;
    for asked in ["web.default.svc.mycorpx.local.", "Web.Default.SVC.mycorpx.local."] {
        let reply = s.udp(asked, RecordType::A).await;
        assert_eq!(reply.queries[0].name().to_ascii(), asked);
        assert_eq!(answer_lines(&reply), [format!("{asked} A 10.96.0.21")]);
    }
    let reply = s.udp("_http._tcp.web.default.svc.mycorpx.local.", RecordType::SRV).await;
    assert_eq!(
        answer_lines(&reply),
        ["_http._tcp.web.default.svc.mycorpx.local. SRV 0 100 80 web.default.svc.mycorpx.local."]
    );
    let reply = s.tcp("nosuch.default.svc.mycorpx.local.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(reply.queries[0].name().to_ascii(), "nosuch.default.svc.mycorpx.local.");
    assert_eq!(reply.authorities[0].name.to_ascii(), "cluster.local.");
    s.stop().await;
}
