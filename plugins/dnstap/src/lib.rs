//! *dnstap*: logs every query and its response as dnstap messages (CLIENT_QUERY,
//! CLIENT_RESPONSE), and hands the block's other plugins the taps they log their own messages
//! through (*forward*'s FORWARDER_QUERY and FORWARDER_RESPONSE; `plugin_api::pkg::dnstap`).
//!
//! * [`setup`] reads `dnstap SOCKET [full] [writebuffer] [queue] { identity, version, extra,
//!   skipverify }` as CoreDNS 1.14.7 does, with its errors.
//! * [`pb`]: the dnstap protobuf messages (prost); `encode`: a message written as a frame;
//!   [`fstrm`]: Frame Streams, the framing they travel in; [`sink`]: the queue and the
//!   connection to the collector.
//! * [`Dnstap`] is the handler of one line: it logs the query, passes it on, and logs the
//!   reply when it comes.
//!
//! Not built yet (said when a Corefile asks for them): `dnstap listen` (collectors that
//! connect to us), `tls://` endpoints, and metadata placeholders in `extra`.

mod encode;
pub mod fstrm;
pub mod pb;
pub mod sink;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use plugin_api::pkg::dnstap::{self as tap, Kind, Tap, Transport};
use plugin_api::pkg::output;
use plugin_api::{
    ConfigError, Controller, Ctx, Next, Plugin, Proto, Reply, Request, Serve, ServeResult,
};
use prost::bytes::Bytes;
use tokio::sync::watch;

use sink::{Endpoint, Sink};

/// The directive's name.
pub const NAME: &str = "dnstap";

const MAX_WRITE_BUFFER: u64 = 1024;
const MAX_QUEUE: u64 = 4096;

/// One `dnstap` line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where messages go.
    pub endpoint: Endpoint,
    /// `full`: the wire messages too.
    pub full: bool,
    /// TCP send buffer, in MiB (1 to 1024).
    pub write_buffer: usize,
    /// Queue, in units of 10 000 messages (1 to 4096).
    pub queue: usize,
    /// `identity`, else the host name.
    pub identity: Bytes,
    /// `version`, else CoreDNS's (`CoreDNS-1.14.7`).
    pub version: Bytes,
    /// `extra`, if given.
    pub extra: Option<Bytes>,
}

/// Reads one `dnstap` line (the directive may be given several times, each its own tap).
pub fn parse(c: &mut Controller) -> Result<Settings, ConfigError> {
    let args = c.remaining_args();
    let Some(first) = args.first() else { return Err(c.arg_err()) };
    if first == "listen" {
        if args.len() < 2 {
            return Err(c.err("dnstap listen requires an endpoint argument"));
        }
        return Err(c.err("dnstap listen is not built in ferrodns yet"));
    }
    let endpoint = if let Some(rest) = first.strip_prefix("tcp://") {
        if rest.is_empty() || rest.contains('/') {
            return Err(c.arg_err());
        }
        Endpoint::Tcp(rest.to_string())
    } else if first.starts_with("tls://") {
        return Err(c.err("dnstap to tls:// endpoints is not built in ferrodns yet"));
    } else {
        Endpoint::Unix(PathBuf::from(first.strip_prefix("unix://").unwrap_or(first)))
    };
    let multiplier = |c: &Controller, at: usize, name: &str, most: u64, unit: &str| {
        let Some(text) = args.get(at) else { return Ok(1) };
        let value: i64 = text.parse().map_err(|_| {
            c.err(format!(
                "dnstap: invalid {name} {}: strconv.Atoi: parsing {}: invalid syntax",
                plugin_api::pkg::strconv::go_quote(text),
                plugin_api::pkg::strconv::go_quote(text)
            ))
        })?;
        if value < 1 || value as u64 > most {
            return Err(
                c.err(format!("dnstap: {name} must be between 1 and {most} ({unit}): {value}"))
            );
        }
        Ok(value as usize)
    };
    let write_buffer = multiplier(c, 2, "MultipleTcpWriteBuf", MAX_WRITE_BUFFER, "MiB units")?;
    let queue = multiplier(c, 3, "MultipleQueue", MAX_QUEUE, "x10k messages")?;
    let mut settings = Settings {
        endpoint,
        full: args.get(1).is_some_and(|a| a == "full"),
        write_buffer,
        queue,
        identity: plugin_api::pkg::host::name().into_bytes().into(),
        version: format!("CoreDNS-{}", plugin_api::COREDNS_VERSION).into_bytes().into(),
        extra: None,
    };
    while c.next_block() {
        match c.val() {
            "skipverify" => {
                if c.next_arg() {
                    return Err(c.arg_err());
                }
            }
            "tls" => return Err(c.err("tls directive only valid for listeners")),
            key @ ("identity" | "version" | "extra") => {
                let key = key.to_string();
                if !c.next_arg() {
                    return Err(c.arg_err());
                }
                let value = Bytes::copy_from_slice(c.val().as_bytes());
                match key.as_str() {
                    "identity" => settings.identity = value,
                    "version" => settings.version = value,
                    _ => settings.extra = Some(value),
                }
            }
            other => return Err(c.err(format!("unknown property '{other}'"))),
        }
    }
    Ok(settings)
}

