//! Blocks → zones → listeners, and the errors on the way, in CoreDNS's words.

use super::*;

fn load_text(text: &str) -> Result<Config, String> {
    let source = Source {
        filename: "Corefile".into(),
        text: text.into(),
        path: None,
        dns_port: "53".into(),
    };
    load(&source, &|_| {}).map_err(|e| e.to_string())
}

fn listeners(config: &Config) -> Vec<(u16, Vec<String>)> {
    config
        .listeners
        .iter()
        .map(|l| (l.port, l.zones.iter().map(|(z, _)| z.clone()).collect()))
        .collect()
}

#[test]
fn keys_become_zones_grouped_by_port() {
    let c = load_text(
        ".:53 {\n whoami\n}\nExample.ORG {\n whoami\n}\ndns://a.test:1053 b.test:1053 {\n whoami\n}",
    )
    .unwrap();
    assert_eq!(
        listeners(&c),
        vec![
            (53, vec![".".to_string(), "example.org.".to_string()]),
            (1053, vec!["a.test.".to_string(), "b.test.".to_string()]),
        ]
    );
    // The two zones of the last block share one chain.
    let zones = &c.listeners[1].zones;
    assert!(Arc::ptr_eq(&zones[0].1, &zones[1].1));
}

#[test]
fn cidr_keys_expand() {
    let c = load_text("10.0.0.0/23:53 {\n whoami\n}").unwrap();
    assert_eq!(
        listeners(&c),
        vec![(53, vec!["0.0.10.in-addr.arpa.".to_string(), "1.0.10.in-addr.arpa.".to_string()])]
    );
}

#[test]
fn dns_port_applies_to_keys_without_one() {
    let source = Source {
        filename: "Corefile".into(),
        text: ". {\n whoami\n}\nx.test:99 {\n whoami\n}".into(),
        path: None,
        dns_port: "1053".into(),
    };
    let c = load(&source, &|_| {}).unwrap();
    assert_eq!(c.listeners.iter().map(|l| l.port).collect::<Vec<_>>(), vec![1053, 99]);
}

#[test]
fn chain_order_is_the_table_not_the_file() {
    let c = load_text(".:53 {\n whoami\n log\n}").unwrap();
    let block = &c.listeners[0].zones[0].1;
    assert_eq!(block.directives, vec!["log", "whoami"]);
    assert_eq!(block.chain.iter().map(|p| p.name()).collect::<Vec<_>>(), vec!["log", "whoami"]);
}

#[test]
fn errors() {
    let rows = [
        (
            ".:53 {\n whoami\n}\n.:53 {\n whoami\n}",
            "Corefile:4 - Error during parsing: cannot serve dns://.:53 - it is already defined",
        ),
        (
            "a.test a.test {\n whoami\n}",
            "Corefile:1 - Error during parsing: cannot serve dns://a.test.:53 - it is already defined",
        ),
        ("x.test:99999 {\n whoami\n}", "Corefile:1 - Error during parsing: invalid port '99999'"),
        (
            "x.test: {\n whoami\n}",
            "Corefile:1 - Error during parsing: expecting data after last colon: \"x.test:\"",
        ),
        ("::/64 {\n whoami\n}", "Corefile:1 - Error during parsing: invalid CIDR ::/64"),
        (
            "grpc://. {\n whoami\n}",
            "Corefile:1 - Error during parsing: grpc:// servers are not supported by ferrodns yet; only dns:// is served",
        ),
        (
            ". {\n etcd {\n  path /skydns\n }\n}",
            "plugin/etcd: Corefile:2 - Error during parsing: directive 'etcd' is not implemented in ferrodns yet",
        ),
        (
            ". {\n hosts\n hosts\n}",
            "plugin/hosts: Corefile:3 - Error during parsing: this plugin can only be used once per Server Block",
        ),
        (
            ". {\n log {\n  bogus\n }\n}",
            "plugin/log: Corefile:3 - Error during parsing: unknown property 'bogus'",
        ),
        // CoreDNS's zone/address checks (core/dnsserver/address_test.go's cases, by Corefile).
        (
            ".:53 {\n bind 127.0.0.1\n whoami\n}\n.:53 {\n bind 127.0.0.1\n whoami\n}",
            "Corefile:5 - Error during parsing: cannot serve dns://.:53 on 127.0.0.1 - it is already defined",
        ),
        (
            ".:53 {\n bind 127.0.0.1 127.0.0.1\n whoami\n}",
            "Corefile:1 - Error during parsing: cannot serve dns://.:53 on 127.0.0.1 - it is already defined",
        ),
        (
            ".:53 {\n whoami\n}\n.:53 {\n bind 127.0.0.1\n whoami\n}",
            "Corefile:4 - Error during parsing: cannot serve dns://.:53 on 127.0.0.1 - zone overlap listener capacity with dns://.:53",
        ),
        (
            ".:53 {\n bind 127.0.0.1\n whoami\n}\n.:53 {\n whoami\n}",
            "Corefile:5 - Error during parsing: cannot serve dns://.:53 - zone overlap listener capacity with dns://.:53 on 127.0.0.1",
        ),
        (
            ". {\n bind 127.0.0.1 {\n  except 127.0.0.2\n  only 1\n }\n}",
            "plugin/bind: Corefile:4 - Error during parsing: invalid option \"only\"",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(load_text(text).err().as_deref(), Some(want), "{text}");
    }
}

/// Each listener's address, port and zones.
fn bound_listeners(config: &Config) -> Vec<(String, Vec<String>)> {
    let zones = |l: &Listener| l.zones.iter().map(|(z, _)| z.clone()).collect();
    config.listeners.iter().map(|l| (l.label(), zones(l))).collect()
}

#[test]
fn bind_makes_one_listener_per_address_and_port() {
    let c = load_text(
        "a.test:53 {\n bind 127.0.0.1 ::1\n whoami\n}\n\
         b.test:53 {\n bind 127.0.0.2\n bind ::1\n whoami\n}\n\
         a.test:53 {\n bind 127.0.0.2\n whoami\n}\n\
         c.test:53 {\n whoami\n}",
    )
    .unwrap();
    let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        bound_listeners(&c),
        vec![
            ("dns://127.0.0.1:53".into(), s(&["a.test."])),
            ("dns://[::1]:53".into(), s(&["a.test.", "b.test."])),
            ("dns://127.0.0.2:53".into(), s(&["b.test.", "a.test."])),
            ("dns://:53".into(), s(&["c.test."])),
        ]
    );
    // The plugins after bind see the addresses in their server labels.
    let servers: Vec<_> = c.listeners.iter().map(|l| l.label()).collect();
    assert_eq!(servers.len(), 4);
}

