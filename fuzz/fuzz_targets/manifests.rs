//! Any text as a manifest file: every object is used or reported as a problem, never a panic or
//! a hang; the index built from what is kept answers lookups.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_kubernetes::index::Index;
use plugin_kubernetes::manifests;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = manifests::load_texts(&[("fuzz.yaml".into(), text.into())], &Default::default());
    for p in &loaded.problems {
        assert!(p.starts_with("fuzz.yaml"), "a problem names its file: {p}");
    }
    let index = Index::build(loaded.services, loaded.slices, loaded.pods, loaded.namespaces, 1);
    let _ = index.counts();
});