/// Reads the block's `dnstap` lines: a handler each, chained, and a tap each for the block's
/// other plugins.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let mut lines = Vec::new();
    while c.next() {
        let settings = parse(c)?;
        let (sink, writer) = sink::channel(
            settings.endpoint.clone(),
            settings.queue * sink::QUEUE_UNIT,
            settings.write_buffer * sink::WRITE_BUFFER_UNIT,
        );
        let line = Arc::new(Line::new(settings, Arc::new(sink)));
        start(c, writer, line.sink.clone());
        tap::add_tap(c, line.clone());
        lines.push(line);
    }
    let full = lines.iter().any(|l| l.settings.full);
    Ok(Some(Arc::new(Dnstap { lines: lines.into(), full })))
}

/// Runs the writer from start-up; at shutdown (or when a reload replaces this configuration)
/// it sends what is queued and closes the stream, for at most 2 s.
fn start(c: &mut Controller, writer: sink::Writer, sink: Arc<Sink>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let task: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
    let slot = task.clone();
    c.on_startup(Box::pin(async move {
        let handle = tokio::spawn(writer.run(sink, stop_rx));
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    }));
    c.on_shutdown(Box::pin(async move {
        let _ = stop_tx.send(true);
        let handle = task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut handle) = handle
            && tokio::time::timeout(std::time::Duration::from_secs(3), &mut handle).await.is_err()
        {
            handle.abort();
        }
        Ok(())
    }));
}

/// One `dnstap` line: its settings and its queue.
pub struct Line {
    settings: Settings,
    /// The `Dnstap` envelope's fields that are the same in each of this line's messages.
    envelope: Vec<u8>,
    sink: Arc<Sink>,
}

impl Tap for Line {
    fn tap(&self, m: &tap::Message<'_>) {
        self.queue(|out| encode::frame(&self.envelope, m, self.settings.full, out));
    }
}

thread_local! {
    /// The query's wire form, for lines with `full`.
    static QUERY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Per line (by the address of its sink), the frames this thread's current batch of
    /// queries produced, handed over together when the batch ends.
    static BATCHED: RefCell<Vec<(usize, sink::Frames)>> = const { RefCell::new(Vec::new()) };
}

/// Room for a batch's frames at its first: about 32 messages with `full`.
const BATCH_ROOM: usize = 16 * 1024;

impl Line {
    fn new(settings: Settings, sink: Arc<Sink>) -> Self {
        let envelope =
            encode::envelope(&settings.identity, &settings.version, settings.extra.as_deref());
        Self { settings, envelope, sink }
    }

