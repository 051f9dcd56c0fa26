//! *multisocket*: how many `SO_REUSEPORT` sockets a listen address opens.
//!
//! * [`setup::parse`] reads `multisocket [NUM_SOCKETS]` with CoreDNS's rules and messages: one count
//!   from 1 to [`setup::MAX_SOCKETS`], or none for "one per worker".
//! * [`setup()`] leaves the count in the configuration's shared state (`PerBlock<Sockets>`),
//!   under the block's index; the server reads it when it groups the blocks into listeners. The plugin
//!   adds nothing to the chain.

pub mod setup;

use std::sync::Arc;

use plugin_api::{ConfigError, Controller, Plugin};
pub use setup::Sockets;
use setup::parse;

/// Records the block's count for the server.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let settings = parse(c)?;
    c.set_for_block(settings);
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