#[test]
fn bind_to_nothing_listens_nowhere() {
    // `except` took every address: CoreDNS then opens no listener for the block.
    let c = load_text(".:53 {\n bind 127.0.0.1 {\n  except 127.0.0.1\n }\n whoami\n}").unwrap();
    assert!(c.listeners.is_empty());
}

#[test]
fn once_counts_occurrences_not_tokens() {
    // `log` may appear several times and its block tokens do not count as occurrences.
    let c = load_text(". {\n log a.test\n log {\n  class error\n }\n whoami\n}").unwrap();
    let block = &c.listeners[0].zones[0].1;
    assert_eq!(block.directives, ["log", "whoami"], "two log lines make one log plugin");
}

#[test]
fn a_block_without_directives_has_an_empty_chain() {
    let c = load_text("a.test {\n}\nb.test").unwrap();
    assert!(c.listeners[0].zones.iter().all(|(_, b)| b.chain.is_empty()));
}

/// A configuration that is loaded but never served (a failed reload, the fuzzer) must not leave
/// metric series behind: they appear when queries make them, as in CoreDNS. Loading used to
/// create every zone's series up front, which grew without bound under the Corefile fuzzer.
#[test]
fn loading_creates_no_metric_series() {
    for i in 0..50 {
        let text = format!(
            "series-probe-{i}.test {{\n prometheus localhost:0\n cache 30\n forward . 127.0.0.1:9\n}}"
        );
        load_text(&text).unwrap();
    }
    let families = plugin_api::pkg::metrics::registry().gather();
    let leaked = families
        .iter()
        .flat_map(|f| f.get_metric().iter())
        .flat_map(|m| m.get_label().iter())
        .filter(|l| l.value().contains("series-probe-"))
        .count();
    assert_eq!(leaked, 0);
}

/// *multisocket* is per port, and the first block on the port decides, as in CoreDNS, where the
/// first block's configuration makes the server. Alone it means one socket per worker.
#[test]
fn the_first_block_on_a_port_sets_its_sockets() {
    let c = load_text(
        "a.test:1053 {\n multisocket 3\n whoami\n}\nb.test:1053 {\n multisocket 5\n whoami\n}\n\
         c.test:1054 {\n whoami\n}\nd.test:1054 {\n multisocket 2\n whoami\n}\n\
         e.test:1055 {\n multisocket\n whoami\n}",
    )
    .unwrap();
    let sockets: Vec<(u16, usize)> = c.listeners.iter().map(|l| (l.port, l.sockets)).collect();
    // `multisocket` alone: one per worker, which is GOMAXPROCS when set, else the cores; read
    // here from the environment and the standard library, not from the code under test.
    let per_worker = std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap().get());
    assert_eq!(sockets, [(1053, 3), (1054, 1), (1055, per_worker)]);
    let err = load_text(". {\n multisocket 0\n}").err().expect("refused");
    assert_eq!(
        err, "plugin/multisocket: num sockets can not be zero or negative: 0",
        "CoreDNS's message, in the plugin's name"
    );
}