    /// Queues one data frame, which `write` appends: inside a batch of queries (a UDP worker's),
    /// with the batch's other frames when it ends, one hand-over per batch instead of per
    /// message; elsewhere at once.
    fn queue(&self, write: impl FnOnce(&mut Vec<u8>)) {
        if !output::in_batch() {
            let mut bytes = Vec::new();
            write(&mut bytes);
            self.sink.push(sink::Frames { bytes, count: 1 });
            return;
        }
        let key = Arc::as_ptr(&self.sink) as usize;
        BATCHED.with(|b| {
            let mut b = b.borrow_mut();
            let at = match b.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    // This line's first frame in the batch: its frames go over when it ends.
                    // (`at_batch_end` refuses only outside a batch, and this thread is in one.)
                    let sink = self.sink.clone();
                    let flush = output::at_batch_end(Box::new(move || {
                        let frames = BATCHED.with(|b| {
                            let mut b = b.borrow_mut();
                            let at = b.iter().position(|(k, _)| *k == key)?;
                            Some(b.swap_remove(at).1)
                        });
                        if let Some(frames) = frames {
                            sink.push(frames);
                        }
                    }));
                    debug_assert!(flush.is_ok(), "this thread is in a batch");
                    b.push((key, sink::Frames { bytes: Vec::with_capacity(BATCH_ROOM), count: 0 }));
                    b.len() - 1
                }
            };
            let frames = &mut b[at].1;
            write(&mut frames.bytes);
            frames.count += 1;
        });
    }
}

/// The handler of the block's `dnstap` lines.
pub struct Dnstap {
    /// Shared with each waiting reply's closure by a reference count, not copied.
    lines: Arc<[Arc<Line>]>,
    /// Whether any line logs wire messages (`full`): only then are they encoded.
    full: bool,
}

fn transport(proto: Proto) -> Transport {
    match proto {
        Proto::Tcp => Transport::Tcp,
        _ => Transport::Udp,
    }
}

/// The reply the server will send for `result`, encoded as far as the chain has made it (the
/// server adds the client's OPT record and fits it to the client's buffer afterwards): a
/// message, a stream's first, or the bare reply an rcode or an error becomes. `None` for a
/// wire reply, whose own bytes are logged, and for a drop.
fn encode_reply(result: &ServeResult, req: &Request) -> Option<Vec<u8>> {
    let rcode = match result {
        Ok(Reply::Message { msg, .. }) => return msg.to_vec().ok(),
        Ok(Reply::Stream { msgs, .. }) => return msgs.first().and_then(|m| m.to_vec().ok()),
        Ok(Reply::Wire { .. } | Reply::Drop) => return None,
        Ok(Reply::Rcode(rcode)) => *rcode,
        Err(e) => e.rcode(),
    };
    let mut bare = req.reply();
    bare.metadata.response_code = rcode;
    bare.to_vec().ok()
}

impl Plugin for Dnstap {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let received = tap::wall_time(req.received());
        let full = self.full;
        // The query's wire form only when a line logs it, written into this thread's buffer.
        QUERY.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            if full && !req.write_query(&mut buf) {
                buf.extend_from_slice(&req.to_message().to_vec().unwrap_or_default());
            }
            let message = tap::Message {
                kind: Kind::ClientQuery,
                transport: transport(req.proto()),
                query_address: Some(req.src()),
                response_address: None,
                query_time: received,
                response_time: None,
                query: full.then_some(&buf[..]),
                response: None,
            };
            for line in self.lines.iter() {
                line.tap(&message);
            }
        });
        let lines = self.lines.clone();
        next.run(ctx, req).map_with(&lines, req, move |lines, req, result| {
            if matches!(result, Ok(Reply::Drop)) {
                return result;
            }
            // The response's wire form only when a line logs it: a wire reply's own bytes, else
            // an encoding.
            let encoded = if full { encode_reply(&result, req) } else { None };
            let response = match &result {
                Ok(Reply::Wire { wire, .. }) if full => Some(wire.as_bytes()),
                _ => encoded.as_deref(),
            };
            let message = tap::Message {
                kind: Kind::ClientResponse,
                transport: transport(req.proto()),
                query_address: Some(req.src()),
                response_address: None,
                query_time: received,
                response_time: Some(SystemTime::now()),
                query: None,
                response,
            };
            for line in lines.iter() {
                line.tap(&message);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests;
