//! One `dnstap` line's output: a bounded queue the query path pushes encoded messages into
//! without ever waiting, and the task that connects to the collector and writes them.
//!
//! As in CoreDNS: the queue holds 10 000 messages times the `queue` multiplier, a message that
//! finds it full is dropped, and the drops are logged every 10 s (`Dropped dnstap messages:
//! N`). Unlike CoreDNS, which redials only every 10 s and drops what it takes off the queue
//! while disconnected, a lost connection is redialled with backoff (0.25 s doubling to 8 s),
//! and messages wait in the queue meanwhile, so a collector that restarts loses none that fit.
//! On stop the task sends what is queued, then STOP, and waits for FINISH (at most 2 s).
//!
//! The writer is not woken for every hand-over: at full load the workers hand over a batch
//! every few microseconds, and a task wake-up each (a futex, a context switch) cost more than
//! the writing. It is woken when the queue stops being empty, and then lets [`GATHER`] pass
//! before it takes what came, so one wake-up and one write carry many batches (CoreDNS's
//! writer flushes every second). A queue half full wakes it at once.

use std::io::{self, IoSlice};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};

use crate::fstrm;

/// Messages the queue holds per `queue` unit.
pub const QUEUE_UNIT: usize = 10_000;
/// TCP send buffer per `writebuffer` unit.
pub const WRITE_BUFFER_UNIT: usize = 1024 * 1024;
/// Dialling and the handshake give up after this (CoreDNS's `tcpTimeout`).
const DIAL_TIMEOUT: Duration = Duration::from_secs(4);
/// How often drops are logged.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);
/// Bytes of frames gathered into one write at most.
const WRITE_BATCH: usize = 64 * 1024;
/// Hand-overs gathered into one write at most: each is a slice of the vectored write, and
/// the kernel takes at most 1 024 (`IOV_MAX`).
const WRITE_SLICES: usize = 256;
/// How long the writer lets batches gather after the queue stops being empty.
pub const GATHER: Duration = Duration::from_millis(1);
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
    /// Wakes the writer: when the queue stops being empty, and when it is half full.
    wake: Notify,
}

impl Sink {
    /// Queues `frames`; drops them all, counted, when the queue would hold more than its
    /// capacity of messages.
    pub fn push(&self, frames: Frames) {
        let count = frames.count;
        let before = self.queued.fetch_add(count, Ordering::AcqRel);
        if before + count > self.capacity {
            self.queued.fetch_sub(count, Ordering::AcqRel);
            self.dropped.fetch_add(count as u64, Ordering::Relaxed);
            return;
        }
        if self.queue.send(frames).is_err() {
            self.queued.fetch_sub(count, Ordering::AcqRel);
            self.dropped.fetch_add(count as u64, Ordering::Relaxed);
            return;
        }
        // After the send, so that the writer finds the frames. A push that finds the queue not
        // empty needs no wake-up: the writer empties the queue before it waits again.
        let half = self.capacity / 2;
        if before == 0 || (before < half && before + count >= half) {
            self.wake.notify_one();
        }
    }

    /// Messages queued and not yet taken by the writer.
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
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
    /// [`GATHER`], but in tests.
    gather: Duration,
}

