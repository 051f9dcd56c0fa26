//! Kubernetes label selectors (`app=web,tier!=db,env in (prod,stage),!legacy`) for the `labels`
//! and `namespace_labels` options.
//!
//! With the API the selector text is handed to the server, which filters the lists and watches;
//! it is parsed here as well so that a bad one fails at setup with file:line, and so that objects
//! read from `manifests` and Namespaces' labels are matched the same way.

use std::collections::BTreeMap;
use std::fmt;

/// One requirement on one label.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses the selector syntax of `kubectl -l`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                return Err("found an empty requirement".into());
            }
            requirements.push(requirement(part)?);
        }
        Ok(Self { text: text.trim().to_string(), requirements })
    }

    /// The selector as written, for the API server's `labelSelector` parameter.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if `labels` satisfy every requirement (no labels at all count as empty).
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::Absent(k) => get(k).is_none(),
            Requirement::In(k, values) => get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(v)),
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What `labels` and `namespace_labels` let through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `labels`: Services and EndpointSlices must match.
    pub labels: Option<Selector>,
    /// `namespace_labels`: Namespaces must match.
    pub namespace_labels: Option<Selector>,
}

impl Filter {
    /// True if a Service or EndpointSlice with these labels is served.
    pub fn object(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.labels.as_ref().is_none_or(|s| s.matches(labels))
    }

    /// True if a Namespace with these labels is served.
    pub fn namespace(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.namespace_labels.as_ref().is_none_or(|s| s.matches(labels))
    }

    /// With `namespace_labels`, only the Namespaces that matched exist: a namespace that an
    /// object merely names is not served, nor are the objects in it.
    pub fn strict_namespaces(&self) -> bool {
        self.namespace_labels.is_some()
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::Absent(key_of(key.trim())?));
    }
    for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = part.split_once(op) {
            let (key, value) = (key_of(key.trim())?, value_of(value.trim())?);
            return Ok(if negated {
                Requirement::NotIn(key, vec![value])
            } else {
                Requirement::In(key, vec![value])
            });
        }
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = key_of(words.next().unwrap_or(""))?;
    let Some(rest) = words.next().map(str::trim) else { return Ok(Requirement::Exists(key)) };
    let (negated, list) = if let Some(list) = rest.strip_prefix("notin") {
        (true, list)
    } else if let Some(list) = rest.strip_prefix("in") {
        (false, list)
    } else {
        return Err(format!("unknown operator in {part:?}"));
    };
    let inner = list
        .trim()
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised list of values in {part:?}"))?;
    let values: Result<Vec<String>, String> =
        inner.split(',').map(|v| value_of(v.trim())).collect();
    let values = values?;
    Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) })
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters.
fn key_of(key: &str) -> Result<String, String> {
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    if name.is_empty() || name.len() > 63 || !is_label_text(name) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(key.to_string())
}

/// A label value: empty, or up to 63 characters of the label alphabet.
fn value_of(value: &str) -> Result<String, String> {
    if value.len() > 63 || !(value.is_empty() || is_label_text(value)) {
        return Err(format!("invalid label value {value:?}"));
    }
    Ok(value.to_string())
}

/// Alphanumerics with `-`, `_`, `.` inside.
fn is_label_text(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    s.chars().next().is_some_and(ok)
        && s.chars().last().is_some_and(ok)
        && s.chars().all(|c| ok(c) || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn requirements_match_like_kubectl() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("env", "prod")]);
        let rows = [
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("env in (prod, stage)", true),
            ("env notin (prod)", false),
            ("missing notin (a)", true),
            ("app=web,tier=front", true),
            ("app=web, tier=back", false),
            ("example.com/team", false),
        ];
        for (text, want) in rows {
            let s = Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.matches(Some(&web)), want, "{text}");
        }
        assert!(!Selector::parse("app=web").unwrap().matches(None));
        assert!(Selector::parse("app!=web").unwrap().matches(None));
    }

    #[test]
    fn bad_selectors_are_refused() {
        for text in ["", "app=web,", "env in prod", "env in (prod", "a b c", "-x=y", "a=b c", "k/"]
        {
            assert!(Selector::parse(text).is_err(), "{text:?} must be refused");
        }
        assert_eq!(Selector::parse(" app=web ").unwrap().as_str(), "app=web");
    }
}
