//! The portable UDP loop (the Linux one is [`super::udp_batch`]): `workers` of them, tokio
//! tasks, read the listener's one socket together (with *multisocket*, its sockets in turn).
//!
//! Each loop receives a packet, runs it through the listener's [`Mux`] and sends the reply from
//! a buffer it reuses. A query answered from memory costs no task and no lock; only a query whose
//! plugin has to wait (a forwarder) is moved to a task of its own, so one slow upstream never
//! holds up the loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use plugin_api::Proto;
use tokio::net::UdpSocket;

use super::InFlight;
use super::mux::{Mux, Outcome};

/// Largest UDP payload we read; anything larger is cut by the kernel and then fails to decode.
const RECV_BUFFER: usize = 65_535;

/// Serves `socket` until the task is aborted. In-flight waits are counted in `in_flight`.
pub async fn serve(socket: Arc<UdpSocket>, mux: Arc<ArcSwap<Mux>>, in_flight: InFlight) {
    let local = socket.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut out = Vec::with_capacity(4096);
    loop {
        // An error here (ICMP from an earlier send, on some systems) concerns one client only,
        // so the loop carries on.
        let Ok((len, src)) = socket.recv_from(&mut buf).await else { continue };
        let mux = mux.load();
        match mux.serve_packet_guarded(
            &buf[..len],
            src,
            local,
            Proto::Udp,
            Instant::now(),
            &mut out,
        ) {
            Outcome::Send => {
                let _ = socket.send_to(&out, src).await;
            }
            // Streams are framed only for TCP.
            Outcome::Drop | Outcome::SendFrames => {}
            Outcome::Wait(reply) => {
                let socket = socket.clone();
                let guard = in_flight.enter();
                tokio::spawn(async move {
                    if let Some(bytes) = reply.await {
                        let _ = socket.send_to(&bytes, src).await;
                    }
                    drop(guard);
                });
            }
        }
    }
}
