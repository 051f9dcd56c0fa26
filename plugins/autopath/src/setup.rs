//! `autopath [ZONE...] RESOLV-CONF|@PLUGIN`, read as CoreDNS 1.14.7's `autoPathParse` reads it.

use plugin_api::pkg::resolv;
use plugin_api::pkg::zone::{normalize, origins_from_args_or_block};
use plugin_api::{ConfigError, Controller};

/// Where the search path comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// `@PLUGIN`: asked of that plugin of the block for every query.
    Plugin(String),
    /// A resolv.conf's `search` list, normalised, ending with "" (the bare name).
    Fixed(Vec<String>),
}

/// What the directive says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The zones autopath applies to.
    pub zones: Vec<String>,
    /// The search path's source.
    pub search: Search,
}

/// Reads every `autopath` line of the block; the last one wins, as in CoreDNS.
pub fn parse(c: &mut Controller) -> Result<Settings, ConfigError> {
    let mut settings = None;
    while c.next() {
        let args = c.remaining_args();
        let Some((resolv_conf, zones)) = args.split_last() else {
            return Err(c.err("no resolv-conf specified").in_plugin(crate::NAME));
        };
        let search = match resolv_conf.strip_prefix('@') {
            Some(plugin) => Search::Plugin(plugin.to_owned()),
            None => {
                let conf = resolv::read(resolv_conf).map_err(|e| {
                    c.err(format!("failed to parse {resolv_conf:?}: {e}")).in_plugin(crate::NAME)
                })?;
                let mut search: Vec<String> = conf.search.iter().map(|s| normalize(s)).collect();
                search.push(String::new());
                Search::Fixed(search)
            }
        };
        let zones = origins_from_args_or_block(zones, c.zones());
        settings = Some(Settings { zones, search });
    }
    settings.ok_or_else(|| c.err("no resolv-conf specified").in_plugin(crate::NAME))
}
