//! Kubernetes objects read from YAML or JSON files (`manifests PATH...`, beyond CoreDNS), for
//! the plugins that serve a cluster's names without a cluster (*kubernetes*, *k8s_gateway*).
//!
//! * [`files`]: the files a list of paths stands for.
//! * [`documents`]: every object of some texts, `List`s flattened into their items, each named
//!   by where it was found (`file#2.items[3]`) so a problem points at it.
//! * [`watch`]: calls back whenever a file changes, appears or vanishes.
//! * [`load_and_watch`]: all of it for a plugin's setup: the paths checked, the files loaded
//!   now and again whenever they change.
//!
//! Reducing the objects is each plugin's own business: they read different kinds and fields.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::{ConfigError, Controller};

/// How often the files are checked for changes.
pub const POLL: Duration = Duration::from_secs(1);

/// Every file the paths stand for: a file itself, or the `.yaml`, `.yml` and `.json` files of
/// a folder (sorted, so objects load in the same order every time).
pub fn files(paths: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| {
                    matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path.to_path_buf());
        }
    }
    out
}

/// The first of `paths` that does not exist, in the words a Corefile error gives it.
pub fn missing(paths: &[String]) -> Option<String> {
    let missing = paths.iter().find(|p| !Path::new(p).exists())?;
    Some(format!("manifests: no such file or directory: {missing}"))
}

/// What tells that files changed: each one's modification time and length.
pub type Stamp = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The [`Stamp`] of `files` now.
pub fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok();
            (f.clone(), meta.as_ref().and_then(|m| m.modified().ok()), meta.map_or(0, |m| m.len()))
        })
        .collect()
}

/// Reads the files: each one's name as shown in problems and its text, and the problems of
/// those that could not be read.
pub fn read(files: &[PathBuf]) -> (Vec<(String, String)>, Vec<String>) {
    let (mut texts, mut problems) = (Vec::new(), Vec::new());
    for file in files {
        let shown = file.display().to_string();
        match std::fs::read_to_string(file) {
            Ok(text) => texts.push((shown, text)),
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
    }
    (texts, problems)
}

/// Every object of the texts, each with where it was found, and a problem for each text that
/// does not parse. Empty documents are dropped and `List`s flattened into their items.
pub fn documents(texts: &[(String, String)]) -> (Vec<(String, Value)>, Vec<String>) {
    let (mut docs, mut problems) = (Vec::new(), Vec::new());
    for (shown, text) in texts {
        match serde_saphyr::from_multiple_with_options::<Value>(text, yaml_options(text.len())) {
            Ok(values) => {
                for (i, v) in values.into_iter().enumerate() {
                    flatten(v, &format!("{shown}#{}", i + 1), &mut docs);
                }
            }
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
    }
    (docs, problems)
}

/// Checks the files of `paths` every [`POLL`] and calls `changed` with them whenever their
/// [`Stamp`] differs from the last one. `loaded` is the stamp taken when the caller loaded them:
/// one taken when this first runs would hide a change made in between (the task may start
/// well after the load, on a busy machine).
pub async fn watch<F, Fut>(paths: Vec<String>, loaded: Stamp, mut changed: F)
where
    F: FnMut(Vec<PathBuf>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut last = loaded;
    loop {
        tokio::time::sleep(POLL).await;
        let files = files(&paths);
        let now = stamp(&files);
        if now != last {
            last = now;
            changed(files).await;
        }
    }
}

/// What `manifests PATH...` does in a plugin's setup: a path that does not exist, or paths
/// without a manifest file, stop the start (in the Corefile's words); otherwise `load` gets the
/// files now, and again, on a blocking thread, whenever they change. `load` keeps what it read
/// where the plugin answers from.
pub fn load_and_watch<F>(c: &mut Controller, paths: &[String], load: F) -> Result<(), ConfigError>
where
    F: Fn(Vec<PathBuf>) + Send + Sync + 'static,
{
    if let Some(missing) = missing(paths) {
        return Err(c.err(missing));
    }
    let found = files(paths);
    if found.is_empty() {
        return Err(c.err(format!("no manifest files found in {}", paths.join(" "))));
    }
    // Stamped before reading: a change made during the load is seen by the next check.
    let loaded = stamp(&found);
    load(found);
    let load = Arc::new(load);
    c.background(watch(paths.to_vec(), loaded, move |found| {
        let load = load.clone();
        async move {
            let _ = tokio::task::spawn_blocking(move || load(found)).await;
        }
    }));
    Ok(())
}

/// The YAML parser's limits for a text of `len` bytes. Its defaults (1 024 documents, 250 000
/// nodes) reject what `kubectl get -A -o yaml` prints for a real cluster; without aliases a
/// document, node or event takes at least a byte or so of input, so limits that grow with the
/// input accept every honest file, while the alias and anchor budgets, which guard against
/// expansion bombs, keep their defaults.
fn yaml_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = budget.max_documents.max(len / 2);
    budget.max_nodes = budget.max_nodes.max(len);
    budget.max_events = budget.max_events.max(4 * len);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Lists are flattened into their items; nulls (empty documents) are dropped.
fn flatten(v: Value, place: &str, out: &mut Vec<(String, Value)>) {
    if v.is_null() {
        return;
    }
    if v.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
        && let Some(items) = v.get("items").and_then(Value::as_array)
    {
        for (i, item) in items.iter().enumerate() {
            flatten(item.clone(), &format!("{place}.items[{i}]"), out);
        }
        return;
    }
    out.push((place.to_string(), v));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file changed after it was loaded but before the watch first looks is still a change.
    #[test]
    fn a_change_before_the_watch_starts_is_seen() {
        let dir = crate::test_util::ScratchDir::new("manifests-watch");
        let file = dir.write("a.yaml", "kind: Service\n");
        let paths = vec![dir.path().display().to_string()];
        let loaded = stamp(&files(&paths));
        std::fs::write(&file, "kind: Service\nmetadata: {name: b}\n").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let seen = runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let watching = watch(paths, loaded, move |found| {
                let _ = tx.send(found);
                async {}
            });
            tokio::spawn(watching);
            tokio::time::timeout(POLL * 5, rx.recv()).await.ok().flatten()
        });
        assert_eq!(seen, Some(vec![file]));
    }

    #[test]
    fn lists_are_flattened_and_each_object_named_by_its_place() {
        let text = "kind: Service\nmetadata: {name: a}\n---\n---\nkind: List\nitems:\n- {kind: Ingress}\n- {kind: Pod}\n";
        let (docs, problems) = documents(&[("f.yaml".into(), text.into())]);
        assert!(problems.is_empty(), "{problems:?}");
        let places: Vec<&str> = docs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(places, ["f.yaml#1", "f.yaml#2.items[0]", "f.yaml#2.items[1]"]);
        assert_eq!(docs[1].1["kind"], "Ingress");
    }

    #[test]
    fn a_text_that_does_not_parse_is_a_problem_naming_it_and_the_rest_still_load() {
        let texts = [("bad.yaml".into(), "a: [".into()), ("good.yaml".into(), "kind: Pod".into())];
        let (docs, problems) = documents(&texts);
        assert_eq!(docs.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("bad.yaml: "), "{problems:?}");
    }

    #[test]
    fn a_missing_path_is_named_in_the_error() {
        let paths = [".".to_string(), "/no/such/manifest.yaml".to_string()];
        assert_eq!(
            missing(&paths).as_deref(),
            Some("manifests: no such file or directory: /no/such/manifest.yaml")
        );
        assert_eq!(missing(&paths[..1]), None);
    }
}
