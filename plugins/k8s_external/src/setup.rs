//! `k8s_external [ZONE...] { apex NAME; ttl SECONDS; headless; fallthrough [ZONE...] }`, read
//! as CoreDNS 1.14.7's `parse` reads it.

use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

/// What the directive says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The zones served.
    pub zones: Vec<String>,
    /// The label the name servers live under (`dns`).
    pub apex: String,
    /// The TTL of the answers (5).
    pub ttl: u32,
    /// Headless Services answer with their endpoints.
    pub headless: bool,
    /// Names that do not exist go on to the next plugin.
    pub fall: Fall,
}

/// Reads every line of the directive.
pub fn parse(c: &mut Controller) -> Result<Settings, ConfigError> {
    let mut s = Settings {
        zones: Vec::new(),
        apex: "dns".into(),
        ttl: 5,
        headless: false,
        fall: Fall::default(),
    };
    while c.next() {
        let args = c.remaining_args();
        s.zones = origins_from_args_or_block(&args, c.zones());
        while c.next_block() {
            let option = c.val().to_owned();
            match option.as_str() {
                "ttl" => {
                    let args = c.remaining_args();
                    let Some(value) = args.first() else { return Err(c.arg_err()) };
                    let t: i64 = value.parse().map_err(|_| {
                        let quoted = plugin_api::pkg::strconv::go_quote(value);
                        c.err(format!("strconv.Atoi: parsing {quoted}: invalid syntax"))
                    })?;
                    if !(0..=3600).contains(&t) {
                        return Err(c.err(format!("ttl must be in range [0, 3600]: {t}")));
                    }
                    s.ttl = t as u32;
                }
                "apex" => {
                    let args = c.remaining_args();
                    let Some(apex) = args.first() else { return Err(c.arg_err()) };
                    s.apex = apex.clone();
                }
                "headless" => s.headless = true,
                "fallthrough" => s.fall = Fall::from_args(&c.remaining_args()),
                _ => return Err(c.err(format!("unknown property '{option}'"))),
            }
        }
    }
    Ok(s)
}
