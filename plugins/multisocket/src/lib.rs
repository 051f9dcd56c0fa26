//! *multisocket*: how many `SO_REUSEPORT` sockets a listen address opens.
//!
//! * [`parse`] reads `multisocket [NUM_SOCKETS]` with CoreDNS's rules and messages: one count
//!   from 1 to [`MAX_SOCKETS`], or none for "one per worker".
//! * [`setup`] leaves the count in the configuration's shared state ([`Counts`]), under the
//!   block's index; the server reads it when it groups the blocks into listeners. The plugin
//!   adds nothing to the chain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plugin_api::{ConfigError, Controller, Plugin};

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

/// The blocks that use *multisocket*, by block index.
#[derive(Default)]
pub struct Counts(pub Mutex<HashMap<usize, Sockets>>);

impl Counts {
    /// What block `index` asked for, if it uses *multisocket*.
    pub fn of(&self, index: usize) -> Option<Sockets> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&index).copied()
    }
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

/// Records the block's count for the server.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let sockets = parse(c)?;
    let counts = c.shared::<Counts>();
    counts.0.lock().unwrap_or_else(|e| e.into_inner()).insert(c.block_index(), sockets);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<Sockets, String> {
        parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_from_one_to_the_maximum() {
        assert_eq!(parsed("multisocket"), Ok(Sockets::PerWorker));
        assert_eq!(parsed("multisocket 2"), Ok(Sockets::Count(2)));
        assert_eq!(parsed(" multisocket 1"), Ok(Sockets::Count(1)));
        assert_eq!(parsed("multisocket 1024"), Ok(Sockets::Count(1024)));
    }

    #[test]
    fn refusals_say_what_coredns_says() {
        let err = |input: &str| parsed(input).expect_err(input);
        assert!(
            err("multisocket text")
                .contains("invalid num sockets: strconv.Atoi: parsing \"text\": invalid syntax")
        );
        assert!(err("multisocket 99999999999999999999").contains("value out of range"));
        assert!(err("multisocket 0").contains("num sockets can not be zero or negative: 0"));
        assert!(err("multisocket -1").contains("num sockets can not be zero or negative: -1"));
        assert!(err("multisocket 1025").contains("num sockets exceeds maximum (1024): 1025"));
        assert!(
            err("multisocket 2 2")
                .contains("Wrong argument count or unexpected line ending after '2'")
        );
        assert!(
            err("multisocket 2 {\n block\n}").contains("Unexpected token '{', expecting argument")
        );
        assert!(err("multisocket 2\nmultisocket 3").contains("Wrong argument count"));
    }
}
