//! NOTIFY (RFC 1996): telling secondaries that a zone changed, so they transfer it now rather
//! than at the SOA's refresh. Each `to` address gets a NOTIFY for the zone, from the block's
//! `source` address if it has one; it is sent again after a second without a NOERROR answer, at
//! most [`TRIES`] times, as CoreDNS's `sendNotify` does.

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

/// Notifies the secondaries of the `transfer` line whose zones hold `zone` most closely: a
/// `transfer .` covers every zone of the block, as in CoreDNS.
pub async fn zone(xfrs: &[Xfr], zone: &str, serial: u32) {
    if let Some(x) = crate::longest_match(xfrs, zone) {
        for to in x.to.iter().filter(|t| *t != "*") {
            let Ok(addr) = to.parse::<SocketAddr>() else { continue };
            match send(addr, x.source, zone).await {
                Ok(()) => tracing::debug!(
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

/// One NOTIFY for `zone` to `addr` from `source` (any address when `None`), until it is
/// accepted.
pub async fn send(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    zone: &str,
) -> Result<(), String> {
    let name = Name::from_ascii(zone).map_err(|e| e.to_string())?;
    let id = plugin_api::pkg::random::next_u64() as u16;
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(name, RecordType::SOA));
    let bytes = m.to_vec().map_err(|e| e.to_string())?;
    let any: std::net::IpAddr = if addr.is_ipv4() { [0u8; 4].into() } else { [0u16; 8].into() };
    let local = SocketAddr::new(source.unwrap_or(any), 0);
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let mut last = String::from("no answer");
    for _ in 0..TRIES {
        socket.send_to(&bytes, addr).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let Ok(r) = Message::from_vec(&buf[..n]) else { continue };
            if from != addr
                || r.metadata.id != id
                || r.metadata.message_type != MessageType::Response
            {
                continue;
            }
            if r.metadata.response_code == plugin_api::proto::op::ResponseCode::NoError {
                return Ok(());
            }
            last = format!(
                "rcode was {}",
                plugin_api::pkg::names::rcode_label(r.metadata.response_code)
            );
            break;
        }
    }
    Err(last)
}
