//! The TCP side: an accept loop per listener and a task per connection.
//!
//! A connection carries any number of length-prefixed queries, pipelined if the client likes
//! (RFC 7766): queries answered from memory are answered in order as they are read, queries that
//! wait are answered when they finish, so one slow answer does not hold up the others. The first
//! query must arrive complete within the read timeout (3 s), each later one within the idle
//! timeout (10 s), and every write within the write timeout (5 s), CoreDNS's defaults; a client
//! that trickles bytes cannot keep a connection past its deadline.
//!
//! Beyond CoreDNS, which has no limit: at most [`connection_limit`] connections are served at
//! once, process-wide, half the open-file limit. Past it a new connection is closed as soon as
//! it is accepted, so a flood of idle connections cannot take the descriptors that upstream
//! sockets, files and the API watch need, and UDP is not touched at all. An idle connection
//! holds about a kilobyte: buffers grow only as far as the messages that arrive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use plugin_api::Proto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use super::InFlight;
use super::mux::{Mux, Outcome};

/// Connection timeouts and query limit (CoreDNS's defaults, which *timeouts* changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the first query of a connection to arrive complete.
    pub read: Duration,
    /// For each later query to arrive complete.
    pub idle: Duration,
    /// For a reply to be written.
    pub write: Duration,
    /// Queries served on one connection before it is closed; `None`: no limit (CoreDNS's
    /// default, `maxtcpqueries -1`).
    pub max_queries: Option<usize>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            read: Duration::from_secs(3),
            idle: Duration::from_secs(10),
            write: Duration::from_secs(5),
            max_queries: None,
        }
    }
}

impl Timeouts {
    /// What a block's *timeouts* sets, over what was set before.
    pub fn apply(&mut self, settings: &plugin_timeouts::Settings) {
        self.read = settings.read.unwrap_or(self.read);
        self.write = settings.write.unwrap_or(self.write);
        self.idle = settings.idle.unwrap_or(self.idle);
        self.max_queries = settings.max_tcp_queries.unwrap_or(self.max_queries);
    }
}

/// Most queries of one connection that may wait at once; past it, reading pauses.
const MAX_PENDING_PER_CONNECTION: usize = 128;

/// Most TCP connections served at once by the process: half the soft open-file limit (at
/// least 16, at most 2^20), or 1024 if the limit cannot be read.
pub fn connection_limit() -> usize {
    static LIMIT: LazyLock<usize> =
        LazyLock::new(|| open_file_limit().map_or(1024, |n| n / 2).clamp(16, 1 << 20));
    *LIMIT
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (no `unsafe` needed to read it).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("Max open files"))?;
    match line.split_whitespace().next()? {
        "unlimited" => Some(usize::MAX),
        soft => soft.parse().ok(),
    }
}

/// The connection slots every listener takes from.
static SLOTS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(connection_limit())));

/// Logs that the limit was reached, at most once every ten seconds.
fn warn_limit_reached() {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        tracing::warn!(
            "TCP connection limit ({}) reached: closing new connections until some end",
            connection_limit()
        );
    }
}

/// Accepts connections on `listener` until the task is aborted. Each connection takes its
/// timeouts from the configuration serving when it opens.
pub async fn serve(listener: TcpListener, mux: Arc<ArcSwap<Mux>>, in_flight: InFlight) {
    let local = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        match listener.accept().await {
            Ok((stream, src)) => {
                let Ok(slot) = SLOTS.clone().try_acquire_owned() else {
                    drop(stream);
                    warn_limit_reached();
                    continue;
                };
                let mux = mux.clone();
                let timeouts = mux.load().tcp_timeouts();
                let guard = in_flight.enter();
                tokio::spawn(async move {
                    connection(stream, src, local, mux, timeouts).await;
                    drop((guard, slot));
                });
            }
            // Out of file descriptors and the like: back off briefly instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    src: SocketAddr,
    local: SocketAddr,
    mux: Arc<ArcSwap<Mux>>,
    timeouts: Timeouts,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.split();
    let mut inbuf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut waiting = FuturesUnordered::new();
    let mut deadline = Instant::now() + timeouts.read;
    let mut reading = true;
    let mut served = 0usize;

    loop {
        // Serve every complete message already read.
        while waiting.len() < MAX_PENDING_PER_CONNECTION {
            let Some(frame_len) = complete_frame(&inbuf) else { break };
            if frame_len == 0 {
                // miekg/dns closes a connection that sends a zero length.
                reading = false;
                inbuf.clear();
                break;
            }
            let packet = &inbuf[2..2 + frame_len];
            let mux = mux.load();
            let received = Instant::now();
            let outcome = mux.serve_packet_guarded(
                packet,
                src,
                local,
                Proto::Tcp,
                received.into_std(),
                &mut out,
            );
            inbuf.drain(..2 + frame_len);
            deadline = received + timeouts.idle;
            served += 1;
            if timeouts.max_queries.is_some_and(|max| served >= max) {
                // As miekg/dns does: no more is read; what waits is answered, then it closes.
                reading = false;
                inbuf.clear();
            }
            match outcome {
                Outcome::Send => {
                    if write_frame(&mut wr, &out, timeouts.write).await.is_err() {
                        return;
                    }
                }
                // A transfer's messages, framed already; each has the write timeout.
                Outcome::SendFrames => {
                    let limit = timeouts.write * (out.len() / 65_536 + 1) as u32;
                    if !matches!(timeout(limit, wr.write_all(&out)).await, Ok(Ok(()))) {
                        return;
                    }
                }
                Outcome::Drop => {}
                Outcome::Wait(reply) => waiting.push(reply),
            }
        }

        if !reading && waiting.is_empty() {
            break;
        }
        let can_read = reading && waiting.len() < MAX_PENDING_PER_CONNECTION;
        tokio::select! {
            read = timeout_at(deadline, read_some(&mut rd, &mut inbuf)), if can_read => match read {
                Ok(Ok(n)) if n > 0 => {}
                // End of stream, an error, or the deadline: stop reading, finish what waits.
                _ => reading = false,
            },
            Some(reply) = waiting.next(), if !waiting.is_empty() => {
                if let Some(bytes) = reply
                    && write_frame(&mut wr, &bytes, timeouts.write).await.is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}

/// Reads what has arrived onto the end of `buf`, with room for the rest of the message being
/// read (a length prefix says how much), or 512 octets when no message is under way.
async fn read_some(
    rd: &mut (impl AsyncReadExt + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let want = match buf.as_slice() {
        [hi, lo, ..] => (2 + usize::from(u16::from_be_bytes([*hi, *lo]))).saturating_sub(buf.len()),
        _ => 0,
    };
    buf.reserve(want.max(512));
    rd.read_buf(buf).await
}

/// The length of the first message in `buf` if all of it has arrived.
fn complete_frame(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*buf.first()?, *buf.get(1)?]));
    (buf.len() >= 2 + len).then_some(len)
}

async fn write_frame(
    wr: &mut (impl AsyncWriteExt + Unpin),
    msg: &[u8],
    limit: Duration,
) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| std::io::ErrorKind::InvalidData)?;
    let mut framed = Vec::with_capacity(2 + msg.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    match timeout(limit, wr.write_all(&framed)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::complete_frame;

    #[test]
    fn frames() {
        assert_eq!(complete_frame(&[]), None);
        assert_eq!(complete_frame(&[0]), None);
        assert_eq!(complete_frame(&[0, 0]), Some(0));
        assert_eq!(complete_frame(&[0, 3, 1, 2]), None);
        assert_eq!(complete_frame(&[0, 3, 1, 2, 3, 9]), Some(3));
    }
}
