//! What *dnstap* logs, as plugins describe it: a query or a response, where it went, when, and
//! (with `full`) its wire form. The *dnstap* plugin logs its own CLIENT_QUERY and
//! CLIENT_RESPONSE messages; a plugin that talks to other servers (*forward*) finds the block's
//! taps with [`taps_of`] and logs its FORWARDER_QUERY and FORWARDER_RESPONSE ones, as CoreDNS's
//! plugins find the *dnstap* handlers of their block.
//!
//! A tap never blocks and never fails the query: a message that cannot be queued is dropped
//! and counted by the tap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::Controller;
use crate::controller::PerBlock;

/// The dnstap message types ferrodns sends (dnstap.proto's `Message.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A query from a client, as it arrived.
    ClientQuery,
    /// The response to a client.
    ClientResponse,
    /// A query sent to an upstream.
    ForwarderQuery,
    /// An upstream's response.
    ForwarderResponse,
}

/// The transport of the exchange (dnstap.proto's `SocketProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// DNS over UDP.
    Udp,
    /// DNS over TCP.
    Tcp,
    /// DNS over TLS.
    Tls,
}

/// One message to log.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// What it is.
    pub kind: Kind,
    /// Over what.
    pub transport: Transport,
    /// The querier's address (the client's; for a forwarded query, none, as in CoreDNS).
    pub query_address: Option<SocketAddr>,
    /// The responder's address (for a forwarded query, the upstream's).
    pub response_address: Option<SocketAddr>,
    /// When the query was received or sent.
    pub query_time: SystemTime,
    /// When the response was sent or received.
    pub response_time: Option<SystemTime>,
    /// The query in wire form, for taps that log it (`full`); borrowed, so giving it costs
    /// nothing to a tap that does not.
    pub query: Option<&'a [u8]>,
    /// The response in wire form, for taps that log it.
    pub response: Option<&'a [u8]>,
}

/// A destination for dnstap messages: one `dnstap` line.
pub trait Tap: Send + Sync {
    /// Queues `message`; never blocks.
    fn tap(&self, message: &Message<'_>);
}

/// The taps of one server block, in the order the Corefile gives them.
#[derive(Clone, Default)]
pub struct Taps(pub Vec<Arc<dyn Tap>>);

impl Taps {
    /// Whether there is no tap.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands `message` to every tap.
    pub fn tap(&self, message: &Message<'_>) {
        for t in &self.0 {
            t.tap(message);
        }
    }
}

/// Adds `tap` to the taps of `c`'s block (the *dnstap* plugin's setup).
pub fn add_tap(c: &Controller, tap: Arc<dyn Tap>) {
    let all = c.shared::<PerBlock<Taps>>();
    let mut taps = all.of(c.block_index()).unwrap_or_default();
    taps.0.push(tap);
    c.set_for_block(taps);
}

/// The taps of `c`'s block so far. *dnstap* comes before every plugin that forwards in the
/// chain, so its lines are set up, and found here, first.
pub fn taps_of(c: &Controller) -> Taps {
    c.shared::<PerBlock<Taps>>().of(c.block_index()).unwrap_or_default()
}
