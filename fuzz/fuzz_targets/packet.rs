//! Any bytes, as a UDP datagram and as a TCP message, through the dispatcher of a real
//! Corefile (cache, loadbalance, hosts and kubernetes in one chain): nothing may panic, and any
//! reply must be a well-formed message that fits.

#![no_main]

use std::sync::LazyLock;

use ferrodns::config::{self, Source};
use ferrodns::server::mux::{Mux, Outcome};
use ferrodns::server::wire;
use libfuzzer_sys::fuzz_target;
use plugin_api::Proto;

/// The kubeadm chain's in-memory parts (cache, loadbalance, hosts, kubernetes serving the seed
/// cluster from its manifests) in front of whoami, plus a zone with log and an empty reverse zone.
fn corefile() -> String {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../corefile-examples/seed/manifests");
    format!(
        "\
. {{
    cache 30
    loadbalance
    hosts {{
        172.16.0.3 webservice1.com
        fd00::3 webservice6.com
        fallthrough
    }}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        manifests {manifests}
    }}
    whoami
}}
example.org {{
    log example.org {{
        class error
    }}
    whoami
}}
10.0.0.0/24 {{
}}
"
    )
}

static MUX: LazyLock<Mux> = LazyLock::new(|| {
    let source = Source {
        filename: "Corefile".into(),
        text: corefile().into(),
        path: None,
        dns_port: "53".into(),
    };
    let config = config::load(&source, &|_| {}).expect("fuzz Corefile loads");
    Mux::new(&config.listeners[0])
});

fuzz_target!(|data: &[u8]| {
    let src = "10.1.2.3:4444".parse().unwrap();
    let local = "10.0.0.1:53".parse().unwrap();
    for proto in [Proto::Udp, Proto::Tcp] {
        let mut out = Vec::new();
        let bytes = match MUX.serve_packet(data, src, local, proto, &mut out) {
            Outcome::Send => out,
            Outcome::Drop => continue,
            Outcome::Wait(fut) => match futures::executor::block_on(fut) {
                Some(b) => b,
                None => continue,
            },
        };
        assert!(bytes.len() <= 65535);
        assert!(matches!(wire::decode(&bytes), wire::Decoded::Drop), "replies are responses");
        plugin_api::proto::op::Message::from_vec(&bytes).expect("a reply decodes");
    }
});
