//! NOTIFY (RFC 1996): telling secondaries that a zone changed, so they transfer it now rather
//! than at the SOA's refresh. Each `to` address gets a NOTIFY for the zone with its SOA; it is
//! sent again after a second without an answer, at most [`TRIES`] times.

use std::net::SocketAddr;
use std::time::Duration;

use plugin_api::proto::op::{Message, MessageType, OpCode, Query};
use plugin_api::proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

use crate::Xfr;

/// How many times a NOTIFY is sent without an answer.
pub const TRIES: usize = 3;
/// How long an answer is waited for.
const WAIT: Duration = Duration::from_secs(1);

/// Notifies the secondaries of every block that lists `zone`.
pub async fn zone(xfrs: &[Xfr], zone: &str, serial: u32) {
    for x in xfrs.iter().filter(|x| x.zones.iter().any(|z| z == zone)) {
        for to in x.to.iter().filter(|t| *t != "*") {
            let Ok(addr) = to.parse::<SocketAddr>() else { continue };
            match send(addr, zone).await {
                Ok(()) => tracing::info!(
                    "plugin/transfer: Sent notifies for zone {zone:?} with serial {serial} to {addr}"
                ),
                Err(e) => {
                    tracing::warn!(
                        "plugin/transfer: Notifies for zone {zone:?} to {addr} failed: {e}"
                    )
                }
            }
        }
    }
}

/// One NOTIFY for `zone` to `addr`, until it is answered.
pub async fn send(addr: SocketAddr, zone: &str) -> Result<(), String> {
    let name = Name::from_ascii(zone).map_err(|e| e.to_string())?;
    let id = plugin_api::pkg::random::next_u64() as u16;
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(name, RecordType::SOA));
    let bytes = m.to_vec().map_err(|e| e.to_string())?;
    let local: SocketAddr =
        if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("valid");
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    for _ in 0..TRIES {
        socket.send_to(&bytes, addr).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let answered = Message::from_vec(&buf[..n]).is_ok_and(|r| {
                r.metadata.id == id && r.metadata.message_type == MessageType::Response
            });
            if from == addr && answered {
                return Ok(());
            }
        }
    }
    Err(format!("no answer after {TRIES} tries"))
}
