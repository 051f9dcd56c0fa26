//! Reading the directive: `multisocket [NUM_SOCKETS]`, with CoreDNS's rules and messages.

use plugin_api::{ConfigError, Controller};

/// CoreDNS's limit.
pub const MAX_SOCKETS: usize = 1024;

/// What a block asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sockets {
    /// `multisocket` alone: one socket per worker (`GOMAXPROCS`, else the cores).
    PerWorker,
    /// `multisocket N`.
    Count(usize),
}

/// Reads the directive. A second argument, a block, or a second `multisocket` line in the block
/// is an argument error, as in CoreDNS.
pub fn parse(c: &mut Controller) -> Result<Sockets, ConfigError> {
    c.next();
    let args = c.remaining_args();
    if args.len() > 1 || c.next() {
        return Err(c.arg_err());
    }
    let Some(arg) = args.first() else { return Ok(Sockets::PerWorker) };
    let n = parse_go_int(arg).map_err(|e| ConfigError::new(format!("invalid num sockets: {e}")))?;
    if n < 1 {
        return Err(ConfigError::new(format!("num sockets can not be zero or negative: {n}")));
    }
    if n > MAX_SOCKETS as i64 {
        return Err(ConfigError::new(format!("num sockets exceeds maximum ({MAX_SOCKETS}): {n}")));
    }
    Ok(Sockets::Count(n as usize))
}

/// `strconv.Atoi`, with Go's wording for what it refuses.
fn parse_go_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}
