//! `file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...] }`, read
//! as CoreDNS 1.14.7's `fileParse` reads it.

use std::time::Duration;

use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::zone::origins_from_args_or_block;
use plugin_api::{ConfigError, Controller};

/// The default interval between checks of the file's serial.
pub const DEFAULT_RELOAD: Duration = Duration::from_secs(60);

/// One `file` line: a file and the zones read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileZones {
    /// The zone file.
    pub file: String,
    /// The zones (each read from the file with itself as origin).
    pub zones: Vec<String>,
    /// How often the file's SOA serial is checked; zero: never.
    pub reload: Duration,
    /// Reload when the file's modification time is newer, whatever its serial.
    pub by_mtime: bool,
}

/// Reads every line of the directive; the `fallthrough` of the last line that has one counts
/// for all (CoreDNS keeps one per plugin).
pub fn parse(c: &mut Controller) -> Result<(Vec<FileZones>, Fall), ConfigError> {
    let mut out = Vec::new();
    let mut fall = Fall::default();
    while c.next() {
        if !c.next_arg() {
            return Err(c.arg_err());
        }
        let file = c.val().to_string();
        let zones = origins_from_args_or_block(&c.remaining_args(), c.zones());
        let (mut reload, mut by_mtime) = (DEFAULT_RELOAD, false);
        while c.next_block() {
            let option = c.val().to_owned();
            match option.as_str() {
                "reload" => {
                    let args = c.remaining_args();
                    let Some(value) = args.first() else {
                        return Err(ConfigError::new("reload duration value is expected"));
                    };
                    reload = parse_go_duration(value)
                        .map_err(|e| ConfigError::new(format!("plugin/file: {e}")))?;
                }
                "reload_by_mtime" => by_mtime = true,
                "fallthrough" => fall = Fall::from_args(&c.remaining_args()),
                // Accepted and ignored, as CoreDNS does ("remove soon").
                "upstream" => {
                    c.remaining_args();
                }
                _ => return Err(c.err(format!("unknown property '{option}'"))),
            }
        }
        out.push(FileZones { file, zones, reload, by_mtime });
    }
    Ok((out, fall))
}
