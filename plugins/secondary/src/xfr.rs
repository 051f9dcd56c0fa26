//! Zone transfer in (RFC 5936): an AXFR over TCP to one primary, read message by message until
//! the closing SOA, every step under a deadline and every message checked, so that a primary
//! that sends garbage, stops halfway or never answers costs an error and no more.

use std::net::SocketAddr;
use std::time::Duration;

use plugin_api::pkg::wire::decode_message;
use plugin_api::proto::op::{Message, Query, ResponseCode};
use plugin_api::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long the connection, the query and each message of the answer may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most records a transfer may bring (a bound on memory for a primary that never ends).
pub const MAX_RECORDS: usize = 10_000_000;

/// The zone `origin` from `primary`: its records, SOA first, without the closing SOA.
pub async fn axfr(primary: SocketAddr, origin: &Name) -> Result<Vec<Record>, String> {
    axfr_within(primary, origin, STEP_TIMEOUT).await
}

/// [`axfr`] with `step` for each step's deadline.
pub async fn axfr_within(
    primary: SocketAddr,
    origin: &Name,
    step_limit: Duration,
) -> Result<Vec<Record>, String> {
    let step = |what: &'static str| move |_| format!("{primary}: {what} timed out");
    let mut stream = timeout(step_limit, TcpStream::connect(primary))
        .await
        .map_err(step("connect"))?
        .map_err(|e| format!("{primary}: {}", plugin_api::pkg::os::error_words(&e)))?;
    let id = plugin_api::pkg::random::next_u64() as u16;
    let mut q = Message::query();
    q.metadata.id = id;
    q.add_query(Query::query(origin.clone(), RecordType::AXFR));
    let bytes = q.to_vec().map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    timeout(step_limit, stream.write_all(&framed))
        .await
        .map_err(step("send"))?
        .map_err(|e| format!("{primary}: {e}"))?;
    let mut records: Vec<Record> = Vec::new();
    loop {
        let msg = timeout(step_limit, read_message(&mut stream))
            .await
            .map_err(step("transfer"))?
            .map_err(|e| format!("{primary}: {e}"))?;
        if msg.metadata.id != id {
            return Err(format!("{primary}: a reply with another id"));
        }
        if msg.metadata.response_code != ResponseCode::NoError {
            return Err(format!("{primary}: {}", msg.metadata.response_code));
        }
        if msg.answers.is_empty() {
            return Err(format!("{primary}: an empty transfer message"));
        }
        for r in msg.answers {
            if records.is_empty() {
                if r.record_type() != RecordType::SOA
                    || r.name.to_lowercase() != origin.to_lowercase()
                {
                    return Err(format!(
                        "{primary}: the transfer does not start with {origin}'s SOA"
                    ));
                }
            } else if r.record_type() == RecordType::SOA
                && r.name.to_lowercase() == origin.to_lowercase()
            {
                return Ok(records);
            }
            records.push(r);
            if records.len() > MAX_RECORDS {
                return Err(format!("{primary}: more than {MAX_RECORDS} records"));
            }
        }
    }
}

/// The SOA serial `primary` has for `origin` (asked over TCP).
pub async fn serial(primary: SocketAddr, origin: &Name) -> Result<u32, String> {
    let mut stream = timeout(STEP_TIMEOUT, TcpStream::connect(primary))
        .await
        .map_err(|_| format!("{primary}: connect timed out"))?
        .map_err(|e| format!("{primary}: {}", plugin_api::pkg::os::error_words(&e)))?;
    let mut q = Message::query();
    q.metadata.id = plugin_api::pkg::random::next_u64() as u16;
    q.add_query(Query::query(origin.clone(), RecordType::SOA));
    let bytes = q.to_vec().map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    let asked = async {
        stream.write_all(&framed).await.map_err(|e| e.to_string())?;
        read_message(&mut stream).await
    };
    let reply = timeout(STEP_TIMEOUT, asked)
        .await
        .map_err(|_| format!("{primary}: SOA query timed out"))?
        .map_err(|e| format!("{primary}: {e}"))?;
    reply
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) if r.name.to_lowercase() == origin.to_lowercase() => Some(soa.serial),
            _ => None,
        })
        .ok_or_else(|| format!("{primary}: no SOA for {origin}"))
}

async fn read_message(stream: &mut TcpStream) -> Result<Message, String> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(|e| format!("reading: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.map_err(|e| format!("reading: {e}"))?;
    decode_message(&buf).map_err(|e| format!("a message that does not decode: {e}"))
}
