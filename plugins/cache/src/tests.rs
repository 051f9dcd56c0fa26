//! The cache against a counting stand-in for the rest of the chain, on a clock the test moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use plugin_api::proto::op::{Edns, Message, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::test_util::{self, Answers, Form, reply_message, rr};
use plugin_api::{Controller, Ctx, Next, Plugin, Reply, Request, Serve};

use super::*;

fn a_300(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.recursion_available = true;
    m.add_answer(rr(&format!("{} 300 IN A 192.0.2.1", req.name())));
    m
}

fn nxdomain_soa(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = ResponseCode::NXDomain;
    m.add_authority(rr("example. 900 IN SOA ns.example. host.example. 1 7200 1800 86400 60"));
    m
}

fn nxdomain_bare(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = ResponseCode::NXDomain;
    m
}

fn servfail(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = ResponseCode::ServFail;
    m
}

fn truncated(req: &Request) -> Message {
    let mut m = a_300(req);
    m.metadata.truncation = true;
    m
}

/// The cache in front of a counting stand-in for the rest of the chain, on a clock the test
/// moves.
struct Rig {
    cache: Arc<Cache>,
    upstream: Arc<Answers>,
    now: Arc<AtomicU64>,
}

impl Rig {
    fn new(corefile: &str, answer: fn(&Request) -> Message) -> Self {
        Self::answering_in(corefile, answer, Form::Message)
    }

    /// A rig whose upstream writes its replies in `form`.
    fn answering_in(corefile: &str, answer: fn(&Request) -> Message, form: Form) -> Self {
        let options = setup::parse(&mut Controller::from_text(corefile)).unwrap();
        let (clock, now) = Clock::manual(1000);
        let cache = Arc::new(Cache::new(options, &["dns://:53".into()], clock));
        Self { cache, upstream: Arc::new(Answers::new(answer, form)), now }
    }

    fn ask(&self, req: Request) -> Message {
        let chain: Vec<Arc<dyn Plugin>> = vec![self.cache.clone(), self.upstream.clone()];
        reply_message(test_util::serve(chain, req))
    }

    fn ask_name(&self, name: &str) -> Message {
        self.ask(test_util::request(name, RecordType::A))
    }

    fn calls(&self) -> usize {
        self.upstream.calls()
    }