/// A sink and its writer, with room for `capacity` messages.
pub fn channel(endpoint: Endpoint, capacity: usize, write_buffer: usize) -> (Sink, Writer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Sink {
        queue: tx,
        queued: AtomicUsize::new(0),
        capacity: capacity.max(1),
        dropped: AtomicU64::new(0),
        wake: Notify::new(),
    };
    (sink, Writer { endpoint, write_buffer, queue: rx, gather: GATHER })
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
        let mut frames = Vec::with_capacity(WRITE_SLICES);
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
            // What waited while we were not connected: its pushes found the queue not empty and
            // woke nobody.
            if let Err(e) = self.write_queued(&mut stream, &mut frames, &sink).await {
                tracing::warn!("plugin/dnstap: Error writing to {}: {e}", self.endpoint);
                continue;
            }
            loop {
                tokio::select! {
                    biased;
                    _ = stop.changed() => {
                        self.finish(&mut stream, &mut frames).await;
                        return;
                    }
                    _ = sink.wake.notified() => {}
                    _ = drop_log.tick() => {
                        log_drops(&sink);
                        continue;
                    }
                }
                if sink.queued() < sink.capacity / 2 {
                    // While the batches gather, the one wake-up is the queue reaching half
                    // full: then what is queued goes at once.
                    tokio::select! {
                        _ = tokio::time::sleep(self.gather) => {}
                        _ = sink.wake.notified() => {}
                    }
                }
                if let Err(e) = self.write_queued(&mut stream, &mut frames, &sink).await {
                    tracing::warn!("plugin/dnstap: Error writing to {}: {e}", self.endpoint);
                    break;
                }
            }
        }
    }

    /// Writes what is queued, in runs of up to [`WRITE_BATCH`] bytes, until the queue is empty.
    /// A failed write's messages may not have arrived whole: they are counted as dropped.
    async fn write_queued(
        &mut self,
        stream: &mut Box<dyn Stream>,
        frames: &mut Vec<Frames>,
        sink: &Sink,
    ) -> io::Result<()> {
        loop {
            frames.clear();
            let (mut bytes, mut batch) = (0, 0);
            while bytes < WRITE_BATCH && frames.len() < WRITE_SLICES {
                let Ok(more) = self.queue.try_recv() else { break };
                bytes += more.bytes.len();
                batch += more.count;
                frames.push(more);
            }
            if batch == 0 {
                if sink.queued() == 0 {
                    return Ok(());
                }
                // A push counted but not sent yet; it found the queue not empty and will not
                // wake us, so wait for it here.
                tokio::task::yield_now().await;
                continue;
            }
            sink.taken(batch);
            let written = async {
                write_all_vectored(stream, frames).await?;
                stream.flush().await
            };
            if let Err(e) = written.await {
                sink.dropped.fetch_add(batch as u64, Ordering::Relaxed);
                return Err(e);
            }
        }
    }

    /// Sends whatever is queued, then STOP, and waits for FINISH.
    async fn finish(&mut self, stream: &mut Box<dyn Stream>, frames: &mut Vec<Frames>) {
        frames.clear();
        while let Ok(more) = self.queue.try_recv() {
            frames.push(more);
        }
        let _ = write_all_vectored(stream, frames).await;
        let _ = fstrm::close(stream, Duration::from_secs(2)).await;
    }
}

/// Writes the hand-overs' bytes as they lie, one slice each, rather than copying them into
/// one buffer first (at full load with `full`, a hundred megabytes a second or more).
async fn write_all_vectored(stream: &mut Box<dyn Stream>, frames: &[Frames]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> =
        frames.iter().filter(|f| !f.bytes.is_empty()).map(|f| IoSlice::new(&f.bytes)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        // At most WRITE_SLICES per call: `finish` hands over the whole queue, and a transport
        // need not cut a longer list to what writev takes.
        let written = stream.write_vectored(&rest[..rest.len().min(WRITE_SLICES)]).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, written);
    }
    Ok(())
}

