//! *bufsize*: caps the EDNS buffer size clients advertise (CoreDNS's `plugin/bufsize`), so that
//! UDP replies stay small enough not to be fragmented.
//!
//! * [`setup`] reads `bufsize [SIZE]`: 1232 octets by default (DNS Flag Day 2020), else 512 to
//!   4096, as CoreDNS checks it.
//! * [`Bufsize`] caps the query's size with `Request::cap_payload`, as CoreDNS lowers it in the
//!   query: the plugins after it, *forward*'s query upstream, the truncation of the reply and
//!   the buffer size the reply's OPT advertises all see the capped size. A query without EDNS,
//!   or asking for less, is left alone. Nothing is allocated or copied.

use std::sync::Arc;

use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Request, Serve};

/// The directive's name.
pub const NAME: &str = "bufsize";

/// The size without an argument, DNS Flag Day 2020's (<http://www.dnsflagday.net/2020/>).
pub const DEFAULT_SIZE: u16 = 1232;

/// Reads `bufsize [SIZE]` and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let size = parse(c).map_err(|e| e.in_plugin(NAME))?;
    Ok(Some(Arc::new(Bufsize { size })))
}

/// The size, from the block's first `bufsize` line (CoreDNS reads only that one).
fn parse(c: &mut Controller) -> Result<u16, ConfigError> {
    if !c.next() {
        return Err(c.arg_err());
    }
    match c.remaining_args().as_slice() {
        [] => Ok(DEFAULT_SIZE),
        // RFC 6891's range, as CoreDNS checks it; Go's `Atoi` takes a sign.
        [size] => match size.strip_prefix('+').unwrap_or(size).parse::<u16>() {
            Ok(n) if (512..=4096).contains(&n) => Ok(n),
            _ => Err(c.arg_err()),
        },
        _ => Err(c.arg_err()),
    }
}

/// The *bufsize* handler.
#[derive(Debug)]
pub struct Bufsize {
    size: u16,
}

impl Bufsize {
    /// The cap.
    pub fn size(&self) -> u16 {
        self.size
    }
}

impl Plugin for Bufsize {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        req.cap_payload(self.size);
        next.run(ctx, req)
    }
}

#[cfg(test)]
mod tests;
