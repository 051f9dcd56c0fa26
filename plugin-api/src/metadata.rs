//! A query's metadata (CoreDNS's `plugin/metadata`): labels named `plugin/name` with string
//! values, which plugins that provide them ([`Plugin::metadata`](crate::Plugin::metadata))
//! publish before the chain runs, and which others read while serving: *log*'s `{/label}`,
//! *template*'s `.Meta "label"`, *rewrite*'s `edns0 local ... {label}`.
//!
//! The server collects them only for a block that uses *metadata*, and only for its zones;
//! elsewhere [`Meta`] stays empty and a read is a length check. The values live in the
//! request ([`Request::meta`](crate::Request::meta)), which the server reuses from query to
//! query: [`Meta::set`] refills the strings a previous query left, so a warm thread publishes
//! without allocating.

/// The labels and values of one query, in the order they were set.
#[derive(Debug, Default)]
pub struct Meta {
    /// Slots; the first `len` are in use, the rest keep their capacity for the next query.
    slots: Vec<(String, String)>,
    len: usize,
}

impl Meta {
    /// The value of `label`, if a plugin set it.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.in_use().iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str())
    }

    /// Sets `label` to `value`, replacing an earlier value (CoreDNS's `SetValueFunc`).
    pub fn set(&mut self, label: &str, value: &str) {
        if let Some(at) = self.in_use().iter().position(|(l, _)| l == label) {
            refill(&mut self.slots[at].1, value);
            return;
        }
        match self.slots.get_mut(self.len) {
            Some((l, v)) => {
                refill(l, label);
                refill(v, value);
            }
            None => self.slots.push((label.to_owned(), value.to_owned())),
        }
        self.len += 1;
    }

    /// Every label and its value, in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.in_use().iter().map(|(l, v)| (l.as_str(), v.as_str()))
    }

    /// True if no label is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every label, keeping the strings' room for the next query.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Makes this a copy of `other`, reusing this one's strings.
    pub fn copy_from(&mut self, other: &Self) {
        self.clear();
        for (label, value) in other.iter() {
            self.set(label, value);
        }
    }

    fn in_use(&self) -> &[(String, String)] {
        &self.slots[..self.len]
    }
}

impl Clone for Meta {
    fn clone(&self) -> Self {
        let slots = self.in_use().to_vec();
        Self { len: slots.len(), slots }
    }
}

fn refill(s: &mut String, text: &str) {
    s.clear();
    s.push_str(text);
}

/// CoreDNS's `metadata.IsLabel`: a slash with something on each side of the first one
/// (`kubernetes/namespace`, `kubernetes/client-label/app`).
pub fn is_label(label: &str) -> bool {
    label.find('/').is_some_and(|at| at > 0 && at < label.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_replace_and_order() {
        let mut m = Meta::default();
        assert!(m.is_empty() && m.get("a/b").is_none());
        m.set("kubernetes/namespace", "default");
        m.set("kubernetes/service", "web");
        m.set("kubernetes/namespace", "kube-system");
        assert_eq!(m.get("kubernetes/namespace"), Some("kube-system"));
        let all: Vec<_> = m.iter().collect();
        assert_eq!(all, [("kubernetes/namespace", "kube-system"), ("kubernetes/service", "web")]);
    }

    #[test]
    fn clear_keeps_room_and_forgets_values() {
        let mut m = Meta::default();
        m.set("a/b", "one");
        m.set("c/d", "two");
        m.clear();
        assert!(m.is_empty() && m.get("a/b").is_none());
        m.set("e/f", "three");
        assert_eq!(m.iter().collect::<Vec<_>>(), [("e/f", "three")]);
        let copy = m.clone();
        assert_eq!(copy.get("e/f"), Some("three"));
        let mut into = Meta::default();
        into.set("x/y", "old");
        into.copy_from(&m);
        assert_eq!(into.iter().collect::<Vec<_>>(), [("e/f", "three")]);
    }

    /// CoreDNS 1.14.7's `TestLabelFormat`, and a few more.
    #[test]
    fn labels_as_coredns_reads_them() {
        let valid = ["plugin/LABEL", "p/LABEL", "plugin/L", "PLUGIN/LABEL/SUB-LABEL", "a//"];
        for ok in valid {
            assert!(is_label(ok), "{ok}");
        }
        let invalid = [
            "LABEL",
            "plugin.LABEL",
            "/NO-PLUGIN-NOT-ACCEPTED",
            "ONLY-PLUGIN-NOT-ACCEPTED/",
            "/",
            "//",
            "",
        ];
        for bad in invalid {
            assert!(!is_label(bad), "{bad}");
        }
    }
}
