//! Every plugin README has CoreDNS's man-page sections, and every Corefile in a README's
//! `~~~ corefile` blocks and in corefile-examples/ loads and, where it names no port, serves.

use std::path::{Path, PathBuf};

use ferrodns::Instance;
use ferrodns::config::{self, Source};
use hickory_proto::rr::RecordType;

use crate::harness::{query, udp_exchange};

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
        if path.is_dir() {
            example_files(&path, out);
        } else if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("Corefile")) {
            out.push(path);
        }
    }
}

/// Loads `text`; if it binds only ports it does not name (or port 0), starts it and checks
/// that it answers.
async fn load_and_serve(name: &str, text: &str) {
    let source =
        Source { filename: name.into(), text: text.into(), path: None, dns_port: "0".into() };
    let config = config::load(&source, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    // Examples that forward are only loaded, never started: a query (or *loop*'s start-up probe)
    // could leave this machine.
    let may_start = !text.contains("forward");
    if may_start && config.listeners.iter().all(|l| l.port == 0) {
        let mut instance =
            Instance::start_text(text).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let reply = udp_exchange(instance.dns_addr(), &query("readme.example.org.", RecordType::A))
            .await
            .unwrap_or_else(|| panic!("{name}: no answer"));
        // Any rcode is a fine answer here (a hosts example may say SERVFAIL for a name it does not
        // know); what matters is that the example serves.
        assert_eq!(reply.metadata.id, 0xbeef, "{name}");
        instance.stop().await;
    }
}

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