    /// Asks `name` until its answer has `ttl`: a refresh in the background is stored by a
    /// task the test does not see end. One refresh runs at a time, so asking does not start
    /// more of them.
    async fn until_ttl(&self, name: &str, ttl: u32) {
        let fresh = async {
            while self.ask_name(name).answers[0].ttl != ttl {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        let deadline = std::time::Duration::from_secs(30);
        tokio::time::timeout(deadline, fresh).await.expect("the refreshed entry is stored");
    }

    fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

#[test]
fn setup_table() {
    let o = setup::parse(&mut Controller::from_text("cache")).unwrap();
    assert_eq!(
        (o.pcap, o.pttl, o.minpttl, o.ncap, o.nttl, o.minnttl, o.failttl),
        (10000, 3600, 5, 10000, 1800, 5, 5)
    );
    let o = setup::parse(&mut Controller::from_text("cache 30 example.org")).unwrap();
    assert_eq!((o.pttl, o.nttl), (30, 30));
    assert_eq!(o.zones, vec!["example.org.".to_string()]);
    let o = setup::parse(&mut Controller::from_text(
        "cache {\n success 5000 600 10\n denial 2000 60\n prefetch 3 2m 20%\n serve_stale 1h verify\n servfail 10s\n disable success cluster.local\n keepttl\n}",
    ))
    .unwrap();
    assert_eq!((o.pcap, o.pttl, o.minpttl, o.ncap, o.nttl), (5000, 600, 10, 2000, 60));
    assert_eq!((o.prefetch, o.prefetch_window.as_secs(), o.prefetch_percent), (3, 120, 20));
    assert_eq!((o.serve_stale.map(|d| d.as_secs()), o.verify_stale), (Some(3600), true));
    assert_eq!((o.failttl, o.keepttl), (10, true));
    assert_eq!(o.disable_success, vec!["cluster.local.".to_string()]);
}

#[test]
fn setup_errors() {
    let rows = [
        ("cache 0", "Testfile:1 - Error during parsing: cache TTL can not be zero or negative: 0"),
        (
            "cache {\n success\n}",
            "Testfile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'success'",
        ),
        (
            "cache {\n success 100 0\n}",
            "Testfile:2 - Error during parsing: cache TTL can not be zero or negative: 0",
        ),
        (
            "cache {\n denial 100 10 -1\n}",
            "Testfile:2 - Error during parsing: cache min TTL can not be negative: -1",
        ),
        (
            "cache {\n prefetch 1 1m 5%\n}",
            "Testfile:2 - Error during parsing: percentage should fall in range [10, 90]: 5",
        ),
        (
            "cache {\n prefetch 1 1m 50\n}",
            "Testfile:2 - Error during parsing: last character of percentage should be `%`, but is: '0'",
        ),
        (
            "cache {\n serve_stale 1h sometimes\n}",
            "Testfile:2 - Error during parsing: invalid value for serve_stale refresh mode: sometimes",
        ),
        (
            "cache {\n servfail 10m\n}",
            "Testfile:2 - Error during parsing: caching SERVFAIL responses over 5 minutes is not permitted",
        ),
        (
            "cache {\n disable everything\n}",
            "Testfile:2 - Error during parsing: cache type for disable must be \"success\" or \"denial\": everything",
        ),
        ("cache {\n nope\n}", "Testfile:2 - Error during parsing: unknown property 'nope'"),
    ];
    for (input, want) in rows {
        assert_eq!(
            setup::parse(&mut Controller::from_text(input)).unwrap_err().to_string(),
            want,
            "{input}"
        );
    }
}

#[test]
fn hits_count_down_and_are_clamped() {
    let rig = Rig::new("cache 30", a_300);
    let first = rig.ask_name("www.example.");
    assert_eq!(first.answers[0].ttl, 30, "the reply that fills the cache is clamped too");
    assert_eq!(rig.calls(), 1);
    rig.advance(10);
    let hit = rig.ask_name("WWW.Example.");
    assert_eq!(rig.calls(), 1, "answered from the cache");
    assert_eq!(hit.answers[0].ttl, 20, "TTL counts down");
    assert!(hit.metadata.authoritative, "AA on hits");
    assert!(hit.metadata.recursion_available, "RA as stored");
    assert_eq!(hit.metadata.id, 4242);
    assert_eq!(hit.queries[0].name().to_string(), "WWW.Example.", "the question as asked");
    rig.advance(21);
    rig.ask_name("www.example.");
    assert_eq!(rig.calls(), 2, "expired: asked again");
}

#[test]
fn minimum_ttl_raises_short_ttls() {
    fn a_1(req: &Request) -> Message {
        let mut m = req.reply();
        m.add_answer(rr(&format!("{} 1 IN A 192.0.2.1", req.name())));
        m
    }
    let rig = Rig::new("cache", a_1);
    assert_eq!(rig.ask_name("short.example.").answers[0].ttl, 5);
}

#[test]
fn denials_use_the_soa_minimum_and_need_a_soa() {
    let rig = Rig::new("cache", nxdomain_soa);
    let r = rig.ask_name("nx.example.");
    assert_eq!(r.authorities[0].ttl, 60, "min(SOA TTL, SOA minimum)");
    rig.ask_name("nx.example.");
    assert_eq!(rig.calls(), 1);
    let rig = Rig::new("cache", nxdomain_bare);
    rig.ask_name("nx.example.");
    rig.ask_name("nx.example.");
    assert_eq!(rig.calls(), 2, "NXDOMAIN without SOA is not cached");
}

#[test]
fn servfail_is_kept_five_seconds() {
    let rig = Rig::new("cache", servfail);
    rig.ask_name("sf.example.");
    rig.advance(4);
    rig.ask_name("sf.example.");
    assert_eq!(rig.calls(), 1);
    rig.advance(2);
    rig.ask_name("sf.example.");
    assert_eq!(rig.calls(), 2);
    let off = Rig::new("cache {\n servfail 0s\n}", servfail);
    off.ask_name("sf.example.");
    off.ask_name("sf.example.");
    assert_eq!(off.calls(), 2, "servfail 0 disables it");
}

#[test]
fn truncated_replies_are_not_cached() {
    let rig = Rig::new("cache", truncated);
    rig.ask_name("tc.example.");
    rig.ask_name("tc.example.");
    assert_eq!(rig.calls(), 2);
}

#[test]
fn do_bit_keeps_separate_entries() {
    let rig = Rig::new("cache", a_300);
    rig.ask_name("do.example.");
    let mut req = test_util::request("do.example.", RecordType::A);
    let mut msg = req.to_message();
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    msg.set_edns(edns);
    req = Request::new(msg, req.src(), req.local(), req.proto(), req.len());
    rig.ask(req);
    assert_eq!(rig.calls(), 2, "DO and non-DO are different entries");
}

#[test]
fn zones_and_disable_limit_what_is_cached() {
    let rig = Rig::new("cache example.org", a_300);
    rig.ask_name("a.example.com.");
    rig.ask_name("a.example.com.");
    assert_eq!(rig.calls(), 2, "outside the cache's zones");
    let rig = Rig::new("cache {\n disable success example.\n}", a_300);
    rig.ask_name("a.example.");
    rig.ask_name("a.example.");
    assert_eq!(rig.calls(), 2, "success disabled there");
}

#[test]
fn keepttl_serves_the_stored_ttl() {
    let rig = Rig::new("cache 30 {\n keepttl\n}", a_300);
    rig.ask_name("k.example.");
    rig.advance(10);
    assert_eq!(rig.ask_name("k.example.").answers[0].ttl, 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn prefetch_fires_once_near_expiry() {
    let rig = Rig::new("cache 30 {\n prefetch 2 1m 10%\n}", a_300);
    rig.ask_name("p.example.");
    rig.ask_name("p.example.");
    rig.ask_name("p.example.");
    assert_eq!(rig.calls(), 1);
    rig.advance(28); // 2 s left: under 10 % of 30 s, rounded up to 3 s
    for _ in 0..5 {
        rig.ask_name("p.example.");
    }
    // The refreshed entry counts from the new time, once the background fetch has stored it.
    rig.until_ttl("p.example.", 30).await;
    assert_eq!(rig.calls(), 2, "one prefetch, however many hits");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_stale_answers_with_ttl_zero_and_refreshes() {
    let rig = Rig::new("cache 30 {\n serve_stale 1h\n}", a_300);
    rig.ask_name("s.example.");
    rig.advance(100);
    let stale = rig.ask_name("s.example.");
    assert_eq!(stale.answers[0].ttl, 0, "stale answers have TTL 0");
    // Refreshed in the background: stale (TTL 0) until the fetch is stored, then fresh.
    rig.until_ttl("s.example.", 30).await;
    assert_eq!(rig.calls(), 2, "refreshed once in the background");
    rig.advance(4000);
    rig.ask_name("s.example.");
    assert_eq!(rig.calls(), 3, "past the stale window: a plain miss");
}

/// `serve_stale ... verify` asks the rest of the chain before it serves an expired entry. A fresh
/// answer, in whichever form it comes, is served and stored again; only a failure leaves the
/// stale entry to answer.
#[test]
fn verify_serves_and_stores_a_fresh_answer_in_either_form() {
    for form in Form::BOTH {
        let rig = Rig::answering_in("cache 1 {\n serve_stale 1h verify\n}", a_300, form);
        assert_eq!(rig.ask_name("v.example.").answers[0].ttl, 1, "{form:?}");
        rig.advance(5);
        let verified = rig.ask_name("v.example.");
        assert_eq!(verified.answers[0].ttl, 1, "the fresh answer, not the stale one ({form:?})");
        assert_eq!(rig.calls(), 2, "{form:?}");
        let again = rig.ask_name("v.example.");
        assert_eq!((again.answers[0].ttl, rig.calls()), (1, 2), "stored again ({form:?})");
    }
}

/// Whether [`failing_after_first`] fails now.
static FAIL_NOW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn failing_after_first(req: &Request) -> Message {
    let code = if FAIL_NOW.load(Ordering::SeqCst) {
        ResponseCode::Refused
    } else {
        return a_300(req);
    };
    let mut m = req.reply();
    m.metadata.response_code = code;
    m
}

/// A refresh that is neither NOERROR nor NXDOMAIN (REFUSED here) does not replace the stale
/// entry, as RFC 8767 and CoreDNS have it: the stale answer is served with TTL 0.
#[test]
fn verify_keeps_the_stale_entry_when_the_refresh_fails() {
    let rig = Rig::new("cache 30 {\n serve_stale 1h verify\n}", failing_after_first);
    rig.ask_name("f.example.");
    FAIL_NOW.store(true, Ordering::SeqCst);
    rig.advance(100);
    let stale = rig.ask_name("f.example.");
    assert_eq!(stale.metadata.response_code, ResponseCode::NoError);
    assert_eq!((stale.answers[0].ttl, rig.calls()), (0, 2), "asked, then served stale");
}

#[test]
fn capacity_holds_under_many_names() {
    let rig = Rig::new("cache {\n success 2048\n}", a_300);
    for i in 0..200_000 {
        rig.ask_name(&format!("n{i}.example."));
    }
    let (success, denial) = rig.cache.len();
    assert!(success <= 2048, "{success}");
    assert_eq!(denial, 0);
}

/// A hit is the stored bytes, patched: the reply comes back in wire form, written by cache,
/// and no message is built for it.
#[test]
fn hits_are_wire_replies() {
    let rig = Rig::new("cache", a_300);
    let chain = || -> Vec<Arc<dyn Plugin>> { vec![rig.cache.clone(), rig.upstream.clone()] };
    let miss = test_util::serve(chain(), test_util::request("wire.example.", RecordType::A));
    assert!(matches!(miss, Ok(Reply::Message { by: "answers", .. })), "a miss relays the message");
    let hit = test_util::serve(chain(), test_util::request("Wire.Example.", RecordType::A));
    let Ok(Reply::Wire { wire, by: "cache" }) = hit else { panic!("a hit is wire: {hit:?}") };
    let m = wire.decode().unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "Wire.Example.");
    assert_eq!(m.metadata.id, 4242);
    assert_eq!(m.answers[0].data.to_string(), "192.0.2.1");
    assert_eq!(rig.calls(), 1);
}

/// Answers the plugins after the cache write in wire form (*hosts*, *kubernetes*) are cached as
/// CoreDNS caches what its kubernetes plugin answers: the second query is a hit, counting down.
#[test]
fn wire_answers_are_cached_too() {
    struct WireUpstream(AtomicUsize);
    impl Plugin for WireUpstream {
        fn name(&self) -> &'static str {
            "wire-upstream"
        }
        fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mut reply = plugin_api::pkg::wire::ReplyWriter::new(req).unwrap();
            reply.a(120, "192.0.2.7".parse().unwrap());
            Serve::Ready(Ok(Reply::Wire { wire: reply.finish(), by: "wire-upstream" }))
        }
    }
    let rig = Rig::new("cache 300", a_300);
    let upstream = Arc::new(WireUpstream(AtomicUsize::new(0)));
    let chain = || -> Vec<Arc<dyn Plugin>> { vec![rig.cache.clone(), upstream.clone()] };
    let ask = || {
        reply_message(test_util::serve(chain(), test_util::request("w.example.", RecordType::A)))
    };
    let miss = ask();
    assert_eq!(miss.answers[0].ttl, 120);
    rig.advance(20);
    let hit = ask();
    assert_eq!(upstream.0.load(Ordering::SeqCst), 1, "the second query is answered from the cache");
    assert_eq!(hit.answers[0].data.to_string(), "192.0.2.7");
    assert_eq!(hit.answers[0].ttl, 100);
    assert_eq!(rig.cache.len(), (1, 0));
}
