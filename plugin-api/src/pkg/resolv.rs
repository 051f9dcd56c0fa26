//! resolv.conf files as miekg/dns's `ClientConfigFromFile` reads them: the `nameserver` lines,
//! and the search list (`search` replaces it, `domain` makes it that one name, the last line
//! wins). Lines starting with `#` or `;` are comments.

/// What a resolv.conf says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// The `nameserver` addresses, as written.
    pub nameservers: Vec<String>,
    /// The search list, as written.
    pub search: Vec<String>,
}

/// Reads `text`.
pub fn parse(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => conf.nameservers.extend(fields.next().map(str::to_owned)),
            Some("domain") => conf.search = fields.next().map(str::to_owned).into_iter().collect(),
            Some("search") => conf.search = fields.map(str::to_owned).collect(),
            _ => {}
        }
    }
    conf
}

/// Reads the file at `path`; the error is Go's `open PATH: ...` text.
pub fn read(path: &str) -> Result<ResolvConf, String> {
    std::fs::read_to_string(path)
        .map(|text| parse(&text))
        .map_err(|e| format!("open {path}: {}", super::os::error_words(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_domain_and_nameservers() {
        let conf = parse(
            "nameserver 1.2.3.4\n# comment\n; also\ndomain foo.com\nsearch bar.com baz.com\noptions ndots:5\nnameserver ::1\n",
        );
        assert_eq!(conf.nameservers, ["1.2.3.4", "::1"]);
        assert_eq!(conf.search, ["bar.com", "baz.com"]);
        assert_eq!(parse("search a.b\ndomain c.d\n").search, ["c.d"]);
        assert!(parse("domain\n").search.is_empty());
    }

    #[test]
    fn a_missing_file_is_worded_as_go_words_it() {
        assert_eq!(read("kubernetes").unwrap_err(), "open kubernetes: no such file or directory");
        assert_eq!(read("").unwrap_err(), "open : no such file or directory");
    }
}
