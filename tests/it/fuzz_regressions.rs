//! Every input the fuzzers kept (their corpora minimised with `cargo fuzz cmin` and packed by
//! `fuzz/pack` into `fuzz/regressions/TARGET.corpus`) and every input that once broke something
//! (`fuzz/regressions/TARGET/`), replayed through the same checks the fuzz targets run
//! (`ferrodns::fuzzing`). A change that breaks one of them fails here, without a fuzzer.

use std::path::Path;

use ferrodns::fuzzing;

/// The packed corpus (4-byte big-endian length, then the input, repeated) and the reproducers,
/// each with a name for messages.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let packed = std::fs::read(dir.join(format!("{target}.corpus"))).expect("packed corpus");
    let mut out = Vec::new();
    let mut rest = packed.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        assert!(tail.len() >= len, "{target}.corpus is cut short");
        out.push((format!("{target}.corpus #{}", out.len()), tail[..len].to_vec()));
        rest = &tail[len..];
    }
    if let Ok(entries) = std::fs::read_dir(dir.join(target)) {
        for entry in entries {
            let path = entry.unwrap().path();
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn replay(target: &str, check: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= 100, "{target}: only {} regression inputs", inputs.len());
    for (name, data) in inputs {
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: {name} fails its check again");
        }
    }
}

#[test]
fn packet_inputs() {
    replay("packet", fuzzing::packet);
}

#[test]
fn corefile_inputs() {
    replay("corefile", fuzzing::corefile);
}

#[test]
fn hosts_inputs() {
    replay("hosts", fuzzing::hosts);
}

#[test]
fn manifests_inputs() {
    replay("manifests", fuzzing::manifests);
}

#[test]
fn template_inputs() {
    replay("template", fuzzing::template);
}

#[test]
fn zonefile_inputs() {
    replay("zonefile", fuzzing::zonefile);
}

#[test]
fn reply_inputs() {
    replay("reply", fuzzing::reply);
}
