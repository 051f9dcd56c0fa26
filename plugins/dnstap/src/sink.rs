//! One `dnstap` line's output: a bounded queue the query path pushes encoded messages into
//! without ever waiting, and the task that connects to the collector and writes them.
//!
//! As in CoreDNS: the queue holds 10 000 messages times the `queue` multiplier, a message that
//! finds it full is dropped, and the drops are logged every 10 s (`Dropped dnstap messages:
//! N`). Unlike CoreDNS, which redials only every 10 s and drops what it takes off the queue
//! while disconnected, a lost connection is redialled with backoff (0.25 s doubling to 8 s),
//! and messages wait in the queue meanwhile, so a collector that restarts loses none that fit.
//! On stop the task sends what is queued, then STOP, and waits for FINISH (at most 2 s).

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::fstrm;

/// Messages the queue holds per `queue` unit.
pub const QUEUE_UNIT: usize = 10_000;
/// TCP send buffer per `writebuffer` unit.
pub const WRITE_BUFFER_UNIT: usize = 1024 * 1024;
/// Dialling and the handshake give up after this (CoreDNS's `tcpTimeout`).
const DIAL_TIMEOUT: Duration = Duration::from_secs(4);
/// How often drops are logged.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);
/// Frames gathered into one write at most.
const WRITE_BATCH: usize = 64 * 1024;
/// Waits between failed dials: from the first to the most.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MOST: Duration = Duration::from_secs(8);

/// Where a `dnstap` line sends its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket (a path, or `unix://PATH`).
    Unix(PathBuf),
    /// `tcp://HOST:PORT`.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// A run of data frames, ready to write, and how many messages it holds.
pub struct Frames {
    /// The frames (length, message; length, message; ...).
    pub bytes: Vec<u8>,
    /// How many messages.
    pub count: usize,
}

/// The query path's side: hands over framed messages, counting what does not fit.
pub struct Sink {
    queue: mpsc::UnboundedSender<Frames>,
    /// Messages queued and not yet taken by the writer, against `capacity`.
    queued: AtomicUsize,
    capacity: usize,
    dropped: AtomicU64,
}

impl Sink {
    /// Queues `frames`; drops them all, counted, when the queue would hold more than its
    /// capacity of messages.
    pub fn push(&self, frames: Frames) {
        let count = frames.count;
        if self.queued.fetch_add(count, Ordering::AcqRel) + count > self.capacity {
            self.queued.fetch_sub(count, Ordering::AcqRel);
            self.dropped.fetch_add(count as u64, Ordering::Relaxed);
            return;
        }
        if self.queue.send(frames).is_err() {
            self.queued.fetch_sub(count, Ordering::AcqRel);
            self.dropped.fetch_add(count as u64, Ordering::Relaxed);
        }
    }

    /// Messages dropped and not logged yet.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Messages dropped since the last drop log line.
    fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// The writer took `count` messages off the queue.
    fn taken(&self, count: usize) {
        self.queued.fetch_sub(count, Ordering::AcqRel);
    }
}

/// The writing side, run by [`Writer::run`] until `stop` says so.
pub struct Writer {
    endpoint: Endpoint,
    write_buffer: usize,
    pub(crate) queue: mpsc::UnboundedReceiver<Frames>,
}

/// A sink and its writer, with room for `capacity` messages.
pub fn channel(endpoint: Endpoint, capacity: usize, write_buffer: usize) -> (Sink, Writer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Sink {
        queue: tx,
        queued: AtomicUsize::new(0),
        capacity: capacity.max(1),
        dropped: AtomicU64::new(0),
    };
    (sink, Writer { endpoint, write_buffer, queue: rx })
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Writer {
    async fn dial(&self) -> io::Result<Box<dyn Stream>> {
        let dialled: Box<dyn Stream> = match &self.endpoint {
            Endpoint::Unix(path) => Box::new(
                tokio::time::timeout(DIAL_TIMEOUT, tokio::net::UnixStream::connect(path)).await??,
            ),
            Endpoint::Tcp(addr) => {
                let target = tokio::net::lookup_host(addr.as_str())
                    .await?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
                let socket = if target.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.set_send_buffer_size(self.write_buffer.try_into().unwrap_or(u32::MAX))?;
                Box::new(tokio::time::timeout(DIAL_TIMEOUT, socket.connect(target)).await??)
            }
        };
        let mut stream = dialled;
        fstrm::open(&mut stream, DIAL_TIMEOUT).await?;
        Ok(stream)
    }

    /// Connects, writes, reconnects, until `stop` turns true; then sends what is queued and
    /// closes the stream properly (dialling once more if it was not connected).
    pub async fn run(mut self, sink: std::sync::Arc<Sink>, mut stop: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_FIRST;
        let mut drop_log = tokio::time::interval(DROP_LOG_EVERY);
        drop_log.tick().await;
        let mut frames = Vec::with_capacity(WRITE_BATCH);
        loop {
            let stopping = *stop.borrow();
            let mut stream = match self.dial().await {
                Ok(stream) => {
                    backoff = BACKOFF_FIRST;
                    stream
                }
                Err(e) => {
                    tracing::warn!("plugin/dnstap: Error connecting to {}: {e}", self.endpoint);
                    if stopping {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        // One more dial, to deliver what is queued before stopping.
                        _ = stop.changed() => continue,
                        _ = drop_log.tick() => log_drops(&sink),
                    }
                    backoff = (backoff * 2).min(BACKOFF_MOST);
                    continue;
                }
            };
            if stopping {
                self.finish(&mut stream, &mut frames).await;
                return;
            }
            loop {
                tokio::select! {
                    biased;
                    _ = stop.changed() => {
                        self.finish(&mut stream, &mut frames).await;
                        return;
                    }
                    got = self.queue.recv() => {
                        let Some(first) = got else { return };
                        frames.clear();
                        frames.extend_from_slice(&first.bytes);
                        let mut batch = first.count;
                        while frames.len() < WRITE_BATCH {
                            let Ok(more) = self.queue.try_recv() else { break };
                            frames.extend_from_slice(&more.bytes);
                            batch += more.count;
                        }
                        sink.taken(batch);
                        let written = async {
                            stream.write_all(&frames).await?;
                            stream.flush().await
                        };
                        if let Err(e) = written.await {
                            tracing::warn!("plugin/dnstap: Error writing to {}: {e}", self.endpoint);
                            // What this write carried may not have arrived whole: counted lost.
                            sink.dropped.fetch_add(batch as u64, Ordering::Relaxed);
                            break;
                        }
                    }
                    _ = drop_log.tick() => log_drops(&sink),
                }
            }
        }
    }

    /// Sends whatever is queued, then STOP, and waits for FINISH.
    async fn finish(&mut self, stream: &mut Box<dyn Stream>, frames: &mut Vec<u8>) {
        frames.clear();
        while let Ok(more) = self.queue.try_recv() {
            frames.extend_from_slice(&more.bytes);
        }
        let _ = stream.write_all(frames).await;
        let _ = fstrm::close(stream, Duration::from_secs(2)).await;
    }
}

/// Logs the messages dropped since the last time, if any, in CoreDNS's words.
fn log_drops(sink: &Sink) {
    let dropped = sink.take_dropped();
    if dropped > 0 {
        tracing::warn!("plugin/dnstap: Dropped dnstap messages: {dropped}");
    }
}
