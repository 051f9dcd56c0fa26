//! Every plugin README has CoreDNS's man-page sections, and every Corefile in a README's
//! `~~~ corefile` blocks and in corefile-examples/ loads as written and serves, started with
//! its forward targets, ports and HTTP listeners pointed at this test's own.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ferrodns::Instance;
use ferrodns::config::{self, Source};
use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::harness::{query, udp_exchange};
use crate::upstream::{Behaviour, Upstream};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plugin_readmes() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("plugins"))
        .unwrap()
        .map(|e| e.unwrap().path().join("README.md"))
        .collect();
    out.sort();
    out
}

/// The text of each `~~~ corefile` block of a markdown file.
fn corefile_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == "~~~ corefile" => current = Some(String::new()),
            Some(text) if line.trim() == "~~~" => {
                blocks.push(std::mem::take(text));
                current = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "unterminated ~~~ corefile block");
    blocks
}

fn example_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // The distributions' Corefiles need a cluster's API server: tests/it/distros.rs.
        if path.is_dir() && path.file_name().is_some_and(|n| n == "distros") {
            continue;
        }
        if path.is_dir() {
            example_files(&path, out);
        } else if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("Corefile")) {
            out.push(path);
        }
    }
}

/// `text` made safe to start beside other tests: every `forward FROM TO...` line sends to
/// `upstream` instead (no query leaves this machine, and *loop*'s probe comes back answered),
/// every server key's port and every HTTP listener (*health*, *ready*, *prometheus*) is port 0.
/// The rest of the example is served as written.
pub fn for_test(text: &str, upstream: SocketAddr) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let opens = body.trim_end().ends_with('{');
        let block = if opens { " {" } else { "" };
        let mut words = body.split_whitespace();
        let rewritten = match words.next() {
            Some("forward") => {
                let from = words.next().unwrap_or(".");
                format!("{indent}forward {from} {upstream}{block}")
            }
            Some(http @ ("health" | "ready" | "prometheus")) => {
                format!("{indent}{http} localhost:0{block}")
            }
            // A server block's keys: the lines that open a block at the left margin.
            Some(_) if indent.is_empty() && opens => {
                let keys: Vec<String> = body
                    .split_whitespace()
                    .filter(|w| *w != "{")
                    .map(|key| match key.rsplit_once(':') {
                        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                            format!("{host}:0")
                        }
                        _ => key.to_string(),
                    })
                    .collect();
                format!("{} {{", keys.join(" "))
            }
            _ => line.to_string(),
        };
        out.push_str(&rewritten);
        out.push('\n');
    }
    out
}

/// Loads `text` as written, then starts it as [`for_test`] rewrites it and asks it
/// `readme.example.org.`: the reply must be a reply to that question, never FORMERR or NOTIMP,
/// and when the example forwards the name, it must carry the upstream's address.
async fn load_and_serve(name: &str, text: &str) {
    let source =
        Source { filename: name.into(), text: text.into(), path: None, dns_port: "0".into() };
    config::load(&source, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    let upstream = Upstream::start(Behaviour::Answer(UPSTREAM_IP, 60)).await;
    let runnable = for_test(text, upstream.addr);
    let mut instance =
        Instance::start_text(&runnable).await.unwrap_or_else(|e| panic!("{name}: {e}\n{runnable}"));
    let question = query("readme.example.org.", RecordType::A);
    let reply = udp_exchange(instance.dns_addr(), &question)
        .await
        .unwrap_or_else(|| panic!("{name}: no answer"));
    assert_eq!(reply.metadata.id, 0xbeef, "{name}");
    assert_eq!(reply.metadata.message_type, MessageType::Response, "{name}");
    assert_eq!(reply.queries, question.queries, "{name}: the question echoed");
    // Any rcode a chain gives for a name it may not serve: NOERROR or NXDOMAIN, REFUSED for a
    // zone the example does not have, SERVFAIL where its chain ends without an answer for the
    // name (a *kubernetes* block without fallthrough or a next plugin). Never the rcodes of a
    // query the server failed to read.
    let rcode = reply.metadata.response_code;
    assert!(
        !matches!(rcode, ResponseCode::FormErr | ResponseCode::NotImp | ResponseCode::BADVERS),
        "{name}: {rcode}\n{runnable}"
    );
    if upstream.client_queries() > 0 {
        let addresses: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
        assert!(addresses.contains(&UPSTREAM_IP.to_string()), "{name}: {reply:?}");
    }
    instance.stop().await;
}

/// What the upstream a forwarding example is pointed at answers.
const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

#[test]
fn plugin_readmes_have_the_man_page_sections() {
    let readmes = plugin_readmes();
    assert!(!readmes.is_empty());
    for path in readmes {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} missing", path.display()));
        let plugin = path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        assert!(text.starts_with(&format!("# {plugin}\n")), "{} title", path.display());
        let mut last = 0;
        for section in [
            "## Name",
            "## Description",
            "## Syntax",
            "## Metrics",
            "## Ready",
            "## Examples",
            "## See Also",
        ] {
            let at = text
                .lines()
                .position(|l| l == section)
                .unwrap_or_else(|| panic!("{}: no '{section}'", path.display()));
            assert!(at > last, "{}: '{section}' out of order", path.display());
            last = at;
        }
        assert!(text.contains(&format!("*{plugin}* - ")), "{}: Name line", path.display());
        assert!(!corefile_blocks(&text).is_empty(), "{}: no corefile example", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_examples_load_and_serve() {
    for path in plugin_readmes() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, example) in corefile_blocks(&text).iter().enumerate() {
            load_and_serve(&format!("{}#{i}", path.display()), example).await;
        }
    }
    let top = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (i, example) in corefile_blocks(&top).iter().enumerate() {
        load_and_serve(&format!("README.md#{i}"), example).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn corefile_examples_load_and_serve() {
    let mut files = Vec::new();
    example_files(&root().join("corefile-examples"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        load_and_serve(&path.display().to_string(), &text).await;
    }
}
