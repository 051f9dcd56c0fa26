//! What *dnstap* logs, as plugins describe it: a query or a response, where it went, when, and
//! (with `full`) its wire form. The *dnstap* plugin logs its own CLIENT_QUERY and
//! CLIENT_RESPONSE messages; a plugin that talks to other servers (*forward*) finds the block's
//! taps with [`taps_of`] and logs its FORWARDER_QUERY and FORWARDER_RESPONSE ones, as CoreDNS's
//! plugins find the *dnstap* handlers of their block.
//!
//! A tap never blocks and never fails the query: a message that cannot be queued is dropped
//! and counted by the tap.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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
    /// When the query was received or sent (for a received one, [`wall_time`] of its
    /// arrival).
    pub query_time: SystemTime,
    /// When the response was sent or received.
    pub response_time: Option<SystemTime>,
    /// The query in wire form, for taps that log it (`full`); borrowed, so giving it costs
    /// nothing to a tap that does not.
    pub query: Option<&'a [u8]>,
    /// The response in wire form, for taps that log it.
    pub response: Option<&'a [u8]>,
}

/// How long a thread's pairing of the two clocks is trusted before it is read again, so that
/// a step of the wall clock (an NTP correction, a time set by hand) shows in the messages
/// within this long.
const CLOCK_ANCHOR_LIFE: Duration = Duration::from_secs(1);

thread_local! {
    /// This thread's last pairing of the monotonic and the wall clock, read together.
    static CLOCK_ANCHOR: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
}

/// The wall-clock time of `at`, a monotonic instant read earlier (a request's
/// [`received`](crate::Request::received), which a UDP worker reads once per batch of
/// queries): the query time a message carries, without a clock reading of its own per query
/// (at a few hundred thousand queries a second, each reading is about 1 % of a core). The
/// thread pairs the two clocks at most once a second (`CLOCK_ANCHOR_LIFE`) and counts from there.
pub fn wall_time(at: Instant) -> SystemTime {
    CLOCK_ANCHOR.with(|anchor| {
        if let Some((mono, wall)) = anchor.get()
            && let Some(mapped) = map_instant(mono, wall, at, CLOCK_ANCHOR_LIFE)
        {
            return mapped;
        }
        let (mono, wall) = (Instant::now(), SystemTime::now());
        anchor.set(Some((mono, wall)));
        // Only a wall clock set back to before the epoch fails to map; then now is the
        // nearest time there is.
        map_instant(mono, wall, at, Duration::MAX).unwrap_or(wall)
    })
}

/// `at` on the wall clock, from `mono` and `wall` read together, if `at` lies within `reach`
/// of them (on either side: a batch's queries were received before the clocks were paired
/// while serving it).
fn map_instant(
    mono: Instant,
    wall: SystemTime,
    at: Instant,
    reach: Duration,
) -> Option<SystemTime> {
    match at.checked_duration_since(mono) {
        Some(ahead) => (ahead < reach).then(|| wall.checked_add(ahead)).flatten(),
        None => {
            let behind = mono.duration_since(at);
            (behind < reach).then(|| wall.checked_sub(behind)).flatten()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `wall_time` of an instant read now lies between wall-clock readings taken around it,
    /// an earlier instant maps that much earlier, and later instants count on from the
    /// thread's pairing without going back.
    #[test]
    fn wall_time_follows_the_instant() {
        let before = SystemTime::now();
        let now = Instant::now();
        let mapped = wall_time(now);
        let after = SystemTime::now();
        assert!(before <= mapped && mapped <= after, "{before:?} <= {mapped:?} <= {after:?}");

        let earlier = now.checked_sub(Duration::from_secs(2)).expect("the clock has run 2 s");
        let back = mapped.duration_since(wall_time(earlier)).expect("earlier maps earlier");
        assert!(back.abs_diff(Duration::from_secs(2)) < Duration::from_millis(50), "{back:?}");

        let mut last = wall_time(Instant::now());
        for _ in 0..1000 {
            let next = wall_time(Instant::now());
            assert!(next >= last, "{next:?} went back from {last:?}");
            last = next;
        }
        assert!(last <= SystemTime::now());
    }

    /// Past the anchor's life the thread pairs the clocks again, and the time still follows.
    #[test]
    fn wall_time_pairs_the_clocks_again_later() {
        let _ = wall_time(Instant::now());
        let later = Instant::now() + CLOCK_ANCHOR_LIFE + Duration::from_millis(10);
        let mapped = wall_time(later);
        let expected = SystemTime::now() + CLOCK_ANCHOR_LIFE + Duration::from_millis(10);
        let gap = expected.duration_since(mapped).unwrap_or_else(|e| e.duration());
        assert!(gap < Duration::from_millis(50), "{mapped:?} against {expected:?}");
    }
}