/// Logs the messages dropped since the last time, if any, in CoreDNS's words.
fn log_drops(sink: &Sink) {
    let dropped = sink.take_dropped();
    if dropped > 0 {
        tracing::warn!("plugin/dnstap: Dropped dnstap messages: {dropped}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::net::{UnixListener, UnixStream};
    use tokio::time::timeout;

    use super::*;
    use crate::fstrm::collector;

    /// How long a test waits for the writer before it fails; no assertion is about time.
    const PATIENCE: Duration = Duration::from_secs(5);

    fn one(payload: &[u8]) -> Frames {
        let mut bytes = Vec::new();
        fstrm::data_frame(payload, &mut bytes);
        Frames { bytes, count: 1 }
    }

    /// A socket path of this test's own (`tag`) and this process's, with nothing left at it.
    fn socket_path(tag: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("ferrodns-sink-{tag}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// The writer's connection, accepted and through the Frame Streams handshake.
    async fn accept(listener: &UnixListener) -> UnixStream {
        let (mut conn, _) = timeout(PATIENCE, listener.accept()).await.unwrap().unwrap();
        collector::accept(&mut conn).await.unwrap();
        conn
    }

    /// The next data frame's payload, or `None` for the writer's STOP.
    async fn next_frame(conn: &mut UnixStream) -> Option<Vec<u8>> {
        timeout(PATIENCE, collector::next(conn)).await.expect("in time").unwrap()
    }

    /// The writer is woken only when the queue stops being empty: what waited for the
    /// collector, a push after it went idle, pushes while it gathers, and what is queued at
    /// stop all arrive, in order.
    #[tokio::test]
    async fn every_push_reaches_the_collector_though_few_wake_the_writer() {
        let path = socket_path("wake");
        let (sink, writer) = channel(Endpoint::Unix(path.clone()), 100, 1);
        let sink = Arc::new(sink);
        let (stop_tx, stop_rx) = watch::channel(false);
        sink.push(one(b"before the collector"));
        let task = tokio::spawn(writer.run(sink.clone(), stop_rx));
        // The first dial fails; the collector comes up before the redial.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listener = UnixListener::bind(&path).unwrap();
        let mut conn = accept(&listener).await;
        let mut next = async || next_frame(&mut conn).await;
        assert_eq!(next().await.as_deref(), Some(&b"before the collector"[..]));
        for round in 0..3 {
            // Idle, then one push: it alone must wake the writer.
            tokio::time::sleep(Duration::from_millis(20)).await;
            sink.push(one(format!("alone {round}").as_bytes()));
            assert_eq!(next().await, Some(format!("alone {round}").into_bytes()));
            // A run of pushes, only the first finding the queue empty.
            for i in 0..10 {
                sink.push(one(format!("run {round} {i}").as_bytes()));
            }
            for i in 0..10 {
                assert_eq!(next().await, Some(format!("run {round} {i}").into_bytes()));
            }
        }
        sink.push(one(b"at stop"));
        stop_tx.send(true).unwrap();
        assert_eq!(next().await.as_deref(), Some(&b"at stop"[..]));
        assert_eq!(next().await, None, "STOP");
        timeout(PATIENCE, task).await.unwrap().unwrap();
        assert_eq!(sink.dropped(), 0);
        let _ = std::fs::remove_file(&path);
    }

    /// At stop, more hand-overs than one vectored write takes (`IOV_MAX`, 1 024) all arrive.
    #[tokio::test]
    async fn a_stop_with_thousands_of_hand_overs_queued_delivers_them_all() {
        let path = socket_path("stop");
        let listener = UnixListener::bind(&path).unwrap();
        let (sink, writer) = channel(Endpoint::Unix(path.clone()), 10_000, 1);
        let sink = Arc::new(sink);
        for i in 0..3000 {
            sink.push(one(format!("queued {i}").as_bytes()));
        }
        // Stopping before the first dial: the writer connects once and finishes at once.
        let (stop_tx, stop_rx) = watch::channel(false);
        stop_tx.send(true).unwrap();
        let task = tokio::spawn(writer.run(sink.clone(), stop_rx));
        let mut conn = accept(&listener).await;
        for i in 0..3000 {
            assert_eq!(next_frame(&mut conn).await, Some(format!("queued {i}").into_bytes()));
        }
        assert_eq!(next_frame(&mut conn).await, None, "STOP");
        timeout(PATIENCE, task).await.unwrap().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    /// A queue that reaches half full while the writer lets batches gather is written at once,
    /// not when the gathering ends (here a minute, so that only the wake-up can deliver it).
    #[tokio::test]
    async fn a_queue_half_full_cuts_the_gathering_short() {
        let path = socket_path("half");
        let listener = UnixListener::bind(&path).unwrap();
        let (sink, mut writer) = channel(Endpoint::Unix(path.clone()), 100, 1);
        writer.gather = Duration::from_secs(60);
        let sink = Arc::new(sink);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(writer.run(sink.clone(), stop_rx));
        let mut conn = accept(&listener).await;
        sink.push(one(b"first"));
        // The first push woke the writer, which now gathers: nothing arrives yet.
        let early = timeout(Duration::from_millis(300), collector::next(&mut conn)).await;
        assert!(early.is_err(), "written before the queue was half full: {early:?}");
        for i in 1..50 {
            sink.push(one(format!("more {i}").as_bytes()));
        }
        let mut got = Vec::new();
        for _ in 0..50 {
            let frame = timeout(PATIENCE, collector::next(&mut conn))
                .await
                .expect("the half-full queue is written at once")
                .unwrap()
                .unwrap();
            got.push(frame);
        }
        assert_eq!(got[0], b"first");
        assert_eq!(got[49], b"more 49");
        stop_tx.send(true).unwrap();
        timeout(PATIENCE, task).await.unwrap().unwrap();
        assert_eq!(sink.dropped(), 0);
        let _ = std::fs::remove_file(&path);
    }
}
