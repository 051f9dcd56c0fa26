//! Authoritative zones from RFC 1035 zone files, for the plugins that serve them (*file*, and
//! *auto* and *secondary* after it), as CoreDNS's `plugin/file` package serves its siblings.
//!
//! * [`lexer`] splits a zone file into entries with their lines; [`reader`] reads them into
//!   records (`$ORIGIN`, `$TTL`, `$INCLUDE`, relative names), every error with `file:line`.
//! * [`zone`] holds a zone and answers from it as RFC 1034 §4.3.2 says: CNAME chains, DNAME,
//!   wildcards, delegations with glue, DS at a cut, NXDOMAIN and NODATA with the SOA; and the
//!   common answers without allocating ([`Zone::quick`]).
//! * [`load`] and [`load_text`] make a zone of a file, and [`serial_newer`] tells a reload
//!   whether a file's zone replaces the one held.

pub mod lexer;
pub mod reader;
pub mod zone;

pub use zone::{Answer, Fast, Quick, Zone};

use crate::proto::rr::Name;

/// Why a zone could not be loaded.
#[derive(Debug)]
pub enum Problem {
    /// The file cannot be read.
    Open(String),
    /// It does not parse, or its records do not make a zone.
    Parse(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open(e) | Self::Parse(e) => f.write_str(e),
        }
    }
}

/// Reads `file` as the zone `origin`.
pub fn load(file: &str, origin: &str) -> Result<Zone, Problem> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Problem::Open(format!("open {file}: {}", crate::pkg::os::error_words(&e))))?;
    load_text(&text, file, origin)
}

/// Reads `text` (the file `file`) as the zone `origin`.
pub fn load_text(text: &str, file: &str, origin: &str) -> Result<Zone, Problem> {
    let origin = Name::from_ascii(origin).map_err(|e| Problem::Parse(format!("{origin}: {e}")))?;
    let records = reader::parse(text, file, &origin).map_err(|e| Problem::Parse(e.to_string()))?;
    Zone::new(&origin, records).map_err(|e| Problem::Parse(format!("{file}: {e}")))
}

/// RFC 1982 serial number arithmetic: `a` is newer than `b`.
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

#[cfg(test)]
mod tests;
