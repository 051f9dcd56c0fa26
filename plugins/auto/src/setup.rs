//! `auto [ZONES...] { directory DIR [REGEXP ORIGIN_TEMPLATE]; reload DURATION }`, read as
//! CoreDNS 1.14.7's `autoParse` reads it.

use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};
use regex::Regex;

/// What the directive says.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The zones files may be loaded for.
    pub zones: Vec<String>,
    /// The directory scanned (with its subdirectories).
    pub directory: String,
    /// Which file names are zones, and the origin their groups make.
    pub pattern: Regex,
    /// The origin, `{N}` standing for the pattern's N-th group.
    pub template: String,
    /// How often the directory is scanned and serials checked; zero: never.
    pub reload: Duration,
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Settings, ConfigError> {
    let mut s = Settings {
        zones: Vec::new(),
        directory: String::new(),
        pattern: Regex::new(r"db\.(.*)").expect("a valid pattern"),
        template: "{1}".into(),
        reload: Duration::from_secs(60),
    };
    while c.next() {
        s.zones = origins_from_args_or_block(&c.remaining_args(), c.zones());
        while c.next_block() {
            let option = c.val().to_owned();
            match option.as_str() {
                "directory" => {
                    if !c.next_arg() {
                        return Err(c.arg_err());
                    }
                    s.directory = c.val().to_string();
                    match std::fs::metadata(&s.directory) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            let words = plugin_api::pkg::os::error_words(&e);
                            return Err(c.err(format!(
                                "Unable to access root path '{}': {words}",
                                s.directory
                            )));
                        }
                        Err(_) => {
                            tracing::warn!("plugin/auto: Directory does not exist: {}", s.directory)
                        }
                        Ok(_) => {}
                    }
                    if c.next_arg() {
                        let text = c.val().to_string();
                        s.pattern = plugin_api::pkg::pattern::compile(&text)
                            .map_err(|e| c.err(format!("error parsing regexp: {e}")))?;
                        if s.pattern.captures_len() < 2 {
                            return Err(c.err("Need at least one sub expression"));
                        }
                        if !c.next_arg() {
                            return Err(c.arg_err());
                        }
                        s.template = c.val().to_string();
                    }
                    if c.next_arg() {
                        return Err(c.arg_err());
                    }
                }
                "reload" => {
                    let args = c.remaining_args();
                    let Some(value) = args.first() else {
                        return Err(ConfigError::new("reload duration value is expected"));
                    };
                    s.reload = parse_go_duration(value)
                        .map_err(|e| ConfigError::new(format!("plugin/auto: {e}")))?;
                }
                "upstream" => {
                    c.remaining_args();
                }
                _ => return Err(c.err(format!("unknown property '{option}'"))),
            }
        }
    }
    if s.directory.is_empty() {
        // CoreDNS takes this too, and its scans of "" fail; say so once instead.
        tracing::warn!("plugin/auto: no directory given: no zones will be loaded");
    }
    Ok(s)
}

/// The origin a file named `name` stands for: the template with its groups filled in, as a
/// fully qualified lower-case name; `None` when the name does not match.
pub fn origin(s: &Settings, name: &str) -> Option<String> {
    let caps = s.pattern.captures(name)?;
    let mut out = String::new();
    let mut rest = s.template.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| Some((close, after[..close].parse::<usize>().ok()?)))
        {
            Some((close, group)) => {
                out.push_str(caps.get(group).map_or("", |m| m.as_str()));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.is_empty() {
        return None;
    }
    Some(plugin_api::pkg::zone::normalize(&out))
}
